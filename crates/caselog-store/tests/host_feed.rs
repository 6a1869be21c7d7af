//! The host's change feed and read markers: every change delivered once, in
//! order, within the consumer's scope, across restarts; truncation is typed;
//! the blocking read wakes on commits; the unread rule.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use caselog_core::*;
use caselog_store::*;
use common::*;

fn msg(actor: Actor, body: &str) -> NewMessage {
    NewMessage::new(actor, body)
}

/// What the model expects of each acknowledged change.
#[derive(Debug, Clone)]
struct Expected {
    case: CaseId,
    tenant: TenantId,
    kind: &'static str,
}

/// A seeded random workload of creates, replies, status changes, merges and
/// erasures in two tenants, with three consumers (all tenants, tenant A,
/// tenant B) that read random page sizes, acknowledge, and sometimes crash
/// before acknowledging; the store is reopened several times. Every
/// consumer must see every change of its scope exactly once, in order, with
/// the right kind, except changes of a case erased before it read them,
/// which it sees as one tombstone.
#[test]
fn consumers_see_every_change_of_their_scope_once_in_order_across_restarts() {
    for seed in 0..3u64 {
        run_feed_model(seed);
    }
}

fn run_feed_model(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        index_prune_every: 7,
        ..fast_options()
    };
    let tenants = [tenant("seller-a"), tenant("seller-b")];
    let consumers: [(Scope, &str); 3] = [
        (Scope::AllTenants, "all"),
        (Scope::Tenant(tenants[0].clone()), "mine"),
        (Scope::Tenant(tenants[1].clone()), "mine"),
    ];
    let mut rng = Rng(seed);
    let mut model: BTreeMap<u64, Expected> = BTreeMap::new();
    let mut erased: BTreeMap<CaseId, u64> = BTreeMap::new();
    let mut live: Vec<(CaseId, TenantId)> = Vec::new();
    let mut seen: Vec<Vec<FeedChange>> = vec![Vec::new(); consumers.len()];
    let mut store = Store::open(dir.path(), opts.clone()).unwrap();
    for (scope, name) in &consumers {
        assert_eq!(store.feed_register(scope, name, FeedStart::Beginning).unwrap(), 0);
    }
    for round in 0..8 {
        for _ in 0..25 {
            let roll = rng.below(100);
            if live.is_empty() || roll < 35 {
                let t = rng.pick(&[0usize, 1]);
                let c = store
                    .create_case(new_case(
                        tenants[t].as_str(),
                        "ann",
                        Category::Orders,
                        &format!("case {round} {}", rng.below(1000)),
                        None,
                    ))
                    .unwrap();
                model.insert(
                    c.change,
                    Expected {
                        case: c.id,
                        tenant: tenants[t].clone(),
                        kind: "created",
                    },
                );
                live.push((c.id, tenants[t].clone()));
            } else if roll < 70 {
                let (id, t) = live[rng.below(live.len() as u64) as usize].clone();
                if let Ok(w) = store.reply(&Scope::Tenant(t.clone()), &CaseRef::Id(id), msg(seller("ann"), "more")) {
                    model.insert(
                        w.change,
                        Expected {
                            case: id,
                            tenant: t,
                            kind: "message",
                        },
                    );
                }
            } else if roll < 85 {
                let (id, t) = live[rng.below(live.len() as u64) as usize].clone();
                if let Ok(w) = store.apply_event(
                    &Scope::AllTenants,
                    &CaseRef::Id(id),
                    agent("bob"),
                    CaseEvent::PickUp,
                    "",
                    None,
                ) {
                    model.insert(
                        w.change,
                        Expected {
                            case: id,
                            tenant: t,
                            kind: "status_changed",
                        },
                    );
                }
            } else {
                let i = rng.below(live.len() as u64) as usize;
                let (id, t) = live.swap_remove(i);
                let e = store.erase(&Scope::Tenant(t.clone()), &CaseRef::Id(id)).unwrap();
                model.insert(
                    e.change,
                    Expected {
                        case: id,
                        tenant: t,
                        kind: "erased",
                    },
                );
                erased.insert(id, e.change);
            }
        }
        // Each consumer reads some pages, acknowledging most of them.
        for (i, (scope, name)) in consumers.iter().enumerate() {
            for _ in 0..rng.below(4) {
                let page = store.feed(scope, name, None, 1 + rng.below(9) as usize).unwrap();
                // A consumer that dies before acknowledging re-reads the
                // page; it must get the same changes again.
                if rng.chance(20) {
                    let again = store.feed(scope, name, None, page.changes.len().max(1)).unwrap();
                    assert_eq!(again.changes, page.changes);
                    continue;
                }
                seen[i].extend(page.changes.iter().cloned());
                store.feed_ack(scope, name, page.position).unwrap();
            }
        }
        if rng.chance(50) {
            store.shutdown().unwrap();
            store = Store::open(dir.path(), opts.clone()).unwrap();
        }
        // The index prunes its own log; the feed keeps what consumers need.
        store.prune_changes(store.last_change() + 1).unwrap();
    }
    for (i, (scope, name)) in consumers.iter().enumerate() {
        loop {
            let page = store.feed(scope, name, None, 50).unwrap();
            store.feed_ack(scope, name, page.position).unwrap();
            if page.changes.is_empty() {
                break;
            }
            seen[i].extend(page.changes);
        }
        let got = &seen[i];
        let seqs: Vec<u64> = got.iter().map(|c| c.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "seed {seed} {name}: out of order or repeated: {seqs:?}"
        );
        for c in got {
            assert!(
                scope.allows(&c.tenant),
                "seed {seed}: {name} saw another tenant's change {c:?}"
            );
            let want = model
                .get(&c.seq)
                .unwrap_or_else(|| panic!("seed {seed}: unknown change {c:?}"));
            assert_eq!(
                (c.case, &c.tenant, c.kind.as_str()),
                (want.case, &want.tenant, want.kind),
                "seed {seed} {name}"
            );
        }
        // Every change of the scope is there unless its case was erased
        // before the consumer got to it (then the tombstone is there).
        let got_seqs: BTreeSet<u64> = seqs.iter().copied().collect();
        for (seq, want) in &model {
            if !scope.allows(&want.tenant) {
                continue;
            }
            let delivered = got_seqs.contains(seq);
            match erased.get(&want.case) {
                Some(&tomb) if *seq < tomb => {
                    // Either delivered before the erasure, or replaced.
                    if !delivered {
                        assert!(
                            got_seqs.contains(&tomb),
                            "seed {seed} {name}: lost change {seq} and tombstone {tomb}"
                        );
                    }
                }
                _ => assert!(delivered, "seed {seed} {name}: change {seq} ({want:?}) missed"),
            }
        }
    }
    store.shutdown().unwrap();
}

