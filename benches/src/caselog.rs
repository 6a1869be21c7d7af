//! caselog through its public API, with default options except a page
//! cache as large as SQLite's (256 MiB).

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Result};
use caselog_core::{Actor, CaseNumber, Status, TenantId, UserId};
use caselog_store::{
    CaseRef, ImportOutcome, NewMessage, Options, Scope, SearchOptions, SearchSort, Store, ViewFilter, ViewKind,
    ViewQuery,
};

use crate::queries::{BenchQuery, ScopeSpec};
use crate::{gen, Engine, Settings};

/// The caselog system.
pub struct Caselog {
    store: Store,
}

fn scope(tenant: Option<&str>) -> Result<Scope> {
    Ok(match tenant {
        Some(t) => Scope::Tenant(TenantId::parse(t)?),
        None => Scope::AllTenants,
    })
}

/// Default options with redb's page cache at SQLite's 256 MiB.
/// `CASEBENCH_WAL=0` turns the write-ahead log off (durable redb commits
/// per batch, as before the log), for before/after figures. For measuring
/// the trade-offs of other defaults, these override an option each:
/// `CASEBENCH_INDEX_THREADS` (`index_threads`), `CASEBENCH_MERGE_LAYER`
/// (`index_merge_min_layer_docs`), `CASEBENCH_INDEX_COMMIT_MS`
/// (`index_commit_interval`), `CASEBENCH_CHECKPOINT_MS`
/// (`checkpoint_interval`).
fn options() -> Options {
    fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
        std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
    }
    let base = Options::default();
    Options {
        cache_bytes: 256 * 1024 * 1024,
        wal: std::env::var("CASEBENCH_WAL").map_or(true, |v| v.trim() != "0"),
        index_threads: env("CASEBENCH_INDEX_THREADS").unwrap_or(base.index_threads),
        index_merge_min_layer_docs: env("CASEBENCH_MERGE_LAYER").unwrap_or(base.index_merge_min_layer_docs),
        index_commit_interval: env("CASEBENCH_INDEX_COMMIT_MS")
            .map(Duration::from_millis)
            .unwrap_or(base.index_commit_interval),
        checkpoint_interval: env("CASEBENCH_CHECKPOINT_MS")
            .map(Duration::from_millis)
            .unwrap_or(base.checkpoint_interval),
        ..base
    }
}

impl Caselog {
    /// The store's write-path counters.
    pub fn metrics(&self) -> caselog_store::Metrics {
        self.store.metrics()
    }
}

impl Engine for Caselog {
    const NAME: &'static str = "caselog";

