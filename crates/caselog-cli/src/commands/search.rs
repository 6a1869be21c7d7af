//! `search`: the query language over the index, scoped to one tenant or
//! explicitly to all, as a readable list or as JSON.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result};
use caselog_core::{Category, Status};
use caselog_store::{Facets, SearchOptions, SearchResults, SearchSort};
use serde::Serialize;

use super::{close, open_for_reading, scope};
use crate::cli::{SearchArgs, SortArg};
use crate::render::{count, cut_to_width, json_line, one_line, short_time};
use crate::Outcome;

/// The `--json` output, exactly the shape the issue gives.
#[derive(Serialize)]
struct SearchJson {
    total: u64,
    page: u32,
    per_page: u32,
    hits: Vec<HitJson>,
    facets: FacetsJson,
}

#[derive(Serialize)]
struct HitJson {
    number: String,
    tenant: String,
    title: String,
    status: Status,
    category: Category,
    created_at: String,
    updated_at: String,
    /// Relevance score; null when sorted by time.
    score: Option<f32>,
    /// HTML-escaped text around the best match, matches in `<b>…</b>`.
    snippet: Option<String>,
}

#[derive(Serialize)]
struct FacetsJson {
    status: BTreeMap<&'static str, u64>,
    category: BTreeMap<&'static str, u64>,
}

/// Facet counts with every status and category present (0 when none), so
/// a sidebar can list every filter.
fn facets_json(f: &Facets) -> FacetsJson {
    FacetsJson {
        status: Status::ALL
            .iter()
            .map(|s| (s.as_str(), f.by_status.get(s).copied().unwrap_or(0)))
            .collect(),
        category: Category::ALL
            .iter()
            .map(|c| (c.as_str(), f.by_category.get(c).copied().unwrap_or(0)))
            .collect(),
    }
}

/// The store's sort for the command-line choice.
pub fn sort(arg: SortArg) -> SearchSort {
    match arg {
        SortArg::Relevance => SearchSort::Relevance,
        SortArg::Created => SearchSort::Created,
        SortArg::Updated => SearchSort::Updated,
        SortArg::Status => SearchSort::Status,
        SortArg::Category => SearchSort::Category,
        SortArg::Number => SearchSort::Number,
    }
}

/// `search`.
pub fn run(db: &Path, args: &SearchArgs, out: &mut dyn Write) -> Result<Outcome> {
    let query = args.query.join(" ");
    let store = open_for_reading(db)?;
    let opts = SearchOptions {
        sort: sort(args.sort),
        // Times newest first; status, category and number in their order.
        descending: matches!(args.sort, SortArg::Relevance | SortArg::Created | SortArg::Updated),
        page: args.page,
        per_page: args.per_page,
        snippets: true,
    };
    let results = store
        .search(&scope(&args.scope), &query, &opts)
        .with_context(|| format!("searching for {query:?}"));
    close(store)?;
    let results = results?;
    if args.json {
        json_line(out, &to_json(&results))?;
    } else {
        write_results(out, &results, Marks::for_stdout())?;
    }
    Ok(Outcome::Success)
}

fn to_json(r: &SearchResults) -> SearchJson {
    SearchJson {
        total: r.total,
        page: r.page,
        per_page: r.per_page,
        hits: r
            .hits
            .iter()
            .map(|h| HitJson {
                number: h.number.to_string(),
                tenant: h.tenant.to_string(),
                title: h.title.clone(),
                status: h.status,
                category: h.category,
                created_at: h.created_at.to_rfc3339(),
                updated_at: h.updated_at.to_rfc3339(),
                score: h.score,
                snippet: h.snippet.as_ref().map(|s| s.to_html()),
            })
            .collect(),
        facets: facets_json(&r.facets),
    }
}

/// How matches are marked in text output.
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    start: &'static str,
    end: &'static str,
}

impl Marks {
    /// Bold yellow on a terminal (unless `NO_COLOR` is set); unmarked in
    /// pipes and files, where escape codes would be noise.
    pub fn for_stdout() -> Marks {
        if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            Marks {
                start: "\x1b[1;33m",
                end: "\x1b[0m",
            }
        } else {
            Marks { start: "", end: "" }
        }
    }
}

/// `text` on one line with the byte ranges `ranges` marked; invalid
/// ranges are ignored. Each piece is made safe for a terminal on its own,
/// so the ranges (offsets into the original text) stay right.
fn marked(text: &str, ranges: &[Range<usize>], marks: Marks) -> String {
    if marks.start.is_empty() {
        return one_line(text);
    }
    let mut out = String::with_capacity(text.len() + ranges.len() * 12);
    let mut at = 0;
    for r in ranges {
        if let (Some(before), Some(hit)) = (text.get(at..r.start), text.get(r.start..r.end)) {
            out.push_str(&one_line(before));
            out.push_str(marks.start);
            out.push_str(&one_line(hit));
            out.push_str(marks.end);
            at = r.end;
        }
    }
    out.push_str(&one_line(text.get(at..).unwrap_or("")));
    out
}

/// Writes search results as a readable list.
pub fn write_results(out: &mut dyn Write, r: &SearchResults, marks: Marks) -> Result<()> {
    if r.hits.is_empty() {
        if r.total == 0 {
            writeln!(out, "No cases match.")?;
        } else {
            writeln!(out, "No hits on page {} ({} match).", r.page, count(r.total, "case"))?;
        }
        return Ok(());
    }
    for h in &r.hits {
        let score = h.score.map(|s| format!("  score {s:.2}")).unwrap_or_default();
        writeln!(
            out,
            "{}  [{}]  {}  {}  created {}  updated {}{score}",
            h.number,
            h.status,
            h.category,
            h.tenant,
            short_time(h.created_at),
            short_time(h.updated_at)
        )?;
        writeln!(out, "    {}", marked(&h.title, &h.title_highlights, marks))?;
        if let Some(s) = &h.snippet {
            let (text, cut) = cut_to_width(&s.text, 400);
            // Cutting only shortens the end, so ranges past it are dropped.
            let ranges: Vec<Range<usize>> = s.highlights.iter().filter(|h| h.end <= text.len()).cloned().collect();
            let before = if s.cut_before { "…" } else { "" };
            let after = if s.cut_after || cut { "…" } else { "" };
            writeln!(out, "    {before}{}{after}", marked(text, &ranges, marks))?;
        }
    }
    let pages = r.total.div_ceil(u64::from(r.per_page.max(1)));
    writeln!(
        out,
        "\n{} · page {} of {}",
        count(r.total, "case"),
        r.page,
        pages.max(1)
    )?;
    let counts = |items: Vec<(&str, u64)>| {
        items
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let st = counts(r.facets.by_status.iter().map(|(k, v)| (k.as_str(), *v)).collect());
    let cat = counts(r.facets.by_category.iter().map(|(k, v)| (k.as_str(), *v)).collect());
    writeln!(out, "by status: {st}")?;
    writeln!(out, "by category: {cat}")?;
    Ok(())
}
