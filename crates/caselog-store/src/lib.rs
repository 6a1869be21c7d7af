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
//! let created = store.create_case(NewCase {
//!     tenant: tenant.clone(),
//!     created_by: UserId::parse("ops@example.com")?,
//!     marketplace: Marketplace::parse("US")?,
//!     language: LanguageTag::parse("en")?,
//!     category: Category::Listing,
//!     title: "ASIN B08XYZ1234 suppressed".into(),
//!     description: "I am unable to remove a suppressed ASIN.".into(),
//!     attachments: vec![],
//!     refs: References::default(),
//!     complex: false,
//!     at: None,
//! })?;
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

mod error;
pub mod fuzzing;
mod guard;
pub mod index;
pub mod interchange;
mod metrics;
mod model;
mod options;
mod read;
mod records;
mod salvage;
mod store;
mod tables;
mod timer;
mod workflow;
mod write;
mod writer;

pub use error::{Result, StoreError};
pub use index::{
    CursorError, Facets, IndexCounters, IndexProgress, IndexStatus, Mismatch, RebuildReason, RebuildReport,
    SearchCursor, SearchHit, SearchLimits, SearchOptions, SearchResults, SearchSort, Snippet, VerifyReport,
};
pub use metrics::{LatencySummary, Metrics, Pow2Histogram};
pub use model::{
    Case, CaseLinks, CaseRef, Created, ImportCase, ImportConflict, ImportOutcome, NewAttachment, NewCase, NewMessage,
    Scope, StatusChange, ThreadEntry, Written,
};
pub use options::{Clock, Durability, IndexDirectoryHook, Options, StorageHooks};
pub use read::{
    QueueEntry, QueueQuery, Stats, ThreadPage, TimeRange, ViewFilter, ViewKind, ViewPage, ViewQuery, ViewSort,
    MAX_PER_PAGE, MAX_VIEW_WINDOW,
};
pub use salvage::{SalvageLoss, SalvageReport};
pub use store::{Store, STORE_FILE};

/// The redb release the store is built on, for implementing
/// [`redb::StorageBackend`] in [`StorageHooks::backend`].
pub use redb;
/// The tantivy release the index is built on, for implementing
/// [`tantivy::Directory`] in [`StorageHooks::index_directory`].
pub use tantivy;
