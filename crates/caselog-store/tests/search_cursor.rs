//! Cursor walks against paged walks: on random archives full of ties
//! (equal texts, so equal scores; a handful of creation and update times),
//! walking a query's results with `search_after` from no cursor to the end
//! must give exactly the hits that paging through them gives, in the same
//! order, with the same total and facets on every page, for every sort and
//! direction and scope. Cursors are bound to their scope and query.

mod search_common;

use caselog_core::*;
use caselog_store::*;
use proptest::prelude::*;
use proptest::sample::select;
use search_common::*;

const TENANTS: &[&str] = &["t1", "t2"];
/// Few texts, so many cases score alike.
const TEXTS: &[&str] = &[
    "refund delayed",
    "refund",
    "account suspended refund",
    "我的账户被停用了",
    "退款 refund",
];
const QUERIES: &[&str] = &[
    "refund",
    "账户",
    "refund -delayed",
    "",
    "status:open OR refund",
    "nothing",
];

#[derive(Debug, Clone)]
struct Spec {
    tenant: usize,
    text: usize,
    /// One of a few days, so creation times tie.
    day: u8,
    /// Whether the case gets a reply (moving its update time) and on which
    /// of a few days.
    reply: Option<u8>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (0..TENANTS.len(), 0..TEXTS.len(), 0u8..3, proptest::option::of(0u8..3)).prop_map(|(tenant, text, day, reply)| {
        Spec {
            tenant,
            text,
            day,
            reply,
        }
    })
}

fn build(store: &Store, specs: &[Spec]) {
    for s in specs {
        let created_at = day("2026-03-01").saturating_add(Span::days(i64::from(s.day)));
        let mut new = new_case(TENANTS[s.tenant], TEXTS[s.text], TEXTS[(s.text + 1) % TEXTS.len()]);
        new.at = Some(created_at);
        let created = store.create_case(new).unwrap();
        if let Some(r) = s.reply {
            let msg = NewMessage::new(Actor::Support(user("agent-1")), "refund")
                .with_time(created_at.saturating_add(Span::days(10 + i64::from(r))));
            store.reply(&Scope::AllTenants, &CaseRef::Id(created.id), msg).unwrap();
        }
    }
}

