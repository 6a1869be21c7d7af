//! Fault injection: the store driven through failing storage.
//!
//! Three instruments, all plugged in through [`Store::open_with`]:
//! - [`FaultyBackend`] wraps redb's `FileBackend` and fails the Nth read,
//!   write, `sync_data` or `set_len` from the moment it is armed, with a
//!   full disk (`StorageFull`) or an I/O error (EIO);
//! - [`PowerLossBackend`] keeps the synced image apart from unsynced
//!   writes, so a test can cut the power at any I/O operation (inside group
//!   commits, inside import chunks) and reopen only what was synced;
//! - [`FaultyDirectory`] wraps the index's `MmapDirectory` and fails a
//!   segment write, `meta.json`'s atomic write or a sync.
//!
//! Each property test runs many seeded iterations of a concurrent workload
//! (creates, replies, events, an import) with one fault at a random point,
//! then reopens and checks that every acknowledged write is there and whole,
//! that nothing half-written is visible, and that `verify` is clean.
//! A failing iteration names its seed: rerun it alone with
//! `FAULT_SEED=<seed> FAULT_ITERS=1`.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{self, ErrorKind, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use caselog_core::*;
use caselog_store::*;
use common::*;
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, TerminatingWrite, WatchCallback, WatchHandle, WritePtr,
};

// ---------------------------------------------------------------------------
// Seeds and iterations
// ---------------------------------------------------------------------------

/// Longest one iteration may take before it is reported as a hang.
const HANG_GUARD: Duration = Duration::from_secs(180);

/// Runs `body` once per seed. A panic or a hang names the seed.
fn run_seeds(name: &str, default_iters: u64, default_seed: u64, body: impl Fn(u64) + Send + Sync + 'static) {
    let iters = env_u64("FAULT_ITERS").unwrap_or(default_iters);
    let first = env_u64("FAULT_SEED").unwrap_or(default_seed);
    let body = Arc::new(body);
    for seed in first..first + iters {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let run = body.clone();
        let worker = std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(seed)));
            let _ = done_tx.send(outcome.is_ok());
        });
        match done_rx.recv_timeout(HANG_GUARD) {
            Ok(true) => {
                let _ = worker.join();
            }
            Ok(false) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{name}: failed with seed {seed}; rerun with FAULT_SEED={seed} FAULT_ITERS=1")
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("{name}: hung with seed {seed}; rerun with FAULT_SEED={seed} FAULT_ITERS=1")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Fault plans shared by the instruments
// ---------------------------------------------------------------------------

/// An I/O operation an instrument can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// redb `read`.
    Read,
    /// redb `write`.
    Write,
    /// redb `sync_data`.
    Sync,
    /// redb `set_len`.
    SetLen,
    /// Opening an index file for writing, or writing into it.
    IxWrite,
    /// tantivy's atomic write (`meta.json`, `.managed.json`).
    IxAtomicWrite,
    /// Syncing an index file (when it is finished) or the index directory.
    IxSync,
}

const OPS: usize = 7;

#[derive(Debug)]
struct Armed {
    op: Op,
    remaining: u64,
    kind: ErrorKind,
    /// Once fired, every later operation of the kind fails too (a disk
    /// that stays full) until healed.
    sticky: bool,
}

#[derive(Debug, Default)]
struct FaultState {
    counts: [u64; OPS],
    armed: Option<Armed>,
    fired: Option<(Op, ErrorKind)>,
    /// Failures injected so far.
    failures: u64,
}

/// The shared handle a test holds to steer an instrument.
#[derive(Debug, Clone, Default)]
struct Faults(Arc<Mutex<FaultState>>);

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails the `n`th (`n >= 1`) operation `op` from now with `kind`.
    fn fail_nth(&self, op: Op, n: u64, kind: ErrorKind, sticky: bool) {
        self.lock().armed = Some(Armed {
            op,
            remaining: n.max(1),
            kind,
            sticky,
        });
    }

    /// Stops failing (the disk has room again).
    fn heal(&self) {
        self.lock().armed = None;
    }

    fn fired(&self) -> Option<(Op, ErrorKind)> {
        self.lock().fired
    }

    fn count(&self, op: Op) -> u64 {
        self.lock().counts[op as usize]
    }

    /// Counts one `op` and fails it if its turn has come.
    fn check(&self, op: Op) -> io::Result<()> {
        let mut s = self.lock();
        s.counts[op as usize] += 1;
        let Some(armed) = s.armed.as_mut() else {
            return Ok(());
        };
        if armed.op != op {
            return Ok(());
        }
        if armed.remaining > 1 {
            armed.remaining -= 1;
            return Ok(());
        }
        let kind = armed.kind;
        if !armed.sticky {
            s.armed = None;
        }
        s.fired = Some((op, kind));
        s.failures += 1;
        Err(io::Error::new(kind, format!("injected {op:?} failure")))
    }
}

fn injected_kind(rng: &mut Rng) -> ErrorKind {
    if rng.chance(50) {
        ErrorKind::StorageFull
    } else {
        // What EIO reads as.
        io::Error::from_raw_os_error(5).kind()
    }
}

// ---------------------------------------------------------------------------
// FaultyBackend: redb's file backend failing a chosen operation
// ---------------------------------------------------------------------------

/// redb's `FileBackend` with injectable failures.
#[derive(Debug)]
struct FaultyBackend {
    inner: FileBackend,
    faults: Faults,
}

impl FaultyBackend {
    fn open(path: &Path, faults: Faults) -> FaultyBackend {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .unwrap();
        FaultyBackend {
            inner: FileBackend::new(file).unwrap(),
            faults,
        }
    }
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.faults.check(Op::Read)?;
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.faults.check(Op::SetLen)?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.faults.check(Op::Sync)?;
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.faults.check(Op::Write)?;
        self.inner.write(offset, data)
    }
    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

// ---------------------------------------------------------------------------
// PowerLossBackend: what survives a power cut is what was synced
// ---------------------------------------------------------------------------

