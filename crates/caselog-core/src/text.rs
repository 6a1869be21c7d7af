//! Limits and checks for free text: case titles and message bodies.

use crate::error::{excerpt, ValidationError};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 500;
/// Largest message body, in bytes of UTF-8.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Whether `c` is an explicit bidirectional formatting character: an
/// embedding, override or isolate (U+202A–U+202E, U+2066–U+2069). These
/// open a direction that runs on past the character itself, so a title
/// holding `U+202E` can show `fdp.exe` as `exe.pdf` ("Trojan Source"). The
/// implicit marks (U+200E, U+200F, U+061C) affect only their neighbours,
/// are needed in right-to-left text, and are not counted here.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Validates a case title: not empty, at most [`MAX_TITLE_CHARS`]
/// characters, no control characters and no explicit bidirectional
/// formatting characters ([`is_bidi_control`]): a title is one line that
/// routes a case and is shown in lists, so it must read as it is stored.
/// Surrounding white space is trimmed.
pub fn validate_title(title: &str) -> Result<String, ValidationError> {
    let t = title.trim();
    if t.is_empty() {
        return Err(ValidationError::Empty { field: "title" });
    }
    let len = t.chars().count();
    if len > MAX_TITLE_CHARS {
        return Err(ValidationError::TooLong {
            field: "title",
            len,
            max: MAX_TITLE_CHARS,
        });
    }
    if t.chars().any(char::is_control) {
        return Err(ValidationError::Malformed {
            field: "title",
            value: excerpt(t),
            expected: "one line of text without control characters",
        });
    }
    if t.chars().any(is_bidi_control) {
        return Err(ValidationError::Malformed {
            field: "title",
            value: excerpt(t),
            expected:
                "text without bidirectional override, embedding or isolate characters (U+202A-U+202E, U+2066-U+2069)",
        });
    }
    Ok(t.to_owned())
}

/// Validates a message body: at most [`MAX_BODY_BYTES`], and no control
/// characters other than newline, carriage return and tab (a NUL byte in a
/// body is a sign of binary data pasted as text).
pub fn validate_body(body: &str) -> Result<(), ValidationError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ValidationError::TooLong {
            field: "message body",
            len: body.len(),
            max: MAX_BODY_BYTES,
        });
    }
    if body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ValidationError::Malformed {
            field: "message body",
            value: excerpt(body),
            expected: "text without control characters other than newline and tab",
        });
    }
    Ok(())
}
