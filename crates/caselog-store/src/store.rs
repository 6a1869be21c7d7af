//! [`Store`]: opening, the write API (through the writer thread) and
//! shutdown. Reads are in `read.rs`.

use crate::error::{io, st};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use caselog_core::{Actor, CaseEvent, CaseNumber, Timestamp, UserId};
use crossbeam_channel::{bounded, Receiver, SendTimeoutError, Sender, TrySendError};
use redb::{Database, DatabaseError, ReadableDatabase};

use crate::error::{Result, StoreError};
use crate::guard::Damage;
use crate::index::{IndexHandle, IndexProgress};
use crate::model::{CaseRef, Created, ImportCase, ImportOutcome, NewCase, NewFollowUp, NewMessage, Scope, Written};
use crate::options::{Durability, IndexDirectoryHook, Options, StorageHooks};
use crate::tables;
use crate::writer::{Command, CommitWatch, EventCommand, Reply, Writer};

/// File name of the redb database inside the store directory.
pub const STORE_FILE: &str = "cases.redb";

/// redb's page cache for a compaction or a backup, each a pass over the
/// whole file: redb's own default (1 GiB) only holds pages not read again,
/// and grew a 1M-case compaction's memory by 1.4 GiB. The store's default.
pub(crate) const ONE_PASS_CACHE_BYTES: usize = 128 * 1024 * 1024;

/// The database as reads see it: read-write ([`Database`]) or read-only
/// ([`redb::ReadOnlyDatabase`]).
pub(crate) type ReadDb = dyn ReadableDatabase + Send + Sync;

/// How long a process waits for another one creating the same new store.
const CREATION_WAIT: Duration = Duration::from_secs(30);

/// An open case store. Cheap to share between threads by reference; every
/// method takes `&self`. Reads never wait for the writer.
pub struct Store {
    pub(crate) db: Arc<ReadDb>,
    pub(crate) dir: PathBuf,
    pub(crate) opts: Options,
    pub(crate) watch: Arc<CommitWatch>,
    /// Damage the reads have seen; once set, writes are refused.
    pub(crate) damage: Damage,
    /// Opened with [`Store::open_read_only`]: no writer, no indexer.
    read_only: bool,
    tx: Option<Sender<Command>>,
    writer: Option<JoinHandle<Result<()>>>,
    pub(crate) index: IndexHandle,
    /// The lifecycle timers' thread (`Options::timer_interval`).
    timer: Option<crate::timer::TimerThread>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store in directory `dir`.
    ///
    /// A file that is not a caselog store, or one written by a newer
    /// release, is a typed error; nothing is reformatted. The search index
    /// (in `dir/index`) catches up with the store by itself; a missing,
    /// damaged or foreign one is rebuilt in the background: `open` does not
    /// wait, reads work at once, and searches answer
    /// [`StoreError::IndexRebuilding`] until the rebuilt index is installed
    /// (see [`Store::index_status`], or [`Store::open_with_progress`] to wait).
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Store> {
        Self::open_inner(dir.as_ref(), opts, StorageHooks::default())
    }

    /// [`Store::open`], then waits for a rebuild of the search index that
    /// open started (only when it was missing, unreadable, of another
    /// schema or store, or does not fit the store), calling `progress` as
    /// it goes.
    pub fn open_with_progress(
        dir: impl AsRef<Path>,
        opts: Options,
        mut progress: impl FnMut(&IndexProgress),
    ) -> Result<Store> {
        let store = Self::open_inner(dir.as_ref(), opts, StorageHooks::default())?;
        store.index.wait_rebuilt(&mut progress)?;
        Ok(store)
    }

    /// [`Store::open`] over caller-supplied storage: a redb backend instead
    /// of the file `dir/cases.redb` and/or a wrapper around the index
    /// directory `dir/index` (see [`StorageHooks`]). `dir` still holds the
    /// index. A backend that fails surfaces as typed errors exactly like a
    /// failing disk: [`StoreError::CommitFailed`] for the writes it breaks,
    /// [`StoreError::Poisoned`] for later ones.
    pub fn open_with(dir: impl AsRef<Path>, opts: Options, hooks: StorageHooks) -> Result<Store> {
        Self::open_inner(dir.as_ref(), opts, hooks)
    }

