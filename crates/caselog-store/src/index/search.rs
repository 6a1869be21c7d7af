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

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use std::ops::{Bound, Range};
use std::sync::{Arc, Mutex};

use caselog_core::{
    parse, BareReference, CaseId, CaseNumber, Category, FieldFilter, Query, QueryError, QueryErrorKind, QueryLimits,
    Status, TenantId, Timestamp,
};
use redb::ReadTransaction;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::index::SegmentId;

use super::stale::{Generation, StaleDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, EnableScoring, Explanation, Occur,
    Query as TQuery, RangeQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Score, SeekDangerResult, SegmentOrdinal, SegmentReader, Term};

use super::analysis::{analyze, query_plan, Analyzer, DEFAULT_WORDS_BOOST};
use super::schema::{floor_char_boundary, names, sku_key, Fields};
use crate::error::{ix, Result, StoreError};
use crate::model::Scope;
use crate::paging::{Binding, Cursor, SortKey};
use crate::records::{self, category_from_byte, status_from_byte};
use crate::store::Store;
use crate::stored::full_thread;
use crate::tables;

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

fn limit_error(kind: QueryErrorKind) -> StoreError {
    StoreError::Query(QueryError { kind, position: 0 })
}

/// Checks a query tree against the limits without recursion, so that a
/// tree built in code, however deep, is refused before anything recurses
/// over it. Parsed queries always pass (the parser checked the same limits
/// on their text).
fn check_tree(root: &Query, limits: &QueryLimits) -> Result<()> {
    // A parenthesised group can add an And, an Or and a Not level to the
    // tree, plus the top And/Or/Not.
    let max_depth = limits
        .max_depth
        .min(QueryLimits::MAX_DEPTH_CAP)
        .saturating_add(1)
        .saturating_mul(3);
    let mut terms = 0usize;
    let mut chars = 0usize;
    let mut stack = vec![(root, 0usize)];
    while let Some((q, depth)) = stack.pop() {
        if depth > max_depth {
            return Err(limit_error(QueryErrorKind::TooDeep { max: limits.max_depth }));
        }
        match q {
            Query::And(parts) | Query::Or(parts) => stack.extend(parts.iter().map(|p| (p, depth + 1))),
            Query::Not(inner) => stack.push((inner, depth + 1)),
            Query::Word(text) | Query::Phrase(text) => {
                terms += 1;
                chars = chars.saturating_add(text.chars().count());
            }
            Query::Field(_) | Query::All => terms += 1,
        }
        if terms > limits.max_terms {
            return Err(limit_error(QueryErrorKind::TooManyTerms {
                count: terms,
                max: limits.max_terms,
            }));
        }
        if chars > limits.max_chars {
            return Err(limit_error(QueryErrorKind::TooLong {
                len: chars,
                max: limits.max_chars,
            }));
        }
    }
    Ok(())
}

/// Maps the query tree onto tantivy queries, collecting the plans of the
/// words and phrases to highlight on the way: each word or phrase is
/// planned once per query, for matching and highlighting alike.
struct Planner<'f> {
    fields: &'f Fields,
    /// Chars token texts of each positive word or phrase, without repeats.
    highlight: Vec<Vec<String>>,
}

impl<'f> Planner<'f> {
    fn new(fields: &'f Fields) -> Self {
        Planner {
            fields,
            highlight: Vec::new(),
        }
    }

    /// Plans `root`; `None` for the query when it is to match everything.
    fn plan(mut self, root: &Query) -> (Option<Box<dyn TQuery>>, Highlighter) {
        let query = self.map(root, Context::default());
        (query, Highlighter { plans: self.highlight })
    }

