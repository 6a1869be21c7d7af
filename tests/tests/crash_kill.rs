//! Kill -9 crash test: a child process (`src/bin/crash_child.rs`) writes
//! through the public API from several threads with default (durable,
//! `Immediate`) options and prints a line after every acknowledged write;
//! this test kills it with SIGKILL at a random moment, reopens the store and
//! checks that every acknowledged write is there and whole, that nothing
//! half-written is visible, and that the index agrees with the store.
//!
//! Each scenario is one store killed [`ROUNDS`] times in a row (each kill is
//! one kill point): the rounds kill during writes (after a random number of
//! acks, so during group commits and index commits), right after spawning
//! (during open, store creation or recovery), during a bulk import, and
//! during an index rebuild at open (the index is deleted first). Half the
//! checks run on a copy of the killed store, so the next child opens the
//! crashed files itself.
//!
//! In `cargo test` 30 kill points run. The long run (1,000 kill points):
//!
//! ```sh
//! CASELOG_CRASH_POINTS=1000 cargo test --release -p caselog-tests --test crash_kill -- --ignored --nocapture
//! ```
//!
//! `CASELOG_CRASH_SEED=N` replays a run's scenarios (printed at the start and
//! on failure); `CASELOG_CRASH_SCENARIO=N` runs one scenario by its own
//! seed; `CASELOG_CRASH_JOBS=N` runs N scenarios at a time. A seed replays
//! the workload and the kill plan; where exactly the kill lands in real time
//! still varies from run to run.
//!
//! `CASELOG_CRASH_NO_OPEN_CHECK=1` turns off the open-time duplicate check
//! (in the child and at reopening), so a case indexed twice would survive
//! into the next session instead of being re-indexed at open. Either way
//! every self-check of the index that fires (the open-time check, the
//! document-count check after each index commit, in the child as it runs
//! and at reopening) is counted and reported in the summary; `verify` must
//! be clean after each of them. `CASELOG_CRASH_MERGE_MIN_SEGMENTS=2` makes
//! the child's index merge after almost every commit.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use caselog_core::{
    replay, CaseEvent, CaseNumber, LifecyclePolicy, QueryLimits, RecordedEvent, Status, TenantId, UserId,
};
use caselog_store::{
    Case, CaseRef, IndexCounters, Options, QueueQuery, Scope, SearchLimits, SearchOptions, Store, ThreadEntry,
    ViewFilter, ViewKind, ViewQuery, ViewSort,
};
use caselog_tests::crash::{
    agent_user, merge_min_segments, mix, open_check_disabled, seller_user, ChildLine, Mode, ModelCase, Op, ThreadModel,
    BULK_CHUNK, TENANTS, THREADS,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Kill points per store.
const ROUNDS: u32 = 5;

/// Longest wait for one line of the child, or for it to open: a stuck
/// child fails the test instead of hanging it.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest wait for the index to catch up after reopening.
const INDEX_WAIT: Duration = Duration::from_secs(60);

/// Tokens per OR query when checking the index.
const SEARCH_BATCH: usize = 100;

#[test]
fn acknowledged_writes_survive_kill_9_at_30_points() {
    run(30);
}

#[test]
#[ignore = "long: 1,000 kill points by default; see the command at the top of this file"]
fn acknowledged_writes_survive_kill_9_at_many_points() {
    let points = env_u64("CASELOG_CRASH_POINTS").unwrap_or(1000) as usize;
    run(points);
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

fn run(points: usize) {
    let master = env_u64("CASELOG_CRASH_SEED").unwrap_or_else(|| rand::rng().random());
    let seeds: Vec<u64> = match env_u64("CASELOG_CRASH_SCENARIO") {
        Some(one) => vec![one],
        None => (0..points.div_ceil(ROUNDS as usize) as u64)
            .map(|i| mix(&[master, i]))
            .collect(),
    };
    let jobs = env_u64("CASELOG_CRASH_JOBS").unwrap_or(1).max(1) as usize;
    eprintln!(
        "crash_kill: CASELOG_CRASH_SEED={master}, {} scenarios x {ROUNDS} kill points, {jobs} at a time, \
         open-time duplicate check {}",
        seeds.len(),
        if open_check_disabled() { "off" } else { "on" }
    );
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let totals = Mutex::new(Totals::default());
    // A failed scenario is recorded and the others still run, so a long
    // run reports every kind of failure it finds, not just the first.
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
                match std::panic::catch_unwind(AssertUnwindSafe(|| scenario(master, i, seed))) {
                    Ok(t) => totals.lock().unwrap().add(&t),
                    Err(payload) => {
                        let why = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("scenario {i} (CASELOG_CRASH_SCENARIO={seed}): {why}"));
                    }
                }
            });
        }
    });
    let t = totals.into_inner().unwrap();
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "crash_kill: {} kill points passed in {:.1?}: {} acked writes checked; in-flight writes found whole {} times, \
         absent {} times; {} kills before the store opened, {} index rebuilds cut short; index self-checks fired: \
         open-time duplicates {} (child {}), count mismatches {} (child {}), searcher generations with stale \
         documents {} (child {}), matches skipped as stale at reopening {}",
        t.points,
        started.elapsed(),
        t.acks,
        t.in_flight_present,
        t.in_flight_absent,
        t.killed_before_open,
        t.rebuild_kills,
        t.open_duplicates,
        t.child_open_duplicates,
        t.count_mismatches,
        t.child_count_mismatches,
        t.stale_generations,
        t.child_stale_generations,
        t.stale_filtered
    );
    assert!(
        failures.is_empty(),
        "CASELOG_CRASH_SEED={master}: {} of {} scenarios failed:\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
    assert_eq!(t.points, seeds.len() * ROUNDS as usize);
}