#[derive(Debug)]
enum Unsynced {
    Write(u64, Vec<u8>),
    SetLen(u64),
}

#[derive(Debug, Default)]
struct Disk {
    /// What reads see: every write so far.
    current: Vec<u8>,
    /// What a power cut leaves: the state at the last `sync_data`.
    durable: Vec<u8>,
    /// Writes and resizes since the last `sync_data`, in order.
    unsynced: Vec<Unsynced>,
    /// Mutating operations and syncs so far.
    ops: u64,
    /// The operation number at which the power goes.
    cut_at: Option<u64>,
    /// The power is off: every operation fails.
    dead: bool,
    /// At the cut, keep a random subset of the unsynced writes (a disk that
    /// reorders and loses writes) instead of none.
    torn: Option<u64>,
}

fn apply(image: &mut Vec<u8>, op: &Unsynced) {
    match op {
        Unsynced::Write(offset, data) => {
            let start = *offset as usize;
            if image.len() < start + data.len() {
                image.resize(start + data.len(), 0);
            }
            image[start..start + data.len()].copy_from_slice(data);
        }
        Unsynced::SetLen(len) => image.resize(*len as usize, 0),
    }
}

impl Disk {
    fn power_off(&mut self) {
        if self.dead {
            return;
        }
        self.dead = true;
        if let Some(seed) = self.torn {
            let mut rng = Rng(seed);
            for op in std::mem::take(&mut self.unsynced) {
                if matches!(op, Unsynced::SetLen(_)) || rng.chance(50) {
                    apply(&mut self.durable, &op);
                }
            }
        }
    }

    /// Counts a mutating operation; the power may go right now, before it
    /// takes effect.
    fn tick(&mut self) -> io::Result<()> {
        if !self.dead {
            self.ops += 1;
            if self.cut_at.is_some_and(|n| self.ops >= n) {
                self.power_off();
            }
        }
        if self.dead {
            return Err(io::Error::from_raw_os_error(5));
        }
        Ok(())
    }
}

/// The test's handle on a [`PowerLossBackend`].
#[derive(Debug, Clone, Default)]
struct Power(Arc<Mutex<Disk>>);

impl Power {
    fn lock(&self) -> MutexGuard<'_, Disk> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Cuts the power at the `n`th mutating operation or sync from now.
    fn cut_after(&self, n: u64, torn: Option<u64>) {
        let mut d = self.lock();
        d.cut_at = Some(d.ops + n.max(1));
        d.torn = torn;
    }
    fn cut_now(&self) {
        self.lock().power_off();
    }
    fn ops(&self) -> u64 {
        self.lock().ops
    }
    fn durable_image(&self) -> Vec<u8> {
        self.lock().durable.clone()
    }
}

/// An in-memory disk that loses unsynced writes when the power goes.
#[derive(Debug)]
struct PowerLossBackend(Power);

impl StorageBackend for PowerLossBackend {
    fn len(&self) -> io::Result<u64> {
        let d = self.0.lock();
        if d.dead {
            return Err(io::Error::from_raw_os_error(5));
        }
        Ok(d.current.len() as u64)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let d = self.0.lock();
        if d.dead {
            return Err(io::Error::from_raw_os_error(5));
        }
        let start = offset as usize;
        let src = d
            .current
            .get(start..start + out.len())
            .ok_or_else(|| io::Error::new(ErrorKind::UnexpectedEof, "read past the end"))?;
        out.copy_from_slice(src);
        Ok(())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut d = self.0.lock();
        d.tick()?;
        let op = Unsynced::SetLen(len);
        apply(&mut d.current, &op);
        d.unsynced.push(op);
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        let mut d = self.0.lock();
        d.tick()?;
        let Disk { durable, unsynced, .. } = &mut *d;
        for op in unsynced.drain(..) {
            apply(durable, &op);
        }
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut d = self.0.lock();
        d.tick()?;
        if offset as usize + data.len() > d.current.len() {
            return Err(io::Error::new(ErrorKind::InvalidInput, "write past the end"));
        }
        let op = Unsynced::Write(offset, data.to_vec());
        apply(&mut d.current, &op);
        d.unsynced.push(op);
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// FaultyDirectory: the index directory failing a chosen operation
// ---------------------------------------------------------------------------

/// Wraps the index's directory; fails writes, atomic writes or syncs.
#[derive(Debug, Clone)]
struct FaultyDirectory {
    inner: Box<dyn Directory>,
    faults: Faults,
}

/// A file being written through a [`FaultyDirectory`].
struct FaultyWrite {
    inner: WritePtr,
    faults: Faults,
}

impl Write for FaultyWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.faults.check(Op::IxWrite)?;
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl TerminatingWrite for FaultyWrite {
    fn terminate_ref(&mut self, token: AntiCallToken) -> io::Result<()> {
        // Finishing a file flushes and syncs it.
        self.faults.check(Op::IxSync)?;
        self.inner.terminate_ref(token)
    }
}

impl Directory for FaultyDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }
    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }
    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }
    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.faults
            .check(Op::IxWrite)
            .map_err(|e| OpenWriteError::wrap_io_error(e, path.to_owned()))?;
        let inner = self.inner.open_write(path)?;
        Ok(io::BufWriter::new(Box::new(FaultyWrite {
            inner,
            faults: self.faults.clone(),
        })))
    }
    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.faults.check(Op::IxAtomicWrite)?;
        self.inner.atomic_write(path, data)
    }
    fn sync_directory(&self) -> io::Result<()> {
        self.faults.check(Op::IxSync)?;
        self.inner.sync_directory()
    }
    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }
    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(callback)
    }
}

fn faulty_index(faults: &Faults) -> IndexDirectoryHook {
    let faults = faults.clone();
    Arc::new(move |mmap| {
        Box::new(FaultyDirectory {
            inner: mmap,
            faults: faults.clone(),
        }) as Box<dyn Directory>
    })
}

