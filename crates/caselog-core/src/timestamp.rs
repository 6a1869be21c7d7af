//! UTC instants with millisecond precision, and spans of time.
//!
//! Times are kept as milliseconds since the Unix epoch so that they sort,
//! encode and compare as plain integers; RFC 3339 is only the outside form.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::error::ValidationError;

/// Milliseconds in one second.
pub const SECOND_MS: i64 = 1_000;
/// Milliseconds in one hour.
pub const HOUR_MS: i64 = 3_600 * SECOND_MS;
/// Milliseconds in one UTC day.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The earliest accepted instant: 0001-01-01T00:00:00Z.
const MIN_MS: i64 = -62_135_596_800_000;
/// The latest accepted instant: 9999-12-31T23:59:59.999Z.
const MAX_MS: i64 = 253_402_300_799_999;

/// A UTC instant, in milliseconds since 1970-01-01T00:00:00Z.
///
/// Always within years 1 to 9999, so it converts to RFC 3339 without loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);
    /// The earliest representable instant.
    pub const MIN: Timestamp = Timestamp(MIN_MS);
    /// The latest representable instant.
    pub const MAX: Timestamp = Timestamp(MAX_MS);

    /// Builds a timestamp from milliseconds since the epoch.
    pub fn from_millis(ms: i64) -> Result<Self, ValidationError> {
        if (MIN_MS..=MAX_MS).contains(&ms) {
            Ok(Timestamp(ms))
        } else {
            Err(ValidationError::OutOfRange {
                field: "timestamp",
                value: ms.to_string(),
                range: "years 0001 to 9999",
            })
        }
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The current time of the system clock.
    pub fn now() -> Self {
        let ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        Timestamp(i64::try_from(ms).unwrap_or(MAX_MS).clamp(MIN_MS, MAX_MS))
    }

    /// Parses an RFC 3339 time such as `2026-01-16T08:30:00Z`. An offset
    /// other than `Z` is accepted and converted to UTC; sub-millisecond
    /// digits are truncated.
    pub fn parse_rfc3339(text: &str) -> Result<Self, ValidationError> {
        let parsed = OffsetDateTime::parse(text.trim(), &Rfc3339)
            .map_err(|_| ValidationError::malformed("time", text, "an RFC 3339 time like 2026-01-16T08:30:00Z"))?;
        let ms = parsed.unix_timestamp_nanos().div_euclid(1_000_000);
        let ms = i64::try_from(ms).map_err(|_| ValidationError::OutOfRange {
            field: "time",
            value: crate::error::excerpt(text),
            range: "years 0001 to 9999",
        })?;
        Timestamp::from_millis(ms)
    }

    /// Formats as RFC 3339 in UTC, with milliseconds only when they are not zero.
    pub fn to_rfc3339(self) -> String {
        let (date, secs_of_day, millis) = self.split();
        let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
        let (year, month, day) = (date.year(), u8::from(date.month()), date.day());
        if millis == 0 {
            format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
        } else {
            format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
        }
    }

    /// Parses a UTC day `YYYY-MM-DD` and returns its first instant.
    pub fn parse_day(text: &str) -> Result<Self, ValidationError> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let bad = || ValidationError::malformed("date", text, "a day like 2026-01-31");
        let t = text.trim();
        // `[year]` also takes a sign ("+0001-01-01"), which is not a day as
        // caselog writes them.
        if !t.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad());
        }
        let date = Date::parse(t, &format).map_err(|_| bad())?;
        let ms = date
            .midnight()
            .assume_offset(UtcOffset::UTC)
            .unix_timestamp()
            .saturating_mul(SECOND_MS);
        Timestamp::from_millis(ms)
    }

    /// The first instant of this timestamp's UTC day.
    pub fn start_of_day(self) -> Self {
        Timestamp(self.0 - self.0.rem_euclid(DAY_MS))
    }

    /// The UTC day as `YYYY-MM-DD`.
    pub fn day_string(self) -> String {
        let (date, _, _) = self.split();
        format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
    }

    /// Adds a span, saturating at the representable range.
    pub fn saturating_add(self, span: Span) -> Self {
        Timestamp(self.0.saturating_add(span.0).clamp(MIN_MS, MAX_MS))
    }

    /// Subtracts a span, saturating at the representable range.
    pub fn saturating_sub(self, span: Span) -> Self {
        Timestamp(self.0.saturating_sub(span.0).clamp(MIN_MS, MAX_MS))
    }

    /// The span from `earlier` to `self` (negative if `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }

    fn split(self) -> (Date, i64, i64) {
        let days = self.0.div_euclid(DAY_MS);
        let rest = self.0.rem_euclid(DAY_MS);
        // 1970-01-01 is Julian day 2_440_588; the range check keeps this valid.
        let julian = i32::try_from(days + 2_440_588).unwrap_or(2_440_588);
        let date = Date::from_julian_day(julian).unwrap_or(Date::MIN);
        (date, rest / SECOND_MS, rest % SECOND_MS)
    }
}

impl TryFrom<i64> for Timestamp {
    type Error = ValidationError;
    fn try_from(ms: i64) -> Result<Self, Self::Error> {
        Timestamp::from_millis(ms)
    }
}

impl From<Timestamp> for i64 {
    fn from(t: Timestamp) -> i64 {
        t.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A span of time in milliseconds (may be negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Span(pub i64);

impl Span {
    /// No time at all.
    pub const ZERO: Span = Span(0);

    /// A span of whole hours (saturating, never overflowing).
    pub const fn hours(h: i64) -> Span {
        Span(h.saturating_mul(HOUR_MS))
    }

    /// A span of whole days (saturating, never overflowing).
    pub const fn days(d: i64) -> Span {
        Span(d.saturating_mul(DAY_MS))
    }

    /// Milliseconds in the span.
    pub const fn as_millis(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % HOUR_MS == 0 {
            write!(f, "{}h", self.0 / HOUR_MS)
        } else {
            write!(f, "{}ms", self.0)
        }
    }
}
