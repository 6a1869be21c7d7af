//! The deterministic archive every system of `casebench` loads.
//!
//! Case `i` is a pure function of `i` (its own seeded generator), so any
//! process can regenerate any case: the ingest children produce the same
//! archive, and the append phase knows which cases are still open without
//! reading a store.

use caselog_core::{
    Actor, Asin, CaseNumber, CaseState, Category, LanguageTag, Marketplace, OrderId, PerformanceTier, References,
    Status, TenantId, Timestamp, UserId,
};
use caselog_store::{Case, CaseLinks, ImportCase, ThreadEntry};

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// A generator for case `i` (well mixed, never zero).
    pub fn for_case(i: u64) -> Rng {
        let mut r = Rng((i.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A Zipf-like rank in `0..n`: low ranks are much more frequent.
    pub fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (((n as f64).ln() * u).exp() as usize).saturating_sub(1).min(n - 1)
    }
}

/// Number of tenants (sellers); case `i` belongs to tenant `i % TENANTS`.
pub const TENANTS: u64 = 1_000;
const VOCABULARY: usize = 20_000;
/// 2025-01-01T00:00:00Z; cases are created over the following two years.
pub const DAY0: i64 = 1_735_689_600_000;
const DAY_MS: i64 = 86_400_000;

/// English sentences. Query words and phrases of the mix occur only inside
/// these, never at a message's edge, so no phrase can straddle two messages
/// (caselog leaves a position gap between messages; SQLite's concatenated
/// thread column would not).
const EN: &[&str] = &[
    "The refund for my order is delayed and the buyer is waiting.",
    "Our account was suspended without warning.",
    "Please reinstate the listing, it was suppressed by mistake.",
    "The inventory shipped to the warehouse was lost.",
    "Payments have been on hold for two weeks.",
    "We uploaded the invoice as requested.",
    "The buyer returned a damaged item.",
    "Can you explain why the brand registry application was rejected?",
    "Thank you for contacting seller support.",
    "We are reviewing your case and will reply soon.",
];

const ZH: &[&str] = &[
    "我的账户被停用了，请尽快处理。",
    "请尽快处理退款，买家一直在等待。",
    "仓库丢失了我们的库存。",
    "付款已经被暂停两周了。",
    "我们已经按要求上传了发票。",
    "商品页面被错误地下架了。",
    "感谢您联系卖家支持。",
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

/// The statuses cases are archived with (not `merged`, which needs a
/// surviving case).
pub const STATUSES: &[Status] = &[
    Status::Open,
    Status::InProgress,
    Status::NeedsAttention,
    Status::Resolved,
    Status::Closed,
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

/// The tenant id of case `i`.
pub fn tenant(i: u64) -> String {
    format!("seller-{:04}", i % TENANTS)
}

/// The case number of case `i`.
pub fn number(i: u64) -> CaseNumber {
    CaseNumber::generated(i).expect("benchmark scales stay far below the number space")
}

/// The status of case `i` (drawn first, so it is cheap to know).
pub fn status(i: u64) -> Status {
    STATUSES[Rng::for_case(i).below(STATUSES.len())]
}

fn message(rng: &mut Rng, chinese: bool) -> String {
    let mut body = String::new();
    for s in 0..1 + rng.below(2) {
        if s > 0 {
            body.push(' ');
        }
        if chinese {
            body.push_str(ZH[rng.below(ZH.len())]);
        } else {
            body.push_str(EN[rng.below(EN.len())]);
        }
        for _ in 0..rng.below(4) {
            body.push(' ');
            body.push_str(&pseudo_word(rng.zipf(VOCABULARY)));
        }
    }
    body
}

/// Case `i` with its thread, as an archive import would carry it.
pub fn case(i: u64) -> ImportCase {
    let mut rng = Rng::for_case(i);
    let status = STATUSES[rng.below(STATUSES.len())];
    let chinese = rng.below(4) == 0;
    let created_ms = DAY0 + rng.below(730 * 24) as i64 * 3_600_000 + rng.below(3_600) as i64 * 1_000;
    let created = Timestamp::from_millis(created_ms).expect("in range");
    let seller = UserId::parse(&format!("user{}@seller{:04}.example", i % 5, i % TENANTS)).expect("valid user");
    let agent = UserId::parse(&format!("agent-{}", rng.below(40))).expect("valid user");
    // One to nine messages: five on average.
    let messages = 1 + rng.below(9);
    let mut thread = Vec::with_capacity(messages);
    let mut at = created;
    for m in 0..messages {
        let actor = if m % 2 == 0 {
            Actor::Seller(seller.clone())
        } else {
            Actor::Support(agent.clone())
        };
        thread.push(ThreadEntry {
            at,
            actor,
            change: None,
            body: message(&mut rng, chinese),
            attachments: vec![],
        });
        at = Timestamp::from_millis(at.as_millis() + rng.below(48) as i64 * 3_600_000 + 60_000).expect("in range");
    }
    let mut state = CaseState::new(created);
    state.status = status;
    state.updated_at = at;
    let title = format!(
        "{} {}",
        TITLES[rng.below(TITLES.len())],
        pseudo_word(rng.zipf(VOCABULARY))
    );
    let case = Case {
        id: caselog_core::CaseId(0),
        number: number(i),
        tenant: TenantId::parse(&tenant(i)).expect("valid tenant"),
        created_by: seller,
        assignee: None,
        marketplace: Marketplace::parse(["US", "UK", "DE", "JP"][(i % 4) as usize]).expect("valid marketplace"),
        language: LanguageTag::parse(if chinese { "zh" } else { "en" }).expect("valid language"),
        category: Category::ALL[rng.below(Category::ALL.len())],
        title,
        refs: References {
            orders: vec![OrderId::parse(&format!(
                "{:03}-{:07}-{:07}",
                100 + i % 900,
                i % 10_000_000,
                (i * 7919) % 10_000_000
            ))
            .expect("valid order id")],
            asins: vec![Asin::parse(&format!("B0{:08}", i % 100_000_000)).expect("valid ASIN")],
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

/// Bytes of searchable text of a case (title and message bodies): the
/// payload the MB/s figures count.
pub fn payload_bytes(c: &ImportCase) -> u64 {
    (c.case.title.len() + c.thread.iter().map(|e| e.body.len()).sum::<usize>()) as u64
}

/// The body of the `k`-th live append of writer `w`.
pub fn append_body(w: usize, k: usize) -> String {
    format!("{} Update {k} from desk {w}.", EN[(w + k) % EN.len()])
}

/// The case the `k`-th live append of writer `w` goes to: a non-final case
/// (closed cases refuse replies).
pub fn append_target(w: usize, k: usize, cases: u64) -> u64 {
    let mut i = (w as u64 * 7_919 + k as u64 * 104_729) % cases;
    while status(i).is_final() {
        i = (i + 1) % cases;
    }
    i
}

/// Start of UTC day `d` after [`DAY0`], in ms.
pub fn day(d: i64) -> i64 {
    DAY0 + d * DAY_MS
}
