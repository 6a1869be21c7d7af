//! The index against a brute-force filter: random small archives (several
//! tenants, English and Chinese text, random dates, statuses and
//! references), written through the public store API, and random queries
//! (words, phrases, exclusions, OR, fields, date ranges, bare references,
//! tenant scope, related case numbers, attachment names). The hit set,
//! total and facets must equal what `Query::matches` says over the same
//! data, and every sort order must hold, in search and in views.

mod search_common;

use std::collections::BTreeMap;

use caselog_core::*;
use caselog_store::*;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::FileFailurePersistence;
use search_common::*;

const TENANTS: &[&str] = &["t1", "t2", "t3"];
const USERS: &[&str] = &["ann@example.com", "bob@example.com"];
const MARKETS: &[&str] = &["US", "DE", "JP"];
const ORDERS: &[&str] = &["112-1234567-1234567", "113-7654321-7654321", "114-0000000-0000001"];
const ASINS: &[&str] = &["B08XYZ1234", "B000000001", "0306406152"];
const SKUS: &[&str] = &["MUG-Red-01", "mug-red-01", "Shirt_XL"];
const ATTACHMENTS: &[&str] = &[
    "invoice.pdf",
    "Invoice_2026-01.PDF",
    "photo 1.jpg",
    "发票.png",
    "notes.txt",
];
const ATTACHMENT_WORDS: &[&str] = &[
    "invoice",
    "pdf",
    "photo",
    "1",
    "发票",
    "invoice.pdf",
    "photo 1.jpg",
    "txt",
    "jpg",
];
/// Query placeholders `@00` … `@15` stand for the number of the case with
/// that index (modulo the archive size), known only once it is written.
const PLACEHOLDERS: usize = 16;

/// Pieces of text. Chinese pieces are often glued together, so words span
/// jieba's segment boundaries.
const PIECES: &[&str] = &[
    "refund",
    "Refunds",
    "DELAYED",
    "delay",
    "account",
    "suspended",
    "suspension",
    "listing",
    "order",
    "shipping",
    "payment",
    "Café",
    "B08XYZ1234",
    "112-1234567-1234567",
    "账户",
    "停用",
    "退款",
    "处理",
    "请尽快",
    "我的",
    "被",
    "了",
    "暂停",
    "用户",
    "操作",
    "订单",
    "没有",
    "，",
    "。",
    "!",
];

/// Query words: pieces, single Chinese characters, cross-segment
/// substrings, inflections and case variants.
const WORDS: &[&str] = &[
    "refund",
    "refunds",
    "Refund",
    "delayed",
    "DELAY",
    "account",
    "suspend",
    "suspended",
    "listing",
    "order",
    "shipping",
    "payment",
    "cafe",
    "账户",
    "停用",
    "退款",
    "处理",
    "尽快",
    "停",
    "户",
    "户被停",
    "我的账户",
    "订单",
    "用户",
    "款",
    "b08xyz1234",
];

const PHRASES: &[&str] = &[
    "refund delayed",
    "account suspended",
    "账户被停用",
    "处理退款",
    "order shipping",
    "请尽快处理",
    "暂停用户",
    "delayed refund",
];

#[derive(Debug, Clone)]
struct CaseSpec {
    tenant: usize,
    user: usize,
    market: usize,
    category: usize,
    title: Vec<usize>,
    body: Vec<usize>,
    glue: bool,
    day: i64,
    orders: Vec<usize>,
    asins: Vec<usize>,
    skus: Vec<usize>,
    /// 0: stays open, 1: picked up, 2: resolved, 3: reply from the seller.
    action: u8,
    action_days: i64,
    reply: Vec<usize>,
    /// The earlier case (index, modulo those written before) it follows.
    follows: Option<usize>,
    attachments: Vec<usize>,
}

fn text(pieces: &[usize], glue: bool) -> String {
    let sep = if glue { "" } else { " " };
    pieces
        .iter()
        .map(|&i| PIECES[i % PIECES.len()])
        .collect::<Vec<_>>()
        .join(sep)
}

