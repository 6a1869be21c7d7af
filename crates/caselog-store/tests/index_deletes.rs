//! Deletes while merging, against real tantivy, without the store.
//!
//! This is the indexer's write pattern reduced to tantivy calls: every
//! change of a case is "delete by id term, add the new document"; the delete
//! is skipped for ids above the highest id the index has held (read from the
//! id fast field at open, as the indexer does); commits come every few
//! operations, so an aggressive merge policy merges all the time, and every
//! so often the "process" ends — cleanly (merges finished, as the store shuts
//! down), or frozen the way a kill -9 leaves the directory (no write, delete
//! or sync reaches the disk after the kill point) — and the next one opens
//! what is on disk. Occasionally the
//! whole index is replaced in place (`delete_all_documents` and a re-add of
//! every case), as an in-place rebuild did.
//!
//! After every commit the live documents must be exactly the model's cases,
//! each once. A failure prints the seed, round and operation; rerun one seed
//! with `INDEX_DELETES_SEED=<seed> INDEX_DELETES_ITERS=1`. The long version:
//! `INDEX_DELETES_ITERS=200 cargo test --release -p caselog-store --test index_deletes -- --ignored`.
//! Writers start with the store's workaround for the lost delete
//! (`skip_used_opstamps`); `INDEX_DELETES_UNFIXED=1` leaves it out.
//!
//! The lost delete's cause, found with this loop: a new writer's first
//! operation reuses the committed opstamp (see the reproductions and the
//! model-based property test at the end of this file, and RELIABILITY.md).

mod common;
use common::{env_u64, Rng};

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use caselog_store::index::skip_used_opstamps;
use proptest::prelude::*;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, TerminatingWrite, WatchCallback,
    WatchHandle, WritePtr,
};
use tantivy::indexer::{IndexWriterOptions, LogMergePolicy, NoMergePolicy};
use tantivy::schema::{Schema, FAST, INDEXED, STORED, TEXT};
use tantivy::{doc, Index, IndexWriter, ReloadPolicy, TantivyDocument, Term};

// ---------------------------------------------------------------------------
// A directory that can be frozen: what a kill -9 leaves on disk
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Freezable {
    inner: Box<dyn Directory>,
    frozen: Arc<AtomicBool>,
}

fn killed() -> io::Error {
    io::Error::other("the process was killed")
}

impl Freezable {
    fn check(&self) -> io::Result<()> {
        if self.frozen.load(Ordering::SeqCst) {
            Err(killed())
        } else {
            Ok(())
        }
    }
}

struct FreezableWrite {
    inner: WritePtr,
    frozen: Arc<AtomicBool>,
}

impl Write for FreezableWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.frozen.load(Ordering::SeqCst) {
            return Err(killed());
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.frozen.load(Ordering::SeqCst) {
            return Err(killed());
        }
        self.inner.flush()
    }
}

impl TerminatingWrite for FreezableWrite {
    fn terminate_ref(&mut self, token: AntiCallToken) -> io::Result<()> {
        if self.frozen.load(Ordering::SeqCst) {
            return Err(killed());
        }
        self.inner.terminate_ref(token)
    }
}

impl Directory for Freezable {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }
    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.check().map_err(|e| DeleteError::IoError {
            io_error: Arc::new(e),
            filepath: path.to_owned(),
        })?;
        self.inner.delete(path)
    }
    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }
    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.check()
            .map_err(|e| OpenWriteError::wrap_io_error(e, path.to_owned()))?;
        let inner = self.inner.open_write(path)?;
        Ok(io::BufWriter::new(Box::new(FreezableWrite {
            inner,
            frozen: self.frozen.clone(),
        })))
    }
    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.check()?;
        self.inner.atomic_write(path, data)
    }
    fn sync_directory(&self) -> io::Result<()> {
        self.check()?;
        self.inner.sync_directory()
    }
    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }
    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(callback)
    }
}

// ---------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------

/// What one seed found.
#[derive(Debug, Default)]
struct Outcome {
    commits: u64,
    kills: u64,
    rebuilds: u64,
    failure: Option<String>,
}

struct Fields {
    id: tantivy::schema::Field,
    version: tantivy::schema::Field,
    body: tantivy::schema::Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let id = b.add_u64_field("id", INDEXED | FAST | STORED);
    let version = b.add_u64_field("version", FAST);
    let body = b.add_text_field("body", TEXT);
    (b.build(), Fields { id, version, body })
}

