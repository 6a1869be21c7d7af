//! Store options, with documented defaults.

use std::time::Duration;

use caselog_core::{AttachmentPolicy, LifecyclePolicy, QueuePolicy, Timestamp};

use crate::index::SearchLimits;

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every acknowledged write is on disk (fsync) before the caller is
    /// answered. The default.
    #[default]
    Immediate,
    /// Writes are acknowledged once committed in memory; they reach disk
    /// with the next durable commit ([`crate::Store::sync`], a durable
    /// write, or shutdown). For bulk loads whose source can be replayed.
    Deferred,
}

/// How a store is opened. `Options::default()` is right for most hosts.
#[derive(Debug, Clone)]
pub struct Options {
    /// When writes are acknowledged. Default: [`Durability::Immediate`].
    pub durability: Durability,
    /// redb's page cache in bytes. Default: 128 MiB.
    pub cache_bytes: usize,
    /// Commands the writer's channel holds before callers block.
    /// Default: 1,024.
    pub channel_capacity: usize,
    /// How long a caller waits for room in a full channel before getting
    /// [`crate::StoreError::Busy`]; `None` waits indefinitely. Default: 30 s.
    pub submit_timeout: Option<Duration>,
    /// Most commands the writer folds into one transaction. Default: 1,024.
    pub max_batch: usize,
    /// Cases per transaction during a bulk import. Larger chunks share more
    /// B-tree pages between cases (view keys land at random positions), so
    /// fewer pages are copied per case. Default: 8,000.
    pub import_chunk: usize,
    /// During a bulk import, every this many chunks is committed durably
    /// (the last one always is). Default: 1. redb reuses the pages a
    /// non-durable commit frees only after the next durable one, so
    /// spacing durable commits out grows the file (1.8x at 500k cases
    /// with 16 chunks of 2,000); with 8,000-case chunks, making every one
    /// durable measured as fast as every fourth.
    pub import_durable_every: usize,
    /// Memory budget of the full-text index writer in bytes (at least
    /// 15 MB is used). Default: 128 MiB.
    pub index_heap_bytes: usize,
    /// Longest the indexer lets applied changes wait before committing them
    /// while no caller waits in [`crate::Store::wait_indexed`] (a waiter gets
    /// a commit as soon as its change is applied). Bounds how stale search
    /// results are under sustained writes. During a bulk import
    /// ([`crate::Store::import`]) the index commits every 50,000 documents
    /// instead (and whenever a caller waits), which keeps segments large.
    /// Default: 200 ms.
    pub index_commit_interval: Duration,
    /// After this many changes are committed to the index, the change log
    /// entries it covers are pruned; 0 never prunes. Default: 100,000.
    pub index_prune_every: u64,
    /// Limits of search queries and pages.
    pub search_limits: SearchLimits,
    /// Queue policy (class table, targets, tiers, holidays, cooldown).
    pub queue: QueuePolicy,
    /// Lifecycle policy (reopen window).
    pub lifecycle: LifecyclePolicy,
    /// Accepted attachment types and size limits.
    pub attachments: AttachmentPolicy,
    /// Whether the indexer, after an unclean shutdown, looks for cases
    /// indexed more than once and re-indexes them (counted in
    /// [`crate::Store::index_counters`]). Default: true. Turned off only by
    /// tests that want to see whether such a duplicate arises at all; the
    /// document-count check after every index commit runs regardless.
    pub index_open_duplicate_check: bool,
    /// Most changes the host's change feed keeps for a registered consumer
    /// that has not acknowledged them; beyond it the oldest are pruned and
    /// that consumer gets [`crate::StoreError::FeedTruncated`]. 0 keeps
    /// them until every consumer has acknowledged. Default: 1,000,000.
    pub feed_retain_max: u64,
    /// Which closed cases [`crate::Store::run_retention`] erases. Default:
    /// none (every case is kept).
    pub retention: crate::retention::RetentionPolicy,
    /// How often the store's timer thread applies the lifecycle timers
    /// (reply deadlines expire, resolved cases auto-close after the reopen
    /// window), each pass one durable transaction; `None` runs no timer
    /// thread (the host calls [`crate::Store::run_timers`] itself).
    /// Default: every 60 s.
    pub timer_interval: Option<Duration>,
    /// The clock the timer thread reads. Default: the system clock; tests
    /// inject their own.
    pub clock: Clock,
    /// Most cases one transaction re-keys after a tenant's tier changes
    /// (a larger tenant is re-keyed in several). Default: 5,000.
    pub rekey_batch: usize,
    /// How many segments of a size class the index merges at once (tantivy's
    /// `LogMergePolicy::min_num_segments`). Default: 8. Lower values merge
    /// more often (2: almost after every commit), which soak tests use.
    pub index_merge_min_segments: usize,
    /// Segments with fewer live documents than this form the index's
    /// smallest merge level (tantivy's `LogMergePolicy::min_layer_size`).
    /// tantivy's 10,000 puts the small segments of each commit in one level
    /// with what they were merged into, which is then merged again and
    /// again while it grows; with 1,000 a merged segment moves up a level
    /// and is next merged with segments of its own size (with one indexing
    /// thread, the merge thread's median share of the process's CPU under
    /// sustained replies fell from 19% to 6%, for a few more segments;
    /// BENCHMARKS.md).
    /// Default: 1,000.
    pub index_merge_min_layer_docs: u32,
    /// Indexing threads of the index writer; 0 picks one per two cores
    /// (at least 1, at most 4, and at most one per 15 MB of
    /// `index_heap_bytes`). Every thread writes its own segment at each
    /// commit. Default: 0.
    pub index_threads: usize,
    /// Called while an open migrates a store written by an older release
    /// to this release's schema, with (cases done, cases in all). Default:
    /// none.
    pub migration_progress: Option<MigrationProgress>,
    /// Acknowledge durable writes on a sync of the write-ahead log
    /// (`dir/cases.wal`) instead of a durable commit of the store file
    /// (see the `wal` module in ARCHITECTURE.md). Applies with
    /// [`Durability::Immediate`]. Default: `true`.
    pub wal: bool,
    /// Bytes of the log's ring (preallocated once). A batch larger than
    /// half of it commits durably to the store file instead. Default:
    /// 64 MiB.
    pub wal_bytes: u64,
    /// Longest time between checkpoints (durable commits of the store
    /// file that let the log be reused) while writes come in. Default: 2 s.
    pub checkpoint_interval: Duration,
}

