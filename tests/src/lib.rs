//! Shared helpers for the cross-crate tests in `tests/tests/`: archive
//! builders and comparison helpers used by the crash, isolation and
//! bad-input tests.

pub mod crash;
pub mod host;
