//! The search fields beyond text: related case numbers (`case:` and a bare
//! number), attachment names (`attachment:`), `has:attachment`, and bare
//! numbers of an imported archive's own numbering, recognised through the
//! store's numbers table.

mod search_common;

use caselog_core::*;
use caselog_store::interchange::parse_line;
use caselog_store::*;
use search_common::*;

/// An imported case line with its own numbering.
fn imported(tenant: &str, number: &str, follows: Option<&str>, attachment: Option<&str>) -> ImportCase {
    let cases = follows.map_or(String::new(), |n| format!("\"{n}\""));
    let attachments = attachment.map_or(String::new(), |name| {
        format!(r#","attachments":[{{"name":"{name}","content_type":"application/pdf","size":10}}]"#)
    });
    parse_line(&format!(
        r#"{{"tenant":"{tenant}","number":"{number}","title":"Payment on hold","category":"payments","status":"open","created_by":"ops@example.com","created_at":"2021-03-01T10:00:00Z","marketplace":"DE","language":"en","refs":{{"cases":[{cases}]}},"messages":[{{"author":"seller","author_id":"ops@example.com","at":"2021-03-01T10:00:00Z","body":"Please release it."{attachments}}}]}}"#
    ))
    .expect("valid line")
}

#[test]
fn imported_numbers_are_found_bare_with_their_follow_ups_next() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let outcomes = store
        .import([
            imported("seller-1", "CS-2021-0042", None, Some("Invoice_March.pdf")),
            imported("seller-1", "CS-2021-0043", Some("CS-2021-0042"), None),
            imported("seller-1", "CS-2021-0044", None, None),
            imported("seller-2", "CS-2021-0099", None, Some("statement.pdf")),
        ])
        .unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    settle(&store);
    let one = Scope::Tenant(tenant("seller-1"));
    // The parser alone does not recognise this numbering ...
    assert_eq!(
        parse("CS-2021-0042", &QueryLimits::default()).unwrap().bare_reference,
        None
    );
    // ... the numbers table does: the case first, its follow-up next.
    assert_eq!(numbers(&store, &one, "CS-2021-0042"), ["CS-2021-0042", "CS-2021-0043"]);
    assert_eq!(number_set(&store, &one, "case:CS-2021-0042"), ["CS-2021-0043"]);
    assert_eq!(number_set(&store, &one, "case:cs-2021-0042"), Vec::<String>::new());
    // Another tenant's number is no bare reference in this scope.
    assert_eq!(numbers(&store, &one, "CS-2021-0099"), Vec::<String>::new());
    assert_eq!(numbers(&store, &Scope::AllTenants, "CS-2021-0099"), ["CS-2021-0099"]);
    // Attachment names and has:attachment, with or without a content hash.
    assert_eq!(number_set(&store, &one, "attachment:invoice"), ["CS-2021-0042"]);
    assert_eq!(number_set(&store, &one, "attachment:MARCH"), ["CS-2021-0042"]);
    assert_eq!(
        number_set(&store, &one, "attachment:invoice_march.pdf"),
        ["CS-2021-0042"]
    );
    assert_eq!(number_set(&store, &one, "attachment:statement"), Vec::<String>::new());
    assert_eq!(number_set(&store, &one, "has:attachment"), ["CS-2021-0042"]);
    assert_eq!(
        number_set(&store, &one, "-has:attachment"),
        ["CS-2021-0043", "CS-2021-0044"]
    );
    assert_eq!(
        number_set(&store, &Scope::AllTenants, "has:attachment"),
        ["CS-2021-0042", "CS-2021-0099"]
    );
    // verify agrees with the new fields (they are in the fingerprint).
    let report = store.verify().unwrap();
    assert!(report.is_consistent(), "{report:?}");
    store.shutdown().unwrap();
}

#[test]
fn a_follow_up_is_found_by_its_predecessors_number() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let scope = Scope::Tenant(tenant("seller-1"));
    let first = store
        .create_case(new_case("seller-1", "Payout held", "Why is my payout held?"))
        .unwrap();
    store
        .apply_event(
            &scope,
            &CaseRef::Id(first.id),
            Actor::Seller(user("ops@example.com")),
            CaseEvent::Close,
            "",
            None,
        )
        .unwrap();
    let next = store
        .follow_up(
            &scope,
            &CaseRef::Id(first.id),
            NewFollowUp::new(user("ops@example.com"), "Payout still held", "It is held again."),
        )
        .unwrap();
    let _other = store
        .create_case(new_case("seller-1", "Unrelated", "Listing question."))
        .unwrap();
    settle(&store);
    let (a, b) = (first.number.to_string(), next.number.to_string());
    assert_eq!(numbers(&store, &scope, &a), [a.clone(), b.clone()]);
    assert_eq!(number_set(&store, &scope, &format!("case:{a}")), [b]);
    store.shutdown().unwrap();
}
