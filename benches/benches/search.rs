//! Search benchmarks on a generated archive of English and Chinese cases:
//! query latency (single word, two words, phrase, Chinese words, number
//! lookup, word + status + date range; seller-scoped and support-wide),
//! indexing throughput (a full rebuild), and the time from a write to its
//! being searchable while other writes keep coming.
//!
//! ```text
//! cargo bench -p caselog-bench --bench search
//! CASELOG_BENCH_CASES=1000000 CASELOG_BENCH_DIR=/var/tmp/caselog-1m cargo bench -p caselog-bench --bench search
//! ```
//!
//! - `CASELOG_BENCH_CASES`: archive size (default 20,000).
//! - `CASELOG_BENCH_DIR`: keep the store there and reuse it when it already
//!   holds that many cases (generating a million cases takes minutes).
//!
//! Before criterion's own statistics, a plain pass prints p50/p99 of every
//! query kind over varied query values, the rebuild throughput and the
//! write-to-searchable latencies.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caselog_core::*;
use caselog_store::*;
use criterion::Criterion;

/// A small deterministic generator (xorshift64*), so every run builds the
/// same archive without extra dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A Zipf-like rank in `0..n`: low ranks are much more frequent, as
    /// words are in real text.
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (((n as f64).ln() * u).exp() as usize).saturating_sub(1).min(n - 1)
    }
}

const TENANTS: usize = 500;
const VOCABULARY: usize = 5_000;

const EN: &[&str] = &[
    "The refund for my order is delayed and the buyer is waiting.",
    "Our account was suspended without warning.",
    "Please reinstate the listing, it was suppressed by mistake.",
    "The inventory shipped to the warehouse was lost.",
    "Payments have been on hold for two weeks.",
    "We uploaded the invoice as requested.",
    "The buyer returned a damaged item.",
    "Can you explain why the brand registry application was rejected?",
];

const ZH: &[&str] = &[
    "我的账户被停用了，请尽快处理。",
    "请尽快处理退款，买家一直在等待。",
    "仓库丢失了我们的库存。",
    "付款已经被暂停两周了。",
    "我们已经按要求上传了发票。",
    "商品页面被错误地下架了。",
];

const TITLES: &[&str] = &[
    "Refund delayed",
    "Account suspended",
    "Listing suppressed",
    "FBA inventory lost",
    "Payment on hold",
    "账户被停用",
    "退款延迟",
    "库存丢失",
];

fn pseudo_word(rank: usize) -> String {
    const SYL: &[&str] = &[
        "ka", "lo", "mi", "ten", "ra", "su", "vo", "pel", "dri", "nak", "zu", "qua",
    ];
    let mut n = rank + 1;
    let mut w = String::new();
    while n > 0 {
        w.push_str(SYL[n % SYL.len()]);
        n /= SYL.len();
    }
    w
}

fn order_id(i: usize) -> String {
    format!(
        "{:03}-{:07}-{:07}",
        100 + i % 900,
        i % 10_000_000,
        (i * 7919) % 10_000_000
    )
}

fn asin(i: usize) -> String {
    format!("B0{:08}", i % 100_000_000)
}

const DAY0: i64 = 1_735_689_600_000; // 2025-01-01

