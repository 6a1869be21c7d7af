//! Shared code of the benchmarks, and `casebench`, the side-by-side
//! benchmark of caselog against SQLite + FTS5 and against raw tantivy +
//! redb (see `BENCHMARKS.md`).
//!
//! `casebench run` generates a deterministic archive ([`gen`]), chooses the
//! query mix from its measured word frequencies ([`queries`]) and, for each
//! system, re-executes itself as a child process per phase (ingest, hit
//! counts, queries, live appends), so that each phase's peak resident memory
//! (`VmHWM`) is its own. Hit counts of every query (and view totals) must
//! agree across systems before anything is timed.

pub mod caselog;
pub mod gen;
pub mod queries;
pub mod raw;
pub mod report;
pub mod sqlite;
pub mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use caselog_store::ImportCase;
use serde::{Deserialize, Serialize};

use crate::gen::Archive;
use crate::queries::{BenchQuery, ScopeSpec};

/// Cases per bulk-load transaction for every system: caselog's default
/// import chunk.
pub const IMPORT_CHUNK: usize = 8_000;
/// The deepest view page timed (caselog serves pages within its first
/// 100,000 cases of a view).
pub const MAX_DEEP_PAGE: u64 = 5_000;
/// How often the floor commits its index during live appends: caselog's
/// default `index_commit_interval`.
pub const FLOOR_COMMIT_INTERVAL: Duration = Duration::from_millis(200);

/// One system under test.
pub trait Engine: Sized + Sync + 'static {
    /// Name in reports.
    const NAME: &'static str;
    /// Loads the archive into a new store in `dir`, counting into `counts`.
    fn ingest(dir: &Path, s: &Settings, counts: &mut IngestCounts) -> Result<()>;
    /// Opens the store in `dir`, ready to answer.
    fn open(dir: &Path) -> Result<Self>;
    /// Runs a query (total and a first page of 20 by relevance); returns the total.
    fn search(&self, q: &BenchQuery, scope: &ScopeSpec) -> Result<u64>;
    /// Reads a view page (total and 20 cases); its total, or `None` if the
    /// system has no views.
    fn view(&self, _view: &str, _scope: &ScopeSpec) -> Result<Option<u64>> {
        Ok(None)
    }
    /// The query plans of a search, if the system has them.
    fn plans(&self, _q: &BenchQuery, _scope: &ScopeSpec) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// The query plans of a view, if the system has them.
    fn view_plans(&self, _view: &str, _scope: &ScopeSpec) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// Reads a whole case by number within a tenant; whether it was found.
    fn lookup(&self, number: &str, tenant: &str) -> Result<bool>;
    /// Appends a support message to case `case`, durably.
    fn append(&self, case: u64, writer: usize, body: String) -> Result<()>;
    /// Called every [`FLOOR_COMMIT_INTERVAL`] during live appends (the
    /// floor commits its index there).
    fn refresh(&self) -> Result<()> {
        Ok(())
    }
    /// The store's own counters, if it keeps any.
    fn metrics_json(&self) -> Option<serde_json::Value> {
        None
    }
    /// Closes the store cleanly.
    fn close(self) -> Result<()>;
}

/// What an ingest loaded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IngestCounts {
    /// Cases.
    pub cases: u64,
    /// Messages.
    pub messages: u64,
    /// Bytes of title and message text.
    pub payload_bytes: u64,
    /// Seconds since the ingest began at which every 100,000th case was
    /// handed to the system (how the rate changes as the store grows).
    pub marks: Vec<f64>,
    /// When the ingest began.
    #[serde(skip)]
    pub started: Option<Instant>,
}

impl IngestCounts {
    /// Counts one case.
    pub fn add(&mut self, c: &ImportCase) {
        self.cases += 1;
        self.messages += c.thread.len() as u64;
        self.payload_bytes += gen::payload_bytes(c);
        if self.cases % 100_000 == 0 {
            let secs = self.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
            self.marks.push(secs);
        }
    }
}

/// Generates cases `0..cases` on a thread of its own, converted by `f`
/// there, so every system parses and prepares input in parallel with
/// writing.
pub fn produce<T: Send + 'static>(
    cases: u64,
    mut f: impl FnMut(ImportCase) -> T + Send + 'static,
) -> crossbeam_channel::Receiver<T> {
    let (tx, rx) = crossbeam_channel::bounded(4_096);
    let archive = gen::archive();
    std::thread::spawn(move || {
        gen::set_archive(archive);
        for i in 0..cases {
            if tx.send(f(gen::case(i))).is_err() {
                return;
            }
        }
    });
    rx
}

