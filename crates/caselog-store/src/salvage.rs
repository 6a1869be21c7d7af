//! Salvage: every case a damaged store still yields, and the ones it does
//! not.
//!
//! Salvage never writes the store. It opens the file read-only, finds the
//! case ids defensively (the id counter, the numbers table, a scan of the
//! cases table — each scan keeps what it read before any damage), then
//! reads each case by id with a point lookup in its own guarded read: a
//! damaged page costs the cases stored under it, not the rest. A file that
//! needs crash recovery is recovered in a temporary copy, never in place.

use crate::error::io;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableTable};

use crate::error::{Result, StoreError};
use crate::guard::{quietly, Damage};
use crate::model::{Case, ThreadEntry};
use crate::options::{Options, StorageHooks};
use crate::snapshot::Snapshot;
use crate::store::{open_error, open_read_only_db, BoxedBackend, ReadDb, Store, STORE_FILE};
use crate::tables;

/// How far past the highest id found elsewhere the id counter is trusted
/// (a damaged counter must not send salvage through 2^64 lookups).
const COUNTER_SLACK: u64 = 1_000_000;

/// A case salvage could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalvageLoss {
    /// The case's internal id.
    pub id: u64,
    /// Its number, when the numbers table still names it.
    pub number: Option<String>,
    /// Why it could not be read.
    pub error: String,
}

/// What [`Store::salvage`] recovered and lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalvageReport {
    /// Cases read whole and handed to the caller.
    pub recovered: u64,
    /// Cases known to exist (by id) that could not be read.
    pub lost: Vec<SalvageLoss>,
    /// The id counter, if it could be read: ids below it were allocated.
    pub next_case_id: Option<u64>,
    /// Damage met while looking for case ids (the lookups go on).
    pub notes: Vec<String>,
    /// The file needed crash recovery, which was done in a temporary copy.
    pub recovered_in_copy: bool,
}

impl Store {
    /// Reads every case of the store in directory `dir` that can still be
    /// read, handing each (with its whole, checked thread) to `emit` in id
    /// order, and reports the ones that cannot. The store is not modified.
    /// An error from `emit` stops the salvage and is returned.
    pub fn salvage(
        dir: impl AsRef<Path>,
        emit: impl FnMut(&Case, &[ThreadEntry]) -> Result<()>,
    ) -> Result<SalvageReport> {
        Self::salvage_with(dir, &Options::default(), StorageHooks::default(), emit)
    }

    /// [`Store::salvage`] over caller-supplied storage
    /// ([`StorageHooks::backend`], opened read-only; the index hook is not
    /// used).
    pub fn salvage_with(
        dir: impl AsRef<Path>,
        opts: &Options,
        hooks: StorageHooks,
        mut emit: impl FnMut(&Case, &[ThreadEntry]) -> Result<()>,
    ) -> Result<SalvageReport> {
        let path = dir.as_ref().join(STORE_FILE);
        let damage = Damage::new(&path);
        let mut report = SalvageReport::default();
        let mut copy = None;
        let db: Arc<ReadDb> = match hooks.backend {
            Some(backend) => damage.guard("opening the store read-only", || {
                let mut builder = Database::builder();
                builder.set_cache_size(opts.cache_bytes);
                let db = builder
                    .open_read_only_with_backend(BoxedBackend(backend))
                    .map_err(|e| open_error("opening the store read-only", &path, e))?;
                Ok(Arc::new(db) as Arc<ReadDb>)
            })?,
            None => match damage.guard("opening the store read-only", || {
                open_read_only_db(&path, opts.cache_bytes)
            }) {
                Ok(db) => Arc::new(db),
                Err(StoreError::NeedsRecovery { .. }) => {
                    let (db, tmp) = recover_copy(&path, opts, &damage)?;
                    copy = Some(tmp);
                    report.recovered_in_copy = true;
                    db
                }
                Err(e) => return Err(e),
            },
        };
        let result = salvage_db(&db, &damage, dir.as_ref(), &mut report, &mut emit);
        drop(db);
        if let Some(tmp) = copy {
            let _ = std::fs::remove_dir_all(tmp);
        }
        result.map(|()| report)
    }
}

