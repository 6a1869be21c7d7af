//! The write-ahead log: replay after a crash, a torn tail cut at the last
//! whole record, corruption before the tail refused with a typed error,
//! and a real child process aborted inside log appends, checkpoints,
//! replay and the clean end (the `internals` feature's fault points).
//!
//! A crash image is made by copying the store's files while the store is
//! open and idle: the store file then holds only its last durable commit
//! (the log's batches were committed to it without a sync, which a copy of
//! an unclosed redb file does not see as committed), the log everything
//! acknowledged.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use caselog_core::*;
use caselog_store::*;
use common::*;

fn options() -> Options {
    Options {
        durability: Durability::Immediate,
        timer_interval: None,
        // No checkpoint by time: every create stays in the log.
        checkpoint_interval: Duration::from_secs(3600),
        ..fast_options()
    }
}

fn title(i: usize) -> String {
    format!("Parcel {i} never arrived")
}

fn create(store: &Store, i: usize) -> Created {
    store
        .create_case(new_case("seller-1", "ann", Category::Orders, &title(i), None))
        .unwrap()
}

/// Copies the store's files as a crash would leave them.
fn crash_image(from: &Path, to: &Path) {
    for name in [STORE_FILE, WAL_FILE] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

/// The cases' titles, in id order.
fn titles(store: &Store) -> Vec<String> {
    let scope = Scope::Tenant(tenant("seller-1"));
    (1..=1000u64)
        .filter_map(|id| store.case(&scope, &CaseRef::Id(CaseId(id))).unwrap())
        .map(|c| c.title)
        .collect()
}

/// Positions and file offsets of the log's records, read from the frame
/// layout (`crc u32 | len u32 | position u64 | payload | padding`, from
/// byte 4,096).
fn records(log: &[u8]) -> Vec<(u64, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    loop {
        let at = 4096 + pos as usize;
        let Some(frame) = log.get(at..at + 16) else { break };
        let len = u32::from_le_bytes(frame[4..8].try_into().unwrap()) as usize;
        let lsn = u64::from_le_bytes(frame[8..16].try_into().unwrap());
        if lsn != pos || len == 0 {
            break;
        }
        out.push((pos, at, len));
        pos += (16 + len as u64).div_ceil(8) * 8;
    }
    out
}

/// Writes `n` cases and returns a crash image of the store in a new
/// directory, with the log's records.
fn crashed_store(n: usize) -> (tempfile::TempDir, Vec<(u64, usize, usize)>) {
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(live.path(), options()).unwrap();
    for i in 0..n {
        create(&store, i);
    }
    let image = tempfile::tempdir().unwrap();
    crash_image(live.path(), image.path());
    store.shutdown().unwrap();
    let log = std::fs::read(image.path().join(WAL_FILE)).unwrap();
    let recs = records(&log);
    (image, recs)
}

#[test]
fn acknowledged_writes_in_the_log_are_replayed_at_open() {
    let (image, recs) = crashed_store(12);
    assert!(recs.len() >= 12, "one record per acknowledged create: {}", recs.len());
    let store = Store::open(image.path(), options()).unwrap();
    let expected: Vec<String> = (0..12).map(title).collect();
    assert_eq!(titles(&store), expected);
    // The index follows the replayed change log.
    assert!(store
        .wait_indexed(store.last_change(), Duration::from_secs(30))
        .unwrap());
    store.shutdown().unwrap();
    // A clean end leaves nothing to replay: the log may go.
    std::fs::remove_file(image.path().join(WAL_FILE)).unwrap();
    let store = Store::open(image.path(), options()).unwrap();
    assert_eq!(titles(&store), expected);
    store.shutdown().unwrap();
}

#[test]
fn a_torn_last_record_is_cut_and_everything_before_it_kept() {
    let (image, recs) = crashed_store(8);
    let &(_, at, len) = recs.last().unwrap();
    let path = image.path().join(WAL_FILE);
    let mut log = std::fs::read(&path).unwrap();
    // The last write reached the disk only in part.
    for b in &mut log[at + 16 + len / 2..at + 16 + len] {
        *b = 0;
    }
    std::fs::write(&path, &log).unwrap();
    let store = Store::open(image.path(), options()).unwrap();
    let expected: Vec<String> = (0..7).map(title).collect();
    assert_eq!(titles(&store), expected);
    // Writes go on after the cut, and survive the next crash.
    create(&store, 100);
    let again = tempfile::tempdir().unwrap();
    crash_image(image.path(), again.path());
    store.shutdown().unwrap();
    let store = Store::open(again.path(), options()).unwrap();
    let mut expected = expected;
    expected.push(title(100));
    assert_eq!(titles(&store), expected);
    store.shutdown().unwrap();
}

#[test]
fn a_damaged_record_before_the_tail_is_a_typed_error_and_changes_nothing() {
    let (image, recs) = crashed_store(8);
    let &(position, at, len) = &recs[recs.len() / 2];
    let path = image.path().join(WAL_FILE);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    bad[at + 16 + len / 2] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    for _ in 0..2 {
        match Store::open(image.path(), options()) {
            Err(StoreError::LogCorrupt {
                error: LogError::CorruptRecord { position: p, .. },
                ..
            }) => assert_eq!(p, position),
            other => panic!("expected a corrupt record at {position}, got {other:?}"),
        }
    }
    // Nothing was replayed or cut: with the record mended, all is there.
    std::fs::write(&path, &good).unwrap();
    let store = Store::open(image.path(), options()).unwrap();
    assert_eq!(titles(&store), (0..8).map(title).collect::<Vec<_>>());
    store.shutdown().unwrap();
}

#[test]
fn a_missing_log_is_a_typed_error_when_the_store_names_one() {
    let (image, _) = crashed_store(3);
    std::fs::remove_file(image.path().join(WAL_FILE)).unwrap();
    match Store::open(image.path(), options()) {
        Err(StoreError::LogCorrupt { .. }) => {}
        other => panic!("expected a missing-log error, got {other:?}"),
    }
    // A read-only open cannot replay either.
    assert!(Store::open_read_only(image.path(), options()).is_err());
}

#[test]
fn a_read_only_open_refuses_a_store_with_writes_to_replay() {
    let (image, _) = crashed_store(3);
    match Store::open_read_only(image.path(), options()) {
        Err(StoreError::NeedsRecovery { .. }) => {}
        other => panic!("expected NeedsRecovery, got {other:?}"),
    }
}

#[test]
fn wrap_around_checkpoints_and_large_batches_keep_every_write() {
    // A small ring: the log laps many times and checkpoints when half full;
    // an import chunk commits to the store file directly.
    let opts = Options {
        wal_bytes: 64 * 1024,
        checkpoint_interval: Duration::from_millis(5),
        ..options()
    };
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(live.path(), opts.clone()).unwrap();
    std::thread::scope(|s| {
        for w in 0..4 {
            let store = &store;
            s.spawn(move || {
                for i in 0..30 {
                    create(store, w * 1000 + i);
                }
            });
        }
    });
    let m = store.metrics();
    assert!(m.checkpoints > 0 && m.log_syncs > 0, "{m:?}");
    // The writer's time is split by what it did: every stage that ran took
    // some, and together they fit in the time the store has been open.
    let w = m.writer_time;
    assert!(
        w.apply > Duration::ZERO && w.log > Duration::ZERO && w.checkpoint > Duration::ZERO,
        "{w:?}"
    );
    assert!(
        w.idle + w.apply + w.log + w.commit + w.checkpoint <= m.elapsed,
        "{w:?} in {:?}",
        m.elapsed
    );
    let image = tempfile::tempdir().unwrap();
    crash_image(live.path(), image.path());
    store.shutdown().unwrap();
    let store = Store::open(image.path(), opts).unwrap();
    let mut got = titles(&store);
    got.sort();
    let mut want: Vec<String> = (0..4).flat_map(|w| (0..30).map(move |i| title(w * 1000 + i))).collect();
    want.sort();
    assert_eq!(got, want);
    store.shutdown().unwrap();
}

// ---------------------------------------------------------------------------
// A real child process, aborted at a named point of the durable path
// ---------------------------------------------------------------------------

const CHILD_DIR: &str = "CASELOG_WAL_CHILD_DIR";

/// The child: creates cases one at a time, printing each acknowledged
/// one. Does nothing unless started by [`run_child`].
#[test]
fn wal_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let opts = Options {
        wal_bytes: 64 * 1024,
        checkpoint_interval: Duration::from_millis(3),
        ..options()
    };
    let store = Store::open(&dir, opts).unwrap();
    let first: usize = std::env::var("CASELOG_WAL_CHILD_FIRST").unwrap().parse().unwrap();
    for i in first..first + 60 {
        create(&store, i);
        println!("ack {i}");
    }
    store.shutdown().unwrap();
    println!("clean");
}

