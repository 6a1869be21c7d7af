//! `export`: a whole scope, a case-log tab or a search, to JSON Lines, CSV
//! or XLSX.
//!
//! Where the cases come from:
//! - no query and no `--view`: every case of the scope, read through one
//!   store snapshot (so the file is the store as of one commit), in id
//!   order — the order they were created or imported in, so that export →
//!   import → export gives the same file;
//! - `--view`: the tab's order, page by page;
//! - a query: the search, oldest first by creation, walked once (`SearchWalk`)
//!   (no result window).
//!
//! The file is written next to its destination and renamed into place when
//! complete, so a failed export never leaves a truncated file behind; what
//! `--out` may replace is decided in [`crate::destination`].
//!
//! CSV is for spreadsheets unless `--raw-csv` says otherwise: the file
//! starts with a UTF-8 byte-order mark (without one, Excel reads UTF-8 as
//! the local code page and garbles every non-ASCII title), and a text cell
//! that a spreadsheet would run as a formula — starting with `=`, `+`, `-`,
//! `@`, a tab or a carriage return — gets a leading `'`, as OWASP
//! recommends against CSV injection ([`neutralise`]). XLSX needs neither:
//! every text cell is written as a string cell, never as a formula.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use caselog_core::{CaseId, Timestamp};
use caselog_store::interchange::{to_line, UTF8_BOM};
use caselog_store::{Case, CaseRef, Scope, SearchOptions, SearchSort, Store, ThreadEntry};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook, XlsxError};

use crate::cli::{ExportArgs, FilterArgs, FormatArg, ViewSortArg};
use crate::commands::{close, open_for_reading, read::view_query, scope, time_range};
use crate::destination::Destination;
use crate::render::count;
use crate::{progress, Outcome};

/// Rows an XLSX sheet holds, header included.
const XLSX_MAX_ROWS: u32 = 1_048_576;

/// Columns of CSV and XLSX exports, with XLSX widths (in characters).
const COLUMNS: &[(&str, f64)] = &[
    ("number", 14.0),
    ("tenant", 16.0),
    ("title", 60.0),
    ("status", 16.0),
    ("category", 21.0),
    ("marketplace", 12.0),
    ("language", 9.0),
    ("created_by", 26.0),
    ("assignee", 14.0),
    ("created_at", 19.0),
    ("updated_at", 19.0),
    ("first_response_at", 19.0),
    ("resolved_at", 19.0),
    ("closed_at", 19.0),
    ("reply_deadline", 19.0),
    ("orders", 22.0),
    ("asins", 13.0),
    ("skus", 16.0),
    ("related_cases", 14.0),
    ("messages", 10.0),
];

/// One value of a CSV/XLSX row.
enum Cell {
    Text(String),
    Time(Option<Timestamp>),
    Number(u32),
}

fn row(c: &Case) -> Vec<Cell> {
    let s = &c.state;
    let list = |items: Vec<&str>| Cell::Text(items.join(" "));
    vec![
        Cell::Text(c.number.to_string()),
        Cell::Text(c.tenant.to_string()),
        Cell::Text(c.title.clone()),
        Cell::Text(s.status.to_string()),
        Cell::Text(c.category.to_string()),
        Cell::Text(c.marketplace.to_string()),
        Cell::Text(c.language.to_string()),
        Cell::Text(c.created_by.to_string()),
        Cell::Text(c.assignee.as_ref().map(ToString::to_string).unwrap_or_default()),
        Cell::Time(Some(s.created_at)),
        Cell::Time(Some(s.updated_at)),
        Cell::Time(s.first_response_at),
        Cell::Time(s.resolved_at),
        Cell::Time(s.closed_at),
        Cell::Time(s.reply_deadline),
        list(c.refs.orders.iter().map(|x| x.as_str()).collect()),
        list(c.refs.asins.iter().map(|x| x.as_str()).collect()),
        list(c.refs.skus.iter().map(|x| x.as_str()).collect()),
        list(c.refs.cases.iter().map(|x| x.as_str()).collect()),
        Cell::Number(c.entries),
    ]
}

