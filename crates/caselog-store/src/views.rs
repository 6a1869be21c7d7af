//! The view and queue entries of a case, written as a difference, and the
//! per-scope counts the views' totals are read from.
//!
//! A case's entries are a function of the case ([`entries`]); a write
//! computes them for the stored and the new version and touches only the
//! keys that differ: a key whose bytes stay is neither removed nor
//! re-inserted, a value is rewritten only when its bytes change. The
//! values carry nothing a common write changes without also moving the
//! key (`by_created`'s value has no update time, see [`created_value`]),
//! so a reply touches only the two time-keyed tables (`by_updated`,
//! `by_status`) in its two scopes.
//!
//! [`tables::VIEW_COUNTS`] holds, per scope, the number of cases, of cases
//! per status, of deadline entries and of *My cases* entries per user,
//! changed in the same transaction as the entries they count, so a view's
//! total is a point read instead of a scan; [`tables::VIEW_BUCKETS`]
//! holds the same keys counted per time bucket (`buckets.rs`), so a
//! numbered page seeks to its bucket.

use redb::ReadableTable;

use crate::buckets::{self, Series};
use crate::error::{st, Result, StoreError};
use crate::model::Case;
use crate::options::Options;
use crate::records::{category_from_byte, encode_queue_value, marketplace_bytes, status_from_byte, ViewSummary};
use crate::tables::{order_bits, ALL_SCOPE};
use crate::write::{queue_key, Table, Tables};

/// Length of a `by_created` value written by this release: status,
/// category, marketplace. (Schema 1 wrote a 20-byte [`ViewSummary`],
/// which still reads.)
pub(crate) const CREATED_VALUE_LEN: usize = 4;

/// `by_created`'s value: what a created-ordered scan filters on, without
/// the update time (which changes at every write while the key does not).
pub(crate) fn created_value(case: &Case) -> [u8; CREATED_VALUE_LEN] {
    let m = marketplace_bytes(&case.marketplace);
    [case.state.status.index() as u8, case.category.index() as u8, m[0], m[1]]
}

/// A `by_created` entry read back: the summary, whose `updated_at` is
/// known only for a schema-1 value (`None` otherwise; it is set to the
/// creation time in the summary).
pub(crate) fn decode_created(value: &[u8], created_bits: u64) -> Result<(ViewSummary, bool)> {
    if value.len() != CREATED_VALUE_LEN {
        return ViewSummary::decode(value, "by_created").map(|s| (s, true));
    }
    let corrupt = |detail: &str| StoreError::Corrupt {
        table: "by_created",
        key: "(view entry)".into(),
        detail: detail.into(),
    };
    let status = value
        .first()
        .copied()
        .and_then(status_from_byte)
        .ok_or_else(|| corrupt("bad status byte"))?;
    let category = value
        .get(1)
        .copied()
        .and_then(category_from_byte)
        .ok_or_else(|| corrupt("bad category byte"))?;
    let marketplace = [
        value.get(2).copied().unwrap_or(b'?'),
        value.get(3).copied().unwrap_or(b'?'),
    ];
    let created_at =
        caselog_core::Timestamp::from_millis(unorder_bits(created_bits)).map_err(|_| corrupt("bad time"))?;
    Ok((
        ViewSummary {
            status,
            category,
            marketplace,
            created_at,
            updated_at: created_at,
        },
        false,
    ))
}

/// The inverse of [`order_bits`].
pub(crate) fn unorder_bits(bits: u64) -> i64 {
    (bits ^ (1u64 << 63)) as i64
}

/// Counter names in [`crate::tables::VIEW_COUNTS`] (second key part).
pub(crate) mod counter {
    use caselog_core::Status;

    /// Cases in the scope.
    pub const CASES: &str = "cases";
    /// Deadline entries (*Cases needing attention*).
    pub const ATTENTION: &str = "attention";

    /// Cases of one status.
    pub fn status(s: Status) -> String {
        format!("status:{}", s.as_str())
    }

    /// *My cases* entries of one user.
    pub fn user(u: &str) -> String {
        format!("user:{u}")
    }
}

type Scoped3<'c> = (&'c str, u64, u64);

