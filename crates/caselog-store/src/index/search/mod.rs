//! Search: the query language mapped onto the index, scoped, paged, sorted,
//! counted and highlighted.
//!
//! The query text is parsed by the core parser ([`caselog_core::parse`]);
//! its tree is mapped onto tantivy queries here (tantivy's own query parser
//! is never used, so no syntax but ours reaches the index). The tenant is
//! added afterwards, in code, as a required clause built from the caller's
//! [`Scope`]: the query language has no way to name it.
//!
//! Matching rules (the property tests check them against a brute-force
//! filter): a word or phrase matches a case whose title or one of whose
//! messages contains it, as the chars analyzer sees text (ignoring case,
//! width, accents, English inflection, white space and punctuation; Chinese
//! by substring). A word or phrase with nothing searchable in it (only
//! punctuation or symbols) is ignored, as if it had not been typed. A case
//! number, order id or ASIN typed alone also finds the case it names, ranked
//! first.

use std::collections::BTreeMap;

use std::ops::Range;

use caselog_core::{
    parse, BareReference, CaseId, CaseNumber, Category, Query, QueryLimits, Status, TenantId, Timestamp,
};
use redb::ReadTransaction;

use tantivy::columnar::Column;

use super::stale::Generation;
use tantivy::collector::Collector;
use tantivy::query::{AllQuery, BooleanQuery, ConstScoreQuery, Occur, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Score, Term};

use crate::error::{ix, Result, StoreError};
use crate::index::analysis::CharsAnalysis;
use crate::model::Scope;
use crate::paging::{Binding, Cursor, SortKey};
use crate::records::{self, category_from_byte, status_from_byte};
use crate::store::Store;
use crate::tables;

mod collect;
mod highlight;
mod plan;
mod ranked;
mod walk;

pub(crate) use collect::ColumnCache;
use collect::*;
use highlight::*;
use plan::*;
pub use walk::SearchWalk;
/// Extra weight of a word found in the title, over the same word in a message.
const TITLE_BOOST: Score = 1.5;

/// Score given to the case a bare case number, order id or ASIN names, far
/// above what text matching scores, so that case comes first.
const BARE_REFERENCE_SCORE: Score = 10_000.0;

/// Characters of message text a snippet shows.
const SNIPPET_CHARS: usize = 200;

/// Characters of context a snippet keeps before its first highlight.
const SNIPPET_LEAD_CHARS: usize = 40;

/// Bytes of one message a snippet looks at for matches; past it the
/// message is not scanned (a snippet is a preview, not a proof).
const SNIPPET_SCAN_BYTES: usize = 64 * 1024;

/// Bytes of a whole thread a snippet looks at.
const SNIPPET_THREAD_BYTES: usize = 512 * 1024;

/// The limits every search stays within; exceeding one is a typed error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// Query length, number of terms and nesting depth (see [`QueryLimits`];
    /// default 1,024 characters, 32 terms, depth 8). Checked for query text
    /// and for queries built in code alike.
    pub query: QueryLimits,
    /// Largest page. Default 1,000.
    pub max_per_page: u32,
    /// The result window: no page may reach past this many results
    /// (`page × per_page`). Default 10,000. Collecting a page costs
    /// `O(matches × log(window))`, so this bounds the cost of deep pages.
    pub max_window: u64,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            query: QueryLimits::default(),
            max_per_page: 1_000,
            max_window: 10_000,
        }
    }
}

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchSort {
    /// Best match first; ties by last update (newest first), then case id.
    #[default]
    Relevance,
    /// By creation time, then case id.
    Created,
    /// By last update, then case id.
    Updated,
    /// By status in lifecycle order (`open` … `merged`), then last update,
    /// then case id.
    Status,
    /// By category identifier, alphabetically, then last update, then case
    /// id.
    Category,
    /// By case number: shorter first, then byte order (numeric order for
    /// the store's own numbers), then case id.
    Number,
}

/// The alphabetical position of each category, by [`Category::index`].
fn category_rank(code: u64) -> u64 {
    let Some(c) = u8::try_from(code).ok().and_then(category_from_byte) else {
        return u64::MAX;
    };
    caselog_core::Category::ALL
        .iter()
        .filter(|o| o.as_str() < c.as_str())
        .count() as u64
}

/// How to run a search: order, page and whether to make snippets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOptions {
    /// Order of the hits. Default: relevance.
    pub sort: SearchSort,
    /// For [`SearchSort::Created`] and [`SearchSort::Updated`]: newest first
    /// (the default) or oldest first. For status, category and number: the
    /// reverse of their order (the default) or that order. Relevance is
    /// always best first.
    pub descending: bool,
    /// Page number, from 1.
    pub page: u32,
    /// Hits per page, 1 to [`SearchLimits::max_per_page`]. Default 20.
    pub per_page: u32,
    /// Whether hits carry a highlighted snippet of their thread (a thread
    /// read per hit). Default: yes.
    pub snippets: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            sort: SearchSort::Relevance,
            descending: true,
            page: 1,
            per_page: 20,
            snippets: true,
        }
    }
}

/// A page of search results, with the total and the facet counts of the
/// whole result set.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    /// Matching cases in all pages.
    pub total: u64,
    /// The page number.
    pub page: u32,
    /// The page size.
    pub per_page: u32,
    /// The hits of this page.
    pub hits: Vec<SearchHit>,
    /// Counts per status and per category over every matching case.
    pub facets: Facets,
    /// The change-log sequence the index covered for this search: every
    /// write whose `change` is at most this is reflected.
    pub indexed_change: u64,
    /// Where the next page starts, for [`Store::search_after`]; `None` when
    /// this page holds the last hit.
    pub next: Option<Cursor>,
}

