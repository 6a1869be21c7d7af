//! Opening the index: what is on disk checked against the store (meta,
//! schema, payload, change-log coverage), a staged rebuild installed, the
//! writer and its commits, a rebuild from one store snapshot, and the
//! in-memory index of a read-only open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};
use std::time::Instant;

use crossbeam_channel::bounded;
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher};

use crate::error::{io, ix, st, Result, StoreError};
use crate::files::sync_dir;
use crate::index::analysis;
use crate::index::schema::{schema_fingerprint, Fields};
use crate::index::stale::{inspect, Generation};
use crate::options::{IndexDirectoryHook, Options};
use crate::records;
use crate::stored::{full_thread, read_counter};
use crate::tables;

use super::*;

/// Where the index lives and how to open its directories: everything a
/// rebuild needs besides the store.
#[derive(Clone)]
pub(super) struct Place {
    pub(super) store_dir: PathBuf,
    pub(super) hook: Option<IndexDirectoryHook>,
    pub(super) schema: tantivy::schema::Schema,
    pub(super) schema_id: String,
    pub(super) store_id: String,
    pub(super) fields: Fields,
    pub(super) tuning: WriterTuning,
}

/// The options every index writer of the store is made with.
#[derive(Debug, Clone, Copy)]
pub(super) struct WriterTuning {
    /// `Options::index_heap_bytes`.
    heap_bytes: usize,
    /// `Options::index_merge_min_segments`.
    merge_min_segments: usize,
    /// `Options::index_merge_min_layer_docs`.
    merge_min_layer_docs: u32,
    /// `Options::index_threads`.
    threads: usize,
}

impl WriterTuning {
    pub(super) fn of(opts: &Options) -> Self {
        Self {
            heap_bytes: opts.index_heap_bytes,
            merge_min_segments: opts.index_merge_min_segments,
            merge_min_layer_docs: opts.index_merge_min_layer_docs,
            threads: opts.index_threads,
        }
    }
}

impl Place {
    pub(super) fn live(&self) -> PathBuf {
        self.store_dir.join(INDEX_DIR)
    }

    pub(super) fn staging(&self) -> PathBuf {
        self.store_dir.join(STAGING_DIR)
    }

    pub(super) fn retired(&self) -> PathBuf {
        self.store_dir.join(RETIRED_DIR)
    }

    pub(super) fn directory(&self, dir: &Path) -> Result<Box<dyn tantivy::Directory>> {
        open_directory(dir, self.hook.as_ref()).map_err(|e| StoreError::index("opening the index directory", &e.into()))
    }

    pub(super) fn payload(&self, change: u64, max_id: u64) -> Payload {
        Payload {
            v: PAYLOAD_VERSION,
            schema: self.schema_id.clone(),
            change,
            store: self.store_id.clone(),
            max_id: (max_id != u64::MAX).then_some(max_id),
        }
    }

    /// Opens the installed index with a reader.
    pub(super) fn open_live(&self) -> Result<(Index, IndexReader)> {
        let index = Index::open(self.directory(&self.live())?).map_err(ix("opening the rebuilt index"))?;
        analysis::register(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(ix("opening the index reader"))?;
        Ok((index, reader))
    }

    /// After a crash between the two renames of [`Self::install`]: installs
    /// the staged index if it is complete (its one commit, made when the
    /// build ended, names this store and schema) and fits the store, and
    /// opens it. Otherwise the index is missing (the indexer removes the
    /// staging directory and rebuilds).
    pub(super) fn install_staged(
        &self,
        txn: &ReadTransaction,
        last: u64,
    ) -> std::result::Result<(Index, IndexReader, Payload), RebuildReason> {
        let staging = self.staging();
        let fits = try_open(self, &staging).and_then(|(_, _, payload)| check_fits(txn, payload.change, last));
        if let Err(why) = fits {
            if staging.exists() {
                tracing::info!("discarding an unfinished rebuild: {why}");
            }
            return Err(RebuildReason::Missing);
        }
        let installed = std::fs::rename(&staging, self.live())
            .map_err(|e| e.to_string())
            .and_then(|()| sync_dir(&self.store_dir).map_err(|e| e.to_string()));
        if let Err(why) = installed {
            tracing::warn!("could not install the rebuilt index left by an interrupted install: {why}");
            return Err(RebuildReason::Missing);
        }
        tracing::info!("installed the rebuilt index left by an interrupted install");
        try_open(self, &self.live())
    }

    /// Removes what an interrupted rebuild or install left behind.
    pub(super) fn remove_leftovers(&self) {
        for dir in [self.staging(), self.retired()] {
            if dir.exists() {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!("could not remove {}: {e}", dir.display());
                }
            }
        }
    }

