//! Tenant isolation, as a property: over random multi-tenant archives whose
//! tenants share words, users, order ids, ASINs and SKUs, every
//! tenant-scoped call — search (hits, totals, facets, snippets, pages),
//! number lookups, views, the queue, export and cross-tenant writes —
//! answers exactly what the all-tenants call answers restricted to that
//! tenant, and nothing of another tenant ever appears.
//!
//! The oracle is the all-tenants answer filtered by the owner each case was
//! created for (known from the generated archive, not read back from the
//! store), so a leak, a missing case or a miscounted facet all fail.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use caselog_core::*;
use caselog_store::interchange::to_line;
use caselog_store::*;
use proptest::prelude::*;
use proptest::sample::select;

const TENANTS: &[&str] = &["seller-a", "seller-b", "seller-c"];
/// Users shared across tenants: `by:` and *My cases* must still separate them.
const USERS: &[&str] = &["ann@example.com", "bob@example.com"];
const MARKETS: &[&str] = &["US", "DE"];
const ORDERS: &[&str] = &["112-1234567-1234567", "113-7654321-7654321"];
const ASINS: &[&str] = &["B08XYZ1234", "B000000001"];
const SKUS: &[&str] = &["MUG-RED-01", "SHIRT-XL"];
const WORDS: &[&str] = &[
    "refund",
    "delayed",
    "account",
    "suspended",
    "listing",
    "seller-a",
    "seller-b",
    "账户",
    "停用",
    "退款",
];
const WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Spec {
    tenant: usize,
    user: usize,
    market: usize,
    category: usize,
    title: Vec<usize>,
    body: Vec<usize>,
    order: Option<usize>,
    asin: Option<usize>,
    sku: Option<usize>,
    /// 0: left open, 1: picked up, 2: resolved, 3: a seller reply.
    action: u8,
    day: i64,
}

fn words(ix: &[usize]) -> String {
    ix.iter().map(|&i| WORDS[i % WORDS.len()]).collect::<Vec<_>>().join(" ")
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            0..TENANTS.len(),
            0..USERS.len(),
            0..MARKETS.len(),
            0..Category::ALL.len(),
        ),
        (
            proptest::collection::vec(0..WORDS.len(), 1..4),
            proptest::collection::vec(0..WORDS.len(), 0..8),
        ),
        (
            proptest::option::of(0..ORDERS.len()),
            proptest::option::of(0..ASINS.len()),
            proptest::option::of(0..SKUS.len()),
        ),
        (0u8..4, 0i64..30),
    )
        .prop_map(
            |((tenant, user, market, category), (title, body), (order, asin, sku), (action, day))| Spec {
                tenant,
                user,
                market,
                category,
                title,
                body,
                order,
                asin,
                sku,
                action,
                day,
            },
        )
}

/// A query term. `Case(k)` names the k-th case of the archive (of any
/// tenant) by its number, bare or as `number:`.
#[derive(Debug, Clone)]
enum Term {
    Text(String),
    Case(usize, bool),
}

fn term() -> impl Strategy<Value = Term> {
    prop_oneof![
        5 => select(WORDS).prop_map(|w| Term::Text(w.to_owned())),
        1 => Just(Term::Text("\"refund delayed\"".to_owned())),
        1 => Just(Term::Text("*".to_owned())),
        1 => select(ORDERS).prop_map(|o| Term::Text(o.to_owned())),
        1 => select(ORDERS).prop_map(|o| Term::Text(format!("order:{o}"))),
        1 => select(ASINS).prop_map(|a| Term::Text(a.to_owned())),
        1 => select(ASINS).prop_map(|a| Term::Text(format!("asin:{a}"))),
        1 => select(SKUS).prop_map(|s| Term::Text(format!("sku:{s}"))),
        1 => select(USERS).prop_map(|u| Term::Text(format!("by:{u}"))),
        1 => select(Status::ALL).prop_map(|s| Term::Text(format!("status:{s}"))),
        1 => select(Category::ALL).prop_map(|c| Term::Text(format!("category:{c}"))),
        1 => (0i64..30).prop_map(|d| Term::Text(format!("created:>={}", day(d).day_string()))),
        2 => (0usize..64, any::<bool>()).prop_map(|(k, field)| Term::Case(k, field)),
    ]
}

