//! Numbered view pages seek to their time bucket (`view_buckets`, schema
//! 3). The judge is a brute-force oracle over the stored cases: on random
//! archives (created live and imported, times spread over months and put
//! on and next to bucket edges) and random writes that move cases within
//! and between buckets, change statuses and deadlines, assign, hand over,
//! merge, erase and run the timers, every page of every time-ordered view
//! (each scope, tab, order and status filter) has the oracle's total,
//! cases, order and "a page follows". And the counts kept write by write
//! are exactly the counts a migration computes from the cases afterwards.

mod common;

use caselog_core::*;
use caselog_store::*;
use common::*;
use proptest::prelude::*;

const TENANTS: [&str; 3] = ["seller-a", "seller-b", "seller-c"];
const SELLERS: [&str; 2] = ["ann", "bob"];
const AGENTS: [&str; 2] = ["agent-1", "agent-2"];

/// Bucket widths of the store, as shifts of a time in ms (`buckets.rs`:
/// 2^26 ms across all tenants, 2^30 ms in a tenant's scope). Times are put
/// on and next to these edges.
const EDGES: [i64; 2] = [1 << 26, 1 << 30];
const DAY: i64 = 86_400_000;

fn base() -> Timestamp {
    ts("2026-01-01T00:00:00Z")
}

/// A time: `offset` ms after the base, or (with `snap` 1..=6) moved on to
/// the next bucket edge, one ms before or after it (never earlier).
fn at(offset: i64, snap: u8) -> Timestamp {
    let t = base().as_millis() + offset;
    let t = match snap {
        1..=6 => {
            let edge = EDGES[usize::from(snap % 2)];
            (t.div_euclid(edge) + 1) * edge + i64::from(snap / 3) - 1
        }
        _ => t,
    };
    Timestamp::from_millis(t).unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        tenant: usize,
        seller: usize,
        category: usize,
        offset: i64,
        snap: u8,
    },
    Import {
        n: usize,
        seed: u64,
    },
    Event {
        case: usize,
        event: usize,
        pick: usize,
        /// How far after the case's last change: 0 ms up to weeks.
        step: i64,
        snap: u8,
    },
    Erase {
        case: usize,
    },
    Timers {
        days: i64,
    },
    Check,
}

fn op() -> impl Strategy<Value = Op> {
    let step = prop_oneof![Just(0i64), 1..1000i64, 1..(6 * 3_600_000i64), 1..(40 * DAY)];
    prop_oneof![
        4 => (0..3usize, 0..2usize, 0..12usize, 0..(240 * DAY), 0..12u8)
            .prop_map(|(tenant, seller, category, offset, snap)| Op::Create { tenant, seller, category, offset, snap }),
        1 => (1..12usize, any::<u64>()).prop_map(|(n, seed)| Op::Import { n, seed }),
        8 => (0..64usize, 0..12usize, 0..64usize, step, 0..12u8)
            .prop_map(|(case, event, pick, step, snap)| Op::Event { case, event, pick, step, snap }),
        1 => (0..64usize).prop_map(|case| Op::Erase { case }),
        1 => (0..30i64).prop_map(|days| Op::Timers { days }),
        1 => Just(Op::Check),
    ]
}

/// Errors a random write may meet (a refusal); anything else is a failure.
fn refused(e: &StoreError) -> bool {
    !matches!(
        e,
        StoreError::Io { .. }
            | StoreError::Storage { .. }
            | StoreError::Corrupt { .. }
            | StoreError::CommitFailed { .. }
            | StoreError::Damaged { .. }
            | StoreError::WritesRefused { .. }
            | StoreError::ShutDown
    )
}

fn all_cases(store: &Store) -> Vec<Case> {
    store
        .case_ids()
        .unwrap()
        .into_iter()
        .filter_map(|id| store.case(&Scope::AllTenants, &CaseRef::Id(CaseId(id))).unwrap())
        .collect()
}

