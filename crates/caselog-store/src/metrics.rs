//! Counters of the write path, read with [`crate::Store::metrics`]: how
//! many commits the writer made and how large its batches were, how long
//! callers waited for their acknowledgement, and what each commit cost the
//! file (bytes and pages written, fsyncs).
//!
//! Everything is a relaxed atomic bumped by the thread that did the work, so
//! counting costs a few nanoseconds per commit and never takes a lock. File
//! traffic is counted by [`CountingBackend`], a thin [`redb::StorageBackend`]
//! the store installs around the file (redb has no per-commit write
//! statistics of its own).

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// redb's page size (its default, which the store keeps).
pub const PAGE_BYTES: u64 = 4_096;

/// Buckets of a power-of-two histogram: bucket `k` counts values `v` with
/// `2^(k-1) < v <= 2^k` (bucket 0 holds 0 and 1, the last one everything
/// above too).
const POW2_BUCKETS: usize = 40;

/// Sub-buckets per power of two of a latency histogram: quarter octaves,
/// so a percentile is known within 25%.
const LAT_SUB: usize = 4;
/// Latency buckets: quarter octaves from 1 µs to 2^40 µs.
const LAT_BUCKETS: usize = 40 * LAT_SUB;

fn relaxed_add(c: &AtomicU64, v: u64) {
    c.fetch_add(v, Ordering::Relaxed);
}

fn pow2_bucket(v: u64) -> usize {
    if v <= 1 {
        0
    } else {
        ((64 - (v - 1).leading_zeros()) as usize).min(POW2_BUCKETS - 1)
    }
}

/// Quarter-octave bucket of a duration in µs: its octave and which of four
/// equal quarters of it.
fn lat_bucket(micros: u64) -> usize {
    if micros <= 1 {
        return 0;
    }
    let octave = 63 - micros.leading_zeros() as usize;
    // The two bits below the leading one pick the quarter.
    let quarter = if octave >= 2 {
        ((micros >> (octave - 2)) & 0b11) as usize
    } else {
        ((micros << (2 - octave)) & 0b11) as usize
    };
    (octave * LAT_SUB + quarter).min(LAT_BUCKETS - 1)
}

/// The upper edge of a latency bucket, µs: octave `b / 4` is cut into four
/// equal quarters.
fn lat_bucket_upper(b: usize) -> f64 {
    let (octave, quarter) = (b / LAT_SUB, b % LAT_SUB);
    2f64.powi(octave as i32) * (1.0 + (quarter + 1) as f64 / LAT_SUB as f64)
}

#[derive(Debug)]
struct Histogram<const N: usize>([AtomicU64; N]);

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Histogram(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl<const N: usize> Histogram<N> {
    fn add(&self, bucket: usize) {
        if let Some(c) = self.0.get(bucket.min(N - 1)) {
            relaxed_add(c, 1);
        }
    }

    fn snapshot(&self) -> Vec<u64> {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }
}

/// The live counters, shared by the store, its writer thread and the file
/// backend.
#[derive(Debug)]
pub(crate) struct Counters {
    /// When the store was opened: rates are over the time since.
    opened: std::time::Instant,
    commits: AtomicU64,
    durable_commits: AtomicU64,
    commands: AtomicU64,
    batch_sizes: Histogram<POW2_BUCKETS>,
    commit_pages: Histogram<POW2_BUCKETS>,
    commit_time: Histogram<LAT_BUCKETS>,
    ack_time: Histogram<LAT_BUCKETS>,
    acks: AtomicU64,
    bytes_written: AtomicU64,
    write_calls: AtomicU64,
    fsyncs: AtomicU64,
    /// The write-ahead log's traffic (its appends and syncs are not in
    /// `bytes_written`/`fsyncs`, which count the store file).
    entries_written: AtomicU64,
    log_bytes: AtomicU64,
    log_syncs: AtomicU64,
    checkpoints: AtomicU64,
    /// Where the writer thread's time goes, µs per [`WriterStage`].
    writer_us: [AtomicU64; WriterStage::COUNT],
    index: IndexLoad,
}

/// What the writer thread is doing, for [`Metrics::writer_time`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriterStage {
    /// Waiting for a command.
    Idle,
    /// Running a batch's commands in its transaction.
    Apply,
    /// Appending and syncing the batch's log record.
    Log,
    /// Committing the transaction (without a sync, when logged).
    Commit,
    /// A checkpoint: a durable commit of the store file.
    Checkpoint,
}

