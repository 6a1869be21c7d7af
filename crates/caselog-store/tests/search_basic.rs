//! Search behaviour on small hand-made archives: Chinese and English
//! matching, fields, bare references, sorting, paging, facets, snippets and
//! typed errors.

mod search_common;

use caselog_core::*;
use caselog_store::*;
use search_common::*;

fn scope(t: &str) -> Scope {
    Scope::Tenant(tenant(t))
}

#[test]
fn chinese_words_are_found_as_substrings() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = store
        .create_case(new_case("s1", "账户问题", "我的账户被停用了"))
        .unwrap();
    let b = store.create_case(new_case("s1", "退款", "请尽快处理退款")).unwrap();
    let c = store.create_case(new_case("s1", "操作", "请暂停用户的操作")).unwrap();
    let d = store
        .create_case(new_case("s1", "English", "My account was suspended"))
        .unwrap();
    settle(&store);
    let s = scope("s1");
    assert_eq!(numbers(&store, &s, "账户 停用"), [a.number.to_string()]);
    assert_eq!(numbers(&store, &s, "退款"), [b.number.to_string()]);
    // `停用` spans jieba's 暂停 / 用户 in c: found, but ranked after the
    // whole-word match.
    assert_eq!(
        numbers(&store, &s, "停用"),
        [a.number.to_string(), c.number.to_string()]
    );
    assert_eq!(numbers(&store, &s, "\"账户被停用\""), [a.number.to_string()]);
    assert_eq!(numbers(&store, &s, "ACCOUNT suspend"), [d.number.to_string()]);
    store.shutdown().unwrap();
}

/// A small archive with references, categories, statuses and dates.
struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    refund: Created,
    asin: Created,
    suspended: Created,
    other_tenant: Created,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut c = new_case("s1", "Refund delayed", "The refund for my order is delayed.");
    c.category = Category::Payments;
    c.at = Some(at("2026-01-05T10:00:00Z"));
    c.refs.orders = vec![OrderId::parse("112-1234567-1234567").unwrap()];
    c.refs.skus = vec![Sku::parse("MUG-Red-01").unwrap()];
    let refund = store.create_case(c).unwrap();

    let mut c = new_case("s1", "Listing suppressed", "My listing was suppressed without reason.");
    c.category = Category::Listing;
    c.marketplace = Marketplace::parse("de").unwrap();
    c.created_by = user("anna@example.com");
    c.at = Some(at("2026-01-20T23:59:59.999Z"));
    c.refs.asins = vec![Asin::parse("B08XYZ1234").unwrap()];
    let asin = store.create_case(c).unwrap();

    let mut c = new_case(
        "s1",
        "Account suspended",
        "Our account was suspended. Please refund the fees.",
    );
    c.category = Category::AccountHealth;
    c.at = Some(at("2026-02-01T00:00:00Z"));
    let suspended = store.create_case(c).unwrap();
    let agent = Actor::Support(user("agent-7"));
    store
        .apply_event(
            &Scope::AllTenants,
            &CaseRef::Id(suspended.id),
            agent,
            CaseEvent::Resolve,
            "Reinstated; the refund follows.",
            Some(at("2026-03-02T08:00:00Z")),
        )
        .unwrap();

    let mut c = new_case(
        "s2",
        "Refund delayed too",
        "Another tenant's refund, order 112-1234567-1234567.",
    );
    c.category = Category::Payments;
    c.at = Some(at("2026-01-06T10:00:00Z"));
    c.refs.orders = vec![OrderId::parse("112-1234567-1234567").unwrap()];
    let other_tenant = store.create_case(c).unwrap();
    settle(&store);
    Fixture {
        _dir: dir,
        store,
        refund,
        asin,
        suspended,
        other_tenant,
    }
}

