//! `import FILE|-`: JSON Lines into the store, line by line, with bad lines
//! reported by number and the rest imported.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use caselog_core::{AttachmentPolicy, CaseId};
use caselog_store::interchange::{foreign_bom, parse_line_with, strip_bom};
use caselog_store::{ImportCase, ImportConflict, ImportOutcome, Store, StoreError};
use serde::Serialize;

use crate::cli::ImportArgs;
use crate::commands::{close, open_or_create};
use crate::render::{count, json_line};
use crate::{progress, Outcome, EXIT_REJECTED};

/// Longest line accepted: larger lines are rejected without being held in
/// memory whole (a stray binary file must not exhaust memory).
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Skipped numbers listed one by one before the rest is only counted.
const SKIPPED_LISTED: usize = 10;

/// One line of input, numbered from 1.
enum Line {
    Text(u64, String),
    Bad(u64, String),
}

/// Reads lines of at most [`MAX_LINE_BYTES`], counting bytes consumed.
struct LineReader<R> {
    reader: R,
    number: u64,
    consumed: Arc<AtomicU64>,
    buf: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    fn new(reader: R, consumed: Arc<AtomicU64>) -> Self {
        LineReader {
            reader,
            number: 0,
            consumed,
            buf: Vec::new(),
        }
    }

    fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let n = (&mut self.reader).take(limit).read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        if self.buf.last() != Some(&b'\n') && self.buf.len() > MAX_LINE_BYTES {
            // Too long: drop the rest of the line without keeping it.
            let mut skipped = self.buf.len() as u64;
            loop {
                self.buf.clear();
                let m = (&mut self.reader).take(1 << 20).read_until(b'\n', &mut self.buf)?;
                skipped += m as u64;
                self.consumed.fetch_add(m as u64, Ordering::Relaxed);
                if m == 0 || self.buf.last() == Some(&b'\n') {
                    break;
                }
            }
            return Ok(Some(Line::Bad(
                self.number,
                format!("line is {skipped} bytes long; at most {MAX_LINE_BYTES} bytes are accepted"),
            )));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        // A UTF-8 byte-order mark at the start of the file is not data.
        let text = if self.number == 1 {
            strip_bom(&self.buf)
        } else {
            &self.buf
        };
        Ok(Some(match std::str::from_utf8(text) {
            Ok(text) => Line::Text(self.number, text.to_owned()),
            Err(e) => Line::Bad(self.number, format!("not valid UTF-8 (at byte {})", e.valid_up_to())),
        }))
    }
}

/// Feeds parsed cases to the store while remembering which line each came
/// from and which lines were rejected.
struct Feed<R> {
    lines: LineReader<R>,
    policy: AttachmentPolicy,
    /// Line number of every case handed to the store, in order.
    accepted: Vec<u64>,
    rejected: Vec<Rejected>,
    read_error: Option<(u64, std::io::Error)>,
}

impl<R: BufRead> Iterator for Feed<R> {
    type Item = ImportCase;

    fn next(&mut self) -> Option<ImportCase> {
        loop {
            match self.lines.next_line() {
                Ok(None) => return None,
                Err(e) => {
                    self.read_error = Some((self.lines.number + 1, e));
                    return None;
                }
                Ok(Some(Line::Bad(line, error))) => self.rejected.push(Rejected::new(line, error)),
                // Blank lines (a trailing newline, spacing) are not cases.
                Ok(Some(Line::Text(_, text))) if text.trim().is_empty() => {}
                Ok(Some(Line::Text(line, text))) => match parse_line_with(&text, &self.policy) {
                    Ok(case) => {
                        self.accepted.push(line);
                        return Some(case);
                    }
                    Err(e) => self.rejected.push(Rejected::new(line, e.to_string())),
                },
            }
        }
    }
}

/// A rejected line, as in the `--json` summary.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// Line number, from 1.
    pub line: u64,
    /// Why.
    pub error: String,
    /// For a number already taken: `other_tenant` or `other_content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<&'static str>,
}

impl Rejected {
    fn new(line: u64, error: String) -> Self {
        Rejected {
            line,
            error,
            conflict: None,
        }
    }
}

/// The `--json` summary, exactly `{"imported":N,"skipped":N,"rejected":[...]}`.
#[derive(Debug, Serialize)]
struct Summary {
    imported: u64,
    skipped: u64,
    rejected: Vec<Rejected>,
}

