//! Every parser in caselog-core, fed arbitrary and near-valid strings: none
//! panics; each either succeeds or returns a `ValidationError` with a short,
//! non-empty message; every accepted value is well-formed and round-trips
//! through its text form.

use std::fmt::Debug;

use caselog_core::*;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1000,
        ..ProptestConfig::default()
    }
}

const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_799_999;

/// An error message is never empty and never carries the whole input: the
/// offending value is cut to a short excerpt.
fn check_error(e: &ValidationError) -> Result<(), TestCaseError> {
    let text = e.to_string();
    prop_assert!(!text.is_empty());
    prop_assert!(
        text.chars().count() < 1024,
        "error message too long: {} chars",
        text.chars().count()
    );
    Ok(())
}

/// Full-width forms of ASCII, as CJK input methods produce them.
fn fullwidth(s: &str, mask: &[bool]) -> String {
    s.chars()
        .zip(mask.iter().chain(std::iter::repeat(&true)))
        .map(|(c, &wide)| match c {
            '!'..='~' if wide => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Undoes `fullwidth` (the test's own folding, to check the parsers').
fn narrow(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Arbitrary text, plus text near `pattern` (a regex), plus that text
/// padded with white space or partly in full-width forms.
fn text_near(pattern: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        1 => "\\PC{0,80}",
        4 => pattern,
        1 => (pattern, "[ \t\u{3000}]{0,2}", "[ \t\n\u{3000}]{0,2}").prop_map(|(s, a, b)| format!("{a}{s}{b}")),
        1 => (pattern, prop::collection::vec(any::<bool>(), 0..40)).prop_map(|(s, m)| fullwidth(&s, &m)),
    ]
}

/// Characters no identifier, name or SKU may hold: control characters and
/// the explicit bidirectional embeddings, overrides and isolates.
fn refused_in_names(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+')
}

/// Checks a validated-string parser: never panics, errors are short, an
/// accepted value satisfies `shape` and parses back to itself from its
/// `Display` text.
fn check_parser<T: Debug + PartialEq + std::fmt::Display>(
    input: &str,
    parse: fn(&str) -> Result<T, ValidationError>,
    shape: impl Fn(&str) -> bool,
) -> Result<Option<T>, TestCaseError> {
    match parse(input) {
        Ok(v) => {
            let text = v.to_string();
            prop_assert!(shape(&text), "{:?} accepted as {:?}", input, text);
            let again = parse(&text);
            prop_assert_eq!(again.as_ref(), Ok(&v), "round trip of {:?}", text);
            Ok(Some(v))
        }
        Err(e) => {
            check_error(&e)?;
            Ok(None)
        }
    }
}

/// Checks an identifier enum's parser against its own list of identifiers:
/// accepted exactly when the trimmed input is one of them, ignoring ASCII case.
fn check_ident<T: Copy + Debug + PartialEq + std::fmt::Display>(
    input: &str,
    parse: fn(&str) -> Result<T, ValidationError>,
    all: &[T],
) -> Result<(), TestCaseError> {
    let expected = all
        .iter()
        .copied()
        .find(|v| input.trim().eq_ignore_ascii_case(&v.to_string()));
    match (parse(input), expected) {
        (Ok(v), Some(x)) => {
            prop_assert_eq!(v, x);
            prop_assert_eq!(parse(&v.to_string()), Ok(v));
        }
        (Err(e), None) => {
            prop_assert!(matches!(e, ValidationError::Unknown { .. }), "{:?}", e);
            check_error(&e)?;
        }
        (got, want) => prop_assert!(false, "{:?}: got {:?}, expected {:?}", input, got, want),
    }
    Ok(())
}

fn identifier_text() -> impl Strategy<Value = String> {
    let idents: Vec<String> = Category::ALL
        .iter()
        .map(|v| v.to_string())
        .chain(Status::ALL.iter().map(|v| v.to_string()))
        .chain(Role::ALL.iter().map(|v| v.to_string()))
        .chain(EventKind::ALL.iter().map(|v| v.to_string()))
        .chain(PriorityClass::ALL.iter().map(|v| v.to_string()))
        .chain(PerformanceTier::ALL.iter().map(|v| v.to_string()))
        .chain(AttachmentKind::ALL.iter().map(|v| v.to_string()))
        .collect();
    prop_oneof![
        any::<String>(),
        "[a-z_/.-]{0,20}",
        (prop::sample::select(idents.clone()), any::<bool>(), "[ \t]{0,2}").prop_map(|(s, upper, pad)| {
            let s = if upper { s.to_ascii_uppercase() } else { s };
            format!("{pad}{s}{pad}")
        }),
        // One character off.
        (prop::sample::select(idents), any::<prop::sample::Index>(), "[a-z_ ]").prop_map(|(s, i, c)| {
            let mut chars: Vec<char> = s.chars().collect();
            let at = i.index(chars.len());
            chars[at] = c.chars().next().unwrap_or('x');
            chars.into_iter().collect()
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tenant_ids(input in text_near("[A-Za-z0-9._@+ -]{0,70}")) {
        if let Some(t) = check_parser(&input, TenantId::parse, |s| {
            (1..=64).contains(&s.chars().count()) && s.chars().all(is_name_char)
        })? {
            prop_assert_eq!(t.as_str(), input.trim());
        }
    }

    #[test]
    fn user_ids(input in text_near("[ -~]{0,140}")) {
        if let Some(u) = check_parser(&input, UserId::parse, |s| {
            (1..=128).contains(&s.chars().count()) && !s.chars().any(|c| c.is_whitespace() || refused_in_names(c))
        })? {
            prop_assert_eq!(u.as_str(), input.trim());
        }
    }

    /// `parse` takes 10 or 11 ASCII digits; `parse_imported` takes any short
    /// run of letters, digits, `-` and `_` starting with a letter or digit,
    /// so everything `parse` takes, it takes too.
    #[test]
    fn case_numbers(input in text_near("[0-9]{8,12}|[A-Za-z0-9_-]{0,34}")) {
        let strict = check_parser(&input, CaseNumber::parse, |s| {
            (10..=11).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        })?;
        let imported = check_parser(&input, CaseNumber::parse_imported, |s| {
            (1..=32).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        })?;
        let t = input.trim();
        let want_strict = (10..=11).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(strict.is_some(), want_strict, "{:?}", input);
        if let Some(n) = strict {
            prop_assert_eq!(imported.as_ref(), Some(&n));
            prop_assert!(CaseNumber::is_default_format(n.as_str()));
            prop_assert_eq!(BareReference::recognise(&input), Some(BareReference::CaseNumber(n)));
        }
    }

    #[test]
    fn marketplaces(input in text_near("[A-Za-z]{1,3}")) {
        let got = check_parser(&input, Marketplace::parse, |s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()))?;
        let t = input.trim();
        let want = t.len() == 2 && t.bytes().all(|b| b.is_ascii_alphabetic());
        prop_assert_eq!(got.is_some(), want, "{:?}", input);
        if let Some(m) = got {
            prop_assert_eq!(m.as_str(), t.to_ascii_uppercase());
        }
    }

    #[test]
    fn language_tags(input in text_near("[A-Za-z0-9]{0,9}(-[A-Za-z0-9]{0,9}){0,4}")) {
        check_parser(&input, LanguageTag::parse, |s| {
            s.len() <= 35 && s.split('-').all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        })?;
    }

    /// Order ids: three groups of 3, 7 and 7 digits, full-width forms folded.
    #[test]
    fn order_ids(input in text_near("[0-9]{2,4}-[0-9]{6,8}-[0-9]{6,8}|[0-9-]{17,21}")) {
        let shape = |s: &str| {
            let parts: Vec<&str> = s.split('-').collect();
            parts.len() == 3
                && parts.iter().zip([3, 7, 7]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()))
        };
        let got = check_parser(&input, OrderId::parse, shape)?;
        let folded = narrow(input.trim());
        prop_assert_eq!(got.is_some(), shape(&folded), "{:?}", input);
        if let Some(o) = got {
            prop_assert_eq!(o.as_str(), folded);
        }
    }

    /// ASINs: `B` + 9 letters/digits with at least one digit, or an ISBN-10;
    /// upper-cased, full-width forms folded.
    #[test]
    fn asins(input in text_near("[Bb][0-9A-Za-z]{8,10}|[0-9]{9}[0-9Xx]|[A-Za-z]{10}")) {
        let shape = |s: &str| {
            let b = s.as_bytes();
            let alnum = b.len() == 10 && b.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
            let b_asin = alnum && b[0] == b'B' && b[1..].iter().any(u8::is_ascii_digit);
            let isbn = alnum && b[..9].iter().all(u8::is_ascii_digit) && (b[9].is_ascii_digit() || b[9] == b'X');
            b_asin || isbn
        };
        let got = check_parser(&input, Asin::parse, shape)?;
        let folded = narrow(input.trim()).to_ascii_uppercase();
        prop_assert_eq!(got.is_some(), shape(&folded), "{:?}", input);
        if let Some(a) = got {
            prop_assert_eq!(a.as_str(), folded);
        }
    }

    #[test]
    fn skus(input in text_near("[ -~]{0,45}")) {
        if let Some(s) = check_parser(&input, Sku::parse, |s| {
            (1..=40).contains(&s.chars().count()) && !s.chars().any(|c| c.is_whitespace() || refused_in_names(c))
        })? {
            prop_assert_eq!(s.as_str(), narrow(input.trim()));
        }
    }

    /// A bare token is recognised as at most one kind of reference, and only
    /// when that kind's own parser accepts it.
    #[test]
    fn bare_references(input in text_near("[0-9]{10,11}|[0-9]{3}-[0-9]{7}-[0-9]{7}|B[0-9A-Z]{9}|[0-9]{9}X")) {
        match BareReference::recognise(&input) {
            Some(BareReference::CaseNumber(n)) => prop_assert_eq!(CaseNumber::parse(&input), Ok(n)),
            Some(BareReference::Order(o)) => prop_assert_eq!(OrderId::parse(&input), Ok(o)),
            Some(BareReference::Asin(a)) => prop_assert_eq!(Asin::parse(&input), Ok(a)),
            None => {
                prop_assert!(CaseNumber::parse(&input).is_err());
                prop_assert!(OrderId::parse(&input).is_err());
                prop_assert!(Asin::parse(&input).is_err());
            }
        }
    }

    /// Every identifier enum accepts exactly its identifiers (trimmed, any
    /// ASCII case) and refuses everything else as `Unknown`.
    #[test]
    fn identifier_enums(input in identifier_text()) {
        check_ident(&input, Category::parse, Category::ALL)?;
        check_ident(&input, Status::parse, Status::ALL)?;
        check_ident(&input, Role::parse, Role::ALL)?;
        check_ident(&input, EventKind::parse, EventKind::ALL)?;
        check_ident(&input, PriorityClass::parse, PriorityClass::ALL)?;
        check_ident(&input, PerformanceTier::parse, PerformanceTier::ALL)?;
        check_ident(&input, AttachmentKind::parse, AttachmentKind::ALL)?;
    }

    /// SHA-256 in hex: exactly 64 hexadecimal digits (either case), after
    /// trimming; nothing else (no signs, no spaces inside).
    #[test]
    fn content_hashes(input in text_near("[0-9a-fA-F]{62,66}|[0-9a-fA-F+ -]{64}|(\\+[0-9a-f]){32}")) {
        let t = input.trim();
        let want = t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit());
        match ContentHash::parse_hex(&input) {
            Ok(h) => {
                prop_assert!(want, "{:?} accepted as {}", input, h);
                prop_assert_eq!(h.to_hex(), t.to_ascii_lowercase());
                prop_assert_eq!(ContentHash::parse_hex(&h.to_string()), Ok(h));
            }
            Err(e) => {
                prop_assert!(!want, "{:?} refused: {}", input, e);
                prop_assert!(matches!(e, ValidationError::Malformed { .. }), "{:?}", e);
                check_error(&e)?;
            }
        }
    }

    #[test]
    fn content_hash_round_trip(bytes in any::<[u8; 32]>()) {
        let h = ContentHash(bytes);
        prop_assert_eq!(h.to_hex().len(), 64);
        prop_assert_eq!(ContentHash::parse_hex(&h.to_hex()), Ok(h));
        prop_assert_eq!(ContentHash::parse_hex(&h.to_hex().to_ascii_uppercase()), Ok(h));
    }
}

// ---------------------------------------------------------------------------
// Attachments
// ---------------------------------------------------------------------------

/// Content types that name an accepted kind, with the kind, written from
/// SPEC.md's list (PDF, JPEG, PNG, GIF, plain text, CSV, XLSX/DOCX, MP4/MOV)
/// and common aliases.
const ACCEPTED_TYPES: &[(&str, AttachmentKind)] = &[
    ("application/pdf", AttachmentKind::Pdf),
    ("image/jpeg", AttachmentKind::Jpeg),
    ("image/jpg", AttachmentKind::Jpeg),
    ("image/pjpeg", AttachmentKind::Jpeg),
    ("image/png", AttachmentKind::Png),
    ("image/gif", AttachmentKind::Gif),
    ("text/plain", AttachmentKind::Text),
    ("text/csv", AttachmentKind::Csv),
    ("application/csv", AttachmentKind::Csv),
    ("text/comma-separated-values", AttachmentKind::Csv),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        AttachmentKind::Xlsx,
    ),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        AttachmentKind::Docx,
    ),
    ("video/mp4", AttachmentKind::Mp4),
    ("video/quicktime", AttachmentKind::Mov),
    ("video/mov", AttachmentKind::Mov),
];

fn content_type_strategy() -> impl Strategy<Value = String> {
    let accepted: Vec<&'static str> = ACCEPTED_TYPES.iter().map(|(t, _)| *t).collect();
    prop_oneof![
        3 => (prop::sample::select(accepted), any::<bool>(), prop::option::of("; ?charset=[a-z0-9-]{1,8}"))
            .prop_map(|(t, upper, params)| {
                let t = if upper { t.to_ascii_uppercase() } else { t.to_owned() };
                format!("{t}{}", params.unwrap_or_default())
            }),
        1 => prop::sample::select(vec![
            "application/zip", "application/x-msdownload", "text/html", "image/svg+xml", "video/x-msvideo",
            "application/octet-stream", "", ";", "application/pdf-x", "image/", "pdf",
        ]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn size_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0..=200 * MIB,
        prop::sample::select(vec![
            0,
            10 * MIB - 1,
            10 * MIB,
            10 * MIB + 1,
            100 * MIB,
            100 * MIB + 1,
            u64::MAX
        ]),
    ]
}

/// The kind the test expects for a content type: parameters after `;` and
/// surrounding spaces ignored, ASCII case ignored.
fn expected_kind(content_type: &str) -> Option<AttachmentKind> {
    let base = content_type.split(';').next().unwrap_or("").trim();
    ACCEPTED_TYPES
        .iter()
        .find(|(t, _)| base.eq_ignore_ascii_case(t))
        .map(|(_, k)| *k)
}

#[derive(Debug, PartialEq, Eq)]
enum AttachmentOutcome {
    Ok(AttachmentKind),
    Empty,
    TooLong,
    Malformed,
    TypeRefused,
    TooLarge,
}

fn outcome(r: &Result<AttachmentMeta, ValidationError>) -> AttachmentOutcome {
    match r {
        Ok(m) => AttachmentOutcome::Ok(m.kind),
        Err(ValidationError::Empty { .. }) => AttachmentOutcome::Empty,
        Err(ValidationError::TooLong { .. }) => AttachmentOutcome::TooLong,
        Err(ValidationError::Malformed { .. }) => AttachmentOutcome::Malformed,
        Err(ValidationError::AttachmentTypeRefused { .. }) => AttachmentOutcome::TypeRefused,
        Err(ValidationError::AttachmentTooLarge { .. }) => AttachmentOutcome::TooLarge,
        Err(other) => panic!("unexpected attachment error {other:?}"),
    }
}

proptest! {
    #![proptest_config(config())]

    /// `AttachmentMeta::new` with random names, content types and sizes: the
    /// outcome is what the rules say (name, then type, then size), with
    /// 10 MiB for documents and images and 100 MiB for video by default.
    #[test]
    fn attachment_metadata(
        name in prop_oneof![
            3 => "[A-Za-z0-9 _.-]{1,20}\\.(pdf|png|mp4|csv)",
            1 => any::<String>(),
            1 => "[a-z/\\\\.]{0,8}",
            // "invoice\u{202E}fdp.exe" reads as invoice-exe.pdf.
            1 => "[a-z]{0,6}[\u{200E}\u{200F}\u{202A}-\u{202E}\u{2066}-\u{2069}][a-z.]{0,8}",
            1 => "[ ]{0,3}",
            1 => "[a-z]{250,260}",
        ],
        content_type in content_type_strategy(),
        size in size_strategy(),
        hash in any::<[u8; 32]>(),
        custom in any::<bool>(),
        limits in (0..=20 * MIB, 0..=200 * MIB),
    ) {
        let policy = if custom {
            AttachmentPolicy { document_limit: limits.0, video_limit: limits.1 }
        } else {
            AttachmentPolicy::default()
        };
        let got = AttachmentMeta::new(&name, &content_type, size, ContentHash(hash), &policy);
        let want = if name.trim().is_empty() {
            AttachmentOutcome::Empty
        } else if name.chars().count() > 255 {
            AttachmentOutcome::TooLong
        } else if name.chars().any(|c| refused_in_names(c) || c == '/' || c == '\\') {
            AttachmentOutcome::Malformed
        } else {
            match expected_kind(&content_type) {
                None => AttachmentOutcome::TypeRefused,
                Some(kind) => {
                    let video = matches!(kind, AttachmentKind::Mp4 | AttachmentKind::Mov);
                    let limit = if video { policy.video_limit } else { policy.document_limit };
                    if size > limit { AttachmentOutcome::TooLarge } else { AttachmentOutcome::Ok(kind) }
                }
            }
        };
        prop_assert_eq!(outcome(&got), want, "{:?} {:?} {}", name, content_type, size);
        match got {
            Ok(meta) => {
                prop_assert_eq!(&meta.name, &name);
                prop_assert_eq!(meta.size, size);
                prop_assert_eq!(meta.sha256, ContentHash(hash));
                prop_assert_eq!(meta.content_type(), meta.kind.as_str());
                prop_assert_eq!(AttachmentKind::from_content_type(meta.content_type()), Some(meta.kind));
            }
            Err(e) => check_error(&e)?,
        }
    }
}

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

fn any_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => MIN_MS..=MAX_MS,
        1 => prop::sample::select(vec![MIN_MS, MAX_MS, 0, -1, 1, MIN_MS + 1, MAX_MS - 1]),
        1 => (MIN_MS / 1000..=MAX_MS / 1000).prop_map(|s| s * 1000),
    ]
}

