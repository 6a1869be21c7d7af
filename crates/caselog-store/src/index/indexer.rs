//! Keeping the index consistent with the store.
//!
//! One indexer thread owns the one long-lived [`IndexWriter`]. It follows the
//! store's change log (`CHANGES`, written in the same redb transaction as
//! every change), re-indexes each changed case (delete by id term, then add
//! the current document) and commits in batches. Every tantivy commit
//! carries a payload naming the last change it covers; on open the index
//! resumes from there, and an index that is missing, unreadable, built by
//! another schema, ahead of the store, or behind a pruned change log is
//! rebuilt from the store.
//!
//! Invariants:
//! - The payload's change `C` means: every change `<= C` is reflected in
//!   this commit, and the store's change log still holds every change
//!   `> C` (the log is only pruned up to a committed payload).
//! - Readers are reloaded explicitly after each commit, and only then is
//!   `C` published to `wait_indexed` callers, so a caller told "indexed"
//!   finds its write in the next search.
//! - Re-indexing a case is idempotent (delete by id, add), so applying a
//!   change twice after a crash is harmless.
//!
//! Failures: a failing index (a full disk, an I/O error in a segment write,
//! `meta.json` or a sync) never stops the store. The indexer reports it to
//! `wait_indexed` callers as [`StoreError::IndexFailing`], drops its
//! writer (discarding uncommitted work; the last commit is intact), and
//! retries with a growing pause: a new writer, then an empty commit to prove
//! the directory writable, then the change log again from the last
//! committed change. Searches keep answering from the last commit
//! meanwhile. Only at shutdown is a failure final (the next open catches up).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};

use super::analysis;
use super::schema::{schema_fingerprint, Fields};
use crate::error::{Result, StoreError};
use crate::model::ThreadEntry;
use crate::options::{IndexDirectoryHook, Options};
use crate::records;
use crate::tables;
use crate::write::{load_case, read_counter};
use crate::writer::{Command, CommitWatch};

/// Name of the index directory inside the store directory.
pub const INDEX_DIR: &str = "index";

/// Marker file (beside the index directory) written after a clean shutdown.
/// Without it, the next open also checks every segment file's checksum.
const CLEAN_MARKER: &str = "index.clean";

/// Version of the commit payload's JSON.
const PAYLOAD_VERSION: u32 = 1;

/// Most change-log entries read per indexing step.
const CHANGE_BATCH: usize = 2_048;

/// Documents added before a commit is forced even while changes keep
/// coming, so that a long burst still becomes searchable in steps.
const MAX_UNCOMMITTED_DOCS: usize = 50_000;

/// How long the idle indexer sleeps between checks for control requests.
const IDLE_SLICE: Duration = Duration::from_millis(50);

/// How often, at most, a dirty indexer re-checks for `wait_indexed` callers
/// while it waits for its commit interval to pass.
const DIRTY_SLICE: Duration = Duration::from_millis(5);

/// First pause before retrying a failed index; it doubles per failure.
const RETRY_FIRST: Duration = Duration::from_millis(20);

/// Longest pause between retries of a failed index.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// tantivy refuses writer arenas below this (15 MB per worker thread).
const MIN_HEAP_PER_THREAD: usize = 15_000_000;

/// Why the index is (re)built from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RebuildReason {
    /// There was no index on disk.
    Missing,
    /// The index on disk could not be opened or failed its checks.
    Unreadable(String),
    /// The index was built by another schema or analyzer version.
    SchemaChanged,
    /// The index does not fit the store: no commit payload, a change beyond
    /// the store's last one (a store restored from an older backup), or a
    /// change log pruned past the index.
    Stale(String),
    /// A caller asked for it ([`crate::Store::reindex`]).
    Requested,
}

impl std::fmt::Display for RebuildReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RebuildReason::Missing => f.write_str("no index on disk"),
            RebuildReason::Unreadable(why) => write!(f, "index unreadable: {why}"),
            RebuildReason::SchemaChanged => f.write_str("index built by another schema or analyzer"),
            RebuildReason::Stale(why) => write!(f, "index stale: {why}"),
            RebuildReason::Requested => f.write_str("rebuild requested"),
        }
    }
}

/// Progress of an index rebuild, reported to the caller's callback: once
/// with `done == 0`, every percent or so, and once with `done == total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexProgress {
    /// Why the index is rebuilt.
    pub reason: RebuildReason,
    /// Cases indexed so far.
    pub done: u64,
    /// Cases to index.
    pub total: u64,
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// Why it ran.
    pub reason: RebuildReason,
    /// Cases indexed.
    pub cases: u64,
    /// The change-log sequence the rebuilt index covers.
    pub change: u64,
    /// How long it took.
    pub took: Duration,
}

