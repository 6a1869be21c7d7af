//! The JSON Lines interchange format of SPEC.md, and consistent snapshots
//! of a store to export from or copy.
//!
//! # The format
//!
//! One archived case per line, a JSON object. Import and export use the
//! same format: [`to_line`] writes a line, [`parse_line`] reads one back,
//! and export → import → export gives the same bytes.
//!
//! The fields of SPEC.md's example:
//!
//! | field | type | notes |
//! |---|---|---|
//! | `tenant` | string | required |
//! | `number` | string | required; the archive's own number (letters, digits, `-`, `_`) |
//! | `title` | string | required |
//! | `category` | string | required; a category identifier |
//! | `status` | string | required; a lifecycle status identifier |
//! | `created_by` | string | required |
//! | `created_at` | RFC 3339 | required |
//! | `marketplace` | string | required; two letters |
//! | `language` | string | required; a language tag |
//! | `refs` | object | optional; `orders`, `asins`, `skus`, `cases`: lists of strings |
//! | `messages` | array | required, at least one (the first is the description) |
//!
//! Each message: `author` (`seller`, `support` or `system`), `author_id`
//! (required for seller and support, ignored for system), `at`, `body`, and
//! optional `attachments` (`name`, `content_type`, `size`, `sha256`). An
//! attachment without `sha256` (or with `null`) is kept as metadata without
//! content ([`ContentHash::ABSENT`]) and exported without it; a `sha256`
//! that is given must be 64 hexadecimal digits.
//!
//! Fields beyond SPEC.md's example, which [`to_line`] writes so that a
//! re-imported case equals the exported one (SPEC.md says unknown fields are
//! ignored, so readers of the minimal format are not disturbed):
//!
//! | field | type | when absent |
//! |---|---|---|
//! | `updated_at` | RFC 3339 | the latest of `created_at` and every message's `at` |
//! | `first_response_at` | RFC 3339 or null | the first support message's `at` |
//! | `resolved_at` | RFC 3339 or null | if `resolved`: the last change to resolved, else `updated_at` |
//! | `closed_at` | RFC 3339 or null | if `closed`/`merged`: the last change to it, else `updated_at` |
//! | `reply_deadline` | RFC 3339 or null | if `needs_attention`: the last request's deadline, else `updated_at` + 7 days |
//! | `merged_into` | string or null | if `merged`: the last merge's target |
//! | `clock_paused_since` | RFC 3339 or null | if `needs_attention`/`resolved`: when it entered that status, else `updated_at` |
//! | `clock_paused_ms` | integer | 0 (first-response clock time paused before `clock_paused_since`) |
//! | `assignee` | string | none |
//! | `handler` | string | none (the user of the tenant the case is handed to) |
//! | `complex` | boolean | false |
//! | `links` | object | none: `duplicate_of`, `follow_up_of` (strings), `follow_ups` (list) |
//!
//! and on a message, `change` records the status change the entry made:
//! `{"event":…,"from":…,"to":…,"deadline":…,"target":…}`, with `event` an
//! event identifier (`create`, `reply`, `pick_up`, `request_info`, `resolve`,
//! `close`, `merge`, `auto_close`, `deadline_expired`, `transfer`, `assign`,
//! `release`, `set_complex`), `from` absent for creation, `deadline` only
//! for `request_info`, `target` only for `merge`, `category` and (if it
//! changed) `marketplace` only for `transfer`, `assignee` only for `assign`
//! and `complex` only for `set_complex`.
//!
//! The "when absent" column matters only for lines in SPEC.md's minimal
//! form: [`to_line`] always writes the lifecycle times, as `null` when a
//! case has none, so an exported case is read back exactly and never
//! through these defaults.
//!
//! Not carried by the format: the store's internal id, the tenant's
//! performance tier (the importing store applies its own) and attachment
//! bytes (only their metadata). A whole-store copy that keeps everything is
//! [`crate::Snapshot::copy_to`]; an export reads a [`crate::Snapshot`].

use caselog_core::{
    validate_body, validate_title, Actor, Asin, AttachmentMeta, AttachmentPolicy, CaseEvent, CaseId, CaseNumber,
    CaseState, Category, ContentHash, EventKind, LanguageTag, Marketplace, OrderId, PerformanceTier, References, Role,
    Sku, Span, Status, TenantId, Timestamp, UserId, ValidationError,
};
use serde::Serialize;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::model::{Case, CaseLinks, ImportCase, StatusChange, ThreadEntry};

/// Most messages one line may carry (the store's limit on a thread).
pub const MAX_MESSAGES: usize = crate::write::MAX_THREAD_ENTRIES as usize;

/// How long after entering `needs_attention` a reply is due when a line in
/// the minimal format gives no deadline (neither `reply_deadline` nor a
/// `request_info` change): 7 days.
pub const DEFAULT_REPLY_WINDOW: Span = Span::days(7);

