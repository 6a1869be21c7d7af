//! Property tests of the support queue's order (SPEC.md, "Queue ordering")
//! and of the duplicate rule.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use caselog_core::*;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1000,
        ..ProptestConfig::default()
    }
}

const MINUTE_MS: i64 = 60_000;
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_799_999;
/// 2000-01-01 and 2100-01-01.
const Y2000_MS: i64 = 946_684_800_000;
const Y2100_MS: i64 = 4_102_444_800_000;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms).expect("test timestamps are in range")
}

fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

// ---------------------------------------------------------------------------
// QueueKey: a total order, and its byte encoding
// ---------------------------------------------------------------------------

fn any_ts() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        4 => (MIN_MS..=MAX_MS).prop_map(ts),
        1 => Just(Timestamp::MIN),
        1 => Just(Timestamp::MAX),
        1 => Just(Timestamp::EPOCH),
        1 => (-1i64..=1).prop_map(ts),
    ]
}

fn any_key() -> impl Strategy<Value = QueueKey> {
    (
        prop::sample::select(PriorityClass::ALL.to_vec()),
        any_ts(),
        any_ts(),
        prop_oneof![any::<u64>(), Just(0u64), Just(u64::MAX)],
    )
        .prop_map(|(class, due, submitted, case)| QueueKey {
            class,
            due,
            submitted,
            case: CaseId(case),
        })
}

/// Keys drawn from a tiny pool of values, so that ties on every field are
/// common and the later tie-breaks get exercised.
fn clashing_key() -> impl Strategy<Value = QueueKey> {
    let t = prop::sample::select(vec![ts(0), ts(1), ts(Y2000_MS), Timestamp::MIN, Timestamp::MAX]);
    (
        prop::sample::select(PriorityClass::ALL.to_vec()),
        t.clone(),
        t,
        prop::sample::select(vec![0u64, 1, 2, u64::MAX]),
    )
        .prop_map(|(class, due, submitted, case)| QueueKey {
            class,
            due,
            submitted,
            case: CaseId(case),
        })
}

fn key_strategy() -> impl Strategy<Value = QueueKey> {
    prop_oneof![any_key(), clashing_key()]
}

/// SPEC's order written out by hand: class (critical first), due time,
/// submission time, case id.
fn spec_order(a: &QueueKey, b: &QueueKey) -> Ordering {
    let rank = |c: PriorityClass| match c {
        PriorityClass::Critical => 0,
        PriorityClass::High => 1,
        PriorityClass::Normal => 2,
        PriorityClass::Low => 3,
    };
    rank(a.class)
        .cmp(&rank(b.class))
        .then(a.due.as_millis().cmp(&b.due.as_millis()))
        .then(a.submitted.as_millis().cmp(&b.submitted.as_millis()))
        .then(a.case.0.cmp(&b.case.0))
}