    fn open_inner(dir: &Path, opts: Options, hooks: StorageHooks) -> Result<Store> {
        let dir = dir.to_owned();
        opts.queue.validate()?;
        std::fs::create_dir_all(&dir).map_err(io("creating the store directory", &dir))?;
        let path = dir.join(STORE_FILE);
        let damage = Damage::new(&path);
        let mut builder = Database::builder();
        builder.set_cache_size(opts.cache_bytes);
        let counters = Arc::new(crate::metrics::Counters::default());
        let StorageHooks {
            backend,
            index_directory,
            wal: wal_backend,
        } = hooks;
        let (db, existed) = match backend {
            None => {
                if !path.exists() {
                    create_store_file(&builder, &path, &opts)?;
                }
                (
                    damage.guard("opening the store", || {
                        Ok(crate::metrics::open_counted(&builder, &path, counters.clone()))
                    })?,
                    true,
                )
            }
            Some(backend) => {
                let existed = backend
                    .len()
                    .map_err(|e| StoreError::storage("opening the database", redb::StorageError::Io(e)))?
                    > 0;
                (
                    builder.create_with_backend(crate::metrics::CountingBackend::new(
                        BoxedBackend(backend),
                        counters.clone(),
                    )),
                    existed,
                )
            }
        };
        let db = db.map_err(|e| open_error("opening the database", &path, e))?;
        // The log is replayed before anything else reads or writes the
        // store: until then the file may lack acknowledged writes.
        let wal_path = dir.join(crate::wal::WAL_FILE);
        let logging = opts.wal && opts.durability == Durability::Immediate;
        let wal_file = match wal_backend {
            Some(b) => Some(b),
            None if logging || wal_path.exists() => Some(crate::wal::open_file(&wal_path)?),
            None => None,
        };
        damage.guard("replaying the log", || {
            crate::wal::recover(&db, wal_file.as_deref(), &wal_path).map(drop)
        })?;
        damage.guard("checking the store header", || {
            init_or_check(&db, &path, existed, &opts)
        })?;
        let wal = match wal_file {
            Some(file) if logging => Some(damage.guard("starting the log", || {
                crate::wal::Wal::start(&db, file, &wal_path, opts.wal_bytes, opts.checkpoint_interval)
            })?),
            _ => None,
        };
        // The index is opened before the writer starts; a rebuild it needs
        // runs on the indexer thread from one store snapshot.
        let hook: Option<&IndexDirectoryHook> = index_directory.as_ref();
        let opened = damage.guard("opening the search index", || {
            crate::index::open_index(&dir, &db, &opts, hook)
        })?;
        let db = Arc::new(db);
        let watch = Arc::new(CommitWatch::with_counters(counters));
        watch.publish(damage.guard("reading counters", || last_change(&*db))?);
        let (tx, rx) = bounded(opts.channel_capacity.max(1));
        let writer = Writer::spawn(db.clone(), opts.clone(), rx, watch.clone(), wal)
            .map_err(io("starting the writer thread", &dir))?;
        let index = match IndexHandle::start(opened, db.clone(), &opts, watch.clone(), tx.clone()) {
            Ok(index) => index,
            Err(e) => {
                // Let the writer end before reporting, so the file is closed.
                drop(tx);
                let _ = writer.join();
                return Err(e);
            }
        };
        let timer = match opts.timer_interval {
            Some(_) => Some(
                crate::timer::TimerThread::spawn(tx.clone(), db.clone(), &opts, damage.clone())
                    .map_err(io("starting the timer thread", &dir))?,
            ),
            None => None,
        };
        let store = Store {
            db,
            dir,
            opts,
            watch,
            damage,
            read_only: false,
            tx: Some(tx),
            writer: Some(writer),
            index,
            timer,
        };
        // A tier change a crash interrupted re-keys the rest of its cases.
        store.finish_rekeys()?;
        // View entries of an import a crash cut short.
        store.build_pending_views()?;
        Ok(store)
    }

