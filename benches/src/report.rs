//! The parent side of `casebench run`: chooses the query mix, runs every
//! phase of every system in child processes, checks that hit counts agree,
//! and builds the report (table on stdout, JSON, SVG).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::gen::Archive;
use crate::queries::{self, ScopeSpec};
use crate::{
    disk_files, spawn_child, system_dir, AppendResult, CountsResult, FileSize, IngestResult, Phase, QueryResult,
    Settings, SYSTEMS,
};

/// One figure of the table: a value per system and the two ratios.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    /// What it measures.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// `higher` or `lower` is better.
    pub better: String,
    /// Value per system.
    pub values: BTreeMap<String, f64>,
    /// caselog / the better of the two SQLite layouts.
    pub ratio_sqlite: Option<f64>,
    /// caselog / raw.
    pub ratio_raw: Option<f64>,
}

/// A goal of the issue and whether this run met it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Goal {
    /// The goal.
    pub goal: String,
    /// What was measured.
    pub measured: String,
    /// Met or not.
    pub met: bool,
}

/// One query of the mix with its hit counts (identical across systems).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HitCount {
    /// Kind.
    pub kind: String,
    /// The query in caselog's language.
    pub query: String,
    /// Hits per scope, in the order of `Report::scopes`.
    pub counts: Vec<u64>,
    /// Hits in all tenants as a share of the archive.
    pub share: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Run settings (with the mix and scopes).
    pub settings: Settings,
    /// Cases, messages and payload bytes loaded (identical for every system).
    pub cases: u64,
    /// Messages loaded.
    pub messages: u64,
    /// Bytes of title and message text.
    pub payload_bytes: u64,
    /// `/proc/loadavg` when the run started and ended.
    pub loadavg_start: String,
    /// See `loadavg_start`.
    pub loadavg_end: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Wall time of the whole run, s.
    pub wall_secs: f64,
    /// The scopes.
    pub scopes: Vec<ScopeSpec>,
    /// Every query variant with its hit counts.
    pub hit_counts: Vec<HitCount>,
    /// View totals per view and scope (systems with views agree).
    pub view_totals: Vec<(String, Vec<u64>)>,
    /// The table.
    pub figures: Vec<Figure>,
    /// The goals.
    pub goals: Vec<Goal>,
    /// Query plans per system (SQLite's `EXPLAIN QUERY PLAN`).
    pub plans: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Files of each store after the ingest.
    pub disk: BTreeMap<String, Vec<FileSize>>,
    /// Seconds at every 100,000th case of each ingest.
    pub ingest_marks: BTreeMap<String, Vec<f64>>,
    /// Write-path counters of each store that keeps them, after its appends.
    pub append_metrics: BTreeMap<String, serde_json::Value>,
    /// Raw latency samples (µs): system → kind → scope → samples.
    pub samples: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<f64>>>>,
}

/// Percentile `p` (0..=1) of samples, nearest rank.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() as f64 - 1.0) * p).round() as usize]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Chooses the mix and scopes for `s.cases` cases of `s.archive`.
pub fn plan(s: &mut Settings) {
    let stats = queries::measure(s.cases);
    s.mix = match s.archive {
        Archive::Realistic => queries::realistic_mix(&stats),
        Archive::Templates => queries::template_mix(),
    };
    s.scopes = queries::scopes(s.archive, s.cases, &stats.tenant_cases);
}

