//! The writer thread: the only code that opens redb write transactions.
//!
//! Callers on any thread send a [`Command`] over a bounded crossbeam
//! channel and wait on their own one-shot reply channel. The writer takes
//! whatever is queued (up to `max_batch`), applies every command in one
//! transaction, commits once — durably unless every command in the batch
//! allows otherwise — and only then answers the callers (group commit).
//! A refused command is answered with its error and does not disturb the
//! rest of its batch. A failed commit *poisons* the writer: the batch's
//! callers are answered with [`StoreError::CommitFailed`] (their write may
//! or may not have reached the disk) and every later command with
//! [`StoreError::Poisoned`] (it was not written) until the store is
//! reopened. redb itself refuses every operation after an I/O error, so
//! nothing is retried on a file in an unknown state.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use std::thread::JoinHandle;

use caselog_core::Timestamp;
use crossbeam_channel::{Receiver, Sender};
use redb::Database;

use crate::error::{Result, StoreError};
use crate::metrics::WriterStage;
use crate::model::{CaseRef, Created, ImportCase, ImportOutcome, NewCase, NewFollowUp, Scope, Written};
use crate::options::{Durability, Options};
pub(crate) use crate::write::EventCommand;
use crate::write::{self, Ctx, Tables};

/// A one-shot reply channel.
pub(crate) type Reply<T> = Sender<Result<T>>;

/// A write request.
pub(crate) enum Command {
    Create {
        new: NewCase,
        reply: Reply<Created>,
    },
    Event {
        cmd: EventCommand,
        reply: Reply<Written>,
    },
    FollowUp {
        scope: Scope,
        of: CaseRef,
        new: NewFollowUp,
        reply: Reply<Created>,
    },
    Import {
        cases: Vec<ImportCase>,
        durable: bool,
        reply: Reply<Vec<Result<ImportOutcome>>>,
    },
    Timers {
        now: Timestamp,
        reply: Reply<usize>,
    },
    PruneChanges {
        upto: u64,
        reply: Reply<u64>,
    },
    /// Forces a durable commit of everything before it.
    Sync {
        reply: Reply<()>,
    },
    /// A command whose work lives in its own module (the workflow actions,
    /// the timer passes, feed consumers, read markers, erasure), run in the
    /// batch's transaction like any other.
    Job(Box<dyn Job>),
}

impl Command {
    /// Whether the command's caller must not be answered before its write
    /// is on disk.
    fn needs_durable(&self, mode: Durability) -> bool {
        match self {
            Command::Sync { .. } => true,
            Command::Import { durable, .. } => *durable,
            Command::Job(job) => job.durable() || mode == Durability::Immediate,
            _ => mode == Durability::Immediate,
        }
    }
}

/// The highest change-log sequence whose transaction has committed, for
/// the indexer and for `wait_indexed`.
#[derive(Debug, Default)]
pub(crate) struct CommitWatch {
    state: Mutex<WatchState>,
    changed: Condvar,
    /// Bulk imports in progress; the indexer then commits by document
    /// count instead of by time (many tiny segments cost merges).
    importing: AtomicUsize,
    /// Write-path counters (`Store::metrics`).
    pub(crate) counters: Arc<crate::metrics::Counters>,
}

/// Marks a bulk import in progress while it lives.
pub(crate) struct ImportGuard(Arc<CommitWatch>);

impl Drop for ImportGuard {
    fn drop(&mut self) {
        self.0.importing.fetch_sub(1, Ordering::Relaxed);
        // Wakes the indexer so its commit interval applies again.
        self.0.changed.notify_all();
    }
}

#[derive(Debug, Default)]
struct WatchState {
    committed: u64,
    closed: bool,
}

impl CommitWatch {
    /// A watch sharing `counters` with the file backend.
    pub fn with_counters(counters: Arc<crate::metrics::Counters>) -> Self {
        CommitWatch {
            counters,
            ..CommitWatch::default()
        }
    }

    pub fn publish(&self, committed: u64) {
        {
            let mut s = self.state.lock();
            s.committed = s.committed.max(committed);
        }
        self.changed.notify_all();
    }

    /// Marks a bulk import in progress until the guard is dropped.
    pub fn importing(self: &Arc<Self>) -> ImportGuard {
        self.importing.fetch_add(1, Ordering::Relaxed);
        ImportGuard(self.clone())
    }

