//! The host's change feed: every change in commit order, with named
//! consumers whose acknowledged positions are durable.
//!
//! Each change the writer logs for the indexer (`CHANGES`) also gets a feed
//! record in [`tables::FEED`] under the same sequence, in the same
//! transaction, so the feed can never miss a committed change. The feed is
//! pruned only below the slowest registered consumer (and what the index has
//! applied), except that it never keeps more than
//! [`crate::Options::feed_retain_max`] changes: a consumer left further
//! behind gets [`StoreError::FeedTruncated`] with the first position still
//! available, never a silent gap. An erased case's feed records are
//! replaced by one [`ChangeKind::Erased`] tombstone (see `erase.rs`).
//!
//! A consumer is scoped: one registered by a tenant sees only that tenant's
//! changes and is found only under that tenant's scope.

use crate::wal::ops::Readable;
use std::time::{Duration, Instant};

use caselog_core::{CaseId, CaseNumber, Status, TenantId, Timestamp};
use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::st;
use crate::error::{Result, StoreError};
use crate::model::{Case, Scope, ThreadEntry};
use crate::records;
use crate::store::Store;
use crate::stored::read_counter;
use crate::tables;
use crate::write::{Ctx, Tables};
use crate::writer::ext;

/// Longest a consumer name may be.
pub const MAX_CONSUMER_NAME: usize = 64;
/// Most feed records one [`Store::feed`] call scans (a tenant consumer
/// skips other tenants' changes; this bounds the work of one call).
pub const FEED_SCAN_LIMIT: usize = 10_000;

/// What a change did to its case. Stored in feed records by variant index:
/// a new kind goes at the end, and none is ever removed or reordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeKind {
    /// The case was opened (including a follow-up).
    Created,
    /// The case was imported from an archive.
    Imported,
    /// A thread entry without a status change (a reply, a note).
    Message {
        /// The thread entry's sequence.
        entry: u32,
    },
    /// A thread entry that changed the status.
    StatusChanged {
        /// The thread entry's sequence.
        entry: u32,
        /// Status before.
        from: Option<Status>,
        /// Status after.
        to: Status,
    },
    /// The case was merged into another one.
    Merged {
        /// The thread entry's sequence.
        entry: u32,
        /// The surviving case.
        into: CaseNumber,
    },
    /// A change that added no thread entry (e.g. marked complex).
    Updated,
    /// The case was erased; its earlier changes are gone from the feed.
    Erased,
}

impl ChangeKind {
    /// The kind as a stable identifier (`created`, `message`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Imported => "imported",
            ChangeKind::Message { .. } => "message",
            ChangeKind::StatusChanged { .. } => "status_changed",
            ChangeKind::Merged { .. } => "merged",
            ChangeKind::Updated => "updated",
            ChangeKind::Erased => "erased",
        }
    }
}

/// One change of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedChange {
    /// The change sequence (strictly increasing in the feed).
    pub seq: u64,
    /// The case's internal id.
    pub case: CaseId,
    /// The case's number.
    pub number: CaseNumber,
    /// The case's tenant.
    pub tenant: TenantId,
    /// What changed.
    pub kind: ChangeKind,
    /// When (the thread entry's time, the case's update time, or for an
    /// erasure the time it was erased).
    pub at: Timestamp,
}

/// A page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// Changes in sequence order (only the consumer's tenant's, if scoped).
    pub changes: Vec<FeedChange>,
    /// The position this page reaches: pass it as `from` to continue, and
    /// acknowledge it with [`Store::feed_ack`] once the changes are handled.
    /// It can be past the last change returned (a tenant consumer skips
    /// other tenants' changes).
    pub position: u64,
}

/// Where a newly registered consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStart {
    /// At the oldest change still kept.
    Beginning,
    /// After the last committed change.
    Now,
    /// After this change sequence.
    After(u64),
}

/// A registered consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerInfo {
    /// Its name.
    pub name: String,
    /// The acknowledged position (changes up to it are handled).
    pub acked: u64,
    /// When it was registered.
    pub registered_at: Timestamp,
}

