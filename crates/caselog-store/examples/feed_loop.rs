//! A host's notification loop on the change feed.
//!
//! A consumer registers once (the name is durable), then repeatedly waits
//! for changes, handles them, and acknowledges the page. After a restart of
//! the host it continues after the last acknowledged change: nothing is
//! missed. (To also never handle a change twice, keep your own record of
//! the last sequence handled in the same transaction as your side effects
//! and pass it as `from`.)
//!
//! ```sh
//! cargo run -p caselog-store --example feed_loop
//! ```

use std::path::Path;
use std::time::Duration;

use caselog_core::*;
use caselog_store::*;

fn new_case(tenant: &str, title: &str) -> Result<NewCase, ValidationError> {
    Ok(NewCase::new(
        TenantId::parse(tenant)?,
        UserId::parse("ops@example.com")?,
        Marketplace::parse("US")?,
        LanguageTag::parse("en")?,
        Category::Orders,
        title,
        "Where is my order?",
    ))
}

/// Runs the loop in `dir` and returns the notifications it sent.
pub fn run(dir: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut sent = Vec::new();
    let tenant = Scope::Tenant(TenantId::parse("seller-0042")?);
    // Session 1: the consumer registers and sees the first case.
    let store = Store::open(dir, Options::default())?;
    store.feed_register(&tenant, "mailer", FeedStart::Beginning)?;
    store.create_case(new_case("seller-0042", "Order 1 late")?)?;
    store.create_case(new_case("seller-0001", "another seller's case")?)?;
    notify(&store, &tenant, &mut sent)?;
    // A change while the host is down...
    store.shutdown()?;
    let store = Store::open(dir, Options::default())?;
    let created = store.create_case(new_case("seller-0042", "Order 2 late")?)?;
    store.reply(
        &tenant,
        &CaseRef::Id(created.id),
        NewMessage::new(Actor::Seller(UserId::parse("ops@example.com")?), "Any news?"),
    )?;
    store.shutdown()?;
    // ...is delivered after the restart, exactly from where it stopped.
    let store = Store::open(dir, Options::default())?;
    notify(&store, &tenant, &mut sent)?;
    store.shutdown()?;
    Ok(sent)
}

/// One pass of the loop: wait (without polling) for changes, handle them,
/// acknowledge. A real host runs this forever on its own thread.
fn notify(store: &Store, scope: &Scope, sent: &mut Vec<String>) -> Result<(), StoreError> {
    loop {
        let page = store.feed_wait(scope, "mailer", None, 100, Duration::from_millis(100))?;
        if page.changes.is_empty() {
            store.feed_ack(scope, "mailer", page.position)?;
            return Ok(());
        }
        for change in &page.changes {
            sent.push(format!(
                "case {} {} (change {})",
                change.number,
                change.kind.as_str(),
                change.seq
            ));
        }
        store.feed_ack(scope, "mailer", page.position)?;
    }
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    for line in run(dir.path())? {
        println!("{line}");
    }
    Ok(())
}
