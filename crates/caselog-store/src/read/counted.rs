//! View pages read as one range of exactly one page, with the total from
//! the maintained counts (`tables::VIEW_COUNTS`, see `views.rs`) instead of
//! a scan of the whole view.
//!
//! Taken when the view's filter is at most a set of statuses (anything
//! else is counted by the scan in `read.rs`) and the order is by time (the
//! field sorts are `view_sort.rs`'s): *All* by update (one `by_updated`
//! range, or the `by_status` ranges of the chosen statuses merged), *All*
//! by creation (`by_created`, statuses checked in its values), *Mine*
//! (`by_user`; by update, the scope's `by_updated` walked for the user's
//! cases, each tested with a point read of `by_user` or against the set of
//! them, while that costs less than loading them all) and *Needing
//! attention* (`attention`). A numbered page seeks to the time bucket that
//! holds its first position, found from the bucket counts
//! (`tables::VIEW_BUCKETS`, `buckets.rs`), and skips the keys before it in
//! that bucket (no case is loaded but the page's); a cursor walk seeks past
//! the cursor's key. Pages, totals and orders are exactly the scan's.

use std::cell::Cell;
use std::collections::HashSet;
use std::ops::Bound;

use redb::{ReadOnlyTable, ReadTransaction};

use super::{open, st, view_binding, ViewKey, ViewKind, ViewPage, ViewQuery, ViewSort};
use crate::buckets::{self, Series};
use crate::error::{Result, StoreError};
use crate::model::{Case, Scope};
use crate::paging::Cursor;
use crate::records::ViewSummary;
use crate::stored::load_case;
use crate::tables;
use crate::views::{counter, decode_created, read_count};

/// A walk over one view's keys, in the page's order.
type Keys<'a> = Box<dyn Iterator<Item = Result<ViewKey>> + 'a>;

/// How many `by_updated` keys a *Mine* walk may visit per case of the
/// user before loading and sorting the user's cases is the cheaper way (a
/// key is a few dozen bytes in order; a case is a random point read and a
/// decode).
const MINE_WALK_PER_CASE: usize = 8;

/// How many of the user's cases a *Mine* walk that tests each key against
/// the user's keys may visit a key for: a test (a point read) costs about
/// four times what reading one of the user's cases into the set does (a
/// range scan), measured at 1M cases (BENCHMARKS.md).
const MINE_PROBE_PER_CASE: u64 = 4;