impl WriterStage {
    const COUNT: usize = 5;
}

/// The live indexer's work (see [`Metrics`]'s `index_*` fields).
#[derive(Debug, Default)]
struct IndexLoad {
    commits: AtomicU64,
    changes: AtomicU64,
    documents: AtomicU64,
    build_us: AtomicU64,
    commit_time: Histogram<LAT_BUCKETS>,
    publish_time: Histogram<LAT_BUCKETS>,
    dirty_time: Histogram<LAT_BUCKETS>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            opened: std::time::Instant::now(),
            commits: AtomicU64::default(),
            durable_commits: AtomicU64::default(),
            commands: AtomicU64::default(),
            batch_sizes: Histogram::default(),
            commit_pages: Histogram::default(),
            commit_time: Histogram::default(),
            ack_time: Histogram::default(),
            acks: AtomicU64::default(),
            bytes_written: AtomicU64::default(),
            write_calls: AtomicU64::default(),
            fsyncs: AtomicU64::default(),
            entries_written: AtomicU64::default(),
            log_bytes: AtomicU64::default(),
            log_syncs: AtomicU64::default(),
            checkpoints: AtomicU64::default(),
            writer_us: std::array::from_fn(|_| AtomicU64::new(0)),
            index: IndexLoad::default(),
        }
    }
}

impl Counters {
    /// Records one append to the write-ahead log of `bytes`, synced or not.
    pub fn log_append(&self, bytes: u64, synced: bool) {
        relaxed_add(&self.log_bytes, bytes);
        relaxed_add(&self.log_syncs, u64::from(synced));
    }

    /// Records one checkpoint (a durable commit of the store file that
    /// lets the log before it be reused).
    pub fn checkpoint(&self) {
        relaxed_add(&self.checkpoints, 1);
    }

    /// Change-log entries the indexer applied, the documents it added for
    /// them and the time it took to read the cases and build the documents.
    pub fn index_applied(&self, changes: u64, documents: u64, took: Duration) {
        relaxed_add(&self.index.changes, changes);
        relaxed_add(&self.index.documents, documents);
        relaxed_add(&self.index.build_us, took.as_micros() as u64);
    }

    /// One index commit: the tantivy commit itself, the reload and checks
    /// before it was published, and how long its oldest change waited
    /// between being applied and being published.
    pub fn index_commit(&self, commit: Duration, publish: Duration, dirty: Duration) {
        relaxed_add(&self.index.commits, 1);
        self.index.commit_time.add(lat_bucket(commit.as_micros() as u64));
        self.index.publish_time.add(lat_bucket(publish.as_micros() as u64));
        self.index.dirty_time.add(lat_bucket(dirty.as_micros() as u64));
    }

    /// Bytes written to the file so far (for per-commit deltas).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.load(Ordering::Relaxed)
    }

    /// Records one committed batch of `commands` commands that wrote
    /// `bytes` to the file and took `took` to commit.
    pub fn commit(&self, commands: usize, durable: bool, bytes: u64, took: Duration) {
        relaxed_add(&self.commits, 1);
        relaxed_add(&self.durable_commits, u64::from(durable));
        relaxed_add(&self.commands, commands as u64);
        self.batch_sizes.add(pow2_bucket(commands as u64));
        self.commit_pages.add(pow2_bucket(bytes.div_ceil(PAGE_BYTES)));
        self.commit_time.add(lat_bucket(took.as_micros() as u64));
    }

    /// Records the B-tree entries a committed batch inserted or removed.
    pub fn entries(&self, n: u64) {
        relaxed_add(&self.entries_written, n);
    }

    /// Adds `took` to the writer's time in `stage`.
    pub fn writer_time(&self, stage: WriterStage, took: Duration) {
        if let Some(c) = self.writer_us.get(stage as usize) {
            relaxed_add(c, took.as_micros() as u64);
        }
    }

    /// Records one caller's wait from submitting a command to its answer.
    pub fn ack(&self, took: Duration) {
        relaxed_add(&self.acks, 1);
        self.ack_time.add(lat_bucket(took.as_micros() as u64));
    }

    /// A consistent-enough copy (each counter is read once; counters that
    /// move together may be a commit apart).
    pub fn snapshot(&self) -> Metrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Metrics {
            elapsed: self.opened.elapsed(),
            log_bytes: get(&self.log_bytes),
            log_syncs: get(&self.log_syncs),
            checkpoints: get(&self.checkpoints),
            writer_time: {
                let us = |stage: WriterStage| Duration::from_micros(self.writer_us.get(stage as usize).map_or(0, get));
                WriterTime {
                    idle: us(WriterStage::Idle),
                    apply: us(WriterStage::Apply),
                    log: us(WriterStage::Log),
                    commit: us(WriterStage::Commit),
                    checkpoint: us(WriterStage::Checkpoint),
                }
            },
            commits: get(&self.commits),
            durable_commits: get(&self.durable_commits),
            commands: get(&self.commands),
            fsyncs: get(&self.fsyncs),
            bytes_written: get(&self.bytes_written),
            write_calls: get(&self.write_calls),
            entries_written: get(&self.entries_written),
            batch_sizes: Pow2Histogram(self.batch_sizes.snapshot()),
            pages_per_commit: Pow2Histogram(self.commit_pages.snapshot()),
            commit_latency: LatencySummary::of(&self.commit_time.snapshot()),
            ack_latency: LatencySummary::of(&self.ack_time.snapshot()),
            index_commits: get(&self.index.commits),
            index_changes: get(&self.index.changes),
            index_documents: get(&self.index.documents),
            index_build: Duration::from_micros(get(&self.index.build_us)),
            index_commit_latency: LatencySummary::of(&self.index.commit_time.snapshot()),
            index_publish_latency: LatencySummary::of(&self.index.publish_time.snapshot()),
            index_dirty_latency: LatencySummary::of(&self.index.dirty_time.snapshot()),
        }
    }
}

