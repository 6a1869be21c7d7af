//! The search query language: one string as a user types it in the search
//! box, parsed into a [`Query`] tree that the search layer executes.
//!
//! # Language
//!
//! ```text
//! query       = [ sequence ]                    ; empty or blank: every case
//! sequence    = alternative { alternative }     ; implicit AND
//! alternative = unary { "OR" unary }            ; OR binds tighter than AND
//! unary       = [ "-" ] primary                 ; "-" directly before its term
//! primary     = "(" sequence ")" | phrase | field | "*" | word
//! phrase      = '"' text '"'                    ; \" and \\ are escapes inside
//! field       = name ":" ( bare-value | phrase-quoted-value )
//! ```
//!
//! - Terms are separated by white space (any Unicode white space, so the
//!   ideographic space of CJK input methods works too). A bare term ends at
//!   white space, a quote or a parenthesis.
//! - `refund delayed` finds cases with both words; `a b OR c` means
//!   `a AND (b OR c)`; parentheses group: `(a OR b) -c`.
//! - `OR` is a keyword only in upper case and on its own; `or` is a word.
//! - `-` directly before a word, phrase, field, `*` or group excludes it. A
//!   `-` on its own, and terms starting with `--` (`--force`), are words.
//! - `*` on its own matches every case (so `-*` matches none).
//! - `name:value` with a known field name (case-insensitive) is a filter;
//!   see [`FieldName`] for the fields and their values. Any other name made
//!   of ASCII letters and `_` is an [`QueryErrorKind::UnknownField`] error,
//!   so the internal `tenant` field can never be reached from query text
//!   (every search is scoped by the caller, never by the query). A term whose
//!   text before `:` is not such a name (`10:30`, `:-)`) is a word.
//! - Inside quotes, `\"` is a quote and `\\` a backslash; any other
//!   backslash is kept as written. White space inside a phrase is collapsed
//!   to single spaces.
//!
//! # Semantics decisions
//!
//! - An empty or blank query is not an error: it parses to [`Query::All`]
//!   (the "All cases" view with no search text).
//! - A query of only exclusions (`-spam`) means "every case except".
//! - Dates are UTC days and a [`DateRange`] is a half-open range of instants
//!   `[start, end)`: `created:2026-01-01..2026-01-31` is
//!   `[2026-01-01T00:00Z, 2026-02-01T00:00Z)`.
//! - A bare case number, order id or ASIN typed alone is reported in
//!   [`ParsedQuery::bare_reference`] so the search can rank that case first;
//!   the root stays an ordinary [`Query::Word`].
//! - Every limit in [`QueryLimits`] is checked, and exceeding one is an
//!   error, never a silent truncation. Parsing is linear in the input and
//!   recursion is bounded by the nesting limit, so no input can exhaust the
//!   stack.

use std::fmt;
use std::iter::Peekable;

use thiserror::Error;

use crate::category::Category;
use crate::error::{excerpt, ValidationError};
use crate::ident_enum::ident_enum;
use crate::ids::{CaseNumber, Marketplace, UserId};
use crate::lifecycle::Status;
use crate::refs::{Asin, BareReference, OrderId, Sku};
use crate::timestamp::{Span, Timestamp, DAY_MS};

ident_enum! {
    /// A field a query may filter on, as written before the `:`.
    FieldName, "field" {
        /// `number:` — the case number, exact (any stored number, including
        /// imported ones).
        Number = "number",
        /// `order:` — an order id the case references (`112-1234567-1234567`).
        Order = "order",
        /// `asin:` — an ASIN the case references (normalised to upper case).
        Asin = "asin",
        /// `sku:` — a SKU the case references, ignoring case.
        Sku = "sku",
        /// `status:` — a lifecycle status such as `open` or `needs_attention`.
        Status = "status",
        /// `category:` — a category identifier such as `fba_inventory`.
        Category = "category",
        /// `marketplace:` — a marketplace code such as `DE`.
        Marketplace = "marketplace",
        /// `by:` — the user who created the case or was handed it, exact.
        By = "by",
        /// `created:` — the creation day or days (see [`DateRange`]).
        Created = "created",
        /// `updated:` — the day or days of the last change (see [`DateRange`]).
        Updated = "updated",
        /// `case:` — a related case number the case references (a
        /// follow-up names the case it continues), exact.
        Case = "case",
        /// `attachment:` — a word of an attachment's name, or the whole
        /// name, ignoring case (see [`attachment_name_keys`]).
        Attachment = "attachment",
        /// `has:` — the case has something; see [`HasWhat`].
        Has = "has",
        /// `assignee:` — the support agent the case is assigned to, exact
        /// (support's *My cases*).
        Assignee = "assignee",
    }
}

ident_enum! {
    /// What `has:` asks a case to have.
    HasWhat, "has: value" {
        /// At least one attachment (with or without stored content).
        Attachment = "attachment",
    }
}

/// The forms of an attachment name that `attachment:` matches: the whole
/// name and each run of letters and digits in it, lower-cased
/// (`Invoice_2026.pdf` gives `invoice_2026.pdf`, `invoice`, `2026`, `pdf`).
/// The index stores these and the query value is lower-cased, so the
/// brute-force oracle and the index agree by construction of one function.
pub fn attachment_name_keys(name: &str) -> Vec<String> {
    let whole = name.trim().to_lowercase();
    let mut keys: Vec<String> = whole
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if !whole.is_empty() {
        keys.push(whole);
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The limits a query must stay within. Exceeding one is a typed error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueryLimits {
    /// Longest query in characters (Unicode scalar values). Default 1,024.
    pub max_chars: usize,
    /// Most terms: words, phrases, field filters and `*`, counted as
    /// written. Default 32.
    pub max_terms: usize,
    /// Deepest nesting of parentheses. Default 8. Values above
    /// [`QueryLimits::MAX_DEPTH_CAP`] are treated as that cap, because the
    /// parser and every consumer of the tree recurse once per level.
    pub max_depth: usize,
}

impl QueryLimits {
    /// The defaults: 1,024 characters, 32 terms, nesting depth 8.
    pub const DEFAULT: QueryLimits = QueryLimits {
        max_chars: 1_024,
        max_terms: 32,
        max_depth: 8,
    };

    /// The deepest nesting any configuration can allow.
    pub const MAX_DEPTH_CAP: usize = 64;

    fn depth_limit(&self) -> usize {
        self.max_depth.min(Self::MAX_DEPTH_CAP)
    }
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits::DEFAULT
    }
}

/// A range of UTC days, kept as the half-open range of instants
/// `[start, end)`: `start` is the first instant of the first day and `end`
/// the first instant of the day after the last one. `None` is an open end.
///
/// Invariants (the fields are private so they hold): both ends are at the
/// start of a UTC day, the range is not empty, an end at the limit of
/// [`Timestamp`]'s range is stored as open (`None`), so equal ranges compare
/// equal and every range prints as query text that parses back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    start: Option<Timestamp>,
    end: Option<Timestamp>,
}