#[derive(Debug, Default)]
struct Totals {
    points: usize,
    acks: usize,
    in_flight_present: usize,
    in_flight_absent: usize,
    killed_before_open: usize,
    rebuild_kills: usize,
    /// Index self-check firings at reopening (parent) and in the child.
    open_duplicates: u64,
    count_mismatches: u64,
    child_open_duplicates: u64,
    child_count_mismatches: u64,
    stale_generations: u64,
    child_stale_generations: u64,
    stale_filtered: u64,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.open_duplicates += o.open_duplicates;
        self.count_mismatches += o.count_mismatches;
        self.child_open_duplicates += o.child_open_duplicates;
        self.child_count_mismatches += o.child_count_mismatches;
        self.stale_generations += o.stale_generations;
        self.child_stale_generations += o.child_stale_generations;
        self.stale_filtered += o.stale_filtered;
        self.points += o.points;
        self.acks += o.acks;
        self.in_flight_present += o.in_flight_present;
        self.in_flight_absent += o.in_flight_absent;
        self.killed_before_open += o.killed_before_open;
        self.rebuild_kills += o.rebuild_kills;
    }
}

/// Prints how to replay a failure when the test panics.
struct OnPanic(String);

impl Drop for OnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("crash_kill FAILED at {}", self.0);
        }
    }
}

/// When the child is killed.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// This long after it started (just before it opens the store): during
    /// store creation, recovery or the first writes.
    AfterStart(Duration),
    /// Once it acknowledged this many writes, plus a little.
    AfterAcks(usize, Duration),
    /// This long after its index rebuild at open started (the index was
    /// deleted before spawning it).
    DuringRebuild(Duration),
}

struct RoundPlan {
    mode: Mode,
    kill: KillAt,
    check_on_copy: bool,
}

fn plan_round(rng: &mut ChaCha8Rng, round: u32) -> RoundPlan {
    let roll: u32 = rng.random_range(0..100);
    // Creating a store takes a few milliseconds (two fsyncs): early kills
    // concentrate there.
    let early = Duration::from_micros(rng.random_range(0..20_000));
    let kill = if round == 0 {
        if roll < 50 {
            KillAt::AfterStart(early)
        } else {
            after_acks(rng)
        }
    } else if roll < 15 {
        KillAt::AfterStart(early)
    } else if roll < 35 {
        KillAt::DuringRebuild(Duration::from_micros(rng.random_range(0..150_000)))
    } else {
        after_acks(rng)
    };
    RoundPlan {
        mode: if rng.random_bool(0.2) { Mode::Bulk } else { Mode::Mixed },
        kill,
        check_on_copy: rng.random_bool(0.5),
    }
}

