//! cargo-fuzz target; the checks live in `caselog_fuzz::query_parser` so that
//! `cargo test` replays the seed corpus through the same code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caselog_fuzz::query_parser(data));