    /// Whether a bulk import is in progress.
    pub fn is_importing(&self) -> bool {
        self.importing.load(Ordering::Relaxed) > 0
    }

    pub fn close(&self) {
        self.state.lock().closed = true;
        self.changed.notify_all();
    }

    /// The highest committed change.
    pub fn committed(&self) -> u64 {
        self.state.lock().committed
    }

    /// Waits until the committed change passes `seen` or the watch closes,
    /// at most `timeout`. Returns the committed change and whether closed.
    pub fn wait_past(&self, seen: u64, timeout: std::time::Duration) -> (u64, bool) {
        let mut s = self.state.lock();
        self.changed
            .wait_while_for(&mut s, |s| s.committed <= seen && !s.closed, timeout);
        (s.committed, s.closed)
    }
}

/// An answer held back until the batch's commit succeeded.
pub(crate) type Pending = Box<dyn FnOnce(Option<&StoreError>) + Send>;

pub(crate) fn hold<T: Send + 'static>(reply: Reply<T>, result: Result<T>) -> Pending {
    Box::new(move |commit_error| {
        let answer = match (commit_error, result) {
            (Some(e), Ok(_)) => Err(e.clone()),
            (_, r) => r,
        };
        // The caller may have given up waiting; that is not an error here.
        let _ = reply.send(answer);
    })
}

pub(crate) struct Writer {
    db: Arc<Database>,
    opts: Options,
    rx: Receiver<Command>,
    watch: Arc<CommitWatch>,
    poisoned: Option<String>,
    /// The write-ahead log, when durable writes are acknowledged on it.
    wal: Option<crate::wal::Wal>,
    /// The last batch's op buffer, kept for its capacity.
    op_buf: Vec<u8>,
}

impl Writer {
    pub fn spawn(
        db: Arc<Database>,
        opts: Options,
        rx: Receiver<Command>,
        watch: Arc<CommitWatch>,
        wal: Option<crate::wal::Wal>,
    ) -> std::io::Result<JoinHandle<Result<()>>> {
        let writer = Writer {
            db,
            opts,
            rx,
            watch,
            poisoned: None,
            wal,
            op_buf: Vec::new(),
        };
        std::thread::Builder::new()
            .name("caselog-writer".into())
            .spawn(move || writer.run())
    }