proptest! {
    #![proptest_config(config())]

    /// The comparator is SPEC's lexicographic order, and so a total order:
    /// antisymmetric, transitive, total, and equal only for equal keys (so
    /// keys of distinct cases never compare equal).
    #[test]
    fn queue_key_is_a_total_order(a in key_strategy(), b in key_strategy(), c in key_strategy()) {
        for (x, y) in [(&a, &b), (&b, &c), (&a, &c)] {
            prop_assert_eq!(x.cmp(y), spec_order(x, y), "{:?} vs {:?}", x, y);
            prop_assert_eq!(x.cmp(y), y.cmp(x).reverse(), "antisymmetric");
            prop_assert_eq!(x.partial_cmp(y), Some(x.cmp(y)));
            prop_assert_eq!(x.cmp(y) == Ordering::Equal, x == y);
            if x.case != y.case {
                prop_assert_ne!(x.cmp(y), Ordering::Equal, "distinct cases never compare equal");
            }
        }
        if a <= b && b <= c {
            prop_assert!(a <= c, "transitive");
        }
        if a < b && b < c {
            prop_assert!(a < c, "transitive");
        }
    }

    /// Sorting any set of keys gives a sequence every pair of which is in order.
    #[test]
    fn sorted_keys_are_pairwise_ordered(mut keys in prop::collection::vec(key_strategy(), 0..24)) {
        keys.sort();
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i..] {
                prop_assert_ne!(spec_order(a, b), Ordering::Greater);
            }
        }
    }

    /// `encode(a) < encode(b)` exactly when `a < b`, and decoding gives the key back.
    #[test]
    fn encoding_sorts_like_the_keys(a in key_strategy(), b in key_strategy()) {
        let (ea, eb) = (a.encode(), b.encode());
        prop_assert_eq!(ea.len(), QUEUE_KEY_LEN);
        prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        prop_assert_eq!(ea < eb, a < b);
        prop_assert_eq!(QueueKey::decode(&ea), Ok(a));
        prop_assert_eq!(QueueKey::decode(&eb), Ok(b));
    }

    /// Decoding arbitrary bytes never panics; whatever decodes re-encodes to
    /// the same bytes.
    #[test]
    fn decoding_arbitrary_bytes(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        prop::collection::vec(any::<u8>(), QUEUE_KEY_LEN),
        key_strategy().prop_map(|k| k.encode().to_vec()),
    ]) {
        match QueueKey::decode(&bytes) {
            Ok(key) => prop_assert_eq!(key.encode().to_vec(), bytes),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

// ---------------------------------------------------------------------------
// QueuePolicy::key and due times
// ---------------------------------------------------------------------------

fn holidays_near(day: i64) -> impl Strategy<Value = BTreeSet<i64>> {
    prop::collection::btree_set(day - 3..day + 30, 0..12)
}

/// A policy with the default table and a random holiday calendar around
/// `day`.
fn policy_near(day: i64) -> impl Strategy<Value = QueuePolicy> {
    holidays_near(day).prop_map(|holidays| QueuePolicy {
        holidays,
        ..QueuePolicy::default()
    })
}

#[derive(Debug, Clone)]
struct Setup {
    policy: QueuePolicy,
    inputs: QueueInputs,
    case: CaseId,
}

fn setup_strategy() -> impl Strategy<Value = Setup> {
    (Y2000_MS..Y2100_MS).prop_flat_map(|created| {
        (
            policy_near(day_of(created)),
            prop::sample::select(Category::ALL.to_vec()),
            any::<bool>(),
            prop::sample::select(PerformanceTier::ALL.to_vec()),
            0..=10 * DAY_MS,
            any::<bool>(),
            any::<u64>(),
        )
            .prop_map(
                move |(policy, category, complex, tier, paused, duplicate, case)| Setup {
                    policy,
                    inputs: QueueInputs {
                        category,
                        complex,
                        tier,
                        created_at: ts(created),
                        paused: Span(paused),
                        duplicate,
                    },
                    case: CaseId(case),
                },
            )
    })
}

proptest! {
    #![proptest_config(config())]

    /// Demotion never raises a duplicate's position: its key is never before
    /// the same case's key without the flag, and its class is low.
    #[test]
    fn duplicates_are_never_promoted(s in setup_strategy()) {
        let plain = s.policy.key(&QueueInputs { duplicate: false, ..s.inputs.clone() }, s.case);
        let dup = s.policy.key(&QueueInputs { duplicate: true, ..s.inputs.clone() }, s.case);
        prop_assert!(dup >= plain, "{:?} before {:?}", dup, plain);
        prop_assert_eq!(dup.class, PriorityClass::Low);
        prop_assert_eq!(plain.class, s.inputs.category.default_class());
        prop_assert_eq!(dup.submitted, plain.submitted);
        prop_assert_eq!(dup.case, s.case);
        // The duplicate gets the low class's target for its due time.
        let low_target = s.policy.target(PriorityClass::Low, s.inputs.complex, s.inputs.tier);
        let low_due = s.policy.due_after(s.inputs.created_at, low_target).saturating_add(s.inputs.paused);
        prop_assert_eq!(dup.due, low_due);
    }

    /// Due time is monotone (non-decreasing) in submission time, with random
    /// holiday calendars.
    #[test]
    fn due_is_monotone_in_submission_time(s in setup_strategy(), later in 0..=10 * DAY_MS) {
        let first = s.policy.key(&s.inputs, s.case);
        let second_inputs = QueueInputs {
            created_at: s.inputs.created_at.saturating_add(Span(later)),
            ..s.inputs.clone()
        };
        let second = s.policy.key(&second_inputs, s.case);
        prop_assert!(first.due <= second.due, "submitted {} later, due {} → {}", later, first.due, second.due);
        prop_assert!(first <= second);
        prop_assert!(first.due >= first.submitted, "due before submission");
    }

    /// A better performance tier gets a strictly earlier due time (same other
    /// inputs), with or without holidays.
    #[test]
    fn better_tiers_are_due_strictly_sooner(s in setup_strategy()) {
        let due = |tier| s.policy.key(&QueueInputs { tier, ..s.inputs.clone() }, s.case).due;
        let (standard, good, high) = (due(PerformanceTier::Standard), due(PerformanceTier::Good), due(PerformanceTier::High));
        prop_assert!(high < good && good < standard, "standard {}, good {}, high {}", standard, good, high);
        // SPEC: about 30% shorter for the high tier, before holidays.
        let class = s.inputs.category.default_class();
        let base = s.policy.target(class, s.inputs.complex, PerformanceTier::Standard);
        let short = s.policy.target(class, s.inputs.complex, PerformanceTier::High);
        prop_assert_eq!(short.as_millis() * 10, base.as_millis() * 7);
    }

    /// More paused time never makes a case due sooner.
    #[test]
    fn more_pause_is_never_sooner(s in setup_strategy(), extra in 0..=10 * DAY_MS) {
        let less = s.policy.key(&s.inputs, s.case);
        let more = s.policy.key(&QueueInputs { paused: Span(s.inputs.paused.as_millis() + extra), ..s.inputs.clone() }, s.case);
        prop_assert!(less.due <= more.due);
        prop_assert!(less <= more);
    }

    /// The class order and the targets SPEC gives: critical 12 h, high and
    /// normal 24 h, complex 72 h (no holidays, standard tier, no pause).
    #[test]
    fn targets_follow_the_spec(created in Y2000_MS..Y2100_MS, category in prop::sample::select(Category::ALL.to_vec()), complex in any::<bool>()) {
        let policy = QueuePolicy::default();
        let inputs = QueueInputs {
            category, complex, tier: PerformanceTier::Standard,
            created_at: ts(created), paused: Span::ZERO, duplicate: false,
        };
        let key = policy.key(&inputs, CaseId(1));
        let hours = match (complex, category.default_class()) {
            (true, _) => Some(72),
            (false, PriorityClass::Critical) => Some(12),
            (false, PriorityClass::High | PriorityClass::Normal) => Some(24),
            (false, PriorityClass::Low) => None, // SPEC leaves it open
        };
        if let Some(h) = hours {
            prop_assert_eq!(key.due, ts(created + h * HOUR_MS));
        } else {
            prop_assert!(key.due > ts(created + 24 * HOUR_MS), "low is due after normal");
        }
    }
}

// ---------------------------------------------------------------------------
// due_after: brute-force oracles
// ---------------------------------------------------------------------------

/// Walks minute by minute from `start` (a whole minute), consuming a minute
/// of clock whenever that minute is not on a holiday, until `minutes` are
/// consumed.
fn minute_walk(start: i64, minutes: i64, holidays: &BTreeSet<i64>) -> i64 {
    let mut t = start;
    let mut left = minutes;
    while left > 0 {
        if !holidays.contains(&day_of(t)) {
            left -= 1;
        }
        t += MINUTE_MS;
    }
    t
}

/// Clock time (ms) outside holidays between `from` and `to`, counted day by day.
fn working_ms(from: i64, to: i64, holidays: &BTreeSet<i64>) -> i64 {
    let mut total = 0;
    let mut t = from;
    while t < to {
        let day_end = (day_of(t) + 1) * DAY_MS;
        let end = day_end.min(to);
        if !holidays.contains(&day_of(t)) {
            total += end - t;
        }
        t = end;
    }
    total
}

fn with_holidays(holidays: BTreeSet<i64>) -> QueuePolicy {
    QueuePolicy {
        holidays,
        ..QueuePolicy::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// For whole minutes, `due_after` lands where a minute-by-minute walk
    /// that skips holiday minutes lands.
    #[test]
    fn due_after_matches_a_minute_walk(
        (start_min, holidays) in (Y2000_MS / MINUTE_MS..Y2100_MS / MINUTE_MS)
            .prop_flat_map(|m| (Just(m), holidays_near(day_of(m * MINUTE_MS)))),
        minutes in 1i64..=4 * 24 * 60,
    ) {
        let start = start_min * MINUTE_MS;
        let policy = with_holidays(holidays.clone());
        let due = policy.due_after(ts(start), Span(minutes * MINUTE_MS));
        prop_assert_eq!(due.as_millis(), minute_walk(start, minutes, &holidays));
    }

    /// At millisecond precision: the clock time `due_after` consumes outside
    /// holidays equals the target, and for a positive target the due instant
    /// is never inside a holiday, except exactly at a holiday's first instant
    /// when the clock ran out at that midnight (the instant before it was
    /// working time). A zero target is due at once, or, starting on a
    /// holiday, when the holidays end.
    #[test]
    fn due_after_consumes_exactly_the_target(
        (start, holidays) in (Y2000_MS..Y2100_MS).prop_flat_map(|s| (Just(s), holidays_near(day_of(s)))),
        target in prop_oneof![Just(0i64), 1..=MINUTE_MS, 0..=12 * DAY_MS, Just(DAY_MS)],
    ) {
        let policy = with_holidays(holidays.clone());
        let due = policy.due_after(ts(start), Span(target)).as_millis();
        prop_assert!(due >= start);
        prop_assert_eq!(working_ms(start, due, &holidays), target);
        let on_holiday = |t: i64| holidays.contains(&day_of(t));
        if target > 0 {
            prop_assert!(
                !on_holiday(due) || (due % DAY_MS == 0 && !on_holiday(due - 1)),
                "due {} lands inside a holiday", ts(due)
            );
            // The earliest such instant: one ms less of target is due sooner.
            let sooner = policy.due_after(ts(start), Span(target - 1)).as_millis();
            prop_assert!(sooner < due);
        } else if on_holiday(start) {
            prop_assert!(!on_holiday(due) && on_holiday(due - 1) && due % DAY_MS == 0);
        } else {
            prop_assert_eq!(due, start);
        }
        // Negative targets count as zero.
        prop_assert_eq!(policy.due_after(ts(start), Span(-target - 1)), policy.due_after(ts(start), Span::ZERO));
    }

    /// Any start over the whole range, any target, any calendar (even days
    /// far outside the representable range): `due_after` ends, never before
    /// `start`, and saturates at `Timestamp::MAX`.
    #[test]
    fn due_after_is_total(
        start in any_ts(),
        target in prop_oneof![any::<i64>(), Just(i64::MAX), (0..=100 * 365 * DAY_MS)],
        holidays in prop::collection::btree_set(prop_oneof![
            any::<i64>(),
            Just(i64::MAX), Just(i64::MIN), Just(i64::MAX / DAY_MS), Just(MAX_MS / DAY_MS), Just(MIN_MS / DAY_MS),
            (MAX_MS / DAY_MS - 5..=MAX_MS / DAY_MS + 5),
        ], 0..8),
    ) {
        let policy = with_holidays(holidays);
        let due = policy.due_after(start, Span(target));
        prop_assert!(due >= start || due == Timestamp::MAX);
        if target > MAX_MS - MIN_MS {
            prop_assert_eq!(due, Timestamp::MAX);
        }
    }
}

#[test]
fn due_after_edge_cases() {
    let policy = QueuePolicy::default();
    // Saturates instead of running forever.
    assert_eq!(policy.due_after(Timestamp::MAX, Span(i64::MAX)), Timestamp::MAX);
    assert_eq!(policy.due_after(Timestamp::MIN, Span(i64::MAX)), Timestamp::MAX);
    let mut last_day = QueuePolicy::default();
    last_day.add_holiday(Timestamp::MAX);
    last_day.holidays.insert(i64::MAX / DAY_MS);
    last_day.holidays.insert(i64::MAX);
    assert_eq!(last_day.due_after(Timestamp::MAX, Span(1)), Timestamp::MAX);
    assert_eq!(
        last_day.due_after(Timestamp::MAX.start_of_day(), Span(1)),
        Timestamp::MAX
    );
    assert_eq!(last_day.due_after(Timestamp::MIN, Span(i64::MAX)), Timestamp::MAX);

    // A Friday-evening critical case with a holiday on Monday 2026-03-02.
    let mut policy = QueuePolicy::default();
    policy.add_holiday(Timestamp::parse_day("2026-03-02").unwrap());
    let t = |s| Timestamp::parse_rfc3339(s).unwrap();
    assert_eq!(
        policy.due_after(t("2026-03-01T18:00:00Z"), Span::hours(12)),
        t("2026-03-03T06:00:00Z")
    );
    // Starting on the holiday: the clock starts when it ends.
    assert_eq!(
        policy.due_after(t("2026-03-02T09:00:00Z"), Span::hours(12)),
        t("2026-03-03T12:00:00Z")
    );
    // Running out exactly at the holiday's midnight.
    assert_eq!(
        policy.due_after(t("2026-03-01T12:00:00Z"), Span::hours(12)),
        t("2026-03-02T00:00:00Z")
    );
}

// ---------------------------------------------------------------------------
// find_duplicate
// ---------------------------------------------------------------------------

/// Titles, each with the group of titles it normalises equal to. `None`:
/// nothing left after normalisation, which matches no other title.
const TITLES: &[(&str, Option<u8>)] = &[
    ("ASIN suppressed", Some(0)),
    ("asin SUPPRESSED", Some(0)),
    ("  ASIN   suppressed!!", Some(0)),
    ("asin-suppressed?", Some(0)),
    ("Payment held", Some(1)),
    ("PAYMENT, held.", Some(1)),
    ("Payment held twice", Some(2)),
    ("我的账户被停用了", Some(3)),
    ("我的账户被停用了！", Some(3)),
    ("", None),
    ("!!! ---", None),
];

const CATEGORIES: &[Category] = &[Category::Listing, Category::Payments, Category::AccountHealth];

fn orders() -> Vec<OrderId> {
    ["112-1234567-1234567", "113-7654321-7654321", "114-0000000-0000001"]
        .iter()
        .map(|o| OrderId::parse(o).unwrap())
        .collect()
}

fn asins() -> Vec<Asin> {
    ["B08XYZ1234", "B00000000X", "0306406152"]
        .iter()
        .map(|a| Asin::parse(a).unwrap())
        .collect()
}

/// One case for the duplicate rule, as indices into the pools above.
#[derive(Debug, Clone)]
struct Facts {
    id: u64,
    status: Status,
    category: usize,
    title: usize,
    orders: Vec<usize>,
    asins: Vec<usize>,
    /// Minutes relative to the new case (negative: before it).
    minutes: i64,
}

fn facts_strategy() -> impl Strategy<Value = Facts> {
    (
        prop::sample::select(Status::ALL.to_vec()),
        0..CATEGORIES.len(),
        0..TITLES.len(),
        prop::collection::vec(0..3usize, 0..2),
        prop::collection::vec(0..3usize, 0..2),
        prop_oneof![-300i64..=60, Just(-120), Just(-121), Just(0)],
    )
        .prop_map(|(status, category, title, orders, asins, minutes)| Facts {
            id: 0,
            status,
            category,
            title,
            orders,
            asins,
            minutes,
        })
}

/// Recent cases with distinct ids (random, so id order is not list order).
fn recent_strategy() -> impl Strategy<Value = Vec<Facts>> {
    prop::collection::vec((facts_strategy(), any::<u32>()), 0..10).prop_map(|v| {
        let mut seen = BTreeSet::new();
        v.into_iter()
            .filter(|(_, id)| seen.insert(*id))
            .map(|(f, id)| Facts { id: u64::from(id), ..f })
            .collect()
    })
}

/// The duplicate rule written from SPEC.md: same tenant (given), non-final,
/// created within the cooldown before the new case, with the same category
/// and normalised title or a shared order id or ASIN; the most recent wins,
/// then the highest id.
fn oracle(new: &Facts, recent: &[Facts], cooldown_minutes: i64) -> Option<u64> {
    let mut best: Option<&Facts> = None;
    for old in recent {
        let age = -old.minutes; // new is at minute 0
        if old.status == Status::Closed || old.status == Status::Merged || age < 0 || age > cooldown_minutes {
            continue;
        }
        let same_title =
            old.category == new.category && TITLES[old.title].1.is_some() && TITLES[old.title].1 == TITLES[new.title].1;
        let shared_order = old.orders.iter().any(|o| new.orders.contains(o));
        let shared_asin = old.asins.iter().any(|a| new.asins.contains(a));
        if !(same_title || shared_order || shared_asin) {
            continue;
        }
        if best.is_none_or(|b| (old.minutes, old.id) > (b.minutes, b.id)) {
            best = Some(old);
        }
    }
    best.map(|b| b.id)
}

type Refs = (Vec<OrderId>, Vec<Asin>);

fn refs_of(f: &Facts) -> Refs {
    let (orders, asins) = (orders(), asins());
    (
        f.orders.iter().map(|&i| orders[i].clone()).collect(),
        f.asins.iter().map(|&i| asins[i].clone()).collect(),
    )
}

fn to_facts<'a>(f: &Facts, refs: &'a Refs, now: Timestamp) -> DuplicateFacts<'a> {
    DuplicateFacts {
        id: CaseId(f.id),
        status: f.status,
        category: CATEGORIES[f.category],
        title: TITLES[f.title].0,
        orders: &refs.0,
        asins: &refs.1,
        created_at: now.saturating_add(Span(f.minutes * MINUTE_MS)),
    }
}

fn run_find(new: &Facts, recent: &[Facts], now: Timestamp, policy: &QueuePolicy) -> Option<CaseId> {
    let new_refs = refs_of(new);
    let owned: Vec<Refs> = recent.iter().map(refs_of).collect();
    let recent_facts: Vec<DuplicateFacts<'_>> = recent.iter().zip(&owned).map(|(f, r)| to_facts(f, r, now)).collect();
    find_duplicate(&to_facts(new, &new_refs, now), &recent_facts, policy)
}

proptest! {
    #![proptest_config(config())]

    /// `find_duplicate` agrees with the brute-force rule, and its answer does
    /// not depend on the order of `recent`.
    #[test]
    fn find_duplicate_matches_the_rule(
        new in facts_strategy(),
        (recent, shuffled) in recent_strategy().prop_flat_map(|r| (Just(r.clone()), Just(r).prop_shuffle())),
        now in Y2000_MS..Y2100_MS,
        cooldown_minutes in prop_oneof![Just(120i64), 0i64..=300],
    ) {
        let new = Facts { minutes: 0, ..new };
        let policy = QueuePolicy { duplicate_cooldown: Span(cooldown_minutes * MINUTE_MS), ..QueuePolicy::default() };
        let got = run_find(&new, &recent, ts(now), &policy);
        prop_assert_eq!(got.map(|c| c.0), oracle(&new, &recent, cooldown_minutes));
        prop_assert_eq!(run_find(&new, &shuffled, ts(now), &policy), got);
        let mut reversed = recent.clone();
        reversed.reverse();
        prop_assert_eq!(run_find(&new, &reversed, ts(now), &policy), got);
    }

    /// Titles equal up to case, punctuation and spacing normalise equal.
    #[test]
    fn normalised_titles_group_as_expected(a in 0..TITLES.len(), b in 0..TITLES.len()) {
        let (na, nb) = (normalise_title(TITLES[a].0), normalise_title(TITLES[b].0));
        match (TITLES[a].1, TITLES[b].1) {
            (None, _) => prop_assert!(na.is_empty()),
            (Some(ga), Some(gb)) => prop_assert_eq!(na == nb, ga == gb, "{:?} vs {:?}", na, nb),
            (Some(_), None) => prop_assert!(!na.is_empty()),
        }
    }
}

#[test]
fn duplicate_cooldown_is_inclusive_and_two_hours_by_default() {
    let policy = QueuePolicy::default();
    assert_eq!(policy.duplicate_cooldown, Span::hours(2));
    let new = Facts {
        id: 0,
        status: Status::Open,
        category: 0,
        title: 0,
        orders: vec![],
        asins: vec![],
        minutes: 0,
    };
    let old = |id, minutes, status| Facts {
        id,
        minutes,
        status,
        title: 1,
        ..new.clone()
    };
    let now = ts(1_768_552_200_000);
    assert_eq!(
        run_find(&new, &[old(7, -120, Status::Open)], now, &policy),
        Some(CaseId(7))
    );
    assert_eq!(run_find(&new, &[old(7, -121, Status::Open)], now, &policy), None);
    assert_eq!(run_find(&new, &[old(7, -5, Status::Closed)], now, &policy), None);
    assert_eq!(run_find(&new, &[old(7, -5, Status::Merged)], now, &policy), None);
    assert_eq!(
        run_find(&new, &[old(7, -5, Status::Resolved)], now, &policy),
        Some(CaseId(7))
    );
    // The most recent wins, then the highest id.
    let both = [
        old(3, -10, Status::Open),
        old(9, -60, Status::InProgress),
        old(5, -10, Status::Open),
    ];
    assert_eq!(run_find(&new, &both, now, &policy), Some(CaseId(5)));
}

// ---------------------------------------------------------------------------
// Business calendars: weekly working hours in a time zone
// ---------------------------------------------------------------------------

/// Zones with daylight-saving changes in both hemispheres, a half-hour
/// offset without one, a 30-minute DST shift (Lord Howe), and UTC.
const ZONES: [&str; 6] = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "UTC",
];

