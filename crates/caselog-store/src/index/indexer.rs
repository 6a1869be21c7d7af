//! Keeping the index consistent with the store.
//!
//! One indexer thread owns the one long-lived [`IndexWriter`]. It follows the
//! store's change log (`CHANGES`, written in the same redb transaction as
//! every change), re-indexes each changed case (delete by id term, then add
//! the current document) and commits in batches. Every tantivy commit
//! carries a payload naming the store (its id in `meta`) and the last change
//! it covers; on open the index resumes from there, and an index that is
//! missing, unreadable, built by another schema, of another store, ahead of
//! the store, or behind a pruned change log is rebuilt from the store.
//!
//! Open never waits for a rebuild: it only opens what is on disk and reads
//! its payload. A rebuild runs on the indexer thread into a fresh directory
//! (`index.new`) that is moved into place when complete, so searches answer
//! from the old index meanwhile, or, when there is none that can be used,
//! fail with [`StoreError::IndexRebuilding`]. After an unclean shutdown the
//! indexer first checks segment checksums and looks for cases indexed twice,
//! also in the background.
//!
//! Invariants:
//! - The payload's change `C` means: every change `<= C` is reflected in
//!   this commit, and the store's change log still holds every change
//!   `> C` (the log is only pruned up to a committed payload).
//! - Readers are reloaded explicitly after each commit, and only then is
//!   `C` published to `wait_indexed` callers, so a caller told "indexed"
//!   finds its write in the next search.
//! - After every commit the live document count equals the number of cases
//!   the index covers (every case with an id up to the highest indexed one:
//!   ids only grow and cases are never removed). A mismatch is repaired for
//!   the cases concerned, counted and logged.
//! - Re-indexing a case is idempotent (delete by id, add), so applying a
//!   change twice after a crash is harmless.
//!
//! Failures: a failing index (a full disk, an I/O error in a segment write,
//! `meta.json` or a sync) never stops the store. The indexer reports it to
//! `wait_indexed` callers as [`StoreError::IndexFailing`], drops its
//! writer (discarding uncommitted work; the last commit is intact), and
//! retries with a growing pause: a new writer, then an empty commit to prove
//! the directory writable, then the change log again from the last
//! committed change (or the whole rebuild, if there is no usable index).
//! Searches keep answering from the last commit meanwhile. Only at shutdown
//! is a failure final (the next open catches up).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument};

use super::analysis;
use super::schema::{schema_fingerprint, Fields};
use super::stale::{covered_cases, inspect, Generation};
use crate::error::{io, ix, st, Result, StoreError};
use crate::files::sync_dir;
use crate::options::{IndexDirectoryHook, Options};
use crate::records;
use crate::stored::{changes_after, full_thread, load_case, read_counter};
use crate::tables;
use crate::writer::{Command, CommitWatch};

/// Name of the index directory inside the store directory.
pub const INDEX_DIR: &str = "index";

/// Where a rebuild builds the new index before moving it into place.
const STAGING_DIR: &str = "index.new";

/// Where the replaced index goes for the moment between the two renames
/// that install a rebuilt one, and until it is deleted.
const RETIRED_DIR: &str = "index.old";

/// Marker file (beside the index directory) written after a clean shutdown.
/// Without it, the next open also checks every segment file's checksum and
/// looks for cases indexed twice.
const CLEAN_MARKER: &str = "index.clean";

/// Version of the commit payload's JSON. Version 2 names the store;
/// version 3 adds the highest indexed case id.
const PAYLOAD_VERSION: u32 = 3;

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

/// Repairs tried after a count mismatch before the index is rebuilt.
const MAX_REPAIRS: u32 = 3;

/// How often `open_with_progress` looks at a running rebuild.
const PROGRESS_POLL: Duration = Duration::from_millis(20);

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
    /// the store's last one (a store restored from an older backup), a
    /// change log pruned past the index, or the index of another store.
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

/// Where the search index stands ([`crate::Store::index_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexStatus {
    /// Searches answer from an index covering `change`; the indexer catches
    /// up with later changes by itself.
    Ready {
        /// The change-log sequence the searchable index covers.
        change: u64,
    },
    /// The index is being rebuilt in the background.
    Rebuilding {
        /// Why.
        reason: RebuildReason,
        /// Cases indexed so far.
        done: u64,
        /// Cases to index.
        total: u64,
        /// Whether searches meanwhile answer from the previous index (else
        /// they fail with [`StoreError::IndexRebuilding`]).
        serving_old: bool,
    },
}

/// What the index's self-checks found since the store was opened
/// ([`crate::Store::index_counters`]). Every non-zero count was also logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexCounters {
    /// Cases the open-time check (after an unclean shutdown) found indexed
    /// more than once, and re-indexed.
    pub open_duplicates: u64,
    /// Commits after which the live document count differed from the number
    /// of cases the index covers.
    pub count_mismatches: u64,
    /// Cases re-indexed to repair those mismatches.
    pub cases_repaired: u64,
    /// Rebuilds completed (at open, requested, or as a last resort).
    pub rebuilds: u64,
    /// Searcher generations published with stale documents (a case's older
    /// document that tantivy kept live beside the current one).
    pub stale_generations: u64,
    /// Stale documents found in those generations (summed over them).
    pub stale_documents: u64,
    /// Matches that searches skipped because their document was stale.
    pub stale_filtered: u64,
}

/// The commit payload.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    v: u32,
    schema: String,
    change: u64,
    /// The store's id (`meta`'s `store_id`).
    #[serde(default)]
    store: String,
    /// The highest case id of a live document, when the indexer knew it:
    /// with the case count it tells at open whether a case may have two
    /// documents (see `stale.rs`) without scanning them.
    #[serde(default)]
    max_id: Option<u64>,
}
/// What every searcher and waiter shares with the indexer thread.
pub(crate) struct Shared {
    pub fields: Fields,
    /// The index's reader (the indexer reloads it); `None` while there is
    /// no usable index (a rebuild at open is running).
    reader: RwLock<Option<IndexReader>>,
    /// What searches use: the reader's searcher as of its last reload, with
    /// its stale documents. Set after each reload once they are known, so no
    /// search sees a generation before its stale documents are.
    published: RwLock<Option<Generation>>,
    /// Matches skipped as stale (counted by searches, without the lock).
    stale_filtered: AtomicU64,
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
    /// The rebuild running, and how far it is.
    rebuilding: Option<IndexProgress>,
    /// Whether a rebuild is due before the index can be used (open found
    /// none usable); set from open until that rebuild is installed.
    rebuild_due: bool,
    /// What the rebuild that open asked for did, once it is installed.
    rebuilt_on_open: Option<RebuildReport>,
    counters: IndexCounters,
    /// Whether the indexer's start-up checks are still to finish.
    starting: bool,
}