fn n(c: &Created) -> String {
    c.number.to_string()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn fields_filter_exactly() {
    let f = fixture();
    let (s, st) = (scope("s1"), &f.store);
    assert_eq!(numbers(st, &s, "order:112-1234567-1234567"), [n(&f.refund)]);
    assert_eq!(numbers(st, &s, "asin:b08xyz1234"), [n(&f.asin)]);
    assert_eq!(numbers(st, &s, "sku:mug-red-01"), [n(&f.refund)]);
    assert_eq!(numbers(st, &s, "sku:MUG-RED-01"), [n(&f.refund)]);
    assert_eq!(numbers(st, &s, &format!("number:{}", f.asin.number)), [n(&f.asin)]);
    assert_eq!(numbers(st, &s, "status:resolved"), [n(&f.suspended)]);
    assert_eq!(numbers(st, &s, "category:listing"), [n(&f.asin)]);
    assert_eq!(numbers(st, &s, "marketplace:DE"), [n(&f.asin)]);
    assert_eq!(numbers(st, &s, "by:anna@example.com"), [n(&f.asin)]);
    // Inclusive day ranges; 23:59:59.999 is still the 20th.
    assert_eq!(numbers(st, &s, "created:2026-01-20"), [n(&f.asin)]);
    assert_eq!(
        number_set(st, &s, "created:2026-01-01..2026-01-20"),
        sorted(vec![n(&f.refund), n(&f.asin)])
    );
    assert_eq!(numbers(st, &s, "created:>=2026-01-21"), [n(&f.suspended)]);
    assert_eq!(numbers(st, &s, "created:<2026-01-20"), [n(&f.refund)]);
    assert_eq!(numbers(st, &s, "updated:>=2026-03-01"), [n(&f.suspended)]);
    // Words, phrases, exclusion, OR and combinations.
    assert_eq!(
        number_set(st, &s, "refund"),
        sorted(vec![n(&f.refund), n(&f.suspended)])
    );
    assert_eq!(numbers(st, &s, "refund -suspended"), [n(&f.refund)]);
    assert_eq!(numbers(st, &s, "\"refund for my order\""), [n(&f.refund)]);
    assert_eq!(numbers(st, &s, "\"order for my refund\""), Vec::<String>::new());
    assert_eq!(
        number_set(st, &s, "suppressed OR suspended"),
        sorted(vec![n(&f.asin), n(&f.suspended)])
    );
    assert_eq!(
        numbers(st, &s, "refund status:open created:2026-01-01..2026-01-31"),
        [n(&f.refund)]
    );
    assert_eq!(numbers(st, &s, "-refund"), [n(&f.asin)]);
    assert_eq!(
        number_set(st, &s, ""),
        sorted(vec![n(&f.refund), n(&f.asin), n(&f.suspended)])
    );
    // A word with nothing searchable in it is ignored, not an empty result.
    assert_eq!(numbers(st, &s, "refund -suspended !!!"), [n(&f.refund)]);
}

#[test]
fn a_bare_reference_finds_its_case_first() {
    let f = fixture();
    let (s, st) = (scope("s1"), &f.store);
    // The asin case's text does not mention its own number: found anyway.
    assert_eq!(numbers(st, &s, f.asin.number.as_str()), [n(&f.asin)]);
    assert_eq!(numbers(st, &s, "B08XYZ1234"), [n(&f.asin)]);
    assert_eq!(numbers(st, &s, "112-1234567-1234567"), [n(&f.refund)]);
    // Support sees both tenants' cases with that order id.
    let all = numbers(st, &Scope::AllTenants, "112-1234567-1234567");
    assert_eq!(sorted(all), sorted(vec![n(&f.refund), n(&f.other_tenant)]));
    // A case whose text mentions another case's number ranks after it.
    let mut c = new_case("s1", "Follow-up", &format!("Please see case {} again", f.asin.number));
    c.category = Category::Listing;
    let mention = st.create_case(c).unwrap();
    settle(st);
    assert_eq!(numbers(st, &s, f.asin.number.as_str()), [n(&f.asin), n(&mention)]);
}

#[test]
fn sorting_paging_and_facets() {
    let f = fixture();
    let (s, st) = (scope("s1"), &f.store);
    let by = |sort, descending, page, per_page| {
        let opts = SearchOptions {
            sort,
            descending,
            page,
            per_page,
            snippets: false,
        };
        st.search(&s, "", &opts).unwrap()
    };
    let nums = |r: &SearchResults| r.hits.iter().map(|h| h.number.to_string()).collect::<Vec<_>>();
    let created = by(SearchSort::Created, true, 1, 10);
    assert_eq!(nums(&created), [n(&f.suspended), n(&f.asin), n(&f.refund)]);
    let created_asc = by(SearchSort::Created, false, 1, 10);
    assert_eq!(nums(&created_asc), [n(&f.refund), n(&f.asin), n(&f.suspended)]);
    let updated = by(SearchSort::Updated, true, 1, 10);
    assert_eq!(nums(&updated)[0], n(&f.suspended));
    // Jump to page 2 of 2 per page.
    let page2 = by(SearchSort::Created, true, 2, 2);
    assert_eq!((page2.total, nums(&page2)), (3, vec![n(&f.refund)]));
    let past = by(SearchSort::Created, true, 3, 2);
    assert_eq!((past.total, past.hits.len()), (3, 0));
    // Facets count the whole result set, not the page.
    let r = st
        .search(
            &s,
            "refund",
            &SearchOptions {
                per_page: 1,
                ..SearchOptions::default()
            },
        )
        .unwrap();
    assert_eq!((r.total, r.hits.len()), (2, 1));
    assert_eq!(r.facets.by_status.get(&Status::Open), Some(&1));
    assert_eq!(r.facets.by_status.get(&Status::Resolved), Some(&1));
    assert_eq!(r.facets.by_category.get(&Category::Payments), Some(&1));
    assert_eq!(r.facets.by_category.get(&Category::AccountHealth), Some(&1));
    assert_eq!(r.facets.by_category.len(), 2);
    // Hits render from the index.
    let hit = &r.hits[0];
    assert!(hit.score.is_some());
    assert_eq!(hit.tenant.as_str(), "s1");
    let case = st.case(&s, &CaseRef::Id(hit.id)).unwrap().unwrap();
    assert_eq!(
        (&hit.title, hit.status, hit.category),
        (&case.title, case.status(), case.category)
    );
    assert_eq!(
        (hit.created_at, hit.updated_at),
        (case.state.created_at, case.state.updated_at)
    );
}

#[test]
fn snippets_highlight_matches_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let long = format!(
        "{}我的账户被停用了，请尽快处理退款。{}",
        "前言。".repeat(100),
        "后记。".repeat(100)
    );
    store.create_case(new_case("s1", "账户停用", &long)).unwrap();
    store
        .create_case(new_case("s1", "Refund DELAYED", "Refunds were delayed <again> & again"))
        .unwrap();
    settle(&store);
    let s = scope("s1");
    let r = store.search(&s, "停用 退款", &SearchOptions::default()).unwrap();
    let hit = &r.hits[0];
    let snippet = hit.snippet.as_ref().unwrap();
    let marked: Vec<&str> = snippet.highlights.iter().map(|h| &snippet.text[h.clone()]).collect();
    assert_eq!(marked, ["停用", "退款"]);
    assert!(snippet.cut_before && snippet.cut_after);
    let title: Vec<&str> = hit.title_highlights.iter().map(|h| &hit.title[h.clone()]).collect();
    assert_eq!(title, ["停用"]);

    let r = store.search(&s, "refund", &SearchOptions::default()).unwrap();
    let snippet = r.hits[0].snippet.as_ref().unwrap();
    assert_eq!(
        snippet.to_html(),
        "<b>Refunds</b> were delayed &lt;again&gt; &amp; again"
    );
    assert_eq!(r.hits[0].title_highlights, vec![std::ops::Range { start: 0, end: 6 }]);
    store.shutdown().unwrap();
}

