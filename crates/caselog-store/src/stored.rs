//! The read layer: every read of stored records — cases, numbers, threads,
//! counters and the change log — goes through these functions, whoever
//! reads (the public reads, search, verify, export and backup, the indexer,
//! and the writer validating a command). They take an open table, so a
//! caller reads everything it needs from one transaction.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::wal::ops::Readable;
use caselog_core::Actor;
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition};

use crate::error::{st, Result, StoreError};
use crate::model::{Case, CaseRef, Scope, ThreadEntry};
use crate::records::{self, Author};

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
    // Authors stored inline by the entries read so far, which later ones
    // may refer to (a reference below `first` is one more read).
    let mut inline: BTreeMap<u32, Actor> = BTreeMap::new();
    for item in thread.range((id, first)..=(id, last)).map_err(st("reading a thread"))? {
        let (k, v) = item.map_err(st("reading a thread"))?;
        let (id, seq) = k.value();
        let mut by_reference = false;
        let entry = records::decode_entry_with(v.value(), id, seq, |k| {
            by_reference = true;
            match inline.get(&k) {
                Some(a) => Ok(a.clone()),
                None => inline_author(thread, id, k),
            }
        })?;
        if !by_reference && entry.actor != Actor::System {
            inline.insert(seq, entry.actor.clone());
        }
        entries.push((seq, entry));
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
        Some(v) => records::decode_entry_with(v.value(), id, seq, |k| inline_author(thread, id, k)).map(Some),
        None => Ok(None),
    }
}

/// The actor entry `k` of case `id`'s thread names inline: the target of a
/// later entry's author reference (the writer refers only to such entries).
fn inline_author(thread: &impl ReadableTable<(u64, u32), &'static [u8]>, id: u64, k: u32) -> Result<Actor> {
    let corrupt = |detail: &str| StoreError::Corrupt {
        table: "thread",
        key: format!("({id}, {k})"),
        detail: format!("a later entry's author refers to this entry, which {detail}"),
    };
    match thread.get((id, k)).map_err(st("reading a thread entry"))? {
        Some(v) => match records::entry_author(v.value(), id, k)? {
            Author::Actor(a) => Ok(a),
            Author::SameAs(_) => Err(corrupt("names its own author by reference")),
        },
        None => Err(corrupt("is missing")),
    }
}

/// The earlier entry whose inline author a new entry `seq` by `actor` can
/// refer to: found among the two entries before it (a conversation takes
/// turns), directly or through their own reference. Two or four reads of
/// keys next to the one being written.
pub(crate) fn same_author_as(
    thread: &impl Readable<(u64, u32), &'static [u8]>,
    id: u64,
    seq: u32,
    actor: &Actor,
) -> Result<Option<u32>> {
    if *actor == Actor::System {
        return Ok(None);
    }
    let thread = thread.readable();
    for j in [seq.checked_sub(2), seq.checked_sub(1)].into_iter().flatten() {
        let Some(v) = thread.get((id, j)).map_err(st("reading a thread entry"))? else {
            continue;
        };
        match records::entry_author(v.value(), id, j)? {
            Author::Actor(a) if a == *actor => return Ok(Some(j)),
            Author::Actor(_) => {}
            Author::SameAs(k) => {
                if inline_author(thread, id, k)? == *actor {
                    return Ok(Some(k));
                }
            }
        }
    }
    Ok(None)
}

/// A case's whole thread, oldest first.
pub(crate) fn full_thread(thread: &impl Readable<(u64, u32), &'static [u8]>, id: u64) -> Result<Vec<ThreadEntry>> {
    let thread = thread.readable();
    Ok(thread_entries(thread, id)?.into_iter().map(|(_, e)| e).collect())
}

/// A case's thread entries as stored, each body decoded only when asked
/// for (a snippet usually stops at an early message, and the authors and
/// attachments are never decoded). What snippets are made from.
pub(crate) struct ThreadBodies {
    case: u64,
    /// The stored bytes of every entry, one after the other (one buffer,
    /// reused from thread to thread).
    bytes: Vec<u8>,
    /// Sequence of each entry and where its bytes are, oldest first.
    entries: Vec<(u32, Range<usize>)>,
    /// Bodies decoded so far, by place in the thread.
    bodies: Vec<Option<String>>,
}

impl ThreadBodies {
    /// No thread; [`ThreadBodies::refill`] reads one.
    pub(crate) fn empty() -> ThreadBodies {
        ThreadBodies {
            case: 0,
            bytes: Vec::new(),
            entries: Vec::new(),
            bodies: Vec::new(),
        }
    }

    /// Replaces what is held with case `id`'s thread entries (not decoded
    /// yet), keeping the buffers.
    pub(crate) fn refill(&mut self, thread: &impl Readable<(u64, u32), &'static [u8]>, id: u64) -> Result<()> {
        let thread = thread.readable();
        self.case = id;
        self.bytes.clear();
        self.entries.clear();
        self.bodies.clear();
        for item in thread.range((id, 0)..=(id, u32::MAX)).map_err(st("reading a thread"))? {
            let (k, v) = item.map_err(st("reading a thread"))?;
            let start = self.bytes.len();
            self.bytes.extend_from_slice(v.value());
            self.entries.push((k.value().1, start..self.bytes.len()));
            self.bodies.push(None);
        }
        Ok(())
    }