/// The page, or `None` when this view is not one this module answers (the
/// caller scans).
pub(super) fn view(
    txn: &ReadTransaction,
    cases: &ReadOnlyTable<u64, &'static [u8]>,
    scope: &Scope,
    q: &ViewQuery,
    after: Option<ViewKey>,
) -> Result<Option<ViewPage>> {
    let f = &q.filter;
    let statuses_only = f.categories.is_empty()
        && f.marketplaces.is_empty()
        && f.created == Default::default()
        && f.updated == Default::default();
    if !statuses_only || !matches!(q.sort, ViewSort::Updated | ViewSort::Created) {
        return Ok(None);
    }
    let counts = match txn.open_table(tables::VIEW_COUNTS) {
        Ok(t) => t,
        // A schema-1 store opened read-only: no counts, the scan answers.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(StoreError::storage("opening the view counts", e)),
    };
    let s = scope.key();
    let mut statuses = f.statuses.clone();
    statuses.sort();
    statuses.dedup();
    let skip = match after {
        Some(_) => 0,
        None => (u64::from(q.page.saturating_sub(1)) * u64::from(q.per_page)) as usize,
    };
    let slots: Vec<u8> = statuses.iter().map(|st| buckets::status_slot(*st)).collect();
    // Where a numbered page starts: after the cursor's key, or at its
    // bucket with the keys before it in that bucket to skip.
    // The counts are opened only for a page that skips (page 1 and cursor
    // walks do not).
    let start = |series: Series<'_>, total: u64, descending: bool| -> Result<Start> {
        if after.is_some() || skip == 0 {
            return Ok(Start::At(after, 0));
        }
        match txn.open_table(tables::VIEW_BUCKETS) {
            Ok(table) => seek(&table, s, series, &slots, total, skip, descending),
            // A schema-2 store opened read-only: the page skips from the start.
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(Start::At(None, skip)),
            Err(e) => Err(StoreError::storage("opening the view bucket counts", e)),
        }
    };
    let (total, ids) = match &q.kind {
        ViewKind::All => {
            let total = if statuses.is_empty() {
                read_count(&counts, s, counter::CASES)?
            } else {
                let mut n = 0;
                for st in &statuses {
                    n += read_count(&counts, s, &counter::status(*st))?;
                }
                n
            };
            let series = match q.sort {
                ViewSort::Updated => Series::Updated,
                _ => Series::Created,
            };
            let Start::At(from, skip) = start(series, total, q.descending)? else {
                return Ok(Some(page(scope, q, total, Vec::new(), None)));
            };
            let by_updated;
            let by_status;
            let by_created;
            let keys: Keys<'_> = match (q.sort, statuses.is_empty()) {
                (ViewSort::Updated, true) => {
                    by_updated = open(txn, tables::BY_UPDATED)?;
                    time_keys(&by_updated, s, from, q.descending, |_| Ok(true))?
                }
                (ViewSort::Updated, false) => {
                    by_status = open(txn, tables::BY_STATUS)?;
                    let mut walks = Vec::new();
                    for st in &statuses {
                        walks.push(status_keys(&by_status, s, st.index() as u8, from, q.descending)?);
                    }
                    merged(walks, q.descending)
                }
                _ => {
                    by_created = open(txn, tables::BY_CREATED)?;
                    let wanted = statuses.clone();
                    time_keys(&by_created, s, from, q.descending, move |(v, created, _)| {
                        Ok(wanted.is_empty() || wanted.contains(&decode_created(v, created)?.0.status))
                    })?
                }
            };
            let ids = page_of(keys, skip, q.per_page)?;
            (total, ids)
        }
        ViewKind::NeedsAttention => {
            if !statuses.is_empty() {
                return Ok(None);
            }
            let total = read_count(&counts, s, counter::ATTENTION)?;
            // By deadline, soonest first, whatever the order asked.
            let Start::At(from, skip) = start(Series::Attention, total, false)? else {
                return Ok(Some(page(scope, q, total, Vec::new(), None)));
            };
            let attention = open(txn, tables::ATTENTION)?;
            let ids = page_of(time_keys(&attention, s, from, false, |_| Ok(true))?, skip, q.per_page)?;
            (total, ids)
        }
        ViewKind::Mine(user) => {
            if !statuses.is_empty() {
                return Ok(None);
            }
            let total = read_count(&counts, s, &counter::user(user.as_str()))?;
            let by_user = open(txn, tables::BY_USER)?;
            let lo = (s, user.as_str(), 0u64, 0u64);
            let hi = (s, user.as_str(), u64::MAX, u64::MAX);
            if q.sort == ViewSort::Created {
                let Start::At(from, skip) = start(Series::User(user.as_str()), total, q.descending)? else {
                    return Ok(Some(page(scope, q, total, Vec::new(), None)));
                };
                let range = match (from, q.descending) {
                    (None, _) => by_user.range(lo..=hi),
                    (Some((t, id)), true) => by_user.range(lo..(s, user.as_str(), t, id)),
                    (Some((t, id)), false) => {
                        by_user.range((Bound::Excluded((s, user.as_str(), t, id)), Bound::Included(hi)))
                    }
                }
                .map_err(st("scanning a view"))?;
                let keys = range.map(|item| {
                    let (k, _) = item.map_err(st("scanning a view"))?;
                    let (_, _, t, id) = k.value();
                    Ok((t, id))
                });
                let keys: Keys<'_> = if q.descending {
                    Box::new(keys.rev())
                } else {
                    Box::new(keys)
                };
                let ids = page_of(keys, skip, q.per_page)?;
                (total, ids)
            } else {
                // A user holding a large share of the scope's cases: each
                // by-update key's case is tested against the user's keys
                // (its creation time is in the key's summary) instead of
                // first reading every case of the user into a set, when the
                // walk should visit fewer keys than a quarter of theirs.
                let scope_total = read_count(&counts, s, counter::CASES)?;
                let want = skip.saturating_add(q.per_page as usize).saturating_add(1) as u64;
                let probed = if want.saturating_mul(scope_total).saturating_mul(MINE_PROBE_PER_CASE)
                    <= total.saturating_mul(total)
                {
                    let user = user.as_str();
                    let member = |summary: &[u8], id: u64| -> Result<bool> {
                        let created = ViewSummary::decode(summary, "by_updated")?.created_at.as_millis();
                        Ok(by_user
                            .get((s, user, tables::order_bits(created), id))
                            .map_err(st("scanning a view"))?
                            .is_some())
                    };
                    let budget = usize::try_from(total / MINE_PROBE_PER_CASE)
                        .unwrap_or(usize::MAX)
                        .max(64);
                    mine_by_update(txn, s, member, budget, after, q, skip)?
                } else {
                    None
                };
                match probed {
                    Some(ids) => (total, ids),
                    None => {
                        let mut mine = HashSet::new();
                        for item in by_user.range(lo..=hi).map_err(st("scanning a view"))? {
                            mine.insert(item.map_err(st("scanning a view"))?.0.value().3);
                        }
                        if mine.is_empty() {
                            (total, Vec::new())
                        } else {
                            let budget = mine.len().saturating_mul(MINE_WALK_PER_CASE).max(64);
                            match mine_by_update(txn, s, |_, id| Ok(mine.contains(&id)), budget, after, q, skip)? {
                                Some(ids) => (total, ids),
                                // The user's cases are too sparse in the scope: the scan loads them.
                                None => return Ok(None),
                            }
                        }
                    }
                }
            }
        }
    };
    let mut out = Vec::with_capacity(ids.len());
    let more = ids.len() > q.per_page as usize;
    let mut last = None;
    for (key, id) in ids.into_iter().take(q.per_page as usize) {
        if let Some(c) = load_case(cases, id)? {
            out.push(c);
            last = Some(key);
        }
    }
    Ok(Some(page(scope, q, total, out, last.filter(|_| more))))
}