fn case_spec() -> impl Strategy<Value = CaseSpec> {
    let piece = 0..PIECES.len();
    (
        (
            0..TENANTS.len(),
            0..USERS.len(),
            0..MARKETS.len(),
            0..Category::ALL.len(),
        ),
        (
            proptest::collection::vec(piece.clone(), 1..4),
            proptest::collection::vec(piece.clone(), 0..10),
            any::<bool>(),
            0i64..60,
        ),
        (
            proptest::collection::vec(0..ORDERS.len(), 0..2),
            proptest::collection::vec(0..ASINS.len(), 0..2),
            proptest::collection::vec(0..SKUS.len(), 0..2),
        ),
        (0u8..4, 0i64..40, proptest::collection::vec(piece, 1..6)),
        (
            proptest::option::weighted(0.3, 0..PLACEHOLDERS),
            proptest::collection::vec(0..ATTACHMENTS.len(), 0..3),
        ),
    )
        .prop_map(
            |(
                (tenant, user, market, category),
                (title, body, glue, day),
                (orders, asins, skus),
                (action, action_days, reply),
                (follows, attachments),
            )| {
                CaseSpec {
                    tenant,
                    user,
                    market,
                    category,
                    title,
                    body,
                    glue,
                    day,
                    orders,
                    asins,
                    skus,
                    action,
                    action_days,
                    reply,
                    follows,
                    attachments,
                }
            },
        )
}

/// A date range value for `created:`/`updated:`, as query text.
fn date_value() -> impl Strategy<Value = String> {
    let d = |n: i64| day("2026-01-01").saturating_add(Span::days(n)).day_string();
    prop_oneof![
        (0i64..100).prop_map(d),
        (0i64..100, 0i64..30).prop_map(move |(a, len)| format!("{}..{}", d(a), d(a + len))),
        (0i64..100).prop_map(move |a| format!(">={}", d(a))),
        (0i64..100).prop_map(move |a| format!("<={}", d(a))),
        (0i64..100).prop_map(move |a| format!("<{}", d(a))),
        (0i64..100).prop_map(move |a| format!("{}..", d(a))),
    ]
}

/// One query term as text.
fn term() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(WORDS).prop_map(str::to_owned),
        2 => select(PHRASES).prop_map(|p| format!("\"{p}\"")),
        1 => select(Status::ALL).prop_map(|s| format!("status:{s}")),
        1 => select(Category::ALL).prop_map(|c| format!("category:{c}")),
        1 => select(MARKETS).prop_map(|m| format!("marketplace:{}", m.to_lowercase())),
        1 => select(USERS).prop_map(|u| format!("by:{u}")),
        1 => select(ORDERS).prop_map(|o| format!("order:{o}")),
        1 => select(ASINS).prop_map(|a| format!("asin:{}", a.to_lowercase())),
        1 => select(SKUS).prop_map(|s| format!("sku:{}", s.to_uppercase())),
        2 => date_value().prop_map(|v| format!("created:{v}")),
        1 => date_value().prop_map(|v| format!("updated:{v}")),
        1 => Just("*".to_owned()),
        1 => (0..PLACEHOLDERS).prop_map(|i| format!("case:@{i:02}")),
        1 => select(ATTACHMENT_WORDS).prop_map(|w| format!("attachment:\"{w}\"")),
        1 => Just("has:attachment".to_owned()),
    ]
}

/// Query text: terms, negations, OR and groups, or a bare reference.
fn query_text() -> impl Strategy<Value = String> {
    let leaf = (term(), proptest::bool::weighted(0.2)).prop_map(|(t, neg)| if neg { format!("-{t}") } else { t });
    let expr = leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join(" ")),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join(" OR ")),
            (inner, any::<bool>()).prop_map(|(q, neg)| if neg { format!("-({q})") } else { format!("({q})") }),
        ]
    });
    prop_oneof![
        8 => expr,
        1 => select(ORDERS).prop_map(str::to_owned),
        1 => select(ASINS).prop_map(str::to_owned),
        1 => (0..PLACEHOLDERS).prop_map(|i| format!("@{i:02}")),
    ]
}