// ---------------------------------------------------------------------------
// The workload and its ledger
// ---------------------------------------------------------------------------

/// An acknowledged write.
#[derive(Debug, Clone)]
enum Ack {
    Created {
        number: CaseNumber,
        title: String,
    },
    Entry {
        number: CaseNumber,
        entry: u32,
        body: String,
    },
    Imported {
        number: CaseNumber,
    },
}

/// What the workload attempted and what was acknowledged.
#[derive(Default)]
struct Ledger {
    /// Acknowledged writes with their acknowledgement order.
    acks: Mutex<Vec<(u64, Ack)>>,
    order: AtomicU64,
    /// Every acknowledgement numbered below this was followed by a
    /// successful `sync`.
    synced_below: AtomicU64,
    /// title -> description of every case whose creation was attempted.
    titles: Mutex<HashMap<String, String>>,
    /// Every message body attempted.
    bodies: Mutex<HashSet<String>>,
    /// number -> (title, bodies) of every imported case attempted.
    imports: Mutex<HashMap<String, (String, Vec<String>)>>,
    /// Errors answered to writes.
    errors: Mutex<Vec<String>>,
    /// Typed errors of the kinds a failing store may answer, counted.
    commit_failed_kinds: Mutex<Vec<Option<ErrorKind>>>,
}

impl Ledger {
    fn ack(&self, ack: Ack) {
        let n = self.order.fetch_add(1, Ordering::SeqCst);
        self.acks.lock().unwrap().push((n, ack));
    }

    /// Creates a case titled `title` (described as "Description of
    /// `title`"), recorded as attempted first and acknowledged if written.
    fn create(&self, store: &Store, title: &str) -> Result<Created, StoreError> {
        self.titles
            .lock()
            .unwrap()
            .insert(title.into(), format!("Description of {title}"));
        let created = one_case(store, title)?;
        self.ack(Ack::Created {
            number: created.number.clone(),
            title: title.into(),
        });
        Ok(created)
    }

    /// Records a write's error; returns whether it is one a failing store
    /// may give (anything else fails the test).
    fn error(&self, e: &StoreError) {
        if let StoreError::CommitFailed { io_kind, .. } = e {
            self.commit_failed_kinds.lock().unwrap().push(*io_kind);
        }
        self.errors.lock().unwrap().push(format!("{e:?}"));
    }

    fn sync(&self, store: &Store) -> bool {
        let before = self.order.load(Ordering::SeqCst);
        match store.sync() {
            Ok(()) => {
                self.synced_below.fetch_max(before, Ordering::SeqCst);
                true
            }
            Err(e) => {
                assert_failing_store_error(&e);
                self.error(&e);
                false
            }
        }
    }
}

/// The errors a write may get from a store whose disk failed.
fn assert_failing_store_error(e: &StoreError) {
    assert!(
        matches!(
            e,
            StoreError::CommitFailed { .. } | StoreError::Poisoned(_) | StoreError::Storage { .. }
        ),
        "unexpected error from a failing store: {e:?}"
    );
}

#[derive(Clone, Copy)]
struct Workload {
    workers: usize,
    ops_per_worker: usize,
    imports: usize,
    /// Workers call `sync` now and then (for deferred durability).
    syncs: bool,
}

const WORKLOAD: Workload = Workload {
    workers: 3,
    ops_per_worker: 12,
    imports: 10,
    syncs: false,
};

fn import_case(number: &str, title: &str, bodies: &[String]) -> ImportCase {
    let t = ts("2025-05-01T00:00:00Z");
    let mut state = CaseState::new(t);
    state.status = Status::Resolved;
    ImportCase {
        case: Case {
            id: CaseId(0),
            number: CaseNumber::parse_imported(number).unwrap(),
            tenant: tenant("seller-imp"),
            created_by: user("ops@example.com"),
            assignee: None,
            handler: None,
            marketplace: Marketplace::parse("de").unwrap(),
            language: LanguageTag::parse("en").unwrap(),
            category: Category::Tax,
            title: title.to_owned(),
            refs: References::default(),
            state,
            complex: false,
            tier: PerformanceTier::Standard,
            links: CaseLinks::default(),
            entries: 0,
            imported: false,
        },
        thread: bodies
            .iter()
            .map(|b| ThreadEntry {
                at: t,
                actor: seller("ops@example.com"),
                change: None,
                body: b.clone(),
                attachments: vec![],
            })
            .collect(),
    }
}