/// Counts per status and per category over a whole result set, for the
/// filter sidebar. Values with no case are absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facets {
    /// Cases per status.
    pub by_status: BTreeMap<Status, u64>,
    /// Cases per category.
    pub by_category: BTreeMap<Category, u64>,
}

/// One search hit: its place and counted values from the index, its
/// number and title from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Internal id.
    pub id: CaseId,
    /// Case number.
    pub number: CaseNumber,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Title.
    pub title: String,
    /// Status.
    pub status: Status,
    /// Category.
    pub category: Category,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update.
    pub updated_at: Timestamp,
    /// Relevance score (only when sorted by relevance).
    pub score: Option<Score>,
    /// Byte ranges of `title` that match the query's words and phrases.
    pub title_highlights: Vec<Range<usize>>,
    /// A piece of the thread around the best match (or the start of the
    /// description when only the title or fields matched). `None` when
    /// snippets were not asked for or the thread has no text.
    pub snippet: Option<Snippet>,
}

/// A short piece of a message with the matching parts marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// Which thread entry the text is from (0 is the description).
    pub entry: u32,
    /// The text.
    pub text: String,
    /// Byte ranges of `text` that match, sorted and not overlapping.
    pub highlights: Vec<Range<usize>>,
    /// Whether the message goes on before `text`.
    pub cut_before: bool,
    /// Whether the message goes on after `text`.
    pub cut_after: bool,
}

impl Snippet {
    /// The snippet as HTML: text escaped, matches in `<b>`, cuts as `…`.
    pub fn to_html(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 16);
        if self.cut_before {
            out.push('…');
        }
        let mut at = 0;
        for h in &self.highlights {
            if let (Some(before), Some(marked)) = (self.text.get(at..h.start), self.text.get(h.start..h.end)) {
                escape_into(&mut out, before);
                out.push_str("<b>");
                escape_into(&mut out, marked);
                out.push_str("</b>");
                at = h.end;
            }
        }
        escape_into(&mut out, self.text.get(at..).unwrap_or(""));
        if self.cut_after {
            out.push('…');
        }
        out
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Renders a page of hits: order, status, category and times from the fast
/// fields the hit was sorted and counted by; number, tenant and title from
/// the store, through one table handle of one snapshot (a fast text field
/// decompresses a dictionary block per value, the document store a block
/// per hit: both cost more than the B-tree read). Only the leading fields
/// of each case record are decoded ([`records::decode_case_head`]), and the
/// records are read in id order (see [`read_heads`]).
fn render(
    txn: &ReadTransaction,
    columns: &SearcherColumns,
    page: &[(SortKey, DocAddress)],
    sort: SearchSort,
    missing: Missing,
) -> Result<Vec<SearchHit>> {
    let cases = txn
        .open_table(tables::CASES)
        .map_err(|e| StoreError::storage("reading search hits", e))?;
    let bad = |addr: DocAddress, what: &str| {
        StoreError::index_detail("reading a hit", format!("document {addr:?}: missing or invalid {what}"))
    };
    let segment = |addr: DocAddress| {
        columns
            .segments
            .get(addr.segment_ord as usize)
            .ok_or_else(|| bad(addr, "segment"))
    };
    let ids = page
        .iter()
        .map(|&(_, addr)| segment(addr)?.id.first(addr.doc_id).ok_or_else(|| bad(addr, "id")))
        .collect::<Result<Vec<u64>>>()?;
    let mut heads = read_heads(&cases, &ids)?;
    let mut hits = Vec::with_capacity(page.len());
    for ((&(key, addr), id), head) in page.iter().zip(ids).zip(heads.iter_mut()) {
        let c = segment(addr)?;
        let doc = addr.doc_id;
        let time = |column: &Column<i64>, what: &str| {
            column
                .first(doc)
                .and_then(|ms| Timestamp::from_millis(ms).ok())
                .ok_or_else(|| bad(addr, what))
        };
        let code = |column: &Column<u64>, what: &str| {
            column
                .first(doc)
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(|| bad(addr, what))
        };
        let Some(head) = head.take() else {
            if missing == Missing::Skip {
                continue;
            }
            return Err(StoreError::index_detail(
                "reading a hit",
                format!("case {id} is in the index but not in the store"),
            ));
        };
        hits.push(SearchHit {
            id: CaseId(id),
            number: head.number,
            tenant: head.tenant,
            title: head.title,
            status: status_from_byte(code(&c.status, "status")?).ok_or_else(|| bad(addr, "status"))?,
            category: category_from_byte(code(&c.category, "category")?).ok_or_else(|| bad(addr, "category"))?,
            created_at: time(&c.created, "created")?,
            updated_at: time(&c.updated, "updated")?,
            score: (sort == SearchSort::Relevance).then(|| score_of(key.0)),
            title_highlights: Vec::new(),
            snippet: None,
        });
    }
    Ok(hits)
}

/// A page whose ids span at most this many times its length is read with
/// one range scan; a sparser one with a get per id.
const RANGE_SCAN_SPREAD: u64 = 4;

/// The number, tenant and title of each case of `ids` (`None` where the
/// store has no such case), in the order of `ids`. The records are read in
/// id order: consecutive keys share B-tree pages, and when the ids are
/// dense (a walk by creation, where ids follow creation) one range scan
/// replaces a descent from the root per hit.
fn read_heads(
    cases: &impl redb::ReadableTable<u64, &'static [u8]>,
    ids: &[u64],
) -> Result<Vec<Option<records::CaseHead>>> {
    let err = |e| StoreError::storage("reading search hits", e);
    let mut order: Vec<(u64, usize)> = ids.iter().copied().zip(0..).collect();
    order.sort_unstable();
    let mut heads: Vec<Option<records::CaseHead>> = vec![None; ids.len()];
    let (Some(&(first, _)), Some(&(last, _))) = (order.first(), order.last()) else {
        return Ok(heads);
    };
    let len = u64::try_from(order.len()).unwrap_or(u64::MAX);
    if last - first < len.saturating_mul(RANGE_SCAN_SPREAD) {
        let mut scan = cases.range(first..=last).map_err(err)?.peekable();
        for &(id, at) in &order {
            // Skip the records between the page's ids.
            while let Some(item) = scan.next_if(|item| item.as_ref().is_ok_and(|(k, _)| k.value() < id)) {
                item.map_err(err)?;
            }
            match scan.peek() {
                Some(Ok((k, v))) if k.value() == id => {
                    if let Some(slot) = heads.get_mut(at) {
                        *slot = Some(records::decode_case_head(v.value(), id)?);
                    }
                }
                Some(Err(_)) => {
                    if let Some(Err(e)) = scan.next() {
                        return Err(err(e));
                    }
                }
                _ => {}
            }
        }
    } else {
        for &(id, at) in &order {
            if let Some(v) = cases.get(id).map_err(err)? {
                if let Some(slot) = heads.get_mut(at) {
                    *slot = Some(records::decode_case_head(v.value(), id)?);
                }
            }
        }
    }
    Ok(heads)
}

/// What rendering does with a hit whose case is not in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// An error: the index and the store disagree.
    Error,
    /// Left out: a walk's searcher can be older than the store it reads.
    Skip,
}