    /// Builds a complete index of the store as of one snapshot in the
    /// staging directory, committed and with every merge finished. Returns
    /// the report and the highest case id indexed.
    pub(super) fn build(
        &self,
        db: &Database,
        reason: RebuildReason,
        progress: &mut dyn FnMut(&IndexProgress),
        cancel: &dyn Fn() -> bool,
    ) -> Result<(RebuildReport, u64)> {
        let dir = self.staging();
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io("removing an unfinished rebuild", &dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(io("creating the rebuild directory", &dir))?;
        let index = Index::create(self.directory(&dir)?, self.schema.clone(), Default::default())
            .map_err(ix("creating the index"))?;
        analysis::register(&index);
        let mut writer = new_writer(&index, self)?;
        let built = rebuild(&mut writer, self, db, reason, progress, cancel)?;
        // Merges write into the directory; it only moves once they are done.
        writer
            .wait_merging_threads()
            .map_err(ix("finishing the rebuilt index's merges"))?;
        Ok(built)
    }

    /// Moves the staged index into place: the live one (if any) aside, the
    /// staged one in, the store directory synced, the old one deleted. A
    /// crash between the renames leaves no live index, which the next open
    /// rebuilds; either complete index is valid on its own.
    pub(super) fn install(&self) -> Result<()> {
        let (live, staging, retired) = (self.live(), self.staging(), self.retired());
        if retired.exists() {
            std::fs::remove_dir_all(&retired).map_err(io("removing a replaced index", &retired))?;
        }
        if live.exists() {
            std::fs::rename(&live, &retired).map_err(io("moving the old index aside", &live))?;
        }
        std::fs::rename(&staging, &live).map_err(io("installing the rebuilt index", &staging))?;
        sync_dir(&self.store_dir)?;
        if let Err(e) = std::fs::remove_dir_all(&retired) {
            if retired.exists() {
                tracing::warn!("could not remove the replaced index {}: {e}", retired.display());
            }
        }
        Ok(())
    }
}

/// How `open` found the index.
pub(super) enum Start {
    /// An index that fits the store, opened with a reader.
    Existing {
        index: Index,
        reader: IndexReader,
        generation: Generation,
        change: u64,
    },
    /// No usable index: the indexer rebuilds first.
    Rebuild(RebuildReason),
}

/// An index opened (or found unusable) but not yet followed by a thread.
pub(crate) struct Opened {
    pub(super) place: Place,
    /// Whether the last session ended cleanly (its marker was there).
    pub(super) clean: bool,
    pub(super) start: Start,
    /// Whether the open-time duplicate check runs after an unclean shutdown.
    pub(super) open_check: bool,
}

/// Opens the index of the store in `store_dir`, or decides it must be
/// rebuilt (missing, unreadable, of another schema or store, or not fitting
/// the store). Only cheap checks run here; a rebuild and the checks after an
/// unclean shutdown run on the indexer thread. Runs before the writer
/// starts.
pub(crate) fn open(
    store_dir: &Path,
    db: &Database,
    opts: &Options,
    hook: Option<&IndexDirectoryHook>,
) -> Result<Opened> {
    let (schema, fields) = Fields::build();
    let schema_id = schema_fingerprint(&schema);
    let store_id = store_id(db)?;
    let marker = store_dir.join(CLEAN_MARKER);
    // Only a clean shutdown leaves the marker; removing it now (durably)
    // means a crash in this session is noticed by the next open.
    let clean = marker.exists();
    if clean {
        std::fs::remove_file(&marker).map_err(io("removing the clean-shutdown marker", &marker))?;
        sync_dir(store_dir)?;
    }
    let place = Place {
        store_dir: store_dir.to_owned(),
        hook: hook.cloned(),
        schema,
        schema_id,
        store_id,
        fields,
        tuning: WriterTuning::of(opts),
    };
    let txn = db.begin_read().map_err(st("reading the store for the index"))?;
    let last = last_change_in(&txn)?;
    let attempt = match try_open(&place, &place.live()) {
        // A crash between the two renames of an install leaves the complete
        // rebuilt index in the staging directory and none in place.
        Err(RebuildReason::Missing) => place.install_staged(&txn, last),
        other => other,
    }
    .and_then(|(index, reader, payload)| check_fits(&txn, payload.change, last).map(|()| (index, reader, payload)));
    let cases = txn
        .open_table(tables::CASES)
        .map_err(st("counting cases"))?
        .len()
        .map_err(st("counting cases"))?;
    drop(txn);
    let start = match attempt {
        Ok((index, reader, payload)) => {
            let generation = inspect(reader.searcher(), db, payload.max_id)?;
            Start::Existing {
                index,
                reader,
                generation,
                change: payload.change,
            }
        }
        // An empty store's index is built at once: there is nothing to wait for.
        Err(reason) if cases == 0 => {
            tracing::info!("creating the search index: {reason}");
            place.build(db, reason, &mut |_| {}, &|| false)?;
            place.install()?;
            let (index, reader) = place.open_live()?;
            let change = payload_of(&index).map_or(0, |p| p.change);
            let generation = inspect(reader.searcher(), db, None)?;
            Start::Existing {
                index,
                reader,
                generation,
                change,
            }
        }
        Err(reason) => {
            tracing::warn!(dir = %place.live().display(), "the search index will be rebuilt: {reason}");
            Start::Rebuild(reason)
        }
    };
    Ok(Opened {
        place,
        clean,
        start,
        open_check: opts.index_open_duplicate_check,
    })
}

/// The store's id, kept in `meta`; a store that has none (created by an
/// earlier release) gets one now.
pub(super) fn store_id(db: &Database) -> Result<String> {
    if let Some(id) = read_store_id(db)? {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let txn = db.begin_write().map_err(st("recording the store id"))?;
    {
        let mut meta = txn.open_table(tables::META).map_err(st("recording the store id"))?;
        meta.insert(tables::META_STORE_ID, id.as_bytes())
            .map_err(st("recording the store id"))?;
    }
    txn.commit().map_err(st("recording the store id"))?;
    Ok(id)
}

/// The store's id, if it has one.
pub(super) fn read_store_id(db: &dyn ReadableDatabase) -> Result<Option<String>> {
    let txn = db.begin_read().map_err(st("reading the store id"))?;
    let meta = txn.open_table(tables::META).map_err(st("reading the store id"))?;
    let Some(v) = meta.get(tables::META_STORE_ID).map_err(st("reading the store id"))? else {
        return Ok(None);
    };
    String::from_utf8(v.value().to_vec())
        .map(Some)
        .map_err(|_| StoreError::Corrupt {
            table: "meta",
            key: tables::META_STORE_ID.into(),
            detail: "the store id is not UTF-8".into(),
        })
}

pub(super) fn payload_of(index: &Index) -> Option<Payload> {
    let metas = index.load_metas().ok()?;
    serde_json::from_str(metas.payload.as_deref()?).ok()
}

/// Opens an existing index (in `dir`) with a reader and reads its payload;
/// any failure is the reason to rebuild.
pub(super) fn try_open(place: &Place, dir: &Path) -> std::result::Result<(Index, IndexReader, Payload), RebuildReason> {
    if !dir.join("meta.json").exists() {
        return Err(RebuildReason::Missing);
    }
    let unreadable = |e: &dyn std::fmt::Display| RebuildReason::Unreadable(e.to_string());
    // tantivy may panic on damaged files rather than return an error; a
    // damaged index must only ever lead to a rebuild.
    // Nothing outlives a panic here but the hook, which is only called.
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> std::result::Result<(Index, IndexReader, Payload), RebuildReason> {
            let directory = open_directory(dir, place.hook.as_ref()).map_err(|e| unreadable(&e))?;
            let index = Index::open(directory).map_err(|e| unreadable(&e))?;
            analysis::register(&index);
            if serde_json::to_value(index.schema()).ok() != serde_json::to_value(&place.schema).ok() {
                return Err(RebuildReason::SchemaChanged);
            }
            let metas = index.load_metas().map_err(|e| unreadable(&e))?;
            let payload: Payload = match metas.payload.as_deref().map(serde_json::from_str) {
                None => return Err(RebuildReason::Stale("the last commit has no payload".into())),
                Some(Err(e)) => return Err(RebuildReason::Stale(format!("unreadable commit payload: {e}"))),
                Some(Ok(p)) => p,
            };
            if payload.v != PAYLOAD_VERSION || payload.schema != place.schema_id {
                return Err(RebuildReason::SchemaChanged);
            }
            if payload.store != place.store_id {
                return Err(RebuildReason::Stale(format!(
                    "the index belongs to another store ({})",
                    payload.store
                )));
            }
            // Opening a reader opens every segment (footers, term dictionaries,
            // fast fields), which catches truncated or missing files.
            let reader = index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map_err(|e| unreadable(&e))?;
            Ok((index, reader, payload))
        },
    ));
    opened.unwrap_or_else(|_| Err(RebuildReason::Unreadable("the index failed its checks".into())))
}

