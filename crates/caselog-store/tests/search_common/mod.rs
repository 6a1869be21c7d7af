//! Helpers shared by the search tests: building cases, and the brute-force
//! oracle the index is checked against.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use caselog_core::*;
use caselog_store::index::analysis::{analyze, query_plan, Analyzer};
use caselog_store::*;

/// How long a test waits for the index; generous, only hit on failure.
pub const WAIT: Duration = Duration::from_secs(60);

pub fn tenant(t: &str) -> TenantId {
    TenantId::parse(t).unwrap()
}

pub fn user(u: &str) -> UserId {
    UserId::parse(u).unwrap()
}

pub fn day(d: &str) -> Timestamp {
    Timestamp::parse_day(d).unwrap()
}

pub fn at(t: &str) -> Timestamp {
    Timestamp::parse_rfc3339(t).unwrap()
}

/// A new case with the defaults the tests do not care about.
pub fn new_case(tenant_id: &str, title: &str, body: &str) -> NewCase {
    NewCase::new(
        tenant(tenant_id),
        user("ops@example.com"),
        Marketplace::parse("US").unwrap(),
        LanguageTag::parse("en").unwrap(),
        Category::Other,
        title,
        body,
    )
}

pub fn open(dir: &Path) -> Store {
    Store::open(dir, Options::default()).unwrap()
}

/// Waits until everything written so far is searchable.
pub fn settle(store: &Store) {
    assert!(
        store.wait_indexed(store.last_change(), WAIT).unwrap(),
        "index did not catch up"
    );
}

/// Searches and returns the hit numbers in result order.
pub fn numbers(store: &Store, scope: &Scope, q: &str) -> Vec<String> {
    let opts = SearchOptions {
        per_page: 1000,
        snippets: false,
        ..SearchOptions::default()
    };
    store
        .search(scope, q, &opts)
        .unwrap_or_else(|e| panic!("search {q:?}: {e}"))
        .hits
        .into_iter()
        .map(|h| h.number.to_string())
        .collect()
}

/// The same, sorted, for set comparisons.
pub fn number_set(store: &Store, scope: &Scope, q: &str) -> Vec<String> {
    let mut n = numbers(store, scope, q);
    n.sort();
    n
}

/// Whether `text` contains `query` as the index's chars field matches it:
/// the chars analyzer's tokens of the query appear as consecutive tokens.
/// Written independently of the search code, from the analysis module's
/// public token sequences.
pub fn text_contains(text: &str, query: &str) -> bool {
    let plan: Vec<String> = query_plan(query).chars.into_iter().map(|t| t.text).collect();
    if plan.is_empty() {
        return false;
    }
    let tokens = analyze(Analyzer::Chars, text);
    tokens.windows(plan.len()).any(|w| {
        w.iter().zip(&plan).all(|(t, p)| &t.text == p) && w.windows(2).all(|p| p[1].position == p[0].position + 1)
    })
}

/// A case as the oracle sees it: its fields and its searchable texts.
#[derive(Debug, Clone)]
pub struct OracleCase {
    pub case: Case,
    pub texts: Vec<String>,
    /// Names of every attachment in the thread.
    pub attachments: Vec<String>,
}

impl OracleCase {
    pub fn load(store: &Store, case: Case) -> OracleCase {
        let thread = store.full_thread(&Scope::AllTenants, &CaseRef::Id(case.id)).unwrap();
        let mut texts = vec![case.title.clone()];
        let attachments = thread
            .iter()
            .flat_map(|e| e.attachments.iter().map(|a| a.name.clone()))
            .collect();
        texts.extend(thread.into_iter().map(|e| e.body).filter(|b| !b.is_empty()));
        OracleCase {
            case,
            texts,
            attachments,
        }
    }
}

impl Matchable for OracleCase {
    fn matches_word(&self, word: &str) -> bool {
        self.texts.iter().any(|t| text_contains(t, word))
    }
    fn matches_phrase(&self, phrase: &str) -> bool {
        self.matches_word(phrase)
    }
    fn number(&self) -> &CaseNumber {
        &self.case.number
    }
    fn orders(&self) -> &[OrderId] {
        &self.case.refs.orders
    }
    fn asins(&self) -> &[Asin] {
        &self.case.refs.asins
    }
    fn skus(&self) -> &[Sku] {
        &self.case.refs.skus
    }
    fn status(&self) -> Status {
        self.case.state.status
    }
    fn category(&self) -> Category {
        self.case.category
    }
    fn marketplace(&self) -> &Marketplace {
        &self.case.marketplace
    }
    fn created_by(&self) -> &UserId {
        &self.case.created_by
    }
    fn handler(&self) -> Option<&UserId> {
        self.case.handler.as_ref()
    }
    fn assignee(&self) -> Option<&UserId> {
        self.case.assignee.as_ref()
    }
    fn created_at(&self) -> Timestamp {
        self.case.state.created_at
    }
    fn updated_at(&self) -> Timestamp {
        self.case.state.updated_at
    }
    fn related_cases(&self) -> &[CaseNumber] {
        &self.case.refs.cases
    }
    fn attachment_names(&self) -> &[String] {
        &self.attachments
    }
}

/// The bare reference the store acts on: the parser's, or a single word
/// that is the number of some case in the archive (any tenant).
pub fn store_bare_reference(cases: &[OracleCase], parsed: &ParsedQuery) -> Option<BareReference> {
    if parsed.bare_reference.is_some() {
        return parsed.bare_reference.clone();
    }
    match &parsed.root {
        Query::Word(w) => cases
            .iter()
            .find(|c| c.case.number.as_str() == w)
            .map(|c| BareReference::CaseNumber(c.case.number.clone())),
        _ => None,
    }
}

/// The brute-force answer: numbers of the cases in `scope` the parsed query
/// matches (a bare reference also matches the case it names and, for a case
/// number, the cases that reference it), sorted.
pub fn oracle(cases: &[OracleCase], scope: &Scope, parsed: &ParsedQuery) -> Vec<String> {
    let bare = store_bare_reference(cases, parsed);
    let mut out: Vec<String> = cases
        .iter()
        .filter(|c| scope.allows(&c.case.tenant))
        .filter(|c| {
            parsed.root.matches(*c)
                || match &bare {
                    Some(BareReference::CaseNumber(n)) => &c.case.number == n || c.case.refs.cases.contains(n),
                    Some(BareReference::Order(o)) => c.case.refs.orders.contains(o),
                    Some(BareReference::Asin(a)) => c.case.refs.asins.contains(a),
                    None => false,
                }
        })
        .map(|c| c.case.number.to_string())
        .collect();
    out.sort();
    out
}
