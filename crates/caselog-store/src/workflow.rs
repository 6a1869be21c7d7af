//! Support's workflow actions and what each does inside the writer's
//! transaction: transfer, assignment, complexity (routing events, through
//! [`caselog_core::transition`] like every other change) and the live
//! re-keying of a tenant's open cases when its performance tier changes.
//!
//! The commands reach the writer as [`Command::Job`]s, so the writer only
//! knows how to run a job, not what each one does.
//!
//! **Invariant:** a re-key that has not finished leaves a marker
//! (`rekey:<tenant>` in `meta`, holding the new tier) in the same
//! transaction as the tier change; every batch re-keys at most
//! [`crate::Options::rekey_batch`] cases and the last one removes the marker, and
//! an open finishes any re-key a crash interrupted.

use caselog_core::{
    validate_body, Actor, CaseEvent, Category, Marketplace, PerformanceTier, Status, TenantId, Timestamp, UserId,
    ValidationError,
};
use redb::ReadableTable;

use crate::error::st;
use crate::error::{Result, StoreError};
use crate::model::{CaseRef, Scope, StatusChange, ThreadEntry, Written};
use crate::records::{self, encode_queue_value};
use crate::store::Store;
use crate::stored::load_case;
use crate::write::{case_for_event, move_views, put_case, put_entry, queue_key, rules, Ctx, EventCommand, Tables};
use crate::writer::{Command, FnJob};

/// One routing event (transfer, assign, release, set complex) with the
/// note recorded beside it in the thread.
pub(crate) struct Routing {
    pub scope: Scope,
    pub case: CaseRef,
    pub actor: Actor,
    pub event: CaseEvent,
    pub note: String,
    /// The event's time; `None` means now.
    pub at: Option<Timestamp>,
}

/// A routing event sent through `Store::apply_event`: the same as
/// [`route`]; a routing event carries no attachments.
pub(crate) fn route_event(t: &mut Tables<'_>, ctx: &mut Ctx<'_>, cmd: EventCommand, now: Timestamp) -> Result<Written> {
    if !cmd.attachments.is_empty() {
        return Err(StoreError::Invalid(ValidationError::TooMany {
            field: "attachments of a routing event",
            len: cmd.attachments.len(),
            max: 0,
        }));
    }
    let routing = Routing {
        scope: cmd.scope,
        case: cmd.case,
        actor: cmd.actor,
        event: cmd.event,
        note: cmd.body,
        at: cmd.at,
    };
    route(t, ctx, routing, now)
}

/// Applies a routing event: the rules decide through `transition` (a final
/// case refuses it with the event's own kind), the thread records it with
/// its actor and note, and views, queue and change log follow in the same
/// transaction.
pub(crate) fn route(t: &mut Tables<'_>, ctx: &mut Ctx<'_>, cmd: Routing, now: Timestamp) -> Result<Written> {
    validate_body(&cmd.note)?;
    if matches!(cmd.event, CaseEvent::Transfer { .. }) && cmd.note.trim().is_empty() {
        // SPEC: a transfer is recorded "with the reason".
        return Err(StoreError::Invalid(ValidationError::Empty { field: "reason" }));
    }
    let case = case_for_event(t, &cmd.scope, &cmd.case, &cmd.actor)?;
    // As for every event: the store's clock never stamps an event before
    // the case's last change; an explicit time is taken as given.
    let at = cmd.at.unwrap_or_else(|| now.max(case.state.updated_at));
    let tr = rules(&case, &cmd.actor, &cmd.event, at, ctx)?;
    let mut next = case.clone();
    next.state = tr.state;
    match (&cmd.event, &cmd.actor) {
        (CaseEvent::Transfer { category, marketplace }, _) => {
            next.category = *category;
            if let Some(m) = marketplace {
                next.marketplace = m.clone();
            }
        }
        (CaseEvent::Assign { to }, Actor::Support(_)) => next.assignee = Some(to.clone()),
        (CaseEvent::Release, Actor::Support(_)) => next.assignee = None,
        (CaseEvent::Assign { to }, Actor::Seller(_)) => next.handler = Some(to.clone()),
        (CaseEvent::Release, Actor::Seller(_)) => next.handler = None,
        (CaseEvent::SetComplex { complex }, _) => next.complex = *complex,
        // The rules accept nothing else; kept as a typed refusal rather
        // than a panic should they ever grow.
        (event, actor) => {
            return Err(StoreError::Transition {
                case: case.number.to_string(),
                refusal: caselog_core::TransitionError::NotAllowed {
                    status: case.state.status,
                    event: event.kind(),
                    actor: actor.role(),
                },
            })
        }
    }
    let seq = next.entries;
    next.entries += 1;
    let entry = ThreadEntry {
        at,
        actor: cmd.actor,
        change: Some(StatusChange {
            event: tr.record.event,
            from: tr.record.from,
            to: tr.record.to,
        }),
        body: cmd.note,
        attachments: Vec::new(),
    };
    put_case(t, &next)?;
    put_entry(t, next.id, seq, &entry)?;
    move_views(t, ctx.opts, &case, &next)?;
    let change = ctx.log_change(t, &next, Some(&entry), false)?;
    Ok(Written {
        id: next.id,
        status: next.state.status,
        entry: seq,
        change,
    })
}