/// What a search binds its cursors to: the scope, and the query with its
/// order.
fn binding(scope: &Scope, query: &str, opts: &SearchOptions) -> Binding {
    let order = [sort_code(opts.sort), u8::from(opts.descending)];
    Binding::new(scope, &[b"search", query.as_bytes(), &order])
}

fn sort_code(sort: SearchSort) -> u8 {
    match sort {
        SearchSort::Relevance => 0,
        SearchSort::Created => 1,
        SearchSort::Updated => 2,
        SearchSort::Status => 3,
        SearchSort::Category => 4,
        SearchSort::Number => 5,
    }
}

/// A search planned for one scope.
struct Planned {
    query: Box<dyn tantivy::query::Query>,
    highlighter: Highlighter,
    /// Terms every hit must have (in their field): if one is in no segment,
    /// the search has no hits.
    required: Vec<Term>,
    /// An error the query's lazily made scorers met (`ranked.rs`).
    errors: ranked::LazyErrors,
    /// In a tenant's scope, what a match must hold (see [`first_candidate_segment`]).
    candidates: Option<Candidates>,
}

/// A tenant, and sets of terms every match of a search in its scope holds
/// all of, for at least one set.
struct Candidates {
    tenant: Term,
    alternatives: Vec<Vec<Term>>,
}

/// A collected search, with the searcher generation it ran on.
struct Collected {
    indexed_change: u64,
    searcher: tantivy::Searcher,
    columns: std::sync::Arc<SearcherColumns>,
    fruit: PageFruit,
}

/// The first segment holding a document of the tenant with every term of
/// at least one of the alternatives: no segment before it can hold a match
/// (a deleted document counts, so a segment may be searched for nothing,
/// never skipped wrongly). `None` when no segment does; 0 without a tenant
/// scope, or when an alternative has no term.
///
/// Asked before the search builds its scoring statistics (a
/// term-dictionary lookup per word per segment, and each field's token
/// total): a small tenant's query usually matches none of its cases, and
/// this check reads document ids only, tenant first. It stops at the first
/// segment with a candidate, from which the search itself goes on: a query
/// with matches pays one segment's check more, one without pays no
/// statistics and no scorers.
fn first_candidate_segment(searcher: &tantivy::Searcher, candidates: Option<&Candidates>) -> Result<Option<usize>> {
    let Some(c) = candidates else {
        return Ok(Some(0));
    };
    // A set without terms: every document of the tenant is a candidate.
    if c.alternatives.iter().any(Vec::is_empty) {
        return Ok(Some(0));
    }
    let basic =
        |t: &Term| -> Box<dyn tantivy::query::Query> { Box::new(TermQuery::new(t.clone(), IndexRecordOption::Basic)) };
    let any: Vec<(Occur, Box<dyn tantivy::query::Query>)> = c
        .alternatives
        .iter()
        .map(|terms| {
            let all = std::iter::once(&c.tenant)
                .chain(terms)
                .map(|t| (Occur::Must, basic(t)))
                .collect();
            (
                Occur::Should,
                Box::new(BooleanQuery::new(all)) as Box<dyn tantivy::query::Query>,
            )
        })
        .collect();
    let query = BooleanQuery::new(any);
    let weight = tantivy::query::Query::weight(&query, tantivy::query::EnableScoring::disabled_from_searcher(searcher))
        .map_err(ix("searching"))?;
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let scorer = weight.scorer(segment, 1.0).map_err(ix("searching"))?;
        if tantivy::DocSet::doc(&scorer) != tantivy::TERMINATED {
            return Ok(Some(ord));
        }
    }
    Ok(None)
}