    /// Entries in the thread.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The body of the entry at place `at` in the thread (its place, as in
    /// [`full_thread`], is what a snippet names); empty past the end.
    pub(crate) fn body(&mut self, at: usize) -> Result<&str> {
        let (Some((seq, range)), Some(slot)) = (self.entries.get(at), self.bodies.get_mut(at)) else {
            return Ok("");
        };
        if slot.is_none() {
            let bytes = self.bytes.get(range.clone()).unwrap_or_default();
            *slot = Some(records::entry_body(bytes, self.case, *seq)?);
        }
        Ok(slot.as_deref().unwrap_or(""))
    }
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

#[cfg(test)]
mod tests {
    use caselog_core::{Timestamp, UserId};
    use proptest::prelude::*;
    use redb::{Database, ReadableDatabase};

    use super::*;
    use crate::tables::THREAD;

    fn actor(k: u8) -> Actor {
        match k % 4 {
            0 => Actor::Seller(UserId::parse("user1@seller00001.example").expect("valid user")),
            1 => Actor::Support(UserId::parse("agent-7").expect("valid user")),
            2 => Actor::Seller(UserId::parse("user2@seller00001.example").expect("valid user")),
            _ => Actor::System,
        }
    }

    fn entry(k: u8, body: String, i: u32) -> ThreadEntry {
        ThreadEntry {
            at: Timestamp::from_millis(1_767_225_600_000 + i64::from(i)).expect("in range"),
            actor: actor(k),
            change: None,
            body,
            attachments: Vec::new(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Threads written entry by entry (live writes: references found
        /// among the two entries before) and whole (imports: each actor's
        /// first entry) read back as written through every read of the
        /// layer: the whole thread, any page of it, any single entry.
        #[test]
        fn author_references_and_compressed_bodies_read_back(
            spec in prop::collection::vec((0u8..4, 0usize..3, 0usize..40), 1..14),
            from in 0u32..14,
            limit in 0u32..6,
        ) {
            let words = ["refund", "order 112-1234567-1234567 ", "退款"];
            let thread: Vec<ThreadEntry> = spec
                .iter()
                .zip(0u32..)
                .map(|(&(k, w, n), i)| entry(k, words[w].repeat(n), i))
                .collect();
            let dir = tempfile::tempdir().expect("temp dir");
            let db = Database::create(dir.path().join("t.redb")).expect("database");
            let txn = db.begin_write().expect("write");
            {
                let mut t = txn.open_table(THREAD).expect("table");
                let mut authors = records::ThreadAuthors::default();
                for (e, seq) in thread.iter().zip(0u32..) {
                    let live = same_author_as(&t, 1, seq, &e.actor).expect("lookup");
                    let bytes = records::encode_entry_as(e, live).expect("encode");
                    t.insert((1, seq), bytes.as_slice()).expect("insert");
                    let whole = records::encode_entry_as(e, authors.same_as(&e.actor, seq)).expect("encode");
                    t.insert((2, seq), whole.as_slice()).expect("insert");
                }
            }
            txn.commit().expect("commit");
            let txn = db.begin_read().expect("read");
            let t = txn.open_table(THREAD).expect("table");
            let model: Vec<(u32, ThreadEntry)> = (0u32..).zip(thread.iter().cloned()).collect();
            for id in [1, 2] {
                prop_assert_eq!(&thread_entries(&t, id).expect("thread"), &model);
                let page: Vec<_> = model.iter().filter(|(s, _)| *s >= from && *s < from + limit).cloned().collect();
                prop_assert_eq!(read_thread(&t, id, from, limit).expect("page"), page);
                for (seq, e) in &model {
                    let one = read_entry(&t, id, *seq).expect("entry");
                    prop_assert_eq!(one.as_ref(), Some(e));
                }
            }
        }
    }

    /// A reference to an entry that is missing, or that itself refers, is a
    /// typed error naming that entry.
    #[test]
    fn a_dangling_author_reference_is_corruption() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::create(dir.path().join("t.redb")).expect("database");
        let txn = db.begin_write().expect("write");
        {
            let mut t = txn.open_table(THREAD).expect("table");
            let e = entry(0, "hello".into(), 0);
            t.insert(
                (1, 1),
                records::encode_entry_as(&e, Some(0)).expect("encode").as_slice(),
            )
            .expect("insert");
            t.insert(
                (1, 2),
                records::encode_entry_as(&e, Some(1)).expect("encode").as_slice(),
            )
            .expect("insert");
        }
        txn.commit().expect("commit");
        let txn = db.begin_read().expect("read");
        let t = txn.open_table(THREAD).expect("table");
        for (seq, target, why) in [(1, 0, "missing"), (2, 1, "by reference")] {
            match read_entry(&t, 1, seq) {
                Err(StoreError::Corrupt { table, key, detail }) => {
                    assert_eq!(table, "thread");
                    assert_eq!(key, format!("(1, {target})"));
                    assert!(detail.contains(why), "{detail}");
                }
                other => panic!("expected corruption, got {other:?}"),
            }
        }
        assert!(matches!(thread_entries(&t, 1), Err(StoreError::Corrupt { .. })));
    }
}
