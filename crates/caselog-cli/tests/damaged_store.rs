//! The `caselog` binary on damaged and read-only stores: no command exits
//! 101 (a panic), no read command changes a byte of the store, salvage
//! rescues what can be read, and a store the user may read but not write
//! serves every read command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

fn caselog(db: &Path) -> Command {
    let mut cmd = Command::cargo_bin("caselog").expect("the caselog binary is built");
    cmd.arg("--db").arg(db).env_remove("CASELOG_DB").env("NO_COLOR", "1");
    cmd
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for (rel, bytes) in files(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// A store with 300 demo cases and one of its case numbers.
fn demo_store() -> (TempDir, String) {
    let dir = TempDir::new().unwrap();
    caselog(dir.path())
        .args(["demo", "--no-tour", "--cases", "300"])
        .assert()
        .success();
    let out = TempDir::new().unwrap();
    let file = out.path().join("all.jsonl");
    caselog(dir.path())
        .args(["salvage", "--out"])
        .arg(&file)
        .assert()
        .success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text.lines().count(),
        300,
        "salvage of an intact store is the whole store"
    );
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    (dir, first["number"].as_str().unwrap().to_owned())
}

fn assert_no_panic(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{what} panicked: {stderr}");
    assert!(!stderr.contains("panicked"), "{what} printed a panic: {stderr}");
}

/// Runs every read command; returns how many failed naming damage.
fn read_commands(db: &Path, number: &str) -> usize {
    let scratch = TempDir::new().unwrap();
    let runs: Vec<(&str, Vec<String>)> = vec![
        ("stats", vec!["stats".into(), "--json".into()]),
        ("search", vec!["search".into(), "--all-tenants".into(), "refund".into()]),
        ("view", vec!["view".into(), "all".into(), "--all-tenants".into()]),
        ("queue", vec!["queue".into(), "--limit".into(), "50".into()]),
        ("show", vec!["show".into(), number.into(), "--all-tenants".into()]),
        (
            "export",
            vec![
                "export".into(),
                "--all-tenants".into(),
                "--format".into(),
                "jsonl".into(),
                "--out".into(),
                "-".into(),
            ],
        ),
        ("verify", vec!["verify".into()]),
        (
            "backup",
            vec!["backup".into(), scratch.path().join("copy").display().to_string()],
        ),
    ];
    let mut damaged = 0;
    for (what, args) in runs {
        let out = caselog(db).args(&args).output().unwrap();
        assert_no_panic(what, &out);
        if String::from_utf8_lossy(&out.stderr).contains("damaged") {
            damaged += 1;
        }
    }
    damaged
}

/// splitmix64 for placing damage.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn no_command_panics_or_writes_on_a_damaged_store_and_salvage_rescues_the_rest() {
    let (original, number) = demo_store();
    let mut damaged_reads = 0;
    for seed in 0..4u64 {
        let work = TempDir::new().unwrap();
        copy_dir(original.path(), work.path());
        let path = work.path().join("cases.redb");
        let mut bytes = std::fs::read(&path).unwrap();
        let pages = bytes.len() / 4096;
        // Seeds 0 and 1: 8 garbage bytes (the reported damage); 2 and 3:
        // garbage over a tenth of the pages, so reads surely meet it.
        let spots: Vec<(usize, usize)> = if seed < 2 {
            vec![((mix(seed) % (bytes.len() as u64 - 8)) as usize, 8)]
        } else {
            (0..pages / 10)
                .map(|i| ((1 + mix(seed * 1000 + i as u64) as usize % (pages - 1)) * 4096, 4096))
                .collect()
        };
        for (at, len) in spots {
            for (i, b) in bytes[at..at + len].iter_mut().enumerate() {
                *b = mix(seed ^ (at + i) as u64) as u8;
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let before = files(work.path());

        damaged_reads += read_commands(work.path(), &number);
        assert!(
            files(work.path()) == before,
            "seed {seed}: a read command changed the store"
        );

        let out_dir = TempDir::new().unwrap();
        let rescued = out_dir.path().join("rescued.jsonl");
        let out = caselog(work.path())
            .args(["salvage", "--out"])
            .arg(&rescued)
            .output()
            .unwrap();
        assert_no_panic("salvage", &out);
        assert!(files(work.path()) == before, "seed {seed}: salvage changed the store");
        // Exit 0 (all rescued) or 3 (some lost, listed); or 1 when not
        // even the file header could be read.
        assert!(matches!(out.status.code(), Some(0 | 1 | 3)), "{out:?}");
        if out.status.code() != Some(1) {
            let text = std::fs::read_to_string(&rescued).unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let rescued_count = text.lines().count();
            assert!(stdout.contains(&format!("Salvaged {rescued_count} cases")), "{stdout}");
            // What salvage writes imports into a new store.
            let fresh = TempDir::new().unwrap();
            let import = caselog(fresh.path()).arg("import").arg(&rescued).output().unwrap();
            assert!(import.status.success(), "{import:?}");
        }
    }
    assert!(
        damaged_reads > 0,
        "no read met the damage: the test damaged nothing it reads"
    );
}

/// A store the user may read but not write (file r--, directory r-x):
/// every read command works, and a write names the file it cannot write.
/// Runs the binary as `nobody` (root ignores permissions); skipped where
/// `setpriv` cannot drop privileges.
#[test]
fn a_store_the_user_cannot_write_serves_reads_and_names_the_file_on_writes() {
    use std::os::unix::fs::PermissionsExt;
    let (store, number) = demo_store();
    let bin = assert_cmd::cargo::cargo_bin("caselog");
    let as_nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .arg("--db")
            .arg(store.path())
            .args(args)
            .env("NO_COLOR", "1")
            .output()
    };
    match as_nobody(&["--version"]) {
        Ok(out) if out.status.success() => {}
        other => {
            eprintln!("skipped: cannot run the binary as nobody ({other:?})");
            return;
        }
    }
    let set = |p: &Path, mode: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    for (rel, _) in files(store.path()) {
        set(&store.path().join(rel), 0o444);
    }
    set(&store.path().join("index"), 0o555);
    set(store.path(), 0o555);
    let before = files(store.path());

    for args in [
        vec!["stats"],
        vec!["search", "--all-tenants", "refund"],
        vec!["view", "all", "--all-tenants"],
        vec!["queue"],
        vec!["show", number.as_str(), "--all-tenants"],
        vec!["export", "--all-tenants", "--format", "jsonl", "--out", "-"],
        vec!["verify"],
    ] {
        let out = as_nobody(&args).unwrap();
        assert!(
            out.status.success(),
            "{args:?} as nobody: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = as_nobody(&[
        "case",
        "new",
        "--tenant",
        "seller-0001",
        "--user",
        "ops@example.com",
        "--category",
        "listing",
        "--title",
        "t",
        "--body",
        "b",
    ])
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cases.redb"), "the write error names no file: {stderr}");
    set(store.path(), 0o755);
    assert!(files(store.path()) == before);
}
