//! A bulk import writes its cases' view and queue entries after the cases,
//! sorted (as SQLite builds an index after a load): each imported case's
//! id goes into [`tables::VIEWS_PENDING`] in the chunk's transaction, and
//! when the import ends one transaction computes the entries of every
//! pending case from its stored record, sorts them per table and inserts
//! them in key order — into an empty store an append, which copies each
//! leaf once instead of once per chunk that lands in it.
//!
//! Crash safety: the pending ids commit with their cases, and the build
//! is one transaction that also empties the table, so a crash leaves
//! either the pending ids (and no entries of theirs) or the whole build;
//! an open finishes a build it finds pending before it returns. A write to
//! a pending case (a reply during an import) leaves its entries to the
//! build, which reads the case as it then is.

use redb::{ReadableTable, ReadableTableMetadata};

use crate::error::{st, Result};
use crate::model::Case;
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
    let mut cases: Vec<Case> = Vec::with_capacity(ids.len());
    for &id in &ids {
        // An erased case has nothing to build.
        if let Some(c) = load_case(&t.cases, id)? {
            cases.push(c);
        }
    }
    let mut by_updated = Vec::new();
    let mut by_created = Vec::new();
    let mut by_status = Vec::new();
    let mut by_user = Vec::new();
    let mut attention = Vec::new();
    let mut queue = Vec::new();
    for c in &cases {
        let e = crate::views::entries(opts, c);
        by_updated.extend(e.by_updated);
        by_created.extend(e.by_created);
        by_status.extend(e.by_status);
        by_user.extend(e.by_user);
        attention.extend(e.attention);
        queue.extend(e.queue);
        for (scope, name) in e.counts {
            *t.count_deltas.entry((scope.to_owned(), name)).or_default() += 1;
        }
        for item in &e.buckets {
            crate::buckets::add_delta(&mut t.bucket_deltas, item, 1);
        }
    }
    by_updated.sort_unstable();
    by_created.sort_unstable();
    by_status.sort_unstable();
    by_user.sort_unstable();
    attention.sort_unstable();
    queue.sort_unstable();
    let w = st("writing view entries");
    let mut written = 0u64;
    for (k, v) in &by_updated {
        t.by_updated.insert(*k, v.as_slice()).map_err(&w)?;
    }
    for (k, v) in &by_created {
        t.by_created.insert(*k, v.as_slice()).map_err(&w)?;
    }
    for k in &by_status {
        t.by_status.insert(*k, ()).map_err(&w)?;
    }
    for k in &by_user {
        t.by_user.insert(*k, ()).map_err(&w)?;
    }
    for k in &attention {
        t.attention.insert(*k, ()).map_err(&w)?;
    }
    for (k, v) in &queue {
        t.queue.insert(k, v.as_slice()).map_err(&w)?;
    }
    written +=
        (by_updated.len() + by_created.len() + by_status.len() + by_user.len() + attention.len() + queue.len()) as u64;
    // One logged removal per id (the write-ahead log replays each write).
    for id in &ids {
        t.views_pending.remove(*id).map_err(&w)?;
    }
    written += ids.len() as u64;
    t.written += written;
    Ok(cases.len() as u64)
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
