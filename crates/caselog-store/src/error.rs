//! The store's error type.
//!
//! One enum, so a host application can match on what went wrong; every
//! variant says what and where. redb's errors are wrapped, never unwrapped.
//!
//! Like redb's own errors, a variant *shows* what caused it in its message
//! and does not also return it from `source()`: printing an error with its
//! chain never repeats a cause. The cause stays reachable as a typed field
//! (and [`StoreError::io_kind`] tells the I/O kind underneath, in every
//! path). Errors are `Clone`, so one failed batch can answer each of its
//! callers with the same error.
//!
//! The mapping helpers at the bottom (`st`, `ix`, `io`) are the only way
//! the crate turns redb, tantivy and file-system errors into store errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use caselog_core::{CaseId, CaseNumber, QueryError, Status, TransitionError, ValidationError};
use thiserror::Error;

/// Result type of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("{action} {path}: {error}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        error: Arc<std::io::Error>,
    },
    /// redb reported an error.
    #[error("storage error while {action}: {error}")]
    Storage {
        /// What was being done.
        action: &'static str,
        /// redb's error.
        error: Arc<redb::Error>,
    },
    /// The file is not a caselog store.
    #[error("{path} is not a caselog store (no caselog format marker)")]
    ForeignFile {
        /// The file.
        path: PathBuf,
    },
    /// The store was written by a newer release.
    #[error("the store has schema version {found}; this release reads up to {supported}")]
    SchemaTooNew {
        /// The version found.
        found: u32,
        /// The newest version this release reads.
        supported: u32,
    },
    /// A stored record could not be decoded.
    #[error("corrupt record in table {table} at key {key}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The key, as text.
        key: String,
        /// What was wrong.
        detail: String,
    },
    /// A stored record has a version this release does not know.
    #[error("record in table {table} at key {key} has unknown version {version}")]
    UnknownRecordVersion {
        /// The table.
        table: &'static str,
        /// The key, as text.
        key: String,
        /// The version tag found.
        version: u8,
    },
    /// Outside data failed validation.
    #[error("invalid input: {0}")]
    Invalid(ValidationError),
    /// A lifecycle event was refused.
    #[error("case {case}: {refusal}")]
    Transition {
        /// The case's number (or "(new case)").
        case: String,
        /// The refusal.
        refusal: TransitionError,
    },
    /// No such case in the caller's scope.
    #[error("no case {0} in this scope")]
    CaseNotFound(String),
    /// A case number is already taken.
    #[error("case number {0} already exists")]
    DuplicateNumber(CaseNumber),
    /// A merge was asked that the rules refuse.
    #[error("cannot merge case {from} into {into}: {reason}")]
    MergeRefused {
        /// The number of the case to fold in.
        from: CaseNumber,
        /// The number of the surviving case, as asked for.
        into: CaseNumber,
        /// Why.
        reason: &'static str,
    },
    /// A follow-up was asked for a case that is not closed.
    #[error("a follow-up can only continue a closed case; case {number} is {status}")]
    FollowUpRefused {
        /// The case.
        number: CaseNumber,
        /// Its status.
        status: Status,
    },
    /// Attachment bytes did not match their declared hash or size.
    #[error("attachment {name:?}: {detail}")]
    AttachmentMismatch {
        /// The attachment's name.
        name: String,
        /// What did not match.
        detail: String,
    },
    /// The writer's queue stayed full for the configured timeout.
    #[error("the store is busy: the write queue stayed full for {waited_ms} ms")]
    Busy {
        /// How long the caller waited.
        waited_ms: u64,
    },
    /// The transaction holding this write could not be committed: the disk
    /// failed or is full ([`StoreError::io_kind`] tells which), or the file
    /// could not be read. The write was not acknowledged: whether it reached
    /// the disk is known only after reopening the store, and no further
    /// write is accepted until then.
    #[error("the write could not be committed ({cause}); the store accepts no more writes until it is reopened")]
    CommitFailed {
        /// What failed, as text.
        cause: String,
        /// The kind of the underlying I/O error, if the failure was one
        /// (e.g. `StorageFull` for a full disk).
        io_kind: Option<std::io::ErrorKind>,
    },
    /// An earlier commit failed; no write is accepted until the store is reopened.
    #[error("the store stopped accepting writes after a failed commit ({0}); shut it down and open it again")]
    Poisoned(String),
    /// The store is shutting down or shut down.
    #[error("the store is shut down")]
    ShutDown,
    /// A search query is malformed or exceeds a limit; the error names the
    /// position (in characters) of the problem.
    #[error("invalid query: {0}")]
    Query(QueryError),
    /// A page of a search or a view lies past the result window (or is 0).
    #[error("page {page} is out of range: at {per_page} results per page, pages run from 1 to {last_page}")]
    PageOutOfRange {
        /// The page asked for.
        page: u32,
        /// The page size asked for.
        per_page: u32,
        /// The last page this page size allows.
        last_page: u32,
    },
    /// A search page size out of range.
    #[error("{per_page} results per page is out of range: 1 to {max}")]
    PerPageOutOfRange {
        /// The page size asked for.
        per_page: u32,
        /// The largest page size.
        max: u32,
    },
    /// Updating the full-text index is failing (for instance the disk is
    /// full). Store writes are not affected and are kept; the indexer keeps
    /// retrying from its last commit and catches up once the cause is gone,
    /// or on the next open. Searches meanwhile answer from the last commit.
    #[error("the search index is failing ({cause}); {attempts} attempt(s) so far, still retrying")]
    IndexFailing {
        /// The latest failure, as text.
        cause: String,
        /// Failed attempts since the index last committed.
        attempts: u32,
        /// The kind of the underlying I/O error, if the failure was one.
        io_kind: Option<std::io::ErrorKind>,
    },
    /// The full-text index failed.
    #[error("index error while {action}: {detail}")]
    Index {
        /// What was being done.
        action: &'static str,
        /// The underlying error, as text.
        detail: String,
        /// The kind of the underlying I/O error, if the failure was one
        /// (e.g. `StorageFull` when the index's disk is full).
        io_kind: Option<std::io::ErrorKind>,
    },
    /// An archived case was not imported: its number is already taken by
    /// another tenant's case or by a case with other content.
    #[error("case number {number} already exists and {conflict}; the line was not imported")]
    ImportConflict {
        /// The number.
        number: CaseNumber,
        /// The existing case.
        existing: CaseId,
        /// Why it conflicts.
        conflict: crate::model::ImportConflict,
    },
    /// A backup was refused its destination.
    #[error("cannot back up into {path}: {reason}")]
    BackupDestination {
        /// The destination asked for.
        path: PathBuf,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The store file is damaged: reading it made redb (or tantivy, for the
    /// index) fail an internal check, or report corruption. Nothing was
    /// written; other reads go on, and this process accepts no more writes
    /// (see [`StoreError::WritesRefused`]). `caselog salvage` recovers the
    /// cases that can still be read.
    #[error("the store file {path} is damaged: {action} failed ({detail})")]
    Damaged {
        /// What was being read.
        action: &'static str,
        /// The damaged file (or index directory).
        path: PathBuf,
        /// What the storage engine reported.
        detail: String,
    },
    /// A write was refused because this process has seen the store damaged:
    /// writing into a damaged file could spread the damage.
    #[error("the store at {path} is damaged ({first}); it accepts no writes (salvage what can be read)")]
    WritesRefused {
        /// The store file.
        path: PathBuf,
        /// The first damage seen, as text.
        first: String,
    },
    /// A write was asked of a store opened read-only.
    #[error("the store at {path} is open read-only; writing needs a read-write open (and a writable file)")]
    ReadOnly {
        /// The store file.
        path: PathBuf,
    },
    /// A read-only open found a store that was not closed cleanly: redb
    /// must recover it, which writes the file, so a read-only open refuses.
    #[error("the store file {path} was not closed cleanly and needs recovery, which a read-only open does not do; open it read-write once (any write command) to recover it")]
    NeedsRecovery {
        /// The store file.
        path: PathBuf,
    },
    /// The write-ahead log cannot be replayed: missing while the store
    /// names one, another session's, or damaged before its last whole
    /// record. Nothing was replayed and the store file is as it was.
    #[error("write-ahead log {path}: {error}")]
    LogCorrupt {
        /// The log file.
        path: PathBuf,
        /// What was wrong.
        error: crate::wal::LogError,
    },
    /// The store closed cleanly — every acknowledged write is durable —
    /// but the search index could not commit its last changes (for
    /// instance the disk is full). Searches lag behind the store until the
    /// index catches up, which the next open does by itself.
    #[error("the store is closed and its data kept, but the search index could not commit ({cause}); it catches up when the store is next opened")]
    IndexLagging {
        /// Why the index could not commit, as text.
        cause: String,
        /// The kind of the underlying I/O error, if the failure was one.
        io_kind: Option<std::io::ErrorKind>,
    },
    /// Another process (or another handle in this one) has the store open
    /// for writing, or is creating it.
    #[error("the store at {path} is in use by another process (one writer at a time)")]
    AlreadyOpen {
        /// The store file.
        path: PathBuf,
    },
    /// There is no usable search index yet: it is being rebuilt from the
    /// store in the background (after a missing, damaged or foreign index
    /// was found at open). Reads by number, views and the queue work; wait
    /// with [`crate::Store::wait_indexed`] or watch
    /// [`crate::Store::index_status`].
    #[error("the search index is being rebuilt ({done} of {total} cases so far)")]
    IndexRebuilding {
        /// Cases indexed so far.
        done: u64,
        /// Cases to index.
        total: u64,
    },
    /// A cursor is malformed or was made for another scope, query or order
    /// ([`crate::Store::search_after`], [`crate::Store::view_after`]).
    #[error("invalid cursor: {0}")]
    BadCursor(crate::paging::CursorError),
    /// A feed consumer asked for changes that were pruned (it lagged more
    /// than [`crate::Options::feed_retain_max`] changes behind, or asked
    /// below the first change kept). It can resume at `first_available`
    /// (after handling the gap, e.g. by a full resync).
    #[error("feed consumer {consumer:?} asked for change {requested}, but the feed starts at {first_available}")]
    FeedTruncated {
        /// The consumer.
        consumer: String,
        /// The first change it asked for.
        requested: u64,
        /// The first change the feed still holds.
        first_available: u64,
    },
    /// A refused feed request (bad consumer name, unknown consumer,
    /// position out of range).
    #[error(transparent)]
    Feed(#[from] crate::feed::FeedError),
}

impl From<ValidationError> for StoreError {
    fn from(e: ValidationError) -> Self {
        StoreError::Invalid(e)
    }
}

impl From<QueryError> for StoreError {
    fn from(e: QueryError) -> Self {
        StoreError::Query(e)
    }
}

impl StoreError {
    /// Wraps any redb error with what the store was doing.
    pub(crate) fn storage(action: &'static str, e: impl Into<redb::Error>) -> Self {
        StoreError::Storage {
            action,
            error: Arc::new(e.into()),
        }
    }

    /// Wraps a file-system error with what was done and to which path.
    pub(crate) fn io(action: &'static str, path: &Path, e: std::io::Error) -> Self {
        StoreError::Io {
            action,
            path: path.to_owned(),
            error: Arc::new(e),
        }
    }

    /// Wraps a tantivy error with what the index was doing, keeping the
    /// kind of an I/O error underneath.
    pub(crate) fn index(action: &'static str, e: &tantivy::TantivyError) -> Self {
        StoreError::Index {
            action,
            detail: e.to_string(),
            io_kind: tantivy_io_kind(e),
        }
    }

    /// An index failure that is not a tantivy error (a payload that does
    /// not encode, a directory that cannot be opened).
    pub(crate) fn index_detail(action: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Index {
            action,
            detail: detail.into(),
            io_kind: None,
        }
    }

    /// Whether redb refuses every later operation on the store file (it
    /// latches the first I/O error of a read, write or sync): nothing but a
    /// reopen helps, so retrying is pointless.
    pub(crate) fn store_file_failed(&self) -> bool {
        matches!(
            self,
            StoreError::Storage { error, .. }
                if matches!(**error, redb::Error::PreviousIo | redb::Error::DatabaseClosed)
        )
    }

    /// The kind of the I/O error underneath this one, if any: lets a host
    /// tell a full disk (`StorageFull`) from a failing one without parsing
    /// messages.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            StoreError::Io { error, .. } => Some(error.kind()),
            StoreError::Storage { error, .. } => redb_io_kind(error),
            StoreError::CommitFailed { io_kind, .. }
            | StoreError::IndexFailing { io_kind, .. }
            | StoreError::IndexLagging { io_kind, .. }
            | StoreError::Index { io_kind, .. } => *io_kind,
            _ => None,
        }
    }

    /// This error as the answer to a write whose transaction it aborted.
    pub(crate) fn commit_failed(&self) -> StoreError {
        match self {
            StoreError::CommitFailed { .. } => self.clone(),
            other => StoreError::CommitFailed {
                cause: other.to_string(),
                io_kind: other.io_kind(),
            },
        }
    }
}

