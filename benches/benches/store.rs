//! Store micro benchmarks: durable append latency and throughput with 1, 8
//! and 64 concurrent writers (group commit), case-number lookup, a view
//! page, and the queue's top 50.
//!
//! `cargo bench -p caselog-bench --bench store`. The archive size for the
//! read benchmarks is `CASELOG_BENCH_CASES` (default 20,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use caselog_core::*;
use caselog_store::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn new_case(i: usize) -> NewCase {
    let categories = Category::ALL;
    NewCase::new(
        TenantId::parse(&format!("seller-{:04}", i % 500)).unwrap(),
        UserId::parse(&format!("user{}@example.com", i % 7)).unwrap(),
        Marketplace::parse(["US", "UK", "DE", "JP"][i % 4]).unwrap(),
        LanguageTag::parse("en").unwrap(),
        categories[i % categories.len()],
        format!("Case {i}: refund delayed for order {}", i * 7919 % 100_000),
        format!("Please help with case {i}. The refund for my order is delayed and the buyer is waiting."),
    )
    .with_time(Timestamp::from_millis(1_767_225_600_000 + i as i64 * 60_000).unwrap())
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Options::default()).unwrap()
}

fn message(i: usize) -> NewMessage {
    NewMessage::new(
        Actor::Support(UserId::parse("agent-1").unwrap()),
        format!("Update {i}: we are looking into it."),
    )
}

/// Appends `per_writer` messages from each of `writers` threads; returns
/// the elapsed time.
fn run_appends(store: &Arc<Store>, cases: &[CaseId], writers: usize, per_writer: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            let case = cases[w % cases.len()];
            std::thread::spawn(move || {
                for i in 0..per_writer {
                    store.reply(&Scope::AllTenants, &CaseRef::Id(case), message(i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let cases: Vec<CaseId> = (0..64).map(|i| store.create_case(new_case(i)).unwrap().id).collect();
    let mut g = c.benchmark_group("durable_append");
    g.sample_size(10);
    for writers in [1usize, 8, 64] {
        let per_writer = 640 / writers;
        g.throughput(Throughput::Elements((writers * per_writer) as u64));
        g.bench_with_input(BenchmarkId::new("writers", writers), &writers, |b, &writers| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run_appends(&store, &cases, writers, per_writer))
                    .sum()
            });
        });
    }
    g.finish();
}

fn reads(c: &mut Criterion) {
    let n: usize = std::env::var("CASELOG_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let archive: Vec<ImportCase> = (0..n)
        .map(|i| {
            let nc = new_case(i);
            let at = nc.at.unwrap();
            ImportCase {
                case: Case {
                    id: CaseId(0),
                    number: CaseNumber::generated(i as u64 + 1_000_000).unwrap(),
                    tenant: nc.tenant.clone(),
                    created_by: nc.created_by.clone(),
                    assignee: None,
                    handler: None,
                    marketplace: nc.marketplace.clone(),
                    language: nc.language.clone(),
                    category: nc.category,
                    title: nc.title.to_owned(),
                    refs: nc.refs.clone(),
                    state: {
                        let mut s = CaseState::new(at);
                        s.status = Status::ALL[i % 4];
                        s
                    },
                    complex: false,
                    tier: PerformanceTier::Standard,
                    links: CaseLinks::default(),
                    entries: 0,
                    imported: false,
                },
                thread: vec![ThreadEntry {
                    at,
                    actor: Actor::Seller(nc.created_by.clone()),
                    change: None,
                    body: nc.description.to_owned(),
                    attachments: vec![],
                }],
            }
        })
        .collect();
    store.import(archive).unwrap();
    let numbers: Vec<CaseRef> = (0..1000)
        .map(|i| CaseNumber::generated((i * 7919 % n) as u64 + 1_000_000).unwrap().into())
        .collect();
    let mut g = c.benchmark_group("reads");
    let mut k = 0;
    g.bench_function("number_lookup", |b| {
        b.iter(|| {
            k = (k + 1) % numbers.len();
            store.case(&Scope::AllTenants, &numbers[k]).unwrap().unwrap()
        })
    });
    let tenant = Scope::Tenant(TenantId::parse("seller-0042").unwrap());
    g.bench_function("view_page_tenant", |b| {
        b.iter(|| store.view(&tenant, &ViewQuery::new(ViewKind::All)).unwrap())
    });
    let mut open_only = ViewQuery::new(ViewKind::All);
    open_only.filter.statuses = vec![Status::Open];
    g.bench_function("view_page_tenant_status", |b| {
        b.iter(|| store.view(&tenant, &open_only).unwrap())
    });
    let q = QueueQuery {
        limit: 50,
        category: None,
        marketplace: None,
    };
    g.bench_function("queue_top_50", |b| {
        b.iter(|| store.queue(&Scope::AllTenants, &q).unwrap())
    });
    g.finish();
    store.shutdown().unwrap();
}

criterion_group!(benches, appends, reads);
criterion_main!(benches);