    /// Serves commands until every sender is gone. Returns why the session
    /// did not end cleanly: the failure that poisoned it, or a failed final
    /// sync (then deferred writes may be lost).
    fn run(mut self) -> Result<()> {
        // `recv` keeps returning queued commands after every sender is gone,
        // so shutdown drains and commits what was accepted.
        loop {
            // With records logged since the last checkpoint, an idle
            // writer checkpoints when the interval is up.
            let waited = std::time::Instant::now();
            let first = match self.wal.as_ref().and_then(crate::wal::Wal::until_checkpoint) {
                Some(wait) => match self.rx.recv_timeout(wait) {
                    Ok(c) => c,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        self.watch.counters.writer_time(WriterStage::Idle, waited.elapsed());
                        self.idle_checkpoint();
                        continue;
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                },
                None => match self.rx.recv() {
                    Ok(c) => c,
                    Err(_) => break,
                },
            };
            self.watch.counters.writer_time(WriterStage::Idle, waited.elapsed());
            let mut batch = vec![first];
            while batch.len() < self.opts.max_batch.max(1) {
                match self.rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            // redb may panic on a file it finds inconsistent; the writer
            // then stays alive to refuse later commands with a typed error
            // instead of leaving callers with a closed channel. Callers of
            // the panicking batch see their reply channel dropped.
            let processed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.process(batch)));
            if processed.is_err() {
                tracing::error!("the writer panicked while writing a batch; the store stops accepting writes");
                self.poisoned = Some("the writer panicked while writing a batch".into());
            }
        }
        // A final durable commit makes deferred writes durable at shutdown.
        let result = match &self.poisoned {
            Some(reason) => Err(StoreError::Poisoned(reason.clone())),
            None if self.wal.is_some() => self.close_log(),
            None if self.opts.durability == Durability::Deferred => self.sync_now(),
            None => Ok(()),
        };
        self.watch.close();
        result
    }

    fn sync_now(&self) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(|e| StoreError::storage("syncing", e))?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(|e| StoreError::storage("syncing", e))?;
        txn.commit().map_err(|e| StoreError::storage("syncing", e))
    }

    /// A checkpoint with no batch: the store file made durable up to the
    /// log's end. A failure poisons the writer like a failed commit.
    fn idle_checkpoint(&mut self) {
        if self.poisoned.is_some() {
            return;
        }
        let Some(wal) = &mut self.wal else { return };
        let started = std::time::Instant::now();
        let entry = wal.checkpoint_entry();
        match commit_meta(&self.db, |meta| {
            meta.insert(crate::wal::META_WAL, entry.as_slice()).map(drop)
        }) {
            Ok(()) => {
                wal.checkpointed();
                self.watch.counters.checkpoint();
                self.watch
                    .counters
                    .writer_time(WriterStage::Checkpoint, started.elapsed());
            }
            Err(e) => {
                tracing::error!("checkpoint failed, the store stops accepting writes: {e}");
                self.poisoned = Some(e.to_string());
            }
        }
    }

    /// The clean end of a log session: everything is in the store file,
    /// durably, and nothing is left to replay.
    fn close_log(&mut self) -> Result<()> {
        crate::fault_point("wal-close");
        commit_meta(&self.db, |meta| meta.remove(crate::wal::META_WAL).map(drop))?;
        self.watch.counters.checkpoint();
        Ok(())
    }

    fn process(&mut self, batch: Vec<Command>) {
        if let Some(reason) = &self.poisoned {
            let err = StoreError::Poisoned(reason.clone());
            for cmd in batch {
                answer_all(cmd, &err);
            }
            return;
        }
        let durable = batch.iter().any(|c| c.needs_durable(self.opts.durability));
        // `sync` asks for the store file itself to be durable; an import
        // chunk is large and is written once, to the store file, rather
        // than to the log and then the file.
        let force_checkpoint = batch
            .iter()
            .any(|c| matches!(c, Command::Sync { .. } | Command::Import { .. }));
        let commands = batch.len();
        let written_before = self.watch.counters.bytes_written();
        let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());
        let outcome = self.apply_batch(batch, durable, force_checkpoint, &mut pending);
        match outcome {
            Ok((last_change, commit_time)) => {
                let written = self.watch.counters.bytes_written().saturating_sub(written_before);
                self.watch.counters.commit(commands, durable, written, commit_time);
                // Published before anyone is answered, so a caller that
                // reads `last_change()` after its ack sees its own write.
                self.watch.publish(last_change);
                for p in pending {
                    p(None);
                }
            }
            Err(e) => {
                tracing::error!("write batch failed, the store stops accepting writes: {e}");
                let err = e.commit_failed();
                self.poisoned = Some(match &err {
                    StoreError::CommitFailed { cause, .. } => cause.clone(),
                    other => other.to_string(),
                });
                for p in pending {
                    p(Some(&err));
                }
            }
        }
    }

    /// Applies a batch in one transaction and commits it. Returns the last
    /// change-log sequence written and how long the commit took. On error nothing of the batch is kept,
    /// and every command not yet in `pending` has been answered.
    fn apply_batch(
        &mut self,
        batch: Vec<Command>,
        durable: bool,
        force_checkpoint: bool,
        pending: &mut Vec<Pending>,
    ) -> Result<(u64, std::time::Duration)> {
        let mut batch = batch.into_iter();
        // The batch's writes as the log records them (declared before the
        // transaction, which the tables borrowing it must not outlive).
        let ops: crate::wal::ops::OpLog = std::cell::RefCell::new(std::mem::take(&mut self.op_buf));
        ops.borrow_mut().clear();
        let logging = self.wal.is_some();
        // Until a command has run, a failure is answered to every caller:
        // nothing was applied.
        let refuse_all = |batch: std::vec::IntoIter<Command>, e: StoreError| {
            let err = e.commit_failed();
            for cmd in batch {
                answer_all(cmd, &err);
            }
            e
        };
        // With the log, the batch is durable once logged; the store file
        // commits without a sync unless this batch is a checkpoint.
        let mut txn = match self.begin(durable && !logging) {
            Ok(txn) => txn,
            Err(e) => return Err(refuse_all(batch, e)),
        };
        let mut t = match Tables::open_logged(&txn, logging.then_some(&ops)) {
            Ok(t) => t,
            Err(e) => return Err(refuse_all(batch, e)),
        };
        let mut ctx = match Ctx::load(&self.opts, &t) {
            Ok(ctx) => ctx,
            Err(e) => return Err(refuse_all(batch, e)),
        };
        let now = Timestamp::now();
        let applying = std::time::Instant::now();
        let mut fatal: Option<StoreError> = None;
        for cmd in batch.by_ref() {
            if let Some(e) = &fatal {
                answer_all(cmd, e);
                continue;
            }
            match apply(&mut t, &mut ctx, cmd, now) {
                Ok(p) => pending.push(p),
                Err((p, e)) => {
                    pending.push(p);
                    fatal = Some(e);
                }
            }
        }
        if let Some(e) = fatal {
            return Err(e);
        }
        ctx.save(&mut t)?;
        let last_change = ctx.next_change.saturating_sub(1);
        let entries = t.written;
        let commit_start = std::time::Instant::now();
        self.watch
            .counters
            .writer_time(WriterStage::Apply, commit_start.duration_since(applying));
        let mut checkpoint = false;
        if let Some(wal) = &mut self.wal {
            let len = ops.borrow().len();
            // A batch too large for the log, a due checkpoint or `sync`:
            // the batch commits durably to the store file and records
            // that the log before it is applied.
            checkpoint = force_checkpoint || !wal.fits(len) || wal.checkpoint_due();
            if checkpoint {
                t.meta
                    .insert(crate::wal::META_WAL, wal.checkpoint_entry().as_slice())
                    .map_err(|e| StoreError::storage("recording a checkpoint", e))?;
            } else if len > 0 {
                // Every record is synced: records after an unsynced one
                // could reach the disk while it is torn, which would read
                // as corruption before the tail.
                let written = wal.append(&ops.borrow(), true)?;
                self.watch.counters.log_append(written, true);
                self.watch
                    .counters
                    .writer_time(WriterStage::Log, commit_start.elapsed());
            }
        }
        drop(t);
        if checkpoint {
            txn.set_durability(redb::Durability::Immediate)
                .map_err(|e| StoreError::storage("recording a checkpoint", e))?;
            crate::fault_point("wal-checkpoint");
        }
        let committing = std::time::Instant::now();
        txn.commit().map_err(|e| StoreError::storage("committing", e))?;
        self.watch.counters.writer_time(
            if checkpoint {
                WriterStage::Checkpoint
            } else {
                WriterStage::Commit
            },
            committing.elapsed(),
        );
        self.watch.counters.entries(entries);
        if checkpoint {
            if let Some(wal) = &mut self.wal {
                wal.checkpointed();
                self.watch.counters.checkpoint();
            }
        }
        self.op_buf = ops.into_inner();
        Ok((last_change, commit_start.elapsed()))
    }

    fn begin(&self, durable: bool) -> Result<redb::WriteTransaction> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| StoreError::storage("starting a write", e))?;
        txn.set_durability(if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        })
        .map_err(|e| StoreError::storage("starting a write", e))?;
        Ok(txn)
    }
}