fn open(dir: &Path, frozen: &Arc<AtomicBool>, schema: &Schema) -> Index {
    let mmap = MmapDirectory::open(dir).expect("mmap dir");
    let directory = Freezable {
        inner: Box::new(mmap),
        frozen: frozen.clone(),
    };
    if dir.join("meta.json").exists() {
        Index::open(directory).expect("open index")
    } else {
        Index::create(directory, schema.clone(), Default::default()).expect("create index")
    }
}

fn writer(index: &Index, rng: &mut Rng) -> IndexWriter {
    let options = IndexWriterOptions::builder()
        .num_worker_threads(1 + rng.below(2) as usize)
        .memory_budget_per_thread(15_000_000)
        .num_merge_threads(1 + rng.below(2) as usize)
        .build();
    let writer: IndexWriter = index.writer_with_options(options).expect("writer");
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(2);
    policy.set_min_layer_size(1);
    policy.set_level_log_size(0.5);
    policy.set_del_docs_ratio_before_merge(0.05);
    writer.set_merge_policy(Box::new(policy));
    writer
}

/// Live documents by id (with their versions), and the highest id any
/// document of the committed index has, deleted ones included (the fast
/// field's bound, exactly as the indexer computes it at open).
fn live(index: &Index, f: &Fields) -> (HashMap<u64, Vec<u64>>, u64) {
    let (docs, max_id) = live_in_segments(index, f);
    let docs = docs
        .into_iter()
        .map(|(id, v)| (id, v.into_iter().map(|(version, _)| version).collect()))
        .collect();
    (docs, max_id)
}

/// Like [`live`], with the (short) id of the segment holding each version.
fn live_in_segments(index: &Index, f: &Fields) -> (HashMap<u64, Vec<(u64, String)>>, u64) {
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .expect("reader");
    let searcher = reader.searcher();
    let mut out: HashMap<u64, Vec<(u64, String)>> = HashMap::new();
    let mut max_id = 0;
    for segment in searcher.segment_readers() {
        let ids = segment.fast_fields().u64("id").expect("id column");
        let versions = segment.fast_fields().u64("version").expect("version column");
        max_id = max_id.max(ids.max_value());
        let name = segment.segment_id().short_uuid_string();
        for doc in segment.doc_ids_alive() {
            let id = ids.first(doc).expect("id");
            out.entry(id)
                .or_default()
                .push((versions.first(doc).expect("version"), name.clone()));
        }
    }
    let _ = f;
    (out, max_id)
}

/// Compares the committed index with the model; `None` when they agree.
fn disagreement(index: &Index, f: &Fields, model: &BTreeMap<u64, u64>) -> Option<String> {
    let (docs, _) = live_in_segments(index, f);
    let mut problems = Vec::new();
    for (id, found) in &docs {
        let versions: Vec<u64> = found.iter().map(|(v, _)| *v).collect();
        match model.get(id) {
            None => problems.push(format!("id {id} indexed but not in the model")),
            Some(v) if versions.len() > 1 => problems.push(format!(
                "id {id} indexed {} times: versions {versions:?} (current {v}; in segments {found:?})",
                versions.len()
            )),
            Some(v) if versions[0] != *v => {
                problems.push(format!("id {id} has version {} instead of {v}", versions[0]))
            }
            Some(_) => {}
        }
    }
    for id in model.keys() {
        if !docs.contains_key(id) {
            problems.push(format!("id {id} missing"));
        }
    }
    if problems.is_empty() {
        return None;
    }
    let metas = index.load_metas().expect("metas");
    let segments: Vec<String> = metas
        .segments
        .iter()
        .map(|s| {
            format!(
                "{} max_doc {} deleted {} del_opstamp {:?}",
                s.id().short_uuid_string(),
                s.max_doc(),
                s.num_deleted_docs(),
                s.delete_opstamp()
            )
        })
        .collect();
    problems.truncate(10);
    Some(format!(
        "{}; opstamp {}; segments: {}",
        problems.join("; "),
        metas.opstamp,
        segments.join(", ")
    ))
}

