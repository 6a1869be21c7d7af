//! `searchfloor`: what a tenant-scoped `Store::search` costs next to the raw
//! tantivy floor on casebench's archive, query kind by query kind, plus the
//! figures of the search-cost section of `BENCHMARKS.md`: a query with no
//! hits, a rare word, snippets on and off, the first English and Chinese
//! query after open (each in a fresh process), and a cursor walk.
//!
//! ```text
//! searchfloor prepare --cases 100000 --data /var/tmp/searchfloor
//! searchfloor measure --data /var/tmp/searchfloor --iters 400
//! searchfloor spin --data /var/tmp/searchfloor --secs 20   # for perf record
//! ```

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use caselog_bench::caselog::{search_with_snippets, Caselog};
use caselog_bench::queries::{self, BenchQuery};
use caselog_bench::raw::Raw;
use caselog_bench::{system_dir, Engine};
use caselog_core::TenantId;
use caselog_store::{Options, Scope, SearchOptions, SearchSort, Store};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "tenant-scoped search cost: caselog vs the raw tantivy floor")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Loads casebench's archive into caselog and the raw floor (skipped
    /// for a system whose directory exists).
    Prepare {
        #[arg(long, default_value_t = 100_000)]
        cases: u64,
        #[arg(long)]
        data: PathBuf,
    },
    /// Times every query kind, tenant-scoped, in both systems.
    Measure {
        #[arg(long)]
        data: PathBuf,
        /// Timed runs per query kind and system.
        #[arg(long, default_value_t = 400)]
        iters: usize,
    },
    /// Runs tenant-scoped caselog queries for `secs` seconds (to profile).
    Spin {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 20.0)]
        secs: f64,
        /// Whether the queries make snippets.
        #[arg(long)]
        snippets: bool,
    },
    /// Opens the store and times one first query (run in a fresh process).
    #[command(hide = true)]
    First {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        text: String,
    },
}

fn query(kind: &str, terms: &[&str]) -> BenchQuery {
    BenchQuery {
        kind: kind.into(),
        terms: terms.iter().map(|t| (*t).to_owned()).collect(),
        status: None,
        created: None,
    }
}

/// The kinds timed: casebench's mix, a word of the long tail, and a word
/// found nowhere.
fn kinds() -> Vec<(String, Vec<BenchQuery>)> {
    let mix = queries::mix();
    let mut out: Vec<(String, Vec<BenchQuery>)> = queries::KINDS
        .iter()
        .map(|k| (k.to_string(), mix.iter().filter(|q| q.kind == *k).cloned().collect()))
        .collect();
    // casebench's generated pseudo-words of vocabulary ranks 5, 10, 20 and
    // 40 (`gen::pseudo_word`): a few cases per tenant.
    out.push((
        "rare word".into(),
        ["vo", "qua", "naklo", "suten"]
            .iter()
            .map(|w| query("rare word", &[w]))
            .collect(),
    ));
    out.push(("no hit".into(), vec![query("no hit", &["xylophonic"])]));
    out
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e6
}

/// p50 and p99 in µs of `iters` runs cycling through queries and tenants.
fn time(iters: usize, qs: &[BenchQuery], mut run: impl FnMut(&BenchQuery, &str) -> Result<u64>) -> Result<(f64, f64)> {
    let tenants = queries::tenants();
    // Warm-up pass.
    for q in qs {
        for t in &tenants {
            run(q, t)?;
        }
    }
    let mut samples = Vec::with_capacity(iters);
    for i in 0..iters {
        let q = &qs[i % qs.len()];
        let t = &tenants[(i / qs.len()) % tenants.len()];
        let start = Instant::now();
        std::hint::black_box(run(q, t)?);
        samples.push(start.elapsed());
    }
    samples.sort();
    Ok((percentile(&samples, 0.5), percentile(&samples, 0.99)))
}

fn store_options() -> Options {
    Options {
        cache_bytes: 256 * 1024 * 1024,
        ..Options::default()
    }
}

