//! The write-ahead log: where a group commit becomes durable.
//!
//! With the log on ([`crate::Options::wal`], durability `Immediate`), the
//! writer applies a batch in its redb transaction as before, appends the
//! batch's writes ([`ops`]) to the log as one record, `fdatasync`s the log
//! (one sequential write and one sync per batch), commits the redb
//! transaction with `Durability::None` (visible to readers at once, not
//! synced) and only then answers the callers. Readers therefore never see
//! a write that is not durable, and every acknowledged write is in the
//! log.
//!
//! A *checkpoint* is a durable redb commit that records in `meta`
//! (`wal_checkpoint`: log id and position) how much of the log the store
//! file now holds: everything before the position. The writer makes one
//! every `checkpoint_interval` or when the log is half full, when a batch
//! is too large for the log (it commits durably instead of being logged),
//! for `sync` and at shutdown (which also removes the key: a clean end
//! leaves nothing to replay).
//!
//! At open, before anything else reads or writes the store, [`recover`]
//! replays the records after the checkpoint into redb, commits durably
//! and removes the key. redb itself reverts to its last durable commit
//! after a crash (its `None` commits live in the in-memory header slot
//! only), so the store file plus the log's records always rebuild every
//! acknowledged write.

mod log;
pub(crate) mod ops;

use std::path::Path;
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, StorageBackend, TableHandle};

use crate::error::{st, Result, StoreError};
use crate::tables;
pub use log::LogError;
pub(crate) use log::LogFile;

/// File name of the log inside the store directory.
pub const WAL_FILE: &str = "cases.wal";
/// Key in [`tables::META`]: log id (u64 LE) and checkpoint position (u64
/// LE). Present while a log session is open; absent after a clean end.
pub(crate) const META_WAL: &str = "wal_checkpoint";

fn encode_checkpoint(id: u64, position: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&id.to_le_bytes());
    out[8..].copy_from_slice(&position.to_le_bytes());
    out
}

fn decode_checkpoint(bytes: &[u8]) -> Result<(u64, u64)> {
    let arr: [u8; 16] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        table: "meta",
        key: META_WAL.into(),
        detail: format!("{} bytes, expected 16", bytes.len()),
    })?;
    let (id, pos) = arr.split_at(8);
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    Ok((word(id), word(pos)))
}

/// The checkpoint the store records, if a log session is open.
fn read_checkpoint(db: &dyn ReadableDatabase) -> Result<Option<(u64, u64)>> {
    let s = &st::<redb::Error>("reading the log checkpoint");
    let txn = db.begin_read().map_err(|e| s(e.into()))?;
    let meta = match txn.open_table(tables::META) {
        Ok(m) => m,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(s(e.into())),
    };
    let found = meta.get(META_WAL).map_err(|e| s(e.into()))?;
    found.map(|v| decode_checkpoint(v.value())).transpose()
}

fn log_error(path: &Path, e: LogError) -> StoreError {
    StoreError::LogCorrupt {
        path: path.to_owned(),
        error: e,
    }
}

fn io_error<'p>(path: &'p Path, action: &'static str) -> impl Fn(std::io::Error) -> StoreError + 'p {
    move |e| StoreError::Io {
        action,
        path: path.to_owned(),
        error: std::sync::Arc::new(e),
    }
}

/// Opens the log file at `path` for [`recover`] and the writer.
pub(crate) fn open_file(path: &Path) -> Result<Box<dyn StorageBackend>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_error(path, "opening the log"))?;
    Ok(Box::new(file_backend(file, path)?))
}

fn file_backend(file: std::fs::File, path: &Path) -> Result<redb::backends::FileBackend> {
    redb::backends::FileBackend::new(file).map_err(|e| StoreError::Io {
        action: "opening the log",
        path: path.to_owned(),
        error: std::sync::Arc::new(std::io::Error::other(e.to_string())),
    })
}

/// What [`recover`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// Records replayed.
    pub records: usize,
    /// Ops replayed.
    pub ops: usize,
}

/// Replays the log's records after the store's checkpoint into the store,
/// makes them durable and closes the log session (removes the key). Does
/// nothing when no session is open. A log that should be there and is
/// not, belongs to another session, or is damaged before its tail is a
/// typed error and the store is left as it was.
pub(crate) fn recover(db: &Database, file: Option<&dyn StorageBackend>, path: &Path) -> Result<Recovered> {
    let Some((id, position)) = read_checkpoint(db)? else {
        return Ok(Recovered::default());
    };
    let Some(file) = file else {
        return Err(log_error(path, LogError::BadHeader("the log file is missing")));
    };
    let scanned = log::scan(file, position)
        .map_err(io_error(path, "reading the log"))?
        .map_err(|e| log_error(path, e))?;
    if scanned.id != id {
        return Err(log_error(
            path,
            LogError::ForeignLog {
                expected: id,
                found: scanned.id,
            },
        ));
    }
    let s = &st::<redb::Error>("replaying the log");
    let mut done = Recovered::default();
    let mut txn = db.begin_write().map_err(|e| s(e.into()))?;
    txn.set_durability(redb::Durability::Immediate)
        .map_err(|e| s(e.into()))?;
    for record in &scanned.records {
        for op in ops::decode(record) {
            let op = op.map_err(|detail| {
                log_error(
                    path,
                    LogError::CorruptRecord {
                        position: scanned.end,
                        detail,
                    },
                )
            })?;
            apply_op(&txn, &op).map_err(|e| match e {
                Apply::Storage(e) => s(e),
                Apply::Bad(detail) => StoreError::Corrupt {
                    table: "log",
                    key: op.table.to_owned(),
                    detail: detail.into(),
                },
            })?;
            done.ops += 1;
        }
        done.records += 1;
    }
    {
        let mut meta = txn.open_table(tables::META).map_err(|e| s(e.into()))?;
        meta.remove(META_WAL).map_err(|e| s(e.into()))?;
    }
    crate::fault_point("wal-replay-commit");
    txn.commit().map_err(|e| s(e.into()))?;
    if done.records > 0 {
        tracing::info!(records = done.records, ops = done.ops, "replayed the write-ahead log");
    }
    Ok(done)
}

