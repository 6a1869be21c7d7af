//! Searching: waiting until a write is searchable, pages and a cursor
//! walk, and a malformed query as a typed error.
//!
//! `cargo run -p caselog-store --example search`

use std::time::Duration;

use caselog_core::*;
use caselog_store::*;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), Options::default())?;
    let tenant = TenantId::parse("seller-0042")?;
    let mut last = 0;
    for i in 0..30 {
        let (title, body) = if i % 2 == 0 {
            (
                format!("Refund {i} not received"),
                "The refund for my order has not arrived.",
            )
        } else {
            (format!("账户问题 {i}"), "我的账户被停用了，退款也没有收到。")
        };
        let created = store.create_case(NewCase::new(
            tenant.clone(),
            UserId::parse("ops@example.com")?,
            Marketplace::parse("US")?,
            LanguageTag::parse("en")?,
            Category::Payments,
            title,
            body,
        ))?;
        last = created.change;
    }
    // A write is durable when acknowledged and searchable shortly after:
    // wait for the last one (or accept that search lags by a moment).
    if !store.wait_indexed(last, Duration::from_secs(30))? {
        return Err("the index did not catch up in 30 s".into());
    }
    let scope = Scope::Tenant(tenant);

    // English and Chinese, with a field filter.
    let found = store.search(&scope, "refund status:open", &SearchOptions::default())?;
    println!("'refund status:open': {} cases", found.total);
    let found = store.search(&scope, "退款", &SearchOptions::default())?;
    println!("'退款': {} cases", found.total);
    for hit in found.hits.iter().take(3) {
        let snippet = hit.snippet.as_ref().map(|s| s.to_html()).unwrap_or_default();
        println!("  {} {}  {snippet}", hit.number, hit.title);
    }

    // A cursor walk over every hit, oldest first.
    let opts = SearchOptions {
        sort: SearchSort::Created,
        descending: false,
        per_page: 7,
        snippets: false,
        ..SearchOptions::default()
    };
    let (mut seen, mut cursor) = (0u64, None);
    loop {
        let page = store.search_after(&scope, "refund OR 退款", &opts, cursor.as_ref())?;
        seen += page.hits.len() as u64;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    println!("walked {seen} hits");
    assert_eq!(seen, 30);

    // A malformed query names the position of the problem.
    match store.search(&scope, "\"unclosed phrase", &SearchOptions::default()) {
        Err(StoreError::Query(e)) => println!("query refused: {e}"),
        other => return Err(format!("expected a query error, got {other:?}").into()),
    }
    store.shutdown()?;
    Ok(())
}