    fn ingest(dir: &Path, s: &Settings, counts: &mut crate::IngestCounts) -> Result<()> {
        let store = Store::open(dir, options())?;
        let counted = std::cell::RefCell::new(std::mem::take(counts));
        let rx = crate::produce(s.cases, |c| c);
        let outcomes = store.import(rx.into_iter().inspect(|c| counted.borrow_mut().add(c)))?;
        *counts = counted.into_inner();
        let imported = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(ImportOutcome::Imported { .. })))
            .count();
        ensure!(
            imported as u64 == s.cases,
            "caselog imported {imported} of {} cases",
            s.cases
        );
        // Ingest ends when the archive is searchable.
        ensure!(
            store.wait_indexed(store.last_change(), Duration::from_secs(24 * 3600))?,
            "index did not catch up"
        );
        eprintln!(
            "           caselog write path during ingest:\n{}",
            indent(&store.metrics().to_string())
        );
        store.shutdown()?;
        // What `caselog import` does after an import into an empty store:
        // the copy-on-write import's free pages go back to the disk.
        let c = Store::compact(dir)?;
        eprintln!(
            "           caselog compaction after ingest: {} -> {} MiB allocated",
            c.allocated_before >> 20,
            c.allocated_after >> 20
        );
        Ok(())
    }

    fn open(dir: &Path) -> Result<Self> {
        Ok(Caselog {
            store: Store::open(dir, options())?,
        })
    }

    fn search(&self, q: &BenchQuery, s: &ScopeSpec) -> Result<u64> {
        // Snippets are timed apart (they read the thread from redb); facets
        // cannot be turned off and are included.
        let opts = SearchOptions {
            snippets: false,
            ..SearchOptions::default()
        };
        Ok(self
            .store
            .search(&scope(s.tenant.as_deref())?, &q.caselog_text(), &opts)?
            .total)
    }

    fn view(&self, view: &str, s: &ScopeSpec) -> Result<Option<u64>> {
        // Needs attention is the All tab filtered to that status: imported
        // cases carry no reply deadline, so the deadline-ordered tab
        // (`ViewKind::NeedsAttention`) would list none of them.
        let kind = match view {
            "view: mine" => ViewKind::Mine(UserId::parse(&s.mine_user)?),
            _ => ViewKind::All,
        };
        let mut q = ViewQuery::new(kind);
        if view == "view: all, deep page" {
            q.page = s.deep_page;
        }
        if view == "view: needs attention" {
            q.filter = ViewFilter {
                statuses: vec![Status::NeedsAttention],
                ..ViewFilter::default()
            };
        }
        Ok(Some(self.store.view(&scope(s.tenant.as_deref())?, &q)?.total))
    }

    fn lookup(&self, number: &str, tenant: &str) -> Result<bool> {
        Ok(self
            .store
            .case(&scope(Some(tenant))?, &CaseNumber::parse_imported(number)?.into())?
            .is_some())
    }

    fn append(&self, case: u64, writer: usize, body: String) -> Result<()> {
        self.store.reply(
            &Scope::AllTenants,
            &CaseRef::Number(gen::number(case)),
            NewMessage::new(Actor::Support(UserId::parse(&format!("agent-{writer}"))?), body),
        )?;
        Ok(())
    }

    fn metrics_json(&self) -> Option<serde_json::Value> {
        Some(crate::metrics_json(&self.store.metrics()))
    }

    fn close(self) -> Result<()> {
        self.store.shutdown()?;
        Ok(())
    }
}

/// Indents every line for the progress log.
pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("             {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The same search with snippets, for the separate snippet figure.
pub fn search_with_snippets(c: &Caselog, q: &BenchQuery, s: &ScopeSpec) -> Result<u64> {
    Ok(c.store
        .search(
            &scope(s.tenant.as_deref())?,
            &q.caselog_text(),
            &SearchOptions::default(),
        )?
        .total)
}

/// One deep walk through every hit of a query: how, how many, how long.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WalkResult {
    /// The query text (empty: every case).
    pub query: String,
    /// `search_after` pages, `walk` pages (`SearchWalk::next_page`) or
    /// `walk ids` (`SearchWalk::next_ids`).
    pub method: String,
    /// Hits walked.
    pub hits: u64,
    /// Seconds the walk took.
    pub secs: f64,
}

/// Walks every hit of `text` in all tenants, oldest first, 1,000 a page,
/// three ways: by `search_after` cursors, by one `SearchWalk` rendering
/// whole hits, and by one `SearchWalk` giving ids only.
pub fn walks(c: &Caselog, text: &str) -> Result<Vec<WalkResult>> {
    let opts = SearchOptions {
        sort: SearchSort::Created,
        descending: false,
        per_page: 1000,
        snippets: false,
        ..SearchOptions::default()
    };
    let scope = Scope::AllTenants;
    let mut out = Vec::new();
    let mut push = |method: &str, hits: u64, t: std::time::Instant| {
        out.push(WalkResult {
            query: text.to_owned(),
            method: method.into(),
            hits,
            secs: t.elapsed().as_secs_f64(),
        })
    };
    let t = std::time::Instant::now();
    let (mut hits, mut cursor) = (0u64, None);
    loop {
        let page = c.store.search_after(&scope, text, &opts, cursor.as_ref())?;
        hits += page.hits.len() as u64;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    push("search_after pages", hits, t);
    type Page = fn(&mut caselog_store::SearchWalk<'_>) -> caselog_store::Result<usize>;
    let pages: [(&str, Page); 2] = [
        ("walk pages", |w| Ok(w.next_page()?.len())),
        ("walk ids", |w| Ok(w.next_ids()?.len())),
    ];
    for (method, page) in pages {
        let t = std::time::Instant::now();
        let mut walk = c.store.search_walk(&scope, text, &opts, None)?;
        let mut hits = 0u64;
        loop {
            let n = page(&mut walk)? as u64;
            if n == 0 {
                break;
            }
            hits += n;
        }
        push(method, hits, t);
    }
    Ok(out)
}
