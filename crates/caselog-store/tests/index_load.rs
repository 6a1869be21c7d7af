//! The live indexer under its tuning options: whatever the writer's thread
//! count, the merge policy's smallest level and the commit interval, the
//! searchable state after random creates and replies (several to the same
//! case, with and without waits in between) is the model's, every case is
//! indexed once (`verify`), and the indexer's counters add up.

mod search_common;

use std::time::Duration;

use caselog_core::*;
use caselog_store::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use search_common::*;

/// Words no analyzer splits or stems into one another.
const WORDS: &[&str] = &["kettle", "marble", "violet", "harbor", "pepper", "tunnel"];

#[derive(Debug, Clone)]
enum Op {
    /// A reply to case `case % cases` with word `word`.
    Reply { case: usize, word: usize },
    /// Wait until everything so far is searchable (a commit comes sooner).
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..8, 0..WORDS.len()).prop_map(|(case, word)| Op::Reply { case, word }),
        1 => Just(Op::Settle),
    ]
}

#[derive(Debug, Clone)]
struct Tuning {
    threads: usize,
    min_layer_docs: u32,
    commit_ms: u64,
}

fn tuning() -> impl Strategy<Value = Tuning> {
    (0usize..3, prop_oneof![Just(1u32), Just(4), Just(10_000)], 0u64..30).prop_map(
        |(threads, min_layer_docs, commit_ms)| Tuning {
            threads,
            min_layer_docs,
            commit_ms,
        },
    )
}

fn run(tuning: &Tuning, first_words: &[usize], ops: &[Op]) -> std::result::Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        durability: Durability::Deferred,
        cache_bytes: 8 * 1024 * 1024,
        index_heap_bytes: 2 * 15_000_000,
        timer_interval: None,
        index_threads: tuning.threads,
        index_merge_min_layer_docs: tuning.min_layer_docs,
        // Merges all the time, so documents and their deletes meet merges.
        index_merge_min_segments: 2,
        index_commit_interval: Duration::from_millis(tuning.commit_ms),
        ..Options::default()
    };
    let store = Store::open(dir.path(), opts).unwrap();
    let scope = Scope::Tenant(tenant("t1"));
    // The model: each case's number and the words of its thread.
    let mut cases: Vec<(CaseId, String, Vec<usize>)> = Vec::new();
    let mut writes = 0u64;
    for &w in first_words {
        let c = store
            .create_case(new_case("t1", "Case", &format!("first {}", WORDS[w])))
            .unwrap();
        cases.push((c.id, c.number.to_string(), vec![w]));
        writes += 1;
    }
    for op in ops {
        match *op {
            Op::Reply { case, word } => {
                let (id, _, words) = &mut cases[case % first_words.len()];
                store
                    .reply(
                        &scope,
                        &CaseRef::Id(*id),
                        NewMessage::new(Actor::Seller(user("ops@example.com")), WORDS[word]),
                    )
                    .unwrap();
                words.push(word);
                writes += 1;
            }
            Op::Settle => settle(&store),
        }
    }
    settle(&store);
    for (w, word) in WORDS.iter().enumerate() {
        let mut expected: Vec<String> = cases
            .iter()
            .filter(|(_, _, words)| words.contains(&w))
            .map(|(_, n, _)| n.clone())
            .collect();
        expected.sort();
        prop_assert_eq!(number_set(&store, &scope, word), expected, "word {}", word);
    }
    let all = store.search(&scope, "case", &SearchOptions::default()).unwrap();
    prop_assert_eq!(all.total, cases.len() as u64);
    let report = store.verify().unwrap();
    prop_assert!(report.is_consistent(), "{:?}", report);
    prop_assert_eq!(report.documents, cases.len() as u64);
    let m = store.metrics();
    // Every change was applied once (each write logs at least one); a case
    // changed several times in one batch got one document, and every case
    // at least one.
    prop_assert_eq!(m.index_changes, store.last_change());
    prop_assert!(m.index_changes >= writes, "{}", m);
    prop_assert!(m.index_documents <= m.index_changes, "{}", m);
    prop_assert!(m.index_documents >= cases.len() as u64, "{}", m);
    prop_assert!(m.index_commits >= 1, "{}", m);
    prop_assert_eq!(m.index_commit_latency.count, m.index_commits);
    store.shutdown().unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_searchable_state_does_not_depend_on_the_tuning(
        tuning in tuning(),
        first_words in prop::collection::vec(0..WORDS.len(), 1..5),
        ops in prop::collection::vec(op(), 0..40),
    ) {
        run(&tuning, &first_words, &ops)?;
    }
}