/// A histogram over power-of-two buckets: `counts[k]` counts values in
/// `(2^(k-1), 2^k]`, `counts[0]` the values 0 and 1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pow2Histogram(pub Vec<u64>);

impl Pow2Histogram {
    /// Non-empty buckets as (upper bound, count).
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(k, &n)| (1u64 << k, n))
            .collect()
    }

    /// How many values were counted.
    pub fn count(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl std::fmt::Display for Pow2Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.buckets().iter().map(|(up, n)| format!("≤{up}: {n}")).collect();
        if parts.is_empty() {
            f.write_str("-")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Percentiles of a latency histogram, in µs, each the upper edge of its
/// quarter-octave bucket (so at most 25% above the true value).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// Largest, µs.
    pub max_us: f64,
}

impl LatencySummary {
    fn of(buckets: &[u64]) -> LatencySummary {
        let count: u64 = buckets.iter().sum();
        if count == 0 {
            return LatencySummary::default();
        }
        let at = |p: f64| {
            // Nearest rank: the smallest bucket holding at least p of the samples.
            let rank = ((count as f64) * p).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (b, &n) in buckets.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return lat_bucket_upper(b);
                }
            }
            lat_bucket_upper(buckets.len() - 1)
        };
        LatencySummary {
            count,
            p50_us: at(0.5),
            p99_us: at(0.99),
            max_us: at(1.0),
        }
    }
}

/// The writer thread's time since the store was opened, by what it did
/// (wall time, on or off the CPU: a sync's wait counts where it happens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterTime {
    /// Waiting for a command.
    pub idle: Duration,
    /// Running batches' commands in their transactions.
    pub apply: Duration,
    /// Appending and syncing log records.
    pub log: Duration,
    /// Committing logged batches' transactions (no sync), or a durable
    /// commit's whole commit when there is no log.
    pub commit: Duration,
    /// Checkpoints: durable commits of the store file, idle or in a batch.
    pub checkpoint: Duration,
}