/// Replaces the `@NN` placeholders with case numbers.
fn fill(text: &str, cases: &[OracleCase]) -> String {
    let mut out = text.to_owned();
    for i in (0..PLACEHOLDERS).rev() {
        let number = cases[i % cases.len()].case.number.to_string();
        out = out.replace(&format!("@{i:02}"), &number);
    }
    out
}

fn scope_strategy() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![1 => Just(None), 3 => (0..TENANTS.len()).prop_map(Some)]
}

/// Writes the archive through the public API and returns the oracle's view.
fn build(store: &Store, specs: &[CaseSpec]) -> Vec<OracleCase> {
    let mut written: Vec<CaseNumber> = Vec::new();
    for spec in specs {
        let at = day("2026-01-01").saturating_add(Span::hours(spec.day * 24 + 9));
        let refs = References {
            orders: spec
                .orders
                .iter()
                .map(|&i| OrderId::parse(ORDERS[i]).unwrap())
                .collect(),
            asins: spec.asins.iter().map(|&i| Asin::parse(ASINS[i]).unwrap()).collect(),
            skus: spec.skus.iter().map(|&i| Sku::parse(SKUS[i]).unwrap()).collect(),
            cases: match spec.follows {
                Some(i) if !written.is_empty() => vec![written[i % written.len()].clone()],
                _ => vec![],
            },
        };
        let attachments = spec
            .attachments
            .iter()
            .map(|&i| NewAttachment {
                meta: AttachmentMeta::new(
                    ATTACHMENTS[i],
                    AttachmentKind::ALL[i % 3].as_str(),
                    1,
                    ContentHash::ABSENT,
                    &AttachmentPolicy::default(),
                )
                .unwrap(),
                bytes: None,
            })
            .collect();
        let new = NewCase::new(
            tenant(TENANTS[spec.tenant]),
            user(USERS[spec.user]),
            Marketplace::parse(MARKETS[spec.market]).unwrap(),
            LanguageTag::parse("en").unwrap(),
            Category::ALL[spec.category],
            text(&spec.title, spec.glue),
            text(&spec.body, spec.glue),
        )
        .with_attachments(attachments)
        .with_refs(refs)
        .with_time(at);
        let created = store.create_case(new).unwrap();
        written.push(created.number.clone());
        let later = at.saturating_add(Span::days(spec.action_days));
        let case = CaseRef::Id(created.id);
        let agent = || Actor::Support(user("agent-1"));
        match spec.action {
            1 => {
                store
                    .apply_event(&Scope::AllTenants, &case, agent(), CaseEvent::PickUp, "", Some(later))
                    .unwrap();
            }
            2 => {
                store
                    .apply_event(
                        &Scope::AllTenants,
                        &case,
                        agent(),
                        CaseEvent::Resolve,
                        "resolved 已处理",
                        Some(later),
                    )
                    .unwrap();
            }
            3 => {
                let msg = NewMessage::new(Actor::Seller(user(USERS[spec.user])), text(&spec.reply, !spec.glue))
                    .with_time(later);
                store
                    .reply(&Scope::Tenant(tenant(TENANTS[spec.tenant])), &case, msg)
                    .unwrap();
            }
            _ => {}
        }
    }
    let mut all = store
        .view(
            &Scope::AllTenants,
            &ViewQuery {
                per_page: 1000,
                ..ViewQuery::new(ViewKind::All)
            },
        )
        .unwrap()
        .cases;
    all.sort_by_key(|c| c.id);
    all.into_iter().map(|c| OracleCase::load(store, c)).collect()
}

const SORTS: [SearchSort; 6] = [
    SearchSort::Relevance,
    SearchSort::Created,
    SearchSort::Updated,
    SearchSort::Status,
    SearchSort::Category,
    SearchSort::Number,
];

