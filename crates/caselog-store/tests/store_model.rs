//! Model-based test: random operation sequences run against the store and
//! against a plain in-memory model; every read is compared. The model
//! applies the same core rules (themselves property-tested in core), so
//! what this checks is the store's plumbing: scoping, view tables, counts,
//! paging, sort orders and the queue's order — which, after every action
//! (transfer, assignment, complexity, tier changes in small re-key batches,
//! timers), must be the core comparator's order of the model's keys.

mod common;

use caselog_core::*;
use caselog_store::*;
use common::*;
use proptest::prelude::*;

const TENANTS: [&str; 3] = ["seller-a", "seller-b", "seller-c"];
const USERS: [&str; 2] = ["ann", "bob"];
const TITLES: [&str; 4] = ["Refund delayed", "ASIN suppressed", "Payout held", "Account suspended"];

#[derive(Debug, Clone)]
enum Op {
    Create {
        tenant: usize,
        user: usize,
        category: usize,
        title: usize,
    },
    Event {
        case: usize,
        actor: usize,
        event: usize,
    },
    ViewAll {
        tenant: Option<usize>,
        status: Option<usize>,
        created: bool,
        desc: bool,
        per_page: u32,
        page: u32,
    },
    Mine {
        tenant: usize,
        user: usize,
    },
    Queue {
        category: Option<usize>,
        limit: usize,
    },
    Transfer {
        case: usize,
        category: usize,
    },
    Assign {
        case: usize,
        agent: usize,
    },
    Release {
        case: usize,
    },
    Complex {
        case: usize,
        complex: bool,
    },
    Tier {
        tenant: usize,
        tier: usize,
    },
    AgentMine {
        agent: usize,
    },
    HandOver {
        case: usize,
        to: Option<usize>,
    },
    Timers {
        days: i64,
    },
}

const AGENTS: [&str; 2] = ["agent-1", "agent-2"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..2usize, 0..12usize, 0..4usize)
            .prop_map(|(tenant, user, category, title)| Op::Create { tenant, user, category, title }),
        4 => (0..64usize, 0..4usize, 0..6usize).prop_map(|(case, actor, event)| Op::Event { case, actor, event }),
        2 => (proptest::option::of(0..3usize), proptest::option::of(0..6usize), any::<bool>(), any::<bool>(), 1..5u32, 1..4u32)
            .prop_map(|(tenant, status, created, desc, per_page, page)| Op::ViewAll { tenant, status, created, desc, per_page, page }),
        1 => (0..3usize, 0..2usize).prop_map(|(tenant, user)| Op::Mine { tenant, user }),
        2 => (proptest::option::of(0..12usize), 1..10usize).prop_map(|(category, limit)| Op::Queue { category, limit }),
        1 => (0..64usize, 0..12usize).prop_map(|(case, category)| Op::Transfer { case, category }),
        1 => (0..64usize, 0..2usize).prop_map(|(case, agent)| Op::Assign { case, agent }),
        1 => (0..64usize).prop_map(|case| Op::Release { case }),
        1 => (0..64usize, any::<bool>()).prop_map(|(case, complex)| Op::Complex { case, complex }),
        1 => (0..3usize, 0..3usize).prop_map(|(tenant, tier)| Op::Tier { tenant, tier }),
        1 => (0..2usize).prop_map(|agent| Op::AgentMine { agent }),
        1 => (0..64usize, proptest::option::of(0..2usize)).prop_map(|(case, to)| Op::HandOver { case, to }),
        1 => (0..10i64).prop_map(|days| Op::Timers { days }),
    ]
}

#[derive(Debug, Clone)]
struct ModelCase {
    id: CaseId,
    tenant: String,
    created_by: String,
    assignee: Option<String>,
    handler: Option<String>,
    category: Category,
    title: String,
    state: CaseState,
    duplicate: bool,
    entries: u32,
    complex: bool,
    tier: PerformanceTier,
}