/// The UTC day number (days since 1970-01-01) of an instant.
fn day_of(t: Timestamp) -> i64 {
    t.as_millis().div_euclid(DAY_MS)
}

fn min_day() -> i64 {
    day_of(Timestamp::MIN)
}

fn max_day() -> i64 {
    day_of(Timestamp::MAX)
}

impl DateRange {
    /// Builds the range from inclusive first and last day numbers (`None`:
    /// open). `None` when the range is empty.
    fn from_days(first: Option<i64>, last: Option<i64>) -> Option<DateRange> {
        let first = first.unwrap_or(min_day());
        let last = last.unwrap_or(max_day());
        if first > last || first > max_day() || last < min_day() {
            return None;
        }
        let at_day = |d: i64| d.checked_mul(DAY_MS).and_then(|ms| Timestamp::from_millis(ms).ok());
        // Nothing is before the first representable day or after the last,
        // so those bounds are stored as open: one form per range.
        let start = if first > min_day() { Some(at_day(first)?) } else { None };
        let end = if last < max_day() {
            Some(at_day(last.checked_add(1)?)?)
        } else {
            None
        };
        Some(DateRange { start, end })
    }

    /// Every case: both ends open. Only reached through the always-valid
    /// constructors' impossible failure paths.
    const ANY: DateRange = DateRange { start: None, end: None };

    /// The UTC day of `t`.
    pub fn day(t: Timestamp) -> DateRange {
        let d = day_of(t);
        DateRange::from_days(Some(d), Some(d)).unwrap_or(DateRange::ANY)
    }

    /// The UTC days from `first`'s day to `last`'s day, both inclusive.
    /// An error if `first`'s day is after `last`'s.
    pub fn days(first: Timestamp, last: Timestamp) -> Result<DateRange, ValidationError> {
        DateRange::from_days(Some(day_of(first)), Some(day_of(last))).ok_or_else(|| ValidationError::OutOfRange {
            field: "date range",
            value: format!("{}..{}", first.day_string(), last.day_string()),
            range: "the first day must not be after the last day",
        })
    }

    /// From `t`'s UTC day on (inclusive), with no end.
    pub fn since_day(t: Timestamp) -> DateRange {
        DateRange::from_days(Some(day_of(t)), None).unwrap_or(DateRange::ANY)
    }

    /// Up to and including `t`'s UTC day, with no start.
    pub fn through_day(t: Timestamp) -> DateRange {
        DateRange::from_days(None, Some(day_of(t))).unwrap_or(DateRange::ANY)
    }

    /// The first instant in the range, or `None` if it has no start.
    pub fn start(&self) -> Option<Timestamp> {
        self.start
    }

    /// The first instant after the range (exclusive), or `None` if it has
    /// no end.
    pub fn end(&self) -> Option<Timestamp> {
        self.end
    }

    /// Whether `t` is in the range: `start <= t < end`.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t < e)
    }
}

impl fmt::Display for DateRange {
    /// The query syntax for the range: `2026-01-05`, `2026-01-01..2026-01-31`,
    /// `2026-03-01..` or `..2026-01-31`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `end` is a day start after the first representable day, so the
        // previous day always exists.
        let last = self.end.map(|e| e.saturating_sub(Span::days(1)).day_string());
        match (self.start.map(Timestamp::day_string), last) {
            (Some(first), Some(last)) if first == last => f.write_str(&first),
            (Some(first), Some(last)) => write!(f, "{first}..{last}"),
            (Some(first), None) => write!(f, "{first}.."),
            (None, Some(last)) => write!(f, "..{last}"),
            (None, None) => write!(f, "{}..", Timestamp::MIN.day_string()),
        }
    }
}

/// A filter on one field of a case. Values are validated and normalised by
/// the core parsers of their types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldFilter {
    /// `number:` — the case's own number, exact.
    Number(CaseNumber),
    /// `order:` — the case references this order id.
    Order(OrderId),
    /// `asin:` — the case references this ASIN.
    Asin(Asin),
    /// `sku:` — the case references this SKU, ignoring case.
    Sku(Sku),
    /// `status:` — the case is in this status.
    Status(Status),
    /// `category:` — the case has this category.
    Category(Category),
    /// `marketplace:` — the case is on this marketplace.
    Marketplace(Marketplace),
    /// `by:` — the case was created by, or handed to, this user, exact
    /// (the seller side's *My cases*).
    By(UserId),
    /// `created:` — the case was created in this range.
    Created(DateRange),
    /// `updated:` — the case last changed in this range.
    Updated(DateRange),
    /// `case:` — the case references this case number (`refs.cases`).
    Case(CaseNumber),
    /// `attachment:` — one of the case's attachments has this name key
    /// (compared trimmed and lower-cased; see [`attachment_name_keys`]).
    Attachment(String),
    /// `has:` — the case has this.
    Has(HasWhat),
    /// `assignee:` — the case is assigned to this support agent, exact.
    Assignee(UserId),
}