/// The `meta` key of a tenant's unfinished re-key.
fn rekey_marker(tenant: &TenantId) -> String {
    format!("{REKEY_PREFIX}{tenant}")
}

const REKEY_PREFIX: &str = "rekey:";

/// Sets a tenant's tier and re-keys its first batch of non-final cases in
/// the same transaction; a marker records a re-key still to finish.
/// Returns whether the re-key is complete.
pub(crate) fn set_tier(
    t: &mut Tables<'_>,
    ctx: &mut Ctx<'_>,
    tenant: &TenantId,
    tier: PerformanceTier,
) -> Result<bool> {
    crate::write::set_tier(t, tenant, tier)?;
    t.meta
        .insert(rekey_marker(tenant).as_str(), tier.as_str().as_bytes())
        .map_err(st("writing a re-key marker"))?;
    rekey_step(t, ctx, tenant)
}

/// Re-keys at most `rekey_batch` of the tenant's non-final cases whose
/// tier differs from the tenant's (moving their queue entries) and removes
/// the marker once none is left. Returns whether none is left.
pub(crate) fn rekey_step(t: &mut Tables<'_>, ctx: &mut Ctx<'_>, tenant: &TenantId) -> Result<bool> {
    let tier = crate::write::tenant_tier(t, tenant)?;
    let limit = ctx.opts.rekey_batch.max(1);
    let mut stale = Vec::new();
    let mut more = false;
    'scan: for status in Status::ALL.iter().filter(|s| !s.is_final()) {
        let s = status.index() as u8;
        let range = t
            .by_status
            .range((tenant.as_str(), s, 0, 0)..=(tenant.as_str(), s, u64::MAX, u64::MAX))
            .map_err(st("scanning a tenant's cases"))?;
        for item in range {
            let id = item.map_err(st("scanning a tenant's cases"))?.0.value().3;
            if let Some(c) = load_case(&t.cases, id)? {
                if c.tier != tier {
                    if stale.len() == limit {
                        // One more exists: this batch is not the last.
                        more = true;
                        break 'scan;
                    }
                    stale.push(c);
                }
            }
        }
    }
    let w = st("re-keying the queue");
    for old in stale {
        let mut next = old.clone();
        next.tier = tier;
        if old.state.status.waits_on_support() {
            t.queue.remove(&queue_key(ctx.opts, &old)).map_err(&w)?;
            t.queue
                .insert(&queue_key(ctx.opts, &next), encode_queue_value(&next).as_slice())
                .map_err(&w)?;
        }
        put_case(t, &next)?;
        ctx.log_change(t, &next, None, false)?;
    }
    if !more {
        t.meta
            .remove(rekey_marker(tenant).as_str())
            .map_err(st("removing a re-key marker"))?;
    }
    Ok(!more)
}

