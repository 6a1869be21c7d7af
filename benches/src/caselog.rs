//! caselog through its public API, with default options except a page
//! cache as large as SQLite's (256 MiB).

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Result};
use caselog_core::{Actor, CaseNumber, Status, TenantId, UserId};
use caselog_store::{
    CaseRef, ImportOutcome, NewMessage, Options, Scope, SearchOptions, Store, ViewFilter, ViewKind, ViewQuery,
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
/// per batch, as before the log), for before/after figures.
fn options() -> Options {
    Options {
        cache_bytes: 256 * 1024 * 1024,
        wal: std::env::var("CASEBENCH_WAL").map_or(true, |v| v.trim() != "0"),
        ..Options::default()
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