    /// Opens the store in directory `dir` for reading only: nothing in the
    /// directory is created, repaired or rewritten (no redb recovery, no
    /// index commit, no clean-shutdown marker), so it works on a store the
    /// process may read but not write, and leaves a damaged store exactly
    /// as it was. Every read works; every write is [`StoreError::ReadOnly`].
    ///
    /// A store that was not closed cleanly needs redb's recovery, which
    /// writes: that is [`StoreError::NeedsRecovery`]. When the search index
    /// on disk does not cover the store (missing, damaged, behind), a
    /// temporary one is built in memory from the store.
    pub fn open_read_only(dir: impl AsRef<Path>, opts: Options) -> Result<Store> {
        Self::open_read_only_with_progress(dir, opts, |_| {})
    }

    /// [`Store::open_read_only`], calling `progress` while a temporary
    /// in-memory index is built.
    pub fn open_read_only_with_progress(
        dir: impl AsRef<Path>,
        opts: Options,
        progress: impl FnMut(&IndexProgress),
    ) -> Result<Store> {
        Self::open_read_only_inner(dir.as_ref(), opts, StorageHooks::default(), progress)
    }

    /// [`Store::open_read_only`] over caller-supplied storage (see
    /// [`Store::open_with`]): the backend is opened read-only and never
    /// written; the index directory hook is not used (the read-only open
    /// reads the index directory through its own read-only wrapper).
    pub fn open_read_only_with(dir: impl AsRef<Path>, opts: Options, hooks: StorageHooks) -> Result<Store> {
        Self::open_read_only_inner(dir.as_ref(), opts, hooks, |_| {})
    }

    fn open_read_only_inner(
        dir: &Path,
        opts: Options,
        hooks: StorageHooks,
        mut progress: impl FnMut(&IndexProgress),
    ) -> Result<Store> {
        let dir = dir.to_owned();
        opts.queue.validate()?;
        let path = dir.join(STORE_FILE);
        let damage = Damage::new(&path);
        let db = damage.guard("opening the store read-only", || match hooks.backend {
            None => open_read_only_db(&path, opts.cache_bytes),
            Some(backend) => {
                let mut builder = Database::builder();
                builder.set_cache_size(opts.cache_bytes);
                builder
                    .open_read_only_with_backend(BoxedBackend(backend))
                    .map_err(|e| open_error("opening the store read-only", &path, e))
            }
        })?;
        damage.guard("checking the store header", || {
            let txn = db
                .begin_read()
                .map_err(|e| StoreError::storage("checking the store header", e))?;
            match check_header(&txn, &path)? {
                // Acknowledged writes in the log that the file lacks need
                // a replay, which writes.
                Header::Caselog if crate::wal::needs_replay(&db, &dir.join(crate::wal::WAL_FILE))? => {
                    Err(StoreError::NeedsRecovery { path: path.clone() })
                }
                Header::Caselog => Ok(()),
                // Only a creation cut short leaves a file without tables,
                // and initialising it is a write.
                Header::Empty => Err(StoreError::NeedsRecovery { path: path.clone() }),
            }
        })?;
        let db: Arc<ReadDb> = Arc::new(db);
        let mut progress = |p: &IndexProgress| crate::guard::caller(|| progress(p));
        let index = damage.guard("opening the search index", || {
            crate::index::open_index_read_only(&dir, &*db, &opts, &mut progress)
        })?;
        let watch = Arc::new(CommitWatch::default());
        watch.publish(damage.guard("reading counters", || last_change(&*db))?);
        Ok(Store {
            db,
            dir,
            opts,
            watch,
            damage,
            read_only: true,
            tx: None,
            writer: None,
            index,
            timer: None,
        })
    }