/// A query: one to three terms, some negated, joined by AND or OR.
fn query() -> impl Strategy<Value = Vec<(Term, bool)>> {
    proptest::collection::vec((term(), proptest::bool::weighted(0.15)), 1..4)
}

fn render(q: &[(Term, bool)], or: bool, cases: &[Case]) -> String {
    let parts: Vec<String> = q
        .iter()
        .map(|(t, neg)| {
            let text = match t {
                Term::Text(s) => s.clone(),
                Term::Case(k, field) => {
                    let n = cases
                        .get(k % cases.len().max(1))
                        .map_or("10000000000".to_owned(), |c| c.number.to_string());
                    if *field {
                        format!("number:{n}")
                    } else {
                        n
                    }
                }
            };
            if *neg {
                format!("-{text}")
            } else {
                text
            }
        })
        .collect();
    parts.join(if or { " OR " } else { " " })
}

fn day(d: i64) -> Timestamp {
    Timestamp::parse_day("2026-03-01")
        .unwrap()
        .saturating_add(Span::hours(d * 24 + 9))
}

fn tenant(i: usize) -> TenantId {
    TenantId::parse(TENANTS[i]).unwrap()
}

fn user(i: usize) -> UserId {
    UserId::parse(USERS[i]).unwrap()
}

/// Writes the archive through the public API; returns the cases in id
/// order and, for each, the tenant it was created for.
fn build(store: &Store, specs: &[Spec]) -> Vec<(Case, TenantId)> {
    let mut out = Vec::new();
    for s in specs {
        let refs = References {
            orders: s.order.iter().map(|&i| OrderId::parse(ORDERS[i]).unwrap()).collect(),
            asins: s.asin.iter().map(|&i| Asin::parse(ASINS[i]).unwrap()).collect(),
            skus: s.sku.iter().map(|&i| Sku::parse(SKUS[i]).unwrap()).collect(),
            cases: vec![],
        };
        let at = day(s.day);
        let created = store
            .create_case(
                NewCase::new(
                    tenant(s.tenant),
                    user(s.user),
                    Marketplace::parse(MARKETS[s.market]).unwrap(),
                    LanguageTag::parse("en").unwrap(),
                    Category::ALL[s.category],
                    words(&s.title),
                    words(&s.body),
                )
                .with_refs(refs)
                .with_time(at),
            )
            .unwrap();
        let case = CaseRef::Id(created.id);
        let later = Some(at.saturating_add(Span::hours(5)));
        let agent = Actor::Support(UserId::parse("agent-1").unwrap());
        match s.action {
            1 => {
                store
                    .apply_event(&Scope::AllTenants, &case, agent, CaseEvent::PickUp, "", later)
                    .unwrap();
            }
            2 => {
                store
                    .apply_event(
                        &Scope::AllTenants,
                        &case,
                        agent,
                        CaseEvent::Resolve,
                        "resolved 已处理",
                        later,
                    )
                    .unwrap();
            }
            3 => {
                let msg = NewMessage::new(Actor::Seller(user(s.user)), format!("{} refund", words(&s.title)))
                    .with_time(later);
                store.reply(&Scope::Tenant(tenant(s.tenant)), &case, msg).unwrap();
            }
            _ => {}
        }
        let case = store.case(&Scope::AllTenants, &case).unwrap().unwrap();
        out.push((case, tenant(s.tenant)));
    }
    out
}