/// A refused feed request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FeedError {
    /// A consumer name must be 1 to 64 ASCII letters, digits, `.`, `_`, `-`.
    #[error("invalid feed consumer name {name:?}: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No consumer of that name in the caller's scope.
    #[error("no feed consumer named {name:?} in scope {scope}")]
    UnknownConsumer {
        /// The name given.
        name: String,
        /// The scope asked in (`*` for all tenants).
        scope: String,
    },
    /// An acknowledged position must lie between the first kept change
    /// (less one) and the last committed change.
    #[error("feed consumer {name:?}: position {position} is outside {first}..={last}")]
    PositionOutOfRange {
        /// The consumer.
        name: String,
        /// The position given.
        position: u64,
        /// The lowest position accepted.
        first: u64,
        /// The highest position accepted (the last committed change).
        last: u64,
    },
}

/// The stored form of a feed record (version 1).
#[derive(Serialize, Deserialize)]
struct FeedRecord {
    case: u64,
    number: CaseNumber,
    tenant: TenantId,
    at: Timestamp,
    kind: ChangeKind,
}

/// The stored form of a consumer (version 1).
#[derive(Serialize, Deserialize)]
struct ConsumerRecord {
    acked: u64,
    registered_at: Timestamp,
}

fn decode_record(bytes: &[u8], seq: u64) -> Result<FeedRecord> {
    records::decode(bytes, "feed", &seq)
}

fn change_of(seq: u64, r: FeedRecord) -> FeedChange {
    FeedChange {
        seq,
        case: CaseId(r.case),
        number: r.number,
        tenant: r.tenant,
        kind: r.kind,
        at: r.at,
    }
}

