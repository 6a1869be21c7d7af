//! Crash consistency of the index: whatever happened to the index directory
//! (deleted, garbage meta.json, a truncated segment, an old copy, a copy
//! torn while being written, a rebuild cut short, a copy from a later
//! store), reopening gives the same search results as a fresh rebuild, and
//! `verify` proves index and store agree.

mod search_common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use caselog_core::*;
use caselog_store::*;
use search_common::*;

/// Queries whose results are compared before and after a rebuild.
const QUERIES: &[&str] = &[
    "",
    "refund",
    "账户 停用",
    "退款",
    "\"refund delayed\"",
    "refund -suspended",
    "status:open",
    "category:payments OR category:account_health",
    "created:2026-01-01..2026-01-15",
    "停用 OR suspended",
];

/// A comparable summary of a search: total, facets and every hit id in a
/// total order (creation time, then id).
fn answers(store: &Store) -> Vec<(u64, Vec<CaseId>, Facets)> {
    let opts = SearchOptions {
        sort: SearchSort::Created,
        per_page: 1000,
        snippets: false,
        ..SearchOptions::default()
    };
    let mut out = Vec::new();
    for scope in [Scope::AllTenants, Scope::Tenant(tenant("s1"))] {
        for q in QUERIES {
            let r = store.search(&scope, q, &opts).unwrap();
            out.push((r.total, r.hits.iter().map(|h| h.id).collect(), r.facets));
        }
    }
    out
}

fn write_cases(store: &Store, from: usize, count: usize) {
    let texts = [
        ("Refund delayed", "The refund for my order is delayed."),
        ("账户问题", "我的账户被停用了"),
        ("退款", "请尽快处理退款"),
        ("Account suspended", "Our account was suspended, please help"),
    ];
    let categories = [
        Category::Payments,
        Category::AccountHealth,
        Category::Orders,
        Category::Listing,
    ];
    for i in from..from + count {
        let (title, body) = texts[i % texts.len()];
        let mut c = new_case(if i % 3 == 0 { "s2" } else { "s1" }, title, &format!("{body} #{i}"));
        c.category = categories[i % categories.len()];
        c.at = Some(day("2026-01-01").saturating_add(Span::hours(i as i64 * 7)));
        let created = store.create_case(c).unwrap();
        if i % 5 == 0 {
            store
                .apply_event(
                    &Scope::AllTenants,
                    &CaseRef::Id(created.id),
                    Actor::Support(user("agent-1")),
                    CaseEvent::PickUp,
                    "looking",
                    None,
                )
                .unwrap();
        }
    }
}

fn quick() -> Options {
    Options {
        durability: Durability::Deferred,
        ..Options::default()
    }
}

/// Reopens the store, checks the index was (or was not) rebuilt as
/// expected, and that results equal those after a fresh rebuild and the
/// index verifies.
fn check_reopen(dir: &Path, expect: Option<fn(&RebuildReason) -> bool>) {
    let mut progress = Vec::new();
    let store = Store::open_with_progress(dir, quick(), |p| progress.push(p.clone())).unwrap();
    match (expect, store.index_rebuilt_on_open()) {
        (None, None) => assert!(progress.is_empty()),
        (Some(ok), Some(report)) => {
            assert!(ok(&report.reason), "unexpected reason {:?}", report.reason);
            let (first, last) = (progress.first().unwrap(), progress.last().unwrap());
            assert_eq!(first.done, 0);
            assert_eq!((last.done, last.total), (report.cases, report.cases));
        }
        (expect, got) => panic!("expected a rebuild: {}, got {got:?}", expect.is_some()),
    }
    settle(&store);
    let report = store.verify().unwrap();
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!(report.documents, report.cases);
    let before = answers(&store);
    let rebuilt = store.reindex(|_| {}).unwrap();
    assert_eq!(rebuilt.reason, RebuildReason::Requested);
    settle(&store);
    assert_eq!(before, answers(&store));
    assert!(store.verify().unwrap().is_consistent());
    store.shutdown().unwrap();
}

/// A store with `n` cases, shut down cleanly.
fn make_store(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), quick()).unwrap();
    write_cases(&store, 0, n);
    store.shutdown().unwrap();
    dir
}

fn index_dir(dir: &Path) -> PathBuf {
    dir.join(caselog_store::index::INDEX_DIR)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        // Files may vanish while the index is being written; a torn copy
        // is exactly what this simulates.
        let _ = std::fs::copy(entry.path(), to.join(entry.file_name()));
    }
}

#[test]
fn a_clean_reopen_neither_rebuilds_nor_loses_anything() {
    let dir = make_store(40);
    check_reopen(dir.path(), None);
}

#[test]
fn a_deleted_index_is_rebuilt() {
    let dir = make_store(40);
    std::fs::remove_dir_all(index_dir(dir.path())).unwrap();
    check_reopen(dir.path(), Some(|r| *r == RebuildReason::Missing));
}

#[test]
fn garbage_in_meta_json_is_rebuilt() {
    let dir = make_store(40);
    std::fs::write(index_dir(dir.path()).join("meta.json"), b"{ this is not json").unwrap();
    check_reopen(dir.path(), Some(|r| matches!(r, RebuildReason::Unreadable(_))));
}

#[test]
fn a_truncated_segment_file_is_rebuilt() {
    let dir = make_store(60);
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(index_dir(dir.path()))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "json" && e != "lock"))
        .map(|p| (std::fs::metadata(&p).unwrap().len(), p))
        .collect();
    files.sort();
    let (len, biggest) = files.last().unwrap().clone();
    let f = std::fs::OpenOptions::new().write(true).open(&biggest).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    check_reopen(dir.path(), Some(|r| matches!(r, RebuildReason::Unreadable(_))));
}

