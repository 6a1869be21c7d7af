//! The search query language: a table of inputs and their exact results,
//! and properties over arbitrary text and generated trees.

use caselog_core::{
    parse, Asin, BareReference, CaseNumber, Category, DateRange, FieldFilter, FieldName, HasWhat, Marketplace,
    Matchable, OrderId, ParsedQuery, Query, QueryBuilder, QueryError, QueryErrorKind, QueryLimits, Sku, Status,
    Timestamp, UserId, DAY_MS,
};
use proptest::prelude::*;

/// Limits that let any generated query through except by nesting.
const GENEROUS: QueryLimits = QueryLimits {
    max_chars: usize::MAX,
    max_terms: usize::MAX,
    max_depth: QueryLimits::MAX_DEPTH_CAP,
};

fn p(text: &str) -> Result<ParsedQuery, QueryError> {
    parse(text, &QueryLimits::default())
}

// ---------------------------------------------------------------- helpers

fn w(text: &str) -> Query {
    Query::Word(text.to_owned())
}

fn ph(text: &str) -> Query {
    Query::Phrase(text.to_owned())
}

fn and(parts: Vec<Query>) -> Query {
    Query::And(parts)
}

fn or(parts: Vec<Query>) -> Query {
    Query::Or(parts)
}

fn not(q: Query) -> Query {
    Query::Not(Box::new(q))
}

fn field(f: FieldFilter) -> Query {
    Query::Field(f)
}

fn day(text: &str) -> Timestamp {
    Timestamp::parse_day(text).unwrap()
}

fn days(first: &str, last: &str) -> DateRange {
    DateRange::days(day(first), day(last)).unwrap()
}

