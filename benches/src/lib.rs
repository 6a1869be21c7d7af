//! Shared code of the benchmarks, and `casebench`, the side-by-side
//! benchmark of caselog against SQLite + FTS5 and against raw tantivy +
//! redb (see `BENCHMARKS.md`).
//!
//! `casebench run` generates a deterministic archive ([`gen`]) and, for each
//! system, re-executes itself as a child process per phase (ingest, hit
//! counts, queries, live appends), so that each phase's peak resident memory
//! (`VmHWM`) is its own. Hit counts of every query must agree across systems
//! before anything is timed.

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

use crate::queries::BenchQuery;

/// One system under test.
pub trait Engine: Sized + Sync + 'static {
    /// Name in reports.
    const NAME: &'static str;
    /// Loads the archive of `cases` cases into a new store in `dir`.
    fn ingest(dir: &Path, cases: u64) -> Result<IngestCounts>;
    /// Opens the store in `dir`, ready to answer.
    fn open(dir: &Path) -> Result<Self>;
    /// Runs a query (total and a first page of 20 by relevance); returns the total.
    fn search(&self, q: &BenchQuery, tenant: Option<&str>) -> Result<u64>;
    /// Reads a whole case by number within a tenant; whether it was found.
    fn lookup(&self, number: &str, tenant: &str) -> Result<bool>;
    /// Appends a support message to case `case`, durably.
    fn append(&self, case: u64, writer: usize, body: String) -> Result<()>;
    /// Closes the store cleanly.
    fn close(self) -> Result<()>;
}

/// What an ingest loaded.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct IngestCounts {
    /// Cases.
    pub cases: u64,
    /// Messages.
    pub messages: u64,
    /// Bytes of title and message text.
    pub payload_bytes: u64,
}

impl IngestCounts {
    /// Counts one case.
    pub fn add(&mut self, c: &ImportCase) {
        self.cases += 1;
        self.messages += c.thread.len() as u64;
        self.payload_bytes += gen::payload_bytes(c);
    }
}

/// Generates cases `0..cases` on a thread of its own, converted by `f`
/// there, so every system parses and prepares input in parallel with
/// writing.
pub fn produce<T: Send + 'static>(
    cases: u64,
    f: impl Fn(ImportCase) -> T + Send + 'static,
) -> crossbeam_channel::Receiver<T> {
    let (tx, rx) = crossbeam_channel::bounded(4_096);
    std::thread::spawn(move || {
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

/// Total size of the files under `path`.
pub fn disk_bytes(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        return Ok(meta.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        total += disk_bytes(&entry?.path())?;
    }
    Ok(total)
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

/// The result of a counts child: `counts[variant][scope]`, scope 0 being
/// all tenants and then each of [`queries::tenants`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CountsResult {
    /// Hit counts.
    pub counts: Vec<Vec<u64>>,
}

/// The result of a query child. Latencies in microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryResult {
    /// Time to open the store, ms.
    pub open_ms: f64,
    /// `latencies[kind]["tenant" | "all"]`.
    pub latencies: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    /// Number lookups within the tenant.
    pub lookup: Vec<f64>,
    /// caselog only: tenant-scoped searches with snippets.
    pub with_snippets: BTreeMap<String, Vec<f64>>,
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
    /// Peak RSS in KiB.
    pub peak_rss_kib: u64,
}

/// Runs one phase of one system in this process; returns its JSON.
pub fn run_child(system: &str, phase: Phase, dir: &Path, s: &Settings) -> Result<String> {
    match system {
        "caselog" => child::<caselog::Caselog>(phase, dir, s),
        "sqlite" => child::<sqlite::Sqlite>(phase, dir, s),
        "raw" => child::<raw::Raw>(phase, dir, s),
        _ => bail!("unknown system {system:?}"),
    }
}

fn child<E: Engine>(phase: Phase, dir: &Path, s: &Settings) -> Result<String> {
    let json = match phase {
        Phase::Ingest => {
            let start = Instant::now();
            let counts = E::ingest(dir, s.cases)?;
            let secs = start.elapsed().as_secs_f64();
            serde_json::to_string(&IngestResult {
                counts,
                secs,
                peak_rss_kib: peak_rss_kib(),
            })?
        }
        Phase::Counts => {
            let e = E::open(dir)?;
            let tenants = queries::tenants();
            let mut counts = Vec::new();
            for q in queries::mix() {
                let mut row = vec![e.search(&q, None)?];
                for t in &tenants {
                    row.push(e.search(&q, Some(t))?);
                }
                counts.push(row);
            }
            e.close()?;
            serde_json::to_string(&CountsResult { counts })?
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
    let mix = queries::mix();
    let tenants = queries::tenants();
    let mut latencies = BTreeMap::new();
    let mut with_snippets = BTreeMap::new();
    for kind in queries::KINDS {
        let variants: Vec<&BenchQuery> = mix.iter().filter(|q| q.kind == *kind).collect();
        let mut cells = BTreeMap::new();
        let n = variants.len();
        let tenant = |i: usize| tenants[(i / n) % tenants.len()].as_str();
        let tenant_times = time_loop(s, n * tenants.len(), |i| {
            e.search(variants[i % n], Some(tenant(i))).map(drop)
        })?;
        cells.insert("tenant".to_owned(), tenant_times);
        cells.insert(
            "all".to_owned(),
            time_loop(s, n, |i| e.search(variants[i % n], None).map(drop))?,
        );
        latencies.insert((*kind).to_owned(), cells);
        if let Some(c) = (&e as &dyn std::any::Any).downcast_ref::<caselog::Caselog>() {
            with_snippets.insert(
                (*kind).to_owned(),
                time_loop(s, n, |i| {
                    caselog::search_with_snippets(c, variants[i % n], Some(tenant(i))).map(drop)
                })?,
            );
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
    e.close()?;
    Ok(QueryResult {
        open_ms,
        latencies,
        lookup,
        with_snippets,
        peak_rss_kib: peak_rss_kib(),
    })
}

fn append_phase<E: Engine>(dir: &Path, s: &Settings) -> Result<AppendResult> {
    let e = E::open(dir)?;
    let deadline = Duration::from_secs_f64(s.append_secs);
    let start = Instant::now();
    let results: Vec<(u64, u64, Option<String>)> = std::thread::scope(|scope| {
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
        handles.into_iter().map(|h| h.join().expect("writer thread")).collect()
    });
    let secs = start.elapsed().as_secs_f64();
    e.close()?;
    Ok(AppendResult {
        appends: results.iter().map(|r| r.0).sum(),
        secs,
        errors: results.iter().map(|r| r.1).sum(),
        first_error: results.into_iter().find_map(|r| r.2),
        peak_rss_kib: peak_rss_kib(),
    })
}

/// Every system, in report order.
pub const SYSTEMS: &[&str] = &["caselog", "sqlite", "raw"];

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
