//! The index's consistency guarantees, seen from the outside:
//! - open never waits for a rebuild: reads work at once, searches say
//!   `IndexRebuilding` while there is no usable index, and answer from the
//!   old index while `reindex` runs;
//! - an index of another store is rebuilt at open;
//! - a case indexed twice is found (by the document count after a commit,
//!   or by the open-time check after an unclean shutdown), re-indexed,
//!   counted, and `verify` is clean afterwards.
//!
//! A rebuild is held at its commit by an index-directory hook that blocks
//! `meta.json`'s write until the test lets it go, so the "while it runs"
//! states are observed deterministically.

mod search_common;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use caselog_core::*;
use caselog_store::*;
use search_common::*;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{Directory, DirectoryLock, FileHandle, Lock, WatchCallback, WatchHandle, WritePtr};

/// Opens the gate when dropped, so a failing test does not leave the
/// indexer (and the store's shutdown) stuck at it.
struct OpenOnDrop(Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// A gate `meta.json` writes wait at while it is closed.
#[derive(Debug, Default)]
struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
    /// Writers waiting at the gate.
    waiting: Mutex<usize>,
    arrived: Condvar,
}

impl Gate {
    fn close(&self) {
        *self.closed.lock().unwrap() = true;
    }

    fn open(&self) {
        *self.closed.lock().unwrap() = false;
        self.opened.notify_all();
    }

    fn pass(&self) {
        let mut closed = self.closed.lock().unwrap();
        if *closed {
            *self.waiting.lock().unwrap() += 1;
            self.arrived.notify_all();
        }
        while *closed {
            closed = self.opened.wait(closed).unwrap();
        }
    }

    /// Waits until a writer is held at the gate.
    fn wait_for_arrival(&self) {
        let mut waiting = self.waiting.lock().unwrap();
        while *waiting == 0 {
            waiting = self.arrived.wait(waiting).unwrap();
        }
    }
}

#[derive(Debug, Clone)]
struct Gated {
    inner: Box<dyn Directory>,
    gate: Arc<Gate>,
}

impl Directory for Gated {
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
        self.inner.open_write(path)
    }
    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        // Only commits carrying the indexer's payload (which names the
        // store), not the empty meta.json of a newly created index.
        let marker: &[u8] = b"\\\"store\\\"";
        if path == Path::new("meta.json") && data.windows(marker.len()).any(|w| w == marker) {
            self.gate.pass();
        }
        self.inner.atomic_write(path, data)
    }
    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }
    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }
    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(callback)
    }
}

fn gated(gate: &Arc<Gate>) -> StorageHooks {
    let gate = gate.clone();
    StorageHooks {
        backend: None,
        index_directory: Some(Arc::new(move |mmap| {
            Box::new(Gated {
                inner: mmap,
                gate: gate.clone(),
            }) as Box<dyn Directory>
        })),
        wal: None,
    }
}

fn index_dir(dir: &Path) -> PathBuf {
    dir.join(caselog_store::index::INDEX_DIR)
}

/// A store with `n` cases (case `i` has the word `wordI`), shut down cleanly.
fn make_store(n: usize) -> (tempfile::TempDir, Vec<CaseNumber>) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let numbers = (0..n)
        .map(|i| {
            store
                .create_case(new_case("s1", &format!("Parcel word{i}"), "where is it"))
                .unwrap()
                .number
        })
        .collect();
    store.shutdown().unwrap();
    (dir, numbers)
}

fn count(store: &Store, q: &str) -> Result<u64> {
    store
        .search(&Scope::AllTenants, q, &SearchOptions::default())
        .map(|r| r.total)
}

