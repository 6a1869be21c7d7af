//! Identifiers: internal ids as newtypes, and validated outside names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{check_text, ValidationError};

/// The store's internal id of a case. Assigned by the store, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CaseId(pub u64);

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Declares a validated string newtype with `parse`, `as_str`, `Display`
/// and serde support that validates on deserialisation too.
macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $validate:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and normalises outside text.
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                $validate(text).map($name)
            }

            /// The normalised text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(text: String) -> Result<Self, ValidationError> {
                $name::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(text: &str) -> Result<Self, ValidationError> {
                $name::parse(text)
            }
        }
    };
}
pub(crate) use validated_string;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+')
}

fn validate_tenant(text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    check_text("tenant", text, 64)?;
    if !text.chars().all(is_name_char) {
        return Err(ValidationError::malformed(
            "tenant",
            text,
            "letters, digits and . _ - @ + (at most 64)",
        ));
    }
    Ok(text.to_owned())
}

fn validate_user(text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    check_text("user", text, 128)?;
    if text.chars().any(char::is_whitespace) {
        return Err(ValidationError::malformed(
            "user",
            text,
            "a user name or e-mail address without spaces",
        ));
    }
    Ok(text.to_owned())
}

validated_string!(
    /// A tenant: one seller account. Letters, digits and `. _ - @ +`, at most 64.
    TenantId,
    validate_tenant
);
validated_string!(
    /// A user of a tenant, or a support agent: a name or e-mail address
    /// without white space, at most 128 characters.
    UserId,
    validate_user
);

/// The longest case number an imported archive may carry.
pub const MAX_CASE_NUMBER_LEN: usize = 32;

/// A human-facing case number, unique in a store.
///
/// Numbers the store assigns are numeric with 10 or 11 digits
/// ([`CaseNumber::parse`] accepts only those); imported archives keep their
/// own numbers, which may be any short run of letters, digits and `-`/`_`
/// ([`CaseNumber::parse_imported`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseNumber(String);

impl CaseNumber {
    /// Parses a number in the default format: 10 or 11 ASCII digits.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if Self::is_default_format(text) {
            Ok(CaseNumber(text.to_owned()))
        } else {
            Err(ValidationError::malformed("case number", text, "10 or 11 digits"))
        }
    }

    /// Parses a number kept from an imported archive: 1 to 32 ASCII letters,
    /// digits, `-` or `_`, starting with a letter or digit.
    pub fn parse_imported(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        check_text("case number", text, MAX_CASE_NUMBER_LEN)?;
        let starts_ok = text.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !starts_ok || !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ValidationError::malformed(
                "case number",
                text,
                "letters, digits, - and _ (at most 32), starting with a letter or digit",
            ));
        }
        Ok(CaseNumber(text.to_owned()))
    }

    /// The number the store assigns to its `n`-th generated case: 11 digits,
    /// starting at `10000000000`. Returns `None` past the 11-digit range.
    pub fn generated(n: u64) -> Option<Self> {
        let value = 10_000_000_000u64.checked_add(n)?;
        (value <= 99_999_999_999).then(|| CaseNumber(value.to_string()))
    }

    /// Whether `text` has the default shape: 10 or 11 ASCII digits.
    pub fn is_default_format(text: &str) -> bool {
        (10..=11).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CaseNumber {
    type Error = ValidationError;
    fn try_from(text: String) -> Result<Self, ValidationError> {
        CaseNumber::parse_imported(&text)
    }
}

impl From<CaseNumber> for String {
    fn from(v: CaseNumber) -> String {
        v.0
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate_marketplace(text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(ValidationError::malformed(
            "marketplace",
            text,
            "a two-letter marketplace code such as US, UK, DE or JP",
        ))
    }
}

validated_string!(
    /// A marketplace code such as `US`, `UK`, `DE` or `JP`: two letters,
    /// normalised to upper case.
    Marketplace,
    validate_marketplace
);

fn validate_language(text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    check_text("language", text, 35)?;
    let ok = text
        .split('-')
        .all(|part| !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric()));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(ValidationError::malformed(
            "language",
            text,
            "a language tag such as en, zh or zh-CN",
        ))
    }
}

validated_string!(
    /// A BCP 47 language tag such as `en`, `zh` or `zh-CN` (shape checked only).
    LanguageTag,
    validate_language
);
