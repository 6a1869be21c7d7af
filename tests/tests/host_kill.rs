//! Kill -9 of a host running the change feed's notification loop, and of
//! one erasing cases (child binary `src/bin/host_child.rs`).
//!
//! Feed: the child writes and consumes at once and is killed at random
//! points (during writes, handling, acknowledgement, open); it is restarted
//! on the same store and consumer log each time. At the end the consumer
//! catches up in this process, and its log must hold every acknowledged
//! write's change, each once, in order; no acknowledged position may be lost.
//!
//! Erase: the child creates cases and erases the oldest; after each kill
//! every case is either whole or entirely gone (record, number, thread,
//! views, search), every acknowledged erasure is gone, and `verify` is clean.
//!
//! `CASELOG_HOST_KILLS=N` sets the kill points of each (default 8).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use caselog_core::CaseId;
use caselog_store::{CaseRef, FeedStart, Scope, SearchOptions, Store, ViewKind, ViewQuery};
use caselog_tests::host::{consume_step, options, read_log, CONSUMER, ERASE_MARK};

fn kills() -> u64 {
    std::env::var("CASELOG_HOST_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

/// A seeded splitmix64, so a failing run's kill plan replays.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// Runs the child until it has printed `lines` lines after opening (or
/// until `lines` is 0: right after spawning), kills it with SIGKILL and
/// returns the lines it printed.
fn run_and_kill(args: &[&str], lines: u64) -> Vec<String> {
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_host_child"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning the child");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    if lines > 0 {
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
            got.push(line);
            if got.len() as u64 > lines {
                break;
            }
        }
    }
    child.kill().expect("killing the child");
    let _ = child.wait();
    // Lines printed before the kill landed are acknowledged too.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        got.push(line);
    }
    got
}

fn numbers(lines: &[String], tag: &str) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(tag))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

#[test]
fn a_feed_consumer_killed_at_random_points_misses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let log = dir.path().join("consumer.log");
    let mut rng = Rng(0x5eed_feed);
    let mut written = BTreeSet::new();
    let mut last_ack = 0;
    for round in 0..kills() {
        let lines = if round % 4 == 3 { 0 } else { 5 + rng.below(60) };
        let got = run_and_kill(
            &["feed", db.to_str().unwrap(), log.to_str().unwrap(), &round.to_string()],
            lines,
        );
        written.extend(numbers(&got, "W "));
        last_ack = last_ack.max(numbers(&got, "A ").into_iter().max().unwrap_or(0));
        // No acknowledged position is lost.
        let store = Store::open(&db, options()).unwrap();
        let acked = store
            .feed_consumers(&Scope::AllTenants)
            .unwrap()
            .into_iter()
            .find(|c| c.name == CONSUMER)
            .map_or(0, |c| c.acked);
        assert!(
            acked >= last_ack,
            "round {round}: acknowledged {last_ack}, store says {acked}"
        );
        store.shutdown().unwrap();
    }
    // Catch up here with the same loop.
    let store = Store::open(&db, options()).unwrap();
    store
        .feed_register(&Scope::AllTenants, CONSUMER, FeedStart::Beginning)
        .unwrap();
    while consume_step(&store, &log, Duration::from_millis(50)).unwrap().is_some() {}
    let handled = read_log(&log);
    assert!(
        handled.windows(2).all(|w| w[0] < w[1]),
        "a change handled twice or out of order"
    );
    let handled: BTreeSet<u64> = handled.into_iter().collect();
    let missed: Vec<&u64> = written.difference(&handled).collect();
    assert!(missed.is_empty(), "acknowledged writes never handled: {missed:?}");
    assert_eq!(
        handled.last().copied(),
        Some(store.last_change()),
        "the consumer is caught up"
    );
    assert!(
        written.len() > 10,
        "the workload wrote too little to prove anything ({})",
        written.len()
    );
    store.shutdown().unwrap();
}

#[test]
fn a_case_killed_mid_erasure_is_whole_or_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let mut rng = Rng(0xe7a5e);
    let mut erased: BTreeSet<u64> = BTreeSet::new();
    let mut created: BTreeSet<u64> = BTreeSet::new();
    for round in 0..kills() {
        let lines = if round % 4 == 3 { 0 } else { 3 + rng.below(40) };
        let got = run_and_kill(&["erase", db.to_str().unwrap(), &round.to_string()], lines);
        created.extend(numbers(&got, "C "));
        erased.extend(numbers(&got, "E "));
        let store = Store::open(&db, options()).unwrap();
        let all = Scope::AllTenants;
        let view: BTreeSet<u64> = {
            let mut q = ViewQuery::new(ViewKind::All);
            q.per_page = 1000;
            store.view(&all, &q).unwrap().cases.iter().map(|c| c.id.0).collect()
        };
        let max_id = created.iter().chain(&view).max().copied().unwrap_or(0) + 2;
        for id in 1..=max_id {
            let case = store.case(&all, &CaseRef::Id(CaseId(id))).unwrap();
            match case {
                Some(c) => {
                    assert!(!erased.contains(&id), "round {round}: erased case {id} is back");
                    assert!(view.contains(&id), "round {round}: case {id} missing from the view");
                    let by_number = store.case(&all, &CaseRef::Number(c.number.clone())).unwrap();
                    assert_eq!(by_number.map(|b| b.id), Some(c.id));
                    let thread = store.thread(&all, &CaseRef::Id(c.id), 0, 100).unwrap();
                    assert_eq!(
                        thread.entries.len() as u32,
                        c.entries,
                        "round {round}: case {id} thread"
                    );
                }
                None => assert!(
                    !view.contains(&id),
                    "round {round}: case {id} half erased (still in the view)"
                ),
            }
        }
        assert!(store
            .wait_indexed(store.last_change(), Duration::from_secs(60))
            .unwrap());
        let hits = store.search(&all, ERASE_MARK, &SearchOptions::default()).unwrap().total;
        assert_eq!(hits, view.len() as u64, "round {round}: the index holds erased cases");
        assert!(store.verify().unwrap().is_consistent(), "round {round}");
        store.shutdown().unwrap();
    }
    assert!(!erased.is_empty(), "no erasure was acknowledged");
}
