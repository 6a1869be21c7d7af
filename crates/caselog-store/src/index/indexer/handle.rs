//! The store's handle on the indexer thread: starting it, waiting for a
//! rebuild, `reindex`, and stopping it.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender};
use redb::Database;

use crate::error::{io, Result, StoreError};
use crate::options::Options;
use crate::writer::{Command, CommitWatch};

use super::*;

/// A reindex request for the indexer thread.
pub(super) struct ReindexRequest {
    pub(super) progress: Box<dyn FnMut(&IndexProgress) + Send>,
    pub(super) reply: Sender<Result<RebuildReport>>,
}

/// The store's handle on the index: shared reader state, the indexer
/// thread, and the means to stop it.
pub(crate) struct IndexHandle {
    pub shared: Arc<Shared>,
    pub(super) control: Sender<ReindexRequest>,
    pub(super) thread: Option<JoinHandle<Result<()>>>,
    /// The writer's command channel, lent to the indexer for pruning the
    /// change log. Emptied before the writer is stopped, so the indexer
    /// never keeps the writer alive.
    pub(super) pruner: Arc<Mutex<Option<Sender<Command>>>>,
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
            first_search: Default::default(),
        });
        // Counts the generation's stale documents, if it has any.
        shared.set_reader(reader);
        // The first search should not open the columns (a failure is that
        // search's to report).
        let searcher = shared.current_reader().map(|reader| reader.searcher());
        if let Some(searcher) = &searcher {
            let _ = shared.columns.get(searcher);
        }
        // The jieba dictionary (~130 ms to load, for Chinese text) and the
        // index's file maps, off the caller's path.
        crate::index::warm::warm_in_background(searcher, shared.first_search.clone());
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
            self.shared.changed.wait_for(&mut s, PROGRESS_POLL);
        }
    }

    /// What the rebuild that open asked for did, once it is installed.
    pub fn rebuilt_on_open(&self) -> Option<RebuildReport> {
        self.shared.lock().rebuilt_on_open.clone()
    }

    /// Gives back the writer's channel; call before stopping the writer.
    pub fn release_writer(&self) {
        self.pruner.lock().take();
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
