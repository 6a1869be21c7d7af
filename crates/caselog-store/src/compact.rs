//! Compaction of a closed store's file.
//!
//! redb's copy-on-write B-trees free pages as they go, and a file never
//! shrinks by itself: the free pages stay in it (reused by later writes).
//! A bulk import into an empty store leaves many (every chunk rewrites the
//! leaves of the view tables it touches). `Database::compact` moves pages
//! towards the start of the file and truncates the free tail; it needs the
//! database to itself, so it runs on a closed store, opened exclusively
//! (redb locks the file: a store open in any process is
//! [`StoreError::AlreadyOpen`]).

use std::path::Path;

use crate::error::{io, Result, StoreError};
use crate::store::{Store, STORE_FILE};

/// What [`Store::compact`] did to the store file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactReport {
    /// File length before, in bytes.
    pub bytes_before: u64,
    /// File length after.
    pub bytes_after: u64,
    /// Disk space allocated to the file before (blocks × 512 where the
    /// platform reports blocks, else the length).
    pub allocated_before: u64,
    /// Disk space allocated after.
    pub allocated_after: u64,
}

impl Store {
    /// Compacts the store file of the closed store in `dir`: the free pages
    /// of the copy-on-write tree are given back to the file system. The
    /// index is not touched. [`StoreError::AlreadyOpen`] when the store is
    /// open.
    pub fn compact(dir: impl AsRef<Path>) -> Result<CompactReport> {
        let path = dir.as_ref().join(STORE_FILE);
        let (bytes_before, allocated_before) = sizes(&path)?;
        compact_file(&path)?;
        let (bytes_after, allocated_after) = sizes(&path)?;
        Ok(CompactReport {
            bytes_before,
            bytes_after,
            allocated_before,
            allocated_after,
        })
    }
}

/// Compacts a closed redb file until no page moves (the caller has checked
/// that it exists: redb would otherwise create it).
pub(crate) fn compact_file(path: &Path) -> Result<()> {
    // A damaged file is reported, not trusted (compaction rewrites it).
    let mut db = redb::Database::builder()
        .set_check_integrity_on_open(true)
        .set_cache_size(crate::store::ONE_PASS_CACHE_BYTES)
        .open(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen { path: path.to_owned() },
            other => StoreError::storage("opening the store to compact", other),
        })?;
    // Writes the log holds and the file does not go in first (the replay
    // closes the log's session): compaction rewrites only the file.
    let log = path.with_file_name(crate::wal::WAL_FILE);
    let file = if log.exists() {
        Some(crate::wal::open_file(&log)?)
    } else {
        None
    };
    crate::wal::recover(&db, file.as_deref(), &log)?;
    drop(file);
    // Each pass moves pages towards the start; repeat until none moves.
    while db
        .compact()
        .map_err(|e| StoreError::storage("compacting the store", e))?
    {}
    Ok(())
}

/// The file's length and allocated size.
fn sizes(path: &Path) -> Result<(u64, u64)> {
    let meta = std::fs::metadata(path).map_err(io("reading the size of", path))?;
    #[cfg(unix)]
    let allocated = std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
    #[cfg(not(unix))]
    let allocated = meta.len();
    Ok((meta.len(), allocated))
}
