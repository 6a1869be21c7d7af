//! The indexing loop: the indexer thread following the change log, its
//! commits, the count check and repair after each one, rebuilds and swaps,
//! and recovery from failures.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError};
use redb::{Database, ReadableDatabase};
use tantivy::{Index, IndexWriter, TantivyDocument};

use crate::error::{ix, st, Result, StoreError};
use crate::index::stale::{covered_cases, inspect};
use crate::stored::{changes_after, full_thread, load_case};
use crate::tables;
use crate::writer::{Command, CommitWatch};

use super::*;

/// What the indexer does once, before following the change log.
pub(super) struct Startup {
    /// Whether the last session ended cleanly.
    pub(super) clean: bool,
    /// Whether to look for cases indexed twice after an unclean shutdown.
    pub(super) open_check: bool,
}

/// The indexer thread's state.
pub(super) struct Indexer {
    pub(super) shared: Arc<Shared>,
    /// `None` only while there is no usable index (a rebuild is due).
    pub(super) index: Option<Index>,
    /// `None` while recovering from a failure or rebuilding.
    pub(super) writer: Option<IndexWriter>,
    pub(super) place: Place,
    pub(super) db: Arc<Database>,
    pub(super) watch: Arc<CommitWatch>,
    pub(super) requests: Receiver<ReindexRequest>,
    pub(super) pruner: Arc<Mutex<Option<Sender<Command>>>>,
    pub(super) commit_interval: Duration,
    pub(super) prune_every: u64,
    /// Last change applied to the writer (committed or not).
    pub(super) applied: u64,
    /// Last change committed.
    pub(super) committed: u64,
    /// The highest case id of a live document (committed or not); a case
    /// above it has no document yet. `u64::MAX` until the ids were read.
    pub(super) max_id: u64,
    /// `max_id` as of the last commit (what a failed writer falls back to).
    pub(super) committed_max_id: u64,
    /// The version the next added document gets: above every live
    /// document's (read at start), never reused (a stale document's version
    /// must stay below its case's current one).
    pub(super) next_version: u64,
    /// Changes below this were last asked to be pruned.
    pub(super) pruned: u64,
    /// When the oldest uncommitted change was applied.
    pub(super) dirty_since: Option<Instant>,
    pub(super) uncommitted_docs: usize,
    /// A rebuild that must be installed before indexing can go on.
    pub(super) rebuild_due: Option<RebuildReason>,
    /// The checks still to run at start.
    pub(super) startup: Option<Startup>,
}

/// Marks the shared state failed if the indexer thread unwinds, so waiters
/// are told instead of waiting for their timeout.
pub(super) struct EndGuard(Arc<Shared>);

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
    pub(super) fn run(mut self) -> Result<()> {
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
    pub(super) fn follow(&mut self) -> Result<()> {
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
    pub(super) fn step(&mut self) -> Result<bool> {
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
    pub(super) fn start_up(&mut self, startup: &Startup) -> Result<()> {
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
        if !startup.clean {
            // The writer collects the files the killed session left.
            self.writer_mut()?;
            self.collect_garbage();
        }
        let reader = self.shared.current_reader().ok_or_else(no_index)?;
        let LiveIds {
            seen,
            max_id,
            max_version,
        } = live_ids(&reader.searcher(), !startup.clean && startup.open_check)?;
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
    pub(super) fn recover(&mut self, first: StoreError) -> Result<()> {
        let mut error = first;
        let mut pause = RETRY_FIRST;
        loop {
            if error.store_file_failed() {
                // The store file refuses every operation until the store is
                // reopened (a failed checkpoint, a failed read): final, so
                // waiters are told at once instead of "still retrying".
                self.writer = None;
                return Err(error);
            }
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
                let mut s = self.shared.lock();
                // Woken early only by stop.
                self.shared.changed.wait_while_for(&mut s, |s| !s.stop, pause);
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
    pub(super) fn wait_for_writes(&self, slice: Duration) {
        let (_, closed) = self.watch.wait_past(self.applied, slice);
        if closed {
            // The writer has ended and the store is about to stop us; the
            // closed watch no longer blocks, so sleep instead of spinning.
            std::thread::sleep(slice);
        }
    }

    /// Applies the next batch of change-log entries to the writer.
    pub(super) fn apply_next(&mut self) -> Result<()> {
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
        let started = Instant::now();
        let mut added = 0u64;
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
                added += 1;
            }
        }
        self.watch
            .counters
            .index_applied(batch.len() as u64, added, started.elapsed());
        self.applied = batch.last().map_or(self.applied, |&(seq, _)| seq);
        self.dirty_since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Deletes every document of these cases and adds each one's current
    /// document (none for a case the store does not have).
    pub(super) fn reindex_cases(&mut self, ids: &[u64]) -> Result<()> {
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
    pub(super) fn collect_garbage(&self) {
        if let Some(writer) = self.writer.as_ref() {
            if let Err(e) = writer.garbage_collect_files().wait() {
                tracing::warn!("removing files left by an earlier session: {e}");
            }
        }
    }

    /// The writer, made on first use after a clean open: making one fills
    /// tantivy's document pipeline (megabytes of slots), which a store that
    /// is only searched never needs and which, done at open, slowed the
    /// host's first query at a million cases by a third.
    pub(super) fn writer_mut(&mut self) -> Result<&mut IndexWriter> {
        let writer = match self.writer.take() {
            Some(writer) => writer,
            None => new_writer(self.index.as_ref().ok_or_else(no_index)?, &self.place)?,
        };
        Ok(self.writer.insert(writer))
    }

    /// Commits what is applied, then checks the document count.
    pub(super) fn commit_now(&mut self) -> Result<()> {
        self.commit_unchecked()?;
        self.check_counts()
    }

    pub(super) fn commit_unchecked(&mut self) -> Result<()> {
        let change = self.applied;
        let payload = self.place.payload(change, self.max_id);
        let started = Instant::now();
        commit(self.writer_mut()?, &payload)?;
        self.after_commit(change, started)
    }

    /// Reloads, checks and publishes a commit that started at `started`.
    pub(super) fn after_commit(&mut self, change: u64, started: Instant) -> Result<()> {
        let committed = Instant::now();
        let dirty_since = self.dirty_since;
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
        // Counted before it is published, so a caller told "indexed" finds
        // the commit counted.
        let now = Instant::now();
        self.watch.counters.index_commit(
            committed - started,
            now - committed,
            dirty_since.map_or(Duration::ZERO, |t| now - t),
        );
        self.shared.publish(change);
        self.maybe_prune();
        Ok(())
    }

    /// The invariant after a commit: the live documents are exactly the
    /// cases the index covers, counted (not scanned). On a mismatch the
    /// cases concerned are found (a scan), re-indexed and committed; the
    /// mismatch is counted and logged. A mismatch that repairs do not
    /// clear leads to a rebuild.
    pub(super) fn check_counts(&mut self) -> Result<()> {
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
            let seen = live_ids(&searcher, true)?.seen;
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
    pub(super) fn cases_concerned(&self, seen: &HashMap<u64, u32>) -> Result<Vec<u64>> {
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
    pub(super) fn maybe_prune(&mut self) {
        if self.prune_every == 0 || self.committed.saturating_sub(self.pruned) < self.prune_every {
            return;
        }
        if self.shared.lock().prune_holds > 0 {
            return;
        }
        let upto = self.committed + 1;
        let guard = self.pruner.lock();
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
    pub(super) fn rebuild_swap(
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

    pub(super) fn serve_reindex(&mut self, mut request: ReindexRequest) -> Result<()> {
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
