//! The tantivy schema of the case index, in one place: which fields exist,
//! how a case becomes a document, and the fingerprints that tell whether an
//! index on disk was built by this schema and holds the right content.
//!
//! One document per case, keyed by the case id. The document carries
//! everything a search needs to filter, sort and count facets, in fast
//! fields; nothing is stored (no document store). A hit's title and
//! number are read from the store (one read per page, see `search.rs`):
//! tantivy's text fast fields decompress a dictionary block per value, and
//! its document store a block per hit.

use caselog_core::{Category, Status};
use sha2::{Digest, Sha256};
use tantivy::schema::{Field, NumericOptions, Schema, SchemaBuilder, TextOptions, FAST, INDEXED, STRING};
use tantivy::{TantivyDocument, Term};

use super::analysis::{analyze, is_cjk_token, Analyzer};
use crate::model::{Case, ThreadEntry};

/// Bump when the meaning of indexed content changes in a way the schema
/// fingerprint cannot see (for example what text goes into a document),
/// so every index built by an older release is rebuilt on open.
const INDEX_FORMAT: u32 = 1;

/// Most bytes of text (title and message bodies) indexed per case.
///
/// Text past this budget is not searchable. The budget bounds the work of
/// re-indexing a case on every reply (the whole thread is analyzed again)
/// and the memory one document takes in the index writer. Real threads are
/// far below it; whole messages are kept while they fit, and the message
/// that crosses the budget is cut on a character boundary.
pub const MAX_INDEXED_TEXT_BYTES: usize = 4 * 1024 * 1024;

/// Field names. Kept as constants because fast-field readers and sort keys
/// address fields by name.
pub(crate) mod names {
    pub const ID: &str = "id";
    pub const TENANT: &str = "tenant";
    pub const NUMBER: &str = "number";
    pub const ORDER: &str = "order";
    pub const ASIN: &str = "asin";
    pub const SKU: &str = "sku";
    pub const STATUS: &str = "status";
    pub const CATEGORY: &str = "category";
    pub const MARKETPLACE: &str = "marketplace";
    pub const BY: &str = "by";
    pub const CREATED: &str = "created";
    pub const UPDATED: &str = "updated";
    pub const TITLE: &str = "title";
    pub const TEXT_WORDS: &str = "text_words";
    pub const TEXT_CHARS: &str = "text_chars";
    pub const TITLE_WORDS: &str = "title_words";
    pub const FINGERPRINT: &str = "fingerprint";
    pub const CASE: &str = "case";
    pub const ATTACHMENT: &str = "attachment";
    pub const HAS: &str = "has";
    pub const NUMBER_SORT_HI: &str = "number_sort_hi";
    pub const NUMBER_SORT_LO: &str = "number_sort_lo";
    pub const ASSIGNEE: &str = "assignee";
    pub const VERSION: &str = "version";
}

