//! Stale documents: a case's older document that tantivy kept live although
//! its delete was issued (tantivy 0.27 loses one now and then, see
//! RELIABILITY.md). Searches must never show such a case twice, so every
//! searcher the index publishes comes with the set of its stale documents,
//! and the collector skips them: totals, facets and hits count each case
//! once.
//!
//! Every document carries a version (`schema::names::VERSION`), a stamp
//! that grows with each document the indexer adds. Of a case's live
//! documents, the one with the highest version is current; the others are
//! stale. Finding them needs a scan of every live document, which is only
//! run when the live document count differs from the number of cases the
//! searcher covers (known from counters): when they are equal, each case
//! has exactly one live document, unless one is also missing (a second,
//! different fault that `verify` reports). The count check after each
//! commit then repairs the cases concerned; the filter only bridges the
//! time until that repair is committed, or every search if it never is.

use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTableMetadata};
use tantivy::index::SegmentId;
use tantivy::{DocId, Searcher};

use super::schema::names;
use crate::error::{ix, st, Result};
use crate::tables;

/// The stale documents of one searcher generation, per segment ordinal.
#[derive(Debug, Default)]
pub(crate) struct StaleDocs {
    /// For each segment with stale documents: its ordinal, id, and the
    /// stale documents in ascending order.
    segments: Vec<(u32, SegmentId, Vec<DocId>)>,
    count: u64,
}

impl StaleDocs {
    /// How many documents are stale.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The stale documents of segment `ord` (whose id must be `id`), if any.
    pub fn of_segment(&self, ord: u32, id: SegmentId) -> Option<usize> {
        self.segments.iter().position(|(o, s, _)| *o == ord && *s == id)
    }

    /// Whether `doc` of the segment at `slot` (from [`Self::of_segment`])
    /// is stale.
    pub fn contains(&self, slot: usize, doc: DocId) -> bool {
        self.segments
            .get(slot)
            .is_some_and(|(_, _, docs)| docs.binary_search(&doc).is_ok())
    }
}

/// A searcher as published to searches, with its stale documents.
#[derive(Clone)]
pub(crate) struct Generation {
    pub searcher: Searcher,
    pub stale: Arc<StaleDocs>,
}

/// Makes the generation of `searcher`: its stale documents are looked for
/// when its live document count is not the number of cases it covers.
/// `max_id` is the highest case id of a live document if known (else the
/// documents are scanned for it).
pub(crate) fn inspect(searcher: Searcher, db: &dyn ReadableDatabase, max_id: Option<u64>) -> Result<Generation> {
    let max_id = match max_id {
        Some(id) => id,
        None => max_live_id(&searcher)?,
    };
    let live = searcher.num_docs();
    let covered = covered_cases(db, max_id)?;
    let stale = if live == covered {
        StaleDocs::default()
    } else {
        find_stale(&searcher)?
    };
    if !stale.is_empty() {
        tracing::warn!(
            stale_documents = stale.len(),
            live_documents = live,
            covered_cases = covered,
            "the index holds older documents of re-indexed cases (a lost delete); searches skip them"
        );
    }
    Ok(Generation {
        searcher,
        stale: Arc::new(stale),
    })
}

/// The highest case id of a live document (0 for none).
pub(crate) fn max_live_id(searcher: &Searcher) -> Result<u64> {
    let mut max_id = 0;
    for segment in searcher.segment_readers() {
        let ids = segment
            .fast_fields()
            .u64(names::ID)
            .map_err(ix("reading document ids"))?;
        for doc in segment.doc_ids_alive() {
            if let Some(id) = ids.first(doc) {
                max_id = max_id.max(id);
            }
        }
    }
    Ok(max_id)
}

/// The number of cases an index whose highest case id is `max_id` covers:
/// every case up to it (ids only grow, cases are never removed, and the
/// change log is applied in order). `cases.len()` is O(1) in redb; the
/// cases above `max_id` are only those created since the last batch.
pub(crate) fn covered_cases(db: &dyn ReadableDatabase, max_id: u64) -> Result<u64> {
    let txn = db.begin_read().map_err(st("counting cases"))?;
    let cases = txn.open_table(tables::CASES).map_err(st("counting cases"))?;
    let all = cases.len().map_err(st("counting cases"))?;
    let mut above = 0u64;
    if max_id < u64::MAX {
        for item in cases.range(max_id + 1..).map_err(st("counting cases"))? {
            item.map_err(st("counting cases"))?;
            above += 1;
        }
    }
    Ok(all.saturating_sub(above))
}

/// Every live document of a case that has a live document of a higher
/// version (of two with the same version, the one at the lower address).
/// One pass over the id and version columns and a sort: linear in the live
/// documents, run only when the counts disagree.
pub(crate) fn find_stale(searcher: &Searcher) -> Result<StaleDocs> {
    // (id, version, segment ordinal, doc)
    let mut all: Vec<(u64, u64, u32, DocId)> = Vec::with_capacity(searcher.num_docs() as usize);
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let fast = segment.fast_fields();
        let ids = fast.u64(names::ID).map_err(ix("reading document ids"))?;
        let versions = fast.u64(names::VERSION).map_err(ix("reading document versions"))?;
        let ord = u32::try_from(ord).unwrap_or(u32::MAX);
        for doc in segment.doc_ids_alive() {
            if let Some(id) = ids.first(doc) {
                all.push((id, versions.first(doc).unwrap_or(0), ord, doc));
            }
        }
    }
    // Highest (version, ord, doc) of each id last.
    all.sort_unstable();
    let mut stale: Vec<(u32, DocId)> = Vec::new();
    for pair in all.windows(2) {
        if let [older, newer] = pair {
            if older.0 == newer.0 {
                stale.push((older.2, older.3));
            }
        }
    }
    drop(all);
    stale.sort_unstable();
    let count = stale.len() as u64;
    let readers = searcher.segment_readers();
    let mut segments: Vec<(u32, SegmentId, Vec<DocId>)> = Vec::new();
    for (ord, doc) in stale {
        match segments.last_mut() {
            Some((o, _, docs)) if *o == ord => docs.push(doc),
            _ => {
                let Some(reader) = readers.get(ord as usize) else {
                    continue;
                };
                segments.push((ord, reader.segment_id(), vec![doc]));
            }
        }
    }
    Ok(StaleDocs { segments, count })
}