enum Expect {
    Ok(Query),
    /// The error kind's `Debug` text starts with this, at this position.
    Err(&'static str, usize),
}

fn ok(q: Query) -> Expect {
    Expect::Ok(q)
}

fn err(kind_prefix: &'static str, position: usize) -> Expect {
    Expect::Err(kind_prefix, position)
}

/// Checks one input against its expected tree or error, and that an
/// accepted query prints as text that parses back to it.
fn check(text: &str, expected: Expect) {
    let got = p(text);
    match (expected, got) {
        (Expect::Ok(want), Ok(parsed)) => {
            assert_eq!(parsed.root, want, "query {text:?}");
            let printed = parsed.root.to_string();
            assert_eq!(p(&printed).unwrap().root, want, "query {text:?} printed as {printed:?}");
        }
        (Expect::Err(kind, position), Err(e)) => {
            let debug = format!("{:?}", e.kind);
            assert!(debug.starts_with(kind), "query {text:?}: want {kind}, got {debug}");
            assert_eq!(e.position, position, "query {text:?}: position of {e}");
        }
        (Expect::Ok(want), Err(e)) => panic!("query {text:?}: want {want:?}, got error {e}"),
        (Expect::Err(kind, position), Ok(parsed)) => {
            panic!("query {text:?}: want {kind} at {position}, got {:?}", parsed.root)
        }
    }
}

// ------------------------------------------------------------ the table

#[test]
fn table() {
    let status = |s| field(FieldFilter::Status(s));
    let created = |r| field(FieldFilter::Created(r));
    let too_long = "a".repeat(1025);
    let cases: Vec<(&str, Expect)> = vec![
        // Empty and blank queries match every case.
        ("", ok(Query::All)),
        ("   \t ", ok(Query::All)),
        ("\u{3000}", ok(Query::All)),
        ("*", ok(Query::All)),
        ("-*", ok(not(Query::All))),
        ("refund *", ok(w("refund"))),
        // Words, phrases, exclusions.
        ("refund", ok(w("refund"))),
        ("refund delayed", ok(and(vec![w("refund"), w("delayed")]))),
        ("  refund   delayed  ", ok(and(vec![w("refund"), w("delayed")]))),
        ("账户\u{3000}停用", ok(and(vec![w("账户"), w("停用")]))),
        ("\"exact phrase\"", ok(ph("exact phrase"))),
        ("\"  spaced \t out \"", ok(ph("spaced out"))),
        ("\"say \\\"hi\\\" \\\\ C:\\x\"", ok(ph("say \"hi\" \\ C:\\x"))),
        ("a\"b c\"d", ok(and(vec![w("a"), ph("b c"), w("d")]))),
        ("-word", ok(not(w("word")))),
        ("-spam -scam", ok(and(vec![not(w("spam")), not(w("scam"))]))),
        ("-\"a b\"", ok(not(ph("a b")))),
        ("-status:closed", ok(not(status(Status::Closed)))),
        ("-(a OR b)", ok(not(or(vec![w("a"), w("b")])))),
        ("-(-a)", ok(not(not(w("a"))))),
        // Dashes that are not exclusions.
        ("-", ok(w("-"))),
        ("a - b", ok(and(vec![w("a"), w("-"), w("b")]))),
        ("(a -)", ok(and(vec![w("a"), w("-")]))),
        ("--force", ok(w("--force"))),
        ("-OR", ok(w("-OR"))),
        ("e-mail", ok(w("e-mail"))),
        // OR and precedence.
        ("a OR b", ok(or(vec![w("a"), w("b")]))),
        ("a or b", ok(and(vec![w("a"), w("or"), w("b")]))),
        ("a Or b", ok(and(vec![w("a"), w("Or"), w("b")]))),
        ("a OR b OR c", ok(or(vec![w("a"), w("b"), w("c")]))),
        ("a b OR c", ok(and(vec![w("a"), or(vec![w("b"), w("c")])]))),
        ("a OR b c", ok(and(vec![or(vec![w("a"), w("b")]), w("c")]))),
        (
            "a OR b c OR d",
            ok(and(vec![or(vec![w("a"), w("b")]), or(vec![w("c"), w("d")])])),
        ),
        ("-a OR b", ok(or(vec![not(w("a")), w("b")]))),
        ("(a OR b) -c", ok(and(vec![or(vec![w("a"), w("b")]), not(w("c"))]))),
        ("(a b) OR c", ok(or(vec![and(vec![w("a"), w("b")]), w("c")]))),
        ("(a OR b) OR c", ok(or(vec![w("a"), w("b"), w("c")]))),
        ("(a b) c", ok(and(vec![w("a"), w("b"), w("c")]))),
        ("((a))", ok(w("a"))),
        ("a(b)", ok(and(vec![w("a"), w("b")]))),
        ("a OR *", ok(Query::All)),
        // Colons that are not fields.
        ("10:30", ok(w("10:30"))),
        (":x", ok(w(":x"))),
        ("x1:y", ok(w("x1:y"))),
        ("\"tenant:x\"", ok(ph("tenant:x"))),
        ("\"http://example.com\"", ok(ph("http://example.com"))),
        // Fields.
        ("status:open", ok(status(Status::Open))),
        ("STATUS:NEEDS_ATTENTION", ok(status(Status::NeedsAttention))),
        ("Status:\"in_progress\"", ok(status(Status::InProgress))),
        (
            "category:fba_inventory",
            ok(field(FieldFilter::Category(Category::FbaInventory))),
        ),
        (
            "marketplace:de",
            ok(field(FieldFilter::Marketplace(Marketplace::parse("DE").unwrap()))),
        ),
        (
            "number:1234567890",
            ok(field(FieldFilter::Number(CaseNumber::parse("1234567890").unwrap()))),
        ),
        (
            "number:ARCH-7_b",
            ok(field(FieldFilter::Number(
                CaseNumber::parse_imported("ARCH-7_b").unwrap(),
            ))),
        ),
        (
            "order:112-1234567-1234567",
            ok(field(FieldFilter::Order(
                OrderId::parse("112-1234567-1234567").unwrap(),
            ))),
        ),
        (
            "asin:b08xyz1234",
            ok(field(FieldFilter::Asin(Asin::parse("B08XYZ1234").unwrap()))),
        ),
        (
            "sku:MUG-RED-01",
            ok(field(FieldFilter::Sku(Sku::parse("MUG-RED-01").unwrap()))),
        ),
        ("sku:\"A(B)\"", ok(field(FieldFilter::Sku(Sku::parse("A(B)").unwrap())))),
        (
            "by:\"ops@example.com\"",
            ok(field(FieldFilter::By(UserId::parse("ops@example.com").unwrap()))),
        ),
        (
            "by:ops@example.com",
            ok(field(FieldFilter::By(UserId::parse("ops@example.com").unwrap()))),
        ),
        (
            "by:\"a\\\"b\"",
            ok(field(FieldFilter::By(UserId::parse("a\"b").unwrap()))),
        ),
        (
            "status:open OR status:in_progress category:payments",
            ok(and(vec![
                or(vec![status(Status::Open), status(Status::InProgress)]),
                field(FieldFilter::Category(Category::Payments)),
            ])),
        ),
        // Dates.
        (
            "created:2026-01-01..2026-01-31",
            ok(created(days("2026-01-01", "2026-01-31"))),
        ),
        ("created:2026-01-05", ok(created(DateRange::day(day("2026-01-05"))))),
        (
            "created:2026-01-05..2026-01-05",
            ok(created(DateRange::day(day("2026-01-05")))),
        ),
        (
            "created:>=2026-03-01",
            ok(created(DateRange::since_day(day("2026-03-01")))),
        ),
        (
            "created:>2026-03-01",
            ok(created(DateRange::since_day(day("2026-03-02")))),
        ),
        (
            "created:<=2026-01-31",
            ok(created(DateRange::through_day(day("2026-01-31")))),
        ),
        (
            "created:<2026-02-01",
            ok(created(DateRange::through_day(day("2026-01-31")))),
        ),
        (
            "created:2026-01-01..",
            ok(created(DateRange::since_day(day("2026-01-01")))),
        ),
        (
            "created:..2026-01-31",
            ok(created(DateRange::through_day(day("2026-01-31")))),
        ),
        ("created:\"2026-01-05\"", ok(created(DateRange::day(day("2026-01-05"))))),
        (
            "updated:>=2026-03-01",
            ok(field(FieldFilter::Updated(DateRange::since_day(day("2026-03-01"))))),
        ),
        (
            "created:0001-01-01..9999-12-31",
            ok(created(DateRange::since_day(Timestamp::MIN))),
        ),
        // Errors: unknown fields, including the tenant.
        ("tenant:x", err("UnknownField { name: \"tenant\"", 0)),
        ("TENANT:x", err("UnknownField { name: \"TENANT\"", 0)),
        ("tenant:\"seller-0042\"", err("UnknownField { name: \"tenant\"", 0)),
        ("refund -tenant:x", err("UnknownField { name: \"tenant\"", 8)),
        ("(tenant:x OR a)", err("UnknownField", 1)),
        ("tenant:", err("UnknownField", 0)),
        ("created_by:x", err("UnknownField { name: \"created_by\"", 0)),
        ("http://example.com", err("UnknownField { name: \"http\"", 0)),
        // Quotes and parentheses.
        ("\"unclosed", err("UnclosedQuote", 0)),
        ("a \"b", err("UnclosedQuote", 2)),
        ("\"ends in backslash\\\"", err("UnclosedQuote", 0)),
        ("\"\"", err("EmptyPhrase", 0)),
        ("a \"  \"", err("EmptyPhrase", 2)),
        ("(a", err("UnclosedParen", 0)),
        ("(a (b)", err("UnclosedParen", 0)),
        ("a)", err("UnmatchedParen", 1)),
        (":-)", err("UnmatchedParen", 2)),
        ("()", err("EmptyGroup", 0)),
        ("a -( )", err("EmptyGroup", 3)),
        // OR without operands.
        ("OR", err("DanglingOr", 0)),
        ("OR a", err("DanglingOr", 0)),
        ("a OR", err("DanglingOr", 2)),
        ("a OR OR b", err("DanglingOr", 2)),
        ("(a OR)", err("DanglingOr", 3)),
        ("a (OR b)", err("DanglingOr", 3)),
        // Missing and invalid values.
        ("status:", err("MissingValue { field: Status", 7)),
        ("status: open", err("MissingValue { field: Status", 7)),
        ("status:(open OR closed)", err("MissingValue { field: Status", 7)),
        ("-by:", err("MissingValue { field: By", 4)),
        ("status:pending", err("InvalidValue { field: Status, error: Unknown", 7)),
        (
            "category:shoes",
            err("InvalidValue { field: Category, error: Unknown", 9),
        ),
        ("marketplace:DEU", err("InvalidValue { field: Marketplace", 12)),
        ("order:123", err("InvalidValue { field: Order", 6)),
        ("asin:XYZ", err("InvalidValue { field: Asin", 5)),
        ("number:-1", err("InvalidValue { field: Number", 7)),
        ("by:\"a b\"", err("InvalidValue { field: By", 3)),
        ("by:\"unclosed", err("UnclosedQuote", 3)),
        ("status:\" \"", err("InvalidValue { field: Status, error: Unknown", 7)),
        // Bad dates point at the bad day.
        (
            "created:2026-13-01",
            err("InvalidValue { field: Created, error: Malformed", 8),
        ),
        ("created:yesterday", err("InvalidValue { field: Created", 8)),
        (
            "created:2026-01-01..2026-02-30",
            err("InvalidValue { field: Created", 20),
        ),
        (
            "created:2026-01-01...2026-02-03",
            err("InvalidValue { field: Created", 20),
        ),
        ("updated:>=2026-1-1", err("InvalidValue { field: Updated", 10)),
        ("created:>=", err("InvalidValue { field: Created", 10)),
        ("created:..", err("InvalidValue { field: Created", 8)),
        ("created:\"2026-02-30\"", err("InvalidValue { field: Created", 8)),
        (
            "created:2026-02-01..2026-01-31",
            err("BadDateRange { field: Created", 8),
        ),
        ("created:<0001-01-01", err("BadDateRange", 8)),
        ("created:>9999-12-31", err("BadDateRange", 8)),
        // Limits.
        (&too_long, err("TooLong { len: 1025, max: 1024 }", 1024)),
        ("((((((((((a))))))))))", err("TooDeep { max: 8 }", 8)),
    ];
    for (text, expected) in cases {
        check(text, expected);
    }
}

#[test]
fn accepted_limits_at_the_edge() {
    assert!(p(&"a".repeat(1024)).is_ok());
    assert!(
        p(&"账".repeat(1024)).is_ok(),
        "the length is counted in characters, not bytes"
    );
    assert!(p(&format!("{}a{}", "(".repeat(8), ")".repeat(8))).is_ok());
    assert!(p(&vec!["w"; 32].join(" ")).is_ok());
    let e = p(&vec!["w"; 33].join(" ")).unwrap_err();
    assert_eq!(e.kind, QueryErrorKind::TooManyTerms { count: 33, max: 32 });
    assert_eq!(e.position, 64);
}

#[test]
fn date_ranges_are_half_open_day_ranges() {
    let jan = days("2026-01-01", "2026-01-31");
    assert_eq!(
        jan.start(),
        Some(Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap())
    );
    assert_eq!(
        jan.end(),
        Some(Timestamp::parse_rfc3339("2026-02-01T00:00:00Z").unwrap())
    );
    assert!(jan.contains(Timestamp::parse_rfc3339("2026-01-31T23:59:59.999Z").unwrap()));
    assert!(!jan.contains(Timestamp::parse_rfc3339("2026-02-01T00:00:00Z").unwrap()));
    assert!(!jan.contains(Timestamp::parse_rfc3339("2025-12-31T23:59:59.999Z").unwrap()));
    let one = DateRange::day(Timestamp::parse_rfc3339("2026-01-05T17:00:00Z").unwrap());
    assert_eq!(
        one.end().unwrap().as_millis() - one.start().unwrap().as_millis(),
        DAY_MS
    );
    assert_eq!(DateRange::since_day(day("2026-03-01")).end(), None);
    assert_eq!(DateRange::through_day(day("2026-03-01")).start(), None);
    assert!(DateRange::days(day("2026-02-01"), day("2026-01-31")).is_err());
    // The ends of time are open ends, so the range has one form.
    assert_eq!(
        DateRange::since_day(Timestamp::MIN),
        DateRange::through_day(Timestamp::MAX)
    );
    assert_eq!(DateRange::since_day(Timestamp::MIN).to_string(), "0001-01-01..");
    assert_eq!(DateRange::day(Timestamp::MAX).to_string(), "9999-12-31..");
    assert_eq!(jan.to_string(), "2026-01-01..2026-01-31");
    assert_eq!(DateRange::through_day(day("2026-01-31")).to_string(), "..2026-01-31");
}

#[test]
fn bare_references_typed_alone_are_flagged() {
    let bare = |text: &str| p(text).unwrap().bare_reference;
    assert_eq!(
        bare("17281736451"),
        Some(BareReference::CaseNumber(CaseNumber::parse("17281736451").unwrap()))
    );
    assert_eq!(
        bare("  112-1234567-1234567 "),
        Some(BareReference::Order(OrderId::parse("112-1234567-1234567").unwrap()))
    );
    assert_eq!(
        bare("b08xyz1234"),
        Some(BareReference::Asin(Asin::parse("B08XYZ1234").unwrap()))
    );
    assert_eq!(p("17281736451").unwrap().root, w("17281736451"));
    for not_alone in [
        "17281736451 refund",
        "\"17281736451\"",
        "-17281736451",
        "(17281736451)",
        "number:17281736451",
        "123",
        "refund",
        "",
    ] {
        assert_eq!(bare(not_alone), None, "{not_alone:?}");
    }
}

#[test]
fn canonical_printing() {
    let cases = [
        ("a  b OR c", "a b OR c"),
        ("(a b) OR c", "(a b) OR c"),
        ("-(a OR b) c", "-(a OR b) c"),
        ("-(-a)", "-(-a)"),
        ("\"a  \\\"b\\\"\"", "\"a \\\"b\\\"\""),
        ("STATUS:Open asin:b08xyz1234", "status:open asin:B08XYZ1234"),
        ("by:\"ops@example.com\" sku:\"A(B)\"", "by:ops@example.com sku:\"A(B)\""),
        (
            "created:>2026-03-01 updated:<2026-04-01",
            "created:2026-03-02.. updated:..2026-03-31",
        ),
        ("", "*"),
        ("-*", "-*"),
    ];
    for (input, printed) in cases {
        assert_eq!(p(input).unwrap().root.to_string(), printed, "{input:?}");
    }
    // Trees the parser cannot produce still print as text meaning the same.
    assert_eq!(not(w("--x")).to_string(), "-(--x)");
    assert_eq!(not(w("-")).to_string(), "-(-)");
    assert_eq!(w("OR").to_string(), "\"OR\"");
    assert_eq!(w("two words").to_string(), "\"two words\"");
    assert_eq!(w("tenant:x").to_string(), "\"tenant:x\"");
    assert_eq!(or(vec![]).to_string(), "-*");
    assert_eq!(and(vec![]).to_string(), "*");
    assert_eq!(
        and(vec![and(vec![w("a")]), or(vec![w("b"), or(vec![w("c")])])]).to_string(),
        "a b OR c"
    );
}

#[test]
fn error_messages_name_the_column_and_the_problem() {
    let e = p("tenant:x").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("at column 1: unknown field \"tenant\": search fields are number,"),
        "{e}"
    );
    let e = p("status:pending").unwrap_err();
    assert_eq!(
        e.to_string(),
        "at column 8: invalid status value: unknown status \"pending\": expected one of \
         open in_progress needs_attention resolved closed merged "
    );
    let e = p("refund \"delayed").unwrap_err();
    assert_eq!(e.to_string(), "at column 8: unclosed quote: add a closing \"");
    let long_name = format!("{}:x", "a".repeat(500));
    let e = p(&long_name).unwrap_err();
    assert!(e.to_string().len() < 400, "the message carries an excerpt: {e}");
}