/// The `meta` key of the fingerprint of the queue policy (and key rule)
/// the stored queue keys were computed under.
const QUEUE_FINGERPRINT: &str = "queue_fingerprint";

/// Version of the rule that turns a case into its queue key; bumped when
/// `QueuePolicy::key` changes (2: a duplicate takes the low class's target).
const QUEUE_KEY_RULE: u8 = 2;

fn queue_fingerprint(opts: &crate::Options) -> Result<Vec<u8>> {
    use sha2::{Digest, Sha256};
    let policy = serde_json::to_vec(&opts.queue).map_err(|e| StoreError::Corrupt {
        table: "meta",
        key: QUEUE_FINGERPRINT.into(),
        detail: format!("cannot encode the queue policy: {e}"),
    })?;
    let mut h = Sha256::new();
    h.update([QUEUE_KEY_RULE]);
    h.update(policy);
    Ok(h.finalize().to_vec())
}

/// Rebuilds the queue table from the cases when the stored keys were
/// computed under another policy or key rule (the host changed
/// `Options::queue`, or an older release wrote them): a removal must find
/// the key an insertion wrote. Returns whether it rebuilt.
pub(crate) fn rekey_queue_if_policy_changed(t: &mut Tables<'_>, opts: &crate::Options) -> Result<bool> {
    let want = queue_fingerprint(opts)?;
    let have = t
        .meta
        .get(QUEUE_FINGERPRINT)
        .map_err(st("reading the queue fingerprint"))?
        .map(|v| v.value().to_vec());
    if have.as_deref() == Some(want.as_slice()) {
        return Ok(false);
    }
    let w = st("rebuilding the queue");
    let old: Vec<[u8; 25]> = t
        .queue
        .iter()
        .map_err(&w)?
        .map(|item| item.map(|(k, _)| *k.value()))
        .collect::<std::result::Result<_, _>>()
        .map_err(&w)?;
    for k in &old {
        t.queue.remove(k).map_err(&w)?;
    }
    let mut waiting = Vec::new();
    for item in t.cases.iter().map_err(&w)? {
        let (k, v) = item.map_err(&w)?;
        let case = records::decode_case(v.value(), k.value())?;
        if case.state.status.waits_on_support() {
            waiting.push(case);
        }
    }
    for case in &waiting {
        t.queue
            .insert(&queue_key(opts, case), encode_queue_value(case).as_slice())
            .map_err(&w)?;
    }
    t.meta
        .insert(QUEUE_FINGERPRINT, want.as_slice())
        .map_err(st("writing the queue fingerprint"))?;
    Ok(true)
}

/// Tenants whose re-key a crash interrupted.
fn unfinished_rekeys(store: &Store) -> Result<Vec<TenantId>> {
    let txn = store.read_txn()?;
    let meta = txn
        .open_table(crate::tables::META)
        .map_err(|e| StoreError::storage("reading re-key markers", e))?;
    let mut out = Vec::new();
    for item in meta.range(REKEY_PREFIX..).map_err(st("reading re-key markers"))? {
        let (k, _) = item.map_err(st("reading re-key markers"))?;
        let Some(name) = k.value().strip_prefix(REKEY_PREFIX) else {
            break;
        };
        out.push(TenantId::parse(name)?);
    }
    Ok(out)
}

