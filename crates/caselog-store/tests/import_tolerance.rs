//! Import tolerance (SPEC.md, "Interchange format"): an attachment without
//! `sha256` is kept as metadata without content and exported the same way;
//! a hash that is given must be well formed.
//!
//! Story: archives exported from other systems rarely carry content hashes,
//! and every case line with such an attachment used to be rejected whole
//! (a fifth of an independently generated archive).

mod common;

use caselog_core::*;
use caselog_store::interchange::{parse_line, to_line};
use caselog_store::*;

const HASH: &str = "a3f5c1d2e4b6a8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8";

fn line(number: &str, attachment: &str) -> String {
    format!(
        r#"{{"tenant":"seller-0042","number":"{number}","title":"Refund for a damaged parcel","category":"orders","status":"open","created_by":"ops@example.com","created_at":"2026-01-16T08:30:00Z","marketplace":"US","language":"en","messages":[{{"author":"seller","author_id":"ops@example.com","at":"2026-01-16T08:30:00Z","body":"Photos attached.","attachments":[{attachment}]}}]}}"#
    )
}

#[test]
fn attachment_without_hash_imports_as_metadata_and_exports_the_same() {
    let absent = line(
        "50000000001",
        r#"{"name":"photo.jpg","content_type":"image/jpeg","size":1200}"#,
    );
    let null = line(
        "50000000002",
        r#"{"name":"photo.jpg","content_type":"image/jpeg","size":1200,"sha256":null}"#,
    );
    let given = line(
        "50000000003",
        &format!(r#"{{"name":"photo.jpg","content_type":"image/jpeg","size":1200,"sha256":"{HASH}"}}"#),
    );
    let parsed: Vec<ImportCase> = [&absent, &null, &given]
        .iter()
        .map(|l| parse_line(l).expect("tolerated"))
        .collect();
    let meta = |c: &ImportCase| c.thread[0].attachments[0].clone();
    assert_eq!(meta(&parsed[0]).content_hash(), None);
    assert_eq!(meta(&parsed[1]).content_hash(), None);
    assert_eq!(
        meta(&parsed[2]).content_hash(),
        Some(ContentHash::parse_hex(HASH).expect("valid"))
    );
    assert_eq!(meta(&parsed[0]).name, "photo.jpg");
    assert_eq!(meta(&parsed[0]).size, 1200);

    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), common::fast_options()).expect("open");
    let outcomes = store.import(parsed.clone()).expect("import");
    assert!(
        outcomes.iter().all(|o| matches!(o, Ok(ImportOutcome::Imported { .. }))),
        "{outcomes:?}"
    );
    let scope = Scope::Tenant(TenantId::parse("seller-0042").expect("tenant"));
    for (number, has_hash) in [("50000000001", false), ("50000000002", false), ("50000000003", true)] {
        let case_ref = CaseRef::Number(CaseNumber::parse(number).expect("number"));
        let case = store.case(&scope, &case_ref).expect("read").expect("present");
        let thread = store.full_thread(&scope, &case_ref).expect("thread");
        let exported = to_line(&case, &thread);
        assert_eq!(exported.contains("sha256"), has_hash, "{exported}");
        // Re-imported, the export is the same case (and the import skips it).
        let again = parse_line(&exported).expect("export re-imports");
        assert_eq!(again.thread, thread);
        let skipped = store.import([again]).expect("import");
        assert!(
            matches!(skipped.as_slice(), [Ok(ImportOutcome::Skipped { .. })]),
            "{skipped:?}"
        );
        // No content is claimed for it.
        let meta = &thread[0].attachments[0];
        assert_eq!(store.attachment(&scope, &case_ref, &meta.sha256).expect("read"), None);
    }
    store.shutdown().expect("shutdown");
}

#[test]
fn a_malformed_hash_is_still_refused() {
    for bad in [
        "",
        "xyz",
        &HASH[1..],
        &format!("{HASH}0"),
        "+3f5c1d2e4b6a8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8",
    ] {
        let l = line(
            "50000000009",
            &format!(r#"{{"name":"photo.jpg","content_type":"image/jpeg","size":1200,"sha256":"{bad}"}}"#),
        );
        let e = parse_line(&l).expect_err("malformed hash refused");
        assert_eq!(e.field(), Some("messages[0].attachments[0].sha256"), "{bad:?}: {e}");
    }
    let wrong_type = line(
        "50000000009",
        r#"{"name":"photo.jpg","content_type":"image/jpeg","size":1200,"sha256":42}"#,
    );
    assert!(parse_line(&wrong_type).is_err());
}

#[test]
fn bytes_cannot_be_attached_under_the_absent_hash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), common::fast_options()).expect("open");
    let meta = AttachmentMeta::new(
        "a.txt",
        "text/plain",
        3,
        ContentHash::ABSENT,
        &AttachmentPolicy::default(),
    )
    .expect("metadata is valid");
    let mut case = common::new_case("seller-1", "ann", Category::Other, "A question", None);
    case.attachments = vec![NewAttachment {
        meta,
        bytes: Some(b"abc".to_vec()),
    }];
    assert!(matches!(
        store.create_case(case),
        Err(StoreError::AttachmentMismatch { .. })
    ));
    store.shutdown().expect("shutdown");
}
