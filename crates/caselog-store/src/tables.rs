//! Every redb table of the store, with its key layout, in one place.
//!
//! Scopes: view tables are keyed by a *scope* string first. Every entry is
//! written twice: once under its tenant id and once under [`ALL_SCOPE`], so a
//! tenant-scoped read is a range scan under the tenant and a support-side
//! read a range scan under `*`. `*` can never be a tenant id (tenant ids are
//! letters, digits and `. _ - @ +`), so no tenant-scoped scan can reach
//! another tenant's entries.
//!
//! Times in keys are `order_bits(ms)`: milliseconds with the sign bit
//! flipped, so that the unsigned key order is the time order.

use redb::{TableDefinition, TableHandle};

/// The scope under which every view entry is written a second time.
pub const ALL_SCOPE: &str = "*";

/// Store metadata: `format` (b"caselog-store"), `schema_version` (u32 LE),
/// and the counters `next_case_id`, `next_number`, `next_change` (u64 LE).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Case id → versioned case record (postcard).
pub const CASES: TableDefinition<u64, &[u8]> = TableDefinition::new("cases");
/// Case number → case id (unique).
pub const NUMBERS: TableDefinition<&str, u64> = TableDefinition::new("numbers");
/// (case id, sequence) → versioned thread entry (postcard). A thread reads
/// as one range scan.
pub const THREAD: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("thread");
/// SHA-256 → attachment bytes, stored once per content.
pub const BLOBS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blobs");
/// Tenant id → versioned tenant record (performance tier).
pub const TENANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tenants");
/// (scope, updated, case id) → [`crate::records::ViewSummary`] bytes: *All cases* by update time.
pub const BY_UPDATED: TableDefinition<(&str, u64, u64), &[u8]> = TableDefinition::new("by_updated");
/// (scope, created, case id) → status, category, marketplace (4 bytes,
/// `views::created_value`; schema 1 wrote a 20-byte summary, still read):
/// *All cases* by creation time.
pub const BY_CREATED: TableDefinition<(&str, u64, u64), &[u8]> = TableDefinition::new("by_created");
/// (scope, status, updated, case id) → (): status-filtered views and counts.
pub const BY_STATUS: TableDefinition<(&str, u8, u64, u64), ()> = TableDefinition::new("by_status");
/// (scope, user, created, case id) → (): *My cases* (creator or assignee).
pub const BY_USER: TableDefinition<(&str, &str, u64, u64), ()> = TableDefinition::new("by_user");
/// (scope, reply deadline, case id) → (): *Cases needing attention* by deadline.
pub const ATTENTION: TableDefinition<(&str, u64, u64), ()> = TableDefinition::new("attention");
/// Queue key bytes ([`caselog_core::QueueKey::encode`]) → (category, marketplace):
/// the support queue in the core comparator's order.
pub const QUEUE: TableDefinition<&[u8; 25], &[u8]> = TableDefinition::new("queue");
/// Change sequence → case id, written in the same transaction as every
/// change; the indexer follows it.
pub const CHANGES: TableDefinition<u64, u64> = TableDefinition::new("changes");
/// (scope, counter) → count: per scope, the cases (`cases`), the cases of
/// each status (`status:<status>`), the deadline entries (`attention`) and
/// the *My cases* entries of each user (`user:<user>`), kept in the same
/// transaction as the view entries they count (see `views.rs`), so a
/// view's total is a point read. A counter at 0 is absent. Schema 2.
pub const VIEW_COUNTS: TableDefinition<(&str, &str), u64> = TableDefinition::new("view_counts");
/// Case id → (): imported cases whose view and queue entries are not
/// written yet (`import_views.rs` writes them, sorted, when the import
/// ends, or the next open does). Schema 2.
pub const VIEWS_PENDING: TableDefinition<u64, ()> = TableDefinition::new("views_pending");
/// (scope, series, bucket) → counts (`buckets.rs`): per scope, how many
/// keys of a view fall in each time bucket, split by status for the
/// status-filtered views — series `updated` (`by_updated`, `by_status`),
/// `created` (`by_created`), `attention` and `user:<user>` (`by_user`) —,
/// kept in the same transaction as the keys they count, so a numbered page
/// seeks to its bucket instead of skipping every key before it. An entry
/// whose counts are all 0 is absent. Schema 3.
pub const VIEW_BUCKETS: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("view_buckets");

