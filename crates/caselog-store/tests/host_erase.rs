//! Erasure, scrub and retention: an erased case is gone from every read,
//! the feed reports it, shared attachments survive, and after the scrub no
//! byte of its text remains in the store file or the index files.

mod common;

use std::path::Path;
use std::time::Duration;

use caselog_core::*;
use caselog_store::*;
use common::*;

fn sha(bytes: &[u8]) -> ContentHash {
    use sha2::Digest;
    ContentHash(sha2::Sha256::digest(bytes).into())
}

fn attachment(name: &str, bytes: &[u8]) -> NewAttachment {
    NewAttachment {
        meta: AttachmentMeta::new(
            name,
            "text/plain",
            bytes.len() as u64,
            sha(bytes),
            &AttachmentPolicy::default(),
        )
        .unwrap(),
        bytes: Some(bytes.to_vec()),
    }
}

/// Every file under `dir` (recursively) that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn an_erased_case_leaves_no_byte_of_its_text_after_the_scrub() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default();
    let store = Store::open(dir.path(), opts.clone()).unwrap();
    let s = Scope::Tenant(tenant("seller-a"));
    let all = Scope::AllTenants;
    store.feed_register(&all, "host", FeedStart::Beginning).unwrap();
    // Words that occur nowhere else: in the title, a message and an attachment.
    let secret_title = "Quixotrembling parcel";
    let secret_body = "my passport number is ZX81SPECTRUM and the code is jabberwockyvorpal";
    let secret_file = b"attachment-only-secret-frumiousbandersnatch";
    let shared_file = b"shared invoice bytes kept by the other case";
    let mut n = new_case("seller-a", "ann", Category::Orders, secret_title, None);
    n.description = secret_body.into();
    n.attachments = vec![
        attachment("private.txt", secret_file),
        attachment("invoice.txt", shared_file),
    ];
    let doomed = store.create_case(n).unwrap();
    store
        .reply(
            &all,
            &CaseRef::Id(doomed.id),
            NewMessage::new(agent("bob"), "reply mentioning jabberwockyvorpal again"),
        )
        .unwrap();
    let mut keep = new_case("seller-a", "ann", Category::Orders, "kept case", None);
    keep.attachments = vec![attachment("invoice.txt", shared_file)];
    let kept = store.create_case(keep).unwrap();
    for i in 0..30 {
        store
            .create_case(new_case("seller-b", "cy", Category::Tax, &format!("filler {i}"), None))
            .unwrap();
    }
    store
        .mark_read(&s, &user("ann"), &CaseRef::Id(doomed.id), None)
        .unwrap();
    assert!(store
        .wait_indexed(store.last_change(), Duration::from_secs(30))
        .unwrap());
    assert_eq!(
        store
            .search(&s, "jabberwockyvorpal", &SearchOptions::default())
            .unwrap()
            .total,
        1
    );

    // Another tenant cannot erase it.
    let other = Scope::Tenant(tenant("seller-b"));
    assert!(matches!(
        store.erase(&other, &CaseRef::Id(doomed.id)),
        Err(StoreError::CaseNotFound(_))
    ));
    let erased = store.erase(&s, &CaseRef::Number(doomed.number.clone())).unwrap();
    assert_eq!(
        (erased.id, erased.entries, erased.blobs, erased.feed_records),
        (doomed.id, 2, 1, 2)
    );
    assert!(store.case(&all, &CaseRef::Id(doomed.id)).unwrap().is_none());
    assert!(store
        .case(&all, &CaseRef::Number(doomed.number.clone()))
        .unwrap()
        .is_none());
    assert!(matches!(
        store.erase(&s, &CaseRef::Id(doomed.id)),
        Err(StoreError::CaseNotFound(_))
    ));
    let view = store.view(&s, &ViewQuery::new(ViewKind::All)).unwrap();
    assert_eq!(view.cases.iter().map(|c| c.id).collect::<Vec<_>>(), vec![kept.id]);
    assert!(store
        .queue(
            &all,
            &QueueQuery {
                limit: 1000,
                category: None,
                marketplace: None
            }
        )
        .unwrap()
        .iter()
        .all(|e| e.case.id != doomed.id));
    assert_eq!(store.read_marker_count().unwrap(), 0);
    // The shared attachment is still there for the other case.
    assert_eq!(
        store.attachment(&s, &CaseRef::Id(kept.id), &sha(shared_file)).unwrap(),
        Some(shared_file.to_vec())
    );
    // The feed: the case's two changes are replaced by one tombstone.
    let page = store.feed(&all, "host", None, 100).unwrap();
    let of_doomed: Vec<&FeedChange> = page.changes.iter().filter(|c| c.case == doomed.id).collect();
    assert_eq!(of_doomed.len(), 1);
    assert_eq!(
        (of_doomed[0].kind.clone(), of_doomed[0].seq),
        (ChangeKind::Erased, erased.change)
    );
    assert!(store.wait_indexed(erased.change, Duration::from_secs(30)).unwrap());
    assert_eq!(
        store
            .search(&s, "jabberwockyvorpal", &SearchOptions::default())
            .unwrap()
            .total,
        0
    );
    assert!(store.verify().unwrap().is_consistent());
    store.shutdown().unwrap();

    let report = Store::scrub(dir.path()).unwrap();
    assert!(report.segments_after <= 1, "{report:?}");
    for needle in [
        &b"jabberwockyvorpal"[..],
        b"ZX81SPECTRUM",
        b"zx81spectrum",
        b"Quixotrembling",
        b"quixotrembl",
        b"frumiousbandersnatch",
    ] {
        let hits = files_containing(dir.path(), needle);
        assert!(hits.is_empty(), "{} still in {hits:?}", String::from_utf8_lossy(needle));
    }
    // The kept case's text is still in the files (the grep can find text).
    assert!(!files_containing(dir.path(), b"kept case").is_empty());

    let store = Store::open(dir.path(), opts).unwrap();
    // The merge kept the index's commit (store id and change): no rebuild.
    assert!(
        store.index_rebuilt_on_open().is_none(),
        "{:?}",
        store.index_rebuilt_on_open()
    );
    assert!(store.verify().unwrap().is_consistent());
    assert_eq!(store.search(&s, "kept", &SearchOptions::default()).unwrap().total, 1);
    assert_eq!(
        store
            .search(&s, "jabberwockyvorpal", &SearchOptions::default())
            .unwrap()
            .total,
        0
    );
    store.shutdown().unwrap();
}