/// Copies a store file that needs crash recovery into a new temporary
/// directory and opens the copy read-write, which recovers it there.
fn recover_copy(path: &Path, opts: &Options, damage: &Damage) -> Result<(Arc<ReadDb>, PathBuf)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = std::env::temp_dir().join(format!("caselog-salvage-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(io("creating a directory for a recovery copy", &tmp))?;
    let target = tmp.join(STORE_FILE);
    let opened = std::fs::copy(path, &target)
        .map_err(io("copying the store for recovery", &target))
        .and_then(|_| {
            damage.guard("recovering a copy of the store", || {
                let mut builder = Database::builder();
                builder.set_cache_size(opts.cache_bytes);
                builder
                    .open(&target)
                    .map_err(|e| open_error("recovering a copy of the store", &target, e))
            })
        });
    match opened {
        Ok(db) => {
            replay_into_copy(path, &tmp, &db, damage);
            let db: Arc<ReadDb> = Arc::new(db);
            Ok((db, tmp))
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// Replays the store's write-ahead log (copied next to the recovered copy)
/// into the copy, as an open would: the acknowledged writes the store file
/// lacks. A log that cannot be replayed leaves the copy as the file had it
/// (salvage reads what it can).
fn replay_into_copy(path: &Path, tmp: &Path, db: &Database, damage: &Damage) {
    let log = path.with_file_name(crate::wal::WAL_FILE);
    if !log.exists() {
        return;
    }
    let copy = tmp.join(crate::wal::WAL_FILE);
    let replayed = std::fs::copy(&log, &copy)
        .map_err(io("copying the log for recovery", &copy))
        .and_then(|_| crate::wal::open_file(&copy))
        .and_then(|file| {
            damage.guard("replaying the log into the copy", || {
                crate::wal::recover(db, Some(&*file), &copy)
            })
        });
    if let Err(e) = replayed {
        tracing::warn!("salvage: the log could not be replayed, reading the store file alone: {e}");
    }
}

fn salvage_db(
    db: &Arc<ReadDb>,
    damage: &Damage,
    source: &Path,
    report: &mut SalvageReport,
    emit: &mut dyn FnMut(&Case, &[ThreadEntry]) -> Result<()>,
) -> Result<()> {
    let (candidates, numbers) = find_ids(db, damage, report);
    // One snapshot serves every case until a read through it fails; a
    // panic may leave redb's state of that transaction unusable.
    let mut snapshot: Option<Snapshot> = None;
    for id in candidates {
        let read = quietly(|| -> Result<Option<(Case, Vec<ThreadEntry>)>> {
            if snapshot.is_none() {
                snapshot = Some(Snapshot::open(&**db, damage, source)?);
            }
            match &snapshot {
                Some(s) => s.case_by_id(id),
                None => Ok(None),
            }
        });
        let failure = match read {
            Ok(Ok(Some((case, thread)))) => {
                emit(&case, &thread)?;
                report.recovered += 1;
                continue;
            }
            Ok(Ok(None)) => "no record under this id (its page is damaged, or the id was never used)".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(panic) => panic,
        };
        snapshot = None;
        report.lost.push(SalvageLoss {
            id,
            number: numbers.get(&id).cloned(),
            error: failure,
        });
    }
    Ok(())
}

/// Every id a case may have: the counter's range and whatever the numbers
/// table and the cases table still list. Also returns id → number.
fn find_ids(db: &Arc<ReadDb>, damage: &Damage, report: &mut SalvageReport) -> (BTreeSet<u64>, BTreeMap<u64, String>) {
    let mut ids = BTreeSet::new();
    let mut numbers = BTreeMap::new();
    let mut note = |what: &str, e: String| report.notes.push(format!("{what}: {e}"));

    let counter = quietly(|| crate::store::meta_counter(&**db, tables::NEXT_CASE_ID));
    let counter = match counter {
        Ok(Ok(n)) => Some(n),
        Ok(Err(e)) => {
            note("reading the id counter", e.to_string());
            None
        }
        Err(panic) => {
            note("reading the id counter", panic);
            None
        }
    };

    // Each scan keeps what it read before any damage stopped it.
    let mut scan = |what: &str, f: &mut dyn FnMut() -> Result<()>| match quietly(f) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => note(what, e.to_string()),
        Err(panic) => note(what, panic),
    };
    scan("listing case numbers", &mut || {
        let txn = db.begin_read().map_err(|e| StoreError::storage("listing numbers", e))?;
        let table = txn
            .open_table(tables::NUMBERS)
            .map_err(|e| StoreError::storage("listing numbers", e))?;
        for item in table.iter().map_err(|e| StoreError::storage("listing numbers", e))? {
            let (k, v) = item.map_err(|e| StoreError::storage("listing numbers", e))?;
            ids.insert(v.value());
            numbers.insert(v.value(), k.value().to_owned());
        }
        Ok(())
    });
    scan("listing case ids", &mut || {
        let txn = db.begin_read().map_err(|e| StoreError::storage("listing cases", e))?;
        let table = txn
            .open_table(tables::CASES)
            .map_err(|e| StoreError::storage("listing cases", e))?;
        for item in table.iter().map_err(|e| StoreError::storage("listing cases", e))? {
            ids.insert(item.map_err(|e| StoreError::storage("listing cases", e))?.0.value());
        }
        Ok(())
    });
    let highest_seen = ids.last().copied().unwrap_or(0);
    if let Some(next) = counter {
        let bound = next.min(highest_seen.saturating_add(COUNTER_SLACK).saturating_add(1));
        if bound < next {
            report.notes.push(format!(
                "the id counter says {next}, far past the highest id found ({highest_seen}); looked up to {bound}"
            ));
        }
        ids.extend(1..bound);
    }
    report.next_case_id = counter;
    if !report.notes.is_empty() {
        damage.record(&StoreError::Damaged {
            action: "salvaging",
            path: damage.path().to_owned(),
            detail: report.notes.join("; "),
        });
    }
    (ids, numbers)
}
