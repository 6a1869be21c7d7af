//! cargo-fuzz target; the checks live in `caselog_fuzz::import_line` so that
//! `cargo test` replays the seed corpus through the same code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caselog_fuzz::import_line(data));
