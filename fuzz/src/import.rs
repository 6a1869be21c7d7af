//! One line of the JSON Lines interchange format.

use arbitrary::{Result, Unstructured};
use caselog_core::{Category, EventKind, Status};
use caselog_store::interchange::{parse_line, to_line, InterchangeError};
use serde_json::{Map, Value};

/// Reads one line and checks:
///
/// * `parse_line` never panics; an error renders, and every error but
///   `Json`/`NotAnObject` names a field; a top-level `Missing` field is
///   really absent or null, a top-level `WrongType` field really has the
///   type it reports;
/// * an accepted line written back with `to_line` is one line, reads back
///   to an equal case and thread, and writes the same bytes again.
///
/// Inputs starting with `{`, `[`, white space or a quote are taken as the
/// line itself (lossy UTF-8), so seed lines mutate as text. Any other
/// input drives a generator that builds a line from the format's fields,
/// with valid, borderline and wrong values, so the fuzzer reaches accepted
/// lines and every field's validation quickly.
pub fn import_line(data: &[u8]) {
    let line = match data.first() {
        Some(b'{' | b'[' | b'"' | b' ' | b'\t') | None => String::from_utf8_lossy(data).into_owned(),
        Some(_) => match build_line(&mut Unstructured::new(data)) {
            Ok(v) => v.to_string(),
            Err(_) => return,
        },
    };
    check_line(&line);
}

fn check_line(line: &str) {
    let parsed = match parse_line(line) {
        Ok(p) => p,
        Err(e) => return check_error(line, &e),
    };
    let out = to_line(&parsed.case, &parsed.thread);
    assert!(!out.contains(['\n', '\r']), "to_line wrote more than one line: {out:?}");
    let again = match parse_line(&out) {
        Ok(a) => a,
        Err(e) => panic!("exported line does not import: {e}\nline: {out}\nfrom: {line}"),
    };
    assert_eq!(
        again, parsed,
        "export → import changed the case\nline: {out}\nfrom: {line}"
    );
    assert_eq!(to_line(&again.case, &again.thread), out, "export is not stable");
}

fn check_error(line: &str, e: &InterchangeError) {
    assert!(!e.to_string().is_empty());
    match e {
        InterchangeError::Json { .. } | InterchangeError::NotAnObject { .. } => {
            assert!(e.field().is_none());
            return;
        }
        InterchangeError::ByteOrderMark => {
            assert!(e.field().is_none());
            assert!(line.starts_with('\u{FEFF}'), "a byte-order mark reported for {line:?}");
            return;
        }
        _ => {}
    }
    let field = e.field().unwrap_or_default();
    assert!(!field.is_empty(), "error without a field: {e:?}");
    if field.contains(['.', '[']) {
        return;
    }
    // Only top-level fields are looked up here; nested paths are trusted.
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
        panic!("a field error for a line that is not an object: {e:?}");
    };
    match e {
        InterchangeError::Missing { .. } => {
            assert!(
                matches!(obj.get(field), None | Some(Value::Null)),
                "{field} reported missing but present"
            );
        }
        InterchangeError::WrongType { found, .. } => {
            let v = obj.get(field);
            assert!(v.is_some(), "{field} reported of a wrong type but absent");
            let actual = match v {
                Some(Value::Null) | None => "null",
                Some(Value::Bool(_)) => "a boolean",
                Some(Value::Number(_)) => "a number",
                Some(Value::String(_)) => "a string",
                Some(Value::Array(_)) => "an array",
                Some(Value::Object(_)) => "an object",
            };
            assert_eq!(*found, actual, "{field}: reported type differs");
        }
        _ => assert!(obj.contains_key(field), "{field} reported invalid but absent: {e:?}"),
    }
}

