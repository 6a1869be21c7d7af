//! A bulk import writes its view and queue entries after the cases, sorted;
//! an import cut short by a kill -9 has them written by the next open.
//! The judge is a brute-force oracle over the stored cases: every view page
//! (total, cases, order) and the queue computed from the cases themselves.

mod common;

use std::path::Path;

use caselog_core::*;
use caselog_store::*;
use common::*;

const TENANTS: [&str; 3] = ["seller-a", "seller-b", "seller-c"];
const USERS: [&str; 3] = ["ann@example.com", "bob@example.com", "agent-1"];

/// `n` archived cases, deterministic from `seed`: every status, times
/// spread over two years in random order, creators, handlers, assignees
/// and deadlines.
fn archive(seed: u64, n: usize, first: usize) -> Vec<ImportCase> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let status = Status::ALL[rng.below(Status::ALL.len() as u64) as usize];
            let mut c = archived_case(
                &format!("9{:09}", first + i),
                TENANTS[rng.below(3) as usize],
                &format!("Archived case {i}"),
                "Imported text",
                status,
            );
            let created = ts("2024-01-01T00:00:00Z").saturating_add(Span(rng.below(730 * 86_400_000) as i64));
            c.case.state.created_at = created;
            c.case.state.updated_at = created.saturating_add(Span(rng.below(86_400_000) as i64));
            if status == Status::NeedsAttention {
                c.case.state.reply_deadline = Some(c.case.state.updated_at.saturating_add(Span::days(3)));
            }
            c.case.created_by = user(USERS[rng.below(2) as usize]);
            if rng.chance(30) {
                c.case.handler = Some(user(USERS[rng.below(2) as usize]));
            }
            if rng.chance(30) {
                c.case.assignee = Some(user("agent-1"));
            }
            c.case.category = Category::ALL[rng.below(12) as usize];
            for e in &mut c.thread {
                e.at = created;
            }
            c
        })
        .collect()
}

/// Every stored case, read one by one.
fn all_cases(store: &Store) -> Vec<Case> {
    store
        .case_ids()
        .unwrap()
        .into_iter()
        .filter_map(|id| store.case(&Scope::AllTenants, &CaseRef::Id(CaseId(id))).unwrap())
        .collect()
}

/// Compares every view page and the queue with the oracle.
fn check_views(store: &Store) {
    let cases = all_cases(store);
    let scopes = [
        Scope::Tenant(tenant(TENANTS[0])),
        Scope::Tenant(tenant(TENANTS[2])),
        Scope::AllTenants,
    ];
    for scope in &scopes {
        let mut kinds = vec![ViewKind::All, ViewKind::NeedsAttention];
        kinds.extend(USERS.iter().map(|u| ViewKind::Mine(user(u))));
        for kind in kinds {
            for sort in [ViewSort::Updated, ViewSort::Created] {
                for statuses in [vec![], vec![Status::Open], vec![Status::InProgress, Status::Closed]] {
                    for (page, per_page) in [(1, 1000), (4, 9)] {
                        let mut q = ViewQuery::new(kind.clone());
                        q.sort = sort;
                        q.descending = sort == ViewSort::Updated;
                        q.filter.statuses = statuses.clone();
                        q.page = page;
                        q.per_page = per_page;
                        let got = store.view(scope, &q).unwrap();
                        let got = (got.total, got.cases.iter().map(|c| c.id).collect::<Vec<_>>());
                        let (total, page, _) = view_oracle(&cases, scope, &q);
                        assert_eq!(got, (total, page), "{scope:?} {q:?}");
                    }
                }
            }
        }
    }
    let opts = store.options().clone();
    let queue = store
        .queue(
            &Scope::AllTenants,
            &QueueQuery {
                limit: usize::MAX,
                category: None,
                marketplace: None,
            },
        )
        .unwrap();
    let mut want: Vec<QueueKey> = cases
        .iter()
        .filter(|c| c.state.status.waits_on_support())
        .map(|c| queue_key_of(&opts, c))
        .collect();
    want.sort();
    assert_eq!(queue.iter().map(|e| e.key).collect::<Vec<_>>(), want);
}