#[test]
fn depth_limit_is_capped() {
    let limits = QueryLimits {
        max_depth: usize::MAX,
        ..GENEROUS
    };
    let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
    let e = parse(&deep, &limits).unwrap_err();
    assert_eq!(
        e.kind,
        QueryErrorKind::TooDeep {
            max: QueryLimits::MAX_DEPTH_CAP
        }
    );
    assert_eq!(e.position, QueryLimits::MAX_DEPTH_CAP);
}

#[test]
fn huge_pathological_inputs_are_handled_in_linear_time() {
    const N: usize = 1_000_000;
    let run = |text: String| parse(&text, &GENEROUS);
    assert!(matches!(
        run("(".repeat(N)).unwrap_err().kind,
        QueryErrorKind::TooDeep { .. }
    ));
    assert!(matches!(
        run("-(".repeat(N / 2)).unwrap_err().kind,
        QueryErrorKind::TooDeep { .. }
    ));
    assert_eq!(run(")".repeat(N)).unwrap_err().position, 0);
    assert_eq!(run("-".repeat(N)).unwrap().root, w(&"-".repeat(N)));
    let e = run("a OR ".repeat(N / 5)).unwrap_err();
    assert_eq!((e.kind, e.position), (QueryErrorKind::DanglingOr, N - 3));
    assert_eq!(run("\"".repeat(N)).unwrap_err().kind, QueryErrorKind::EmptyPhrase);
    assert_eq!(
        run(format!("\"{}", "\\\"".repeat(N / 2))).unwrap_err().kind,
        QueryErrorKind::UnclosedQuote
    );
    assert!(matches!(
        run("a:".repeat(N / 2)).unwrap_err().kind,
        QueryErrorKind::UnknownField { .. }
    ));
    assert_eq!(run("1:".repeat(N / 2)).unwrap().root, w(&"1:".repeat(N / 2)));
    let many = run("(x) OR ".repeat(N / 7) + "y").unwrap().root;
    assert!(matches!(&many, Query::Or(parts) if parts.len() == N / 7 + 1));
    let many = run("-x ".repeat(N / 3)).unwrap().root;
    assert!(matches!(&many, Query::And(parts) if parts.len() == N / 3));
    assert_eq!(parse(&many.to_string(), &GENEROUS).unwrap().root, many);
    // The default limits refuse all of these up front.
    assert!(matches!(
        p(&"x ".repeat(N)).unwrap_err().kind,
        QueryErrorKind::TooLong { .. }
    ));
}

