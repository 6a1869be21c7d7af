//! Schema migrations, run by a read-write open before anything else is
//! written.
//!
//! Version 1 → 2 (the view counts, `views.rs`): in the open's one header
//! transaction, `by_user` is rebuilt from the cases (schema-1 writers may
//! have left entries of users a case no longer lists, which version 2's
//! writes, touching only what changed, would never remove), every
//! counter of [`tables::VIEW_COUNTS`] is computed from the cases, and the
//! schema version becomes 2. It is one redb transaction: a crash before
//! its commit leaves the version-1 store exactly as it was (and the next
//! open migrates again), after it a version-2 store; never anything
//! between. Schema-1 `by_created` values are left as they are (they still
//! read, and each is rewritten at its case's next write).
//!
//! Version 2 → 3 (the bucket counts, `buckets.rs`): in the same header
//! transaction (after 1 → 2 for a version-1 store), every bucket count of
//! [`tables::VIEW_BUCKETS`] is computed from the cases whose view entries
//! exist (not those an interrupted import left pending: their build counts
//! them) and inserted in key order, and the schema version becomes 3. A
//! crash leaves the store as it was or wholly version 3.

use std::collections::BTreeMap;

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use crate::error::{st, Result, StoreError};
use crate::options::Options;
use crate::records;
use crate::tables;

/// What a migration failure says it was doing.
const MIGRATING: &str = "migrating the store to schema 2";
/// What a 2 → 3 migration failure says it was doing.
const MIGRATING_3: &str = "migrating the store to schema 3";

/// How often (in cases) a migration reports its progress.
const PROGRESS_EVERY: u64 = 10_000;

/// The schema version stored in `meta`.
pub(crate) fn stored_version(txn: &WriteTransaction) -> Result<u32> {
    let meta = txn.open_table(tables::META).map_err(st("reading the schema version"))?;
    schema_version(&meta)
}

/// The schema version in a `meta` table (a missing or malformed one is
/// `Corrupt`).
pub(crate) fn schema_version(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<u32> {
    meta.get(tables::META_SCHEMA)
        .map_err(st("reading the schema version"))?
        .and_then(|v| <[u8; 4]>::try_from(v.value()).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| StoreError::Corrupt {
            table: "meta",
            key: tables::META_SCHEMA.into(),
            detail: "missing or malformed schema version".into(),
        })
}

/// Migrates a version-1 store to version 2 inside `txn` (see the module
/// comment). Returns the number of cases it went through.
pub(crate) fn v1_to_v2(txn: &WriteTransaction, opts: &Options) -> Result<u64> {
    // A fresh `by_user`: its keys are inserted below in key order.
    txn.delete_table(tables::BY_USER).map_err(st(MIGRATING))?;
    let mut users: Vec<(String, String, u64, u64)> = Vec::new();
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut done = 0u64;
    {
        let cases = txn.open_table(tables::CASES).map_err(st(MIGRATING))?;
        let total = cases.len().map_err(st(MIGRATING))?;
        let report = |done: u64| {
            if let Some(p) = &opts.migration_progress {
                (p.0)(done, total);
            }
        };
        report(0);
        for item in cases.iter().map_err(st(MIGRATING))? {
            let (k, v) = item.map_err(st(MIGRATING))?;
            let case = records::decode_case(v.value(), k.value())?;
            let e = crate::views::entries(opts, &case);
            users.extend(
                e.by_user
                    .iter()
                    .map(|&(scope, user, created, id)| (scope.to_owned(), user.to_owned(), created, id)),
            );
            for (scope, name) in e.counts {
                *counts.entry((scope.to_owned(), name)).or_default() += 1;
            }
            done += 1;
            if done % PROGRESS_EVERY == 0 {
                report(done);
            }
        }
        report(done);
    }
    users.sort();
    let mut by_user = txn.open_table(tables::BY_USER).map_err(st(MIGRATING))?;
    for (scope, user, created, id) in &users {
        by_user
            .insert((scope.as_str(), user.as_str(), *created, *id), ())
            .map_err(st(MIGRATING))?;
    }
    let mut view_counts = txn.open_table(tables::VIEW_COUNTS).map_err(st(MIGRATING))?;
    view_counts.retain(|_, _| false).map_err(st(MIGRATING))?;
    for ((scope, name), n) in &counts {
        view_counts
            .insert((scope.as_str(), name.as_str()), *n)
            .map_err(st(MIGRATING))?;
    }
    let mut meta = txn.open_table(tables::META).map_err(st(MIGRATING))?;
    meta.insert(tables::META_SCHEMA, 2u32.to_le_bytes().as_slice())
        .map_err(st(MIGRATING))?;
    Ok(done)
}

/// Migrates a version-2 store to version 3 inside `txn` (see the module
/// comment). Returns the number of cases it went through.
pub(crate) fn v2_to_v3(txn: &WriteTransaction, opts: &Options) -> Result<u64> {
    let mut deltas = crate::buckets::Deltas::new();
    let mut done = 0u64;
    {
        let cases = txn.open_table(tables::CASES).map_err(st(MIGRATING_3))?;
        let pending = txn.open_table(tables::VIEWS_PENDING).map_err(st(MIGRATING_3))?;
        let total = cases.len().map_err(st(MIGRATING_3))?;
        let report = |done: u64| {
            if let Some(p) = &opts.migration_progress {
                (p.0)(done, total);
            }
        };
        report(0);
        for item in cases.iter().map_err(st(MIGRATING_3))? {
            let (k, v) = item.map_err(st(MIGRATING_3))?;
            done += 1;
            if done % PROGRESS_EVERY == 0 {
                report(done);
            }
            if pending.get(k.value()).map_err(st(MIGRATING_3))?.is_some() {
                continue;
            }
            let case = records::decode_case(v.value(), k.value())?;
            for item in &crate::views::entries(opts, &case).buckets {
                crate::buckets::add_delta(&mut deltas, item, 1);
            }
        }
        report(done);
    }
    // The table is new in version 3; a leftover (none is expected) is replaced.
    let mut table = txn.open_table(tables::VIEW_BUCKETS).map_err(st(MIGRATING_3))?;
    table.retain(|_, _| false).map_err(st(MIGRATING_3))?;
    for ((scope, series, bucket), delta) in &deltas {
        let mut counts = [0u64; crate::buckets::SLOTS];
        for (n, d) in counts.iter_mut().zip(delta) {
            *n = u64::try_from(*d).unwrap_or(0);
        }
        table
            .insert(
                (scope.as_str(), series.as_str(), *bucket),
                crate::buckets::encode(&counts)?.as_slice(),
            )
            .map_err(st(MIGRATING_3))?;
    }
    let mut meta = txn.open_table(tables::META).map_err(st(MIGRATING_3))?;
    meta.insert(tables::META_SCHEMA, 3u32.to_le_bytes().as_slice())
        .map_err(st(MIGRATING_3))?;
    Ok(done)
}
