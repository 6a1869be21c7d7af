//! `viewspin`: reads one view page over and over on a store casebench
//! built, for profiling (`perf record -g viewspin ...`) and for the view
//! figures of BENCHMARKS.md. Prints the p50 and p99 of the runs, in µs.
//! With `--read-only` a schema-2 store is read as it is (no bucket counts:
//! a numbered page skips every key before it), without it the store is
//! opened for writing and so migrated.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use caselog_core::{Status, TenantId, UserId};
use caselog_store::{Options, Scope, Store, ViewKind, ViewQuery, ViewSort};
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
    #[arg(long, default_value_t = 1_000)]
    iters: usize,
    /// The page (1-based); `0` for the page halfway through the view
    /// (at most the view window).
    #[arg(long, default_value_t = 0)]
    page: u32,
    /// Cases per page.
    #[arg(long, default_value_t = 20)]
    per_page: u32,
    /// By creation instead of by update.
    #[arg(long)]
    created: bool,
    /// Ascending instead of descending.
    #[arg(long)]
    ascending: bool,
    /// Only this status (e.g. `needs_attention`).
    #[arg(long)]
    status: Option<String>,
    /// Open read-only.
    #[arg(long)]
    read_only: bool,
    /// *Mine* of this user instead of *All*.
    #[arg(long)]
    mine: Option<String>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let opts = Options {
        cache_bytes: 256 * 1024 * 1024,
        timer_interval: None,
        ..Options::default()
    };
    let t = Instant::now();
    let store = if cli.read_only {
        Store::open_read_only(&cli.store, opts)?
    } else {
        Store::open(&cli.store, opts)?
    };
    println!("opened in {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let scope = match &cli.tenant {
        Some(t) => Scope::Tenant(TenantId::parse(t)?),
        None => Scope::AllTenants,
    };
    let kind = match &cli.mine {
        Some(u) => ViewKind::Mine(UserId::parse(u)?),
        None => ViewKind::All,
    };
    let mut q = ViewQuery::new(kind);
    q.per_page = cli.per_page;
    q.sort = if cli.created {
        ViewSort::Created
    } else {
        ViewSort::Updated
    };
    q.descending = !cli.ascending;
    if let Some(s) = &cli.status {
        q.filter.statuses = vec![Status::parse(s)?];
    }
    if cli.page == 0 {
        let total = store.view(&scope, &q)?.total;
        let window = caselog_store::MAX_VIEW_WINDOW / u64::from(cli.per_page);
        q.page = (total / u64::from(cli.per_page) / 2).clamp(1, window) as u32;
    } else {
        q.page = cli.page;
    }
    let mut took = Vec::with_capacity(cli.iters);
    let mut total = 0;
    for _ in 0..cli.iters {
        let t = Instant::now();
        total = store.view(&scope, &q)?.total;
        took.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let at = |p: f64| caselog_bench::report::percentile(&took, p);
    println!(
        "page {} of {} per page, total {}: {} runs, p50 {:.1} µs, p99 {:.1} µs",
        q.page,
        q.per_page,
        total,
        took.len(),
        at(0.5),
        at(0.99)
    );
    if !cli.read_only {
        store.shutdown()?;
    }
    Ok(())
}
