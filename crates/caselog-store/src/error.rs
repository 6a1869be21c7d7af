//! The store's error type.
//!
//! One enum, so a host application can match on what went wrong; every
//! variant says what and where. redb's errors are wrapped, never unwrapped.

use std::path::PathBuf;

use caselog_core::{CaseId, CaseNumber, QueryError, Status, TransitionError, ValidationError};
use thiserror::Error;

/// Result type of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// redb reported an error.
    #[error("storage error while {action}: {source}")]
    Storage {
        /// What was being done.
        action: &'static str,
        /// redb's error.
        source: Box<redb::Error>,
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
    Invalid(#[from] ValidationError),
    /// A lifecycle event was refused.
    #[error("case {case}: {source}")]
    Transition {
        /// The case's number (or "(new case)").
        case: String,
        /// The refusal.
        source: TransitionError,
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
    Query(#[from] QueryError),
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
    /// A search cursor is malformed or was made for another scope, query or
    /// order ([`crate::Store::search_after`]).
    #[error("invalid search cursor: {0}")]
    BadCursor(crate::index::CursorError),
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

impl StoreError {
    /// Wraps any redb error with what the store was doing.
    pub(crate) fn storage(action: &'static str, e: impl Into<redb::Error>) -> Self {
        StoreError::Storage {
            action,
            source: Box::new(e.into()),
        }
    }

    /// The kind of the I/O error underneath this one, if any: lets a host
    /// tell a full disk (`StorageFull`) from a failing one without parsing
    /// messages.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            StoreError::Io { source, .. } => Some(source.kind()),
            StoreError::Storage { source, .. } => match source.as_ref() {
                redb::Error::Io(e) => Some(e.kind()),
                _ => None,
            },
            StoreError::CommitFailed { io_kind, .. }
            | StoreError::IndexFailing { io_kind, .. }
            | StoreError::IndexLagging { io_kind, .. } => *io_kind,
            _ => None,
        }
    }

    /// This error as the answer to a write whose transaction it aborted.
    pub(crate) fn commit_failed(&self) -> StoreError {
        match self {
            StoreError::CommitFailed { cause, io_kind } => StoreError::CommitFailed {
                cause: cause.clone(),
                io_kind: *io_kind,
            },
            other => StoreError::CommitFailed {
                cause: other.to_string(),
                io_kind: other.io_kind(),
            },
        }
    }

    /// A copy of this error for answering several callers of one batch.
    /// Errors holding non-clonable sources are turned into their message.
    pub(crate) fn duplicate(&self) -> StoreError {
        match self {
            StoreError::Poisoned(m) => StoreError::Poisoned(m.clone()),
            StoreError::ShutDown => StoreError::ShutDown,
            StoreError::CommitFailed { .. } => self.commit_failed(),
            other => StoreError::Poisoned(other.to_string()),
        }
    }
}