/// Peak resident set of this process in KiB (`VmHWM`), 0 if unknown.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One file of a store on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileSize {
    /// Path under the store's directory.
    pub path: String,
    /// Apparent length.
    pub len: u64,
    /// Allocated blocks × 512 (`st_blocks`): what the file costs the disk.
    pub allocated: u64,
}

/// Every file under `root`, with its apparent and allocated size.
pub fn disk_files(root: &Path) -> Result<Vec<FileSize>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                stack.push(path);
            } else {
                out.push(FileSize {
                    path: path.strip_prefix(root).unwrap_or(&path).display().to_string(),
                    len: meta.len(),
                    allocated: meta.blocks() * 512,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The store's counters as JSON.
pub fn metrics_json(m: &caselog_store::Metrics) -> serde_json::Value {
    let lat = |l: &caselog_store::LatencySummary| serde_json::json!({"count": l.count, "p50_us": l.p50_us, "p99_us": l.p99_us, "max_us": l.max_us});
    serde_json::json!({
        "elapsed_s": m.elapsed.as_secs_f64(),
        "commits_per_sec": m.commits_per_sec(),
        "fsyncs_per_commit": m.fsyncs_per_commit(),
        "log_bytes": m.log_bytes,
        "log_syncs": m.log_syncs,
        "checkpoints": m.checkpoints,
        "writer_time_s": {
            "idle": m.writer_time.idle.as_secs_f64(),
            "apply": m.writer_time.apply.as_secs_f64(),
            "log": m.writer_time.log.as_secs_f64(),
            "commit": m.writer_time.commit.as_secs_f64(),
            "checkpoint": m.writer_time.checkpoint.as_secs_f64(),
        },
        "commits": m.commits,
        "durable_commits": m.durable_commits,
        "commands": m.commands,
        "mean_batch": m.mean_batch(),
        "fsyncs": m.fsyncs,
        "bytes_written": m.bytes_written,
        "write_calls": m.write_calls,
        "entries_written": m.entries_written,
        "mean_bytes_per_commit": m.mean_bytes_per_commit(),
        "batch_sizes_pow2": m.batch_sizes.buckets(),
        "pages_per_commit_pow2": m.pages_per_commit.buckets(),
        "commit_latency": lat(&m.commit_latency),
        "ack_latency": lat(&m.ack_latency),
        "index_commits": m.index_commits,
        "index_changes": m.index_changes,
        "index_documents": m.index_documents,
        "index_build_s": m.index_build.as_secs_f64(),
        "index_commit_latency": lat(&m.index_commit_latency),
        "index_publish_latency": lat(&m.index_publish_latency),
        "index_dirty_latency": lat(&m.index_dirty_latency),
        "text": m.to_string(),
    })
}

/// The phases a child process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Load the archive.
    Ingest,
    /// Count hits of every query variant.
    Counts,
    /// Open, then time queries and lookups.
    Query,
    /// Live durable appends from many writers.
    Append,
}

impl Phase {
    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Ingest => "ingest",
            Phase::Counts => "counts",
            Phase::Query => "query",
            Phase::Append => "append",
        }
    }

    /// Parses a phase name.
    pub fn parse(s: &str) -> Result<Phase> {
        Ok(match s {
            "ingest" => Phase::Ingest,
            "counts" => Phase::Counts,
            "query" => Phase::Query,
            "append" => Phase::Append,
            _ => bail!("unknown phase {s:?}"),
        })
    }
}

/// Settings of a run, passed on to every child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Archive size.
    pub cases: u64,
    /// Which archive.
    pub archive: Archive,
    /// Timed runs per query kind and scope.
    pub iters: usize,
    /// Longest a query kind and scope is timed, in seconds (at least 10 runs).
    pub cell_secs: f64,
    /// Number lookups timed.
    pub lookups: usize,
    /// Concurrent writers of the append phase.
    pub writers: usize,
    /// Length of the append phase in seconds.
    pub append_secs: f64,
    /// The query mix (chosen by the parent from the archive).
    pub mix: Vec<BenchQuery>,
    /// The scopes every query and view runs in.
    pub scopes: Vec<ScopeSpec>,
}

/// The result of an ingest child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestResult {
    /// What was loaded.
    pub counts: IngestCounts,
    /// Seconds from start until durable and searchable.
    pub secs: f64,
    /// Peak RSS in KiB.
    pub peak_rss_kib: u64,
}