fn rfc3339_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,15})?([Zz]|[+-][0-9]{2}:[0-9]{2})",
        "(0000|0001|9999|1970|2026)-(01|02|12|13|00)-(01|28|29|30|31|32)T(00|23|24):(00|59|60):(00|59|60|61)(\\.[0-9]{0,12})?(Z|[+-](00|14|23|24):(00|59|60))",
        "[0-9T:.Z+-]{0,40}",
    ]
}

proptest! {
    #![proptest_config(config())]

    /// `from_millis` accepts exactly years 0001 to 9999.
    #[test]
    fn from_millis_range(ms in prop_oneof![any::<i64>(), any_ms(), Just(MIN_MS - 1), Just(MAX_MS + 1), Just(i64::MIN), Just(i64::MAX)]) {
        match Timestamp::from_millis(ms) {
            Ok(t) => {
                prop_assert!((MIN_MS..=MAX_MS).contains(&ms));
                prop_assert_eq!(t.as_millis(), ms);
                prop_assert_eq!(i64::from(t), ms);
            }
            Err(e) => {
                prop_assert!(!(MIN_MS..=MAX_MS).contains(&ms));
                prop_assert!(matches!(e, ValidationError::OutOfRange { .. }), "{:?}", e);
            }
        }
    }

    /// RFC 3339 round trip over the whole range; extra sub-millisecond
    /// digits are cut off; an explicit `+00:00` offset is the same instant.
    #[test]
    fn rfc3339_round_trip(ms in any_ms(), extra in "[0-9]{0,6}") {
        let t = Timestamp::from_millis(ms).unwrap();
        let text = t.to_rfc3339();
        prop_assert_eq!(Timestamp::parse_rfc3339(&text), Ok(t), "{}", text);
        prop_assert_eq!(text.len(), if ms.rem_euclid(1000) == 0 { 20 } else { 24 });
        prop_assert!(text.ends_with('Z'));
        prop_assert_eq!(t.to_string(), text.clone());
        let base = text.trim_end_matches('Z');
        let with_extra = if base.contains('.') {
            format!("{base}{extra}Z")
        } else {
            format!("{base}.000{extra}Z")
        };
        prop_assert_eq!(Timestamp::parse_rfc3339(&with_extra), Ok(t), "{}", with_extra);
        prop_assert_eq!(Timestamp::parse_rfc3339(&format!("{base}+00:00")), Ok(t));
        prop_assert_eq!(Timestamp::parse_rfc3339(&format!("  {text}\n")), Ok(t));
    }

    /// Other offsets are converted to UTC.
    #[test]
    fn rfc3339_offsets(ms in (MIN_MS + 2 * DAY_MS..=MAX_MS - 2 * DAY_MS).prop_map(|m| m - m.rem_euclid(1000)),
                       hours in 0i64..=23, minutes in 0i64..=59, east in any::<bool>()) {
        let offset = (hours * 60 + minutes) * 60_000;
        let local = Timestamp::from_millis(if east { ms + offset } else { ms - offset }).unwrap();
        let text = format!("{}{}{:02}:{:02}", local.to_rfc3339().trim_end_matches('Z'), if east { '+' } else { '-' }, hours, minutes);
        prop_assert_eq!(Timestamp::parse_rfc3339(&text), Ok(Timestamp::from_millis(ms).unwrap()), "{}", text);
    }

    /// Arbitrary and near-valid strings: no panic; whatever parses is in
    /// range and prints back to a string that parses to the same instant.
    #[test]
    fn rfc3339_never_panics(input in rfc3339_like()) {
        match Timestamp::parse_rfc3339(&input) {
            Ok(t) => {
                prop_assert!((MIN_MS..=MAX_MS).contains(&t.as_millis()));
                prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Ok(t));
            }
            Err(e) => {
                prop_assert!(matches!(e, ValidationError::Malformed { .. } | ValidationError::OutOfRange { .. }), "{:?}", e);
                check_error(&e)?;
            }
        }
    }

    /// Days: `parse_day` of a timestamp's day gives its first instant.
    #[test]
    fn day_round_trip(ms in any_ms()) {
        let t = Timestamp::from_millis(ms).unwrap();
        let day = t.day_string();
        let start = t.start_of_day();
        prop_assert_eq!(Timestamp::parse_day(&day), Ok(start), "{}", day);
        prop_assert!(start <= t && t.since(start) < Span::days(1));
        prop_assert_eq!(start.as_millis().rem_euclid(DAY_MS), 0);
        prop_assert_eq!(Timestamp::parse_rfc3339(&format!("{day}T00:00:00Z")), Ok(start));
    }

    #[test]
    fn parse_day_never_panics(input in prop_oneof![
        any::<String>(),
        "[+-]?[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}",
        "(0000|0001|9999|2026)-(00|01|02|12|13)-(00|01|29|30|31|32)",
    ]) {
        match Timestamp::parse_day(&input) {
            Ok(t) => {
                prop_assert_eq!(t.as_millis().rem_euclid(DAY_MS), 0);
                prop_assert_eq!(Timestamp::parse_day(&t.day_string()), Ok(t));
                prop_assert_eq!(t.day_string(), input.trim());
            }
            Err(e) => {
                prop_assert!(matches!(e, ValidationError::Malformed { .. } | ValidationError::OutOfRange { .. }), "{:?}", e);
                check_error(&e)?;
            }
        }
    }

    /// Arithmetic saturates at the range instead of overflowing.
    #[test]
    fn timestamp_arithmetic_saturates(ms in any_ms(), span in prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN)]) {
        let t = Timestamp::from_millis(ms).unwrap();
        let up = t.saturating_add(Span(span));
        let down = t.saturating_sub(Span(span));
        prop_assert_eq!(up.as_millis(), (i128::from(ms) + i128::from(span)).clamp(i128::from(MIN_MS), i128::from(MAX_MS)) as i64);
        prop_assert_eq!(down.as_millis(), (i128::from(ms) - i128::from(span)).clamp(i128::from(MIN_MS), i128::from(MAX_MS)) as i64);
        prop_assert_eq!(Span::hours(span).as_millis(), span.saturating_mul(HOUR_MS));
        prop_assert_eq!(Span::days(span).as_millis(), span.saturating_mul(DAY_MS));
    }
}

