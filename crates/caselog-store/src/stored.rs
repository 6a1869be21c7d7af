//! The read layer: every read of stored records — cases, numbers, threads,
//! counters and the change log — goes through these functions, whoever
//! reads (the public reads, search, verify, export and backup, the indexer,
//! and the writer validating a command). They take an open table, so a
//! caller reads everything it needs from one transaction.

use crate::wal::ops::Readable;
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition};

use crate::error::{st, Result, StoreError};
use crate::model::{Case, CaseRef, Scope, ThreadEntry};
use crate::records;

/// Opens a table of a read transaction.
pub(crate) fn open<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<ReadOnlyTable<K, V>> {
    txn.open_table(def).map_err(st("opening a table"))
}

/// Reads a u64 counter from the meta table (0 when absent).
pub(crate) fn read_counter(meta: &impl Readable<&'static str, &'static [u8]>, key: &str) -> Result<u64> {
    let meta = meta.readable();
    let Some(v) = meta.get(key).map_err(st("reading a counter"))? else {
        return Ok(0);
    };
    let bytes: [u8; 8] = v.value().try_into().map_err(|_| StoreError::Corrupt {
        table: "meta",
        key: key.to_owned(),
        detail: "counter is not 8 bytes".into(),
    })?;
    Ok(u64::from_le_bytes(bytes))
}

/// Loads a case by id (no scope check).
pub(crate) fn load_case(cases: &impl Readable<u64, &'static [u8]>, id: u64) -> Result<Option<Case>> {
    let cases = cases.readable();
    match cases.get(id).map_err(st("reading a case"))? {
        Some(v) => records::decode_case(v.value(), id).map(Some),
        None => Ok(None),
    }
}

/// Resolves a case reference within a scope; another tenant's case is
/// reported exactly like a missing one.
pub(crate) fn resolve(
    cases: &impl Readable<u64, &'static [u8]>,
    numbers: &impl Readable<&'static str, u64>,
    scope: &Scope,
    case: &CaseRef,
) -> Result<Case> {
    let cases = cases.readable();
    let numbers = numbers.readable();
    let id = match case {
        CaseRef::Id(id) => Some(id.0),
        CaseRef::Number(n) => numbers
            .get(n.as_str())
            .map_err(st("reading a number"))?
            .map(|v| v.value()),
    };
    let found = match id {
        Some(id) => load_case(cases, id)?,
        None => None,
    };
    match found {
        Some(c) if scope.allows(&c.tenant) => Ok(c),
        _ => Err(StoreError::CaseNotFound(case.to_string())),
    }
}

/// Entries `from..from + limit` of case `id`'s thread, with their sequences.
pub(crate) fn read_thread(
    thread: &impl Readable<(u64, u32), &'static [u8]>,
    id: u64,
    from: u32,
    limit: u32,
) -> Result<Vec<(u32, ThreadEntry)>> {
    let thread = thread.readable();
    match limit.checked_sub(1) {
        Some(n) => entries(thread, id, from, from.saturating_add(n)),
        None => Ok(Vec::new()),
    }
}

/// Every entry of case `id`'s thread, with its sequence.
pub(crate) fn thread_entries(
    thread: &impl Readable<(u64, u32), &'static [u8]>,
    id: u64,
) -> Result<Vec<(u32, ThreadEntry)>> {
    let thread = thread.readable();
    entries(thread, id, 0, u32::MAX)
}

/// Entries `first..=last` of case `id`'s thread.
fn entries(
    thread: &impl Readable<(u64, u32), &'static [u8]>,
    id: u64,
    first: u32,
    last: u32,
) -> Result<Vec<(u32, ThreadEntry)>> {
    let thread = thread.readable();
    let mut entries = Vec::new();
    for item in thread.range((id, first)..=(id, last)).map_err(st("reading a thread"))? {
        let (k, v) = item.map_err(st("reading a thread"))?;
        let (id, seq) = k.value();
        entries.push((seq, records::decode_entry(v.value(), id, seq)?));
    }
    Ok(entries)
}

/// Entry `seq` of case `id`'s thread, if there is one.
pub(crate) fn read_entry(
    thread: &impl Readable<(u64, u32), &'static [u8]>,
    id: u64,
    seq: u32,
) -> Result<Option<ThreadEntry>> {
    let thread = thread.readable();
    match thread.get((id, seq)).map_err(st("reading a thread entry"))? {
        Some(v) => records::decode_entry(v.value(), id, seq).map(Some),
        None => Ok(None),
    }
}

/// A case's whole thread, oldest first.
pub(crate) fn full_thread(thread: &impl Readable<(u64, u32), &'static [u8]>, id: u64) -> Result<Vec<ThreadEntry>> {
    let thread = thread.readable();
    Ok(thread_entries(thread, id)?.into_iter().map(|(_, e)| e).collect())
}

/// Change-log entries after `after`, at most `limit`: (sequence, case id).
pub(crate) fn changes_after(changes: &impl Readable<u64, u64>, after: u64, limit: usize) -> Result<Vec<(u64, u64)>> {
    let changes = changes.readable();
    let mut out = Vec::new();
    for item in changes
        .range(after.saturating_add(1)..)
        .map_err(st("reading the change log"))?
        .take(limit)
    {
        let (k, v) = item.map_err(st("reading the change log"))?;
        out.push((k.value(), v.value()));
    }
    Ok(out)
}