#[test]
fn scrub_refuses_an_open_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_options()).unwrap();
    assert!(matches!(Store::scrub(dir.path()), Err(StoreError::AlreadyOpen { .. })));
    store.shutdown().unwrap();
}

#[test]
fn retention_erases_final_cases_past_their_time_and_dry_run_only_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fast_options();
    opts.retention.final_older_than = Some(Span::days(365));
    opts.retention.per_tenant.insert(tenant("seller-keep"), None);
    opts.retention
        .per_tenant
        .insert(tenant("seller-short"), Some(Span::days(30)));
    let store = Store::open(dir.path(), opts).unwrap();
    let t0 = ts("2024-01-10T10:00:00Z");
    let all = Scope::AllTenants;
    // (tenant, closed?, days after t0 it was closed)
    let plan = [
        ("seller-a", true, 0),       // closed 2024-01: due in 2026
        ("seller-a", false, 0),      // open: never due
        ("seller-a", true, 700),     // closed late 2025: not yet due
        ("seller-keep", true, 0),    // tenant keeps forever
        ("seller-short", true, 650), // 30-day rule: due
    ];
    let mut ids = Vec::new();
    for (i, (t, close, days)) in plan.iter().enumerate() {
        let c = store
            .create_case(new_case(t, "ann", Category::Orders, &format!("case {i}"), Some(t0)))
            .unwrap();
        if *close {
            let at = t0.saturating_add(Span::days(*days));
            store
                .apply_event(
                    &Scope::Tenant(tenant(t)),
                    &CaseRef::Id(c.id),
                    seller("ann"),
                    CaseEvent::Close,
                    "",
                    Some(at),
                )
                .unwrap();
        }
        ids.push(c.id);
    }
    let now = ts("2026-01-01T00:00:00Z");
    let dry = store.run_retention(now, true).unwrap();
    let due: Vec<CaseId> = dry.due.iter().map(|d| d.0).collect();
    assert_eq!(due, vec![ids[0], ids[4]]);
    assert_eq!(dry.erased, 0);
    assert_eq!(store.view(&all, &ViewQuery::new(ViewKind::All)).unwrap().total, 5);
    let done = store.run_retention(now, false).unwrap();
    assert_eq!((done.erased, done.due.len()), (2, 2));
    for (i, id) in ids.iter().enumerate() {
        let present = store.case(&all, &CaseRef::Id(*id)).unwrap().is_some();
        assert_eq!(present, i != 0 && i != 4, "case {i}");
    }
    assert!(store.run_retention(now, false).unwrap().due.is_empty());
    assert!(store.verify().unwrap().is_consistent());
    store.shutdown().unwrap();
}

