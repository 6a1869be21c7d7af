//! Validation errors for everything that comes from outside the process.

use thiserror::Error;

/// Longest excerpt of an offending value that an error message carries, so
/// that a 10 MB title does not become a 10 MB error message.
const EXCERPT_CHARS: usize = 48;

/// Returns a short, printable excerpt of `value` for error messages.
pub(crate) fn excerpt(value: &str) -> String {
    let mut out: String = value.chars().take(EXCERPT_CHARS).collect();
    if value.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A value from outside data failed validation.
///
/// Every variant names the field it concerns, so a caller can point the user
/// at the problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required value was empty (or only white space).
    #[error("{field} is empty")]
    Empty {
        /// The field that was empty.
        field: &'static str,
    },
    /// A value was longer than its limit.
    #[error("{field} is too long: {len} characters, at most {max} allowed")]
    TooLong {
        /// The field that was too long.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value did not have the expected shape.
    #[error("{field} {value:?} is malformed: expected {expected}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// An excerpt of the offending value.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// An identifier was not one of the known ones.
    #[error("unknown {field} {value:?}: expected one of {expected}")]
    Unknown {
        /// The field.
        field: &'static str,
        /// An excerpt of the offending value.
        value: String,
        /// The accepted identifiers.
        expected: &'static str,
    },
    /// A number or time was outside its allowed range.
    #[error("{field} {value} is out of range: {range}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The offending value, as text.
        value: String,
        /// The allowed range, as text.
        range: &'static str,
    },
    /// An attachment's content type is not accepted.
    #[error("attachment {name:?}: content type {content_type:?} is not accepted (accepted: {accepted})")]
    AttachmentTypeRefused {
        /// The attachment's file name (excerpt).
        name: String,
        /// The refused content type (excerpt).
        content_type: String,
        /// The accepted content types.
        accepted: &'static str,
    },
    /// An attachment is larger than its type allows.
    #[error("attachment {name:?} is {size} bytes; {content_type} attachments may be at most {limit} bytes")]
    AttachmentTooLarge {
        /// The attachment's file name (excerpt).
        name: String,
        /// Its content type.
        content_type: &'static str,
        /// Its size in bytes.
        size: u64,
        /// The limit for its type in bytes.
        limit: u64,
    },
    /// A list had more entries than allowed.
    #[error("{field} has {len} entries, at most {max} allowed")]
    TooMany {
        /// The field.
        field: &'static str,
        /// The number of entries.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl ValidationError {
    pub(crate) fn malformed(field: &'static str, value: &str, expected: &'static str) -> Self {
        ValidationError::Malformed {
            field,
            value: excerpt(value),
            expected,
        }
    }
}

/// Checks the common constraints of a short textual identifier: not empty,
/// at most `max` characters, no control characters.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::Empty { field });
    }
    let len = value.chars().count();
    if len > max {
        return Err(ValidationError::TooLong { field, len, max });
    }
    // Names, ids and SKUs are shown in lists and matched exactly: they
    // must read as they are stored (see `text::is_bidi_control`).
    if value.chars().any(|c| c.is_control() || crate::text::is_bidi_control(c)) {
        return Err(ValidationError::malformed(
            field,
            value,
            "text without control or bidirectional override characters",
        ));
    }
    Ok(())
}
