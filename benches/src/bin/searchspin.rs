//! `searchspin`: runs one search (or, with `--number`, one case-number
//! lookup) over and over on a store casebench
//! built, for profiling (`perf record -g searchspin ...`) and for the
//! per-stage figures of BENCHMARKS.md. Prints the p50 and p99 of the
//! runs, in µs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use caselog_core::TenantId;
use caselog_store::{Options, Scope, SearchOptions, SearchSort, Store};
use clap::Parser;

#[derive(Parser)]
struct Cli {
    /// The store (casebench's `<data>/caselog`).
    #[arg(long)]
    store: PathBuf,
    /// Tenant scope; all tenants when absent.
    #[arg(long)]
    tenant: Option<String>,
    /// Runs.
    #[arg(long, default_value_t = 10_000)]
    iters: usize,
    /// With snippets.
    #[arg(long)]
    snippets: bool,
    /// Walk every hit by creation with one `SearchWalk` (pages of 1,000)
    /// instead of searching one page.
    #[arg(long)]
    walk: bool,
    /// Milliseconds to wait between open and the first run (a host's
    /// first query rarely comes at once).
    #[arg(long, default_value_t = 0)]
    pause_ms: u64,
    /// Look `query` up as a case number (`Store::case`) instead of
    /// searching it.
    #[arg(long)]
    number: bool,
    /// A second query, run once right after the first run of `query` and
    /// timed alone (casebench's first Chinese query after the first English
    /// one).
    #[arg(long)]
    then: Option<String>,
    /// The query text.
    query: String,
}

/// The process's minor page faults so far (Linux), to tell first-touch
/// costs from work; `None` elsewhere.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command's closing parenthesis start at field 3;
    // minflt is field 10.
    stat.rsplit_once(')')?.1.split_whitespace().nth(7)?.parse().ok()
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let opened = Instant::now();
    let store = Store::open(
        &cli.store,
        Options {
            cache_bytes: 256 * 1024 * 1024,
            ..Options::default()
        },
    )?;
    let scope = match &cli.tenant {
        Some(t) => Scope::Tenant(TenantId::parse(t)?),
        None => Scope::AllTenants,
    };
    let mut opts = SearchOptions {
        snippets: cli.snippets,
        ..SearchOptions::default()
    };
    if cli.walk {
        opts = SearchOptions {
            sort: SearchSort::Created,
            descending: false,
            per_page: 1000,
            ..opts
        };
    }
    let open_ms = opened.elapsed().as_secs_f64() * 1e3;
    std::thread::sleep(std::time::Duration::from_millis(cli.pause_ms));
    let mut took = Vec::with_capacity(cli.iters);
    let mut hits = 0u64;
    for i in 0..cli.iters {
        // The first two runs report their page faults.
        let faults_before = if i < 2 { minor_faults() } else { None };
        let t = Instant::now();
        if cli.number {
            let number = caselog_core::CaseNumber::parse_imported(&cli.query)?;
            hits += u64::from(store.case(&scope, &number.into())?.is_some());
        } else if cli.walk {
            let mut walk = store.search_walk(&scope, &cli.query, &opts, None)?;
            loop {
                let n = walk.next_page()?.len() as u64;
                if n == 0 {
                    break;
                }
                hits += n;
            }
        } else {
            hits += store.search(&scope, &cli.query, &opts)?.hits.len() as u64;
        }
        took.push(t.elapsed().as_secs_f64() * 1e6);
        if let Some(before) = faults_before {
            if let Some(after) = minor_faults() {
                eprintln!(
                    "run {}: {:.1} µs, {} minor page faults{}",
                    i + 1,
                    took.last().copied().unwrap_or_default(),
                    after.saturating_sub(before),
                    if i == 0 {
                        format!(" (open took {open_ms:.2} ms)")
                    } else {
                        String::new()
                    }
                );
            }
        }
        if let (0, Some(then)) = (i, &cli.then) {
            let t = Instant::now();
            let n = store.search(&scope, then, &opts)?.total;
            eprintln!("then {then:?}: {:.1} µs, {n} hits", t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let at = |p: f64| caselog_bench::report::percentile(&took, p);
    println!(
        "{} runs, {} hits: p50 {:.1} µs, p99 {:.1} µs",
        took.len(),
        hits,
        at(0.5),
        at(0.99)
    );
    store.shutdown()?;
    Ok(())
}
