//! The deterministic archive every system of `casebench` loads.
//!
//! Case `i` is a pure function of `i` (its own seeded generator), so any
//! process can regenerate any case: the ingest children produce the same
//! archive, and the append phase knows which cases are still open without
//! reading a store.
//!
//! Two archives ([`Archive`]):
//!
//! - **realistic** (the default): words drawn from a Zipf distribution
//!   (s = 1.05) over [`VOCABULARY`] distinct words, the most frequent ones
//!   real English words of support mail and the rest pronounceable
//!   synthetic words; about 30% of cases in Chinese, written from the 4,000
//!   most frequent words of jieba's dictionary (`benches/data/zh_words.txt`)
//!   under their own Zipf law; a handful of fixed phrases; order ids and
//!   ASINs quoted in some messages; tenant sizes Zipf over [`TENANTS`]
//!   tenants (the largest about 5% of the archive, the median a few dozen
//!   cases at 1M); message counts and lengths log-normal (long tails).
//! - **templates**: the earlier archive of ten English and seven Chinese
//!   sentences with a sprinkle of pseudo-words, kept for comparison.
//!
//! Every synthetic word ends in a vowel and one of `b g k m n p x z`, so no
//! stemmer rule (Porter's in SQLite, Porter2's in caselog) touches it and
//! the systems agree on hit counts.

use std::sync::OnceLock;

use caselog_core::{
    Actor, Asin, CaseNumber, CaseState, Category, LanguageTag, Marketplace, OrderId, PerformanceTier, References,
    Status, TenantId, Timestamp, UserId,
};
use caselog_store::{Case, CaseLinks, ImportCase, ThreadEntry};
use serde::{Deserialize, Serialize};

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

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether an event of probability `p` happens.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A Zipf-like rank in `0..n` (log-uniform; the template archive's).
    pub fn zipf(&mut self, n: usize) -> usize {
        let u = self.unit();
        (((n as f64).ln() * u).exp() as usize).saturating_sub(1).min(n - 1)
    }

    /// A log-normal draw `exp(N(mu, sigma))`.
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        // Box–Muller; 1 - unit() is in (0, 1], so the log is finite.
        let (u1, u2) = (1.0 - self.unit(), self.unit());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (mu + sigma * z).exp()
    }
}

/// Which archive to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Archive {
    /// Zipf vocabulary, Chinese from a real word list, Zipf tenants.
    #[default]
    Realistic,
    /// The earlier template sentences (for comparison with old runs).
    Templates,
}

/// Tenants (sellers) of the realistic archive.
pub const TENANTS: usize = 10_000;
/// Zipf exponent of tenant sizes: the largest gets about 5% of the cases.
const TENANT_S: f64 = 0.85;
/// Distinct words of the realistic vocabulary.
pub const VOCABULARY: usize = 200_000;
/// Zipf exponent of word frequencies.
const WORD_S: f64 = 1.05;
/// Share of Chinese cases in the realistic archive.
const CHINESE_SHARE: f64 = 0.30;
/// Tenants of the template archive; case `i` belongs to `i % TEMPLATE_TENANTS`.
const TEMPLATE_TENANTS: u64 = 1_000;
const TEMPLATE_VOCABULARY: usize = 20_000;
/// 2025-01-01T00:00:00Z; cases are created over the following two years.
pub const DAY0: i64 = 1_735_689_600_000;
const DAY_MS: i64 = 86_400_000;

