//! Collection: one pass over the matching documents that counts the total
//! and the status/category facets and keeps the best hits by one sort key,
//! reading fast-field columns opened once per searcher generation
//! (`ColumnCache`); stale documents (see `stale.rs`) are skipped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use std::sync::Arc;

use parking_lot::Mutex;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::index::SegmentId;

use crate::index::stale::StaleDocs;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::error::{ix, Result};
use crate::index::schema::names;
use crate::paging::SortKey;
use crate::records::{category_from_byte, status_from_byte};

use super::*;

/// The fast-field columns of one segment that collecting, counting facets
/// and rendering hits read.
pub(super) struct SegmentColumns {
    pub(super) segment: SegmentId,
    pub(super) id: Column<u64>,
    pub(super) status: Column<u64>,
    pub(super) category: Column<u64>,
    pub(super) created: Column<i64>,
    pub(super) updated: Column<i64>,
    pub(super) number_hi: Column<u64>,
    pub(super) number_lo: Column<u64>,
}

impl SegmentColumns {
    pub(super) fn open(segment: &SegmentReader) -> Result<SegmentColumns> {
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
    pub(super) generation: u64,
    pub(super) segments: Vec<SegmentColumns>,
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
        let lock = || self.0.lock();
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
        *self.0.lock() = None;
    }
}

impl SearcherColumns {
    /// Whether these are the columns of exactly `searcher`'s segments.
    pub(super) fn covers(&self, searcher: &tantivy::Searcher) -> bool {
        let readers = searcher.segment_readers();
        readers.len() == self.segments.len()
            && readers
                .iter()
                .zip(&self.segments)
                .all(|(r, c)| r.segment_id() == c.segment)
    }

    pub(super) fn segment(&self, ord: SegmentOrdinal, id: SegmentId) -> tantivy::Result<&SegmentColumns> {
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
pub(super) fn score_bits(score: Score) -> u32 {
    let bits = score.to_bits();
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

pub(super) fn score_of(bits: u32) -> Score {
    if bits & 0x8000_0000 != 0 {
        Score::from_bits(bits & 0x7fff_ffff)
    } else {
        Score::from_bits(!bits)
    }
}

/// Maps a time onto a `u64` that orders as the time does.
pub(super) fn time_bits(ms: i64) -> u64 {
    (ms as u64) ^ (1u64 << 63)
}

/// What a collection is asked for: the order, how many hits to keep, and
/// where a cursor walk stands.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ask {
    pub(super) sort: SearchSort,
    pub(super) descending: bool,
    /// Hits to keep: offset plus page size.
    pub(super) keep: usize,
    /// Only hits whose key is below this (after it in the order).
    pub(super) after: Option<SortKey>,
}

impl Ask {
    pub(super) fn key(&self, score: Score, time: i64, id: u64) -> SortKey {
        self.key_by(score, 0, time_bits(time), id)
    }

    /// The key with a leading field (`lead`, the status, category or number
    /// high part) and a second one (`second`: a time's bits or the number's
    /// low part).
    pub(super) fn key_by(&self, score: Score, lead: u32, second: u64, id: u64) -> SortKey {
        match self.sort {
            SearchSort::Relevance => (score_bits(score), second, id),
            _ if self.descending => (lead, second, id),
            _ => (!lead, !second, !id),
        }
    }
}

/// Counts every match (total, per status, per category) and keeps the best
/// `keep` hits after the cursor, in one pass over the fast fields.
pub(super) struct PageCollector {
    pub(super) columns: Arc<SearcherColumns>,
    /// Documents of the searcher that are not their case's current one:
    /// skipped, so no case is counted or shown twice.
    pub(super) stale: Arc<StaleDocs>,
    pub(super) ask: Ask,
}

#[derive(Default)]
pub(super) struct PageFruit {
    pub(super) total: u64,
    /// Matches after the cursor (all of them without one).
    pub(super) remaining: u64,
    pub(super) status: [u64; 8],
    pub(super) category: [u64; 16],
    /// Best hits, in no particular order.
    pub(super) hits: Vec<(SortKey, DocAddress)>,
    /// Matches skipped as stale.
    pub(super) stale: u64,
}

pub(super) struct PageSegment {
    pub(super) columns: Arc<SearcherColumns>,
    pub(super) ord: SegmentOrdinal,
    pub(super) ask: Ask,
    /// This segment's slot in the stale documents, if it has any.
    pub(super) stale: Option<(Arc<StaleDocs>, usize)>,
    pub(super) fruit: PageFruit,
    /// The best `keep` keys so far, worst on top.
    pub(super) heap: BinaryHeap<Reverse<(SortKey, DocId)>>,
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
    pub(super) fn facets(&self) -> Facets {
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