const TENANTS: &[&str] = &["seller-0042", "s", "a.b_c-d@e+f", " seller-1 ", "", "a b", "*", "x/y"];
const NUMBERS: &[&str] = &[
    "17281736451",
    "A-1",
    "z_9",
    " 42 ",
    "",
    "-x",
    "a b",
    "123456789012345678901234567890123",
];
const TITLES: &[&str] = &[
    "Refund delayed",
    "  padded title  ",
    "",
    " ",
    "tab\there",
    "账户被停用",
    "NUL\u{0}",
    "ümlaut",
];
const USERS: &[&str] = &["ops@example.com", "agent-7", "", "two words", "用户"];
const MARKETS: &[&str] = &["US", "DE", "jp", "USA", "U", "", "1A"];
const LANGS: &[&str] = &["en", "zh-CN", "de-DE", "", "x", "en_US", "toolongtaglanguage"];
const TIMES: &[&str] = &[
    "2026-01-16T08:30:00Z",
    "2026-01-16T08:30:00.123456+05:30",
    "2026-01-17T10:00:00.5Z",
    "2026-02-01T00:00:00-08:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:30:00-01:00",
    "2026-13-01T00:00:00Z",
    "2026-01-16",
    "",
];
const BODIES: &[&str] = &[
    "I am unable to remove a suppressed ASIN.",
    "",
    "line\nbreak\r\n\ttab",
    "bell\u{7}",
    "长消息",
];
const ORDERS: &[&str] = &["112-1234567-1234567", "１１２-1234567-1234567", "112-123", ""];
const ASINS: &[&str] = &["B08XYZ1234", "b08xyz1234", "B08", "Ｂ08XYZ1234"];
const SKUS: &[&str] = &["MUG-RED-01", "mug red", "", "sku\u{1}"];
const AUTHORS: &[&str] = &["seller", "support", "system", "bot", ""];
const CONTENT_TYPES: &[&str] = &[
    "application/pdf",
    "image/jpeg",
    "image/jpg",
    "video/mp4",
    "video/quicktime",
    "text/plain; charset=utf-8",
    "application/x-msdownload",
    "",
];
const NAMES: &[&str] = &["invoice.pdf", "a/b.pdf", "c\\d.png", "", "photo.jpg"];
const HASHES: &[&str] = &[
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    "+3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "abc",
];

/// A string: usually one of `pool`, sometimes arbitrary text.
fn text(u: &mut Unstructured<'_>, pool: &[&str]) -> Result<Value> {
    Ok(if u.ratio(1, 8)? {
        Value::String(u.arbitrary::<String>()?)
    } else {
        Value::String((*u.choose(pool)?).to_owned())
    })
}

/// A value of any JSON type, mostly of the expected one.
fn value(u: &mut Unstructured<'_>, pool: &[&str]) -> Result<Option<Value>> {
    Ok(match u.int_in_range(0u8..=19)? {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(Value::Bool(u.arbitrary()?)),
        3 => Some(number(u)?),
        4 => Some(Value::Array(vec![text(u, pool)?])),
        5 => Some(Value::Object(Map::new())),
        _ => Some(text(u, pool)?),
    })
}

fn number(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => Value::from(u.arbitrary::<u64>()?),
        1 => Value::from(u.arbitrary::<i64>()?),
        2 => serde_json::Number::from_f64(u.arbitrary::<f64>()?).map_or(Value::Null, Value::Number),
        _ => Value::from(u.int_in_range(0u64..=200_000_000)?),
    })
}

fn put(obj: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        obj.insert(key.to_owned(), v);
    }
}

fn ident_pool<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
    let mut out: Vec<String> = all.iter().map(ToString::to_string).collect();
    out.push("bogus".into());
    out.push("OPEN".into());
    out
}

fn list(u: &mut Unstructured<'_>, pool: &[&str]) -> Result<Value> {
    let n = u.int_in_range(0usize..=3)?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(if u.ratio(1, 16)? { number(u)? } else { text(u, pool)? });
    }
    Ok(Value::Array(items))
}