    /// Whether the store was opened with [`Store::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The first damage this handle's reads have seen, as text; once there
    /// is one, the store accepts no more writes.
    pub fn damage_seen(&self) -> Option<&str> {
        self.damage.seen()
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The highest change-log sequence committed so far.
    pub fn last_change(&self) -> u64 {
        self.watch.committed()
    }

    /// [`StoreError::ReadOnly`] (naming the file) for a handle opened with
    /// [`Store::open_read_only`], whatever the write.
    pub(crate) fn refuse_if_read_only(&self) -> Result<()> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.damage.path().to_owned(),
            });
        }
        Ok(())
    }

    /// Sends a command to the writer, waiting for room at most
    /// `submit_timeout`, and returns the receiver of its answer.
    fn send<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<Receiver<Result<T>>> {
        self.refuse_if_read_only()?;
        self.damage.refuse_writes()?;
        let tx = self.tx.as_ref().ok_or(StoreError::ShutDown)?;
        let (reply, answer) = bounded(1);
        let cmd = make(reply);
        match self.opts.submit_timeout {
            None => tx.send(cmd).map_err(|_| StoreError::ShutDown)?,
            Some(limit) => match tx.try_send(cmd) {
                Ok(()) => {}
                Err(TrySendError::Disconnected(_)) => return Err(StoreError::ShutDown),
                Err(TrySendError::Full(cmd)) => {
                    let start = Instant::now();
                    tx.send_timeout(cmd, limit).map_err(|e| match e {
                        SendTimeoutError::Timeout(_) => StoreError::Busy {
                            waited_ms: start.elapsed().as_millis() as u64,
                        },
                        SendTimeoutError::Disconnected(_) => StoreError::ShutDown,
                    })?;
                }
            },
        }
        Ok(answer)
    }

    pub(crate) fn submit<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let start = Instant::now();
        let answer = self.send(make)?.recv().map_err(|_| unanswered())?;
        self.watch.counters.ack(start.elapsed());
        answer
    }

    /// The write path's counters since the store was opened: commits,
    /// batch sizes, file traffic and acknowledgement latency.
    pub fn metrics(&self) -> crate::Metrics {
        self.watch.counters.snapshot()
    }

    /// Opens a new case for a seller. Validates it, assigns a number and
    /// applies the duplicate rule: a repeat of a recent non-final case is
    /// accepted, demoted, and reported in [`Created::duplicate_of`].
    /// Returns once the case is durable (with the default durability).
    pub fn create_case(&self, new: NewCase) -> Result<Created> {
        self.submit(|reply| Command::Create { new, reply })
    }

    /// Adds a message to a case's thread. A seller's reply may move the
    /// case (needs attention → in progress, resolved within the reopen
    /// window → in progress); a support reply never does.
    pub fn reply(&self, scope: &Scope, case: &CaseRef, msg: NewMessage) -> Result<Written> {
        let cmd = EventCommand {
            scope: scope.clone(),
            case: case.clone(),
            actor: msg.actor,
            event: CaseEvent::Reply,
            body: msg.body,
            attachments: msg.attachments,
            at: msg.at,
        };
        self.submit(|reply| Command::Event { cmd, reply })
    }

    /// Applies a lifecycle event (with an optional note) through the core
    /// transition function. A refused transition is
    /// [`StoreError::Transition`] and changes nothing.
    pub fn apply_event(
        &self,
        scope: &Scope,
        case: &CaseRef,
        actor: Actor,
        event: CaseEvent,
        note: impl Into<String>,
        at: Option<Timestamp>,
    ) -> Result<Written> {
        let cmd = EventCommand {
            scope: scope.clone(),
            case: case.clone(),
            actor,
            event,
            body: note.into(),
            attachments: Vec::new(),
            at,
        };
        self.submit(|reply| Command::Event { cmd, reply })
    }

    /// Merges a duplicate into a surviving case of the same tenant
    /// (support only). Both threads record it.
    pub fn merge(&self, case: &CaseRef, into: &CaseNumber, agent: UserId, note: impl Into<String>) -> Result<Written> {
        self.apply_event(
            &Scope::AllTenants,
            case,
            Actor::Support(agent),
            CaseEvent::MergeInto { target: into.clone() },
            note,
            None,
        )
    }

    /// Opens a follow-up to a closed case, in one atomic write: a new case
    /// with a new number that references the closed one and copies its
    /// category and references (not its messages), linked both ways. Its
    /// tenant, marketplace and language are the old case's too.
    pub fn follow_up(&self, scope: &Scope, of: &CaseRef, new: NewFollowUp) -> Result<Created> {
        self.submit(|reply| Command::FollowUp {
            scope: scope.clone(),
            of: of.clone(),
            new,
            reply,
        })
    }

    /// Imports archived cases with their status as recorded. Cases are
    /// written in chunks of `import_chunk`; while the writer commits one
    /// chunk the caller's iterator produces the next. Chunks commit
    /// non-durably except every `import_durable_every`-th and the last,
    /// so the import ends durable. Returns one outcome per case, in order:
    /// an existing number with the same content is
    /// [`ImportOutcome::Skipped`], one of another tenant or with other
    /// content is [`StoreError::ImportConflict`], an invalid case its
    /// error; none of these stops the import.
    pub fn import(&self, cases: impl IntoIterator<Item = ImportCase>) -> Result<Vec<Result<ImportOutcome>>> {
        self.import_with_progress(cases, |_| {})
    }

    /// [`Store::import`], calling `progress` with the number of cases
    /// written so far after every chunk.
    pub fn import_with_progress(
        &self,
        cases: impl IntoIterator<Item = ImportCase>,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<Result<ImportOutcome>>> {
        let chunk_size = self.opts.import_chunk.max(1);
        let every = self.opts.import_durable_every.max(1);
        let _importing = self.watch.importing();
        let mut outcomes = Vec::new();
        let mut in_flight: Option<Receiver<Result<Vec<Result<ImportOutcome>>>>> = None;
        let mut chunk = Vec::with_capacity(chunk_size);
        let mut sent = 0usize;
        let mut iter = cases.into_iter().peekable();
        loop {
            chunk.clear();
            chunk.extend(iter.by_ref().take(chunk_size));
            let last = iter.peek().is_none();
            if chunk.is_empty() && !last {
                continue;
            }
            let next = if chunk.is_empty() {
                None
            } else {
                sent += 1;
                let durable = last || sent % every == 0;
                let cases = std::mem::replace(&mut chunk, Vec::with_capacity(chunk_size));
                Some(self.send(|reply| Command::Import { cases, durable, reply })?)
            };
            // At most two chunks are in flight: one being written, one queued.
            if let Some(rx) = in_flight.take() {
                outcomes.extend(rx.recv().map_err(|_| unanswered())??);
                progress(outcomes.len());
            }
            in_flight = next;
            if last {
                break;
            }
        }
        if let Some(rx) = in_flight.take() {
            outcomes.extend(rx.recv().map_err(|_| unanswered())??);
            progress(outcomes.len());
        }
        // The imported cases' view and queue entries, sorted; an import
        // whose last chunk was empty still ends durable.
        self.build_pending_views()?;
        self.sync()?;
        Ok(outcomes)
    }

    /// Applies the system's timers as of `now` (reply deadlines, auto-close
    /// after the reopen window). Returns how many cases changed.
    pub fn run_timers(&self, now: Timestamp) -> Result<usize> {
        self.submit(|reply| Command::Timers { now, reply })
    }

    /// Makes every acknowledged write durable (useful with
    /// [`crate::Durability::Deferred`]).
    pub fn sync(&self) -> Result<()> {
        self.submit(|reply| Command::Sync { reply })
    }

    /// Prunes the change log below `upto`, as the indexer does after its
    /// commits (the feed keeps what its consumers still need). For tests
    /// that need pruning at a chosen moment: unstable, behind `internals`.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn prune_changes(&self, upto: u64) -> Result<u64> {
        self.submit(|reply| Command::PruneChanges { upto, reply })
    }

    /// Stops accepting writes, lets the writer drain and commit what was
    /// accepted, and closes the database. Errors are returned, not logged.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        // The timer sends to the writer: it ends before the channel closes.
        if let Some(mut timer) = self.timer.take() {
            timer.stop();
        }
        // Dropping the senders lets the writer finish the queue and exit;
        // the indexer lends one for pruning and gives it back here.
        self.index.release_writer();
        self.tx.take();
        let writer = match self.writer.take() {
            Some(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(StoreError::Poisoned("the writer thread panicked".into()))),
            None => Ok(()),
        };
        // Only now is the change log final: the indexer applies the rest,
        // commits and ends. Its failure loses nothing the store holds.
        let indexer = self.index.stop().map_err(|e| match e {
            StoreError::IndexLagging { .. } => e,
            other => StoreError::IndexLagging {
                io_kind: other.io_kind(),
                cause: other.to_string(),
            },
        });
        writer.and(indexer)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Best effort only; `shutdown` reports errors.
        if let Err(e) = self.stop() {
            tracing::error!("store shutdown on drop failed: {e}");
        }
    }
}