#[test]
fn open_does_not_wait_for_a_rebuild_and_reads_work_meanwhile() {
    let (dir, numbers) = make_store(30);
    std::fs::remove_dir_all(index_dir(dir.path())).unwrap();
    let gate = Arc::new(Gate::default());
    gate.close();
    let store = Store::open_with(dir.path(), Options::default(), gated(&gate)).unwrap();
    // Dropped first, before the store waits for its indexer.
    let _release = OpenOnDrop(gate.clone());
    gate.wait_for_arrival();
    // The rebuild is complete but held at its commit: nothing is searchable.
    match count(&store, "parcel") {
        Err(StoreError::IndexRebuilding { done, total }) => {
            assert_eq!(total, 30);
            assert!(done <= total);
        }
        other => panic!("expected IndexRebuilding, got {other:?}"),
    }
    match store.index_status() {
        IndexStatus::Rebuilding {
            reason,
            total,
            serving_old,
            ..
        } => {
            assert_eq!(reason, RebuildReason::Missing);
            assert_eq!(total, 30);
            assert!(!serving_old);
        }
        other => panic!("expected a rebuild, got {other:?}"),
    }
    assert!(!store
        .wait_indexed(store.last_change(), std::time::Duration::ZERO)
        .unwrap());
    // Reads by number, views and the queue answer from redb at once.
    let case = store
        .case(&Scope::AllTenants, &CaseRef::Number(numbers[7].clone()))
        .unwrap()
        .expect("the case is there");
    assert_eq!(case.title, "Parcel word7");
    let page = store.view(&Scope::AllTenants, &ViewQuery::new(ViewKind::All)).unwrap();
    assert_eq!(page.total, 30);
    let queue = store
        .queue(
            &Scope::AllTenants,
            &QueueQuery {
                limit: 100,
                category: None,
                marketplace: None,
            },
        )
        .unwrap();
    assert_eq!(queue.len(), 30);
    // Writes go on and are indexed after the rebuild.
    let extra = store
        .create_case(new_case("s1", "Parcel latecomer", "arrived during the rebuild"))
        .unwrap();
    gate.open();
    settle(&store);
    assert_eq!(count(&store, "parcel").unwrap(), 31);
    assert_eq!(count(&store, "latecomer").unwrap(), 1);
    assert!(matches!(store.index_status(), IndexStatus::Ready { change } if change >= extra.change));
    assert_eq!(store.index_rebuilt_on_open().unwrap().reason, RebuildReason::Missing);
    assert!(store.verify().unwrap().is_consistent());
    store.shutdown().unwrap();
}

#[test]
fn reindex_serves_the_old_index_meanwhile() {
    let (dir, _) = make_store(20);
    let gate = Arc::new(Gate::default());
    let store = Arc::new(Store::open_with(dir.path(), Options::default(), gated(&gate)).unwrap());
    settle(&store);
    gate.close();
    let _release = OpenOnDrop(gate.clone());
    let rebuild = {
        let store = store.clone();
        std::thread::spawn(move || store.reindex(|_| {}))
    };
    gate.wait_for_arrival();
    assert_eq!(count(&store, "parcel").unwrap(), 20);
    assert!(matches!(
        store.index_status(),
        IndexStatus::Rebuilding {
            serving_old: true,
            reason: RebuildReason::Requested,
            ..
        }
    ));
    gate.open();
    let report = rebuild.join().unwrap().unwrap();
    assert_eq!(report.cases, 20);
    assert_eq!(count(&store, "parcel").unwrap(), 20);
    assert!(store.verify().unwrap().is_consistent());
    assert!(!dir.path().join("index.new").exists() && !dir.path().join("index.old").exists());
    Arc::into_inner(store).unwrap().shutdown().unwrap();
}

#[test]
fn the_index_of_another_store_is_rebuilt_at_open() {
    let (a, _) = make_store(10);
    let (b, _) = make_store(10);
    std::fs::remove_dir_all(index_dir(b.path())).unwrap();
    std::fs::rename(index_dir(a.path()), index_dir(b.path())).unwrap();
    let store = Store::open_with_progress(b.path(), Options::default(), |_| {}).unwrap();
    let report = store.index_rebuilt_on_open().expect("rebuilt");
    assert!(
        matches!(&report.reason, RebuildReason::Stale(why) if why.contains("another store")),
        "{:?}",
        report.reason
    );
    assert!(store.verify().unwrap().is_consistent());
    store.shutdown().unwrap();
    // The store's own index, from then on, is kept.
    let store = Store::open(b.path(), Options::default()).unwrap();
    assert!(store.index_rebuilt_on_open().is_none());
    assert!(matches!(store.index_status(), IndexStatus::Ready { .. }));
    store.shutdown().unwrap();
}

/// The index of a closed store, and case `id` with its thread as the store
/// holds it.
fn document_of(dir: &Path, id: u64) -> (tantivy::Index, Case, Vec<ThreadEntry>) {
    let store = Store::open_read_only(dir, Options::default()).unwrap();
    let (case, thread) = store
        .case_with_thread(&Scope::AllTenants, &CaseRef::Id(CaseId(id)))
        .unwrap()
        .unwrap();
    drop(store);
    let index = tantivy::Index::open_in_dir(index_dir(dir)).unwrap();
    caselog_store::index::analysis::register(&index);
    (index, case, thread)
}