/// The result of a counts child: `counts[variant][scope]` for the mix, then
/// `views[view][scope]` (empty for a system without views).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CountsResult {
    /// Hit counts.
    pub counts: Vec<Vec<u64>>,
    /// View totals.
    pub views: Vec<Vec<u64>>,
}

/// The result of a query child. Latencies in microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryResult {
    /// Time to open the store, ms.
    pub open_ms: f64,
    /// `latencies[kind][scope]`, views included.
    pub latencies: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    /// Number lookups within the tenant.
    pub lookup: Vec<f64>,
    /// caselog only: tenant-scoped searches with snippets.
    pub with_snippets: BTreeMap<String, Vec<f64>>,
    /// The first English query (the mix's first one without Chinese),
    /// right after open, in the first tenant scope, ms.
    #[serde(default)]
    pub first_english_ms: f64,
    /// The first Chinese query of the mix, right after the first English
    /// one (so still right after open), same scope, ms.
    #[serde(default)]
    pub first_chinese_ms: f64,
    /// caselog only: deep walks through every hit of a query.
    #[serde(default)]
    pub walks: Vec<caselog::WalkResult>,
    /// Query plans (SQLite): `kind / scope` → statements with their plans.
    pub plans: BTreeMap<String, Vec<String>>,
    /// Peak RSS in KiB.
    pub peak_rss_kib: u64,
}

/// The result of an append child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppendResult {
    /// Appends acknowledged.
    pub appends: u64,
    /// Seconds they took.
    pub secs: f64,
    /// Failed appends (and the first error).
    pub errors: u64,
    /// The first error, if any.
    pub first_error: Option<String>,
    /// Write → searchable of the probe's appends, ms (from submitting the
    /// append until a search finds its unique word).
    pub searchable_ms: Vec<f64>,
    /// Probe appends not searchable within 30 s.
    pub never_searchable: u64,
    /// The store's own counters after the phase (caselog).
    pub metrics: Option<serde_json::Value>,
    /// Peak RSS in KiB.
    pub peak_rss_kib: u64,
}

/// Runs one phase of one system in this process; returns its JSON.
pub fn run_child(system: &str, phase: Phase, dir: &Path, s: &Settings) -> Result<String> {
    gen::set_archive(s.archive);
    match system {
        "caselog" => child::<caselog::Caselog>(phase, dir, s),
        "sqlite" => child::<sqlite::Sqlite<false>>(phase, dir, s),
        "sqlite-rowid" => child::<sqlite::Sqlite<true>>(phase, dir, s),
        "raw" => child::<raw::Raw>(phase, dir, s),
        _ => bail!("unknown system {system:?}"),
    }
}