/// `import FILE|-`.
pub fn run(db: &Path, args: &ImportArgs, out: &mut dyn Write) -> Result<Outcome> {
    let from_stdin = args.file.as_os_str() == "-";
    let source = || {
        if from_stdin {
            "standard input".to_owned()
        } else {
            args.file.display().to_string()
        }
    };
    let (mut reader, size): (Box<dyn BufRead>, Option<u64>) = if from_stdin {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 20, file)), size)
    };
    // Text in UTF-16 or UTF-32 would make every line "not valid JSON";
    // say what is wrong once, before anything is imported.
    let head = reader.fill_buf().with_context(|| format!("reading {}", source()))?;
    if let Some(problem) = foreign_bom(head) {
        bail!("{} line 1: {problem}", source());
    }
    let store = open_or_create(db)?;
    // Nothing ever written: the import is the store's first content, and
    // its copy-on-write leaves free pages a compaction gives back.
    let was_empty = store.last_change() == 0;
    let consumed = Arc::new(AtomicU64::new(0));
    let mut feed = Feed {
        lines: LineReader::new(reader, consumed.clone()),
        policy: store.options().attachments.clone(),
        accepted: Vec::new(),
        rejected: Vec::new(),
        read_error: None,
    };
    let bar = match size {
        Some(len) => progress::bytes_bar(len),
        None => progress::spinner(),
    };
    bar.set_message("importing");
    let outcomes = store.import_with_progress(&mut feed, |done| {
        bar.set_position(consumed.load(Ordering::Relaxed));
        bar.set_message(format!("importing: {done} cases"));
    });
    bar.finish_and_clear();
    let outcomes = outcomes.context("importing")?;
    close(store)?;
    if was_empty && outcomes.iter().any(|o| o.is_ok()) {
        Store::compact(db).with_context(|| format!("compacting the store at {} after the import", db.display()))?;
    }

    let mut summary = Summary {
        imported: 0,
        skipped: 0,
        rejected: std::mem::take(&mut feed.rejected),
    };
    // A conflict with a case this same file imported names that line.
    let lines_of = imported_lines(&outcomes, &feed.accepted);
    let mut skipped = Vec::new();
    for (outcome, line) in outcomes.into_iter().zip(feed.accepted.iter().copied()) {
        match outcome {
            Ok(ImportOutcome::Imported { .. }) => summary.imported += 1,
            Ok(ImportOutcome::Skipped { number, .. }) => {
                summary.skipped += 1;
                skipped.push((line, number));
            }
            Err(e) => summary.rejected.push(rejection(line, &e, &lines_of)),
        }
    }
    summary.rejected.sort_by_key(|r| r.line);

    if args.json {
        json_line(out, &summary)?;
    } else {
        let mut err = std::io::stderr().lock();
        for r in &summary.rejected {
            writeln!(err, "line {}: {}", r.line, r.error)?;
        }
        for (line, number) in skipped.iter().take(SKIPPED_LISTED) {
            writeln!(
                err,
                "line {line}: case {number} already exists with the same content; skipped"
            )?;
        }
        if skipped.len() > SKIPPED_LISTED {
            writeln!(
                err,
                "… and {} more existing cases skipped",
                skipped.len() - SKIPPED_LISTED
            )?;
        }
        writeln!(
            out,
            "Imported {}; skipped {} already present; rejected {}.",
            count(summary.imported, "case"),
            summary.skipped,
            count(summary.rejected.len() as u64, "line")
        )?;
    }
    if let Some((line, e)) = feed.read_error {
        return Err(anyhow::Error::new(e).context(format!(
            "reading {} at line {line} (the lines before it were imported)",
            source()
        )));
    }
    Ok(if summary.rejected.is_empty() {
        Outcome::Success
    } else {
        Outcome::Status(EXIT_REJECTED)
    })
}

/// The line each case of `ids` was imported from by this run, for the
/// ids that conflicts name (usually none, so usually nothing is kept).
fn imported_lines(outcomes: &[caselog_store::Result<ImportOutcome>], lines: &[u64]) -> HashMap<CaseId, u64> {
    let named: HashSet<CaseId> = outcomes
        .iter()
        .filter_map(|o| match o {
            Err(StoreError::ImportConflict { existing, .. }) => Some(*existing),
            _ => None,
        })
        .collect();
    if named.is_empty() {
        return HashMap::new();
    }
    outcomes
        .iter()
        .zip(lines)
        .filter_map(|(o, line)| match o {
            Ok(ImportOutcome::Imported { id, .. }) if named.contains(id) => Some((*id, *line)),
            _ => None,
        })
        .collect()
}

/// A line the store refused, with the reason for a taken number.
fn rejection(line: u64, e: &StoreError, lines_of: &HashMap<CaseId, u64>) -> Rejected {
    let mut r = Rejected::new(line, e.to_string());
    if let StoreError::ImportConflict { existing, conflict, .. } = e {
        r.conflict = Some(match conflict {
            ImportConflict::OtherTenant => "other_tenant",
            _ => "other_content",
        });
        if let Some(first) = lines_of.get(existing) {
            r.error = format!("{} (line {first} of this file holds it)", r.error);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<String> {
        let mut r = LineReader::new(input, Arc::new(AtomicU64::new(0)));
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(match l {
                Line::Text(n, t) => format!("{n}:{t}"),
                Line::Bad(n, e) => format!("{n}!{e}"),
            });
        }
        out
    }

    #[test]
    fn numbers_lines_and_strips_line_ends() {
        assert_eq!(lines(b"a\r\nb\n\nc"), ["1:a", "2:b", "3:", "4:c"]);
    }

    #[test]
    fn a_byte_order_mark_is_ignored_only_at_the_start_of_the_file() {
        let got = lines(b"\xEF\xBB\xBFfirst\n\xEF\xBB\xBFsecond\n");
        assert_eq!(got[0], "1:first");
        assert_eq!(got[1], "2:\u{feff}second");
    }

    #[test]
    fn invalid_utf8_is_a_bad_line_not_an_error() {
        let got = lines(b"ok\n\xff\xfe\nnext\n");
        assert_eq!(got[0], "1:ok");
        assert!(got[1].starts_with("2!not valid UTF-8"));
        assert_eq!(got[2], "3:next");
    }
}