    /// The query matching exactly the cases `q` matches, or `None` when `q`
    /// is to be ignored (a word or phrase with nothing searchable in it).
    fn map(&mut self, q: &Query, cx: Context) -> Option<Box<dyn TQuery>> {
        match q {
            Query::All => Some(Box::new(AllQuery)),
            Query::Word(text) | Query::Phrase(text) => self.text(text, cx),
            Query::Field(filter) => Some(self.field(filter)),
            Query::Not(inner) => self.map(inner, cx.not()).map(exclude),
            Query::And(parts) => {
                let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::with_capacity(parts.len() + 1);
                let mut any_positive = false;
                for part in parts {
                    match part {
                        // A negated part is a MustNot clause of its parent,
                        // cheaper than an All-minus-part sub-query.
                        Query::Not(inner) => {
                            if let Some(inner) = self.map(inner, cx.not()) {
                                clauses.push((Occur::MustNot, inner));
                            }
                        }
                        part => {
                            if let Some(q) = self.map(part, cx) {
                                any_positive = true;
                                clauses.push((Occur::Must, q));
                            }
                        }
                    }
                }
                if clauses.is_empty() {
                    return if parts.is_empty() {
                        Some(Box::new(AllQuery))
                    } else {
                        None
                    };
                }
                if !any_positive {
                    // tantivy matches nothing with only MustNot clauses.
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                if clauses.len() == 1 {
                    if let Some((Occur::Must, only)) = clauses.pop() {
                        return Some(only);
                    }
                }
                Some(Box::new(BooleanQuery::new(clauses)))
            }
            Query::Or(parts) => {
                if parts.is_empty() {
                    return Some(Box::new(EmptyQuery));
                }
                let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::with_capacity(parts.len());
                for part in parts {
                    if let Some(q) = self.map(part, cx) {
                        clauses.push((Occur::Should, q));
                    }
                }
                if clauses.is_empty() {
                    return None;
                }
                Some(Box::new(BooleanQuery::new(clauses)))
            }
        }
    }

    /// A word or phrase: must occur in the chars field (recall: substring
    /// semantics for Chinese); whole-word matches in the words fields and
    /// title matches only add score, so under a negation (which never
    /// scores) the recall clause is all there is.
    fn text(&mut self, text: &str, cx: Context) -> Option<Box<dyn TQuery>> {
        let plan = query_plan(text);
        let recall = plan.chars_query(self.fields.text_chars)?;
        if !cx.negated {
            let tokens: Vec<String> = plan.chars.iter().map(|t| t.text.clone()).collect();
            if !self.highlight.contains(&tokens) {
                self.highlight.push(tokens);
            }
        }
        if cx.under_not {
            // Exclusions probe their scorer backwards: see SeekGuardQuery.
            return Some(Box::new(SeekGuardQuery(recall)));
        }
        let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = vec![(Occur::Must, recall)];
        if let Some(words) = plan.words_query(self.fields.text_words) {
            clauses.push((Occur::Should, Box::new(BoostQuery::new(words, DEFAULT_WORDS_BOOST))));
        }
        if let Some(title) = plan.words_query(self.fields.title_words) {
            clauses.push((Occur::Should, Box::new(BoostQuery::new(title, TITLE_BOOST))));
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    fn field(&self, filter: &FieldFilter) -> Box<dyn TQuery> {
        let f = self.fields;
        let text = |field, value: &str| -> Box<dyn TQuery> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        let code = |field, value: usize| -> Box<dyn TQuery> {
            Box::new(TermQuery::new(
                Term::from_field_u64(field, value as u64),
                IndexRecordOption::Basic,
            ))
        };
        let range = |field, r: &caselog_core::DateRange| -> Box<dyn TQuery> {
            let start = r.start().map(|t| Term::from_field_i64(field, t.as_millis()));
            let end = r.end().map(|t| Term::from_field_i64(field, t.as_millis()));
            match (start, end) {
                (None, None) => Box::new(AllQuery),
                (start, end) => Box::new(RangeQuery::new(
                    start.map_or(Bound::Unbounded, Bound::Included),
                    end.map_or(Bound::Unbounded, Bound::Excluded),
                )),
            }
        };
        // Filters do not rank: a constant score keeps them from drowning
        // the text relevance.
        let q = match filter {
            FieldFilter::Number(n) => text(f.number, n.as_str()),
            FieldFilter::Order(o) => text(f.order, o.as_str()),
            FieldFilter::Asin(a) => text(f.asin, a.as_str()),
            FieldFilter::Sku(s) => text(f.sku, &sku_key(s.as_str())),
            FieldFilter::Status(s) => code(f.status, s.index()),
            FieldFilter::Category(c) => code(f.category, c.index()),
            FieldFilter::Marketplace(m) => text(f.marketplace, m.as_str()),
            FieldFilter::By(u) => text(f.by, u.as_str()),
            FieldFilter::Assignee(u) => text(f.assignee, u.as_str()),
            FieldFilter::Created(r) => range(f.created, r),
            FieldFilter::Updated(r) => range(f.updated, r),
            FieldFilter::Case(n) => text(f.case, n.as_str()),
            FieldFilter::Attachment(key) => text(f.attachment, &key.trim().to_lowercase()),
            FieldFilter::Has(caselog_core::HasWhat::Attachment) => text(f.has, super::schema::HAS_ATTACHMENT),
        };
        Box::new(ConstScoreQuery::new(q, 0.0))
    }

    /// The clause finding the case a bare reference names (and, for a case
    /// number, the cases that reference it, such as its follow-up, next).
    fn bare(&self, reference: &BareReference) -> Box<dyn TQuery> {
        let filter = match reference {
            BareReference::CaseNumber(n) => FieldFilter::Number(n.clone()),
            BareReference::Order(o) => FieldFilter::Order(o.clone()),
            BareReference::Asin(a) => FieldFilter::Asin(a.clone()),
        };
        let named: Box<dyn TQuery> = Box::new(ConstScoreQuery::new(self.field(&filter), BARE_REFERENCE_SCORE));
        let BareReference::CaseNumber(n) = reference else {
            return named;
        };
        let related = self.field(&FieldFilter::Case(n.clone()));
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, named),
            (
                Occur::Should,
                Box::new(ConstScoreQuery::new(related, BARE_REFERENCE_SCORE / 2.0)),
            ),
        ]))
    }
}