/// Builds a line object from the fuzzer's bytes.
fn build_line(u: &mut Unstructured<'_>) -> Result<Value> {
    let categories = ident_pool(Category::ALL);
    let statuses = ident_pool(Status::ALL);
    let events = ident_pool(EventKind::ALL);
    let categories: Vec<&str> = categories.iter().map(String::as_str).collect();
    let statuses: Vec<&str> = statuses.iter().map(String::as_str).collect();
    let events: Vec<&str> = events.iter().map(String::as_str).collect();

    let mut o = Map::new();
    put(&mut o, "tenant", value(u, TENANTS)?);
    put(&mut o, "number", value(u, NUMBERS)?);
    put(&mut o, "title", value(u, TITLES)?);
    put(&mut o, "category", value(u, &categories)?);
    put(&mut o, "status", value(u, &statuses)?);
    put(&mut o, "created_by", value(u, USERS)?);
    put(&mut o, "created_at", value(u, TIMES)?);
    put(&mut o, "marketplace", value(u, MARKETS)?);
    put(&mut o, "language", value(u, LANGS)?);
    if u.ratio(3, 4)? {
        let mut refs = Map::new();
        for (key, pool) in [("orders", ORDERS), ("asins", ASINS), ("skus", SKUS), ("cases", NUMBERS)] {
            if u.arbitrary()? {
                refs.insert(key.to_owned(), list(u, pool)?);
            }
        }
        o.insert("refs".into(), Value::Object(refs));
    }
    for key in [
        "updated_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "reply_deadline",
        "clock_paused_since",
    ] {
        if u.ratio(1, 3)? {
            put(&mut o, key, value(u, TIMES)?);
        }
    }
    if u.ratio(1, 4)? {
        put(&mut o, "merged_into", value(u, NUMBERS)?);
    }
    if u.ratio(1, 4)? {
        o.insert("clock_paused_ms".into(), number(u)?);
    }
    if u.ratio(1, 4)? {
        put(&mut o, "assignee", value(u, USERS)?);
    }
    if u.ratio(1, 4)? {
        o.insert("complex".into(), Value::Bool(u.arbitrary()?));
    }
    if u.ratio(1, 4)? {
        let mut links = Map::new();
        put(&mut links, "duplicate_of", value(u, NUMBERS)?);
        put(&mut links, "follow_up_of", value(u, NUMBERS)?);
        if u.arbitrary()? {
            links.insert("follow_ups".into(), list(u, NUMBERS)?);
        }
        o.insert("links".into(), Value::Object(links));
    }
    if u.ratio(15, 16)? {
        let n = u.int_in_range(0usize..=4)?;
        let mut messages = Vec::with_capacity(n);
        for _ in 0..n {
            messages.push(build_message(u, &statuses, &events)?);
        }
        o.insert("messages".into(), Value::Array(messages));
    } else {
        put(&mut o, "messages", value(u, BODIES)?);
    }
    if u.ratio(1, 16)? {
        o.insert("unknown_field".into(), number(u)?);
    }
    Ok(Value::Object(o))
}

fn build_message(u: &mut Unstructured<'_>, statuses: &[&str], events: &[&str]) -> Result<Value> {
    let mut m = Map::new();
    put(&mut m, "author", value(u, AUTHORS)?);
    put(&mut m, "author_id", value(u, USERS)?);
    put(&mut m, "at", value(u, TIMES)?);
    put(&mut m, "body", value(u, BODIES)?);
    if u.ratio(1, 3)? {
        let n = u.int_in_range(0usize..=2)?;
        let mut atts = Vec::with_capacity(n);
        for _ in 0..n {
            let mut a = Map::new();
            put(&mut a, "name", value(u, NAMES)?);
            put(&mut a, "content_type", value(u, CONTENT_TYPES)?);
            let size = match u.int_in_range(0u8..=9)? {
                0 => value(u, &["1024", "-1", "1e3"])?,
                _ => Some(number(u)?),
            };
            put(&mut a, "size", size);
            put(&mut a, "sha256", value(u, HASHES)?);
            atts.push(Value::Object(a));
        }
        m.insert("attachments".into(), Value::Array(atts));
    }
    if u.ratio(1, 2)? {
        let mut c = Map::new();
        put(&mut c, "event", value(u, events)?);
        if u.arbitrary()? {
            put(&mut c, "from", value(u, statuses)?);
        }
        put(&mut c, "to", value(u, statuses)?);
        if u.arbitrary()? {
            put(&mut c, "deadline", value(u, TIMES)?);
        }
        if u.arbitrary()? {
            put(&mut c, "target", value(u, NUMBERS)?);
        }
        m.insert("change".into(), Value::Object(c));
    }
    Ok(Value::Object(m))
}
