//! Decoding of stored records (version byte + postcard), through the
//! store's `fuzzing` re-exports of its private codec.

use std::fmt::Debug;

use caselog_core::{Actor, UserId};
use caselog_store::fuzzing::{
    decode_case, decode_entry, decode_tenant, encode_case, encode_entry, encode_tenant, ViewSummary, RECORD_CASE_V2,
    RECORD_ENTRY_V2, RECORD_V1,
};
use caselog_store::StoreError;

/// Decodes the input as every kind of stored record and checks:
///
/// * decoding never panics, and fails only with a typed corruption error:
///   `UnknownRecordVersion` naming the input's first byte when that is not
///   a known version, `Corrupt` (naming the table) otherwise;
/// * a decoded record re-encodes to bytes that start with the current
///   version, decode to an equal record, and re-encode to the same bytes
///   (case records and thread entries: version 1 is still read, version 2
///   written; a thread entry's compressed body is bounded and checked);
/// * the fixed-size view summary decodes only from exactly 20 bytes and
///   re-encodes to them.
pub fn record_decode(data: &[u8]) {
    round_trip(
        data,
        "cases",
        &[RECORD_V1, RECORD_CASE_V2],
        |b| decode_case(b, 7),
        encode_case,
    );
    // An author named by reference reads as the earlier entry's (here a
    // fixed one); the re-encoding names it inline.
    let earlier = Actor::Support(UserId::parse("agent-1").expect("valid user id"));
    round_trip(
        data,
        "thread",
        &[RECORD_V1, RECORD_ENTRY_V2],
        |b| decode_entry(b, 7, 3, &earlier),
        encode_entry,
    );
    round_trip(
        data,
        "tenants",
        &[RECORD_V1],
        |b| decode_tenant(b, "seller-0042"),
        encode_tenant,
    );

    match ViewSummary::decode(data, "by_updated") {
        Ok(summary) => {
            assert_eq!(
                summary.encode().as_slice(),
                data,
                "view summary does not re-encode to its bytes"
            );
        }
        Err(StoreError::Corrupt { table, .. }) => assert_eq!(table, "by_updated"),
        Err(e) => panic!("view summary: untyped error {e:?}"),
    }
}

fn round_trip<T: PartialEq + Debug>(
    data: &[u8],
    table: &str,
    versions: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, StoreError>,
    encode: impl Fn(&T) -> Result<Vec<u8>, StoreError>,
) {
    let value = match decode(data) {
        Ok(v) => v,
        Err(e) => return check_error(data, table, versions, &e),
    };
    assert!(
        data.first().is_some_and(|v| versions.contains(v)),
        "{table}: decoded a record of another version"
    );
    // The version this release writes is the newest it reads.
    let current = versions.last().copied();
    let bytes = match encode(&value) {
        Ok(b) => b,
        Err(e) => panic!("{table}: a decoded record does not encode: {e}"),
    };
    assert_eq!(bytes.first().copied(), current);
    let again = match decode(&bytes) {
        Ok(v) => v,
        Err(e) => panic!("{table}: a re-encoded record does not decode: {e}"),
    };
    assert_eq!(again, value, "{table}: re-encoded record decodes to another value");
    match encode(&again) {
        Ok(b) => assert_eq!(b, bytes, "{table}: encoding is not stable"),
        Err(e) => panic!("{table}: {e}"),
    }
}

fn check_error(data: &[u8], table: &str, versions: &[u8], e: &StoreError) {
    assert!(!e.to_string().is_empty());
    match (data.first(), e) {
        (None, StoreError::Corrupt { table: t, .. }) => assert_eq!(*t, table),
        (Some(v), StoreError::Corrupt { table: t, .. }) if versions.contains(v) => assert_eq!(*t, table),
        (Some(&v), StoreError::UnknownRecordVersion { table: t, version, .. }) if !versions.contains(&v) => {
            assert_eq!((*t, *version), (table, v));
        }
        _ => panic!("{table}: unexpected error for first byte {:?}: {e:?}", data.first()),
    }
}