#[test]
fn malformed_queries_are_typed_errors_with_positions() {
    let f = fixture();
    let s = scope("s1");
    let err = |q: &str| match f.store.search(&s, q, &SearchOptions::default()) {
        Err(StoreError::Query(e)) => e,
        other => panic!("{q:?}: expected a query error, got {other:?}"),
    };
    let e = err("refund \"delayed");
    assert_eq!((e.kind.clone(), e.position), (QueryErrorKind::UnclosedQuote, 7));
    let e = err("created:2026-13-01");
    assert!(matches!(
        e.kind,
        QueryErrorKind::InvalidValue {
            field: FieldName::Created,
            ..
        }
    ));
    assert_eq!(e.position, 8);
    let e = err("refund tenant:s2");
    assert!(matches!(e.kind, QueryErrorKind::UnknownField { .. }));
    assert_eq!(e.position, 7);
    let e = err("status:pending");
    assert!(matches!(
        e.kind,
        QueryErrorKind::InvalidValue {
            field: FieldName::Status,
            ..
        }
    ));
    assert!(matches!(err("a OR").kind, QueryErrorKind::DanglingOr));
    assert!(matches!(err(&"x ".repeat(600)).kind, QueryErrorKind::TooLong { .. }));
    assert!(matches!(
        err(&"w ".repeat(40)).kind,
        QueryErrorKind::TooManyTerms { .. }
    ));
    assert!(err("(a").to_string().contains("column 1"));
}

