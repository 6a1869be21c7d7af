//! A write touches only what changed: the store's count of B-tree entries
//! written (`Metrics::entries_written`) is checked, write by write, against
//! a model of which entries a change of a case must move — a key whose
//! bytes stay is neither removed nor re-inserted, a value is rewritten only
//! when its bytes change, and a bucket count only when a key moves into
//! or out of its bucket.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use caselog_core::*;
use caselog_store::*;
use common::*;
use proptest::prelude::*;

const TENANTS: [&str; 2] = ["seller-a", "seller-b"];
const SELLERS: [&str; 2] = ["ann", "bob"];
const AGENTS: [&str; 2] = ["agent-1", "agent-2"];

/// Entries of a case that differ between two versions of it, in its two
/// scopes (its tenant and all tenants), as the model sees the view tables:
/// by update time (key: update time; value: status, category,
/// marketplace), by status (key: status and update time), by creation (key:
/// creation time; value: status, category, marketplace), by user (seller
/// side: creator and handler; support side: assignee), deadlines (while
/// the case needs attention), one queue entry while it waits on support,
/// and the counters of cases, of each status, of deadlines and of each
/// user's entries; and the bucket counts those keys fall in.
fn view_entries(opts: &Options, old: Option<&Case>, new: &Case) -> u64 {
    view_entries_without_buckets(opts, old, new) + bucket_entries(old, new)
}

/// The bucket counts (`view_buckets`) a change rewrites: per scope, the
/// update-time bucket (by status), the creation-time bucket (by status),
/// each listed user's creation-time bucket and the deadline's bucket; an
/// entry is written when its counts change. Buckets are 2^26 ms across
/// all tenants and 2^30 ms in a tenant's scope.
fn bucket_entries(old: Option<&Case>, new: &Case) -> u64 {
    fn bits(t: Timestamp) -> u64 {
        (t.as_millis() as u64) ^ (1 << 63)
    }
    fn items(c: &Case, all: bool) -> Vec<(String, u64, usize)> {
        let shift = if all { 26 } else { 30 };
        let status = Status::ALL.iter().position(|s| *s == c.state.status).unwrap();
        let mut out = vec![
            ("updated".to_owned(), bits(c.state.updated_at) >> shift, status),
            ("created".to_owned(), bits(c.state.created_at) >> shift, status),
        ];
        let users: BTreeSet<String> = if all {
            c.assignee.iter().map(|u| u.to_string()).collect()
        } else {
            [Some(&c.created_by), c.handler.as_ref()]
                .into_iter()
                .flatten()
                .map(|u| u.to_string())
                .collect()
        };
        for u in users {
            out.push((format!("user:{u}"), bits(c.state.created_at) >> shift, 0));
        }
        if let (Status::NeedsAttention, Some(d)) = (c.state.status, c.state.reply_deadline) {
            out.push(("attention".to_owned(), bits(d) >> shift, 0));
        }
        out
    }
    let mut n = 0;
    for all in [false, true] {
        let mut delta: BTreeMap<(String, u64), [i64; 8]> = BTreeMap::new();
        for (series, bucket, slot) in old.map(|c| items(c, all)).unwrap_or_default() {
            delta.entry((series, bucket)).or_default()[slot] -= 1;
        }
        for (series, bucket, slot) in items(new, all) {
            delta.entry((series, bucket)).or_default()[slot] += 1;
        }
        n += delta.values().filter(|d| d.iter().any(|x| *x != 0)).count() as u64;
    }
    n
}