/// The store's write-path counters since it was opened.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metrics {
    /// Time since the store was opened (the span of every count here).
    pub elapsed: Duration,
    /// Bytes appended to the write-ahead log (records with their framing).
    pub log_bytes: u64,
    /// `fdatasync`s of the write-ahead log: one per durable group commit.
    pub log_syncs: u64,
    /// Checkpoints: durable commits of the store file after which the log
    /// before them may be reused.
    pub checkpoints: u64,
    /// Where the writer thread's time went.
    pub writer_time: WriterTime,
    /// Write transactions the writer committed (one per batch).
    pub commits: u64,
    /// Of those, durable ones (fsynced before their callers were answered).
    pub durable_commits: u64,
    /// Commands committed (an import chunk counts as one).
    pub commands: u64,
    /// `fsync`s of the store file (redb syncs more than once per durable commit).
    pub fsyncs: u64,
    /// Bytes written to the store file.
    pub bytes_written: u64,
    /// Write calls to the store file.
    pub write_calls: u64,
    /// B-tree entries inserted or removed by committed batches in the case,
    /// number, thread, change-log, feed, view, queue, view-count and
    /// counter tables (blobs, tenants, read markers and feed consumers are
    /// not counted). A key rewritten with the same bytes is never written,
    /// so this is what a write changed.
    pub entries_written: u64,
    /// Commands per committed batch.
    pub batch_sizes: Pow2Histogram,
    /// 4 KiB pages written per commit (bytes written while the batch was
    /// applied and committed, rounded up to pages).
    pub pages_per_commit: Pow2Histogram,
    /// Time of `commit()` itself (the fsyncs of a durable commit).
    pub commit_latency: LatencySummary,
    /// From a caller submitting a command to its answer (queueing, the
    /// batch's work, the commit).
    pub ack_latency: LatencySummary,
    /// Commits of the search index (by the live indexer; a rebuild's
    /// single commit is not counted).
    pub index_commits: u64,
    /// Change-log entries the indexer applied.
    pub index_changes: u64,
    /// Documents it added for them (a case changed several times in one
    /// batch is indexed once).
    pub index_documents: u64,
    /// Time the indexer spent reading changed cases and building and adding
    /// their documents (tantivy's indexing threads take it from there).
    pub index_build: Duration,
    /// Time of each index commit (tantivy's flush of the new segments, its
    /// delete pass, `meta.json` and the syncs).
    pub index_commit_latency: LatencySummary,
    /// After each index commit, the reader reload, stale-document and
    /// document-count checks before the commit is published to searches.
    pub index_publish_latency: LatencySummary,
    /// Per index commit, from its oldest change being applied to the
    /// commit being published (what the commit interval and the commit
    /// itself add to write→searchable).
    pub index_dirty_latency: LatencySummary,
}

impl Metrics {
    /// Mean commands per commit.
    pub fn mean_batch(&self) -> f64 {
        self.commands as f64 / self.commits.max(1) as f64
    }

    /// Commits per second since the store was opened.
    pub fn commits_per_sec(&self) -> f64 {
        self.commits as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Syncs per commit: of the store file and of the log together (redb
    /// syncs its file more than once per durable commit; a logged commit
    /// syncs only the log).
    pub fn fsyncs_per_commit(&self) -> f64 {
        (self.fsyncs + self.log_syncs) as f64 / self.commits.max(1) as f64
    }

    /// Mean bytes written per commit.
    pub fn mean_bytes_per_commit(&self) -> f64 {
        self.bytes_written as f64 / self.commits.max(1) as f64
    }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "commits {} ({} durable) in {:.1} s ({:.0}/s), commands {}, mean batch {:.1}",
            self.commits,
            self.durable_commits,
            self.elapsed.as_secs_f64(),
            self.commits_per_sec(),
            self.commands,
            self.mean_batch()
        )?;
        writeln!(f, "batch sizes: {}", self.batch_sizes)?;
        writeln!(
            f,
            "file: {} bytes in {} writes, {} fsyncs, {:.0} bytes ({:.1} pages) per commit",
            self.bytes_written,
            self.write_calls,
            self.fsyncs,
            self.mean_bytes_per_commit(),
            self.mean_bytes_per_commit() / PAGE_BYTES as f64
        )?;
        writeln!(f, "pages per commit: {}", self.pages_per_commit)?;
        writeln!(
            f,
            "B-tree entries written: {} ({:.1} per command)",
            self.entries_written,
            self.entries_written as f64 / self.commands.max(1) as f64
        )?;
        writeln!(
            f,
            "log: {} bytes, {} syncs, {} checkpoints; {:.2} fsyncs per commit (file and log)",
            self.log_bytes,
            self.log_syncs,
            self.checkpoints,
            self.fsyncs_per_commit()
        )?;
        let w = &self.writer_time;
        writeln!(
            f,
            "writer time: idle {:.2} s, apply {:.2} s, log {:.2} s, commit {:.2} s, checkpoint {:.2} s",
            w.idle.as_secs_f64(),
            w.apply.as_secs_f64(),
            w.log.as_secs_f64(),
            w.commit.as_secs_f64(),
            w.checkpoint.as_secs_f64()
        )?;
        writeln!(
            f,
            "commit p50/p99/max: {:.0}/{:.0}/{:.0} µs",
            self.commit_latency.p50_us, self.commit_latency.p99_us, self.commit_latency.max_us
        )?;
        writeln!(
            f,
            "submit→ack p50/p99/max: {:.0}/{:.0}/{:.0} µs over {} writes",
            self.ack_latency.p50_us, self.ack_latency.p99_us, self.ack_latency.max_us, self.ack_latency.count
        )?;
        writeln!(
            f,
            "index: {} commits, {} changes, {} documents, {:.1} s building them",
            self.index_commits,
            self.index_changes,
            self.index_documents,
            self.index_build.as_secs_f64()
        )?;
        let ms = |l: &LatencySummary| format!("{:.1}/{:.1}/{:.1}", l.p50_us / 1e3, l.p99_us / 1e3, l.max_us / 1e3);
        write!(
            f,
            "index commit p50/p99/max: {} ms, publish {} ms, applied→published {} ms",
            ms(&self.index_commit_latency),
            ms(&self.index_publish_latency),
            ms(&self.index_dirty_latency)
        )
    }
}