/// A store with the feed cap `cap`, consumers `slow` and `quick` registered
/// at the beginning, and `cases` cases created after them.
fn store_with_consumers(cap: u64, cases: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        feed_retain_max: cap,
        ..fast_options()
    };
    let store = Store::open(dir.path(), opts).unwrap();
    for name in ["slow", "quick"] {
        store
            .feed_register(&Scope::AllTenants, name, FeedStart::Beginning)
            .unwrap();
    }
    for i in 0..cases {
        store
            .create_case(new_case("seller-1", "ann", Category::Orders, &format!("t {i}"), None))
            .unwrap();
    }
    (dir, store)
}

#[test]
fn a_consumer_behind_the_cap_gets_feed_truncated_with_the_first_position() {
    let (_dir, store) = store_with_consumers(10, 30);
    let all = Scope::AllTenants;
    // The quick consumer keeps up; the slow one never acknowledges.
    let page = store.feed(&all, "quick", None, 100).unwrap();
    assert_eq!(page.changes.len(), 30);
    store.feed_ack(&all, "quick", page.position).unwrap();
    store.prune_changes(store.last_change() + 1).unwrap();
    assert_eq!(store.feed_len().unwrap(), 10, "the cap keeps the last 10 changes");
    match store.feed(&all, "slow", None, 100) {
        Err(StoreError::FeedTruncated {
            consumer,
            requested,
            first_available,
        }) => {
            assert_eq!((consumer.as_str(), requested, first_available), ("slow", 1, 21));
        }
        other => panic!("expected FeedTruncated, got {other:?}"),
    }
    // It resumes explicitly at the first available change.
    let page = store.feed(&all, "slow", Some(20), 100).unwrap();
    assert_eq!(
        page.changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (21..=30).collect::<Vec<_>>()
    );
    // Acknowledging a pruned position is refused and says the range.
    assert!(matches!(
        store.feed_ack(&all, "slow", 3),
        Err(StoreError::Feed(FeedError::PositionOutOfRange {
            first: 20,
            last: 30,
            ..
        }))
    ));
    store.shutdown().unwrap();
}