/// Why a line is not a valid archived case. Every variant but
/// [`InterchangeError::Json`] names the field, as a path such as
/// `messages[2].attachments[0].size`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InterchangeError {
    /// The line is not JSON.
    #[error("not valid JSON: {detail}")]
    Json {
        /// serde_json's message, with the column.
        detail: String,
    },
    /// The line is JSON but not an object.
    #[error("expected a JSON object, found {found}")]
    NotAnObject {
        /// What was found.
        found: &'static str,
    },
    /// A required field is absent or null.
    #[error("{field} is missing")]
    Missing {
        /// The field's path.
        field: String,
    },
    /// A field has the wrong JSON type.
    #[error("{field}: expected {expected}, found {found}")]
    WrongType {
        /// The field's path.
        field: String,
        /// The expected type.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A field's value failed validation.
    #[error("{field}: {error}")]
    Invalid {
        /// The field's path.
        field: String,
        /// Why.
        error: ValidationError,
    },
    /// A field contradicts another or is out of range.
    #[error("{field}: {reason}")]
    Inconsistent {
        /// The field's path.
        field: String,
        /// Why.
        reason: String,
    },
    /// The line starts with a byte-order mark, which belongs only at the
    /// very start of a file (where [`strip_bom`] removes it).
    #[error("the line starts with a byte-order mark (U+FEFF), which is allowed only at the start of the file")]
    ByteOrderMark,
}

impl InterchangeError {
    /// The path of the offending field, if the error concerns one.
    pub fn field(&self) -> Option<&str> {
        match self {
            InterchangeError::Json { .. } | InterchangeError::NotAnObject { .. } | InterchangeError::ByteOrderMark => {
                None
            }
            InterchangeError::Missing { field }
            | InterchangeError::WrongType { field, .. }
            | InterchangeError::Invalid { field, .. }
            | InterchangeError::Inconsistent { field, .. } => Some(field),
        }
    }
}

type Parsed<T> = std::result::Result<T, InterchangeError>;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A field that may be absent, explicitly null, or given.
enum Presence<T> {
    Absent,
    Null,
    Given(T),
}

impl<T> Presence<T> {
    fn map<U>(self, f: impl FnOnce(T) -> Parsed<U>) -> Parsed<Presence<U>> {
        Ok(match self {
            Presence::Absent => Presence::Absent,
            Presence::Null => Presence::Null,
            Presence::Given(v) => Presence::Given(f(v)?),
        })
    }

    /// The explicit value (`null` is `None`), or `default()` when absent.
    fn or_infer(self, default: impl FnOnce() -> Option<T>) -> Option<T> {
        match self {
            Presence::Absent => default(),
            Presence::Null => None,
            Presence::Given(v) => Some(v),
        }
    }
}

/// The fields of one JSON object, with the path used in errors.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    fn new(obj: &'a Map<String, Value>, path: String) -> Self {
        Fields { obj, path }
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn wrong(&self, key: &str, expected: &'static str, v: &Value) -> InterchangeError {
        InterchangeError::WrongType {
            field: self.name(key),
            expected,
            found: type_name(v),
        }
    }

    fn invalid(&self, key: &str) -> impl FnOnce(ValidationError) -> InterchangeError + '_ {
        let field = self.name(key);
        move |error| InterchangeError::Invalid { field, error }
    }

    fn str_presence(&self, key: &str) -> Parsed<Presence<&'a str>> {
        match self.obj.get(key) {
            None => Ok(Presence::Absent),
            Some(Value::Null) => Ok(Presence::Null),
            Some(Value::String(s)) => Ok(Presence::Given(s.as_str())),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    fn opt_str(&self, key: &str) -> Parsed<Option<&'a str>> {
        Ok(match self.str_presence(key)? {
            Presence::Given(s) => Some(s),
            Presence::Absent | Presence::Null => None,
        })
    }

    fn req_str(&self, key: &str) -> Parsed<&'a str> {
        self.opt_str(key)?
            .ok_or_else(|| InterchangeError::Missing { field: self.name(key) })
    }

    /// A required string parsed by one of core's validators.
    fn req<T>(&self, key: &str, parse: impl FnOnce(&str) -> std::result::Result<T, ValidationError>) -> Parsed<T> {
        parse(self.req_str(key)?).map_err(self.invalid(key))
    }

    fn opt<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> std::result::Result<T, ValidationError>,
    ) -> Parsed<Option<T>> {
        self.opt_str(key)?
            .map(|s| parse(s).map_err(self.invalid(key)))
            .transpose()
    }

    fn presence<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> std::result::Result<T, ValidationError>,
    ) -> Parsed<Presence<T>> {
        self.str_presence(key)?.map(|s| parse(s).map_err(self.invalid(key)))
    }

    fn opt_array(&self, key: &str) -> Parsed<&'a [Value]> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a.as_slice()),
            Some(v) => Err(self.wrong(key, "an array", v)),
        }
    }

    fn opt_object(&self, key: &str) -> Parsed<Option<Fields<'a>>> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(Fields::new(o, self.name(key)))),
            Some(v) => Err(self.wrong(key, "an object", v)),
        }
    }

    fn opt_bool(&self, key: &str) -> Parsed<Option<bool>> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong(key, "true or false", v)),
        }
    }

    fn opt_i64(&self, key: &str) -> Parsed<Option<i64>> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| self.wrong(key, "an integer", v)),
            Some(v) => Err(self.wrong(key, "an integer", v)),
        }
    }

    fn req_u64(&self, key: &str) -> Parsed<u64> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Err(InterchangeError::Missing { field: self.name(key) }),
            Some(v @ Value::Number(n)) => n.as_u64().ok_or_else(|| self.wrong(key, "a non-negative integer", v)),
            Some(v) => Err(self.wrong(key, "a non-negative integer", v)),
        }
    }

    /// A list of strings, each parsed by `parse`.
    fn str_list<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> std::result::Result<T, ValidationError>,
    ) -> Parsed<Vec<T>> {
        let items = self.opt_array(key)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.iter().enumerate() {
            let field = format!("{}[{i}]", self.name(key));
            let Value::String(s) = v else {
                return Err(InterchangeError::WrongType {
                    field,
                    expected: "a string",
                    found: type_name(v),
                });
            };
            out.push(parse(s).map_err(|error| InterchangeError::Invalid { field, error })?);
        }
        Ok(out)
    }

    /// Each element of an array, which must be an object.
    fn objects(&self, key: &str, items: &'a [Value]) -> Parsed<Vec<Fields<'a>>> {
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let field = format!("{}[{i}]", self.name(key));
                match v {
                    Value::Object(o) => Ok(Fields::new(o, field)),
                    other => Err(InterchangeError::WrongType {
                        field,
                        expected: "an object",
                        found: type_name(other),
                    }),
                }
            })
            .collect()
    }
}