/// Variations of the workload, to narrow down what the lost delete needs:
/// `INDEX_DELETES_GC=1` collects garbage after each restart (as the store
/// does after an unclean shutdown); `INDEX_DELETES_KILL_PCT` is the chance
/// (percent) that a round ends in a kill (default 60; 0: clean ends only).
#[derive(Debug, Clone, Copy)]
struct Knobs {
    collect_garbage: bool,
    kill_percent: u64,
    /// `INDEX_DELETES_TRACE=1`: print the segments and leftover files at
    /// every open.
    trace: bool,
    /// `INDEX_DELETES_UNFIXED=1`: open writers as tantivy does, without
    /// the store's workaround (`skip_used_opstamps`), to see the lost
    /// delete happen.
    unfixed: bool,
}

impl Knobs {
    fn from_env() -> Knobs {
        Knobs {
            collect_garbage: env_u64("INDEX_DELETES_GC") == Some(1),
            kill_percent: env_u64("INDEX_DELETES_KILL_PCT").unwrap_or(60),
            trace: env_u64("INDEX_DELETES_TRACE") == Some(1),
            unfixed: env_u64("INDEX_DELETES_UNFIXED") == Some(1),
        }
    }
}

fn run_seed(seed: u64, rounds: u32, ops_per_round: u32, delete_all: bool, knobs: Knobs) -> Outcome {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: PathBuf = tmp.path().join("index");
    std::fs::create_dir_all(&dir).expect("dir");
    let (schema, f) = schema();
    let mut rng = Rng(seed);
    let mut out = Outcome::default();
    // The committed content: id → version.
    let mut committed: BTreeMap<u64, u64> = BTreeMap::new();
    let mut next_id = 1u64;
    let mut version = 0u64;
    for round in 0..rounds {
        let frozen = Arc::new(AtomicBool::new(false));
        let index = open(&dir, &frozen, &schema);
        // What a new process knows: the last commit.
        if let Some(problem) = disagreement(&index, &f, &committed) {
            out.failure = Some(format!("seed {seed} round {round} at open: {problem}"));
            return out;
        }
        if knobs.trace {
            let metas = index.load_metas().expect("metas");
            // A file is referenced if it belongs to a committed segment (its
            // delete file only at the committed delete opstamp).
            let referenced = |name: &str| {
                metas.segments.iter().any(|s| {
                    if name.ends_with(".del") {
                        s.has_deletes() && Path::new(name) == s.relative_path(tantivy::index::SegmentComponent::Delete)
                    } else {
                        name.starts_with(&s.id().uuid_string())
                    }
                })
            };
            let leftovers: Vec<String> = std::fs::read_dir(&dir)
                .expect("dir")
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|n| !n.starts_with('.') && !n.ends_with(".json") && !referenced(n))
                .collect();
            let segments: Vec<String> = metas
                .segments
                .iter()
                .map(|s| {
                    format!(
                        "{}:{}-{}@{:?}",
                        s.id().short_uuid_string(),
                        s.max_doc(),
                        s.num_deleted_docs(),
                        s.delete_opstamp()
                    )
                })
                .collect();
            // A segment whose deletes came with the commit itself (delete
            // opstamp = commit opstamp) is what a reused first stamp hits;
            // one beyond the commit would be hit by a later commit's stamp.
            let at_commit = metas
                .segments
                .iter()
                .filter(|s| s.delete_opstamp() == Some(metas.opstamp))
                .count();
            let beyond_commit = metas
                .segments
                .iter()
                .filter(|s| s.delete_opstamp() > Some(metas.opstamp))
                .count();
            eprintln!(
                "seed {seed} round {round}: opstamp {} segments [{}] deletes at the commit's opstamp {at_commit} beyond it {beyond_commit} leftover files {leftovers:?}",
                metas.opstamp,
                segments.join(" ")
            );
        }
        let (docs, mut max_id) = live(&index, &f);
        // The bound the indexer used to skip deletes must cover every live id.
        let scanned = docs.keys().copied().max().unwrap_or(0);
        if scanned > max_id {
            out.failure = Some(format!(
                "seed {seed} round {round} at open: the id fast field's max_value() {max_id} is below the live id {scanned}"
            ));
            return out;
        }
        let mut w = writer(&index, &mut rng);
        if !knobs.unfixed {
            skip_used_opstamps(&w).expect("skip used opstamps");
        }
        if knobs.collect_garbage {
            // What the store does after an unclean shutdown: remove the
            // files no commit refers to before indexing resumes.
            w.garbage_collect_files().wait().expect("garbage collection");
        }
        let mut pending = committed.clone();
        let mut since_commit = 0;
        let kill_at = rng
            .chance(knobs.kill_percent)
            .then(|| rng.below(u64::from(ops_per_round)) as u32);
        for op in 0..ops_per_round {
            if kill_at == Some(op) {
                // kill -9: nothing more reaches the disk.
                frozen.store(true, Ordering::SeqCst);
                out.kills += 1;
                break;
            }
            if delete_all && rng.chance(1) {
                // An in-place rebuild, as `rebuild_now` did: clear, re-add
                // every case, commit.
                w.delete_all_documents().expect("delete all");
                for (&id, &v) in &pending {
                    w.add_document(doc!(f.id => id, f.version => v, f.body => format!("case {id} v{v}")))
                        .expect("add");
                    max_id = max_id.max(id);
                }
                out.rebuilds += 1;
            } else {
                // A batch of changes: a few new cases and a few updates.
                let n = 1 + rng.below(6);
                let mut ids: Vec<u64> = (0..n)
                    .map(|_| {
                        if pending.is_empty() || rng.chance(35) {
                            next_id += 1;
                            next_id - 1
                        } else {
                            let keys: Vec<u64> = pending.keys().copied().collect();
                            keys[rng.below(keys.len() as u64) as usize]
                        }
                    })
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                for id in ids {
                    version += 1;
                    if id <= max_id {
                        w.delete_term(Term::from_field_u64(f.id, id));
                    }
                    let doc: TantivyDocument = doc!(f.id => id, f.version => version, f.body => format!("case {id} v{version} {}", "word ".repeat(rng.below(40) as usize)));
                    w.add_document(doc).expect("add");
                    max_id = max_id.max(id);
                    pending.insert(id, version);
                }
            }
            since_commit += 1;
            if since_commit > rng.below(4) {
                since_commit = 0;
                w.commit().expect("commit");
                out.commits += 1;
                committed = pending.clone();
                if let Some(problem) = disagreement(&index, &f, &committed) {
                    out.failure = Some(format!("seed {seed} round {round} op {op} after commit: {problem}"));
                    return out;
                }
            }
        }
        if kill_at.is_some() && frozen.load(Ordering::SeqCst) {
            drop(w);
        } else {
            w.commit().expect("final commit");
            committed = pending;
            // As the store shuts down: merges finish before the next
            // process opens the directory.
            w.wait_merging_threads().expect("merges");
        }
    }
    out
}