/// The fields of the case index.
///
/// Times are `i64` milliseconds rather than tantivy dates on purpose:
/// tantivy's `DateTime` is nanoseconds in an `i64`, which only reaches the
/// years 1677 to 2262, while a [`caselog_core::Timestamp`] (and so an
/// imported archive) may carry any year from 1 to 9999.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// Case id: indexed (the delete key), fast (verify, sort tie-break).
    pub id: Field,
    /// Tenant, exact. Only ever queried by the scope clause added in code.
    pub tenant: Field,
    /// Case number, exact.
    pub number: Field,
    /// Referenced order ids, exact.
    pub order: Field,
    /// Referenced ASINs, exact (already upper-cased by their parser).
    pub asin: Field,
    /// Referenced SKUs, lower-cased so `sku:` ignores case.
    pub sku: Field,
    /// Status as its dense index ([`Status::index`]): fast for facets.
    pub status: Field,
    /// Category as its dense index ([`Category::index`]): fast for facets.
    pub category: Field,
    /// Marketplace code, exact.
    pub marketplace: Field,
    /// Creator, exact.
    pub by: Field,
    /// Creation time, ms since the epoch: fast (ranges, sorting).
    pub created: Field,
    /// Last update time, ms since the epoch: fast (ranges, sorting).
    pub updated: Field,
    /// Title and message bodies through the CJK words analyzer: ranking of
    /// Chinese words (English ones are the chars field's tokens).
    pub text_words: Field,
    /// Title and message bodies through the chars analyzer: recall.
    pub text_chars: Field,
    /// Title alone through the words analyzer: a title match ranks higher.
    pub title_words: Field,
    /// Digest of every indexed input of the document (see [`fingerprint`]).
    pub fingerprint: Field,
    /// Related case numbers (`refs.cases`), exact: `case:` and a bare
    /// number find a follow-up by the case it continues.
    pub case: Field,
    /// Attachment name keys ([`caselog_core::attachment_name_keys`]), exact.
    pub attachment: Field,
    /// What the case has (`has:`): [`HAS_ATTACHMENT`] when it has one.
    pub has: Field,
    /// The case number's sort key ([`number_sort_key`]), high part: fast.
    pub number_sort_hi: Field,
    /// The case number's sort key, low part: fast.
    pub number_sort_lo: Field,
    /// The support agent the case is assigned to, exact (`assignee:`).
    pub assignee: Field,
    /// The document's version: a stamp that grows with every document the
    /// indexer adds (0 for documents of a rebuild). When tantivy keeps a
    /// document whose delete it lost, the case's newest version is the live
    /// one and the older is filtered out of searches (see `stale.rs`).
    pub version: Field,
}

/// Symbols of a case number in byte order (`-`, digits, upper case, `_`,
/// lower case): 64 of them, 6 bits each.
const NUMBER_SYMBOLS: &[u8; 64] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// The order of case numbers in sorts: shorter first, then byte order
/// (numeric order for numbers of digits without leading zeros, and
/// `CS-99` before `CS-100`). Packed into two integers for the index's fast
/// fields: the length and the first 4 symbols in `hi`, the next 10 in
/// `lo`. Exact for numbers of up to 14 characters; longer (imported)
/// numbers that share their first 14 characters and length tie, and the
/// case id decides.
pub(crate) fn number_sort_key(number: &str) -> (u64, u64) {
    let rank = |b: u8| NUMBER_SYMBOLS.iter().position(|&s| s == b).unwrap_or(0) as u64;
    let bytes = number.as_bytes();
    let mut hi = (bytes.len().min(63) as u64) << 24;
    let mut lo = 0u64;
    for i in 0..14 {
        let r = bytes.get(i).map_or(0, |&b| rank(b));
        if i < 4 {
            hi |= r << (6 * (3 - i));
        } else {
            lo |= r << (6 * (13 - i));
        }
    }
    (hi, lo)
}

/// The `has` field's term for a case with at least one attachment.
pub(crate) const HAS_ATTACHMENT: &str = "attachment";

