//! A seconds-long run of `casebench` at 300 cases, so the benchmark
//! program cannot rot: every phase of every system runs, the hit counts
//! and view totals agree (the run fails otherwise) and the JSON report has
//! every figure, SQLite's query plans, per-file disk use and the store's
//! write-path counters.

use std::process::Command;

#[test]
fn casebench_runs_end_to_end_at_small_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("report.json");
    let svg = tmp.path().join("report.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_casebench"))
        .args([
            "run",
            "--cases",
            "300",
            "--iters",
            "12",
            "--lookups",
            "50",
            "--writers",
            "4",
        ])
        .args(["--append-secs", "0.3"])
        .arg("--data")
        .arg(tmp.path().join("data"))
        .arg("--out")
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "casebench failed: {stderr}");

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["cases"], 300);
    let systems = ["caselog", "sqlite", "sqlite-rowid", "raw"];
    // Hit counts were checked equal across systems before timing; every
    // kind of the mix is there, and the common words find something.
    let hits = report["hit_counts"].as_array().unwrap();
    let kinds: Vec<&str> = hits.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    for kind in caselog_bench::queries::KINDS {
        assert!(kinds.contains(kind), "no {kind:?} in {kinds:?}");
    }
    let all_scope: usize = 2;
    for h in hits.iter().filter(|h| h["kind"] == "common word") {
        assert!(h["counts"][all_scope].as_u64().unwrap() > 0, "{h}");
    }
    // Every scope count is at most the all-tenants count.
    for h in hits {
        let c: Vec<u64> = h["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert!(c[0] <= c[2] && c[1] <= c[2], "{h}");
    }

    let figures = report["figures"].as_array().unwrap();
    let names: Vec<&str> = figures.iter().map(|f| f["name"].as_str().unwrap()).collect();
    let mut expected = vec![
        "bulk ingest".to_owned(),
        "bulk ingest wall time".to_owned(),
        "peak RSS during ingest".to_owned(),
        "live durable appends, 4 writers".to_owned(),
        "write→searchable under appends p50".to_owned(),
        "write→searchable under appends p99".to_owned(),
        "open".to_owned(),
        "on disk, allocated".to_owned(),
        "on disk, apparent length".to_owned(),
        "number lookup p50".to_owned(),
        "number lookup p99".to_owned(),
    ];
    for kind in caselog_bench::queries::KINDS {
        for scope in ["largest tenant", "small tenant", "all tenants"] {
            for p in ["p50", "p99"] {
                expected.push(format!("{kind} ({scope}) {p}"));
            }
        }
    }
    for name in &expected {
        let f = figures
            .iter()
            .find(|f| f["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no figure {name:?} in {names:?}"));
        for sys in systems {
            let v = f["values"][sys].as_f64();
            assert!(v.is_some_and(|v| v.is_finite() && v >= 0.0), "{name} {sys}: {v:?}");
        }
        assert!(
            f["ratio_sqlite"].as_f64().is_some() && f["ratio_raw"].as_f64().is_some(),
            "{name}"
        );
    }
    // Views: caselog and SQLite only.
    for view in caselog_bench::queries::VIEWS {
        let name = format!("{view} (largest tenant) p99");
        let f = figures.iter().find(|f| f["name"] == name.as_str()).unwrap();
        for sys in ["caselog", "sqlite", "sqlite-rowid"] {
            assert!(f["values"][sys].as_f64().is_some_and(f64::is_finite), "{name} {sys}");
        }
    }
    // SQLite's plans are in the report, and its tenant searches are
    // answered inside FTS5.
    let plans = report["plans"]["sqlite"].as_object().unwrap();
    let plan = plans["common word / largest tenant"].to_string();
    assert!(plan.contains("VIRTUAL TABLE INDEX"), "{plan}");
    // Disk is reported per file, allocated and apparent.
    let files = report["disk"]["caselog"].as_array().unwrap();
    assert!(files
        .iter()
        .any(|f| f["path"] == "cases.redb" && f["allocated"].as_u64().unwrap() > 0));
    // The store's counters explain the appends.
    let m = &report["append_metrics"]["caselog"];
    assert!(
        m["commits"].as_u64().unwrap() > 0 && m["fsyncs"].as_u64().unwrap() > 0,
        "{m}"
    );
    assert!(!report["goals"].as_array().unwrap().is_empty());
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("caselog") && plot.contains("sqlite"));
}