/// A CSV cell as a spreadsheet may safely read it: a cell starting with a
/// character that makes a spreadsheet evaluate it (`=`, `+`, `-`, `@`, tab,
/// carriage return) gets a leading `'`, which spreadsheets show as text and
/// do not display. The csv writer quotes cells with separators and quotes,
/// so a formula cannot start after a `,` inside a cell either.
pub fn neutralise(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// Where exported cases go.
enum Sink<'o> {
    Jsonl(Box<dyn Write + 'o>),
    /// CSV, and whether cells are written raw (`--raw-csv`).
    Csv(Box<csv::Writer<Box<dyn Write + 'o>>>, bool),
    Xlsx(Box<Xlsx>),
}

struct Xlsx {
    workbook: Workbook,
    row: u32,
    time: Format,
}

fn xlsx_err(e: XlsxError) -> anyhow::Error {
    anyhow!("writing the workbook: {e}")
}

impl Xlsx {
    fn new() -> Result<Xlsx> {
        let mut workbook = Workbook::new();
        let header = Format::new().set_bold().set_align(FormatAlign::Left);
        let time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let sheet = workbook.add_worksheet_with_constant_memory().map_err(xlsx_err)?;
        sheet.set_name("cases").map_err(xlsx_err)?;
        for (col, (name, width)) in COLUMNS.iter().enumerate() {
            let col = u16::try_from(col).map_err(|_| anyhow!("too many columns"))?;
            sheet.set_column_width(col, *width).map_err(xlsx_err)?;
            sheet
                .write_string_with_format(0, col, *name, &header)
                .map_err(xlsx_err)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(xlsx_err)?;
        Ok(Xlsx { workbook, row: 1, time })
    }

    fn write(&mut self, case: &Case) -> Result<()> {
        if self.row >= XLSX_MAX_ROWS {
            bail!(
                "an XLSX sheet holds at most {} cases; export to jsonl or csv, or narrow the export",
                XLSX_MAX_ROWS - 1
            );
        }
        let sheet = self.workbook.worksheet_from_index(0).map_err(xlsx_err)?;
        for (col, cell) in row(case).into_iter().enumerate() {
            let col = u16::try_from(col).map_err(|_| anyhow!("too many columns"))?;
            match cell {
                Cell::Text(t) if t.is_empty() => {}
                Cell::Text(t) => {
                    // Always a string cell: text starting with `=` stays text.
                    sheet.write_string(self.row, col, t).map_err(xlsx_err)?;
                }
                Cell::Number(n) => {
                    sheet.write_number(self.row, col, f64::from(n)).map_err(xlsx_err)?;
                }
                Cell::Time(None) => {}
                Cell::Time(Some(t)) => {
                    // Excel's dates start in 1900; earlier times stay text.
                    match ExcelDateTime::from_timestamp(t.as_millis().div_euclid(1000)) {
                        Ok(dt) => sheet
                            .write_datetime_with_format(self.row, col, &dt, &self.time)
                            .map_err(xlsx_err)?,
                        Err(_) => sheet.write_string(self.row, col, t.to_rfc3339()).map_err(xlsx_err)?,
                    };
                }
            }
        }
        self.row += 1;
        Ok(())
    }

    fn finish(mut self, path: &Path) -> Result<()> {
        let last_row = self.row.saturating_sub(1);
        let last_col = u16::try_from(COLUMNS.len().saturating_sub(1)).unwrap_or(0);
        let sheet = self.workbook.worksheet_from_index(0).map_err(xlsx_err)?;
        sheet.autofilter(0, 0, last_row, last_col).map_err(xlsx_err)?;
        self.workbook.save(path).map_err(xlsx_err)
    }
}

impl Sink<'_> {
    fn needs_thread(&self) -> bool {
        matches!(self, Sink::Jsonl(_))
    }

    fn write(&mut self, case: &Case, thread: &[ThreadEntry]) -> Result<()> {
        match self {
            Sink::Jsonl(w) => {
                w.write_all(to_line(case, thread).as_bytes())?;
                w.write_all(b"\n")?;
            }
            Sink::Csv(w, raw) => {
                let raw = *raw;
                let fields: Vec<String> = row(case)
                    .into_iter()
                    .map(|cell| match cell {
                        Cell::Text(t) if raw => t,
                        Cell::Text(t) => neutralise(t),
                        Cell::Time(t) => t.map(Timestamp::to_rfc3339).unwrap_or_default(),
                        Cell::Number(n) => n.to_string(),
                    })
                    .collect();
                w.write_record(&fields)?;
            }
            Sink::Xlsx(x) => x.write(case)?,
        }
        Ok(())
    }
}

/// Whether a case passes the `--status`/`--category`/... filters.
fn passes(case: &Case, f: &FilterArgs) -> bool {
    (f.status.is_empty() || f.status.contains(&case.status()))
        && (f.category.is_empty() || f.category.contains(&case.category))
        && (f.marketplace.is_empty() || f.marketplace.contains(&case.marketplace))
        && time_range(f.created).contains(case.state.created_at)
        && time_range(f.updated).contains(case.state.updated_at)
}

fn format_of(args: &ExportArgs) -> Result<FormatArg> {
    if let Some(f) = args.format {
        return Ok(f);
    }
    let ext = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jsonl" | "ndjson" | "json") => Ok(FormatArg::Jsonl),
        Some("csv") => Ok(FormatArg::Csv),
        Some("xlsx") => Ok(FormatArg::Xlsx),
        _ => bail!(
            "give --format jsonl|csv|xlsx (it cannot be told from {})",
            args.out.display()
        ),
    }
}

/// `export`.
pub fn run(db: &Path, args: &ExportArgs, out: &mut dyn Write) -> Result<Outcome> {
    let format = format_of(args)?;
    let to_stdout = args.out.as_os_str() == "-";
    if to_stdout && format == FormatArg::Xlsx {
        bail!("an XLSX workbook cannot go to standard output; give --out FILE.xlsx");
    }
    if args.raw_csv && format != FormatArg::Csv {
        bail!("--raw-csv applies to CSV exports only");
    }
    // Checked before the store is opened, so a refused path costs nothing.
    let dest = if to_stdout {
        None
    } else {
        Some(Destination::check(&args.out, args.force)?)
    };
    let store = open_for_reading(db)?;
    let scope = scope(&args.scope);
    let result = match dest {
        None => {
            let sink = match format {
                FormatArg::Jsonl => Sink::Jsonl(Box::new(BufWriter::new(&mut *out))),
                _ => Sink::Csv(
                    Box::new(csv_writer(Box::new(BufWriter::new(&mut *out)), args.raw_csv)?),
                    args.raw_csv,
                ),
            };
            export_into(&store, &scope, args, sink).and_then(|(n, sink)| finish(sink, None).map(|()| n))
        }
        Some(dest) => export_to_file(&store, &scope, args, format, dest),
    };
    close(store)?;
    let n = result?;
    if to_stdout {
        // Standard output holds the data; the summary goes to standard error.
        let _ = writeln!(std::io::stderr(), "Exported {}.", count(n, "case"));
    } else {
        writeln!(out, "Exported {} to {}.", count(n, "case"), args.out.display())?;
    }
    Ok(Outcome::Success)
}

/// A CSV writer with the header written, after a UTF-8 byte-order mark
/// unless `raw`.
fn csv_writer(mut w: Box<dyn Write + '_>, raw: bool) -> Result<csv::Writer<Box<dyn Write + '_>>> {
    if !raw {
        w.write_all(UTF8_BOM)?;
    }
    let mut w = csv::Writer::from_writer(w);
    w.write_record(COLUMNS.iter().map(|(name, _)| *name))?;
    Ok(w)
}

fn export_to_file(
    store: &Store,
    scope: &Scope,
    args: &ExportArgs,
    format: FormatArg,
    dest: Destination,
) -> Result<u64> {
    let tmp = dest.temp_file()?;
    let n = match format {
        FormatArg::Xlsx => {
            let (n, sink) = export_into(store, scope, args, Sink::Xlsx(Box::new(Xlsx::new()?)))?;
            finish(sink, Some(tmp.path()))?;
            n
        }
        FormatArg::Jsonl | FormatArg::Csv => {
            let file = tmp.as_file().try_clone().context("opening the export file")?;
            let writer: Box<dyn Write> = Box::new(BufWriter::with_capacity(1 << 20, file));
            let sink = match format {
                FormatArg::Jsonl => Sink::Jsonl(writer),
                _ => Sink::Csv(Box::new(csv_writer(writer, args.raw_csv)?), args.raw_csv),
            };
            let (n, sink) = export_into(store, scope, args, sink)?;
            finish(sink, None)?;
            n
        }
    };
    // Synced, then renamed into place (and the directory synced).
    dest.commit(tmp)?;
    Ok(n)
}

fn finish(sink: Sink<'_>, path: Option<&Path>) -> Result<()> {
    match sink {
        Sink::Jsonl(mut w) => w.flush()?,
        Sink::Csv(mut w, _) => w.flush()?,
        Sink::Xlsx(x) => {
            let path = path.ok_or_else(|| anyhow!("an XLSX workbook needs a file"))?;
            x.finish(path)?;
        }
    }
    Ok(())
}

/// Writes every selected case into `sink`; returns the count and the sink.
fn export_into<'o>(store: &Store, scope: &Scope, args: &ExportArgs, mut sink: Sink<'o>) -> Result<(u64, Sink<'o>)> {
    let bar = progress::spinner();
    let mut n = 0u64;
    let mut emit = |case: &Case, thread: &[ThreadEntry], sink: &mut Sink<'o>| -> Result<()> {
        sink.write(case, thread)?;
        n += 1;
        if n % 1000 == 0 {
            bar.set_message(format!("exporting: {n} cases"));
        }
        Ok(())
    };
    let query = args.query.join(" ");
    if let Some(kind) = args.view {
        let mut q = view_query(kind, args.user.as_ref(), &args.filter, ViewSortArg::Updated, false)?;
        q.per_page = 1000;
        // A cursor walk: not bounded by the view window of numbered pages.
        let mut cursor = None;
        loop {
            let page = store
                .view_after(scope, &q, cursor.as_ref())
                .context("reading the view")?;
            for case in &page.cases {
                if let Some((case, thread)) = case_and_thread(store, scope, &sink, case.id)? {
                    emit(&case, &thread, &mut sink)?;
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    } else if query.trim().is_empty() {
        let snapshot = store.snapshot().context("opening a snapshot of the store")?;
        for item in snapshot.cases(scope)? {
            let (case, thread) = item?;
            if passes(&case, &args.filter) {
                emit(&case, &thread, &mut sink)?;
            }
        }
    } else {
        search_all(store, scope, &query, |id| {
            if let Some((case, thread)) = case_and_thread(store, scope, &sink, id)? {
                if passes(&case, &args.filter) {
                    emit(&case, &thread, &mut sink)?;
                }
            }
            Ok(())
        })?;
    }
    bar.finish_and_clear();
    Ok((n, sink))
}

/// A case as it is now, with its thread when the sink writes threads (both
/// from one read, so they agree); `None` if it left the scope meanwhile.
fn case_and_thread(
    store: &Store,
    scope: &Scope,
    sink: &Sink<'_>,
    id: CaseId,
) -> Result<Option<(Case, Vec<ThreadEntry>)>> {
    let what = || format!("reading case {id}");
    if sink.needs_thread() {
        store.case_with_thread(scope, &CaseRef::Id(id)).with_context(what)
    } else {
        Ok(store
            .case(scope, &CaseRef::Id(id))
            .with_context(what)?
            .map(|c| (c, Vec::new())))
    }
}

/// Visits every case the query matches, oldest first, from one walk of
/// the search (matched once; not bounded by the result window).
fn search_all(store: &Store, scope: &Scope, text: &str, mut visit: impl FnMut(CaseId) -> Result<()>) -> Result<()> {
    let opts = SearchOptions {
        sort: SearchSort::Created,
        descending: false,
        page: 1,
        per_page: store.options().search_limits.max_per_page.clamp(1, 1000),
        snippets: false,
    };
    let searching = || format!("searching for {text:?}");
    let mut walk = store.search_walk(scope, text, &opts, None).with_context(searching)?;
    loop {
        let ids = walk.next_ids().with_context(searching)?;
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            visit(id)?;
        }
    }
}