impl State {
    /// The indexer's failure, final or being retried, as the error for a
    /// caller doing `action`.
    fn health(&self, action: &'static str) -> Result<()> {
        if let Some(why) = &self.failed {
            return Err(StoreError::index_detail(action, why.clone()));
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

    fn set_reader(&self, reader: Option<(IndexReader, Generation)>) {
        // A new index's searcher generations start again from the first:
        // the cached columns of the old one must not be taken for theirs.
        self.columns.clear();
        let (reader, generation) = reader.unzip();
        *self.reader.write().unwrap_or_else(|p| p.into_inner()) = reader;
        self.publish_generation(generation);
    }

    /// Makes `generation` the one searches use; counts its stale documents.
    fn publish_generation(&self, generation: Option<Generation>) {
        if let Some(g) = generation.as_ref().filter(|g| !g.stale.is_empty()) {
            let n = g.stale.len();
            self.count(|c| {
                c.stale_generations += 1;
                c.stale_documents += n;
            });
        }
        *self.published.write().unwrap_or_else(|p| p.into_inner()) = generation;
    }

    /// Counts matches a search skipped as stale.
    pub fn count_stale_filtered(&self, n: u64) {
        if n > 0 {
            self.stale_filtered.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn current_generation(&self) -> Option<Generation> {
        self.published.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn current_reader(&self) -> Option<IndexReader> {
        self.reader.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn count(&self, f: impl FnOnce(&mut IndexCounters)) {
        f(&mut self.lock().counters);
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

    /// A searcher over the current index and the change it covers (read
    /// first: the searcher is at least as new). Without a usable index,
    /// [`StoreError::IndexRebuilding`] (or the indexer's failure).
    pub fn searcher(&self) -> Result<(u64, Searcher)> {
        self.generation().map(|(change, g)| (change, g.searcher))
    }

    /// Like [`Self::searcher`], with the searcher's stale documents.
    pub fn generation(&self) -> Result<(u64, Generation)> {
        let (indexed, rebuilding) = {
            let s = self.lock();
            (s.indexed, s.rebuilding.clone())
        };
        if let Some(generation) = self.current_generation() {
            return Ok((indexed, generation));
        }
        self.lock().health("searching")?;
        let (done, total) = rebuilding.map_or((0, 0), |p| (p.done, p.total));
        Err(StoreError::IndexRebuilding { done, total })
    }

    /// Where the index stands.
    pub fn status(&self) -> IndexStatus {
        let serving_old = self.current_generation().is_some();
        let s = self.lock();
        match &s.rebuilding {
            Some(p) => IndexStatus::Rebuilding {
                reason: p.reason.clone(),
                done: p.done,
                total: p.total,
                serving_old,
            },
            None => IndexStatus::Ready { change: s.indexed },
        }
    }

    /// The self-checks' counters.
    pub fn counters(&self) -> IndexCounters {
        let mut c = self.lock().counters;
        c.stale_filtered = self.stale_filtered.load(Ordering::Relaxed);
        c
    }

    /// Waits until the indexer's start-up checks (checksums and cases
    /// indexed twice after an unclean shutdown, the document count) have
    /// run. `Ok(false)` on timeout.
    pub fn wait_started(&self, timeout: Duration) -> Result<bool> {
        self.wait_for(timeout, |s| !s.starting)
    }

    /// Waits until `done` holds for the state. `Ok(false)` on timeout; a
    /// failing or ended indexer is told at once.
    fn wait_for(&self, timeout: Duration, mut done: impl FnMut(&mut State) -> bool) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        loop {
            if done(&mut s) {
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

    /// Waits until `change` is searchable. `Ok(false)` on timeout.
    pub fn wait_indexed(&self, change: u64, timeout: Duration) -> Result<bool> {
        self.wait_for(timeout, |s| {
            s.wanted = s.wanted.max(change);
            // Without a usable index nothing is searchable yet, whatever
            // the (old) covered change says.
            s.indexed >= change && !s.rebuild_due
        })
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
}
/// Where the index lives and how to open its directories: everything a
/// rebuild needs besides the store.
#[derive(Clone)]
struct Place {
    store_dir: PathBuf,
    hook: Option<IndexDirectoryHook>,
    schema: tantivy::schema::Schema,
    schema_id: String,
    store_id: String,
    fields: Fields,
    heap_bytes: usize,
    /// `Options::index_merge_min_segments`.
    merge_min_segments: usize,
}

impl Place {
    fn live(&self) -> PathBuf {
        self.store_dir.join(INDEX_DIR)
    }

    fn staging(&self) -> PathBuf {
        self.store_dir.join(STAGING_DIR)
    }

    fn retired(&self) -> PathBuf {
        self.store_dir.join(RETIRED_DIR)
    }

    fn directory(&self, dir: &Path) -> Result<Box<dyn tantivy::Directory>> {
        open_directory(dir, self.hook.as_ref()).map_err(|e| StoreError::index("opening the index directory", &e.into()))
    }

    fn payload(&self, change: u64, max_id: u64) -> Payload {
        Payload {
            v: PAYLOAD_VERSION,
            schema: self.schema_id.clone(),
            change,
            store: self.store_id.clone(),
            max_id: (max_id != u64::MAX).then_some(max_id),
        }
    }

    /// Opens the installed index with a reader.
    fn open_live(&self) -> Result<(Index, IndexReader)> {
        let index = Index::open(self.directory(&self.live())?).map_err(ix("opening the rebuilt index"))?;
        analysis::register(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(ix("opening the index reader"))?;
        Ok((index, reader))
    }

    /// After a crash between the two renames of [`Self::install`]: installs
    /// the staged index if it is complete (its one commit, made when the
    /// build ended, names this store and schema) and fits the store, and
    /// opens it. Otherwise the index is missing (the indexer removes the
    /// staging directory and rebuilds).
    fn install_staged(
        &self,
        txn: &ReadTransaction,
        last: u64,
    ) -> std::result::Result<(Index, IndexReader, Payload), RebuildReason> {
        let staging = self.staging();
        let fits = try_open(self, &staging).and_then(|(_, _, payload)| check_fits(txn, payload.change, last));
        if let Err(why) = fits {
            if staging.exists() {
                tracing::info!("discarding an unfinished rebuild: {why}");
            }
            return Err(RebuildReason::Missing);
        }
        let installed = std::fs::rename(&staging, self.live())
            .map_err(|e| e.to_string())
            .and_then(|()| sync_dir(&self.store_dir).map_err(|e| e.to_string()));
        if let Err(why) = installed {
            tracing::warn!("could not install the rebuilt index left by an interrupted install: {why}");
            return Err(RebuildReason::Missing);
        }
        tracing::info!("installed the rebuilt index left by an interrupted install");
        try_open(self, &self.live())
    }

    /// Removes what an interrupted rebuild or install left behind.
    fn remove_leftovers(&self) {
        for dir in [self.staging(), self.retired()] {
            if dir.exists() {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!("could not remove {}: {e}", dir.display());
                }
            }
        }
    }

    /// Builds a complete index of the store as of one snapshot in the
    /// staging directory, committed and with every merge finished. Returns
    /// the report and the highest case id indexed.
    fn build(
        &self,
        db: &Database,
        reason: RebuildReason,
        progress: &mut dyn FnMut(&IndexProgress),
        cancel: &dyn Fn() -> bool,
    ) -> Result<(RebuildReport, u64)> {
        let dir = self.staging();
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io("removing an unfinished rebuild", &dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(io("creating the rebuild directory", &dir))?;
        let index = Index::create(self.directory(&dir)?, self.schema.clone(), Default::default())
            .map_err(ix("creating the index"))?;
        analysis::register(&index);
        let mut writer = new_writer(&index, self)?;
        let built = rebuild(&mut writer, self, db, reason, progress, cancel)?;
        // Merges write into the directory; it only moves once they are done.
        writer
            .wait_merging_threads()
            .map_err(ix("finishing the rebuilt index's merges"))?;
        Ok(built)
    }

    /// Moves the staged index into place: the live one (if any) aside, the
    /// staged one in, the store directory synced, the old one deleted. A
    /// crash between the renames leaves no live index, which the next open
    /// rebuilds; either complete index is valid on its own.
    fn install(&self) -> Result<()> {
        let (live, staging, retired) = (self.live(), self.staging(), self.retired());
        if retired.exists() {
            std::fs::remove_dir_all(&retired).map_err(io("removing a replaced index", &retired))?;
        }
        if live.exists() {
            std::fs::rename(&live, &retired).map_err(io("moving the old index aside", &live))?;
        }
        std::fs::rename(&staging, &live).map_err(io("installing the rebuilt index", &staging))?;
        sync_dir(&self.store_dir)?;
        if let Err(e) = std::fs::remove_dir_all(&retired) {
            if retired.exists() {
                tracing::warn!("could not remove the replaced index {}: {e}", retired.display());
            }
        }
        Ok(())
    }
}

/// How `open` found the index.
enum Start {
    /// An index that fits the store, opened with a reader.
    Existing {
        index: Index,
        reader: IndexReader,
        generation: Generation,
        change: u64,
    },
    /// No usable index: the indexer rebuilds first.
    Rebuild(RebuildReason),
}

/// An index opened (or found unusable) but not yet followed by a thread.
pub(crate) struct Opened {
    place: Place,
    /// Whether the last session ended cleanly (its marker was there).
    clean: bool,
    start: Start,
    /// Whether the open-time duplicate check runs after an unclean shutdown.
    open_check: bool,
}

/// Opens the index of the store in `store_dir`, or decides it must be
/// rebuilt (missing, unreadable, of another schema or store, or not fitting
/// the store). Only cheap checks run here; a rebuild and the checks after an
/// unclean shutdown run on the indexer thread. Runs before the writer
/// starts.
pub(crate) fn open(
    store_dir: &Path,
    db: &Database,
    opts: &Options,
    hook: Option<&IndexDirectoryHook>,
) -> Result<Opened> {
    let (schema, fields) = Fields::build();
    let schema_id = schema_fingerprint(&schema);
    let store_id = store_id(db)?;
    let marker = store_dir.join(CLEAN_MARKER);
    // Only a clean shutdown leaves the marker; removing it now (durably)
    // means a crash in this session is noticed by the next open.
    let clean = marker.exists();
    if clean {
        std::fs::remove_file(&marker).map_err(io("removing the clean-shutdown marker", &marker))?;
        sync_dir(store_dir)?;
    }
    let place = Place {
        store_dir: store_dir.to_owned(),
        hook: hook.cloned(),
        schema,
        schema_id,
        store_id,
        fields,
        heap_bytes: opts.index_heap_bytes,
        merge_min_segments: opts.index_merge_min_segments,
    };
    let txn = db.begin_read().map_err(st("reading the store for the index"))?;
    let last = last_change_in(&txn)?;
    let attempt = match try_open(&place, &place.live()) {
        // A crash between the two renames of an install leaves the complete
        // rebuilt index in the staging directory and none in place.
        Err(RebuildReason::Missing) => place.install_staged(&txn, last),
        other => other,
    }
    .and_then(|(index, reader, payload)| check_fits(&txn, payload.change, last).map(|()| (index, reader, payload)));
    let cases = txn
        .open_table(tables::CASES)
        .map_err(st("counting cases"))?
        .len()
        .map_err(st("counting cases"))?;
    drop(txn);
    let start = match attempt {
        Ok((index, reader, payload)) => {
            let generation = inspect(reader.searcher(), db, payload.max_id)?;
            Start::Existing {
                index,
                reader,
                generation,
                change: payload.change,
            }
        }
        // An empty store's index is built at once: there is nothing to wait for.
        Err(reason) if cases == 0 => {
            tracing::info!("creating the search index: {reason}");
            place.build(db, reason, &mut |_| {}, &|| false)?;
            place.install()?;
            let (index, reader) = place.open_live()?;
            let change = payload_of(&index).map_or(0, |p| p.change);
            let generation = inspect(reader.searcher(), db, None)?;
            Start::Existing {
                index,
                reader,
                generation,
                change,
            }
        }
        Err(reason) => {
            tracing::warn!(dir = %place.live().display(), "the search index will be rebuilt: {reason}");
            Start::Rebuild(reason)
        }
    };
    Ok(Opened {
        place,
        clean,
        start,
        open_check: opts.index_open_duplicate_check,
    })
}

/// The store's id, kept in `meta`; a store that has none (created by an
/// earlier release) gets one now.
fn store_id(db: &Database) -> Result<String> {
    if let Some(id) = read_store_id(db)? {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let txn = db.begin_write().map_err(st("recording the store id"))?;
    {
        let mut meta = txn.open_table(tables::META).map_err(st("recording the store id"))?;
        meta.insert(tables::META_STORE_ID, id.as_bytes())
            .map_err(st("recording the store id"))?;
    }
    txn.commit().map_err(st("recording the store id"))?;
    Ok(id)
}

/// The store's id, if it has one.
fn read_store_id(db: &dyn ReadableDatabase) -> Result<Option<String>> {
    let txn = db.begin_read().map_err(st("reading the store id"))?;
    let meta = txn.open_table(tables::META).map_err(st("reading the store id"))?;
    let Some(v) = meta.get(tables::META_STORE_ID).map_err(st("reading the store id"))? else {
        return Ok(None);
    };
    String::from_utf8(v.value().to_vec())
        .map(Some)
        .map_err(|_| StoreError::Corrupt {
            table: "meta",
            key: tables::META_STORE_ID.into(),
            detail: "the store id is not UTF-8".into(),
        })
}

fn payload_of(index: &Index) -> Option<Payload> {
    let metas = index.load_metas().ok()?;
    serde_json::from_str(metas.payload.as_deref()?).ok()
}

/// Opens an existing index (in `dir`) with a reader and reads its payload;
/// any failure is the reason to rebuild.
fn try_open(place: &Place, dir: &Path) -> std::result::Result<(Index, IndexReader, Payload), RebuildReason> {
    if !dir.join("meta.json").exists() {
        return Err(RebuildReason::Missing);
    }
    let unreadable = |e: &dyn std::fmt::Display| RebuildReason::Unreadable(e.to_string());
    // tantivy may panic on damaged files rather than return an error; a
    // damaged index must only ever lead to a rebuild.
    // Nothing outlives a panic here but the hook, which is only called.
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> std::result::Result<(Index, IndexReader, Payload), RebuildReason> {
            let directory = open_directory(dir, place.hook.as_ref()).map_err(|e| unreadable(&e))?;
            let index = Index::open(directory).map_err(|e| unreadable(&e))?;
            analysis::register(&index);
            if serde_json::to_value(index.schema()).ok() != serde_json::to_value(&place.schema).ok() {
                return Err(RebuildReason::SchemaChanged);
            }
            let metas = index.load_metas().map_err(|e| unreadable(&e))?;
            let payload: Payload = match metas.payload.as_deref().map(serde_json::from_str) {
                None => return Err(RebuildReason::Stale("the last commit has no payload".into())),
                Some(Err(e)) => return Err(RebuildReason::Stale(format!("unreadable commit payload: {e}"))),
                Some(Ok(p)) => p,
            };
            if payload.v != PAYLOAD_VERSION || payload.schema != place.schema_id {
                return Err(RebuildReason::SchemaChanged);
            }
            if payload.store != place.store_id {
                return Err(RebuildReason::Stale(format!(
                    "the index belongs to another store ({})",
                    payload.store
                )));
            }
            // Opening a reader opens every segment (footers, term dictionaries,
            // fast fields), which catches truncated or missing files.
            let reader = index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map_err(|e| unreadable(&e))?;
            Ok((index, reader, payload))
        },
    ));
    opened.unwrap_or_else(|_| Err(RebuildReason::Unreadable("the index failed its checks".into())))
}

/// The on-disk index directory, wrapped by the caller's hook if any.
fn open_directory(
    dir: &Path,
    hook: Option<&IndexDirectoryHook>,
) -> std::result::Result<Box<dyn tantivy::Directory>, tantivy::directory::error::OpenDirectoryError> {
    let mmap: Box<dyn tantivy::Directory> = Box::new(MmapDirectory::open(dir)?);
    Ok(match hook {
        Some(wrap) => wrap(mmap),
        None => mmap,
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

fn new_writer(index: &Index, place: &Place) -> Result<IndexWriter> {
    let heap = place.heap_bytes.max(MIN_HEAP_PER_THREAD);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.clamp(1, 4).min(heap / MIN_HEAP_PER_THREAD).max(1);
    let options = tantivy::indexer::IndexWriterOptions::builder()
        .num_worker_threads(threads)
        .memory_budget_per_thread(heap / threads)
        // Merges run in the background; one thread keeps them from
        // crowding out the store's writer on small machines.
        .num_merge_threads(1)
        .build();
    let writer: IndexWriter = index
        .writer_with_options(options)
        .map_err(ix("starting the index writer"))?;
    let mut policy = tantivy::indexer::LogMergePolicy::default();
    policy.set_min_num_segments(place.merge_min_segments.max(2));
    writer.set_merge_policy(Box::new(policy));
    Ok(writer)
}

fn commit(writer: &mut IndexWriter, payload: &Payload) -> Result<()> {
    let payload = serde_json::to_string(payload)
        .map_err(|e| StoreError::index_detail("writing the commit payload", e.to_string()))?;
    let mut prepared = writer.prepare_commit().map_err(ix("preparing an index commit"))?;
    prepared.set_payload(&payload);
    prepared.commit().map_err(ix("committing the index"))?;
    Ok(())
}

/// Indexes the store's cases as of one read snapshot into `writer` (a
/// fresh, empty index) in one commit. Also returns the highest case id
/// indexed.
fn rebuild(
    writer: &mut IndexWriter,
    place: &Place,
    db: &dyn ReadableDatabase,
    reason: RebuildReason,
    progress: &mut dyn FnMut(&IndexProgress),
    cancel: &dyn Fn() -> bool,
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
    let mut done = 0u64;
    let mut max_id = 0;
    for item in cases.iter().map_err(st("reading cases for a rebuild"))? {
        let (k, v) = item.map_err(st("reading cases for a rebuild"))?;
        let id = k.value();
        max_id = max_id.max(id);
        let case = records::decode_case(v.value(), id)?;
        let entries = full_thread(&thread, id)?;
        writer
            .add_document(place.fields.document(&case, &entries, 0))
            .map_err(ix("adding a document"))?;
        done += 1;
        if done % step == 0 && done < total {
            report(done);
        }
        // Shutdown does not wait for a whole rebuild; the next open redoes it.
        if done % 1_024 == 0 && cancel() {
            return Err(StoreError::ShutDown);
        }
    }
    commit(writer, &place.payload(change, max_id))?;
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

/// What a scan of the live documents found.
struct LiveIds {
    /// Live documents per case id.
    seen: HashMap<u64, u32>,
    /// The highest id of a live document.
    max_id: u64,
    /// The highest version of a live document.
    max_version: u64,
}

fn live_ids(searcher: &Searcher) -> Result<LiveIds> {
    let mut live = LiveIds {
        seen: HashMap::with_capacity(searcher.num_docs() as usize),
        max_id: 0,
        max_version: 0,
    };
    for segment in searcher.segment_readers() {
        let fast = segment.fast_fields();
        let ids = fast.u64(super::schema::names::ID).map_err(ix("reading document ids"))?;
        let versions = fast
            .u64(super::schema::names::VERSION)
            .map_err(ix("reading document versions"))?;
        for doc in segment.doc_ids_alive() {
            if let Some(id) = ids.first(doc) {
                *live.seen.entry(id).or_default() += 1;
                live.max_id = live.max_id.max(id);
            }
            live.max_version = live.max_version.max(versions.first(doc).unwrap_or(0));
        }
    }
    Ok(live)
}

impl IndexHandle {
    /// Starts the indexer thread on an opened index. It first finishes what
    /// open left (a rebuild, or the checks after an unclean shutdown), then
    /// follows the change log from the index's change and stops after the
    /// writer has drained.
    pub fn start(
        opened: Opened,
        db: Arc<Database>,
        opts: &Options,
        watch: Arc<CommitWatch>,
        writer_tx: Sender<Command>,
    ) -> Result<IndexHandle> {
        let Opened {
            place,
            clean,
            start,
            open_check,
        } = opened;
        let (reader, change, index, rebuild_due) = match start {
            Start::Existing {
                index,
                reader,
                generation,
                change,
            } => (Some((reader, generation)), change, Some(index), None),
            Start::Rebuild(reason) => (None, 0, None, Some(reason)),
        };
        // Searches of Chinese text need the jieba dictionary (~130 ms to
        // load): load it now, off the caller's path.
        super::analysis::warm_up_in_background();
        let shared = Arc::new(Shared {
            fields: place.fields,
            reader: RwLock::new(None),
            published: RwLock::new(None),
            stale_filtered: AtomicU64::new(0),
            columns: Default::default(),
            state: Mutex::new(State {
                indexed: change,
                starting: true,
                rebuild_due: rebuild_due.is_some(),
                rebuilding: rebuild_due.clone().map(|reason| IndexProgress {
                    reason,
                    done: 0,
                    total: 0,
                }),
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        // Counts the generation's stale documents, if it has any.
        shared.set_reader(reader);
        // The first search should not open the columns (a failure is that
        // search's to report).
        if let Some(reader) = shared.current_reader() {
            let _ = shared.columns.get(&reader.searcher());
        }
        let (control, requests) = bounded(4);
        let pruner = Arc::new(Mutex::new(Some(writer_tx)));
        let dir = place.live();
        let indexer = Indexer {
            shared: shared.clone(),
            index,
            writer: None,
            place,
            db,
            watch,
            requests,
            pruner: pruner.clone(),
            commit_interval: opts.index_commit_interval,
            prune_every: opts.index_prune_every,
            applied: change,
            committed: change,
            // Unknown until the ids are read: never skip a delete meanwhile.
            max_id: u64::MAX,
            committed_max_id: u64::MAX,
            // Rebuilt documents have version 0.
            next_version: 1,
            pruned: 0,
            dirty_since: None,
            uncommitted_docs: 0,
            rebuild_due,
            startup: Some(Startup { clean, open_check }),
        };
        let thread = std::thread::Builder::new()
            .name("caselog-indexer".into())
            .spawn(move || indexer.run())
            .map_err(io("starting the indexer thread", &dir))?;
        Ok(IndexHandle {
            shared,
            control,
            thread: Some(thread),
            pruner,
        })
    }

    /// Waits until a rebuild that open started is installed, reporting its
    /// progress as it goes (on the caller's thread). Returns at once when
    /// none is running; an error if the indexer fails or stops.
    pub fn wait_rebuilt(&self, progress: &mut dyn FnMut(&IndexProgress)) -> Result<()> {
        let mut last: Option<IndexProgress> = None;
        let mut s = self.shared.lock();
        loop {
            // The state before the rebuild has counted its cases says 0 of 0.
            if let Some(p) = s.rebuilding.as_ref().filter(|p| p.total > 0) {
                if last.as_ref() != Some(p) {
                    let p = p.clone();
                    drop(s);
                    // Progress is polled and may skip steps; the caller
                    // still sees the start (and, below, the end).
                    if last.is_none() && p.done > 0 {
                        progress(&IndexProgress { done: 0, ..p.clone() });
                    }
                    progress(&p);
                    last = Some(p);
                    s = self.shared.lock();
                    continue;
                }
            }
            if !s.rebuild_due {
                if let Some(report) = s.rebuilt_on_open.clone() {
                    drop(s);
                    let at = |done| IndexProgress {
                        reason: report.reason.clone(),
                        done,
                        total: report.cases,
                    };
                    if last.is_none() {
                        progress(&at(0));
                    }
                    if last.is_none_or(|p| p.done != report.cases) {
                        progress(&at(report.cases));
                    }
                }
                return Ok(());
            }
            s.health("rebuilding the index")?;
            if s.ended {
                return Err(StoreError::ShutDown);
            }
            s = match self.shared.changed.wait_timeout(s, PROGRESS_POLL) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// What the rebuild that open asked for did, once it is installed.
    pub fn rebuilt_on_open(&self) -> Option<RebuildReport> {
        self.shared.lock().rebuilt_on_open.clone()
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
                Err(_) => Err(StoreError::index_detail(
                    "stopping the indexer",
                    "the indexer thread panicked",
                )),
            },
            None => Ok(()),
        }
    }

    /// Rebuilds the index from the store on the indexer thread; searches see
    /// the old index until the new one is installed.
    pub fn reindex(&self, progress: Box<dyn FnMut(&IndexProgress) + Send>) -> Result<RebuildReport> {
        self.shared.lock().health("reindexing")?;
        let (reply, answer) = bounded(1);
        self.control
            .send(ReindexRequest { progress, reply })
            .map_err(|_| StoreError::ShutDown)?;
        answer.recv().map_err(|_| StoreError::ShutDown)?
    }
}

/// What the indexer does once, before following the change log.
struct Startup {
    /// Whether the last session ended cleanly.
    clean: bool,
    /// Whether to look for cases indexed twice after an unclean shutdown.
    open_check: bool,
}

/// The indexer thread's state.
struct Indexer {
    shared: Arc<Shared>,
    /// `None` only while there is no usable index (a rebuild is due).
    index: Option<Index>,
    /// `None` while recovering from a failure or rebuilding.
    writer: Option<IndexWriter>,
    place: Place,
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
    /// The highest case id of a live document (committed or not); a case
    /// above it has no document yet. `u64::MAX` until the ids were read.
    max_id: u64,
    /// `max_id` as of the last commit (what a failed writer falls back to).
    committed_max_id: u64,
    /// The version the next added document gets: above every live
    /// document's (read at start), never reused (a stale document's version
    /// must stay below its case's current one).
    next_version: u64,
    /// Changes below this were last asked to be pruned.
    pruned: u64,
    /// When the oldest uncommitted change was applied.
    dirty_since: Option<Instant>,
    uncommitted_docs: usize,
    /// A rebuild that must be installed before indexing can go on.
    rebuild_due: Option<RebuildReason>,
    /// The checks still to run at start.
    startup: Option<Startup>,
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
                let marker = self.place.store_dir.join(CLEAN_MARKER);
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

    /// The main loop: finish what open left, apply committed changes,
    /// commit in batches, serve reindex requests, recover from failures,
    /// and finish once the store stops.
    fn follow(&mut self) -> Result<()> {
        loop {
            // tantivy may panic on I/O trouble instead of returning an
            // error; either way the writer is replaced and work resumes
            // from the last commit.
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step()))
                .unwrap_or_else(|_| Err(StoreError::index_detail("indexing", "tantivy panicked")));
            match step {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                // A rebuild cut short by shutdown: the next open rebuilds.
                Err(StoreError::ShutDown) if self.shared.lock().stop => return Ok(()),
                Err(e) => self.recover(e)?,
            }
        }
    }

    /// One step of the main loop. `Ok(false)` once finished.
    fn step(&mut self) -> Result<bool> {
        if let Some(startup) = self.startup.take() {
            if let Err(e) = self.start_up(&startup) {
                self.startup = Some(startup);
                return Err(e);
            }
            self.shared.lock().starting = false;
            self.shared.changed.notify_all();
            return Ok(true);
        }
        if let Some(reason) = self.rebuild_due.clone() {
            self.rebuild_swap(reason, &mut |_| {})?;
            return Ok(true);
        }
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

    /// What open left to the background: leftovers of an interrupted
    /// rebuild; after an unclean shutdown, segment checksums and cases
    /// indexed twice; and the document-count invariant.
    fn start_up(&mut self, startup: &Startup) -> Result<()> {
        self.place.remove_leftovers();
        if self.rebuild_due.is_some() {
            // The rebuild comes next and replaces everything.
            return Ok(());
        }
        let index = self.index.clone().ok_or_else(no_index)?;
        if !startup.clean {
            let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| index.validate_checksum()));
            let damage = match checked {
                Ok(Ok(damaged)) if damaged.is_empty() => None,
                Ok(Ok(damaged)) => {
                    let names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
                    Some(format!("damaged files: {}", names.join(", ")))
                }
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("the index failed its checksum pass".into()),
            };
            if let Some(why) = damage {
                // Searches must not read a damaged index; nothing is
                // searchable until the rebuild is installed.
                tracing::warn!("the search index is damaged and will be rebuilt: {why}");
                self.shared.set_reader(None);
                {
                    let mut s = self.shared.lock();
                    s.rebuild_due = true;
                    s.rebuilding = Some(IndexProgress {
                        reason: RebuildReason::Unreadable(why.clone()),
                        done: 0,
                        total: 0,
                    });
                }
                self.rebuild_due = Some(RebuildReason::Unreadable(why));
                self.index = None;
                return Ok(());
            }
        }
        if self.writer.is_none() {
            self.writer = Some(new_writer(&index, &self.place)?);
        }
        if !startup.clean {
            self.collect_garbage();
        }
        let reader = self.shared.current_reader().ok_or_else(no_index)?;
        let LiveIds {
            seen,
            max_id,
            max_version,
        } = live_ids(&reader.searcher())?;
        self.max_id = max_id;
        self.committed_max_id = max_id;
        // Versions only grow, across sessions too.
        self.next_version = self.next_version.max(max_version.saturating_add(1));
        if !startup.clean && startup.open_check {
            let mut twice: Vec<u64> = seen.iter().filter(|&(_, &n)| n > 1).map(|(&id, _)| id).collect();
            if !twice.is_empty() {
                twice.sort_unstable();
                tracing::warn!(
                    cases = twice.len(),
                    first = twice[0],
                    "the open-time check found cases indexed more than once; re-indexing them"
                );
                self.reindex_cases(&twice)?;
                self.commit_unchecked()?;
                // Counted once repaired, so a reader of the counter finds
                // the repair committed.
                self.shared.count(|c| c.open_duplicates += twice.len() as u64);
            }
        }
        drop(seen);
        self.check_counts()
    }

    /// After a failure: tells waiters, drops the writer (its uncommitted
    /// work is lost; the last commit is intact) and retries with growing
    /// pauses until a new writer commits, or a due rebuild is installed. At
    /// shutdown a failure is final and returned; the next open catches up
    /// from the last commit.
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
            if let Some(reason) = self.rebuild_due.clone() {
                match self.rebuild_swap(reason, &mut |_| {}) {
                    Ok(_) => {
                        tracing::info!("the search index recovered");
                        return Ok(());
                    }
                    Err(e) => {
                        error = e;
                        continue;
                    }
                }
            }
            let Some(index) = self.index.clone() else {
                error = no_index();
                continue;
            };
            match new_writer(&index, &self.place) {
                Ok(writer) => self.writer = Some(writer),
                Err(e) => {
                    error = e;
                    continue;
                }
            }
            self.collect_garbage();
            // Resume from the last commit; an empty commit proves the
            // directory writable and republishes the committed change.
            self.applied = self.committed;
            self.max_id = self.committed_max_id;
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
        let batch = changes_after(&changes, self.applied, CHANGE_BATCH)?;
        let Some(&(first, _)) = batch.first() else {
            // The watch said there was more, but the log has nothing after
            // our change: it was pruned past us. Only a rebuild recovers.
            drop(changes);
            drop(txn);
            let reason = RebuildReason::Stale("the change log was pruned past the index".into());
            self.rebuild_due = Some(reason.clone());
            return self.rebuild_swap(reason, &mut |_| {}).map(|_| ());
        };
        if first != self.applied + 1 {
            drop(changes);
            drop(txn);
            let reason = RebuildReason::Stale(format!("the change log no longer holds change {}", self.applied + 1));
            self.rebuild_due = Some(reason.clone());
            return self.rebuild_swap(reason, &mut |_| {}).map(|_| ());
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
            // A case above every live document's id has no document to
            // replace (ids only grow): skipping the delete saves a term
            // lookup per segment, which dominates bulk imports.
            if id <= self.max_id {
                self.writer_mut()?.delete_term(fields.id_term(id));
            }
            if let Some(case) = load_case(&cases, id)? {
                let entries = full_thread(&thread, id)?;
                let doc: TantivyDocument = fields.document(&case, &entries, self.next_version);
                self.next_version += 1;
                self.writer_mut()?.add_document(doc).map_err(ix("adding a document"))?;
                self.max_id = self.max_id.max(id);
                self.uncommitted_docs += 1;
            }
        }
        self.applied = batch.last().map_or(self.applied, |&(seq, _)| seq);
        self.dirty_since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Deletes every document of these cases and adds each one's current
    /// document (none for a case the store does not have).
    fn reindex_cases(&mut self, ids: &[u64]) -> Result<()> {
        let txn = self.db.begin_read().map_err(st("reading a case to index"))?;
        let cases = txn.open_table(tables::CASES).map_err(st("reading a case to index"))?;
        let thread = txn
            .open_table(tables::THREAD)
            .map_err(st("reading a thread to index"))?;
        let fields = self.shared.fields;
        for &id in ids {
            self.writer_mut()?.delete_term(fields.id_term(id));
            if let Some(case) = load_case(&cases, id)? {
                let entries = full_thread(&thread, id)?;
                let doc = fields.document(&case, &entries, self.next_version);
                self.next_version += 1;
                self.writer_mut()?.add_document(doc).map_err(ix("adding a document"))?;
                if self.max_id != u64::MAX {
                    self.max_id = self.max_id.max(id);
                }
            }
        }
        Ok(())
    }

    /// Deletes the files no commit refers to before indexing resumes. A
    /// killed process (or a dropped writer) leaves files behind, among them
    /// delete files named by operation stamp; a new writer restarts the
    /// stamps at the last commit, so without this its commit can collide
    /// with such a file (`FileAlreadyExists`) and fail.
    fn collect_garbage(&self) {
        if let Some(writer) = self.writer.as_ref() {
            if let Err(e) = writer.garbage_collect_files().wait() {
                tracing::warn!("removing files left by an earlier session: {e}");
            }
        }
    }

    fn writer_mut(&mut self) -> Result<&mut IndexWriter> {
        self.writer.as_mut().ok_or(StoreError::index_detail(
            "indexing",
            "no index writer (recovering from a failure)",
        ))
    }

    /// Commits what is applied, then checks the document count.
    fn commit_now(&mut self) -> Result<()> {
        self.commit_unchecked()?;
        self.check_counts()
    }

    fn commit_unchecked(&mut self) -> Result<()> {
        let change = self.applied;
        let payload = self.place.payload(change, self.max_id);
        commit(self.writer_mut()?, &payload)?;
        self.after_commit(change)
    }

    fn after_commit(&mut self, change: u64) -> Result<()> {
        self.committed = change;
        self.committed_max_id = self.max_id;
        self.dirty_since = None;
        self.uncommitted_docs = 0;
        if let Some(reader) = self.shared.current_reader() {
            reader.reload().map_err(ix("reloading the index reader"))?;
            let searcher = reader.searcher();
            // Open the new searcher's columns here rather than in a search (a
            // failure is the next search's to report).
            let _ = self.shared.columns.get(&searcher);
            let known = (self.max_id != u64::MAX).then_some(self.max_id);
            let generation = inspect(searcher, &*self.db, known)?;
            self.shared.publish_generation(Some(generation));
        }
        self.shared.lock().failing = None;
        self.shared.publish(change);
        self.maybe_prune();
        Ok(())
    }

    /// The invariant after a commit: the live documents are exactly the
    /// cases the index covers, counted (not scanned). On a mismatch the
    /// cases concerned are found (a scan), re-indexed and committed; the
    /// mismatch is counted and logged. A mismatch that repairs do not
    /// clear leads to a rebuild.
    fn check_counts(&mut self) -> Result<()> {
        if self.max_id == u64::MAX {
            return Ok(());
        }
        for attempt in 0..=MAX_REPAIRS {
            let Some(reader) = self.shared.current_reader() else {
                return Ok(());
            };
            let searcher = reader.searcher();
            let live = searcher.num_docs();
            let covered = covered_cases(&*self.db, self.max_id)?;
            if live == covered {
                return Ok(());
            }
            if attempt == MAX_REPAIRS {
                break;
            }
            let seen = live_ids(&searcher)?.seen;
            drop(searcher);
            let concerned = self.cases_concerned(&seen)?;
            drop(seen);
            tracing::warn!(
                live_documents = live,
                covered_cases = covered,
                change = self.committed,
                cases = ?&concerned[..concerned.len().min(20)],
                "the index's document count disagrees with the store; re-indexing the cases concerned"
            );
            self.reindex_cases(&concerned)?;
            self.commit_unchecked()?;
            // Counted once repaired, so a reader of the counter finds the
            // repair committed.
            self.shared.count(|c| {
                c.count_mismatches += 1;
                c.cases_repaired += concerned.len() as u64;
            });
        }
        let reason =
            RebuildReason::Unreadable("the document count still disagrees with the store after repairs".into());
        tracing::error!("{reason}");
        self.rebuild_due = Some(reason.clone());
        self.rebuild_swap(reason, &mut |_| {}).map(|_| ())
    }

    /// Cases indexed more than once, missing (up to the highest indexed
    /// id) or indexed without being in the store.
    fn cases_concerned(&self, seen: &HashMap<u64, u32>) -> Result<Vec<u64>> {
        let txn = self.db.begin_read().map_err(st("reading cases"))?;
        let cases = txn.open_table(tables::CASES).map_err(st("reading cases"))?;
        let mut concerned = Vec::new();
        for (&id, &n) in seen {
            if n > 1 || cases.get(id).map_err(st("reading cases"))?.is_none() {
                concerned.push(id);
            }
        }
        for item in cases.range(..=self.max_id).map_err(st("reading cases"))? {
            let (k, _) = item.map_err(st("reading cases"))?;
            if !seen.contains_key(&k.value()) {
                concerned.push(k.value());
            }
        }
        concerned.sort_unstable();
        concerned.dedup();
        Ok(concerned)
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

    /// Rebuilds the index from one store snapshot into a fresh directory
    /// and installs it; searches answer from the old index (if any) until
    /// then. Indexing resumes from the snapshot's change.
    fn rebuild_swap(
        &mut self,
        reason: RebuildReason,
        progress: &mut dyn FnMut(&IndexProgress),
    ) -> Result<RebuildReport> {
        tracing::info!("rebuilding the search index: {reason}");
        let shared = self.shared.clone();
        let mut report_progress = |p: &IndexProgress| {
            shared.lock().rebuilding = Some(p.clone());
            shared.changed.notify_all();
            progress(p);
        };
        let stopping = || self.shared.lock().stop;
        let built = self
            .place
            .build(&self.db, reason.clone(), &mut report_progress, &stopping);
        let (report, max_id) = match built {
            Ok(built) => built,
            Err(e) => {
                let mut s = self.shared.lock();
                if !s.rebuild_due {
                    s.rebuilding = None;
                }
                return Err(e);
            }
        };
        // From here until the new index is installed only a rebuild gives a
        // usable index again.
        self.rebuild_due.get_or_insert(reason);
        // The old writer goes first: its merges write into the directory
        // that is about to move. Its uncommitted work is covered by the
        // snapshot, which is newer than every change applied.
        self.index = None;
        if let Some(writer) = self.writer.take() {
            if let Err(e) = writer.wait_merging_threads() {
                tracing::warn!("finishing the old index's merges: {e}");
            }
        }
        self.place.install()?;
        let (index, reader) = self.place.open_live()?;
        let writer = new_writer(&index, &self.place)?;
        let generation = inspect(reader.searcher(), &*self.db, Some(max_id))?;
        self.shared.set_reader(Some((reader, generation)));
        self.index = Some(index);
        self.writer = Some(writer);
        self.rebuild_due = None;
        self.applied = report.change;
        self.committed = report.change;
        self.max_id = max_id;
        self.committed_max_id = max_id;
        self.dirty_since = None;
        self.uncommitted_docs = 0;
        {
            let mut s = self.shared.lock();
            if s.rebuild_due && s.rebuilt_on_open.is_none() {
                s.rebuilt_on_open = Some(report.clone());
            }
            s.rebuild_due = false;
            s.rebuilding = None;
            s.failing = None;
            s.indexed = report.change;
            s.counters.rebuilds += 1;
        }
        self.shared.changed.notify_all();
        self.maybe_prune();
        tracing::info!(
            cases = report.cases,
            took_ms = report.took.as_millis() as u64,
            "the search index was rebuilt"
        );
        Ok(report)
    }

    fn serve_reindex(&mut self, mut request: ReindexRequest) -> Result<()> {
        match self.rebuild_swap(RebuildReason::Requested, &mut *request.progress) {
            Ok(report) => {
                let _ = request.reply.send(Ok(report));
                Ok(())
            }
            Err(e) => {
                let _ = request.reply.send(Err(e.clone()));
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Read-only opening: no writer, no thread, nothing written to the directory.

/// Opens the index of a store opened read-only. The on-disk index is used
/// when it belongs to this store and covers exactly the store's last
/// change; otherwise (missing, damaged, behind, foreign) a temporary index
/// is built in memory. Either way nothing is written to the directory: no
/// marker is removed, no commit is made, and tantivy's lock files are not
/// taken (a read-only store has no writer that could change the index
/// meanwhile).
pub(crate) fn open_read_only(
    store_dir: &Path,
    db: &dyn ReadableDatabase,
    opts: &Options,
    progress: &mut dyn FnMut(&IndexProgress),
) -> Result<IndexHandle> {
    let (schema, fields) = Fields::build();
    let schema_id = schema_fingerprint(&schema);
    let hook: IndexDirectoryHook =
        Arc::new(|mmap| Box::new(super::read_only::ReadOnlyDirectory::new(mmap)) as Box<dyn tantivy::Directory>);
    let place = Place {
        store_dir: store_dir.to_owned(),
        hook: Some(hook),
        schema: schema.clone(),
        schema_id,
        // A store without an id (an earlier release's) gets one only from a
        // read-write open; until then no on-disk index can prove it fits.
        store_id: read_store_id(db)?.unwrap_or_default(),
        fields,
        heap_bytes: opts.index_heap_bytes,
        merge_min_segments: opts.index_merge_min_segments,
    };
    let txn = db.begin_read().map_err(st("reading the store for the index"))?;
    let last = last_change_in(&txn)?;
    drop(txn);
    let on_disk = if place.store_id.is_empty() {
        Err(RebuildReason::Stale("the store has no id yet".into()))
    } else {
        try_open(&place, &place.live()).and_then(|(_, reader, payload)| {
            let change = payload.change;
            if change == last {
                Ok((reader, payload.max_id))
            } else {
                Err(RebuildReason::Stale(format!(
                    "the index covers change {change}, the store is at {last}"
                )))
            }
        })
    };
    let (reader, max_id, rebuilt) = match on_disk {
        Ok((reader, max_id)) => (reader, max_id, None),
        Err(reason) => {
            let index = Index::create_in_ram(schema);
            analysis::register(&index);
            let mut writer = new_writer(&index, &place)?;
            let (report, max_id) = rebuild(&mut writer, &place, db, reason, progress, &|| false)?;
            let reader = index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map_err(ix("opening the index reader"))?;
            (reader, Some(max_id), Some(report))
        }
    };
    let generation = inspect(reader.searcher(), db, max_id)?;
    let shared = Arc::new(Shared {
        fields: place.fields,
        reader: RwLock::new(None),
        published: RwLock::new(None),
        stale_filtered: AtomicU64::new(0),
        columns: Default::default(),
        state: Mutex::new(State {
            indexed: last,
            // Nothing will index later changes: a waiter for one is told.
            ended: true,
            rebuilt_on_open: rebuilt,
            ..State::default()
        }),
        changed: Condvar::new(),
    });
    shared.set_reader(Some((reader, generation)));
    // No indexer thread serves requests: a reindex is refused.
    let (control, _) = bounded(1);
    Ok(IndexHandle {
        shared,
        control,
        thread: None,
        pruner: Arc::new(Mutex::new(None)),
    })
}

fn no_index() -> StoreError {
    StoreError::index_detail("indexing", "no usable index (a rebuild is due)")
}

impl crate::Store {
    /// Where the search index stands: ready (covering which change), or
    /// being rebuilt (how far, and whether searches meanwhile answer from
    /// the previous index). Never waits.
    pub fn index_status(&self) -> IndexStatus {
        self.index.shared.status()
    }

    /// What the index's self-checks found and repaired since open.
    pub fn index_counters(&self) -> IndexCounters {
        self.index.shared.counters()
    }
}
