//! The bodies of the fuzz targets, shared by the cargo-fuzz binaries and the
//! seed-corpus replay run by `cargo test`.
//!
//! Each target checks properties, not only the absence of panics; a broken
//! property panics with a message saying which, which is what libFuzzer
//! reports as a crash and what fails the replay test.
//!
//! | target | input | properties |
//! |---|---|---|
//! | [`query_parser`] | query text (lossy UTF-8) | canonical text re-parses to the same tree; errors point inside the input; limits only ever add errors |
//! | [`import_line`] | one JSONL line, or bytes that build one | accepted lines round-trip through `to_line`; errors are typed and name a field |
//! | [`record_decode`] | a stored record's bytes | decoding any bytes gives a case/entry/tenant or a typed corruption error; what decodes re-encodes to bytes that decode equal |
//! | [`lifecycle`] | bytes read as a sequence of (actor, event, time) | every verdict agrees with SPEC.md's lifecycle table; refusals change nothing and are typed; final states absorb; `replay` reproduces the state |

mod import;
mod lifecycle;
mod query;
mod record;

pub use import::import_line;
pub use lifecycle::lifecycle;
pub use query::query_parser;
pub use record::record_decode;

/// A fuzz target's body: panics when a property fails.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as used for `fuzz/corpus/<name>/`.
pub const TARGETS: [(&str, Target); 4] = [
    ("query_parser", query_parser),
    ("import_line", import_line),
    ("record_decode", record_decode),
    ("lifecycle", lifecycle),
];
