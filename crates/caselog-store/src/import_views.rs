//! A bulk import writes its cases' view and queue entries after the cases,
//! sorted (as SQLite builds an index after a load): each imported case's
//! id goes into [`tables::VIEWS_PENDING`] in the chunk's transaction, and
//! when the import ends one transaction computes the entries of every
//! pending case from its stored record, sorts them per table and inserts
//! them in key order — into an empty store an append, which copies each
//! leaf once instead of once per chunk that lands in it. The build keeps
//! only the entries, with their scope and user names numbered, not the
//! cases (one at a time is read, its entries taken, and dropped).
//!
//! Crash safety: the pending ids commit with their cases, and the build
//! is one transaction that also empties the table, so a crash leaves
//! either the pending ids (and no entries of theirs) or the whole build;
//! an open finishes a build it finds pending before it returns. A write to
//! a pending case (a reply during an import) leaves its entries to the
//! build, which reads the case as it then is.

use std::collections::HashMap;

use redb::{ReadableTable, ReadableTableMetadata};

use crate::buckets::SLOTS;
use crate::error::{st, Result};
use crate::options::Options;
use crate::store::Store;
use crate::stored::load_case;
use crate::tables;
use crate::write::Tables;

/// Records that `id`'s entries are left to the build.
pub(crate) fn defer(t: &mut Tables<'_>, id: u64) -> Result<()> {
    t.views_pending.insert(id, ()).map_err(st("deferring view entries"))?;
    t.written += 1;
    Ok(())
}

/// Whether `id`'s entries are left to the build.
pub(crate) fn is_pending(t: &Tables<'_>, id: u64) -> Result<bool> {
    Ok(t.views_pending
        .get(id)
        .map_err(st("reading deferred view entries"))?
        .is_some())
}