/// The view, queue and counter entries of a change, bucket counts aside.
fn view_entries_without_buckets(opts: &Options, old: Option<&Case>, new: &Case) -> u64 {
    // How many entries move when one key (and value) becomes another:
    // nothing if equal, a value rewrite if only the value changed, a
    // removal and an insertion if the key moved.
    fn moved<K: PartialEq, V: PartialEq>(old: Option<(K, V)>, new: Option<(K, V)>) -> u64 {
        match (old, new) {
            (None, None) => 0,
            (Some(_), None) | (None, Some(_)) => 1,
            (Some((ok, ov)), Some((nk, nv))) if ok == nk => u64::from(ov != nv),
            _ => 2,
        }
    }
    fn sym<T: Ord>(a: BTreeSet<T>, b: BTreeSet<T>) -> u64 {
        a.symmetric_difference(&b).count() as u64
    }
    let look = |c: &Case| (c.state.status, c.category, c.marketplace.clone());
    let deadline = |c: &Case| match c.state.status {
        Status::NeedsAttention => c.state.reply_deadline,
        _ => None,
    };
    let queue = |c: &Case| {
        c.state
            .status
            .waits_on_support()
            .then(|| (queue_key_of(opts, c), (c.category, c.marketplace.clone())))
    };
    let seller_side = |c: &Case| -> BTreeSet<String> {
        [Some(&c.created_by), c.handler.as_ref()]
            .into_iter()
            .flatten()
            .map(|u| u.to_string())
            .collect()
    };
    let support_side = |c: &Case| -> BTreeSet<String> { c.assignee.iter().map(|u| u.to_string()).collect() };
    let mut n = 0;
    for users in [&seller_side as &dyn Fn(&Case) -> BTreeSet<String>, &support_side] {
        n += moved(
            old.map(|c| (c.state.updated_at, look(c))),
            Some((new.state.updated_at, look(new))),
        );
        n += moved(
            old.map(|c| ((c.state.status, c.state.updated_at), ())),
            Some(((new.state.status, new.state.updated_at), ())),
        );
        n += moved(
            old.map(|c| (c.state.created_at, look(c))),
            Some((new.state.created_at, look(new))),
        );
        let (was, is) = (old.map(users).unwrap_or_default(), users(new));
        // The entries, and each user's counter.
        n += 2 * sym(was, is);
        n += moved(old.and_then(deadline).map(|d| (d, ())), deadline(new).map(|d| (d, ())));
        // Counters: cases, the status's, deadlines.
        n += u64::from(old.is_none());
        n += moved(old.map(|c| (c.state.status, ())), Some((new.state.status, ())));
        n += u64::from(old.and_then(deadline).is_some() != deadline(new).is_some());
    }
    n + moved(old.and_then(queue), queue(new))
}

/// Entries a change of one case writes besides its views: the case
/// record, the thread entries it appended, its change-log and feed
/// records and the change counter.
fn record_entries(appended: u32) -> u64 {
    1 + u64::from(appended) + 1 + 1 + 1
}

/// A new case also writes its number and the id and number counters.
const CREATE_EXTRA: u64 = 3;

#[derive(Debug, Clone)]
enum Op {
    Create {
        tenant: usize,
        seller: usize,
        category: usize,
    },
    Event {
        case: usize,
        event: usize,
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..2usize, 0..2usize, 0..12usize).prop_map(|(tenant, seller, category)| Op::Create { tenant, seller, category }),
        4 => (0..16usize, 0..12usize, 0..12usize).prop_map(|(case, event, pick)| Op::Event { case, event, pick }),
    ]
}

