//! The workflow actions end to end: transfer, assignment, hand-over,
//! complexity, the timer thread and the re-key of a tenant's cases after a
//! tier change (including one a crash interrupted). The store model test
//! (`store_model.rs`) checks the same actions against a model; these tests
//! check what a model does not see: the thread's record, the search index,
//! durability across a reopen, and the threads a closed store leaves.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caselog_core::*;
use caselog_store::*;
use common::*;
use redb::ReadableDatabase;

const WAIT: Duration = Duration::from_secs(20);

fn by_id(id: CaseId) -> CaseRef {
    CaseRef::Id(id)
}

/// The whole support queue.
fn whole_queue(store: &Store) -> Vec<QueueEntry> {
    let q = QueueQuery {
        limit: usize::MAX,
        category: None,
        marketplace: None,
    };
    store.queue(&Scope::AllTenants, &q).unwrap()
}

fn hits(store: &Store, scope: &Scope, query: &str) -> Vec<CaseId> {
    let mut ids: Vec<CaseId> = store
        .search(scope, query, &SearchOptions::default())
        .unwrap()
        .hits
        .iter()
        .map(|h| h.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_transfer_moves_the_case_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_options()).unwrap();
    let t0 = ts("2026-03-02T09:00:00Z");
    let c = store
        .create_case(new_case(
            "seller-a",
            "ann",
            Category::Advertising,
            "Account deactivated",
            Some(t0),
        ))
        .unwrap();
    let before = whole_queue(&store);
    assert_eq!(before[0].key.class, PriorityClass::Low);

    // A transfer needs a reason.
    let err = store
        .transfer(&by_id(c.id), user("agent-1"), Category::AccountHealth, None, "  ")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ValidationError::Empty { field: "reason" })),
        "{err}"
    );

    let w = store
        .transfer(
            &by_id(c.id),
            user("agent-1"),
            Category::AccountHealth,
            Some(Marketplace::parse("DE").unwrap()),
            "this is a deactivation",
        )
        .unwrap();
    assert_eq!(w.status, Status::Open);
    let scope = Scope::Tenant(tenant("seller-a"));
    let case = store.case(&scope, &by_id(c.id)).unwrap().unwrap();
    assert_eq!(case.category, Category::AccountHealth);
    assert_eq!(case.marketplace.as_str(), "DE");
    // A transfer is routing, not a response: the clock still runs.
    assert_eq!(case.state.first_response_at, None);
    let thread = store.full_thread(&scope, &by_id(c.id)).unwrap();
    let last = thread.last().unwrap();
    assert_eq!(last.actor, agent("agent-1"));
    assert_eq!(last.body, "this is a deactivation");
    let change = last.change.as_ref().unwrap();
    assert_eq!(change.event.kind(), EventKind::Transfer);
    assert_eq!((change.from, change.to), (Some(Status::Open), Status::Open));

    // The queue follows: now critical, keyed as the comparator says.
    let after = whole_queue(&store);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].key.class, PriorityClass::Critical);
    let opts = store.options();
    let want = opts.queue.key(
        &QueueInputs {
            category: Category::AccountHealth,
            complex: false,
            tier: PerformanceTier::Standard,
            created_at: t0,
            paused: Span::ZERO,
            duplicate: false,
        },
        c.id,
    );
    assert_eq!(after[0].key, want);

    // The index follows.
    assert!(store.wait_indexed(w.change, WAIT).unwrap());
    assert_eq!(
        hits(&store, &scope, "category:account_health marketplace:DE"),
        vec![c.id]
    );
    assert!(hits(&store, &scope, "category:advertising").is_empty());

    // Final cases refuse it, naming the transfer.
    store
        .apply_event(&scope, &by_id(c.id), seller("ann"), CaseEvent::Close, "", None)
        .unwrap();
    let err = store
        .transfer(&by_id(c.id), user("agent-1"), Category::Listing, None, "again")
        .unwrap_err();
    match err {
        StoreError::Transition {
            refusal: TransitionError::Final { status, event, actor },
            ..
        } => assert_eq!(
            (status, event, actor),
            (Status::Closed, EventKind::Transfer, Role::Support)
        ),
        other => panic!("{other:?}"),
    }
    store.shutdown().unwrap();
}

