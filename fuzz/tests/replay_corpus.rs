//! Replays every committed seed input of every fuzz target through the same
//! checks the fuzzers run, so `cargo test` on stable Rust exercises each
//! target (and every crash found so far stays fixed).

use std::path::PathBuf;

#[test]
fn every_target_replays_its_seed_corpus() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, target) in caselog_fuzz::TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()));
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())).path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "corpus {} is empty", dir.display());
        for file in &files {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
            // A failing property panics; name the input so it can be rerun
            // with `cargo fuzz run <target> <file>`.
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: seed {} fails", file.display());
        }
        println!("{name}: {} seeds replayed", files.len());
    }
}

#[test]
fn targets_are_named_after_their_binaries() {
    let bins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz_targets");
    for (name, _) in caselog_fuzz::TARGETS {
        assert!(bins.join(format!("{name}.rs")).is_file(), "no fuzz_targets/{name}.rs");
    }
}