fn entries_written(store: &Store) -> u64 {
    store.metrics().entries_written
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn each_write_moves_exactly_the_entries_that_changed(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let opts = fast_options();
        let store = Store::open(dir.path(), opts.clone()).unwrap();
        let mut ids: Vec<CaseId> = Vec::new();
        let mut clock = ts("2026-02-01T00:00:00Z");
        for op in ops {
            clock = clock.saturating_add(Span(41 * 60 * 1000));
            let before = entries_written(&store);
            match op {
                Op::Create { tenant, seller, category } => {
                    let new = new_case(TENANTS[tenant], SELLERS[seller], Category::ALL[category], "Payout held", Some(clock));
                    let created = store.create_case(new).unwrap();
                    let case = store.case(&Scope::AllTenants, &CaseRef::Id(created.id)).unwrap().unwrap();
                    let want = view_entries(&opts, None, &case) + record_entries(1) + CREATE_EXTRA;
                    prop_assert_eq!(entries_written(&store) - before, want, "create {:?}", case);
                    ids.push(created.id);
                }
                Op::Event { case, event, pick } => {
                    if ids.is_empty() { continue; }
                    let id = CaseRef::Id(ids[case % ids.len()]);
                    let old = store.case(&Scope::AllTenants, &id).unwrap().unwrap();
                    let seller_actor = seller(old.created_by.as_str());
                    let support = agent(AGENTS[pick % 2]);
                    let (actor, event) = match event {
                        0 => (seller_actor, CaseEvent::Reply),
                        1 => (support, CaseEvent::PickUp),
                        2 => (support, CaseEvent::RequestInfo { deadline: clock.saturating_add(Span::days(2)) }),
                        3 => (support, CaseEvent::Resolve),
                        4 => (seller_actor, CaseEvent::Close),
                        5 => (support, CaseEvent::Reply),
                        6 => (support, CaseEvent::Transfer { category: Category::ALL[pick], marketplace: None }),
                        7 => (support, CaseEvent::Assign { to: user(AGENTS[pick % 2]) }),
                        8 => (support, CaseEvent::Release),
                        9 => (support, CaseEvent::SetComplex { complex: pick % 2 == 0 }),
                        10 => (seller_actor, CaseEvent::Assign { to: user(SELLERS[pick % 2]) }),
                        _ => (seller_actor, CaseEvent::Release),
                    };
                    let scope = match &actor {
                        Actor::Seller(_) => Scope::Tenant(old.tenant.clone()),
                        _ => Scope::AllTenants,
                    };
                    let got = store.apply_event(&scope, &id, actor, event.clone(), "note", Some(clock));
                    let new = store.case(&Scope::AllTenants, &id).unwrap().unwrap();
                    let want = match &got {
                        Ok(_) => view_entries(&opts, Some(&old), &new) + record_entries(new.entries - old.entries),
                        // A refused command writes nothing.
                        Err(_) => 0,
                    };
                    prop_assert_eq!(entries_written(&store) - before, want, "{:?} -> {:?}: {:?} to {:?}", event, got, old, new);
                }
            }
        }
        store.shutdown().unwrap();
    }
}

/// A support reply to a case in progress (no status change) moves the
/// case's two time-keyed entries (by update, by status) in its two scopes
/// and nothing else of the views; within its buckets, no bucket count.
#[test]
fn a_support_reply_writes_its_records_and_two_moved_keys_per_scope() {
    let dir = tempfile::tempdir().unwrap();
    let opts = fast_options();
    let store = Store::open(dir.path(), opts.clone()).unwrap();
    let t0 = ts("2026-02-01T00:00:00Z");
    let created = store
        .create_case(new_case("seller-a", "ann", Category::Payments, "Payout held", Some(t0)))
        .unwrap();
    let id = CaseRef::Id(created.id);
    store
        .apply_event(
            &Scope::AllTenants,
            &id,
            agent("agent-1"),
            CaseEvent::PickUp,
            "",
            Some(t0.saturating_add(Span::hours(1))),
        )
        .unwrap();
    let old = store.case(&Scope::AllTenants, &id).unwrap().unwrap();
    let before = entries_written(&store);
    store
        .apply_event(
            &Scope::AllTenants,
            &id,
            agent("agent-1"),
            CaseEvent::Reply,
            "We are on it.",
            Some(t0.saturating_add(Span::hours(2))),
        )
        .unwrap();
    let new = store.case(&Scope::AllTenants, &id).unwrap().unwrap();
    let written = entries_written(&store) - before;
    assert_eq!(new.state.status, old.state.status);
    // 2 scopes × (by update: remove + insert, by status: remove + insert).
    assert_eq!(bucket_entries(Some(&old), &new), 0);
    assert_eq!(view_entries(&opts, Some(&old), &new), 8);
    assert_eq!(written, 8 + record_entries(1));
    // A reply weeks later moves the case into other buckets in both
    // scopes: the update-time counts of the old and the new bucket, twice.
    let before = entries_written(&store);
    store
        .apply_event(
            &Scope::AllTenants,
            &id,
            agent("agent-1"),
            CaseEvent::Reply,
            "Still on it.",
            Some(t0.saturating_add(Span::days(30))),
        )
        .unwrap();
    let later = store.case(&Scope::AllTenants, &id).unwrap().unwrap();
    assert_eq!(bucket_entries(Some(&new), &later), 4);
    assert_eq!(entries_written(&store) - before, 8 + 4 + record_entries(1));
    store.shutdown().unwrap();
}