/// Commits one durable transaction that changes only `meta`.
fn commit_meta(
    db: &Database,
    change: impl FnOnce(&mut redb::Table<'_, &'static str, &'static [u8]>) -> std::result::Result<(), redb::StorageError>,
) -> Result<()> {
    let s = |e: redb::Error| StoreError::storage("checkpointing", e);
    let txn = db.begin_write().map_err(|e| s(e.into()))?;
    {
        let mut meta = txn.open_table(crate::tables::META).map_err(|e| s(e.into()))?;
        change(&mut meta).map_err(|e| s(e.into()))?;
    }
    crate::fault_point("wal-checkpoint");
    txn.commit().map_err(|e| s(e.into()))
}

/// Whether an error means the transaction itself is broken (as opposed to
/// a refused command that wrote nothing).
pub(crate) fn is_fatal(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Storage { .. } | StoreError::Corrupt { .. } | StoreError::UnknownRecordVersion { .. }
    )
}

/// Runs one command. A refused command yields its answer; a storage
/// failure yields the answer and the fatal error that aborts the batch.
fn apply(
    t: &mut Tables<'_>,
    ctx: &mut Ctx<'_>,
    cmd: Command,
    now: Timestamp,
) -> Result<Pending, (Pending, StoreError)> {
    match cmd {
        Command::Create { new, reply } => split(reply, write::create_case(t, ctx, new, None, now)),
        Command::Event { cmd, reply } => split(reply, write::apply_event(t, ctx, cmd, now)),
        Command::FollowUp { scope, of, new, reply } => split(reply, write::follow_up(t, ctx, &scope, &of, new, now)),
        Command::Import { cases, reply, .. } => {
            // A refused case is its own outcome; the first fatal error stops
            // the chunk and goes through `split` like any command's.
            let results = cases
                .into_iter()
                .map(|item| match write::import_case(t, ctx, item) {
                    Err(e) if is_fatal(&e) => Err(e),
                    r => Ok(r),
                })
                .collect();
            split(reply, results)
        }
        Command::Timers { now: at, reply } => split(reply, write::run_timers(t, ctx, at)),
        Command::PruneChanges { upto, reply } => split(
            reply,
            write::prune_changes(t, upto).and_then(|n| crate::feed::prune(t, ctx, upto).map(|_| n)),
        ),
        Command::Sync { reply } => Ok(hold(reply, Ok(()))),
        Command::Job(job) => job.run(t, ctx, now),
    }
}