fn all_opts(page: u32, per_page: u32) -> SearchOptions {
    SearchOptions {
        per_page,
        page,
        sort: SearchSort::Created,
        ..SearchOptions::default()
    }
}

fn facets_of<'a>(hits: impl Iterator<Item = &'a SearchHit>) -> Facets {
    let mut f = Facets {
        by_status: BTreeMap::new(),
        by_category: BTreeMap::new(),
    };
    for h in hits {
        *f.by_status.entry(h.status).or_insert(0) += 1;
        *f.by_category.entry(h.category).or_insert(0) += 1;
    }
    f
}

/// Everything tenant-scoped search answers for `text` is the all-tenants
/// answer restricted to `t`, and every snippet comes from the hit's own
/// thread.
fn check_search(store: &Store, owner: &BTreeMap<CaseId, TenantId>, t: &TenantId, text: &str) -> Result<(), String> {
    let scope = Scope::Tenant(t.clone());
    let all = store.search(&Scope::AllTenants, text, &all_opts(1, MAX_PER_PAGE));
    let mine = store.search(&scope, text, &all_opts(1, MAX_PER_PAGE));
    let (all, mine) = match (all, mine) {
        (Ok(a), Ok(m)) => (a, m),
        // A query refused in one scope is refused in the other, the same way.
        (Err(a), Err(m)) => {
            return (a.to_string() == m.to_string())
                .then_some(())
                .ok_or(format!("{text:?}: errors differ: {a} / {m}"))
        }
        (a, m) => return Err(format!("{text:?}: one scope failed: {:?} / {:?}", a.err(), m.err())),
    };
    let expected: Vec<&SearchHit> = all.hits.iter().filter(|h| owner.get(&h.id) == Some(t)).collect();
    for h in &mine.hits {
        if owner.get(&h.id) != Some(t) || &h.tenant != t {
            return Err(format!(
                "{text:?}: {} of {:?} leaked into {t}",
                h.number,
                owner.get(&h.id)
            ));
        }
        let thread = store
            .full_thread(&scope, &CaseRef::Id(h.id))
            .map_err(|e| e.to_string())?;
        if let Some(s) = &h.snippet {
            let from_own = thread
                .get(s.entry as usize)
                .is_some_and(|e| e.body.contains(s.text.as_str()));
            if !from_own {
                return Err(format!(
                    "{text:?}: snippet {:?} is not from {}'s thread",
                    s.text, h.number
                ));
            }
        }
    }
    let got: Vec<CaseId> = mine.hits.iter().map(|h| h.id).collect();
    let want: Vec<CaseId> = expected.iter().map(|h| h.id).collect();
    if got != want {
        return Err(format!("{text:?} in {t}: hits {got:?}, expected {want:?}"));
    }
    if mine.total != want.len() as u64 {
        return Err(format!("{text:?} in {t}: total {} for {} hits", mine.total, want.len()));
    }
    if mine.facets != facets_of(expected.iter().copied()) {
        return Err(format!("{text:?} in {t}: facets {:?}", mine.facets));
    }
    // The same cases and snippets as the support side sees for them.
    for (m, a) in mine.hits.iter().zip(&expected) {
        if m.snippet != a.snippet || m.title != a.title || m.status != a.status {
            return Err(format!("{text:?}: hit {} differs between scopes", m.number));
        }
    }
    // Small pages add up to the same hits, each with the same total.
    let mut paged = Vec::new();
    for page in 1..=want.len().div_ceil(3).max(1) as u32 {
        let p = store
            .search(&scope, text, &all_opts(page, 3))
            .map_err(|e| e.to_string())?;
        if p.total != mine.total || p.facets != mine.facets {
            return Err(format!("{text:?}: page {page} counts differently"));
        }
        paged.extend(p.hits.iter().map(|h| h.id));
    }
    if paged != want {
        return Err(format!("{text:?}: pages give {paged:?}, expected {want:?}"));
    }
    Ok(())
}