/// A category's place in alphabetical order of identifiers.
fn category_rank(c: Category) -> usize {
    Category::ALL.iter().filter(|o| o.as_str() < c.as_str()).count()
}

/// The order a sort promises, as a key that grows along the natural order
/// (a descending result is strictly decreasing in it): the field, then last
/// update, then id; numbers shorter first, then by bytes.
type OrderKey = (usize, String, Timestamp, CaseId);

fn order_key(
    sort: SearchSort,
    status: Status,
    category: Category,
    number: &str,
    created: Timestamp,
    updated: Timestamp,
    id: CaseId,
) -> OrderKey {
    match sort {
        SearchSort::Created => (0, String::new(), created, id),
        SearchSort::Status => (status.index(), String::new(), updated, id),
        SearchSort::Category => (category_rank(category), String::new(), updated, id),
        SearchSort::Number => (number.len(), number.to_owned(), Timestamp::EPOCH, CaseId(0)),
        _ => (0, String::new(), updated, id),
    }
}

fn hit_key(sort: SearchSort, h: &SearchHit) -> OrderKey {
    order_key(
        sort,
        h.status,
        h.category,
        h.number.as_str(),
        h.created_at,
        h.updated_at,
        h.id,
    )
}

fn case_key(sort: SearchSort, c: &Case) -> OrderKey {
    order_key(
        sort,
        c.state.status,
        c.category,
        c.number.as_str(),
        c.state.created_at,
        c.state.updated_at,
        c.id,
    )
}