/// One weekday's working hours: up to two ranges on a half-hour grid
/// (half-hours so that ranges often start or end inside a DST gap or fold).
fn day_hours() -> impl Strategy<Value = Vec<BusinessHours>> {
    prop::collection::btree_set(0u16..=48, 0..=4).prop_map(|cuts| {
        let cuts: Vec<u16> = cuts.into_iter().collect();
        cuts.chunks_exact(2)
            .filter_map(|pair| match pair {
                [a, b] => BusinessHours::new(a * 30, b * 30).ok(),
                _ => None,
            })
            // Two ranges that touch are refused; keep the first.
            .fold(Vec::new(), |mut acc: Vec<BusinessHours>, h| {
                if acc.last().is_none_or(|l| l.end_minute() < h.start_minute()) {
                    acc.push(h);
                }
                acc
            })
    })
}

fn calendar_strategy() -> impl Strategy<Value = BusinessCalendar> {
    (
        prop::sample::select(ZONES.to_vec()),
        prop::array::uniform7(day_hours()),
        prop::sample::select(vec![0usize, 1, 2, 3, 4, 5, 6]),
    )
        .prop_map(|(zone, mut week, open_day)| {
            // The week must have working time somewhere.
            if week.iter().all(Vec::is_empty) {
                if let Some(day) = week.get_mut(open_day) {
                    day.push(BusinessHours::hours(9, 17).expect("valid hours"));
                }
            }
            BusinessCalendar::new(zone, week).expect("generated calendars are valid")
        })
}