#[test]
fn without_a_cap_the_slowest_consumer_holds_the_feed() {
    let (_dir, store) = store_with_consumers(0, 20);
    let all = Scope::AllTenants;
    assert!(store.feed_unregister(&all, "quick").unwrap());
    store.feed_ack(&all, "slow", 5).unwrap();
    store.prune_changes(store.last_change() + 1).unwrap();
    assert_eq!(
        store.feed_len().unwrap(),
        15,
        "changes 6..=20 are kept for the slow consumer"
    );
    let page = store.feed(&all, "slow", None, 100).unwrap();
    assert_eq!(page.changes.first().map(|c| c.seq), Some(6));
    // Once it is gone, nothing holds the feed back.
    assert!(store.feed_unregister(&all, "slow").unwrap());
    store.prune_changes(store.last_change() + 1).unwrap();
    assert_eq!(store.feed_len().unwrap(), 0);
    store.shutdown().unwrap();
}

#[test]
fn feed_wait_wakes_on_a_commit_and_times_out_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_options()).unwrap();
    let a = Scope::Tenant(tenant("seller-a"));
    store.feed_register(&a, "notify", FeedStart::Now).unwrap();
    // Another tenant's change does not end the wait.
    store
        .create_case(new_case("seller-b", "bob", Category::Orders, "not mine", None))
        .unwrap();
    let t0 = Instant::now();
    let page = store
        .feed_wait(&a, "notify", None, 10, Duration::from_millis(150))
        .unwrap();
    assert!(page.changes.is_empty());
    assert!(t0.elapsed() >= Duration::from_millis(150));
    assert_eq!(page.position, store.last_change(), "other tenants' changes are skipped");
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            store
                .feed_wait(&a, "notify", None, 10, Duration::from_secs(60))
                .unwrap()
        });
        std::thread::sleep(Duration::from_millis(100));
        let c = store
            .create_case(new_case("seller-a", "ann", Category::Orders, "mine", None))
            .unwrap();
        let page = waiter.join().unwrap();
        assert_eq!(page.changes.len(), 1);
        assert_eq!(page.changes[0].seq, c.change);
        assert_eq!(page.changes[0].kind, ChangeKind::Created);
    });
    store.shutdown().unwrap();
}

#[test]
fn consumers_are_scoped_and_names_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_options()).unwrap();
    let a = Scope::Tenant(tenant("seller-a"));
    let b = Scope::Tenant(tenant("seller-b"));
    store.feed_register(&a, "portal", FeedStart::Beginning).unwrap();
    // Seller B cannot read, acknowledge or remove seller A's consumer.
    assert!(matches!(
        store.feed(&b, "portal", None, 10),
        Err(StoreError::Feed(FeedError::UnknownConsumer { .. }))
    ));
    assert!(matches!(
        store.feed_ack(&b, "portal", 0),
        Err(StoreError::Feed(FeedError::UnknownConsumer { .. }))
    ));
    assert!(!store.feed_unregister(&b, "portal").unwrap());
    assert!(store.feed_consumers(&b).unwrap().is_empty());
    assert_eq!(store.feed_consumers(&a).unwrap().len(), 1);
    for bad in ["", "has space", "slash/name", "é", &"x".repeat(65)] {
        assert!(
            matches!(
                store.feed_register(&a, bad, FeedStart::Now),
                Err(StoreError::Feed(FeedError::BadName { .. }))
            ),
            "{bad:?} accepted"
        );
    }
    // Registering again is idempotent and keeps the position.
    store
        .create_case(new_case("seller-a", "ann", Category::Orders, "one", None))
        .unwrap();
    store.feed_ack(&a, "portal", 1).unwrap();
    assert_eq!(store.feed_register(&a, "portal", FeedStart::Now).unwrap(), 1);
    // A position past the end is refused.
    assert!(matches!(
        store.feed_ack(&a, "portal", 99),
        Err(StoreError::Feed(FeedError::PositionOutOfRange { position: 99, .. }))
    ));
    store.shutdown().unwrap();
}