/// The UTF-8 byte-order mark some editors (and Excel) put at the start of
/// a text file.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The first line of a file without its UTF-8 byte-order mark, if it has
/// one: SPEC.md says a BOM at the start of a file is ignored. Only the
/// first line may carry one; [`parse_line`] refuses a line that starts
/// with a BOM ([`InterchangeError::ByteOrderMark`]).
pub fn strip_bom(first_line: &[u8]) -> &[u8] {
    first_line.strip_prefix(UTF8_BOM).unwrap_or(first_line)
}

/// What is wrong with a file whose first bytes are a UTF-16 or UTF-32
/// byte-order mark (text in an encoding other than UTF-8), if they are.
pub fn foreign_bom(first_bytes: &[u8]) -> Option<&'static str> {
    // UTF-32 LE starts like UTF-16 LE, so it is tested first.
    if first_bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || first_bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        Some("the file starts with a UTF-32 byte-order mark; the interchange format is UTF-8 (convert the file, e.g. with iconv -f UTF-32 -t UTF-8)")
    } else if first_bytes.starts_with(&[0xFF, 0xFE]) || first_bytes.starts_with(&[0xFE, 0xFF]) {
        Some("the file starts with a UTF-16 byte-order mark; the interchange format is UTF-8 (convert the file, e.g. with iconv -f UTF-16 -t UTF-8)")
    } else {
        None
    }
}

/// Parses one line with the default attachment policy. See
/// [`parse_line_with`].
pub fn parse_line(line: &str) -> std::result::Result<ImportCase, InterchangeError> {
    parse_line_with(line, &AttachmentPolicy::default())
}

