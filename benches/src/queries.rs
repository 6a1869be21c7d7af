//! The query mix, in a form each system renders into its own query language
//! with the same meaning, and how it is chosen.
//!
//! For the realistic archive the words are picked from document
//! frequencies measured on a sample of the generated archive ([`measure`]),
//! so each stratum really matches the share of cases it is named for:
//! common words 5–30% of cases, middle words 0.05–2%, rare words and
//! identifiers under 0.01%. The report shows every variant's real hit
//! counts next to it. Every query runs in three scopes: the largest tenant,
//! a small tenant (a few dozen cases) and all tenants.

use std::collections::{HashMap, HashSet};

use caselog_core::Status;
use serde::{Deserialize, Serialize};

use crate::gen::{self, Archive};

/// One query of the mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchQuery {
    /// Which kind of the mix it is.
    pub kind: String,
    /// Required terms; a term with a space is a phrase.
    pub terms: Vec<String>,
    /// At least one of these terms (OR), when not empty.
    pub any: Vec<String>,
    /// None of these terms.
    pub not: Vec<String>,
    /// Required status.
    pub status: Option<Status>,
    /// Required creation range `[from, to)` in ms.
    pub created: Option<(i64, i64)>,
}

fn quoted(t: &str) -> String {
    if t.contains(' ') || t.contains('-') {
        format!("\"{t}\"")
    } else {
        t.to_owned()
    }
}

fn fts_phrase(t: &str) -> String {
    format!("\"{}\"", crate::sqlite::fts_text(t).trim().replace('"', ""))
}

impl BenchQuery {
    fn new(kind: &str, terms: &[&str]) -> BenchQuery {
        BenchQuery {
            kind: kind.into(),
            terms: terms.iter().map(|t| (*t).to_owned()).collect(),
            any: Vec::new(),
            not: Vec::new(),
            status: None,
            created: None,
        }
    }

    /// Whether the query has a filter outside the text (status, dates).
    pub fn has_field_filter(&self) -> bool {
        self.status.is_some() || self.created.is_some()
    }

    /// caselog's query language.
    pub fn caselog_text(&self) -> String {
        let mut parts: Vec<String> = self.terms.iter().map(|t| quoted(t)).collect();
        if !self.any.is_empty() {
            parts.push(self.any.iter().map(|t| quoted(t)).collect::<Vec<_>>().join(" OR "));
        }
        for t in &self.not {
            parts.push(format!("-{}", quoted(t)));
        }
        if let Some(s) = self.status {
            parts.push(format!("status:{s}"));
        }
        if let Some((from, to)) = self.created {
            // Days are inclusive in the query language; `to` is exclusive.
            let d = |ms: i64| {
                caselog_core::Timestamp::from_millis(ms)
                    .expect("in range")
                    .to_rfc3339()
                    .chars()
                    .take(10)
                    .collect::<String>()
            };
            parts.push(format!("created:{}..{}", d(from), d(to - 1)));
        }
        parts.join(" ")
    }

    /// FTS5 MATCH text of the text part: each term a quoted string (a
    /// phrase), Chinese characters spaced as in the indexed text (see
    /// `sqlite::fts_text`).
    pub fn fts5_match(&self) -> String {
        let mut parts: Vec<String> = self.terms.iter().map(|t| fts_phrase(t)).collect();
        if !self.any.is_empty() {
            parts.push(format!(
                "({})",
                self.any.iter().map(|t| fts_phrase(t)).collect::<Vec<_>>().join(" OR ")
            ));
        }
        let mut m = format!("({})", parts.join(" AND "));
        for t in &self.not {
            m.push_str(" NOT ");
            m.push_str(&fts_phrase(t));
        }
        m
    }
}

/// A scope every query and view runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeSpec {
    /// Name in reports: `largest tenant`, `small tenant`, `all tenants`.
    pub name: String,
    /// The tenant, or none for all tenants.
    pub tenant: Option<String>,
    /// Its tenant rank (for SQLite's rowid ranges).
    pub rank: Option<usize>,
    /// Cases in scope.
    pub cases: u64,
    /// The user of the *Mine* view.
    pub mine_user: String,
    /// The page of the deep-page view (about half-way, within caselog's
    /// view window).
    pub deep_page: u32,
}

/// Names of the scopes the goals call tenant-scoped.
pub fn is_tenant_scope(name: &str) -> bool {
    name != "all tenants"
}

/// The views timed (caselog and SQLite only: the floor has none).
pub const VIEWS: &[&str] = &[
    "view: all, page 1",
    "view: all, deep page",
    "view: mine",
    "view: needs attention",
];

