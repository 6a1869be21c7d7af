//! `salvage --out FILE`: every case a damaged store still yields, as
//! interchange JSON Lines, and a list of the ones it does not.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use caselog_store::interchange::to_line;
use caselog_store::{SalvageReport, Store, StoreError, STORE_FILE};
use serde::Serialize;

use crate::cli::SalvageArgs;
use crate::render::json_line;
use crate::{Outcome, EXIT_REJECTED};

#[derive(Serialize)]
struct LostJson<'a> {
    id: u64,
    number: Option<&'a str>,
    error: &'a str,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    recovered: u64,
    lost: Vec<LostJson<'a>>,
    next_case_id: Option<u64>,
    notes: &'a [String],
    recovered_in_copy: bool,
}

/// `salvage`.
pub fn run(db: &Path, args: &SalvageArgs, out: &mut dyn Write) -> Result<Outcome> {
    if !db.join(STORE_FILE).is_file() {
        bail!("no caselog store at {} (pass --db)", db.display());
    }
    let to_stdout = args.out.as_os_str() == "-";
    let report = if to_stdout {
        salvage_into(db, out)?
    } else {
        // A new file only: salvage must not overwrite what may be an
        // earlier, better rescue.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&args.out)
            .with_context(|| format!("creating {} (salvage writes a new file)", args.out.display()))?;
        let mut w = std::io::BufWriter::new(file);
        let report = salvage_into(db, &mut w)?;
        w.flush().with_context(|| format!("writing {}", args.out.display()))?;
        w.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", args.out.display()))?;
        report
    };
    // With --out -, the cases own standard output: the report goes to stderr.
    let mut stderr = std::io::stderr();
    let report_to: &mut dyn Write = if to_stdout { &mut stderr } else { out };
    if args.json {
        json_line(
            report_to,
            &ReportJson {
                recovered: report.recovered,
                lost: report
                    .lost
                    .iter()
                    .map(|l| LostJson {
                        id: l.id,
                        number: l.number.as_deref(),
                        error: &l.error,
                    })
                    .collect(),
                next_case_id: report.next_case_id,
                notes: &report.notes,
                recovered_in_copy: report.recovered_in_copy,
            },
        )?;
    } else {
        let dest = if to_stdout {
            "standard output".to_owned()
        } else {
            args.out.display().to_string()
        };
        writeln!(
            report_to,
            "Salvaged {} cases to {dest}; {} could not be read.",
            report.recovered,
            report.lost.len()
        )?;
        if report.recovered_in_copy {
            writeln!(
                report_to,
                "The store needed crash recovery; it was recovered in a temporary copy, not in place."
            )?;
        }
        for n in &report.notes {
            writeln!(report_to, "  note: {n}")?;
        }
        for l in &report.lost {
            writeln!(
                report_to,
                "  - case #{} ({}): {}",
                l.id,
                l.number.as_deref().unwrap_or("number unknown"),
                l.error
            )?;
        }
    }
    Ok(if report.lost.is_empty() {
        Outcome::Success
    } else {
        Outcome::Status(EXIT_REJECTED)
    })
}

fn salvage_into(db: &Path, w: &mut dyn Write) -> Result<SalvageReport> {
    Store::salvage(db, |case, thread| {
        let mut line = to_line(case, thread);
        line.push('\n');
        w.write_all(line.as_bytes()).map_err(|e| StoreError::Io {
            action: "writing a salvaged case",
            path: "salvage output".into(),
            error: std::sync::Arc::new(e),
        })
    })
    .with_context(|| format!("salvaging the store at {}", db.display()))
}
