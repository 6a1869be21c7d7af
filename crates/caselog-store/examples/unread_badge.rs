//! The unread badge of a seller's *My cases* tab.
//!
//! A case is unread for a user when its thread has entries beyond the
//! user's read marker and the last one was not written by that user; a
//! merged case is never unread (its survivor's merge note is).
//!
//! ```sh
//! cargo run -p caselog-store --example unread_badge
//! ```

use std::path::Path;

use caselog_core::*;
use caselog_store::*;

/// Returns the badge after each step: opened, support replied, read.
pub fn run(dir: &Path) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
    let store = Store::open(dir, Options::default())?;
    let seller = UserId::parse("ops@example.com")?;
    let scope = Scope::Tenant(TenantId::parse("seller-0042")?);
    let mine = ViewQuery::new(ViewKind::Mine(seller.clone()));
    let created = store.create_case(NewCase::new(
        TenantId::parse("seller-0042")?,
        seller.clone(),
        Marketplace::parse("DE")?,
        LanguageTag::parse("de")?,
        Category::Payments,
        "Auszahlung zurückgehalten",
        "Warum wurde meine Auszahlung zurückgehalten?",
    ))?;
    let case = CaseRef::Id(created.id);
    let mut badges = vec![store.unread_count(&scope, &seller, &mine)?.unread];
    store.reply(
        &Scope::AllTenants,
        &case,
        NewMessage::new(Actor::Support(UserId::parse("agent-7")?), "Wir prüfen das."),
    )?;
    badges.push(store.unread_count(&scope, &seller, &mine)?.unread);
    // The seller opens the case: the host marks it read.
    store.mark_read(&scope, &seller, &case, None)?;
    badges.push(store.unread_count(&scope, &seller, &mine)?.unread);
    store.shutdown()?;
    Ok(badges)
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let badges = run(dir.path())?;
    println!(
        "My cases badge: opened {}, after support's reply {}, after reading {}",
        badges[0], badges[1], badges[2]
    );
    Ok(())
}