/// A start near one of the zone's offset transitions (or anywhere in
/// 2000-2100 for a zone without them), as whole minutes.
fn start_near_transition(zone: &str, year: i16, pick: usize, shift_min: i64) -> i64 {
    let tz = jiff::tz::TimeZone::get(zone).expect("bundled zone");
    let from = jiff::civil::date(year, 1, 1).to_datetime(jiff::civil::Time::midnight());
    let from = tz.to_timestamp(from).expect("in range");
    let transitions: Vec<i64> = tz
        .following(from)
        .take(2)
        .map(|t| t.timestamp().as_millisecond())
        .collect();
    let base = transitions
        .get(pick % transitions.len().max(1))
        .copied()
        .unwrap_or_else(|| from.as_millisecond() + 150 * DAY_MS);
    (base.div_euclid(MINUTE_MS) + shift_min) * MINUTE_MS
}

/// The oracle: walks minute by minute from `start` (a whole minute),
/// converting each minute to local time with jiff, and counts it when its
/// local weekday's ranges hold its local time and its local date is not a
/// holiday. Returns the end of the minute that completes `minutes`.
fn business_minute_walk(
    calendar: &BusinessCalendar,
    start: i64,
    minutes: i64,
    holidays: &BTreeSet<jiff::civil::Date>,
) -> i64 {
    let tz = jiff::tz::TimeZone::get(calendar.zone_name()).expect("bundled zone");
    let mut t = start;
    let mut left = minutes;
    while left > 0 {
        let local = tz.to_datetime(jiff::Timestamp::from_millisecond(t).expect("in range"));
        let weekday = usize::try_from(local.weekday().to_monday_zero_offset()).expect("0..7");
        let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).expect("0..1440");
        let working = !holidays.contains(&local.date())
            && calendar
                .hours(weekday)
                .iter()
                .any(|h| (h.start_minute()..h.end_minute()).contains(&minute));
        if working {
            left -= 1;
        }
        t += MINUTE_MS;
    }
    t
}