#[test]
fn an_index_behind_the_store_catches_up_by_itself() {
    let dir = make_store(30);
    let old = tempfile::tempdir().unwrap();
    copy_dir(&index_dir(dir.path()), old.path());
    let store = Store::open(dir.path(), quick()).unwrap();
    write_cases(&store, 30, 30);
    store.shutdown().unwrap();
    // Put the old index back, as if the new commits had been lost.
    std::fs::remove_dir_all(index_dir(dir.path())).unwrap();
    copy_dir(old.path(), &index_dir(dir.path()));
    check_reopen(dir.path(), None);
}

#[test]
fn an_index_ahead_of_a_restored_store_is_rebuilt() {
    let dir = make_store(30);
    let backup = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join(STORE_FILE), backup.path().join(STORE_FILE)).unwrap();
    let store = Store::open(dir.path(), quick()).unwrap();
    write_cases(&store, 30, 10);
    store.shutdown().unwrap();
    // Restore the older store file under the newer index.
    std::fs::copy(backup.path().join(STORE_FILE), dir.path().join(STORE_FILE)).unwrap();
    check_reopen(dir.path(), Some(|r| matches!(r, RebuildReason::Stale(_))));
}

#[test]
fn an_index_behind_a_pruned_change_log_is_rebuilt() {
    let dir = make_store(20);
    let old = tempfile::tempdir().unwrap();
    copy_dir(&index_dir(dir.path()), old.path());
    let store = Store::open(
        dir.path(),
        Options {
            index_prune_every: 1,
            ..quick()
        },
    )
    .unwrap();
    write_cases(&store, 20, 20);
    settle(&store);
    // Pruning is fire and forget after a commit; a write after it makes
    // sure the writer has run it.
    store.sync().unwrap();
    store.shutdown().unwrap();
    let store = Store::open(dir.path(), quick()).unwrap();
    let last = store.last_change();
    assert!(
        store.changes_after(0, 1000).unwrap().len() < last as usize,
        "nothing was pruned"
    );
    store.shutdown().unwrap();
    std::fs::remove_dir_all(index_dir(dir.path())).unwrap();
    copy_dir(old.path(), &index_dir(dir.path()));
    check_reopen(dir.path(), Some(|r| matches!(r, RebuildReason::Stale(_))));
}

#[test]
fn a_rebuild_cut_short_is_redone() {
    let dir = make_store(3_000);
    std::fs::remove_dir_all(index_dir(dir.path())).unwrap();
    // Open starts the rebuild in the background; closing the store at once
    // stops it before its commit, as a crash would.
    let store = Store::open(dir.path(), quick()).unwrap();
    store.shutdown().unwrap();
    check_reopen(
        dir.path(),
        Some(|r| {
            matches!(
                r,
                RebuildReason::Stale(_) | RebuildReason::Missing | RebuildReason::Unreadable(_)
            )
        }),
    );
}

#[test]
fn an_index_copied_while_being_written_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), quick()).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !done.load(Ordering::Relaxed) {
                write_cases(&store, i, 5);
                i += 5;
            }
        })
    };
    // Wait for a few commits, then copy the index mid-flight.
    while store.indexed_change() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let torn = tempfile::tempdir().unwrap();
    copy_dir(&index_dir(dir.path()), torn.path());
    done.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    Arc::into_inner(store).unwrap().shutdown().unwrap();
    std::fs::remove_dir_all(index_dir(dir.path())).unwrap();
    copy_dir(torn.path(), &index_dir(dir.path()));
    // Whether the copy is usable (caught up) or not (rebuilt) depends on
    // timing; either way the results must be right.
    let store = Store::open(dir.path(), quick()).unwrap();
    settle(&store);
    let report = store.verify().unwrap();
    assert!(report.is_consistent(), "{report:?}");
    let before = answers(&store);
    store.reindex(|_| {}).unwrap();
    assert_eq!(before, answers(&store));
    store.shutdown().unwrap();
}

#[test]
fn verify_notices_a_wrong_index() {
    // Two stores with different content: the index of one under the other
    // store is refused at open (it names another store), and were it not,
    // verify would catch it by the fingerprints even though the change
    // counts fit.
    let a = make_store(10);
    let b = tempfile::tempdir().unwrap();
    let store = Store::open(b.path(), quick()).unwrap();
    for i in 0..10 {
        let mut c = new_case("s1", "Different", &format!("other text {i}"));
        c.at = Some(day("2026-01-01"));
        store.create_case(c).unwrap();
        store
            .set_complex(&CaseRef::Id(CaseId(i + 1)), UserId::parse("agent-1").unwrap(), true)
            .map(|_| ())
            .unwrap_or(());
    }
    store.shutdown().unwrap();
    std::fs::remove_dir_all(index_dir(b.path())).unwrap();
    copy_dir(&index_dir(a.path()), &index_dir(b.path()));
    let store = Store::open_with_progress(b.path(), quick(), |_| {}).unwrap();
    assert!(
        matches!(store.index_rebuilt_on_open(), Some(r) if matches!(r.reason, RebuildReason::Stale(_))),
        "the index of another store was accepted"
    );
    if store.index_rebuilt_on_open().is_none() {
        let report = store.verify().unwrap();
        assert!(!report.is_consistent());
        assert!(!report.mismatched.is_empty(), "{report:?}");
        store.reindex(|_| {}).unwrap();
    }
    assert!(store.verify().unwrap().is_consistent());
    store.shutdown().unwrap();
}
