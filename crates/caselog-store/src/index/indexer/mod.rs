//! Keeping the index consistent with the store.
//!
//! One indexer thread owns the one long-lived [`IndexWriter`]. It follows the
//! store's change log (`CHANGES`, written in the same redb transaction as
//! every change), re-indexes each changed case (delete by id term, then add
//! the current document) and commits in batches. Every tantivy commit
//! carries a payload naming the store (its id in `meta`) and the last change
//! it covers; on open the index resumes from there, and an index that is
//! missing, unreadable, built by another schema, of another store, ahead of
//! the store, or behind a pruned change log is rebuilt from the store.
//!
//! Open never waits for a rebuild: it only opens what is on disk and reads
//! its payload. A rebuild runs on the indexer thread into a fresh directory
//! (`index.new`) that is moved into place when complete, so searches answer
//! from the old index meanwhile, or, when there is none that can be used,
//! fail with [`StoreError::IndexRebuilding`]. After an unclean shutdown the
//! indexer first checks segment checksums and looks for cases indexed twice,
//! also in the background.
//!
//! Invariants:
//! - The payload's change `C` means: every change `<= C` is reflected in
//!   this commit, and the store's change log still holds every change
//!   `> C` (the log is only pruned up to a committed payload).
//! - Readers are reloaded explicitly after each commit, and only then is
//!   `C` published to `wait_indexed` callers, so a caller told "indexed"
//!   finds its write in the next search.
//! - After every commit the live document count equals the number of cases
//!   the index covers (every case with an id up to the highest indexed one:
//!   ids only grow and cases are never removed). A mismatch is repaired for
//!   the cases concerned, counted and logged.
//! - Re-indexing a case is idempotent (delete by id, add), so applying a
//!   change twice after a crash is harmless.
//!
//! Failures: a failing index (a full disk, an I/O error in a segment write,
//! `meta.json` or a sync) never stops the store. The indexer reports it to
//! `wait_indexed` callers as [`StoreError::IndexFailing`], drops its
//! writer (discarding uncommitted work; the last commit is intact), and
//! retries with a growing pause: a new writer, then an empty commit to prove
//! the directory writable, then the change log again from the last
//! committed change (or the whole rebuild, if there is no usable index).
//! Searches keep answering from the last commit meanwhile. A failure is
//! final only at shutdown, or when redb refuses the store file until it is
//! reopened (it latches its first I/O error): then waiters and searches get
//! [`StoreError::Index`] and the next open catches up.

use std::time::Duration;

use serde::{Deserialize, Serialize};

mod handle;
mod open;
mod opstamps;
mod state;
mod worker;

pub(crate) use handle::IndexHandle;
use handle::*;
use open::*;
pub(crate) use open::{open, open_read_only};
pub use opstamps::skip_used_opstamps;
pub(crate) use state::Shared;
use state::*;
pub use state::{IndexCounters, IndexProgress, IndexStatus, RebuildReason, RebuildReport};
use worker::*;

/// Name of the index directory inside the store directory.
pub const INDEX_DIR: &str = "index";

/// Where a rebuild builds the new index before moving it into place.
const STAGING_DIR: &str = "index.new";

/// Where the replaced index goes for the moment between the two renames
/// that install a rebuilt one, and until it is deleted.
const RETIRED_DIR: &str = "index.old";

/// Marker file (beside the index directory) written after a clean shutdown.
/// Without it, the next open also checks every segment file's checksum and
/// looks for cases indexed twice.
const CLEAN_MARKER: &str = "index.clean";

/// Version of the commit payload's JSON. Version 2 names the store;
/// version 3 adds the highest indexed case id.
const PAYLOAD_VERSION: u32 = 3;

/// Most change-log entries read per indexing step.
const CHANGE_BATCH: usize = 2_048;

/// Documents added before a commit is forced even while changes keep
/// coming, so that a long burst still becomes searchable in steps.
const MAX_UNCOMMITTED_DOCS: usize = 50_000;

/// How long the idle indexer sleeps between checks for control requests.
const IDLE_SLICE: Duration = Duration::from_millis(50);

/// How often, at most, a dirty indexer re-checks for `wait_indexed` callers
/// while it waits for its commit interval to pass.
const DIRTY_SLICE: Duration = Duration::from_millis(5);

/// First pause before retrying a failed index; it doubles per failure.
const RETRY_FIRST: Duration = Duration::from_millis(20);

/// Longest pause between retries of a failed index.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// tantivy refuses writer arenas below this (15 MB per worker thread).
const MIN_HEAP_PER_THREAD: usize = 15_000_000;

/// Repairs tried after a count mismatch before the index is rebuilt.
const MAX_REPAIRS: u32 = 3;

/// How often `open_with_progress` looks at a running rebuild.
const PROGRESS_POLL: Duration = Duration::from_millis(20);

/// The commit payload.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Payload {
    pub(super) v: u32,
    pub(super) schema: String,
    pub(super) change: u64,
    /// The store's id (`meta`'s `store_id`).
    #[serde(default)]
    pub(super) store: String,
    /// The highest case id of a live document, when the indexer knew it:
    /// with the case count it tells at open whether a case may have two
    /// documents (see `stale.rs`) without scanning them.
    #[serde(default)]
    pub(super) max_id: Option<u64>,
}
impl crate::Store {
    /// Where the search index stands: ready (covering which change), or
    /// being rebuilt (how far, and whether searches meanwhile answer from
    /// the previous index). Never waits.
    pub fn index_status(&self) -> IndexStatus {
        self.index.shared.status()
    }

    /// What the index's self-checks found and repaired since open.
    pub fn index_counters(&self) -> IndexCounters {
        self.index.shared.counters()
    }
}