/// Where in the query tree a part sits.
#[derive(Debug, Clone, Copy, Default)]
struct Context {
    /// Under an odd number of negations: its words are not highlighted.
    negated: bool,
    /// Under any negation: it never scores, and exclusions probe it.
    under_not: bool,
}

impl Context {
    fn not(self) -> Context {
        Context {
            negated: !self.negated,
            under_not: true,
        }
    }
}

/// Wraps a query so its scorer tolerates `seek_danger` to a target below
/// its current document.
///
/// tantivy 0.27's exclusion (`MustNot`) probes the excluded scorer with
/// every candidate of the including side, and its `PhraseScorer` asserts
/// (debug builds) that such a probe never goes backwards, which an
/// exclusion's first probes routinely do: a phrase excluded from a query
/// panicked in the property tests. Release builds answer correctly there
/// (the postings report the lower bound), so the guard answers the same
/// way itself before the phrase scorer is reached. Only words under a
/// negation are wrapped: nothing else is probed that way.
#[derive(Debug)]
struct SeekGuardQuery(Box<dyn TQuery>);

impl Clone for SeekGuardQuery {
    fn clone(&self) -> Self {
        SeekGuardQuery(self.0.box_clone())
    }
}

impl TQuery for SeekGuardQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(SeekGuardWeight(self.0.weight(scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor);
    }
}

struct SeekGuardWeight(Box<dyn Weight>);

impl Weight for SeekGuardWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(SeekGuard(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        self.0.count(reader)
    }
}

struct SeekGuard(Box<dyn Scorer>);

impl DocSet for SeekGuard {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let doc = self.0.doc();
        if target <= doc {
            return doc;
        }
        self.0.seek(target)
    }

    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        // The current document is a lower bound of every later match, and
        // it is past the target: nothing in between can match.
        let doc = self.0.doc();
        if target < doc {
            return SeekDangerResult::SeekLowerBound(doc);
        }
        self.0.seek_danger(target)
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }

    fn cost(&self) -> u64 {
        self.0.cost()
    }
}

impl Scorer for SeekGuard {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}

/// `q` negated: every case but those `q` matches.
fn exclude(q: Box<dyn TQuery>) -> Box<dyn TQuery> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(AllQuery)),
        (Occur::MustNot, q),
    ]))
}