/// Real English words of support mail, roughly most frequent first; they
/// take the top ranks of the Zipf vocabulary. Base forms only, so no two
/// stem alike.
const EN_WORDS: &[&str] = &[
    "the",
    "to",
    "and",
    "i",
    "my",
    "a",
    "is",
    "of",
    "for",
    "it",
    "we",
    "you",
    "in",
    "this",
    "on",
    "have",
    "your",
    "that",
    "not",
    "with",
    "be",
    "are",
    "was",
    "order",
    "please",
    "our",
    "can",
    "item",
    "account",
    "refund",
    "seller",
    "from",
    "as",
    "but",
    "been",
    "has",
    "at",
    "will",
    "all",
    "buyer",
    "they",
    "no",
    "if",
    "product",
    "listing",
    "an",
    "by",
    "or",
    "us",
    "case",
    "any",
    "would",
    "me",
    "there",
    "do",
    "help",
    "support",
    "since",
    "payment",
    "days",
    "shipment",
    "still",
    "inventory",
    "more",
    "time",
    "issue",
    "now",
    "again",
    "could",
    "what",
    "which",
    "also",
    "after",
    "when",
    "out",
    "them",
    "only",
    "before",
    "here",
    "need",
    "know",
    "week",
    "review",
    "team",
    "thank",
    "hello",
    "customer",
    "delivery",
    "package",
    "warehouse",
    "tracking",
    "number",
    "return",
    "amazon",
    "brand",
    "store",
    "invoice",
    "policy",
    "problem",
    "message",
    "email",
    "reply",
    "status",
    "update",
    "request",
    "information",
    "document",
    "address",
    "label",
    "stock",
    "price",
    "fee",
    "charge",
    "balance",
    "deposit",
    "bank",
    "card",
    "report",
    "error",
    "page",
    "link",
    "photo",
    "image",
    "title",
    "detail",
    "description",
    "category",
    "quantity",
    "unit",
    "box",
    "carrier",
    "courier",
    "pickup",
    "date",
    "month",
    "year",
    "today",
    "yesterday",
    "tomorrow",
    "morning",
    "evening",
    "hour",
    "minute",
    "reason",
    "answer",
    "question",
    "explanation",
    "decision",
    "appeal",
    "plan",
    "action",
    "notice",
    "warning",
    "violation",
    "complaint",
    "claim",
    "guarantee",
    "reimbursement",
    "compensation",
    "credit",
    "debit",
    "tax",
    "vat",
    "country",
    "market",
    "region",
    "city",
    "street",
    "phone",
    "contact",
    "agent",
    "manager",
    "supervisor",
    "department",
    "office",
    "service",
    "system",
    "tool",
    "dashboard",
    "setting",
    "option",
    "feature",
    "button",
    "screen",
    "browser",
    "app",
    "file",
    "spreadsheet",
    "template",
    "upload",
    "download",
    "shipping",
    "transit",
    "customs",
    "duty",
    "storage",
    "removal",
    "disposal",
    "damage",
    "defect",
    "quality",
    "size",
    "color",
    "weight",
    "dimension",
    "model",
    "version",
    "variation",
    "parent",
    "child",
    "bundle",
    "pack",
    "set",
    "promotion",
    "coupon",
    "deal",
    "discount",
    "advertising",
    "campaign",
    "budget",
    "keyword",
    "search",
    "rank",
    "sale",
    "revenue",
    "profit",
    "loss",
    "risk",
    "fraud",
    "identity",
    "verification",
    "password",
    "login",
    "security",
    "access",
    "permission",
    "user",
    "owner",
    "partner",
    "supplier",
    "manufacturer",
    "factory",
    "trademark",
    "patent",
    "copyright",
    "counterfeit",
    "authentic",
    "genuine",
    "original",
    "receipt",
    "statement",
    "certificate",
    "license",
    "approval",
    "rejection",
    "suspension",
    "reinstatement",
    "deactivation",
    "hold",
    "delay",
    "urgent",
    "asap",
    "soon",
    "long",
    "short",
    "late",
    "early",
    "wrong",
    "right",
    "correct",
    "missing",
    "lost",
    "broken",
    "empty",
    "full",
    "partial",
    "double",
    "same",
    "different",
    "new",
    "old",
    "first",
    "last",
    "next",
    "previous",
    "every",
    "each",
    "other",
    "another",
    "many",
    "much",
    "few",
    "several",
    "some",
    "most",
    "very",
    "really",
    "just",
    "already",
    "yet",
    "never",
    "always",
    "ever",
    "maybe",
    "why",
    "how",
    "where",
    "who",
    "whom",
    "whose",
    "because",
    "though",
    "although",
    "unless",
    "until",
    "while",
    "during",
    "without",
    "within",
    "between",
    "against",
    "about",
    "above",
    "below",
    "under",
    "over",
    "into",
    "onto",
    "upon",
    "through",
    "across",
    "along",
    "around",
    "behind",
    "beyond",
    "near",
    "far",
];

/// Fixed phrases, each put into a message with its probability; the
/// phrase queries of the mix look for them.
pub const PHRASES: &[(&str, f64)] = &[
    ("refund for my order", 0.012),
    ("account was suspended", 0.004),
    ("please reinstate the listing", 0.001),
    ("brand registry application", 0.000_15),
    ("inventory is still missing", 0.000_03),
];

/// Real Chinese support words that take the top ranks of the Chinese
/// vocabulary, before jieba's list.
const ZH_SUPPORT: &[&str] = &[
    "订单", "退款", "账户", "买家", "卖家", "商品", "库存", "发货", "物流", "仓库", "客服", "问题", "处理", "付款",
    "申请", "审核", "品牌", "发票", "页面", "停用", "暂停", "恢复", "丢失", "损坏", "退货", "包裹", "快递", "运费",
    "延迟", "投诉", "邮件", "回复", "信息", "资料", "证明", "上传", "下架", "违规", "政策", "费用",
];

