//! The fixed query mix, in a form each system renders into its own query
//! language with the same meaning: every word (or phrase) must occur in the
//! case's title or thread, optionally with a status and a creation range.

use caselog_core::Status;
use serde::{Deserialize, Serialize};

use crate::gen;

/// One query of the mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchQuery {
    /// Which kind of the mix it is.
    pub kind: String,
    /// Required terms; a term with a space is a phrase.
    pub terms: Vec<String>,
    /// Required status.
    pub status: Option<Status>,
    /// Required creation range `[from, to)` in ms.
    pub created: Option<(i64, i64)>,
}

impl BenchQuery {
    fn new(kind: &str, terms: &[&str]) -> BenchQuery {
        BenchQuery {
            kind: kind.into(),
            terms: terms.iter().map(|t| (*t).to_owned()).collect(),
            status: None,
            created: None,
        }
    }

    /// caselog's query language.
    pub fn caselog_text(&self) -> String {
        let mut parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| if t.contains(' ') { format!("\"{t}\"") } else { t.clone() })
            .collect();
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

    /// FTS5 MATCH text: each term a quoted string (a phrase), Chinese
    /// characters spaced as in the indexed text (see `sqlite::fts_text`).
    pub fn fts5_match(&self) -> String {
        self.terms
            .iter()
            .map(|t| format!("\"{}\"", crate::sqlite::fts_text(t).trim()))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// Query kinds in report order (number lookup is timed apart).
pub const KINDS: &[&str] = &[
    "single word",
    "two words",
    "phrase",
    "chinese words",
    "word+status+dates",
];

/// Every query variant of the mix; a timing loop cycles through them.
pub fn mix() -> Vec<BenchQuery> {
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

/// Tenants the tenant-scoped runs cycle through.
pub fn tenants() -> Vec<String> {
    [42u64, 7, 311, 999].iter().map(|&t| gen::tenant(t)).collect()
}

/// Case indices whose numbers the lookup loop cycles through.
pub fn lookups(cases: u64, n: usize) -> Vec<u64> {
    (0..n as u64).map(|k| (k * 7_919 + 13) % cases).collect()
}
