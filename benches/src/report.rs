//! The parent side of `casebench run`: runs every phase of every system in
//! child processes, checks that hit counts agree, and builds the report
//! (table on stdout, JSON, SVG).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::{
    disk_bytes, queries, spawn_child, system_dir, AppendResult, CountsResult, IngestResult, Phase, QueryResult,
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
    /// caselog / SQLite.
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

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Run settings.
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
    /// Every query variant with its hit counts (all tenants, then each tenant),
    /// identical across systems.
    pub hit_counts: Vec<(String, Vec<u64>)>,
    /// The table.
    pub figures: Vec<Figure>,
    /// The goals.
    pub goals: Vec<Goal>,
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

/// Runs the whole benchmark with data under `data`.
pub fn run(exe: &Path, data: &Path, s: &Settings, systems: &[String]) -> Result<Report> {
    let started = Instant::now();
    let loadavg_start = loadavg();
    std::fs::create_dir_all(data)?;
    let mut ingest: BTreeMap<String, IngestResult> = BTreeMap::new();
    let mut disk = BTreeMap::new();
    for sys in systems {
        let dir = system_dir(data, sys);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        eprintln!(
            "[{:>7.1} s] {sys}: ingest of {} cases",
            started.elapsed().as_secs_f64(),
            s.cases
        );
        let r: IngestResult = serde_json::from_str(&spawn_child(exe, sys, Phase::Ingest, &dir, s)?)?;
        eprintln!(
            "           {:.1} s, {:.0} cases/s, peak RSS {} MiB",
            r.secs,
            r.counts.cases as f64 / r.secs,
            r.peak_rss_kib / 1024
        );
        disk.insert(sys.clone(), disk_bytes(&dir)? as f64);
        ingest.insert(sys.clone(), r);
    }
    // Hit counts must agree before anything is timed.
    let mut counts: BTreeMap<String, CountsResult> = BTreeMap::new();
    for sys in systems {
        eprintln!("[{:>7.1} s] {sys}: hit counts", started.elapsed().as_secs_f64());
        counts.insert(
            sys.clone(),
            serde_json::from_str(&spawn_child(exe, sys, Phase::Counts, &system_dir(data, sys), s)?)?,
        );
    }
    let mix = queries::mix();
    let reference = &counts[&systems[0]].counts;
    let mut disagreements = Vec::new();
    for (sys, c) in &counts {
        for (v, q) in mix.iter().enumerate() {
            if c.counts[v] != reference[v] {
                disagreements.push(format!(
                    "{:?}: {} {:?} vs {} {:?}",
                    q.caselog_text(),
                    systems[0],
                    reference[v],
                    sys,
                    c.counts[v]
                ));
            }
        }
    }
    if !disagreements.is_empty() {
        bail!("hit counts differ:\n{}", disagreements.join("\n"));
    }
    let mut query: BTreeMap<String, QueryResult> = BTreeMap::new();
    let mut append: BTreeMap<String, AppendResult> = BTreeMap::new();
    for sys in systems {
        eprintln!("[{:>7.1} s] {sys}: open and queries", started.elapsed().as_secs_f64());
        query.insert(
            sys.clone(),
            serde_json::from_str(&spawn_child(exe, sys, Phase::Query, &system_dir(data, sys), s)?)?,
        );
    }
    for sys in systems {
        eprintln!(
            "[{:>7.1} s] {sys}: live appends, {} writers",
            started.elapsed().as_secs_f64(),
            s.writers
        );
        let r: AppendResult = serde_json::from_str(&spawn_child(exe, sys, Phase::Append, &system_dir(data, sys), s)?)?;
        if let Some(e) = &r.first_error {
            bail!("{sys}: {} appends failed, first: {e}", r.errors);
        }
        append.insert(sys.clone(), r);
    }

    let first = &ingest[&systems[0]].counts;
    let mut figures = Vec::new();
    let mut fig = |name: &str, unit: &str, higher: bool, f: &dyn Fn(&str) -> f64| {
        let values: BTreeMap<String, f64> = systems.iter().map(|s| (s.clone(), f(s))).collect();
        let ratio = |other: &str| {
            values
                .get(other)
                .map(|o| values.get("caselog").copied().unwrap_or(f64::NAN) / o)
        };
        figures.push(Figure {
            name: name.into(),
            unit: unit.into(),
            better: if higher { "higher" } else { "lower" }.into(),
            ratio_sqlite: ratio("sqlite"),
            ratio_raw: ratio("raw"),
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
    fig("peak RSS during ingest", "MiB", false, &|s| {
        ingest[s].peak_rss_kib as f64 / 1024.0
    });
    fig(
        &format!("live durable appends, {} writers", s.writers),
        "appends/s",
        true,
        &|s| append[s].appends as f64 / append[s].secs,
    );
    fig("open", "ms", false, &|s| query[s].open_ms);
    fig("on-disk size", "MiB", false, &|s| disk[s] / 1024.0 / 1024.0);
    for kind in queries::KINDS {
        for scope in ["tenant", "all"] {
            for (p, label) in [(0.5, "p50"), (0.99, "p99")] {
                fig(&format!("{kind} ({scope}) {label}"), "µs", false, &|s| {
                    percentile(&query[s].latencies[*kind][scope], p)
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
        for kind in queries::KINDS {
            if let Some(v) = c.with_snippets.get(*kind) {
                figures.push(Figure {
                    name: format!("caselog {kind} (tenant) p99 with snippets"),
                    unit: "µs".into(),
                    better: "lower".into(),
                    values: [("caselog".to_owned(), percentile(v, 0.99))].into(),
                    ratio_sqlite: None,
                    ratio_raw: None,
                });
            }
        }
    }

    let goals = goals(&figures);
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
    Ok(Report {
        settings: s.clone(),
        cases: first.cases,
        messages: first.messages,
        payload_bytes: first.payload_bytes,
        loadavg_start,
        loadavg_end: loadavg(),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        wall_secs: started.elapsed().as_secs_f64(),
        hit_counts: mix
            .iter()
            .zip(reference)
            .map(|(q, c)| (q.caselog_text(), c.clone()))
            .collect(),
        figures,
        goals,
        samples,
    })
}

fn value(figures: &[Figure], name: &str, sys: &str) -> f64 {
    figures
        .iter()
        .find(|f| f.name == name)
        .and_then(|f| f.values.get(sys).copied())
        .unwrap_or(f64::NAN)
}

fn goals(f: &[Figure]) -> Vec<Goal> {
    let mut out = Vec::new();
    let mut goal = |goal: String, measured: String, met: bool| out.push(Goal { goal, measured, met });
    let (c, s, r) = (
        value(f, "bulk ingest", "caselog"),
        value(f, "bulk ingest", "sqlite"),
        value(f, "bulk ingest", "raw"),
    );
    goal("bulk ingest ≥ 2x SQLite".into(), format!("{:.2}x", c / s), c / s >= 2.0);
    goal(
        "bulk ingest within 1.3x of raw".into(),
        format!("raw is {:.2}x caselog", r / c),
        r / c <= 1.3,
    );
    for kind in queries::KINDS {
        let name = format!("{kind} (tenant) p99");
        let (c, s, r) = (
            value(f, &name, "caselog"),
            value(f, &name, "sqlite"),
            value(f, &name, "raw"),
        );
        goal(
            format!("{kind}, tenant p99 ≥ 20x faster than SQLite"),
            format!("{:.1}x", s / c),
            s / c >= 20.0,
        );
        goal(
            format!("{kind}, tenant p99 within 1.5x of raw"),
            format!("{:.2}x", c / r),
            c / r <= 1.5,
        );
    }
    let l = value(f, "number lookup p99", "caselog");
    goal("number lookup p99 < 5 µs".into(), format!("{l:.1} µs"), l < 5.0);
    let o = value(f, "open", "caselog");
    goal("open < 200 ms".into(), format!("{o:.0} ms"), o < 200.0);
    let m = value(f, "peak RSS during ingest", "caselog");
    goal(
        "peak memory < 1 GiB during ingest".into(),
        format!("{m:.0} MiB"),
        m < 1024.0,
    );
    let (d, ds) = (value(f, "on-disk size", "caselog"), value(f, "on-disk size", "sqlite"));
    goal("on-disk size ≤ SQLite's".into(), format!("{:.2}x", d / ds), d <= ds);
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
        "{} cases, {} messages, {:.0} MB of text; {} CPUs; load average at start {}, at end {}; run took {:.0} s\n\n",
        r.cases,
        r.messages,
        r.payload_bytes as f64 / 1e6,
        r.cpus,
        r.loadavg_start,
        r.loadavg_end,
        r.wall_secs
    ));
    out.push_str("| figure | unit | better |");
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
        let ratio = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.2}"));
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