/// Where a numbered page's keys start.
enum Start {
    /// After this key (from the view's first key when `None`), with this
    /// many keys to skip.
    At(Option<ViewKey>, usize),
    /// The page is past the view's end.
    Past,
}

/// The start of the page whose first key is at position `skip` of a view
/// of `total` keys in `descending` order (statuses `slots`, or every
/// status when empty): the bucket counts of `series` walked from the
/// nearer end of the view until the bucket holding that position, then the
/// key before that bucket's first (in the page's order) and the position
/// within the bucket.
fn seek(
    table: &ReadOnlyTable<(&'static str, &'static str, u64), &'static [u8]>,
    s: &str,
    series: Series<'_>,
    slots: &[u8],
    total: u64,
    skip: usize,
    descending: bool,
) -> Result<Start> {
    let skip = skip as u64;
    if skip == 0 {
        return Ok(Start::At(None, 0));
    }
    if skip >= total {
        return Ok(Start::Past);
    }
    let name = series.name();
    let range = table
        .range((s, name.as_str(), 0u64)..=(s, name.as_str(), u64::MAX))
        .map_err(st("reading view bucket counts"))?;
    // The nearer end: from the page order's first bucket while the
    // position is in the first half, from its last otherwise.
    let from_first = skip <= total / 2;
    let walk: Box<dyn Iterator<Item = _>> = if descending == from_first {
        Box::new(range.rev())
    } else {
        Box::new(range)
    };
    let inconsistent = |detail: String| StoreError::Corrupt {
        table: "view_buckets",
        key: format!("({s}, {name})"),
        detail,
    };
    // Keys of the buckets passed, from the end the walk started at.
    let mut passed = 0u64;
    for item in walk {
        let (k, v) = item.map_err(st("reading view bucket counts"))?;
        let bucket = k.value().2;
        let counts = buckets::decode(v.value())?;
        let n: u64 = if slots.is_empty() {
            counts.iter().sum()
        } else {
            slots.iter().filter_map(|i| counts.get(usize::from(*i))).sum()
        };
        if n == 0 {
            continue;
        }
        // The position of the bucket's first key in the page's order.
        let first = if from_first {
            passed
        } else {
            total
                .checked_sub(passed + n)
                .ok_or_else(|| inconsistent(format!("the buckets hold more than the total {total}")))?
        };
        passed += n;
        if first <= skip && skip < first + n {
            return Ok(Start::At(before_bucket(s, bucket, descending), (skip - first) as usize));
        }
    }
    Err(inconsistent(format!("the buckets hold fewer than the total {total}")))
}

/// The cursor-like key just before a bucket's first key in the page's
/// order (`None`: the view's first key).
fn before_bucket(s: &str, bucket: u64, descending: bool) -> Option<ViewKey> {
    if descending {
        // Keys below the next bucket's start. No stored time reaches the
        // end of the key space, so the next bucket always has a start.
        buckets::bucket_start(s, bucket.checked_add(1)?).map(|t| (t, 0))
    } else {
        match buckets::bucket_start(s, bucket)? {
            0 => None,
            t => Some((t - 1, u64::MAX)),
        }
    }
}

/// The keys of a page: `skip` keys passed over, then at most `per_page`
/// and one more (which tells that another page follows), with their ids.
fn page_of(keys: Keys<'_>, skip: usize, per_page: u32) -> Result<Vec<(ViewKey, u64)>> {
    let mut out = Vec::with_capacity(per_page as usize + 1);
    for key in keys.skip(skip).take(per_page as usize + 1) {
        let key = key?;
        out.push((key, key.1));
    }
    Ok(out)
}

