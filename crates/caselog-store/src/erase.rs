//! Permanent erasure of a case, and the scrub that removes its bytes from
//! the files.
//!
//! [`Store::erase`] removes, in one transaction: the case record, its number,
//! its thread, the attachment bytes no other case's thread references, its
//! view and queue entries, its read markers, and its feed records, which are
//! replaced by one [`crate::ChangeKind::Erased`] tombstone; the index's change
//! log gets the case's id, so the indexer deletes its document. A crash leaves
//! the case either whole or gone.
//!
//! Removed data can still sit in free pages of the store file and in
//! deleted-but-unmerged documents of the index. [`Store::scrub`] (on a
//! closed store) compacts the redb file and merges every index segment,
//! after which no byte of an erased case's text remains in either.

use std::path::{Path, PathBuf};

use caselog_core::{CaseId, CaseNumber, TenantId, Timestamp};
use redb::ReadableTable;

use crate::error::{io, ix, st};
use crate::error::{Result, StoreError};
use crate::model::{CaseRef, Scope};
use crate::records;
use crate::store::{Store, STORE_FILE};
use crate::stored::resolve;
use crate::write::{remove_views, Ctx, Tables};
use crate::writer::ext;

/// What an erasure removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    /// The erased case's id.
    pub id: CaseId,
    /// Its number (kept only in the feed's tombstone).
    pub number: CaseNumber,
    /// Its tenant.
    pub tenant: TenantId,
    /// Thread entries removed.
    pub entries: u32,
    /// Attachment contents removed (those no other case referenced).
    pub blobs: usize,
    /// Feed records replaced by the tombstone.
    pub feed_records: usize,
    /// The change sequence of the erasure (the tombstone's).
    pub change: u64,
}

/// What [`Store::scrub`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrubReport {
    /// Store file size before, in bytes.
    pub store_bytes_before: u64,
    /// Store file size after.
    pub store_bytes_after: u64,
    /// Index segments before the merge.
    pub segments_before: usize,
    /// Index segments after (0 or 1).
    pub segments_after: usize,
    /// Deleted documents the merge dropped.
    pub deleted_docs_dropped: u64,
}

/// Erases one case inside the writer's transaction.
pub(crate) fn erase_case(
    t: &mut Tables<'_>,
    ctx: &mut Ctx<'_>,
    scope: &Scope,
    case: &CaseRef,
    now: Timestamp,
) -> Result<Erased> {
    let c = resolve(&t.cases, &t.numbers, scope, case)?;
    let id = c.id.0;
    // Everything is read; from here on the command only removes.
    remove_views(t, ctx.opts, &c)?;
    let mut hashes = Vec::new();
    for seq in 0..c.entries {
        if let Some(v) = t.thread.remove((id, seq)).map_err(st("erasing a thread"))? {
            let attachments = records::entry_attachments(v.value(), id, seq)?;
            hashes.extend(attachments.iter().map(|a| a.sha256.0));
        }
    }
    hashes.sort_unstable();
    hashes.dedup();
    let blobs = remove_unreferenced_blobs(t, &hashes)?;
    t.cases.remove(id).map_err(st("erasing a case"))?;
    t.numbers
        .remove(c.number.as_str())
        .map_err(st("erasing a case number"))?;
    let markers: Vec<(String, u64)> = {
        let mut out = Vec::new();
        for item in t.read_markers.iter().map_err(st("erasing read markers"))? {
            let (k, _) = item.map_err(st("erasing read markers"))?;
            let (user, case) = k.value();
            if case == id {
                out.push((user.to_owned(), case));
            }
        }
        out
    };
    for (user, case) in &markers {
        t.read_markers
            .remove((user.as_str(), *case))
            .map_err(st("erasing read markers"))?;
    }
    // The index's log gets the id (the indexer deletes the document of a
    // case the store no longer has); the feed gets the tombstone.
    let seq = ctx.next_change;
    t.changes.insert(seq, id).map_err(st("writing the change log"))?;
    ctx.next_change += 1;
    let feed_records = crate::feed::tombstone(t, seq, c.id, &c.number, &c.tenant, now)?;
    Ok(Erased {
        id: c.id,
        number: c.number,
        tenant: c.tenant,
        entries: c.entries,
        blobs,
        feed_records,
        change: seq,
    })
}

/// Removes the blobs of `hashes` that no thread entry still references. A
/// thread entry holds each attachment's SHA-256 as 32 raw bytes in its
/// record, so the raw records are searched rather than decoded; a chance
/// match only keeps a blob, never removes a referenced one.
fn remove_unreferenced_blobs(t: &mut Tables<'_>, hashes: &[[u8; 32]]) -> Result<usize> {
    if hashes.is_empty() {
        return Ok(0);
    }
    let mut referenced = vec![false; hashes.len()];
    for item in t.thread.iter().map_err(st("checking attachment references"))? {
        let (_, v) = item.map_err(st("checking attachment references"))?;
        let bytes = v.value();
        for (i, h) in hashes.iter().enumerate() {
            if !referenced[i] && bytes.windows(32).any(|w| w == h) {
                referenced[i] = true;
            }
        }
        if referenced.iter().all(|&r| r) {
            break;
        }
    }
    let mut removed = 0;
    for (h, r) in hashes.iter().zip(referenced) {
        if !r && t.blobs.remove(h).map_err(st("erasing an attachment"))?.is_some() {
            removed += 1;
        }
    }
    Ok(removed)
}