// ------------------------------------------------------------ semantics

/// A case for the brute-force evaluator: its text is a list of lower-case
/// words.
#[derive(Debug, Clone)]
struct Doc {
    words: Vec<String>,
    number: CaseNumber,
    orders: Vec<OrderId>,
    asins: Vec<Asin>,
    skus: Vec<Sku>,
    status: Status,
    category: Category,
    marketplace: Marketplace,
    created_by: UserId,
    created_at: Timestamp,
    updated_at: Timestamp,
    related: Vec<CaseNumber>,
    attachments: Vec<String>,
}

impl Matchable for Doc {
    fn matches_word(&self, word: &str) -> bool {
        self.words.iter().any(|w| w.eq_ignore_ascii_case(word))
    }
    fn matches_phrase(&self, phrase: &str) -> bool {
        let wanted: Vec<&str> = phrase.split(' ').collect();
        self.words
            .windows(wanted.len())
            .any(|win| win.iter().zip(&wanted).all(|(a, b)| a.eq_ignore_ascii_case(b)))
    }
    fn number(&self) -> &CaseNumber {
        &self.number
    }
    fn orders(&self) -> &[OrderId] {
        &self.orders
    }
    fn asins(&self) -> &[Asin] {
        &self.asins
    }
    fn skus(&self) -> &[Sku] {
        &self.skus
    }
    fn status(&self) -> Status {
        self.status
    }
    fn category(&self) -> Category {
        self.category
    }
    fn marketplace(&self) -> &Marketplace {
        &self.marketplace
    }
    fn created_by(&self) -> &UserId {
        &self.created_by
    }
    fn created_at(&self) -> Timestamp {
        self.created_at
    }
    fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
    fn related_cases(&self) -> &[CaseNumber] {
        &self.related
    }
    fn attachment_names(&self) -> &[String] {
        &self.attachments
    }
}

