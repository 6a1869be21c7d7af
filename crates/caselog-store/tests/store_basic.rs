//! Basic behaviour of the store: persistence across reopen, the file
//! checks on open, lifecycle writes, follow-ups, merges, duplicates,
//! attachments and imports.

mod common;

use caselog_core::*;
use caselog_store::*;
use common::*;

#[test]
fn reopen_keeps_cases_threads_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second);
    {
        let store = Store::open(dir.path(), Options::default()).unwrap();
        first = store
            .create_case(new_case(
                "seller-1",
                "ann",
                Category::Orders,
                "Order never arrived",
                None,
            ))
            .unwrap();
        store
            .reply(
                &Scope::Tenant(tenant("seller-1")),
                &CaseRef::Id(first.id),
                NewMessage::new(seller("ann"), "Any news?"),
            )
            .unwrap();
        store.shutdown().unwrap();
    }
    let store = Store::open(dir.path(), Options::default()).unwrap();
    let scope = Scope::Tenant(tenant("seller-1"));
    let case = store
        .case(&scope, &CaseRef::Number(first.number.clone()))
        .unwrap()
        .unwrap();
    assert_eq!(case.id, first.id);
    assert_eq!(case.entries, 2);
    let thread = store.full_thread(&scope, &CaseRef::Id(first.id)).unwrap();
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].body, "Any news?");
    // Counters survive: the next case gets a fresh id and number.
    second = store
        .create_case(new_case("seller-1", "ann", Category::Tax, "VAT invoice", None))
        .unwrap();
    assert_ne!(second.id, first.id);
    assert_ne!(second.number, first.number);
    assert!(second.change > first.change);
    store.shutdown().unwrap();
}

