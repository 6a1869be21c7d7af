//! Proving the index and the store agree.
//!
//! Every case of the store must have exactly one live document whose
//! fingerprint (a digest of every indexed input, see `schema.rs`) equals
//! the one computed from the store now, and no document may name a case
//! the store does not have. Cases that changed after the change the index
//! covers are in flight, not wrong: they are counted and skipped.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use caselog_core::CaseId;
use redb::ReadableTable;
use tantivy::DocAddress;

use super::schema::{fingerprint, indexed_texts, names, sku_key, Fields};
use crate::error::{ix, st, Result, StoreError};
use crate::model::Case;
use crate::records;
use crate::store::Store;
use crate::stored::{changes_after, full_thread, read_counter};
use crate::tables;

/// Most entries each list of a [`VerifyReport`] keeps; the counts are exact.
pub const MAX_REPORTED: usize = 100;

/// How long `verify` first waits for the index to catch up with the store.
const CATCH_UP: Duration = Duration::from_secs(10);

/// A document that does not match its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The case.
    pub id: CaseId,
    /// The fields that differ (`"text"` when only indexed text does); read
    /// back from the index, which notices a value the document lacks, not
    /// one it has in excess.
    pub fields: Vec<&'static str>,
}

/// What [`Store::verify`] found. The index agrees with the store when
/// [`VerifyReport::is_consistent`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// Cases in the store.
    pub cases: u64,
    /// Live documents in the index.
    pub documents: u64,
    /// Cases whose document was compared and found right.
    pub verified: u64,
    /// Cases changed after the index's change, not compared.
    pub in_flight: u64,
    /// The change-log sequence the index covered.
    pub index_change: u64,
    /// The store's last change when it was read.
    pub store_change: u64,
    /// Cases with no document (at most [`MAX_REPORTED`]).
    pub missing: Vec<CaseId>,
    /// Cases with more than one document.
    pub duplicated: Vec<CaseId>,
    /// Documents naming a case id the store does not have.
    pub extra: Vec<u64>,
    /// Documents whose content differs from their case.
    pub mismatched: Vec<Mismatch>,
    /// Number of problems found, including those past the lists' limit.
    pub problems: u64,
}

impl VerifyReport {
    /// Whether every compared case has exactly one right document and
    /// there is no extra document.
    pub fn is_consistent(&self) -> bool {
        self.problems == 0
    }

    fn push<T>(list: &mut Vec<T>, problems: &mut u64, item: T) {
        *problems += 1;
        if list.len() < MAX_REPORTED {
            list.push(item);
        }
    }
}

/// One live document's identity.
struct DocInfo {
    count: u32,
    fingerprint: Option<u64>,
    address: DocAddress,
}