fn after_acks(rng: &mut ChaCha8Rng) -> KillAt {
    // Log-uniform: many short runs, some long ones.
    let n = (2f64.powf(rng.random_range(0.0..8.5))) as usize;
    KillAt::AfterAcks(n.max(1), Duration::from_micros(rng.random_range(0..3_000)))
}

/// One store, killed `ROUNDS` times; each kill is followed by a full check.
fn scenario(master: u64, index: usize, seed: u64) -> Totals {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let mut models: Vec<ThreadModel> = Vec::new();
    let mut totals = Totals::default();
    for round in 0..ROUNDS {
        let plan = plan_round(&mut rng, round);
        let _context = OnPanic(format!(
            "CASELOG_CRASH_SEED={master} scenario {index} (CASELOG_CRASH_SCENARIO={seed}) round {round}: \
             mode {}, kill {:?}, check on copy {}",
            plan.mode.as_str(),
            plan.kill,
            plan.check_on_copy
        ));
        if matches!(plan.kill, KillAt::DuringRebuild(_)) {
            let index = store_dir.join(caselog_store::index::INDEX_DIR);
            if index.exists() {
                std::fs::remove_dir_all(&index).unwrap();
            }
        }
        let out = run_child(&store_dir, seed, round, &plan);
        totals.points += 1;
        if !out.opened {
            totals.killed_before_open += 1;
        }
        if matches!(plan.kill, KillAt::DuringRebuild(_)) && out.rebuilding && !out.rebuilt {
            totals.rebuild_kills += 1;
        }
        totals.child_open_duplicates += out.counters.0;
        totals.child_count_mismatches += out.counters.1;
        totals.child_stale_generations += out.counters.2;
        // Replay each thread's acknowledged operations; the next one may
        // have been in flight.
        let mut in_flight = Vec::new();
        for thread in 0..THREADS {
            let mut m = ThreadModel::new(seed, round, thread, plan.mode);
            for (seq, kind, number) in out.acks.get(&thread).into_iter().flatten() {
                assert_eq!(*seq, m.next_seq, "acks of thread {thread} out of order");
                let op = m.next_op();
                assert_eq!(
                    op.kind(),
                    kind,
                    "thread {thread} op {seq}: the child did something else"
                );
                m.apply(&op, number.clone());
                totals.acks += 1;
            }
            if out.opened {
                in_flight.push((models.len(), m.next_op()));
            }
            models.push(m);
        }
        let check_dir = if plan.check_on_copy {
            let copy = dir.path().join(format!("check-{round}"));
            copy_tree(&store_dir, &copy);
            copy
        } else {
            store_dir.clone()
        };
        let (present, absent, counters) = check_store(&check_dir, &mut models, in_flight);
        totals.in_flight_present += present;
        totals.in_flight_absent += absent;
        totals.open_duplicates += counters.open_duplicates;
        totals.count_mismatches += counters.count_mismatches;
        totals.stale_generations += counters.stale_generations;
        totals.stale_filtered += counters.stale_filtered;
        if plan.check_on_copy {
            std::fs::remove_dir_all(&check_dir).unwrap();
        }
    }
    totals
}