/// One worker: creates cases for its tenant, replies to them, picks them
/// up and resolves them; stops at the first error (the store is failing).
fn worker(store: &Store, ledger: &Ledger, seed: u64, w: usize, work: Workload) {
    let mut rng = Rng(seed ^ (w as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let tenant_id = format!("seller-{w}");
    let scope = Scope::Tenant(tenant(&tenant_id));
    let mut own: Vec<(CaseNumber, Status)> = Vec::new();
    for i in 0..work.ops_per_worker {
        if work.syncs && rng.chance(15) && !ledger.sync(store) {
            return;
        }
        let roll = rng.below(100);
        let result: Result<(), StoreError> = if own.is_empty() || roll < 40 {
            let title = format!("Case s{seed} w{w} n{i} about a delayed refund");
            let description = format!("Description s{seed} w{w} n{i}: the refund never arrived");
            ledger.titles.lock().unwrap().insert(title.clone(), description.clone());
            let mut new = new_case(&tenant_id, "ann", Category::Payments, &title, None);
            new.description = description;
            store.create_case(new).map(|c| {
                own.push((c.number.clone(), Status::Open));
                ledger.ack(Ack::Created {
                    number: c.number,
                    title,
                });
            })
        } else {
            let k = rng.below(own.len() as u64) as usize;
            let (number, status) = own[k].clone();
            let case = CaseRef::Number(number.clone());
            let body = format!("Message s{seed} w{w} n{i}");
            ledger.bodies.lock().unwrap().insert(body.clone());
            let agent_ = user("agent-7");
            let written = match (roll % 3, status) {
                (0, Status::Open) => store.apply_event(
                    &Scope::AllTenants,
                    &case,
                    Actor::Support(agent_),
                    CaseEvent::PickUp,
                    &body,
                    None,
                ),
                (1, Status::InProgress) => store.apply_event(
                    &Scope::AllTenants,
                    &case,
                    Actor::Support(agent_),
                    CaseEvent::Resolve,
                    &body,
                    None,
                ),
                _ => store.reply(&scope, &case, NewMessage::new(agent("agent-7"), body.clone())),
            };
            written.map(|wr| {
                own[k].1 = wr.status;
                ledger.ack(Ack::Entry {
                    number,
                    entry: wr.entry,
                    body,
                });
            })
        };
        if let Err(e) = result {
            assert_failing_store_error(&e);
            ledger.error(&e);
            return;
        }
    }
}

/// The import thread: archived cases in small chunks.
fn importer(store: &Store, ledger: &Ledger, seed: u64, work: Workload) {
    let mut cases = Vec::new();
    for k in 0..work.imports {
        let number = format!("IMP-{seed}-{k}");
        let title = format!("Archived s{seed} k{k}");
        let bodies: Vec<String> = (0..3).map(|m| format!("Archived message s{seed} k{k} m{m}")).collect();
        ledger
            .imports
            .lock()
            .unwrap()
            .insert(number.clone(), (title.clone(), bodies.clone()));
        cases.push(import_case(&number, &title, &bodies));
    }
    match store.import(cases) {
        Ok(outcomes) => {
            for (k, outcome) in outcomes.into_iter().enumerate() {
                assert!(
                    matches!(outcome, Ok(ImportOutcome::Imported { .. })),
                    "import {k}: {outcome:?}"
                );
                ledger.ack(Ack::Imported {
                    number: CaseNumber::parse_imported(&format!("IMP-{seed}-{k}")).unwrap(),
                });
            }
        }
        Err(e) => {
            assert_failing_store_error(&e);
            ledger.error(&e);
        }
    }
}

/// Runs the workers and the importer concurrently on `store`.
fn run_workload(store: &Store, ledger: &Ledger, seed: u64, work: Workload) {
    std::thread::scope(|s| {
        for w in 0..work.workers {
            s.spawn(move || worker(store, ledger, seed, w, work));
        }
        if work.imports > 0 {
            s.spawn(move || importer(store, ledger, seed, work));
        }
    });
}

/// Checks a reopened store: every guaranteed acknowledgement is there and
/// whole, every case is one the workload attempted and is whole (its thread
/// has exactly `entries` entries, each attempted; an imported case has its
/// whole thread), and `verify` is clean.
fn check_store(store: &Store, ledger: &Ledger, guaranteed: impl Fn(u64, &Ack) -> bool) {
    let all = Scope::AllTenants;
    for (order, ack) in ledger.acks.lock().unwrap().iter() {
        if !guaranteed(*order, ack) {
            continue;
        }
        match ack {
            Ack::Created { number, title } => {
                let case = store
                    .case(&all, &CaseRef::Number(number.clone()))
                    .unwrap()
                    .unwrap_or_else(|| panic!("acknowledged case {number} is missing"));
                assert_eq!(&case.title, title);
            }
            Ack::Entry { number, entry, body } => {
                let thread = store.full_thread(&all, &CaseRef::Number(number.clone())).unwrap();
                let found = thread
                    .get(*entry as usize)
                    .unwrap_or_else(|| panic!("acknowledged entry {entry} of case {number} is missing"));
                assert_eq!(&found.body, body, "entry {entry} of case {number}");
            }
            Ack::Imported { number } => {
                assert!(
                    store.case(&all, &CaseRef::Number(number.clone())).unwrap().is_some(),
                    "acknowledged import {number} is missing"
                );
            }
        }
    }
    let titles = ledger.titles.lock().unwrap();
    let bodies = ledger.bodies.lock().unwrap();
    let imports = ledger.imports.lock().unwrap();
    for id in store.case_ids().unwrap() {
        let case = store.case(&all, &CaseRef::Id(CaseId(id))).unwrap().unwrap();
        let thread = store.full_thread(&all, &CaseRef::Id(CaseId(id))).unwrap();
        assert_eq!(thread.len(), case.entries as usize, "case {} is not whole", case.number);
        if case.imported {
            let (title, expected) = imports
                .get(case.number.as_str())
                .unwrap_or_else(|| panic!("imported case {} was never attempted", case.number));
            assert_eq!(&case.title, title);
            let got: Vec<&String> = thread.iter().map(|e| &e.body).collect();
            assert_eq!(
                got,
                expected.iter().collect::<Vec<_>>(),
                "imported case {}",
                case.number
            );
            continue;
        }
        let description = titles
            .get(&case.title)
            .unwrap_or_else(|| panic!("case {} ({}) was never attempted", case.number, case.title));
        assert_eq!(&thread[0].body, description, "case {}", case.number);
        for e in &thread[1..] {
            assert!(
                bodies.contains(&e.body),
                "case {}: unknown entry {:?}",
                case.number,
                e.body
            );
        }
    }
    let report = store.verify().unwrap();
    assert!(report.is_consistent(), "verify: {report:?}");
}

/// Options for the fault tests: small, quick to open, import in chunks.
fn fault_options(durability: Durability) -> Options {
    Options {
        durability,
        cache_bytes: 4 * 1024 * 1024,
        index_heap_bytes: 15_000_000,
        import_chunk: 3,
        import_durable_every: 2,
        index_commit_interval: Duration::from_millis(10),
        // Checkpoints and laps of the log's ring within one workload.
        wal_bytes: 256 * 1024,
        checkpoint_interval: Duration::from_millis(20),
        ..Options::default()
    }
}

fn store_file(dir: &Path) -> PathBuf {
    dir.join(STORE_FILE)
}

/// A store whose redb file and write-ahead log go through
/// [`FaultyBackend`]s sharing one fault plan (a log write or sync counts
/// as a `Write` or `Sync` like the store file's).
fn open_faulty(dir: &Path, faults: &Faults, opts: Options) -> Result<Store, StoreError> {
    let backend = FaultyBackend::open(&store_file(dir), faults.clone());
    let log = FaultyBackend::open(&dir.join(WAL_FILE), faults.clone());
    Store::open_with(
        dir,
        opts,
        StorageHooks {
            backend: Some(Box::new(backend)),
            wal: Some(Box::new(log)),
            ..StorageHooks::default()
        },
    )
}

/// Runs the workload once without faults and counts the operations of each
/// kind it causes, so fault points can be drawn from the whole run.
fn dry_run_counts(opts: Options, workload: Workload) -> ([u64; OPS], u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let ix = Faults::default();
    let power = Power::default();
    let log_power = Power::default();
    {
        let store = Store::open_with(
            dir.path(),
            opts.clone(),
            StorageHooks {
                backend: Some(Box::new(FaultyBackend::open(&store_file(dir.path()), faults.clone()))),
                index_directory: Some(faulty_index(&ix)),
                wal: Some(Box::new(FaultyBackend::open(
                    &dir.path().join(WAL_FILE),
                    faults.clone(),
                ))),
            },
        )
        .unwrap();
        let before = snapshot(&faults, &ix);
        run_workload(&store, &Ledger::default(), 1, workload);
        assert!(store
            .wait_indexed(store.last_change(), Duration::from_secs(60))
            .unwrap());
        store.shutdown().unwrap();
        let after = snapshot(&faults, &ix);
        let mut counts = [0; OPS];
        for i in 0..OPS {
            counts[i] = after[i] - before[i];
        }
        let dir2 = tempfile::tempdir().unwrap();
        let store = Store::open_with(
            dir2.path(),
            opts,
            StorageHooks {
                backend: Some(Box::new(PowerLossBackend(power.clone()))),
                wal: Some(Box::new(PowerLossBackend(log_power.clone()))),
                ..StorageHooks::default()
            },
        )
        .unwrap();
        let before = power.ops();
        let log_before = log_power.ops();
        run_workload(&store, &Ledger::default(), 1, workload);
        let power_ops = power.ops() - before;
        let log_ops = log_power.ops() - log_before;
        store.shutdown().unwrap();
        (counts, power_ops, log_ops)
    }
}

fn snapshot(faults: &Faults, ix: &Faults) -> [u64; OPS] {
    let mut out = [0; OPS];
    for op in [Op::Read, Op::Write, Op::Sync, Op::SetLen] {
        out[op as usize] = faults.count(op);
    }
    for op in [Op::IxWrite, Op::IxAtomicWrite, Op::IxSync] {
        out[op as usize] = ix.count(op);
    }
    out
}

// ---------------------------------------------------------------------------
// Direct tests: one fault, one expected answer
// ---------------------------------------------------------------------------

fn one_case(store: &Store, title: &str) -> Result<Created, StoreError> {
    store.create_case(new_case("seller-1", "ann", Category::Orders, title, None))
}

#[test]
fn a_full_disk_in_a_commit_is_commit_failed_then_poisoned_and_reopen_keeps_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let store = open_faulty(dir.path(), &faults, fault_options(Durability::Immediate)).unwrap();
    let kept = one_case(&store, "Written before the disk filled up").unwrap();
    // The fault must meet the next write's batch, not an idle checkpoint of
    // the first case that the writer may start at any moment: checkpoint
    // now (nothing is left to checkpoint while idle), then let the interval
    // pass so that the next batch checkpoints, and its write fails.
    store.sync().unwrap();
    std::thread::sleep(fault_options(Durability::Immediate).checkpoint_interval * 3);
    faults.fail_nth(Op::Write, 1, ErrorKind::StorageFull, true);
    let failed = one_case(&store, "Written as the disk fills up").unwrap_err();
    assert!(
        matches!(
            failed,
            StoreError::CommitFailed {
                io_kind: Some(ErrorKind::StorageFull),
                ..
            }
        ),
        "{failed:?}"
    );
    assert_eq!(failed.io_kind(), Some(ErrorKind::StorageFull));
    // The writer is poisoned: later writes are refused without touching the disk.
    let refused = one_case(&store, "Written after the failure").unwrap_err();
    assert!(matches!(refused, StoreError::Poisoned(_)), "{refused:?}");
    assert!(matches!(store.sync(), Err(StoreError::Poisoned(_))));
    // Searches still answer from the index.
    store.search(&Scope::AllTenants, "", &SearchOptions::default()).unwrap();
    // Shutdown reports the poisoning rather than pretending all is well.
    assert!(matches!(store.shutdown(), Err(StoreError::Poisoned(_))));
    faults.heal();

    let store = Store::open(dir.path(), fault_options(Durability::Immediate)).unwrap();
    let scope = Scope::AllTenants;
    assert!(store.case(&scope, &CaseRef::Number(kept.number)).unwrap().is_some());
    let titles: Vec<String> = store
        .case_ids()
        .unwrap()
        .into_iter()
        .map(|id| store.case(&scope, &CaseRef::Id(CaseId(id))).unwrap().unwrap().title)
        .collect();
    assert!(!titles.iter().any(|t| t == "Written after the failure"));
    assert!(store.verify().unwrap().is_consistent());
    one_case(&store, "Written after reopening").unwrap();
    store.shutdown().unwrap();
}

#[test]
fn a_failed_sync_is_a_typed_error_with_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let store = open_faulty(dir.path(), &faults, fault_options(Durability::Immediate)).unwrap();
    let eio = io::Error::from_raw_os_error(5).kind();
    faults.fail_nth(Op::Sync, 1, eio, false);
    let failed = one_case(&store, "Synced into a failing disk").unwrap_err();
    assert!(matches!(failed, StoreError::CommitFailed { .. }), "{failed:?}");
    assert_eq!(failed.io_kind(), Some(eio));
    drop(store);
    let store = Store::open(dir.path(), fault_options(Durability::Immediate)).unwrap();
    assert!(store.verify().unwrap().is_consistent());
    store.shutdown().unwrap();
}