/// Whether one of `terms` is in no segment of `searcher` (one dictionary
/// lookup per term and segment, stopping at the first term found).
fn absent(searcher: &tantivy::Searcher, terms: &[Term]) -> Result<bool> {
    for term in terms {
        let mut found = false;
        for segment in searcher.segment_readers() {
            let index = segment.inverted_index(term.field()).map_err(ix("looking up a term"))?;
            let info = index
                .get_term_info(term)
                .map_err(|e| StoreError::index_detail("looking up a term", e.to_string()))?;
            if info.is_some() {
                found = true;
                break;
            }
        }
        if !found {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Store {
    /// Searches with query text as a user typed it (see SPEC.md, Search),
    /// within `scope`. A malformed query is [`StoreError::Query`] with the
    /// position of the problem; an impossible page is
    /// [`StoreError::PageOutOfRange`] or [`StoreError::PerPageOutOfRange`].
    ///
    /// The index follows the store within a fraction of a second; use
    /// [`Store::wait_indexed`] to wait for a write of your own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use caselog_core::*;
    /// use caselog_store::*;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), Options::default())?;
    /// let seller = TenantId::parse("seller-0042")?;
    /// let created = store.create_case(NewCase::new(
    ///     seller.clone(),
    ///     UserId::parse("ops@example.com")?,
    ///     Marketplace::parse("CN")?,
    ///     LanguageTag::parse("zh")?,
    ///     Category::AccountHealth,
    ///     "账户问题",
    ///     "我的账户被停用了",
    /// ))?;
    /// assert!(store.wait_indexed(created.change, Duration::from_secs(10))?);
    ///
    /// let scope = Scope::Tenant(seller);
    /// let found = store.search(&scope, "账户 停用 status:open", &SearchOptions::default())?;
    /// assert_eq!(found.total, 1);
    /// assert_eq!(found.hits[0].number, created.number);
    /// assert_eq!(found.facets.by_category.get(&Category::AccountHealth), Some(&1));
    /// let snippet = found.hits[0].snippet.as_ref().unwrap();
    /// assert_eq!(snippet.to_html(), "我的<b>账户</b>被<b>停用</b>了");
    ///
    /// // The tenant cannot be named in the query; a malformed query says where.
    /// match store.search(&scope, "tenant:other", &SearchOptions::default()) {
    ///     Err(StoreError::Query(e)) => assert_eq!(e.position, 0),
    ///     other => panic!("{other:?}"),
    /// }
    /// store.shutdown()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn search(&self, scope: &Scope, text: &str, opts: &SearchOptions) -> Result<SearchResults> {
        self.search_after(scope, text, opts, None)
    }

    /// Like [`Store::search`], but continues after `cursor` (the `next` of
    /// a previous page of the same query, order and scope) instead of at
    /// `opts.page`, which is ignored: a walk by cursor is not bounded by
    /// [`SearchLimits::max_window`] and costs the same at any depth. Walking
    /// from no cursor to the end gives the hits that paging gives, in the
    /// same order; total and facets are those of the whole result set.
    ///
    /// A cursor that is not one, or was made for another scope, query or
    /// order, is [`StoreError::BadCursor`].
    ///
    /// ```
    /// # use caselog_core::*;
    /// # use caselog_store::*;
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(dir.path(), Options::default())?;
    /// let scope = Scope::AllTenants;
    /// let opts = SearchOptions { per_page: 100, snippets: false, ..SearchOptions::default() };
    /// let mut cursor = None;
    /// loop {
    ///     let page = store.search_after(&scope, "refund", &opts, cursor.as_ref())?;
    ///     // ... use page.hits ...
    ///     match page.next {
    ///         Some(next) => cursor = Some(next),
    ///         None => break,
    ///     }
    /// }
    /// # store.shutdown()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn search_after(
        &self,
        scope: &Scope,
        text: &str,
        opts: &SearchOptions,
        cursor: Option<&Cursor>,
    ) -> Result<SearchResults> {
        // The parser checks the limits on the text: the tree needs no
        // second check.
        let parsed = parse(text, &self.opts.search_limits.query)?;
        // The binding (two digests) is computed only for a page that reads
        // or makes a cursor: most pages do neither.
        let binding = || binding(scope, text, opts);
        self.damage.guard("searching", || {
            let bare = self.recognise_bare(&parsed)?;
            self.run_search(scope, &parsed.root, bare.as_ref(), opts, &binding, cursor)
        })
    }

    /// Searches with a query built in code ([`caselog_core::QueryBuilder`]),
    /// within `scope`. The same limits apply as to query text.
    pub fn search_query(&self, scope: &Scope, query: &Query, opts: &SearchOptions) -> Result<SearchResults> {
        self.search_query_after(scope, query, opts, None)
    }

    /// [`Store::search_after`] for a query built in code.
    pub fn search_query_after(
        &self,
        scope: &Scope,
        query: &Query,
        opts: &SearchOptions,
        cursor: Option<&Cursor>,
    ) -> Result<SearchResults> {
        check_tree(query, &self.opts.search_limits.query)?;
        let binding = || binding(scope, &format!("{query:?}"), opts);
        self.damage.guard("searching", || {
            self.run_search(scope, query, None, opts, &binding, cursor)
        })
    }

    fn run_search(
        &self,
        scope: &Scope,
        root: &Query,
        bare: Option<&BareReference>,
        opts: &SearchOptions,
        binding: &dyn Fn() -> Binding,
        cursor: Option<&Cursor>,
    ) -> Result<SearchResults> {
        let limits = self.opts.search_limits;
        if opts.per_page == 0 || opts.per_page > limits.max_per_page {
            return Err(StoreError::PerPageOutOfRange {
                per_page: opts.per_page,
                max: limits.max_per_page,
            });
        }
        let after = cursor.map(|c| c.decode(&binding())).transpose()?;
        let offset = if after.is_some() {
            0
        } else {
            let reach = u64::from(opts.page).saturating_mul(u64::from(opts.per_page));
            if opts.page == 0 || reach > limits.max_window {
                let last = u32::try_from(limits.max_window / u64::from(opts.per_page))
                    .unwrap_or(u32::MAX)
                    .max(1);
                return Err(StoreError::PageOutOfRange {
                    page: opts.page,
                    per_page: opts.per_page,
                    last_page: last,
                });
            }
            (opts.page as usize - 1) * opts.per_page as usize
        };
        let planned = self.plan_search(scope, root, bare);
        // Tells the open's warm-up, waiting for this, when the page is done.
        let _ended = SearchEnded(&self.index.shared.first_search);
        let ask = Ask {
            sort: opts.sort,
            descending: opts.descending,
            keep: offset + opts.per_page as usize,
            after,
        };
        let Collected {
            indexed_change,
            columns,
            fruit,
            ..
        } = self.collect_search(&planned, ask)?;
        let highlighter = planned.highlighter;
        let page = fruit.hits.get(offset..).unwrap_or(&[]);
        let mut hits = Vec::new();
        if !page.is_empty() {
            let txn = self
                .db
                .begin_read()
                .map_err(|e| StoreError::storage("reading search hits", e))?;
            hits = render(&txn, &columns, page, opts.sort, Missing::Error)?;
            let mut analysis = CharsAnalysis::new(&highlighter.plans);
            highlighter.titles(&mut hits, &mut analysis);
            if opts.snippets {
                decorate(&txn, &highlighter, &mut analysis, &mut hits)?;
            }
        }
        let more = fruit.remaining > (offset + hits.len()) as u64;
        let next = match page.last() {
            Some(&(key, _)) if more => Some(Cursor::encode(&binding(), key)),
            _ => None,
        };
        Ok(SearchResults {
            total: fruit.total,
            page: opts.page,
            per_page: opts.per_page,
            hits,
            facets: fruit.facets(),
            indexed_change,
            next,
        })
    }

    /// Plans a search: the query tree mapped onto tantivy, with the bare
    /// reference's clause and the tenant's required clause.
    fn plan_search(&self, scope: &Scope, root: &Query, bare: Option<&BareReference>) -> Planned {
        let fields = &self.index.shared.fields;
        // The tenant is a required clause added here, after parsing: nothing
        // in the query text can widen it.
        let tenant = match scope {
            Scope::Tenant(tenant) => Some(Term::from_field_text(fields.tenant, tenant.as_str())),
            Scope::AllTenants => None,
        };
        let only = |term: &Term| -> Box<dyn tantivy::query::Query> {
            let only = TermQuery::new(term.clone(), IndexRecordOption::Basic);
            Box::new(ConstScoreQuery::new(Box::new(only), 0.0))
        };
        // With a bare reference the query is one of two alternatives, and
        // the tenant clause goes around both.
        let filter = tenant.as_ref().filter(|_| bare.is_none()).map(only);
        let planner = Planner::new(fields);
        let errors = planner.errors.clone();
        let (query, highlighter, required) = planner.plan(root, filter);
        // The terms one of which sets every match must hold all of: the
        // words' (or, with a bare reference, the reference's fields' as
        // other sets).
        let mut alternatives = vec![required.clone()];
        if let Some(reference) = bare {
            alternatives.extend(Planner::new(fields).bare_terms(reference).into_iter().map(|t| vec![t]));
        }
        let mut query = query.unwrap_or_else(|| Box::new(AllQuery));
        // With a bare reference the text is one of two alternatives: none of
        // its terms is required any more.
        let mut required = if bare.is_some() { Vec::new() } else { required };
        if let Some(reference) = bare {
            let alternatives = vec![Planner::new(fields).bare(reference), query];
            query = match &tenant {
                // Two alternatives of a tenant's scope: each within the
                // tenant, as an Or of two words is.
                Some(term) => plan::any_within(only(term), alternatives),
                None => Box::new(BooleanQuery::new(
                    alternatives.into_iter().map(|q| (Occur::Should, q)).collect(),
                )),
            };
        }
        let candidates = tenant.clone().map(|tenant| Candidates { tenant, alternatives });
        required.extend(tenant);
        Planned {
            query,
            highlighter,
            required,
            errors,
            candidates,
        }
    }

    /// Runs a planned search on the current searcher generation.
    fn collect_search(&self, planned: &Planned, ask: Ask) -> Result<Collected> {
        let shared = &self.index.shared;
        // Read the covered change before taking the searcher: the searcher
        // is at least as new.
        let (indexed_change, Generation { searcher, stale }) = shared.generation()?;
        let columns = shared.columns.get(&searcher)?;
        // A required term in no segment's dictionary: nothing can match, and
        // the weights (term statistics for every field of every word) and
        // the collector need not be built.
        let first = if absent(&searcher, &planned.required)? {
            None
        } else {
            first_candidate_segment(&searcher, planned.candidates.as_ref())?
        };
        let Some(first) = first else {
            return Ok(Collected {
                indexed_change,
                searcher,
                columns,
                fruit: PageFruit::default(),
            });
        };
        let collector = PageCollector {
            columns: columns.clone(),
            stale,
            ask,
        };
        // What `Searcher::search` does, from the first segment that may
        // hold a match (the statistics are still the whole index's).
        let scoring = if collector.requires_scoring() {
            tantivy::query::EnableScoring::enabled_from_searcher(&searcher)
        } else {
            tantivy::query::EnableScoring::disabled_from_searcher(&searcher)
        };
        let weight = planned.query.weight(scoring).map_err(ix("searching"))?;
        let mut fruits = Vec::with_capacity(searcher.segment_readers().len());
        for (ord, reader) in searcher.segment_readers().iter().enumerate().skip(first) {
            fruits.push(
                collector
                    .collect_segment(&*weight, ord as u32, reader)
                    .map_err(ix("searching"))?,
            );
        }
        let fruit = collector.merge_fruits(fruits).map_err(ix("searching"))?;
        if let Some(e) = planned.errors.lock().take() {
            return Err(ix("searching")(e));
        }
        shared.count_stale_filtered(fruit.stale);
        Ok(Collected {
            indexed_change,
            searcher,
            columns,
            fruit,
        })
    }

    /// Waits until the write that returned change-log sequence `change`
    /// (`Created::change`, `Written::change`, `ImportOutcome::Imported`) is
    /// searchable, at most `timeout`. `Ok(false)` on timeout; an error if
    /// the indexer has stopped.
    pub fn wait_indexed(&self, change: u64, timeout: std::time::Duration) -> Result<bool> {
        self.index.shared.wait_indexed(change, timeout)
    }

    /// The change-log sequence the searchable index covers.
    pub fn indexed_change(&self) -> u64 {
        self.index.shared.indexed()
    }

    /// What `open` did to the search index when it had to rebuild it
    /// (missing, unreadable, other schema, or not fitting the store);
    /// `None` when the existing index was opened and caught up.
    /// Set once the rebuild open started (in the background) is installed.
    pub fn index_rebuilt_on_open(&self) -> Option<super::indexer::RebuildReport> {
        self.index.rebuilt_on_open()
    }

    /// Rebuilds the index from the store, reporting progress. Searches keep
    /// answering from the old index until the new one is committed; writes
    /// go on and are indexed after the rebuild. `progress` runs on the
    /// indexer thread.
    pub fn reindex(
        &self,
        progress: impl FnMut(&super::indexer::IndexProgress) + Send + 'static,
    ) -> Result<super::indexer::RebuildReport> {
        // A read-only handle has no indexer to rebuild with, and may not write.
        self.refuse_if_read_only()?;
        self.index.reindex(Box::new(progress))
    }
}

/// Tells the warm-up that a search ended, however it ended.
struct SearchEnded<'a>(&'a crate::index::warm::FirstSearch);