/// A callback of a schema migration's progress: (cases done, cases in all).
#[derive(Clone)]
pub struct MigrationProgress(pub std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>);

impl std::fmt::Debug for MigrationProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MigrationProgress")
    }
}

/// The time source of the store's timer thread.
#[derive(Clone)]
pub struct Clock(std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(std::sync::Arc::new(Timestamp::now))
    }

    /// A clock that reads `now` (for tests: a shared, settable time).
    pub fn new(now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Clock(std::sync::Arc::new(now))
    }

    /// The current time by this clock.
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Immediate,
            cache_bytes: 128 * 1024 * 1024,
            channel_capacity: 1024,
            submit_timeout: Some(Duration::from_secs(30)),
            max_batch: 1024,
            import_chunk: 8_000,
            import_durable_every: 1,
            index_heap_bytes: 128 * 1024 * 1024,
            index_commit_interval: Duration::from_millis(200),
            index_prune_every: 100_000,
            search_limits: SearchLimits::default(),
            queue: QueuePolicy::default(),
            lifecycle: LifecyclePolicy::default(),
            attachments: AttachmentPolicy::default(),
            index_open_duplicate_check: true,
            feed_retain_max: 1_000_000,
            retention: crate::retention::RetentionPolicy::default(),
            timer_interval: Some(Duration::from_secs(60)),
            clock: Clock::system(),
            rekey_batch: 5_000,
            index_merge_min_segments: 8,
            index_merge_min_layer_docs: 1_000,
            index_threads: 0,
            migration_progress: None,
            wal: true,
            wal_bytes: 64 * 1024 * 1024,
            checkpoint_interval: Duration::from_secs(2),
        }
    }
}

/// Wraps the index's directory: given the store's on-disk index directory,
/// returns the directory tantivy should use (typically a wrapper that
/// forwards to it, counting or failing operations). The directory is
/// tantivy's trait object, so a wrapper needs only the `tantivy` crate of
/// the same release as the store's.
pub type IndexDirectoryHook =
    std::sync::Arc<dyn Fn(Box<dyn tantivy::Directory>) -> Box<dyn tantivy::Directory> + Send + Sync>;

/// Where a store keeps its bytes, for hosts that need something other than
/// the default files (see [`crate::Store::open_with`]): an in-memory or
/// instrumented redb backend, or a wrapper around the index directory
/// (metrics, fault injection). `StorageHooks::default()` is exactly
/// [`crate::Store::open`].
#[derive(Default)]
pub struct StorageHooks {
    /// The redb storage to use instead of the file `dir/cases.redb`. It must
    /// be empty (a new store is created in it) or hold a caselog store, and
    /// must honour `sync_data` for writes to be durable: the store's
    /// durability guarantees are exactly as good as this backend's.
    /// Default: `None` (the file).
    pub backend: Option<Box<dyn redb::StorageBackend>>,
    /// Applied to the index directory (`dir/index`) every time the store
    /// opens it, including when the index is rebuilt on open. The index
    /// itself still lives in `dir/index`; the hook sees every file
    /// operation. Default: `None` (the directory as is).
    pub index_directory: Option<IndexDirectoryHook>,
    /// The storage of the write-ahead log instead of the file
    /// `dir/cases.wal` (same trait and same rules as `backend`: it must
    /// be empty or hold this store's log). Default: `None` (the file).
    pub wal: Option<Box<dyn redb::StorageBackend>>,
}

impl std::fmt::Debug for StorageHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageHooks")
            .field("backend", &self.backend)
            .field("index_directory", &self.index_directory.as_ref().map(|_| "hook"))
            .field("wal", &self.wal)
            .finish()
    }
}
