//! The bad-input catalogue: a table of hostile inputs, each with the
//! operation it goes through and the typed error it must get.
//!
//! SPEC.md's guarantee: bad input "gets a typed, clear error and loses
//! nothing else". So every row runs against one store pre-filled with good
//! cases, and around every row the test checks that
//!
//! * the operation returns exactly the expected error variant (and, where
//!   the error names one, the field or position), and does not panic;
//! * the store's fingerprint (every case exported with `to_line` in number
//!   order, plus the statistics) is unchanged;
//! * a good write right after succeeds and is searchable.
//!
//! Damaged files are opened from copies of the store (taken with
//! `Snapshot::copy_to`), so the shared store is never touched; a refused
//! open must leave the damaged file as it found it.

use std::path::Path;
use std::time::Duration;

use caselog_core::{
    Actor, AttachmentMeta, AttachmentPolicy, CaseEvent, CaseNumber, Category, ContentHash, EventKind, LanguageTag,
    Marketplace, QueryBuilder, QueryErrorKind, Role, Status, TenantId, Timestamp, TransitionError, UserId,
    ValidationError, MIB,
};
use caselog_store::fuzzing::{decode_case, decode_entry, encode_case};
use caselog_store::interchange::{parse_line, to_line, InterchangeError};
use caselog_store::{
    CaseRef, FeedError, FeedStart, ImportConflict, NewAttachment, NewCase, NewMessage, Options, Scope, SearchOptions,
    Store, StoreError, ViewKind, ViewQuery, STORE_FILE,
};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

// The store's own table layout (private to caselog-store), restated to
// damage a copy of a store the way a disk or another program could.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CASES: TableDefinition<u64, &[u8]> = TableDefinition::new("cases");
/// A table of another program's redb file.
const ACCOUNTS: TableDefinition<&str, u64> = TableDefinition::new("accounts");

const TENANT: &str = "seller-0042";
const OTHER_TENANT: &str = "seller-0001";
const SELLER: &str = "ops@example.com";
const AGENT: &str = "agent-7";
const HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// ---------------------------------------------------------------------------
// The table

/// Which kind of `ValidationError` an error carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V {
    Empty,
    TooLong,
    Malformed,
    Unknown,
    OutOfRange,
    TooMany,
    TypeRefused,
    TooLarge,
}

fn v_kind(e: &ValidationError) -> Option<V> {
    Some(match e {
        ValidationError::Empty { .. } => V::Empty,
        ValidationError::TooLong { .. } => V::TooLong,
        ValidationError::Malformed { .. } => V::Malformed,
        ValidationError::Unknown { .. } => V::Unknown,
        ValidationError::OutOfRange { .. } => V::OutOfRange,
        ValidationError::TooMany { .. } => V::TooMany,
        ValidationError::AttachmentTypeRefused { .. } => V::TypeRefused,
        ValidationError::AttachmentTooLarge { .. } => V::TooLarge,
        _ => return None,
    })
}

/// Which kind of `QueryErrorKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Q {
    UnclosedQuote,
    UnclosedParen,
    UnmatchedParen,
    DanglingOr,
    UnknownField,
    InvalidValue,
    MissingValue,
    BadDateRange,
    TooLong,
    TooManyTerms,
    TooDeep,
}

fn q_kind(k: &QueryErrorKind) -> Option<Q> {
    Some(match k {
        QueryErrorKind::UnclosedQuote => Q::UnclosedQuote,
        QueryErrorKind::UnclosedParen => Q::UnclosedParen,
        QueryErrorKind::UnmatchedParen => Q::UnmatchedParen,
        QueryErrorKind::DanglingOr => Q::DanglingOr,
        QueryErrorKind::UnknownField { .. } => Q::UnknownField,
        QueryErrorKind::InvalidValue { .. } => Q::InvalidValue,
        QueryErrorKind::MissingValue { .. } => Q::MissingValue,
        QueryErrorKind::BadDateRange { .. } => Q::BadDateRange,
        QueryErrorKind::TooLong { .. } => Q::TooLong,
        QueryErrorKind::TooManyTerms { .. } => Q::TooManyTerms,
        QueryErrorKind::TooDeep { .. } => Q::TooDeep,
        _ => return None,
    })
}

