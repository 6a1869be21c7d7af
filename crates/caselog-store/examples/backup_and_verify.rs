//! A backup copy of a live store, opened and verified.
//!
//! `cargo run -p caselog-store --example backup_and_verify`

use caselog_core::*;
use caselog_store::*;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), Options::default())?;
    let tenant = TenantId::parse("seller-0042")?;
    for i in 0..10 {
        store.create_case(NewCase::new(
            tenant.clone(),
            UserId::parse("ops@example.com")?,
            Marketplace::parse("US")?,
            LanguageTag::parse("en")?,
            Category::Orders,
            format!("Shipment {i} delayed"),
            "The carrier has not scanned it.",
        ))?;
    }

    // A backup is a snapshot copied into a new directory while writes go on;
    // it never replaces an existing store.
    let backups = tempfile::tempdir()?;
    let dest = backups.path().join("nightly");
    let copied = store.snapshot()?.copy_to(&dest)?;
    println!("backed up {} cases to {}", copied.cases, copied.path.display());
    assert!(matches!(
        store.snapshot()?.copy_to(&dest),
        Err(StoreError::BackupDestination { .. })
    ));

    // Verify the live store: every case's index document matches it.
    let report = store.verify()?;
    assert!(report.is_consistent(), "{report:?}");
    store.shutdown()?;

    // The backup opens as a store of its own (its index is rebuilt) and
    // verifies clean.
    let restored = Store::open(&dest, Options::default())?;
    let report = restored.verify()?;
    println!("backup: {} cases, {} verified", report.cases, report.verified);
    assert!(report.is_consistent() && report.cases == 10);
    restored.shutdown()?;
    Ok(())
}