/// The answer to a command whose reply channel closed unanswered. The
/// writer answers every command it takes, even while shutting down, so this
/// only happens when it panicked in the middle of the caller's batch.
fn unanswered() -> StoreError {
    StoreError::Poisoned("the writer stopped without answering this write (it panicked)".into())
}

/// A caller's backend behind the `impl StorageBackend` redb asks for.
#[derive(Debug)]
pub(crate) struct BoxedBackend(pub(crate) Box<dyn redb::StorageBackend>);

impl redb::StorageBackend for BoxedBackend {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
    fn close(&self) -> std::io::Result<()> {
        self.0.close()
    }
    // File locking is the backend's business: forward every lock call so a
    // wrapped file backend keeps its locks.
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> std::result::Result<bool, redb::BackendError> {
        self.0.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> std::result::Result<bool, redb::BackendError> {
        self.0.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> std::result::Result<(), redb::BackendError> {
        self.0.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> std::result::Result<(), redb::BackendError> {
        self.0.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> std::result::Result<(), redb::BackendError> {
        self.0.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> std::result::Result<bool, redb::BackendError> {
        self.0.query_lock_range(start, end)
    }
}

/// Creates a new, initialised store file at `path` so that it never exists
/// half-made: redb writes its header last, so a process killed while
/// creating the file in place would leave one that no later open accepts.
/// The file is built under a temporary name, synced and renamed into place.
///
/// Exactly one process creates: creators take an exclusive lock on the
/// store directory (a lock on the directory itself, so nothing is written
/// for it), and one that finds the file made meanwhile opens it instead.
fn create_store_file(builder: &redb::Builder, path: &Path, opts: &Options) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let _creating = lock_for_creation(dir, path)?;
    if path.exists() {
        return Ok(());
    }
    let tmp = path.with_extension("redb.new");
    // A leftover from a creation cut short holds nothing acknowledged.
    if tmp.exists() {
        std::fs::remove_file(&tmp).map_err(io("removing a half-created store file", &tmp))?;
    }
    let db = builder
        .create(&tmp)
        .map_err(|e| open_error("creating the database", &tmp, e))?;
    init_or_check(&db, &tmp, false, opts)?;
    drop(db);
    crate::files::install(&tmp, path)
}

/// Writes the format marker and schema version into a new file, or checks
/// them in an existing one; creates every table so readers find them, and
/// rebuilds the queue if it was keyed under another policy (before the
/// writer starts, in the transaction every open commits anyway).
fn init_or_check(db: &Database, path: &Path, existed: bool, opts: &Options) -> Result<()> {
    let s = &st::<redb::Error>("checking the store header");
    if existed {
        let txn = db.begin_read().map_err(|e| s(e.into()))?;
        if check_header(&txn, path)? == Header::Empty {
            // A file with no tables at all was created by a process that
            // died before its first commit: initialise it.
            drop(txn);
            return init_or_check(db, path, false, opts);
        }
    }
    let txn = db.begin_write().map_err(|e| s(e.into()))?;
    // An older schema is migrated in this same transaction, so the store
    // is either still the old one or wholly the new one.
    if existed {
        let version = crate::migrate::stored_version(&txn)?;
        if version < 2 {
            let cases = crate::migrate::v1_to_v2(&txn, opts)?;
            tracing::info!("store migrated to schema 2 ({cases} cases)");
        }
        if version < 3 {
            let cases = crate::migrate::v2_to_v3(&txn, opts)?;
            tracing::info!("store migrated to schema 3 ({cases} cases)");
        }
        // Earlier releases kept each case's thread length at its last feed
        // record; the writer now tells a record's kind from the write itself.
        txn.delete_table(tables::LEGACY_FEED_SEEN).map_err(|e| s(e.into()))?;
    }
    {
        // Opening a table in a write transaction creates it.
        let mut t = crate::write::Tables::open(&txn)?;
        if !existed {
            t.meta
                .insert(tables::META_FORMAT, tables::FORMAT_MARKER)
                .map_err(|e| s(e.into()))?;
            t.meta
                .insert(tables::META_SCHEMA, tables::SCHEMA_VERSION.to_le_bytes().as_slice())
                .map_err(|e| s(e.into()))?;
        }
        if crate::workflow::rekey_queue_if_policy_changed(&mut t, opts)? {
            tracing::info!("the queue policy or key rule changed: queue rebuilt from the cases");
        }
    }
    txn.commit().map_err(|e| s(e.into()))?;
    Ok(())
}

/// What an existing file holds.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    /// A caselog store this release reads.
    Caselog,
    /// No tables at all.
    Empty,
}

/// Checks the format marker and schema version. Anything without our
/// marker belongs to someone else.
fn check_header(txn: &redb::ReadTransaction, path: &Path) -> Result<Header> {
    let s = &st::<redb::Error>("checking the store header");
    let meta = match txn.open_table(tables::META) {
        Ok(m) => m,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            let empty = txn.list_tables().map_err(|e| s(e.into()))?.next().is_none();
            if !empty {
                return Err(StoreError::ForeignFile { path: path.to_owned() });
            }
            return Ok(Header::Empty);
        }
        Err(e) => return Err(s(e.into())),
    };
    let marker = meta.get(tables::META_FORMAT).map_err(|e| s(e.into()))?;
    if marker.as_ref().map(|m| m.value()) != Some(tables::FORMAT_MARKER) {
        return Err(StoreError::ForeignFile { path: path.to_owned() });
    }
    let version = crate::migrate::schema_version(&meta)?;
    if version > tables::SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: tables::SCHEMA_VERSION,
        });
    }
    Ok(Header::Caselog)
}