/// Holds a command's answer; a storage failure also aborts the batch.
fn split<T: Send + 'static>(reply: Reply<T>, r: Result<T>) -> Result<Pending, (Pending, StoreError)> {
    match r {
        Err(e) if is_fatal(&e) => {
            let copy = e.commit_failed();
            Err((hold(reply, Err(e)), copy))
        }
        r => Ok(hold(reply, r)),
    }
}

/// Answers a command that will not run with `err`.
fn answer_all(cmd: Command, err: &StoreError) {
    fn send<T>(reply: Reply<T>, err: &StoreError) {
        // Callers that stopped waiting are not an error here.
        let _ = reply.send(Err(err.clone()));
    }
    match cmd {
        Command::Create { reply, .. } | Command::FollowUp { reply, .. } => send(reply, err),
        Command::Event { reply, .. } => send(reply, err),
        Command::Sync { reply } => send(reply, err),
        Command::PruneChanges { reply, .. } => send(reply, err),
        Command::Import { reply, .. } => send(reply, err),
        Command::Timers { reply, .. } => send(reply, err),
        Command::Job(job) => job.refuse(err),
    }
}

/// Work the writer runs inside its batch transaction, defined outside
/// this file (workflow actions, timer passes, feed, markers, erasure).
pub(crate) trait Job: Send {
    /// Runs in the batch's transaction. A refusal is answered when the
    /// batch commits; a storage failure also aborts the batch.
    fn run(
        self: Box<Self>,
        t: &mut Tables<'_>,
        ctx: &mut Ctx<'_>,
        now: Timestamp,
    ) -> Result<Pending, (Pending, StoreError)>;
    /// Answers the caller of a job that will not run.
    fn refuse(self: Box<Self>, err: &StoreError);
    /// Whether the batch must commit durably whatever the store's
    /// durability (the timer's passes: nobody waits to sync them).
    fn durable(&self) -> bool {
        false
    }
}

/// A [`Job`] made of a closure and its caller's reply channel.
pub(crate) struct FnJob<T, F> {
    pub f: F,
    pub reply: Reply<T>,
    pub durable: bool,
}

impl<T, F> Job for FnJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut Tables<'_>, &mut Ctx<'_>, Timestamp) -> Result<T> + Send,
{
    fn run(
        self: Box<Self>,
        t: &mut Tables<'_>,
        ctx: &mut Ctx<'_>,
        now: Timestamp,
    ) -> Result<Pending, (Pending, StoreError)> {
        let FnJob { f, reply, .. } = *self;
        split(reply, f(t, ctx, now))
    }

    fn refuse(self: Box<Self>, err: &StoreError) {
        // A caller that stopped waiting is not an error here.
        let _ = self.reply.send(Err(err.clone()));
    }

    fn durable(&self) -> bool {
        self.durable
    }
}

/// Makes a command of `run` for [`crate::Store::submit`]: `run` reads and
/// validates first and writes only then, like every command.
pub(crate) fn ext<T, F>(run: F) -> impl FnOnce(Reply<T>) -> Command
where
    T: Send + 'static,
    F: FnOnce(&mut Tables<'_>, &mut Ctx<'_>, Timestamp) -> Result<T> + Send + 'static,
{
    move |reply| {
        Command::Job(Box::new(FnJob {
            f: run,
            reply,
            durable: false,
        }))
    }
}