/// The I/O kind inside a redb error, through each of its wrappers.
fn redb_io_kind(e: &redb::Error) -> Option<std::io::ErrorKind> {
    match e {
        redb::Error::Io(e) => Some(e.kind()),
        _ => None,
    }
}

/// The I/O kind inside a tantivy error, through the directory errors that
/// carry one.
fn tantivy_io_kind(e: &tantivy::TantivyError) -> Option<std::io::ErrorKind> {
    use tantivy::directory::error::{OpenDirectoryError, OpenReadError, OpenWriteError};
    use tantivy::TantivyError as T;
    match e {
        T::IoError(io) => Some(io.kind()),
        T::OpenReadError(OpenReadError::IoError { io_error, .. }) => Some(io_error.kind()),
        T::OpenWriteError(OpenWriteError::IoError { io_error, .. }) => Some(io_error.kind()),
        T::OpenDirectoryError(OpenDirectoryError::IoError { io_error, .. }) => Some(io_error.kind()),
        _ => None,
    }
}

/// `map_err` adapter for redb errors: `.map_err(st("reading a case"))`.
pub(crate) fn st<E: Into<redb::Error>>(action: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::storage(action, e)
}

/// `map_err` adapter for tantivy errors, keeping the I/O kind.
pub(crate) fn ix(action: &'static str) -> impl Fn(tantivy::TantivyError) -> StoreError {
    move |e| StoreError::index(action, &e)
}