/// Calls `$m!(TABLE)` for every table above: the one list of the store's
/// tables (the backup copies exactly these and refuses a file with any
/// other; `write::Tables` opens each for the writer, which a test checks
/// against this list).
macro_rules! for_each_table {
    ($m:ident) => {
        $m!(META);
        $m!(CASES);
        $m!(NUMBERS);
        $m!(THREAD);
        $m!(BLOBS);
        $m!(TENANTS);
        $m!(BY_UPDATED);
        $m!(BY_CREATED);
        $m!(BY_STATUS);
        $m!(BY_USER);
        $m!(ATTENTION);
        $m!(QUEUE);
        $m!(CHANGES);
        $m!(VIEW_COUNTS);
        $m!(VIEWS_PENDING);
        $m!(VIEW_BUCKETS);
        $m!(FEED);
        $m!(FEED_CONSUMERS);
        $m!(READ_MARKERS);
    };
}
pub(crate) use for_each_table;

/// The names of every table, from [`for_each_table`].
pub(crate) fn table_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    macro_rules! name {
        ($t:ident) => {
            names.push($t.name());
        };
    }
    for_each_table!(name);
    names
}

/// Key of the format marker in [`META`].
pub const META_FORMAT: &str = "format";
/// Value of the format marker.
pub const FORMAT_MARKER: &[u8] = b"caselog-store";
/// Key of the schema version in [`META`].
pub const META_SCHEMA: &str = "schema_version";
/// The schema version this release writes and reads. Version 2 added
/// [`VIEW_COUNTS`], [`VIEWS_PENDING`] and the 4-byte `by_created` value,
/// version 3 [`VIEW_BUCKETS`]; an older store is migrated when it is opened
/// for writing (`migrate.rs`) and read as it is by a read-only open.
pub const SCHEMA_VERSION: u32 = 3;
/// Counter keys in [`META`].
pub const NEXT_CASE_ID: &str = "next_case_id";
/// Counter of generated case numbers.
pub const NEXT_NUMBER: &str = "next_number";
/// Next change-log sequence.
pub const NEXT_CHANGE: &str = "next_change";
/// Key of the store's id in [`META`] (UTF-8, made once per store): the
/// search index's commits name it, so an index of another store is refused.
pub const META_STORE_ID: &str = "store_id";

/// Maps a signed time onto an unsigned key that sorts the same way.
pub fn order_bits(ms: i64) -> u64 {
    (ms as u64) ^ (1u64 << 63)
}

/// Change sequence → versioned [`crate::feed`] record (case, number,
/// tenant, kind of change, time): the host's change feed. Written in the
/// same transaction as [`CHANGES`] and with the same sequences, but pruned
/// only below the slowest registered consumer (and the index, and a cap):
/// `CHANGES` stays the index's own log.
pub const FEED: TableDefinition<u64, &[u8]> = TableDefinition::new("feed");
/// Case id → thread length when its last feed record was written, kept by
/// earlier releases to tell a reply from a flag change; a read-write open
/// deletes it (the writer now knows the kind from the write itself).
pub const LEGACY_FEED_SEEN: TableDefinition<u64, u32> = TableDefinition::new("feed_seen");
/// (scope, consumer name) → versioned consumer record (acknowledged
/// position). Tenant consumers are keyed by their tenant, support-side ones
/// by [`ALL_SCOPE`].
pub const FEED_CONSUMERS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("feed_consumers");
/// (user, case id) → thread entries the user has seen (read markers).
pub const READ_MARKERS: TableDefinition<(&str, u64), u32> = TableDefinition::new("read_markers");
/// Key in [`META`] of the lowest feed sequence not pruned (u64 LE); a
/// consumer asking for anything below it gets `FeedTruncated`.
pub const META_FEED_FIRST: &str = "feed_first";

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use redb::backends::InMemoryBackend;
    use redb::{Database, ReadableDatabase};

    use super::*;

    /// The writer's `Tables` creates exactly the tables of the one list.
    #[test]
    fn the_writer_opens_exactly_the_listed_tables() {
        let db = Database::builder().create_with_backend(InMemoryBackend::new()).unwrap();
        let txn = db.begin_write().unwrap();
        drop(crate::write::Tables::open(&txn).unwrap());
        txn.commit().unwrap();
        let created: BTreeSet<String> = db
            .begin_read()
            .unwrap()
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_owned())
            .collect();
        let listed: BTreeSet<String> = table_names().into_iter().map(str::to_owned).collect();
        assert_eq!(created, listed);
        assert_eq!(listed.len(), table_names().len(), "a table is listed twice");
    }
}