#[test]
fn a_foreign_or_damaged_file_is_a_typed_error() {
    // A redb file that is not ours.
    let dir = tempfile::tempdir().unwrap();
    {
        let db = redb::Database::create(dir.path().join(STORE_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("other");
            txn.open_table(def).unwrap().insert("x", 1).unwrap();
        }
        txn.commit().unwrap();
    }
    assert!(matches!(
        Store::open(dir.path(), Options::default()),
        Err(StoreError::ForeignFile { .. })
    ));

    // Garbage bytes.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(STORE_FILE), vec![0x5a; 10_000]).unwrap();
    let err = Store::open(dir.path(), Options::default()).unwrap_err();
    assert!(matches!(err, StoreError::Storage { .. }), "{err}");

    // A truncated store.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), Options::default()).unwrap();
        store
            .create_case(new_case("s", "u", Category::Other, "t", None))
            .unwrap();
        store.shutdown().unwrap();
    }
    let path = dir.path().join(STORE_FILE);
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 3).unwrap();
    drop(f);
    match Store::open(dir.path(), Options::default()) {
        Err(StoreError::Storage { .. }) | Err(StoreError::Corrupt { .. }) => {}
        // redb may repair a torn tail; then the store must still be readable.
        Ok(store) => {
            store.stats().unwrap();
        }
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path(), Options::default()).unwrap().shutdown().unwrap();
    {
        let db = redb::Database::open(dir.path().join(STORE_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
            txn.open_table(def)
                .unwrap()
                .insert("schema_version", 99u32.to_le_bytes().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    match Store::open(dir.path(), Options::default()) {
        Err(StoreError::SchemaTooNew {
            found: 99,
            supported: 3,
        }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn refused_transitions_change_nothing_and_name_status_event_actor() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    let c = store
        .create_case(new_case("seller-1", "ann", Category::Listing, "ASIN suppressed", None))
        .unwrap();
    let scope = Scope::Tenant(tenant("seller-1"));
    let before = store.case(&scope, &CaseRef::Id(c.id)).unwrap().unwrap();
    let err = store
        .apply_event(&scope, &CaseRef::Id(c.id), seller("ann"), CaseEvent::PickUp, "", None)
        .unwrap_err();
    match &err {
        StoreError::Transition { refusal: source, .. } => {
            assert_eq!(source.status(), Status::Open);
            assert_eq!(source.event(), EventKind::PickUp);
            assert_eq!(source.actor(), Role::Seller);
        }
        other => panic!("expected a transition error, got {other}"),
    }
    assert_eq!(store.case(&scope, &CaseRef::Id(c.id)).unwrap().unwrap(), before);

    // Close, then everything is refused as final.
    store
        .apply_event(
            &scope,
            &CaseRef::Id(c.id),
            seller("ann"),
            CaseEvent::Close,
            "done",
            None,
        )
        .unwrap();
    let err = store
        .reply(
            &scope,
            &CaseRef::Id(c.id),
            NewMessage::new(seller("ann"), "one more thing"),
        )
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Transition {
                refusal: TransitionError::Final {
                    status: Status::Closed,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
    store.shutdown().unwrap();
}

#[test]
fn another_tenants_case_is_indistinguishable_from_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    let c = store
        .create_case(new_case("seller-1", "ann", Category::Payments, "Payout held", None))
        .unwrap();
    let other = Scope::Tenant(tenant("seller-2"));
    assert_eq!(store.case(&other, &CaseRef::Id(c.id)).unwrap(), None);
    assert_eq!(store.case(&other, &c.number.clone().into()).unwrap(), None);
    let missing = store.thread(&other, &CaseRef::Id(c.id), 0, 10).unwrap_err();
    let absent = store.thread(&other, &CaseRef::Id(CaseId(999_999)), 0, 10).unwrap_err();
    assert!(matches!(missing, StoreError::CaseNotFound(_)));
    assert!(matches!(absent, StoreError::CaseNotFound(_)));
    // Writes as a seller of another tenant are refused the same way.
    let err = store
        .apply_event(&other, &CaseRef::Id(c.id), seller("bob"), CaseEvent::Close, "", None)
        .unwrap_err();
    assert!(matches!(err, StoreError::CaseNotFound(_)), "{err}");
    store.shutdown().unwrap();
}

#[test]
fn follow_up_links_both_ways_and_copies_category_and_refs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    let scope = Scope::Tenant(tenant("seller-1"));
    let mut first = new_case("seller-1", "ann", Category::FbaInventory, "Lost units", None);
    first.refs.asins.push(Asin::parse("B08XYZ1234").unwrap());
    let c = store.create_case(first).unwrap();
    let follow = NewFollowUp::new(user("ann"), "Still missing", "Description of Still missing");
    let err = store.follow_up(&scope, &CaseRef::Id(c.id), follow.clone()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::FollowUpRefused {
                status: Status::Open,
                ..
            }
        ),
        "{err}"
    );
    store
        .apply_event(&scope, &CaseRef::Id(c.id), seller("ann"), CaseEvent::Close, "", None)
        .unwrap();
    let f = store.follow_up(&scope, &CaseRef::Id(c.id), follow).unwrap();
    let new = store.case(&scope, &CaseRef::Id(f.id)).unwrap().unwrap();
    let old = store.case(&scope, &CaseRef::Id(c.id)).unwrap().unwrap();
    assert_eq!(new.category, Category::FbaInventory);
    assert_eq!(new.refs.asins, old.refs.asins);
    assert_eq!(new.refs.cases, vec![old.number.clone()]);
    assert_eq!(new.links.follow_up_of.as_ref(), Some(&old.number));
    assert_eq!(old.links.follow_ups, vec![new.number.clone()]);
    assert_eq!(store.full_thread(&scope, &CaseRef::Id(f.id)).unwrap().len(), 1);
    store.shutdown().unwrap();
}

#[test]
fn duplicates_are_flagged_demoted_and_merge_records_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    let t0 = ts("2026-03-01T10:00:00Z");
    let a = store
        .create_case(new_case(
            "seller-1",
            "ann",
            Category::AccountHealth,
            "Account suspended!",
            Some(t0),
        ))
        .unwrap();
    assert_eq!(a.duplicate_of, None);
    let b = store
        .create_case(new_case(
            "seller-1",
            "ann",
            Category::AccountHealth,
            "account   SUSPENDED",
            Some(t0.saturating_add(Span::hours(1))),
        ))
        .unwrap();
    assert_eq!(b.duplicate_of.as_ref(), Some(&a.number));
    // Another tenant's identical case is not a duplicate.
    let c = store
        .create_case(new_case(
            "seller-2",
            "bob",
            Category::AccountHealth,
            "Account suspended",
            Some(t0),
        ))
        .unwrap();
    assert_eq!(c.duplicate_of, None);
    let queue = store
        .queue(
            &Scope::AllTenants,
            &QueueQuery {
                limit: 10,
                category: None,
                marketplace: None,
            },
        )
        .unwrap();
    let classes: Vec<(CaseId, PriorityClass)> = queue.iter().map(|e| (e.case.id, e.key.class)).collect();
    assert!(classes.contains(&(b.id, PriorityClass::Low)), "{classes:?}");
    assert!(classes.contains(&(a.id, PriorityClass::Critical)));

    store
        .merge(&CaseRef::Id(b.id), &a.number, user("agent-1"), "same issue")
        .unwrap();
    let all = Scope::AllTenants;
    let merged = store.case(&all, &CaseRef::Id(b.id)).unwrap().unwrap();
    assert_eq!(merged.status(), Status::Merged);
    assert_eq!(merged.state.merged_into.as_ref(), Some(&a.number));
    let survivor_thread = store.full_thread(&all, &CaseRef::Id(a.id)).unwrap();
    assert!(survivor_thread.last().unwrap().body.contains(b.number.as_str()));
    // Merging across tenants or into itself is refused, and the refusal
    // names both cases by number (internal ids mean nothing to a user:
    // this once read "cannot merge case #3 into #0").
    match store.merge(&CaseRef::Id(c.id), &a.number, user("agent-1"), "") {
        Err(e @ StoreError::MergeRefused { .. }) => {
            let StoreError::MergeRefused { from, into, .. } = &e else {
                unreachable!()
            };
            assert_eq!((from, into), (&c.number, &a.number));
            assert_eq!(
                e.to_string(),
                format!(
                    "cannot merge case {} into {}: the surviving case does not exist in the same tenant",
                    c.number, a.number
                )
            );
        }
        other => panic!("expected MergeRefused, got {other:?}"),
    }
    match store.merge(&CaseRef::Id(a.id), &a.number, user("agent-1"), "") {
        Err(StoreError::MergeRefused { from, into, .. }) => assert_eq!((&from, &into), (&a.number, &a.number)),
        other => panic!("expected MergeRefused, got {other:?}"),
    }
    store.shutdown().unwrap();
}

/// Issue: an import line whose number belonged to another tenant's case,
/// or repeated an earlier line of the same file with other content, was
/// counted as "skipped" without a word. Only an identical case is skipped.
#[test]
fn import_skips_only_identical_cases_and_rejects_other_uses_of_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    let line = |tenant: &str, number: &str, title: &str| {
        caselog_store::interchange::parse_line(&format!(
            r#"{{"tenant":"{tenant}","number":"{number}","title":"{title}","category":"tax","status":"open",
               "created_by":"ops@example.com","created_at":"2025-05-01T00:00:00Z","marketplace":"DE","language":"de",
               "messages":[{{"author":"seller","author_id":"ops@example.com","at":"2025-05-01T00:00:00Z","body":"hi"}}]}}"#
        ).replace('\n', ""))
        .unwrap()
    };
    let native = store
        .create_case(new_case(
            "seller-1",
            "ops@example.com",
            Category::Orders,
            "Native case",
            None,
        ))
        .unwrap();
    let snapshot = store.snapshot().unwrap();
    let (case, thread) = snapshot.cases(&Scope::AllTenants).unwrap().next().unwrap().unwrap();
    drop(snapshot);
    let exported =
        caselog_store::interchange::parse_line(&caselog_store::interchange::to_line(&case, &thread)).unwrap();
    let out = store
        .import(vec![
            line("seller-9", "ARCH-1", "First"),
            // The same file repeats the number with another title.
            line("seller-9", "ARCH-1", "Second"),
            // ... and with the same content: idempotent.
            line("seller-9", "ARCH-1", "First"),
            // Another tenant's number.
            line("seller-8", "ARCH-1", "First"),
            // A case of this store exported and imported back.
            exported,
        ])
        .unwrap();
    assert!(matches!(out[0], Ok(ImportOutcome::Imported { .. })), "{:?}", out[0]);
    let first = match out[0] {
        Ok(ImportOutcome::Imported { id, .. }) => id,
        _ => unreachable!(),
    };
    match &out[1] {
        Err(
            e @ StoreError::ImportConflict {
                number,
                existing,
                conflict,
            },
        ) => {
            assert_eq!((number.as_str(), *existing), ("ARCH-1", first));
            assert_eq!(*conflict, ImportConflict::OtherContent { field: "title" });
            assert!(e.to_string().contains("ARCH-1"), "{e}");
            assert!(e.to_string().contains("first difference: title"), "{e}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        matches!(&out[2], Ok(ImportOutcome::Skipped { existing, .. }) if *existing == first),
        "{:?}",
        out[2]
    );
    assert!(
        matches!(
            &out[3],
            Err(StoreError::ImportConflict {
                conflict: ImportConflict::OtherTenant,
                ..
            })
        ),
        "{:?}",
        out[3]
    );
    assert!(
        matches!(&out[4], Ok(ImportOutcome::Skipped { existing, .. }) if *existing == native.id),
        "{:?}",
        out[4]
    );
    // Nothing of the rejected lines was written.
    let kept = store
        .case(
            &Scope::AllTenants,
            &CaseNumber::parse_imported("ARCH-1").unwrap().into(),
        )
        .unwrap()
        .unwrap();
    assert_eq!((kept.title.as_str(), kept.tenant.as_str()), ("First", "seller-9"));
    assert_eq!(store.stats().unwrap().cases, 2);
    store.shutdown().unwrap();
}

fn sha(bytes: &[u8]) -> ContentHash {
    use sha2::Digest;
    ContentHash(sha2::Sha256::digest(bytes).into())
}

#[test]
fn attachments_are_checked_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    let policy = AttachmentPolicy::default();
    let bytes = b"%PDF-1.4 invoice".to_vec();
    let meta = AttachmentMeta::new(
        "invoice.pdf",
        "application/pdf",
        bytes.len() as u64,
        sha(&bytes),
        &policy,
    )
    .unwrap();
    let mut n = new_case("seller-1", "ann", Category::Payments, "Invoice attached", None);
    n.attachments.push(NewAttachment {
        meta: meta.clone(),
        bytes: Some(bytes.clone()),
    });
    let c = store.create_case(n).unwrap();
    let scope = Scope::Tenant(tenant("seller-1"));
    assert_eq!(
        store.attachment(&scope, &CaseRef::Id(c.id), &meta.sha256).unwrap(),
        Some(bytes.clone())
    );
    // Not visible through another tenant.
    assert!(store
        .attachment(&Scope::Tenant(tenant("seller-2")), &CaseRef::Id(c.id), &meta.sha256)
        .is_err());
    // Bytes that do not match their hash are refused; nothing is written.
    let mut bad = new_case("seller-1", "ann", Category::Payments, "Bad", None);
    bad.attachments.push(NewAttachment {
        meta: meta.clone(),
        bytes: Some(b"something else!!".to_vec()),
    });
    let before = store.stats().unwrap().cases;
    assert!(matches!(
        store.create_case(bad),
        Err(StoreError::AttachmentMismatch { .. })
    ));
    assert_eq!(store.stats().unwrap().cases, before);
    store.shutdown().unwrap();
}

#[test]
fn import_keeps_status_and_reports_existing_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    let case_ = |number: &str, status: Status| {
        let t = ts("2025-05-01T00:00:00Z");
        let mut state = CaseState::new(t);
        state.status = status;
        ImportCase {
            case: Case {
                id: CaseId(0),
                number: CaseNumber::parse_imported(number).unwrap(),
                tenant: tenant("seller-9"),
                created_by: user("ops@example.com"),
                assignee: None,
                handler: None,
                marketplace: Marketplace::parse("de").unwrap(),
                language: LanguageTag::parse("de").unwrap(),
                category: Category::Tax,
                title: format!("Archived {number}"),
                refs: References::default(),
                state,
                complex: false,
                tier: PerformanceTier::Standard,
                links: CaseLinks::default(),
                entries: 0,
                imported: false,
            },
            thread: vec![ThreadEntry {
                at: t,
                actor: seller("ops@example.com"),
                change: None,
                body: "old message".into(),
                attachments: vec![],
            }],
        }
    };
    let mut bad = case_("ARCH-3", Status::Open);
    bad.case.title = "x".repeat(10_000);
    let out = store
        .import(vec![
            case_("ARCH-1", Status::Resolved),
            case_("ARCH-2", Status::Open),
            bad,
            case_("ARCH-1", Status::Open),
        ])
        .unwrap();
    assert!(matches!(out[0], Ok(ImportOutcome::Imported { .. })));
    assert!(matches!(out[1], Ok(ImportOutcome::Imported { .. })));
    assert!(matches!(
        out[2],
        Err(StoreError::Invalid(ValidationError::TooLong { .. }))
    ));
    // The same number with other content (here another status) is a
    // typed rejection naming the field, not a silent skip.
    assert!(
        matches!(
            &out[3],
            Err(StoreError::ImportConflict {
                conflict: ImportConflict::OtherContent { field: "status" },
                ..
            })
        ),
        "{:?}",
        out[3]
    );
    let scope = Scope::Tenant(tenant("seller-9"));
    let c = store
        .case(&scope, &CaseNumber::parse_imported("ARCH-1").unwrap().into())
        .unwrap()
        .unwrap();
    assert_eq!(c.status(), Status::Resolved);
    assert!(c.imported);
    assert_eq!(c.marketplace.as_str(), "DE");
    // The open one is in the queue, the resolved one is not.
    let q = store
        .queue(
            &scope,
            &QueueQuery {
                limit: 10,
                category: None,
                marketplace: None,
            },
        )
        .unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].case.number.as_str(), "ARCH-2");
    store.shutdown().unwrap();
}