/// The on-disk index directory, wrapped by the caller's hook if any.
pub(super) fn open_directory(
    dir: &Path,
    hook: Option<&IndexDirectoryHook>,
) -> std::result::Result<Box<dyn tantivy::Directory>, tantivy::directory::error::OpenDirectoryError> {
    let mmap: Box<dyn tantivy::Directory> = Box::new(MmapDirectory::open(dir)?);
    Ok(match hook {
        Some(wrap) => wrap(mmap),
        None => mmap,
    })
}

/// Whether an index covering `change` can catch up with a store whose last
/// change is `last`.
pub(super) fn check_fits(txn: &ReadTransaction, change: u64, last: u64) -> std::result::Result<(), RebuildReason> {
    if change > last {
        return Err(RebuildReason::Stale(format!(
            "the index covers change {change} but the store's last change is {last}"
        )));
    }
    if change == last {
        return Ok(());
    }
    let first = txn
        .open_table(tables::CHANGES)
        .map_err(|e| RebuildReason::Unreadable(e.to_string()))
        .and_then(|t| {
            t.range(change.saturating_add(1)..)
                .map_err(|e| RebuildReason::Unreadable(e.to_string()))?
                .next()
                .transpose()
                .map(|o| o.map(|(k, _)| k.value()))
                .map_err(|e| RebuildReason::Unreadable(e.to_string()))
        })?;
    if first != Some(change + 1) {
        return Err(RebuildReason::Stale(format!(
            "the change log no longer holds change {} (pruned past the index)",
            change + 1
        )));
    }
    Ok(())
}

