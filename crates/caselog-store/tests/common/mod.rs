//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use caselog_core::*;
use caselog_store::*;

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

pub fn tenant(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

pub fn user(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

pub fn seller(s: &str) -> Actor {
    Actor::Seller(user(s))
}

pub fn agent(s: &str) -> Actor {
    Actor::Support(user(s))
}

pub fn new_case(tenant_id: &str, by: &str, category: Category, title: &str, at: Option<Timestamp>) -> NewCase {
    NewCase::new(
        tenant(tenant_id),
        user(by),
        Marketplace::parse("US").unwrap(),
        LanguageTag::parse("en").unwrap(),
        category,
        title,
        format!("Description of {title}"),
    )
    .with_time(at)
}

/// An archived case to import: resolved or closed at `at`, with one
/// seller message.
pub fn archived_case(number: &str, tenant_id: &str, title: &str, body: &str, status: Status) -> ImportCase {
    let t = ts("2025-05-01T00:00:00Z");
    let mut state = CaseState::new(t);
    state.status = status;
    ImportCase {
        case: Case {
            id: CaseId(0),
            number: CaseNumber::parse_imported(number).unwrap(),
            tenant: tenant(tenant_id),
            created_by: user("ops@example.com"),
            assignee: None,
            handler: None,
            marketplace: Marketplace::parse("de").unwrap(),
            language: LanguageTag::parse("en").unwrap(),
            category: Category::Tax,
            title: title.into(),
            refs: References::default(),
            state,
            complex: false,
            tier: PerformanceTier::Standard,
            links: CaseLinks::default(),
            entries: 0,
            imported: false,
        },
        thread: vec![ThreadEntry {
            at: t,
            actor: seller("ops@example.com"),
            change: None,
            body: body.into(),
            attachments: vec![],
        }],
    }
}

/// Options for tests that do many writes: deferred durability (each test
/// store is thrown away) and small caches.
pub fn fast_options() -> Options {
    Options {
        durability: Durability::Deferred,
        cache_bytes: 8 * 1024 * 1024,
        index_heap_bytes: 15_000_000,
        // The tests' cases carry fixed past times; a timer pass by the
        // real clock would move them behind the test's back.
        timer_interval: None,
        ..Options::default()
    }
}

/// A small deterministic generator (splitmix64) for seeded random tests:
/// a failing seed replays exactly.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A number from the environment (seed counts and first seeds of the long
/// runs), if set and valid.
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// A stored case's queue key as the policy computes it from the case.
pub fn queue_key_of(opts: &Options, case: &Case) -> QueueKey {
    let inputs = QueueInputs {
        category: case.category,
        complex: case.complex,
        tier: case.tier,
        created_at: case.state.created_at,
        paused: case.state.paused_total,
        duplicate: case.links.duplicate_of.is_some(),
    };
    opts.queue.key(&inputs, case.id)
}

/// Runs this test binary's ignored test `child` as a child process with
/// `env` set to `work`, waits until it creates `work/started`, lets it run
/// `after_ms` more milliseconds, and kills it with SIGKILL.
#[allow(dead_code)]
pub fn run_child_and_kill(child: &str, env: &str, work: &std::path::Path, after_ms: u64) {
    use std::time::{Duration, Instant};
    let mut proc = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child, "--ignored", "--nocapture"])
        .env(env, work)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !work.join("started").exists() {
        assert!(Instant::now() < deadline, "the child {child} never started");
        assert!(
            proc.try_wait().unwrap().is_none(),
            "the child {child} ended before it started"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(after_ms));
    proc.kill().unwrap(); // SIGKILL
    proc.wait().unwrap();
}

/// A brute-force view page from the cases themselves: the view's total,
/// the page's cases in order, and whether a next page exists.
pub fn view_oracle(cases: &[Case], scope: &Scope, q: &ViewQuery) -> (u64, Vec<CaseId>, bool) {
    let mut rows: Vec<((i64, u64), CaseId)> = cases
        .iter()
        .filter(|c| scope.allows(&c.tenant))
        .filter(|c| q.filter.statuses.is_empty() || q.filter.statuses.contains(&c.state.status))
        .filter(|c| match &q.kind {
            ViewKind::All => true,
            ViewKind::Mine(u) => match scope {
                Scope::AllTenants => c.assignee.as_ref() == Some(u),
                Scope::Tenant(_) => &c.created_by == u || c.handler.as_ref() == Some(u),
            },
            ViewKind::NeedsAttention => c.state.status == Status::NeedsAttention && c.state.reply_deadline.is_some(),
        })
        .map(|c| {
            let t = match (&q.kind, q.sort) {
                (ViewKind::NeedsAttention, _) => c.state.reply_deadline.map_or(0, |d| d.as_millis()),
                (_, ViewSort::Created) => c.state.created_at.as_millis(),
                _ => c.state.updated_at.as_millis(),
            };
            ((t, c.id.0), c.id)
        })
        .collect();
    rows.sort();
    if q.descending && q.kind != ViewKind::NeedsAttention {
        rows.reverse();
    }
    let total = rows.len() as u64;
    let skip = ((q.page - 1) * q.per_page) as usize;
    let page: Vec<CaseId> = rows.iter().skip(skip).take(q.per_page as usize).map(|r| r.1).collect();
    let more = skip + (q.per_page as usize) < rows.len();
    (total, page, more)
}

/// The bucket counts of a closed store (`view_buckets`), read with redb.
pub fn stored_buckets(dir: &std::path::Path) -> std::collections::BTreeMap<(String, String, u64), Vec<u8>> {
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};
    const VIEW_BUCKETS: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("view_buckets");
    let db = redb::Database::open(dir.join(STORE_FILE)).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(VIEW_BUCKETS).unwrap();
    t.iter()
        .unwrap()
        .map(|item| {
            let (k, v) = item.unwrap();
            let (s, series, b) = k.value();
            ((s.to_owned(), series.to_owned(), b), v.value().to_vec())
        })
        .collect()
}

/// Rewrites a closed schema-3 store into schema 2: no bucket counts.
pub fn downgrade_to_v2(dir: &std::path::Path) {
    use redb::TableDefinition;
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    const VIEW_BUCKETS: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("view_buckets");
    let db = redb::Database::open(dir.join(STORE_FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    assert!(txn.delete_table(VIEW_BUCKETS).unwrap());
    txn.open_table(META)
        .unwrap()
        .insert("schema_version", 2u32.to_le_bytes().as_slice())
        .unwrap();
    txn.commit().unwrap();
}