#[test]
fn timers_resolve_expired_requests_and_close_after_the_reopen_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    let t0 = ts("2026-01-01T00:00:00Z");
    let all = Scope::AllTenants;
    let a = store
        .create_case(new_case(
            "seller-1",
            "ann",
            Category::Orders,
            "Where is my order",
            Some(t0),
        ))
        .unwrap();
    let b = store
        .create_case(new_case("seller-1", "ann", Category::Tax, "Tax form", Some(t0)))
        .unwrap();
    let deadline = t0.saturating_add(Span::days(2));
    store
        .apply_event(
            &all,
            &CaseRef::Id(a.id),
            agent("ag"),
            CaseEvent::RequestInfo { deadline },
            "need invoice",
            Some(t0.saturating_add(Span::hours(1))),
        )
        .unwrap();
    store
        .apply_event(
            &all,
            &CaseRef::Id(b.id),
            agent("ag"),
            CaseEvent::Resolve,
            "done",
            Some(t0.saturating_add(Span::hours(1))),
        )
        .unwrap();
    let attention = store
        .view(
            &Scope::Tenant(tenant("seller-1")),
            &ViewQuery::new(ViewKind::NeedsAttention),
        )
        .unwrap();
    assert_eq!(attention.total, 1);
    assert_eq!(attention.cases[0].id, a.id);
    // Before anything is due, nothing moves.
    assert_eq!(store.run_timers(t0.saturating_add(Span::days(1))).unwrap(), 0);
    // After the deadline, a is resolved.
    let later = t0.saturating_add(Span::days(3));
    assert_eq!(store.run_timers(later).unwrap(), 1);
    assert_eq!(
        store.case(&all, &CaseRef::Id(a.id)).unwrap().unwrap().status(),
        Status::Resolved
    );
    // After the reopen window (7 days), both close.
    let much_later = t0.saturating_add(Span::days(20));
    assert_eq!(store.run_timers(much_later).unwrap(), 2);
    for id in [a.id, b.id] {
        assert_eq!(
            store.case(&all, &CaseRef::Id(id)).unwrap().unwrap().status(),
            Status::Closed
        );
    }
    store.shutdown().unwrap();
}

