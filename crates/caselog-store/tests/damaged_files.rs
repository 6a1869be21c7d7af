//! Damaged store files: damage is a typed error, never a panic and never a
//! write, and salvage recovers every case whose pages were not touched.
//!
//! The story: eight bytes of garbage in a page of `cases.redb` made redb
//! panic ("entered unreachable code" in its B-tree cursor) in every read
//! command, and a later read-write open "repaired" the file into total
//! loss. The fuzzer below damages a real store at random (byte flips,
//! 8-byte and page-sized garbage) and checks, per seed:
//!
//! - no panic leaves the library, whatever is read;
//! - no read changes a byte of the store directory;
//! - a read-write handle that has seen damage refuses writes;
//! - salvage recovers, unchanged, every case whose pages were not touched.
//!
//! "Touched" is measured, not guessed: on the undamaged store, each case is
//! read through a fresh read-only handle over a backend that records the
//! pages redb reads (opening included). A case whose recorded pages all lie
//! outside the damage reads from exactly the same bytes in the damaged
//! file, so salvage must return it exactly as before.
//!
//! `DAMAGE_SEEDS=N DAMAGE_SEED=S` runs N seeds from S; the ignored test
//! runs 500.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use caselog_core::*;
use caselog_store::interchange::to_line;
use caselog_store::*;
use common::*;
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// redb's page size.
const PAGE: u64 = 4096;

/// A redb backend over a file that records every page it reads.
#[derive(Debug)]
struct Tracing {
    inner: FileBackend,
    pages: Arc<Mutex<BTreeSet<u64>>>,
}

impl Tracing {
    fn open(path: &Path, pages: Arc<Mutex<BTreeSet<u64>>>) -> Tracing {
        let file = std::fs::File::open(path).unwrap();
        Tracing {
            inner: FileBackend::new(file).unwrap(),
            pages,
        }
    }
}