/// Every page of every time-ordered view in every scope, against the
/// oracle; `per_pages` are the page sizes tried.
fn check_views(store: &Store, per_pages: &[u32]) -> Result<(), TestCaseError> {
    let cases = all_cases(store);
    let mut scopes: Vec<Scope> = TENANTS.iter().map(|t| Scope::Tenant(tenant(t))).collect();
    scopes.push(Scope::AllTenants);
    for scope in &scopes {
        let mut shapes: Vec<(ViewKind, Vec<Status>)> = Vec::new();
        for statuses in [
            vec![],
            vec![Status::Open],
            vec![Status::InProgress, Status::NeedsAttention, Status::Closed],
        ] {
            shapes.push((ViewKind::All, statuses));
        }
        shapes.push((ViewKind::NeedsAttention, vec![]));
        for u in SELLERS.iter().chain(AGENTS.iter()) {
            shapes.push((ViewKind::Mine(user(u)), vec![]));
        }
        for (kind, statuses) in shapes {
            for sort in [ViewSort::Updated, ViewSort::Created] {
                for descending in [true, false] {
                    for &per_page in per_pages {
                        let mut page = 1;
                        loop {
                            let mut q = ViewQuery::new(kind.clone());
                            q.sort = sort;
                            q.descending = descending;
                            q.filter.statuses = statuses.clone();
                            q.page = page;
                            q.per_page = per_page;
                            let got = store.view(scope, &q).unwrap();
                            let want = view_oracle(&cases, scope, &q);
                            let got = (
                                got.total,
                                got.cases.iter().map(|c| c.id).collect::<Vec<_>>(),
                                got.next.is_some(),
                            );
                            prop_assert_eq!(&got, &want, "{:?} {:?}", scope, q);
                            // One page past the end, then stop.
                            if u64::from(page - 1) * u64::from(per_page) >= want.0 {
                                break;
                            }
                            page += 1;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// One archived case of `tenant` with a random status, times (snapped to
/// bucket edges when `snap`) and deadline; its users are the caller's.
fn random_archived(rng: &mut common::Rng, number: &str, tenant: &str, title: &str, snap: bool) -> ImportCase {
    let status = Status::ALL[rng.below(Status::ALL.len() as u64) as usize];
    let mut c = archived_case(number, tenant, title, "Imported text", status);
    let snap = if snap { rng.below(12) as u8 } else { 0 };
    let created = at(rng.below(240 * DAY as u64) as i64, snap);
    c.case.state.created_at = created;
    c.case.state.updated_at = created.saturating_add(Span(rng.below(20 * DAY as u64) as i64));
    if status == Status::NeedsAttention {
        c.case.state.reply_deadline = Some(c.case.state.updated_at.saturating_add(Span::days(3)));
    }
    for e in &mut c.thread {
        e.at = created;
    }
    c
}

/// `n` archived cases with random times, statuses, users and deadlines.
fn archive(seed: u64, n: usize, first: u64) -> Vec<ImportCase> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|i| {
            let tenant = TENANTS[rng.below(3) as usize];
            let mut c = random_archived(
                &mut rng,
                &format!("9{:09}", first + i as u64),
                tenant,
                &format!("Archived case {i}"),
                true,
            );
            c.case.created_by = user(SELLERS[rng.below(2) as usize]);
            if rng.chance(30) {
                c.case.handler = Some(user(SELLERS[rng.below(2) as usize]));
            }
            if rng.chance(30) {
                c.case.assignee = Some(user(AGENTS[rng.below(2) as usize]));
            }
            c
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn bucketed_pages_are_the_brute_force_pages(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { import_chunk: 5, timer_interval: None, ..fast_options() };
        let store = Store::open(dir.path(), opts.clone()).unwrap();
        let mut imported = 0u64;
        for op in ops {
            let cases = all_cases(&store);
            match op {
                Op::Create { tenant: t, seller, category, offset, snap } => {
                    let new = new_case(TENANTS[t], SELLERS[seller], Category::ALL[category], "Payout held", Some(at(offset, snap)));
                    store.create_case(new).unwrap();
                }
                Op::Import { n, seed } => {
                    for out in store.import(archive(seed, n, imported)).unwrap() {
                        prop_assert!(out.is_ok(), "{:?}", out);
                    }
                    imported += n as u64;
                }
                Op::Event { case, event, pick, step, snap } => {
                    if cases.is_empty() { continue; }
                    let c = &cases[case % cases.len()];
                    let when = Timestamp::from_millis(c.state.updated_at.as_millis() + step).unwrap();
                    let when = at(when.as_millis() - base().as_millis(), snap);
                    let seller_actor = seller(c.created_by.as_str());
                    let support = agent(AGENTS[pick % 2]);
                    let same_tenant: Vec<&Case> = cases.iter().filter(|o| o.tenant == c.tenant && o.id != c.id).collect();
                    let (actor, event) = match event {
                        0 => (seller_actor, CaseEvent::Reply),
                        1 => (support, CaseEvent::Reply),
                        2 => (support, CaseEvent::PickUp),
                        3 => (support, CaseEvent::RequestInfo { deadline: at(when.as_millis() - base().as_millis() + 1 + (pick as i64) * DAY / 3, snap) }),
                        4 => (support, CaseEvent::Resolve),
                        5 => (seller_actor, CaseEvent::Close),
                        6 => (support, CaseEvent::Assign { to: user(AGENTS[pick % 2]) }),
                        7 => (support, CaseEvent::Release),
                        8 => (seller_actor, CaseEvent::Assign { to: user(SELLERS[pick % 2]) }),
                        9 => (seller_actor, CaseEvent::Release),
                        10 if !same_tenant.is_empty() => (support, CaseEvent::MergeInto { target: same_tenant[pick % same_tenant.len()].number.clone() }),
                        _ => (support, CaseEvent::Transfer { category: Category::ALL[pick % 12], marketplace: None }),
                    };
                    let scope = match &actor {
                        Actor::Seller(_) => Scope::Tenant(c.tenant.clone()),
                        _ => Scope::AllTenants,
                    };
                    if let Err(e) = store.apply_event(&scope, &CaseRef::Id(c.id), actor, event, "note", Some(when)) {
                        prop_assert!(refused(&e), "{:?}", e);
                    }
                }
                Op::Erase { case } => {
                    if cases.is_empty() { continue; }
                    let c = &cases[case % cases.len()];
                    store.erase(&Scope::Tenant(c.tenant.clone()), &CaseRef::Id(c.id)).unwrap();
                }
                Op::Timers { days } => {
                    let latest = cases.iter().map(|c| c.state.updated_at).max().unwrap_or_else(base);
                    store.run_timers(latest.saturating_add(Span::days(days))).unwrap();
                }
                Op::Check => check_views(&store, &[3])?,
            }
        }
        check_views(&store, &[1, 4])?;
        store.shutdown().unwrap();
        // The counts kept write by write are the counts computed afresh.
        let kept = stored_buckets(dir.path());
        downgrade_to_v2(dir.path());
        let store = Store::open_read_only(dir.path(), opts.clone()).unwrap();
        // Schema 2 read-only: no bucket counts, the pages skip from the start.
        check_views(&store, &[2])?;
        drop(store);
        let store = Store::open(dir.path(), opts.clone()).unwrap();
        check_views(&store, &[2])?;
        store.shutdown().unwrap();
        prop_assert_eq!(stored_buckets(dir.path()), kept);
    }
}

/// `n` archived cases of one tenant, most of them created by the first
/// seller (`share` in 100), some handed to a seller.
fn busy_archive(seed: u64, n: usize, share: u64) -> Vec<ImportCase> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|i| {
            let mut c = random_archived(
                &mut rng,
                &format!("8{i:09}"),
                TENANTS[0],
                &format!("Busy case {i}"),
                false,
            );
            c.case.created_by = user(SELLERS[usize::from(!rng.chance(share))]);
            if rng.chance(30) {
                c.case.handler = Some(user(SELLERS[rng.below(2) as usize]));
            }
            c
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
    /// *Mine* by update of a user holding most of a tenant's 400 cases: its
    /// first pages are walked testing each key against the user's keys
    /// (taken while (skip + page size + 1) × 400 × 4 ≤ the user's cases²,
    /// so for pages of 1 up to about page 60 for the busy seller, a few
    /// pages for the other),
    /// later ones through the set of the user's cases. Every numbered page
    /// and the whole cursor walk are the oracle's, after replies move cases
    /// and hand-overs move them between the sellers.
    #[test]
    fn mine_of_a_busy_user_is_the_brute_force_view(
        seed in any::<u64>(),
        events in proptest::collection::vec((0..400usize, 0..3u8, 0..2usize, 1..(30 * DAY)), 0..30),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { import_chunk: 64, timer_interval: None, ..fast_options() };
        let store = Store::open(dir.path(), opts).unwrap();
        for out in store.import(busy_archive(seed, 400, 80)).unwrap() {
            prop_assert!(out.is_ok(), "{:?}", out);
        }
        let scope = Scope::Tenant(tenant(TENANTS[0]));
        for (case, kind, pick, step) in events {
            let cases = all_cases(&store);
            let c = &cases[case % cases.len()];
            let when = Timestamp::from_millis(c.state.updated_at.as_millis() + step).unwrap();
            let event = match kind {
                0 => CaseEvent::Reply,
                1 => CaseEvent::Assign { to: user(SELLERS[pick]) },
                _ => CaseEvent::Release,
            };
            if let Err(e) = store.apply_event(&scope, &CaseRef::Id(c.id), seller(c.created_by.as_str()), event, "note", Some(when)) {
                prop_assert!(refused(&e), "{:?}", e);
            }
        }
        let cases = all_cases(&store);
        for u in SELLERS {
            for descending in [true, false] {
                for per_page in [1u32, 7, 20] {
                    let mut q = ViewQuery::new(ViewKind::Mine(user(u)));
                    q.sort = ViewSort::Updated;
                    q.descending = descending;
                    q.per_page = per_page;
                    let (total, _, _) = view_oracle(&cases, &scope, &q);
                    for page in 1..=(total as u32).div_ceil(per_page) + 1 {
                        q.page = page;
                        let got = store.view(&scope, &q).unwrap();
                        let got = (got.total, got.cases.iter().map(|c| c.id).collect::<Vec<_>>(), got.next.is_some());
                        prop_assert_eq!(&got, &view_oracle(&cases, &scope, &q), "{} {:?}", u, q);
                    }
                    q.page = 1;
                    let mut walked = Vec::new();
                    let mut cursor = None;
                    loop {
                        let got = store.view_after(&scope, &q, cursor.as_ref()).unwrap();
                        walked.extend(got.cases.iter().map(|c| c.id));
                        match got.next {
                            Some(next) => cursor = Some(next),
                            None => break,
                        }
                    }
                    q.per_page = (total as u32).max(1);
                    let (_, all, _) = view_oracle(&cases, &scope, &q);
                    prop_assert_eq!(walked, all, "{} walk by {}", u, per_page);
                }
            }
        }
        store.shutdown().unwrap();
    }
}
