//! The case-log tabs with numbered pages and with a cursor, and the
//! support queue.
//!
//! `cargo run -p caselog-store --example views_and_queue`

use caselog_core::*;
use caselog_store::*;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), Options::default())?;
    let tenant = TenantId::parse("seller-0042")?;
    let t0 = Timestamp::parse_rfc3339("2026-01-05T09:00:00Z")?;
    for (i, category) in Category::ALL.iter().cycle().take(25).enumerate() {
        let user = if i % 3 == 0 {
            "returns@example.com"
        } else {
            "ops@example.com"
        };
        store.create_case(
            NewCase::new(
                tenant.clone(),
                UserId::parse(user)?,
                Marketplace::parse("US")?,
                LanguageTag::parse("en")?,
                *category,
                format!("Question {i} about {category}"),
                "Details in the first message.",
            )
            .with_time(t0.saturating_add(Span::hours(i as i64))),
        )?;
    }
    let scope = Scope::Tenant(tenant);

    // Numbered pages: page 2 of 10, newest update first, with the total.
    let mut q = ViewQuery::new(ViewKind::All);
    q.per_page = 10;
    q.page = 2;
    let page = store.view(&scope, &q)?;
    println!("All: {} cases, page 2 holds {}", page.total, page.cases.len());

    // A page past the window is a typed error, the same as a search's.
    q.page = 0;
    assert!(matches!(store.view(&scope, &q), Err(StoreError::PageOutOfRange { .. })));

    // A cursor walk: every case once, in order, not bounded by the window.
    let mut mine = ViewQuery::new(ViewKind::Mine(UserId::parse("returns@example.com")?));
    mine.per_page = 4;
    let (mut walked, mut cursor) = (0, None);
    loop {
        let page = store.view_after(&scope, &mine, cursor.as_ref())?;
        walked += page.cases.len();
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    println!("Mine (returns@example.com): {walked} cases walked");
    assert_eq!(walked, 9);

    // Filters: one category, oldest first.
    let mut filtered = ViewQuery::new(ViewKind::All);
    filtered.filter.categories = vec![Category::Payments];
    filtered.descending = false;
    let payments = store.view(&scope, &filtered)?;
    assert!(payments.cases.iter().all(|c| c.category == Category::Payments));

    // The support queue: what to work on next, in the policy's order.
    let next = store.queue(
        &Scope::AllTenants,
        &QueueQuery {
            limit: 5,
            category: None,
            marketplace: None,
        },
    )?;
    for entry in &next {
        println!("queue: {} due {}", entry.case.number, entry.key.due);
    }
    store.shutdown()?;
    Ok(())
}
