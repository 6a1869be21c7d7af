//! Durable case store (redb) with a derived full-text index (tantivy).
#![deny(missing_docs)]

pub mod index;