#[test]
fn complex_is_support_s_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_options()).unwrap();
    // A seller cannot open a case as complex: `NewCase` has no such field.
    let c = store
        .create_case(new_case("seller-a", "ann", Category::Orders, "Refund delayed", None))
        .unwrap();
    store.set_complex(&by_id(c.id), user("agent-1"), true).unwrap();
    let scope = Scope::Tenant(tenant("seller-a"));
    assert!(store.case(&scope, &by_id(c.id)).unwrap().unwrap().complex);
    let thread = store.full_thread(&scope, &by_id(c.id)).unwrap();
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].actor, agent("agent-1"));
    assert_eq!(
        thread[1].change.as_ref().map(|c| c.event.clone()),
        Some(CaseEvent::SetComplex { complex: true })
    );
    // A seller cannot set it on an existing case either.
    let err = store
        .apply_event(
            &scope,
            &by_id(c.id),
            seller("ann"),
            CaseEvent::SetComplex { complex: false },
            "",
            None,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Transition {
                refusal: TransitionError::NotAllowed { .. },
                ..
            }
        ),
        "{err}"
    );
    // On a final case it is refused with its own event, not a reply's.
    store
        .apply_event(&scope, &by_id(c.id), seller("ann"), CaseEvent::Close, "", None)
        .unwrap();
    match store.set_complex(&by_id(c.id), user("agent-1"), false).unwrap_err() {
        StoreError::Transition {
            refusal: TransitionError::Final { event, .. },
            ..
        } => assert_eq!(event, EventKind::SetComplex),
        other => panic!("{other:?}"),
    }
    store.shutdown().unwrap();
}

#[test]
fn assignment_and_hand_over_drive_both_sides_my_cases_and_by() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_options()).unwrap();
    let c = store
        .create_case(new_case("seller-a", "ann", Category::Payments, "Payout held", None))
        .unwrap();
    let seller_scope = Scope::Tenant(tenant("seller-a"));
    let mine = |scope: &Scope, who: &str| -> Vec<CaseId> {
        let mut q = ViewQuery::new(ViewKind::Mine(user(who)));
        q.per_page = 100;
        store.view(scope, &q).unwrap().cases.iter().map(|c| c.id).collect()
    };
    store
        .assign(&by_id(c.id), user("lead-1"), user("agent-2"), "yours")
        .unwrap();
    assert_eq!(mine(&Scope::AllTenants, "agent-2"), vec![c.id]);
    // The agent is not one of the tenant's users: not in the seller's tab.
    assert!(mine(&seller_scope, "agent-2").is_empty());
    let w = store.assign(&by_id(c.id), user("lead-1"), user("agent-3"), "").unwrap();
    assert!(mine(&Scope::AllTenants, "agent-2").is_empty());
    assert_eq!(mine(&Scope::AllTenants, "agent-3"), vec![c.id]);
    // `assignee:` follows the assignment, for support and for the seller.
    assert!(store.wait_indexed(w.change, WAIT).unwrap());
    assert_eq!(hits(&store, &Scope::AllTenants, "assignee:agent-3"), vec![c.id]);
    assert_eq!(hits(&store, &seller_scope, "assignee:agent-3"), vec![c.id]);
    assert!(hits(&store, &Scope::AllTenants, "assignee:agent-2").is_empty());
    let w = store
        .release(&by_id(c.id), user("agent-3"), "back to the queue")
        .unwrap();
    assert!(mine(&Scope::AllTenants, "agent-3").is_empty());
    assert!(store.wait_indexed(w.change, WAIT).unwrap());
    assert!(hits(&store, &Scope::AllTenants, "assignee:agent-3").is_empty());
    let case = store.case(&seller_scope, &by_id(c.id)).unwrap().unwrap();
    assert_eq!(case.assignee, None);
    assert_eq!(case.status(), Status::Open);

    let w = store
        .hand_over(
            &tenant("seller-a"),
            &by_id(c.id),
            user("ann"),
            Some(user("bob")),
            "bob handles payouts",
        )
        .unwrap();
    assert_eq!(mine(&seller_scope, "bob"), vec![c.id]);
    assert_eq!(mine(&seller_scope, "ann"), vec![c.id]);
    assert!(store.wait_indexed(w.change, WAIT).unwrap());
    assert_eq!(hits(&store, &seller_scope, "by:bob"), vec![c.id]);
    assert_eq!(hits(&store, &seller_scope, "by:ann"), vec![c.id]);
    // Another tenant's user cannot hand the case over (it is not there).
    let err = store
        .hand_over(&tenant("seller-b"), &by_id(c.id), user("eve"), Some(user("eve")), "")
        .unwrap_err();
    assert!(matches!(err, StoreError::CaseNotFound(_)), "{err}");
    let w = store
        .hand_over(&tenant("seller-a"), &by_id(c.id), user("bob"), None, "back to ann")
        .unwrap();
    assert!(mine(&seller_scope, "bob").is_empty());
    assert!(store.wait_indexed(w.change, WAIT).unwrap());
    assert!(hits(&store, &seller_scope, "by:bob").is_empty());
    store.shutdown().unwrap();

    // All of it is durable.
    let store = Store::open(dir.path(), fast_options()).unwrap();
    let case = store.case(&seller_scope, &by_id(c.id)).unwrap().unwrap();
    assert_eq!((case.assignee, case.handler), (None, None));
    assert_eq!(case.entries, 6);
    store.shutdown().unwrap();
}