impl Drop for SearchEnded<'_> {
    fn drop(&mut self) {
        self.0.ended();
    }
}

#[cfg(test)]
mod tests {
    use caselog_core::{QueryError, QueryErrorKind};

    use super::*;

    fn hl(query: &str, text: &str) -> Vec<String> {
        let root = parse(query, &QueryLimits::default()).unwrap().root;
        let (spans, _) = Highlighter::new(&root).find(text);
        spans.into_iter().map(|r| text[r].to_owned()).collect()
    }

    #[test]
    fn highlights_follow_the_chars_matching() {
        assert_eq!(hl("账户 停用", "我的账户被停用了"), ["账户", "停用"]);
        assert_eq!(hl("退款", "请尽快处理退款"), ["退款"]);
        // Across jieba's word boundary (暂停 / 用户), as the search matches.
        assert_eq!(hl("停用", "请暂停用户的操作"), ["停用"]);
        assert_eq!(hl("refund", "Refunds were DELAYED; refund now"), ["Refunds", "refund"]);
        assert_eq!(
            hl("\"delayed refund\"", "the delayed  refund, not refund delayed"),
            ["delayed  refund"]
        );
        // Excluded words are not highlighted.
        assert_eq!(hl("refund -delayed", "refund delayed"), ["refund"]);
        assert_eq!(hl("status:open", "refund"), Vec::<String>::new());
    }

