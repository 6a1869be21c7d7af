//! Command dispatch and what the commands share: opening the store, scopes,
//! and the JSON shape of a case summary.

mod case;
mod erase;
mod feed;
mod ops;
pub mod read;
mod salvage;
pub mod search;
mod workflow;

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use caselog_core::{Category, Status};
use caselog_store::{Case, Options, Scope, Store, StoreError, STORE_FILE};
use serde::Serialize;

use crate::cli::{Cli, Command, DayRange, ScopeArgs};
use crate::Outcome;

/// Runs the parsed command line, writing results to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<Outcome> {
    let db = cli.db.as_path();
    match cli.command {
        Command::Demo(a) => crate::demo::run(db, &a, out),
        Command::Import(a) => crate::import::run(db, &a, out),
        Command::Search(a) => search::run(db, &a, out),
        Command::Show(a) => read::show(db, &a, out),
        Command::View(a) => read::view(db, &a, out),
        Command::Queue(a) => read::queue(db, &a, out),
        Command::Case(a) => case::run(db, a.action, out),
        Command::Export(a) => crate::export::run(db, &a, out),
        Command::Backup(a) => ops::backup(db, &a, out),
        Command::Verify(a) => ops::verify(db, &a, out),
        Command::Reindex => ops::reindex(db, out),
        Command::Stats(a) => read::stats(db, &a, out),
        Command::Salvage(a) => salvage::run(db, &a, out),
        Command::Feed(a) => feed::run(db, &a, out),
        Command::Erase(a) => erase::erase(db, &a, out),
        Command::Scrub(a) => erase::scrub(db, &a, out),
        Command::Compact(a) => ops::compact(db, &a, out),
        Command::Timers(a) => workflow::timers(db, &a, out),
        Command::Tenant(a) => workflow::tenant(db, a.action, out),
    }
}

/// Opens an existing store; a directory without one is an error rather
/// than a new empty store (a typo in `--db` should not look like "no cases").
pub fn open_existing(db: &Path) -> Result<Store> {
    if !db.join(STORE_FILE).is_file() {
        bail!(
            "no caselog store at {} (create one with `caselog demo` or `caselog import FILE`, or pass --db)",
            db.display()
        );
    }
    open_or_create(db)
}

/// Opens the store, creating it if the directory holds none. When the
/// search index has to be rebuilt on open (missing, damaged, another
/// schema), a progress bar shows it.
pub fn open_or_create(db: &Path) -> Result<Store> {
    let mut bar: Option<indicatif::ProgressBar> = None;
    // The operator's commands run no timer thread: `caselog timers` applies
    // the timers on request, and an import or a demo is never changed
    // behind the operator's back while it runs.
    let opts = Options {
        timer_interval: None,
        ..Options::default()
    };
    let store = Store::open_with_progress(db, opts, |p| {
        let pb = bar.get_or_insert_with(|| {
            let pb = crate::progress::bar(p.total, "cases");
            pb.set_message(format!("rebuilding the search index ({})", p.reason));
            pb
        });
        pb.set_length(p.total);
        pb.set_position(p.done);
    });
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    store.map_err(|e| opening_error(db, e))
}

/// Opens an existing store for a command that only reads: nothing in the
/// store directory is created, repaired or rewritten, so this works on a
/// store the user may read but not write and leaves a damaged one as it is.
pub fn open_for_reading(db: &Path) -> Result<Store> {
    if !db.join(STORE_FILE).is_file() {
        bail!(
            "no caselog store at {} (create one with `caselog demo` or `caselog import FILE`, or pass --db)",
            db.display()
        );
    }
    let mut bar: Option<indicatif::ProgressBar> = None;
    let store = Store::open_read_only_with_progress(db, Options::default(), |p| {
        let pb = bar.get_or_insert_with(|| {
            let pb = crate::progress::bar(p.total, "cases");
            pb.set_message(format!("indexing in memory ({})", p.reason));
            pb
        });
        pb.set_length(p.total);
        pb.set_position(p.done);
    });
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    store.map_err(|e| opening_error(db, e))
}

fn opening_error(db: &Path, e: StoreError) -> anyhow::Error {
    // A store another process holds says so itself (`AlreadyOpen`); one that
    // needs recovery gets the commands that recover or read it.
    let recover = matches!(e, StoreError::NeedsRecovery { .. });
    let err = anyhow::Error::new(e).context(format!("opening the store at {}", db.display()));
    if recover {
        err.context(
            "run `caselog reindex` (or any write command) to recover it, or `caselog salvage` to read it as it is",
        )
    } else {
        err
    }
}

/// Shuts the store down, reporting a failed final commit. An index that
/// could not commit (a full disk, say) loses nothing the store holds: it
/// is a warning, and the command's own outcome stands.
pub fn close(store: Store) -> Result<()> {
    match store.shutdown() {
        Err(e @ StoreError::IndexLagging { .. }) => {
            let _ = writeln!(std::io::stderr(), "warning: {e}");
            Ok(())
        }
        other => other.context("closing the store"),
    }
}

/// The store scope the arguments ask for.
pub fn scope(args: &ScopeArgs) -> Scope {
    match &args.tenant {
        Some(t) => Scope::Tenant(t.clone()),
        None => Scope::AllTenants,
    }
}

/// A day range as the store's half-open time range.
pub fn time_range(range: Option<DayRange>) -> caselog_store::TimeRange {
    let Some(r) = range else {
        return caselog_store::TimeRange::default();
    };
    caselog_store::TimeRange {
        start: r.first,
        end: r.last.map(|d| d.saturating_add(caselog_core::Span::days(1))),
    }
}

/// One case in JSON listings (views, queue, export summaries).
#[derive(Debug, Serialize)]
pub struct CaseSummary {
    /// Case number.
    pub number: String,
    /// Tenant.
    pub tenant: String,
    /// Title.
    pub title: String,
    /// Status.
    pub status: Status,
    /// Category.
    pub category: Category,
    /// Marketplace.
    pub marketplace: String,
    /// Creator.
    pub created_by: String,
    /// Assigned agent.
    pub assignee: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// Reply deadline while the case needs attention.
    pub reply_deadline: Option<String>,
}

impl From<&Case> for CaseSummary {
    fn from(c: &Case) -> Self {
        CaseSummary {
            number: c.number.to_string(),
            tenant: c.tenant.to_string(),
            title: c.title.clone(),
            status: c.status(),
            category: c.category,
            marketplace: c.marketplace.to_string(),
            created_by: c.created_by.to_string(),
            assignee: c.assignee.as_ref().map(ToString::to_string),
            created_at: c.state.created_at.to_rfc3339(),
            updated_at: c.state.updated_at.to_rfc3339(),
            reply_deadline: c.state.reply_deadline.map(|t| t.to_rfc3339()),
        }
    }
}