/// Parses one line of the interchange format into a case to import,
/// validating every value through caselog-core's parsers and attachments
/// against `policy`. Unknown fields are ignored.
///
/// ```
/// use caselog_store::interchange::{parse_line, to_line};
///
/// let line = r#"{"tenant":"seller-0042","number":"17281736451","title":"ASIN B08XYZ1234 suppressed",
///   "category":"listing","status":"in_progress","created_by":"ops@example.com",
///   "created_at":"2026-01-16T08:30:00Z","marketplace":"US","language":"en",
///   "refs":{"asins":["B08XYZ1234"]},
///   "messages":[{"author":"seller","author_id":"ops@example.com","at":"2026-01-16T08:30:00Z",
///     "body":"I am unable to remove a suppressed ASIN."}]}"#;
/// let case = parse_line(&line.replace('\n', ""))?;
/// assert_eq!(case.case.number.as_str(), "17281736451");
/// assert_eq!(case.thread.len(), 1);
///
/// let err = parse_line(r#"{"tenant":"seller-0042","number":"1"}"#).unwrap_err();
/// assert_eq!(err.to_string(), "title is missing");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_line_with(line: &str, policy: &AttachmentPolicy) -> std::result::Result<ImportCase, InterchangeError> {
    // serde_json would say only "expected value at line 1 column 1".
    if line.starts_with('\u{FEFF}') {
        return Err(InterchangeError::ByteOrderMark);
    }
    let value: Value = serde_json::from_str(line).map_err(|e| InterchangeError::Json { detail: e.to_string() })?;
    let Value::Object(obj) = &value else {
        return Err(InterchangeError::NotAnObject {
            found: type_name(&value),
        });
    };
    let f = Fields::new(obj, String::new());

    let tenant = f.req("tenant", TenantId::parse)?;
    let number = f.req("number", CaseNumber::parse_imported)?;
    let title = f.req("title", validate_title)?;
    let category = f.req("category", Category::parse)?;
    let status = f.req("status", Status::parse)?;
    let created_by = f.req("created_by", UserId::parse)?;
    let created_at = f.req("created_at", Timestamp::parse_rfc3339)?;
    let marketplace = f.req("marketplace", Marketplace::parse)?;
    let language = f.req("language", LanguageTag::parse)?;
    let refs = match f.opt_object("refs")? {
        None => References::default(),
        Some(r) => References {
            orders: r.str_list("orders", OrderId::parse)?,
            asins: r.str_list("asins", Asin::parse)?,
            skus: r.str_list("skus", Sku::parse)?,
            cases: r.str_list("cases", CaseNumber::parse_imported)?,
        }
        .normalised()
        .map_err(f.invalid("refs"))?,
    };

    let messages = match f.obj.get("messages") {
        None | Some(Value::Null) => {
            return Err(InterchangeError::Missing {
                field: "messages".into(),
            })
        }
        Some(Value::Array(a)) => a.as_slice(),
        Some(v) => return Err(f.wrong("messages", "an array", v)),
    };
    if messages.is_empty() {
        return Err(InterchangeError::Inconsistent {
            field: "messages".into(),
            reason: "is empty: a case needs at least its description".into(),
        });
    }
    if messages.len() > MAX_MESSAGES {
        return Err(InterchangeError::Invalid {
            field: "messages".into(),
            error: ValidationError::TooMany {
                field: "messages",
                len: messages.len(),
                max: MAX_MESSAGES,
            },
        });
    }
    let thread = f
        .objects("messages", messages)?
        .iter()
        .map(|m| parse_message(m, policy))
        .collect::<Parsed<Vec<ThreadEntry>>>()?;

    let updated_at = f
        .opt("updated_at", Timestamp::parse_rfc3339)?
        .unwrap_or_else(|| thread.iter().map(|e| e.at).fold(created_at, Timestamp::max));
    let last_change_to = |to: Status| {
        thread
            .iter()
            .rev()
            .find(|e| e.change.as_ref().is_some_and(|c| c.to == to))
    };
    let first_response_at = f
        .presence("first_response_at", Timestamp::parse_rfc3339)?
        .or_infer(|| thread.iter().find(|e| e.actor.role() == Role::Support).map(|e| e.at));
    let resolved_at = f.presence("resolved_at", Timestamp::parse_rfc3339)?.or_infer(|| {
        let last = last_change_to(Status::Resolved).map(|e| e.at);
        match status {
            Status::Resolved => Some(last.unwrap_or(updated_at)),
            Status::Closed | Status::Merged => last,
            _ => None,
        }
    });
    let closed_at = f.presence("closed_at", Timestamp::parse_rfc3339)?.or_infer(|| {
        status
            .is_final()
            .then(|| last_change_to(status).map_or(updated_at, |e| e.at))
    });
    let reply_deadline = f.presence("reply_deadline", Timestamp::parse_rfc3339)?.or_infer(|| {
        (status == Status::NeedsAttention).then(|| {
            let requested = thread
                .iter()
                .rev()
                .find_map(|e| match e.change.as_ref().map(|c| &c.event) {
                    Some(CaseEvent::RequestInfo { deadline }) => Some(*deadline),
                    _ => None,
                });
            requested.unwrap_or_else(|| updated_at.saturating_add(DEFAULT_REPLY_WINDOW))
        })
    });
    let merged_into = f.presence("merged_into", CaseNumber::parse_imported)?.or_infer(|| {
        (status == Status::Merged)
            .then(|| {
                thread
                    .iter()
                    .rev()
                    .find_map(|e| match e.change.as_ref().map(|c| &c.event) {
                        Some(CaseEvent::MergeInto { target }) => Some(target.clone()),
                        _ => None,
                    })
            })
            .flatten()
    });
    let paused_since = f
        .presence("clock_paused_since", Timestamp::parse_rfc3339)?
        .or_infer(|| {
            status
                .pauses_clock()
                .then(|| last_change_to(status).map_or(updated_at, |e| e.at))
        });
    let paused_ms = f.opt_i64("clock_paused_ms")?.unwrap_or(0);
    if paused_ms < 0 {
        return Err(InterchangeError::Inconsistent {
            field: "clock_paused_ms".into(),
            reason: format!("{paused_ms} is negative"),
        });
    }
    let assignee = f.opt("assignee", UserId::parse)?;
    let handler = f.opt("handler", UserId::parse)?;
    let complex = f.opt_bool("complex")?.unwrap_or(false);
    let links = match f.opt_object("links")? {
        None => CaseLinks::default(),
        Some(l) => CaseLinks {
            duplicate_of: l.opt("duplicate_of", CaseNumber::parse_imported)?,
            follow_up_of: l.opt("follow_up_of", CaseNumber::parse_imported)?,
            follow_ups: l.str_list("follow_ups", CaseNumber::parse_imported)?,
        },
    };

    let case = Case {
        id: CaseId(0),
        number,
        tenant,
        created_by,
        assignee,
        handler,
        marketplace,
        language,
        category,
        title,
        refs,
        state: CaseState {
            status,
            created_at,
            updated_at,
            first_response_at,
            resolved_at,
            closed_at,
            reply_deadline,
            merged_into,
            paused_since,
            paused_total: Span(paused_ms),
        },
        complex,
        tier: PerformanceTier::Standard,
        links,
        entries: 0,
        imported: true,
    };
    Ok(ImportCase { case, thread })
}