/// The fast-field columns of one segment that collecting, counting facets
/// and rendering hits read.
struct SegmentColumns {
    segment: SegmentId,
    id: Column<u64>,
    status: Column<u64>,
    category: Column<u64>,
    created: Column<i64>,
    updated: Column<i64>,
    number_hi: Column<u64>,
    number_lo: Column<u64>,
}

impl SegmentColumns {
    fn open(segment: &SegmentReader) -> Result<SegmentColumns> {
        let fast = segment.fast_fields();
        let open = ix("opening fast fields");
        Ok(SegmentColumns {
            segment: segment.segment_id(),
            id: fast.u64(names::ID).map_err(&open)?,
            status: fast.u64(names::STATUS).map_err(&open)?,
            category: fast.u64(names::CATEGORY).map_err(&open)?,
            created: fast.i64(names::CREATED).map_err(&open)?,
            updated: fast.i64(names::UPDATED).map_err(&open)?,
            number_hi: fast.u64(names::NUMBER_SORT_HI).map_err(&open)?,
            number_lo: fast.u64(names::NUMBER_SORT_LO).map_err(&open)?,
        })
    }
}

/// The columns of every segment of one searcher generation, opened once
/// and shared by every search on that generation (opening a column looks
/// its name up and reads its header: per segment and per query, that was
/// a good part of a search's fixed cost).
pub(crate) struct SearcherColumns {
    generation: u64,
    segments: Vec<SegmentColumns>,
}

/// The columns of the newest searcher generation seen, kept with the index
/// reader.
#[derive(Default)]
pub(crate) struct ColumnCache(Mutex<Option<Arc<SearcherColumns>>>);

impl ColumnCache {
    /// The columns of `searcher`'s generation, opened now if no search has
    /// opened them yet.
    pub(crate) fn get(&self, searcher: &tantivy::Searcher) -> Result<Arc<SearcherColumns>> {
        let generation = searcher.generation().generation_id();
        let lock = || self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = lock()
            .as_ref()
            .filter(|c| c.generation == generation && c.covers(searcher))
        {
            return Ok(cached.clone());
        }
        let columns = Arc::new(SearcherColumns {
            generation,
            segments: searcher
                .segment_readers()
                .iter()
                .map(SegmentColumns::open)
                .collect::<Result<_>>()?,
        });
        let mut slot = lock();
        // Keep the newest generation when two searches race (a slot of
        // another index, after a rebuild was swapped in, is replaced).
        if slot
            .as_ref()
            .is_none_or(|c| c.generation < generation || !c.covers(searcher))
        {
            *slot = Some(columns.clone());
        }
        Ok(columns)
    }