impl Store {
    /// Erases a case permanently (see the module documentation for what is
    /// removed). A tenant scope can erase only its own cases. The erasure
    /// reaches the feed as a [`crate::ChangeKind::Erased`] tombstone. Its
    /// bytes leave the files at the next [`Store::scrub`].
    pub fn erase(&self, scope: &Scope, case: &CaseRef) -> Result<Erased> {
        let scope = scope.clone();
        let case = case.clone();
        self.submit(ext(move |t, ctx, now| erase_case(t, ctx, &scope, &case, now)))
    }

    /// Erases several cases in one transaction (all or none on a storage
    /// failure; a case not found is skipped and reported as `None`).
    pub(crate) fn erase_many(&self, ids: Vec<CaseId>) -> Result<Vec<Option<Erased>>> {
        self.submit(ext(move |t, ctx, now| erase_ids(t, ctx, ids, now)))
    }

    /// Scrubs a closed store in `dir`: compacts the store file (dropping the
    /// free pages that may still hold erased data) and merges every index
    /// segment into one (dropping deleted documents), then removes the
    /// files no commit refers to. After it no byte of an erased case's text
    /// remains in the store's files. The store must not be open
    /// ([`StoreError::AlreadyOpen`] otherwise).
    pub fn scrub(dir: impl AsRef<Path>) -> Result<ScrubReport> {
        let dir = dir.as_ref();
        let path = dir.join(STORE_FILE);
        let size = |p: &PathBuf| {
            std::fs::metadata(p)
                .map(|m| m.len())
                .map_err(io("reading the size of", p))
        };
        let store_bytes_before = size(&path)?;
        crate::compact::compact_file(&path)?;
        // The write-ahead log holds the bytes of past writes, erased ones
        // too: the compaction replayed what it had into the store, so it
        // goes (the next open starts a new one).
        let log = dir.join(crate::wal::WAL_FILE);
        if log.exists() {
            std::fs::remove_file(&log).map_err(io("removing the write-ahead log", &log))?;
        }
        let store_bytes_after = size(&path)?;
        let (segments_before, segments_after, deleted_docs_dropped) = merge_index(&dir.join("index"))?;
        Ok(ScrubReport {
            store_bytes_before,
            store_bytes_after,
            segments_before,
            segments_after,
            deleted_docs_dropped,
        })
    }
}

/// Merges every segment of the index in `dir` into one and collects the
/// files no longer referenced. A missing index is left alone (the next open
/// rebuilds it).
fn merge_index(dir: &Path) -> Result<(usize, usize, u64)> {
    if !dir.join("meta.json").exists() {
        return Ok((0, 0, 0));
    }
    let index = tantivy::Index::open_in_dir(dir).map_err(ix("opening the index to scrub"))?;
    let segments = index
        .searchable_segment_metas()
        .map_err(ix("reading the index segments"))?;
    let before = segments.len();
    let deleted: u64 = segments.iter().map(|s| u64::from(s.num_deleted_docs())).sum();
    let mut writer: tantivy::IndexWriter<tantivy::TantivyDocument> = index
        .writer_with_num_threads(1, 20_000_000)
        .map_err(ix("opening the index writer to scrub"))?;
    let ids = index
        .searchable_segment_ids()
        .map_err(ix("reading the index segments"))?;
    if !ids.is_empty() && (ids.len() > 1 || deleted > 0) {
        writer.merge(&ids).wait().map_err(ix("merging the index segments"))?;
    }
    writer.wait_merging_threads().map_err(ix("finishing the index merge"))?;
    // The merging writer still protects the files of the segments it merged;
    // a fresh writer's collection removes them.
    let writer: tantivy::IndexWriter<tantivy::TantivyDocument> = index
        .writer_with_num_threads(1, 20_000_000)
        .map_err(ix("opening the index writer to scrub"))?;
    writer
        .garbage_collect_files()
        .wait()
        .map_err(ix("removing unreferenced index files"))?;
    writer.wait_merging_threads().map_err(ix("finishing the index merge"))?;
    let live: Vec<String> = index
        .searchable_segment_ids()
        .map_err(ix("reading the index segments"))?
        .iter()
        .map(|id| id.uuid_string())
        .collect();
    remove_dead_segment_files(dir, &live)?;
    Ok((before, live.len(), deleted))
}

/// Removes every segment file (`<32 hex digits>.<ext>`) of a segment that
/// is not live. tantivy's collection only removes the files its
/// `.managed.json` lists, and files written by an earlier process that died
/// or by a swapped-in rebuild may not be listed; the store is closed, so no
/// reader can still need them.
fn remove_dead_segment_files(dir: &Path, live: &[String]) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(io("listing", dir))? {
        let entry = entry.map_err(io("listing", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, _)) = name.split_once('.') else {
            continue;
        };
        let is_segment = stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit());
        if is_segment && !live.iter().any(|l| l == stem) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io("removing a dead index segment file", &path))?;
        }
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing", dir))
}

/// Erases the cases `ids` in the batch's transaction (a case not found is
/// `None`); the retention pass of [`crate::Store::run_retention`] and of
/// the timer thread.
pub(crate) fn erase_ids(
    t: &mut Tables<'_>,
    ctx: &mut Ctx<'_>,
    ids: Vec<CaseId>,
    now: Timestamp,
) -> Result<Vec<Option<Erased>>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match erase_case(t, ctx, &Scope::AllTenants, &CaseRef::Id(id), now) {
            Ok(e) => out.push(Some(e)),
            Err(StoreError::CaseNotFound(_)) => out.push(None),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