/// Holidays as local dates near `start`, and the same as day numbers.
fn holidays_as_dates(days: &BTreeSet<i64>) -> BTreeSet<jiff::civil::Date> {
    days.iter()
        .map(|d| {
            jiff::tz::TimeZone::UTC
                .to_datetime(jiff::Timestamp::from_millisecond(d * DAY_MS).expect("in range"))
                .date()
        })
        .collect()
}

fn week_minutes(calendar: &BusinessCalendar) -> i64 {
    (0..7)
        .flat_map(|d| calendar.hours(d).to_vec())
        .map(|h| i64::from(h.end_minute() - h.start_minute()))
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Business due times land where a minute walk with jiff's local time
    /// lands, for random weekly calendars in zones with DST changes (starts
    /// placed around a transition, so weekends and the change both fall in
    /// the walk) and random holidays.
    #[test]
    fn business_due_matches_a_minute_walk(
        calendar in calendar_strategy(),
        year in 2001i16..2060,
        pick in 0usize..2,
        shift_min in -5 * 24 * 60i64..=2 * 24 * 60,
        holiday_offsets in prop::collection::btree_set(-2i64..14, 0..4),
        target_fraction in 1i64..=200,
    ) {
        let start = start_near_transition(calendar.zone_name(), year, pick, shift_min);
        let holidays: BTreeSet<i64> = holiday_offsets.iter().map(|o| day_of(start) + o).collect();
        // Up to twice a week's working time, so the walk stays short.
        let minutes = (week_minutes(&calendar) * target_fraction / 100).max(1);
        let policy = QueuePolicy { calendar: calendar.clone(), holidays: holidays.clone(), ..QueuePolicy::default() };
        let due = policy.due_after(ts(start), Span(minutes * MINUTE_MS));
        let walked = business_minute_walk(&calendar, start, minutes, &holidays_as_dates(&holidays));
        prop_assert_eq!(due.as_millis(), walked, "{:?} from {} for {} min", calendar, ts(start), minutes);
    }

    /// With any calendar and holidays, the due time is monotone in the
    /// submission time and never before it.
    #[test]
    fn business_due_is_monotone_in_submission_time(
        calendar in calendar_strategy(),
        start in Y2000_MS..Y2100_MS,
        later in prop_oneof![0..=MINUTE_MS, 0..=10 * DAY_MS],
        holiday_offsets in prop::collection::btree_set(-2i64..30, 0..8),
        target in prop_oneof![Just(0i64), 1..=MINUTE_MS, 0..=6 * DAY_MS],
    ) {
        let holidays = holiday_offsets.iter().map(|o| day_of(start) + o).collect();
        let policy = QueuePolicy { calendar, holidays, ..QueuePolicy::default() };
        let first = policy.due_after(ts(start), Span(target));
        let second = policy.due_after(ts(start + later), Span(target));
        prop_assert!(first >= ts(start));
        prop_assert!(first <= second, "submitted {} ms later, due {} -> {}", later, first, second);
        // More target is never sooner.
        prop_assert!(policy.due_after(ts(start), Span(target + later)) >= first);
    }
}