#[test]
fn a_view_cursor_is_bound_to_its_scope_view_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    for i in 0..4 {
        store
            .create_case(new_case(
                "seller-1",
                "ann",
                Category::Orders,
                &format!("Case {i}"),
                None,
            ))
            .unwrap();
    }
    let scope = Scope::Tenant(tenant("seller-1"));
    let mut q = ViewQuery::new(ViewKind::All);
    q.per_page = 1;
    let first = store.view_after(&scope, &q, None).unwrap();
    let next = first.next.clone().expect("more pages");
    let other_scope = Scope::Tenant(tenant("seller-2"));
    assert!(matches!(
        store.view_after(&other_scope, &q, Some(&next)),
        Err(StoreError::BadCursor(CursorError::OtherScope))
    ));
    let mut other_order = q.clone();
    other_order.descending = !q.descending;
    assert!(matches!(
        store.view_after(&scope, &other_order, Some(&next)),
        Err(StoreError::BadCursor(CursorError::OtherQuery))
    ));
    let mangled = Cursor::from_text(format!("{}0", &next.as_str()[1..]));
    assert!(matches!(
        store.view_after(&scope, &q, Some(&mangled)),
        Err(StoreError::BadCursor(CursorError::Malformed))
    ));
    // A different page size is the same walk.
    let mut wider = q.clone();
    wider.per_page = 10;
    let rest = store.view_after(&scope, &wider, Some(&next)).unwrap();
    assert_eq!(rest.cases.len(), 3);
    assert!(rest.next.is_none());
    store.shutdown().unwrap();
}
