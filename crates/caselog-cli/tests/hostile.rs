//! The `caselog` binary against a hostile or careless user: formulas in
//! exported cells, `--out` aimed at devices, FIFOs and links, endless
//! input streams, reused case numbers, byte-order marks, bad pages, and
//! text that would rewrite the terminal. Each test names the defect it
//! guards against.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

fn caselog(db: &Path) -> Command {
    let mut cmd = Command::cargo_bin("caselog").expect("the caselog binary is built");
    cmd.arg("--db")
        .arg(db)
        .env_remove("CASELOG_DB")
        .env("NO_COLOR", "1")
        // A regression here would read forever rather than fail.
        .timeout(Duration::from_secs(120));
    cmd
}

/// Runs the command, expecting exit status `code`; returns (stdout, stderr).
fn run(cmd: &mut Command, code: i32) -> (String, String) {
    let out = cmd.output().expect("caselog runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(out.status.code(), Some(code), "stdout: {stdout}\nstderr: {stderr}");
    (stdout, stderr)
}

/// One archive line; `title`, `tenant`, `user`, `sku` and `body` as given.
fn line(number: &str, tenant: &str, title: &str, user: &str, sku: &str, body: &str) -> String {
    serde_json::json!({
        "tenant": tenant, "number": number, "title": title, "category": "listing",
        "status": "open", "created_by": user, "created_at": "2026-01-16T08:30:00Z",
        "marketplace": "US", "language": "en",
        "refs": {"skus": [sku]},
        "messages": [{"author": "seller", "author_id": user, "at": "2026-01-16T08:30:00Z", "body": body}]
    })
    .to_string()
}

fn plain(number: &str, tenant: &str, body: &str) -> String {
    line(number, tenant, "Refund delayed", "ops@example.com", "MUG-RED-01", body)
}

/// A store holding the given lines.
fn store_with(lines: &[String]) -> TempDir {
    let dir = TempDir::new().unwrap();
    run(
        caselog(dir.path())
            .args(["import", "-"])
            .write_stdin(lines.join("\n") + "\n"),
        0,
    );
    dir
}

const FORMULA: &str = r#"=HYPERLINK("http://evil.example/x","Refund")"#;

/// Issue: titles, tenant ids, user ids and SKUs beginning with `=`, `+`,
/// `-`, `@` were written verbatim into CSV, where a spreadsheet runs them.
#[test]
fn csv_exports_neutralise_formulas_and_start_with_a_bom() {
    let db = store_with(&[
        line("A-1", "+seller", FORMULA, "@ops", "-MUG", "hi"),
        line("A-2", "-seller", "+1 refund", "=cmd|'/Ccalc'!A0", "@SKU", "hi"),
        line(
            "A-3",
            "seller-0042",
            "Ordinary 我的账户",
            "ops@example.com",
            "MUG-RED-01",
            "hi",
        ),
    ]);
    let work = TempDir::new().unwrap();
    let file = work.path().join("cases.csv");
    run(
        caselog(db.path()).args(["export", "--all-tenants", "--out"]).arg(&file),
        0,
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFnumber,"), "no byte-order mark");
    let rows = csv_rows(&bytes[3..]);
    assert_eq!(rows.len(), 3);
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a live formula cell {cell:?} in {row:?}"
            );
        }
    }
    let a1 = rows.iter().find(|r| r[0] == "A-1").unwrap();
    assert_eq!(a1[1], "'+seller");
    assert_eq!(a1[2], format!("'{FORMULA}"));
    assert_eq!(a1[7], "'@ops");
    assert_eq!(a1[17], "'-MUG");
    // Other cells are untouched.
    let a3 = rows.iter().find(|r| r[0] == "A-3").unwrap();
    assert_eq!(a3[2], "Ordinary 我的账户");

    // Standard output gets the same treatment.
    let (stdout, _) = run(
        caselog(db.path()).args(["export", "--all-tenants", "--format", "csv", "--out", "-"]),
        0,
    );
    assert!(stdout.starts_with('\u{FEFF}'));
    assert!(
        stdout.contains(&format!("\"'{}\"", FORMULA.replace('"', "\"\""))),
        "{stdout}"
    );

    // --raw-csv: exactly as stored, no byte-order mark, for programs.
    let raw = work.path().join("raw.csv");
    run(
        caselog(db.path())
            .args(["export", "--all-tenants", "--raw-csv", "--out"])
            .arg(&raw),
        0,
    );
    let bytes = std::fs::read(&raw).unwrap();
    assert!(bytes.starts_with(b"number,"));
    let rows = csv_rows(&bytes);
    assert_eq!(rows.iter().find(|r| r[0] == "A-1").unwrap()[2], FORMULA);
    // --raw-csv is a CSV option only.
    let (_, err) = run(
        caselog(db.path())
            .args(["export", "--all-tenants", "--raw-csv", "--out"])
            .arg(work.path().join("x.jsonl")),
        1,
    );
    assert!(err.contains("--raw-csv applies to CSV exports only"), "{err}");

    // XLSX writes every text cell as a string cell: no formula anywhere.
    let xlsx = work.path().join("cases.xlsx");
    run(
        caselog(db.path()).args(["export", "--all-tenants", "--out"]).arg(&xlsx),
        0,
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut all_xml = String::new();
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).unwrap();
        if part.name().unwrap().ends_with(".xml") {
            std::io::Read::read_to_string(&mut part, &mut all_xml).unwrap();
        }
    }
    assert!(!all_xml.contains("<f>") && !all_xml.contains("<f "), "a formula cell");
    // The title is a text node (an inline or shared string), as stored.
    assert!(
        all_xml.contains(&format!("<t>{FORMULA}</t>")),
        "title missing: {all_xml}"
    );
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::Reader::from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Issue: `export --out` replaced whatever was at the path — a device
/// node, a FIFO or a symlink became a regular file, a 0600 file came back
/// 0644, and existing files were overwritten without a word.
#[cfg(unix)]
#[test]
fn export_replaces_only_regular_files_and_only_with_force() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let db = store_with(&[plain("A-1", "seller-0042", "hi")]);
    let work = TempDir::new().unwrap();
    let export = |out: &Path, force: bool, code: i32| {
        let mut cmd = caselog(db.path());
        cmd.args(["export", "--all-tenants", "--format", "jsonl", "--out"])
            .arg(out);
        if force {
            cmd.arg("--force");
        }
        run(&mut cmd, code).1
    };

    // A new file is private to its owner.
    let file = work.path().join("cases.jsonl");
    export(&file, false, 0);
    assert_eq!(mode(&file), 0o600);
    let exported = std::fs::read(&file).unwrap();

    // An existing file is kept unless --force, whose result keeps its mode.
    std::fs::write(&file, "keep me").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = export(&file, false, 1);
    assert!(err.contains("already exists; pass --force to replace it"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    export(&file, true, 0);
    assert_eq!(std::fs::read(&file).unwrap(), exported);
    assert_eq!(mode(&file), 0o640);

    // Not a regular file: refused even with --force, and left as it was.
    let dir = work.path().join("a-directory");
    std::fs::create_dir(&dir).unwrap();
    let err = export(&dir, true, 1);
    assert!(
        err.contains("is a directory; an export replaces only a regular file"),
        "{err}"
    );
    assert!(dir.is_dir());

    let target = work.path().join("target.txt");
    std::fs::write(&target, "precious").unwrap();
    let link = work.path().join("link.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = export(&link, true, 1);
    assert!(err.contains("is a symbolic link"), "{err}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");

    let fifo = work.path().join("fifo.jsonl");
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let err = export(&fifo, true, 1);
        assert!(err.contains("is a FIFO"), "{err}");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }

    let null = Path::new("/dev/null");
    if null.exists() {
        let err = export(null, true, 1);
        assert!(err.contains("/dev/null is a device node"), "{err}");
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device());
    }

    // No temporary file is left behind by any of it.
    let mut names: Vec<String> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.iter().all(|n| !n.starts_with(".caselog-export")), "{names:?}");
}