/// A redb open error as the store reports it: a locked file is
/// [`StoreError::AlreadyOpen`], a file needing recovery (read-only opens
/// only) [`StoreError::NeedsRecovery`], a file that cannot be opened
/// (permissions, missing) an I/O error naming it; anything else, redb's.
pub(crate) fn open_error(action: &'static str, path: &Path, e: DatabaseError) -> StoreError {
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen { path: path.to_owned() },
        DatabaseError::RepairAborted => StoreError::NeedsRecovery { path: path.to_owned() },
        // The file could not be opened at all: say which file (a user who
        // may not write it needs its name, not only "Permission denied").
        DatabaseError::Storage(redb::StorageError::Io(source))
            if matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            StoreError::io(action, path, source)
        }
        other => StoreError::storage(action, other),
    }
}

/// Opens the store file without any write: redb's read-only mode, which
/// refuses (rather than runs) crash recovery. Needs only read permission.
pub(crate) fn open_read_only_db(path: &Path, cache_bytes: usize) -> Result<redb::ReadOnlyDatabase> {
    if !path.is_file() {
        return Err(StoreError::io(
            "opening the store read-only",
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no store file here"),
        ));
    }
    let mut builder = Database::builder();
    builder.set_cache_size(cache_bytes);
    builder
        .open_read_only(path)
        .map_err(|e| open_error("opening the store read-only", path, e))
}

