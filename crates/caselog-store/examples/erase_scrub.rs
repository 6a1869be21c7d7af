//! Erasing a case on request, then scrubbing the files.
//!
//! `erase` removes the case and everything only it referenced in one
//! transaction and tells feed consumers (an `erased` change). The bytes can
//! still sit in free pages of the store file and in the index's deleted
//! documents until `Store::scrub` runs on the closed store: after it, no
//! byte of the case's text remains in either. Retention (`Options::retention`,
//! `Store::run_retention`) erases old final cases the same way.
//!
//! ```sh
//! cargo run -p caselog-store --example erase_scrub
//! ```

use std::path::Path;

use caselog_core::*;
use caselog_store::*;

/// Erases a case and scrubs; returns whether its text is still anywhere in
/// the directory's files before and after the scrub.
pub fn run(dir: &Path) -> Result<(bool, bool), Box<dyn std::error::Error>> {
    let secret = "passport-number-X1234567";
    let store = Store::open(dir, Options::default())?;
    let tenant = TenantId::parse("seller-0042")?;
    let created = store.create_case(NewCase::new(
        tenant.clone(),
        UserId::parse("ops@example.com")?,
        Marketplace::parse("UK")?,
        LanguageTag::parse("en")?,
        Category::IdentityVerification,
        "Identity verification",
        format!("My {secret} was rejected"),
    ))?;
    store.sync()?;
    let erased = store.erase(&Scope::Tenant(tenant), &CaseRef::Number(created.number))?;
    println!(
        "erased case {} ({} thread entries) at change {}",
        erased.number, erased.entries, erased.change
    );
    store.shutdown()?;
    let before = contains(dir, secret.as_bytes())?;
    let report = Store::scrub(dir)?;
    println!(
        "scrub: store file {} -> {} bytes, index segments {} -> {}",
        report.store_bytes_before, report.store_bytes_after, report.segments_before, report.segments_after
    );
    let after = contains(dir, secret.as_bytes())?;
    Ok((before, after))
}

/// Whether any file under `dir` holds `needle`.
fn contains(dir: &Path, needle: &[u8]) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let found = if path.is_dir() {
            contains(&path, needle)?
        } else {
            std::fs::read(&path)?.windows(needle.len()).any(|w| w == needle)
        };
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (before, after) = run(dir.path())?;
    println!("text in the files before the scrub: {before}; after: {after}");
    Ok(())
}