/// The Chinese vocabulary: support words, then jieba's most frequent words.
pub fn zh_words() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut out: Vec<&'static str> = ZH_SUPPORT.to_vec();
        for line in include_str!("../data/zh_words.txt").lines() {
            let w = line.trim();
            if !w.is_empty() && !w.starts_with('#') && !out.contains(&w) {
                out.push(w);
            }
        }
        out
    })
}

/// The cumulative distribution of a Zipf law with exponent `s` over `n`
/// ranks.
fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|r| {
            acc += (r as f64).powf(-s);
            acc
        })
        .collect();
    for c in &mut cdf {
        *c /= acc;
    }
    cdf
}

fn draw(rng: &mut Rng, cdf: &[f64]) -> usize {
    let u = rng.unit();
    cdf.partition_point(|&c| c <= u).min(cdf.len() - 1)
}

fn word_cdf() -> &'static [f64] {
    static CDF: OnceLock<Vec<f64>> = OnceLock::new();
    CDF.get_or_init(|| zipf_cdf(VOCABULARY, WORD_S))
}

fn zh_cdf() -> &'static [f64] {
    static CDF: OnceLock<Vec<f64>> = OnceLock::new();
    CDF.get_or_init(|| zipf_cdf(zh_words().len(), WORD_S))
}

fn tenant_cdf() -> &'static [f64] {
    static CDF: OnceLock<Vec<f64>> = OnceLock::new();
    CDF.get_or_init(|| zipf_cdf(TENANTS, TENANT_S))
}

/// Expected share of the archive of the tenant of rank `r` (0 = largest).
pub fn tenant_share(r: usize) -> f64 {
    let cdf = tenant_cdf();
    cdf[r] - if r == 0 { 0.0 } else { cdf[r - 1] }
}

const ONSETS: &[u8] = b"bdfgklmnprstvz";
const VOWELS: &[u8] = b"aeiou";
/// Final consonants no English stemmer rule ends in.
const CODAS: &[u8] = b"bgkmnpxz";

/// The synthetic word number `n` (0-based): one to four CV syllables and a
/// final vowel + coda, shorter for smaller `n`. Distinct for distinct `n`.
pub fn synthetic_word(n: usize) -> String {
    let syllables = ONSETS.len() * VOWELS.len();
    let finals = ONSETS.len() * VOWELS.len() * CODAS.len();
    // Block sizes: final syllable alone, then 1, 2, 3 leading syllables.
    let mut rest = n;
    let mut lead = 0;
    let mut block = finals;
    while rest >= block && lead < 3 {
        rest -= block;
        lead += 1;
        block *= syllables;
    }
    let mut w = String::with_capacity(2 * lead + 3);
    let fin = rest % finals;
    rest /= finals;
    for _ in 0..lead {
        let s = rest % syllables;
        rest /= syllables;
        w.push(ONSETS[s / VOWELS.len()] as char);
        w.push(VOWELS[s % VOWELS.len()] as char);
    }
    w.push(ONSETS[fin / (VOWELS.len() * CODAS.len())] as char);
    w.push(VOWELS[(fin / CODAS.len()) % VOWELS.len()] as char);
    w.push(CODAS[fin % CODAS.len()] as char);
    w
}

/// The word of vocabulary rank `r`: English words first, then synthetic.
pub fn vocab_word(r: usize) -> std::borrow::Cow<'static, str> {
    match EN_WORDS.get(r) {
        Some(w) => std::borrow::Cow::Borrowed(*w),
        None => std::borrow::Cow::Owned(synthetic_word(r - EN_WORDS.len())),
    }
}

/// English sentences of the template archive.
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

/// The archive generated by this process (set once by `casebench` from its
/// settings before any case is made; the realistic one otherwise).
static ARCHIVE: OnceLock<Archive> = OnceLock::new();

/// Chooses the archive of this process; later calls are ignored.
pub fn set_archive(a: Archive) {
    let _ = ARCHIVE.set(a);
}

/// The archive of this process.
pub fn archive() -> Archive {
    *ARCHIVE.get_or_init(Archive::default)
}

/// The first draws of case `i`: status, language, tenant rank. Cheap, so
/// views and appends can know them without generating the text.
struct Head {
    status: Status,
    chinese: bool,
    tenant: usize,
    user: usize,
}