#[test]
fn business_hours_examples() {
    let t = |s| Timestamp::parse_rfc3339(s).expect("valid time");
    let nine_to_five = BusinessHours::hours(9, 17).expect("valid");
    let new_york = BusinessCalendar::weekdays("America/New_York", &[nine_to_five]).expect("valid");
    let policy = QueuePolicy {
        calendar: new_york,
        ..QueuePolicy::default()
    };
    let mut with_holiday = policy.clone();
    with_holiday.add_holiday(t("2026-03-09T13:00:00Z"));
    // The default stays SPEC's: every hour of every day, UTC.
    let default = QueuePolicy::default();
    assert_eq!(default.calendar, BusinessCalendar::always_open());
    // (policy, submitted, target hours, due, why)
    let cases = [
        (
            &policy,
            "2026-03-06T21:00:00Z",
            12,
            "2026-03-10T16:00:00Z",
            "Friday 16:00 EST: 1 h Friday, clocks forward on Sunday, 11 h from Monday 09:00 EDT",
        ),
        (
            &policy,
            "2026-03-07T15:00:00Z",
            1,
            "2026-03-09T14:00:00Z",
            "Saturday: the clock starts Monday 09:00 EDT",
        ),
        (
            &with_holiday,
            "2026-03-07T15:00:00Z",
            1,
            "2026-03-10T14:00:00Z",
            "a holiday on Monday (a local date)",
        ),
        (
            &default,
            "2026-03-07T15:00:00Z",
            12,
            "2026-03-08T03:00:00Z",
            "the default counts every hour",
        ),
    ];
    for (p, start, hours, due, why) in cases {
        assert_eq!(p.due_after(t(start), Span::hours(hours)), t(due), "{why}");
    }
}

#[test]
fn bad_calendars_are_typed_errors() {
    assert!(matches!(
        BusinessCalendar::weekdays("Mars/Olympus_Mons", &[BusinessHours::ALL_DAY]),
        Err(ValidationError::Unknown { .. })
    ));
    assert!(matches!(
        BusinessHours::new(600, 600),
        Err(ValidationError::OutOfRange { .. })
    ));
    assert!(matches!(
        BusinessHours::new(0, 1441),
        Err(ValidationError::OutOfRange { .. })
    ));
    let (a, b) = (
        BusinessHours::hours(9, 13).expect("valid"),
        BusinessHours::hours(12, 17).expect("valid"),
    );
    assert!(matches!(
        BusinessCalendar::weekdays("UTC", &[a, b]),
        Err(ValidationError::Malformed { .. })
    ));
    assert!(matches!(
        BusinessCalendar::weekdays("UTC", &[b, a]),
        Err(ValidationError::Malformed { .. })
    ));
    assert!(matches!(
        BusinessCalendar::new("UTC", Default::default()),
        Err(ValidationError::Empty { .. })
    ));
}
