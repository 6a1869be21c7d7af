//! `demo`: generate the deterministic demo archive, import it through
//! [`caselog_store::Store::import_with_progress`], wait until it is
//! searchable, and print a short tour.
//!
//! On an existing store the demo never deletes anything: its case numbers
//! are stable, so cases already present are skipped and only missing ones
//! are added (a second run is quick and changes nothing).

mod content;
mod generator;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use caselog_core::{Span, TransitionError};
use caselog_store::{ImportOutcome, QueueQuery, Scope, SearchOptions, SearchSort, Store, ViewKind, ViewQuery};

use crate::cli::DemoArgs;
use crate::commands::read::{write_queue, write_view};
use crate::commands::search::{write_results, Marks};
use crate::commands::{close, open_or_create};
use crate::{progress, Outcome};
pub use generator::{number, tenant_id, Generator};

/// How long the demo waits for the index to catch up with the import.
const INDEX_WAIT: Duration = Duration::from_secs(600);

/// `demo`.
pub fn run(db: &Path, args: &DemoArgs, out: &mut dyn Write) -> Result<Outcome> {
    let started = Instant::now();
    let store = open_or_create(db)?;
    let generator = Generator::new(args.seed, args.cases);
    // Cases waiting for the seller, per tenant, for the tour's
    // "needing attention" stop.
    let mut attention: BTreeMap<u32, u64> = BTreeMap::new();
    let mut refused: Option<TransitionError> = None;
    let bar = progress::bar(args.cases, "cases");
    bar.set_message("importing the demo archive");
    // Oldest first, so ids follow creation time.
    let cases = (0..args.cases).rev().map_while(|k| match generator.case(k) {
        Ok(g) => {
            if g.case.case.status() == caselog_core::Status::NeedsAttention {
                *attention.entry(g.tenant).or_default() += 1;
            }
            Some(g.case)
        }
        Err(e) => {
            refused = Some(e);
            None
        }
    });
    let outcomes = store.import_with_progress(cases, |done| bar.set_position(done as u64));
    bar.finish_and_clear();
    let outcomes = outcomes.context("importing the demo archive")?;
    if let Some(e) = refused {
        bail!("the demo generator made a case the lifecycle rules refuse (a bug): {e}");
    }
    let (mut imported, mut skipped, mut failed) = (0u64, 0u64, Vec::new());
    for o in outcomes {
        match o {
            Ok(ImportOutcome::Imported { .. }) => imported += 1,
            Ok(ImportOutcome::Skipped { .. }) => skipped += 1,
            Err(e) => failed.push(e.to_string()),
        }
    }
    let imported_after = started.elapsed();

    let spinner = progress::spinner();
    spinner.set_message("indexing");
    let caught_up = store.wait_indexed(store.last_change(), INDEX_WAIT);
    spinner.finish_and_clear();
    if !caught_up.context("waiting for the search index")? {
        bail!("the search index did not catch up within {} s", INDEX_WAIT.as_secs());
    }
    let searchable_after = started.elapsed();

    writeln!(
        out,
        "Demo store at {}: {imported} cases imported, {skipped} already present \
         (imported in {:.1} s, searchable after {:.1} s).",
        db.display(),
        imported_after.as_secs_f64(),
        searchable_after.as_secs_f64()
    )?;
    if !failed.is_empty() {
        let examples: Vec<&str> = failed.iter().take(3).map(String::as_str).collect();
        writeln!(
            out,
            "{} cases were refused by the store, e.g.: {}",
            failed.len(),
            examples.join("; ")
        )?;
    }
    if !args.no_tour {
        tour(&store, &generator, args.cases, &attention, out)?;
        writeln!(out, "\nDemo finished in {:.1} s.", started.elapsed().as_secs_f64())?;
    }
    close(store)?;
    if !failed.is_empty() {
        bail!("{} demo cases were refused by the store", failed.len());
    }
    Ok(Outcome::Success)
}

fn heading(out: &mut dyn Write, command: &str, what: &str) -> std::io::Result<()> {
    writeln!(out, "\n── {what}\n$ {command}")
}

fn search(store: &Store, out: &mut dyn Write, text: &str, sort: SearchSort) -> Result<()> {
    let opts = SearchOptions {
        sort,
        descending: true,
        page: 1,
        per_page: 3,
        snippets: true,
    };
    let results = store
        .search(&Scope::AllTenants, text, &opts)
        .with_context(|| format!("searching for {text:?}"))?;
    write_results(out, &results, Marks::for_stdout())
}

/// Shell-quotes a query for display when it needs it.
fn quoted(text: &str) -> String {
    if text.chars().all(|c| c.is_alphanumeric() || "-_.:@".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn tour(
    store: &Store,
    generator: &Generator,
    cases: u64,
    attention: &BTreeMap<u32, u64>,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(
        out,
        "\nA short tour; every step is a command you can run yourself (add --db if you used it)."
    )?;
    let steps: [(&str, &str, SearchSort); 3] = [
        (
            "Keyword search: every word must match",
            "refund delayed",
            SearchSort::Relevance,
        ),
        ("Phrase search", "\"inventory was lost\"", SearchSort::Relevance),
        (
            "Chinese search: 账户 停用 finds 我的账户被停用了",
            "账户 停用",
            SearchSort::Relevance,
        ),
    ];
    for (what, q, sort) in steps {
        heading(out, &format!("caselog search --all-tenants {}", quoted(q)), what)?;
        search(store, out, q, sort)?;
    }
    let wanted = number(7.min(cases.saturating_sub(1)));
    heading(
        out,
        &format!("caselog search --all-tenants {wanted}"),
        "A case number typed alone finds its case first",
    )?;
    search(store, out, wanted.as_str(), SearchSort::Relevance)?;

    let last = generator.anchor();
    let first = last.saturating_sub(Span::days(6));
    let range = format!(
        "created:{}..{} category:fba_inventory",
        first.day_string(),
        last.day_string()
    );
    heading(
        out,
        &format!("caselog search --all-tenants {} --sort created", quoted(&range)),
        "A date range with a field filter, newest first",
    )?;
    search(store, out, &range, SearchSort::Created)?;

    // The seller with the most cases waiting on them (lowest index on ties).
    let busiest = attention
        .iter()
        .max_by_key(|(t, n)| (**n, std::cmp::Reverse(**t)))
        .map(|(t, _)| tenant_id(*t));
    if let Some(tenant) = busiest {
        heading(
            out,
            &format!("caselog view attention --tenant {tenant}"),
            "Cases needing attention for one seller, soonest reply deadline first",
        )?;
        let scope = Scope::Tenant(tenant);
        let mut q = ViewQuery::new(ViewKind::NeedsAttention);
        q.per_page = 5;
        let page = store.view(&scope, &q).context("reading the attention view")?;
        write_view(out, &page, &scope, true)?;
    }

    heading(
        out,
        "caselog queue --limit 5",
        "Top of the support queue: priority class, then due time",
    )?;
    let entries = store
        .queue(
            &Scope::AllTenants,
            &QueueQuery {
                limit: 5,
                category: None,
                marketplace: None,
            },
        )
        .context("reading the queue")?;
    write_queue(out, &entries)?;
    writeln!(
        out,
        "\nMore: caselog show NUMBER --all-tenants · caselog stats · caselog export --all-tenants --format xlsx --out cases.xlsx"
    )?;
    Ok(())
}
