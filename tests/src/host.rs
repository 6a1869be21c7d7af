//! The host-side workloads of the kill -9 tests of the change feed and of
//! erasure (`tests/host_kill.rs`, child binary `src/bin/host_child.rs`).
//!
//! The feed consumer is the notification loop a host runs: it writes each
//! change it handles to its own log (synced), then acknowledges the page.
//! After a crash it resumes after the later of its own log's last change
//! and the store's acknowledged position, so a change handled but not yet
//! acknowledged is not handled twice, and nothing is skipped.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use caselog_core::{Category, LanguageTag, Marketplace, TenantId, UserId};
use caselog_store::{FeedStart, NewCase, Options, Scope, Store};

/// The consumer's name.
pub const CONSUMER: &str = "notify";
/// Text that every case the erase workload creates carries.
pub const ERASE_MARK: &str = "erasable-text";

/// Options of the child: durable writes, an index that prunes its own log
/// often (the feed must still keep what the consumer has not acknowledged).
pub fn options() -> Options {
    Options {
        index_prune_every: 5,
        feed_retain_max: 0,
        cache_bytes: 8 * 1024 * 1024,
        index_heap_bytes: 15_000_000,
        ..Options::default()
    }
}

/// A new case of `tenant` whose text names `tag`.
pub fn new_case(tenant: &str, tag: &str) -> NewCase {
    NewCase::new(
        TenantId::parse(tenant).expect("tenant"),
        UserId::parse("ann").expect("user"),
        Marketplace::parse("US").expect("marketplace"),
        LanguageTag::parse("en").expect("language"),
        Category::Orders,
        format!("case {tag}"),
        format!("{ERASE_MARK} {tag}"),
    )
}

/// The consumer's own log: the sequences it handled, one per line. A torn
/// last line (the process died while writing it) is cut off.
pub fn read_log(path: &Path) -> Vec<u64> {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        if let Ok(f) = OpenOptions::new().write(true).open(path) {
            let _ = f.set_len(complete as u64);
        }
    }
    text[..complete]
        .lines()
        .map(|l| l.split(' ').next().and_then(|s| s.parse().ok()).expect("a sequence"))
        .collect()
}

/// One step of the notification loop: waits up to `wait` for changes after
/// the later of the log's last change and the acknowledged position,
/// handles them (appends to the log, synced) and acknowledges the page.
/// Returns the acknowledged position, if one was acknowledged.
pub fn consume_step(store: &Store, log: &Path, wait: Duration) -> caselog_store::Result<Option<u64>> {
    let scope = Scope::AllTenants;
    store.feed_register(&scope, CONSUMER, FeedStart::Beginning)?;
    let handled = read_log(log).last().copied();
    let acked = store
        .feed_consumers(&scope)?
        .into_iter()
        .find(|c| c.name == CONSUMER)
        .map_or(0, |c| c.acked);
    let from = handled.map_or(acked, |h| h.max(acked));
    let page = store.feed_wait(&scope, CONSUMER, Some(from), 50, wait)?;
    if !page.changes.is_empty() {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("the consumer's log");
        let mut text = String::new();
        for c in &page.changes {
            text.push_str(&format!("{} {} {}\n", c.seq, c.case.0, c.kind.as_str()));
        }
        f.seek(SeekFrom::End(0)).expect("seek");
        f.write_all(text.as_bytes()).expect("writing the consumer's log");
        f.sync_all().expect("syncing the consumer's log");
    }
    if page.position > acked {
        store.feed_ack(&scope, CONSUMER, page.position)?;
        return Ok(Some(page.position));
    }
    Ok(None)
}
