//! Query mapping: the core query tree checked against the limits and
//! planned onto tantivy queries (words through both analyzers, fields,
//! ranges, bare references), with the guard that keeps `seek` inside a
//! segment.

use std::ops::Bound;

use caselog_core::{BareReference, FieldFilter, Query, QueryError, QueryErrorKind, QueryLimits};

use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, EnableScoring, Explanation, Occur,
    Query as TQuery, RangeQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SeekDangerResult, SegmentReader, Term};

use crate::error::{Result, StoreError};
use crate::index::analysis::{query_plan, DEFAULT_WORDS_BOOST};
use crate::index::schema::{sku_key, Fields};

use super::*;

pub(super) fn limit_error(kind: QueryErrorKind) -> StoreError {
    StoreError::Query(QueryError { kind, position: 0 })
}

/// Checks a query tree against the limits without recursion, so that a
/// tree built in code, however deep, is refused before anything recurses
/// over it. Parsed queries always pass (the parser checked the same limits
/// on their text).
pub(super) fn check_tree(root: &Query, limits: &QueryLimits) -> Result<()> {
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

/// The most parts of an Or that a tenant filter is distributed over (see
/// [`Planner::or_within`]).
const MAX_DISTRIBUTED_OR: usize = 3;

/// Maps the query tree onto tantivy queries, collecting the plans of the
/// words and phrases to highlight on the way: each word or phrase is
/// planned once per query, for matching and highlighting alike.
pub(super) struct Planner<'f> {
    pub(super) fields: &'f Fields,
    /// Chars token texts of each positive word or phrase, without repeats.
    pub(super) highlight: Vec<Vec<String>>,
    /// Chars terms every match must have (of the words and phrases every
    /// match must contain).
    pub(super) required: Vec<Term>,
    /// Where the words' clauses leave an error they meet while scoring.
    pub(super) errors: super::ranked::LazyErrors,
}

impl<'f> Planner<'f> {
    pub(super) fn new(fields: &'f Fields) -> Self {
        Planner {
            fields,
            highlight: Vec::new(),
            required: Vec::new(),
            errors: Default::default(),
        }
    }

    /// Plans `root`; `None` for the query when it is to match everything.
    /// Also gives the highlighter and the terms every match must have.
    ///
    /// `filter`, a constant-score clause every match must also meet (the
    /// tenant scope), joins a top-level And's clauses (see [`Self::and`]);
    /// otherwise it is intersected with the whole query.
    pub(super) fn plan(
        mut self,
        root: &Query,
        filter: Option<Box<dyn TQuery>>,
    ) -> (Option<Box<dyn TQuery>>, Highlighter, Vec<Term>) {
        let top = Context {
            required: true,
            ..Context::default()
        };
        let query = match (root, filter) {
            (Query::And(parts), Some(filter)) => self.and(parts, top, Some(filter)),
            (Query::Or(parts), Some(filter)) if (2..=MAX_DISTRIBUTED_OR).contains(&parts.len()) => {
                Some(self.or_within(parts, top, filter))
            }
            (root, Some(filter)) => Some(within(
                filter,
                self.map(root, top).unwrap_or_else(|| Box::new(AllQuery)),
            )),
            (root, None) => self.map(root, top),
        };
        (query, Highlighter { plans: self.highlight }, self.required)
    }

    /// `parts`, any of them, within `filter`, as the union of each part
    /// within the filter: each intersection is led by the tenant's few
    /// documents, where one intersection with the union made the union
    /// score every document of each 4,096-document window it was asked
    /// to seek into (1.6x the tenant's own cost). The filter scores 0, so
    /// each part's score is unchanged, and a union of at most three parts
    /// sums the same scores in an order that gives the same bits.
    fn or_within(&mut self, parts: &[Query], cx: Context, filter: Box<dyn TQuery>) -> Box<dyn TQuery> {
        let cx = Context { required: false, ..cx };
        let clauses: Vec<Box<dyn TQuery>> = parts.iter().filter_map(|part| self.map(part, cx)).collect();
        any_within(filter, clauses)
    }