/// A [`redb::StorageBackend`] that counts the bytes, write calls and
/// fsyncs going to the backend it wraps.
#[derive(Debug)]
pub(crate) struct CountingBackend<B> {
    inner: B,
    counters: Arc<Counters>,
}

impl<B> CountingBackend<B> {
    pub fn new(inner: B, counters: Arc<Counters>) -> Self {
        CountingBackend { inner, counters }
    }
}

impl<B: redb::StorageBackend> redb::StorageBackend for CountingBackend<B> {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        relaxed_add(&self.counters.fsyncs, 1);
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        relaxed_add(&self.counters.write_calls, 1);
        relaxed_add(&self.counters.bytes_written, data.len() as u64);
        self.inner.write(offset, data)
    }
    fn close(&self) -> std::io::Result<()> {
        self.inner.close()
    }
    // Locks are the wrapped backend's business; every call is forwarded so
    // a file backend keeps its locks.
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// Opens the existing store file at `path` as `builder.open` would, with
/// its file traffic counted into `counters`.
pub(crate) fn open_counted(
    builder: &redb::Builder,
    path: &std::path::Path,
    counters: Arc<Counters>,
) -> Result<redb::Database, redb::DatabaseError> {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
    // `create_with_backend` would initialise an empty file where `open`
    // refuses it; keep `open`'s answer for that case.
    if file.metadata()?.len() == 0 {
        return builder.open(path);
    }
    let backend = redb::backends::FileBackend::new(file)?;
    builder.create_with_backend(CountingBackend::new(backend, counters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_buckets_hold_their_range() {
        // Values beyond the histogram's range land in its last bucket.
        assert_eq!(pow2_bucket(u64::MAX), POW2_BUCKETS - 1);
        for v in [0u64, 1, 2, 3, 4, 5, 1000, 1024, 1025, 1 << 38] {
            let k = pow2_bucket(v);
            let upper = 1u128 << k;
            let lower = if k == 0 { 0 } else { 1u128 << (k - 1) };
            assert!((v as u128) <= upper, "{v} in bucket {k}");
            assert!(k == 0 || (v as u128) > lower, "{v} in bucket {k}");
        }
    }

    #[test]
    fn latency_buckets_are_within_a_quarter_octave() {
        for us in (2u64..200_000).step_by(37) {
            let upper = lat_bucket_upper(lat_bucket(us));
            assert!(upper > us as f64 && upper <= us as f64 * 1.25 + 1e-9, "{us}: {upper}");
        }
    }

    #[test]
    fn percentiles_follow_the_samples() {
        let c = Counters::default();
        // 98 fast acks of 10 µs, 2 slow ones of 10 ms: p50 is fast, p99 slow.
        for _ in 0..98 {
            c.ack(Duration::from_micros(10));
        }
        for _ in 0..2 {
            c.ack(Duration::from_millis(10));
        }
        let m = c.snapshot();
        assert_eq!(m.ack_latency.count, 100);
        assert!((10.0..=12.5).contains(&m.ack_latency.p50_us), "{m:?}");
        assert!((10_000.0..=12_500.0).contains(&m.ack_latency.p99_us), "{m:?}");
        c.commit(3, true, 3 * PAGE_BYTES + 1, Duration::from_micros(500));
        let m = c.snapshot();
        assert_eq!((m.commits, m.durable_commits, m.commands), (1, 1, 3));
        assert_eq!(m.batch_sizes.buckets(), vec![(4, 1)]);
        assert_eq!(m.pages_per_commit.buckets(), vec![(4, 1)]);
    }
}
