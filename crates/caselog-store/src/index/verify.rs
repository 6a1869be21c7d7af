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
use tantivy::schema::Value;
use tantivy::{DocAddress, TantivyDocument};

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
    /// The stored fields that differ (`"text"` when only indexed text does).
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
                let stored: TantivyDocument = searcher.doc(doc.address).map_err(ix("reading a document"))?;
                let mismatch = Mismatch {
                    id: CaseId(id),
                    fields: differing_fields(fields, &stored, &case),
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

/// Names the stored fields of `doc` that differ from `case`; `"text"` if
/// none does (then the indexed text or the fingerprint itself differs).
fn differing_fields(f: &Fields, doc: &TantivyDocument, case: &Case) -> Vec<&'static str> {
    let strs = |field| -> Vec<String> {
        doc.get_all(field)
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let one = |field| strs(field).into_iter().next().unwrap_or_default();
    let u = |field| doc.get_first(field).and_then(|v| v.as_u64());
    let i = |field| doc.get_first(field).and_then(|v| v.as_i64());
    let mut out = Vec::new();
    let checks: [(&'static str, bool); 12] = [
        (names::NUMBER, one(f.number) == case.number.as_str()),
        (names::TENANT, one(f.tenant) == case.tenant.as_str()),
        (names::TITLE, one(f.title) == case.title),
        (names::STATUS, u(f.status) == Some(case.state.status.index() as u64)),
        (names::CATEGORY, u(f.category) == Some(case.category.index() as u64)),
        (names::MARKETPLACE, one(f.marketplace) == case.marketplace.as_str()),
        (names::BY, one(f.by) == case.created_by.as_str()),
        (names::CREATED, i(f.created) == Some(case.state.created_at.as_millis())),
        (names::UPDATED, i(f.updated) == Some(case.state.updated_at.as_millis())),
        (
            names::ORDER,
            strs(f.order)
                == case
                    .refs
                    .orders
                    .iter()
                    .map(|o| o.as_str().to_owned())
                    .collect::<Vec<_>>(),
        ),
        (
            names::ASIN,
            strs(f.asin)
                == case
                    .refs
                    .asins
                    .iter()
                    .map(|a| a.as_str().to_owned())
                    .collect::<Vec<_>>(),
        ),
        (
            names::SKU,
            strs(f.sku) == case.refs.skus.iter().map(|s| sku_key(s.as_str())).collect::<Vec<_>>(),
        ),
    ];
    for (name, same) in checks {
        if !same {
            out.push(name);
        }
    }
    if out.is_empty() {
        out.push("text");
    }
    out
}