fn new_case_args(title: &str) -> Vec<&str> {
    vec![
        "case",
        "new",
        "--tenant",
        "seller-0042",
        "--user",
        "ops@example.com",
        "--category",
        "orders",
        "--title",
        title,
    ]
}

/// Issue: `--attach` and `--body-file` read streams without bound
/// (`--attach /dev/zero` passed 4 GB); only regular files were checked.
#[cfg(unix)]
#[test]
fn body_and_attachment_reads_stop_at_the_limit() {
    let db = store_with(&[plain("A-1", "seller-0042", "hi")]);
    let zero = Path::new("/dev/zero");
    if !zero.exists() {
        return;
    }
    let (_, err) = run(
        caselog(db.path())
            .args(new_case_args("Endless body"))
            .args(["--body-file", "/dev/zero"]),
        1,
    );
    assert!(
        err.contains("/dev/zero holds more than 1048576 bytes, the most a message may be"),
        "{err}"
    );
    let (_, err) = run(
        caselog(db.path()).args(new_case_args("Endless attachment")).args([
            "--body",
            "see attached",
            "--attach",
            "/dev/zero",
            "--content-type",
            "application/pdf",
        ]),
        1,
    );
    assert!(
        err.contains("/dev/zero holds more than 10485760 bytes, the most an attachment of type application/pdf may be"),
        "{err}"
    );
    // Standard input is bounded the same way.
    let (_, err) = run(
        caselog(db.path())
            .args(new_case_args("Long body"))
            .args(["--body-file", "-"])
            .write_stdin(vec![b'x'; (1 << 20) + 1]),
        1,
    );
    assert!(err.contains("standard input holds more than 1048576 bytes"), "{err}");
    // Nothing was written by the refusals; a body at the limit is fine.
    let (out, _) = run(
        caselog(db.path())
            .args(new_case_args("Body at the limit"))
            .args(["--body-file", "-", "--json"])
            .write_stdin(vec![b'x'; 1 << 20]),
        0,
    );
    assert!(out.contains("\"number\""), "{out}");
    let stats: Value = serde_json::from_str(&run(caselog(db.path()).args(["stats", "--json"]), 0).0).unwrap();
    assert_eq!(stats["cases"], 2);
}

