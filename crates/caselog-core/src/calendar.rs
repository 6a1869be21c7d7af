//! Business time: a weekly calendar of working hours in a time zone, and
//! the arithmetic that adds a first-response target to a submission time
//! counting only working time (and skipping holidays).
//!
//! Working hours are local wall-clock minutes of a weekday. An instant is
//! working time when its local time in the calendar's zone falls inside
//! one of its weekday's ranges and its local date is not a holiday. Around
//! a daylight-saving change this is read literally: local times that the
//! change skips never happen, and local times it repeats count twice.
//! Zone rules come from the tz database bundled with `jiff`, so a due time
//! never depends on the host's zoneinfo files.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::timestamp::{Span, Timestamp, DAY_MS};

/// Minutes in a day: the end of the last possible range.
pub const DAY_MINUTES: u16 = 24 * 60;
const MINUTE_MS: i64 = 60_000;

/// One range of working hours in a local day: `[start, end)` in minutes
/// after local midnight (`end` may be 1440, the next midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "(u16, u16)", into = "(u16, u16)")]
pub struct BusinessHours {
    start: u16,
    end: u16,
}

impl BusinessHours {
    /// The whole day.
    pub const ALL_DAY: BusinessHours = BusinessHours {
        start: 0,
        end: DAY_MINUTES,
    };

    /// A range in minutes after local midnight; `start < end <= 1440`.
    pub fn new(start_minute: u16, end_minute: u16) -> Result<Self, ValidationError> {
        if start_minute < end_minute && end_minute <= DAY_MINUTES {
            Ok(BusinessHours {
                start: start_minute,
                end: end_minute,
            })
        } else {
            Err(ValidationError::OutOfRange {
                field: "business hours",
                value: format!("{start_minute}..{end_minute} minutes"),
                range: "start before end, within 0..1440 minutes of the local day",
            })
        }
    }

    /// A range in whole hours, e.g. `hours(9, 17)`.
    pub fn hours(start_hour: u16, end_hour: u16) -> Result<Self, ValidationError> {
        BusinessHours::new(start_hour.saturating_mul(60), end_hour.saturating_mul(60))
    }

    /// Start, in minutes after local midnight.
    pub fn start_minute(self) -> u16 {
        self.start
    }

    /// End (exclusive), in minutes after local midnight.
    pub fn end_minute(self) -> u16 {
        self.end
    }
}

impl TryFrom<(u16, u16)> for BusinessHours {
    type Error = ValidationError;
    fn try_from((start, end): (u16, u16)) -> Result<Self, Self::Error> {
        BusinessHours::new(start, end)
    }
}

impl From<BusinessHours> for (u16, u16) {
    fn from(h: BusinessHours) -> Self {
        (h.start, h.end)
    }
}

/// A weekly calendar of working hours in a time zone.
///
/// ```
/// use caselog_core::{BusinessCalendar, BusinessHours, QueuePolicy, Span, Timestamp};
///
/// // Monday to Friday, 09:00-17:00 in Berlin.
/// let nine_to_five = BusinessHours::hours(9, 17).unwrap();
/// let calendar = BusinessCalendar::weekdays("Europe/Berlin", &[nine_to_five]).unwrap();
/// let policy = QueuePolicy { calendar, ..QueuePolicy::default() };
/// let t = |s| Timestamp::parse_rfc3339(s).unwrap();
/// // Submitted Friday 16:00 local (15:00 UTC): 1 hour on Friday, 11 more
/// // from Monday 09:00 -> Tuesday 12:00 local.
/// assert_eq!(policy.due_after(t("2026-01-16T15:00:00Z"), Span::hours(12)), t("2026-01-20T11:00:00Z"));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CalendarSpec", into = "CalendarSpec")]
pub struct BusinessCalendar {
    zone_name: String,
    zone: jiff::tz::TimeZone,
    /// Working hours per weekday, Monday first; sorted, not overlapping.
    week: [Vec<BusinessHours>; 7],
}

/// The serialised form: the zone's IANA name and the week.
#[derive(Serialize, Deserialize)]
struct CalendarSpec {
    zone: String,
    week: [Vec<BusinessHours>; 7],
}

impl TryFrom<CalendarSpec> for BusinessCalendar {
    type Error = ValidationError;
    fn try_from(spec: CalendarSpec) -> Result<Self, Self::Error> {
        BusinessCalendar::new(&spec.zone, spec.week)
    }
}

impl From<BusinessCalendar> for CalendarSpec {
    fn from(c: BusinessCalendar) -> Self {
        CalendarSpec {
            zone: c.zone_name,
            week: c.week,
        }
    }
}

impl fmt::Debug for BusinessCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusinessCalendar")
            .field("zone", &self.zone_name)
            .field("week", &self.week)
            .finish()
    }
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        BusinessCalendar::always_open()
    }
}

impl BusinessCalendar {
    /// Every minute of every day, in UTC: SPEC's default calendar.
    pub fn always_open() -> Self {
        BusinessCalendar {
            zone_name: "UTC".into(),
            zone: jiff::tz::TimeZone::UTC,
            week: std::array::from_fn(|_| vec![BusinessHours::ALL_DAY]),
        }
    }

