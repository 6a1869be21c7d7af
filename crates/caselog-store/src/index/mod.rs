//! The derived full-text index: analysis, schema, indexing and search.
//!
//! - `analysis`: how English and Chinese text become tokens (two analyzers).
//! - `schema`: the tantivy fields and how a case becomes a document.
//! - `indexer`: the indexer thread that follows the store's change log,
//!   and opening, catching up and rebuilding the index.
//! - `search`: the query language mapped onto the index, results, facets
//!   and snippets.
//! - `stale`: finding documents tantivy kept although their delete was
//!   issued, which searches skip.
//! - `verify`: proving the index and the store agree.
//! - `bare`: a case number typed alone, recognised by the parser or by a
//!   lookup in the store's numbers table.
//! - `warm`: mapping in the index's files after open, in the background.

#[cfg(feature = "internals")]
pub mod analysis;
#[cfg(not(feature = "internals"))]
#[cfg_attr(not(feature = "internals"), allow(dead_code))] // parts serve only the benchmarks and tests
pub(crate) mod analysis;
mod bare;
mod indexer;
mod read_only;
mod schema;
mod search;
mod stale;
mod verify;
mod warm;

/// The writer-start workaround for tantivy 0.27's reused opstamp, for the
/// plain-tantivy reproduction in the tests.
#[cfg(feature = "internals")]
pub use indexer::skip_used_opstamps;
/// The document the indexer makes of a case with its thread, stamped
/// `version`: for the tests that plant documents behind a closed store's
/// back (the index stores no document to copy).
#[cfg(feature = "internals")]
pub fn case_document(
    case: &crate::model::Case,
    thread: &[crate::model::ThreadEntry],
    version: u64,
) -> tantivy::TantivyDocument {
    schema::Fields::build().1.document(case, thread, version)
}
pub use indexer::{IndexCounters, IndexProgress, IndexStatus, RebuildReason, RebuildReport, INDEX_DIR};
pub use schema::MAX_INDEXED_TEXT_BYTES;
pub use search::{Facets, SearchHit, SearchLimits, SearchOptions, SearchResults, SearchSort, SearchWalk, Snippet};
pub use verify::{Mismatch, VerifyReport, MAX_REPORTED};

pub(crate) use indexer::{open as open_index, open_read_only as open_index_read_only, IndexHandle};