/// Checks a consumer name.
pub fn check_consumer_name(name: &str) -> std::result::Result<(), FeedError> {
    let bad = |reason| {
        Err(FeedError::BadName {
            name: name.chars().take(80).collect(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_CONSUMER_NAME {
        return bad("it is longer than 64 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// Writes the feed record of change `seq` to `case` (called from the
/// writer's `log_change`, with the case as the write left it): `appended`
/// is the thread entry the write added, if any, and `created` whether the
/// write made the case. The kind is told from those, not read back from
/// the tables the write just changed.
pub(crate) fn record(
    t: &mut Tables<'_>,
    seq: u64,
    c: &Case,
    appended: Option<&ThreadEntry>,
    created: bool,
) -> Result<()> {
    let (at, kind) = match appended {
        _ if created && c.imported => (c.state.updated_at, ChangeKind::Imported),
        _ if created => (c.state.updated_at, ChangeKind::Created),
        Some(e) => {
            let entry = c.entries.saturating_sub(1);
            let kind = match &e.change {
                Some(ch) => match &ch.event {
                    caselog_core::CaseEvent::MergeInto { target } => ChangeKind::Merged {
                        entry,
                        into: target.clone(),
                    },
                    // Routing (transfer, assignment, complexity) changes the
                    // case, not its conversation.
                    event if event.is_routing() => ChangeKind::Updated,
                    _ if ch.from != Some(ch.to) => ChangeKind::StatusChanged {
                        entry,
                        from: ch.from,
                        to: ch.to,
                    },
                    _ => ChangeKind::Message { entry },
                },
                None => ChangeKind::Message { entry },
            };
            (e.at, kind)
        }
        None => (c.state.updated_at, ChangeKind::Updated),
    };
    let rec = FeedRecord {
        case: c.id.0,
        number: c.number.clone(),
        tenant: c.tenant.clone(),
        at,
        kind,
    };
    put_record(t, seq, &rec)?;
    t.written += 1;
    Ok(())
}

fn put_record(t: &mut Tables<'_>, seq: u64, rec: &FeedRecord) -> Result<()> {
    let bytes = records::encode(rec, "feed")?;
    t.feed.insert(seq, bytes.as_slice()).map_err(st("writing the feed"))?;
    Ok(())
}

/// Replaces every feed record of an erased case by one tombstone at `seq`
/// (which the caller has also logged in `CHANGES`).
pub(crate) fn tombstone(
    t: &mut Tables<'_>,
    seq: u64,
    case: CaseId,
    number: &CaseNumber,
    tenant: &TenantId,
    at: Timestamp,
) -> Result<usize> {
    let mut doomed = Vec::new();
    for item in t.feed.iter().map_err(st("erasing from the feed"))? {
        let (k, v) = item.map_err(st("erasing from the feed"))?;
        if decode_record(v.value(), k.value())?.case == case.0 {
            doomed.push(k.value());
        }
    }
    for k in &doomed {
        t.feed.remove(*k).map_err(st("erasing from the feed"))?;
    }
    let rec = FeedRecord {
        case: case.0,
        number: number.clone(),
        tenant: tenant.clone(),
        at,
        kind: ChangeKind::Erased,
    };
    put_record(t, seq, &rec)?;
    Ok(doomed.len())
}

/// The lowest feed sequence not pruned.
fn feed_first(meta: &impl Readable<&'static str, &'static [u8]>) -> Result<u64> {
    let meta = meta.readable();
    Ok(read_counter(meta, tables::META_FEED_FIRST)?.max(1))
}

/// Prunes feed records below the slowest consumer, below `index_upto` (what
/// the index has applied) and, past the cap, regardless of consumers.
pub(crate) fn prune(t: &mut Tables<'_>, ctx: &Ctx<'_>, index_upto: u64) -> Result<u64> {
    let mut slowest = u64::MAX;
    for item in t.feed_consumers.iter().map_err(st("pruning the feed"))? {
        let (k, v) = item.map_err(st("pruning the feed"))?;
        let (scope, name) = k.value();
        let c: ConsumerRecord = records::decode(v.value(), "feed_consumers", &format_args!("({scope}, {name})"))?;
        slowest = slowest.min(c.acked.saturating_add(1));
    }
    let mut floor = index_upto.min(slowest);
    let cap = ctx.opts.feed_retain_max;
    if cap > 0 {
        // Keep at most `cap` changes: next_change - floor <= cap.
        floor = floor.max(ctx.next_change.saturating_sub(cap)).min(index_upto);
    }
    let first = feed_first(&t.meta)?;
    if floor <= first {
        return Ok(0);
    }
    let keys: Vec<u64> = t
        .feed
        .range(..floor)
        .map_err(st("pruning the feed"))?
        .map(|item| item.map(|(k, _)| k.value()))
        .collect::<std::result::Result<_, _>>()
        .map_err(st("pruning the feed"))?;
    for k in &keys {
        t.feed.remove(*k).map_err(st("pruning the feed"))?;
    }
    t.meta
        .insert(tables::META_FEED_FIRST, floor.to_le_bytes().as_slice())
        .map_err(st("pruning the feed"))?;
    Ok(keys.len() as u64)
}

fn consumer_key<'a>(scope: &'a Scope, name: &'a str) -> (&'a str, &'a str) {
    (scope.key(), name)
}

fn unknown(scope: &Scope, name: &str) -> StoreError {
    StoreError::Feed(FeedError::UnknownConsumer {
        name: name.to_owned(),
        scope: scope.key().to_owned(),
    })
}

fn decode_consumer(bytes: &[u8], scope: &Scope, name: &str) -> Result<ConsumerRecord> {
    records::decode(bytes, "feed_consumers", &format_args!("({}, {name})", scope.key()))
}

/// Whether a read of a table failed only because a store made before the
/// table existed was opened read-only.
fn missing_table(e: &redb::TableError) -> bool {
    matches!(e, redb::TableError::TableDoesNotExist(_))
}

impl Store {
    /// Registers a feed consumer under `scope` (a tenant's consumer sees
    /// only that tenant's changes) and returns its acknowledged position.
    /// Registering a name that exists changes nothing and returns its
    /// position, so a host can register at every start.
    pub fn feed_register(&self, scope: &Scope, name: &str, start: FeedStart) -> Result<u64> {
        check_consumer_name(name)?;
        let scope = scope.clone();
        let name = name.to_owned();
        self.submit(ext(move |t, ctx, now| {
            if let Some(v) = t
                .feed_consumers
                .get(consumer_key(&scope, &name))
                .map_err(st("reading a feed consumer"))?
            {
                return Ok(decode_consumer(v.value(), &scope, &name)?.acked);
            }
            let first = feed_first(&t.meta)?;
            let last = ctx.next_change.saturating_sub(1);
            let acked = match start {
                FeedStart::Beginning => first - 1,
                FeedStart::Now => last,
                FeedStart::After(p) if p.saturating_add(1) >= first && p <= last => p,
                FeedStart::After(p) => {
                    return Err(StoreError::Feed(FeedError::PositionOutOfRange {
                        name,
                        position: p,
                        first: first - 1,
                        last,
                    }))
                }
            };
            let bytes = records::encode(
                &ConsumerRecord {
                    acked,
                    registered_at: now,
                },
                "feed_consumers",
            )?;
            t.feed_consumers
                .insert(consumer_key(&scope, &name), bytes.as_slice())
                .map_err(st("registering a feed consumer"))?;
            Ok(acked)
        }))
    }

    /// Durably records that consumer `name` has handled every change up to
    /// `position` (a [`FeedPage::position`]). Moving back is allowed (to
    /// replay), but not below the first change kept nor past the last
    /// committed one.
    pub fn feed_ack(&self, scope: &Scope, name: &str, position: u64) -> Result<()> {
        check_consumer_name(name)?;
        let scope = scope.clone();
        let name = name.to_owned();
        self.submit(ext(move |t, ctx, _now| {
            let old = match t
                .feed_consumers
                .get(consumer_key(&scope, &name))
                .map_err(st("reading a feed consumer"))?
            {
                Some(v) => decode_consumer(v.value(), &scope, &name)?,
                None => return Err(unknown(&scope, &name)),
            };
            let first = feed_first(&t.meta)?;
            let last = ctx.next_change.saturating_sub(1);
            if position.saturating_add(1) < first || position > last {
                return Err(StoreError::Feed(FeedError::PositionOutOfRange {
                    name,
                    position,
                    first: first - 1,
                    last,
                }));
            }
            let bytes = records::encode(
                &ConsumerRecord {
                    acked: position,
                    registered_at: old.registered_at,
                },
                "feed_consumers",
            )?;
            t.feed_consumers
                .insert(consumer_key(&scope, &name), bytes.as_slice())
                .map_err(st("acknowledging a feed position"))?;
            Ok(())
        }))
    }

    /// Removes a consumer (it then holds back no pruning). Returns whether
    /// it existed.
    pub fn feed_unregister(&self, scope: &Scope, name: &str) -> Result<bool> {
        check_consumer_name(name)?;
        let scope = scope.clone();
        let name = name.to_owned();
        self.submit(ext(move |t, _ctx, _now| {
            let removed = t
                .feed_consumers
                .remove(consumer_key(&scope, &name))
                .map_err(st("removing a feed consumer"))?
                .is_some();
            Ok(removed)
        }))
    }

    /// The consumers registered under `scope`.
    pub fn feed_consumers(&self, scope: &Scope) -> Result<Vec<ConsumerInfo>> {
        self.damage.guard("reading feed consumers", || {
            let txn = self.read_txn()?;
            let table = match txn.open_table(tables::FEED_CONSUMERS) {
                Ok(t) => t,
                Err(e) if missing_table(&e) => return Ok(Vec::new()),
                Err(e) => return Err(StoreError::storage("reading feed consumers", e)),
            };
            let key = scope.key();
            let mut out = Vec::new();
            for item in table.range((key, "")..).map_err(st("reading feed consumers"))? {
                let (k, v) = item.map_err(st("reading feed consumers"))?;
                let (s, name) = k.value();
                if s != key {
                    break;
                }
                let c = decode_consumer(v.value(), scope, name)?;
                out.push(ConsumerInfo {
                    name: name.to_owned(),
                    acked: c.acked,
                    registered_at: c.registered_at,
                });
            }
            Ok(out)
        })
    }

    /// The changes after `from` (default: the consumer's acknowledged
    /// position) that consumer `name` may see, at most `limit` (and at most
    /// [`FEED_SCAN_LIMIT`] scanned). Reading does not move the consumer;
    /// [`Store::feed_ack`] does. A position below the first change kept is
    /// [`StoreError::FeedTruncated`].
    pub fn feed(&self, scope: &Scope, name: &str, from: Option<u64>, limit: usize) -> Result<FeedPage> {
        check_consumer_name(name)?;
        self.damage.guard("reading the feed", || {
            let txn = self.read_txn()?;
            let consumers = match txn.open_table(tables::FEED_CONSUMERS) {
                Ok(t) => t,
                Err(e) if missing_table(&e) => return Err(unknown(scope, name)),
                Err(e) => return Err(StoreError::storage("reading the feed", e)),
            };
            let acked = match consumers
                .get(consumer_key(scope, name))
                .map_err(st("reading the feed"))?
            {
                Some(v) => decode_consumer(v.value(), scope, name)?.acked,
                None => return Err(unknown(scope, name)),
            };
            let from = from.unwrap_or(acked);
            let meta = txn
                .open_table(tables::META)
                .map_err(|e| StoreError::storage("reading the feed", e))?;
            let first = feed_first(&meta)?;
            if from.saturating_add(1) < first {
                return Err(StoreError::FeedTruncated {
                    consumer: name.to_owned(),
                    requested: from.saturating_add(1),
                    first_available: first,
                });
            }
            let last = read_counter(&meta, tables::NEXT_CHANGE)?.saturating_sub(1);
            let feed = txn
                .open_table(tables::FEED)
                .map_err(|e| StoreError::storage("reading the feed", e))?;
            let mut page = FeedPage {
                changes: Vec::new(),
                position: from,
            };
            if from >= last {
                return Ok(page);
            }
            let mut scanned = 0;
            for item in feed
                .range(from.saturating_add(1)..=last)
                .map_err(st("reading the feed"))?
            {
                if page.changes.len() >= limit || scanned >= FEED_SCAN_LIMIT {
                    break;
                }
                let (k, v) = item.map_err(st("reading the feed"))?;
                let seq = k.value();
                scanned += 1;
                let r = decode_record(v.value(), seq)?;
                page.position = seq;
                if scope.allows(&r.tenant) {
                    page.changes.push(change_of(seq, r));
                }
            }
            if page.changes.len() < limit && scanned < FEED_SCAN_LIMIT {
                // Everything up to the last committed change was read (some
                // sequences have no record: erased cases' old changes).
                page.position = page.position.max(last);
            }
            Ok(page)
        })
    }

    /// Like [`Store::feed`], but waits up to `timeout` for a change the
    /// consumer may see (woken by the writer's commits, not by polling).
    /// Returns an empty page at the timeout.
    pub fn feed_wait(
        &self,
        scope: &Scope,
        name: &str,
        from: Option<u64>,
        limit: usize,
        timeout: Duration,
    ) -> Result<FeedPage> {
        let deadline = Instant::now() + timeout;
        let mut from = from;
        loop {
            let page = self.feed(scope, name, from, limit)?;
            if !page.changes.is_empty() {
                return Ok(page);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(page);
            }
            // Other tenants' changes are skipped, not returned again.
            from = Some(page.position);
            let (_, closed) = self.watch.wait_past(page.position, deadline - now);
            if closed && self.watch.committed() <= page.position {
                return Ok(page);
            }
        }
    }

    /// How many changes the feed holds (for statistics and tests).
    pub fn feed_len(&self) -> Result<u64> {
        self.damage.guard("reading the feed", || {
            let txn = self.read_txn()?;
            match txn.open_table(tables::FEED) {
                Ok(t) => t.len().map_err(st("reading the feed")),
                Err(e) if missing_table(&e) => Ok(0),
                Err(e) => Err(StoreError::storage("reading the feed", e)),
            }
        })
    }
}