/// Issue: a line whose number belonged to another tenant's case, or
/// repeated an earlier line with other content, was counted as skipped
/// with no line number or reason.
#[test]
fn import_reports_number_conflicts_with_line_and_reason() {
    let db = store_with(&[plain("A-1", "seller-0042", "first")]);
    let work = TempDir::new().unwrap();
    let file = work.path().join("archive.jsonl");
    let lines = [
        plain("A-1", "seller-0042", "first"),   // identical: skipped
        plain("A-1", "seller-0001", "first"),   // another tenant: rejected
        plain("B-1", "seller-0042", "new"),     // imported
        plain("B-1", "seller-0042", "changed"), // other content: rejected
        plain("B-1", "seller-0042", "new"),     // identical to line 3: skipped
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (out, _) = run(caselog(db.path()).args(["import", "--json"]).arg(&file), 3);
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["imported"], 1);
    assert_eq!(summary["skipped"], 2);
    let rejected = summary["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{out}");
    assert_eq!(
        (rejected[0]["line"].as_u64(), rejected[1]["line"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(rejected[0]["conflict"], "other_tenant");
    assert_eq!(
        rejected[0]["error"],
        "case number A-1 already exists and belongs to a case of another tenant; the line was not imported"
    );
    assert_eq!(rejected[1]["conflict"], "other_content");
    assert_eq!(
        rejected[1]["error"],
        "case number B-1 already exists and belongs to a case with other content (first difference: messages); \
         the line was not imported (line 3 of this file holds it)"
    );
    // The text summary says the same.
    let (out, err) = run(caselog(db.path()).arg("import").arg(&file), 3);
    assert!(
        out.contains("Imported 0 cases; skipped 3 already present; rejected 2 lines."),
        "{out}"
    );
    assert!(
        err.contains("line 2: case number A-1 already exists and belongs to a case of another tenant"),
        "{err}"
    );
    assert!(err.contains("line 4: case number B-1 already exists"), "{err}");
    // The stored cases are the first versions.
    let (shown, _) = run(caselog(db.path()).args(["show", "B-1", "--all-tenants", "--json"]), 0);
    assert!(shown.contains("\"body\":\"new\""), "{shown}");
}

/// Issue: a UTF-8 byte-order mark made line 1 "not valid JSON"; a UTF-16
/// file got "not valid UTF-8" without naming the encoding.
#[test]
fn a_byte_order_mark_at_the_start_of_an_import_is_ignored_and_other_encodings_are_named() {
    let work = TempDir::new().unwrap();
    let db = work.path().join("db");
    let file = work.path().join("excel.jsonl");
    let text = format!(
        "{}\n{}\n",
        plain("A-1", "seller-0042", "one"),
        plain("A-2", "seller-0042", "two")
    );
    std::fs::write(&file, [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat()).unwrap();
    let (out, _) = run(caselog(&db).args(["import", "--json"]).arg(&file), 0);
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["imported"], 2, "{out}");

    let utf16 = work.path().join("utf16.jsonl");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&utf16, bytes).unwrap();
    let other = work.path().join("other-db");
    let (_, err) = run(caselog(&other).arg("import").arg(&utf16), 1);
    assert!(
        err.contains("line 1: the file starts with a UTF-16 byte-order mark"),
        "{err}"
    );
    assert!(!other.exists(), "a refused file created a store");
}

/// Issue: `backup` accepted a non-empty destination and even the live
/// store's own `index/` directory, where the backup was later deleted.
#[test]
fn backup_refuses_a_non_empty_destination_or_one_inside_the_store() {
    let db = store_with(&[plain("A-1", "seller-0042", "hi")]);
    let index = db.path().join("index");
    let before: Vec<_> = std::fs::read_dir(&index)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let (_, err) = run(caselog(db.path()).arg("backup").arg(index.join("backup")), 1);
    assert!(err.contains("is the store's own directory or lies inside it"), "{err}");
    let after: Vec<_> = std::fs::read_dir(&index)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after);

    let work = TempDir::new().unwrap();
    let full = work.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("notes.txt"), "mine").unwrap();
    let (_, err) = run(caselog(db.path()).arg("backup").arg(&full), 1);
    assert!(err.contains("the directory is not empty"), "{err}");
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    // An empty directory is fine.
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (out, _) = run(caselog(db.path()).arg("backup").arg(&empty), 0);
    assert!(out.contains("Backed up 1 cases"), "{out}");
}