#[test]
fn a_read_failure_at_open_is_a_typed_error_and_the_store_opens_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let created = {
        let store = Store::open(dir.path(), fault_options(Durability::Immediate)).unwrap();
        let c = one_case(&store, "Before the read failure").unwrap();
        store.shutdown().unwrap();
        c
    };
    let faults = Faults::default();
    faults.fail_nth(Op::Read, 1, io::Error::from_raw_os_error(5).kind(), false);
    let err = open_faulty(dir.path(), &faults, fault_options(Durability::Immediate)).unwrap_err();
    assert!(matches!(err, StoreError::Storage { .. }), "{err:?}");
    let store = Store::open(dir.path(), fault_options(Durability::Immediate)).unwrap();
    assert!(store
        .case(&Scope::AllTenants, &CaseRef::Number(created.number))
        .unwrap()
        .is_some());
    store.shutdown().unwrap();
}

#[test]
fn a_store_over_an_in_memory_backend_works() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path(),
        fault_options(Durability::Immediate),
        StorageHooks {
            backend: Some(Box::new(redb::backends::InMemoryBackend::new())),
            ..StorageHooks::default()
        },
    )
    .unwrap();
    let c = one_case(&store, "Kept in memory").unwrap();
    assert!(store.wait_indexed(c.change, Duration::from_secs(60)).unwrap());
    assert_eq!(
        store
            .search(&Scope::AllTenants, "memory", &SearchOptions::default())
            .unwrap()
            .total,
        1
    );
    // No redb file is created when a backend is given.
    assert!(!store_file(dir.path()).exists());
    store.shutdown().unwrap();
}

