//! A case's life: create, reply, lifecycle events, a refused transition
//! handled, and the case read back with its thread.
//!
//! `cargo run -p caselog-store --example case_lifecycle`

use caselog_core::*;
use caselog_store::*;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), Options::default())?;
    let tenant = TenantId::parse("seller-0042")?;
    let seller = UserId::parse("ops@example.com")?;
    let agent = Actor::Support(UserId::parse("agent-7")?);
    let seller_scope = Scope::Tenant(tenant.clone());

    let created = store.create_case(
        NewCase::new(
            tenant.clone(),
            seller.clone(),
            Marketplace::parse("US")?,
            LanguageTag::parse("en")?,
            Category::Payments,
            "Disbursement on hold",
            "My disbursement has been on hold for 10 days.",
        )
        .with_refs(References {
            orders: vec![OrderId::parse("112-1234567-1234567")?],
            ..References::default()
        }),
    )?;
    let case: CaseRef = created.number.clone().into();
    println!("opened case {}", created.number);

    // Support picks it up (support acts across tenants) and asks for
    // information; the seller's reply moves it back to support.
    store.apply_event(&Scope::AllTenants, &case, agent.clone(), CaseEvent::PickUp, "", None)?;
    let deadline = Timestamp::now().saturating_add(Span::days(3));
    store.apply_event(
        &Scope::AllTenants,
        &case,
        agent.clone(),
        CaseEvent::RequestInfo { deadline },
        "Please send the bank statement.",
        None,
    )?;
    let w = store.reply(
        &seller_scope,
        &case,
        NewMessage::new(Actor::Seller(seller.clone()), "Statement attached."),
    )?;
    assert_eq!(w.status, Status::InProgress);
    store.apply_event(
        &Scope::AllTenants,
        &case,
        agent.clone(),
        CaseEvent::Resolve,
        "Released.",
        None,
    )?;
    store.apply_event(
        &seller_scope,
        &case,
        Actor::Seller(seller.clone()),
        CaseEvent::Close,
        "",
        None,
    )?;

    // A closed case refuses every event: a typed error naming the status,
    // the event and the actor, and nothing is written.
    match store.reply(
        &seller_scope,
        &case,
        NewMessage::new(Actor::Seller(seller), "One more thing"),
    ) {
        Err(StoreError::Transition {
            refusal: TransitionError::Final { status, .. },
            ..
        }) => println!("refused as expected: the case is {status}"),
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }

    // The case and its thread, from one read: they always agree.
    let (case, thread) = store
        .case_with_thread(&seller_scope, &case)?
        .ok_or("the case is gone")?;
    assert_eq!(thread.len(), case.entries as usize);
    for entry in &thread {
        let change = entry.change.as_ref().map(|c| c.to.to_string()).unwrap_or_default();
        println!("{}  {:?}  {change}  {}", entry.at, entry.actor, entry.body);
    }
    // Another tenant cannot see it: it reads exactly like a missing case.
    let other = Scope::Tenant(TenantId::parse("seller-0001")?);
    assert!(store.case(&other, &case.number.clone().into())?.is_none());
    store.shutdown()?;
    Ok(())
}
