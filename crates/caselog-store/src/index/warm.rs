//! Warming the index's files after open, off the caller's path.
//!
//! tantivy reads its segments through memory maps, and a freshly opened
//! store's maps are empty: the first searches take a page fault for every
//! few pages of term dictionary, fast field, field norm and posting list
//! they touch, even when the files are in the page cache (at a million
//! cases, a first query cost twice a warm one). A background thread touches
//! one byte per page of those files through the same maps (tantivy's mmap
//! directory shares one map per file), so a host's first queries find them
//! mapped. Positions (phrases only) and the document store (not read by
//! searches) are left to be faulted in on use.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use tantivy::directory::Directory;
use tantivy::index::SegmentComponent;
use tantivy::Searcher;

/// Files touched, most widely used first: every query reads term
/// dictionaries, and most read fast fields and field norms; posting lists
/// depend on the query.
const WARMED: [SegmentComponent; 4] = [
    SegmentComponent::Terms,
    SegmentComponent::FastFields,
    SegmentComponent::FieldNorms,
    SegmentComponent::Postings,
];

/// How long the warm-up waits for a first search to end before it starts
/// anyway.
pub(crate) const YIELD_AT_MOST: Duration = Duration::from_millis(50);

/// Whether the store's first search has ended: the warm-up waits for it.
#[derive(Default)]
pub(crate) struct FirstSearch {
    ended: AtomicBool,
    lock: Mutex<()>,
    changed: Condvar,
}

impl FirstSearch {
    /// Marks a search ended; after the first, one atomic load.
    pub(crate) fn ended(&self) {
        if self.ended.load(Ordering::Acquire) {
            return;
        }
        let _lock = self.lock.lock();
        self.ended.store(true, Ordering::Release);
        self.changed.notify_all();
    }

    /// Waits until a search has ended, at most `limit`.
    fn wait(&self, limit: Duration) {
        let mut lock = self.lock.lock();
        if !self.ended.load(Ordering::Acquire) {
            let _ = self.changed.wait_for(&mut lock, limit);
        }
    }
}

/// The page size the touches step by; a larger real page only means some
/// touches find their page mapped already.
const PAGE: usize = 4096;

/// Starts one thread that loads the jieba dictionary (unless it is loaded
/// or loading) and then maps in the searcher's segment files: one thread,
/// so that together with the host's first query they fit two cores. It
/// first yields to a first search that comes at once (at most
/// [`YIELD_AT_MOST`]): even on another core, the load's 130 ms of
/// allocation nearly doubled a first query at a million cases (two
/// logical cores often share one physical core). A first search of
/// Chinese text does not wait: it loads the dictionary itself. Best
/// effort: a file that cannot be opened is skipped, and if the thread
/// cannot be started, the first Chinese text loads the dictionary and
/// searches fault pages in as they go.
pub(crate) fn warm_in_background(searcher: Option<Searcher>, gate: Arc<FirstSearch>) {
    let _ = std::thread::Builder::new().name("caselog-warm".into()).spawn(move || {
        gate.wait(YIELD_AT_MOST);
        crate::index::analysis::load_dictionary_here();
        if let Some(searcher) = searcher {
            warm(&searcher);
        }
    });
}

/// Touches every page of the warmed files of `searcher`'s segments; returns
/// the bytes touched.
pub(crate) fn warm(searcher: &Searcher) -> u64 {
    let index = searcher.index();
    let Ok(metas) = index.searchable_segment_metas() else {
        return 0;
    };
    let live: HashSet<_> = searcher.segment_readers().iter().map(|r| r.segment_id()).collect();
    let metas: Vec<_> = metas.into_iter().filter(|m| live.contains(&m.id())).collect();
    let mut touched = 0u64;
    let mut sum = 0u8;
    for component in WARMED {
        for meta in &metas {
            let path = meta.relative_path(component.clone());
            let Ok(bytes) = index
                .directory()
                .open_read(&path)
                .map_err(drop)
                .and_then(|f| f.read_bytes().map_err(drop))
            else {
                continue;
            };
            for page in bytes.as_slice().chunks(PAGE) {
                sum = sum.wrapping_add(page.first().copied().unwrap_or(0));
            }
            touched += bytes.len() as u64;
        }
    }
    std::hint::black_box(sum);
    touched
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::{Schema, FAST, STRING, TEXT};
    use tantivy::{doc, Index};

    /// Bytes on disk of the files with `ext` in `dir`.
    fn bytes_of(dir: &std::path::Path, ext: &str) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum()
    }

    #[test]
    fn warming_touches_exactly_the_searched_files_of_live_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut schema = Schema::builder();
        let body = schema.add_text_field("body", TEXT);
        let tenant = schema.add_text_field("tenant", STRING);
        let id = schema.add_u64_field("id", FAST);
        let index = Index::create_in_dir(dir.path(), schema.build()).unwrap();
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        // Three segments, so that every file kind comes several times.
        for batch in 0..3u64 {
            for n in 0..3000u64 {
                let text = format!("refund {n} parcel {batch} late {}", n * batch);
                writer
                    .add_document(doc!(body => text, tenant => format!("t{}", n % 7), id => (batch * 3000 + n).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20))
                    .unwrap();
            }
            writer.commit().unwrap();
        }
        writer.wait_merging_threads().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 3);
        let kinds = ["term", "fast", "fieldnorm", "idx"];
        let want: u64 = kinds.iter().map(|e| bytes_of(dir.path(), e)).sum();
        assert!(bytes_of(dir.path(), "pos") > 0, "positions exist and are left out");
        // tantivy hands out each file without its footer (tens of bytes):
        // every file but its footer is touched, so skipping any one kind
        // (or adding positions) would miss by more than all the footers.
        let files = 3 * kinds.len() as u64;
        let touched = warm(&searcher);
        let footers = want.saturating_sub(touched);
        assert!(touched <= want, "{want} {touched}");
        assert!((files..files * 200).contains(&footers), "{want} {touched}");
        for kind in kinds {
            assert!(bytes_of(dir.path(), kind) / 3 > files * 200, "{kind}");
        }
        assert!(bytes_of(dir.path(), "pos") > files * 200);
    }

    #[test]
    fn the_warm_up_waits_for_the_first_search_at_most_its_limit() {
        let gate = FirstSearch::default();
        let t = std::time::Instant::now();
        gate.wait(Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(30));
        let gate = Arc::new(FirstSearch::default());
        let ender = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.ended())
        };
        // Woken by the search's end, long before the limit.
        let t = std::time::Instant::now();
        gate.wait(Duration::from_secs(20));
        assert!(t.elapsed() < Duration::from_secs(10));
        ender.join().unwrap();
        // Once ended, it never waits again.
        gate.ended();
        let t = std::time::Instant::now();
        gate.wait(Duration::from_secs(20));
        assert!(t.elapsed() < Duration::from_secs(10));
    }
}