#[test]
fn references_are_deduplicated_and_limited() {
    let order = |i: usize| OrderId::parse(&format!("112-{i:07}-1234567")).unwrap();
    let refs = References {
        orders: vec![order(1), order(2), order(1), order(3), order(2)],
        ..References::default()
    }
    .normalised()
    .unwrap();
    assert_eq!(refs.orders, vec![order(1), order(2), order(3)]);
    assert!(!refs.is_empty());

    let hundred = References {
        orders: (0..100).chain(0..100).map(order).collect(),
        ..References::default()
    };
    assert_eq!(hundred.normalised().unwrap().orders.len(), 100);
    let too_many = References {
        orders: (0..101).map(order).collect(),
        ..References::default()
    };
    assert!(matches!(
        too_many.normalised(),
        Err(ValidationError::TooMany {
            field: "refs.orders",
            len: 101,
            max: 100
        })
    ));
}

/// Deduplication runs before the limit is checked, on lists of any length
/// from outside (an import line): it must be linear. 200,000 distinct SKUs
/// took minutes with the old quadratic scan; now milliseconds.
#[test]
fn deduplicating_a_huge_reference_list_is_fast() {
    let skus: Vec<Sku> = (0..200_000).map(|i| Sku::parse(&format!("SKU-{i}")).unwrap()).collect();
    let start = std::time::Instant::now();
    let result = References {
        skus,
        ..References::default()
    }
    .normalised();
    assert!(matches!(
        result,
        Err(ValidationError::TooMany {
            field: "refs.skus",
            len: 200_000,
            max: 100
        })
    ));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}