fn copy_tree(from: &Path, to: &Path) {
    if !from.exists() {
        return;
    }
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// What the child said before it died.
struct ChildOutput {
    opened: bool,
    /// A background index rebuild was seen running, and then installed.
    rebuilding: bool,
    rebuilt: bool,
    /// The child's last index counters: open-time duplicates, count
    /// mismatches.
    counters: (u64, u64, u64),
    /// Per thread: (seq, kind, created number) in order.
    acks: BTreeMap<u32, Vec<(u32, String, Option<String>)>>,
}

/// Kills the child when it is dropped, so a failing test leaves no process.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_child(store_dir: &Path, seed: u64, round: u32, plan: &RoundPlan) -> ChildOutput {
    let mut child = Reaper(
        Command::new(env!("CARGO_BIN_EXE_crash_child"))
            .arg(store_dir)
            .arg(seed.to_string())
            .arg(round.to_string())
            .arg(plan.mode.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning the crash child"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                // A line cut by the kill has no newline and is no ack.
                Ok(0) | Err(_) => break,
                Ok(_) if buf.ends_with(b"\n") => {
                    let line = String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned();
                    if tx.send(line).is_err() {
                        break;
                    }
                }
                Ok(_) => break,
            }
        }
    });
    let mut lines: Vec<ChildLine> = Vec::new();
    let acks = std::cell::Cell::new(0usize);
    let seen = |line: String, lines: &mut Vec<ChildLine>| -> ChildLine {
        let parsed = ChildLine::parse(&line).unwrap_or_else(|| panic!("unreadable child line {line:?}"));
        if let ChildLine::Failed(why) = &parsed {
            panic!("the child failed: {why}");
        }
        if matches!(parsed, ChildLine::Ack { .. }) {
            acks.set(acks.get() + 1);
        }
        lines.push(parsed.clone());
        parsed
    };
    let next_line = |rx: &mpsc::Receiver<String>| -> String {
        match rx.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the child wrote nothing for {LINE_TIMEOUT:?}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the child ended before it was killed"),
        }
    };
    match plan.kill {
        KillAt::AfterStart(delay) => {
            let line = next_line(&rx);
            seen(line, &mut lines);
            std::thread::sleep(delay);
        }
        KillAt::AfterAcks(n, extra) => {
            while acks.get() < n {
                let line = next_line(&rx);
                seen(line, &mut lines);
            }
            std::thread::sleep(extra);
        }
        KillAt::DuringRebuild(delay) => {
            loop {
                let line = next_line(&rx);
                if matches!(seen(line, &mut lines), ChildLine::Progress(..) | ChildLine::Opened) {
                    break;
                }
            }
            std::thread::sleep(delay);
        }
    }
    // SIGKILL: no destructor, no flush, no clean shutdown.
    child.0.kill().expect("killing the child");
    let status = child.0.wait().unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the child was not killed by SIGKILL: {status}"
        );
    }
    // Lines written before the kill are still in the pipe.
    reader.join().unwrap();
    for line in rx.try_iter() {
        seen(line, &mut lines);
    }
    let mut out = ChildOutput {
        opened: false,
        rebuilding: false,
        rebuilt: false,
        counters: (0, 0, 0),
        acks: BTreeMap::new(),
    };
    for line in lines {
        match line {
            ChildLine::Started => {}
            ChildLine::Opened => out.opened = true,
            ChildLine::Progress(..) => out.rebuilding = true,
            ChildLine::IndexReady => out.rebuilt = true,
            ChildLine::Counters(d, m, s) => out.counters = (d, m, s),
            ChildLine::Ack {
                thread,
                seq,
                kind,
                number,
            } => out.acks.entry(thread).or_default().push((seq, kind, number)),
            ChildLine::Failed(_) => unreachable!(),
        }
    }
    out
}

/// A case and its thread as stored.
struct Stored {
    case: Case,
    thread: Vec<ThreadEntry>,
}

fn reopen_options() -> Options {
    Options {
        // Long OR queries check many tokens at once.
        search_limits: SearchLimits {
            query: QueryLimits {
                max_chars: 64 * 1024,
                max_terms: 4 * SEARCH_BATCH,
                ..QueryLimits::DEFAULT
            },
            ..SearchLimits::default()
        },
        index_open_duplicate_check: !open_check_disabled(),
        index_merge_min_segments: merge_min_segments().unwrap_or(Options::default().index_merge_min_segments),
        ..Options::default()
    }
}

