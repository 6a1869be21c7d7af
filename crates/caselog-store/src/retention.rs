//! Retention: which final cases are erased after how long, and the pass
//! that applies it.
//!
//! The policy is data in [`crate::Options::retention`]. [`Store::run_retention`]
//! is the pass: a host (or the store's timer) calls it with the current
//! time; with `dry_run` it only reports what it would erase.

use std::collections::BTreeMap;

use caselog_core::{CaseId, CaseNumber, Span, Status, TenantId, Timestamp};

use crate::error::st;
use crate::error::Result;
use crate::store::Store;
use crate::stored::{load_case, open};
use crate::tables::{self, order_bits, ALL_SCOPE};

/// Cases erased in one transaction by [`Store::run_retention`].
pub(crate) const ERASE_CHUNK: usize = 256;

/// Which final (`closed` or `merged`) cases are erased, by how long ago they
/// were last updated (for a final case: closed or merged). Cases that are
/// not final are never erased by retention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Erase final cases older than this; `None` keeps them. Default: `None`.
    pub final_older_than: Option<Span>,
    /// Per-tenant overrides: `Some(span)` erases that tenant's final cases
    /// older than `span`, `None` keeps them whatever the default says.
    pub per_tenant: BTreeMap<TenantId, Option<Span>>,
}

impl RetentionPolicy {
    /// How long a final case of `tenant` is kept; `None` forever.
    pub fn keep_for(&self, tenant: &TenantId) -> Option<Span> {
        match self.per_tenant.get(tenant) {
            Some(rule) => *rule,
            None => self.final_older_than,
        }
    }

    /// Whether this policy can erase anything at all.
    pub fn is_empty(&self) -> bool {
        self.final_older_than.is_none() && self.per_tenant.values().all(Option::is_none)
    }
}

/// What a retention pass found (and, unless a dry run, erased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    /// The time the policy was applied as of.
    pub now: Timestamp,
    /// Whether nothing was erased (report only).
    pub dry_run: bool,
    /// The cases past their retention: (id, number, tenant, last update).
    pub due: Vec<(CaseId, CaseNumber, TenantId, Timestamp)>,
    /// How many were erased (0 in a dry run).
    pub erased: usize,
}

impl Store {
    /// Applies [`crate::Options::retention`] as of `now`: erases every final
    /// case past its retention (see [`Store::erase`]), or with `dry_run`
    /// only reports them. A case is due when `now - updated > keep`.
    /// Erased bytes leave the files at the next [`Store::scrub`].
    pub fn run_retention(&self, now: Timestamp, dry_run: bool) -> Result<RetentionReport> {
        let policy = self.opts.retention.clone();
        let mut report = RetentionReport {
            now,
            dry_run,
            due: Vec::new(),
            erased: 0,
        };
        if policy.is_empty() {
            return Ok(report);
        }
        report.due = self
            .damage
            .guard("finding cases past retention", || due_cases(&*self.db, &policy, now))?;
        if dry_run {
            return Ok(report);
        }
        for chunk in report.due.chunks(ERASE_CHUNK) {
            let erased = self.erase_many(chunk.iter().map(|d| d.0).collect())?;
            report.erased += erased.iter().flatten().count();
        }
        Ok(report)
    }
}

/// The final cases past `policy` as of `now`, oldest id first: (id, number,
/// tenant, last update). Reads one snapshot; used by
/// [`Store::run_retention`] and the timer thread.
pub(crate) fn due_cases(
    db: &crate::store::ReadDb,
    policy: &RetentionPolicy,
    now: Timestamp,
) -> Result<Vec<(CaseId, CaseNumber, TenantId, Timestamp)>> {
    if policy.is_empty() {
        return Ok(Vec::new());
    }
    // The newest a due case can be updated: now less the shortest keep span.
    let shortest = policy
        .per_tenant
        .values()
        .flatten()
        .chain(policy.final_older_than.iter())
        .map(|s| s.0)
        .min()
        .unwrap_or(0);
    let newest_due = now.saturating_sub(Span(shortest));
    {
        let txn = db.begin_read().map_err(st("finding cases past retention"))?;
        let by_status = open(&txn, tables::BY_STATUS)?;
        let cases = open(&txn, tables::CASES)?;
        let mut due = Vec::new();
        for status in [Status::Closed, Status::Merged] {
            let s = status.index() as u8;
            let upto = order_bits(newest_due.as_millis());
            for item in by_status
                .range((ALL_SCOPE, s, 0, 0)..=(ALL_SCOPE, s, upto, u64::MAX))
                .map_err(st("finding cases past retention"))?
            {
                let (k, _) = item.map_err(st("finding cases past retention"))?;
                let (_, _, _, id) = k.value();
                let Some(case) = load_case(&cases, id)? else {
                    continue;
                };
                let Some(keep) = policy.keep_for(&case.tenant) else {
                    continue;
                };
                let updated = case.state.updated_at;
                if now.since(updated) > keep {
                    due.push((case.id, case.number, case.tenant, updated));
                }
            }
        }
        due.sort_by_key(|d| d.0);
        Ok(due)
    }
}