/// Runs the whole benchmark with data under `data`.
pub fn run(exe: &Path, data: &Path, s: &Settings, systems: &[String]) -> Result<Report> {
    let started = Instant::now();
    let loadavg_start = loadavg();
    let el = || started.elapsed().as_secs_f64();
    std::fs::create_dir_all(data)?;
    let mut ingest: BTreeMap<String, IngestResult> = BTreeMap::new();
    let mut disk = BTreeMap::new();
    for sys in systems {
        let dir = system_dir(data, sys);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        eprintln!(
            "[{:>7.1} s] {sys}: ingest of {} cases (load {})",
            el(),
            s.cases,
            loadavg()
        );
        let r: IngestResult = serde_json::from_str(&spawn_child(exe, sys, Phase::Ingest, &dir, s)?)?;
        eprintln!(
            "           {:.1} s, {:.0} cases/s, peak RSS {} MiB",
            r.secs,
            r.counts.cases as f64 / r.secs,
            r.peak_rss_kib / 1024
        );
        disk.insert(sys.clone(), disk_files(&dir)?);
        ingest.insert(sys.clone(), r);
    }
    // Hit counts and view totals must agree before anything is timed.
    let mut counts: BTreeMap<String, CountsResult> = BTreeMap::new();
    for sys in systems {
        eprintln!("[{:>7.1} s] {sys}: hit counts", el());
        counts.insert(
            sys.clone(),
            serde_json::from_str(&spawn_child(exe, sys, Phase::Counts, &system_dir(data, sys), s)?)?,
        );
    }
    let reference = &counts[&systems[0]];
    let mut disagreements = Vec::new();
    for (sys, c) in &counts {
        for (v, q) in s.mix.iter().enumerate() {
            if c.counts[v] != reference.counts[v] {
                disagreements.push(format!(
                    "{:?}: {} {:?} vs {} {:?}",
                    q.caselog_text(),
                    systems[0],
                    reference.counts[v],
                    sys,
                    c.counts[v]
                ));
            }
        }
        if !c.views.is_empty() && !reference.views.is_empty() && c.views != reference.views {
            disagreements.push(format!(
                "view totals: {} {:?} vs {sys} {:?}",
                systems[0], reference.views, c.views
            ));
        }
    }
    if !disagreements.is_empty() {
        bail!("hit counts differ:\n{}", disagreements.join("\n"));
    }
    let mut query: BTreeMap<String, QueryResult> = BTreeMap::new();
    let mut append: BTreeMap<String, AppendResult> = BTreeMap::new();
    for sys in systems {
        eprintln!("[{:>7.1} s] {sys}: open, queries and views", el());
        query.insert(
            sys.clone(),
            serde_json::from_str(&spawn_child(exe, sys, Phase::Query, &system_dir(data, sys), s)?)?,
        );
    }
    for sys in systems {
        eprintln!("[{:>7.1} s] {sys}: live appends, {} writers", el(), s.writers);
        let r: AppendResult = serde_json::from_str(&spawn_child(exe, sys, Phase::Append, &system_dir(data, sys), s)?)?;
        if let Some(e) = &r.first_error {
            bail!("{sys}: {} appends failed, first: {e}", r.errors);
        }
        if let Some(m) = r.metrics.as_ref().and_then(|m| m["text"].as_str()) {
            eprintln!(
                "           {sys} write path during the appends:\n{}",
                crate::caselog::indent(m)
            );
        }
        append.insert(sys.clone(), r);
    }

    let first = &ingest[&systems[0]].counts;
    let figures = figures(s, systems, &ingest, &disk, &query, &append);
    let goals = goals(s, &figures);
    let samples = systems
        .iter()
        .map(|sys| {
            let mut kinds = query[sys].latencies.clone();
            kinds.insert(
                "number lookup".into(),
                [("tenant".to_owned(), query[sys].lookup.clone())].into(),
            );
            (sys.clone(), kinds)
        })
        .collect();
    let cases = first.cases.max(1) as f64;
    let all = s.scopes.iter().position(|sc| sc.tenant.is_none()).unwrap_or(0);
    Ok(Report {
        settings: s.clone(),
        cases: first.cases,
        messages: first.messages,
        payload_bytes: first.payload_bytes,
        loadavg_start,
        loadavg_end: loadavg(),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        wall_secs: el(),
        scopes: s.scopes.clone(),
        hit_counts: s
            .mix
            .iter()
            .zip(&reference.counts)
            .map(|(q, c)| HitCount {
                kind: q.kind.clone(),
                query: q.caselog_text(),
                counts: c.clone(),
                share: c.get(all).copied().unwrap_or(0) as f64 / cases,
            })
            .collect(),
        view_totals: queries::VIEWS
            .iter()
            .map(|v| (*v).to_owned())
            .zip(
                counts
                    .values()
                    .find(|c| !c.views.is_empty())
                    .map_or(Vec::new(), |c| c.views.clone()),
            )
            .collect(),
        figures,
        goals,
        plans: query
            .iter()
            .filter(|(_, q)| !q.plans.is_empty())
            .map(|(sys, q)| (sys.clone(), q.plans.clone()))
            .collect(),
        disk,
        ingest_marks: ingest
            .iter()
            .map(|(k, v)| (k.clone(), v.counts.marks.clone()))
            .collect(),
        append_metrics: append
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.metrics.clone()?)))
            .collect(),
        samples,
    })
}