/// The error a row must get.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// `InterchangeError::Json`.
    LineJson,
    /// `InterchangeError::NotAnObject`.
    LineNotObject,
    /// `InterchangeError::Missing` naming the field.
    LineMissing(&'static str),
    /// `InterchangeError::WrongType` naming the field.
    LineWrongType(&'static str),
    /// `InterchangeError::Invalid` naming the field, with this validation kind.
    LineInvalid(&'static str, V),
    /// `InterchangeError::Inconsistent` naming the field.
    LineInconsistent(&'static str),
    /// `StoreError::Invalid` of this kind.
    Invalid(V),
    /// `StoreError::Transition` with a refusal of this kind, naming status,
    /// event and actor.
    Transition(Refusal, Status, EventKind, Role),
    /// `StoreError::CaseNotFound`.
    CaseNotFound,
    /// `StoreError::AttachmentMismatch`.
    AttachmentMismatch,
    /// `StoreError::Query` of this kind at this character position.
    Query(Q, usize),
    /// `InterchangeError::ByteOrderMark`.
    LineBom,
    /// `StoreError::ImportConflict` of this kind (`None`: another tenant;
    /// `Some(field)`: other content, differing first in `field`).
    ImportConflict(Option<&'static str>),
    /// `StoreError::MergeRefused`, naming both cases by number.
    MergeRefused,
    /// `StoreError::PageOutOfRange` giving this last page (views and
    /// searches report a bad page alike).
    PageOutOfRange(u32),
    /// `StoreError::PerPageOutOfRange`.
    PerPageOutOfRange,
    /// `StoreError::ForeignFile`.
    ForeignFile,
    /// `StoreError::SchemaTooNew` with the version found.
    SchemaTooNew(u32),
    /// `StoreError::Storage` (redb refused the file).
    Storage,
    /// `StoreError::UnknownRecordVersion` in this table, with this version.
    UnknownRecordVersion(&'static str, u8),
    /// `StoreError::Corrupt` in this table.
    Corrupt(&'static str),
    /// `StoreError::Feed(FeedError::BadName)`.
    FeedBadName,
    /// `StoreError::Feed(FeedError::UnknownConsumer)`.
    FeedUnknownConsumer,
    /// `StoreError::Feed(FeedError::PositionOutOfRange)` for this position.
    FeedPositionOutOfRange(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Final,
    NotAllowed,
    NotYetDue,
    DeadlineNotInFuture,
    ClockBehind,
}

/// What happened: an error of one of the crate's types, or success.
#[derive(Debug)]
enum Failure {
    Line(InterchangeError),
    Store(StoreError),
}

fn is_expected(expect: &Expect, got: &Failure) -> bool {
    use Expect as E;
    match (expect, got) {
        (E::LineJson, Failure::Line(InterchangeError::Json { .. })) => true,
        (E::LineNotObject, Failure::Line(InterchangeError::NotAnObject { .. })) => true,
        (E::LineMissing(f), Failure::Line(InterchangeError::Missing { field })) => field == f,
        (E::LineWrongType(f), Failure::Line(InterchangeError::WrongType { field, .. })) => field == f,
        (E::LineInvalid(f, v), Failure::Line(InterchangeError::Invalid { field, error: source })) => {
            field == f && v_kind(source) == Some(*v)
        }
        (E::LineInconsistent(f), Failure::Line(InterchangeError::Inconsistent { field, .. })) => field == f,
        (E::Invalid(v), Failure::Store(StoreError::Invalid(e))) => v_kind(e) == Some(*v),
        (E::Transition(kind, status, event, actor), Failure::Store(StoreError::Transition { refusal: source, .. })) => {
            let k = match source {
                TransitionError::Final { .. } => Refusal::Final,
                TransitionError::NotAllowed { .. } => Refusal::NotAllowed,
                TransitionError::NotYetDue { .. } => Refusal::NotYetDue,
                TransitionError::DeadlineNotInFuture { .. } => Refusal::DeadlineNotInFuture,
                TransitionError::ClockBehind { .. } => Refusal::ClockBehind,
                _ => return false,
            };
            (k, source.status(), source.event(), source.actor()) == (*kind, *status, *event, *actor)
        }
        (E::CaseNotFound, Failure::Store(StoreError::CaseNotFound(_))) => true,
        (E::AttachmentMismatch, Failure::Store(StoreError::AttachmentMismatch { .. })) => true,
        (E::Query(q, pos), Failure::Store(StoreError::Query(e))) => q_kind(&e.kind) == Some(*q) && e.position == *pos,
        (E::PageOutOfRange(want), Failure::Store(StoreError::PageOutOfRange { last_page, .. })) => last_page == want,
        (E::LineBom, Failure::Line(InterchangeError::ByteOrderMark)) => true,
        (E::ImportConflict(want), Failure::Store(StoreError::ImportConflict { conflict, .. })) => {
            match (want, conflict) {
                (None, ImportConflict::OtherTenant) => true,
                (Some(f), ImportConflict::OtherContent { field }) => f == field,
                _ => false,
            }
        }
        (E::MergeRefused, Failure::Store(e @ StoreError::MergeRefused { from, into, .. })) => {
            // Numbers, never internal ids ("cannot merge case #60 into #0").
            let m = e.to_string();
            m.contains(from.as_str()) && m.contains(into.as_str()) && !m.contains('#')
        }
        (E::PerPageOutOfRange, Failure::Store(StoreError::PerPageOutOfRange { .. })) => true,
        (E::ForeignFile, Failure::Store(StoreError::ForeignFile { .. })) => true,
        (E::SchemaTooNew(v), Failure::Store(StoreError::SchemaTooNew { found, supported })) => {
            found == v && *supported < *v
        }
        (E::Storage, Failure::Store(StoreError::Storage { .. })) => true,
        (E::UnknownRecordVersion(t, v), Failure::Store(StoreError::UnknownRecordVersion { table, version, .. })) => {
            table == t && version == v
        }
        (E::Corrupt(t), Failure::Store(StoreError::Corrupt { table, .. })) => table == t,
        (E::FeedBadName, Failure::Store(StoreError::Feed(FeedError::BadName { .. }))) => true,
        (E::FeedUnknownConsumer, Failure::Store(StoreError::Feed(FeedError::UnknownConsumer { .. }))) => true,
        (
            E::FeedPositionOutOfRange(p),
            Failure::Store(StoreError::Feed(FeedError::PositionOutOfRange { position, .. })),
        ) => position == p,
        _ => false,
    }
}

/// How a file is damaged before it is opened.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// A redb database of another program (tables, no caselog marker).
    ForeignRedb,
    /// The store file cut to half its length.
    Truncated,
    /// The store file overwritten with pseudo-random bytes.
    Garbage,
    /// The store file's first 4 KiB zeroed (its redb header).
    ZeroedHeader,
    /// The format marker rewritten.
    WrongMarker,
    /// The schema version set to one from the future.
    FutureSchema,
    /// The schema version removed.
    NoSchema,
}

/// A store write against the fixture.
type WriteFn = Box<dyn Fn(&Fixture) -> Result<(), StoreError>>;

/// The operation a row goes through.
enum Op {
    /// `parse_line`, and on success `Store::import`.
    ImportLine(String),
    /// A store write.
    Write(WriteFn),
    /// `Store::search` with query text and options.
    Search(String, SearchOptions),
    /// `Store::view`.
    View(ViewQuery),
    /// `Store::open` of a damaged copy of the store.
    Open(Damage),
    /// Reading a record from a damaged copy (the record's bytes replaced).
    ReadDamaged(Vec<u8>),
    /// Decoding bytes as a stored record (the store's codec).
    Decode(Vec<u8>),
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::ImportLine(l) => write!(f, "import line ({} bytes)", l.len()),
            Op::Write(_) => f.write_str("store write"),
            Op::Search(q, _) => write!(f, "search ({} chars)", q.chars().count()),
            Op::View(_) => f.write_str("view page"),
            Op::Open(d) => write!(f, "open {d:?}"),
            Op::ReadDamaged(b) => write!(f, "read a damaged record ({} bytes)", b.len()),
            Op::Decode(b) => write!(f, "decode a record ({} bytes)", b.len()),
        }
    }
}

struct Row {
    input: &'static str,
    op: Op,
    expect: Expect,
}

fn row(input: &'static str, op: Op, expect: Expect) -> Row {
    Row { input, op, expect }
}

// ---------------------------------------------------------------------------
// Inputs

/// SPEC.md's example line, as a JSON value to alter.
fn good_line() -> serde_json::Value {
    serde_json::json!({
        "tenant": TENANT, "number": "17281736451", "title": "ASIN B08XYZ1234 suppressed",
        "category": "listing", "status": "in_progress", "created_by": SELLER,
        "created_at": "2026-01-16T08:30:00Z", "marketplace": "US", "language": "en",
        "refs": {"orders": ["112-1234567-1234567"], "asins": ["B08XYZ1234"], "skus": ["MUG-RED-01"], "cases": []},
        "messages": [{"author": "seller", "author_id": SELLER, "at": "2026-01-16T08:30:00Z",
            "body": "I am unable to remove a suppressed ASIN ...",
            "attachments": [{"name": "invoice.pdf", "content_type": "application/pdf", "size": 48213, "sha256": HASH}]}]
    })
}

/// The good line with the value at a JSON pointer replaced.
fn line_with(pointer: &str, value: serde_json::Value) -> Op {
    let mut v = good_line();
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = value;
    } else {
        // A field the good line leaves out: add it to its object.
        let (parent, key) = pointer
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("bad pointer {pointer}"));
        match v.pointer_mut(parent).and_then(|p| p.as_object_mut()) {
            Some(o) => drop(o.insert(key.to_owned(), value)),
            None => panic!("no object at {parent} in the good line"),
        }
    }
    Op::ImportLine(v.to_string())
}

/// The good line with a top-level field removed.
fn line_without(key: &str) -> Op {
    let mut v = good_line();
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
    Op::ImportLine(v.to_string())
}

/// The good line with raw JSON text spliced in for a field's value (for
/// numbers serde_json's own values cannot express).
fn line_raw(key: &str, raw: &str) -> Op {
    let mut v = good_line();
    let marker = "\"@@RAW@@\"";
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_owned(), serde_json::Value::String("@@RAW@@".into()));
    }
    Op::ImportLine(v.to_string().replace(marker, raw))
}