/// *Mine* by update time: the scope's `by_updated` walked, keeping the
/// user's cases (`member`, given a key's summary and case id), until the
/// page and one more are found; `None` when that would visit more than
/// `budget` keys.
fn mine_by_update(
    txn: &ReadTransaction,
    s: &str,
    member: impl Fn(&[u8], u64) -> Result<bool>,
    budget: usize,
    after: Option<ViewKey>,
    q: &ViewQuery,
    skip: usize,
) -> Result<Option<Vec<(ViewKey, u64)>>> {
    let by_updated = open(txn, tables::BY_UPDATED)?;
    let want = skip + q.per_page as usize + 1;
    let visited = Cell::new(0usize);
    let keys = time_keys(&by_updated, s, after, q.descending, |(summary, _, id)| {
        visited.set(visited.get() + 1);
        // Past the budget the key is handed out, so that the loop below
        // sees it and stops.
        if visited.get() > budget {
            return Ok(true);
        }
        member(summary, id)
    })?;
    let mut found = Vec::new();
    let mut skipped = 0;
    for key in keys {
        if visited.get() > budget {
            return Ok(None);
        }
        let key = key?;
        if skipped < skip {
            skipped += 1;
            continue;
        }
        found.push((key, key.1));
        if skipped + found.len() >= want {
            break;
        }
    }
    Ok(Some(found))
}

/// The keys of a (scope, time, id) table in the scope, in the page's
/// order, after the cursor's key, whose values pass `keep` (given the
/// value, the key's time and its case id).
fn time_keys<'a, V: redb::Value + 'static>(
    table: &'a ReadOnlyTable<(&'static str, u64, u64), V>,
    s: &str,
    after: Option<ViewKey>,
    descending: bool,
    keep: impl Fn((V::SelfType<'_>, u64, u64)) -> Result<bool> + 'a,
) -> Result<Keys<'a>> {
    let lo = (s, 0u64, 0u64);
    let hi = (s, u64::MAX, u64::MAX);
    let range = match (after, descending) {
        (None, _) => table.range(lo..=hi),
        (Some((t, id)), true) => table.range(lo..(s, t, id)),
        (Some((t, id)), false) => table.range((Bound::Excluded((s, t, id)), Bound::Included(hi))),
    }
    .map_err(st("scanning a view"))?;
    let visit = move |item: std::result::Result<
        (redb::AccessGuard<'a, _>, redb::AccessGuard<'a, V>),
        redb::StorageError,
    >|
          -> Option<Result<ViewKey>> {
        let (k, v) = match item.map_err(st("scanning a view")) {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e)),
        };
        let (_, t, id): (&str, u64, u64) = k.value();
        match keep((v.value(), t, id)) {
            Ok(true) => Some(Ok((t, id))),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    };
    Ok(if descending {
        Box::new(range.rev().filter_map(visit))
    } else {
        Box::new(range.filter_map(visit))
    })
}

/// The (update time, id) keys of one status in `by_status`, in the page's
/// order, after the cursor's key.
fn status_keys<'a>(
    table: &'a ReadOnlyTable<(&'static str, u8, u64, u64), ()>,
    s: &str,
    status: u8,
    after: Option<ViewKey>,
    descending: bool,
) -> Result<Keys<'a>> {
    let lo = (s, status, 0u64, 0u64);
    let hi = (s, status, u64::MAX, u64::MAX);
    let range = match (after, descending) {
        (None, _) => table.range(lo..=hi),
        (Some((t, id)), true) => table.range(lo..(s, status, t, id)),
        (Some((t, id)), false) => table.range((Bound::Excluded((s, status, t, id)), Bound::Included(hi))),
    }
    .map_err(st("scanning a view"))?;
    let keys = range.map(|item| {
        let (k, _) = item.map_err(st("scanning a view"))?;
        let (_, _, t, id) = k.value();
        Ok((t, id))
    });
    Ok(if descending {
        Box::new(keys.rev())
    } else {
        Box::new(keys)
    })
}

/// Walks already in the page's order, merged into one (a key is in at most
/// one of them: a case has one status).
fn merged(walks: Vec<Keys<'_>>, descending: bool) -> Keys<'_> {
    let mut heads: Vec<std::iter::Peekable<Keys<'_>>> = walks.into_iter().map(Iterator::peekable).collect();
    Box::new(std::iter::from_fn(move || {
        let mut best: Option<(usize, ViewKey)> = None;
        for (i, head) in heads.iter_mut().enumerate() {
            match head.peek() {
                // An error is passed on at once.
                Some(Err(_)) => return head.next(),
                Some(Ok(k)) => {
                    let better = match best {
                        None => true,
                        Some((_, b)) if descending => *k > b,
                        Some((_, b)) => *k < b,
                    };
                    if better {
                        best = Some((i, *k));
                    }
                }
                None => {}
            }
        }
        best.and_then(|(i, _)| heads.get_mut(i).and_then(Iterator::next))
    }))
}

fn page(scope: &Scope, q: &ViewQuery, total: u64, cases: Vec<Case>, last_if_more: Option<ViewKey>) -> ViewPage {
    ViewPage {
        total,
        page: q.page,
        per_page: q.per_page,
        cases,
        next: last_if_more.map(|(t, id)| Cursor::encode(&view_binding(scope, q), (0, t, id))),
    }
}