fn head(i: u64, rng: &mut Rng) -> Head {
    let status = STATUSES[rng.below(STATUSES.len())];
    match archive() {
        Archive::Templates => Head {
            status,
            chinese: rng.below(4) == 0,
            tenant: (i % TEMPLATE_TENANTS) as usize,
            user: (i % 5) as usize,
        },
        Archive::Realistic => Head {
            status,
            chinese: rng.chance(CHINESE_SHARE),
            tenant: draw(rng, tenant_cdf()),
            user: rng.below(5),
        },
    }
}

/// The tenant id of tenant rank `r` (0 is the largest).
pub fn tenant_name(r: usize) -> String {
    match archive() {
        Archive::Templates => format!("seller-{r:04}"),
        Archive::Realistic => format!("seller-{r:05}"),
    }
}

/// The tenant rank of case `i`.
pub fn tenant_rank(i: u64) -> usize {
    head(i, &mut Rng::for_case(i)).tenant
}

/// The tenant id of case `i`.
pub fn tenant(i: u64) -> String {
    tenant_name(tenant_rank(i))
}

/// The seller user who opens cases `n` (0..5) of tenant rank `r`.
pub fn seller_user(r: usize, n: usize) -> String {
    match archive() {
        Archive::Templates => format!("user{n}@seller{r:04}.example"),
        Archive::Realistic => format!("user{n}@seller{r:05}.example"),
    }
}

/// The case number of case `i`.
pub fn number(i: u64) -> CaseNumber {
    CaseNumber::generated(i).expect("benchmark scales stay far below the number space")
}

/// The status of case `i` (drawn first, so it is cheap to know).
pub fn status(i: u64) -> Status {
    STATUSES[Rng::for_case(i).below(STATUSES.len())]
}

/// The order id case `i` references.
pub fn order_id(i: u64) -> String {
    format!(
        "{:03}-{:07}-{:07}",
        100 + i % 900,
        i % 10_000_000,
        (i * 7919) % 10_000_000
    )
}

/// The ASIN case `i` references.
pub fn asin(i: u64) -> String {
    format!("B0{:08}", i % 100_000_000)
}

fn template_message(rng: &mut Rng, chinese: bool) -> String {
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
            body.push_str(&pseudo_word(rng.zipf(TEMPLATE_VOCABULARY)));
        }
    }
    body
}

/// Words in a message: log-normal, median 14, a long tail capped at 600.
fn message_words(rng: &mut Rng) -> usize {
    (rng.lognormal(14f64.ln(), 0.8) as usize).clamp(1, 600)
}

/// An English message. It opens with a greeting and closes with thanks, so
/// a query phrase (which never contains those words together) cannot
/// straddle two messages, whose texts SQLite concatenates.
fn english_message(rng: &mut Rng, i: u64) -> String {
    let n = message_words(rng);
    let mut body = String::with_capacity(n * 7 + 40);
    body.push_str("Hello,");
    let mut since_stop = 0;
    for _ in 0..n {
        body.push(' ');
        let w = vocab_word(draw(rng, word_cdf()));
        if since_stop == 0 {
            // Capitalised at a sentence start, as in real mail.
            let mut c = w.chars();
            if let Some(f) = c.next() {
                body.extend(f.to_uppercase());
                body.push_str(c.as_str());
            }
        } else {
            body.push_str(&w);
        }
        since_stop += 1;
        if since_stop > 4 && rng.chance(0.12) {
            body.push(if rng.chance(0.2) { ',' } else { '.' });
            since_stop = 0;
        }
    }
    for &(phrase, p) in PHRASES {
        if rng.chance(p) {
            body.push_str(" and the ");
            body.push_str(phrase);
        }
    }
    if rng.chance(0.08) {
        body.push_str(" Order ");
        body.push_str(&order_id(i));
    }
    if rng.chance(0.08) {
        body.push_str(" ASIN ");
        body.push_str(&asin(i));
    }
    body.push_str(". Thanks.");
    body
}

/// A Chinese message, opening with 您好 and closing with 谢谢 for the same
/// reason as [`english_message`] (query words contain neither 您 nor 谢).
fn chinese_message(rng: &mut Rng, i: u64) -> String {
    let words = zh_words();
    let n = message_words(rng);
    let mut body = String::with_capacity(n * 7 + 40);
    body.push_str("您好，");
    for k in 0..n {
        body.push_str(words[draw(rng, zh_cdf())]);
        if k + 1 < n && rng.chance(0.12) {
            body.push(if rng.chance(0.6) { '，' } else { '。' });
        }
    }
    if rng.chance(0.08) {
        body.push_str("。订单号 ");
        body.push_str(&order_id(i));
    }
    if rng.chance(0.08) {
        body.push_str("。ASIN ");
        body.push_str(&asin(i));
    }
    body.push_str("。谢谢！");
    body
}