/// The commit payload.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    v: u32,
    schema: String,
    change: u64,
}

/// Wraps a tantivy error. An I/O error underneath becomes
/// [`StoreError::Io`] (path relative to the store directory), so its kind
/// (a full disk, say) reaches the host.
fn ix(action: &'static str) -> impl Fn(tantivy::TantivyError) -> StoreError {
    use tantivy::directory::error::{OpenReadError, OpenWriteError};
    use tantivy::TantivyError as T;
    move |e| {
        let kind = match &e {
            T::IoError(io) => Some(io.kind()),
            T::OpenWriteError(OpenWriteError::IoError { io_error, .. })
            | T::OpenReadError(OpenReadError::IoError { io_error, .. }) => Some(io_error.kind()),
            _ => None,
        };
        match kind {
            Some(kind) => StoreError::Io {
                action,
                path: PathBuf::from(INDEX_DIR),
                source: std::io::Error::new(kind, e.to_string()),
            },
            None => StoreError::Index {
                action,
                detail: e.to_string(),
            },
        }
    }
}

fn st<E: Into<redb::Error>>(action: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::storage(action, e)
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// What every searcher and waiter shares with the indexer thread.
pub(crate) struct Shared {
    pub reader: IndexReader,
    pub fields: Fields,
    /// Fast-field columns of the current searcher, for searches.
    pub columns: super::search::ColumnCache,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The change covered by the reader's current searchers.
    indexed: u64,
    /// The highest change a `wait_indexed` caller waits for.
    wanted: u64,
    /// Why the indexer stopped with an error.
    failed: Option<String>,
    /// The failure the indexer is retrying after, until its next commit.
    failing: Option<Failing>,
    /// Whether the store asked the indexer to finish.
    stop: bool,
    /// Whether the indexer thread has ended.
    ended: bool,
    /// Verifications running; the change log is not pruned meanwhile, so
    /// they can tell which cases changed after the index's change.
    prune_holds: usize,
}

impl State {
    /// The indexer's failure, final or being retried, as the error for a
    /// caller doing `action`.
    fn health(&self, action: &'static str) -> Result<()> {
        if let Some(why) = &self.failed {
            return Err(StoreError::Index {
                action,
                detail: why.clone(),
            });
        }
        match &self.failing {
            Some(failing) => Err(failing.error()),
            None => Ok(()),
        }
    }
}

/// A failure the indexer is recovering from.
#[derive(Debug, Clone)]
struct Failing {
    cause: String,
    attempts: u32,
    io_kind: Option<std::io::ErrorKind>,
}

impl Failing {
    fn error(&self) -> StoreError {
        StoreError::IndexFailing {
            cause: self.cause.clone(),
            attempts: self.attempts,
            io_kind: self.io_kind,
        }
    }
}

/// Keeps the change log from being pruned while it lives.
pub(crate) struct PruneHold(Arc<Shared>);

impl Drop for PruneHold {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.prune_holds = s.prune_holds.saturating_sub(1);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panicking thread held it; the state
        // is a few plain values that stay meaningful.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, change: u64) {
        self.lock().indexed = change;
        self.changed.notify_all();
    }

    /// Stops change-log pruning until the returned guard is dropped.
    pub fn hold_pruning(self: &Arc<Self>) -> PruneHold {
        self.lock().prune_holds += 1;
        PruneHold(self.clone())
    }

    /// The change-log sequence the current searchers cover.
    pub fn indexed(&self) -> u64 {
        self.lock().indexed
    }

    /// Waits until `change` is searchable. `Ok(false)` on timeout.
    pub fn wait_indexed(&self, change: u64, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        s.wanted = s.wanted.max(change);
        loop {
            if s.indexed >= change {
                return Ok(true);
            }
            // A failing index is told at once rather than at the timeout:
            // the caller's change is committed, only not yet searchable.
            s.health("waiting for the index")?;
            if s.ended {
                return Err(StoreError::ShutDown);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            s = match self.changed.wait_timeout(s, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// A reindex request for the indexer thread.
struct ReindexRequest {
    progress: Box<dyn FnMut(&IndexProgress) + Send>,
    reply: Sender<Result<RebuildReport>>,
}

/// The store's handle on the index: shared reader state, the indexer
/// thread, and the means to stop it.
pub(crate) struct IndexHandle {
    pub shared: Arc<Shared>,
    control: Sender<ReindexRequest>,
    thread: Option<JoinHandle<Result<()>>>,
    /// The writer's command channel, lent to the indexer for pruning the
    /// change log. Emptied before the writer is stopped, so the indexer
    /// never keeps the writer alive.
    pruner: Arc<Mutex<Option<Sender<Command>>>>,
    /// What open did, if it rebuilt the index.
    pub opened_with: Option<RebuildReport>,
}

/// An index opened (and if need be rebuilt) but not yet followed by a thread.
pub(crate) struct Opened {
    index: Index,
    writer: IndexWriter,
    fields: Fields,
    schema_id: String,
    change: u64,
    /// At least the highest case id any document of the index has.
    max_id: u64,
    dir: PathBuf,
    rebuilt: Option<RebuildReport>,
}

/// Opens the index of the store in `store_dir`, rebuilding it from `db` when
/// it is missing, unreadable, of another schema or does not fit the store.
/// Runs before the writer starts, so the store cannot change meanwhile.
pub(crate) fn open(
    store_dir: &Path,
    db: &Database,
    opts: &Options,
    hook: Option<&IndexDirectoryHook>,
    progress: &mut dyn FnMut(&IndexProgress),
) -> Result<Opened> {
    let dir = store_dir.join(INDEX_DIR);
    let (schema, fields) = Fields::build();
    let schema_id = schema_fingerprint(&schema);
    let marker = store_dir.join(CLEAN_MARKER);
    // Only a clean shutdown leaves the marker; removing it now means a crash
    // in this session is noticed by the next open.
    let clean = marker.exists();
    if clean {
        std::fs::remove_file(&marker).map_err(io_err("removing the clean-shutdown marker", &marker))?;
    }
    let txn = db.begin_read().map_err(st("reading the store for the index"))?;
    let last = last_change_in(&txn)?;
    let attempt = try_open(&dir, hook, &schema, &schema_id, clean)
        .and_then(|(index, change, max_id)| check_fits(&txn, change, last).map(|()| (index, change, max_id)));
    drop(txn);
    match attempt {
        Ok((index, change, max_id)) => {
            let writer = new_writer(&index, opts.index_heap_bytes)?;
            Ok(Opened {
                index,
                writer,
                fields,
                schema_id,
                change,
                max_id,
                dir,
                rebuilt: None,
            })
        }
        Err(reason) => {
            tracing::warn!(dir = %dir.display(), "rebuilding the search index: {reason}");
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(io_err("removing the old index", &dir))?;
            }
            std::fs::create_dir_all(&dir).map_err(io_err("creating the index directory", &dir))?;
            let directory = open_directory(&dir, hook).map_err(|e| StoreError::Index {
                action: "opening the index directory",
                detail: e.to_string(),
            })?;
            let index = Index::create(directory, schema, Default::default()).map_err(ix("creating the index"))?;
            analysis::register(&index);
            let mut writer = new_writer(&index, opts.index_heap_bytes)?;
            let (report, max_id) = rebuild(&mut writer, &fields, &schema_id, db, reason, progress)?;
            Ok(Opened {
                index,
                writer,
                fields,
                schema_id,
                change: report.change,
                max_id,
                dir,
                rebuilt: Some(report),
            })
        }
    }
}

/// Opens an existing index and reads its payload's change and an upper
/// bound of its case ids; any failure is the reason to rebuild.
fn try_open(
    dir: &Path,
    hook: Option<&IndexDirectoryHook>,
    schema: &tantivy::schema::Schema,
    schema_id: &str,
    clean: bool,
) -> std::result::Result<(Index, u64, u64), RebuildReason> {
    if !dir.join("meta.json").exists() {
        return Err(RebuildReason::Missing);
    }
    let unreadable = |e: &dyn std::fmt::Display| RebuildReason::Unreadable(e.to_string());
    // tantivy may panic on damaged files rather than return an error; a
    // damaged index must only ever lead to a rebuild.
    // Nothing outlives a panic here but the hook, which is only called.
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> std::result::Result<(Index, u64, u64), RebuildReason> {
            let directory = open_directory(dir, hook).map_err(|e| unreadable(&e))?;
            let index = Index::open(directory).map_err(|e| unreadable(&e))?;
            analysis::register(&index);
            if serde_json::to_value(index.schema()).ok() != serde_json::to_value(schema).ok() {
                return Err(RebuildReason::SchemaChanged);
            }
            let metas = index.load_metas().map_err(|e| unreadable(&e))?;
            let payload: Payload = match metas.payload.as_deref().map(serde_json::from_str) {
                None => return Err(RebuildReason::Stale("the last commit has no payload".into())),
                Some(Err(e)) => return Err(RebuildReason::Stale(format!("unreadable commit payload: {e}"))),
                Some(Ok(p)) => p,
            };
            if payload.v != PAYLOAD_VERSION || payload.schema != schema_id {
                return Err(RebuildReason::SchemaChanged);
            }
            if !clean {
                let damaged = index.validate_checksum().map_err(|e| unreadable(&e))?;
                if !damaged.is_empty() {
                    let names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
                    return Err(RebuildReason::Unreadable(format!(
                        "damaged files: {}",
                        names.join(", ")
                    )));
                }
            }
            // Opening a reader opens every segment (footers, term dictionaries,
            // fast fields), which catches truncated or missing files.
            let reader = index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map_err(|e| unreadable(&e))?;
            let searcher = reader.searcher();
            // After a crash, also make sure no case is indexed twice: the
            // kill -9 tests have seen that (rarely) after a kill during
            // catch-up, and catching up only replaces the cases it touches.
            let mut seen = (!clean).then(std::collections::HashSet::new);
            let mut max_id = 0;
            for segment in searcher.segment_readers() {
                let ids = segment
                    .fast_fields()
                    .u64(super::schema::names::ID)
                    .map_err(|e| unreadable(&e))?;
                // Deleted documents included: an upper bound is what counts.
                max_id = max_id.max(ids.max_value());
                if let Some(seen) = seen.as_mut() {
                    for doc in segment.doc_ids_alive() {
                        if ids.first(doc).is_some_and(|id| !seen.insert(id)) {
                            return Err(RebuildReason::Unreadable("a case is indexed twice".into()));
                        }
                    }
                }
            }
            Ok((index, payload.change, max_id))
        },
    ));
    opened.unwrap_or_else(|_| Err(RebuildReason::Unreadable("the index failed its checks".into())))
}

/// The on-disk index directory, wrapped by the caller's hook if any.
fn open_directory(
    dir: &Path,
    hook: Option<&IndexDirectoryHook>,
) -> std::result::Result<Box<dyn tantivy::Directory>, tantivy::directory::error::OpenDirectoryError> {
    let mmap = MmapDirectory::open(dir)?;
    Ok(match hook {
        Some(wrap) => wrap(mmap),
        None => Box::new(mmap),
    })
}

/// Whether an index covering `change` can catch up with a store whose last
/// change is `last`.
fn check_fits(txn: &ReadTransaction, change: u64, last: u64) -> std::result::Result<(), RebuildReason> {
    if change > last {
        return Err(RebuildReason::Stale(format!(
            "the index covers change {change} but the store's last change is {last}"
        )));
    }
    if change == last {
        return Ok(());
    }
    let first = txn
        .open_table(tables::CHANGES)
        .map_err(|e| RebuildReason::Unreadable(e.to_string()))
        .and_then(|t| {
            t.range(change.saturating_add(1)..)
                .map_err(|e| RebuildReason::Unreadable(e.to_string()))?
                .next()
                .transpose()
                .map(|o| o.map(|(k, _)| k.value()))
                .map_err(|e| RebuildReason::Unreadable(e.to_string()))
        })?;
    if first != Some(change + 1) {
        return Err(RebuildReason::Stale(format!(
            "the change log no longer holds change {} (pruned past the index)",
            change + 1
        )));
    }
    Ok(())
}

fn last_change_in(txn: &ReadTransaction) -> Result<u64> {
    let meta = txn.open_table(tables::META).map_err(st("reading counters"))?;
    Ok(read_counter(&meta, tables::NEXT_CHANGE)?.saturating_sub(1))
}

fn new_writer(index: &Index, heap_bytes: usize) -> Result<IndexWriter> {
    let heap = heap_bytes.max(MIN_HEAP_PER_THREAD);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.clamp(1, 4).min(heap / MIN_HEAP_PER_THREAD).max(1);
    let options = tantivy::indexer::IndexWriterOptions::builder()
        .num_worker_threads(threads)
        .memory_budget_per_thread(heap / threads)
        // Merges run in the background; one thread keeps them from
        // crowding out the store's writer on small machines.
        .num_merge_threads(1)
        .build();
    index
        .writer_with_options(options)
        .map_err(ix("starting the index writer"))
}

pub(crate) fn read_thread(thread: &impl ReadableTable<(u64, u32), &'static [u8]>, id: u64) -> Result<Vec<ThreadEntry>> {
    let mut entries = Vec::new();
    for item in thread
        .range((id, 0)..=(id, u32::MAX))
        .map_err(st("reading a thread to index"))?
    {
        let (k, v) = item.map_err(st("reading a thread to index"))?;
        let (case, seq) = k.value();
        entries.push(records::decode_entry(v.value(), case, seq)?);
    }
    Ok(entries)
}

fn commit(writer: &mut IndexWriter, schema_id: &str, change: u64) -> Result<()> {
    let payload = serde_json::to_string(&Payload {
        v: PAYLOAD_VERSION,
        schema: schema_id.to_owned(),
        change,
    })
    .map_err(|e| StoreError::Index {
        action: "writing the commit payload",
        detail: e.to_string(),
    })?;
    let mut prepared = writer.prepare_commit().map_err(ix("preparing an index commit"))?;
    prepared.set_payload(&payload);
    prepared.commit().map_err(ix("committing the index"))?;
    Ok(())
}

/// Replaces the whole content of the index with the store's cases as of one
/// read snapshot, in one commit: searchers see the old content until the
/// new one is complete, and a crash part way leaves the old commit. Also
/// returns the highest case id indexed.
fn rebuild(
    writer: &mut IndexWriter,
    fields: &Fields,
    schema_id: &str,
    db: &Database,
    reason: RebuildReason,
    progress: &mut dyn FnMut(&IndexProgress),
) -> Result<(RebuildReport, u64)> {
    let started = Instant::now();
    let txn = db.begin_read().map_err(st("reading the store for a rebuild"))?;
    let change = last_change_in(&txn)?;
    let cases = txn
        .open_table(tables::CASES)
        .map_err(st("reading cases for a rebuild"))?;
    let thread = txn
        .open_table(tables::THREAD)
        .map_err(st("reading threads for a rebuild"))?;
    let total = cases.len().map_err(st("counting cases for a rebuild"))?;
    let step = (total / 100).max(1_000);
    let mut report = |done: u64| {
        progress(&IndexProgress {
            reason: reason.clone(),
            done,
            total,
        })
    };
    report(0);
    writer.delete_all_documents().map_err(ix("clearing the index"))?;
    let mut done = 0u64;
    let mut max_id = 0;
    for item in cases.iter().map_err(st("reading cases for a rebuild"))? {
        let (k, v) = item.map_err(st("reading cases for a rebuild"))?;
        let id = k.value();
        max_id = max_id.max(id);
        let case = records::decode_case(v.value(), id)?;
        let entries = read_thread(&thread, id)?;
        writer
            .add_document(fields.document(&case, &entries))
            .map_err(ix("adding a document"))?;
        done += 1;
        if done % step == 0 && done < total {
            report(done);
        }
    }
    commit(writer, schema_id, change)?;
    report(done);
    Ok((
        RebuildReport {
            reason,
            cases: done,
            change,
            took: started.elapsed(),
        },
        max_id,
    ))
}

impl IndexHandle {
    /// Starts the indexer thread on an opened index. It follows the change
    /// log from the index's change and stops after the writer has drained.
    pub fn start(
        opened: Opened,
        db: Arc<Database>,
        opts: &Options,
        watch: Arc<CommitWatch>,
        writer_tx: Sender<Command>,
    ) -> Result<IndexHandle> {
        let Opened {
            index,
            writer,
            fields,
            schema_id,
            change,
            max_id,
            dir,
            rebuilt,
        } = opened;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(ix("opening the index reader"))?;
        // Searches of Chinese text need the jieba dictionary (~130 ms to
        // load): load it now, off the caller's path.
        super::analysis::warm_up_in_background();
        let shared = Arc::new(Shared {
            reader,
            fields,
            columns: Default::default(),
            state: Mutex::new(State {
                indexed: change,
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        // The first search should not open the columns (a failure is that
        // search's to report).
        let _ = shared.columns.get(&shared.reader.searcher());
        let (control, requests) = bounded(4);
        let pruner = Arc::new(Mutex::new(Some(writer_tx)));
        let indexer = Indexer {
            shared: shared.clone(),
            index,
            writer: Some(writer),
            heap_bytes: opts.index_heap_bytes,
            schema_id,
            db,
            watch,
            requests,
            pruner: pruner.clone(),
            commit_interval: opts.index_commit_interval,
            prune_every: opts.index_prune_every,
            applied: change,
            committed: change,
            max_id,
            pruned: 0,
            dirty_since: None,
            uncommitted_docs: 0,
            store_dir: dir.parent().map(Path::to_owned).unwrap_or_default(),
        };
        let thread = std::thread::Builder::new()
            .name("caselog-indexer".into())
            .spawn(move || indexer.run())
            .map_err(|source| StoreError::Io {
                action: "starting the indexer thread",
                path: dir.clone(),
                source,
            })?;
        Ok(IndexHandle {
            shared,
            control,
            thread: Some(thread),
            pruner,
            opened_with: rebuilt,
        })
    }

    /// Gives back the writer's channel; call before stopping the writer.
    pub fn release_writer(&self) {
        self.pruner.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Asks the indexer to apply what the writer committed, commit and end,
    /// and returns its error if it had one. Call after the writer has ended.
    pub fn stop(&mut self) -> Result<()> {
        self.release_writer();
        {
            self.shared.lock().stop = true;
            self.shared.changed.notify_all();
        }
        match self.thread.take() {
            Some(handle) => match handle.join() {
                Ok(r) => r,
                Err(_) => Err(StoreError::Index {
                    action: "stopping the indexer",
                    detail: "the indexer thread panicked".into(),
                }),
            },
            None => Ok(()),
        }
    }

    /// Rebuilds the index from the store on the indexer thread; searches see
    /// the old index until the new one is committed.
    pub fn reindex(&self, progress: Box<dyn FnMut(&IndexProgress) + Send>) -> Result<RebuildReport> {
        self.shared.lock().health("reindexing")?;
        let (reply, answer) = bounded(1);
        self.control
            .send(ReindexRequest { progress, reply })
            .map_err(|_| StoreError::ShutDown)?;
        answer.recv().map_err(|_| StoreError::ShutDown)?
    }
}

/// The indexer thread's state.
struct Indexer {
    shared: Arc<Shared>,
    index: Index,
    /// `None` only while recovering from a failure.
    writer: Option<IndexWriter>,
    heap_bytes: usize,
    schema_id: String,
    db: Arc<Database>,
    watch: Arc<CommitWatch>,
    requests: Receiver<ReindexRequest>,
    pruner: Arc<Mutex<Option<Sender<Command>>>>,
    commit_interval: Duration,
    prune_every: u64,
    /// Last change applied to the writer (committed or not).
    applied: u64,
    /// Last change committed.
    committed: u64,
    /// At least the highest case id given to the index (committed or not);
    /// a case above it has no document yet.
    max_id: u64,
    /// Changes below this were last asked to be pruned.
    pruned: u64,
    /// When the oldest uncommitted change was applied.
    dirty_since: Option<Instant>,
    uncommitted_docs: usize,
    store_dir: PathBuf,
}

/// Marks the shared state failed if the indexer thread unwinds, so waiters
/// are told instead of waiting for their timeout.
struct EndGuard(Arc<Shared>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        if std::thread::panicking() && s.failed.is_none() {
            s.failed = Some("the indexer thread panicked".into());
        }
        s.ended = true;
        drop(s);
        self.0.changed.notify_all();
    }
}

impl Indexer {
    fn run(mut self) -> Result<()> {
        let _guard = EndGuard(self.shared.clone());
        let followed = self.follow();
        // Merges run on tantivy's own threads; the store is only closed
        // once they have finished writing and cleaning up files.
        let merged = match self.writer.take() {
            Some(writer) => writer.wait_merging_threads().map_err(ix("finishing index merges")),
            None => Ok(()),
        };
        let result = followed.and(merged);
        match &result {
            Ok(()) => {
                // The next open may skip the checksum pass: everything this
                // session wrote was committed and the writer is closed.
                let marker = self.store_dir.join(CLEAN_MARKER);
                if let Err(e) = std::fs::write(&marker, b"") {
                    tracing::warn!("could not write {}: {e}", marker.display());
                }
            }
            Err(e) => {
                tracing::error!("the indexer stopped: {e}");
                self.shared.lock().failed = Some(e.to_string());
                self.shared.changed.notify_all();
            }
        }
        result
    }

    /// The main loop: apply committed changes, commit in batches, serve
    /// reindex requests, recover from failures, and finish once the store
    /// stops.
    fn follow(&mut self) -> Result<()> {
        loop {
            // tantivy may panic on I/O trouble instead of returning an
            // error; either way the writer is replaced and work resumes
            // from the last commit.
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step())).unwrap_or_else(|_| {
                Err(StoreError::Index {
                    action: "indexing",
                    detail: "tantivy panicked".into(),
                })
            });
            match step {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) => self.recover(e)?,
            }
        }
    }

    /// One step of the main loop. `Ok(false)` once finished.
    fn step(&mut self) -> Result<bool> {
        match self.requests.try_recv() {
            Ok(request) => {
                self.serve_reindex(request)?;
                return Ok(true);
            }
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
        }
        let stopping = self.shared.lock().stop;
        let committed = self.watch.committed();
        if committed > self.applied {
            self.apply_next()?;
            if self.uncommitted_docs >= MAX_UNCOMMITTED_DOCS {
                self.commit_now()?;
            }
            return Ok(true);
        }
        // Caught up with the store.
        if self.dirty_since.is_some() {
            let waited = self.dirty_since.map_or(Duration::ZERO, |t| t.elapsed());
            let someone_waits = self.shared.lock().wanted > self.committed;
            // During a bulk import the document count above decides: a commit
            // every interval would make many tiny segments to merge.
            let interval_due = waited >= self.commit_interval && !self.watch.is_importing();
            if stopping || someone_waits || interval_due {
                self.commit_now()?;
                return Ok(true);
            }
            // Past the interval only while importing: keep polling for waiters.
            let slice = match self.commit_interval.checked_sub(waited) {
                Some(left) if !left.is_zero() => left.min(DIRTY_SLICE),
                _ => DIRTY_SLICE,
            };
            self.wait_for_writes(slice);
            return Ok(true);
        }
        if stopping {
            // The writer has ended (the store stops it first), so what
            // it committed is final; one more look makes sure.
            return Ok(self.watch.committed() > self.applied);
        }
        self.wait_for_writes(IDLE_SLICE);
        Ok(true)
    }

    /// After a failure: tells waiters, drops the writer (its uncommitted
    /// work is lost; the last commit is intact) and retries with growing
    /// pauses until a new writer commits. At shutdown a failure is final
    /// and returned; the next open catches up from the last commit.
    fn recover(&mut self, first: StoreError) -> Result<()> {
        let mut error = first;
        let mut pause = RETRY_FIRST;
        loop {
            tracing::warn!("the search index failed, retrying: {error}");
            let stopping = {
                let mut s = self.shared.lock();
                let attempts = s.failing.as_ref().map_or(0, |f| f.attempts).saturating_add(1);
                s.failing = Some(Failing {
                    cause: error.to_string(),
                    attempts,
                    io_kind: error.io_kind(),
                });
                s.stop
            };
            self.shared.changed.notify_all();
            // Dropping the writer joins its threads and frees the lock.
            self.writer = None;
            if stopping {
                return Err(error);
            }
            {
                let s = self.shared.lock();
                // Woken early only by stop.
                let _ = self.shared.changed.wait_timeout_while(s, pause, |s| !s.stop);
            }
            pause = (pause * 2).min(RETRY_MAX);
            if self.shared.lock().stop {
                return Err(error);
            }
            match new_writer(&self.index, self.heap_bytes) {
                Ok(writer) => self.writer = Some(writer),
                Err(e) => {
                    error = e;
                    continue;
                }
            }
            // Resume from the last commit; an empty commit proves the
            // directory writable and republishes the committed change.
            self.applied = self.committed;
            self.dirty_since = None;
            self.uncommitted_docs = 0;
            match self.commit_now() {
                Ok(()) => {
                    tracing::info!("the search index recovered");
                    return Ok(());
                }
                Err(e) => error = e,
            }
        }
    }

    /// Waits at most `slice` for the writer to commit past what is applied.
    fn wait_for_writes(&self, slice: Duration) {
        let (_, closed) = self.watch.wait_past(self.applied, slice);
        if closed {
            // The writer has ended and the store is about to stop us; the
            // closed watch no longer blocks, so sleep instead of spinning.
            std::thread::sleep(slice);
        }
    }

    /// Applies the next batch of change-log entries to the writer.
    fn apply_next(&mut self) -> Result<()> {
        let txn = self.db.begin_read().map_err(st("reading the change log"))?;
        let changes = txn.open_table(tables::CHANGES).map_err(st("reading the change log"))?;
        let mut batch: Vec<(u64, u64)> = Vec::with_capacity(CHANGE_BATCH);
        for item in changes
            .range(self.applied.saturating_add(1)..)
            .map_err(st("reading the change log"))?
            .take(CHANGE_BATCH)
        {
            let (k, v) = item.map_err(st("reading the change log"))?;
            batch.push((k.value(), v.value()));
        }
        let Some(&(first, _)) = batch.first() else {
            // The watch said there was more, but the log has nothing after
            // our change: it was pruned past us. Only a rebuild recovers.
            drop(changes);
            drop(txn);
            let reason = RebuildReason::Stale("the change log was pruned past the index".into());
            return self.rebuild_now(reason, &mut |_| {}).map(|_| ());
        };
        if first != self.applied + 1 {
            drop(changes);
            drop(txn);
            let reason = RebuildReason::Stale(format!("the change log no longer holds change {}", self.applied + 1));
            return self.rebuild_now(reason, &mut |_| {}).map(|_| ());
        }
        // A case changed several times in the batch is indexed once, as of
        // this snapshot (which is at least as new as every change read).
        let mut ids: Vec<u64> = batch.iter().map(|&(_, id)| id).collect();
        ids.sort_unstable();
        ids.dedup();
        let fields = self.shared.fields;
        let cases = txn.open_table(tables::CASES).map_err(st("reading a case to index"))?;
        let thread = txn
            .open_table(tables::THREAD)
            .map_err(st("reading a thread to index"))?;
        for id in ids {
            // A case above every id ever given to the index has no document
            // to replace (ids only grow): skipping the delete saves a term
            // lookup per segment, which dominates bulk imports.
            if id <= self.max_id {
                self.writer_mut()?.delete_term(fields.id_term(id));
            }
            if let Some(case) = load_case(&cases, id)? {
                let entries = read_thread(&thread, id)?;
                let doc: TantivyDocument = fields.document(&case, &entries);
                self.writer_mut()?.add_document(doc).map_err(ix("adding a document"))?;
                self.max_id = self.max_id.max(id);
                self.uncommitted_docs += 1;
            }
        }
        self.applied = batch.last().map_or(self.applied, |&(seq, _)| seq);
        self.dirty_since.get_or_insert_with(Instant::now);
        Ok(())
    }

    fn writer_mut(&mut self) -> Result<&mut IndexWriter> {
        self.writer.as_mut().ok_or(StoreError::Index {
            action: "indexing",
            detail: "no index writer (recovering from a failure)".into(),
        })
    }

    fn commit_now(&mut self) -> Result<()> {
        let change = self.applied;
        let schema_id = self.schema_id.clone();
        commit(self.writer_mut()?, &schema_id, change)?;
        self.after_commit(change)
    }

    fn after_commit(&mut self, change: u64) -> Result<()> {
        self.committed = change;
        self.dirty_since = None;
        self.uncommitted_docs = 0;
        self.shared.reader.reload().map_err(ix("reloading the index reader"))?;
        // Open the new searcher's columns here rather than in a search (a
        // failure is the next search's to report).
        let _ = self.shared.columns.get(&self.shared.reader.searcher());
        self.shared.lock().failing = None;
        self.shared.publish(change);
        self.maybe_prune();
        Ok(())
    }

    /// Drops change-log entries the committed index covers, every
    /// `prune_every` changes. Fire and forget: a lost prune only leaves
    /// entries for the next one.
    fn maybe_prune(&mut self) {
        if self.prune_every == 0 || self.committed.saturating_sub(self.pruned) < self.prune_every {
            return;
        }
        if self.shared.lock().prune_holds > 0 {
            return;
        }
        let upto = self.committed + 1;
        let guard = self.pruner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = guard.as_ref() {
            let (reply, _answer) = bounded(1);
            if tx.try_send(Command::PruneChanges { upto, reply }).is_ok() {
                self.pruned = upto;
            }
        }
    }

    /// Rebuilds from the store in one commit and resumes from its snapshot.
    fn rebuild_now(
        &mut self,
        reason: RebuildReason,
        progress: &mut dyn FnMut(&IndexProgress),
    ) -> Result<RebuildReport> {
        tracing::info!("rebuilding the search index: {reason}");
        let fields = self.shared.fields;
        let db = self.db.clone();
        let schema_id = self.schema_id.clone();
        let (report, max_id) = rebuild(self.writer_mut()?, &fields, &schema_id, &db, reason, progress)?;
        // The snapshot is at least as new as every change applied before.
        self.applied = report.change;
        // Uncommitted documents of the old writer count too if it survives.
        self.max_id = self.max_id.max(max_id);
        self.after_commit(report.change)?;
        Ok(report)
    }

    fn serve_reindex(&mut self, mut request: ReindexRequest) -> Result<()> {
        match self.rebuild_now(RebuildReason::Requested, &mut *request.progress) {
            Ok(report) => {
                let _ = request.reply.send(Ok(report));
                Ok(())
            }
            Err(e) => {
                let _ = request.reply.send(Err(StoreError::Index {
                    action: "reindexing",
                    detail: e.to_string(),
                }));
                Err(e)
            }
        }
    }
}