    /// `parts` all together, and `filter` (a constant-score clause) with
    /// them in the same clause list: tantivy then intersects the filter
    /// with the positive parts before it probes any excluded part, where a
    /// filter around the whole And probed the exclusions for every match of
    /// the words anywhere (1.5x the floor for `when -item` in one tenant).
    pub(super) fn and(
        &mut self,
        parts: &[Query],
        cx: Context,
        filter: Option<Box<dyn TQuery>>,
    ) -> Option<Box<dyn TQuery>> {
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
        if let Some(filter) = filter {
            any_positive = true;
            // First, as in [`within`].
            clauses.insert(0, (Occur::Must, filter));
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

    /// The query matching exactly the cases `q` matches, or `None` when `q`
    /// is to be ignored (a word or phrase with nothing searchable in it).
    pub(super) fn map(&mut self, q: &Query, cx: Context) -> Option<Box<dyn TQuery>> {
        match q {
            Query::All => Some(Box::new(AllQuery)),
            Query::Word(text) | Query::Phrase(text) => self.text(text, cx),
            Query::Field(filter) => Some(self.field(filter)),
            Query::Not(inner) => self.map(inner, cx.not()).map(exclude),
            Query::And(parts) => self.and(parts, cx, None),
            Query::Or(parts) => {
                if parts.is_empty() {
                    return Some(Box::new(EmptyQuery));
                }
                let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::with_capacity(parts.len());
                let cx = Context { required: false, ..cx };
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
    pub(super) fn text(&mut self, text: &str, cx: Context) -> Option<Box<dyn TQuery>> {
        let plan = query_plan(text);
        if plan.chars.is_empty() {
            return None;
        }
        if cx.required {
            let field = self.fields.text_chars;
            self.required
                .extend(plan.chars.iter().map(|t| Term::from_field_text(field, &t.text)));
        }
        if !cx.negated {
            let tokens: Vec<String> = plan.chars.iter().map(|t| t.text.clone()).collect();
            if !self.highlight.contains(&tokens) {
                self.highlight.push(tokens);
            }
        }
        if cx.under_not {
            // Under a negation nothing scores: a single term needs only its
            // document ids (no term frequencies decoded), and only a
            // phrase's scorer minds being probed backwards (SeekGuardQuery).
            if let [token] = plan.chars.as_slice() {
                return Some(Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.text_chars, &token.text),
                    IndexRecordOption::Basic,
                )));
            }
            return Some(Box::new(SeekGuardQuery(plan.chars_query(self.fields.text_chars)?)));
        }
        let mut clauses = plan.clauses(self.fields.text_chars, self.fields.text_words, DEFAULT_WORDS_BOOST)?;
        if let Some(title) = plan.words_query(self.fields.title_words) {
            clauses.push((Occur::Should, Box::new(BoostQuery::new(title, TITLE_BOOST))));
        }
        // Not a plain boolean: its scorer would find the recall clause's
        // first match in each segment before a tenant filter is applied.
        Some(super::ranked::RankedQuery::of(clauses, &self.errors))
    }

    pub(super) fn field(&self, filter: &FieldFilter) -> Box<dyn TQuery> {
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
            FieldFilter::Has(caselog_core::HasWhat::Attachment) => text(f.has, crate::index::schema::HAS_ATTACHMENT),
        };
        Box::new(ConstScoreQuery::new(q, 0.0))
    }

    /// The terms of [`Self::bare`]'s clauses, one per clause: a document
    /// its clause matches holds that term.
    pub(super) fn bare_terms(&self, reference: &BareReference) -> Vec<Term> {
        let f = self.fields;
        match reference {
            BareReference::CaseNumber(n) => vec![
                Term::from_field_text(f.number, n.as_str()),
                Term::from_field_text(f.case, n.as_str()),
            ],
            BareReference::Order(o) => vec![Term::from_field_text(f.order, o.as_str())],
            BareReference::Asin(a) => vec![Term::from_field_text(f.asin, a.as_str())],
        }
    }

    /// The clause finding the case a bare reference names (and, for a case
    /// number, the cases that reference it, such as its follow-up, next).
    pub(super) fn bare(&self, reference: &BareReference) -> Box<dyn TQuery> {
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
pub(super) struct Context {
    /// Under an odd number of negations: its words are not highlighted.
    pub(super) negated: bool,
    /// Under any negation: it never scores, and exclusions probe it.
    pub(super) under_not: bool,
    /// Every match must match it (only And parts lead to it from the top).
    pub(super) required: bool,
}

impl Context {
    pub(super) fn not(self) -> Context {
        Context {
            negated: !self.negated,
            under_not: true,
            required: false,
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
pub(super) struct SeekGuardQuery(Box<dyn TQuery>);

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

pub(super) struct SeekGuardWeight(Box<dyn Weight>);

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

pub(super) struct SeekGuard(Box<dyn Scorer>);

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

/// The cases `q` matches within `filter` (the tenant scope). The filter
/// is the first clause: tantivy makes an intersection's scorers in clause
/// order and stops at the first with no document in the segment, so a
/// segment without the tenant costs one term lookup, not the words' too.
pub(super) fn within(filter: Box<dyn TQuery>, q: Box<dyn TQuery>) -> Box<dyn TQuery> {
    Box::new(BooleanQuery::new(vec![(Occur::Must, filter), (Occur::Must, q)]))
}

/// Any of `clauses` within `filter`: for two or three clauses the union
/// of each within the filter ([`Planner::or_within`]; also a bare
/// reference's two alternatives), otherwise the filter around their union.
pub(super) fn any_within(filter: Box<dyn TQuery>, clauses: Vec<Box<dyn TQuery>>) -> Box<dyn TQuery> {
    match clauses.len() {
        0 => within(filter, Box::new(AllQuery)),
        2..=MAX_DISTRIBUTED_OR => Box::new(BooleanQuery::new(
            clauses
                .into_iter()
                .map(|q| (Occur::Should, within(filter.box_clone(), q)))
                .collect(),
        )),
        _ => within(
            filter,
            Box::new(BooleanQuery::new(
                clauses.into_iter().map(|q| (Occur::Should, q)).collect(),
            )),
        ),
    }
}

/// `q` negated: every case but those `q` matches.
pub(super) fn exclude(q: Box<dyn TQuery>) -> Box<dyn TQuery> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(AllQuery)),
        (Occur::MustNot, q),
    ]))
}