fn child<E: Engine>(phase: Phase, dir: &Path, s: &Settings) -> Result<String> {
    let json = match phase {
        Phase::Ingest => {
            let start = Instant::now();
            let mut counts = IngestCounts {
                started: Some(start),
                ..IngestCounts::default()
            };
            E::ingest(dir, s, &mut counts)?;
            let secs = start.elapsed().as_secs_f64();
            serde_json::to_string(&IngestResult {
                counts,
                secs,
                peak_rss_kib: peak_rss_kib(),
            })?
        }
        Phase::Counts => {
            let e = E::open(dir)?;
            let mut counts = Vec::new();
            for q in &s.mix {
                counts.push(s.scopes.iter().map(|sc| e.search(q, sc)).collect::<Result<Vec<_>>>()?);
            }
            let mut views = Vec::new();
            for v in queries::VIEWS {
                let row: Vec<Option<u64>> = s.scopes.iter().map(|sc| e.view(v, sc)).collect::<Result<_>>()?;
                if row.iter().all(Option::is_some) {
                    views.push(row.into_iter().flatten().collect());
                }
            }
            e.close()?;
            serde_json::to_string(&CountsResult { counts, views })?
        }
        Phase::Query => serde_json::to_string(&query_phase::<E>(dir, s)?)?,
        Phase::Append => serde_json::to_string(&append_phase::<E>(dir, s)?)?,
    };
    Ok(json)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times `run(i)` for i = 0.. up to `iters` times or `cell_secs` (at least
/// 10 runs), after one untimed warm-up pass over `warm` values.
fn time_loop(s: &Settings, warm: usize, mut run: impl FnMut(usize) -> Result<()>) -> Result<Vec<f64>> {
    for i in 0..warm {
        run(i)?;
    }
    let start = Instant::now();
    let mut out = Vec::with_capacity(s.iters);
    for i in 0..s.iters {
        if i >= 10 && start.elapsed().as_secs_f64() > s.cell_secs {
            break;
        }
        let t = Instant::now();
        run(i)?;
        out.push(micros(t.elapsed()));
    }
    Ok(out)
}

fn query_phase<E: Engine>(dir: &Path, s: &Settings) -> Result<QueryResult> {
    let t = Instant::now();
    let e = E::open(dir)?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let first_scope = s.scopes.iter().find(|sc| queries::is_tenant_scope(&sc.name));
    let is_chinese = |q: &&BenchQuery| q.kind.contains("chinese");
    let first_ms = |q: Option<&BenchQuery>| -> Result<f64> {
        let (Some(q), Some(sc)) = (q, first_scope) else {
            return Ok(f64::NAN);
        };
        let t = Instant::now();
        e.search(q, sc)?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let first_english_ms = first_ms(s.mix.iter().find(|q| !is_chinese(q)))?;
    let first_chinese_ms = first_ms(s.mix.iter().find(is_chinese))?;
    let mut latencies = BTreeMap::new();
    let mut with_snippets = BTreeMap::new();
    let mut plans = BTreeMap::new();
    for kind in queries::kinds(&s.mix) {
        let variants: Vec<&BenchQuery> = s.mix.iter().filter(|q| q.kind == kind).collect();
        let n = variants.len();
        let mut cells = BTreeMap::new();
        for sc in &s.scopes {
            cells.insert(
                sc.name.clone(),
                time_loop(s, n, |i| e.search(variants[i % n], sc).map(drop))?,
            );
            let p = e.plans(variants[0], sc)?;
            if !p.is_empty() {
                plans.insert(format!("{kind} / {}", sc.name), p);
            }
            if queries::is_tenant_scope(&sc.name) {
                if let Some(c) = (&e as &dyn std::any::Any).downcast_ref::<caselog::Caselog>() {
                    with_snippets.insert(
                        format!("{kind} ({})", sc.name),
                        time_loop(s, n, |i| {
                            caselog::search_with_snippets(c, variants[i % n], sc).map(drop)
                        })?,
                    );
                }
            }
        }
        latencies.insert(kind, cells);
    }
    for v in queries::VIEWS {
        let mut cells = BTreeMap::new();
        for sc in &s.scopes {
            if e.view(v, sc)?.is_none() {
                continue;
            }
            cells.insert(sc.name.clone(), time_loop(s, 1, |_| e.view(v, sc).map(drop))?);
            let p = e.view_plans(v, sc)?;
            if !p.is_empty() {
                plans.insert(format!("{v} / {}", sc.name), p);
            }
        }
        if !cells.is_empty() {
            latencies.insert((*v).to_owned(), cells);
        }
    }
    let numbers: Vec<(String, String)> = queries::lookups(s.cases, s.lookups.max(1))
        .into_iter()
        .map(|i| (gen::number(i).as_str().to_owned(), gen::tenant(i)))
        .collect();
    let mut missing = 0;
    let mut lookup = Vec::with_capacity(numbers.len());
    for pass in 0..2 {
        for (number, tenant) in &numbers {
            let t = Instant::now();
            let found = e.lookup(number, tenant)?;
            let took = micros(t.elapsed());
            // The first pass warms caches; the second is timed.
            if pass == 1 {
                lookup.push(took);
                missing += u64::from(!found);
            }
        }
    }
    anyhow::ensure!(missing == 0, "{} lookups found nothing", missing);
    let mut walks = Vec::new();
    if let Some(c) = (&e as &dyn std::any::Any).downcast_ref::<caselog::Caselog>() {
        // Every case, and the first common word, in all tenants.
        let common = s
            .mix
            .iter()
            .find(|q| q.kind == "common word")
            .map(BenchQuery::caselog_text);
        for text in std::iter::once(String::new()).chain(common) {
            walks.extend(caselog::walks(c, &text)?);
        }
    }
    e.close()?;
    Ok(QueryResult {
        open_ms,
        latencies,
        lookup,
        with_snippets,
        first_english_ms,
        first_chinese_ms,
        walks,
        plans,
        peak_rss_kib: peak_rss_kib(),
    })
}

/// The unique word of probe append `k`: digits keep every stemmer off it.
fn probe_word(k: usize) -> String {
    format!("zqprobe{k}x")
}

fn append_phase<E: Engine>(dir: &Path, s: &Settings) -> Result<AppendResult> {
    let e = E::open(dir)?;
    let deadline = Duration::from_secs_f64(s.append_secs);
    let start = Instant::now();
    let all = ScopeSpec {
        name: "all tenants".into(),
        tenant: None,
        rank: None,
        cases: s.cases,
        mine_user: String::new(),
        deep_page: 1,
    };
    let probing = std::sync::atomic::AtomicBool::new(true);
    let (results, probe) = std::thread::scope(|scope| -> Result<_> {
        let handles: Vec<_> = (0..s.writers)
            .map(|w| {
                let e = &e;
                scope.spawn(move || {
                    let (mut ok, mut failed, mut first) = (0u64, 0u64, None);
                    let mut k = 0;
                    while start.elapsed() < deadline {
                        match e.append(gen::append_target(w, k, s.cases), w, gen::append_body(w, k)) {
                            Ok(()) => ok += 1,
                            Err(err) => {
                                failed += 1;
                                first.get_or_insert_with(|| format!("{err:#}"));
                            }
                        }
                        k += 1;
                    }
                    (ok, failed, first)
                })
            })
            .collect();
        let e = &e;
        // Runs until the probe has seen its last append, which may be
        // after the deadline.
        let probing = &probing;
        let refresher = scope.spawn(move || -> Result<()> {
            while probing.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(FLOOR_COMMIT_INTERVAL);
                e.refresh()?;
            }
            Ok(())
        });
        // The probe: one more writer whose every append carries a unique
        // word, timed until a search finds it.
        let all = &all;
        let probe = scope.spawn(move || -> Result<(Vec<f64>, u64)> {
            let (mut times, mut never) = (Vec::new(), 0);
            let mut k = 0;
            while start.elapsed() < deadline {
                let word = probe_word(k);
                let q = BenchQuery {
                    kind: "probe".into(),
                    terms: vec![word.clone()],
                    any: vec![],
                    not: vec![],
                    status: None,
                    created: None,
                };
                let t = Instant::now();
                e.append(
                    gen::append_target(s.writers + 1, k, s.cases),
                    s.writers,
                    format!("Probe {word}."),
                )?;
                let found = loop {
                    if e.search(&q, all)? > 0 {
                        break true;
                    }
                    if t.elapsed() > Duration::from_secs(30) {
                        break false;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                };
                if found {
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                } else {
                    never += 1;
                }
                k += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok((times, never))
        });
        let results: Vec<(u64, u64, Option<String>)> =
            handles.into_iter().map(|h| h.join().expect("writer thread")).collect();
        let probe = probe.join().expect("probe thread");
        probing.store(false, std::sync::atomic::Ordering::Relaxed);
        refresher.join().expect("refresh thread")?;
        Ok((results, probe?))
    })?;
    let secs = start.elapsed().as_secs_f64();
    let metrics = e.metrics_json();
    e.close()?;
    Ok(AppendResult {
        appends: results.iter().map(|r| r.0).sum(),
        secs,
        errors: results.iter().map(|r| r.1).sum(),
        first_error: results.into_iter().find_map(|r| r.2),
        searchable_ms: probe.0,
        never_searchable: probe.1,
        metrics,
        peak_rss_kib: peak_rss_kib(),
    })
}

/// Every system, in report order.
pub const SYSTEMS: &[&str] = &["caselog", "sqlite", "sqlite-rowid", "raw"];

/// Runs `phase` of `system` in a child process of `exe`; returns its JSON.
pub fn spawn_child(exe: &Path, system: &str, phase: Phase, dir: &Path, s: &Settings) -> Result<String> {
    let out = dir.with_extension(format!("{}.json", phase.name()));
    let status = std::process::Command::new(exe)
        .arg("child")
        .args(["--system", system, "--phase", phase.name()])
        .arg("--dir")
        .arg(dir)
        .arg("--out")
        .arg(&out)
        .arg("--settings")
        .arg(serde_json::to_string(s)?)
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    if !status.success() {
        bail!("{system} {} phase failed ({status})", phase.name());
    }
    let json = std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    std::fs::remove_file(&out)?;
    Ok(json)
}

/// Where each system's store lives under the run's data directory.
pub fn system_dir(data: &Path, system: &str) -> PathBuf {
    data.join(system)
}