fn check_views(store: &Store, owner: &BTreeMap<CaseId, TenantId>, t: &TenantId, vq: &ViewQuery) -> Result<(), String> {
    // *My cases* means the seller's cases on the tenant side and the
    // agent's on the support side, so the tenant's is checked against the
    // support side's *All* narrowed to the user's cases.
    let (all_kind, user_of) = match &vq.kind {
        ViewKind::Mine(u) => (ViewKind::All, Some(u.clone())),
        other => (other.clone(), None),
    };
    let all = store
        .view(
            &Scope::AllTenants,
            &ViewQuery {
                per_page: MAX_PER_PAGE,
                kind: all_kind,
                ..vq.clone()
            },
        )
        .map_err(|e| e.to_string())?;
    let mine = store
        .view(
            &Scope::Tenant(t.clone()),
            &ViewQuery {
                per_page: MAX_PER_PAGE,
                ..vq.clone()
            },
        )
        .map_err(|e| e.to_string())?;
    let want: Vec<CaseId> = all
        .cases
        .iter()
        .filter(|c| owner.get(&c.id) == Some(t))
        .filter(|c| {
            user_of
                .as_ref()
                .is_none_or(|u| &c.created_by == u || c.handler.as_ref() == Some(u))
        })
        .map(|c| c.id)
        .collect();
    let got: Vec<CaseId> = mine.cases.iter().map(|c| c.id).collect();
    if got != want || mine.total != want.len() as u64 {
        return Err(format!(
            "view {:?} in {t}: {got:?} (total {}), expected {want:?}",
            vq.kind, mine.total
        ));
    }
    Ok(())
}

fn check_queue(store: &Store, owner: &BTreeMap<CaseId, TenantId>, t: &TenantId, q: &QueueQuery) -> Result<(), String> {
    let all = store
        .queue(
            &Scope::AllTenants,
            &QueueQuery {
                limit: usize::MAX,
                ..q.clone()
            },
        )
        .map_err(|e| e.to_string())?;
    let mine = store.queue(&Scope::Tenant(t.clone()), q).map_err(|e| e.to_string())?;
    let want: Vec<CaseId> = all
        .iter()
        .filter(|e| owner.get(&e.case.id) == Some(t))
        .map(|e| e.case.id)
        .take(q.limit)
        .collect();
    let got: Vec<CaseId> = mine.iter().map(|e| e.case.id).collect();
    if got != want {
        return Err(format!("queue {q:?} in {t}: {got:?}, expected {want:?}"));
    }
    Ok(())
}

/// Export of a tenant: exactly its cases, each line naming it.
fn check_export(store: &Store, cases: &[(Case, TenantId)], t: &TenantId) -> Result<(), String> {
    let snap = store.snapshot().map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    for item in snap.cases(&Scope::Tenant(t.clone())).map_err(|e| e.to_string())? {
        let (case, thread) = item.map_err(|e| e.to_string())?;
        let line: serde_json::Value = serde_json::from_str(&to_line(&case, &thread)).map_err(|e| e.to_string())?;
        if line["tenant"] != t.as_str() {
            return Err(format!("export of {t} has a line of {}", line["tenant"]));
        }
        got.push(case.id);
    }
    let want: Vec<CaseId> = cases.iter().filter(|(_, o)| o == t).map(|(c, _)| c.id).collect();
    if got != want {
        return Err(format!("export of {t}: {got:?}, expected {want:?}"));
    }
    Ok(())
}