impl StorageBackend for Tracing {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        if !out.is_empty() {
            let last = (offset + out.len() as u64 - 1) / PAGE;
            self.pages.lock().unwrap().extend(offset / PAGE..=last);
        }
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
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

/// The undamaged store every seed starts from, and what is known of it.
struct Original {
    dir: tempfile::TempDir,
    /// Case id → its interchange line.
    lines: BTreeMap<u64, String>,
    /// Case numbers.
    numbers: Vec<CaseNumber>,
    /// Case id → every page reading it needs (opening included).
    pages: BTreeMap<u64, BTreeSet<u64>>,
}

fn words(rng: &mut Rng, n: usize) -> String {
    const W: &[&str] = &[
        "refund",
        "order",
        "delayed",
        "listing",
        "suppressed",
        "invoice",
        "account",
        "payment",
        "shipment",
        "carrier",
        "warehouse",
        "review",
        "policy",
        "账户",
        "停用",
    ];
    (0..n)
        .map(|_| W[rng.below(W.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// `n` words of random letters: text zstd cannot shrink much, so a long
/// body still fills pages after the store compresses it.
fn noise(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| {
            let len = 3 + rng.below(6) as usize;
            (0..len)
                .map(|_| char::from(b'a' + rng.below(26) as u8))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds a small store: 120 cases of 3 tenants, threads of 1 to 4
/// entries, bodies from a few words to a few kilobytes (so records spread
/// over many leaf pages and some span pages, compressed as they are).
fn build_original() -> Original {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let mut numbers = Vec::new();
    {
        let store = Store::open(dir.path(), fast_options()).unwrap();
        for i in 0..120 {
            let t = format!("seller-{}", i % 3);
            let title = format!("Case {i} {}", words(&mut rng, 4));
            let n = 5 + rng.below(700) as usize;
            let new = NewCase::new(
                tenant(&t),
                user("ann"),
                Marketplace::parse("US").unwrap(),
                LanguageTag::parse("en").unwrap(),
                Category::Orders,
                title,
                noise(&mut rng, n),
            );
            let created = store.create_case(new).unwrap();
            for _ in 0..rng.below(4) {
                let n = 3 + rng.below(500) as usize;
                store
                    .reply(
                        &Scope::Tenant(tenant(&t)),
                        &CaseRef::Id(created.id),
                        NewMessage::new(seller("ann"), noise(&mut rng, n)),
                    )
                    .unwrap();
            }
            numbers.push(created.number);
        }
        store.shutdown().unwrap();
    }
    // Salvage of an undamaged store is the whole store, exactly as exported.
    let mut lines = BTreeMap::new();
    let report = Store::salvage(dir.path(), |case, thread| {
        lines.insert(case.id.0, to_line(case, thread));
        Ok(())
    })
    .unwrap();
    assert_eq!(report.recovered, 120);
    assert!(report.lost.is_empty() && report.notes.is_empty(), "{report:?}");
    {
        let store = Store::open_read_only(dir.path(), Options::default()).unwrap();
        let snapshot = store.snapshot().unwrap();
        let exported: BTreeMap<u64, String> = snapshot
            .cases(&Scope::AllTenants)
            .unwrap()
            .map(|r| {
                let (c, t) = r.unwrap();
                (c.id.0, to_line(&c, &t))
            })
            .collect();
        assert_eq!(exported, lines);
    }
    // The pages each case's reads need, each through a fresh handle (so
    // no page comes from a cache) and including the pages opening reads.
    let mut pages = BTreeMap::new();
    for &id in lines.keys() {
        let trace = Arc::new(Mutex::new(BTreeSet::new()));
        let hooks = StorageHooks {
            backend: Some(Box::new(Tracing::open(&dir.path().join(STORE_FILE), trace.clone()))),
            index_directory: None,
            wal: None,
        };
        let store = Store::open_read_only_with(dir.path(), Options::default(), hooks).unwrap();
        let case = store
            .case(&Scope::AllTenants, &CaseRef::Id(CaseId(id)))
            .unwrap()
            .unwrap();
        let thread = store.full_thread(&Scope::AllTenants, &CaseRef::Id(CaseId(id))).unwrap();
        assert_eq!(to_line(&case, &thread), lines[&id]);
        drop(store);
        pages.insert(id, std::mem::take(&mut *trace.lock().unwrap()));
    }
    Original {
        dir,
        lines,
        numbers,
        pages,
    }
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for (rel, bytes) in files(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// Damages the store file in `dir` and returns the pages it touched.
fn damage(dir: &Path, rng: &mut Rng) -> (String, BTreeSet<u64>) {
    let path = dir.join(STORE_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len() as u64;
    let mut touched = BTreeSet::new();
    let what = match rng.below(3) {
        0 => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let at = rng.below(len);
                bytes[at as usize] ^= 1 + rng.below(255) as u8;
                touched.insert(at / PAGE);
            }
            format!("{n} byte flips")
        }
        1 => {
            let at = rng.below(len - 8);
            for b in &mut bytes[at as usize..at as usize + 8] {
                *b = rng.next() as u8;
            }
            touched.extend(at / PAGE..=(at + 7) / PAGE);
            format!("8 garbage bytes at {at}")
        }
        _ => {
            let page = rng.below(len / PAGE);
            let start = (page * PAGE) as usize;
            for b in &mut bytes[start..start + PAGE as usize] {
                *b = rng.next() as u8;
            }
            touched.insert(page);
            format!("garbage page {page}")
        }
    };
    std::fs::write(&path, bytes).unwrap();
    (what, touched)
}

/// Every read the store offers, on whatever the damage left. Returns
/// whether any read reported damage, and how many reads a panic inside
/// redb or tantivy turned into `Damaged`.
fn read_everything(store: &Store, numbers: &[CaseNumber]) -> (bool, u64) {
    let all = Scope::AllTenants;
    let mut damaged = false;
    let mut contained = 0;
    let mut note = |r: Result<(), StoreError>| {
        if let Err(e) = r {
            damaged |= matches!(e, StoreError::Damaged { .. } | StoreError::Corrupt { .. });
            if let StoreError::Damaged { detail, .. } = &e {
                contained += u64::from(detail.contains("internal check failed"));
            }
        }
    };
    note(store.stats().map(drop));
    note(store.case_ids().map(drop));
    note(
        store
            .queue(
                &all,
                &QueueQuery {
                    limit: 50,
                    category: None,
                    marketplace: None,
                },
            )
            .map(drop),
    );
    for kind in [ViewKind::All, ViewKind::NeedsAttention, ViewKind::Mine(user("ann"))] {
        note(store.view(&all, &ViewQuery::new(kind)).map(drop));
    }
    note(store.search(&all, "refund order", &SearchOptions::default()).map(drop));
    note(store.verify().map(drop));
    note(store.changes_after(0, 1000).map(drop));
    for n in numbers.iter().step_by(7) {
        note(store.case(&all, &CaseRef::Number(n.clone())).map(drop));
        note(store.full_thread(&all, &CaseRef::Number(n.clone())).map(drop));
    }
    note(store.snapshot().and_then(|s| {
        for item in s.cases(&all)? {
            item?;
        }
        Ok(())
    }));
    (damaged, contained)
}

/// What the seeds saw, to show the fuzzer is not vacuous.
#[derive(Debug, Default)]
struct Tally {
    seeds: u64,
    opened: u64,
    reads_saw_damage: u64,
    panics_contained: u64,
    untouched_cases: u64,
    touched_cases: u64,
    lost_cases: u64,
}

fn run_seed(original: &Original, seed: u64, tally: &mut Tally) {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xDA3E_39CB_94B9_5BDB);
    let work = tempfile::tempdir().unwrap();
    copy_dir(original.dir.path(), work.path());
    let (what, hit) = damage(work.path(), &mut rng);
    let ctx = format!("seed {seed} ({what}; pages {hit:?})");
    let before = files(work.path());
    tally.seeds += 1;

    // 1. Every read, read-only: no panic escapes, nothing is written.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        match Store::open_read_only(work.path(), Options::default()) {
            Ok(store) => {
                let (damaged, contained) = read_everything(&store, &original.numbers);
                if damaged {
                    assert!(
                        store.damage_seen().is_some(),
                        "{ctx}: damage reported but not remembered"
                    );
                }
                let write = store.create_case(new_case("seller-0", "ann", Category::Tax, "after", None));
                assert!(matches!(write, Err(StoreError::ReadOnly { .. })), "{ctx}: {write:?}");
                store.shutdown().unwrap();
                Some((damaged, contained))
            }
            Err(_) => None,
        }
    }));
    let opened = read.unwrap_or_else(|_| panic!("{ctx}: a panic escaped a read-only read"));
    if let Some((damaged, contained)) = opened {
        tally.opened += 1;
        tally.reads_saw_damage += u64::from(damaged);
        tally.panics_contained += contained;
    }
    assert!(
        files(work.path()) == before,
        "{ctx}: reading changed the store directory"
    );

    // 2. Salvage: untouched cases come back exactly; nothing is written.
    let mut salvaged: BTreeMap<u64, String> = BTreeMap::new();
    let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Store::salvage(work.path(), |case, thread| {
            salvaged.insert(case.id.0, to_line(case, thread));
            Ok(())
        })
    }))
    .unwrap_or_else(|_| panic!("{ctx}: a panic escaped salvage"));
    assert!(
        files(work.path()) == before,
        "{ctx}: salvage changed the store directory"
    );
    for (id, line) in &original.lines {
        let untouched = original.pages[id].is_disjoint(&hit);
        if untouched {
            tally.untouched_cases += 1;
            assert_eq!(
                salvaged.get(id),
                Some(line),
                "{ctx}: case #{id} was untouched but not salvaged intact"
            );
        } else {
            tally.touched_cases += 1;
        }
    }
    if let Ok(report) = &report {
        tally.lost_cases += report.lost.len() as u64;
        assert_eq!(report.recovered, salvaged.len() as u64, "{ctx}");
        // Every case is accounted for: recovered or listed as lost.
        if report.next_case_id == Some(121) {
            for id in original.lines.keys() {
                assert!(
                    salvaged.contains_key(id) || report.lost.iter().any(|l| l.id == *id),
                    "{ctx}: case #{id} neither salvaged nor reported lost"
                );
            }
        }
    }