impl FieldFilter {
    /// The field this filter is on.
    pub fn name(&self) -> FieldName {
        match self {
            FieldFilter::Number(_) => FieldName::Number,
            FieldFilter::Order(_) => FieldName::Order,
            FieldFilter::Asin(_) => FieldName::Asin,
            FieldFilter::Sku(_) => FieldName::Sku,
            FieldFilter::Status(_) => FieldName::Status,
            FieldFilter::Category(_) => FieldName::Category,
            FieldFilter::Marketplace(_) => FieldName::Marketplace,
            FieldFilter::By(_) => FieldName::By,
            FieldFilter::Created(_) => FieldName::Created,
            FieldFilter::Updated(_) => FieldName::Updated,
            FieldFilter::Case(_) => FieldName::Case,
            FieldFilter::Attachment(_) => FieldName::Attachment,
            FieldFilter::Has(_) => FieldName::Has,
            FieldFilter::Assignee(_) => FieldName::Assignee,
        }
    }

    /// Whether `doc` passes this filter.
    pub fn matches<M: Matchable + ?Sized>(&self, doc: &M) -> bool {
        match self {
            FieldFilter::Number(n) => doc.number() == n,
            FieldFilter::Order(o) => doc.orders().contains(o),
            FieldFilter::Asin(a) => doc.asins().contains(a),
            FieldFilter::Sku(s) => {
                let wanted = s.as_str().to_lowercase();
                doc.skus().iter().any(|have| have.as_str().to_lowercase() == wanted)
            }
            FieldFilter::Status(s) => doc.status() == *s,
            FieldFilter::Category(c) => doc.category() == *c,
            FieldFilter::Marketplace(m) => doc.marketplace() == m,
            FieldFilter::By(u) => doc.created_by() == u || doc.handler() == Some(u),
            FieldFilter::Created(r) => r.contains(doc.created_at()),
            FieldFilter::Updated(r) => r.contains(doc.updated_at()),
            FieldFilter::Case(n) => doc.related_cases().contains(n),
            FieldFilter::Attachment(key) => {
                // A hand-built filter may not be in normal form.
                let key = key.trim().to_lowercase();
                doc.attachment_names()
                    .iter()
                    .any(|name| attachment_name_keys(name).contains(&key))
            }
            FieldFilter::Has(HasWhat::Attachment) => !doc.attachment_names().is_empty(),
            FieldFilter::Assignee(u) => doc.assignee() == Some(u),
        }
    }
}

impl fmt::Display for FieldFilter {
    /// `name:value`, the value quoted when it has to be.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.name())?;
        match self {
            FieldFilter::Number(v) => write_value(f, v.as_str()),
            FieldFilter::Order(v) => write_value(f, v.as_str()),
            FieldFilter::Asin(v) => write_value(f, v.as_str()),
            FieldFilter::Sku(v) => write_value(f, v.as_str()),
            FieldFilter::Status(v) => write_value(f, v.as_str()),
            FieldFilter::Category(v) => write_value(f, v.as_str()),
            FieldFilter::Marketplace(v) => write_value(f, v.as_str()),
            FieldFilter::By(v) | FieldFilter::Assignee(v) => write_value(f, v.as_str()),
            FieldFilter::Case(v) => write_value(f, v.as_str()),
            FieldFilter::Attachment(v) => write_value(f, v),
            FieldFilter::Has(v) => write_value(f, v.as_str()),
            FieldFilter::Created(r) | FieldFilter::Updated(r) => write!(f, "{r}"),
        }
    }
}

/// A parsed search query.
///
/// The parser returns queries in normal form (see [`Query::normalised`]);
/// its [`Display`](fmt::Display) prints canonical query text that parses
/// back to the normal form.
///
/// Consumers recurse over the tree; trees from [`parse`] are at most a few
/// levels per allowed nesting level deep. A host that builds trees by hand
/// should keep them shallow too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Query {
    /// Every part must match. An empty list matches every case.
    And(Vec<Query>),
    /// At least one part must match. An empty list matches no case.
    Or(Vec<Query>),
    /// The part must not match.
    Not(Box<Query>),
    /// A word of the case's text, as the search layer's text analysis
    /// defines it (that layer owns tokenising, case folding and CJK).
    Word(String),
    /// A phrase of the case's text: its words adjacent and in order.
    Phrase(String),
    /// A filter on a field.
    Field(FieldFilter),
    /// Every case (`*`, or the empty query).
    All,
}

impl From<FieldFilter> for Query {
    fn from(filter: FieldFilter) -> Query {
        Query::Field(filter)
    }
}

impl Query {
    /// The normal form: nested `And`s and `Or`s flattened into their parent,
    /// one-part `And`/`Or` replaced by the part, `All` dropped from `And`
    /// (and an `Or` with an `All` part becomes `All`), an empty `And` is
    /// `All` and an empty `Or` is `Not(All)`. Phrase text has its white space
    /// collapsed to single spaces, and a phrase with no text is `All`. A
    /// `Word` the parser could not have produced (with white space, quotes,
    /// parentheses, a leading `-` that would read as a negation, the keyword
    /// `OR`, a `name:` prefix, or just `*`) becomes a `Phrase` of its text,
    /// because that is how it can be written in a query.
    ///
    /// Double negation is kept: `Not(Not(q))` prints as `-(-q)`.
    pub fn normalised(self) -> Query {
        match self {
            Query::And(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for part in parts {
                    match part.normalised() {
                        Query::And(inner) => out.extend(inner),
                        Query::All => {}
                        other => out.push(other),
                    }
                }
                collapse(out, Query::And, Query::All)
            }
            Query::Or(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for part in parts {
                    match part.normalised() {
                        Query::Or(inner) => out.extend(inner),
                        Query::All => return Query::All,
                        other => out.push(other),
                    }
                }
                collapse(out, Query::Or, Query::Not(Box::new(Query::All)))
            }
            Query::Not(inner) => Query::Not(Box::new(inner.normalised())),
            Query::Word(w) if is_plain_word(&w) => Query::Word(w),
            Query::Word(text) | Query::Phrase(text) => phrase_query(&text).unwrap_or(Query::All),
            // `attachment:` keys are trimmed and lower-cased; an empty one
            // matches nothing.
            Query::Field(FieldFilter::Attachment(key)) => {
                let key = key.trim().to_lowercase();
                if key.is_empty() {
                    Query::Not(Box::new(Query::All))
                } else {
                    Query::Field(FieldFilter::Attachment(key))
                }
            }
            other @ (Query::Field(_) | Query::All) => other,
        }
    }

