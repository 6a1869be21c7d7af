//! Runs the flows of the host-facing examples (`examples/feed_loop.rs`,
//! `unread_badge.rs`, `erase_scrub.rs`) and checks what they show, so the
//! examples stay true.

#[path = "../examples/erase_scrub.rs"]
mod erase_scrub;
#[path = "../examples/feed_loop.rs"]
mod feed_loop;
#[path = "../examples/unread_badge.rs"]
mod unread_badge;

#[test]
fn the_feed_loop_example_misses_nothing_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sent = feed_loop::run(dir.path()).unwrap();
    let kinds: Vec<&str> = sent.iter().map(|s| s.split(' ').nth(2).unwrap()).collect();
    // Only seller-0042's changes: two creations and a reply, once each.
    assert_eq!(kinds, ["created", "created", "message"], "{sent:?}");
}

#[test]
fn the_unread_badge_example_counts_support_replies() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(unread_badge::run(dir.path()).unwrap(), [0, 1, 0]);
}

#[test]
fn the_erase_example_leaves_no_text_after_the_scrub() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(erase_scrub::run(dir.path()).unwrap(), (true, false));
}