fn realistic_title(rng: &mut Rng, chinese: bool) -> String {
    let n = 2 + rng.below(5);
    if chinese {
        (0..n).map(|_| zh_words()[draw(rng, zh_cdf())]).collect()
    } else {
        let mut words: Vec<String> = (0..n).map(|_| vocab_word(draw(rng, word_cdf())).into_owned()).collect();
        if let Some(first) = words.first_mut() {
            let mut c = first.chars();
            if let Some(f) = c.next() {
                *first = f.to_uppercase().chain(c).collect();
            }
        }
        words.join(" ")
    }
}

/// Case `i` with its thread, as an archive import would carry it.
pub fn case(i: u64) -> ImportCase {
    let mut rng = Rng::for_case(i);
    let h = head(i, &mut rng);
    let realistic = archive() == Archive::Realistic;
    let created_ms = DAY0 + rng.below(730 * 24) as i64 * 3_600_000 + rng.below(3_600) as i64 * 1_000;
    let created = Timestamp::from_millis(created_ms).expect("in range");
    let seller = UserId::parse(&seller_user(h.tenant, h.user)).expect("valid user");
    let agent = UserId::parse(&format!("agent-{}", rng.below(40))).expect("valid user");
    let messages = if realistic {
        // Log-normal: median 3, mean about 4.4, a few threads of dozens.
        (rng.lognormal(3f64.ln(), 0.75) as usize).clamp(1, 120)
    } else {
        1 + rng.below(9)
    };
    let mut thread = Vec::with_capacity(messages);
    let mut at = created;
    for m in 0..messages {
        let actor = if m % 2 == 0 {
            Actor::Seller(seller.clone())
        } else {
            Actor::Support(agent.clone())
        };
        let body = match (realistic, h.chinese) {
            (false, zh) => template_message(&mut rng, zh),
            (true, false) => english_message(&mut rng, i),
            (true, true) => chinese_message(&mut rng, i),
        };
        thread.push(ThreadEntry {
            at,
            actor,
            change: None,
            body,
            attachments: vec![],
        });
        at = Timestamp::from_millis(at.as_millis() + rng.below(48) as i64 * 3_600_000 + 60_000).expect("in range");
    }
    let mut state = CaseState::new(created);
    state.status = h.status;
    state.updated_at = at;
    let title = if realistic {
        realistic_title(&mut rng, h.chinese)
    } else {
        format!(
            "{} {}",
            TITLES[rng.below(TITLES.len())],
            pseudo_word(rng.zipf(TEMPLATE_VOCABULARY))
        )
    };
    let case = Case {
        id: caselog_core::CaseId(0),
        number: number(i),
        tenant: TenantId::parse(&tenant_name(h.tenant)).expect("valid tenant"),
        created_by: seller,
        assignee: None,
        handler: None,
        marketplace: Marketplace::parse(["US", "UK", "DE", "JP"][(i % 4) as usize]).expect("valid marketplace"),
        language: LanguageTag::parse(if h.chinese { "zh" } else { "en" }).expect("valid language"),
        category: Category::ALL[rng.below(Category::ALL.len())],
        title,
        refs: References {
            orders: vec![OrderId::parse(&order_id(i)).expect("valid order id")],
            asins: vec![Asin::parse(&asin(i)).expect("valid ASIN")],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_words_are_distinct_and_end_safely() {
        let mut seen = std::collections::HashSet::new();
        for n in (0..VOCABULARY).chain([5_000_000]) {
            let w = synthetic_word(n);
            assert!(seen.insert(w.clone()), "{n}: {w} repeated");
            let b = w.as_bytes();
            assert!(
                CODAS.contains(&b[b.len() - 1]) && VOWELS.contains(&b[b.len() - 2]),
                "{w}"
            );
        }
    }

    #[test]
    fn zipf_draws_follow_the_law() {
        let cdf = zipf_cdf(1_000, 1.05);
        let mut rng = Rng::for_case(7);
        let mut top = 0;
        for _ in 0..100_000 {
            top += usize::from(draw(&mut rng, &cdf) == 0);
        }
        let expected = cdf[0] * 100_000.0;
        assert!((top as f64 - expected).abs() < expected * 0.1, "{top} vs {expected}");
    }
}
