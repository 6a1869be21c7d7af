//! `searchspin`: runs one search over and over on a store casebench
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
    /// The query text.
    query: String,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
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
    let mut took = Vec::with_capacity(cli.iters);
    let mut hits = 0u64;
    for _ in 0..cli.iters {
        let t = Instant::now();
        if cli.walk {
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
