//! The timer thread: applies the lifecycle timers by itself while the
//! store is open (SPEC: "These happen by themselves while the store is
//! open"), exactly as [`crate::Store::run_timers`] does when a host calls
//! it.
//!
//! Every `Options::timer_interval` it reads `Options::clock`, looks in a
//! read transaction whether anything is due (an idle store costs no
//! commit, no fsync), and if so sends one job to the writer: one
//! transaction, committed durably whatever the store's durability, whose
//! changes reach the change log and so the index. It never writes by
//! itself (only the writer writes).
//!
//! **Invariant:** a closed store leaves nothing running: `Store::shutdown`
//! (and drop) stops and joins this thread before the writer's channel
//! closes, so no pass is ever sent to a writer that is gone.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, RecvTimeoutError, SendTimeoutError, Sender};

use caselog_core::{LifecyclePolicy, Timestamp};

use crate::error::{st, Result, StoreError};
use crate::guard::Damage;
use crate::options::Options;
use crate::store::ReadDb;
use crate::stored::open;
use crate::tables;
use crate::writer::{Command, FnJob};

/// A running timer thread; dropping the stop sender ends it.
pub(crate) struct TimerThread {
    stop: Option<Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl TimerThread {
    /// Starts the thread; it sends its passes over `tx`.
    pub fn spawn(tx: Sender<Command>, db: Arc<ReadDb>, opts: &Options, damage: Damage) -> std::io::Result<TimerThread> {
        let interval = opts.timer_interval.unwrap_or(Duration::from_secs(60));
        let clock = opts.clock.clone();
        let lifecycle = opts.lifecycle.clone();
        let retention = opts.retention.clone();
        let (stop, stopped) = bounded::<()>(1);
        let handle = std::thread::Builder::new()
            .name("caselog-timer".into())
            .spawn(move || loop {
                // A message or a dropped sender both mean stop.
                match stopped.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                // A handle that has seen damage writes nothing more.
                if damage.refuse_writes().is_err() {
                    return;
                }
                let now = clock.now();
                // Retention first: a case erased now needs no timer.
                if !retention.is_empty() {
                    match damage.guard("finding cases past retention", || {
                        crate::retention::due_cases(&*db, &retention, now)
                    }) {
                        Ok(due) if due.is_empty() => {}
                        Ok(due) => {
                            let ids: Vec<_> = due.iter().map(|d| d.0).collect();
                            for chunk in ids.chunks(crate::retention::ERASE_CHUNK) {
                                let chunk = chunk.to_vec();
                                let erase =
                                    move |t: &mut crate::write::Tables<'_>, ctx: &mut crate::write::Ctx<'_>, now| {
                                        crate::erase::erase_ids(t, ctx, chunk, now).map(|e| e.iter().flatten().count())
                                    };
                                if !pass(&tx, interval, now, erase) {
                                    return;
                                }
                            }
                        }
                        Err(e) => tracing::error!("retention check failed: {e}"),
                    }
                }
                match damage.guard("checking the timers", || anything_due(&*db, &lifecycle, now)) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(e) => {
                        tracing::error!("timer check failed, the timer stops: {e}");
                        return;
                    }
                }
                let timers = move |t: &mut crate::write::Tables<'_>, ctx: &mut crate::write::Ctx<'_>, _| {
                    crate::write::run_timers(t, ctx, now)
                };
                if !pass(&tx, interval, now, timers) {
                    return;
                }
            })?;
        Ok(TimerThread {
            stop: Some(stop),
            handle: Some(handle),
        })
    }

    /// Stops the thread and waits for it (a pass in flight finishes).
    pub fn stop(&mut self) {
        self.stop.take();
        if let Some(handle) = self.handle.take() {
            if handle.join().is_err() {
                tracing::error!("the timer thread panicked");
            }
        }
    }
}

impl Drop for TimerThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One durable pass of `f` (the lifecycle timers, or a chunk of retention
/// erasures). Returns false when the writer can take no more writes (gone,
/// poisoned or refusing), which ends the thread.
fn pass<F>(tx: &Sender<Command>, interval: Duration, now: Timestamp, f: F) -> bool
where
    F: FnOnce(&mut crate::write::Tables<'_>, &mut crate::write::Ctx<'_>, Timestamp) -> Result<usize> + Send + 'static,
{
    let (reply, answer) = bounded(1);
    let job = FnJob {
        f,
        reply,
        durable: true,
    };
    match tx.send_timeout(Command::Job(Box::new(job)), interval) {
        Ok(()) => {}
        // A busy writer: this pass is skipped, the next one catches up.
        Err(SendTimeoutError::Timeout(_)) => return true,
        Err(SendTimeoutError::Disconnected(_)) => return false,
    }
    match answer.recv() {
        Ok(Ok(changed)) => {
            if changed > 0 {
                tracing::debug!("timer pass at {now}: {changed} cases changed");
            }
            true
        }
        Ok(Err(e @ (StoreError::Poisoned(_) | StoreError::CommitFailed { .. }))) => {
            tracing::error!("timer pass failed, the timer stops: {e}");
            false
        }
        Ok(Err(e)) => {
            tracing::error!("timer pass at {now} failed: {e}");
            true
        }
        Err(_) => false,
    }
}

/// Whether a timer pass as of `now` would change anything, read in its own
/// read transaction by the same rule the pass applies.
fn anything_due(db: &ReadDb, lifecycle: &LifecyclePolicy, now: Timestamp) -> Result<bool> {
    let txn = db.begin_read().map_err(st("checking the timers"))?;
    let attention = open(&txn, tables::ATTENTION)?;
    let by_status = open(&txn, tables::BY_STATUS)?;
    let cases = open(&txn, tables::CASES)?;
    Ok(!crate::write::due_timers(&attention, &by_status, &cases, lifecycle, now)?.is_empty())
}