#[test]
fn a_full_disk_under_the_index_is_reported_and_recovered_from() {
    let dir = tempfile::tempdir().unwrap();
    let ix = Faults::default();
    let store = Store::open_with(
        dir.path(),
        fault_options(Durability::Immediate),
        StorageHooks {
            index_directory: Some(faulty_index(&ix)),
            ..StorageHooks::default()
        },
    )
    .unwrap();
    let before = one_case(&store, "Indexed before the disk filled up").unwrap();
    assert!(store.wait_indexed(before.change, Duration::from_secs(60)).unwrap());
    // meta.json cannot be written: no index commit can succeed.
    ix.fail_nth(Op::IxAtomicWrite, 1, ErrorKind::StorageFull, true);
    let during = one_case(&store, "Written while the index disk is full").unwrap();
    let err = store.wait_indexed(during.change, Duration::from_secs(60)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::IndexFailing {
                io_kind: Some(ErrorKind::StorageFull),
                ..
            }
        ),
        "{err:?}"
    );
    // The store keeps acknowledging writes and search keeps answering.
    one_case(&store, "Another write while the index disk is full").unwrap();
    let hits = store
        .search(&Scope::AllTenants, "indexed", &SearchOptions::default())
        .unwrap();
    assert_eq!(hits.total, 1);
    ix.heal();
    wait_until_indexed(&store, store.last_change());
    assert_eq!(
        store
            .search(&Scope::AllTenants, "full", &SearchOptions::default())
            .unwrap()
            .total,
        2
    );
    assert!(store.verify().unwrap().is_consistent());
    store.shutdown().unwrap();
}

/// Waits for `change` to be searchable while the indexer recovers: an
/// `IndexFailing` answer means "not yet", anything else is final.
fn wait_until_indexed(store: &Store, change: u64) {
    if let Err(e) = wait_for_index_outcome(store, change) {
        panic!("waiting for the index: {e:?}");
    }
}

/// Waits for `change` to be searchable or for a final index error, through
/// `IndexFailing` answers ("still retrying"), which must end.
fn wait_for_index_outcome(store: &Store, change: u64) -> Result<(), StoreError> {
    let mut last = None;
    for _ in 0..600 {
        match store.wait_indexed(change, Duration::from_secs(60)) {
            Ok(true) => return Ok(()),
            Ok(false) => panic!("change {change} was not indexed"),
            Err(e @ StoreError::IndexFailing { .. }) => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => return Err(e),
        }
    }
    panic!("the index never recovered; last answer: {last:?}");
}

// ---------------------------------------------------------------------------
// Property tests over random fault points
// ---------------------------------------------------------------------------

