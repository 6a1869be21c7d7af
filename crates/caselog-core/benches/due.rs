//! Cost of a due time (`QueuePolicy::due_after`), paid on every create and
//! every queue re-key: the default calendar (every hour, UTC) and a
//! weekday 09:00-17:00 calendar in a zone with DST and a year of holidays.
//!
//! `cargo bench -p caselog-core --bench due`

use caselog_core::{BusinessCalendar, BusinessHours, QueuePolicy, Span, Timestamp};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn due(c: &mut Criterion) {
    let start = Timestamp::parse_rfc3339("2026-03-06T21:00:00Z").expect("valid time");
    let default = QueuePolicy::default();
    let hours = BusinessHours::hours(9, 17).expect("valid hours");
    let mut berlin = QueuePolicy {
        calendar: BusinessCalendar::weekdays("Europe/Berlin", &[hours]).expect("valid calendar"),
        ..QueuePolicy::default()
    };
    // A holiday every other Wednesday for a year.
    for week in 0..26 {
        berlin.add_holiday(start.saturating_add(Span::days(5 + 14 * week)));
    }
    let mut group = c.benchmark_group("due_after");
    for (name, policy) in [("always_open_utc", &default), ("berlin_9_17_holidays", &berlin)] {
        for target_h in [12, 72] {
            group.bench_with_input(BenchmarkId::new(name, target_h), &target_h, |b, &h| {
                b.iter(|| policy.due_after(std::hint::black_box(start), Span::hours(h)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, due);
criterion_main!(benches);