fn facets_of(cases: &[OracleCase], numbers: &[String]) -> Facets {
    let mut by_status = BTreeMap::new();
    let mut by_category = BTreeMap::new();
    for c in cases.iter().filter(|c| numbers.contains(&c.case.number.to_string())) {
        *by_status.entry(c.case.state.status).or_insert(0) += 1;
        *by_category.entry(c.case.category).or_insert(0) += 1;
    }
    Facets { by_status, by_category }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 120,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn search_equals_brute_force(
        specs in proptest::collection::vec(case_spec(), 1..16),
        queries in proptest::collection::vec((query_text(), scope_strategy(), 0u8..6), 8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Options { durability: Durability::Deferred, ..Options::default() }).unwrap();
        let cases = build(&store, &specs);
        settle(&store);
        for (text, scope, sort) in &queries {
            let text = &fill(text, &cases);
            let scope = match scope {
                Some(t) => Scope::Tenant(tenant(TENANTS[*t])),
                None => Scope::AllTenants,
            };
            let parsed = match parse(text, &QueryLimits::default()) {
                Ok(p) => p,
                // Random text may exceed a limit; the store must refuse it too.
                Err(e) => {
                    let refused = store.search(&scope, text, &SearchOptions::default());
                    prop_assert!(matches!(refused, Err(StoreError::Query(ref got)) if *got == e));
                    continue;
                }
            };
            let sort = SORTS[*sort as usize];
            let opts = SearchOptions { sort, per_page: 1000, snippets: false, ..SearchOptions::default() };
            let result = store.search(&scope, text, &opts).unwrap();
            let mut got: Vec<String> = result.hits.iter().map(|h| h.number.to_string()).collect();
            let expected = oracle(&cases, &scope, &parsed);
            prop_assert_eq!(result.total, expected.len() as u64, "total of {:?} in {:?}", text, scope);
            prop_assert_eq!(&result.facets, &facets_of(&cases, &expected), "facets of {:?}", text);
            // Sort order holds (ties broken by id, newest first).
            if sort != SearchSort::Relevance {
                let key = |h: &SearchHit| hit_key(sort, h);
                prop_assert!(result.hits.windows(2).all(|w| key(&w[0]) > key(&w[1])), "order of {:?}", text);
            } else {
                prop_assert!(result.hits.windows(2).all(|w| w[0].score >= w[1].score), "ranking of {:?}", text);
                // A bare reference ranks the case it names first.
                if let (Some(BareReference::Order(o)), Some(first)) = (&parsed.bare_reference, result.hits.first()) {
                    let names = |c: &OracleCase| scope.allows(&c.case.tenant) && c.case.refs.orders.contains(o);
                    if cases.iter().any(names) {
                        let first_named = cases.iter().any(|c| c.case.id == first.id && names(c));
                        prop_assert!(first_named, "{:?} did not rank its case first", text);
                    }
                }
            }
            got.sort();
            prop_assert_eq!(got, expected, "hits of {:?} in {:?}", text, scope);
        }
        store.shutdown().unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..config() })]

    /// Views sorted by status, category and number list exactly the
    /// brute-force order (both directions, *All* and *Mine*, any scope),
    /// and a later page is the matching slice of it.
    #[test]
    fn views_sort_by_status_category_and_number(
        specs in proptest::collection::vec(case_spec(), 1..16),
        scope in scope_strategy(),
        mine in proptest::option::of(0..USERS.len()),
        per_page in 1u32..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Options { durability: Durability::Deferred, ..Options::default() }).unwrap();
        let cases = build(&store, &specs);
        let scope = match scope {
            Some(t) => Scope::Tenant(tenant(TENANTS[t])),
            None => Scope::AllTenants,
        };
        for (view_sort, sort) in [(ViewSort::Status, SearchSort::Status), (ViewSort::Category, SearchSort::Category), (ViewSort::Number, SearchSort::Number)] {
            for descending in [true, false] {
                let kind = match mine {
                    Some(u) => ViewKind::Mine(user(USERS[u])),
                    None => ViewKind::All,
                };
                let mut expected: Vec<&Case> = cases
                    .iter()
                    .map(|c| &c.case)
                    .filter(|c| scope.allows(&c.tenant))
                    // *Mine*: a tenant's user's cases (created or handed to
                    // them); on the support side, the agent's assignments.
                    .filter(|c| {
                        mine.is_none_or(|u| match &scope {
                            Scope::Tenant(_) => {
                                c.created_by.as_str() == USERS[u] || c.handler.as_ref().is_some_and(|h| h.as_str() == USERS[u])
                            }
                            Scope::AllTenants => c.assignee.as_ref().is_some_and(|a| a.as_str() == USERS[u]),
                        })
                    })
                    .collect();
                expected.sort_by_key(|c| case_key(sort, c));
                if descending {
                    expected.reverse();
                }
                let expected: Vec<CaseId> = expected.iter().map(|c| c.id).collect();
                let q = ViewQuery { sort: view_sort, descending, per_page: MAX_PER_PAGE, ..ViewQuery::new(kind.clone()) };
                let page = store.view(&scope, &q).unwrap();
                let got: Vec<CaseId> = page.cases.iter().map(|c| c.id).collect();
                prop_assert_eq!(page.total, expected.len() as u64);
                prop_assert_eq!(&got, &expected, "{:?} descending {}", view_sort, descending);
                let second = store.view(&scope, &ViewQuery { page: 2, per_page, ..q.clone() }).unwrap();
                let slice: Vec<CaseId> = expected.iter().skip(per_page as usize).take(per_page as usize).copied().collect();
                prop_assert_eq!(second.cases.iter().map(|c| c.id).collect::<Vec<_>>(), slice);
                // A cursor walk in pages of `per_page` gives the same order, each case once.
                let (mut walked, mut cursor) = (Vec::new(), None);
                loop {
                    let page = store.view_after(&scope, &ViewQuery { per_page, ..q.clone() }, cursor.as_ref()).unwrap();
                    walked.extend(page.cases.iter().map(|c| c.id));
                    prop_assert!(walked.len() <= expected.len(), "the walk repeats cases");
                    match page.next { Some(next) => cursor = Some(next), None => break }
                }
                prop_assert_eq!(&walked, &expected, "walk {:?} descending {}", view_sort, descending);
            }
        }
        store.shutdown().unwrap();
    }
}