fn figures(
    s: &Settings,
    systems: &[String],
    ingest: &BTreeMap<String, IngestResult>,
    disk: &BTreeMap<String, Vec<FileSize>>,
    query: &BTreeMap<String, QueryResult>,
    append: &BTreeMap<String, AppendResult>,
) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut fig = |name: &str, unit: &str, higher: bool, f: &dyn Fn(&str) -> f64| {
        let values: BTreeMap<String, f64> = systems.iter().map(|s| (s.clone(), f(s))).collect();
        let c = values.get("caselog").copied().unwrap_or(f64::NAN);
        let best_sqlite = ["sqlite", "sqlite-rowid"]
            .iter()
            .filter_map(|k| values.get(*k).copied())
            .filter(|v| v.is_finite())
            .reduce(|a, b| if higher { a.max(b) } else { a.min(b) });
        let raw = values.get("raw").copied().filter(|v| v.is_finite());
        figures.push(Figure {
            name: name.into(),
            unit: unit.into(),
            better: if higher { "higher" } else { "lower" }.into(),
            ratio_sqlite: best_sqlite.map(|v| c / v),
            ratio_raw: raw.map(|v| c / v),
            values,
        });
    };
    fig("bulk ingest", "cases/s", true, &|s| {
        ingest[s].counts.cases as f64 / ingest[s].secs
    });
    fig("bulk ingest", "MB/s", true, &|s| {
        ingest[s].counts.payload_bytes as f64 / 1e6 / ingest[s].secs
    });
    fig("bulk ingest wall time", "s", false, &|s| ingest[s].secs);
    if ingest.values().all(|r| !r.counts.marks.is_empty()) {
        fig("bulk ingest, first 100k cases handed over", "cases/s", true, &|s| {
            1e5 / ingest[s].counts.marks[0]
        });
    }
    fig("peak RSS during ingest", "MiB", false, &|s| {
        ingest[s].peak_rss_kib as f64 / 1024.0
    });
    fig(
        &format!("live durable appends, {} writers", s.writers),
        "appends/s",
        true,
        &|s| append[s].appends as f64 / append[s].secs,
    );
    fig("write→searchable under appends p50", "ms", false, &|s| {
        percentile(&append[s].searchable_ms, 0.5)
    });
    fig("write→searchable under appends p99", "ms", false, &|s| {
        percentile(&append[s].searchable_ms, 0.99)
    });
    fig("open", "ms", false, &|s| query[s].open_ms);
    fig("first English query after open", "ms", false, &|s| {
        query[s].first_english_ms
    });
    fig("first Chinese query after open", "ms", false, &|s| {
        query[s].first_chinese_ms
    });
    let mib = |files: &[FileSize], f: &dyn Fn(&FileSize) -> u64| files.iter().map(f).sum::<u64>() as f64 / 1048576.0;
    fig("on disk, allocated", "MiB", false, &|s| mib(&disk[s], &|f| f.allocated));
    fig("on disk, apparent length", "MiB", false, &|s| mib(&disk[s], &|f| f.len));
    let kinds: Vec<String> = queries::kinds(&s.mix)
        .into_iter()
        .chain(queries::VIEWS.iter().map(|v| (*v).to_owned()))
        .collect();
    for kind in &kinds {
        for sc in &s.scopes {
            for (p, label) in [(0.5, "p50"), (0.99, "p99")] {
                fig(&format!("{kind} ({}) {label}", sc.name), "µs", false, &|s| {
                    query[s]
                        .latencies
                        .get(kind)
                        .and_then(|c| c.get(&sc.name))
                        .map_or(f64::NAN, |v| percentile(v, p))
                });
            }
        }
    }
    fig("number lookup p50", "µs", false, &|s| {
        percentile(&query[s].lookup, 0.5)
    });
    fig("number lookup p99", "µs", false, &|s| {
        percentile(&query[s].lookup, 0.99)
    });
    fig("peak RSS during queries", "MiB", false, &|s| {
        query[s].peak_rss_kib as f64 / 1024.0
    });
    fig("peak RSS during appends", "MiB", false, &|s| {
        append[s].peak_rss_kib as f64 / 1024.0
    });
    if let Some(c) = query.get("caselog") {
        let mut only = |name: String, unit: &str, higher: bool, v: f64| {
            figures.push(Figure {
                name,
                unit: unit.into(),
                better: if higher { "higher" } else { "lower" }.into(),
                values: [("caselog".to_owned(), v)].into(),
                ratio_sqlite: None,
                ratio_raw: None,
            })
        };
        for (cell, v) in &c.with_snippets {
            // The same searches without snippets: `kind (scope)`.
            let plain = cell
                .rsplit_once(" (")
                .and_then(|(kind, scope)| c.latencies.get(kind)?.get(scope.strip_suffix(')')?));
            for (p, label) in [(0.5, "p50"), (0.99, "p99")] {
                let with = percentile(v, p);
                only(format!("caselog {cell} {label} with snippets"), "µs", false, with);
                if let Some(plain) = plain {
                    only(
                        format!("caselog {cell} {label} snippets/plain"),
                        "x",
                        false,
                        with / percentile(plain, p),
                    );
                }
            }
        }
        for w in &c.walks {
            let what = if w.query.is_empty() {
                "every case".to_owned()
            } else {
                format!("{:?}", w.query)
            };
            only(
                format!("caselog walk of {what} ({} hits), {}", w.hits, w.method),
                "hits/s",
                true,
                w.hits as f64 / w.secs,
            );
        }
    }
    figures
}

