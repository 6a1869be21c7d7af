//! A follow-up to a closed case, and a duplicate merged into its original.
//!
//! `cargo run -p caselog-store --example follow_up_and_merge`

use caselog_core::*;
use caselog_store::*;

fn new_case(tenant: &TenantId, title: &str) -> Result<NewCase, ValidationError> {
    Ok(NewCase::new(
        tenant.clone(),
        UserId::parse("ops@example.com")?,
        Marketplace::parse("DE")?,
        LanguageTag::parse("de")?,
        Category::FbaInventory,
        title,
        "Units received but not shown as available.",
    ))
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), Options::default())?;
    let tenant = TenantId::parse("seller-0042")?;
    let scope = Scope::Tenant(tenant.clone());
    let seller = Actor::Seller(UserId::parse("ops@example.com")?);

    // A follow-up continues a closed case: tenant, marketplace, language,
    // category and references come from it, and both are linked.
    let first = store.create_case(new_case(&tenant, "Lost inbound units")?)?;
    let first_ref: CaseRef = first.number.clone().into();
    match store.follow_up(
        &scope,
        &first_ref,
        NewFollowUp::new(UserId::parse("ops@example.com")?, "Still missing", "x"),
    ) {
        Err(StoreError::FollowUpRefused { status, .. }) => println!("no follow-up to a case that is {status}"),
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }
    store.apply_event(&scope, &first_ref, seller.clone(), CaseEvent::Close, "", None)?;
    let next = store.follow_up(
        &scope,
        &first_ref,
        NewFollowUp::new(
            UserId::parse("ops@example.com")?,
            "Units still missing",
            "Two weeks on, nothing.",
        ),
    )?;
    let old = store.case(&scope, &first_ref)?.ok_or("case gone")?;
    let new = store.case(&scope, &next.number.clone().into())?.ok_or("case gone")?;
    assert_eq!(old.links.follow_ups, vec![new.number.clone()]);
    assert_eq!(new.links.follow_up_of, Some(old.number.clone()));
    assert_eq!(new.category, old.category);
    println!("case {} continues case {}", new.number, old.number);

    // The same problem filed twice: the duplicate rule flags it at
    // creation; support merges it into the original (both threads say so).
    let original = store.create_case(new_case(&tenant, "Stranded inventory")?)?;
    let repeat = store.create_case(new_case(&tenant, "Stranded inventory")?)?;
    assert_eq!(repeat.duplicate_of, Some(original.number.clone()));
    let merged = store.merge(
        &repeat.number.clone().into(),
        &original.number,
        UserId::parse("agent-7")?,
        "Same problem as the original case.",
    )?;
    assert_eq!(merged.status, Status::Merged);
    println!("case {} merged into case {}", repeat.number, original.number);
    store.shutdown()?;
    Ok(())
}