impl Store {
    /// Proves the index and the store agree: every case has exactly one
    /// document with the right content, and no document is extra.
    ///
    /// First waits for the indexer's start-up checks to finish, then (up to
    /// 10 s) for the index to catch up with the store;
    /// cases written after the index's change are reported as in flight.
    /// Reads every case and document: linear in the size of the store.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.damage.guard("verifying the index", || self.verify_unguarded())
    }

    fn verify_unguarded(&self) -> Result<VerifyReport> {
        let shared = &self.index.shared;
        // While it holds, the change log keeps every change after the
        // index's, which is how in-flight cases are recognised.
        let _hold = shared.hold_pruning();
        // The start-up checks may be repairing what verify would report:
        // wait for them to finish however long they take (they scan every
        // document), as long as the indexer runs; a failing or stopped
        // indexer is reported at once.
        while !shared.wait_started(CATCH_UP)? {}
        shared.wait_indexed(self.last_change(), CATCH_UP)?;
        let (index_change, searcher) = shared.searcher()?;
        let fields = &shared.fields;

        let mut docs: HashMap<u64, DocInfo> = HashMap::new();
        let mut report = VerifyReport {
            index_change,
            ..VerifyReport::default()
        };
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let ids = segment
                .fast_fields()
                .u64(names::ID)
                .map_err(ix("reading document ids"))?;
            let prints = segment
                .fast_fields()
                .u64(names::FINGERPRINT)
                .map_err(ix("reading fingerprints"))?;
            for doc in segment.doc_ids_alive() {
                report.documents += 1;
                let address = DocAddress::new(u32::try_from(ord).unwrap_or(u32::MAX), doc);
                let Some(id) = ids.first(doc) else {
                    // A document without an id can belong to no case.
                    VerifyReport::push(&mut report.extra, &mut report.problems, u64::MAX);
                    continue;
                };
                let info = docs.entry(id).or_insert(DocInfo {
                    count: 0,
                    fingerprint: prints.first(doc),
                    address,
                });
                info.count += 1;
            }
        }

        let txn = self
            .db
            .begin_read()
            .map_err(|e| StoreError::storage("verifying the index", e))?;
        let st = &st::<redb::StorageError>("verifying the index");
        let meta = txn
            .open_table(tables::META)
            .map_err(|e| StoreError::storage("verifying the index", e))?;
        report.store_change = read_counter(&meta, tables::NEXT_CHANGE)?.saturating_sub(1);
        let changes = txn
            .open_table(tables::CHANGES)
            .map_err(|e| StoreError::storage("verifying the index", e))?;
        let in_flight: HashSet<u64> = changes_after(&changes, index_change, usize::MAX)?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        let cases = txn
            .open_table(tables::CASES)
            .map_err(|e| StoreError::storage("verifying the index", e))?;
        let thread = txn
            .open_table(tables::THREAD)
            .map_err(|e| StoreError::storage("verifying the index", e))?;
        for item in cases.iter().map_err(st)? {
            let (k, v) = item.map_err(st)?;
            let id = k.value();
            report.cases += 1;
            let doc = docs.remove(&id);
            if in_flight.contains(&id) {
                report.in_flight += 1;
                continue;
            }
            let Some(doc) = doc else {
                VerifyReport::push(&mut report.missing, &mut report.problems, CaseId(id));
                continue;
            };
            if doc.count > 1 {
                VerifyReport::push(&mut report.duplicated, &mut report.problems, CaseId(id));
                continue;
            }
            let case = records::decode_case(v.value(), id)?;
            let entries = full_thread(&thread, id)?;
            let expected = fingerprint(&case, &entries, &indexed_texts(&case, &entries));
            if doc.fingerprint == Some(expected) {
                report.verified += 1;
            } else {
                let mismatch = Mismatch {
                    id: CaseId(id),
                    fields: differing_fields(fields, &searcher, doc.address, &case)?,
                };
                VerifyReport::push(&mut report.mismatched, &mut report.problems, mismatch);
            }
        }
        for (id, _) in docs {
            if !in_flight.contains(&id) {
                VerifyReport::push(&mut report.extra, &mut report.problems, id);
            }
        }
        report.extra.sort_unstable();
        Ok(report)
    }
}

/// Names the fields of the document at `address` that differ from `case`;
/// `"text"` if none does (then the indexed text or the fingerprint itself
/// differs). The index stores no document (hits are rendered from the
/// store), so the fields are read back from what is indexed: the status,
/// category and time columns, and for the exact fields and the title
/// whether the document is in the postings of each term the case gives.
/// A value the document has in excess of the case's is not seen, only one
/// it lacks.
fn differing_fields(
    f: &Fields,
    searcher: &tantivy::Searcher,
    address: DocAddress,
    case: &Case,
) -> Result<Vec<&'static str>> {
    let segment = searcher.segment_reader(address.segment_ord);
    let doc = address.doc_id;
    let fast = segment.fast_fields();
    let u = |name: &str| -> Result<Option<u64>> {
        Ok(fast.u64(name).map_err(ix("reading a document's columns"))?.first(doc))
    };
    let i = |name: &str| -> Result<Option<i64>> {
        Ok(fast.i64(name).map_err(ix("reading a document's columns"))?.first(doc))
    };
    let has_all = |field, values: &[&str]| in_postings_of_all(segment, doc, field, values);
    let title_tokens = super::analysis::analyze(super::analysis::Analyzer::Words, &case.title);
    let title: Vec<&str> = title_tokens.iter().map(|t| t.text.as_str()).collect();
    let by: Vec<&str> = std::iter::once(case.created_by.as_str())
        .chain(case.handler.as_ref().map(|h| h.as_str()))
        .collect();
    let orders: Vec<&str> = case.refs.orders.iter().map(|o| o.as_str()).collect();
    let asins: Vec<&str> = case.refs.asins.iter().map(|a| a.as_str()).collect();
    let skus: Vec<String> = case.refs.skus.iter().map(|s| sku_key(s.as_str())).collect();
    let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
    let checks: [(&'static str, bool); 12] = [
        (names::NUMBER, has_all(f.number, &[case.number.as_str()])?),
        (names::TENANT, has_all(f.tenant, &[case.tenant.as_str()])?),
        (names::TITLE, has_all(f.title_words, &title)?),
        (
            names::STATUS,
            u(names::STATUS)? == Some(case.state.status.index() as u64),
        ),
        (
            names::CATEGORY,
            u(names::CATEGORY)? == Some(case.category.index() as u64),
        ),
        (
            names::MARKETPLACE,
            has_all(f.marketplace, &[case.marketplace.as_str()])?,
        ),
        (names::BY, has_all(f.by, &by)?),
        (
            names::CREATED,
            i(names::CREATED)? == Some(case.state.created_at.as_millis()),
        ),
        (
            names::UPDATED,
            i(names::UPDATED)? == Some(case.state.updated_at.as_millis()),
        ),
        (names::ORDER, has_all(f.order, &orders)?),
        (names::ASIN, has_all(f.asin, &asins)?),
        (names::SKU, has_all(f.sku, &skus)?),
    ];
    let mut out: Vec<&'static str> = checks
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name)
        .collect();
    if out.is_empty() {
        out.push("text");
    }
    Ok(out)
}

