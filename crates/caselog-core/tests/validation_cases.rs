//! Hand-picked valid and invalid inputs for every parser in caselog-core,
//! with the normalised value or the error variant each must give.

use caselog_core::*;

/// What a parser must do with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    /// Accepted, with this normalised text.
    Accept(String),
    Empty,
    TooLong,
    Malformed,
    Unknown,
    OutOfRange,
    TypeRefused,
    TooLarge,
    TooMany,
}

fn accept(text: impl Into<String>) -> Want {
    Want::Accept(text.into())
}

fn variant(e: &ValidationError) -> Want {
    match e {
        ValidationError::Empty { .. } => Want::Empty,
        ValidationError::TooLong { .. } => Want::TooLong,
        ValidationError::Malformed { .. } => Want::Malformed,
        ValidationError::Unknown { .. } => Want::Unknown,
        ValidationError::OutOfRange { .. } => Want::OutOfRange,
        ValidationError::AttachmentTypeRefused { .. } => Want::TypeRefused,
        ValidationError::AttachmentTooLarge { .. } => Want::TooLarge,
        ValidationError::TooMany { .. } => Want::TooMany,
        other => panic!("unknown ValidationError variant {other:?}"),
    }
}

fn text<T: ToString>(r: Result<T, ValidationError>) -> Result<String, ValidationError> {
    r.map(|v| v.to_string())
}

/// Runs the parser called `parser` and gives its normalised text.
fn run(parser: &str, input: &str) -> Result<String, ValidationError> {
    match parser {
        "tenant" => text(TenantId::parse(input)),
        "user" => text(UserId::parse(input)),
        "case_number" => text(CaseNumber::parse(input)),
        "case_number_imported" => text(CaseNumber::parse_imported(input)),
        "marketplace" => text(Marketplace::parse(input)),
        "language" => text(LanguageTag::parse(input)),
        "order" => text(OrderId::parse(input)),
        "asin" => text(Asin::parse(input)),
        "sku" => text(Sku::parse(input)),
        "title" => validate_title(input),
        "category" => text(Category::parse(input)),
        "status" => text(Status::parse(input)),
        "role" => text(Role::parse(input)),
        "event" => text(EventKind::parse(input)),
        "priority" => text(PriorityClass::parse(input)),
        "tier" => text(PerformanceTier::parse(input)),
        "attachment_kind" => text(AttachmentKind::parse(input)),
        "sha256" => text(ContentHash::parse_hex(input)),
        "time" => text(Timestamp::parse_rfc3339(input)),
        "day" => Timestamp::parse_day(input).map(|t| t.to_rfc3339()),
        "millis" => match input.parse::<i64>() {
            Ok(ms) => text(Timestamp::from_millis(ms)),
            Err(_) => panic!("bad test input {input:?} for millis"),
        },
        other => panic!("no parser {other:?}"),
    }
}