    #[test]
    fn snippets_cut_around_the_best_match() {
        let root = parse("退款 refund", &QueryLimits::default()).unwrap().root;
        let h = Highlighter::new(&root);
        let long = format!("{} 请尽快处理退款 refund please {}", "x ".repeat(200), "y ".repeat(200));
        let entries = [(0, "nothing here"), (1, "only refund"), (2, long.as_str())];
        let s = h.snippet(&entries).unwrap();
        assert_eq!(s.entry, 2);
        assert!(s.cut_before && s.cut_after);
        let marked: Vec<&str> = s.highlights.iter().map(|r| &s.text[r.clone()]).collect();
        assert_eq!(marked, ["退款", "refund"]);
        assert!(s.to_html().contains("<b>退款</b>"));
        // Nothing matches: the start of the first message with text.
        let s = Highlighter::new(&Query::All)
            .snippet(&[(0, ""), (1, "<hello> & bye")])
            .unwrap();
        assert_eq!((s.entry, s.highlights.len()), (1, 0));
        assert_eq!(s.to_html(), "&lt;hello&gt; &amp; bye");
    }

    /// Words the stemmer changes in every way it can: inflections, Porter2's
    /// irregular forms and step 2–5 suffixes, digits, case, accents, width.
    const WORDS: &[&str] = &[
        "refund",
        "Refunds",
        "REFUNDED",
        "refunding",
        "dying",
        "lying",
        "tying",
        "die",
        "skies",
        "sky",
        "idly",
        "gently",
        "early",
        "only",
        "singly",
        "ability",
        "possibility",
        "capably",
        "generalization",
        "relational",
        "conditional",
        "operator",
        "hopeful",
        "goodness",
        "happiness",
        "happy",
        "cries",
        "ties",
        "agreed",
        "feed",
        "hopping",
        "filing",
        "aing",
        "eing",
        "oed",
        "yed",
        "news",
        "atlas",
        "B08XYZ1234",
        "b08xyz1234s",
        "112-1234567",
        "Café",
        "cafe",
        "Ｒｅｆｕｎｄ",
        "Straße",
        "strass",
        "账户",
        "停用",
        "退款",
        "Äbility",
        "organizational",
        "electricity",
        "formality",
        "sensitivity",
        "fully",
        "lessly",
        "logically",
    ];

