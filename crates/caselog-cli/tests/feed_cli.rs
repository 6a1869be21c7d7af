//! `caselog feed`: JSON Lines of a consumer's changes, acknowledged so the
//! next run continues where this one stopped; tenant consumers are scoped.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn caselog(db: &Path) -> Command {
    let mut cmd = Command::cargo_bin("caselog").expect("the caselog binary is built");
    cmd.arg("--db").arg(db).env_remove("CASELOG_DB").env("NO_COLOR", "1");
    cmd
}

fn lines(cmd: &mut Command) -> Vec<Value> {
    let out = cmd.output().expect("caselog runs");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn feed_prints_json_lines_once_per_consumer_and_scope() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path();
    caselog(db)
        .args(["demo", "--no-tour", "--cases", "40"])
        .assert()
        .success();
    let all = lines(caselog(db).args(["feed", "--consumer", "ops", "--all-tenants", "--json"]));
    assert!(all.len() >= 40, "{} changes", all.len());
    let seqs: Vec<u64> = all.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(all
        .iter()
        .all(|v| v["number"].is_string() && v["kind"].is_string() && v["at"].is_string()));
    // Acknowledged: a second run prints nothing new.
    assert!(lines(caselog(db).args(["feed", "--consumer", "ops", "--all-tenants", "--json"])).is_empty());
    // A tenant's consumer sees exactly that tenant's changes.
    let tenant = all[0]["tenant"].as_str().unwrap().to_owned();
    let mine = lines(caselog(db).args(["feed", "--consumer", "ops", "--tenant", &tenant, "--json"]));
    let expected: Vec<&Value> = all.iter().filter(|v| v["tenant"] == tenant.as_str()).collect();
    assert_eq!(mine.iter().collect::<Vec<_>>(), expected);
    // A bad name is refused with its reason.
    let out = caselog(db)
        .args(["feed", "--consumer", "no spaces", "--all-tenants"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid feed consumer name"));
}

#[test]
fn erase_then_scrub_reports_the_erasure_and_verify_stays_clean() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path();
    caselog(db)
        .args(["demo", "--no-tour", "--cases", "30"])
        .assert()
        .success();
    let feed = lines(caselog(db).args(["feed", "--consumer", "ops", "--all-tenants", "--json"]));
    let first = &feed[0];
    let number = first["number"].as_str().unwrap();
    let tenant = first["tenant"].as_str().unwrap();
    // Another tenant cannot erase it.
    let out = caselog(db)
        .args(["erase", number, "--tenant", "seller-none"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let erased = lines(caselog(db).args(["erase", number, "--tenant", tenant, "--json"]));
    assert_eq!(erased[0]["number"], number);
    let after = lines(caselog(db).args(["feed", "--consumer", "ops", "--all-tenants", "--json"]));
    assert_eq!(after.len(), 1);
    assert_eq!(
        (after[0]["kind"].as_str(), after[0]["number"].as_str()),
        (Some("erased"), Some(number))
    );
    let scrub = lines(caselog(db).args(["scrub", "--json"]));
    assert!(scrub[0]["segments_after"].as_u64().unwrap() <= 1);
    caselog(db).args(["verify"]).assert().success();
    // `compact` reports the file's length and allocation, and the store
    // still verifies.
    let compact = lines(caselog(db).args(["compact", "--json"]));
    let len = std::fs::metadata(db.join("cases.redb")).unwrap().len();
    assert_eq!(compact[0]["bytes_after"].as_u64(), Some(len));
    assert!(compact[0]["bytes_before"].as_u64().unwrap() >= len);
    assert!(compact[0]["allocated_after"].as_u64().unwrap() <= compact[0]["allocated_before"].as_u64().unwrap());
    caselog(db).args(["verify"]).assert().success();
    let out = caselog(db).args(["show", number, "--all-tenants"]).output().unwrap();
    assert!(!out.status.success(), "the erased case is still shown");
}
