//! caselog through its public API, with default options except a page
//! cache as large as SQLite's (256 MiB).

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Result};
use caselog_core::{Actor, TenantId, UserId};
use caselog_store::{CaseRef, ImportOutcome, NewMessage, Options, Scope, SearchOptions, Store};

use crate::queries::BenchQuery;
use crate::{gen, Engine};

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
fn options() -> Options {
    Options {
        cache_bytes: 256 * 1024 * 1024,
        ..Options::default()
    }
}

impl Engine for Caselog {
    const NAME: &'static str = "caselog";

    fn ingest(dir: &Path, cases: u64) -> Result<crate::IngestCounts> {
        let store = Store::open(dir, options())?;
        let counts = std::cell::RefCell::new(crate::IngestCounts::default());
        let rx = crate::produce(cases, |c| c);
        let outcomes = store.import(rx.into_iter().inspect(|c| counts.borrow_mut().add(c)))?;
        let imported = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(ImportOutcome::Imported { .. })))
            .count();
        ensure!(imported as u64 == cases, "caselog imported {imported} of {cases} cases");
        // Ingest ends when the archive is searchable.
        ensure!(
            store.wait_indexed(store.last_change(), Duration::from_secs(24 * 3600))?,
            "index did not catch up"
        );
        store.shutdown()?;
        Ok(counts.into_inner())
    }

    fn open(dir: &Path) -> Result<Self> {
        Ok(Caselog {
            store: Store::open(dir, options())?,
        })
    }

    fn search(&self, q: &BenchQuery, tenant: Option<&str>) -> Result<u64> {
        // Snippets are timed apart (they read the thread from redb); facets
        // cannot be turned off and are included.
        let opts = SearchOptions {
            snippets: false,
            ..SearchOptions::default()
        };
        Ok(self.store.search(&scope(tenant)?, &q.caselog_text(), &opts)?.total)
    }

    fn lookup(&self, number: &str, tenant: &str) -> Result<bool> {
        Ok(self.store.case_by_number(&scope(Some(tenant))?, number)?.is_some())
    }

    fn append(&self, case: u64, writer: usize, body: String) -> Result<()> {
        self.store.reply(
            &Scope::AllTenants,
            &CaseRef::Number(gen::number(case)),
            NewMessage {
                actor: Actor::Support(UserId::parse(&format!("agent-{writer}"))?),
                body,
                attachments: vec![],
                at: None,
            },
        )?;
        Ok(())
    }

    fn close(self) -> Result<()> {
        self.store.shutdown()?;
        Ok(())
    }
}

/// The same search with snippets, for the separate snippet figure.
pub fn search_with_snippets(c: &Caselog, q: &BenchQuery, tenant: Option<&str>) -> Result<u64> {
    Ok(c.store
        .search(&scope(tenant)?, &q.caselog_text(), &SearchOptions::default())?
        .total)
}
