//! Measures how long `Store::open` takes in each state of the search index:
//! clean, after an unclean shutdown, index missing, and index of another
//! store. Open must not wait for a rebuild in any of them.
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

const RUNS: usize = 5;

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

    report("clean", &time_opens(dir, |_| {}));
    report(
        "unclean (no clean marker)",
        &time_opens(dir, |d| {
            let _ = std::fs::remove_file(d.join("index.clean"));
        }),
    );
    // Foreign: the payload names another store.
    let foreign = time_opens(dir, |_| {
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
    let missing = time_opens(dir, |_| {
        let _ = std::fs::remove_dir_all(&index);
    });
    report("index missing", &missing);
}

/// Opens the store `RUNS` times, each after `prepare`; returns the open
/// times and, when a rebuild ran, how long it took in the background.
fn time_opens(dir: &Path, prepare: impl Fn(&Path)) -> Vec<(Duration, Option<Duration>)> {
    (0..RUNS)
        .map(|_| {
            prepare(dir);
            let started = Instant::now();
            let store = Store::open(dir, Options::default()).expect("open");
            let opened = started.elapsed();
            // Searches answer at once, from the index or with IndexRebuilding.
            match store.search(&Scope::AllTenants, "archived", &SearchOptions::default()) {
                Ok(_) | Err(StoreError::IndexRebuilding { .. }) => {}
                Err(e) => panic!("search: {e}"),
            }
            let rebuilding = matches!(store.index_status(), IndexStatus::Rebuilding { .. });
            assert!(store
                .wait_indexed(store.last_change(), Duration::from_secs(3_600))
                .expect("index"));
            let rebuilt = rebuilding.then(|| started.elapsed());
            store.shutdown().expect("shutdown");
            (opened, rebuilt)
        })
        .collect()
}

fn report(state: &str, runs: &[(Duration, Option<Duration>)]) {
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    let opens: Vec<String> = runs.iter().map(|(o, _)| ms(*o)).collect();
    let rebuilds: Vec<String> = runs.iter().filter_map(|(_, r)| r.map(ms)).collect();
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