    /// Evaluates the query against one case by brute force: the test oracle
    /// for the search layer. Words and phrases are matched by `doc`.
    pub fn matches<M: Matchable + ?Sized>(&self, doc: &M) -> bool {
        match self {
            Query::And(parts) => parts.iter().all(|q| q.matches(doc)),
            Query::Or(parts) => parts.iter().any(|q| q.matches(doc)),
            Query::Not(inner) => !inner.matches(doc),
            Query::Word(w) => doc.matches_word(w),
            Query::Phrase(p) => doc.matches_phrase(p),
            Query::Field(filter) => filter.matches(doc),
            Query::All => true,
        }
    }
}

/// Builds `make(parts)` unless there are fewer than two parts.
fn collapse(mut parts: Vec<Query>, make: fn(Vec<Query>) -> Query, empty: Query) -> Query {
    match parts.len() {
        0 => empty,
        1 => parts.pop().unwrap_or(empty),
        _ => make(parts),
    }
}

/// Where a query part is printed, to decide whether it needs parentheses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    And,
    Or,
    Not,
}

impl fmt::Display for Query {
    /// Canonical query text: the normal form, with parentheses only where
    /// precedence needs them. `parse` of this text gives back
    /// `self.clone().normalised()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_query(f, &self.clone().normalised(), Ctx::Top)
    }
}

fn write_query(f: &mut fmt::Formatter<'_>, q: &Query, ctx: Ctx) -> fmt::Result {
    match q {
        Query::All => f.write_str("*"),
        Query::Word(w) if is_plain_word(w) => {
            // `-` + a word starting with `-` would read as the word `--…`.
            if ctx == Ctx::Not && w.starts_with('-') {
                write!(f, "({w})")
            } else {
                f.write_str(w)
            }
        }
        Query::Word(text) | Query::Phrase(text) => write_quoted(f, &collapse_space(text)),
        Query::Field(filter) => write!(f, "{filter}"),
        Query::Not(inner) => {
            f.write_str("-")?;
            if matches!(**inner, Query::Not(_)) {
                f.write_str("(")?;
                write_query(f, inner, Ctx::Top)?;
                f.write_str(")")
            } else {
                write_query(f, inner, Ctx::Not)
            }
        }
        Query::And(parts) => write_list(f, parts, " ", Ctx::And, matches!(ctx, Ctx::Or | Ctx::Not)),
        Query::Or(parts) => write_list(f, parts, " OR ", Ctx::Or, ctx == Ctx::Not),
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, parts: &[Query], sep: &str, ctx: Ctx, paren: bool) -> fmt::Result {
    if paren {
        f.write_str("(")?;
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write_query(f, part, ctx)?;
    }
    if paren {
        f.write_str(")")?;
    }
    Ok(())
}

/// Writes `text` in quotes, escaping `"` and `\`.
fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// Writes a field value bare when it reads back as one bare value.
fn write_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if !value.is_empty() && value.chars().all(is_run_char) {
        f.write_str(value)
    } else {
        write_quoted(f, value)
    }
}

/// Characters of a bare term: everything but white space, quotes and
/// parentheses.
fn is_run_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '"' | '(' | ')')
}

/// Whether `text` starts with `name:` where `name` is a field-like
/// identifier (ASCII letters and `_`).
fn has_field_prefix(text: &str) -> bool {
    text.split_once(':')
        .is_some_and(|(name, _)| is_field_like(name.chars()))
}

fn is_field_like(mut name: impl Iterator<Item = char>) -> bool {
    let mut any = false;
    let all = name.all(|c| {
        any = true;
        c.is_ascii_alphabetic() || c == '_'
    });
    any && all
}

/// Whether `w` written bare reads back as exactly `Word(w)`.
fn is_plain_word(w: &str) -> bool {
    if w.is_empty() || !w.chars().all(is_run_char) || w == "*" || w == "OR" || has_field_prefix(w) {
        return false;
    }
    match w.strip_prefix('-') {
        // `-`, `--…` and `-OR` are words; any other `-x` negates `x`.
        Some(rest) => rest.is_empty() || rest.starts_with('-') || rest == "OR",
        None => true,
    }
}

fn collapse_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The phrase for `text`, or `None` if it has no text.
fn phrase_query(text: &str) -> Option<Query> {
    let text = collapse_space(text);
    (!text.is_empty()).then_some(Query::Phrase(text))
}

/// What a case must offer to be matched by [`Query::matches`], the
/// brute-force evaluator the search layer tests its index against.
///
/// Field semantics: `number:` is the case's own number, exact; `order:` and
/// `asin:` must equal one of the case's references (both sides normalised
/// by their parsers); `sku:` compares after Unicode lower-casing; `by:` is
/// the creator, exact; dates are tested with [`DateRange::contains`].
pub trait Matchable {
    /// Whether the case's text contains `word`, as the search layer's text
    /// analysis defines it.
    fn matches_word(&self, word: &str) -> bool;
    /// Whether the case's text contains `phrase` (its words adjacent and in
    /// order), as the search layer's text analysis defines it.
    fn matches_phrase(&self, phrase: &str) -> bool;
    /// The case number.
    fn number(&self) -> &CaseNumber;
    /// The order ids the case references.
    fn orders(&self) -> &[OrderId];
    /// The ASINs the case references.
    fn asins(&self) -> &[Asin];
    /// The SKUs the case references.
    fn skus(&self) -> &[Sku];
    /// The case's status.
    fn status(&self) -> Status;
    /// The case's category.
    fn category(&self) -> Category;
    /// The case's marketplace.
    fn marketplace(&self) -> &Marketplace;
    /// The user who created the case.
    fn created_by(&self) -> &UserId;
    /// The user of the tenant the case is handed to, if any.
    fn handler(&self) -> Option<&UserId> {
        None
    }
    /// The support agent the case is assigned to, if any.
    fn assignee(&self) -> Option<&UserId> {
        None
    }
    /// When the case was created.
    fn created_at(&self) -> Timestamp;
    /// When the case last changed.
    fn updated_at(&self) -> Timestamp;
    /// The related case numbers the case references (`refs.cases`).
    fn related_cases(&self) -> &[CaseNumber];
    /// The names of every attachment in the case's thread.
    fn attachment_names(&self) -> &[String];
}

