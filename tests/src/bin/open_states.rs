//! Measures how long `Store::open` takes in each state of the search index:
//! clean, after an unclean shutdown, index of another store, a rebuilt
//! index left staged by a crash between the install's renames, and index
//! missing. Open must not wait for a rebuild in any of them.
//!
//! `open_states DIR CASES` builds a store of CASES imported cases in DIR
//! (reusing it if it is already there), then opens it five times per state
//! and prints the times, and how long the background rebuild took:
//!
//! ```sh
//! cargo run --release -p caselog-tests --bin open_states -- /tmp/open-states 100000
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use caselog_store::{IndexStatus, Options, Scope, SearchOptions, Store, StoreError};
use caselog_tests::crash::{Mode, ThreadModel};

/// Opens per state; the states that rebuild take longer.
const RUNS: usize = 5;
const REBUILD_RUNS: usize = 2;

/// The calling thread's time on a CPU and waiting for one (ns), from
/// `/proc/thread-self/schedstat`: on a loaded machine, wall time alone
/// mostly measures the wait.
fn sched() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut it = text.split_whitespace().map(|v| v.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: open_states DIR CASES");
        std::process::exit(64);
    }
    let dir = Path::new(&args[1]);
    let cases: u32 = args[2].parse().expect("CASES is a number");
    build(dir, cases);
    let index = dir.join(caselog_store::index::INDEX_DIR);

    report("clean", &time_opens(dir, RUNS, |_| {}));
    report(
        "unclean (no clean marker)",
        &time_opens(dir, RUNS, |d| {
            let _ = std::fs::remove_file(d.join("index.clean"));
        }),
    );
    // A crash between the two renames that install a rebuilt index: the
    // complete rebuilt index is still staged, none is in place.
    let staged = time_opens(dir, RUNS, |d| {
        let _ = std::fs::remove_file(d.join("index.clean"));
        std::fs::rename(&index, d.join("index.new")).expect("stage the index");
    });
    report("interrupted install (index.new, no index)", &staged);
    // Foreign: the payload names another store.
    let foreign = time_opens(dir, REBUILD_RUNS, |_| {
        let meta = index.join("meta.json");
        let text = std::fs::read_to_string(&meta).expect("meta.json");
        let at = text.find("store\\\":\\\"").expect("payload names the store") + 10;
        let mut bytes = text.into_bytes();
        for b in &mut bytes[at..at + 32] {
            *b = b'0';
        }
        std::fs::write(&meta, bytes).expect("meta.json");
    });
    report("foreign index (other store id)", &foreign);
    let missing = time_opens(dir, REBUILD_RUNS, |_| {
        let _ = std::fs::remove_dir_all(&index);
    });
    report("index missing", &missing);
}

fn skip_rebuild_wait() -> bool {
    std::env::var("OPEN_STATES_NO_REBUILD_WAIT").is_ok_and(|v| v == "1")
}

/// One open: wall time, the opening thread's CPU time and run-queue wait,
/// and when a rebuild ran, how long until it was installed.
struct Run {
    wall: Duration,
    cpu: Duration,
    waited: Duration,
    rebuilt: Option<Duration>,
}

/// Opens the store `runs` times, each after `prepare`.
fn time_opens(dir: &Path, runs: usize, prepare: impl Fn(&Path)) -> Vec<Run> {
    (0..runs)
        .map(|_| {
            prepare(dir);
            let (cpu0, wait0) = sched();
            let started = Instant::now();
            let store = Store::open(dir, Options::default()).expect("open");
            let opened = started.elapsed();
            let (cpu1, wait1) = sched();
            // Searches answer at once, from the index or with IndexRebuilding.
            match store.search(&Scope::AllTenants, "archived", &SearchOptions::default()) {
                Ok(_) | Err(StoreError::IndexRebuilding { .. }) => {}
                Err(e) => panic!("search: {e}"),
            }
            let rebuilding = matches!(store.index_status(), IndexStatus::Rebuilding { .. });
            // At 1M cases a rebuild takes minutes; `OPEN_STATES_NO_REBUILD_WAIT=1`
            // closes the store without waiting (the next open starts again).
            let rebuilt = if rebuilding && skip_rebuild_wait() {
                None
            } else {
                assert!(store
                    .wait_indexed(store.last_change(), Duration::from_secs(3_600))
                    .expect("index"));
                rebuilding.then(|| started.elapsed())
            };
            store.shutdown().expect("shutdown");
            Run {
                wall: opened,
                cpu: Duration::from_nanos(cpu1.saturating_sub(cpu0)),
                waited: Duration::from_nanos(wait1.saturating_sub(wait0)),
                rebuilt,
            }
        })
        .collect()
}

fn report(state: &str, runs: &[Run]) {
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    let opens: Vec<String> = runs
        .iter()
        .map(|r| format!("{} (cpu {}, run-queue wait {})", ms(r.wall), ms(r.cpu), ms(r.waited)))
        .collect();
    let rebuilds: Vec<String> = runs.iter().filter_map(|r| r.rebuilt.map(ms)).collect();
    println!(
        "{state}: open ms [{}]{}",
        opens.join(", "),
        if rebuilds.is_empty() {
            String::new()
        } else {
            format!("; background rebuild done after ms [{}]", rebuilds.join(", "))
        }
    );
}

/// A store of `cases` imported cases (deterministic), built once.
fn build(dir: &Path, cases: u32) {
    let store = Store::open_with_progress(dir, Options::default(), |_| {}).expect("open");
    let have = store.stats().map(|s| s.cases).unwrap_or(0);
    let started = Instant::now();
    let mut seq = (have / 1_000) as u32;
    let model = ThreadModel::new(7, 0, 0, Mode::Bulk);
    while u64::from(seq) * 1_000 < u64::from(cases) {
        let batch = model.import_cases(seq, 1_000);
        store.import(batch).expect("import");
        seq += 1;
    }
    store.sync().expect("sync");
    assert!(store
        .wait_indexed(store.last_change(), Duration::from_secs(3_600))
        .expect("index"));
    store.shutdown().expect("shutdown");
    println!(
        "store of {} cases ready in {:.1?}",
        u64::from(seq) * 1_000,
        started.elapsed()
    );
}