/// A redb read, write, sync or resize fails at a random point of a
/// concurrent workload (inside group commits and import chunks). The
/// failing writes get typed errors, later ones are refused, nothing hangs
/// or panics, and after reopening every acknowledged write is intact and
/// whole, nothing half-written is visible, and `verify` is clean.
#[test]
fn storage_faults_at_random_points_lose_no_acknowledged_write() {
    // A page cache smaller than the file, so the workload also reads.
    let opts = Options {
        cache_bytes: 64 * 1024,
        ..fault_options(Durability::Immediate)
    };
    let (counts, _, _) = dry_run_counts(opts.clone(), WORKLOAD);
    eprintln!("operations in a fault-free run: {counts:?}");
    let stats = Arc::new(Mutex::new(HashMap::<String, u64>::new()));
    let seen = stats.clone();
    run_seeds("storage faults", 24, 0x5EED_0001, move |seed| {
        let mut rng = Rng(seed);
        let op = rng.pick(&[Op::Read, Op::Write, Op::Write, Op::Sync, Op::SetLen]);
        let n = 1 + rng.below(counts[op as usize].max(1) + 2);
        let kind = injected_kind(&mut rng);
        let dir = tempfile::tempdir().unwrap();
        let faults = Faults::default();
        let ledger = Ledger::default();
        {
            let store = open_faulty(dir.path(), &faults, opts.clone()).unwrap();
            faults.fail_nth(op, n, kind, false);
            run_workload(&store, &ledger, seed, WORKLOAD);
            let count = |key: String| *seen.lock().unwrap().entry(key).or_default() += 1;
            // Refused or not, the next writes answer with a typed error.
            let probe = ledger.create(&store, "Probe after the workload");
            // The fault may also fire in the probe itself.
            let fired = faults.fired();
            let writer_failed = !ledger.errors.lock().unwrap().is_empty() || probe.is_err();
            if let (Some((op, _)), Ok(c), false) = (fired, &probe, writer_failed) {
                // The fault fired after the probe was acknowledged. Either it
                // hurt no write (one of redb's best-effort writes: an early
                // flush of its write buffer, kept and retried at the commit)
                // and the store goes on, or it failed the store file behind
                // the writers' backs (an idle checkpoint's sync, a reader's
                // read: redb then refuses every operation until reopened)
                // and the next write and the indexer say so, finally.
                match ledger.create(&store, "Second probe after the workload") {
                    Ok(second) => {
                        wait_until_indexed(&store, second.change);
                        count(format!("absorbed {op:?}"));
                    }
                    Err(e) => {
                        assert_failing_store_error(&e);
                        // Indexed before the failure, or a final error: never
                        // "still retrying" for as long as the store lives.
                        match wait_for_index_outcome(&store, c.change) {
                            Ok(()) | Err(StoreError::Index { .. }) => {}
                            Err(e) => panic!("waiting for the index after {op:?} failed the store: {e:?}"),
                        }
                        count(format!("failed after the ack {op:?}"));
                    }
                }
            } else if let Some((fired_op, fired_kind)) = fired {
                let e = probe.expect_err(&format!(
                    "{fired_op:?} fired; errors: {:?}",
                    ledger.errors.lock().unwrap()
                ));
                assert_failing_store_error(&e);
                let again = one_case(&store, "Second probe").unwrap_err();
                assert!(matches!(again, StoreError::Poisoned(_)), "{again:?}");
                // The failure's kind reaches whoever's write it broke.
                for k in ledger.commit_failed_kinds.lock().unwrap().iter().flatten() {
                    assert_eq!(*k, fired_kind, "{fired_op:?}");
                }
                if let StoreError::CommitFailed { io_kind: Some(k), .. } = e {
                    assert_eq!(k, fired_kind);
                }
                count(format!("fired {fired_op:?}"));
            } else {
                assert!(ledger.errors.lock().unwrap().is_empty(), "{:?}", ledger.errors);
                probe.unwrap();
            }
            // Searches and reads answer (possibly with a typed error), never hang.
            let _ = store.search(&Scope::AllTenants, "refund", &SearchOptions::default());
            match store.shutdown() {
                Ok(()) => {}
                Err(e) => assert!(
                    matches!(
                        e,
                        StoreError::Poisoned(_)
                            | StoreError::Storage { .. }
                            | StoreError::Index { .. }
                            | StoreError::IndexFailing { .. }
                            | StoreError::IndexLagging { .. }
                            | StoreError::Io { .. }
                    ),
                    "shutdown: {e:?}"
                ),
            }
        }
        faults.heal();
        let store = Store::open(dir.path(), opts.clone()).unwrap();
        check_store(&store, &ledger, |_, _| true);
        one_case(&store, "Written after reopening").unwrap();
        store.shutdown().unwrap();
    });
    let stats = stats.lock().unwrap();
    // The fault points are drawn from the whole run: most iterations hit.
    // A single replayed seed may draw a point its timing never reaches.
    if env_u64("FAULT_ITERS").is_none_or(|n| n > 4) {
        assert!(stats.values().sum::<u64>() > 0, "no fault ever fired: {stats:?}");
    }
    eprintln!("storage faults fired: {stats:?}");
}

/// The power goes at a random mutating I/O operation or sync (inside group
/// commits, inside import chunks), with immediate or deferred durability;
/// only what was synced survives. Reopening the surviving image with plain
/// `Store::open` finds every write acknowledged durably (every write with
/// `Immediate`; with `Deferred`, those followed by a successful `sync`, and
/// finished imports), nothing half-written, and a clean `verify`.
#[test]
fn power_loss_at_random_points_keeps_every_durable_write() {
    power_loss_property("power loss", 0x5EED_0002, 24, false);
}

/// As above, but at the cut the disk keeps a random subset of the unsynced
/// writes (it reorders and loses writes), not none.
#[test]
fn power_loss_with_torn_unsynced_writes_keeps_every_durable_write() {
    power_loss_property("torn power loss", 0x5EED_0003, 12, true);
}

