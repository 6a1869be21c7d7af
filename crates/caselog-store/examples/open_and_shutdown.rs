//! Opening a store, what a second open gets, a read-only open, shutdown.
//!
//! `cargo run -p caselog-store --example open_and_shutdown`

use caselog_core::*;
use caselog_store::*;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    // Creates the store (file, index, directory lock) on first open.
    let store = Store::open(dir.path(), Options::default())?;
    let tenant = TenantId::parse("seller-0042")?;
    store.create_case(NewCase::new(
        tenant.clone(),
        UserId::parse("ops@example.com")?,
        Marketplace::parse("US")?,
        LanguageTag::parse("en")?,
        Category::Orders,
        "Order 112-1234567-1234567 not delivered",
        "The tracking stopped a week ago.",
    ))?;

    // One writer at a time: a second read-write open is a typed error
    // naming the store, which a host can tell from any other failure.
    match Store::open(dir.path(), Options::default()) {
        Err(StoreError::AlreadyOpen { path }) => println!("in use: {}", path.display()),
        Err(other) => return Err(other.into()),
        Ok(_) => return Err("a second writer was let in".into()),
    }

    // Shutdown lets the writer and the indexer finish; an error here says
    // what was not made durable.
    store.shutdown()?;

    // A read-only open writes nothing: no recovery, no lock file, no index commit.
    let reader = Store::open_read_only(dir.path(), Options::default())?;
    let page = reader.view(&Scope::Tenant(tenant), &ViewQuery::new(ViewKind::All))?;
    assert_eq!(page.total, 1);
    assert!(matches!(reader.sync(), Err(StoreError::ReadOnly { .. })));
    println!("{} case(s) read without writing", page.total);
    reader.shutdown()?;
    Ok(())
}
