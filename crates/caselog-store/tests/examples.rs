//! Runs every program of `examples/` as a test, so each flow a host runs is
//! compiled and exercised by `cargo test`, not only documented.

#[path = "../examples/backup_and_verify.rs"]
mod backup_and_verify;
#[path = "../examples/case_lifecycle.rs"]
mod case_lifecycle;
#[path = "../examples/follow_up_and_merge.rs"]
mod follow_up_and_merge;
#[path = "../examples/import_export.rs"]
mod import_export;
#[path = "../examples/open_and_shutdown.rs"]
mod open_and_shutdown;
#[path = "../examples/search.rs"]
mod search;
#[path = "../examples/views_and_queue.rs"]
mod views_and_queue;

#[test]
fn open_and_shutdown() {
    open_and_shutdown::main().unwrap();
}

#[test]
fn case_lifecycle() {
    case_lifecycle::main().unwrap();
}

#[test]
fn follow_up_and_merge() {
    follow_up_and_merge::main().unwrap();
}

#[test]
fn views_and_queue() {
    views_and_queue::main().unwrap();
}

#[test]
fn search() {
    search::main().unwrap();
}

#[test]
fn import_export() {
    import_export::main().unwrap();
}

#[test]
fn backup_and_verify() {
    backup_and_verify::main().unwrap();
}