/// Lookups and writes naming another tenant's case behave as if it did not
/// exist, and change nothing.
fn check_direct(store: &Store, cases: &[(Case, TenantId)], t: &TenantId) -> Result<(), String> {
    let scope = Scope::Tenant(t.clone());
    for (case, owner) in cases {
        let by_number = store
            .case(&scope, &case.number.clone().into())
            .map_err(|e| e.to_string())?;
        let by_ref = store
            .case(&scope, &CaseRef::Number(case.number.clone()))
            .map_err(|e| e.to_string())?;
        let visible = owner == t;
        if by_number.is_some() != visible || by_ref.is_some() != visible {
            return Err(format!("{} of {owner} visible={visible} in {t} disagrees", case.number));
        }
        if visible {
            continue;
        }
        let before = store
            .case(&Scope::AllTenants, &CaseRef::Id(case.id))
            .map_err(|e| e.to_string())?;
        let thread = store.thread(&scope, &CaseRef::Id(case.id), 0, 100);
        let reply = store.reply(
            &scope,
            &CaseRef::Number(case.number.clone()),
            NewMessage::new(Actor::Seller(case.created_by.clone()), "not yours"),
        );
        let event = store.apply_event(
            &scope,
            &CaseRef::Id(case.id),
            Actor::Seller(case.created_by.clone()),
            CaseEvent::Close,
            "",
            None,
        );
        for (what, refused) in [("thread", thread.err()), ("reply", reply.err()), ("event", event.err())] {
            if !matches!(refused, Some(StoreError::CaseNotFound(_))) {
                return Err(format!("{what} on {}'s {} from {t}: {refused:?}", owner, case.number));
            }
        }
        let after = store
            .case(&Scope::AllTenants, &CaseRef::Id(case.id))
            .map_err(|e| e.to_string())?;
        if before != after {
            return Err(format!("a refused cross-tenant write changed {}", case.number));
        }
    }
    Ok(())
}

/// The change feed, read markers and erasure are scoped too: a tenant's
/// feed consumer gets exactly the all-tenants feed restricted to that
/// tenant's cases (by the archive's owners), a consumer name is found only
/// in its own scope, and marking, reading markers of or erasing another
/// tenant's case is refused as if it did not exist, changing nothing.
fn check_feed_and_markers(store: &Store, cases: &[(Case, TenantId)], t: &TenantId) -> Result<(), String> {
    let e = |e: StoreError| e.to_string();
    let scope = Scope::Tenant(t.clone());
    let owner: BTreeMap<CaseId, TenantId> = cases.iter().map(|(c, o)| (c.id, o.clone())).collect();
    let read_all = |scope: &Scope, name: &str| -> Result<Vec<FeedChange>, String> {
        store.feed_register(scope, name, FeedStart::Beginning).map_err(e)?;
        let mut out = Vec::new();
        let mut from = None;
        loop {
            let page = store.feed(scope, name, from, 7).map_err(e)?;
            if page.changes.is_empty() && from == Some(page.position) {
                return Ok(out);
            }
            from = Some(page.position);
            out.extend(page.changes);
        }
    };
    let mine = read_all(&scope, "iso")?;
    let all = read_all(&Scope::AllTenants, "iso")?;
    let expected: Vec<&FeedChange> = all.iter().filter(|c| owner.get(&c.case) == Some(t)).collect();
    if mine.iter().collect::<Vec<_>>() != expected {
        return Err(format!(
            "{t}'s feed differs from the all-tenants feed restricted to {t}"
        ));
    }
    let covered: BTreeSet<CaseId> = mine.iter().map(|c| c.case).collect();
    let owned: BTreeSet<CaseId> = owner.iter().filter(|(_, o)| *o == t).map(|(id, _)| *id).collect();
    if covered != owned {
        return Err(format!("{t}'s feed covers {covered:?}, it owns {owned:?}"));
    }
    let me = UserId::parse("ann@example.com").unwrap();
    let mine_view = ViewQuery::new(ViewKind::Mine(me.clone()));
    for c in store.unread_view(&scope, &me, &mine_view).map_err(e)?.cases {
        if owner.get(&c.id) != Some(t) {
            return Err(format!("{t}'s unread view shows {} of another tenant", c.number));
        }
    }
    for (case, o) in cases.iter().filter(|(_, o)| o != t) {
        let r = CaseRef::Id(case.id);
        let before = store.case(&Scope::AllTenants, &r).map_err(e)?;
        let marked = store.mark_read(&scope, &me, &r, None).err();
        let erased = store.erase(&scope, &r).err();
        for (what, refused) in [("mark_read", marked), ("erase", erased)] {
            if !matches!(refused, Some(StoreError::CaseNotFound(_))) {
                return Err(format!("{what} on {o}'s {} from {t}: {refused:?}", case.number));
            }
        }
        if store.unread_entries(&scope, &me, &r).map_err(e)?.is_some() {
            return Err(format!("{t} reads the markers of {o}'s {}", case.number));
        }
        if store.case(&Scope::AllTenants, &r).map_err(e)? != before {
            return Err(format!("a refused cross-tenant erase changed {}", case.number));
        }
    }
    Ok(())
}