/// Adds `doc` to the index of a closed store, keeping the commit payload.
fn add_behind_the_store(index: &tantivy::Index, doc: tantivy::TantivyDocument) {
    let payload = index.load_metas().unwrap().payload.unwrap();
    let mut writer: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
    writer.add_document(doc).unwrap();
    let mut prepared = writer.prepare_commit().unwrap();
    prepared.set_payload(&payload);
    prepared.commit().unwrap();
    writer.wait_merging_threads().unwrap();
}

/// Adds a second live document for the case with id `id`, straight into the
/// index of a closed store, keeping the commit payload.
fn duplicate_document(dir: &Path, id: u64) {
    let (index, case, thread) = document_of(dir, id);
    add_behind_the_store(&index, caselog_store::index::case_document(&case, &thread, 0));
}

#[test]
fn a_case_indexed_twice_is_found_by_the_count_and_repaired() {
    let (dir, _) = make_store(12);
    duplicate_document(dir.path(), 5);
    // A clean shutdown: the open-time check does not run, the count does.
    let store = Store::open(dir.path(), Options::default()).unwrap();
    settle(&store);
    wait_for(|| store.index_counters().count_mismatches > 0);
    let c = store.index_counters();
    assert_eq!(
        (c.count_mismatches, c.cases_repaired, c.open_duplicates),
        (1, 1, 0),
        "{c:?}"
    );
    let report = store.verify().unwrap();
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!(report.documents, 12);
    assert_eq!(count(&store, "parcel").unwrap(), 12);
    store.shutdown().unwrap();
}

#[test]
fn after_an_unclean_shutdown_the_open_check_finds_a_case_indexed_twice() {
    for open_check in [true, false] {
        let (dir, _) = make_store(12);
        duplicate_document(dir.path(), 3);
        std::fs::remove_file(dir.path().join("index.clean")).unwrap();
        let opts = Options {
            index_open_duplicate_check: open_check,
            ..Options::default()
        };
        let store = Store::open(dir.path(), opts).unwrap();
        wait_for(|| {
            let c = store.index_counters();
            c.open_duplicates + c.count_mismatches > 0
        });
        let c = store.index_counters();
        if open_check {
            assert_eq!((c.open_duplicates, c.count_mismatches), (1, 0), "{c:?}");
        } else {
            // The guard behind it: the document count after open.
            assert_eq!((c.open_duplicates, c.count_mismatches), (0, 1), "{c:?}");
        }
        let report = store.verify().unwrap();
        assert!(report.is_consistent(), "{report:?}");
        assert_eq!(report.documents, 12);
        store.shutdown().unwrap();
    }
}

#[test]
fn a_store_opened_twice_keeps_its_id_and_its_index() {
    let (dir, _) = make_store(5);
    for _ in 0..2 {
        let store = Store::open(dir.path(), Options::default()).unwrap();
        assert!(store.index_rebuilt_on_open().is_none());
        assert!(matches!(store.index_status(), IndexStatus::Ready { .. }));
        store.shutdown().unwrap();
    }
}