fn attachment_line(content_type: &str, size: serde_json::Value) -> Op {
    line_with(
        "/messages/0/attachments/0",
        serde_json::json!({"name": "evidence", "content_type": content_type, "size": size, "sha256": HASH}),
    )
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn new_case(title: &str, description: &str) -> NewCase {
    NewCase::new(
        tenant(TENANT),
        user(SELLER),
        Marketplace::parse("US").unwrap_or_else(|e| panic!("{e}")),
        LanguageTag::parse("en").unwrap_or_else(|e| panic!("{e}")),
        Category::Payments,
        title,
        description,
    )
}

fn write(f: impl Fn(&Fixture) -> Result<(), StoreError> + 'static) -> Op {
    Op::Write(Box::new(f))
}

fn event(case: fn(&Fixture) -> CaseRef, actor: Actor, ev: CaseEvent, at: Option<Timestamp>) -> Op {
    write(move |fx| {
        fx.store
            .apply_event(&fx.tenant_scope(), &case(fx), actor.clone(), ev.clone(), "", at)
            .map(|_| ())
    })
}

fn search(text: impl Into<String>) -> Op {
    Op::Search(text.into(), SearchOptions::default())
}

fn search_page(page: u32, per_page: u32) -> Op {
    Op::Search(
        "refund".into(),
        SearchOptions {
            page,
            per_page,
            ..SearchOptions::default()
        },
    )
}

fn view_page(page: u32, per_page: u32) -> Op {
    let mut q = ViewQuery::new(ViewKind::All);
    q.page = page;
    q.per_page = per_page;
    Op::View(q)
}

fn pdf(size: u64, bytes: Option<Vec<u8>>) -> NewAttachment {
    let sha = ContentHash::parse_hex(HASH).unwrap_or_else(|e| panic!("{e}"));
    NewAttachment {
        meta: AttachmentMeta::new(
            "invoice.pdf",
            "application/pdf",
            size,
            sha,
            &AttachmentPolicy::default(),
        )
        .unwrap_or_else(|e| panic!("{e}")),
        bytes,
    }
}

/// A valid v1 case record with its title replaced by invalid UTF-8 of the
/// same length (postcard strings are length-prefixed bytes).
fn case_record_with_bad_utf8() -> Vec<u8> {
    let line = good_line().to_string();
    let case = parse_line(&line).unwrap_or_else(|e| panic!("{e}")).case;
    let mut bytes = encode_case(&case).unwrap_or_else(|e| panic!("{e}"));
    let title = case.title.as_bytes();
    let at = bytes
        .windows(title.len())
        .position(|w| w == title)
        .unwrap_or_else(|| panic!("title not found in the record"));
    if let Some(first) = bytes.get_mut(at) {
        *first = 0xFF;
    }
    bytes
}

fn with_version(mut bytes: Vec<u8>, version: u8) -> Vec<u8> {
    if let Some(first) = bytes.first_mut() {
        *first = version;
    }
    bytes
}

fn catalogue() -> Vec<Row> {
    use serde_json::json;
    use Expect as E;
    let ten_mb = "x".repeat(10 * 1024 * 1024);
    let hundred_k_query = "refund ".repeat(100_000 / 7 + 1);
    let ten_k_terms = "a ".repeat(10_000);
    let deep = format!("{}a{}", "(".repeat(9), ")".repeat(9));
    let good_record = encode_case(
        &parse_line(&good_line().to_string())
            .unwrap_or_else(|e| panic!("{e}"))
            .case,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let many_refs: Vec<String> = (0..50_000).map(|i| format!("SKU-{i}")).collect();
    vec![
        // --- malformed JSON lines
        row("empty line", Op::ImportLine(String::new()), E::LineJson),
        row(
            "truncated JSON",
            Op::ImportLine(r#"{"tenant":"seller-0042","#.into()),
            E::LineJson,
        ),
        row(
            "trailing garbage after the object",
            Op::ImportLine(format!("{} x", good_line())),
            E::LineJson,
        ),
        row("a JSON array", Op::ImportLine("[1,2,3]".into()), E::LineNotObject),
        row("a JSON string", Op::ImportLine("\"case\"".into()), E::LineNotObject),
        row(
            "raw NUL byte inside a string",
            Op::ImportLine("{\"tenant\":\"a\u{0}b\"}".into()),
            E::LineJson,
        ),
        row(
            "lone UTF-16 surrogate escape (not UTF-8 text)",
            line_raw("title", r#""\ud800""#),
            E::LineJson,
        ),
        row(
            "2,000 nested arrays",
            Op::ImportLine(format!("{}{}", "[".repeat(2_000), "]".repeat(2_000))),
            E::LineJson,
        ),
        // --- missing fields and wrong types
        row("no tenant", line_without("tenant"), E::LineMissing("tenant")),
        row("null title", line_with("/title", json!(null)), E::LineMissing("title")),
        row("no messages", line_without("messages"), E::LineMissing("messages")),
        row(
            "tenant is a number",
            line_with("/tenant", json!(42)),
            E::LineWrongType("tenant"),
        ),
        row(
            "messages is an object",
            line_with("/messages", json!({})),
            E::LineWrongType("messages"),
        ),
        row(
            "a message is a string",
            line_with("/messages/0", json!("hi")),
            E::LineWrongType("messages[0]"),
        ),
        row(
            "refs is a list",
            line_with("/refs", json!([])),
            E::LineWrongType("refs"),
        ),
        row(
            "an order id is a number",
            line_with("/refs/orders/0", json!(1)),
            E::LineWrongType("refs.orders[0]"),
        ),
        row(
            "complex is a string",
            line_with("/complex", json!("yes")),
            E::LineWrongType("complex"),
        ),
        row(
            "message author_id missing for a seller",
            line_with("/messages/0/author_id", json!(null)),
            E::LineMissing("messages[0].author_id"),
        ),
        // --- values out of range
        row(
            "created_at in year 10000",
            line_with("/created_at", json!("10000-01-01T00:00:00Z")),
            E::LineInvalid("created_at", V::Malformed),
        ),
        row(
            "created_at in year 0",
            line_with("/created_at", json!("0000-06-01T00:00:00Z")),
            E::LineInvalid("created_at", V::OutOfRange),
        ),
        row(
            "created_at month 13",
            line_with("/created_at", json!("2026-13-01T00:00:00Z")),
            E::LineInvalid("created_at", V::Malformed),
        ),
        row(
            "message time without a zone",
            line_with("/messages/0/at", json!("2026-01-16T08:30:00")),
            E::LineInvalid("messages[0].at", V::Malformed),
        ),
        row(
            "10 MB title",
            line_with("/title", json!(ten_mb.clone())),
            E::LineInvalid("title", V::TooLong),
        ),
        row(
            "10 MB message body",
            line_with("/messages/0/body", json!(ten_mb.clone())),
            E::LineInvalid("messages[0].body", V::TooLong),
        ),
        row(
            "NUL in the title",
            line_with("/title", json!("refund\u{0}delayed")),
            E::LineInvalid("title", V::Malformed),
        ),
        row(
            "NUL in a message body",
            line_with("/messages/0/body", json!("pasted\u{0}binary")),
            E::LineInvalid("messages[0].body", V::Malformed),
        ),
        row(
            "attachment size 2^64 (past u64)",
            attachment_line("application/pdf", json!(18_446_744_073_709_551_616.0_f64)),
            E::LineWrongType("messages[0].attachments[0].size"),
        ),
        row(
            "a number 1e400 (past f64)",
            line_raw("clock_paused_ms", "1e400"),
            E::LineJson,
        ),
        row(
            "attachment size -1",
            attachment_line("application/pdf", json!(-1)),
            E::LineWrongType("messages[0].attachments[0].size"),
        ),
        row(
            "clock_paused_ms 2^63 (past i64)",
            line_raw("clock_paused_ms", "9223372036854775808"),
            E::LineWrongType("clock_paused_ms"),
        ),
        row(
            "clock_paused_ms negative",
            line_raw("clock_paused_ms", "-1"),
            E::LineInconsistent("clock_paused_ms"),
        ),
        row(
            "a 30-digit number as the case number",
            line_raw("number", &"9".repeat(30)),
            E::LineWrongType("number"),
        ),
        row(
            "a right-to-left override in the title",
            line_with("/title", json!("invoice \u{202E}fdp.exe")),
            E::LineInvalid("title", V::Malformed),
        ),
        row(
            "a byte-order mark at the start of a line (not of the file)",
            Op::ImportLine(format!("\u{FEFF}{}", good_line())),
            E::LineBom,
        ),
        // --- numbers already taken (the fixture imported the good line)
        row(
            "the imported case's number in another tenant",
            line_with("/tenant", json!(OTHER_TENANT)),
            E::ImportConflict(None),
        ),
        row(
            "the imported case's number with another title",
            line_with("/title", json!("Another title")),
            E::ImportConflict(Some("title")),
        ),
        row(
            "the imported case's number with another message",
            line_with("/messages/0/body", json!("Other words.")),
            E::ImportConflict(Some("messages")),
        ),
        // --- unknown identifiers
        row(
            "unknown status",
            line_with("/status", json!("archived")),
            E::LineInvalid("status", V::Unknown),
        ),
        row(
            "status with a typo",
            line_with("/status", json!("in-progress")),
            E::LineInvalid("status", V::Unknown),
        ),
        row(
            "unknown category",
            line_with("/category", json!("refunds")),
            E::LineInvalid("category", V::Unknown),
        ),
        row(
            "unknown message author",
            line_with("/messages/0/author", json!("robot")),
            E::LineInvalid("messages[0].author", V::Unknown),
        ),
        row(
            "unknown change event",
            line_with("/messages/0/change", json!({"event": "escalate", "to": "open"})),
            E::LineInvalid("messages[0].change.event", V::Unknown),
        ),
        // --- malformed ids and lists
        row(
            "case number with a space",
            line_with("/number", json!("17 28")),
            E::LineInvalid("number", V::Malformed),
        ),
        row(
            "case number of 33 characters",
            line_with("/number", json!("1".repeat(33))),
            E::LineInvalid("number", V::TooLong),
        ),
        row(
            "empty tenant",
            line_with("/tenant", json!("  ")),
            E::LineInvalid("tenant", V::Empty),
        ),
        row(
            "tenant * (the all-tenants scope key)",
            line_with("/tenant", json!("*")),
            E::LineInvalid("tenant", V::Malformed),
        ),
        row(
            "no messages at all",
            line_with("/messages", json!([])),
            E::LineInconsistent("messages"),
        ),
        row(
            "50,000 distinct SKUs",
            line_with("/refs/skus", json!(many_refs)),
            E::LineInvalid("refs", V::TooMany),
        ),
        // --- attachments
        row(
            "disallowed attachment type",
            attachment_line("application/x-msdownload", json!(10)),
            E::LineInvalid("messages[0].attachments[0]", V::TypeRefused),
        ),
        row(
            "PDF of 10 MiB + 1",
            attachment_line("application/pdf", json!(10 * MIB + 1)),
            E::LineInvalid("messages[0].attachments[0]", V::TooLarge),
        ),
        row(
            "video of 100 MiB + 1",
            attachment_line("video/mp4", json!(100 * MIB + 1)),
            E::LineInvalid("messages[0].attachments[0]", V::TooLarge),
        ),
        row(
            "attachment name with a path",
            line_with("/messages/0/attachments/0/name", json!("../../etc/passwd")),
            E::LineInvalid("messages[0].attachments[0]", V::Malformed),
        ),
        row(
            "attachment name with a right-to-left override (exe shown as pdf)",
            line_with("/messages/0/attachments/0/name", json!("invoice\u{202E}fdp.exe")),
            E::LineInvalid("messages[0].attachments[0]", V::Malformed),
        ),
        row(
            "attachment hash of 63 digits",
            line_with("/messages/0/attachments/0/sha256", json!(&HASH[1..])),
            E::LineInvalid("messages[0].attachments[0].sha256", V::Malformed),
        ),
        row(
            "attachment hash empty (absent or null is metadata without content; empty is malformed)",
            line_with("/messages/0/attachments/0/sha256", json!("")),
            E::LineInvalid("messages[0].attachments[0].sha256", V::Malformed),
        ),
        // --- store writes
        row(
            "create: 10 MB title",
            write(move |fx| {
                fx.store
                    .create_case(new_case(&"t".repeat(10 * 1024 * 1024), "d"))
                    .map(|_| ())
            }),
            E::Invalid(V::TooLong),
        ),
        row(
            "create: empty title",
            write(|fx| fx.store.create_case(new_case(" \t ", "d")).map(|_| ())),
            E::Invalid(V::Empty),
        ),
        row(
            "create: a left-to-right isolate in the title",
            write(|fx| fx.store.create_case(new_case("a\u{2066}b", "d")).map(|_| ())),
            E::Invalid(V::Malformed),
        ),
        row(
            "merge into another tenant's case",
            write(|fx| {
                fx.store
                    .merge(&fx.open_case(), &fx.other, user(AGENT), "dup")
                    .map(|_| ())
            }),
            E::MergeRefused,
        ),
        row(
            "merge a case into itself",
            write(|fx| {
                fx.store
                    .merge(&fx.open_case(), &fx.open, user(AGENT), "dup")
                    .map(|_| ())
            }),
            E::MergeRefused,
        ),
        row(
            "create: NUL in the title",
            write(|fx| fx.store.create_case(new_case("a\u{0}b", "d")).map(|_| ())),
            E::Invalid(V::Malformed),
        ),
        row(
            "create: 2 MiB description",
            write(|fx| {
                fx.store
                    .create_case(new_case("t", &"d".repeat(2 * 1024 * 1024)))
                    .map(|_| ())
            }),
            E::Invalid(V::TooLong),
        ),
        row(
            "create: attachment bytes not matching the declared size",
            write(|fx| {
                let c = new_case("with attachment", "d").with_attachments(vec![pdf(10, Some(b"short".to_vec()))]);
                fx.store.create_case(c).map(|_| ())
            }),
            E::AttachmentMismatch,
        ),
        row(
            "create: attachment bytes not matching the hash",
            write(|fx| {
                let c = new_case("with attachment", "d").with_attachments(vec![pdf(5, Some(b"other".to_vec()))]);
                fx.store.create_case(c).map(|_| ())
            }),
            E::AttachmentMismatch,
        ),
        row(
            "reply: NUL in the body",
            write(|fx| {
                let msg = NewMessage::new(Actor::Seller(user(SELLER)), "a\u{0}b");
                fx.store.reply(&fx.tenant_scope(), &fx.open_case(), msg).map(|_| ())
            }),
            E::Invalid(V::Malformed),
        ),
        row(
            "reply: to another tenant's case",
            write(|fx| {
                let msg = NewMessage::new(Actor::Seller(user(SELLER)), "hello");
                fx.store
                    .reply(&fx.tenant_scope(), &fx.other_tenant_case(), msg)
                    .map(|_| ())
            }),
            E::CaseNotFound,
        ),
        // --- illegal transitions
        row(
            "seller picks a case up",
            event(Fixture::open_case, Actor::Seller(user(SELLER)), CaseEvent::PickUp, None),
            E::Transition(Refusal::NotAllowed, Status::Open, EventKind::PickUp, Role::Seller),
        ),
        row(
            "support closes a case",
            event(Fixture::open_case, Actor::Support(user(AGENT)), CaseEvent::Close, None),
            E::Transition(Refusal::NotAllowed, Status::Open, EventKind::Close, Role::Support),
        ),
        row(
            "system auto-closes an open case",
            event(Fixture::open_case, Actor::System, CaseEvent::AutoClose, None),
            E::Transition(Refusal::NotAllowed, Status::Open, EventKind::AutoClose, Role::System),
        ),
        row(
            "a second create",
            event(Fixture::open_case, Actor::Seller(user(SELLER)), CaseEvent::Create, None),
            E::Transition(Refusal::NotAllowed, Status::Open, EventKind::Create, Role::Seller),
        ),
        row(
            "request information with a past deadline",
            event(
                Fixture::open_case,
                Actor::Support(user(AGENT)),
                CaseEvent::RequestInfo {
                    deadline: ts("2000-01-01T00:00:00Z"),
                },
                None,
            ),
            E::Transition(
                Refusal::DeadlineNotInFuture,
                Status::Open,
                EventKind::RequestInfo,
                Role::Support,
            ),
        ),
        row(
            "an event dated before the case's last change",
            event(
                Fixture::open_case,
                Actor::Support(user(AGENT)),
                CaseEvent::PickUp,
                Some(ts("2001-01-01T00:00:00Z")),
            ),
            E::Transition(Refusal::ClockBehind, Status::Open, EventKind::PickUp, Role::Support),
        ),
        row(
            "reopen a closed case by resolving it",
            event(
                Fixture::closed_case,
                Actor::Support(user(AGENT)),
                CaseEvent::Resolve,
                None,
            ),
            E::Transition(Refusal::Final, Status::Closed, EventKind::Resolve, Role::Support),
        ),
        row(
            "close a closed case again",
            event(
                Fixture::closed_case,
                Actor::Seller(user(SELLER)),
                CaseEvent::Close,
                None,
            ),
            E::Transition(Refusal::Final, Status::Closed, EventKind::Close, Role::Seller),
        ),
        row(
            "event on a case number that does not exist",
            event(
                |_| CaseRef::Number(CaseNumber::parse_imported("NOPE-1").unwrap_or_else(|e| panic!("{e}"))),
                Actor::Support(user(AGENT)),
                CaseEvent::PickUp,
                None,
            ),
            E::CaseNotFound,
        ),
        // --- queries
        row(
            "query of 100,000 characters",
            search(hundred_k_query),
            E::Query(Q::TooLong, 1_024),
        ),
        row(
            "query of 10,000 terms",
            search(ten_k_terms),
            E::Query(Q::TooLong, 1_024),
        ),
        row("query nested 9 deep", search(deep), E::Query(Q::TooDeep, 8)),
        row(
            "query of 100,000 '('",
            search("(".repeat(100_000)),
            E::Query(Q::TooLong, 1_024),
        ),
        row(
            "unclosed quote",
            search("refund \"delayed"),
            E::Query(Q::UnclosedQuote, 7),
        ),
        row(
            "unclosed parenthesis",
            search("(refund delayed"),
            E::Query(Q::UnclosedParen, 0),
        ),
        row(
            "unmatched parenthesis",
            search("refund)"),
            E::Query(Q::UnmatchedParen, 6),
        ),
        row("dangling OR", search("refund OR"), E::Query(Q::DanglingOr, 7)),
        row(
            "tenant: in a query",
            search("refund tenant:seller-0001"),
            E::Query(Q::UnknownField, 7),
        ),
        row(
            "unknown status in a query",
            search("status:archived"),
            E::Query(Q::InvalidValue, 7),
        ),
        row(
            "date out of range in a query",
            search("created:10000-01-01"),
            E::Query(Q::InvalidValue, 8),
        ),
        row(
            "empty date range",
            search("created:2026-02-01..2026-01-01"),
            E::Query(Q::BadDateRange, 8),
        ),
        row(
            "field without a value",
            search("status: open"),
            E::Query(Q::MissingValue, 7),
        ),
        row(
            "NUL in a query word",
            search("ref\u{0}und )"),
            E::Query(Q::UnmatchedParen, 8),
        ),
        row("search page 0", search_page(0, 20), E::PageOutOfRange(500)),
        row(
            "search page past the window",
            search_page(501, 20),
            E::PageOutOfRange(500),
        ),
        row(
            "search page u32::MAX",
            search_page(u32::MAX, 1_000),
            E::PageOutOfRange(10),
        ),
        row("search 0 per page", search_page(1, 0), E::PerPageOutOfRange),
        row("search 1,001 per page", search_page(1, 1_001), E::PerPageOutOfRange),
        // --- views: the same typed errors as searches
        row("view page 0", view_page(0, 20), E::PageOutOfRange(5_000)),
        row("view page u32::MAX", view_page(u32::MAX, 1_000), E::PageOutOfRange(100)),
        row(
            "view page past the window",
            view_page(5_001, 20),
            E::PageOutOfRange(5_000),
        ),
        row("view 0 per page", view_page(1, 0), E::PerPageOutOfRange),
        row("view 1,001 per page", view_page(1, 1_001), E::PerPageOutOfRange),
        // --- damaged files
        row("a foreign redb file", Op::Open(Damage::ForeignRedb), E::ForeignFile),
        row(
            "a store with another format marker",
            Op::Open(Damage::WrongMarker),
            E::ForeignFile,
        ),
        row(
            "a schema from the future",
            Op::Open(Damage::FutureSchema),
            E::SchemaTooNew(4),
        ),
        row("no schema version", Op::Open(Damage::NoSchema), E::Corrupt("meta")),
        row("a truncated store file", Op::Open(Damage::Truncated), E::Storage),
        row("garbage bytes as the store file", Op::Open(Damage::Garbage), E::Storage),
        row("a zeroed redb header", Op::Open(Damage::ZeroedHeader), E::Storage),
        row(
            "a stored case of record version 3 (from a newer release)",
            Op::ReadDamaged(with_version(good_record.clone(), 3)),
            E::UnknownRecordVersion("cases", 3),
        ),
        row(
            "a stored case cut to 5 bytes",
            Op::ReadDamaged(good_record.get(..5).unwrap_or_default().to_vec()),
            E::Corrupt("cases"),
        ),
        row("an empty stored case", Op::ReadDamaged(Vec::new()), E::Corrupt("cases")),
        row(
            "a case record of version 0",
            Op::Decode(with_version(good_record.clone(), 0)),
            E::UnknownRecordVersion("cases", 0),
        ),
        row(
            "a case record with invalid UTF-8 in its title",
            Op::Decode(case_record_with_bad_utf8()),
            E::Corrupt("cases"),
        ),
        row(
            "a case record with its tail overwritten by 0xFF",
            Op::Decode({
                let mut b = good_record.clone();
                b.truncate(b.len().saturating_sub(40));
                b.extend([0xFF; 40]);
                b
            }),
            E::Corrupt("cases"),
        ),
        // The change feed, read markers and erasure.
        row(
            "a feed consumer name with a space",
            write(|f| {
                f.store
                    .feed_register(&f.tenant_scope(), "has space", FeedStart::Now)
                    .map(|_| ())
            }),
            E::FeedBadName,
        ),
        row(
            "an empty feed consumer name",
            write(|f| f.store.feed_ack(&f.tenant_scope(), "", 0)),
            E::FeedBadName,
        ),
        row(
            "a feed consumer name of 65 bytes",
            write(|f| f.store.feed(&f.tenant_scope(), &"c".repeat(65), None, 10).map(|_| ())),
            E::FeedBadName,
        ),
        row(
            "reading a feed consumer never registered",
            write(|f| f.store.feed(&f.tenant_scope(), "nobody", None, 10).map(|_| ())),
            E::FeedUnknownConsumer,
        ),
        row(
            "reading another scope's feed consumer",
            write(|f| {
                f.store
                    .feed_register(&Scope::AllTenants, "support-only", FeedStart::Now)?;
                f.store.feed(&f.tenant_scope(), "support-only", None, 10).map(|_| ())
            }),
            E::FeedUnknownConsumer,
        ),
        row(
            "acknowledging a feed position past the last change",
            write(|f| {
                f.store.feed_register(&f.tenant_scope(), "ahead", FeedStart::Now)?;
                f.store.feed_ack(&f.tenant_scope(), "ahead", u64::MAX)
            }),
            E::FeedPositionOutOfRange(u64::MAX),
        ),
        row(
            "registering a feed consumer to start after change 2^64-1",
            write(|f| {
                f.store
                    .feed_register(&f.tenant_scope(), "far", FeedStart::After(u64::MAX))
                    .map(|_| ())
            }),
            E::FeedPositionOutOfRange(u64::MAX),
        ),
        row(
            "erasing another tenant's case",
            write(|f| f.store.erase(&f.tenant_scope(), &f.other_tenant_case()).map(|_| ())),
            E::CaseNotFound,
        ),
        row(
            "marking another tenant's case read",
            write(|f| {
                f.store
                    .mark_read(&f.tenant_scope(), &user("ann"), &f.other_tenant_case(), None)
                    .map(|_| ())
            }),
            E::CaseNotFound,
        ),
    ]
}

// ---------------------------------------------------------------------------
// The fixture store

/// Small index buffers and a short commit interval: the test opens a store
/// per damaged copy and waits for the index after every row.
fn options() -> Options {
    Options {
        index_heap_bytes: 16 * 1024 * 1024,
        index_commit_interval: Duration::from_millis(10),
        ..Options::default()
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    store: Store,
    open: CaseNumber,
    closed: CaseNumber,
    other: CaseNumber,
    /// The id of the case damaged by `ReadDamaged` rows (in copies).
    damaged_id: u64,
    good_writes: u32,
}

impl Fixture {
    fn tenant_scope(&self) -> Scope {
        Scope::Tenant(tenant(TENANT))
    }

    fn open_case(&self) -> CaseRef {
        CaseRef::Number(self.open.clone())
    }

    fn closed_case(&self) -> CaseRef {
        CaseRef::Number(self.closed.clone())
    }

    fn other_tenant_case(&self) -> CaseRef {
        CaseRef::Number(self.other.clone())
    }

    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path().join("store"), options()).unwrap_or_else(|e| panic!("{e}"));
        let open = store
            .create_case(new_case("Refund delayed for order", "My refund is delayed."))
            .unwrap_or_else(|e| panic!("{e}"))
            .number;
        let closed = store
            .create_case(new_case("Closed refund question", "Please close."))
            .unwrap_or_else(|e| panic!("{e}"))
            .number;
        let scope = Scope::Tenant(tenant(TENANT));
        store
            .apply_event(
                &scope,
                &CaseRef::Number(closed.clone()),
                Actor::Seller(user(SELLER)),
                CaseEvent::Close,
                "done",
                None,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let other = NewCase::new(
            tenant(OTHER_TENANT),
            user(SELLER),
            Marketplace::parse("US").unwrap_or_else(|e| panic!("{e}")),
            LanguageTag::parse("en").unwrap_or_else(|e| panic!("{e}")),
            Category::Tax,
            "Another seller's refund",
            "Not yours.",
        );
        let other = store.create_case(other).unwrap_or_else(|e| panic!("{e}")).number;
        let imported = parse_line(&good_line().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let outcomes = store.import(vec![imported]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(outcomes.as_slice(), [Ok(_)]), "{outcomes:?}");
        let damaged_id = store
            .case(&Scope::AllTenants, &CaseRef::Number(open.clone()))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("fixture case missing"))
            .id
            .0;
        let fx = Fixture {
            dir,
            store,
            open,
            closed,
            other,
            damaged_id,
            good_writes: 0,
        };
        fx.wait_indexed();
        fx
    }

    fn wait_indexed(&self) {
        let ok = self
            .store
            .wait_indexed(self.store.last_change(), Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(ok, "index did not catch up");
    }

    /// Every case exported in number order, and the statistics (but the
    /// file size, which redb may change without any data changing).
    fn fingerprint(&self) -> String {
        let snap = self.store.snapshot().unwrap_or_else(|e| panic!("snapshot: {e}"));
        let mut lines: Vec<(String, String)> = snap
            .cases(&Scope::AllTenants)
            .unwrap_or_else(|e| panic!("listing: {e}"))
            .map(|r| {
                let (case, thread) = r.unwrap_or_else(|e| panic!("reading a case: {e}"));
                (case.number.to_string(), to_line(&case, &thread))
            })
            .collect();
        lines.sort();
        let stats = self.store.stats().unwrap_or_else(|e| panic!("stats: {e}"));
        let mut out = format!(
            "cases {} messages {} tenants {} {:?} {:?}\n",
            stats.cases, stats.messages, stats.tenants, stats.by_status, stats.by_category
        );
        for (_, line) in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// A good write after a bad input: it must succeed and be searchable.
    fn good_write(&mut self) {
        self.good_writes += 1;
        let title = format!("Refund follow-up question {}", self.good_writes);
        let created = self
            .store
            .create_case(new_case(&title, "A good case after a bad input."))
            .unwrap_or_else(|e| panic!("a good write after a bad input failed: {e}"));
        assert!(self
            .store
            .wait_indexed(created.change, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}")));
        let found = self
            .store
            .search(
                &self.tenant_scope(),
                &format!("number:{}", created.number),
                &SearchOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.total, 1, "the good write is not searchable");
    }

    /// A consistent copy of the store's file in a fresh directory.
    fn copy(&self, name: &str) -> std::path::PathBuf {
        let dest = self.dir.path().join(name);
        std::fs::create_dir_all(&dest).unwrap_or_else(|e| panic!("{e}"));
        self.store
            .snapshot()
            .unwrap_or_else(|e| panic!("{e}"))
            .copy_to(&dest)
            .unwrap_or_else(|e| panic!("copy: {e}"));
        dest
    }

    fn run(&self, op: &Op, n: usize) -> Result<(), Failure> {
        match op {
            Op::ImportLine(line) => {
                let case = parse_line(line).map_err(Failure::Line)?;
                let outcomes = self.store.import(vec![case]).map_err(Failure::Store)?;
                match outcomes.into_iter().next() {
                    Some(Ok(_)) => Ok(()),
                    Some(Err(e)) => Err(Failure::Store(e)),
                    None => panic!("import returned no outcome"),
                }
            }
            Op::Write(f) => f(self).map_err(Failure::Store),
            Op::Search(text, opts) => self
                .store
                .search(&self.tenant_scope(), text, opts)
                .map(|_| ())
                .map_err(Failure::Store),
            Op::View(q) => self
                .store
                .view(&self.tenant_scope(), q)
                .map(|_| ())
                .map_err(Failure::Store),
            Op::Decode(bytes) => decode_case(bytes, 1)
                .and_then(|_| decode_entry(bytes, 1, 0, &Actor::System).map(|_| ()))
                .map_err(Failure::Store),
            Op::Open(damage) => {
                let dir = self.copy(&format!("damaged-{n}"));
                let file = dir.join(STORE_FILE);
                damage_file(&file, *damage);
                let before = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
                let result = Store::open(&dir, options());
                let store = match result {
                    Ok(store) => store,
                    Err(e) => {
                        // Nothing is reformatted: a file redb cannot read is
                        // byte for byte as it was; one it can read (redb may
                        // rewrite its header on open) has the same tables
                        // and metadata as before.
                        let after = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
                        if before != after {
                            let original = dir.join("original.redb");
                            std::fs::write(&original, &before).unwrap_or_else(|e| panic!("{e}"));
                            assert_eq!(
                                redb_dump(&file),
                                redb_dump(&original),
                                "a refused open changed the file"
                            );
                        }
                        return Err(Failure::Store(e));
                    }
                };
                drop(store.shutdown());
                Ok(())
            }
            Op::ReadDamaged(bytes) => {
                let dir = self.copy(&format!("damaged-{n}"));
                {
                    let db = redb::Database::open(dir.join(STORE_FILE)).unwrap_or_else(|e| panic!("{e}"));
                    let txn = db.begin_write().unwrap_or_else(|e| panic!("{e}"));
                    {
                        let mut cases = txn.open_table(CASES).unwrap_or_else(|e| panic!("{e}"));
                        cases
                            .insert(self.damaged_id, bytes.as_slice())
                            .unwrap_or_else(|e| panic!("{e}"));
                    }
                    txn.commit().unwrap_or_else(|e| panic!("{e}"));
                }
                // The store opens (the index matches the store's change log)
                // and the damaged record is a typed error when read.
                let store = Store::open(&dir, options()).map_err(Failure::Store)?;
                let read = store.case(&self.tenant_scope(), &self.open_case());
                // Other cases are still readable.
                let closed = store.case(&self.tenant_scope(), &self.closed_case());
                assert!(matches!(closed, Ok(Some(_))), "an undamaged case is lost: {closed:?}");
                drop(store.shutdown());
                read.map(|_| ()).map_err(Failure::Store)
            }
        }
    }
}

/// The table names of a redb file, and the content of its `meta` table and
/// of the foreign fixture's `accounts` table when present.
fn redb_dump(file: &Path) -> String {
    let db = redb::Database::open(file).unwrap_or_else(|e| panic!("{e}"));
    let txn = db.begin_read().unwrap_or_else(|e| panic!("{e}"));
    let mut out: Vec<String> = txn
        .list_tables()
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|t| t.name().to_owned())
        .collect();
    if let Ok(meta) = txn.open_table(META) {
        for item in meta.iter().unwrap_or_else(|e| panic!("{e}")) {
            let (k, v) = item.unwrap_or_else(|e| panic!("{e}"));
            out.push(format!("{}={:?}", k.value(), v.value()));
        }
    }
    if let Ok(accounts) = txn.open_table(ACCOUNTS) {
        for item in accounts.iter().unwrap_or_else(|e| panic!("{e}")) {
            let (k, v) = item.unwrap_or_else(|e| panic!("{e}"));
            out.push(format!("{}={}", k.value(), v.value()));
        }
    }
    out.join("\n")
}

fn damage_file(file: &Path, damage: Damage) {
    let rw = |f: &dyn Fn(&redb::WriteTransaction)| {
        let db = redb::Database::open(file).unwrap_or_else(|e| panic!("{e}"));
        let txn = db.begin_write().unwrap_or_else(|e| panic!("{e}"));
        f(&txn);
        txn.commit().unwrap_or_else(|e| panic!("{e}"));
    };
    match damage {
        Damage::ForeignRedb => {
            std::fs::remove_file(file).unwrap_or_else(|e| panic!("{e}"));
            let db = redb::Database::create(file).unwrap_or_else(|e| panic!("{e}"));
            let txn = db.begin_write().unwrap_or_else(|e| panic!("{e}"));
            {
                let mut t = txn.open_table(ACCOUNTS).unwrap_or_else(|e| panic!("{e}"));
                t.insert("alice", 1).unwrap_or_else(|e| panic!("{e}"));
            }
            txn.commit().unwrap_or_else(|e| panic!("{e}"));
        }
        Damage::Truncated => {
            let len = std::fs::metadata(file).unwrap_or_else(|e| panic!("{e}")).len();
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(file)
                .unwrap_or_else(|e| panic!("{e}"));
            f.set_len(len / 2).unwrap_or_else(|e| panic!("{e}"));
        }
        Damage::Garbage => {
            let len = std::fs::metadata(file).unwrap_or_else(|e| panic!("{e}")).len() as usize;
            let mut x: u32 = 0x9E37_79B9;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x.to_le_bytes()[0]
                })
                .collect();
            std::fs::write(file, bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        Damage::ZeroedHeader => {
            let mut bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{e}"));
            for b in bytes.iter_mut().take(4096) {
                *b = 0;
            }
            std::fs::write(file, bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        Damage::WrongMarker => rw(&|txn| {
            let mut meta = txn.open_table(META).unwrap_or_else(|e| panic!("{e}"));
            meta.insert("format", b"someone-else".as_slice())
                .unwrap_or_else(|e| panic!("{e}"));
        }),
        Damage::FutureSchema => rw(&|txn| {
            let mut meta = txn.open_table(META).unwrap_or_else(|e| panic!("{e}"));
            meta.insert("schema_version", 4u32.to_le_bytes().as_slice())
                .unwrap_or_else(|e| panic!("{e}"));
        }),
        Damage::NoSchema => rw(&|txn| {
            let mut meta = txn.open_table(META).unwrap_or_else(|e| panic!("{e}"));
            meta.remove("schema_version").unwrap_or_else(|e| panic!("{e}"));
        }),
    }
}

// ---------------------------------------------------------------------------
// The test

#[test]
fn every_bad_input_gets_its_typed_error_and_loses_nothing() {
    let mut fx = Fixture::new();
    let rows = catalogue();
    let mut failures = Vec::new();
    for (n, r) in rows.iter().enumerate() {
        let before = fx.fingerprint();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fx.run(&r.op, n)));
        match &outcome {
            Err(_) => failures.push(format!("{}: {:?} panicked", r.input, r.op)),
            Ok(Ok(())) => failures.push(format!("{}: {:?} was accepted; expected {:?}", r.input, r.op, r.expect)),
            Ok(Err(got)) if !is_expected(&r.expect, got) => {
                failures.push(format!("{}: {:?} expected {:?}, got {got:?}", r.input, r.op, r.expect))
            }
            Ok(Err(got)) => {
                // A typed error must also read as a clear message.
                let message = match got {
                    Failure::Line(e) => e.to_string(),
                    Failure::Store(e) => e.to_string(),
                };
                assert!(
                    !message.is_empty() && message.len() < 2_000,
                    "{}: message {message:?}",
                    r.input
                );
            }
        }
        assert!(
            fx.fingerprint() == before,
            "{}: the bad input changed the store",
            r.input
        );
        fx.good_write();
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    fx.store.shutdown().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_catalogue_covers_every_operation() {
    let rows = catalogue();
    let has = |f: fn(&Op) -> bool| rows.iter().any(|r| f(&r.op));
    assert!(has(|o| matches!(o, Op::ImportLine(_))));
    assert!(has(|o| matches!(o, Op::Write(_))));
    assert!(has(|o| matches!(o, Op::Search(..))));
    assert!(has(|o| matches!(o, Op::View(_))));
    assert!(has(|o| matches!(o, Op::Open(_))));
    assert!(has(|o| matches!(o, Op::ReadDamaged(_))));
    assert!(has(|o| matches!(o, Op::Decode(_))));
}

/// A query of 10,000 terms built in code (so the length limit does not
/// stop it first) is refused by the term limit.
#[test]
fn ten_thousand_terms_built_in_code_are_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(dir.path(), Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let q = (0..10_000)
        .fold(QueryBuilder::new(), |b, i| b.word(format!("w{i}")))
        .build();
    match store.search_query(&Scope::AllTenants, &q, &SearchOptions::default()) {
        Err(StoreError::Query(e)) => assert!(matches!(e.kind, QueryErrorKind::TooManyTerms { .. }), "{e:?}"),
        other => panic!("expected TooManyTerms, got {other:?}"),
    }
    store.shutdown().unwrap_or_else(|e| panic!("{e}"));
}

/// SPEC.md: an oversized attachment is refused. `AttachmentMeta`'s fields
/// are public, so a host can build metadata that never went through
/// `AttachmentMeta::new`; the store checks it against
/// `Options::attachments` again.
#[test]
fn hand_built_oversized_attachment_is_refused_by_the_store() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(dir.path(), Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut att = pdf(1, None);
    att.meta.size = 11 * MIB;
    let c = new_case("oversized", "d").with_attachments(vec![att]);
    let result = store.create_case(c);
    assert!(
        matches!(
            result,
            Err(StoreError::Invalid(ValidationError::AttachmentTooLarge { .. }))
        ),
        "{result:?}"
    );
    store.shutdown().unwrap_or_else(|e| panic!("{e}"));
}
