//! caselog-store: the persistence layer a support-case application links.
//!
//! Cases and their threads are kept durably in [redb]; a derived
//! [tantivy] index answers full-text search. One writer thread owns every
//! write transaction: callers on any thread submit commands over a bounded
//! channel and are answered once their batch is committed (group commit).
//! Reads use their own read transactions and never wait for the writer.
//!
//! # Example
//!
//! ```
//! use caselog_core::*;
//! use caselog_store::*;
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path(), Options::default())?;
//! let tenant = TenantId::parse("seller-0042")?;
//! let created = store.create_case(NewCase::new(
//!     tenant.clone(),
//!     UserId::parse("ops@example.com")?,
//!     Marketplace::parse("US")?,
//!     LanguageTag::parse("en")?,
//!     Category::Listing,
//!     "ASIN B08XYZ1234 suppressed",
//!     "I am unable to remove a suppressed ASIN.",
//! ))?;
//! let scope = Scope::Tenant(tenant);
//! let case = store.case(&scope, &CaseRef::Number(created.number.clone()))?.unwrap();
//! assert_eq!(case.status(), Status::Open);
//! // Another tenant cannot see it.
//! let other = Scope::Tenant(TenantId::parse("seller-0001")?);
//! assert!(store.case(&other, &CaseRef::Number(created.number))?.is_none());
//! store.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod buckets;
mod compact;
mod erase;
mod error;
mod feed;
mod files;
#[cfg(feature = "internals")]
pub mod fuzzing;
mod guard;
mod import_views;
pub mod index;
pub mod interchange;
mod metrics;
mod migrate;
mod model;
mod options;
mod paging;
mod read;
mod records;
mod retention;
mod salvage;
mod snapshot;
mod store;
mod stored;
mod tables;
mod timer;
mod unread;
mod views;
mod wal;
mod workflow;
mod write;
mod writer;

pub use compact::CompactReport;
pub use erase::{Erased, ScrubReport};
pub use error::{Result, StoreError};
pub use feed::{
    check_consumer_name, ChangeKind, ConsumerInfo, FeedChange, FeedError, FeedPage, FeedStart, FEED_SCAN_LIMIT,
    MAX_CONSUMER_NAME,
};
pub use index::{
    Facets, IndexCounters, IndexProgress, IndexStatus, Mismatch, RebuildReason, RebuildReport, SearchHit, SearchLimits,
    SearchOptions, SearchResults, SearchSort, SearchWalk, Snippet, VerifyReport,
};
pub use metrics::{LatencySummary, Metrics, Pow2Histogram, WriterTime};
pub use model::{
    Case, CaseLinks, CaseRef, Created, ImportCase, ImportConflict, ImportOutcome, NewAttachment, NewCase, NewFollowUp,
    NewMessage, Scope, StatusChange, ThreadEntry, Written,
};
pub use options::{Clock, Durability, IndexDirectoryHook, MigrationProgress, Options, StorageHooks};
pub use paging::{Cursor, CursorError};
pub use read::{
    QueueEntry, QueueQuery, Stats, ThreadPage, TimeRange, ViewFilter, ViewKind, ViewPage, ViewQuery, ViewSort,
    MAX_PER_PAGE, MAX_VIEW_WINDOW,
};
pub use retention::{RetentionPolicy, RetentionReport};
pub use salvage::{SalvageLoss, SalvageReport};
pub use snapshot::{check_backup_destination, CopySummary, Snapshot, SnapshotCases};
pub use store::{Store, STORE_FILE};
pub use unread::UnreadCount;
pub use wal::{LogError, WAL_FILE};

/// The repository README's examples, compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// A named point on the durable path where the crash tests stop the
/// process (`CASELOG_ABORT_AT=<name>:<n>` aborts at the n-th time the
/// point is passed). Compiled in only with the `internals` feature.
#[cfg(feature = "internals")]
pub(crate) fn fault_point(name: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PLAN: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static PASSED: AtomicU64 = AtomicU64::new(0);
    let plan = PLAN.get_or_init(|| {
        let v = std::env::var("CASELOG_ABORT_AT").ok()?;
        let (point, n) = v.rsplit_once(':')?;
        Some((point.to_owned(), n.parse().ok()?))
    });
    if let Some((point, n)) = plan {
        if point == name && PASSED.fetch_add(1, Ordering::Relaxed) + 1 >= *n {
            // No destructors, no flushes: what a kill leaves.
            std::process::abort();
        }
    }
}

#[cfg(not(feature = "internals"))]
#[inline(always)]
pub(crate) fn fault_point(_name: &str) {}