/// Reopens the killed store, settles each in-flight operation (present
/// whole, or absent), then checks the store and the index against the
/// models. Returns how many in-flight operations were present and absent.
fn check_store(dir: &Path, models: &mut [ThreadModel], in_flight: Vec<(usize, Op)>) -> (usize, usize, IndexCounters) {
    let store = Store::open(dir, reopen_options()).unwrap_or_else(|e| panic!("the killed store does not reopen: {e}"));
    let stored = load_all(&store);
    check_each_case_once(&store, stored.len() as u64);
    let by_title: HashMap<&str, &str> = stored
        .values()
        .filter_map(|s| {
            let token = s.case.title.strip_prefix("Crash case ")?.split(' ').next()?;
            Some((token, s.case.number.as_str()))
        })
        .collect();

    // Tokens that must not be found: those of in-flight writes that are absent.
    let mut absent_tokens: Vec<String> = Vec::new();
    let (mut present, mut absent) = (0, 0);
    for (mi, op) in in_flight {
        let m = &mut models[mi];
        let seq = m.next_seq;
        let entries_of = |case: usize| {
            let n = m.cases[case].number.as_deref().unwrap();
            stored.get(n).map_or(0, |s| s.thread.len())
        };
        let happened = match op {
            Op::Create | Op::FollowUp { .. } => {
                let number = by_title.get(m.tok('t', seq, 0).as_str()).map(|n| n.to_string());
                if number.is_none() {
                    absent_tokens.push(m.tok('t', seq, 0));
                    absent_tokens.push(m.tok('d', seq, 0));
                }
                let happened = number.is_some();
                if happened {
                    m.apply(&op, number);
                }
                happened
            }
            Op::Reply { case, .. } | Op::Event { case, .. } | Op::Merge { case, .. } => {
                let happened = entries_of(case) > m.cases[case].entries.len();
                if happened {
                    m.apply(&op, None);
                } else {
                    absent_tokens.push(m.tok('r', seq, 0));
                }
                happened
            }
            Op::SetComplex { case, complex } => {
                let n = m.cases[case].number.as_deref().unwrap();
                let happened = stored[n].case.complex == complex;
                if happened {
                    m.apply(&op, None);
                }
                happened
            }
            Op::Import { count } => {
                let cases = m.import_cases(seq, count);
                let there: Vec<bool> = cases
                    .iter()
                    .map(|c| stored.contains_key(c.case.number.as_str()))
                    .collect();
                let p = there.iter().take_while(|&&b| b).count();
                assert!(
                    there[p..].iter().all(|&b| !b),
                    "in-flight import {seq} of thread {}: cases present after a missing one: {there:?}",
                    m.thread
                );
                // Chunks commit whole: the import stops at a chunk boundary.
                let chunk = if m.bulk() { BULK_CHUNK } else { count as usize };
                assert!(
                    p % chunk == 0 || p == count as usize,
                    "in-flight import {seq} of thread {}: {p} of {count} cases present, not whole chunks of {chunk}",
                    m.thread
                );
                absent_tokens.extend(cases[p..].iter().map(|c| title_token_of(&c.case.title)));
                m.apply(&op, None);
                m.imports.last_mut().unwrap().cases.truncate(p);
                p > 0
            }
        };
        if happened {
            present += 1;
        } else {
            absent += 1;
        }
    }

    check_contents(&store, &stored, models);
    check_views(&store, &stored);
    check_index(&store, models, &absent_tokens);
    let counters = store.index_counters();
    store.shutdown().unwrap();
    (present, absent, counters)
}

/// Right after reopening, before the index's start-up checks can have
/// repaired anything: a search over everything counts and shows each case
/// at most once (the index may lag the store, never exceed it).
fn check_each_case_once(store: &Store, cases: u64) {
    let opts = SearchOptions {
        per_page: SearchLimits::default().max_per_page,
        ..SearchOptions::default()
    };
    let r = match store.search(&Scope::AllTenants, "*", &opts) {
        Ok(r) => r,
        // No usable index yet (a rebuild is due): nothing to show twice.
        Err(caselog_store::StoreError::IndexRebuilding { .. }) => return,
        Err(e) => panic!("searching the reopened store: {e}"),
    };
    assert!(r.total <= cases, "{} matches for {cases} cases", r.total);
    assert_eq!(r.facets.by_status.values().sum::<u64>(), r.total, "status facets");
    let mut ids: Vec<_> = r.hits.iter().map(|h| h.id).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "a case shown twice");
}