fn wait_for(mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met within {WAIT:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Adds an older document of case `id` (version 0, below every document
/// the indexer adds, and status `status`) straight into the index of a
/// closed store, keeping the commit payload: what a delete lost by tantivy
/// leaves behind.
fn stale_document(dir: &Path, id: u64, status: Status) {
    let (index, mut case, thread) = document_of(dir, id);
    case.state.status = status;
    add_behind_the_store(&index, caselog_store::index::case_document(&case, &thread, 0));
}

/// Every search over `store` counts and shows each of the `n` cases once:
/// totals, facets, and the hits of a walk over all pages.
fn assert_each_case_once(store: &Store, n: u64) {
    for q in ["*", "parcel", "where"] {
        let mut seen = std::collections::BTreeSet::new();
        let mut page = 1;
        loop {
            let opts = SearchOptions {
                page,
                per_page: 5,
                ..SearchOptions::default()
            };
            let r = store.search(&Scope::AllTenants, q, &opts).unwrap();
            assert_eq!(r.total, n, "{q}: total");
            assert_eq!(r.facets.by_status.values().sum::<u64>(), n, "{q}: status facets");
            assert_eq!(r.facets.by_category.values().sum::<u64>(), n, "{q}: category facets");
            // Only the current document's status is counted.
            assert_eq!(r.facets.by_status.get(&Status::Closed), None, "{q}: {:?}", r.facets);
            for hit in &r.hits {
                assert!(seen.insert(hit.id), "{q}: case {:?} shown twice", hit.id);
                assert_ne!(hit.status, Status::Closed, "{q}: the stale document was shown");
            }
            if r.hits.len() < 5 {
                break;
            }
            page += 1;
        }
        assert_eq!(seen.len() as u64, n, "{q}: hits");
    }
}

#[test]
fn a_stale_document_is_never_shown_or_counted() {
    let (dir, _) = make_store(12);
    stale_document(dir.path(), 5, Status::Closed);
    stale_document(dir.path(), 9, Status::Closed);
    // A read-only store has no indexer and never repairs: only the filter
    // keeps the two older documents out of every answer.
    let ro = Store::open_read_only(dir.path(), Options::default()).unwrap();
    assert!(ro.index_rebuilt_on_open().is_none());
    assert_each_case_once(&ro, 12);
    let c = ro.index_counters();
    assert_eq!((c.stale_generations, c.stale_documents), (1, 2), "{c:?}");
    assert!(c.stale_filtered >= 6, "{c:?}");
    drop(ro);
    // Read-write: found at open (before the first search can run), then
    // repaired by the count check, and searches are right throughout.
    let store = Store::open(dir.path(), Options::default()).unwrap();
    assert_each_case_once(&store, 12);
    let c = store.index_counters();
    assert!(c.stale_generations >= 1 && c.stale_documents >= 2, "{c:?}");
    wait_for(|| store.index_counters().count_mismatches > 0);
    settle(&store);
    let report = store.verify().unwrap();
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!(report.documents, 12);
    assert_each_case_once(&store, 12);
    store.shutdown().unwrap();
    // The repaired index has no stale documents left.
    let store = Store::open(dir.path(), Options::default()).unwrap();
    assert_eq!(store.index_counters().stale_generations, 0);
    store.shutdown().unwrap();
}

/// The state a crash between the two renames of an install leaves: the
/// old index moved aside, the rebuilt one still staged, none in place.
fn crash_between_renames(dir: &Path, staged: &Path) {
    let old = dir.join("index.old");
    std::fs::rename(index_dir(dir), &old).unwrap();
    std::fs::rename(staged, dir.join("index.new")).unwrap();
    std::fs::remove_file(dir.join("index.clean")).unwrap();
}

#[test]
fn a_complete_staged_index_left_between_the_renames_is_installed() {
    let (dir, _) = make_store(10);
    // The "rebuilt" index: a copy of the store's own, complete index.
    let staged = dir.path().join("staged");
    copy_dir(&index_dir(dir.path()), &staged);
    crash_between_renames(dir.path(), &staged);
    let store = Store::open(dir.path(), Options::default()).unwrap();
    assert!(store.index_rebuilt_on_open().is_none());
    assert!(matches!(store.index_status(), IndexStatus::Ready { .. }));
    assert_eq!(count(&store, "parcel").unwrap(), 10);
    assert!(!dir.path().join("index.new").exists());
    settle(&store);
    let report = store.verify().unwrap();
    assert!(report.is_consistent(), "{report:?}");
    wait_for(|| !dir.path().join("index.old").exists());
    store.shutdown().unwrap();
}

#[test]
fn an_unfit_staged_index_left_between_the_renames_is_discarded() {
    // Unfinished (no commit payload yet), and of another store.
    let (other, _) = make_store(3);
    for unfit in ["unfinished", "foreign"] {
        let (dir, _) = make_store(10);
        let staged = dir.path().join("staged");
        match unfit {
            "unfinished" => {
                std::fs::create_dir(&staged).unwrap();
                let (schema, _) = {
                    let index = tantivy::Index::open_in_dir(index_dir(dir.path())).unwrap();
                    (index.schema(), ())
                };
                tantivy::Index::create_in_dir(&staged, schema).unwrap();
            }
            _ => copy_dir(&index_dir(other.path()), &staged),
        }
        crash_between_renames(dir.path(), &staged);
        let store = Store::open(dir.path(), Options::default()).unwrap();
        settle(&store);
        let report = store.index_rebuilt_on_open().expect("rebuilt");
        assert_eq!(report.reason, RebuildReason::Missing, "{unfit}");
        assert_eq!(count(&store, "parcel").unwrap(), 10, "{unfit}");
        let v = store.verify().unwrap();
        assert!(v.is_consistent(), "{unfit}: {v:?}");
        assert!(!dir.path().join("index.new").exists(), "{unfit}");
        store.shutdown().unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