#[test]
fn imported_cases_show_in_every_view_after_the_import() {
    for seed in [5, 6] {
        let dir = tempfile::tempdir().unwrap();
        // Small chunks, so the build spans several chunks' cases.
        let opts = Options {
            import_chunk: 37,
            ..fast_options()
        };
        let store = Store::open(dir.path(), opts).unwrap();
        // Cases written live, before and between imports.
        store
            .create_case(new_case(TENANTS[0], USERS[0], Category::Orders, "Live one", None))
            .unwrap();
        let out = store.import(archive(seed, 150, 0)).unwrap();
        assert!(out.iter().all(|o| matches!(o, Ok(ImportOutcome::Imported { .. }))));
        check_views(&store);
        store
            .create_case(new_case(TENANTS[2], USERS[1], Category::Payments, "Live two", None))
            .unwrap();
        store.import(archive(seed + 50, 80, 1000)).unwrap();
        check_views(&store);
        store.shutdown().unwrap();
        let store = Store::open(dir.path(), fast_options()).unwrap();
        check_views(&store);
        store.shutdown().unwrap();
    }
}

/// The child of the kill test: imports into the store in
/// `CASELOG_IMPORT_CHILD`, creating `started` first.
#[test]
#[ignore = "run by an_import_killed_at_random_points_has_its_views_built_at_open as a child process"]
fn import_child() {
    let Ok(dir) = std::env::var("CASELOG_IMPORT_CHILD") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let opts = Options {
        import_chunk: 100,
        durability: Durability::Immediate,
        ..fast_options()
    };
    let store = Store::open(dir.join("store"), opts).unwrap();
    std::fs::write(dir.join("started"), b"").unwrap();
    store.import(archive(9, 1500, 0)).unwrap();
    std::fs::write(dir.join("done"), b"").unwrap();
    store.shutdown().unwrap();
}

/// Makes a schema-3 store schema 2: no bucket counts.
fn to_schema_2(store_dir: &Path) {
    use redb::TableDefinition;
    let buckets: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("view_buckets");
    let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let db = redb::Database::open(store_dir.join(STORE_FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    txn.delete_table(buckets).unwrap();
    txn.open_table(meta)
        .unwrap()
        .insert("schema_version", 2u32.to_le_bytes().as_slice())
        .unwrap();
    txn.commit().unwrap();
}

fn pending_after_kill(store_dir: &Path) -> bool {
    use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};
    let def: TableDefinition<u64, ()> = TableDefinition::new("views_pending");
    let db = redb::Database::open(store_dir.join(STORE_FILE)).unwrap();
    let txn = db.begin_read().unwrap();
    txn.open_table(def).map(|t| !t.is_empty().unwrap()).unwrap_or(false)
}

#[test]
fn an_import_killed_at_random_points_has_its_views_built_at_open() {
    let base = tempfile::tempdir().unwrap();
    let rounds = env_u64("CASELOG_IMPORT_KILLS").unwrap_or(4);
    let mut rng = Rng(21);
    let mut pending_seen = 0;
    for round in 0..rounds {
        let work = base.path().join(format!("round{round}"));
        std::fs::create_dir_all(&work).unwrap();
        run_child_and_kill("import_child", "CASELOG_IMPORT_CHILD", &work, rng.below(1500));
        let store_dir = work.join("store");
        if pending_after_kill(&store_dir) {
            pending_seen += 1;
        }
        if round % 2 == 1 {
            // As a schema-2 store: the migration at open counts the built
            // cases' buckets, the build then the pending ones'.
            to_schema_2(&store_dir);
        }
        let store = Store::open(&store_dir, fast_options()).unwrap();
        assert!(
            !pending_after_kill_open(&store),
            "round {round}: open left entries pending"
        );
        check_views(&store);
        store.shutdown().unwrap();
        std::fs::remove_dir_all(&work).unwrap();
    }
    eprintln!("import kills: {pending_seen} of {rounds} left entries pending");
}

/// Whether the open store still has deferred entries: its *All* total
/// under `*` must then differ from its number of cases.
fn pending_after_kill_open(store: &Store) -> bool {
    let q = ViewQuery::new(ViewKind::All);
    store.view(&Scope::AllTenants, &q).unwrap().total != store.case_ids().unwrap().len() as u64
}