/// Runs the child until it ends; returns what it acked. Fails unless the
/// child was stopped at its abort point (it never reached its clean end).
fn run_child(dir: &Path, first: usize, abort_at: &str) -> Vec<usize> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "wal_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env("CASELOG_WAL_CHILD_FIRST", first.to_string())
        .env("CASELOG_ABORT_AT", abort_at)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let lines: Vec<String> = out.lines().map_while(|l| l.ok()).collect();
    let status = child.wait().unwrap();
    assert!(
        !status.success() && !lines.iter().any(|l| l == "clean"),
        "the child was not stopped at {abort_at}: {status:?}"
    );
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("ack ").and_then(|n| n.parse().ok()))
        .collect()
}

#[test]
fn a_child_aborted_inside_appends_checkpoints_replay_and_close_loses_no_ack() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    let mut first = 0;
    for point in [
        "wal-append:7",
        "wal-appended:11",
        "wal-checkpoint:3",
        "wal-replay-commit:1",
        "wal-append:1",
        "wal-close:1",
        "wal-checkpoint:1",
    ] {
        acked.extend(run_child(dir.path(), first, point));
        first += 100;
        // Every acknowledged write is there at the next open (of a copy:
        // the next child opens the crashed files itself, so it replays).
        let copy = tempfile::tempdir().unwrap();
        crash_image(dir.path(), copy.path());
        let store = Store::open(copy.path(), options()).unwrap();
        let have = titles(&store);
        for i in &acked {
            assert!(have.contains(&title(*i)), "ack {i} lost after abort at {point}");
        }
        // And nothing that was never asked for.
        assert!(
            have.iter().all(|t| (0..first).any(|i| *t == title(i))),
            "{point}: {have:?}"
        );
        store.shutdown().unwrap();
    }
    assert!(acked.len() > 20, "the child acknowledged {} writes", acked.len());
}
