//! Operator commands: `backup`, `verify`, `reindex`, `compact`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use caselog_core::Status;
use caselog_store::{Scope, Store, VerifyReport, STORE_FILE};
use serde::Serialize;

use super::{close, open_existing, open_for_reading, open_or_create};
use crate::cli::{BackupArgs, CompactArgs, VerifyArgs};
use crate::render::json_line;
use crate::{progress, Outcome};

/// `backup DEST`.
///
/// Consistency: the copy is made from one redb read transaction
/// ([`caselog_store::Snapshot::copy_to`]). A read transaction
/// sees exactly one committed version of the file and redb never
/// overwrites pages a live reader can see, so writers may go on
/// committing while the copy runs and none of their changes, whole or
/// partial, reach it. The copy is written table by table into a new file
/// in one write transaction, committed durably, and only then renamed to
/// `cases.redb`: the destination holds a complete store or none. (Copying
/// the live file's bytes instead would not be safe even inside a read
/// transaction: a commit may rewrite free pages and the header meanwhile.)
/// The search index is derived data; it is rebuilt at the destination when
/// the copy is first opened, which this command does before it reports.
pub fn backup(db: &Path, args: &BackupArgs, out: &mut dyn Write) -> Result<Outcome> {
    // Checked before the store is opened (the copy checks again): a new or
    // empty directory outside the store's own.
    caselog_store::check_backup_destination(db, &args.dest)?;
    let store = open_for_reading(db)?;
    let copied = {
        let snapshot = store.snapshot().context("opening a snapshot of the store")?;
        let spinner = progress::spinner();
        spinner.set_message("copying the store");
        let copied = snapshot
            .copy_to(&args.dest)
            .with_context(|| format!("copying the store to {}", args.dest.display()));
        spinner.finish_and_clear();
        copied?
    };
    close(store)?;
    // Opening the copy builds its index; a copy that does not open or
    // whose counts differ is reported as a failed backup.
    let copy = open_or_create(&args.dest).context("opening the backup")?;
    let cases = copy.snapshot()?.case_count()?;
    let report = copy.verify().context("verifying the backup's index")?;
    close(copy)?;
    if cases != copied.cases || !report.is_consistent() {
        bail!(
            "the backup at {} does not check out: {} cases copied, {} found, {} index problems",
            args.dest.display(),
            copied.cases,
            cases,
            report.problems
        );
    }
    writeln!(
        out,
        "Backed up {} cases ({} rows) to {}; search index rebuilt and verified.",
        copied.cases,
        copied.rows,
        copied.path.display()
    )?;
    Ok(Outcome::Success)
}

/// What `verify` found in the store itself.
#[derive(Debug, Default, Serialize)]
struct StoreCheck {
    cases: u64,
    thread_entries: u64,
    problems: Vec<String>,
}

/// Most store problems listed (all are counted).
const MAX_LISTED: usize = 100;

impl StoreCheck {
    fn problem(&mut self, p: String, count: &mut u64) {
        *count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
    }
}

/// Checks every record of the store through one snapshot: each case and
/// thread entry decodes, threads are complete, numbers resolve to their
/// case, and the view tables count the same cases per status.
fn check_store(store: &Store) -> Result<(StoreCheck, u64)> {
    let mut check = StoreCheck::default();
    let mut problems = 0u64;
    let mut by_status: BTreeMap<Status, u64> = BTreeMap::new();
    let bar = progress::spinner();
    bar.set_message("checking the store");
    {
        let snapshot = store.snapshot()?;
        for item in snapshot.cases(&Scope::AllTenants)? {
            match item {
                Ok((case, thread)) => {
                    check.cases += 1;
                    check.thread_entries += thread.len() as u64;
                    *by_status.entry(case.status()).or_default() += 1;
                    match store.case(&Scope::AllTenants, &case.number.clone().into()) {
                        Ok(Some(c)) if c.id == case.id => {}
                        Ok(other) => check.problem(
                            format!(
                                "case number {} resolves to {}, not to case {}",
                                case.number,
                                other.map_or("nothing".to_owned(), |c| c.id.to_string()),
                                case.id
                            ),
                            &mut problems,
                        ),
                        Err(e) => check.problem(format!("case number {}: {e}", case.number), &mut problems),
                    }
                    if check.cases % 10_000 == 0 {
                        bar.set_message(format!("checking the store: {} cases", check.cases));
                    }
                }
                Err(e) => check.problem(e.to_string(), &mut problems),
            }
        }
    }
    bar.finish_and_clear();
    let stats = store.stats().context("reading the view tables' counts")?;
    for status in Status::ALL {
        let records = by_status.get(status).copied().unwrap_or(0);
        let views = stats.by_status.get(status).copied().unwrap_or(0);
        if records != views {
            check.problem(
                format!("{records} case records are {status} but the view tables list {views}"),
                &mut problems,
            );
        }
    }
    if stats.cases != check.cases {
        check.problem(
            format!(
                "{} case records read, the case table counts {}",
                check.cases, stats.cases
            ),
            &mut problems,
        );
    }
    Ok((check, problems))
}

#[derive(Serialize)]
struct VerifyJson {
    ok: bool,
    store: StoreJson,
    index: IndexJson,
}