/// Whether document `doc` of `segment` is in the postings of every term of
/// `values` in `field`.
fn in_postings_of_all(
    segment: &tantivy::SegmentReader,
    doc: tantivy::DocId,
    field: tantivy::schema::Field,
    values: &[&str],
) -> Result<bool> {
    let inverted = segment
        .inverted_index(field)
        .map_err(ix("reading a document's terms"))?;
    for value in values {
        let term = tantivy::Term::from_field_text(field, value);
        let postings = inverted
            .read_postings(&term, tantivy::schema::IndexRecordOption::Basic)
            .map_err(|e| ix("reading a document's terms")(tantivy::TantivyError::from(e)))?;
        if postings.is_none_or(|mut p| tantivy::DocSet::seek(&mut p, doc) != doc) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use caselog_core::{Asin, CaseNumber, Category, Marketplace, OrderId, Sku, Span, Status, TenantId, UserId};

    use super::*;
    use crate::index::analysis;

    type Mutation = (&'static str, fn(&mut Case));

    /// Each field, changed alone or with one other, is named, and nothing
    /// else is: the verify report reads a document's fields back from the
    /// index's columns and postings (the index stores no document).
    #[test]
    fn a_documents_differing_fields_are_named() {
        let (case, entry) = crate::records::tests::sample();
        let (schema, fields) = Fields::build();
        let index = tantivy::Index::create_in_ram(schema);
        analysis::register(&index);
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.add_document(fields.document(&case, &[entry], 1)).unwrap();
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let at = DocAddress::new(0, 0);
        assert_eq!(differing_fields(&fields, &searcher, at, &case).unwrap(), ["text"]);
        let mutations: [Mutation; 12] = [
            (names::NUMBER, |c| c.number = CaseNumber::generated(7_000_001).unwrap()),
            (names::TENANT, |c| c.tenant = TenantId::parse("seller-0043").unwrap()),
            (names::TITLE, |c| c.title = "Payout missing".into()),
            (names::STATUS, |c| c.state.status = Status::Open),
            (names::CATEGORY, |c| c.category = Category::Tax),
            (names::MARKETPLACE, |c| {
                c.marketplace = Marketplace::parse("FR").unwrap()
            }),
            (names::BY, |c| {
                c.created_by = UserId::parse("other@example.com").unwrap()
            }),
            (names::CREATED, |c| {
                c.state.created_at = c.state.created_at.saturating_add(Span::hours(1))
            }),
            (names::UPDATED, |c| {
                c.state.updated_at = c.state.updated_at.saturating_add(Span::hours(1))
            }),
            (names::ORDER, |c| {
                c.refs.orders = vec![OrderId::parse("113-7654321-7654321").unwrap()]
            }),
            (names::ASIN, |c| c.refs.asins.push(Asin::parse("B0CDEFGH12").unwrap())),
            (names::SKU, |c| c.refs.skus.push(Sku::parse("MUG-Blue-02").unwrap())),
        ];
        for (i, a) in mutations.iter().enumerate() {
            for b in mutations.iter().skip(i) {
                let mut changed = case.clone();
                (a.1)(&mut changed);
                (b.1)(&mut changed);
                let mut expected = vec![a.0, b.0];
                expected.sort_unstable();
                expected.dedup();
                let mut got = differing_fields(&fields, &searcher, at, &changed).unwrap();
                got.sort_unstable();
                assert_eq!(got, expected, "{} and {}", a.0, b.0);
            }
        }
    }
}