/// Search kinds of the realistic mix, in report order.
pub const KINDS: &[&str] = &[
    "common word",
    "middle word",
    "rare word",
    "identifier",
    "two words",
    "phrase",
    "chinese word",
    "rare chinese word",
    "field filter",
    "or",
    "exclusion",
];

/// Search kinds of the template mix.
pub const TEMPLATE_KINDS: &[&str] = &[
    "single word",
    "two words",
    "phrase",
    "chinese words",
    "word+status+dates",
];

/// The kinds of a mix, in order of first appearance.
pub fn kinds(mix: &[BenchQuery]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for q in mix {
        if !out.contains(&q.kind) {
            out.push(q.kind.clone());
        }
    }
    out
}

/// What the mix is chosen from: document frequencies on a sample.
#[derive(Debug, Default)]
pub struct ArchiveStats {
    /// Cases sampled.
    pub sampled: u64,
    /// English tokens (lowercased) → cases of the sample containing them.
    pub words: HashMap<String, u32>,
    /// Chinese words of the vocabulary → cases containing them as a substring.
    pub zh: HashMap<&'static str, u32>,
    /// Four-character Chinese strings → cases containing them (the
    /// vocabulary's words are too common to be rare: its tail still
    /// matches ~0.04% of cases).
    pub zh4: HashMap<String, u32>,
    /// (ASIN, order id) quoted in the text of sampled cases, with the case.
    pub identifiers: Vec<(u64, String, String)>,
    /// Exact cases per tenant rank (all cases, not a sample).
    pub tenant_cases: Vec<u64>,
}

/// Cases sampled for document frequencies.
const SAMPLE: u64 = 40_000;

