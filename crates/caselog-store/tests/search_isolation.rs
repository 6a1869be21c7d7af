//! Tenant isolation of search: a tenant-scoped search never returns, counts
//! or facets another tenant's case, whatever the query text says.

mod search_common;

use caselog_core::*;
use caselog_store::*;
use search_common::*;

#[test]
fn a_tenant_scoped_search_never_reaches_another_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let shared_order = OrderId::parse("112-1234567-1234567").unwrap();
    let mut mine = Vec::new();
    for i in 0..6 {
        let mut c = new_case("seller-a", "Refund delayed", &format!("refund text 账户停用 {i}"));
        c.category = Category::Payments;
        c.refs.orders = vec![shared_order.clone()];
        mine.push(store.create_case(c).unwrap());
    }
    let mut theirs = Vec::new();
    for i in 0..9 {
        // Same words, same order id, other categories: any leak shows up
        // in hits, totals or facets.
        let mut c = new_case(
            "seller-b",
            "Refund delayed seller-a",
            &format!("refund text 账户停用 seller-a {i}"),
        );
        c.category = Category::Tax;
        c.created_by = user("b@example.com");
        c.refs.orders = vec![shared_order.clone()];
        theirs.push(store.create_case(c).unwrap());
    }
    settle(&store);
    let a = Scope::Tenant(tenant("seller-a"));
    let opts = SearchOptions {
        per_page: 1000,
        ..SearchOptions::default()
    };
    let other = theirs.iter().map(|c| c.number.to_string()).collect::<Vec<_>>();
    for q in [
        "",
        "*",
        "refund",
        "账户 停用",
        "seller-a",
        "\"seller-a\"",
        "refund OR -refund",
        "-(-*)",
        "* OR category:tax",
        "category:tax",
        "by:b@example.com",
        "112-1234567-1234567",
        "order:112-1234567-1234567",
        &theirs[0].number.to_string(),
        &format!("number:{}", theirs[0].number),
    ] {
        let r = store.search(&a, q, &opts).unwrap();
        assert!(
            r.hits.iter().all(|h| h.tenant.as_str() == "seller-a"),
            "{q:?} leaked a hit"
        );
        assert!(r.hits.iter().all(|h| !other.contains(&h.number.to_string())), "{q:?}");
        assert!(r.total <= 6, "{q:?} counted another tenant's cases: {}", r.total);
        assert_eq!(r.total, r.hits.len() as u64, "{q:?}");
        assert!(
            !r.facets.by_category.contains_key(&Category::Tax),
            "{q:?} faceted another tenant"
        );
        let faceted: u64 = r.facets.by_status.values().sum();
        assert_eq!(faceted, r.total, "{q:?}");
    }
    // The tenant field cannot be named in a query at all.
    for q in ["tenant:seller-b", "refund tenant:seller-b", "TENANT:seller-b"] {
        assert!(
            matches!(
                store.search(&a, q, &opts),
                Err(StoreError::Query(QueryError {
                    kind: QueryErrorKind::UnknownField { .. },
                    ..
                }))
            ),
            "{q:?}"
        );
    }
    // The support side sees both, asked for explicitly.
    let all = store.search(&Scope::AllTenants, "refund", &opts).unwrap();
    assert_eq!(all.total, 15);
    assert_eq!(all.facets.by_category.get(&Category::Tax), Some(&9));
    // An unknown tenant sees nothing.
    let none = store.search(&Scope::Tenant(tenant("seller-c")), "", &opts).unwrap();
    assert_eq!((none.total, none.hits.len()), (0, 0));
    assert_eq!(mine.len(), 6);
    store.shutdown().unwrap();
}