fn title_token_of(title: &str) -> String {
    title.split(' ').nth(1).unwrap().to_owned()
}

/// Every case with its thread, by number.
fn load_all(store: &Store) -> BTreeMap<String, Stored> {
    let mut out = BTreeMap::new();
    for id in store.case_ids().unwrap() {
        let r = CaseRef::Id(caselog_core::CaseId(id));
        let case = store.case(&Scope::AllTenants, &r).unwrap().expect("listed case");
        let thread = store.full_thread(&Scope::AllTenants, &r).unwrap();
        let number = case.number.to_string();
        let again = out.insert(number.clone(), Stored { case, thread });
        assert!(again.is_none(), "two cases share number {number}");
    }
    out
}

/// The store holds exactly the modelled cases, each whole and consistent.
fn check_contents(store: &Store, stored: &BTreeMap<String, Stored>, models: &[ThreadModel]) {
    let mut expected: BTreeSet<&str> = BTreeSet::new();
    for m in models {
        for c in &m.cases {
            let n = c.number.as_deref().expect("settled cases have numbers");
            expected.insert(n);
            let s = stored
                .get(n)
                .unwrap_or_else(|| panic!("acknowledged case {n} (thread {} op {}) is missing", m.thread, c.seq));
            check_case(c, s);
        }
        for import in &m.imports {
            for ic in &import.cases {
                let n = ic.case.number.as_str();
                expected.insert(n);
                let s = stored.get(n).unwrap_or_else(|| {
                    panic!(
                        "acknowledged import {} of thread {}: case {n} is missing",
                        import.seq, m.thread
                    )
                });
                let mut want = ic.case.clone();
                want.id = s.case.id;
                want.entries = ic.thread.len() as u32;
                want.imported = true;
                assert_eq!(s.case, want, "imported case {n} differs");
                assert_eq!(s.thread, ic.thread, "imported case {n}: thread differs");
            }
        }
    }
    let unexpected: Vec<&String> = stored.keys().filter(|n| !expected.contains(n.as_str())).collect();
    assert!(
        unexpected.is_empty(),
        "cases nobody wrote (or partial writes): {unexpected:?}"
    );
    for (n, s) in stored {
        // The number resolves back to the case, in its tenant only.
        let found = store
            .case(&Scope::AllTenants, &CaseNumber::parse_imported(n).unwrap().into())
            .unwrap()
            .map(|c| c.id);
        assert_eq!(found, Some(s.case.id), "number {n} does not resolve to its case");
        let own = store
            .case(
                &Scope::Tenant(s.case.tenant.clone()),
                &CaseRef::Number(s.case.number.clone()),
            )
            .unwrap();
        assert_eq!(own.map(|c| c.id), Some(s.case.id));
        assert_eq!(
            s.case.entries as usize,
            s.thread.len(),
            "case {n}: entry count differs from its thread"
        );
    }
}

