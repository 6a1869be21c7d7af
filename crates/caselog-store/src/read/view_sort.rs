//! Views sorted by status, category or case number. The view tables are
//! keyed by time, so these orders are made by collecting the view's
//! matching entries and sorting them: one pass over the view (plus, for
//! *All cases* by number, one pass over the `numbers` keys), memory in
//! the number of matches.
//!
//! Orders (the same as the search's [`crate::SearchSort`]): status in
//! lifecycle order, category by identifier, each then by last update and
//! case id; case numbers shorter first, then by bytes. `descending`
//! reverses the whole order. A cursor walk resumes after the case its
//! cursor names, wherever that case now sits in the order (a cursor whose
//! case has left the view is `CursorError::Stale`).

use std::collections::HashMap;

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable};

use super::{open, st, view_binding, ViewKind, ViewPage, ViewQuery, ViewSort};
use crate::error::{Result, StoreError};
use crate::model::{Case, Scope};
use crate::paging::{Cursor, CursorError};
use crate::records::ViewSummary;
use crate::stored::load_case;
use crate::tables;

/// Sort key of one entry: the field's rank (or the number), update time, id.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Lead {
    Rank(u8),
    Number(usize, String),
}

fn rank(sort: ViewSort, s: &ViewSummary) -> u8 {
    match sort {
        ViewSort::Status => s.status.index() as u8,
        ViewSort::Category => caselog_core::Category::ALL
            .iter()
            .filter(|o| o.as_str() < s.category.as_str())
            .count() as u8,
        _ => 0,
    }
}

/// A view whose `q.sort` is status, category or number: the page `q.page`,
/// or, in a cursor walk, the page after the case `after` (an id).
pub(super) fn view_by_field(
    txn: &ReadTransaction,
    cases: &ReadOnlyTable<u64, &'static [u8]>,
    scope: &Scope,
    q: &ViewQuery,
    after: Option<u64>,
) -> Result<ViewPage> {
    let scope_key = scope.key();
    // (lead, updated, id) of every matching case.
    let mut keyed: Vec<(Lead, i64, u64)> = Vec::new();
    match &q.kind {
        ViewKind::All => {
            let (lo, hi) = q.filter.updated.key_bounds();
            let table = open(txn, tables::BY_UPDATED)?;
            let mut matched: Vec<(u64, ViewSummary)> = Vec::new();
            for item in table
                .range((scope_key, lo, 0)..=(scope_key, hi, u64::MAX))
                .map_err(st("scanning a view"))?
            {
                let (k, v) = item.map_err(st("scanning a view"))?;
                let summary = ViewSummary::decode(v.value(), "view")?;
                if q.filter.matches(&summary) {
                    matched.push((k.value().2, summary));
                }
            }
            if q.sort == ViewSort::Number {
                let updated: HashMap<u64, i64> =
                    matched.iter().map(|(id, s)| (*id, s.updated_at.as_millis())).collect();
                let numbers = open(txn, tables::NUMBERS)?;
                for item in numbers.iter().map_err(st("scanning case numbers"))? {
                    let (k, v) = item.map_err(st("scanning case numbers"))?;
                    let id = v.value();
                    if let Some(&at) = updated.get(&id) {
                        let n = k.value();
                        keyed.push((Lead::Number(n.len(), n.to_owned()), at, id));
                    }
                }
            } else {
                keyed.extend(
                    matched
                        .iter()
                        .map(|(id, s)| (Lead::Rank(rank(q.sort, s)), s.updated_at.as_millis(), *id)),
                );
            }
        }
        ViewKind::Mine(user) => {
            let t = open(txn, tables::BY_USER)?;
            for item in t
                .range((scope_key, user.as_str(), 0, 0)..=(scope_key, user.as_str(), u64::MAX, u64::MAX))
                .map_err(st("scanning a view"))?
            {
                let id = item.map_err(st("scanning a view"))?.0.value().3;
                push_case(cases, id, q, &mut keyed)?;
            }
        }
        ViewKind::NeedsAttention => {
            let t = open(txn, tables::ATTENTION)?;
            for item in t
                .range((scope_key, 0, 0)..=(scope_key, u64::MAX, u64::MAX))
                .map_err(st("scanning a view"))?
            {
                let id = item.map_err(st("scanning a view"))?.0.value().2;
                push_case(cases, id, q, &mut keyed)?;
            }
        }
    }
    // A case listed twice (creator and assignee in *Mine*) counts once.
    keyed.sort_by_key(|k| k.2);
    keyed.dedup_by_key(|k| k.2);
    keyed.sort();
    if q.descending {
        keyed.reverse();
    }
    let total = keyed.len() as u64;
    let skip = match after {
        Some(id) => match keyed.iter().position(|k| k.2 == id) {
            Some(at) => at + 1,
            None => return Err(StoreError::BadCursor(CursorError::Stale)),
        },
        None => (q.page.saturating_sub(1) as usize).saturating_mul(q.per_page as usize),
    };
    let mut out: Vec<Case> = Vec::with_capacity(q.per_page as usize);
    let page: Vec<u64> = keyed.iter().skip(skip).take(q.per_page as usize).map(|k| k.2).collect();
    let more = keyed.len() > skip + page.len();
    for id in page {
        if let Some(c) = load_case(cases, id)? {
            out.push(c);
        }
    }
    let next = match out.last() {
        Some(last) if more => Some(Cursor::encode(&view_binding(scope, q), (0, 0, last.id.0))),
        _ => None,
    };
    Ok(ViewPage {
        total,
        page: q.page,
        per_page: q.per_page,
        cases: out,
        next,
    })
}

fn push_case(
    cases: &ReadOnlyTable<u64, &'static [u8]>,
    id: u64,
    q: &ViewQuery,
    keyed: &mut Vec<(Lead, i64, u64)>,
) -> Result<()> {
    let Some(c) = load_case(cases, id)? else {
        return Ok(());
    };
    let summary = ViewSummary::of(&c);
    if !q.filter.matches(&summary) {
        return Ok(());
    }
    let lead = match q.sort {
        ViewSort::Number => Lead::Number(c.number.as_str().len(), c.number.as_str().to_owned()),
        _ => Lead::Rank(rank(q.sort, &summary)),
    };
    keyed.push((lead, c.state.updated_at.as_millis(), id));
    Ok(())
}

/// Whether `sort` is one of the orders made here.
pub(super) fn is_field_sort(sort: ViewSort) -> bool {
    matches!(sort, ViewSort::Status | ViewSort::Category | ViewSort::Number)
}
