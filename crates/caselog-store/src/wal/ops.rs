//! What a batch wrote, as the log records it: every `insert` and `remove`
//! the batch's transaction made, in order, with the table's name and the
//! key's and value's bytes as redb stores them.
//!
//! Logging the writes rather than the commands makes replay exact and
//! independent of the code that decided them (clocks, ids, policies, the
//! commands defined in other modules): replaying a record sets each key it
//! names to the bytes it names. Replaying it again, or on a store that
//! already holds some of it, gives the same result (every op is a blind
//! set or delete), so a crash during replay or after a checkpoint's commit
//! but before its bookkeeping needs nothing special.
//!
//! Encoding of one op: table-name length u8, name, kind u8 (0 insert,
//! 1 remove), key length u32 LE, key, and for an insert value length u32
//! LE, value.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::ops::Deref;

use redb::{
    AccessGuard, Key, ReadableTable, StorageError, Table, TableDefinition, TableError, TableHandle, Value,
    WriteTransaction,
};

const INSERT: u8 = 0;
const REMOVE: u8 = 1;

/// A batch's ops as they are recorded.
pub(crate) type OpLog = RefCell<Vec<u8>>;

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_head(out: &mut Vec<u8>, table: &str, kind: u8) {
    out.push(table.len() as u8);
    out.extend_from_slice(table.as_bytes());
    out.push(kind);
}

/// A redb table of the writer's transaction that records every write it
/// makes into the batch's [`OpLog`]. Reads go to the table itself
/// (`Deref`); writes only through the methods here, so a write that is
/// not logged does not compile.
pub(crate) struct Logged<'t, K: Key + 'static, V: Value + 'static> {
    table: Table<'t, K, V>,
    name: String,
    log: Option<&'t OpLog>,
}

/// Opens [`Logged`] tables of a write transaction.
pub(crate) struct LoggingTxn<'t> {
    txn: &'t WriteTransaction,
    log: Option<&'t OpLog>,
}

impl<'t> LoggingTxn<'t> {
    pub fn new(txn: &'t WriteTransaction, log: Option<&'t OpLog>) -> Self {
        LoggingTxn { txn, log }
    }

    /// [`WriteTransaction::open_table`], its writes recorded.
    pub fn open_table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<'_, K, V>,
    ) -> Result<Logged<'t, K, V>, TableError> {
        Ok(Logged {
            table: self.txn.open_table(def)?,
            name: def.name().to_owned(),
            log: self.log,
        })
    }
}

impl<'t, K: Key + 'static, V: Value + 'static> Logged<'t, K, V> {
    /// [`Table::insert`], recorded.
    pub fn insert<'k, 'v>(
        &mut self,
        key: impl Borrow<K::SelfType<'k>>,
        value: impl Borrow<V::SelfType<'v>>,
    ) -> Result<Option<AccessGuard<'_, V>>, StorageError> {
        if let Some(log) = self.log {
            let mut out = log.borrow_mut();
            put_head(&mut out, &self.name, INSERT);
            put_bytes(&mut out, K::as_bytes(key.borrow()).as_ref());
            put_bytes(&mut out, V::as_bytes(value.borrow()).as_ref());
        }
        self.table.insert(key, value)
    }

    /// [`Table::remove`], recorded.
    pub fn remove<'a>(
        &mut self,
        key: impl Borrow<K::SelfType<'a>>,
    ) -> Result<Option<AccessGuard<'_, V>>, StorageError> {
        if let Some(log) = self.log {
            let mut out = log.borrow_mut();
            put_head(&mut out, &self.name, REMOVE);
            put_bytes(&mut out, K::as_bytes(key.borrow()).as_ref());
        }
        self.table.remove(key)
    }
}

impl<'t, K: Key + 'static, V: Value + 'static> Deref for Logged<'t, K, V> {
    type Target = Table<'t, K, V>;
    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

/// A table the read helpers (`stored.rs`) accept: any redb table, or a
/// writer's [`Logged`] one (redb's `ReadableTable` is sealed).
pub(crate) trait Readable<K: Key + 'static, V: Value + 'static> {
    /// The redb table to read.
    type Table: ReadableTable<K, V>;
    /// The table itself.
    fn readable(&self) -> &Self::Table;
}

impl<K: Key + 'static, V: Value + 'static, T: ReadableTable<K, V>> Readable<K, V> for T {
    type Table = T;
    fn readable(&self) -> &T {
        self
    }
}

impl<'t, K: Key + 'static, V: Value + 'static> Readable<K, V> for Logged<'t, K, V> {
    type Table = Table<'t, K, V>;
    fn readable(&self) -> &Self::Table {
        &self.table
    }
}

/// One decoded op.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Op<'a> {
    pub table: &'a str,
    pub key: &'a [u8],
    /// `None` for a removal.
    pub value: Option<&'a [u8]>,
}

/// The ops of one record, in order; `Err` at the first malformed op (a
/// record passed its checksum, so this means a bug, not a bad disk).
pub(crate) fn decode(mut rest: &[u8]) -> impl Iterator<Item = Result<Op<'_>, &'static str>> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], &'static str> {
        if rest.len() < n {
            return Err("op runs past the record");
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head)
    }
    fn sized<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], &'static str> {
        let len = take(rest, 4)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        take(rest, len)
    }
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let op = (|| {
            let n = take(&mut rest, 1)?[0] as usize;
            let table = std::str::from_utf8(take(&mut rest, n)?).map_err(|_| "table name is not UTF-8")?;
            let kind = take(&mut rest, 1)?[0];
            let key = sized(&mut rest)?;
            let value = match kind {
                INSERT => Some(sized(&mut rest)?),
                REMOVE => None,
                _ => return Err("unknown op kind"),
            };
            Ok(Op { table, key, value })
        })();
        failed = op.is_err();
        Some(op)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Decoding gives back exactly the ops encoded, in order.
        #[test]
        fn ops_round_trip(ops in proptest::collection::vec(
            ("[a-z_]{1,20}", proptest::collection::vec(any::<u8>(), 0..40), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200))),
            0..30,
        )) {
            let mut out = Vec::new();
            for (table, key, value) in &ops {
                match value {
                    Some(v) => {
                        put_head(&mut out, table, INSERT);
                        put_bytes(&mut out, key);
                        put_bytes(&mut out, v);
                    }
                    None => {
                        put_head(&mut out, table, REMOVE);
                        put_bytes(&mut out, key);
                    }
                }
            }
            let back: Vec<Op<'_>> = decode(&out).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(back.len(), ops.len());
            for (op, (table, key, value)) in back.iter().zip(&ops) {
                prop_assert_eq!(op.table, table.as_str());
                prop_assert_eq!(op.key, key.as_slice());
                prop_assert_eq!(op.value, value.as_deref());
            }
            // A cut record is an error, never a silently shorter batch.
            if !out.is_empty() {
                let cut = &out[..out.len() - 1];
                prop_assert!(decode(cut).any(|op| op.is_err()));
            }
        }
    }
}