    proptest::proptest! {
        /// The pre-check never turns away a message a plan is found in.
        #[test]
        fn probes_never_skip_a_match(
            text in proptest::collection::vec(proptest::sample::select(WORDS), 0..8),
            letters in "[a-zA-Z]{1,12}( [a-zA-Z]{1,12}){0,3}",
            query in proptest::collection::vec(proptest::sample::select(WORDS), 1..3),
            typed in "[a-zA-Z]{1,12}",
            phrase in proptest::bool::ANY,
        ) {
            let text = format!("{} {letters}", text.join(" "));
            let words: Vec<String> = query.iter().map(|w| (*w).to_owned()).chain([typed]).collect();
            let q = if phrase { format!("\"{}\"", words.join(" ")) } else { words.join(" ") };
            let Ok(parsed) = parse(&q, &QueryLimits::default()) else {
                return Ok(());
            };
            let h = Highlighter::new(&parsed.root);
            let probes = h.probes();
            for (i, plan) in h.plans.iter().enumerate() {
                let one = Highlighter { plans: vec![plan.clone()] };
                if one.find(&text).1 > 0 {
                    proptest::prop_assert!(
                        Highlighter::may_match(&probes[i..=i], &text),
                        "{:?} found in {:?} but probed away", plan, text
                    );
                }
            }
            // And for each text word typed as the query.
            for w in text.split(' ').filter(|w| !w.is_empty()) {
                let h = Highlighter::new(&parse(&format!("\"{w}\""), &QueryLimits::default()).unwrap().root);
                if h.find(&text).1 > 0 {
                    proptest::prop_assert!(Highlighter::may_match(&h.probes(), &text), "{:?} in {:?}", w, text);
                }
            }
        }
    }

    /// [`Highlighter::find`] as it was before the shared analysis: a fresh
    /// `analyze` of the text.
    fn find_plain(h: &Highlighter, text: &str) -> (Vec<Range<usize>>, usize) {
        let tokens = crate::index::analysis::analyze(crate::index::analysis::Analyzer::Chars, text);
        let mut spans = Vec::new();
        let mut distinct = 0;
        for plan in &h.plans {
            let mut found = false;
            for window in tokens.windows(plan.len()) {
                if window.iter().zip(plan).all(|(t, p)| &t.text == p) {
                    spans.push(window[0].offset_from..window[plan.len() - 1].offset_to);
                    found = true;
                }
            }
            distinct += usize::from(found);
        }
        (merge(spans), distinct)
    }