fn power_loss_property(name: &str, default_seed: u64, iters: u64, torn: bool) {
    let (_, power_ops, log_ops) = dry_run_counts(fault_options(Durability::Immediate), WORKLOAD);
    let cut_mid_run = Arc::new(AtomicU64::new(0));
    let mid_run = cut_mid_run.clone();
    run_seeds(name, iters, default_seed, move |seed| {
        let mut rng = Rng(seed);
        let durability = if rng.chance(50) {
            Durability::Immediate
        } else {
            Durability::Deferred
        };
        let opts = fault_options(durability);
        let workload = Workload {
            syncs: durability == Durability::Deferred,
            ..WORKLOAD
        };
        let dir = tempfile::tempdir().unwrap();
        let power = Power::default();
        // The write-ahead log on a disk of its own: the power goes on one
        // of the two first (inside a log append, or inside a checkpoint),
        // then on the other.
        let log_power = Power::default();
        let ledger = Ledger::default();
        {
            let store = Store::open_with(
                dir.path(),
                opts.clone(),
                StorageHooks {
                    backend: Some(Box::new(PowerLossBackend(power.clone()))),
                    wal: Some(Box::new(PowerLossBackend(log_power.clone()))),
                    ..StorageHooks::default()
                },
            )
            .unwrap();
            let first = if durability == Durability::Immediate && rng.chance(50) {
                log_power.cut_after(1 + rng.below(log_ops + 2), torn.then(|| rng.next()));
                &log_power
            } else {
                power.cut_after(1 + rng.below(power_ops + 2), torn.then(|| rng.next()));
                &power
            };
            run_workload(&store, &ledger, seed, workload);
            if first.lock().dead {
                mid_run.fetch_add(1, Ordering::SeqCst);
            }
            power.cut_now();
            log_power.cut_now();
            // The machine is off: the store must still answer and stop.
            if let Err(e) = one_case(&store, "After the power cut") {
                assert_failing_store_error(&e);
            }
            let _ = store.shutdown();
        }
        std::fs::write(store_file(dir.path()), power.durable_image()).unwrap();
        std::fs::write(dir.path().join(WAL_FILE), log_power.durable_image()).unwrap();
        let store = Store::open(dir.path(), opts).unwrap();
        let synced_below = ledger.synced_below.load(Ordering::SeqCst);
        check_store(&store, &ledger, |order, ack| match durability {
            Durability::Immediate => true,
            // An import returns only after its final durable commit.
            _ => order < synced_below || matches!(ack, Ack::Imported { .. }),
        });
        one_case(&store, "Written after the power came back").unwrap();
        store.shutdown().unwrap();
    });
    // The cut points are drawn from the whole run: most land inside it.
    let mid = cut_mid_run.load(Ordering::SeqCst);
    eprintln!("{name}: the power went during the workload in {mid} iterations");
    assert!(mid > 0);
}

/// A segment write, `meta.json`'s atomic write or a sync of the index fails
/// at a random point, once or for good (a disk that stays full). Store
/// writes keep being acknowledged, search keeps answering, a caller waiting
/// for the index is told with `IndexFailing`, the indexer recovers once the
/// fault is gone; after reopening, the index has caught up and `verify` is
/// clean.
#[test]
fn index_faults_at_random_points_are_reported_and_recovered() {
    let opts = fault_options(Durability::Deferred);
    let workload = Workload { imports: 4, ..WORKLOAD };
    let (counts, _, _) = dry_run_counts(opts.clone(), workload);
    let reported = Arc::new(AtomicU64::new(0));
    let seen = reported.clone();
    run_seeds("index faults", 16, 0x5EED_0004, move |seed| {
        let mut rng = Rng(seed);
        let op = rng.pick(&[Op::IxWrite, Op::IxAtomicWrite, Op::IxSync]);
        let n = 1 + rng.below(counts[op as usize].max(1) + 1);
        let kind = injected_kind(&mut rng);
        let sticky = rng.chance(50);
        let heal_before_shutdown = rng.chance(60);
        let dir = tempfile::tempdir().unwrap();
        let ix = Faults::default();
        let ledger = Ledger::default();
        {
            let store = Store::open_with(
                dir.path(),
                opts.clone(),
                StorageHooks {
                    index_directory: Some(faulty_index(&ix)),
                    ..StorageHooks::default()
                },
            )
            .unwrap();
            ix.fail_nth(op, n, kind, sticky);
            let done = AtomicBool::new(false);
            std::thread::scope(|s| {
                // Search keeps answering from the last index commit.
                s.spawn(|| {
                    while !done.load(Ordering::SeqCst) {
                        store
                            .search(&Scope::AllTenants, "refund", &SearchOptions::default())
                            .unwrap();
                        std::thread::sleep(Duration::from_millis(2));
                    }
                });
                run_workload(&store, &ledger, seed, workload);
                done.store(true, Ordering::SeqCst);
            });
            // Store writes are unaffected by the index.
            assert!(ledger.errors.lock().unwrap().is_empty(), "{:?}", ledger.errors);
            let last = store.last_change();
            let waited = store.wait_indexed(last, Duration::from_secs(60));
            // Sampled after the wait: the fault may fire in the commit it waits for.
            let fired = ix.fired();
            match waited {
                Ok(indexed) => assert!(indexed, "not indexed and no failure reported"),
                Err(StoreError::IndexFailing {
                    attempts,
                    io_kind,
                    cause,
                }) => {
                    assert!(fired.is_some() && attempts > 0);
                    // tantivy keeps the kind of a failed meta.json write or
                    // sync, but re-wraps some segment write failures as
                    // `Other`; never is it another kind.
                    if let (Some(got), Some((_, injected))) = (io_kind, fired) {
                        assert!(got == injected || got == ErrorKind::Other, "{got:?}: {cause}");
                    }
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => panic!("wait_indexed: {e:?}"),
            }
            if sticky && fired.is_some() {
                // While the fault lasts no document can be committed (every
                // commit of one writes, syncs and writes meta.json), but the
                // store takes the write.
                let c = ledger.create(&store, "Written while the index is failing").unwrap();
                let err = store.wait_indexed(c.change, Duration::from_secs(60)).unwrap_err();
                assert!(matches!(err, StoreError::IndexFailing { .. }), "{err:?}");
            }
            let last = store.last_change();
            if heal_before_shutdown {
                ix.heal();
                wait_until_indexed(&store, last);
                let report = store.verify().unwrap();
                assert!(report.is_consistent(), "{report:?}");
                store.shutdown().unwrap();
            } else if let Err(e) = store.shutdown() {
                // Only the index failed: the store closed with its data,
                // and says the index lags.
                assert!(matches!(e, StoreError::IndexLagging { .. }), "shutdown: {e:?}");
            }
        }
        ix.heal();
        let store = Store::open(dir.path(), opts.clone()).unwrap();
        check_store(&store, &ledger, |_, _| true);
        store.shutdown().unwrap();
    });
    eprintln!(
        "index faults reported to waiters in {} iterations",
        reported.load(Ordering::SeqCst)
    );
}