pub(super) fn last_change_in(txn: &ReadTransaction) -> Result<u64> {
    let meta = txn.open_table(tables::META).map_err(st("reading counters"))?;
    Ok(read_counter(&meta, tables::NEXT_CHANGE)?.saturating_sub(1))
}

pub(super) fn new_writer(index: &Index, place: &Place) -> Result<IndexWriter> {
    let tuning = place.tuning;
    let heap = tuning.heap_bytes.max(MIN_HEAP_PER_THREAD);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Half the cores by default: the store's writer and the indexer's own
    // thread (reading cases, building documents) need the others, and
    // every indexing thread writes its own segment per commit, so more
    // threads also mean more small segments to merge (BENCHMARKS.md).
    let threads = match tuning.threads {
        0 => (cores / 2).clamp(1, 4),
        n => n,
    }
    .min(heap / MIN_HEAP_PER_THREAD)
    .max(1);
    let options = tantivy::indexer::IndexWriterOptions::builder()
        .num_worker_threads(threads)
        .memory_budget_per_thread(heap / threads)
        // Merges run in the background; one thread keeps them from
        // crowding out the store's writer on small machines.
        .num_merge_threads(1)
        .build();
    let writer: IndexWriter = index
        .writer_with_options(options)
        .map_err(ix("starting the index writer"))?;
    let mut policy = tantivy::indexer::LogMergePolicy::default();
    policy.set_min_num_segments(tuning.merge_min_segments.max(2));
    policy.set_min_layer_size(tuning.merge_min_layer_docs.max(1));
    writer.set_merge_policy(Box::new(policy));
    // Before any operation: tantivy would hand out the committed opstamp
    // again, and a delete carrying it can be lost in a merge (opstamps.rs).
    skip_used_opstamps(&writer).map_err(ix("starting the index writer"))?;
    Ok(writer)
}