/// Measures the archive of `cases` cases: document frequencies on an even
/// sample of at most [`SAMPLE`] cases, exact tenant sizes on all of them.
pub fn measure(cases: u64) -> ArchiveStats {
    let mut tenant_cases = vec![0u64; gen::TENANTS];
    for i in 0..cases {
        if let Some(c) = tenant_cases.get_mut(gen::tenant_rank(i)) {
            *c += 1;
        }
    }
    let stride = cases.div_ceil(SAMPLE).max(1);
    let zh_vocab: HashSet<&'static str> = gen::zh_words().iter().copied().collect();
    let mut stats = ArchiveStats {
        tenant_cases,
        ..ArchiveStats::default()
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut seen_zh: HashSet<&'static str> = HashSet::new();
    let mut seen_zh4: HashSet<String> = HashSet::new();
    for i in (0..cases).step_by(stride as usize) {
        let c = gen::case(i);
        stats.sampled += 1;
        seen.clear();
        seen_zh.clear();
        seen_zh4.clear();
        let texts = std::iter::once(c.case.title.as_str()).chain(c.thread.iter().map(|e| e.body.as_str()));
        let mut quotes_id = false;
        for text in texts {
            for w in text
                .split(|ch: char| !ch.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
            {
                seen.insert(w.to_ascii_lowercase());
            }
            if c.case.language.as_str() == "zh" {
                // Chinese words are found as substrings of the run of
                // characters, punctuation ignored (as caselog and SQLite do).
                let chars: Vec<char> = text
                    .chars()
                    .filter(|ch| !ch.is_ascii() && ch.is_alphanumeric())
                    .collect();
                for len in 2..=4 {
                    for win in chars.windows(len) {
                        let s: String = win.iter().collect();
                        if let Some(w) = zh_vocab.get(s.as_str()) {
                            seen_zh.insert(*w);
                        }
                        if len == 4 {
                            seen_zh4.insert(s);
                        }
                    }
                }
            }
            quotes_id |= text.contains(&gen::asin(i)) && text.contains(&gen::order_id(i));
        }
        for w in seen.drain() {
            *stats.words.entry(w).or_default() += 1;
        }
        for w in seen_zh.drain() {
            *stats.zh.entry(w).or_default() += 1;
        }
        for w in seen_zh4.drain() {
            *stats.zh4.entry(w).or_default() += 1;
        }
        if quotes_id && stats.identifiers.len() < 64 {
            stats.identifiers.push((i, gen::asin(i), gen::order_id(i)));
        }
    }
    stats
}

/// Picks `n` candidates whose share lies in `[lo, hi]`, one nearest to each
/// of `n` targets spaced evenly in log share over the range (so a stratum
/// is covered from end to end); if too few qualify, the closest ones
/// outside it.
fn pick<T: Clone + Ord>(cands: &[(T, u32)], sampled: u64, lo: f64, hi: f64, n: usize, skip: &[T]) -> Vec<T> {
    let share = |df: u32| df as f64 / sampled.max(1) as f64;
    let lo_eff = lo.max(1.0 / sampled.max(1) as f64).min(hi);
    let dist = |df: u32, target: f64| (share(df).max(1e-12) / target).ln().abs();
    let mut out: Vec<T> = Vec::new();
    for k in 0..n {
        let t = if n == 1 { 0.0 } else { k as f64 / (n - 1) as f64 };
        let target = lo_eff * (hi / lo_eff).powf(t);
        let best = cands
            .iter()
            .filter(|(w, df)| (lo..=hi).contains(&share(*df)) && !skip.contains(w) && !out.contains(w))
            .min_by(|a, b| {
                dist(a.1, target)
                    .total_cmp(&dist(b.1, target))
                    .then_with(|| a.0.cmp(&b.0))
            });
        if let Some((w, _)) = best {
            out.push(w.clone());
        }
    }
    if out.len() < n {
        // Closest to the range, by distance in log share.
        let mid = (lo_eff * hi).sqrt();
        let mut rest: Vec<&(T, u32)> = cands
            .iter()
            .filter(|(w, _)| !skip.contains(w) && !out.contains(w))
            .collect();
        rest.sort_by(|a, b| dist(a.1, mid).total_cmp(&dist(b.1, mid)).then_with(|| a.0.cmp(&b.0)));
        out.extend(rest.into_iter().take(n - out.len()).map(|(w, _)| w.clone()));
    }
    out
}

/// The realistic mix, chosen from `stats`.
pub fn realistic_mix(stats: &ArchiveStats) -> Vec<BenchQuery> {
    let s = stats.sampled;
    // Query words: alphabetic, not the fixed greeting, sign-off or phrase
    // words (their counts are not the Zipf law's).
    let fixed: HashSet<&str> = gen::PHRASES
        .iter()
        .flat_map(|(p, _)| p.split(' '))
        .chain(["hello", "thanks", "order", "asin"])
        .collect();
    let words: Vec<(String, u32)> = stats
        .words
        .iter()
        .filter(|(w, _)| w.len() >= 3 && w.chars().all(|c| c.is_ascii_lowercase()) && !fixed.contains(w.as_str()))
        .map(|(w, &df)| (w.clone(), df))
        .collect();
    let zh: Vec<(String, u32)> = stats
        .zh
        .iter()
        .filter(|(w, _)| !w.contains('您') && !w.contains('谢'))
        .map(|(w, &df)| ((*w).to_owned(), df))
        .collect();
    let common = pick(&words, s, 0.05, 0.30, 5, &[]);
    let middle = pick(&words, s, 0.0005, 0.02, 5, &[]);
    let rare_hi = 0.0001f64.max(1.5 / s.max(1) as f64);
    let rare = pick(&words, s, 0.0, rare_hi, 5, &[]);
    let zh_common = pick(&zh, s, 0.01, 0.30, 3, &[]);
    let zh_middle = pick(&zh, s, 0.0005, 0.01, 2, &zh_common);
    let zh4: Vec<(String, u32)> = stats
        .zh4
        .iter()
        .filter(|(w, _)| !w.contains('您') && !w.contains('谢'))
        .map(|(w, &df)| (w.clone(), df))
        .collect();
    let zh_rare = pick(&zh4, s, 0.0, rare_hi, 3, &[]);
    let mut out = Vec::new();
    let mut push = |kind: &str, terms: &[&str]| out.push(BenchQuery::new(kind, terms));
    for w in &common {
        push("common word", &[w.as_str()]);
    }
    for w in &middle {
        push("middle word", &[w.as_str()]);
    }
    for w in &rare {
        push("rare word", &[w.as_str()]);
    }
    // A word no case has (letters the generator's vocabulary never puts
    // together): the fixed cost of a search, next to the floor's.
    push("no hit", &["qzxwvjkq"]);
    for (k, (_, a, o)) in stats.identifiers.iter().take(4).enumerate() {
        push("identifier", &[if k % 2 == 0 { a.as_str() } else { o.as_str() }]);
    }
    for k in 0..4 {
        if let (Some(a), Some(b)) = (common.get(k), middle.get(k)) {
            push("two words", &[a.as_str(), b.as_str()]);
        }
    }
    for (p, _) in gen::PHRASES {
        push("phrase", &[p]);
    }
    for w in zh_common.iter().chain(&zh_middle) {
        push("chinese word", &[w.as_str()]);
    }
    for w in &zh_rare {
        push("rare chinese word", &[w.as_str()]);
    }
    for (k, w) in common.iter().take(3).enumerate() {
        let mut q = BenchQuery::new("field filter", &[w]);
        q.status = Some(gen::STATUSES[k % gen::STATUSES.len()]);
        let from = (k as i64 * 61) % 600;
        q.created = Some((gen::day(from), gen::day(from + 120)));
        out.push(q);
    }
    for k in 0..3 {
        if let (Some(a), Some(b)) = (middle.get(k), middle.get(k + 1)) {
            let mut q = BenchQuery::new("or", &[]);
            q.any = vec![a.clone(), b.clone()];
            out.push(q);
        }
    }
    for k in 0..3 {
        if let (Some(a), Some(b)) = (common.get(k), common.get(k + 2)) {
            let mut q = BenchQuery::new("exclusion", &[a]);
            q.not = vec![b.clone()];
            out.push(q);
        }
    }
    out
}

/// The template archive's fixed mix (the earlier benchmark's).
pub fn template_mix() -> Vec<BenchQuery> {
    let mut out = Vec::new();
    for w in ["refund", "inventory", "suspended", "invoice", "warehouse"] {
        out.push(BenchQuery::new("single word", &[w]));
    }
    for w in [
        ["refund", "delayed"],
        ["account", "suspended"],
        ["inventory", "lost"],
        ["payments", "hold"],
    ] {
        out.push(BenchQuery::new("two words", &w));
    }
    for p in ["refund for my order", "account was suspended", "on hold"] {
        out.push(BenchQuery::new("phrase", &[p]));
    }
    for w in [&["账户", "停用"][..], &["退款"], &["库存", "丢失"]] {
        out.push(BenchQuery::new("chinese words", w));
    }
    for (k, w) in ["refund", "suspended", "inventory"].into_iter().enumerate() {
        let mut q = BenchQuery::new("word+status+dates", &[w]);
        q.status = Some(gen::STATUSES[k % gen::STATUSES.len()]);
        let from = (k as i64 * 61) % 600;
        q.created = Some((gen::day(from), gen::day(from + 120)));
        out.push(q);
    }
    out
}

/// The three scopes: the largest tenant, the tenant whose size is closest
/// to 40 cases, all tenants.
pub fn scopes(archive: Archive, cases: u64, tenant_cases: &[u64]) -> Vec<ScopeSpec> {
    let deep = |n: u64| (n / 20 / 2).clamp(1, crate::MAX_DEEP_PAGE) as u32;
    let tenant_scope = |name: &str, r: usize| {
        let n = tenant_cases.get(r).copied().unwrap_or(0);
        ScopeSpec {
            name: name.into(),
            tenant: Some(gen::tenant_name(r)),
            rank: Some(r),
            cases: n,
            mine_user: gen::seller_user(r, 0),
            deep_page: deep(n),
        }
    };
    let (largest, small) = match archive {
        Archive::Templates => (42, 7),
        Archive::Realistic => {
            let largest = (0..tenant_cases.len())
                .max_by_key(|&r| (tenant_cases[r], usize::MAX - r))
                .unwrap_or(0);
            let small = (0..tenant_cases.len())
                .filter(|&r| tenant_cases[r] > 0 && r != largest)
                .min_by_key(|&r| (tenant_cases[r].abs_diff(40), r))
                .unwrap_or(largest);
            (largest, small)
        }
    };
    vec![
        tenant_scope("largest tenant", largest),
        tenant_scope("small tenant", small),
        ScopeSpec {
            name: "all tenants".into(),
            tenant: None,
            rank: None,
            cases,
            mine_user: gen::seller_user(largest, 0),
            deep_page: deep(cases),
        },
    ]
}

/// Case indices whose numbers the lookup loop cycles through.
pub fn lookups(cases: u64, n: usize) -> Vec<u64> {
    (0..n as u64).map(|k| (k * 7_919 + 13) % cases).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_spreads_over_the_range_and_falls_back_to_the_closest() {
        let cands: Vec<(u32, u32)> = (1..=100).map(|w| (w, w)).collect();
        // Shares w/100: 0.10..=0.30 holds 10..=30; targets 0.10, 0.173, 0.30.
        let got = pick(&cands, 100, 0.10, 0.30, 3, &[]);
        assert_eq!(got, vec![10, 17, 30]);
        // Nothing above 1.0: the closest ones are taken.
        let got = pick(&cands, 100, 2.0, 3.0, 2, &[]);
        assert_eq!(got, vec![100, 99]);
    }

    #[test]
    fn texts_render_every_part() {
        let mut q = BenchQuery::new("x", &["refund", "on hold"]);
        q.any = vec!["a".into(), "b".into()];
        q.not = vec!["c".into()];
        assert_eq!(q.caselog_text(), "refund \"on hold\" a OR b -c");
        assert_eq!(
            q.fts5_match(),
            "(\"refund\" AND \"on hold\" AND (\"a\" OR \"b\")) NOT \"c\""
        );
    }
}