fn check_case(c: &ModelCase, s: &Stored) {
    let n = c.number.as_deref().unwrap();
    let case = &s.case;
    let fields = |what: &str| format!("case {n} (op {}): {what} differs", c.seq);
    assert_eq!(case.tenant, c.tenant, "{}", fields("tenant"));
    assert_eq!(case.created_by, c.created_by, "{}", fields("creator"));
    assert_eq!(case.marketplace, c.marketplace, "{}", fields("marketplace"));
    assert_eq!(case.language, c.language, "{}", fields("language"));
    assert_eq!(case.category, c.category, "{}", fields("category"));
    assert_eq!(case.title, c.title, "{}", fields("title"));
    assert_eq!(case.refs, c.refs, "{}", fields("references"));
    assert_eq!(case.complex, c.complex, "{}", fields("complex flag"));
    assert_eq!(case.status(), c.status, "{}", fields("status"));
    assert_eq!(case.assignee, c.assignee, "{}", fields("assignee"));
    assert_eq!(case.links.duplicate_of, None, "{}", fields("duplicate link"));
    let num = |o: &Option<String>| o.clone();
    assert_eq!(
        case.links.follow_up_of.as_ref().map(|x| x.to_string()),
        num(&c.follow_up_of)
    );
    let follow_ups: Vec<String> = case.links.follow_ups.iter().map(|x| x.to_string()).collect();
    assert_eq!(follow_ups, c.follow_ups, "{}", fields("follow-up links"));
    assert_eq!(case.state.merged_into.as_ref().map(|x| x.to_string()), c.merged_into);
    assert!(!case.imported);
    assert_eq!(
        s.thread.len(),
        c.entries.len(),
        "{}: {:#?}",
        fields("thread length"),
        s.thread
    );
    for (i, (got, want)) in s.thread.iter().zip(&c.entries).enumerate() {
        assert!(
            want.matches(got),
            "case {n} entry {i}: stored {got:#?}, expected {want:#?}"
        );
    }
    // The status agrees with the thread's status changes: replaying the
    // recorded trail through the rules gives the stored state exactly.
    let mut status = None;
    let trail: Vec<RecordedEvent> = s
        .thread
        .iter()
        .map(|e| {
            let (event, from, to) = match &e.change {
                Some(ch) => (ch.event.clone(), ch.from, ch.to),
                None => (
                    CaseEvent::Reply,
                    status,
                    status.expect("a thread starts with its creation"),
                ),
            };
            status = Some(to);
            RecordedEvent {
                at: e.at,
                actor: e.actor.clone(),
                event,
                from,
                to,
            }
        })
        .collect();
    let replayed = replay(&trail, &LifecyclePolicy::default()).unwrap_or_else(|e| panic!("case {n}: {e}"));
    assert_eq!(replayed, case.state, "case {n}: state differs from its replayed thread");
}

fn page(store: &Store, scope: &Scope, kind: ViewKind, filter: ViewFilter, sort: ViewSort) -> u64 {
    let q = ViewQuery {
        filter,
        sort,
        per_page: 1,
        ..ViewQuery::new(kind)
    };
    store.view(scope, &q).unwrap().total
}

/// Views, the queue and the statistics agree with the cases present.
fn check_views(store: &Store, stored: &BTreeMap<String, Stored>) {
    let cases: Vec<&Case> = stored.values().map(|s| &s.case).collect();
    let mut scopes = vec![(Scope::AllTenants, None)];
    for t in TENANTS {
        let t = TenantId::parse(t).unwrap();
        scopes.push((Scope::Tenant(t.clone()), Some(t)));
    }
    for (scope, tenant) in &scopes {
        let mine: Vec<&&Case> = cases
            .iter()
            .filter(|c| tenant.as_ref().is_none_or(|t| &c.tenant == t))
            .collect();
        let all = ViewFilter::default();
        for sort in [ViewSort::Updated, ViewSort::Created] {
            let total = page(store, scope, ViewKind::All, all.clone(), sort);
            assert_eq!(total, mine.len() as u64, "view total in {scope:?} sorted by {sort:?}");
        }
        for status in Status::ALL {
            let want = mine.iter().filter(|c| c.status() == *status).count() as u64;
            let filter = ViewFilter {
                statuses: vec![*status],
                ..ViewFilter::default()
            };
            for sort in [ViewSort::Updated, ViewSort::Created] {
                let total = page(store, scope, ViewKind::All, filter.clone(), sort);
                assert_eq!(total, want, "{status} cases in {scope:?} (by {sort:?})");
            }
        }
        let attention = mine.iter().filter(|c| c.status() == Status::NeedsAttention).count() as u64;
        let total = page(store, scope, ViewKind::NeedsAttention, all.clone(), ViewSort::Updated);
        assert_eq!(total, attention, "needing attention in {scope:?}");
        for thread in 0..THREADS {
            for user in [seller_user(thread), agent_user(thread)] {
                let want = mine.iter().filter(|c| involves(c, &user, scope)).count() as u64;
                let total = page(
                    store,
                    scope,
                    ViewKind::Mine(user.clone()),
                    all.clone(),
                    ViewSort::Updated,
                );
                assert_eq!(total, want, "cases of {user} in {scope:?}");
            }
        }
        let queue: BTreeSet<u64> = store
            .queue(
                scope,
                &QueueQuery {
                    limit: usize::MAX,
                    category: None,
                    marketplace: None,
                },
            )
            .unwrap()
            .iter()
            .map(|e| e.case.id.0)
            .collect();
        let waiting: BTreeSet<u64> = mine
            .iter()
            .filter(|c| c.status().waits_on_support())
            .map(|c| c.id.0)
            .collect();
        assert_eq!(queue, waiting, "queue in {scope:?}");
    }
    let stats = store.stats().unwrap();
    assert_eq!(stats.cases, cases.len() as u64);
    for status in Status::ALL {
        let want = cases.iter().filter(|c| c.status() == *status).count() as u64;
        assert_eq!(
            stats.by_status.get(status).copied().unwrap_or(0),
            want,
            "stats: {status}"
        );
    }
}

