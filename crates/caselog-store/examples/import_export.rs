//! Importing an archive of JSON Lines with progress and per-line errors,
//! and exporting from a consistent snapshot.
//!
//! `cargo run -p caselog-store --example import_export`

use caselog_core::*;
use caselog_store::interchange::{parse_line, to_line};
use caselog_store::*;

/// A small archive as another system might export it: two good lines, one
/// with a bad status and one that is not JSON.
fn archive() -> String {
    let line = |number: &str, status: &str| {
        format!(
            r#"{{"number":"{number}","tenant":"seller-0042","created_by":"ops@example.com","marketplace":"US","language":"en","category":"orders","title":"Archived case {number}","status":"{status}","created_at":"2025-03-01T10:00:00Z","updated_at":"2025-03-02T10:00:00Z","messages":[{{"at":"2025-03-01T10:00:00Z","author":"seller","author_id":"ops@example.com","body":"Where is my order?"}}]}}"#
        )
    };
    [
        line("ARCH-1", "closed"),
        line("ARCH-2", "open"),
        line("ARCH-3", "lost"),
        "{not json".into(),
    ]
    .join("\n")
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), Options::default())?;

    // Parse every line; a bad line is a typed error naming its field, and
    // does not stop the others.
    let mut cases = Vec::new();
    for (i, line) in archive().lines().enumerate() {
        match parse_line(line) {
            Ok(case) => cases.push(case),
            Err(e) => println!("line {}: {e}", i + 1),
        }
    }
    assert_eq!(cases.len(), 2);
    let outcomes = store.import_with_progress(cases, |done| println!("{done} cases written"))?;
    for outcome in &outcomes {
        match outcome {
            Ok(ImportOutcome::Imported { id, .. }) => println!("imported as {id}"),
            Ok(ImportOutcome::Skipped { number, .. }) => println!("{number} was already there"),
            Err(e) => println!("refused: {e}"),
        }
    }

    // Export: one snapshot, so the file is one consistent moment of the store.
    let snapshot = store.snapshot()?;
    let mut out = String::new();
    for item in snapshot.cases(&Scope::AllTenants)? {
        let (case, thread) = item?;
        out.push_str(&to_line(&case, &thread));
        out.push('\n');
    }
    drop(snapshot);
    print!("{out}");

    // The export imports again as the same archive: every line is skipped.
    let again: Vec<ImportCase> = out.lines().map(parse_line).collect::<Result<_, _>>()?;
    let outcomes = store.import(again)?;
    assert!(outcomes.iter().all(|o| matches!(o, Ok(ImportOutcome::Skipped { .. }))));
    let number = CaseNumber::parse_imported("ARCH-1")?;
    assert!(store.case(&Scope::AllTenants, &number.into())?.is_some());
    store.shutdown()?;
    Ok(())
}