fn sample_doc() -> Doc {
    Doc {
        words: ["my", "refund", "is", "delayed", "账户"].map(String::from).to_vec(),
        number: CaseNumber::parse("17281736451").unwrap(),
        orders: vec![OrderId::parse("112-1234567-1234567").unwrap()],
        asins: vec![Asin::parse("B08XYZ1234").unwrap()],
        skus: vec![Sku::parse("MUG-RED-01").unwrap()],
        status: Status::NeedsAttention,
        category: Category::Payments,
        marketplace: Marketplace::parse("DE").unwrap(),
        created_by: UserId::parse("ops@example.com").unwrap(),
        created_at: Timestamp::parse_rfc3339("2026-01-31T23:59:59.999Z").unwrap(),
        updated_at: Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap(),
        related: vec![CaseNumber::parse_imported("CS-2019-0042").unwrap()],
        attachments: vec!["Invoice_2026-01.pdf".into(), "发票 照片.JPG".into()],
    }
}

#[test]
fn evaluator_field_semantics() {
    let doc = sample_doc();
    let yes = [
        "refund delayed",
        "REFUND",
        "\"refund is delayed\"",
        "账户",
        "-spam",
        "refund -spam",
        "spam OR refund",
        "number:17281736451",
        "order:112-1234567-1234567",
        "asin:b08xyz1234",
        "sku:mug-red-01",
        "status:needs_attention",
        "category:payments",
        "marketplace:de",
        "by:ops@example.com",
        "created:2026-01-31",
        "created:2026-01-01..2026-01-31",
        "created:<2026-02-01",
        "updated:>=2026-03-01",
        "updated:2026-03-01..",
        "case:CS-2019-0042",
        "attachment:invoice",
        "attachment:PDF",
        "attachment:2026",
        "attachment:invoice_2026-01.pdf",
        "attachment:\"发票 照片.jpg\"",
        "attachment:发票",
        "has:attachment",
        "has:ATTACHMENT",
        "*",
        "",
    ];
    let no = [
        "refund spam",
        "\"delayed refund\"",
        "-refund",
        "number:1728173645",
        "order:112-1234567-1234568",
        "sku:MUG-RED",
        "status:open",
        "by:OPS@example.com",
        "created:2026-02-01..",
        "created:<2026-01-31",
        "updated:<2026-03-01",
        "case:17281736451",
        "case:cs-2019-0042",
        "attachment:voice",
        "attachment:invoice_2026",
        "-has:attachment",
        "-*",
    ];
    for text in yes {
        assert!(p(text).unwrap().root.matches(&doc), "{text:?} should match");
    }
    for text in no {
        assert!(!p(text).unwrap().root.matches(&doc), "{text:?} should not match");
    }
    let bare = Doc {
        attachments: vec![],
        related: vec![],
        ..doc
    };
    for text in ["has:attachment", "attachment:invoice", "case:CS-2019-0042"] {
        assert!(
            !p(text).unwrap().root.matches(&bare),
            "{text:?} should not match a case without them"
        );
    }
    for (text, field) in [
        ("has:photos", FieldName::Has),
        ("attachment:\" \"", FieldName::Attachment),
        ("case:a/b", FieldName::Case),
    ] {
        assert!(
            matches!(p(text).unwrap_err().kind, QueryErrorKind::InvalidValue { field: f, .. } if f == field),
            "{text:?}"
        );
    }
}