/// Compaction after an import gives free pages back (the file does not
/// grow, and shrinks once cases are erased) and changes no read: every
/// case with its thread and a search read the same after it. An open store
/// is refused.
#[test]
fn compact_gives_back_free_pages_and_changes_no_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_options()).unwrap();
    let cases: Vec<ImportCase> = (0..300)
        .map(|i| {
            let body = format!("refund {i} for my order has not arrived, ").repeat(1 + i % 7);
            archived_case(
                &format!("CS-{i}"),
                "seller-a",
                &format!("parcel {i}"),
                &body,
                Status::Open,
            )
        })
        .collect();
    assert!(store.import(cases).unwrap().iter().all(|o| o.is_ok()));
    let all = Scope::AllTenants;
    // Erasing frees pages in the middle of the file.
    for i in (0..300).step_by(3) {
        let number = CaseNumber::parse_imported(&format!("CS-{i}")).unwrap();
        store.erase(&all, &CaseRef::Number(number)).unwrap();
    }
    assert!(matches!(
        Store::compact(dir.path()),
        Err(StoreError::AlreadyOpen { .. })
    ));
    let read_all = |store: &Store| -> Vec<(Case, Vec<ThreadEntry>)> {
        (0..300)
            .filter_map(|i| {
                let number = CaseNumber::parse_imported(&format!("CS-{i}")).unwrap();
                store.case_with_thread(&all, &CaseRef::Number(number)).unwrap()
            })
            .collect()
    };
    let before = read_all(&store);
    assert_eq!(before.len(), 200);
    let s = Scope::Tenant(tenant("seller-a"));
    store
        .wait_indexed(store.last_change(), Duration::from_secs(60))
        .unwrap();
    let hits = store
        .search(&s, "refund arrived", &SearchOptions::default())
        .unwrap()
        .total;
    store.shutdown().unwrap();

    let report = Store::compact(dir.path()).unwrap();
    assert!(report.bytes_after < report.bytes_before, "{report:?}");
    assert!(report.allocated_after <= report.allocated_before, "{report:?}");
    let len = std::fs::metadata(dir.path().join(STORE_FILE)).unwrap().len();
    assert_eq!(len, report.bytes_after);

    let store = Store::open(dir.path(), fast_options()).unwrap();
    assert_eq!(read_all(&store), before);
    store
        .wait_indexed(store.last_change(), Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        store
            .search(&s, "refund arrived", &SearchOptions::default())
            .unwrap()
            .total,
        hits
    );
    assert_eq!(hits, 200);
    assert!(store.verify().unwrap().is_consistent());
    store.shutdown().unwrap();
}
