//! Entry points for the fuzz targets and the bad-input tests in the
//! workspace's `fuzz/` and `tests/` packages.
//!
//! **Not a stable API.** This module is hidden from the documentation and
//! may change or disappear in any release; it only re-exports the record
//! codec (private to the store) so that fuzzers can feed it arbitrary
//! bytes. Host applications must not use it.
#![doc(hidden)]

use caselog_core::Actor;

use crate::error::Result;
use crate::model::{Case, ThreadEntry};

pub use crate::records::{TenantRecord, ViewSummary, RECORD_CASE_V2, RECORD_ENTRY_V2, RECORD_V1};

/// Encodes a case record as the store writes it (version byte + postcard).
pub fn encode_case(case: &Case) -> Result<Vec<u8>> {
    crate::records::encode_case(case)
}

/// Decodes a case record as the store reads it; `id` only names the key
/// in errors.
pub fn decode_case(bytes: &[u8], id: u64) -> Result<Case> {
    crate::records::decode_case(bytes, id)
}

/// Encodes a thread entry as the store writes it.
pub fn encode_entry(entry: &ThreadEntry) -> Result<Vec<u8>> {
    crate::records::encode_entry(entry)
}

/// Decodes a thread entry as the store reads it; `case` and `seq` only
/// name the key in errors. An entry that names its author by reference to
/// an earlier entry of its thread reads as written by `earlier_author`
/// (the store reads that entry's author).
pub fn decode_entry(bytes: &[u8], case: u64, seq: u32, earlier_author: &Actor) -> Result<ThreadEntry> {
    crate::records::decode_entry_with(bytes, case, seq, |_| Ok(earlier_author.clone()))
}

/// Encodes a tenant record as the store writes it.
pub fn encode_tenant(tenant: &TenantRecord) -> Result<Vec<u8>> {
    crate::records::encode_tenant(tenant)
}

/// Decodes a tenant record as the store reads it.
pub fn decode_tenant(bytes: &[u8], tenant: &str) -> Result<TenantRecord> {
    crate::records::decode_tenant(bytes, tenant)
}