fn import_case(i: usize, rng: &mut Rng) -> ImportCase {
    let chinese = rng.below(3) == 0;
    let created = Timestamp::from_millis(DAY0 + rng.below(730 * 24) as i64 * 3_600_000).unwrap_or(Timestamp::EPOCH);
    let mut body = String::new();
    for _ in 0..2 + rng.below(4) {
        if chinese {
            body.push_str(ZH[rng.below(ZH.len())]);
        } else {
            body.push_str(EN[rng.below(EN.len())]);
            body.push(' ');
        }
        for _ in 0..rng.below(6) {
            body.push_str(&pseudo_word(rng.zipf(VOCABULARY)));
            body.push(' ');
        }
    }
    let status = Status::ALL[rng.below(Status::ALL.len())];
    let mut state = CaseState::new(created);
    state.status = status;
    state.updated_at = created.saturating_add(Span::hours(rng.below(24 * 30) as i64));
    let mut thread = vec![ThreadEntry {
        at: created,
        actor: Actor::Seller(UserId::parse("ops@example.com").unwrap()),
        change: None,
        body,
        attachments: vec![],
    }];
    for _ in 0..rng.below(3) {
        let reply = if chinese {
            ZH[rng.below(ZH.len())]
        } else {
            EN[rng.below(EN.len())]
        };
        thread.push(ThreadEntry {
            at: state.updated_at,
            actor: Actor::Support(UserId::parse("agent-1").unwrap()),
            change: None,
            body: format!("{reply} {}", pseudo_word(rng.zipf(VOCABULARY))),
            attachments: vec![],
        });
    }
    let case = Case {
        id: CaseId(0),
        number: CaseNumber::generated(i as u64).unwrap(),
        tenant: TenantId::parse(&format!("seller-{:04}", i % TENANTS)).unwrap(),
        created_by: UserId::parse(&format!("user{}@example.com", i % 7)).unwrap(),
        assignee: None,
        handler: None,
        marketplace: Marketplace::parse(["US", "UK", "DE", "JP"][i % 4]).unwrap(),
        language: LanguageTag::parse(if chinese { "zh" } else { "en" }).unwrap(),
        category: Category::ALL[rng.below(Category::ALL.len())],
        title: format!(
            "{} {}",
            TITLES[rng.below(TITLES.len())],
            pseudo_word(rng.zipf(VOCABULARY))
        ),
        refs: References {
            orders: vec![OrderId::parse(&order_id(i)).unwrap()],
            asins: vec![Asin::parse(&asin(i)).unwrap()],
            skus: vec![],
            cases: vec![],
        },
        state,
        complex: false,
        tier: PerformanceTier::Standard,
        links: CaseLinks::default(),
        entries: 0,
        imported: true,
    };
    ImportCase { case, thread }
}

struct Fixture {
    store: Store,
    cases: usize,
    _tmp: Option<tempfile::TempDir>,
}

fn fixture() -> Fixture {
    let cases: usize = std::env::var("CASELOG_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (dir, tmp): (PathBuf, _) = match std::env::var("CASELOG_BENCH_DIR") {
        Ok(d) => (PathBuf::from(d), None),
        Err(_) => {
            let t = tempfile::tempdir().unwrap();
            (t.path().to_owned(), Some(t))
        }
    };
    let started = Instant::now();
    let store = Store::open(&dir, Options::default()).unwrap();
    let have = store.stats().unwrap().cases as usize;
    if have < cases {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ have as u64);
        let t = Instant::now();
        store.import((have..cases).map(|i| import_case(i, &mut rng))).unwrap();
        let imported = t.elapsed();
        store
            .wait_indexed(store.last_change(), Duration::from_secs(36_000))
            .unwrap();
        println!(
            "archive: {} cases imported in {:.1} s, searchable {:.1} s after the import started",
            cases - have,
            imported.as_secs_f64(),
            t.elapsed().as_secs_f64()
        );
    } else {
        store
            .wait_indexed(store.last_change(), Duration::from_secs(36_000))
            .unwrap();
        println!(
            "archive: reusing {have} cases (opened in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    Fixture {
        store,
        cases,
        _tmp: tmp,
    }
}

/// The query kinds measured, each with varied values so caches do not
/// flatter them.
fn queries(kind: &str, i: usize, cases: usize) -> String {
    match kind {
        "single word" => ["refund", "suspended", "inventory", "payments", "invoice"][i % 5].to_owned(),
        "rare word" => pseudo_word(VOCABULARY / 2 + i % 1_000),
        "two words" => [
            "refund delayed",
            "account suspended",
            "listing mistake",
            "inventory lost",
        ][i % 4]
            .to_owned(),
        "phrase" => ["\"refund for my order\"", "\"account was suspended\"", "\"on hold\""][i % 3].to_owned(),
        "chinese words" => ["账户 停用", "退款", "处理 退款", "库存"][i % 4].to_owned(),
        // Cases of seller-0042 (case i belongs to seller i % TENANTS), so
        // both scopes find the case.
        "number lookup" => {
            let k = (i * 7919) % (cases / TENANTS).max(1);
            CaseNumber::generated((42 + TENANTS * k) as u64).unwrap().to_string()
        }
        "word+status+dates" => format!(
            "{} status:{} created:2025-{:02}-01..2025-{:02}-28",
            ["refund", "suspended", "inventory"][i % 3],
            Status::ALL[i % Status::ALL.len()],
            1 + i % 6,
            7 + i % 6
        ),
        _ => String::new(),
    }
}

const KINDS: &[&str] = &[
    "single word",
    "rare word",
    "two words",
    "phrase",
    "chinese words",
    "number lookup",
    "word+status+dates",
];