fn value(figures: &[Figure], name: &str, sys: &str) -> f64 {
    figures
        .iter()
        .find(|f| f.name == name)
        .and_then(|f| f.values.get(sys).copied())
        .unwrap_or(f64::NAN)
}

/// The better SQLite layout's value of a figure.
fn sqlite_best(figures: &[Figure], name: &str, higher: bool) -> f64 {
    let (a, b) = (value(figures, name, "sqlite"), value(figures, name, "sqlite-rowid"));
    match (a.is_nan(), b.is_nan()) {
        (true, _) => b,
        (_, true) => a,
        _ if higher => a.max(b),
        _ => a.min(b),
    }
}

fn goals(s: &Settings, f: &[Figure]) -> Vec<Goal> {
    let mut out = Vec::new();
    let mut goal = |goal: String, measured: String, met: bool| out.push(Goal { goal, measured, met });
    let (c, sq, r) = (
        value(f, "bulk ingest", "caselog"),
        sqlite_best(f, "bulk ingest", true),
        value(f, "bulk ingest", "raw"),
    );
    goal(
        "bulk ingest ≥ tuned SQLite (aim 2x)".into(),
        format!("{:.2}x SQLite", c / sq),
        c >= sq,
    );
    goal(
        "bulk ingest time ≤ 1.3x the floor's".into(),
        format!("{:.2}x the floor's time", r / c),
        r / c <= 1.3,
    );
    let tenant_scopes: Vec<&ScopeSpec> = s
        .scopes
        .iter()
        .filter(|sc| queries::is_tenant_scope(&sc.name))
        .collect();
    for kind in queries::kinds(&s.mix) {
        // The worst tenant scope decides.
        let (mut vs_raw, mut vs_sqlite) = (f64::NAN, f64::NAN);
        for sc in &tenant_scopes {
            let name = format!("{kind} ({}) p99", sc.name);
            let c = value(f, &name, "caselog");
            vs_raw = vs_raw.max(c / value(f, &name, "raw"));
            vs_sqlite = vs_sqlite.min(sqlite_best(f, &name, false) / c);
        }
        goal(
            format!("{kind}, tenant p99 ≤ 1.5x the floor"),
            format!("{vs_raw:.2}x"),
            vs_raw <= 1.5,
        );
        goal(
            format!("{kind}, tenant p99 ≥ 5x faster than SQLite"),
            format!("{vs_sqlite:.1}x faster"),
            vs_sqlite >= 5.0,
        );
    }
    let (d, ds) = (
        value(f, "on disk, allocated", "caselog"),
        sqlite_best(f, "on disk, allocated", false),
    );
    goal(
        "on disk (allocated) ≤ SQLite's".into(),
        format!("{:.2}x", d / ds),
        d <= ds,
    );
    let a = value(f, &format!("live durable appends, {} writers", s.writers), "caselog");
    goal(
        format!("≥ 20,000 durable appends/s with {} writers", s.writers),
        format!("{a:.0}/s"),
        a >= 20_000.0,
    );
    let w = value(f, "write→searchable under appends p99", "caselog");
    goal(
        "write→searchable p99 ≤ 1 s under that load".into(),
        format!("{w:.0} ms"),
        w <= 1_000.0,
    );
    let l = value(f, "number lookup p99", "caselog");
    goal("number lookup p99 ≤ 5 µs".into(), format!("{l:.1} µs"), l <= 5.0);
    let o = value(f, "open", "caselog");
    goal("open ≤ 200 ms".into(), format!("{o:.0} ms"), o <= 200.0);
    let m = [
        "peak RSS during ingest",
        "peak RSS during queries",
        "peak RSS during appends",
    ]
    .iter()
    .map(|n| value(f, n, "caselog"))
    .fold(0.0, f64::max);
    goal("peak RSS ≤ 1 GiB".into(), format!("{m:.0} MiB"), m <= 1024.0);
    out
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The table as Markdown (also printed on stdout).
pub fn table(r: &Report) -> String {
    let systems: Vec<&String> = r.figures.first().map(|f| f.values.keys().collect()).unwrap_or_default();
    let ordered: Vec<&str> = SYSTEMS
        .iter()
        .copied()
        .filter(|s| systems.iter().any(|x| x.as_str() == *s))
        .collect();
    let mut out = String::new();
    out.push_str(&format!(
        "{} cases ({:?} archive), {} messages, {:.0} MB of text; {} CPUs; load average at start {}, at end {}; \
         run took {:.0} s\n\n",
        r.cases,
        r.settings.archive,
        r.messages,
        r.payload_bytes as f64 / 1e6,
        r.cpus,
        r.loadavg_start,
        r.loadavg_end,
        r.wall_secs
    ));
    out.push_str("Scopes: ");
    out.push_str(
        &r.scopes
            .iter()
            .map(|s| format!("{} ({}, {} cases)", s.name, s.tenant.as_deref().unwrap_or("-"), s.cases))
            .collect::<Vec<_>>()
            .join("; "),
    );
    out.push_str("\n\n| kind | query | hits (");
    out.push_str(&r.scopes.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" / "));
    out.push_str(") | share of archive |\n|---|---|---|---:|\n");
    for h in &r.hit_counts {
        out.push_str(&format!(
            "| {} | `{}` | {} | {:.4}% |\n",
            h.kind,
            h.query.replace('|', "\\|"),
            h.counts.iter().map(u64::to_string).collect::<Vec<_>>().join(" / "),
            h.share * 100.0
        ));
    }
    out.push_str("\n| figure | unit | better |");
    for s in &ordered {
        out.push_str(&format!(" {s} |"));
    }
    out.push_str(" caselog/SQLite | caselog/raw |\n|---|---|---|");
    for _ in &ordered {
        out.push_str("---:|");
    }
    out.push_str("---:|---:|\n");
    for f in &r.figures {
        out.push_str(&format!("| {} | {} | {} |", f.name, f.unit, f.better));
        for s in &ordered {
            out.push_str(&format!(
                " {} |",
                fmt_value(f.values.get(*s).copied().unwrap_or(f64::NAN))
            ));
        }
        let ratio = |x: Option<f64>| x.filter(|v| v.is_finite()).map_or("-".into(), |v| format!("{v:.2}"));
        out.push_str(&format!(" {} | {} |\n", ratio(f.ratio_sqlite), ratio(f.ratio_raw)));
    }
    out.push_str("\n| goal | measured | met |\n|---|---|---|\n");
    for g in &r.goals {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            g.goal,
            g.measured,
            if g.met { "yes" } else { "**no**" }
        ));
    }
    out
}

/// Writes the JSON report and the SVG plot.
pub fn write(r: &Report, json: &Path, svg: &Path) -> Result<Vec<PathBuf>> {
    std::fs::write(json, serde_json::to_string_pretty(r)?)?;
    std::fs::write(svg, crate::svg::latency_plot(r))?;
    Ok(vec![json.to_owned(), svg.to_owned()])
}