/// The attachment name keys of a thread, sorted and without repeats.
pub(crate) fn attachment_keys(thread: &[ThreadEntry]) -> Vec<String> {
    let mut keys: Vec<String> = thread
        .iter()
        .flat_map(|e| e.attachments.iter())
        .flat_map(|a| caselog_core::attachment_name_keys(&a.name))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Exact fields are indexed, not stored: the index stores no document
/// (hits are rendered from the store, and `verify` reads a document's
/// fields back from its columns and postings), which saved about 15% of
/// the index.
fn exact() -> TextOptions {
    STRING
}

impl Fields {
    /// Builds the schema and its field handles.
    pub fn build() -> (Schema, Fields) {
        let mut b: SchemaBuilder = Schema::builder();
        let u64_fast: NumericOptions = (INDEXED | FAST).into();
        let time: NumericOptions = FAST.into();
        let fields = Fields {
            id: b.add_u64_field(names::ID, u64_fast.clone()),
            tenant: b.add_text_field(names::TENANT, exact()),
            number: b.add_text_field(names::NUMBER, exact()),
            order: b.add_text_field(names::ORDER, exact()),
            asin: b.add_text_field(names::ASIN, exact()),
            sku: b.add_text_field(names::SKU, exact()),
            status: b.add_u64_field(names::STATUS, u64_fast.clone()),
            category: b.add_u64_field(names::CATEGORY, u64_fast),
            marketplace: b.add_text_field(names::MARKETPLACE, exact()),
            by: b.add_text_field(names::BY, exact()),
            created: b.add_i64_field(names::CREATED, time.clone()),
            updated: b.add_i64_field(names::UPDATED, time),
            text_words: b.add_text_field(names::TEXT_WORDS, Analyzer::CjkWords.text_options()),
            text_chars: b.add_text_field(names::TEXT_CHARS, Analyzer::Chars.text_options()),
            title_words: b.add_text_field(names::TITLE_WORDS, Analyzer::Words.text_options()),
            fingerprint: b.add_u64_field(names::FINGERPRINT, FAST),
            case: b.add_text_field(names::CASE, STRING),
            attachment: b.add_text_field(names::ATTACHMENT, STRING),
            has: b.add_text_field(names::HAS, STRING),
            number_sort_hi: b.add_u64_field(names::NUMBER_SORT_HI, FAST),
            number_sort_lo: b.add_u64_field(names::NUMBER_SORT_LO, FAST),
            assignee: b.add_text_field(names::ASSIGNEE, STRING),
            version: b.add_u64_field(names::VERSION, FAST),
        };
        (b.build(), fields)
    }

    /// The delete key of a case's document.
    pub fn id_term(&self, id: u64) -> Term {
        Term::from_field_u64(self.id, id)
    }

    /// The document of a case with its thread, stamped `version`.
    pub fn document(&self, case: &Case, thread: &[ThreadEntry], version: u64) -> TantivyDocument {
        let texts = indexed_texts(case, thread);
        let mut doc = TantivyDocument::new();
        doc.add_u64(self.id, case.id.0);
        doc.add_text(self.tenant, case.tenant.as_str());
        doc.add_text(self.number, case.number.as_str());
        for o in &case.refs.orders {
            doc.add_text(self.order, o.as_str());
        }
        for a in &case.refs.asins {
            doc.add_text(self.asin, a.as_str());
        }
        for s in &case.refs.skus {
            doc.add_text(self.sku, sku_key(s.as_str()));
        }
        doc.add_u64(self.status, case.state.status.index() as u64);
        doc.add_u64(self.category, case.category.index() as u64);
        doc.add_text(self.marketplace, case.marketplace.as_str());
        // `by:` is the seller side's *My cases*: creator or handler.
        doc.add_text(self.by, case.created_by.as_str());
        if let Some(h) = &case.handler {
            doc.add_text(self.by, h.as_str());
        }
        if let Some(a) = &case.assignee {
            doc.add_text(self.assignee, a.as_str());
        }
        doc.add_i64(self.created, case.state.created_at.as_millis());
        doc.add_i64(self.updated, case.state.updated_at.as_millis());
        doc.add_text(self.title_words, &case.title);
        // Each text is its own value: tantivy leaves a position gap between
        // values, so a phrase never matches across two messages. Each field
        // analyzes its own copy: feeding both the tokens of one pass
        // (`analysis::analyze_pair`) as pre-tokenized values was measured
        // slower, because tantivy's `TantivyDocument` keeps a pre-tokenized
        // value as JSON and parses it back when it indexes (BENCHMARKS.md).
        for text in &texts {
            doc.add_text(self.text_words, text);
            doc.add_text(self.text_chars, text);
        }
        for n in &case.refs.cases {
            doc.add_text(self.case, n.as_str());
        }
        for key in attachment_keys(thread) {
            doc.add_text(self.attachment, &key);
        }
        if thread.iter().any(|e| !e.attachments.is_empty()) {
            doc.add_text(self.has, HAS_ATTACHMENT);
        }
        let (hi, lo) = number_sort_key(case.number.as_str());
        doc.add_u64(self.number_sort_hi, hi);
        doc.add_u64(self.number_sort_lo, lo);
        doc.add_u64(self.fingerprint, fingerprint(case, thread, &texts));
        doc.add_u64(self.version, version);
        doc
    }
}

/// The form a SKU is indexed and searched in: `sku:` ignores case.
pub(crate) fn sku_key(sku: &str) -> String {
    sku.to_lowercase()
}

/// The texts of a case that are searchable, in order: the title, then each
/// non-empty message body, within [`MAX_INDEXED_TEXT_BYTES`].
pub fn indexed_texts<'a>(case: &'a Case, thread: &'a [ThreadEntry]) -> Vec<&'a str> {
    let mut budget = MAX_INDEXED_TEXT_BYTES;
    let mut out = Vec::with_capacity(thread.len() + 1);
    for text in std::iter::once(case.title.as_str()).chain(thread.iter().map(|e| e.body.as_str())) {
        if budget == 0 {
            break;
        }
        if text.is_empty() {
            continue;
        }
        let cut = floor_char_boundary(text, budget);
        budget -= cut;
        out.push(&text[..cut]);
    }
    out
}

/// The largest `i <= max` that is a character boundary of `text`.
pub(crate) fn floor_char_boundary(text: &str, max: usize) -> usize {
    if max >= text.len() {
        return text.len();
    }
    let mut i = max;
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A digest of everything a case's document is built from, so `verify` can
/// prove a document is current without comparing token streams: if any
/// indexed input differs (a field, a reference, one character of text), the
/// fingerprint differs.
pub(crate) fn fingerprint(case: &Case, thread: &[ThreadEntry], texts: &[&str]) -> u64 {
    let mut h = Sha256::new();
    // Every value is length-prefixed so that no two different inputs encode
    // the same byte string.
    let mut put = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    put(&case.id.0.to_le_bytes());
    put(case.tenant.as_str().as_bytes());
    put(case.number.as_str().as_bytes());
    put(&[case.state.status.index() as u8, case.category.index() as u8]);
    put(case.marketplace.as_str().as_bytes());
    put(case.created_by.as_str().as_bytes());
    if let Some(h) = &case.handler {
        // Only present when set, so fingerprints of cases without one
        // are those of older releases.
        put(b"handler");
        put(h.as_str().as_bytes());
    }
    if let Some(a) = &case.assignee {
        put(b"assignee");
        put(a.as_str().as_bytes());
    }
    put(&case.state.created_at.as_millis().to_le_bytes());
    put(&case.state.updated_at.as_millis().to_le_bytes());
    put(case.title.as_bytes());
    for (tag, list) in [
        (
            b'o',
            case.refs
                .orders
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect::<Vec<_>>(),
        ),
        (b'a', case.refs.asins.iter().map(|v| v.as_str().to_owned()).collect()),
        (b's', case.refs.skus.iter().map(|v| sku_key(v.as_str())).collect()),
        (b'c', case.refs.cases.iter().map(|v| v.as_str().to_owned()).collect()),
        // The keys decide `attachment:` and whether there are any `has:`.
        (b'f', attachment_keys(thread)),
    ] {
        put(&[tag]);
        put(&(list.len() as u64).to_le_bytes());
        for v in &list {
            put(v.as_bytes());
        }
    }
    put(&(texts.len() as u64).to_le_bytes());
    for t in texts {
        put(t.as_bytes());
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// A fingerprint of the schema and of everything the index content depends
/// on besides the store: the field layout, the dense indices of statuses and
/// categories, the analyzers' output on a probe text, and [`INDEX_FORMAT`].
/// An index whose commit payload names another fingerprint is rebuilt.
pub(crate) fn schema_fingerprint(schema: &Schema) -> String {
    let mut h = Sha256::new();
    h.update(INDEX_FORMAT.to_le_bytes());
    // The schema's JSON form lists every field with its options.
    h.update(serde_json::to_vec(schema).unwrap_or_default());
    for s in Status::ALL {
        h.update(s.as_str().as_bytes());
        h.update([0]);
    }
    for c in Category::ALL {
        h.update(c.as_str().as_bytes());
        h.update([0]);
    }
    // If an analyzer changes what it makes of text, existing documents no
    // longer match the queries the new analyzer plans; the probe notices.
    // The words analyzer's output is the frozen `WORDS_PROBE_TOKENS` (kept
    // equal to the analyzer by a test), because running it would load the
    // jieba dictionary (~130 ms) on every open; the digest is the same.
    for analyzer in Analyzer::ALL {
        match analyzer {
            // The CJK words analyzer gives the words analyzer's CJK words
            // (a property test of `analysis` holds them equal).
            Analyzer::Words | Analyzer::CjkWords => {
                for (text, position) in WORDS_PROBE_TOKENS {
                    if analyzer == Analyzer::Words || is_cjk_token(text) {
                        h.update(text.as_bytes());
                        h.update((*position as u64).to_le_bytes());
                    }
                }
            }
            _ => {
                for t in analyze(analyzer, PROBE) {
                    h.update(t.text.as_bytes());
                    h.update((t.position as u64).to_le_bytes());
                }
            }
        }
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The text whose analysis is part of [`schema_fingerprint`].
const PROBE: &str =
    "Refunds DELAYED for order 112-1234567-1234567, ASIN Ｂ０８ＸＹＺ１２３４: 我的账户被停用了，请尽快处理退款。Café";

/// What [`Analyzer::Words`] makes of [`PROBE`] (text, position). When the
/// test `words_probe_tokens_are_the_analyzers` fails, the analyzer (or
/// jieba's dictionary) changed: paste its output here, which changes the
/// schema fingerprint and so rebuilds existing indexes.
const WORDS_PROBE_TOKENS: &[(&str, usize)] = &[
    ("refund", 0),
    ("delay", 1),
    ("for", 2),
    ("order", 3),
    ("112", 4),
    ("1234567", 5),
    ("1234567", 6),
    ("asin", 7),
    ("b08xyz1234", 8),
    ("我", 9),
    ("的", 10),
    ("账户", 11),
    ("被", 13),
    ("停用", 14),
    ("了", 16),
    ("请", 17),
    ("尽快", 18),
    ("处理", 20),
    ("退款", 22),
    ("cafe", 24),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_fingerprint_is_stable_and_hex() {
        let (schema, _) = Fields::build();
        let a = schema_fingerprint(&schema);
        assert_eq!(a, schema_fingerprint(&Fields::build().0));
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn words_probe_tokens_are_the_analyzers() {
        let actual: Vec<(String, usize)> = analyze(Analyzer::Words, PROBE)
            .into_iter()
            .map(|t| (t.text, t.position))
            .collect();
        let frozen: Vec<(String, usize)> = WORDS_PROBE_TOKENS.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect();
        assert_eq!(actual, frozen, "update WORDS_PROBE_TOKENS to the analyzer's output");
    }

    #[test]
    fn fingerprint_does_not_load_jieba() {
        // Other tests of this process may have loaded it already; the check
        // is only meaningful when they have not, which a lone run ensures.
        let loaded_before = crate::index::analysis::jieba_load_time().is_some();
        let _ = schema_fingerprint(&Fields::build().0);
        // A store opened by another test loads it in the background.
        if !loaded_before && !crate::index::analysis::warm_up_started() {
            assert!(crate::index::analysis::jieba_load_time().is_none());
        }
    }

    #[test]
    fn char_boundaries_are_respected() {
        assert_eq!(floor_char_boundary("账户", 4), 3);
        assert_eq!(floor_char_boundary("账户", 2), 0);
        assert_eq!(floor_char_boundary("ab", 10), 2);
    }
}