fn scopes() -> [(&'static str, Scope); 2] {
    [
        ("seller", Scope::Tenant(TenantId::parse("seller-0042").unwrap())),
        ("support", Scope::AllTenants),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report_latencies(f: &Fixture) {
    println!("\nquery latency, page of 20 with snippets ({} cases):", f.cases);
    println!(
        "{:<20} {:<8} {:>9} {:>9} {:>9} {:>10}",
        "query", "scope", "p50 ms", "p99 ms", "max ms", "hits"
    );
    let opts = SearchOptions::default();
    for kind in KINDS {
        for (name, scope) in scopes() {
            let mut times = Vec::new();
            let mut hits = 0u64;
            for i in 0..300 {
                let q = queries(kind, i, f.cases);
                let t = Instant::now();
                let r = f.store.search(&scope, &q, &opts).unwrap();
                times.push(t.elapsed());
                hits += r.total;
            }
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{:<20} {:<8} {:>9.2} {:>9.2} {:>9.2} {:>10}",
                kind,
                name,
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99)),
                ms(*times.last().unwrap()),
                hits / 300
            );
        }
    }
}

fn report_rebuild(f: &Fixture) {
    let t = Instant::now();
    let report = f.store.reindex(|_| {}).unwrap();
    let took = t.elapsed();
    println!(
        "\nrebuild: {} cases in {:.1} s = {:.0} cases/s",
        report.cases,
        took.as_secs_f64(),
        report.cases as f64 / took.as_secs_f64()
    );
}

/// Time from an acknowledged durable write to its being searchable, while a
/// background writer keeps creating cases.
fn report_write_to_searchable(f: &Fixture) {
    let stop = Arc::new(AtomicBool::new(false));
    let store = &f.store;
    std::thread::scope(|s| {
        let load = {
            let stop = stop.clone();
            s.spawn(move || {
                let mut rng = Rng(42);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let c = import_case(0, &mut rng).case;
                    let new = NewCase::new(
                        c.tenant,
                        c.created_by,
                        c.marketplace,
                        c.language,
                        c.category,
                        c.title,
                        format!("background load {n}"),
                    );
                    store.create_case(new).unwrap();
                    n += 1;
                }
                n
            })
        };
        let mut passive = Vec::new();
        let mut waited = Vec::new();
        let started = Instant::now();
        for i in 0..60 {
            let mut new = import_case(0, &mut Rng(7 + i)).case;
            new.title = format!("probe {i}");
            let make = |title: String| {
                NewCase::new(
                    new.tenant.clone(),
                    new.created_by.clone(),
                    new.marketplace.clone(),
                    new.language.clone(),
                    new.category,
                    title,
                    "write to searchable probe",
                )
            };
            // Passive: nobody waits, the indexer commits on its interval.
            let c = store.create_case(make(format!("probe {i}"))).unwrap();
            let t = Instant::now();
            while store.indexed_change() < c.change {
                std::thread::sleep(Duration::from_millis(1));
            }
            passive.push(t.elapsed());
            // Waited for: the indexer commits as soon as it is applied.
            let c = store.create_case(make(format!("probe waited {i}"))).unwrap();
            let t = Instant::now();
            assert!(store.wait_indexed(c.change, Duration::from_secs(60)).unwrap());
            waited.push(t.elapsed());
        }
        stop.store(true, Ordering::Relaxed);
        let background = load.join().unwrap();
        let rate = background as f64 / started.elapsed().as_secs_f64();
        for (name, mut times) in [("not waited for", passive), ("wait_indexed", waited)] {
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "write to searchable ({name}), under {rate:.0} durable creates/s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99)),
                ms(*times.last().unwrap())
            );
        }
    });
}

fn criterion_benches(c: &mut Criterion, f: &Fixture) {
    let mut group = c.benchmark_group("search");
    group.sample_size(30).measurement_time(Duration::from_secs(3));
    let opts = SearchOptions::default();
    for kind in KINDS {
        for (name, scope) in scopes() {
            let mut i = 0;
            group.bench_function(format!("{kind}/{name}"), |b| {
                b.iter(|| {
                    i += 1;
                    f.store.search(&scope, &queries(kind, i, f.cases), &opts).unwrap()
                })
            });
        }
    }
    group.finish();
}

fn main() {
    let f = fixture();
    report_latencies(&f);
    report_write_to_searchable(&f);
    if std::env::var_os("CASELOG_BENCH_SKIP_REBUILD").is_none() {
        report_rebuild(&f);
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &f);
    c.final_summary();
    f.store.shutdown().unwrap();
}