#[derive(Serialize)]
struct StoreJson {
    cases: u64,
    thread_entries: u64,
    problems: u64,
    details: Vec<String>,
}

#[derive(Serialize)]
struct IndexJson {
    cases: u64,
    documents: u64,
    verified: u64,
    in_flight: u64,
    problems: u64,
    missing: Vec<u64>,
    duplicated: Vec<u64>,
    extra: Vec<u64>,
    mismatched: Vec<MismatchJson>,
}

#[derive(Serialize)]
struct MismatchJson {
    id: u64,
    fields: Vec<&'static str>,
}

fn index_json(r: &VerifyReport) -> IndexJson {
    IndexJson {
        cases: r.cases,
        documents: r.documents,
        verified: r.verified,
        in_flight: r.in_flight,
        problems: r.problems,
        missing: r.missing.iter().map(|c| c.0).collect(),
        duplicated: r.duplicated.iter().map(|c| c.0).collect(),
        extra: r.extra.clone(),
        mismatched: r
            .mismatched
            .iter()
            .map(|m| MismatchJson {
                id: m.id.0,
                fields: m.fields.clone(),
            })
            .collect(),
    }
}

/// `verify`.
pub fn verify(db: &Path, args: &VerifyArgs, out: &mut dyn Write) -> Result<Outcome> {
    let store = open_for_reading(db)?;
    let (check, store_problems) = check_store(&store)?;
    if let Some(rebuilt) = store.index_rebuilt_on_open() {
        // A read-only open does not touch the index on disk: say it was unusable.
        writeln!(
            std::io::stderr(),
            "note: the search index on disk does not cover the store ({}); checked an index built in memory instead; a read-write open (e.g. `caselog reindex`) rebuilds it",
            rebuilt.reason
        )?;
    }
    let spinner = progress::spinner();
    spinner.set_message("comparing the search index with the store");
    let report = store.verify().context("verifying the search index");
    spinner.finish_and_clear();
    close(store)?;
    let report = report?;
    let ok = store_problems == 0 && report.is_consistent();
    let index = index_json(&report);
    if args.json {
        json_line(
            out,
            &VerifyJson {
                ok,
                store: StoreJson {
                    cases: check.cases,
                    thread_entries: check.thread_entries,
                    problems: store_problems,
                    details: check.problems,
                },
                index,
            },
        )?;
    } else {
        writeln!(
            out,
            "Store: {} cases, {} thread entries, {} problems",
            check.cases, check.thread_entries, store_problems
        )?;
        for p in &check.problems {
            writeln!(out, "  - {p}")?;
        }
        writeln!(
            out,
            "Index: {} documents for {} cases; {} verified, {} changing during the check, {} problems",
            index.documents, index.cases, index.verified, index.in_flight, index.problems
        )?;
        let list = |ids: &[u64]| ids.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join(", ");
        if !index.missing.is_empty() {
            writeln!(out, "  - cases without a document: {}", list(&index.missing))?;
        }
        if !index.duplicated.is_empty() {
            writeln!(out, "  - cases with several documents: {}", list(&index.duplicated))?;
        }
        if !index.extra.is_empty() {
            writeln!(out, "  - documents of no case: {}", list(&index.extra))?;
        }
        for m in &index.mismatched {
            writeln!(out, "  - case #{}: document differs in {}", m.id, m.fields.join(", "))?;
        }
        if ok {
            writeln!(out, "OK: the store is intact and the index agrees with it.")?;
        }
    }
    if !ok {
        bail!(
            "verify found {} problems (store {store_problems}, index {}); `caselog reindex` rebuilds the index from the store",
            store_problems + report.problems,
            report.problems
        );
    }
    Ok(Outcome::Success)
}

/// `reindex`.
pub fn reindex(db: &Path, out: &mut dyn Write) -> Result<Outcome> {
    let store = open_existing(db)?;
    let bar = progress::bar(0, "cases");
    bar.set_message("rebuilding the search index");
    let handle = bar.clone();
    let report = store.reindex(move |p| {
        handle.set_length(p.total);
        handle.set_position(p.done);
    });
    bar.finish_and_clear();
    close(store)?;
    let report = report.context("rebuilding the search index")?;
    writeln!(
        out,
        "Rebuilt the search index: {} cases in {:.1} s (covers change {}).",
        report.cases,
        report.took.as_secs_f64(),
        report.change
    )?;
    Ok(Outcome::Success)
}

/// `compact`: redb compaction of the closed store's file.
pub fn compact(db: &Path, args: &CompactArgs, out: &mut dyn Write) -> Result<Outcome> {
    if !db.join(STORE_FILE).is_file() {
        bail!("no caselog store at {}", db.display());
    }
    let r = Store::compact(db).with_context(|| format!("compacting the store at {}", db.display()))?;
    if args.json {
        let v = serde_json::json!({
            "bytes_before": r.bytes_before,
            "bytes_after": r.bytes_after,
            "allocated_before": r.allocated_before,
            "allocated_after": r.allocated_after,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "store file {} -> {} bytes ({} -> {} bytes allocated)",
            r.bytes_before, r.bytes_after, r.allocated_before, r.allocated_after
        )?;
    }
    Ok(Outcome::Success)
}