#[test]
fn change_kinds_name_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_options()).unwrap();
    let all = Scope::AllTenants;
    store.feed_register(&all, "k", FeedStart::Beginning).unwrap();
    let s = Scope::Tenant(tenant("seller-a"));
    let a = store
        .create_case(new_case("seller-a", "ann", Category::Orders, "first", None))
        .unwrap();
    let b = store
        .create_case(new_case("seller-a", "ann", Category::Payments, "second", None))
        .unwrap();
    store
        .reply(&s, &CaseRef::Id(a.id), msg(seller("ann"), "hello"))
        .unwrap();
    store
        .apply_event(&all, &CaseRef::Id(a.id), agent("bob"), CaseEvent::PickUp, "", None)
        .unwrap();
    store.merge(&CaseRef::Id(b.id), &a.number, user("bob"), "same").unwrap();
    store.set_complex(&CaseRef::Id(a.id), user("bob"), true).unwrap();
    let kinds: Vec<ChangeKind> = store
        .feed(&all, "k", None, 100)
        .unwrap()
        .changes
        .into_iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            ChangeKind::Created,
            ChangeKind::Created,
            ChangeKind::Message { entry: 1 },
            ChangeKind::StatusChanged {
                entry: 2,
                from: Some(Status::Open),
                to: Status::InProgress
            },
            ChangeKind::Merged {
                entry: 1,
                into: a.number.clone()
            },
            ChangeKind::Message { entry: 3 },
            ChangeKind::Updated,
        ]
    );
    store.shutdown().unwrap();
}

#[test]
fn unread_markers_follow_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_options()).unwrap();
    let s = Scope::Tenant(tenant("seller-a"));
    let all = Scope::AllTenants;
    let ann = user("ann");
    let cy = user("cy");
    let mine = ViewQuery::new(ViewKind::Mine(ann.clone()));
    let a = store
        .create_case(new_case("seller-a", "ann", Category::Orders, "first", None))
        .unwrap();
    let b = store
        .create_case(new_case("seller-a", "ann", Category::Payments, "second", None))
        .unwrap();
    let (ra, rb) = (CaseRef::Id(a.id), CaseRef::Id(b.id));
    // Her own cases start read for her (she wrote the last entry), unread for a colleague.
    assert_eq!(store.unread_count(&s, &ann, &mine).unwrap().unread, 0);
    assert_eq!(store.unread_entries(&s, &cy, &ra).unwrap(), Some(1));
    // Support replies: unread for her until she reads it.
    store.reply(&all, &ra, msg(agent("bob"), "we are on it")).unwrap();
    assert_eq!(store.unread_entries(&s, &ann, &ra).unwrap(), Some(2));
    let badge = store.unread_count(&s, &ann, &mine).unwrap();
    assert_eq!((badge.unread, badge.total, badge.capped), (1, 2, false));
    assert_eq!(
        store
            .unread_view(&s, &ann, &mine)
            .unwrap()
            .cases
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        vec![a.id]
    );
    assert_eq!(store.mark_read(&s, &ann, &ra, None).unwrap(), 2);
    assert_eq!(store.unread_count(&s, &ann, &mine).unwrap().unread, 0);
    // Marking fewer entries makes the rest unread again; more is capped.
    assert_eq!(store.mark_read(&s, &ann, &ra, Some(1)).unwrap(), 1);
    assert_eq!(store.unread_entries(&s, &ann, &ra).unwrap(), Some(1));
    assert_eq!(store.mark_read(&s, &ann, &ra, Some(50)).unwrap(), 2);
    // Her own reply after a support reply counts as reading.
    store.reply(&all, &rb, msg(agent("bob"), "details?")).unwrap();
    store.reply(&s, &rb, msg(seller("ann"), "here")).unwrap();
    assert_eq!(store.unread_entries(&s, &ann, &rb).unwrap(), Some(0));
    // A merge: the merged case is never unread; the survivor's note is.
    store.merge(&rb, &a.number, user("bob"), "dup").unwrap();
    assert_eq!(store.unread_entries(&s, &ann, &rb).unwrap(), Some(0));
    assert_eq!(store.unread_entries(&s, &ann, &ra).unwrap(), Some(1));
    // Another tenant cannot mark or read markers of this case.
    let other = Scope::Tenant(tenant("seller-b"));
    assert!(matches!(
        store.mark_read(&other, &ann, &ra, None),
        Err(StoreError::CaseNotFound(_))
    ));
    assert_eq!(store.unread_entries(&other, &ann, &ra).unwrap(), None);
    store.shutdown().unwrap();
}