/// `map_err` adapter for file-system errors on one path.
pub(crate) fn io<'a>(action: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> StoreError + 'a {
    move |e| StoreError::io(action, path, e)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// Every wrapping variant shows its cause and returns none, so a
    /// printed chain never repeats it, and the I/O kind survives each path.
    #[test]
    fn causes_are_shown_not_returned_and_keep_their_io_kind() {
        let full = || std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full");
        let tantivy_io = tantivy::TantivyError::IoError(Arc::new(full()));
        let cases: Vec<(StoreError, Option<std::io::ErrorKind>)> = vec![
            (
                StoreError::io("writing", Path::new("x"), full()),
                Some(std::io::ErrorKind::StorageFull),
            ),
            (
                StoreError::storage("committing", redb::StorageError::Io(full())),
                Some(std::io::ErrorKind::StorageFull),
            ),
            (
                StoreError::index("committing the index", &tantivy_io),
                Some(std::io::ErrorKind::StorageFull),
            ),
            (StoreError::index_detail("indexing", "no writer"), None),
            (StoreError::from(ValidationError::Empty { field: "title" }), None),
        ];
        for (e, kind) in cases {
            assert!(e.source().is_none(), "{e} returns its source as well as showing it");
            assert_eq!(e.io_kind(), kind, "{e}");
            let failed = e.commit_failed();
            assert_eq!(failed.io_kind(), kind, "{failed}");
            assert!(failed.to_string().contains(&e.to_string()), "{failed}");
            assert_eq!(e.clone().to_string(), e.to_string());
        }
    }
}