/// A hit as compared between the walks.
fn seen(h: &SearchHit) -> (CaseId, Option<u32>) {
    (h.id, h.score.map(f32::to_bits))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn cursor_walk_equals_paged_walk(
        specs in proptest::collection::vec(spec(), 1..40),
        walks in proptest::collection::vec(
            (select(QUERIES), proptest::option::of(0..TENANTS.len()), 0u8..3, any::<bool>(), 1u32..7),
            6,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Options { durability: Durability::Deferred, ..Options::default() }).unwrap();
        build(&store, &specs);
        settle(&store);
        for (text, scope, sort, descending, per_page) in walks {
            let scope = match scope {
                Some(t) => Scope::Tenant(tenant(TENANTS[t])),
                None => Scope::AllTenants,
            };
            let sort = [SearchSort::Relevance, SearchSort::Created, SearchSort::Updated][sort as usize];
            let opts = SearchOptions { sort, descending, per_page, snippets: false, ..SearchOptions::default() };
            // Paged.
            let first = store.search(&scope, text, &opts).unwrap();
            let mut paged = Vec::new();
            for page in 1.. {
                let r = store.search(&scope, text, &SearchOptions { page, ..opts }).unwrap();
                prop_assert_eq!(r.total, first.total);
                paged.extend(r.hits.iter().map(seen));
                if r.hits.len() < per_page as usize || paged.len() as u64 == r.total {
                    break;
                }
            }
            prop_assert_eq!(paged.len() as u64, first.total, "paging {:?} missed hits", text);
            // By cursor.
            let mut walked = Vec::new();
            let mut cursor: Option<Cursor> = None;
            loop {
                let r = store.search_after(&scope, text, &opts, cursor.as_ref()).unwrap();
                prop_assert_eq!(r.total, first.total);
                prop_assert_eq!(&r.facets, &first.facets);
                prop_assert!(r.hits.len() <= per_page as usize);
                walked.extend(r.hits.iter().map(seen));
                match r.next {
                    Some(next) => {
                        prop_assert_eq!(r.hits.len(), per_page as usize, "a short page with a next cursor");
                        cursor = Some(next);
                    }
                    None => break,
                }
                prop_assert!(walked.len() as u64 <= first.total, "the walk of {:?} does not end", text);
            }
            prop_assert_eq!(&walked, &paged, "walk of {:?} in {:?}, {:?}", text, scope, sort);
        }
        store.shutdown().unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A `SearchWalk` (one match, pages rendered from its kept keys) gives
    /// the paged walk's hits in the same order, each once, with the same
    /// total and facets; its ids-only pages agree; a walk resumed from the
    /// cursor of a `search_after` page, or from its own cursor, continues
    /// exactly where that page ended.
    #[test]
    fn stateful_walk_equals_paged_and_cursor_walks(
        specs in proptest::collection::vec(spec(), 1..40),
        walks in proptest::collection::vec(
            (select(QUERIES), proptest::option::of(0..TENANTS.len()), 0u8..6, any::<bool>(), 1u32..7, 0usize..4),
            6,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Options { durability: Durability::Deferred, ..Options::default() }).unwrap();
        build(&store, &specs);
        settle(&store);
        let sorts = [
            SearchSort::Relevance,
            SearchSort::Created,
            SearchSort::Updated,
            SearchSort::Status,
            SearchSort::Category,
            SearchSort::Number,
        ];
        for (text, scope, sort, descending, per_page, split) in walks {
            let scope = match scope {
                Some(t) => Scope::Tenant(tenant(TENANTS[t])),
                None => Scope::AllTenants,
            };
            let opts = SearchOptions { sort: sorts[sort as usize], descending, per_page, snippets: false, ..SearchOptions::default() };
            // Paged: one page holding everything (the archives are small).
            let all = store.search(&scope, text, &SearchOptions { per_page: 1000, ..opts }).unwrap();
            let paged: Vec<_> = all.hits.iter().map(seen).collect();
            // The stateful walk.
            let mut walk = store.search_walk(&scope, text, &opts, None).unwrap();
            prop_assert_eq!(walk.total(), all.total);
            prop_assert_eq!(walk.facets(), &all.facets);
            let mut walked = Vec::new();
            loop {
                let page = walk.next_page().unwrap();
                if page.is_empty() {
                    break;
                }
                prop_assert!(page.len() <= per_page as usize);
                walked.extend(page.iter().map(seen));
                prop_assert_eq!(walk.cursor().is_some(), walk.remaining() > 0);
            }
            prop_assert_eq!(&walked, &paged, "walk of {:?} in {:?}", text, scope);
            // Ids only.
            let mut ids = Vec::new();
            let mut walk = store.search_walk(&scope, text, &opts, None).unwrap();
            loop {
                let page = walk.next_ids().unwrap();
                if page.is_empty() {
                    break;
                }
                ids.extend(page);
            }
            prop_assert_eq!(ids, paged.iter().map(|h| h.0).collect::<Vec<_>>());
            // Resumed after `split` pages of search_after.
            let mut cursor: Option<Cursor> = None;
            let mut before = Vec::new();
            for _ in 0..split {
                let r = store.search_after(&scope, text, &opts, cursor.as_ref()).unwrap();
                before.extend(r.hits.iter().map(seen));
                cursor = r.next;
                if cursor.is_none() {
                    break;
                }
            }
            if split > 0 && cursor.is_none() {
                prop_assert_eq!(&before, &paged);
                continue;
            }
            let mut rest = store.search_walk(&scope, text, &opts, cursor.as_ref()).unwrap();
            prop_assert_eq!(rest.total(), all.total);
            // One page from the walk, then the remainder by the walk's cursor
            // through search_after.
            before.extend(rest.next_page().unwrap().iter().map(seen));
            let mut cursor = rest.cursor();
            while let Some(c) = cursor {
                let r = store.search_after(&scope, text, &opts, Some(&c)).unwrap();
                before.extend(r.hits.iter().map(seen));
                cursor = r.next;
            }
            prop_assert_eq!(&before, &paged, "resumed walk of {:?} in {:?}", text, scope);
        }
        store.shutdown().unwrap();
    }
}

#[test]
fn cursors_are_bound_to_their_scope_and_query() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..5 {
        store
            .create_case(new_case(TENANTS[i % 2], "refund delayed", "refund"))
            .unwrap();
    }
    settle(&store);
    let t1 = Scope::Tenant(tenant("t1"));
    let opts = SearchOptions {
        per_page: 1,
        snippets: false,
        ..SearchOptions::default()
    };
    let next = store.search(&t1, "refund", &opts).unwrap().next.unwrap();
    // It works where it was made, and deep pages need no window.
    assert_eq!(
        store
            .search_after(&t1, "refund", &opts, Some(&next))
            .unwrap()
            .hits
            .len(),
        1
    );
    let bad = |scope: &Scope, text: &str, opts: &SearchOptions, cursor: &Cursor| match store.search_after(
        scope,
        text,
        opts,
        Some(cursor),
    ) {
        Err(StoreError::BadCursor(e)) => e,
        other => panic!("expected a refused cursor, got {other:?}"),
    };
    assert_eq!(
        bad(&Scope::Tenant(tenant("t2")), "refund", &opts, &next),
        CursorError::OtherScope
    );
    assert_eq!(bad(&Scope::AllTenants, "refund", &opts, &next), CursorError::OtherScope);
    assert_eq!(bad(&t1, "delayed", &opts, &next), CursorError::OtherQuery);
    let by_created = SearchOptions {
        sort: SearchSort::Created,
        ..opts
    };
    assert_eq!(bad(&t1, "refund", &by_created, &next), CursorError::OtherQuery);
    // Any change to the text is refused as malformed.
    let text = next.as_str();
    let mut altered: Vec<char> = text.chars().collect();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == '0' { '1' } else { '0' };
    for garbage in [
        String::new(),
        "zz".repeat(text.len() / 2),
        altered.into_iter().collect(),
        format!("{text}00"),
        text[..text.len() - 2].to_owned(),
        "é".repeat(text.len() / 2),
    ] {
        assert_eq!(
            bad(&t1, "refund", &opts, &Cursor::from_text(garbage)),
            CursorError::Malformed
        );
    }
    store.shutdown().unwrap();
}