fn measure(data: &Path, iters: usize) -> Result<()> {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.trim());
    let caselog = Caselog::open(&system_dir(data, "caselog"))?;
    let raw = Raw::open(&system_dir(data, "raw"))?;
    println!(
        "| kind (tenant) | hits/tenant | caselog p50 | caselog p99 | raw p50 | raw p99 | p99 caselog/raw | snippets p50 | snippets p99 | p99 snippets/plain |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (kind, qs) in kinds() {
        let hits = qs
            .iter()
            .map(|q| caselog.search(q, Some(&queries::tenants()[0])))
            .sum::<Result<u64>>()?
            / qs.len() as u64;
        let rhits = qs
            .iter()
            .map(|q| raw.search(q, Some(&queries::tenants()[0])))
            .sum::<Result<u64>>()?
            / qs.len() as u64;
        if hits != rhits {
            bail!("{kind}: caselog finds {hits} hits, raw {rhits}");
        }
        let (c50, c99) = time(iters, &qs, |q, t| caselog.search(q, Some(t)))?;
        let (r50, r99) = time(iters, &qs, |q, t| raw.search(q, Some(t)))?;
        let (s50, s99) = time(iters, &qs, |q, t| search_with_snippets(&caselog, q, Some(t)))?;
        println!(
            "| {kind} | {hits} | {c50:.1} | {c99:.1} | {r50:.1} | {r99:.1} | {:.2} | {s50:.1} | {s99:.1} | {:.2} |",
            c99 / r99,
            s99 / c99
        );
    }
    caselog.close()?;
    raw.close()?;
    let exe = std::env::current_exe()?;
    for (what, text) in [("English", "refund"), ("Chinese", "退款")] {
        let out = Process::new(&exe)
            .args(["first", "--data"])
            .arg(data)
            .args(["--text", text])
            .output()?;
        if !out.status.success() {
            bail!("first-query child failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        println!(
            "first {what} query after open: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    walk(data)?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at end: {}", load.trim());
    Ok(())
}

/// Walks every hit of an all-tenants query, page by page (within the
/// result window) and with the cursor.
fn walk(data: &Path) -> Result<()> {
    let store = Store::open(system_dir(data, "caselog"), store_options())?;
    let opts = SearchOptions {
        snippets: false,
        per_page: 1_000,
        sort: SearchSort::Created,
        ..SearchOptions::default()
    };
    for text in ["refund", "inventory lost"] {
        let start = Instant::now();
        let mut walked = 0u64;
        let mut cursor = None;
        loop {
            let page = store.search_after(&Scope::AllTenants, text, &opts, cursor.as_ref())?;
            walked += page.hits.len() as u64;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "cursor walk of {text:?} (all tenants, by creation, 1,000 a page): {walked} hits in {:.0} ms, {:.0} hits/s",
            secs * 1e3,
            walked as f64 / secs
        );
    }
    store.shutdown()?;
    Ok(())
}

fn first(data: &Path, text: &str) -> Result<()> {
    let start = Instant::now();
    let store = Store::open(system_dir(data, "caselog"), store_options())?;
    let opened = start.elapsed();
    let scope = Scope::Tenant(TenantId::parse(&queries::tenants()[0])?);
    let opts = SearchOptions {
        snippets: false,
        ..SearchOptions::default()
    };
    let start = Instant::now();
    let found = store.search(&scope, text, &opts)?;
    let took = start.elapsed();
    let start = Instant::now();
    store.search(&scope, text, &opts)?;
    let second = start.elapsed();
    println!(
        "open {:.1} ms, first query {:.2} ms ({} hits), second {:.3} ms",
        opened.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e3,
        found.total,
        second.as_secs_f64() * 1e3
    );
    store.shutdown()?;
    Ok(())
}

fn spin(data: &Path, secs: f64, snippets: bool) -> Result<()> {
    let caselog = Caselog::open(&system_dir(data, "caselog"))?;
    let tenants = queries::tenants();
    let all: Vec<BenchQuery> = kinds().into_iter().flat_map(|(_, qs)| qs).collect();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut n = 0usize;
    while Instant::now() < deadline {
        let q = &all[n % all.len()];
        let t = &tenants[(n / all.len()) % tenants.len()];
        if snippets {
            search_with_snippets(&caselog, q, Some(t))?;
        } else {
            caselog.search(q, Some(t))?;
        }
        n += 1;
    }
    println!("{n} queries in {secs} s");
    caselog.close()
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Prepare { cases, data } => {
            for system in ["caselog", "raw"] {
                let dir = system_dir(&data, system);
                if dir.exists() {
                    continue;
                }
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                let start = Instant::now();
                let counts = match system {
                    "caselog" => Caselog::ingest(&dir, cases)?,
                    _ => Raw::ingest(&dir, cases)?,
                };
                println!(
                    "{system}: {} cases in {:.1} s",
                    counts.cases,
                    start.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
        Command::Measure { data, iters } => measure(&data, iters),
        Command::Spin { data, secs, snippets } => spin(&data, secs, snippets),
        Command::First { data, text } => first(&data, &text),
    }
}