/// Issue: "page 600 of 20 results … the last page is 500"; views answered
/// a bad page with another error than searches.
#[test]
fn paging_errors_say_which_pages_exist() {
    let db = store_with(&[plain("A-1", "seller-0042", "refund")]);
    let (_, err) = run(
        caselog(db.path()).args(["search", "--all-tenants", "--page", "600", "--per-page", "20", "refund"]),
        1,
    );
    assert!(
        err.contains("page 600 is out of range: at 20 results per page, pages run from 1 to 500"),
        "{err}"
    );
    let (_, err) = run(
        caselog(db.path()).args(["view", "all", "--all-tenants", "--page", "6000"]),
        1,
    );
    assert!(
        err.contains("page 6000 is out of range: at 20 results per page, pages run from 1 to 5000"),
        "{err}"
    );
}

/// Issue: "cannot merge case #60 into #0": internal ids instead of numbers.
#[test]
fn merge_errors_name_case_numbers() {
    let db = store_with(&[
        plain("A-1", "seller-0042", "one"),
        plain("B-1", "seller-0001", "other tenant"),
    ]);
    let (_, err) = run(
        caselog(db.path()).args(["case", "event", "A-1", "merge", "--user", "agent-7", "--into", "B-1"]),
        1,
    );
    assert!(
        err.contains("cannot merge case A-1 into B-1: the surviving case does not exist in the same tenant"),
        "{err}"
    );
    assert!(!err.contains('#'), "{err}");
}

/// Issue: U+202E and other bidirectional controls passed into titles and
/// were printed raw to a terminal.
#[test]
fn bidi_controls_are_refused_in_titles_and_escaped_on_screen() {
    let db = store_with(&[plain("A-1", "seller-0042", "hi")]);
    let (_, err) = run(
        caselog(db.path())
            .args(new_case_args("invoice \u{202E}fdp.exe"))
            .args(["--body", "x"]),
        1,
    );
    assert!(err.contains("bidirectional"), "{err}");
    assert!(
        !err.contains('\u{202E}'),
        "the refusal printed the character raw: {err}"
    );
    // Bodies may hold them (quoted text, right-to-left languages), and a
    // carriage return; the terminal gets them escaped.
    let body = "refund \u{202E}delayed\u{202C} and\roverwritten cleared";
    let (out, _) = run(
        caselog(db.path())
            .args(new_case_args("Refund question"))
            .args(["--body", body, "--json"]),
        0,
    );
    let number = serde_json::from_str::<Value>(&out).unwrap()["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let (shown, _) = run(caselog(db.path()).args(["show", &number, "--all-tenants"]), 0);
    assert!(
        shown.contains("refund <U+202E>delayed<U+202C> and<U+000D>overwritten cleared"),
        "{shown}"
    );
    let (found, _) = run(caselog(db.path()).args(["search", "--all-tenants", "cleared"]), 0);
    assert!(found.contains(&number) && found.contains("<U+202E>delayed"), "{found}");
    for text in [&shown, &found] {
        assert!(
            !text.contains(['\u{202E}', '\u{202C}', '\r']),
            "raw control in {text:?}"
        );
    }
    // JSON keeps the stored text exactly.
    let (json, _) = run(caselog(db.path()).args(["show", &number, "--all-tenants", "--json"]), 0);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["messages"][0]["body"], body);
}
