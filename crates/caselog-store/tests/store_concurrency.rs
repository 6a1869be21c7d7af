//! Many threads writing while others read: every acknowledged write is
//! visible to its writer immediately after the acknowledgement
//! (read-your-writes), readers never fail, and the totals add up.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use caselog_core::*;
use caselog_store::*;
use common::*;

#[test]
fn concurrent_writers_and_readers_see_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), Options::default()).unwrap());
    const WRITERS: usize = 8;
    const CASES_PER_WRITER: usize = 10;
    const REPLIES_PER_CASE: usize = 3;
    let stop = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..2)
        .map(|r| {
            let store = store.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let mut last_total = 0;
                while !stop.load(Ordering::Relaxed) {
                    let page = store.view(&Scope::AllTenants, &ViewQuery::new(ViewKind::All)).unwrap();
                    // Snapshots only grow: a later read never sees fewer cases.
                    assert!(
                        page.total >= last_total,
                        "reader {r}: total went from {last_total} to {}",
                        page.total
                    );
                    last_total = page.total;
                    reads += 1;
                }
                reads
            })
        })
        .collect();

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                let t = format!("seller-{w}");
                let scope = Scope::Tenant(tenant(&t));
                let mut numbers = Vec::new();
                for i in 0..CASES_PER_WRITER {
                    let c = store
                        .create_case(new_case(
                            &t,
                            "ann",
                            Category::Orders,
                            &format!("order issue {w}-{i}"),
                            None,
                        ))
                        .unwrap();
                    // Read-your-writes: visible as soon as acknowledged.
                    let seen = store.case(&scope, &CaseRef::Id(c.id)).unwrap().unwrap();
                    assert_eq!(seen.number, c.number);
                    for r in 0..REPLIES_PER_CASE {
                        let written = store
                            .reply(
                                &scope,
                                &CaseRef::Id(c.id),
                                NewMessage::new(seller("ann"), format!("reply {r}")),
                            )
                            .unwrap();
                        let page = store.thread(&scope, &CaseRef::Id(c.id), written.entry, 1).unwrap();
                        assert_eq!(page.entries[0].1.body, format!("reply {r}"));
                    }
                    numbers.push(c.number);
                }
                numbers
            })
        })
        .collect();

    let mut all_numbers = Vec::new();
    for w in writers {
        all_numbers.extend(w.join().unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    let unique: std::collections::BTreeSet<_> = all_numbers.iter().collect();
    assert_eq!(unique.len(), WRITERS * CASES_PER_WRITER, "numbers are unique");
    let stats = store.stats().unwrap();
    assert_eq!(stats.cases as usize, WRITERS * CASES_PER_WRITER);
    assert_eq!(
        stats.messages as usize,
        WRITERS * CASES_PER_WRITER * (1 + REPLIES_PER_CASE)
    );
    assert_eq!(stats.tenants as usize, WRITERS);
    let store = Arc::try_unwrap(store).unwrap();
    store.shutdown().unwrap();
}

#[test]
fn a_full_channel_times_out_with_busy_instead_of_growing() {
    // A tiny channel and a zero timeout: with many threads submitting at
    // once, some submissions must find it full. Every call either succeeds
    // or is refused as Busy; nothing is lost or half-written.
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        channel_capacity: 1,
        submit_timeout: Some(std::time::Duration::ZERO),
        ..Options::default()
    };
    let store = Arc::new(Store::open(dir.path(), opts).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                let (mut ok, mut busy) = (0, 0);
                for i in 0..20 {
                    match store.create_case(new_case("s", "u", Category::Other, &format!("t{w}-{i}"), None)) {
                        Ok(_) => ok += 1,
                        Err(StoreError::Busy { .. }) => busy += 1,
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                (ok, busy)
            })
        })
        .collect();
    let (mut ok, mut busy) = (0u64, 0u64);
    for h in handles {
        let (o, b) = h.join().unwrap();
        ok += o;
        busy += b;
    }
    assert_eq!(ok + busy, 160);
    assert_eq!(store.stats().unwrap().cases, ok, "exactly the acknowledged cases exist");
    Arc::try_unwrap(store).unwrap().shutdown().unwrap();
}