// ------------------------------------------------------------ properties

fn arbitrary_text() -> impl Strategy<Value = String> {
    let soup = prop::collection::vec(
        prop::sample::select(vec![
            "a",
            "OR",
            "or",
            "-",
            "--",
            "(",
            ")",
            "\"",
            "\\",
            ":",
            "*",
            "..",
            ">=",
            "<",
            "status:",
            "open",
            "tenant:",
            "created:",
            "2026-01-01",
            "2026-13-40",
            "by:",
            "sku:",
            "number:",
            "10:30",
            "账户",
            "é",
            " ",
            " ",
            " ",
            "\u{3000}",
            "\t",
            "\n",
        ]),
        0..60,
    )
    .prop_map(|parts| parts.concat());
    prop_oneof![
        any::<String>(),
        "[a-z0-9 :\"()\\\\.<>=*_\\-]{0,300}",
        "[\\PC]{0,40}",
        soup,
    ]
}

fn date_bound() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        1 => Just(Timestamp::MIN),
        1 => Just(Timestamp::MAX),
        8 => (Timestamp::MIN.as_millis()..=Timestamp::MAX.as_millis()).prop_map(|ms| Timestamp::from_millis(ms).unwrap()),
    ]
}

fn date_range() -> impl Strategy<Value = DateRange> {
    (date_bound(), date_bound(), 0..4u8).prop_map(|(a, b, kind)| match kind {
        0 => DateRange::day(a),
        1 => DateRange::days(a.min(b), a.max(b)).unwrap(),
        2 => DateRange::since_day(a),
        _ => DateRange::through_day(a),
    })
}

fn field_filter() -> impl Strategy<Value = FieldFilter> {
    prop_oneof![
        "[0-9]{10,11}".prop_map(|s| FieldFilter::Number(CaseNumber::parse(&s).unwrap())),
        "[A-Za-z0-9][A-Za-z0-9_-]{0,31}".prop_map(|s| FieldFilter::Number(CaseNumber::parse_imported(&s).unwrap())),
        "[0-9]{3}-[0-9]{7}-[0-9]{7}".prop_map(|s| FieldFilter::Order(OrderId::parse(&s).unwrap())),
        "[Bb][0-9][0-9A-Za-z]{8}".prop_map(|s| FieldFilter::Asin(Asin::parse(&s).unwrap())),
        "[!-~]{1,40}".prop_map(|s| FieldFilter::Sku(Sku::parse(&s).unwrap())),
        prop::sample::select(Status::ALL).prop_map(FieldFilter::Status),
        prop::sample::select(Category::ALL).prop_map(FieldFilter::Category),
        "[A-Za-z]{2}".prop_map(|s| FieldFilter::Marketplace(Marketplace::parse(&s).unwrap())),
        "[!-~]{1,30}".prop_map(|s| FieldFilter::By(UserId::parse(&s).unwrap())),
        date_range().prop_map(FieldFilter::Created),
        date_range().prop_map(FieldFilter::Updated),
        "[A-Za-z0-9][A-Za-z0-9_-]{0,31}".prop_map(|s| FieldFilter::Case(CaseNumber::parse_imported(&s).unwrap())),
        "[a-z0-9 ._\"账-]{0,12}[a-z0-9]".prop_map(FieldFilter::Attachment),
        prop::sample::select(HasWhat::ALL).prop_map(FieldFilter::Has),
        "[!-~]{1,30}".prop_map(|s| FieldFilter::Assignee(UserId::parse(&s).unwrap())),
    ]
}

/// Words as users type them, including ones that look like syntax.
fn word_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9]{1,8}",
        1 => prop::sample::select(vec!["-", "--x", "-OR", "OR", "or", "10:30", "*", "a-b", "e\\f", ":", "账户"])
            .prop_map(String::from),
        1 => any::<String>(),
        1 => "[a-z \"\\\\():*\\-]{0,10}",
    ]
}

fn leaf() -> impl Strategy<Value = Query> {
    prop_oneof![
        3 => word_text().prop_map(Query::Word),
        1 => "[a-z \"\\\\()]{0,12}".prop_map(Query::Phrase),
        1 => any::<String>().prop_map(Query::Phrase),
        2 => field_filter().prop_map(Query::Field),
        1 => Just(Query::All),
    ]
}

/// Any tree, normalised or not.
fn tree() -> impl Strategy<Value = Query> {
    leaf().prop_recursive(5, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Query::And),
            prop::collection::vec(inner.clone(), 0..5).prop_map(Query::Or),
            inner.prop_map(|q| Query::Not(Box::new(q))),
        ]
    })
}

/// Trees over a tiny vocabulary, so that evaluation often matches.
fn small_tree() -> impl Strategy<Value = Query> {
    let leaf = prop_oneof![
        3 => "[a-d]".prop_map(Query::Word),
        1 => "[a-d]( [a-d]){0,2}".prop_map(Query::Phrase),
        1 => prop::sample::select(&[Status::Open, Status::Closed][..]).prop_map(|s| Query::Field(FieldFilter::Status(s))),
        1 => (0..4i64, 0..4i64).prop_map(|(a, b)| {
            let at = |d: i64| Timestamp::from_millis(d * DAY_MS).unwrap();
            Query::Field(FieldFilter::Created(DateRange::days(at(a.min(b)), at(a.max(b))).unwrap()))
        }),
        1 => "[a-d]".prop_map(|w| Query::Field(FieldFilter::Attachment(w))),
        1 => Just(Query::Field(FieldFilter::Has(HasWhat::Attachment))),
        1 => Just(Query::All),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Query::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Query::Or),
            inner.prop_map(|q| Query::Not(Box::new(q))),
        ]
    })
}