fn parse_message(m: &Fields<'_>, policy: &AttachmentPolicy) -> Parsed<ThreadEntry> {
    let role = m.req("author", Role::parse)?;
    let actor = match role {
        Role::Seller => Actor::Seller(m.req("author_id", UserId::parse)?),
        Role::Support => Actor::Support(m.req("author_id", UserId::parse)?),
        Role::System => Actor::System,
    };
    let at = m.req("at", Timestamp::parse_rfc3339)?;
    let body = m.req_str("body")?;
    validate_body(body).map_err(m.invalid("body"))?;
    let items = m.opt_array("attachments")?;
    let mut attachments = Vec::with_capacity(items.len());
    for a in m.objects("attachments", items)? {
        let name = a.req_str("name")?;
        let content_type = a.req_str("content_type")?;
        let size = a.req_u64("size")?;
        // Archives from other systems rarely carry hashes (SPEC.md).
        let sha256 = a.opt("sha256", ContentHash::parse_hex)?.unwrap_or(ContentHash::ABSENT);
        let meta = AttachmentMeta::new(name, content_type, size, sha256, policy).map_err(|source| {
            InterchangeError::Invalid {
                field: a.path.clone(),
                error: source,
            }
        })?;
        attachments.push(meta);
    }
    let change = m.opt_object("change")?.map(|c| parse_change(&c)).transpose()?;
    Ok(ThreadEntry {
        at,
        actor,
        change,
        body: body.to_owned(),
        attachments,
    })
}

fn parse_change(c: &Fields<'_>) -> Parsed<StatusChange> {
    let kind = c.req("event", EventKind::parse)?;
    let event = match kind {
        EventKind::Create => CaseEvent::Create,
        EventKind::Reply => CaseEvent::Reply,
        EventKind::PickUp => CaseEvent::PickUp,
        EventKind::RequestInfo => CaseEvent::RequestInfo {
            deadline: c.req("deadline", Timestamp::parse_rfc3339)?,
        },
        EventKind::Resolve => CaseEvent::Resolve,
        EventKind::Close => CaseEvent::Close,
        EventKind::MergeInto => CaseEvent::MergeInto {
            target: c.req("target", CaseNumber::parse_imported)?,
        },
        EventKind::AutoClose => CaseEvent::AutoClose,
        EventKind::DeadlineExpired => CaseEvent::DeadlineExpired,
        EventKind::Transfer => CaseEvent::Transfer {
            category: c.req("category", Category::parse)?,
            marketplace: c.opt("marketplace", Marketplace::parse)?,
        },
        EventKind::Assign => CaseEvent::Assign {
            to: c.req("assignee", UserId::parse)?,
        },
        EventKind::Release => CaseEvent::Release,
        EventKind::SetComplex => CaseEvent::SetComplex {
            complex: c.opt_bool("complex")?.unwrap_or(false),
        },
    };
    Ok(StatusChange {
        event,
        from: c.opt("from", Status::parse)?,
        to: c.req("to", Status::parse)?,
    })
}

// ---------------------------------------------------------------------------
// Writing

#[derive(Serialize)]
struct LineOut<'a> {
    tenant: &'a str,
    number: &'a str,
    title: &'a str,
    category: Category,
    status: Status,
    created_by: &'a str,
    created_at: String,
    marketplace: &'a str,
    language: &'a str,
    refs: RefsOut<'a>,
    updated_at: String,
    first_response_at: Option<String>,
    resolved_at: Option<String>,
    closed_at: Option<String>,
    reply_deadline: Option<String>,
    merged_into: Option<&'a str>,
    clock_paused_since: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    clock_paused_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    assignee: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handler: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    complex: bool,
    #[serde(skip_serializing_if = "LinksOut::is_empty")]
    links: LinksOut<'a>,
    messages: Vec<MessageOut<'a>>,
}

#[derive(Serialize)]
struct RefsOut<'a> {
    orders: Vec<&'a str>,
    asins: Vec<&'a str>,
    skus: Vec<&'a str>,
    cases: Vec<&'a str>,
}

#[derive(Serialize)]
struct LinksOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate_of: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    follow_up_of: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    follow_ups: Vec<&'a str>,
}

impl LinksOut<'_> {
    fn is_empty(&self) -> bool {
        self.duplicate_of.is_none() && self.follow_up_of.is_none() && self.follow_ups.is_empty()
    }
}

#[derive(Serialize)]
struct MessageOut<'a> {
    author: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    author_id: Option<&'a str>,
    at: String,
    body: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<AttachmentOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<ChangeOut<'a>>,
}

#[derive(Serialize)]
struct AttachmentOut<'a> {
    name: &'a str,
    content_type: &'static str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