#[test]
fn page_limits_are_typed_errors() {
    let f = fixture();
    let s = scope("s1");
    let search = |page, per_page| {
        f.store.search(
            &s,
            "refund",
            &SearchOptions {
                page,
                per_page,
                ..SearchOptions::default()
            },
        )
    };
    assert!(matches!(
        search(1, 0),
        Err(StoreError::PerPageOutOfRange { per_page: 0, max: 1000 })
    ));
    assert!(matches!(search(1, 1001), Err(StoreError::PerPageOutOfRange { .. })));
    assert!(matches!(search(0, 20), Err(StoreError::PageOutOfRange { .. })));
    match search(501, 20) {
        Err(StoreError::PageOutOfRange { last_page, .. }) => assert_eq!(last_page, 500),
        other => panic!("{other:?}"),
    }
    assert!(search(500, 20).is_ok());
    assert!(search(10, 1000).is_ok());
}

#[test]
fn queries_built_in_code_match_their_text_form() {
    let f = fixture();
    let s = scope("s1");
    let jan = DateRange::days(day("2026-01-01"), day("2026-01-31")).unwrap();
    let q = QueryBuilder::new()
        .word("refund")
        .exclude_word("suspended")
        .created(jan)
        .build();
    let opts = SearchOptions::default();
    let built: Vec<_> = f
        .store
        .search_query(&s, &q, &opts)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    let text: Vec<_> = f
        .store
        .search(&s, &q.to_string(), &opts)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(built, text);
    assert_eq!(built, [f.refund.id]);
    // The same limits hold for built queries.
    let wide = QueryBuilder::new()
        .any_of((0..50).map(|i| Query::Word(format!("w{i}"))))
        .build();
    assert!(matches!(
        f.store.search_query(&s, &wide, &opts),
        Err(StoreError::Query(QueryError {
            kind: QueryErrorKind::TooManyTerms { .. },
            ..
        }))
    ));
}

#[test]
fn a_write_is_searchable_once_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let s = scope("s1");
    for i in 0..20 {
        let c = store
            .create_case(new_case("s1", &format!("case {i}"), &format!("unique{i} text")))
            .unwrap();
        assert!(store.wait_indexed(c.change, WAIT).unwrap());
        assert_eq!(numbers(&store, &s, &format!("unique{i}")), [c.number.to_string()]);
        let w = store
            .reply(
                &s,
                &CaseRef::Id(c.id),
                NewMessage::new(Actor::Seller(user("ops@example.com")), format!("followup{i}")),
            )
            .unwrap();
        assert!(store.wait_indexed(w.change, WAIT).unwrap());
        assert!(store.indexed_change() >= w.change);
        assert_eq!(
            numbers(&store, &s, &format!("followup{i} unique{i}")),
            [c.number.to_string()]
        );
    }
    let report = store.verify().unwrap();
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!((report.cases, report.documents, report.verified), (20, 20, 20));
    store.shutdown().unwrap();
}