    /// Forgets the cached columns (the index was replaced).
    pub(crate) fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl SearcherColumns {
    /// Whether these are the columns of exactly `searcher`'s segments.
    fn covers(&self, searcher: &tantivy::Searcher) -> bool {
        let readers = searcher.segment_readers();
        readers.len() == self.segments.len()
            && readers
                .iter()
                .zip(&self.segments)
                .all(|(r, c)| r.segment_id() == c.segment)
    }

    fn segment(&self, ord: SegmentOrdinal, id: SegmentId) -> tantivy::Result<&SegmentColumns> {
        self.segments
            .get(ord as usize)
            .filter(|c| c.segment == id)
            .ok_or_else(|| tantivy::TantivyError::InternalError(format!("no columns for segment {ord}")))
    }
}

// A hit's position in the sort order is a `SortKey` where greater comes
// first: (score, time, id) with the score's bits made monotonic, and time
// and id inverted for an ascending sort. Case ids are unique, so no two
// hits share a key: "after a key" is exact, with ties included.

/// Maps a score onto a `u32` that orders as the score does.
fn score_bits(score: Score) -> u32 {
    let bits = score.to_bits();
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

fn score_of(bits: u32) -> Score {
    if bits & 0x8000_0000 != 0 {
        Score::from_bits(bits & 0x7fff_ffff)
    } else {
        Score::from_bits(!bits)
    }
}

/// Maps a time onto a `u64` that orders as the time does.
fn time_bits(ms: i64) -> u64 {
    (ms as u64) ^ (1u64 << 63)
}

/// What a collection is asked for: the order, how many hits to keep, and
/// where a cursor walk stands.
#[derive(Debug, Clone, Copy)]
struct Ask {
    sort: SearchSort,
    descending: bool,
    /// Hits to keep: offset plus page size.
    keep: usize,
    /// Only hits whose key is below this (after it in the order).
    after: Option<SortKey>,
}

impl Ask {
    fn key(&self, score: Score, time: i64, id: u64) -> SortKey {
        self.key_by(score, 0, time_bits(time), id)
    }

    /// The key with a leading field (`lead`, the status, category or number
    /// high part) and a second one (`second`: a time's bits or the number's
    /// low part).
    fn key_by(&self, score: Score, lead: u32, second: u64, id: u64) -> SortKey {
        match self.sort {
            SearchSort::Relevance => (score_bits(score), second, id),
            _ if self.descending => (lead, second, id),
            _ => (!lead, !second, !id),
        }
    }
}

/// Counts every match (total, per status, per category) and keeps the best
/// `keep` hits after the cursor, in one pass over the fast fields.
struct PageCollector {
    columns: Arc<SearcherColumns>,
    /// Documents of the searcher that are not their case's current one:
    /// skipped, so no case is counted or shown twice.
    stale: Arc<StaleDocs>,
    ask: Ask,
}

#[derive(Default)]
struct PageFruit {
    total: u64,
    /// Matches after the cursor (all of them without one).
    remaining: u64,
    status: [u64; 8],
    category: [u64; 16],
    /// Best hits, in no particular order.
    hits: Vec<(SortKey, DocAddress)>,
    /// Matches skipped as stale.
    stale: u64,
}

struct PageSegment {
    columns: Arc<SearcherColumns>,
    ord: SegmentOrdinal,
    ask: Ask,
    /// This segment's slot in the stale documents, if it has any.
    stale: Option<(Arc<StaleDocs>, usize)>,
    fruit: PageFruit,
    /// The best `keep` keys so far, worst on top.
    heap: BinaryHeap<Reverse<(SortKey, DocId)>>,
}

impl Collector for PageCollector {
    type Fruit = PageFruit;
    type Child = PageSegment;

    fn for_segment(&self, ord: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<PageSegment> {
        // Checked here so that `collect` can index without failing.
        self.columns.segment(ord, segment.segment_id())?;
        let stale = self
            .stale
            .of_segment(ord, segment.segment_id())
            .map(|slot| (self.stale.clone(), slot));
        Ok(PageSegment {
            columns: self.columns.clone(),
            ord,
            ask: self.ask,
            stale,
            fruit: PageFruit::default(),
            heap: BinaryHeap::with_capacity(self.ask.keep.min(1_024) + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.ask.sort == SearchSort::Relevance
    }

    fn merge_fruits(&self, fruits: Vec<PageFruit>) -> tantivy::Result<PageFruit> {
        let mut out = PageFruit::default();
        for f in fruits {
            out.total += f.total;
            out.remaining += f.remaining;
            out.stale += f.stale;
            for (a, b) in out.status.iter_mut().zip(f.status) {
                *a += b;
            }
            for (a, b) in out.category.iter_mut().zip(f.category) {
                *a += b;
            }
            out.hits.extend(f.hits);
        }
        out.hits.sort_unstable_by_key(|h| Reverse(h.0));
        out.hits.truncate(self.ask.keep);
        Ok(out)
    }
}

impl SegmentCollector for PageSegment {
    type Fruit = PageFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some((stale, slot)) = &self.stale {
            if stale.contains(*slot, doc) {
                self.fruit.stale += 1;
                return;
            }
        }
        // `for_segment` checked that this segment has columns.
        let Some(c) = self.columns.segments.get(self.ord as usize) else {
            return;
        };
        let f = &mut self.fruit;
        f.total += 1;
        // Codes outside the arrays cannot come from this schema; they are
        // counted in the total only (verify reports such documents).
        if let Some(slot) = c.status.first(doc).and_then(|s| f.status.get_mut(s as usize)) {
            *slot += 1;
        }
        if let Some(slot) = c.category.first(doc).and_then(|s| f.category.get_mut(s as usize)) {
            *slot += 1;
        }
        let ask = &self.ask;
        let full = self.heap.len() >= ask.keep;
        if ask.sort == SearchSort::Relevance {
            // Most matches lose on the score alone: no column read for them.
            let s = score_bits(score);
            if ask.after.is_some_and(|a| s > a.0) {
                return;
            }
            if full && self.heap.peek().is_some_and(|w| s < w.0 .0 .0) {
                if ask.after.is_some() {
                    f.remaining += 1;
                }
                return;
            }
        }
        let id = c.id.first(doc).unwrap_or_default();
        let updated = || time_bits(c.updated.first(doc).unwrap_or_default());
        let lead = |v: Option<u64>| u32::try_from(v.unwrap_or(u64::MAX)).unwrap_or(u32::MAX);
        let key = match ask.sort {
            SearchSort::Created => ask.key(score, c.created.first(doc).unwrap_or_default(), id),
            SearchSort::Status => ask.key_by(score, lead(c.status.first(doc)), updated(), id),
            SearchSort::Category => ask.key_by(score, lead(c.category.first(doc).map(category_rank)), updated(), id),
            SearchSort::Number => ask.key_by(
                score,
                lead(c.number_hi.first(doc)),
                c.number_lo.first(doc).unwrap_or_default(),
                id,
            ),
            SearchSort::Relevance | SearchSort::Updated => ask.key(score, c.updated.first(doc).unwrap_or_default(), id),
        };
        if ask.after.is_some_and(|a| key >= a) {
            return;
        }
        if ask.after.is_some() {
            f.remaining += 1;
        }
        if !full {
            self.heap.push(Reverse((key, doc)));
        } else if self.heap.peek().is_some_and(|w| key > w.0 .0) {
            self.heap.pop();
            self.heap.push(Reverse((key, doc)));
        }
    }

    fn harvest(mut self) -> PageFruit {
        let ord = self.ord;
        if self.ask.after.is_none() {
            self.fruit.remaining = self.fruit.total;
        }
        self.fruit.hits = self
            .heap
            .into_iter()
            .map(|Reverse((key, doc))| (key, DocAddress::new(ord, doc)))
            .collect();
        self.fruit
    }
}

impl PageFruit {
    fn facets(&self) -> Facets {
        let mut facets = Facets::default();
        for (i, &n) in self.status.iter().enumerate() {
            if let (Some(s), true) = (u8::try_from(i).ok().and_then(status_from_byte), n > 0) {
                facets.by_status.insert(s, n);
            }
        }
        for (i, &n) in self.category.iter().enumerate() {
            if let (Some(c), true) = (u8::try_from(i).ok().and_then(category_from_byte), n > 0) {
                facets.by_category.insert(c, n);
            }
        }
        facets
    }
}

/// Renders a page of hits: order, status, category and times from the fast
/// fields the hit was sorted and counted by; number, tenant and title from
/// the store, through one table handle of one snapshot (a fast text field
/// decompresses a dictionary block per value, the document store a block
/// per hit: both cost more than the B-tree read).
fn render(
    txn: &ReadTransaction,
    columns: &SearcherColumns,
    page: &[(SortKey, DocAddress)],
    sort: SearchSort,
) -> Result<Vec<SearchHit>> {
    let cases = txn
        .open_table(tables::CASES)
        .map_err(|e| StoreError::storage("reading search hits", e))?;
    let mut hits = Vec::with_capacity(page.len());
    for &(key, addr) in page {
        let bad = |what: &str| {
            StoreError::index_detail("reading a hit", format!("document {addr:?}: missing or invalid {what}"))
        };
        let c = columns
            .segments
            .get(addr.segment_ord as usize)
            .ok_or_else(|| bad("segment"))?;
        let doc = addr.doc_id;
        let time = |column: &Column<i64>, what: &str| {
            column
                .first(doc)
                .and_then(|ms| Timestamp::from_millis(ms).ok())
                .ok_or_else(|| bad(what))
        };
        let code = |column: &Column<u64>, what: &str| {
            column
                .first(doc)
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(|| bad(what))
        };
        let id = c.id.first(doc).ok_or_else(|| bad("id"))?;
        let record = cases
            .get(id)
            .map_err(|e| StoreError::storage("reading search hits", e))?
            .ok_or_else(|| {
                StoreError::index_detail(
                    "reading a hit",
                    format!("case {id} is in the index but not in the store"),
                )
            })?;
        let case = records::decode_case(record.value(), id)?;
        hits.push(SearchHit {
            id: CaseId(id),
            number: case.number,
            tenant: case.tenant,
            title: case.title,
            status: status_from_byte(code(&c.status, "status")?).ok_or_else(|| bad("status"))?,
            category: category_from_byte(code(&c.category, "category")?).ok_or_else(|| bad("category"))?,
            created_at: time(&c.created, "created")?,
            updated_at: time(&c.updated, "updated")?,
            score: (sort == SearchSort::Relevance).then(|| score_of(key.0)),
            title_highlights: Vec::new(),
            snippet: None,
        });
    }
    Ok(hits)
}

/// Finds where a query's words and phrases occur in text, the way the chars
/// field matches them, so highlights agree with what matched (Chinese by
/// substring, English ignoring case and inflection).
#[derive(Debug, Clone, Default)]
pub(crate) struct Highlighter {
    /// Token texts of each positive word or phrase, as the chars analyzer
    /// plans them.
    plans: Vec<Vec<String>>,
}

impl Highlighter {
    /// The highlighter for the words and phrases a query asks for (not the
    /// excluded ones), as a search plans them.
    #[cfg(test)]
    pub fn new(root: &Query) -> Highlighter {
        Planner::new(&Fields::build().1).plan(root).1
    }

    /// Byte ranges of `text` matching any of the words and phrases, sorted
    /// and merged, and how many distinct words and phrases matched.
    pub fn find(&self, text: &str) -> (Vec<Range<usize>>, usize) {
        if self.plans.is_empty() {
            return (Vec::new(), 0);
        }
        let tokens = analyze(Analyzer::Chars, text);
        let mut spans: Vec<Range<usize>> = Vec::new();
        let mut distinct = 0;
        for plan in &self.plans {
            let n = plan.len();
            let mut found = false;
            // The chars analyzer gives every token its own position, one
            // after the other, so a phrase is a run of consecutive tokens.
            for window in tokens.windows(n) {
                if window.iter().zip(plan).all(|(t, p)| &t.text == p) {
                    if let (Some(first), Some(last)) = (window.first(), window.last()) {
                        spans.push(first.offset_from..last.offset_to);
                        found = true;
                    }
                }
            }
            distinct += usize::from(found);
        }
        (merge(spans), distinct)
    }

    /// A snippet of the thread: the piece of the message with the most
    /// distinct matches around its first match, or the start of the first
    /// message with text when nothing matches.
    pub fn snippet(&self, entries: &[(u32, &str)]) -> Option<Snippet> {
        // (distinct matches, spans, entry, body, spans) of the best message.
        type Best<'t> = (usize, usize, u32, &'t str, Vec<Range<usize>>);
        let mut best: Option<Best<'_>> = None;
        let mut budget = SNIPPET_THREAD_BYTES;
        if !self.plans.is_empty() {
            for &(entry, body) in entries {
                if budget == 0 {
                    break;
                }
                let scan = &body[..floor_char_boundary(body, SNIPPET_SCAN_BYTES.min(budget))];
                budget -= scan.len();
                let (spans, distinct) = self.find(scan);
                if distinct == 0 {
                    continue;
                }
                let better = best.as_ref().is_none_or(|b| (distinct, spans.len()) > (b.0, b.1));
                if better {
                    best = Some((distinct, spans.len(), entry, body, spans));
                }
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
}

/// Sorts and merges overlapping or touching ranges.
fn merge(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// Byte offset `chars` characters after `from` in `text` (or its end).
fn advance(text: &str, from: usize, chars: usize) -> usize {
    text.get(from..)
        .and_then(|rest| rest.char_indices().nth(chars).map(|(i, _)| from + i))
        .unwrap_or(text.len())
}

/// Byte offset `chars` characters before `to` in `text` (or 0).
fn retreat(text: &str, to: usize, chars: usize) -> usize {
    if chars == 0 {
        return to;
    }
    text.get(..to)
        .and_then(|head| head.char_indices().rev().nth(chars - 1).map(|(i, _)| i))
        .unwrap_or(0)
}

/// Cuts a snippet of about [`SNIPPET_CHARS`] characters from `body`,
/// starting a little before the first span.
fn cut(entry: u32, body: &str, spans: &[Range<usize>]) -> Snippet {
    let anchor = spans.first().map_or(0, |s| s.start);
    let mut start = retreat(body, anchor, SNIPPET_LEAD_CHARS);
    // Start at a word boundary when one is near, so the snippet does not
    // open with half a word.
    if start > 0 {
        if let Some(ws) = body.get(start..anchor).and_then(|s| s.find(char::is_whitespace)) {
            start += ws;
            start = advance(body, start, 1);
        }
    }
    let end = advance(body, start, SNIPPET_CHARS);
    let text = body.get(start..end).unwrap_or("").to_owned();
    let highlights = spans
        .iter()
        .filter(|s| s.start < end && s.end > start)
        .map(|s| s.start.max(start) - start..s.end.min(end) - start)
        .collect();
    Snippet {
        entry,
        text,
        highlights,
        cut_before: start > 0,
        cut_after: end < body.len(),
    }
}

/// Adds snippets to a page of hits, reading every hit's thread through one
/// table handle of one store snapshot.
fn decorate(txn: &ReadTransaction, highlighter: &Highlighter, hits: &mut [SearchHit]) -> Result<()> {
    let table = txn
        .open_table(tables::THREAD)
        .map_err(|e| StoreError::storage("reading threads for snippets", e))?;
    for hit in hits {
        let thread = full_thread(&table, hit.id.0)?;
        let entries: Vec<(u32, &str)> = thread
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.body.is_empty())
            .map(|(i, e)| (u32::try_from(i).unwrap_or(u32::MAX), e.body.as_str()))
            .collect();
        hit.snippet = highlighter.snippet(&entries);
    }
    Ok(())
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
        let shared = &self.index.shared;
        let fields = &shared.fields;
        let planner = Planner::new(fields);
        let (query, highlighter) = planner.plan(root);
        let mut query = query.unwrap_or_else(|| Box::new(AllQuery));
        if let Some(reference) = bare {
            query = Box::new(BooleanQuery::new(vec![
                (Occur::Should, Planner::new(fields).bare(reference)),
                (Occur::Should, query),
            ]));
        }
        if let Scope::Tenant(tenant) = scope {
            // The tenant is a required clause added here, after parsing:
            // nothing in the query text can widen it.
            let only = TermQuery::new(
                Term::from_field_text(fields.tenant, tenant.as_str()),
                IndexRecordOption::Basic,
            );
            query = Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(only), 0.0))),
            ]));
        }
        // Read the covered change before taking the searcher: the searcher
        // is at least as new.
        let (indexed_change, Generation { searcher, stale }) = shared.generation()?;
        let columns = shared.columns.get(&searcher)?;
        let ask = Ask {
            sort: opts.sort,
            descending: opts.descending,
            keep: offset + opts.per_page as usize,
            after,
        };
        let collector = PageCollector {
            columns: columns.clone(),
            stale,
            ask,
        };
        let fruit = searcher.search(&*query, &collector).map_err(ix("searching"))?;
        shared.count_stale_filtered(fruit.stale);
        let page = fruit.hits.get(offset..).unwrap_or(&[]);
        let mut hits = Vec::new();
        if !page.is_empty() {
            let txn = self
                .db
                .begin_read()
                .map_err(|e| StoreError::storage("reading search hits", e))?;
            hits = render(&txn, &columns, page, opts.sort)?;
            for hit in &mut hits {
                hit.title_highlights = highlighter.find(&hit.title).0;
            }
            if opts.snippets {
                decorate(&txn, &highlighter, &mut hits)?;
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

#[cfg(test)]
mod tests {
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