fn small_doc() -> impl Strategy<Value = Doc> {
    (
        prop::collection::vec("[a-d]", 0..6),
        prop::sample::select(&[Status::Open, Status::Closed][..]),
        0..4 * DAY_MS,
        prop::collection::vec("[a-d]{1,2}(\\.[a-d])?", 0..3),
    )
        .prop_map(|(words, status, at, attachments)| Doc {
            words,
            status,
            attachments,
            created_at: Timestamp::from_millis(at).unwrap(),
            ..sample_doc()
        })
}

/// One clause of a query, as builder calls and as typed text.
#[derive(Debug, Clone)]
enum Clause {
    Word(String),
    Phrase(Vec<String>),
    ExcludeWord(String),
    ExcludePhrase(Vec<String>),
    Status(Status),
    NotStatus(Status),
    AnyStatus(Vec<Status>),
    Category(Category),
    Created(String, String),
    UpdatedSince(String),
    Sku(String),
}

fn day_text() -> impl Strategy<Value = String> {
    (1970..2100i32, 1..=12u8, 1..=28u8).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

fn clause() -> impl Strategy<Value = Clause> {
    let word = "[a-z]{1,8}";
    prop_oneof![
        word.prop_map(Clause::Word),
        prop::collection::vec(word, 1..4).prop_map(Clause::Phrase),
        word.prop_map(Clause::ExcludeWord),
        prop::collection::vec(word, 1..4).prop_map(Clause::ExcludePhrase),
        prop::sample::select(Status::ALL).prop_map(Clause::Status),
        prop::sample::select(Status::ALL).prop_map(Clause::NotStatus),
        prop::collection::vec(prop::sample::select(Status::ALL), 1..4).prop_map(Clause::AnyStatus),
        prop::sample::select(Category::ALL).prop_map(Clause::Category),
        (day_text(), day_text()).prop_map(|(a, b)| Clause::Created(a.clone().min(b.clone()), a.max(b))),
        day_text().prop_map(Clause::UpdatedSince),
        "[A-Za-z0-9-]{1,12}".prop_map(Clause::Sku),
    ]
}

impl Clause {
    fn text(&self) -> String {
        match self {
            Clause::Word(w) => w.clone(),
            Clause::Phrase(ws) => format!("\"{}\"", ws.join(" ")),
            Clause::ExcludeWord(w) => format!("-{w}"),
            Clause::ExcludePhrase(ws) => format!("-\"{}\"", ws.join(" ")),
            Clause::Status(s) => format!("status:{s}"),
            Clause::NotStatus(s) => format!("-Status:{}", s.as_str().to_uppercase()),
            Clause::AnyStatus(ss) => format!(
                "({})",
                ss.iter()
                    .map(|s| format!("status:{s}"))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
            Clause::Category(c) => format!("category:{c}"),
            Clause::Created(a, b) => format!("created:{a}..{b}"),
            Clause::UpdatedSince(a) => format!("updated:>={a}"),
            Clause::Sku(s) => format!("sku:\"{s}\""),
        }
    }

    fn add(&self, b: QueryBuilder) -> QueryBuilder {
        match self {
            Clause::Word(w) => b.word(w.as_str()),
            Clause::Phrase(ws) => b.phrase(ws.join(" ")),
            Clause::ExcludeWord(w) => b.exclude_word(w.as_str()),
            Clause::ExcludePhrase(ws) => b.exclude_phrase(ws.join(" ")),
            Clause::Status(s) => b.status(*s),
            Clause::NotStatus(s) => b.exclude(*s),
            Clause::AnyStatus(ss) => b.any_of(ss.iter().map(|s| Query::from(*s))),
            Clause::Category(c) => b.category(*c),
            Clause::Created(a, b2) => b.created(days(a, b2)),
            Clause::UpdatedSince(a) => b.updated(DateRange::since_day(day(a))),
            Clause::Sku(s) => b.sku(Sku::parse(s).unwrap()),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// No text panics; errors point inside the text (or just past it); an
    /// accepted query prints as text that parses back to it.
    #[test]
    fn any_text_parses_or_fails_cleanly(text in arbitrary_text()) {
        let len = text.chars().count();
        for limits in [QueryLimits::default(), GENEROUS] {
            match parse(&text, &limits) {
                Ok(parsed) => {
                    let printed = parsed.root.to_string();
                    let again = parse(&printed, &GENEROUS);
                    prop_assert_eq!(again.map(|a| a.root), Ok(parsed.root.clone()), "printed as {:?}", printed);
                    prop_assert_eq!(parsed.root.clone().normalised(), parsed.root);
                }
                Err(e) => {
                    prop_assert!(e.position <= len, "{} for {} characters", e, len);
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }

    /// Long texts, past the default length limit, with generous limits.
    #[test]
    fn long_text_parses_or_fails_cleanly(
        parts in prop::collection::vec(arbitrary_text(), 0..20),
        sep in prop::sample::select(vec![" ", "", " OR ", "(", ")"]),
    ) {
        let text = parts.join(sep);
        let len = text.chars().count();
        match parse(&text, &GENEROUS) {
            Ok(parsed) => prop_assert_eq!(parse(&parsed.root.to_string(), &GENEROUS).map(|a| a.root), Ok(parsed.root)),
            Err(e) => prop_assert!(e.position <= len),
        }
        if let Err(e) = parse(&text, &QueryLimits::default()) {
            prop_assert!(e.position <= len);
        }
    }

    /// Canonical printing round-trips every tree to its normal form.
    #[test]
    fn printed_trees_parse_back(q in tree()) {
        let normal = q.clone().normalised();
        prop_assert_eq!(normal.clone().normalised(), normal.clone(), "normalising is idempotent");
        let printed = q.to_string();
        prop_assert_eq!(normal.to_string(), printed.clone());
        let parsed = parse(&printed, &GENEROUS);
        prop_assert_eq!(parsed.map(|p| p.root), Ok(normal), "printed as {:?}", printed);
    }

    /// Normalising and printing never change which cases match.
    #[test]
    fn evaluation_survives_normalising_and_printing(q in small_tree(), doc in small_doc()) {
        let expected = q.matches(&doc);
        prop_assert_eq!(q.clone().normalised().matches(&doc), expected);
        let reparsed = parse(&q.to_string(), &GENEROUS).unwrap().root;
        prop_assert_eq!(reparsed.matches(&doc), expected);
    }

    /// The builder and the parser agree on the same query.
    #[test]
    fn builder_agrees_with_parser(clauses in prop::collection::vec(clause(), 0..8)) {
        let text = clauses.iter().map(Clause::text).collect::<Vec<_>>().join(" ");
        let built = clauses.iter().fold(QueryBuilder::new(), |b, c| c.add(b)).build();
        prop_assert_eq!(parse(&text, &GENEROUS).map(|p| p.root), Ok(built.clone()), "text {:?}", text);
        prop_assert_eq!(parse(&built.to_string(), &GENEROUS).map(|p| p.root), Ok(built));
    }

    /// Past the term limit: TooManyTerms at the first term over it.
    #[test]
    fn term_limit(n in 0..80usize, max in 0..40usize, negate in any::<bool>()) {
        let term = if negate { "-ab" } else { "ab" };
        let text = vec![term; n].join(" ");
        let limits = QueryLimits { max_terms: max, ..GENEROUS };
        match parse(&text, &limits) {
            Ok(_) => prop_assert!(n <= max),
            Err(e) => {
                prop_assert!(n > max);
                prop_assert_eq!(e.kind, QueryErrorKind::TooManyTerms { count: n, max });
                let offset = usize::from(negate);
                prop_assert_eq!(e.position, max * (term.len() + 1) + offset);
            }
        }
    }

    /// Past the nesting limit: TooDeep at the first `(` over it.
    #[test]
    fn depth_limit(depth in 0..20usize, max in 0..12usize, negate in any::<bool>()) {
        let open = if negate { "-(" } else { "(" };
        let text = format!("{}a{}", open.repeat(depth), ")".repeat(depth));
        let limits = QueryLimits { max_depth: max, ..GENEROUS };
        match parse(&text, &limits) {
            Ok(parsed) => {
                prop_assert!(depth <= max);
                let mut want = w("a");
                if negate {
                    for _ in 0..depth {
                        want = not(want);
                    }
                }
                prop_assert_eq!(parsed.root, want);
            }
            Err(e) => {
                prop_assert!(depth > max);
                prop_assert_eq!(e.kind, QueryErrorKind::TooDeep { max });
                prop_assert_eq!(e.position, max * open.len() + open.len() - 1);
            }
        }
    }

    /// Past the length limit (in characters): TooLong at the first
    /// character over it.
    #[test]
    fn length_limit(len in 0..3000usize, max in 0..2000usize, wide in any::<bool>()) {
        let text = if wide { "账".repeat(len) } else { "a".repeat(len) };
        let limits = QueryLimits { max_chars: max, ..GENEROUS };
        match parse(&text, &limits) {
            Ok(_) => prop_assert!(len <= max),
            Err(e) => {
                prop_assert!(len > max);
                prop_assert_eq!(e.kind, QueryErrorKind::TooLong { len, max });
                prop_assert_eq!(e.position, max);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// `attachment:` finds an attachment by its whole name or by any run of
    /// letters and digits in it, ignoring case, and by nothing else: the
    /// keys are checked against a character-by-character split.
    #[test]
    fn attachment_keys_are_the_whole_name_and_its_words(name in "[A-Za-z0-9 ._账户-]{1,16}", probe in "[a-zA-Z0-9._-]{1,6}") {
        let lower = name.trim().to_lowercase();
        let mut words = Vec::new();
        let mut current = String::new();
        for c in lower.chars() {
            if c.is_alphanumeric() { current.push(c) } else if !current.is_empty() { words.push(std::mem::take(&mut current)) }
        }
        if !current.is_empty() { words.push(current) }
        let doc = Doc { attachments: vec![name.clone()], ..sample_doc() };
        let expected = !lower.is_empty() && (probe.to_lowercase() == lower || words.contains(&probe.to_lowercase()));
        let q = p(&format!("attachment:\"{probe}\"")).unwrap().root;
        prop_assert_eq!(q.matches(&doc), expected, "{:?} in {:?}", probe, name);
        for w in &words {
            let text = format!("attachment:\"{w}\"");
            prop_assert!(p(&text).unwrap().root.matches(&doc));
        }
    }
}