/// Applies a routing event (support) to the model and the store; both must
/// agree on acceptance, refusal and the resulting status.
fn routed(
    m: &mut ModelCase,
    actor: &Actor,
    event: CaseEvent,
    clock: Timestamp,
    opts: &Options,
    got: Result<Written, StoreError>,
) -> Result<bool, TestCaseError> {
    let expected = transition(&m.state, actor, &event, clock, &opts.lifecycle);
    match (expected, got) {
        (Ok(t), Ok(w)) => {
            prop_assert_eq!(w.status, t.state.status);
            prop_assert_eq!(w.entry, m.entries);
            m.state = t.state;
            m.entries += 1;
            Ok(true)
        }
        (Err(e), Err(StoreError::Transition { refusal: source, .. })) => {
            prop_assert_eq!(e, source);
            Ok(false)
        }
        (e, g) => {
            prop_assert!(false, "model {:?} vs store {:?}", e, g);
            Ok(false)
        }
    }
}

fn scope_of(t: Option<usize>) -> Scope {
    match t {
        Some(i) => Scope::Tenant(tenant(TENANTS[i])),
        None => Scope::AllTenants,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        // Re-keys in batches of two, so tier changes take several.
        let opts = Options { rekey_batch: 2, ..fast_options() };
        let mut tiers = [PerformanceTier::Standard; 3];
        let store = Store::open(dir.path(), opts.clone()).unwrap();
        let mut model: Vec<ModelCase> = Vec::new();
        let mut clock = ts("2026-02-01T00:00:00Z");
        for op in ops {
            clock = clock.saturating_add(Span(37 * 60 * 1000));
            match op {
                Op::Create { tenant: t, user: u, category, title } => {
                    let category = Category::ALL[category];
                    let new = new_case(TENANTS[t], USERS[u], category, TITLES[title], Some(clock));
                    let created = store.create_case(new).unwrap();
                    // The duplicate rule, applied to the model's cases.
                    let recent: Vec<DuplicateFacts> = model.iter().filter(|m| m.tenant == TENANTS[t]).map(|m| DuplicateFacts {
                        id: m.id, status: m.state.status, category: m.category, title: &m.title,
                        orders: &[], asins: &[], created_at: m.state.created_at,
                    }).collect();
                    let facts = DuplicateFacts { id: CaseId(0), status: Status::Open, category, title: TITLES[title], orders: &[], asins: &[], created_at: clock };
                    let dup = find_duplicate(&facts, &recent, &opts.queue);
                    prop_assert_eq!(created.duplicate_of.is_some(), dup.is_some());
                    model.push(ModelCase {
                        id: created.id, tenant: TENANTS[t].into(), created_by: USERS[u].into(), assignee: None, handler: None,
                        category, title: TITLES[title].into(), state: CaseState::new(clock), duplicate: dup.is_some(), entries: 1,
                        complex: false, tier: tiers[t],
                    });
                }
                Op::Event { case, actor, event } => {
                    if model.is_empty() { continue; }
                    let i = case % model.len();
                    let m = &model[i];
                    let actor = match actor { 0 => seller(&m.created_by), 1 => agent("agent-1"), 2 => Actor::System, _ => seller("mallory") };
                    let event = match event {
                        0 => CaseEvent::Reply, 1 => CaseEvent::PickUp,
                        2 => CaseEvent::RequestInfo { deadline: clock.saturating_add(Span::days(2)) },
                        3 => CaseEvent::Resolve, 4 => CaseEvent::Close, _ => CaseEvent::DeadlineExpired,
                    };
                    let scope = match &actor { Actor::Seller(_) => Scope::Tenant(tenant(&m.tenant)), _ => Scope::AllTenants };
                    let expected = transition(&m.state, &actor, &event, clock, &opts.lifecycle);
                    let got = store.apply_event(&scope, &CaseRef::Id(m.id), actor.clone(), event.clone(), "note", Some(clock));
                    match (expected, got) {
                        (Ok(t), Ok(w)) => {
                            prop_assert_eq!(w.status, t.state.status);
                            let m = &mut model[i];
                            m.state = t.state;
                            m.entries += 1;
                            if event == CaseEvent::PickUp { m.assignee = actor.user().map(|u| u.to_string()); }
                        }
                        (Err(e), Err(StoreError::Transition { refusal: source, .. })) => prop_assert_eq!(e, source),
                        (e, g) => prop_assert!(false, "model {:?} vs store {:?}", e, g),
                    }
                }
                Op::ViewAll { tenant: t, status, created, desc, per_page, page } => {
                    let scope = scope_of(t);
                    let mut q = ViewQuery::new(ViewKind::All);
                    q.sort = if created { ViewSort::Created } else { ViewSort::Updated };
                    q.descending = desc;
                    q.per_page = per_page;
                    q.page = page;
                    if let Some(s) = status { q.filter.statuses = vec![Status::ALL[s]]; }
                    let got = store.view(&scope, &q).unwrap();
                    let mut want: Vec<&ModelCase> = model.iter()
                        .filter(|m| t.is_none_or(|i| m.tenant == TENANTS[i]))
                        .filter(|m| status.is_none_or(|s| m.state.status == Status::ALL[s]))
                        .collect();
                    want.sort_by_key(|m| (if created { m.state.created_at } else { m.state.updated_at }, m.id));
                    if desc { want.reverse(); }
                    prop_assert_eq!(got.total as usize, want.len());
                    let page_ids: Vec<CaseId> = want.iter().skip(((page - 1) * per_page) as usize).take(per_page as usize).map(|m| m.id).collect();
                    let got_ids: Vec<CaseId> = got.cases.iter().map(|c| c.id).collect();
                    prop_assert_eq!(got_ids, page_ids);
                    for c in &got.cases {
                        let m = model.iter().find(|m| m.id == c.id).unwrap();
                        prop_assert_eq!(&c.state, &m.state);
                        prop_assert_eq!(c.entries, m.entries);
                    }
                    // A cursor walk returns the whole view, in its order, each case once.
                    let (mut walked, mut cursor) = (Vec::new(), None);
                    loop {
                        let p = store.view_after(&scope, &q, cursor.as_ref()).unwrap();
                        prop_assert_eq!(p.total as usize, want.len());
                        walked.extend(p.cases.iter().map(|c| c.id));
                        prop_assert!(walked.len() <= want.len(), "the walk repeats cases");
                        match p.next { Some(next) => cursor = Some(next), None => break }
                    }
                    prop_assert_eq!(walked, want.iter().map(|m| m.id).collect::<Vec<_>>());
                }
                Op::Mine { tenant: t, user: u } => {
                    let mut q = ViewQuery::new(ViewKind::Mine(user(USERS[u])));
                    q.per_page = 1000;
                    let got = store.view(&scope_of(Some(t)), &q).unwrap();
                    // The seller side's *My cases*: the cases the user
                    // created or was handed.
                    let mut want: Vec<CaseId> = model.iter()
                        .filter(|m| m.tenant == TENANTS[t] && (m.created_by == USERS[u] || m.handler.as_deref() == Some(USERS[u])))
                        .map(|m| m.id).collect();
                    want.sort();
                    let mut got_ids: Vec<CaseId> = got.cases.iter().map(|c| c.id).collect();
                    got_ids.sort();
                    prop_assert_eq!(got_ids, want);
                }
                Op::Queue { category, limit } => {
                    let category = category.map(|c| Category::ALL[c]);
                    let got = store.queue(&Scope::AllTenants, &QueueQuery { limit, category, marketplace: None }).unwrap();
                    // The queue's order is exactly the core comparator's order.
                    let mut want: Vec<QueueKey> = model.iter()
                        .filter(|m| m.state.status.waits_on_support())
                        .filter(|m| category.is_none_or(|c| m.category == c))
                        .map(|m| opts.queue.key(&QueueInputs {
                            category: m.category, complex: m.complex, tier: m.tier,
                            created_at: m.state.created_at, paused: m.state.paused_total, duplicate: m.duplicate,
                        }, m.id))
                        .collect();
                    want.sort();
                    want.truncate(limit);
                    let got_keys: Vec<QueueKey> = got.iter().map(|e| e.key).collect();
                    prop_assert_eq!(got_keys, want);
                    // Each stored key is its case's key under the policy.
                    for e in &got {
                        prop_assert_eq!(e.key, queue_key_of(&opts, &e.case));
                    }
                }
                Op::Transfer { case, category } => {
                    if model.is_empty() { continue; }
                    let i = case % model.len();
                    let category = Category::ALL[category];
                    let event = CaseEvent::Transfer { category, marketplace: None };
                    let got = store.apply_event(&Scope::AllTenants, &CaseRef::Id(model[i].id), agent("agent-1"), event, "misfiled", Some(clock));
                    if routed(&mut model[i], &agent("agent-1"), CaseEvent::Transfer { category, marketplace: None }, clock, &opts, got)? {
                        model[i].category = category;
                    }
                }
                Op::Assign { case, agent: a } => {
                    if model.is_empty() { continue; }
                    let i = case % model.len();
                    let to = user(AGENTS[a]);
                    let event = CaseEvent::Assign { to: to.clone() };
                    let got = store.apply_event(&Scope::AllTenants, &CaseRef::Id(model[i].id), agent("agent-1"), event, "", Some(clock));
                    if routed(&mut model[i], &agent("agent-1"), CaseEvent::Assign { to }, clock, &opts, got)? {
                        model[i].assignee = Some(AGENTS[a].into());
                    }
                }
                Op::Release { case } => {
                    if model.is_empty() { continue; }
                    let i = case % model.len();
                    let got = store.apply_event(&Scope::AllTenants, &CaseRef::Id(model[i].id), agent("agent-1"), CaseEvent::Release, "", Some(clock));
                    if routed(&mut model[i], &agent("agent-1"), CaseEvent::Release, clock, &opts, got)? {
                        model[i].assignee = None;
                    }
                }
                Op::Complex { case, complex } => {
                    if model.is_empty() { continue; }
                    let i = case % model.len();
                    let event = CaseEvent::SetComplex { complex };
                    let got = store.apply_event(&Scope::AllTenants, &CaseRef::Id(model[i].id), agent("agent-1"), event, "", Some(clock));
                    if routed(&mut model[i], &agent("agent-1"), CaseEvent::SetComplex { complex }, clock, &opts, got)? {
                        model[i].complex = complex;
                    }
                }
                Op::Tier { tenant: t, tier } => {
                    let tier = PerformanceTier::ALL[tier];
                    store.set_tenant_tier(&tenant(TENANTS[t]), tier).unwrap();
                    tiers[t] = tier;
                    // Every non-final case of the tenant takes the new tier.
                    for m in model.iter_mut().filter(|m| m.tenant == TENANTS[t] && !m.state.status.is_final()) {
                        m.tier = tier;
                    }
                }
                Op::HandOver { case, to } => {
                    if model.is_empty() { continue; }
                    let i = case % model.len();
                    // The creator hands the case to a colleague (or takes it back).
                    let by = seller(&model[i].created_by);
                    let event = match to {
                        Some(u) => CaseEvent::Assign { to: user(USERS[u]) },
                        None => CaseEvent::Release,
                    };
                    let scope = Scope::Tenant(tenant(&model[i].tenant));
                    let got = store.apply_event(&scope, &CaseRef::Id(model[i].id), by.clone(), event.clone(), "", Some(clock));
                    if routed(&mut model[i], &by, event, clock, &opts, got)? {
                        model[i].handler = to.map(|u| USERS[u].to_string());
                    }
                }
                Op::AgentMine { agent: a } => {
                    // The support side's *My cases*: the cases assigned to the agent.
                    let mut q = ViewQuery::new(ViewKind::Mine(user(AGENTS[a])));
                    q.per_page = 1000;
                    let got = store.view(&Scope::AllTenants, &q).unwrap();
                    let mut want: Vec<CaseId> = model.iter()
                        .filter(|m| m.assignee.as_deref() == Some(AGENTS[a]))
                        .map(|m| m.id).collect();
                    want.sort();
                    let mut got_ids: Vec<CaseId> = got.cases.iter().map(|c| c.id).collect();
                    got_ids.sort();
                    prop_assert_eq!(got_ids, want);
                }
                Op::Timers { days } => {
                    let now = clock.saturating_add(Span::days(days));
                    // The timers' rules, applied to the model: every due
                    // event is chosen before any is applied.
                    let mut want = 0;
                    for m in model.iter_mut() {
                        let event = match m.state.status {
                            Status::NeedsAttention if m.state.reply_deadline.is_some_and(|d| d <= now) => CaseEvent::DeadlineExpired,
                            Status::Resolved if m.state.resolved_at.is_some_and(|r| r.saturating_add(opts.lifecycle.reopen_window) < now) => CaseEvent::AutoClose,
                            _ => continue,
                        };
                        if let Ok(t) = transition(&m.state, &Actor::System, &event, now, &opts.lifecycle) {
                            m.state = t.state;
                            m.entries += 1;
                            want += 1;
                        }
                    }
                    prop_assert_eq!(store.run_timers(now).unwrap(), want);
                    clock = now;
                }
            }
        }
        store.shutdown().unwrap();
    }
}