    /// The brute-force snippet: every message analysed (within the scan
    /// limits), the first with every word, else the most distinct words,
    /// then the most spans, the earliest on a tie.
    fn snippet_plain(h: &Highlighter, entries: &[(u32, &str)]) -> Option<Snippet> {
        // (distinct matches, spans, entry, body, spans) of the best message.
        type Best<'t> = (usize, usize, u32, &'t str, Vec<Range<usize>>);
        let mut best: Option<Best<'_>> = None;
        let mut budget = SNIPPET_THREAD_BYTES;
        for &(entry, body) in entries.iter().filter(|_| !h.plans.is_empty()) {
            if budget == 0 || best.as_ref().is_some_and(|b| b.0 == h.plans.len()) {
                break;
            }
            let scan = &body[..crate::index::schema::floor_char_boundary(body, SNIPPET_SCAN_BYTES.min(budget))];
            budget -= scan.len();
            let (spans, distinct) = find_plain(h, scan);
            if distinct > 0 && best.as_ref().is_none_or(|b| (distinct, spans.len()) > (b.0, b.1)) {
                best = Some((distinct, spans.len(), entry, body, spans));
            }
        }
        match best {
            Some((_, _, entry, body, spans)) => Some(cut(entry, body, &spans)),
            None => entries
                .iter()
                .find(|(_, body)| !body.trim().is_empty())
                .map(|&(entry, body)| cut(entry, body, &[])),
        }
    }

    proptest::proptest! {
        /// The raw-text bounds are never below what analysis finds, and the
        /// snippet (probes, bounds and one analysis with its word memo for
        /// all messages and titles) is the one the brute-force finder picks.
        #[test]
        fn snippets_are_the_brute_force_ones(
            messages in proptest::collection::vec(
                (proptest::collection::vec(proptest::sample::select(WORDS), 0..10), "[a-zA-Z]{0,8}", 0usize..3),
                0..6,
            ),
            query in proptest::collection::vec(proptest::sample::select(WORDS), 1..4),
            typed in "[a-zA-Z]{1,10}",
            shape in 0u8..3,
        ) {
            let seps = [" ", ", ", "\n"];
            let texts: Vec<String> = messages
                .iter()
                .map(|(words, letters, sep)| format!("{}{}{letters}", words.join(seps[*sep]), seps[*sep]))
                .collect();
            let words: Vec<String> = query.iter().map(|w| (*w).to_owned()).chain([typed]).collect();
            let q = match shape {
                0 => words.join(" "),
                1 => words.join(" OR "),
                _ => format!("\"{}\"", words.join(" ")),
            };
            let Ok(parsed) = parse(&q, &QueryLimits::default()) else {
                return Ok(());
            };
            let h = Highlighter::new(&parsed.root);
            let probes = h.probes();
            let mut analysis = CharsAnalysis::new(&h.plans);
            for text in &texts {
                let (spans, distinct) = find_plain(&h, text);
                let (most_distinct, most_spans) = Highlighter::bound(&probes, text);
                proptest::prop_assert!(
                    distinct <= most_distinct && spans.len() <= most_spans,
                    "{:?} in {:?}: found {} / {}, bound {} / {}", q, text, distinct, spans.len(), most_distinct, most_spans
                );
                proptest::prop_assert_eq!(h.find_with(text, &mut analysis), (spans, distinct));
            }
            let entries: Vec<(u32, &str)> = texts.iter().zip(0u32..).map(|(t, i)| (i, t.as_str())).collect();
            proptest::prop_assert_eq!(
                h.snippet_with(&mut Listed(&entries), &probes, &mut analysis).unwrap(),
                snippet_plain(&h, &entries)
            );
        }
    }

    proptest::proptest! {
        /// A stem keeps the beginning `stem_kept` says from its word, as
        /// the probes and `CharsAnalysis` assume (the suffixes are those
        /// Porter2 rewrites).
        #[test]
        fn stems_keep_the_beginning_of_their_word(
            word in "[a-zA-Z]{1,9}(ing|ed|ies|ied|ly|ational|ization|fulness|ness|ement|ous|ive|ize|bli|ogi|li|eed|eedly|ingly|edly|s|sses|y|e|at|bl|iz|ying|ies|us|ss)?",
        ) {
            for t in crate::index::analysis::analyze(crate::index::analysis::Analyzer::Chars, &word) {
                let keep = crate::index::analysis::stem_kept(&t.text);
                proptest::prop_assert!(
                    word.to_ascii_lowercase().starts_with(&t.text[..keep]),
                    "{:?} stems to {:?}", word, t.text
                );
            }
        }
    }

    /// `stem_kept` on every word of up to three letters, and on every base
    /// of up to two letters with each suffix the stemmer rewrites (where the
    /// short stems come from: `dying` → `die`, `cries` → `cri`).
    #[test]
    fn short_stems_keep_the_beginning_of_their_word() {
        let letters: Vec<String> = ('a'..='z').map(String::from).collect();
        let two: Vec<String> = letters
            .iter()
            .flat_map(|a| letters.iter().map(move |b| format!("{a}{b}")))
            .collect();
        let three: Vec<String> = two
            .iter()
            .flat_map(|ab| letters.iter().map(move |c| format!("{ab}{c}")))
            .collect();
        let suffixes = [
            "ing", "ings", "ingly", "ed", "edly", "eed", "eedly", "ies", "ied", "ier", "iest", "ily", "ying", "yed",
            "yes", "y", "ly", "li", "s", "es", "ss", "sses", "us", "e", "at", "bl", "iz", "ate", "ation", "ational",
            "tional", "ization", "izer", "ize", "ful", "fulness", "ness", "ment", "ement", "ous", "ousli", "ive",
            "iveness", "iviti", "biliti", "bli", "abli", "aliti", "alli", "entli", "eli", "ogi", "ical", "icate",
            "iciti", "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ent", "ism", "iti", "ion", "sion",
        ];
        let words = letters.iter().chain(&two).chain(&three).cloned().chain(
            letters
                .iter()
                .chain(&two)
                .flat_map(|b| suffixes.iter().map(move |s| format!("{b}{s}"))),
        );
        let mut checked = 0;
        for word in words {
            for t in crate::index::analysis::analyze(crate::index::analysis::Analyzer::Chars, &word) {
                let keep = crate::index::analysis::stem_kept(&t.text);
                assert!(word.starts_with(&t.text[..keep]), "{word:?} stems to {:?}", t.text);
                checked += 1;
            }
        }
        assert!(checked > 20_000, "{checked} words checked");
    }

    #[test]
    fn probes_turn_away_messages_that_cannot_match() {
        let h = Highlighter::new(&parse("退款 refunds B08XYZ1234", &QueryLimits::default()).unwrap().root);
        let probes = h.probes();
        assert!(!Highlighter::may_match(&probes, "nothing to see here"));
        assert!(Highlighter::may_match(&probes, "请尽快处理退款"));
        assert!(Highlighter::may_match(&probes, "REFUNDED already"));
        assert!(Highlighter::may_match(&probes, "asin b08xyz1234"));
        // Non-ASCII text may fold into the English words.
        assert!(Highlighter::may_match(&probes, "Ｒｅｆｕｎｄ"));
    }

    #[test]
    fn bare_reference_terms_are_the_terms_of_its_clauses() {
        let fields = crate::index::schema::Fields::build().1;
        for token in ["10000012345", "123-4567890-1234567", "b08xyz1234", "0306406152"] {
            let reference = caselog_core::BareReference::recognise(token).unwrap();
            let planner = Planner::new(&fields);
            let query = planner.bare(&reference);
            let mut seen = Vec::new();
            query.query_terms(&mut |t, _| seen.push(t.clone()));
            let mut want = planner.bare_terms(&reference);
            seen.sort();
            want.sort();
            assert_eq!(seen, want, "{token}");
        }
    }

    #[test]
    fn query_trees_built_in_code_are_bounded() {
        let limits = QueryLimits::default();
        let mut deep = Query::Word("x".into());
        for _ in 0..10_000 {
            deep = Query::Not(Box::new(deep));
        }
        assert!(matches!(
            check_tree(&deep, &limits),
            Err(StoreError::Query(QueryError {
                kind: QueryErrorKind::TooDeep { .. },
                ..
            }))
        ));
        let wide = Query::Or((0..100).map(|i| Query::Word(format!("w{i}"))).collect());
        assert!(matches!(
            check_tree(&wide, &limits),
            Err(StoreError::Query(QueryError {
                kind: QueryErrorKind::TooManyTerms { .. },
                ..
            }))
        ));
        let long = Query::Phrase("x ".repeat(5_000));
        assert!(matches!(
            check_tree(&long, &limits),
            Err(StoreError::Query(QueryError {
                kind: QueryErrorKind::TooLong { .. },
                ..
            }))
        ));
        // `deep` must be dropped without recursing too deep: unwind it.
        let mut q = deep;
        while let Query::Not(inner) = q {
            q = *inner;
        }
    }
}