/// Names of this process's threads.
fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        if let Ok(name) = std::fs::read_to_string(task.path().join("comm")) {
            names.push(name.trim().to_owned());
        }
    }
    names
}

#[test]
fn the_timer_thread_expires_deadlines_by_itself_and_stops_with_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = ts("2026-03-02T09:00:00Z");
    let clock = Arc::new(AtomicI64::new(t0.as_millis()));
    let read = clock.clone();
    let opts = Options {
        timer_interval: Some(Duration::from_millis(20)),
        clock: Clock::new(move || Timestamp::from_millis(read.load(Ordering::SeqCst)).unwrap()),
        ..fast_options()
    };
    let store = Store::open(dir.path(), opts.clone()).unwrap();
    // The thread names itself as it starts.
    let started = Instant::now();
    while !thread_names().iter().any(|n| n == "caselog-timer") && started.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(thread_names().iter().any(|n| n == "caselog-timer"));
    let c = store
        .create_case(new_case(
            "seller-a",
            "ann",
            Category::Orders,
            "Refund delayed",
            Some(t0),
        ))
        .unwrap();
    let deadline = t0.saturating_add(Span::days(2));
    store
        .apply_event(
            &Scope::AllTenants,
            &by_id(c.id),
            agent("agent-1"),
            CaseEvent::RequestInfo { deadline },
            "please send the invoice",
            Some(t0),
        )
        .unwrap();
    let scope = Scope::Tenant(tenant("seller-a"));
    let status = |store: &Store| store.case(&scope, &by_id(c.id)).unwrap().unwrap().status();
    // Before the deadline passes by the store's clock, nothing happens,
    // and the idle passes commit nothing (no fsync every interval).
    let commits = store.metrics().commits;
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(status(&store), Status::NeedsAttention);
    assert_eq!(store.metrics().commits, commits);

    clock.store(deadline.as_millis() + 1, Ordering::SeqCst);
    let start = Instant::now();
    while status(&store) == Status::NeedsAttention && start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(status(&store), Status::Resolved);
    let thread = store.full_thread(&scope, &by_id(c.id)).unwrap();
    let last = thread.last().unwrap();
    assert_eq!(last.actor, Actor::System);
    assert_eq!(last.at, Timestamp::from_millis(deadline.as_millis() + 1).unwrap());
    // Indexed: the search sees the new status.
    assert!(store.wait_indexed(store.last_change(), WAIT).unwrap());
    assert_eq!(hits(&store, &scope, "status:resolved"), vec![c.id]);

    // Past the reopen window the same thread closes it.
    clock.store(deadline.saturating_add(Span::days(8)).as_millis(), Ordering::SeqCst);
    while status(&store) == Status::Resolved && start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(status(&store), Status::Closed);
    store.shutdown().unwrap();
    assert!(
        !thread_names().iter().any(|n| n == "caselog-timer"),
        "{:?}",
        thread_names()
    );

    // Durable (with deferred durability, the timer's passes commit
    // durably themselves), and nothing is left to do.
    let store = Store::open(
        dir.path(),
        Options {
            timer_interval: None,
            ..opts
        },
    )
    .unwrap();
    assert_eq!(status(&store), Status::Closed);
    assert_eq!(store.run_timers(deadline.saturating_add(Span::days(30))).unwrap(), 0);
    drop(store);
    assert!(!thread_names().iter().any(|n| n == "caselog-timer"));
}

/// The redb tables a re-key marker lives in, for simulating a crash.
const META: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
const TENANTS: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("tenants");