fn check_table(cases: &[(&str, String, Want)]) {
    let mut failures = Vec::new();
    for (parser, input, want) in cases {
        let got = match run(parser, input) {
            Ok(v) => Ok(v),
            Err(e) => {
                let message = e.to_string();
                assert!(
                    !message.is_empty() && message.chars().count() < 1024,
                    "{parser} {input:?}: {message}"
                );
                Err(variant(&e))
            }
        };
        let ok = match (&got, want) {
            (Ok(v), Want::Accept(w)) => v == w,
            (Err(g), w) => g == w,
            _ => false,
        };
        if !ok {
            failures.push(format!("{parser}({input:?}): got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Shorthand: `case("order", "...", Want::..)`.
fn case(parser: &'static str, input: impl Into<String>, want: Want) -> (&'static str, String, Want) {
    (parser, input.into(), want)
}

#[test]
fn identifiers() {
    use Want::*;
    check_table(&[
        case("tenant", "seller-0042", accept("seller-0042")),
        case("tenant", "  seller-0042\t", accept("seller-0042")),
        case("tenant", "ops+eu@example.com", accept("ops+eu@example.com")),
        case("tenant", "", Empty),
        case("tenant", "   ", Empty),
        case("tenant", "a".repeat(64), accept("a".repeat(64))),
        case("tenant", "a".repeat(65), TooLong),
        case("tenant", "seller 42", Malformed),
        case("tenant", "seller/42", Malformed),
        case("tenant", "sell\u{0}er", Malformed),
        case("tenant", "卖家", Malformed),
        case("user", "ops@example.com", accept("ops@example.com")),
        case("user", " agent-7 ", accept("agent-7")),
        case("user", "王伟", accept("王伟")),
        case("user", "", Empty),
        case("user", "ops team", Malformed),
        case("user", "ops\u{a0}team", Malformed),
        case("user", "ops\u{7}", Malformed),
        // Bidirectional overrides make a name read other than it is stored.
        case("user", "ops\u{202E}moc.elpmaxe@", Malformed),
        case("user", "ops\u{2067}x", Malformed),
        case("user", "שלום\u{200F}", accept("שלום\u{200F}")),
        case("user", "u".repeat(128), accept("u".repeat(128))),
        case("user", "u".repeat(129), TooLong),
        case("marketplace", "US", accept("US")),
        case("marketplace", "de", accept("DE")),
        case("marketplace", " jp ", accept("JP")),
        case("marketplace", "USA", Malformed),
        case("marketplace", "U", Malformed),
        case("marketplace", "", Malformed),
        case("marketplace", "U1", Malformed),
        case("marketplace", "ＵＳ", Malformed),
        case("language", "en", accept("en")),
        case("language", "zh-CN", accept("zh-CN")),
        case("language", "zh-Hans-CN", accept("zh-Hans-CN")),
        case("language", "", Empty),
        case("language", "en_US", Malformed),
        case("language", "en--US", Malformed),
        case("language", "-en", Malformed),
        case("language", "abcdefghi", Malformed),
        case("language", "a-".repeat(18), TooLong),
    ]);
}

#[test]
fn case_numbers() {
    use Want::*;
    check_table(&[
        case("case_number", "1728173645", accept("1728173645")),
        case("case_number", "17281736451", accept("17281736451")),
        case("case_number", " 17281736451 ", accept("17281736451")),
        case("case_number", "172817364", Malformed),    // 9 digits
        case("case_number", "172817364512", Malformed), // 12 digits
        case("case_number", "1728173645a", Malformed),
        case("case_number", "", Malformed),
        case("case_number", "１７２８１７３６４５", Malformed), // full-width digits
        case("case_number_imported", "172817364", accept("172817364")), // 9 digits kept
        case("case_number_imported", "17281736451", accept("17281736451")),
        case("case_number_imported", "ZD-2019_00042", accept("ZD-2019_00042")),
        case("case_number_imported", "-42", Malformed),
        case("case_number_imported", "_42", Malformed),
        case("case_number_imported", "A 42", Malformed),
        case("case_number_imported", "案件42", Malformed),
        case("case_number_imported", "", Empty),
        case("case_number_imported", "9".repeat(32), accept("9".repeat(32))),
        case("case_number_imported", "9".repeat(33), TooLong),
    ]);
    assert_eq!(CaseNumber::generated(0).unwrap().as_str(), "10000000000");
    assert_eq!(CaseNumber::generated(89_999_999_999).unwrap().as_str(), "99999999999");
    assert_eq!(CaseNumber::generated(90_000_000_000), None);
    assert_eq!(CaseNumber::generated(u64::MAX), None);
}

#[test]
fn references() {
    use Want::*;
    check_table(&[
        case("order", "112-1234567-1234567", accept("112-1234567-1234567")),
        case("order", " 112-1234567-1234567\n", accept("112-1234567-1234567")),
        case(
            "order",
            "１１２－１２３４５６７－１２３４５６７",
            accept("112-1234567-1234567"),
        ),
        case("order", "112-123456-1234567", Malformed),
        case("order", "112-1234567-12345678", Malformed),
        case("order", "1121234567-1234567", Malformed),
        case("order", "112-1234567-1234567-1", Malformed),
        case("order", "112 1234567 1234567", Malformed),
        case("order", "A12-1234567-1234567", Malformed),
        case("order", "", Malformed),
        case("asin", "B08XYZ1234", accept("B08XYZ1234")),
        case("asin", "b08xyz1234", accept("B08XYZ1234")),
        case("asin", "Ｂ０８ＸＹＺ１２３４", accept("B08XYZ1234")),
        case("asin", "ｂ０８ｘｙｚ１２３４", accept("B08XYZ1234")),
        case("asin", "0306406152", accept("0306406152")), // ISBN-10
        case("asin", "030640615x", accept("030640615X")),
        case("asin", "BBBBBBBBBB", Malformed), // no digit
        case("asin", "B08XYZ123", Malformed),
        case("asin", "B08XYZ12345", Malformed),
        case("asin", "A08XYZ1234", Malformed),
        case("asin", "B08XYZ-234", Malformed),
        case("asin", "", Malformed),
        case("sku", "MUG-RED-01", accept("MUG-RED-01")),
        case("sku", "mug-red-01", accept("mug-red-01")), // kept as written
        case("sku", "ＭＵＧ－ＲＥＤ", accept("MUG-RED")),
        case("sku", "", Empty),
        case("sku", "MUG RED", Malformed),
        case("sku", "s".repeat(40), accept("s".repeat(40))),
        case("sku", "s".repeat(41), TooLong),
        case("sku", "MUG\u{202D}-01", Malformed),
    ]);
}

/// Titles: one line, no control characters and no explicit bidirectional
/// formatting (issue: U+202E passed into titles and reached terminals).
#[test]
fn titles() {
    use Want::*;
    check_table(&[
        case("title", "  Refund delayed  ", accept("Refund delayed")),
        case("title", "我的账户被停用了", accept("我的账户被停用了")),
        case("title", "", Empty),
        case("title", "line\nbreak", Malformed),
        case("title", "invoice \u{202E}fdp.exe", Malformed),
        case("title", "\u{202A}embedded", Malformed),
        case("title", "pop \u{202C}", Malformed),
        case("title", "isolate \u{2066}x\u{2069}", Malformed),
        case("title", "first strong \u{2068}", Malformed),
        // Implicit marks stay: right-to-left text needs them.
        case("title", "שלום\u{200F} order 112", accept("שלום\u{200F} order 112")),
        case("title", "مرحبا\u{061C}", accept("مرحبا\u{061C}")),
        case("title", "t".repeat(500), accept("t".repeat(500))),
        case("title", "t".repeat(501), TooLong),
    ]);
}

#[test]
fn identifier_enums() {
    use Want::*;
    check_table(&[
        case("category", "account_health", accept("account_health")),
        case("category", "FBA_INVENTORY", accept("fba_inventory")),
        case("category", " shipping_returns ", accept("shipping_returns")),
        case("category", "fba inventory", Unknown),
        case("category", "fba-inventory", Unknown),
        case("category", "", Unknown),
        case("status", "needs_attention", accept("needs_attention")),
        case("status", "Merged", accept("merged")),
        case("status", "pending", Unknown),
        case("role", "seller", accept("seller")),
        case("role", "system", accept("system")),
        case("role", "agent", Unknown),
        case("event", "merge", accept("merge")),
        case("event", "deadline_expired", accept("deadline_expired")),
        case("event", "merge_into", Unknown),
        case("priority", "critical", accept("critical")),
        case("priority", "urgent", Unknown),
        case("tier", "high", accept("high")),
        case("tier", "premium", Unknown),
        case("attachment_kind", "application/pdf", accept("application/pdf")),
        case("attachment_kind", "VIDEO/QUICKTIME", accept("video/quicktime")),
        case("attachment_kind", "image/jpg", Unknown), // an alias, only for from_content_type
    ]);
    for c in Category::ALL {
        assert_eq!(Category::parse(c.as_str()), Ok(*c));
    }
}

#[test]
fn hashes_and_times() {
    use Want::*;
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    check_table(&[
        case("sha256", hex, accept(hex)),
        case("sha256", hex.to_ascii_uppercase(), accept(hex)),
        case("sha256", format!(" {hex} "), accept(hex)),
        case("sha256", &hex[..63], Malformed),
        case("sha256", format!("{hex}0"), Malformed),
        case("sha256", format!("{}g", &hex[..63]), Malformed),
        case("sha256", "+f".repeat(32), Malformed),
        case("sha256", format!("{} {}", &hex[..31], &hex[32..]), Malformed),
        case("sha256", "é".repeat(32), Malformed),
        case("sha256", "", Malformed),
        case("time", "2026-01-16T08:30:00Z", accept("2026-01-16T08:30:00Z")),
        case("time", "2026-01-16T08:30:00.250Z", accept("2026-01-16T08:30:00.250Z")),
        case("time", "2026-01-16T08:30:00.2509Z", accept("2026-01-16T08:30:00.250Z")),
        case("time", "2026-01-16T09:30:00+01:00", accept("2026-01-16T08:30:00Z")),
        case("time", "2026-01-16T00:30:00-08:00", accept("2026-01-16T08:30:00Z")),
        case("time", " 2026-01-16T08:30:00Z ", accept("2026-01-16T08:30:00Z")),
        case("time", "0001-01-01T00:00:00Z", accept("0001-01-01T00:00:00Z")),
        case("time", "9999-12-31T23:59:59.999Z", accept("9999-12-31T23:59:59.999Z")),
        case("time", "0000-12-31T23:59:59Z", OutOfRange),
        case("time", "9999-12-31T23:59:59-01:00", OutOfRange),
        case("time", "2026-01-16", Malformed),
        case("time", "2026-01-16T08:30:00", Malformed), // no offset
        case("time", "2026-02-30T08:30:00Z", Malformed),
        case("time", "2026-01-16T24:00:00Z", Malformed),
        case("time", "16/01/2026 08:30", Malformed),
        case("time", "", Malformed),
        case("day", "2026-01-31", accept("2026-01-31T00:00:00Z")),
        case("day", " 2026-01-31 ", accept("2026-01-31T00:00:00Z")),
        case("day", "0001-01-01", accept("0001-01-01T00:00:00Z")),
        case("day", "9999-12-31", accept("9999-12-31T00:00:00Z")),
        case("day", "0000-01-01", OutOfRange),
        case("day", "2026-02-29", Malformed),
        case("day", "2026-13-01", Malformed),
        case("day", "2026-1-31", Malformed),
        case("day", "2026-01-31T00:00:00Z", Malformed),
        case("day", "", Malformed),
        case("millis", "0", accept("1970-01-01T00:00:00Z")),
        case("millis", "-1", accept("1969-12-31T23:59:59.999Z")),
        case("millis", "-62135596800000", accept("0001-01-01T00:00:00Z")),
        case("millis", "-62135596800001", OutOfRange),
        case("millis", "253402300799999", accept("9999-12-31T23:59:59.999Z")),
        case("millis", "253402300800000", OutOfRange),
    ]);
}

// ---------------------------------------------------------------------------
// Attachments
// ---------------------------------------------------------------------------

#[test]
fn attachments() {
    use Want::*;
    let policy = AttachmentPolicy::default();
    let hash = ContentHash([7; 32]);
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, u64, Want)> = vec![
        // name             content type                     size                 expected
        ("invoice.pdf",     "application/pdf",               48_213,              accept("application/pdf")),
        ("invoice.pdf",     "application/pdf",               10 * MIB,            accept("application/pdf")),
        ("invoice.pdf",     "application/pdf",               10 * MIB + 1,        TooLarge),
        ("empty.pdf",       "application/pdf",               0,                   accept("application/pdf")),
        ("photo.jpg",       "image/jpeg",                    10 * MIB + 1,        TooLarge),
        ("photo.jpg",       "image/jpg",                     1_000,               accept("image/jpeg")),
        ("photo.JPG",       "IMAGE/JPEG",                    1_000,               accept("image/jpeg")),
        ("scan.png",        "image/png",                     5 * MIB,             accept("image/png")),
        ("anim.gif",        "image/gif",                     5 * MIB,             accept("image/gif")),
        ("notes.txt",       "text/plain; charset=utf-8",     12,                  accept("text/plain")),
        ("report.csv",      "text/csv",                      12,                  accept("text/csv")),
        ("report.csv",      "application/csv",               12,                  accept("text/csv")),
        ("stock.xlsx",      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 9 * MIB, accept("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
        ("letter.docx",     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 11 * MIB, TooLarge),
        ("unboxing.mp4",    "video/mp4",                     100 * MIB,           accept("video/mp4")),
        ("unboxing.mp4",    "video/mp4",                     100 * MIB + 1,       TooLarge),
        ("unboxing.mp4",    "video/mp4",                     u64::MAX,            TooLarge),
        ("damage.mov",      "video/quicktime",               50 * MIB,            accept("video/quicktime")),
        ("damage.mov",      "video/mov",                     50 * MIB,            accept("video/quicktime")),
        ("archive.zip",     "application/zip",               1_000,               TypeRefused),
        ("setup.exe",       "application/x-msdownload",      1_000,               TypeRefused),
        ("page.html",       "text/html",                     1_000,               TypeRefused),
        ("logo.svg",        "image/svg+xml",                 1_000,               TypeRefused),
        ("clip.avi",        "video/x-msvideo",               1_000,               TypeRefused),
        ("blob",            "application/octet-stream",      1_000,               TypeRefused),
        ("blob",            "",                              1_000,               TypeRefused),
        ("huge.zip",        "application/zip",               u64::MAX,            TypeRefused),
        ("",                "application/pdf",               1_000,               Empty),
        ("   ",             "application/pdf",               1_000,               Empty),
        ("../etc/passwd",   "text/plain",                    1_000,               Malformed),
        ("C:\\x\\a.pdf",    "application/pdf",               1_000,               Malformed),
        ("a\nb.pdf",        "application/pdf",               1_000,               Malformed),
        ("发票 2026.pdf",    "application/pdf",               1_000,               accept("application/pdf")),
    ];
    let mut failures = Vec::new();
    for (name, content_type, size, want) in &cases {
        let got = AttachmentMeta::new(name, content_type, *size, hash, &policy);
        let ok = match (&got, want) {
            (Ok(meta), Want::Accept(w)) => {
                meta.content_type() == w.as_str() && meta.name == *name && meta.size == *size && meta.sha256 == hash
            }
            (Err(e), w) => variant(e) == *w,
            _ => false,
        };
        if !ok {
            failures.push(format!("{name:?} {content_type:?} {size}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // The errors say what is wrong and what would be right.
    let too_large = AttachmentMeta::new("invoice.pdf", "application/pdf", 10 * MIB + 1, hash, &policy).unwrap_err();
    assert_eq!(
        too_large,
        ValidationError::AttachmentTooLarge {
            name: "invoice.pdf".into(),
            content_type: "application/pdf",
            size: 10 * MIB + 1,
            limit: 10 * MIB,
        }
    );
    let refused = AttachmentMeta::new("archive.zip", "application/zip", 1, hash, &policy).unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("application/zip") && message.contains("PDF"),
        "{message}"
    );
    // A long name is cut in the message.
    let long = format!("{}.exe", "x".repeat(200));
    let refused = AttachmentMeta::new(&long, "application/x-msdownload", 1, hash, &policy).unwrap_err();
    assert!(refused.to_string().len() < 300, "{refused}");
}

#[test]
fn queue_key_decoding() {
    let key = QueueKey {
        class: PriorityClass::High,
        due: Timestamp::parse_rfc3339("2026-01-02T00:00:00Z").unwrap(),
        submitted: Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap(),
        case: CaseId(42),
    };
    let bytes = key.encode();
    assert_eq!(QueueKey::decode(&bytes), Ok(key));
    assert!(matches!(
        QueueKey::decode(&bytes[..24]),
        Err(ValidationError::Malformed { .. })
    ));
    assert!(matches!(QueueKey::decode(&[]), Err(ValidationError::Malformed { .. })));
    let mut bad_class = bytes;
    bad_class[0] = 4;
    assert!(matches!(
        QueueKey::decode(&bad_class),
        Err(ValidationError::Malformed { .. })
    ));
    let mut bad_time = bytes;
    bad_time[1..9].copy_from_slice(&[0xff; 8]);
    assert!(matches!(
        QueueKey::decode(&bad_time),
        Err(ValidationError::OutOfRange { .. })
    ));
}

#[test]
fn queue_policy_validation() {
    assert_eq!(QueuePolicy::default().validate(), Ok(()));
    let zero_target = QueuePolicy {
        complex_target: Span::ZERO,
        ..QueuePolicy::default()
    };
    assert!(matches!(
        zero_target.validate(),
        Err(ValidationError::OutOfRange { .. })
    ));
    for tiers in [[100, 85, 0], [100, 101, 70], [85, 100, 70], [101, 85, 70]] {
        let policy = QueuePolicy {
            tier_percent: tiers,
            ..QueuePolicy::default()
        };
        assert!(
            matches!(policy.validate(), Err(ValidationError::OutOfRange { .. })),
            "{tiers:?} accepted"
        );
    }
}