pub(super) fn commit(writer: &mut IndexWriter, payload: &Payload) -> Result<()> {
    let payload = serde_json::to_string(payload)
        .map_err(|e| StoreError::index_detail("writing the commit payload", e.to_string()))?;
    let mut prepared = writer.prepare_commit().map_err(ix("preparing an index commit"))?;
    prepared.set_payload(&payload);
    prepared.commit().map_err(ix("committing the index"))?;
    Ok(())
}

/// Indexes the store's cases as of one read snapshot into `writer` (a
/// fresh, empty index) in one commit. Also returns the highest case id
/// indexed.
pub(super) fn rebuild(
    writer: &mut IndexWriter,
    place: &Place,
    db: &dyn ReadableDatabase,
    reason: RebuildReason,
    progress: &mut dyn FnMut(&IndexProgress),
    cancel: &dyn Fn() -> bool,
) -> Result<(RebuildReport, u64)> {
    let started = Instant::now();
    let txn = db.begin_read().map_err(st("reading the store for a rebuild"))?;
    let change = last_change_in(&txn)?;
    let cases = txn
        .open_table(tables::CASES)
        .map_err(st("reading cases for a rebuild"))?;
    let thread = txn
        .open_table(tables::THREAD)
        .map_err(st("reading threads for a rebuild"))?;
    let total = cases.len().map_err(st("counting cases for a rebuild"))?;
    let step = (total / 100).max(1_000);
    let mut report = |done: u64| {
        progress(&IndexProgress {
            reason: reason.clone(),
            done,
            total,
        })
    };
    report(0);
    let mut done = 0u64;
    let mut max_id = 0;
    for item in cases.iter().map_err(st("reading cases for a rebuild"))? {
        let (k, v) = item.map_err(st("reading cases for a rebuild"))?;
        let id = k.value();
        max_id = max_id.max(id);
        let case = records::decode_case(v.value(), id)?;
        let entries = full_thread(&thread, id)?;
        writer
            .add_document(place.fields.document(&case, &entries, 0))
            .map_err(ix("adding a document"))?;
        done += 1;
        if done % step == 0 && done < total {
            report(done);
        }
        // Shutdown does not wait for a whole rebuild; the next open redoes it.
        if done % 1_024 == 0 && cancel() {
            return Err(StoreError::ShutDown);
        }
    }
    commit(writer, &place.payload(change, max_id))?;
    report(done);
    Ok((
        RebuildReport {
            reason,
            cases: done,
            change,
            took: started.elapsed(),
        },
        max_id,
    ))
}

