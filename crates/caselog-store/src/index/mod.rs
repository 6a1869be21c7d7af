//! The derived full-text index: analysis, schema, indexing and search.

pub mod analysis;