/// Every view and queue entry of one version of a case, and the counters
/// it adds to.
#[derive(Default)]
pub(crate) struct Entries<'c> {
    pub by_updated: Vec<(Scoped3<'c>, [u8; crate::records::SUMMARY_LEN])>,
    pub by_created: Vec<(Scoped3<'c>, [u8; CREATED_VALUE_LEN])>,
    pub by_status: Vec<(&'c str, u8, u64, u64)>,
    pub by_user: Vec<(&'c str, &'c str, u64, u64)>,
    pub attention: Vec<Scoped3<'c>>,
    pub queue: Option<([u8; 25], [u8; 3])>,
    pub counts: Vec<(&'c str, String)>,
    pub buckets: Vec<crate::buckets::Item<'c>>,
}

/// The users under whom *My cases* lists a case in `scope`: on the seller
/// side (the tenant's scope) its creator and the colleague it is handed
/// to; on the support side (`*`) the agent it is assigned to.
fn users_of<'c>(case: &'c Case, scope: &str) -> Vec<&'c str> {
    if scope == ALL_SCOPE {
        case.assignee.iter().map(|u| u.as_str()).collect()
    } else {
        let mut users = vec![case.created_by.as_str()];
        users.extend(
            case.handler
                .iter()
                .filter(|h| **h != case.created_by)
                .map(|u| u.as_str()),
        );
        users
    }
}

/// The entries of `case` (under its tenant and under `*`).
pub(crate) fn entries<'c>(opts: &Options, case: &'c Case) -> Entries<'c> {
    let s = ViewSummary::of(case);
    let summary = s.encode();
    let created_v = created_value(case);
    let (id, created, updated) = (
        case.id.0,
        order_bits(s.created_at.as_millis()),
        order_bits(s.updated_at.as_millis()),
    );
    let slot = buckets::status_slot(s.status);
    let mut e = Entries::default();
    for scope in [case.tenant.as_str(), ALL_SCOPE] {
        e.by_updated.push(((scope, updated, id), summary));
        e.by_created.push(((scope, created, id), created_v));
        e.by_status.push((scope, s.status.index() as u8, updated, id));
        e.counts.push((scope, counter::CASES.to_owned()));
        e.counts.push((scope, counter::status(s.status)));
        e.buckets
            .push((scope, Series::Updated, buckets::bucket(scope, updated), slot));
        e.buckets
            .push((scope, Series::Created, buckets::bucket(scope, created), slot));
        for user in users_of(case, scope) {
            e.by_user.push((scope, user, created, id));
            e.counts.push((scope, counter::user(user)));
            e.buckets
                .push((scope, Series::User(user), buckets::bucket(scope, created), 0));
        }
        if let (caselog_core::Status::NeedsAttention, Some(d)) = (s.status, case.state.reply_deadline) {
            let deadline = order_bits(d.as_millis());
            e.attention.push((scope, deadline, id));
            e.counts.push((scope, counter::ATTENTION.to_owned()));
            e.buckets
                .push((scope, Series::Attention, buckets::bucket(scope, deadline), 0));
        }
    }
    if case.state.status.waits_on_support() {
        e.queue = Some((queue_key(opts, case), encode_queue_value(case)));
    }
    e
}