/// The result of [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuery {
    /// The query, in normal form.
    pub root: Query,
    /// Set when the whole query is one bare word that is a case number
    /// (default format), an order id or an ASIN, so the search ranks that
    /// case first. The root is then that `Word`.
    pub bare_reference: Option<BareReference>,
}

/// A query that could not be parsed, and where.
///
/// `position` counts characters (Unicode scalar values) from 0. The message
/// counts columns from 1, as editors do: position 0 prints as "at column 1".
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("at column {}: {}", .position.saturating_add(1), .kind)]
pub struct QueryError {
    /// What is wrong.
    pub kind: QueryErrorKind,
    /// The 0-based character position of the problem (at most the query's
    /// length in characters).
    pub position: usize,
}

impl QueryError {
    fn new(position: usize, kind: QueryErrorKind) -> Self {
        QueryError { kind, position }
    }
}

/// What is wrong with a query.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueryErrorKind {
    /// A quote was opened and never closed. Position: the opening quote.
    #[error("unclosed quote: add a closing \"")]
    UnclosedQuote,
    /// Quotes with nothing in them. Position: the opening quote.
    #[error("empty quotes")]
    EmptyPhrase,
    /// A `(` was never closed. Position: the `(`.
    #[error("unclosed parenthesis: add a closing )")]
    UnclosedParen,
    /// A `)` without a matching `(`. Position: the `)`.
    #[error("')' without a matching '('")]
    UnmatchedParen,
    /// Parentheses with nothing in them. Position: the `(`.
    #[error("empty parentheses")]
    EmptyGroup,
    /// `OR` without a term on one side. Position: the `OR`.
    #[error("OR needs a term on each side")]
    DanglingOr,
    /// `field:` with no value. Position: just after the `:`.
    #[error("{field}: missing value after ':' (to match one of several values, write {field}:a OR {field}:b)")]
    MissingValue {
        /// The field.
        field: FieldName,
    },
    /// `name:` with a name that is not a search field. Position: the name.
    #[error(
        "unknown field {name:?}: search fields are number, order, asin, sku, status, category, marketplace, by, \
         created, updated, case, attachment and has (put text in quotes to search for it as written)"
    )]
    UnknownField {
        /// The name as written (an excerpt if long).
        name: String,
    },
    /// A field value its parser refused. Position: the value (for a date
    /// range, the day that is wrong).
    #[error("invalid {field} value: {error}")]
    InvalidValue {
        /// The field.
        field: FieldName,
        /// Why the value was refused.
        error: ValidationError,
    },
    /// A date range that contains no day (it starts after it ends).
    /// Position: the value.
    #[error("{field}: the date range is empty (it starts after it ends)")]
    BadDateRange {
        /// The field.
        field: FieldName,
    },
    /// The query is longer than allowed. Position: the first character past
    /// the limit.
    #[error("query too long: {len} characters, at most {max} allowed")]
    TooLong {
        /// The query's length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The query has more terms than allowed. Position: the first term past
    /// the limit.
    #[error("too many terms: {count}, at most {max} allowed")]
    TooManyTerms {
        /// The number of terms in the query.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Parentheses nest deeper than allowed. Position: the first `(` past
    /// the limit.
    #[error("parentheses nested too deeply: at most {max} levels allowed")]
    TooDeep {
        /// The limit.
        max: usize,
    },
}

/// Parses a query as a user typed it.
///
/// See the [module documentation](self) for the language. Errors carry the
/// character position of the problem; no input panics or runs for long.
///
/// ```
/// use caselog_core::{parse, FieldFilter, Query, QueryErrorKind, QueryLimits, Status};
///
/// let limits = QueryLimits::default();
/// let parsed = parse("refund status:open -spam", &limits)?;
/// assert_eq!(
///     parsed.root,
///     Query::And(vec![
///         Query::Word("refund".into()),
///         Query::Field(FieldFilter::Status(Status::Open)),
///         Query::Not(Box::new(Query::Word("spam".into()))),
///     ])
/// );
/// // Printing gives canonical text that parses back to the same query.
/// assert_eq!(parse(&parsed.root.to_string(), &limits)?.root, parsed.root);
///
/// // OR binds tighter than the implicit AND.
/// assert_eq!(parse("a b OR c", &limits)?.root.to_string(), "a b OR c");
/// assert_eq!(parse("(a b) OR c", &limits)?.root.to_string(), "(a b) OR c");
///
/// // A case number typed alone is flagged for the search to rank first.
/// assert!(parse("17281736451", &limits)?.bare_reference.is_some());
///
/// // The tenant is never reachable from query text.
/// let err = parse("refund tenant:other", &limits).unwrap_err();
/// assert!(matches!(err.kind, QueryErrorKind::UnknownField { .. }));
/// assert_eq!(err.position, 7);
/// assert!(err.to_string().starts_with("at column 8: unknown field \"tenant\""));
/// # Ok::<(), caselog_core::QueryError>(())
/// ```
pub fn parse(text: &str, limits: &QueryLimits) -> Result<ParsedQuery, QueryError> {
    let len = text.chars().count();
    if len > limits.max_chars {
        return Err(QueryError::new(
            limits.max_chars,
            QueryErrorKind::TooLong {
                len,
                max: limits.max_chars,
            },
        ));
    }
    let chars: Vec<char> = text.chars().collect();
    let tokens = Lexer::new(&chars).run()?;
    check_terms(&tokens, limits.max_terms)?;
    let mut parser = Parser {
        tokens: tokens.into_iter().peekable(),
        max_depth: limits.depth_limit(),
    };
    let root = parser.sequence(0, None)?.normalised();
    let trimmed = text.trim();
    let bare_reference = match &root {
        Query::Word(w) if w == trimmed => BareReference::recognise(w),
        _ => None,
    };
    Ok(ParsedQuery { root, bare_reference })
}

/// Fails if there are more leaf terms than `max`, pointing at the first one
/// past the limit. Runs before parsing so no work is done on the excess.
fn check_terms(tokens: &[Token], max: usize) -> Result<(), QueryError> {
    let mut leaves = tokens.iter().filter(|t| matches!(t.kind, Kind::Leaf(_)));
    let count = leaves.clone().count();
    match leaves.nth(max) {
        Some(first_excess) => Err(QueryError::new(
            first_excess.pos,
            QueryErrorKind::TooManyTerms { count, max },
        )),
        None => Ok(()),
    }
}

#[derive(Debug)]
enum Kind {
    Open,
    Close,
    Or,
    Leaf(Query),
}

#[derive(Debug)]
struct Token {
    /// Character position of the token (after any `-`).
    pos: usize,
    /// Whether a `-` directly before it negates it.
    neg: bool,
    kind: Kind,
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    tokens: Vec<Token>,
    /// A `-` directly before a quote or `(` waits here for its token.
    pending_not: bool,
}

impl<'a> Lexer<'a> {
    fn new(chars: &'a [char]) -> Self {
        Lexer {
            chars,
            pos: 0,
            tokens: Vec::new(),
            pending_not: false,
        }
    }

    fn run(mut self) -> Result<Vec<Token>, QueryError> {
        while let Some(&c) = self.chars.get(self.pos) {
            let start = self.pos;
            match c {
                c if c.is_whitespace() => self.pos += 1,
                '(' => {
                    self.pos += 1;
                    self.push(start, Kind::Open);
                }
                ')' => {
                    self.pos += 1;
                    self.push(start, Kind::Close);
                }
                '"' => {
                    let (text, next) = read_quoted(self.chars, start)?;
                    self.pos = next;
                    let phrase = phrase_query(&text).ok_or(QueryError::new(start, QueryErrorKind::EmptyPhrase))?;
                    self.push(start, Kind::Leaf(phrase));
                }
                _ => {
                    let end = self.chars.iter().skip(start).take_while(|c| is_run_char(**c)).count() + start;
                    self.pos = end;
                    self.bare(start, end)?;
                }
            }
        }
        Ok(self.tokens)
    }

    fn push(&mut self, pos: usize, kind: Kind) {
        let neg = std::mem::take(&mut self.pending_not);
        self.tokens.push(Token { pos, neg, kind });
    }

    fn slice(&self, start: usize, end: usize) -> &'a [char] {
        self.chars.get(start..end).unwrap_or(&[])
    }

    /// A bare run `chars[start..end]`: the keyword `OR`, a negation, or a term.
    fn bare(&mut self, start: usize, end: usize) -> Result<(), QueryError> {
        match self.slice(start, end) {
            ['O', 'R'] => self.push(start, Kind::Or),
            ['-'] => {
                if matches!(self.chars.get(end), Some('"' | '(')) {
                    self.pending_not = true;
                } else {
                    self.push(start, Kind::Leaf(Query::Word("-".to_owned())));
                }
            }
            // `--x` and `-OR` stay words: see `is_plain_word`.
            ['-', rest @ ..] if !matches!(rest, ['-', ..] | ['O', 'R']) => {
                self.pending_not = true;
                self.term(start + 1, end)?;
            }
            _ => self.term(start, end)?,
        }
        Ok(())
    }

    /// A bare term `chars[start..end]`: `*`, a field filter or a word.
    fn term(&mut self, start: usize, end: usize) -> Result<(), QueryError> {
        let run = self.slice(start, end);
        if run == ['*'] {
            self.push(start, Kind::Leaf(Query::All));
            return Ok(());
        }
        if let Some(colon) = run.iter().position(|c| *c == ':') {
            let name = run.get(..colon).unwrap_or(&[]);
            if is_field_like(name.iter().copied()) {
                let name: String = name.iter().collect();
                let field = FieldName::parse(&name)
                    .map_err(|_| QueryError::new(start, QueryErrorKind::UnknownField { name: excerpt(&name) }))?;
                let value_pos = start + colon + 1;
                let filter = if value_pos < end {
                    let value: String = self.slice(value_pos, end).iter().collect();
                    field_filter(field, &value, value_pos, false)?
                } else if self.chars.get(end) == Some(&'"') {
                    let (value, next) = read_quoted(self.chars, end)?;
                    self.pos = next;
                    field_filter(field, &value, end, true)?
                } else {
                    return Err(QueryError::new(value_pos, QueryErrorKind::MissingValue { field }));
                };
                self.push(start, Kind::Leaf(Query::Field(filter)));
                return Ok(());
            }
        }
        self.push(start, Kind::Leaf(Query::Word(run.iter().collect())));
        Ok(())
    }
}