/// The indexer's pattern (no `delete_all_documents`; see below for why).
/// Without the workaround (`INDEX_DELETES_UNFIXED=1`) it failed on tantivy
/// 0.27 in about 1 of 12 seeds: after restarts on a directory left by a
/// kill, with merges running, a delete was lost and an older version of a
/// document stayed live beside the current one. Long (about a minute per
/// seed in a debug build), hence ignored; the property test below covers
/// the cause in the default run.
#[test]
#[ignore = "long: run with INDEX_DELETES_ITERS=<n> --release (see RELIABILITY.md)"]
fn deletes_while_merging_never_leave_two_live_documents() {
    run_seeds(false);
}

/// The same with in-place rebuilds (`delete_all_documents`, then every
/// case again) among the operations, as the indexer once did: fails within
/// a few seeds on tantivy 0.27 (see below).
#[test]
#[ignore = "fails on tantivy 0.27: delete_all_documents keeps documents not yet flushed"]
fn in_place_rebuilds_while_merging_never_leave_two_live_documents() {
    run_seeds(true);
}

fn run_seeds(delete_all: bool) {
    let iters = env_u64("INDEX_DELETES_ITERS").unwrap_or(2);
    let first = env_u64("INDEX_DELETES_SEED").unwrap_or(1);
    let rounds = env_u64("INDEX_DELETES_ROUNDS").unwrap_or(8) as u32;
    let ops = env_u64("INDEX_DELETES_OPS").unwrap_or(80) as u32;
    let knobs = Knobs::from_env();
    let mut totals = Outcome::default();
    let mut failures = Vec::new();
    for seed in first..first + iters {
        let out = run_seed(seed, rounds, ops, delete_all, knobs);
        totals.commits += out.commits;
        totals.kills += out.kills;
        totals.rebuilds += out.rebuilds;
        if let Some(f) = out.failure {
            eprintln!("FAIL {f}");
            failures.push(f);
        }
    }
    eprintln!(
        "seeds {iters} ({knobs:?}): {} commits, {} kills, {} rebuilds, {} failures",
        totals.commits,
        totals.kills,
        totals.rebuilds,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {iters} seeds failed; first: {}",
        failures.len(),
        failures[0]
    );
}