/// Takes the exclusive creation lock on the store directory, waiting (at
/// most [`CREATION_WAIT`]) while another process holds it. Released when
/// the returned file closes.
fn lock_for_creation(dir: &Path, path: &Path) -> Result<std::fs::File> {
    use fs4::fs_std::FileExt;
    let handle = std::fs::File::open(dir).map_err(io("opening the store directory", dir))?;
    let deadline = Instant::now() + CREATION_WAIT;
    loop {
        if handle
            .try_lock_exclusive()
            .map_err(io("locking the store directory", dir))?
        {
            return Ok(handle);
        }
        if Instant::now() >= deadline {
            return Err(StoreError::AlreadyOpen { path: path.to_owned() });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn last_change(db: &ReadDb) -> Result<u64> {
    Ok(meta_counter(db, tables::NEXT_CHANGE)?.saturating_sub(1))
}

/// One counter of `meta` (e.g. `NEXT_CHANGE`), in its own read transaction.
pub(crate) fn meta_counter(db: &ReadDb, key: &str) -> Result<u64> {
    let txn = db
        .begin_read()
        .map_err(|e| StoreError::storage("reading counters", e))?;
    let meta = txn
        .open_table(tables::META)
        .map_err(|e| StoreError::storage("reading counters", e))?;
    crate::stored::read_counter(&meta, key)
}
