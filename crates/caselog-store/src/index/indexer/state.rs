//! What every searcher and waiter shares with the indexer thread: the
//! searchable reader and its generation, progress and health, counters,
//! and the public status types.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use tantivy::{IndexReader, Searcher};

use crate::error::{Result, StoreError};
use crate::index::schema::Fields;
use crate::index::stale::Generation;

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

/// What every searcher and waiter shares with the indexer thread.
pub(crate) struct Shared {
    pub fields: Fields,
    /// The index's reader (the indexer reloads it); `None` while there is
    /// no usable index (a rebuild at open is running).
    pub(super) reader: RwLock<Option<IndexReader>>,
    /// What searches use: the reader's searcher as of its last reload, with
    /// its stale documents. Set after each reload once they are known, so no
    /// search sees a generation before its stale documents are.
    pub(super) published: RwLock<Option<Generation>>,
    /// Matches skipped as stale (counted by searches, without the lock).
    pub(super) stale_filtered: AtomicU64,
    /// Fast-field columns of the current searcher, for searches.
    pub columns: crate::index::search::ColumnCache,
    pub(super) state: Mutex<State>,
    pub(super) changed: Condvar,
    /// Told when a search ends; the open's warm-up waits for the first.
    pub first_search: Arc<crate::index::warm::FirstSearch>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    /// The change covered by the reader's current searchers.
    pub(super) indexed: u64,
    /// The highest change a `wait_indexed` caller waits for.
    pub(super) wanted: u64,
    /// Why the indexer stopped with an error.
    pub(super) failed: Option<String>,
    /// The failure the indexer is retrying after, until its next commit.
    pub(super) failing: Option<Failing>,
    /// Whether the store asked the indexer to finish.
    pub(super) stop: bool,
    /// Whether the indexer thread has ended.
    pub(super) ended: bool,
    /// Verifications running; the change log is not pruned meanwhile, so
    /// they can tell which cases changed after the index's change.
    pub(super) prune_holds: usize,
    /// The rebuild running, and how far it is.
    pub(super) rebuilding: Option<IndexProgress>,
    /// Whether a rebuild is due before the index can be used (open found
    /// none usable); set from open until that rebuild is installed.
    pub(super) rebuild_due: bool,
    /// What the rebuild that open asked for did, once it is installed.
    pub(super) rebuilt_on_open: Option<RebuildReport>,
    pub(super) counters: IndexCounters,
    /// Whether the indexer's start-up checks are still to finish.
    pub(super) starting: bool,
}

impl State {
    /// The indexer's failure, final or being retried, as the error for a
    /// caller doing `action`.
    pub(super) fn health(&self, action: &'static str) -> Result<()> {
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
pub(super) struct Failing {
    pub(super) cause: String,
    pub(super) attempts: u32,
    pub(super) io_kind: Option<std::io::ErrorKind>,
}

impl Failing {
    pub(super) fn error(&self) -> StoreError {
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
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    pub(super) fn publish(&self, change: u64) {
        self.lock().indexed = change;
        self.changed.notify_all();
    }

    pub(super) fn set_reader(&self, reader: Option<(IndexReader, Generation)>) {
        // A new index's searcher generations start again from the first:
        // the cached columns of the old one must not be taken for theirs.
        self.columns.clear();
        let (reader, generation) = reader.unzip();
        *self.reader.write() = reader;
        self.publish_generation(generation);
    }

    /// Makes `generation` the one searches use; counts its stale documents.
    pub(super) fn publish_generation(&self, generation: Option<Generation>) {
        if let Some(g) = generation.as_ref().filter(|g| !g.stale.is_empty()) {
            let n = g.stale.len();
            self.count(|c| {
                c.stale_generations += 1;
                c.stale_documents += n;
            });
        }
        *self.published.write() = generation;
    }

    /// Counts matches a search skipped as stale.
    pub fn count_stale_filtered(&self, n: u64) {
        if n > 0 {
            self.stale_filtered.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(super) fn current_generation(&self) -> Option<Generation> {
        self.published.read().clone()
    }

    pub(super) fn current_reader(&self) -> Option<IndexReader> {
        self.reader.read().clone()
    }

    pub(super) fn count(&self, f: impl FnOnce(&mut IndexCounters)) {
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
    pub(super) fn wait_for(&self, timeout: Duration, mut done: impl FnMut(&mut State) -> bool) -> Result<bool> {
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
            self.changed.wait_for(&mut s, deadline - now);
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