#[test]
fn an_interrupted_re_key_finishes_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        rekey_batch: 2,
        ..fast_options()
    };
    let store = Store::open(dir.path(), opts.clone()).unwrap();
    let t0 = ts("2026-03-02T09:00:00Z");
    let mut ids = Vec::new();
    for i in 0..7 {
        let c = store
            .create_case(new_case(
                "seller-a",
                "ann",
                Category::Orders,
                &format!("Refund {i} delayed"),
                Some(t0.saturating_add(Span(i * 60_000))),
            ))
            .unwrap();
        ids.push(c.id);
    }
    store
        .create_case(new_case("seller-b", "bob", Category::Orders, "Other tenant", Some(t0)))
        .unwrap();
    store.shutdown().unwrap();

    // What a crash right after the tier change's first transaction leaves:
    // the new tier and the marker, the cases not yet re-keyed.
    {
        let db = redb::Database::open(dir.path().join(STORE_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut tenants = txn.open_table(TENANTS).unwrap();
            let record = caselog_store::fuzzing::encode_tenant(&caselog_store::fuzzing::TenantRecord {
                tier: PerformanceTier::High,
            })
            .unwrap();
            tenants.insert("seller-a", record.as_slice()).unwrap();
            let mut meta = txn.open_table(META).unwrap();
            meta.insert("rekey:seller-a", b"high".as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }

    let store = Store::open(dir.path(), opts.clone()).unwrap();
    let queue = whole_queue(&store);
    assert_eq!(queue.len(), 8);
    for e in &queue {
        let want = if e.case.tenant.as_str() == "seller-a" {
            PerformanceTier::High
        } else {
            PerformanceTier::Standard
        };
        assert_eq!(e.case.tier, want, "case {}", e.case.id);
        assert_eq!(e.key, queue_key_of(&opts, &e.case));
    }
    let keys: Vec<QueueKey> = queue.iter().map(|e| e.key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "the stored order is the comparator's");
    store.shutdown().unwrap();

    // The marker is gone: nothing is re-keyed again.
    let db = redb::Database::open(dir.path().join(STORE_FILE)).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    assert!(meta.get("rekey:seller-a").unwrap().is_none());
    assert_eq!(ids.len(), 7);
}

#[test]
fn a_changed_queue_policy_rebuilds_the_queue_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = ts("2026-03-02T09:00:00Z");
    let store = Store::open(dir.path(), fast_options()).unwrap();
    let mut ids = Vec::new();
    for (i, category) in [Category::Orders, Category::Pricing, Category::Orders]
        .into_iter()
        .enumerate()
    {
        let c = store
            .create_case(new_case(
                "seller-a",
                "ann",
                category,
                &format!("Case {i}"),
                Some(t0.saturating_add(Span::hours(i as i64))),
            ))
            .unwrap();
        ids.push(c.id);
    }
    store.shutdown().unwrap();

    // The host now routes orders as critical with a 2-hour target.
    let mut opts = fast_options();
    opts.queue.class_of[Category::Orders.index()] = PriorityClass::Critical;
    opts.queue.targets[PriorityClass::Critical.index()] = Span::hours(2);
    let store = Store::open(dir.path(), opts.clone()).unwrap();
    let queue = whole_queue(&store);
    assert_eq!(queue.len(), 3);
    for e in &queue {
        assert_eq!(e.key, queue_key_of(&opts, &e.case));
    }
    assert_eq!(queue[0].key.class, PriorityClass::Critical);
    // Later writes find the keys they remove: nothing stale is left.
    for id in &ids {
        store
            .apply_event(
                &Scope::AllTenants,
                &by_id(*id),
                agent("agent-1"),
                CaseEvent::Resolve,
                "",
                None,
            )
            .unwrap();
    }
    assert!(whole_queue(&store).is_empty());
    store.shutdown().unwrap();
}

#[test]
fn the_timer_thread_applies_the_retention_policy() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = ts("2026-03-02T09:00:00Z");
    let clock = Arc::new(AtomicI64::new(t0.as_millis()));
    let read = clock.clone();
    let mut opts = Options {
        timer_interval: Some(Duration::from_millis(20)),
        clock: Clock::new(move || Timestamp::from_millis(read.load(Ordering::SeqCst)).unwrap()),
        ..fast_options()
    };
    opts.retention.final_older_than = Some(Span::days(30));
    let store = Store::open(dir.path(), opts).unwrap();
    let scope = Scope::Tenant(tenant("seller-a"));
    let closed = store
        .create_case(new_case(
            "seller-a",
            "ann",
            Category::Orders,
            "Old and closed",
            Some(t0),
        ))
        .unwrap();
    store
        .apply_event(
            &scope,
            &by_id(closed.id),
            Actor::Seller(user("ann")),
            CaseEvent::Close,
            "",
            Some(t0),
        )
        .unwrap();
    let open = store
        .create_case(new_case("seller-a", "ann", Category::Orders, "Old but open", Some(t0)))
        .unwrap();
    // Nothing is past retention yet: both stay.
    std::thread::sleep(Duration::from_millis(100));
    assert!(store.case(&scope, &by_id(closed.id)).unwrap().is_some());
    // Sixty days on, the closed case goes by itself; the open one stays.
    clock.store(t0.saturating_add(Span::days(60)).as_millis(), Ordering::SeqCst);
    let started = Instant::now();
    while store.case(&scope, &by_id(closed.id)).unwrap().is_some() && started.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        store.case(&scope, &by_id(closed.id)).unwrap().is_none(),
        "retention did not run"
    );
    assert!(store.case(&scope, &by_id(open.id)).unwrap().is_some());
    store.shutdown().unwrap();
}