/// Scope, user and bucket-series names of the build's entries, each held
/// once: an entry keeps a `u32` in place of its strings, so the build need
/// not keep the cases its entries were computed from (a million cases held
/// at once were most of an import's peak memory).
#[derive(Default)]
struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// Renumbers the names in their string order (the order of the keys
    /// that hold them), so entries sort on the numbers as on the strings.
    /// Returns the old-to-new numbering; `self.names` is then in order.
    fn put_in_order(&mut self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let mut names = std::mem::take(&mut self.names);
        names.sort_unstable();
        self.names = names;
        self.ids.clear();
        rank
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

/// Writes the entries of every pending case, sorted, and empties the
/// pending table. Returns how many cases it built.
pub(crate) fn build(t: &mut Tables<'_>, opts: &Options) -> Result<u64> {
    let r = st("building deferred view entries");
    let mut ids = Vec::new();
    for item in t.views_pending.iter().map_err(&r)? {
        ids.push(item.map_err(&r)?.0.value());
    }
    if ids.is_empty() {
        return Ok(0);
    }
    let mut names = Names::default();
    let mut by_updated = Vec::new();
    let mut by_created = Vec::new();
    let mut by_status = Vec::new();
    let mut by_user = Vec::new();
    let mut attention = Vec::new();
    let mut queue = Vec::new();
    // Bucket counts by (scope, series name, bucket), names numbered.
    let mut buckets: HashMap<(u32, u32, u64), [i64; SLOTS]> = HashMap::new();
    let mut built = 0u64;
    for &id in &ids {
        // An erased case has nothing to build.
        let Some(c) = load_case(&t.cases, id)? else {
            continue;
        };
        built += 1;
        let e = crate::views::entries(opts, &c);
        for ((scope, time, id), v) in e.by_updated {
            by_updated.push(((names.id(scope), time, id), v));
        }
        for ((scope, time, id), v) in e.by_created {
            by_created.push(((names.id(scope), time, id), v));
        }
        for (scope, status, time, id) in e.by_status {
            by_status.push((names.id(scope), status, time, id));
        }
        for (scope, user, time, id) in e.by_user {
            by_user.push((names.id(scope), names.id(user), time, id));
        }
        for (scope, time, id) in e.attention {
            attention.push((names.id(scope), time, id));
        }
        queue.extend(e.queue);
        for (scope, name) in e.counts {
            *t.count_deltas.entry((scope.to_owned(), name)).or_default() += 1;
        }
        for &(scope, series, bucket, slot) in &e.buckets {
            let key = (names.id(scope), names.id(&series.name()), bucket);
            let slots = buckets.entry(key).or_insert([0; SLOTS]);
            if let Some(n) = slots.get_mut(usize::from(slot)) {
                *n += 1;
            }
        }
    }
    // Sorted as redb orders the keys: the names by their strings.
    let rank = names.put_in_order();
    let rank = |id: u32| rank.get(id as usize).copied().unwrap_or(u32::MAX);
    for ((scope, _, _), _) in &mut by_updated {
        *scope = rank(*scope);
    }
    for ((scope, _, _), _) in &mut by_created {
        *scope = rank(*scope);
    }
    for (scope, ..) in &mut by_status {
        *scope = rank(*scope);
    }
    for (scope, user, ..) in &mut by_user {
        *scope = rank(*scope);
        *user = rank(*user);
    }
    for (scope, ..) in &mut attention {
        *scope = rank(*scope);
    }
    let mut buckets: Vec<_> = buckets
        .into_iter()
        .map(|((scope, series, bucket), slots)| ((rank(scope), rank(series), bucket), slots))
        .collect();
    by_updated.sort_unstable();
    by_created.sort_unstable();
    by_status.sort_unstable();
    by_user.sort_unstable();
    attention.sort_unstable();
    queue.sort_unstable();
    buckets.sort_unstable_by_key(|(k, _)| *k);
    let w = st("writing view entries");
    let n = |id: u32| names.name(id);
    // Each table's entries are dropped once inserted: the transaction's
    // new pages grow as the entries still held shrink.
    let written = (by_updated.len()
        + by_created.len()
        + by_status.len()
        + by_user.len()
        + attention.len()
        + queue.len()
        + ids.len()) as u64;
    for ((scope, time, id), v) in by_updated {
        t.by_updated.insert((n(scope), time, id), v.as_slice()).map_err(&w)?;
    }
    for ((scope, time, id), v) in by_created {
        t.by_created.insert((n(scope), time, id), v.as_slice()).map_err(&w)?;
    }
    for (scope, status, time, id) in by_status {
        t.by_status.insert((n(scope), status, time, id), ()).map_err(&w)?;
    }
    for (scope, user, time, id) in by_user {
        t.by_user.insert((n(scope), n(user), time, id), ()).map_err(&w)?;
    }
    for (scope, time, id) in attention {
        t.attention.insert((n(scope), time, id), ()).map_err(&w)?;
    }
    for (k, v) in queue {
        t.queue.insert(&k, v.as_slice()).map_err(&w)?;
    }
    let deltas = buckets
        .into_iter()
        .map(|((scope, series, bucket), slots)| ((n(scope), n(series), bucket), slots));
    t.written += crate::buckets::flush(&mut t.view_buckets, deltas)?;
    // One logged removal per id (the write-ahead log replays each write).
    for id in ids {
        t.views_pending.remove(id).map_err(&w)?;
    }
    t.written += written;
    Ok(built)
}

impl Store {
    /// Builds the entries an import left pending (at the end of every
    /// import, and at open after a crash cut one short).
    pub(crate) fn build_pending_views(&self) -> Result<u64> {
        let pending = {
            let txn = self.read_txn()?;
            match txn.open_table(tables::VIEWS_PENDING) {
                Ok(t) => !t.is_empty().map_err(st("reading deferred view entries"))?,
                Err(redb::TableError::TableDoesNotExist(_)) => false,
                Err(e) => return Err(crate::error::StoreError::storage("reading deferred view entries", e)),
            }
        };
        if !pending {
            return Ok(0);
        }
        self.run_job(|t, ctx, _| build(t, ctx.opts))
    }
}

#[cfg(test)]
mod tests {
    use super::Names;
    use proptest::prelude::*;

    proptest! {
        /// Renumbered names compare as their strings and name themselves.
        #[test]
        fn numbered_names_sort_as_their_strings(words in proptest::collection::vec("[a-c*@.-]{0,4}", 0..40)) {
            let mut names = Names::default();
            let ids: Vec<u32> = words.iter().map(|w| names.id(w)).collect();
            let rank = names.put_in_order();
            for (a, &ia) in words.iter().zip(&ids) {
                let ra = rank[ia as usize];
                prop_assert_eq!(names.name(ra), a.as_str());
                for (b, &ib) in words.iter().zip(&ids) {
                    prop_assert_eq!(ra.cmp(&rank[ib as usize]), a.cmp(b));
                }
            }
        }
    }
}