/// Moves a case's entries from `old` (the stored version, `None` for a
/// new case) to `new` (`None` when the case goes), touching only the keys
/// and values that differ. Every entry inserted or removed is counted in
/// `t.written`; the counters' changes are gathered in `t.count_deltas`
/// and written once per batch ([`flush_counts`]).
pub(crate) fn update(t: &mut Tables<'_>, opts: &Options, old: Option<&Case>, new: Option<&Case>) -> Result<()> {
    if let Some(c) = old.or(new) {
        if crate::import_views::is_pending(t, c.id.0)? {
            // The import's build writes them from the case as it then is.
            return Ok(());
        }
    }
    let o = old.map(|c| entries(opts, c)).unwrap_or_default();
    let n = new.map(|c| entries(opts, c)).unwrap_or_default();
    let w = st("writing view entries");
    let mut written = 0u64;
    // Valued tables: remove keys that go, write keys that come or whose value changed.
    macro_rules! valued {
        ($table:ident) => {
            for (k, _) in &o.$table {
                if !n.$table.iter().any(|(nk, _)| nk == k) {
                    t.$table.remove(*k).map_err(&w)?;
                    written += 1;
                }
            }
            for (k, v) in &n.$table {
                if !o.$table.iter().any(|(ok, ov)| ok == k && ov == v) {
                    t.$table.insert(*k, v.as_slice()).map_err(&w)?;
                    written += 1;
                }
            }
        };
    }
    macro_rules! keyed {
        ($table:ident) => {
            for k in &o.$table {
                if !n.$table.contains(k) {
                    t.$table.remove(*k).map_err(&w)?;
                    written += 1;
                }
            }
            for k in &n.$table {
                if !o.$table.contains(k) {
                    t.$table.insert(*k, ()).map_err(&w)?;
                    written += 1;
                }
            }
        };
    }
    valued!(by_updated);
    valued!(by_created);
    keyed!(by_status);
    keyed!(by_user);
    keyed!(attention);
    if let Some((k, _)) = &o.queue {
        if n.queue.as_ref().is_none_or(|(nk, _)| nk != k) {
            t.queue.remove(k).map_err(&w)?;
            written += 1;
        }
    }
    if let Some((k, v)) = &n.queue {
        if o.queue.as_ref() != Some(&(*k, *v)) {
            t.queue.insert(k, v.as_slice()).map_err(&w)?;
            written += 1;
        }
    }
    for (scope, name) in &o.counts {
        if !n.counts.iter().any(|(s, m)| s == scope && m == name) {
            *t.count_deltas.entry(((*scope).to_owned(), name.clone())).or_default() -= 1;
        }
    }
    for (scope, name) in &n.counts {
        if !o.counts.iter().any(|(s, m)| s == scope && m == name) {
            *t.count_deltas.entry(((*scope).to_owned(), name.clone())).or_default() += 1;
        }
    }
    // A key that stays in its bucket (with its status) changes no count.
    for item in &o.buckets {
        if !n.buckets.contains(item) {
            buckets::add_delta(&mut t.bucket_deltas, item, -1);
        }
    }
    for item in &n.buckets {
        if !o.buckets.contains(item) {
            buckets::add_delta(&mut t.bucket_deltas, item, 1);
        }
    }
    t.written += written;
    Ok(())
}

/// Writes the batch's count changes, totals and buckets (each counter
/// once; one whose changes cancel out is not written).
pub(crate) fn flush_counts(t: &mut Tables<'_>) -> Result<()> {
    for ((scope, name), delta) in std::mem::take(&mut t.count_deltas) {
        if delta != 0 {
            add_count(&mut t.view_counts, &scope, &name, delta)?;
            t.written += 1;
        }
    }
    let deltas = std::mem::take(&mut t.bucket_deltas);
    t.written += buckets::flush(&mut t.view_buckets, deltas)?;
    Ok(())
}

/// Adds `delta` to one counter; a counter that reaches 0 is removed, so
/// the table holds only what exists.
fn add_count(
    counts: &mut Table<'_, (&'static str, &'static str), u64>,
    scope: &str,
    name: &str,
    delta: i64,
) -> Result<()> {
    let w = st("writing view counts");
    let have = counts.get((scope, name)).map_err(&w)?.map(|v| v.value()).unwrap_or(0);
    let next = have.checked_add_signed(delta).ok_or_else(|| StoreError::Corrupt {
        table: "view_counts",
        key: format!("({scope}, {name})"),
        detail: format!("count {have} cannot change by {delta}"),
    })?;
    if next == 0 {
        counts.remove((scope, name)).map_err(&w)?;
    } else {
        counts.insert((scope, name), next).map_err(&w)?;
    }
    Ok(())
}

/// A counter's value (0 when absent).
pub(crate) fn read_count(
    counts: &impl ReadableTable<(&'static str, &'static str), u64>,
    scope: &str,
    name: &str,
) -> Result<u64> {
    Ok(counts
        .get((scope, name))
        .map_err(st("reading view counts"))?
        .map(|v| v.value())
        .unwrap_or(0))
}