    // 3. A read-write handle that has seen damage refuses every write.
    let rw = tempfile::tempdir().unwrap();
    copy_dir(work.path(), rw.path());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Ok(store) = Store::open(rw.path(), fast_options()) else {
            return;
        };
        let (damaged, _) = read_everything(&store, &original.numbers);
        if damaged || store.damage_seen().is_some() {
            let write = store.create_case(new_case("seller-0", "ann", Category::Tax, "after damage", None));
            assert!(
                matches!(write, Err(StoreError::WritesRefused { .. })),
                "{ctx}: {write:?}"
            );
        }
        let _ = store.shutdown();
    }));
    assert!(outcome.is_ok(), "{ctx}: a panic escaped a read-write handle");
}

fn fuzz(default_seeds: u64) {
    let original = build_original();
    let seeds = env_u64("DAMAGE_SEEDS").unwrap_or(default_seeds);
    let first = env_u64("DAMAGE_SEED").unwrap_or(1);
    let mut tally = Tally::default();
    for seed in first..first + seeds {
        run_seed(&original, seed, &mut tally);
    }
    eprintln!("damage fuzzer: {tally:?}");
    // The oracle is not vacuous: damage did hit cases, and spared some.
    if seeds >= 20 {
        assert!(tally.touched_cases > 0 && tally.untouched_cases > 0, "{tally:?}");
    }
}