/// What a scan of the live documents found.
pub(super) struct LiveIds {
    /// Live documents per case id; empty unless asked for (a map of every
    /// case costs tens of milliseconds at a million cases, at open, beside
    /// the host's first queries).
    pub(super) seen: HashMap<u64, u32>,
    /// The highest id of a live document.
    pub(super) max_id: u64,
    /// The highest version of a live document.
    pub(super) max_version: u64,
}

pub(super) fn live_ids(searcher: &Searcher, count_each: bool) -> Result<LiveIds> {
    let mut live = LiveIds {
        seen: HashMap::with_capacity(if count_each { searcher.num_docs() as usize } else { 0 }),
        max_id: 0,
        max_version: 0,
    };
    for segment in searcher.segment_readers() {
        let fast = segment.fast_fields();
        let ids = fast
            .u64(crate::index::schema::names::ID)
            .map_err(ix("reading document ids"))?;
        let versions = fast
            .u64(crate::index::schema::names::VERSION)
            .map_err(ix("reading document versions"))?;
        if !count_each {
            // The maxima alone, read in bulk: this runs at every open,
            // beside the host's first queries.
            live.max_id = live.max_id.max(max_alive(&ids, segment));
            live.max_version = live.max_version.max(max_alive(&versions, segment));
            continue;
        }
        for doc in segment.doc_ids_alive() {
            if let Some(id) = ids.first(doc) {
                *live.seen.entry(id).or_default() += 1;
                live.max_id = live.max_id.max(id);
            }
            live.max_version = live.max_version.max(versions.first(doc).unwrap_or(0));
        }
    }
    Ok(live)
}

/// The highest value of `column` over the segment's live documents (0 if
/// none): the column's own maximum when nothing is deleted, else a bulk
/// scan of a column with one value per document, else one by one.
fn max_alive(column: &tantivy::columnar::Column<u64>, segment: &tantivy::SegmentReader) -> u64 {
    use tantivy::columnar::ColumnIndex;
    let Some(alive) = segment.alive_bitset() else {
        return if column.values.num_vals() > 0 {
            column.max_value()
        } else {
            0
        };
    };
    let mut max = 0;
    if matches!(column.index, ColumnIndex::Full) {
        const CHUNK: u32 = 1024;
        let mut buf = [0u64; CHUNK as usize];
        let rows = column.values.num_vals().min(segment.max_doc());
        let mut start = 0u32;
        while start < rows {
            let len = CHUNK.min(rows - start);
            let Some(out) = buf.get_mut(..len as usize) else { break };
            column.values.get_range(u64::from(start), out);
            for (doc, value) in (start..).zip(out.iter()) {
                if *value > max && alive.is_alive(doc) {
                    max = *value;
                }
            }
            start += len;
        }
    } else {
        for doc in segment.doc_ids_alive() {
            max = max.max(column.first(doc).unwrap_or(0));
        }
    }
    max
}

// ---------------------------------------------------------------------------
// Read-only opening: no writer, no thread, nothing written to the directory.