#[derive(Serialize)]
struct ChangeOut<'a> {
    event: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<Status>,
    to: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<Category>,
    #[serde(skip_serializing_if = "Option::is_none")]
    marketplace: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assignee: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    complex: Option<bool>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn time(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

/// Writes one case and its thread as a line of the interchange format
/// (without the newline). [`parse_line`] reads it back into an equal case
/// (but for the store-assigned id, entry count, tier and `imported` flag).
pub fn to_line(case: &Case, thread: &[ThreadEntry]) -> String {
    let s = &case.state;
    let out = LineOut {
        tenant: case.tenant.as_str(),
        number: case.number.as_str(),
        title: &case.title,
        category: case.category,
        status: s.status,
        created_by: case.created_by.as_str(),
        created_at: s.created_at.to_rfc3339(),
        marketplace: case.marketplace.as_str(),
        language: case.language.as_str(),
        refs: RefsOut {
            orders: case.refs.orders.iter().map(OrderId::as_str).collect(),
            asins: case.refs.asins.iter().map(Asin::as_str).collect(),
            skus: case.refs.skus.iter().map(Sku::as_str).collect(),
            cases: case.refs.cases.iter().map(CaseNumber::as_str).collect(),
        },
        updated_at: s.updated_at.to_rfc3339(),
        first_response_at: time(s.first_response_at),
        resolved_at: time(s.resolved_at),
        closed_at: time(s.closed_at),
        reply_deadline: time(s.reply_deadline),
        merged_into: s.merged_into.as_ref().map(CaseNumber::as_str),
        clock_paused_since: time(s.paused_since),
        clock_paused_ms: s.paused_total.as_millis(),
        assignee: case.assignee.as_ref().map(UserId::as_str),
        handler: case.handler.as_ref().map(UserId::as_str),
        complex: case.complex,
        links: LinksOut {
            duplicate_of: case.links.duplicate_of.as_ref().map(CaseNumber::as_str),
            follow_up_of: case.links.follow_up_of.as_ref().map(CaseNumber::as_str),
            follow_ups: case.links.follow_ups.iter().map(CaseNumber::as_str).collect(),
        },
        messages: thread.iter().map(message_out).collect(),
    };
    // Serialising plain strings, numbers and options cannot fail; should
    // serde_json ever refuse, an empty object line is refused on import
    // rather than a panic here.
    serde_json::to_string(&out).unwrap_or_else(|_| String::from("{}"))
}

fn message_out(e: &ThreadEntry) -> MessageOut<'_> {
    MessageOut {
        author: e.actor.role(),
        author_id: e.actor.user().map(UserId::as_str),
        at: e.at.to_rfc3339(),
        body: &e.body,
        attachments: e
            .attachments
            .iter()
            .map(|a| AttachmentOut {
                name: &a.name,
                content_type: a.content_type(),
                size: a.size,
                sha256: a.content_hash().map(|h| h.to_hex()),
            })
            .collect(),
        change: e.change.as_ref().map(|c| ChangeOut {
            event: c.event.kind(),
            from: c.from,
            to: c.to,
            deadline: match &c.event {
                CaseEvent::RequestInfo { deadline } => Some(deadline.to_rfc3339()),
                _ => None,
            },
            target: match &c.event {
                CaseEvent::MergeInto { target } => Some(target.as_str()),
                _ => None,
            },
            category: match &c.event {
                CaseEvent::Transfer { category, .. } => Some(*category),
                _ => None,
            },
            marketplace: match &c.event {
                CaseEvent::Transfer { marketplace, .. } => marketplace.as_ref().map(Marketplace::as_str),
                _ => None,
            },
            assignee: match &c.event {
                CaseEvent::Assign { to } => Some(to.as_str()),
                _ => None,
            },
            complex: match &c.event {
                CaseEvent::SetComplex { complex } => Some(*complex),
                _ => None,
            },
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINIMAL: &str = r#"{"tenant":"seller-0042","number":"17281736451","title":"ASIN B08XYZ1234 suppressed","category":"listing","status":"in_progress","created_by":"ops@example.com","created_at":"2026-01-16T08:30:00Z","marketplace":"US","language":"en","refs":{"orders":["112-1234567-1234567"],"asins":["B08XYZ1234"],"skus":["MUG-RED-01"],"cases":[]},"messages":[{"author":"seller","author_id":"ops@example.com","at":"2026-01-16T08:30:00Z","body":"I am unable to remove a suppressed ASIN ...","attachments":[{"name":"invoice.pdf","content_type":"application/pdf","size":48213,"sha256":"a3f5c1d2e4b6a8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8"}]},{"author":"support","author_id":"agent-7","at":"2026-01-16T10:00:00Z","body":"Looking into it."}]}"#;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn spec_example_parses_with_inferred_times() {
        let c = parse_line(MINIMAL).unwrap();
        assert_eq!(c.case.tenant.as_str(), "seller-0042");
        assert_eq!(c.case.status(), Status::InProgress);
        assert_eq!(c.case.category, Category::Listing);
        assert_eq!(c.case.refs.orders.len(), 1);
        assert_eq!(c.case.refs.skus[0].as_str(), "MUG-RED-01");
        assert_eq!(c.thread.len(), 2);
        assert_eq!(c.thread[0].attachments[0].size, 48213);
        assert_eq!(c.thread[1].actor, Actor::Support(UserId::parse("agent-7").unwrap()));
        // Inferred from the thread: the last message and the first support message.
        assert_eq!(c.case.state.updated_at, ts("2026-01-16T10:00:00Z"));
        assert_eq!(c.case.state.first_response_at, Some(ts("2026-01-16T10:00:00Z")));
        assert_eq!(c.case.state.resolved_at, None);
        assert_eq!(c.case.state.closed_at, None);
        assert_eq!(c.case.state.paused_since, None);
    }

    #[test]
    fn minimal_needs_attention_gets_a_deadline_and_a_paused_clock() {
        let line = MINIMAL.replace("in_progress", "needs_attention");
        let c = parse_line(&line).unwrap();
        assert_eq!(c.case.state.reply_deadline, Some(ts("2026-01-23T10:00:00Z")));
        assert_eq!(c.case.state.paused_since, Some(ts("2026-01-16T10:00:00Z")));
        let line = MINIMAL.replace("in_progress", "closed");
        let c = parse_line(&line).unwrap();
        assert_eq!(c.case.state.closed_at, Some(ts("2026-01-16T10:00:00Z")));
        assert_eq!(c.case.state.reply_deadline, None);
    }

    #[test]
    fn explicit_null_is_kept_and_not_inferred() {
        let line = MINIMAL.replace(r#""language":"en","#, r#""language":"en","first_response_at":null,"#);
        let c = parse_line(&line).unwrap();
        assert_eq!(c.case.state.first_response_at, None);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let line = MINIMAL.replacen('{', r#"{"x-extra":{"nested":[1,2,3]},"priority":"p1","#, 1);
        assert_eq!(parse_line(&line).unwrap(), parse_line(MINIMAL).unwrap());
    }

    fn err(line: &str) -> InterchangeError {
        parse_line(line).unwrap_err()
    }

    #[test]
    fn errors_name_the_field_and_reason() {
        assert!(matches!(err("not json"), InterchangeError::Json { .. }));
        assert_eq!(err("[1]"), InterchangeError::NotAnObject { found: "an array" });
        let e = err(&MINIMAL.replace(r#""status":"in_progress""#, r#""status":"pending""#));
        assert_eq!(e.field(), Some("status"));
        assert!(e.to_string().contains("unknown status \"pending\""), "{e}");
        let e = err(&MINIMAL.replace("48213", "\"big\""));
        assert_eq!(
            e.to_string(),
            "messages[0].attachments[0].size: expected a non-negative integer, found a string"
        );
        let e = err(&MINIMAL.replace("112-1234567-1234567", "112-12"));
        assert_eq!(e.field(), Some("refs.orders[0]"));
        let e = err(&MINIMAL.replace("application/pdf", "application/x-msdownload"));
        assert!(matches!(
            e,
            InterchangeError::Invalid {
                error: ValidationError::AttachmentTypeRefused { .. },
                ..
            }
        ));
        let e = err(&MINIMAL.replace(r#""author_id":"agent-7","#, ""));
        assert_eq!(e.to_string(), "messages[1].author_id is missing");
        let e = err(&MINIMAL.replace(r#""created_at":"2026-01-16T08:30:00Z""#, r#""created_at":"yesterday""#));
        assert_eq!(e.field(), Some("created_at"));
        let e = err(
            r#"{"tenant":"a","number":"1","title":"t","category":"other","status":"open","created_by":"u","created_at":"2026-01-01T00:00:00Z","marketplace":"US","language":"en","messages":[]}"#,
        );
        assert_eq!(e.field(), Some("messages"));
    }

    #[test]
    fn message_changes_round_trip() {
        let line = MINIMAL.replace(
            r#""body":"Looking into it.""#,
            r#""body":"Please send the invoice.","change":{"event":"request_info","from":"in_progress","to":"needs_attention","deadline":"2026-01-20T10:00:00Z"}"#,
        );
        let c = parse_line(&line).unwrap();
        let change = c.thread[1].change.clone().unwrap();
        assert_eq!(
            change.event,
            CaseEvent::RequestInfo {
                deadline: ts("2026-01-20T10:00:00Z")
            }
        );
        let again = parse_line(&to_line(&c.case, &c.thread)).unwrap();
        assert_eq!(again, c);
        let e = err(&line.replace(r#","deadline":"2026-01-20T10:00:00Z""#, ""));
        assert_eq!(e.to_string(), "messages[1].change.deadline is missing");
    }

    // ---- property tests -------------------------------------------------

    fn text(max: usize) -> impl Strategy<Value = String> {
        // Letters, CJK, punctuation and spaces; titles are trimmed by
        // validation, so generated ones are trimmed too.
        proptest::string::string_regex(&format!("[a-zA-Z0-9账户停用退款 .,\"\\\\'/:-]{{1,{max}}}"))
            .unwrap()
            .prop_map(|s| s.trim().to_owned())
            .prop_filter("non-empty", |s| !s.is_empty())
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9._@-]{0,20}"
    }

    fn time() -> impl Strategy<Value = Timestamp> {
        (-2_000_000_000_000i64..4_000_000_000_000).prop_map(|ms| Timestamp::from_millis(ms).unwrap())
    }

    fn opt_time() -> impl Strategy<Value = Option<Timestamp>> {
        proptest::option::of(time())
    }

    fn number() -> impl Strategy<Value = CaseNumber> {
        "[A-Za-z0-9][A-Za-z0-9_-]{0,20}".prop_map(|s| CaseNumber::parse_imported(&s).unwrap())
    }

    fn actor() -> impl Strategy<Value = Actor> {
        prop_oneof![
            name().prop_map(|n| Actor::Seller(UserId::parse(&n).unwrap())),
            name().prop_map(|n| Actor::Support(UserId::parse(&n).unwrap())),
            Just(Actor::System),
        ]
    }

    fn status() -> impl Strategy<Value = Status> {
        proptest::sample::select(Status::ALL)
    }

    fn event() -> impl Strategy<Value = CaseEvent> {
        prop_oneof![
            Just(CaseEvent::Create),
            Just(CaseEvent::Reply),
            Just(CaseEvent::PickUp),
            time().prop_map(|deadline| CaseEvent::RequestInfo { deadline }),
            Just(CaseEvent::Resolve),
            Just(CaseEvent::Close),
            number().prop_map(|target| CaseEvent::MergeInto { target }),
            Just(CaseEvent::AutoClose),
            Just(CaseEvent::DeadlineExpired),
            (
                proptest::sample::select(Category::ALL),
                proptest::option::of(proptest::sample::select(vec!["US", "DE", "JP"]))
            )
                .prop_map(|(category, m)| CaseEvent::Transfer {
                    category,
                    marketplace: m.map(|m| Marketplace::parse(m).unwrap()),
                }),
            name().prop_map(|n| CaseEvent::Assign {
                to: UserId::parse(&n).unwrap()
            }),
            Just(CaseEvent::Release),
            any::<bool>().prop_map(|complex| CaseEvent::SetComplex { complex }),
        ]
    }

    fn attachment() -> impl Strategy<Value = AttachmentMeta> {
        (
            "[a-zA-Z0-9 ._-]{0,20}[a-z]",
            proptest::sample::select(caselog_core::AttachmentKind::ALL),
            0u64..=10 * caselog_core::MIB,
            prop_oneof![3 => proptest::array::uniform32(any::<u8>()), 1 => Just([0u8; 32])],
        )
            .prop_map(|(name, kind, size, hash)| AttachmentMeta {
                name,
                kind,
                size,
                sha256: ContentHash(hash),
            })
    }

    fn entry() -> impl Strategy<Value = ThreadEntry> {
        (
            time(),
            actor(),
            proptest::option::of((event(), proptest::option::of(status()), status())),
            proptest::string::string_regex("[a-zA-Z0-9账户停用 \n\t\r\"\\\\{}\\[\\]é😀]{0,60}").unwrap(),
            proptest::collection::vec(attachment(), 0..3),
        )
            .prop_map(|(at, actor, change, body, attachments)| ThreadEntry {
                at,
                actor,
                change: change.map(|(event, from, to)| StatusChange { event, from, to }),
                body,
                attachments,
            })
    }

    prop_compose! {
        /// A random case with its thread (also the records tests' cases).
        pub(crate) fn case_and_thread()(
            tenant in "[a-zA-Z0-9._@+-]{1,30}",
            number in number(),
            created_by in name(),
            assignee in proptest::option::of(name()),
            market in "[A-Z]{2}",
            language in "[a-z]{2}(-[A-Z]{2})?",
            category in proptest::sample::select(Category::ALL),
            title in text(80),
            orders in proptest::collection::vec("[0-9]{3}-[0-9]{7}-[0-9]{7}", 0..3),
            asins in proptest::collection::vec("B[0-9][0-9A-Z]{8}", 0..3),
            skus in proptest::collection::vec("[A-Za-z0-9-]{1,12}", 0..3),
            cases in proptest::collection::vec(number(), 0..3),
            status in status(),
            times in (time(), time(), opt_time(), opt_time(), opt_time(), opt_time(), opt_time()),
            merged_into in proptest::option::of(number()),
            paused in 0i64..1_000_000_000,
            complex in any::<bool>(),
            links in (proptest::option::of(number()), proptest::option::of(number()), proptest::collection::vec(number(), 0..3)),
            thread in proptest::collection::vec(entry(), 1..5),
        ) -> (Case, Vec<ThreadEntry>) {
            let refs = References {
                orders: orders.iter().map(|o| OrderId::parse(o).unwrap()).collect(),
                asins: asins.iter().map(|a| Asin::parse(a).unwrap()).collect(),
                skus: skus.iter().map(|s| Sku::parse(s).unwrap()).collect(),
                cases,
            }
            .normalised()
            .unwrap();
            let (created_at, updated_at, first_response_at, resolved_at, closed_at, reply_deadline, paused_since) = times;
            let case = Case {
                id: CaseId(0),
                number,
                tenant: TenantId::parse(&tenant).unwrap(),
                created_by: UserId::parse(&created_by).unwrap(),
                handler: assignee.is_some().then(|| UserId::parse(&created_by).unwrap()),
                assignee: assignee.map(|a| UserId::parse(&a).unwrap()),
                marketplace: Marketplace::parse(&market).unwrap(),
                language: LanguageTag::parse(&language).unwrap(),
                category,
                title,
                refs,
                state: CaseState {
                    status,
                    created_at,
                    updated_at,
                    first_response_at,
                    resolved_at,
                    closed_at,
                    reply_deadline,
                    merged_into,
                    paused_since,
                    paused_total: Span(paused),
                },
                complex,
                tier: PerformanceTier::Standard,
                links: CaseLinks { duplicate_of: links.0, follow_up_of: links.1, follow_ups: links.2 },
                entries: 0,
                imported: true,
            };
            (case, thread)
        }
    }

    proptest! {
        #[test]
        fn to_line_then_parse_line_gives_the_case_back((case, thread) in case_and_thread()) {
            let line = to_line(&case, &thread);
            prop_assert!(!line.contains('\n'));
            let back = parse_line(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
            prop_assert_eq!(&back.case, &case);
            prop_assert_eq!(&back.thread, &thread);
            prop_assert_eq!(to_line(&back.case, &back.thread), line);
        }

        #[test]
        fn parse_line_never_panics(line in ".{0,300}") {
            let _ = parse_line(&line);
        }

        #[test]
        fn mangled_lines_never_panic((case, thread) in case_and_thread(), cut in 0usize..2000, byte in any::<u8>()) {
            let mut line = to_line(&case, &thread).into_bytes();
            let at = cut.min(line.len().saturating_sub(1));
            if let Some(b) = line.get_mut(at) {
                *b = byte;
            }
            let _ = parse_line(&String::from_utf8_lossy(&line));
        }
    }
}