/// Removes the log session's key from a copy of the store (a backup is
/// whole in its file and has no log).
pub(crate) fn forget_session(txn: &redb::WriteTransaction) -> Result<()> {
    let s = &st::<redb::Error>("writing the backup");
    let mut meta = txn.open_table(tables::META).map_err(|e| s(e.into()))?;
    meta.remove(META_WAL).map_err(|e| s(e.into()))?;
    Ok(())
}

/// Whether the log holds writes the store file does not (for a read-only
/// open, which cannot replay them).
pub(crate) fn needs_replay(db: &dyn ReadableDatabase, path: &Path) -> Result<bool> {
    let Some((_, position)) = read_checkpoint(db)? else {
        return Ok(false);
    };
    if !path.exists() {
        return Ok(true);
    }
    let file = std::fs::File::open(path).map_err(io_error(path, "opening the log"))?;
    let backend = file_backend(file, path)?;
    match log::scan(&backend, position).map_err(io_error(path, "reading the log"))? {
        Ok(scanned) => Ok(!scanned.records.is_empty()),
        Err(_) => Ok(true),
    }
}

enum Apply {
    Storage(redb::Error),
    Bad(&'static str),
}

/// Applies one op to its table, found by name among the store's tables.
fn apply_op(txn: &redb::WriteTransaction, op: &ops::Op<'_>) -> std::result::Result<(), Apply> {
    macro_rules! try_table {
        ($t:ident) => {
            if op.table == tables::$t.name() {
                let mut table = txn.open_table(tables::$t).map_err(|e| Apply::Storage(e.into()))?;
                return put(&mut table, op);
            }
        };
    }
    tables::for_each_table!(try_table);
    Err(Apply::Bad("the log names a table this release does not have"))
}

fn fits<T: redb::Value>(bytes: &[u8]) -> bool {
    T::fixed_width().is_none_or(|w| w == bytes.len())
}

fn put<K: redb::Key + 'static, V: redb::Value + 'static>(
    table: &mut redb::Table<'_, K, V>,
    op: &ops::Op<'_>,
) -> std::result::Result<(), Apply> {
    if !fits::<K>(op.key) {
        return Err(Apply::Bad("key of the wrong width"));
    }
    let r = match op.value {
        Some(v) if !fits::<V>(v) => return Err(Apply::Bad("value of the wrong width")),
        Some(v) => table.insert(K::from_bytes(op.key), V::from_bytes(v)).map(drop),
        None => table.remove(K::from_bytes(op.key)).map(drop),
    };
    r.map_err(|e| Apply::Storage(e.into()))
}

/// The writer's side of the log: the open session and when to checkpoint.
pub(crate) struct Wal {
    file: LogFile,
    /// Everything before this position is in the store file durably.
    checkpoint: u64,
    last_checkpoint: Instant,
    interval: Duration,
}

impl Wal {
    /// Starts a log session in `file` and records it in the store (a
    /// durable commit), so a crash from here on is replayed at open.
    pub fn start(
        db: &Database,
        file: Box<dyn StorageBackend>,
        path: &Path,
        ring: u64,
        interval: Duration,
    ) -> Result<Wal> {
        let file = LogFile::create(file, path, ring)?;
        let s = &st::<redb::Error>("starting the log");
        let txn = db.begin_write().map_err(|e| s(e.into()))?;
        {
            let mut meta = txn.open_table(tables::META).map_err(|e| s(e.into()))?;
            meta.insert(META_WAL, encode_checkpoint(file.id(), 0).as_slice())
                .map_err(|e| s(e.into()))?;
        }
        txn.commit().map_err(|e| s(e.into()))?;
        Ok(Wal {
            file,
            checkpoint: 0,
            last_checkpoint: Instant::now(),
            interval,
        })
    }

    /// Whether a checkpoint is due: the interval passed with something
    /// logged since, or half the ring is used.
    pub fn checkpoint_due(&self) -> bool {
        let logged = self.file.end() - self.checkpoint;
        logged > 0 && (self.last_checkpoint.elapsed() >= self.interval || logged >= self.file.ring() / 2)
    }

    /// Whether a batch of `ops` bytes can be logged now.
    pub fn fits(&self, ops: usize) -> bool {
        self.file.fits(self.checkpoint, ops)
    }

    /// Appends a batch's ops and syncs them when `sync`. Returns the bytes
    /// appended.
    pub fn append(&mut self, ops: &[u8], sync: bool) -> Result<u64> {
        crate::fault_point("wal-append");
        let n = self.file.append(ops, sync)?;
        crate::fault_point("wal-appended");
        Ok(n)
    }

    /// The `meta` entry a checkpoint commits: everything logged so far.
    pub fn checkpoint_entry(&self) -> [u8; 16] {
        encode_checkpoint(self.file.id(), self.file.end())
    }

    /// Notes that a checkpoint with [`Wal::checkpoint_entry`] committed.
    pub fn checkpointed(&mut self) {
        self.checkpoint = self.file.end();
        self.last_checkpoint = Instant::now();
    }

    /// How long until a checkpoint is due by time, if anything is logged.
    pub fn until_checkpoint(&self) -> Option<Duration> {
        (self.file.end() > self.checkpoint).then(|| self.interval.saturating_sub(self.last_checkpoint.elapsed()))
    }
}