impl Store {
    /// Runs `f` in the writer's transaction and answers with its result.
    pub(crate) fn run_job<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tables<'_>, &mut Ctx<'_>, Timestamp) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.submit(|reply| {
            Command::Job(Box::new(FnJob {
                f,
                reply,
                durable: false,
            }))
        })
    }

    fn route(&self, scope: Scope, case: &CaseRef, actor: Actor, event: CaseEvent, note: String) -> Result<Written> {
        let cmd = Routing {
            scope,
            case: case.clone(),
            actor,
            event,
            note,
            at: None,
        };
        self.run_job(move |t, ctx, now| route(t, ctx, cmd, now))
    }

    /// Transfers a misfiled case to another category and, if given,
    /// marketplace (support only, any non-final status). The thread records
    /// it with the agent and `reason` (required); its queue position, views
    /// and search document follow. A closed or merged case refuses it with
    /// [`StoreError::Transition`] (`Final`, event `transfer`).
    pub fn transfer(
        &self,
        case: &CaseRef,
        agent: UserId,
        category: Category,
        marketplace: Option<Marketplace>,
        reason: impl Into<String>,
    ) -> Result<Written> {
        self.route(
            Scope::AllTenants,
            case,
            Actor::Support(agent),
            CaseEvent::Transfer { category, marketplace },
            reason.into(),
        )
    }

    /// Assigns (or reassigns) a case to support agent `to`, by `agent`
    /// (support only, any non-final status; the status stays). The case is
    /// then in `to`'s support-side *My cases*.
    pub fn assign(&self, case: &CaseRef, agent: UserId, to: UserId, note: impl Into<String>) -> Result<Written> {
        self.route(
            Scope::AllTenants,
            case,
            Actor::Support(agent),
            CaseEvent::Assign { to },
            note.into(),
        )
    }

    /// Releases a case back to the queue: no agent is assigned any more
    /// (support only, any non-final status; the status stays).
    pub fn release(&self, case: &CaseRef, agent: UserId, note: impl Into<String>) -> Result<Written> {
        self.route(
            Scope::AllTenants,
            case,
            Actor::Support(agent),
            CaseEvent::Release,
            note.into(),
        )
    }

    /// Hands a case to a colleague: `by`, a user of `tenant`, assigns it to
    /// `to`, another user of the tenant (`None` takes a hand-over back).
    /// The case is then in `to`'s *My cases* on the seller side, besides
    /// its creator's. Any non-final status; the status stays. The store
    /// keeps no list of a tenant's users, so any valid user id is accepted.
    pub fn hand_over(
        &self,
        tenant: &TenantId,
        case: &CaseRef,
        by: UserId,
        to: Option<UserId>,
        note: impl Into<String>,
    ) -> Result<Written> {
        let event = match to {
            Some(to) => CaseEvent::Assign { to },
            None => CaseEvent::Release,
        };
        self.route(
            Scope::Tenant(tenant.clone()),
            case,
            Actor::Seller(by),
            event,
            note.into(),
        )
    }

    /// Marks a case complex or not (support only, any non-final status):
    /// recorded in the thread with the agent; the queue position follows
    /// (complex cases have their own first-response target). A final case
    /// refuses it with [`StoreError::Transition`] (`Final`, event
    /// `set_complex`).
    pub fn set_complex(&self, case: &CaseRef, agent: UserId, complex: bool) -> Result<Written> {
        self.route(
            Scope::AllTenants,
            case,
            Actor::Support(agent),
            CaseEvent::SetComplex { complex },
            String::new(),
        )
    }

    /// Sets a tenant's performance tier. Its non-final cases take the new
    /// tier at once: their queue positions are re-keyed in the tier
    /// change's transaction, in batches of [`crate::Options::rekey_batch`] for a
    /// large tenant (each its own transaction; a re-key a crash interrupts
    /// finishes at the next open). Returns when every case is re-keyed.
    pub fn set_tenant_tier(&self, tenant: &TenantId, tier: PerformanceTier) -> Result<()> {
        let name = tenant.clone();
        let mut done = self.run_job(move |t, ctx, _| set_tier(t, ctx, &name, tier))?;
        while !done {
            let name = tenant.clone();
            done = self.run_job(move |t, ctx, _| rekey_step(t, ctx, &name))?;
        }
        Ok(())
    }

    /// Finishes every re-key a crash interrupted (called by open).
    pub(crate) fn finish_rekeys(&self) -> Result<()> {
        for tenant in unfinished_rekeys(self)? {
            loop {
                let name = tenant.clone();
                if self.run_job(move |t, ctx, _| rekey_step(t, ctx, &name))? {
                    break;
                }
            }
        }
        Ok(())
    }
}
