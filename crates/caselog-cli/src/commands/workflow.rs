//! `case transfer|assign|release|complex`, `timers` and `tenant tier`:
//! support's routing of a case (and a seller's hand-over to a colleague),
//! the lifecycle timers run by hand, and a tenant's performance tier.
//! Refusals come back as the store's typed errors (exit 1).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use caselog_core::{CaseEvent, Timestamp};
use caselog_store::CaseRef;

use super::case::{actor, report_written};
use super::{close, open_existing};
use crate::cli::{
    AssignArgs, ComplexArgs, ReleaseArgs, RoleArg, RouterArg, RoutingArgs, TenantAction, TimersArgs, TransferArgs,
};
use crate::Outcome;

fn role(r: RouterArg) -> RoleArg {
    match r {
        RouterArg::Support => RoleArg::Support,
        RouterArg::Seller => RoleArg::Seller,
    }
}

/// Applies one routing event through the store's lifecycle.
fn route(
    db: &Path,
    case: &RoutingArgs,
    who: RouterArg,
    event: CaseEvent,
    note: String,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let (actor, scope) = actor(role(who), &case.actor)?;
    let kind = event.kind();
    let store = open_existing(db)?;
    let written = store.apply_event(
        &scope,
        &CaseRef::Number(case.number.clone()),
        actor,
        event,
        note,
        case.at,
    );
    close(store)?;
    let written = written.with_context(|| format!("applying {kind} to case {}", case.number))?;
    report_written(
        out,
        case.number.as_str(),
        &written,
        case.json,
        &format!("Applied {kind} to"),
    )?;
    Ok(Outcome::Success)
}

/// `case transfer`.
pub fn transfer(db: &Path, a: TransferArgs, out: &mut dyn Write) -> Result<Outcome> {
    let event = CaseEvent::Transfer {
        category: a.category,
        marketplace: a.marketplace,
    };
    route(db, &a.case, RouterArg::Support, event, a.reason, out)
}

/// `case assign`.
pub fn assign(db: &Path, a: AssignArgs, out: &mut dyn Write) -> Result<Outcome> {
    route(db, &a.case, a.role, CaseEvent::Assign { to: a.to }, a.note, out)
}

/// `case release`.
pub fn release(db: &Path, a: ReleaseArgs, out: &mut dyn Write) -> Result<Outcome> {
    route(db, &a.case, a.role, CaseEvent::Release, a.note, out)
}

/// `case complex`.
pub fn complex(db: &Path, a: ComplexArgs, out: &mut dyn Write) -> Result<Outcome> {
    let event = CaseEvent::SetComplex { complex: !a.off };
    route(db, &a.case, RouterArg::Support, event, a.note, out)
}

/// `timers`: one pass of the lifecycle timers.
pub fn timers(db: &Path, a: &TimersArgs, out: &mut dyn Write) -> Result<Outcome> {
    let at = a.at.unwrap_or_else(Timestamp::now);
    let store = open_existing(db)?;
    let changed = store.run_timers(at);
    close(store)?;
    let changed = changed.context("applying the timers")?;
    writeln!(out, "Timers as of {at}: {changed} cases changed")?;
    Ok(Outcome::Success)
}

/// `tenant tier`.
pub fn tenant(db: &Path, action: TenantAction, out: &mut dyn Write) -> Result<Outcome> {
    match action {
        TenantAction::Tier { tenant, tier } => {
            let store = open_existing(db)?;
            let set = store.set_tenant_tier(&tenant, tier);
            close(store)?;
            set.with_context(|| format!("setting the tier of {tenant}"))?;
            writeln!(
                out,
                "Tenant {tenant}: tier {tier}; its open cases are re-keyed in the queue"
            )?;
            Ok(Outcome::Success)
        }
    }
}