/// Reads the quoted text opening at `open`: its unescaped content and the
/// position after the closing quote.
fn read_quoted(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let mut out = String::new();
    let mut i = open + 1;
    loop {
        match chars.get(i) {
            None => return Err(QueryError::new(open, QueryErrorKind::UnclosedQuote)),
            Some('"') => return Ok((out, i + 1)),
            Some('\\') => match chars.get(i + 1) {
                Some(&c @ ('"' | '\\')) => {
                    out.push(c);
                    i += 2;
                }
                _ => {
                    out.push('\\');
                    i += 1;
                }
            },
            Some(&c) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// Validates a field value at character position `pos`. For a quoted value
/// positions inside it are not tracked (escapes shift them), so errors
/// point at its opening quote.
fn field_filter(field: FieldName, value: &str, pos: usize, quoted: bool) -> Result<FieldFilter, QueryError> {
    let invalid = |error| QueryError::new(pos, QueryErrorKind::InvalidValue { field, error });
    match field {
        FieldName::Number => CaseNumber::parse_imported(value)
            .map(FieldFilter::Number)
            .map_err(invalid),
        FieldName::Order => OrderId::parse(value).map(FieldFilter::Order).map_err(invalid),
        FieldName::Asin => Asin::parse(value).map(FieldFilter::Asin).map_err(invalid),
        FieldName::Sku => Sku::parse(value).map(FieldFilter::Sku).map_err(invalid),
        FieldName::Status => Status::parse(value).map(FieldFilter::Status).map_err(invalid),
        FieldName::Category => Category::parse(value).map(FieldFilter::Category).map_err(invalid),
        FieldName::Marketplace => Marketplace::parse(value).map(FieldFilter::Marketplace).map_err(invalid),
        FieldName::By => UserId::parse(value).map(FieldFilter::By).map_err(invalid),
        FieldName::Assignee => UserId::parse(value).map(FieldFilter::Assignee).map_err(invalid),
        FieldName::Case => CaseNumber::parse_imported(value)
            .map(FieldFilter::Case)
            .map_err(invalid),
        FieldName::Attachment => {
            let key = value.trim().to_lowercase();
            if key.is_empty() {
                Err(invalid(ValidationError::Empty {
                    field: "attachment name",
                }))
            } else {
                Ok(FieldFilter::Attachment(key))
            }
        }
        FieldName::Has => HasWhat::parse(value).map(FieldFilter::Has).map_err(invalid),
        FieldName::Created | FieldName::Updated => {
            let range = parse_date_value(value).map_err(|e| match e {
                DateError::Invalid { offset, source } => QueryError::new(
                    if quoted { pos } else { pos + offset },
                    QueryErrorKind::InvalidValue { field, error: source },
                ),
                DateError::Empty => QueryError::new(pos, QueryErrorKind::BadDateRange { field }),
            })?;
            Ok(if field == FieldName::Created {
                FieldFilter::Created(range)
            } else {
                FieldFilter::Updated(range)
            })
        }
    }
}

enum DateError {
    /// A malformed day at character `offset` of the value.
    Invalid { offset: usize, source: ValidationError },
    /// A well-formed range with no day in it.
    Empty,
}

const DATE_EXPECTED: &str = "a day (2026-01-31), a range (2026-01-01..2026-01-31, 2026-01-01.., ..2026-01-31) \
                             or a comparison (>=2026-03-01, <2026-04-01)";

/// Parses `D`, `A..B`, `A..`, `..B`, `>=D`, `>D`, `<=D` or `<D` (UTC days,
/// ranges inclusive).
fn parse_date_value(value: &str) -> Result<DateRange, DateError> {
    let day = |text: &str, offset: usize| {
        Timestamp::parse_day(text)
            .map(day_of)
            .map_err(|source| DateError::Invalid { offset, source })
    };
    let t = value.trim();
    let (first, last) = if let Some(rest) = t.strip_prefix(">=") {
        (Some(day(rest, 2)?), None)
    } else if let Some(rest) = t.strip_prefix("<=") {
        (None, Some(day(rest, 2)?))
    } else if let Some(rest) = t.strip_prefix('>') {
        (Some(day(rest, 1)?.saturating_add(1)), None)
    } else if let Some(rest) = t.strip_prefix('<') {
        (None, Some(day(rest, 1)?.saturating_sub(1)))
    } else if let Some((left, right)) = t.split_once("..") {
        if left.is_empty() && right.is_empty() {
            return Err(DateError::Invalid {
                offset: 0,
                source: ValidationError::malformed("date", t, DATE_EXPECTED),
            });
        }
        let first = if left.is_empty() { None } else { Some(day(left, 0)?) };
        let last = if right.is_empty() {
            None
        } else {
            Some(day(right, left.chars().count() + 2)?)
        };
        (first, last)
    } else {
        let d = day(t, 0)?;
        (Some(d), Some(d))
    };
    DateRange::from_days(first, last).ok_or(DateError::Empty)
}

struct Parser {
    tokens: Peekable<std::vec::IntoIter<Token>>,
    max_depth: usize,
}

impl Parser {
    /// `sequence`: alternatives up to the end, or up to the `)` closing the
    /// group opened at `open`.
    fn sequence(&mut self, depth: usize, open: Option<usize>) -> Result<Query, QueryError> {
        let mut parts = Vec::new();
        loop {
            if let Some(part) = self.alternative(depth)? {
                parts.push(part);
                continue;
            }
            // `alternative` only declines when no operand comes next.
            match self.tokens.next().map(|t| (t.kind, t.pos)) {
                None => match open {
                    Some(p) => return Err(QueryError::new(p, QueryErrorKind::UnclosedParen)),
                    None => break,
                },
                Some((Kind::Close, pos)) => match open {
                    Some(_) => break,
                    None => return Err(QueryError::new(pos, QueryErrorKind::UnmatchedParen)),
                },
                Some((Kind::Or, pos)) => return Err(QueryError::new(pos, QueryErrorKind::DanglingOr)),
                Some(_) => {}
            }
        }
        match (parts.is_empty(), open) {
            (true, Some(p)) => Err(QueryError::new(p, QueryErrorKind::EmptyGroup)),
            (true, None) => Ok(Query::All),
            (false, _) => Ok(Query::And(parts)),
        }
    }

    /// `alternative`: operands joined by `OR`; `None` if no operand is next.
    fn alternative(&mut self, depth: usize) -> Result<Option<Query>, QueryError> {
        let Some(first) = self.operand(depth)? else {
            return Ok(None);
        };
        let mut alternatives = vec![first];
        while let Some(or) = self.tokens.next_if(|t| matches!(t.kind, Kind::Or)) {
            match self.operand(depth)? {
                Some(q) => alternatives.push(q),
                None => return Err(QueryError::new(or.pos, QueryErrorKind::DanglingOr)),
            }
        }
        Ok(Some(collapse(alternatives, Query::Or, Query::All)))
    }

    /// `unary`: a possibly negated term or group; `None` if none is next.
    fn operand(&mut self, depth: usize) -> Result<Option<Query>, QueryError> {
        let Some(token) = self.tokens.next_if(|t| matches!(t.kind, Kind::Leaf(_) | Kind::Open)) else {
            return Ok(None);
        };
        let q = match token.kind {
            Kind::Leaf(q) => q,
            Kind::Open => {
                // Checked before descending, so recursion depth stays bounded.
                if depth >= self.max_depth {
                    return Err(QueryError::new(
                        token.pos,
                        QueryErrorKind::TooDeep { max: self.max_depth },
                    ));
                }
                self.sequence(depth + 1, Some(token.pos))?
            }
            Kind::Close | Kind::Or => return Ok(None),
        };
        Ok(Some(if token.neg { Query::Not(Box::new(q)) } else { q }))
    }
}

/// Builds a [`Query`] in code, for host apps (a filter sidebar, a saved
/// search). Every added clause must match; [`QueryBuilder::build`] returns
/// the normal form, equal to what [`parse`] gives for the same query text.
///
/// ```
/// use caselog_core::{parse, Category, DateRange, Query, QueryBuilder, QueryLimits, Status, Timestamp};
///
/// let jan = DateRange::days(Timestamp::parse_day("2026-01-01")?, Timestamp::parse_day("2026-01-31")?)?;
/// let built = QueryBuilder::new()
///     .word("refund")
///     .exclude_word("spam")
///     .any_of([Status::Open.into(), Status::InProgress.into()])
///     .category(Category::Payments)
///     .created(jan)
///     .build();
/// let text = "refund -spam status:open OR status:in_progress category:payments created:2026-01-01..2026-01-31";
/// assert_eq!(parse(text, &QueryLimits::default())?.root, built);
/// assert_eq!(built.to_string(), text);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct QueryBuilder {
    clauses: Vec<Query>,
}

impl QueryBuilder {
    /// An empty builder; building it gives [`Query::All`].
    pub fn new() -> Self {
        QueryBuilder::default()
    }

    /// Adds any query as a clause, such as the root of a parsed user query.
    pub fn clause(mut self, q: impl Into<Query>) -> Self {
        self.clauses.push(q.into());
        self
    }

    /// Requires a word. Text that is not one bare word (see
    /// [`Query::normalised`]) is kept as a phrase.
    pub fn word(self, word: impl Into<String>) -> Self {
        self.clause(Query::Word(word.into()))
    }

    /// Requires a phrase.
    pub fn phrase(self, phrase: impl Into<String>) -> Self {
        self.clause(Query::Phrase(phrase.into()))
    }

    /// Excludes cases with a word.
    pub fn exclude_word(self, word: impl Into<String>) -> Self {
        self.exclude(Query::Word(word.into()))
    }

    /// Excludes cases with a phrase.
    pub fn exclude_phrase(self, phrase: impl Into<String>) -> Self {
        self.exclude(Query::Phrase(phrase.into()))
    }

    /// Excludes cases matching `q`.
    pub fn exclude(self, q: impl Into<Query>) -> Self {
        self.clause(Query::Not(Box::new(q.into())))
    }

    /// Requires at least one of `alternatives` (none: no case matches).
    pub fn any_of(self, alternatives: impl IntoIterator<Item = Query>) -> Self {
        self.clause(Query::Or(alternatives.into_iter().collect()))
    }

    /// Adds a field filter.
    pub fn field(self, filter: FieldFilter) -> Self {
        self.clause(Query::Field(filter))
    }

    /// Requires the case number.
    pub fn number(self, number: CaseNumber) -> Self {
        self.field(FieldFilter::Number(number))
    }

    /// Requires a referenced order id.
    pub fn order(self, order: OrderId) -> Self {
        self.field(FieldFilter::Order(order))
    }

    /// Requires a referenced ASIN.
    pub fn asin(self, asin: Asin) -> Self {
        self.field(FieldFilter::Asin(asin))
    }

    /// Requires a referenced SKU.
    pub fn sku(self, sku: Sku) -> Self {
        self.field(FieldFilter::Sku(sku))
    }

    /// Requires a status.
    pub fn status(self, status: Status) -> Self {
        self.field(FieldFilter::Status(status))
    }

    /// Requires a category.
    pub fn category(self, category: Category) -> Self {
        self.field(FieldFilter::Category(category))
    }

    /// Requires a marketplace.
    pub fn marketplace(self, marketplace: Marketplace) -> Self {
        self.field(FieldFilter::Marketplace(marketplace))
    }

    /// Requires the creator or the user the case is handed to.
    pub fn by(self, user: UserId) -> Self {
        self.field(FieldFilter::By(user))
    }

    /// Requires the support agent the case is assigned to.
    pub fn assignee(self, agent: UserId) -> Self {
        self.field(FieldFilter::Assignee(agent))
    }

    /// Requires the creation time in `range`.
    pub fn created(self, range: DateRange) -> Self {
        self.field(FieldFilter::Created(range))
    }

    /// Requires the last change in `range`.
    pub fn updated(self, range: DateRange) -> Self {
        self.field(FieldFilter::Updated(range))
    }

    /// The query: every clause AND-ed, in normal form. No clauses: `All`.
    pub fn build(self) -> Query {
        Query::And(self.clauses).normalised()
    }
}

impl From<Status> for Query {
    fn from(status: Status) -> Query {
        Query::Field(FieldFilter::Status(status))
    }
}

impl From<Category> for Query {
    fn from(category: Category) -> Query {
        Query::Field(FieldFilter::Category(category))
    }
}