#[test]
fn damaged_store_reads_are_typed_errors_and_salvage_recovers_untouched_cases() {
    fuzz(24);
}

#[test]
#[ignore = "long: 500 seeds"]
fn damaged_store_fuzzer_long() {
    fuzz(500);
}

/// The reported case: 8 bytes of garbage in the page the cases' B-tree
/// leaf sits in made every read command panic. Now a read reports the
/// damage, other reads go on, and nothing is written.
#[test]
fn garbage_in_a_case_page_is_a_typed_error_and_other_cases_still_read() {
    let original = build_original();
    // The page holding only one case's pages, preferring a page no other
    // case needs: damaging it must cost that case and spare the rest.
    let shared: BTreeSet<u64> = {
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for pages in original.pages.values() {
            for p in pages {
                *counts.entry(*p).or_default() += 1;
            }
        }
        counts.into_iter().filter(|(_, n)| *n > 1).map(|(p, _)| p).collect()
    };
    let (victim, page) = original
        .pages
        .iter()
        .find_map(|(id, pages)| pages.difference(&shared).next().map(|p| (*id, *p)))
        .expect("some case has a page of its own");
    let work = tempfile::tempdir().unwrap();
    copy_dir(original.dir.path(), work.path());
    let path = work.path().join(STORE_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    for (i, b) in bytes[(page * PAGE) as usize..((page + 1) * PAGE) as usize]
        .iter_mut()
        .enumerate()
    {
        *b = (i as u8).wrapping_mul(37) ^ 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let before = files(work.path());

    let store = Store::open_read_only(work.path(), Options::default()).unwrap();
    let all = Scope::AllTenants;
    let hurt = store.full_thread(&all, &CaseRef::Id(CaseId(victim)));
    let lines_ok = match &hurt {
        Ok(thread) => store
            .case(&all, &CaseRef::Id(CaseId(victim)))
            .ok()
            .flatten()
            .is_some_and(|c| to_line(&c, thread) == original.lines[&victim]),
        Err(_) => false,
    };
    assert!(!lines_ok, "the damaged page did not change case #{victim}");
    // Every other case reads as before.
    for (id, line) in &original.lines {
        if *id == victim || !original.pages[id].is_disjoint(&BTreeSet::from([page])) {
            continue;
        }
        let case = store.case(&all, &CaseRef::Id(CaseId(*id))).unwrap().unwrap();
        let thread = store.full_thread(&all, &CaseRef::Id(CaseId(*id))).unwrap();
        assert_eq!(&to_line(&case, &thread), line);
    }
    store.shutdown().unwrap();
    assert!(files(work.path()) == before, "reading changed the store directory");

    let mut salvaged = BTreeSet::new();
    let report = Store::salvage(work.path(), |case, _| {
        salvaged.insert(case.id.0);
        Ok(())
    })
    .unwrap();
    let others: BTreeSet<u64> = original
        .pages
        .iter()
        .filter(|(_, p)| !p.contains(&page))
        .map(|(id, _)| *id)
        .collect();
    assert!(salvaged.is_superset(&others));
    assert_eq!(report.recovered as usize + report.lost.len(), 120, "{report:?}");
}