    /// A calendar in the zone named `zone` (an IANA name such as
    /// `America/New_York`, or `UTC`) with working hours per weekday,
    /// Monday first. Each day's ranges must be sorted and must not overlap
    /// or touch; the week must have some working time.
    pub fn new(zone: &str, week: [Vec<BusinessHours>; 7]) -> Result<Self, ValidationError> {
        let tz = jiff::tz::TimeZone::get(zone).map_err(|_| ValidationError::Unknown {
            field: "business calendar time zone",
            value: zone.chars().take(64).collect(),
            expected: "the IANA time zone names (Europe/Berlin, America/New_York, UTC, ...)",
        })?;
        for day in &week {
            if day.windows(2).any(|w| matches!(w, [a, b] if a.end >= b.start)) {
                return Err(ValidationError::Malformed {
                    field: "business hours",
                    value: format!("{day:?}"),
                    expected: "a day's ranges sorted and apart",
                });
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(ValidationError::Empty {
                field: "business calendar week",
            });
        }
        Ok(BusinessCalendar {
            zone_name: zone.into(),
            zone: tz,
            week,
        })
    }

    /// The same `hours` Monday to Friday, nothing at the weekend.
    pub fn weekdays(zone: &str, hours: &[BusinessHours]) -> Result<Self, ValidationError> {
        let week = std::array::from_fn(|d| if d < 5 { hours.to_vec() } else { Vec::new() });
        BusinessCalendar::new(zone, week)
    }

    /// The zone's name as given.
    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    /// Working hours of a weekday (0 = Monday … 6 = Sunday).
    pub fn hours(&self, weekday: usize) -> &[BusinessHours] {
        self.week.get(weekday).map_or(&[], Vec::as_slice)
    }

    /// The zone's offset from UTC at `t`, in milliseconds.
    fn offset_ms(&self, t: i64) -> i64 {
        jiff::Timestamp::from_millisecond(t)
            .map(|ts| i64::from(self.zone.to_offset(ts).seconds()) * 1_000)
            .unwrap_or(0)
    }

    /// Working time in one week, in milliseconds.
    fn week_ms(&self) -> i64 {
        self.week
            .iter()
            .flatten()
            .map(|h| i64::from(h.end - h.start) * MINUTE_MS)
            .sum()
    }

    /// The local date of `t` in the calendar's zone, as days since
    /// 1970-01-01 (the unit of [`crate::QueuePolicy::holidays`]).
    pub fn local_day(&self, t: Timestamp) -> i64 {
        let ms = t.as_millis();
        (ms.saturating_add(self.offset_ms(ms))).div_euclid(DAY_MS)
    }

    /// `start` plus `target` of working time, skipping `holidays` (local
    /// days); `Timestamp::MAX` if that lies beyond it.
    pub fn add_business(&self, start: Timestamp, target: Span, holidays: &BTreeSet<i64>) -> Timestamp {
        let end = Timestamp::MAX.as_millis();
        let mut t = start.as_millis();
        // A zero target is due at the first working instant from `start`.
        let mut remaining = target.0.max(0);
        let week_ms = self.week_ms();
        // Walk the zone's offset segments (between two transitions local
        // time is UTC plus one offset), and in each the local days it
        // covers. `t` only grows; whole holiday-free weeks inside a segment
        // are skipped at once (each holds exactly `week_ms`), so a call
        // costs about one step per holiday, per transition and per day of
        // the last week.
        while t < end {
            let Ok(jt) = jiff::Timestamp::from_millisecond(t) else {
                break;
            };
            let offset = i64::from(self.zone.to_offset(jt).seconds()) * 1_000;
            let segment_end = self
                .zone
                .following(jt)
                .next()
                .map_or(end, |tr| tr.timestamp().as_millisecond())
                .min(end);
            let last_day = (segment_end - 1 + offset).div_euclid(DAY_MS);
            let mut day = (t + offset).div_euclid(DAY_MS);
            while day <= last_day {
                let midnight = day * DAY_MS - offset;
                if midnight >= t && week_ms > 0 {
                    // Days before `last_day` lie wholly inside the segment.
                    let stop = holidays.range(day..).next().map_or(last_day, |h| (*h).min(last_day));
                    let weeks = ((stop - day) / 7).min((remaining - 1) / week_ms);
                    if weeks > 0 {
                        day += 7 * weeks;
                        remaining -= week_ms * weeks;
                        continue;
                    }
                }
                if !holidays.contains(&day) {
                    for h in self.hours(weekday(day)) {
                        let a = (midnight + i64::from(h.start) * MINUTE_MS).max(t);
                        let b = (midnight + i64::from(h.end) * MINUTE_MS).min(segment_end);
                        if a < b {
                            if remaining <= b - a {
                                return Timestamp::from_millis(a + remaining).unwrap_or(Timestamp::MAX);
                            }
                            remaining -= b - a;
                        }
                    }
                }
                day += 1;
            }
            t = segment_end;
        }
        Timestamp::MAX
    }
}

/// Weekday of a day number, 0 = Monday (1970-01-01 was a Thursday).
fn weekday(day: i64) -> usize {
    usize::try_from((day + 3).rem_euclid(7)).unwrap_or(0)
}
