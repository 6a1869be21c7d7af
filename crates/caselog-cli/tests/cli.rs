//! Drives the built `caselog` binary through what a newcomer and an
//! operator do: demo, import with bad lines, search JSON, export → import
//! round trip, backup → verify, refused transitions, pipes and help.

use std::io::Read;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

fn caselog(db: &Path) -> Command {
    let mut cmd = Command::cargo_bin("caselog").expect("the caselog binary is built");
    cmd.arg("--db").arg(db).env_remove("CASELOG_DB").env("NO_COLOR", "1");
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("caselog runs");
    assert!(
        out.status.success(),
        "caselog failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn json_of(cmd: &mut Command) -> Value {
    serde_json::from_str(&stdout_of(cmd)).expect("JSON output")
}

/// The output text and its parsed value.
fn json_text(cmd: &mut Command) -> (String, Value) {
    let text = stdout_of(cmd);
    let value = serde_json::from_str(&text).expect("JSON output");
    (text, value)
}

/// A store with the first `n` demo cases.
fn demo_store(n: u32) -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    caselog(dir.path())
        .args(["demo", "--no-tour", "--cases", &n.to_string()])
        .assert()
        .success();
    dir
}

/// JSON with objects' keys in the order they were written (serde_json's
/// `Value` sorts them), to check documented output shapes exactly.
#[derive(Debug)]
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar,
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<Ordered>()?));
                }
                Ok(Ordered::Object(out))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<Ordered>()? {
                    out.push(v);
                }
                Ok(Ordered::Array(out))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys, in written order, of the object at `path` (object keys, or
/// array indexes) in JSON text.
fn keys(text: &str, path: &[&str]) -> Vec<String> {
    let mut at: Ordered = serde_json::from_str(text).expect("JSON");
    for step in path {
        at = match at {
            Ordered::Object(fields) => fields.into_iter().find(|(k, _)| k == step).map(|(_, v)| v),
            Ordered::Array(items) => step.parse::<usize>().ok().and_then(|i| items.into_iter().nth(i)),
            Ordered::Scalar => None,
        }
        .unwrap_or_else(|| panic!("no {path:?} in {text}"));
    }
    match at {
        Ordered::Object(fields) => fields.into_iter().map(|(k, _)| k).collect(),
        _ => panic!("{path:?} is not an object in {text}"),
    }
}

#[test]
fn demo_imports_tours_and_is_idempotent() {
    let dir = TempDir::new().unwrap();
    let out = stdout_of(caselog(dir.path()).args(["demo", "--cases", "400"]));
    assert!(out.contains("400 cases imported, 0 already present"), "{out}");
    for step in [
        "$ caselog search --all-tenants 'refund delayed'",
        "$ caselog search --all-tenants '账户 停用'",
        "$ caselog view attention --tenant seller-",
        "$ caselog queue --limit 5",
    ] {
        assert!(out.contains(step), "tour lacks {step}:\n{out}");
    }
    // The Chinese step finds the Chinese text.
    assert!(out.contains("停用"), "{out}");

    let again = stdout_of(caselog(dir.path()).args(["demo", "--cases", "400", "--no-tour"]));
    assert!(again.contains("0 cases imported, 400 already present"), "{again}");

    let (text, stats) = json_text(caselog(dir.path()).args(["stats", "--json"]));
    assert_eq!(
        keys(&text, &[]),
        ["cases", "messages", "tenants", "by_status", "by_category", "bytes"]
    );
    assert_eq!(keys(&text, &["bytes"]), ["store", "index"]);
    assert_eq!(stats["cases"], 400);
    assert!(stats["messages"].as_u64().unwrap() >= 400);
    assert!(stats["tenants"].as_u64().unwrap() > 50);
    assert_eq!(stats["by_status"].as_object().unwrap().len(), 6);
    assert_eq!(stats["by_category"].as_object().unwrap().len(), 12);
    let by_status: u64 = stats["by_status"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(by_status, 400);
    assert!(stats["bytes"]["store"].as_u64().unwrap() > 0);
    assert!(stats["bytes"]["index"].as_u64().unwrap() > 0);
}

const GOOD: &str = r#"{"tenant":"seller-0042","number":"A-1","title":"ASIN B08XYZ1234 suppressed","category":"listing","status":"in_progress","created_by":"ops@example.com","created_at":"2026-01-16T08:30:00Z","marketplace":"US","language":"en","refs":{"asins":["B08XYZ1234"]},"messages":[{"author":"seller","author_id":"ops@example.com","at":"2026-01-16T08:30:00Z","body":"I am unable to remove a suppressed ASIN, the refund is delayed too."}]}"#;

fn good(number: &str, tenant: &str, body: &str) -> String {
    GOOD.replace("A-1", number).replace("seller-0042", tenant).replace(
        "I am unable to remove a suppressed ASIN, the refund is delayed too.",
        body,
    )
}

#[test]
fn import_reports_bad_lines_by_number_and_imports_the_rest() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("archive.jsonl");
    let lines = [
        good("A-1", "seller-0042", "Refund delayed for a week."),
        "{not json".to_owned(),
        GOOD.replace(r#""title":"ASIN B08XYZ1234 suppressed","#, ""),
        String::new(),
        good("A-2", "seller-0042", "我的账户被停用了"),
        good("A-1", "seller-0042", "a repeat of the first number"),
        GOOD.replace("\"listing\"", "\"groceries\"").replace("A-1", "A-3"),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let db = dir.path().join("db");
    let out = caselog(&db).args(["import", "--json"]).arg(&file).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let summary: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys(&text, &[]), ["imported", "skipped", "rejected"]);
    assert_eq!(keys(&text, &["rejected", "0"]), ["line", "error"]);
    assert_eq!(summary["imported"], 2);
    assert_eq!(summary["skipped"], 0);
    let rejected = summary["rejected"].as_array().unwrap();
    let numbers: Vec<u64> = rejected.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    // Line 6 reuses line 1's number with another body: rejected, not skipped.
    assert_eq!(numbers, [2, 3, 6, 7]);
    assert_eq!(rejected[2]["conflict"], "other_content");
    assert!(
        rejected[2]["error"].as_str().unwrap().contains("line 1 of this file"),
        "{}",
        rejected[2]
    );
    assert!(rejected[0]["error"].as_str().unwrap().starts_with("not valid JSON"));
    assert_eq!(rejected[1]["error"], "title is missing");
    assert!(
        rejected[3]["error"].as_str().unwrap().contains("category"),
        "{}",
        rejected[3]
    );

    // Without --json: a readable summary, the reasons on stderr.
    let out = caselog(&db).arg("import").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3: title is missing"), "{stderr}");
    assert!(
        stderr.contains("line 1: case A-1 already exists with the same content; skipped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 6: case number A-1 already exists and belongs to a case with other content (first difference: messages)"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Imported 0 cases; skipped 2 already present; rejected 4 lines")
    );

    // A clean file from standard input exits 0.
    caselog(&db)
        .args(["import", "-"])
        .write_stdin(good("B-1", "seller-0001", "fresh") + "\n")
        .assert()
        .success()
        .stdout("Imported 1 case; skipped 0 already present; rejected 0 lines.\n");
}

#[test]
fn search_json_has_the_documented_shape_and_respects_the_scope() {
    let dir = TempDir::new().unwrap();
    let db = dir.path();
    let lines = [
        good("A-1", "seller-0042", "The refund is delayed since March."),
        good("A-2", "seller-0042", "我的账户被停用了，请尽快处理退款"),
        good("B-1", "seller-0007", "Another seller: refund delayed as well."),
    ];
    caselog(db)
        .args(["import", "-"])
        .write_stdin(lines.join("\n"))
        .assert()
        .success();

    let (text, r) = json_text(caselog(db).args(["search", "--tenant", "seller-0042", "--json", "refund", "delayed"]));
    assert_eq!(keys(&text, &[]), ["total", "page", "per_page", "hits", "facets"]);
    assert_eq!(r["total"], 1, "{r}");
    assert_eq!(r["page"], 1);
    assert_eq!(r["per_page"], 20);
    let hit = &r["hits"][0];
    assert_eq!(
        keys(&text, &["hits", "0"]),
        [
            "number",
            "tenant",
            "title",
            "status",
            "category",
            "created_at",
            "updated_at",
            "score",
            "snippet"
        ]
    );
    assert_eq!(hit["number"], "A-1");
    assert_eq!(hit["tenant"], "seller-0042");
    assert_eq!(hit["status"], "in_progress");
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    assert!(hit["snippet"].as_str().unwrap().contains("<b>"), "{hit}");
    assert_eq!(keys(&text, &["facets"]), ["status", "category"]);
    assert_eq!(r["facets"]["status"]["in_progress"], 1);
    assert_eq!(r["facets"]["category"]["listing"], 1);

    // Chinese words find the Chinese message.
    let r = json_of(caselog(db).args(["search", "--tenant", "seller-0042", "--json", "账户", "停用"]));
    assert_eq!(r["total"], 1);
    assert_eq!(r["hits"][0]["number"], "A-2");

    // All tenants sees both sellers' refunds (the Chinese case says 退款);
    // paging and sorting are honoured.
    let r = json_of(caselog(db).args([
        "search",
        "--all-tenants",
        "--json",
        "--per-page",
        "1",
        "--page",
        "2",
        "--sort",
        "created",
        "refund",
    ]));
    assert_eq!(r["total"], 2);
    assert_eq!(r["per_page"], 1);
    assert_eq!(r["page"], 2);
    assert_eq!(r["hits"].as_array().unwrap().len(), 1);
    assert!(r["hits"][0]["score"].is_null());

    // Sorted by case number, lowest first; an imported number typed alone
    // is found through the store's numbers.
    let r = json_of(caselog(db).args(["search", "--all-tenants", "--json", "--sort", "number", "*"]));
    let order: Vec<&str> = r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["number"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["A-1", "A-2", "B-1"]);
    let r = json_of(caselog(db).args(["search", "--tenant", "seller-0042", "--json", "A-2"]));
    assert_eq!(r["hits"][0]["number"], "A-2", "{r}");

    // Neither --tenant nor --all-tenants is a usage error.
    caselog(db).args(["search", "refund"]).assert().code(2);
    // A malformed query is an error that points at the problem.
    let out = caselog(db)
        .args(["search", "--all-tenants", "status:pending"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: searching for \"status:pending\""),
        "{stderr}"
    );
    assert!(stderr.contains("column"), "{stderr}");
    // The tenant cannot be reached through the query text.
    caselog(db)
        .args(["search", "--tenant", "seller-0042", "tenant:seller-0007"])
        .assert()
        .code(1);
    // Out-of-range page sizes are refused before anything runs.
    caselog(db)
        .args(["search", "--all-tenants", "--per-page", "1001", "x"])
        .assert()
        .code(2);
}

/// A query export holds every hit of the search (beyond one page), each
/// once, oldest first.
#[test]
fn query_export_holds_every_hit_oldest_first() {
    let src = demo_store(300);
    let work = TempDir::new().unwrap();
    let out = work.path().join("refund.jsonl");
    stdout_of(
        caselog(src.path())
            .args(["export", "--all-tenants", "--format", "jsonl", "--out"])
            .arg(&out)
            .arg("refund"),
    );
    let searched =
        json_of(caselog(src.path()).args(["search", "--all-tenants", "--json", "--per-page", "5", "refund"]));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(searched["total"].as_u64().unwrap() > 5, "{searched}");
    assert_eq!(lines.len() as u64, searched["total"].as_u64().unwrap());
    let mut numbers: Vec<&str> = lines.iter().map(|l| l["number"].as_str().unwrap()).collect();
    let created: Vec<&str> = lines.iter().map(|l| l["created_at"].as_str().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "not oldest first");
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), lines.len(), "a case exported twice");
}

#[test]
fn export_then_import_gives_an_identical_archive() {
    let src = demo_store(300);
    let work = TempDir::new().unwrap();
    let first = work.path().join("first.jsonl");
    let second = work.path().join("second.jsonl");
    stdout_of(
        caselog(src.path())
            .args(["export", "--all-tenants", "--format", "jsonl", "--out"])
            .arg(&first),
    );
    let copy = work.path().join("copy");
    let summary = json_of(caselog(&copy).args(["import", "--json"]).arg(&first));
    assert_eq!(summary["imported"], 300);
    assert_eq!(summary["rejected"], Value::Array(vec![]));
    stdout_of(caselog(&copy).args(["export", "--all-tenants", "--out"]).arg(&second));
    let (a, b) = (std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap());
    assert_eq!(a.iter().filter(|b| **b == b'\n').count(), 300);
    assert!(a == b, "export → import → export changed the archive");

    // The same cases, field by field, through `show --json`.
    let text = String::from_utf8(a.clone()).unwrap();
    let first_line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let number = first_line["number"].as_str().unwrap();
    let shown = |db: &Path| stdout_of(caselog(db).args(["show", number, "--all-tenants", "--json"]));
    assert_eq!(shown(src.path()), shown(&copy));

    // CSV: a header and one row per case; XLSX: a zip workbook.
    let csv_path = work.path().join("cases.csv");
    stdout_of(
        caselog(src.path())
            .args(["export", "--tenant", "seller-0001", "--out"])
            .arg(&csv_path),
    );
    let csv_text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(
        csv_text.starts_with("\u{FEFF}number,tenant,title,status,category,"),
        "{csv_text}"
    );
    assert!(csv_text.lines().skip(1).all(|l| l.contains("seller-0001")));
    let xlsx = work.path().join("cases.xlsx");
    let out = stdout_of(
        caselog(src.path())
            .args(["export", "--all-tenants", "--format", "xlsx", "--out"])
            .arg(&xlsx)
            .arg("refund"),
    );
    assert!(out.starts_with("Exported "), "{out}");
    assert_eq!(&std::fs::read(&xlsx).unwrap()[..2], b"PK");
}

#[test]
fn backup_is_a_store_that_verifies() {
    let src = demo_store(250);
    let work = TempDir::new().unwrap();
    let dest = work.path().join("backup");
    let out = stdout_of(caselog(src.path()).arg("backup").arg(&dest));
    assert!(out.contains("Backed up 250 cases"), "{out}");
    let report = stdout_of(caselog(&dest).arg("verify"));
    assert!(report.contains("OK"), "{report}");
    let v = json_of(caselog(&dest).args(["verify", "--json"]));
    assert_eq!(v["ok"], true);
    assert_eq!(v["store"]["cases"], 250);
    assert_eq!(v["index"]["documents"], 250);
    let src_stats = json_of(caselog(src.path()).args(["stats", "--json"]));
    let dest_stats = json_of(caselog(&dest).args(["stats", "--json"]));
    assert_eq!(src_stats["by_status"], dest_stats["by_status"]);
    assert_eq!(src_stats["messages"], dest_stats["messages"]);
    // The same searches give the same answers.
    let q = ["search", "--all-tenants", "--json", "inventory"];
    let (a, b) = (json_of(caselog(src.path()).args(q)), json_of(caselog(&dest).args(q)));
    assert_eq!(a["total"], b["total"]);
    // A backup never overwrites a store.
    caselog(src.path()).arg("backup").arg(&dest).assert().code(1);
    // Reindex rebuilds, verify still agrees.
    caselog(&dest).arg("reindex").assert().success();
    caselog(&dest).arg("verify").assert().success();
}

/// Opens a case of seller-0042 by ops@example.com; returns its number.
fn new_case(db: &Path, args: &[&str]) -> String {
    let base = [
        "case",
        "new",
        "--tenant",
        "seller-0042",
        "--user",
        "ops@example.com",
        "--json",
    ];
    let created = json_of(caselog(db).args(base).args(args));
    created["number"].as_str().unwrap().to_owned()
}

#[test]
fn refused_transitions_exit_non_zero_with_the_typed_error() {
    let dir = TempDir::new().unwrap();
    let db = dir.path();
    caselog(db)
        .args(["import", "-"])
        .write_stdin(good("A-1", "seller-0042", "x"))
        .assert()
        .success();
    let number = new_case(
        db,
        &[
            "--category",
            "orders",
            "--title",
            "Order 112-1234567-1234567 not received",
            "--body",
            "The buyer says it never arrived.",
            "--order",
            "112-1234567-1234567",
        ],
    );
    assert_eq!(number.len(), 11);

    // A seller cannot pick a case up.
    let out = caselog(db)
        .args([
            "case",
            "event",
            &number,
            "pick-up",
            "--as",
            "seller",
            "--tenant",
            "seller-0042",
            "--user",
            "ops@example.com",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pick_up by seller is not allowed while the case is open"),
        "{stderr}"
    );

    let ok = json_of(caselog(db).args(["case", "event", &number, "pick-up", "--user", "agent-7", "--json"]));
    assert_eq!(ok["status"], "in_progress");
    let ok = json_of(caselog(db).args([
        "case",
        "event",
        &number,
        "close",
        "--tenant",
        "seller-0042",
        "--user",
        "ops@example.com",
        "--json",
    ]));
    assert_eq!(ok["status"], "closed");

    // Closed is final: a reply is refused and says so.
    let out = caselog(db)
        .args(["case", "event", &number, "resolve", "--user", "agent-7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("case is closed, which is final: resolve by support refused"),
        "{stderr}"
    );

    // Another tenant's seller cannot touch it: it does not exist for them.
    let out = caselog(db)
        .args([
            "case",
            "reply",
            &number,
            "--tenant",
            "seller-0001",
            "--user",
            "x",
            "--body",
            "hi",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("no case {number} in this scope")));

    // A follow-up continues the closed case.
    let follow = json_of(caselog(db).args([
        "case",
        "follow-up",
        &number,
        "--tenant",
        "seller-0042",
        "--user",
        "ops@example.com",
        "--title",
        "Again",
        "--body",
        "It happened again.",
        "--json",
    ]));
    let shown = json_of(caselog(db).args([
        "show",
        follow["number"].as_str().unwrap(),
        "--tenant",
        "seller-0042",
        "--json",
    ]));
    assert_eq!(shown["links"]["follow_up_of"], number);
    assert_eq!(shown["category"], "orders");
}

#[test]
fn views_and_queue_print_json() {
    let src = demo_store(300);
    let (text, v) =
        json_text(caselog(src.path()).args(["view", "attention", "--all-tenants", "--json", "--per-page", "5"]));
    assert_eq!(keys(&text, &[]), ["total", "page", "per_page", "cases"]);
    assert!(v["total"].as_u64().unwrap() > 0);
    let deadlines: Vec<&str> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reply_deadline"].as_str().unwrap())
        .collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]), "{deadlines:?}");
    caselog(src.path())
        .args(["view", "mine", "--tenant", "seller-0001"])
        .assert()
        .code(1);

    let q = json_of(caselog(src.path()).args(["queue", "--limit", "10", "--json"]));
    let entries = q["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    let classes = ["critical", "high", "normal", "low"];
    let rank = |e: &Value| classes.iter().position(|c| e["class"] == *c).unwrap();
    assert!(entries.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])));
    assert!(entries
        .iter()
        .all(|e| e["status"] == "open" || e["status"] == "in_progress"));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let src = demo_store(300);
    let bin = assert_cmd::cargo::cargo_bin("caselog");
    let mut child = StdCommand::new(bin)
        .arg("--db")
        .arg(src.path())
        .args(["export", "--all-tenants", "--format", "jsonl", "--out", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, then hang up, like `| head -1`.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn every_command_explains_itself_with_an_example() {
    let dir = TempDir::new().unwrap();
    for cmd in [
        vec!["demo"],
        vec!["import"],
        vec!["search"],
        vec!["show"],
        vec!["view"],
        vec!["queue"],
        vec!["case"],
        vec!["case", "new"],
        vec!["case", "reply"],
        vec!["case", "event"],
        vec!["case", "follow-up"],
        vec!["case", "transfer"],
        vec!["case", "assign"],
        vec!["case", "release"],
        vec!["case", "complex"],
        vec!["timers"],
        vec!["tenant"],
        vec!["export"],
        vec!["backup"],
        vec!["verify"],
        vec!["reindex"],
        vec!["stats"],
    ] {
        let out = stdout_of(caselog(dir.path()).args(&cmd).arg("--help"));
        assert!(out.contains("Example"), "{cmd:?} --help has no example:\n{out}");
    }
    // Reading commands do not create a store where there is none.
    let missing = dir.path().join("nothing-here");
    let out = caselog(&missing).arg("stats").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no caselog store at"));
    assert!(!missing.exists());
}

#[test]
fn support_routes_a_case_and_timers_run_by_hand() {
    let dir = TempDir::new().unwrap();
    let db = dir.path();
    caselog(db)
        .args(["import", "-"])
        .write_stdin(good("A-1", "seller-0042", "x"))
        .assert()
        .success();
    let number = new_case(
        db,
        &[
            "--category",
            "advertising",
            "--title",
            "My account was deactivated",
            "--body",
            "Filed under ads by mistake.",
        ],
    );
    let show = |db: &Path| json_of(caselog(db).args(["show", &number, "--all-tenants", "--json"]));

    let ok = json_of(caselog(db).args([
        "case",
        "transfer",
        &number,
        "--user",
        "agent-7",
        "--category",
        "account_health",
        "--marketplace",
        "DE",
        "--reason",
        "A deactivation, not an ads question.",
        "--json",
    ]));
    assert_eq!(ok["status"], "open");
    let case = show(db);
    assert_eq!(case["category"], "account_health");
    assert_eq!(case["marketplace"], "DE");
    let last = case["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["author"], "support");
    assert_eq!(last["author_id"], "agent-7");
    assert_eq!(last["body"], "A deactivation, not an ads question.");
    assert_eq!(last["change"]["event"], "transfer");

    stdout_of(caselog(db).args(["case", "assign", &number, "--user", "lead-1", "--to", "agent-9"]));
    assert_eq!(show(db)["assignee"], "agent-9");
    stdout_of(caselog(db).args([
        "case",
        "assign",
        &number,
        "--as",
        "seller",
        "--tenant",
        "seller-0042",
        "--user",
        "ops@example.com",
        "--to",
        "finance@example.com",
    ]));
    assert_eq!(show(db)["handler"], "finance@example.com");
    stdout_of(caselog(db).args([
        "case",
        "release",
        &number,
        "--user",
        "agent-9",
        "--note",
        "Back to the queue.",
    ]));
    assert!(show(db).get("assignee").is_none_or(Value::is_null));
    stdout_of(caselog(db).args(["case", "complex", &number, "--user", "agent-7"]));
    assert_eq!(show(db)["complex"], true);
    stdout_of(caselog(db).args(["tenant", "tier", "seller-0042", "high"]));

    // A deadline that passes is applied by `timers`.
    stdout_of(caselog(db).args([
        "case",
        "event",
        &number,
        "request-info",
        "--user",
        "agent-7",
        "--days",
        "1",
    ]));
    let out = stdout_of(caselog(db).args(["timers", "--at", "2099-01-01"]));
    assert!(out.contains("1 cases changed"), "{out}");
    assert_eq!(show(db)["status"], "resolved");
    let out = stdout_of(caselog(db).args(["timers", "--at", "2099-01-01"]));
    assert!(out.contains("0 cases changed"), "{out}");

    // A final case refuses a transfer, naming it.
    stdout_of(caselog(db).args([
        "case",
        "event",
        &number,
        "close",
        "--tenant",
        "seller-0042",
        "--user",
        "ops@example.com",
    ]));
    let out = caselog(db)
        .args([
            "case",
            "transfer",
            &number,
            "--user",
            "agent-7",
            "--category",
            "listing",
            "--reason",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("case is closed, which is final: transfer by support refused"),
        "{stderr}"
    );
}