fn view_query() -> impl Strategy<Value = ViewQuery> {
    (
        prop_oneof![
            Just(ViewKind::All),
            Just(ViewKind::NeedsAttention),
            (0..USERS.len()).prop_map(|u| ViewKind::Mine(user(u))),
        ],
        proptest::option::of(select(Status::ALL)),
        proptest::option::of(select(Category::ALL)),
        any::<bool>(),
    )
        .prop_map(|(kind, status, category, created)| {
            let mut q = ViewQuery::new(kind);
            q.filter.statuses = status.into_iter().collect();
            q.filter.categories = category.into_iter().collect();
            if created {
                q.sort = ViewSort::Created;
            }
            q
        })
}

fn queue_query() -> impl Strategy<Value = QueueQuery> {
    (
        1usize..20,
        proptest::option::of(select(Category::ALL)),
        proptest::option::of(select(MARKETS)),
    )
        .prop_map(|(limit, category, market)| QueueQuery {
            limit,
            category,
            marketplace: market.map(|m| Marketplace::parse(m).unwrap()),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_tenant_scoped_call_never_sees_another_tenant(
        specs in proptest::collection::vec(spec(), 1..24),
        queries in proptest::collection::vec((query(), any::<bool>(), 0..TENANTS.len()), 6),
        views in proptest::collection::vec((view_query(), 0..TENANTS.len()), 3),
        queues in proptest::collection::vec((queue_query(), 0..TENANTS.len()), 3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { durability: Durability::Deferred, index_heap_bytes: 15_000_000, ..Options::default() };
        let store = Store::open(dir.path(), opts).unwrap();
        let cases = build(&store, &specs);
        prop_assert!(store.wait_indexed(store.last_change(), WAIT).unwrap());
        let owner: BTreeMap<CaseId, TenantId> = cases.iter().map(|(c, t)| (c.id, t.clone())).collect();
        let plain: Vec<Case> = cases.iter().map(|(c, _)| c.clone()).collect();
        for (q, or, t) in &queries {
            let text = render(q, *or, &plain);
            check_search(&store, &owner, &tenant(*t), &text).map_err(TestCaseError::fail)?;
        }
        for (vq, t) in &views {
            check_views(&store, &owner, &tenant(*t), vq).map_err(TestCaseError::fail)?;
        }
        for (qq, t) in &queues {
            check_queue(&store, &owner, &tenant(*t), qq).map_err(TestCaseError::fail)?;
        }
        let tenants: BTreeSet<usize> = specs.iter().map(|s| s.tenant).collect();
        for t in tenants.iter().chain([0usize].iter()) {
            check_export(&store, &cases, &tenant(*t)).map_err(TestCaseError::fail)?;
        }
        check_direct(&store, &cases, &tenant(specs[0].tenant)).map_err(TestCaseError::fail)?;
        check_feed_and_markers(&store, &cases, &tenant(specs[0].tenant)).map_err(TestCaseError::fail)?;
        store.shutdown().unwrap();
    }
}