/// Opens the index of a store opened read-only. The on-disk index is used
/// when it belongs to this store and covers exactly the store's last
/// change; otherwise (missing, damaged, behind, foreign) a temporary index
/// is built in memory. Either way nothing is written to the directory: no
/// marker is removed, no commit is made, and tantivy's lock files are not
/// taken (a read-only store has no writer that could change the index
/// meanwhile).
pub(crate) fn open_read_only(
    store_dir: &Path,
    db: &dyn ReadableDatabase,
    opts: &Options,
    progress: &mut dyn FnMut(&IndexProgress),
) -> Result<IndexHandle> {
    let (schema, fields) = Fields::build();
    let schema_id = schema_fingerprint(&schema);
    let hook: IndexDirectoryHook =
        Arc::new(|mmap| Box::new(crate::index::read_only::ReadOnlyDirectory::new(mmap)) as Box<dyn tantivy::Directory>);
    let place = Place {
        store_dir: store_dir.to_owned(),
        hook: Some(hook),
        schema: schema.clone(),
        schema_id,
        // A store without an id (an earlier release's) gets one only from a
        // read-write open; until then no on-disk index can prove it fits.
        store_id: read_store_id(db)?.unwrap_or_default(),
        fields,
        tuning: WriterTuning::of(opts),
    };
    let txn = db.begin_read().map_err(st("reading the store for the index"))?;
    let last = last_change_in(&txn)?;
    drop(txn);
    let on_disk = if place.store_id.is_empty() {
        Err(RebuildReason::Stale("the store has no id yet".into()))
    } else {
        try_open(&place, &place.live()).and_then(|(_, reader, payload)| {
            let change = payload.change;
            if change == last {
                Ok((reader, payload.max_id))
            } else {
                Err(RebuildReason::Stale(format!(
                    "the index covers change {change}, the store is at {last}"
                )))
            }
        })
    };
    let (reader, max_id, rebuilt) = match on_disk {
        Ok((reader, max_id)) => (reader, max_id, None),
        Err(reason) => {
            let index = Index::create_in_ram(schema);
            analysis::register(&index);
            let mut writer = new_writer(&index, &place)?;
            let (report, max_id) = rebuild(&mut writer, &place, db, reason, progress, &|| false)?;
            let reader = index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map_err(ix("opening the index reader"))?;
            (reader, Some(max_id), Some(report))
        }
    };
    let generation = inspect(reader.searcher(), db, max_id)?;
    let shared = Arc::new(Shared {
        fields: place.fields,
        reader: RwLock::new(None),
        published: RwLock::new(None),
        stale_filtered: AtomicU64::new(0),
        columns: Default::default(),
        state: Mutex::new(State {
            indexed: last,
            // Nothing will index later changes: a waiter for one is told.
            ended: true,
            rebuilt_on_open: rebuilt,
            ..State::default()
        }),
        changed: Condvar::new(),
        // A read-only store (one command) warms nothing in the background.
        first_search: Default::default(),
    });
    shared.set_reader(Some((reader, generation)));
    // No indexer thread serves requests: a reindex is refused.
    let (control, _) = bounded(1);
    Ok(IndexHandle {
        shared,
        control,
        thread: None,
        pruner: Arc::new(Mutex::new(None)),
    })
}

pub(super) fn no_index() -> StoreError {
    StoreError::index_detail("indexing", "no usable index (a rebuild is due)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tantivy::schema::{Schema, FAST, INDEXED};
    use tantivy::{doc, Index, Term};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// The bulk maximum over live documents equals the one-by-one
        /// maximum, with and without deletes, across segments.
        #[test]
        fn max_alive_is_the_maximum_over_live_documents(
            batches in proptest::collection::vec(proptest::collection::vec((0u64..5_000, any::<bool>()), 0..2_500), 1..4),
        ) {
            let mut schema = Schema::builder();
            let value = schema.add_u64_field("value", FAST | INDEXED);
            let index = Index::create_in_ram(schema.build());
            let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
            for batch in &batches {
                for (v, _) in batch {
                    writer.add_document(doc!(value => *v)).unwrap();
                }
                writer.commit().unwrap();
                for (v, delete) in batch {
                    if *delete {
                        writer.delete_term(Term::from_field_u64(value, *v));
                    }
                }
                writer.commit().unwrap();
            }
            let searcher = index.reader().unwrap().searcher();
            for segment in searcher.segment_readers() {
                let column = segment.fast_fields().u64("value").unwrap();
                let brute = segment.doc_ids_alive().filter_map(|d| column.first(d)).max().unwrap_or(0);
                prop_assert_eq!(max_alive(&column, segment), brute);
            }
        }
    }
}