/// *My cases*: on the seller side (a tenant's scope) the cases the user
/// created or was handed; on the support side the cases assigned to them.
fn involves(c: &Case, user: &UserId, scope: &Scope) -> bool {
    match scope {
        Scope::Tenant(_) => &c.created_by == user || c.handler.as_ref() == Some(user),
        Scope::AllTenants => c.assignee.as_ref() == Some(user),
    }
}

/// After reopening, the index catches up by itself and agrees with the
/// store: `verify` is clean, every case is found by its tokens (title and
/// latest message), and absent in-flight writes are not found.
fn check_index(store: &Store, models: &[ThreadModel], absent_tokens: &[String]) {
    assert!(
        store.wait_indexed(store.last_change(), INDEX_WAIT).unwrap(),
        "the index did not catch up with the store within {INDEX_WAIT:?}"
    );
    let report = store.verify().unwrap();
    assert!(report.is_consistent(), "index and store disagree: {report:?}");
    assert_eq!(report.documents, report.cases, "{report:?}");
    assert_eq!(report.in_flight, 0, "{report:?}");

    // (token, number) pairs; each batch names each case at most once, so a
    // case missing for one token cannot hide behind another.
    let mut titles: Vec<(String, String)> = Vec::new();
    let mut latest: Vec<(String, String)> = Vec::new();
    for m in models {
        for c in &m.cases {
            let n = c.number.clone().unwrap();
            titles.push((c.title_token.clone(), n.clone()));
            latest.push((c.tokens.last().unwrap().clone(), n));
        }
        for import in &m.imports {
            for ic in &import.cases {
                titles.push((title_token_of(&ic.case.title), ic.case.number.to_string()));
            }
        }
    }
    for pairs in [&titles, &latest] {
        for batch in pairs.chunks(SEARCH_BATCH) {
            let query: Vec<&str> = batch.iter().map(|(t, _)| t.as_str()).collect();
            let want: BTreeSet<&str> = batch.iter().map(|(_, n)| n.as_str()).collect();
            let got = search_numbers(store, &query.join(" OR "));
            let got: BTreeSet<&str> = got.iter().map(String::as_str).collect();
            assert_eq!(got, want, "search for tokens {query:?}");
        }
    }
    for batch in absent_tokens.chunks(SEARCH_BATCH) {
        let got = search_numbers(store, &batch.join(" OR "));
        assert!(
            got.is_empty(),
            "tokens of absent in-flight writes {batch:?} found in {got:?}"
        );
    }
}

fn search_numbers(store: &Store, query: &str) -> Vec<String> {
    let opts = SearchOptions {
        per_page: 1000,
        snippets: false,
        ..SearchOptions::default()
    };
    let r = store
        .search(&Scope::AllTenants, query, &opts)
        .unwrap_or_else(|e| panic!("search {query:?}: {e}"));
    assert!(r.total <= 1000, "more hits than expected");
    r.hits.into_iter().map(|h| h.number.to_string()).collect()
}