// ---------------------------------------------------------------------------
// tantivy 0.27: delete_all_documents and documents not yet flushed
// ---------------------------------------------------------------------------

fn one_thread_writer(index: &Index) -> IndexWriter {
    let options = IndexWriterOptions::builder()
        .num_worker_threads(1)
        .memory_budget_per_thread(15_000_000)
        .build();
    index.writer_with_options(options).expect("writer")
}

fn ids_of(index: &Index) -> Vec<u64> {
    let reader = index.reader().expect("reader");
    let mut ids: Vec<u64> = reader
        .searcher()
        .segment_readers()
        .iter()
        .flat_map(|s| {
            let col = s.fast_fields().u64("id").expect("id column");
            s.doc_ids_alive().filter_map(move |d| col.first(d)).collect::<Vec<_>>()
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// The upstream report's reproduction: `IndexWriter::delete_all_documents` removes the
/// flushed segments only. A document added before it but still in an
/// indexing worker's memory survives, and is committed with what is added
/// after it: adding the same document again (a rebuild) indexes it twice.
#[test]
#[ignore = "fails on tantivy 0.27 (documents 2 twice): the upstream report's reproduction"]
fn tantivy_delete_all_documents_keeps_unflushed_documents() {
    let (schema, f) = schema();
    let index = Index::create_in_ram(schema);
    let mut w = one_thread_writer(&index);
    w.add_document(doc!(f.id => 1u64, f.version => 1u64)).expect("add");
    w.commit().expect("commit");
    w.add_document(doc!(f.id => 2u64, f.version => 1u64)).expect("add");
    w.delete_all_documents().expect("delete all");
    w.add_document(doc!(f.id => 1u64, f.version => 1u64)).expect("add");
    w.add_document(doc!(f.id => 2u64, f.version => 1u64)).expect("add");
    w.commit().expect("commit");
    assert_eq!(ids_of(&index), vec![1, 2]);
}

/// Two live copies of a document, in two committed segments; a new writer
/// deletes the term and adds it once: one copy must remain.
#[test]
fn a_term_delete_removes_every_copy_across_segments() {
    let (schema, f) = schema();
    let dir = tempfile::tempdir().expect("tempdir");
    let index = Index::create_in_dir(dir.path(), schema).expect("index");
    {
        let mut w = one_thread_writer(&index);
        for id in 1..=12u64 {
            w.add_document(doc!(f.id => id, f.version => 1u64)).expect("add");
        }
        w.commit().expect("commit");
        w.add_document(doc!(f.id => 5u64, f.version => 1u64)).expect("add");
        w.commit().expect("commit");
        w.wait_merging_threads().expect("merges");
    }
    assert_eq!(ids_of(&index).len(), 13);
    let options = IndexWriterOptions::builder()
        .num_worker_threads(2)
        .memory_budget_per_thread(64_000_000)
        .num_merge_threads(1)
        .build();
    let mut w: IndexWriter = index.writer_with_options(options).expect("writer");
    w.delete_term(Term::from_field_u64(f.id, 5));
    w.add_document(doc!(f.id => 5u64, f.version => 2u64)).expect("add");
    w.commit().expect("commit");
    let after_commit = ids_of(&index);
    w.wait_merging_threads().expect("merges");
    let after_merges = ids_of(&index);
    assert_eq!(
        (after_commit.len(), after_merges.len()),
        (12, 12),
        "{after_commit:?} / {after_merges:?}"
    );
}

// ---------------------------------------------------------------------------
// tantivy 0.27: the first delete after reopening is lost in a merge
// ---------------------------------------------------------------------------

/// The lost delete, deterministic. Segment A (ids 1, 2) has no deletes;
/// segment B (ids 3, 4) got its delete of id 3 at the last commit, so its
/// delete opstamp is the commit's opstamp `C`. A new writer stamps its first
/// operation `C` again (the stamper starts at the committed opstamp): the
/// delete of id 4. A merge of A and B (what a merge policy starts at the
/// next flush when the committed segments qualify) targets `C`: A applies
/// the delete and moves its cursor past it; B's delete opstamp equals the
/// target, so `advance_deletes` skips it; the merged segment takes A's
/// cursor. The old id 4 survives beside the new one. `prepare` runs on the
/// new writer before its first operation. Returns the live ids.
fn first_delete_after_reopen_then_merge(prepare: fn(&IndexWriter)) -> (Vec<u64>, u64, u64) {
    let (schema, f) = schema();
    let index = Index::create_in_ram(schema);
    let add = |w: &IndexWriter, id: u64, v: u64| {
        w.add_document(doc!(f.id => id, f.version => v)).expect("add");
    };
    {
        let mut w = one_thread_writer(&index);
        w.set_merge_policy(Box::new(NoMergePolicy));
        add(&w, 1, 1);
        add(&w, 2, 1);
        w.commit().expect("commit");
        add(&w, 3, 1);
        add(&w, 4, 1);
        w.commit().expect("commit");
        w.delete_term(Term::from_field_u64(f.id, 3));
        w.commit().expect("commit");
    }
    let metas = index.load_metas().expect("metas");
    let (a, b): (Vec<_>, Vec<_>) = metas.segments.iter().partition(|s| s.delete_opstamp().is_none());
    assert_eq!((a.len(), b.len()), (1, 1), "one segment with deletes, one without");
    assert_eq!(
        b[0].delete_opstamp(),
        Some(metas.opstamp),
        "B's deletes came with the last commit"
    );
    let segments = [a[0].id(), b[0].id()];

    let mut w = one_thread_writer(&index);
    w.set_merge_policy(Box::new(NoMergePolicy));
    prepare(&w);
    let delete_stamp = w.delete_term(Term::from_field_u64(f.id, 4));
    add(&w, 4, 2);
    w.merge(&segments).wait().expect("merge");
    w.commit().expect("commit");
    w.wait_merging_threads().expect("merges");
    (ids_of(&index), metas.opstamp, delete_stamp)
}

/// The upstream report's reproduction of the lost delete (fails on
/// tantivy 0.27 with ids `[1, 2, 4, 4]`: the delete got the committed
/// opstamp and was skipped for segment B).
#[test]
#[ignore = "fails on tantivy 0.27 (id 4 twice): the upstream report's reproduction"]
fn tantivy_first_delete_after_reopen_is_lost_in_a_merge() {
    let (ids, committed, delete_stamp) = first_delete_after_reopen_then_merge(|_| {});
    assert_eq!(delete_stamp, committed, "the new writer reuses the committed opstamp");
    assert_eq!(ids, vec![1, 2, 4]);
}

/// The other face of the reused stamp: a merge of committed segments that
/// targets the committed opstamp applies the new writer's first delete,
/// not yet committed, to a committed segment and saves the metas. If the
/// process then dies before its commit, the deleted document is gone
/// although its replacement never was committed (fails on 0.27 with ids
/// `[2]`). `prepare` runs on the new writer before its first operation.
fn first_delete_after_reopen_committed_by_a_merge(prepare: fn(&IndexWriter)) -> Vec<u64> {
    let (schema, f) = schema();
    let index = Index::create_in_ram(schema);
    {
        let mut w = one_thread_writer(&index);
        w.set_merge_policy(Box::new(NoMergePolicy));
        w.add_document(doc!(f.id => 1u64, f.version => 1u64)).expect("add");
        w.commit().expect("commit");
        w.add_document(doc!(f.id => 2u64, f.version => 1u64)).expect("add");
        w.commit().expect("commit");
    }
    let segments = index.searchable_segment_ids().expect("segments");
    let mut w = one_thread_writer(&index);
    w.set_merge_policy(Box::new(NoMergePolicy));
    prepare(&w);
    w.delete_term(Term::from_field_u64(f.id, 1));
    w.add_document(doc!(f.id => 1u64, f.version => 2u64)).expect("add");
    w.merge(&segments).wait().expect("merge");
    // The process dies here: nothing after the merge is committed.
    drop(w);
    ids_of(&index)
}

#[test]
#[ignore = "fails on tantivy 0.27 (id 1 gone): a merge commits the first delete after reopening"]
fn tantivy_first_delete_after_reopen_is_committed_by_a_merge() {
    assert_eq!(first_delete_after_reopen_committed_by_a_merge(|_| {}), vec![1, 2]);
}

#[test]
fn a_writer_that_skips_used_opstamps_commits_no_delete_in_a_merge() {
    let ids = first_delete_after_reopen_committed_by_a_merge(|w| {
        skip_used_opstamps(w).expect("skip used opstamps");
    });
    assert_eq!(ids, vec![1, 2]);
}

/// The same with the store's workaround: the new writer burns the stamps
/// the committed index used before its first operation, the delete gets a
/// fresh stamp, and the merge cannot take it as applied.
#[test]
fn a_writer_that_skips_used_opstamps_keeps_its_first_delete_through_a_merge() {
    let (ids, committed, delete_stamp) = first_delete_after_reopen_then_merge(|w| {
        skip_used_opstamps(w).expect("skip used opstamps");
    });
    assert_eq!(delete_stamp, committed + 1);
    assert_eq!(ids, vec![1, 2, 4]);
}

// ---------------------------------------------------------------------------
// Reopen, delete and merge, against a model
// ---------------------------------------------------------------------------

/// One step of a writer's life, with merges made explicit (and waited for)
/// so that a failing sequence replays exactly.
#[derive(Debug, Clone)]
enum Step {
    /// `delete_term(id)`, then the id's new version: an update.
    Upsert(u64),
    /// `delete_term(id)` alone.
    Delete(u64),
    Commit,
    /// A merge of the committed segments at these positions (modulo their
    /// number, duplicates dropped), in this order.
    Merge(Vec<usize>),
    /// The writer goes away without committing, as a killed process's; a
    /// new one opens the last commit.
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u64..6).prop_map(Step::Upsert),
        1 => (0u64..6).prop_map(Step::Delete),
        2 => Just(Step::Commit),
        2 => proptest::collection::vec(0usize..8, 2..4).prop_map(Step::Merge),
        1 => Just(Step::Reopen),
    ]
}

/// Replays `steps`; after every commit and merge the committed index must
/// hold exactly the model's ids, each once, at its current version.
/// `fixed`: open every writer with the store's workaround.
fn replay(steps: &[Step], fixed: bool) -> Result<(), String> {
    let (schema, f) = schema();
    let index = Index::create_in_ram(schema);
    let open_writer = |index: &Index| {
        let w = one_thread_writer(index);
        w.set_merge_policy(Box::new(NoMergePolicy));
        if fixed {
            skip_used_opstamps(&w).expect("skip used opstamps");
        }
        w
    };
    let mut w = open_writer(&index);
    let mut pending: BTreeMap<u64, u64> = BTreeMap::new();
    let mut committed = pending.clone();
    let mut version = 0u64;
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Upsert(id) => {
                version += 1;
                w.delete_term(Term::from_field_u64(f.id, *id));
                w.add_document(doc!(f.id => *id, f.version => version)).expect("add");
                pending.insert(*id, version);
            }
            Step::Delete(id) => {
                w.delete_term(Term::from_field_u64(f.id, *id));
                pending.remove(id);
            }
            Step::Commit => {
                w.commit().expect("commit");
                committed = pending.clone();
            }
            Step::Merge(picks) => {
                let segments = index.searchable_segment_ids().expect("segments");
                let mut chosen = Vec::new();
                for p in picks {
                    if let Some(id) = segments.get(p % segments.len().max(1)) {
                        if !chosen.contains(id) {
                            chosen.push(*id);
                        }
                    }
                }
                if chosen.len() < 2 {
                    continue;
                }
                w.merge(&chosen).wait().expect("merge");
            }
            Step::Reopen => {
                drop(w);
                w = open_writer(&index);
                pending = committed.clone();
            }
        }
        if matches!(step, Step::Commit | Step::Merge(_)) {
            if let Some(problem) = disagreement(&index, &f, &committed) {
                return Err(format!("after step {i} ({step:?}): {problem}"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// With the workaround, no sequence of updates, deletes, commits,
    /// merges and reopenings leaves a deleted document live.
    #[test]
    fn reopen_delete_merge_keeps_every_delete(steps in proptest::collection::vec(step(), 1..40)) {
        let outcome = replay(&steps, true);
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }

    /// The same on plain tantivy 0.27: fails, shrinking to the reproduction
    /// above (a delete after reopening, a merge, a commit).
    #[test]
    #[ignore = "fails on tantivy 0.27: the first delete after reopening is lost in a merge"]
    fn tantivy_reopen_delete_merge_keeps_every_delete(steps in proptest::collection::vec(step(), 1..40)) {
        let outcome = replay(&steps, false);
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}
