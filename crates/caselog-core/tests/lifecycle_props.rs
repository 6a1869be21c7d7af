//! Property tests of the case lifecycle (SPEC.md, "Lifecycle").
//!
//! Random actors, random events (every `CaseEvent` variant, deadlines before
//! and after the event) and random time steps (sometimes backwards) are fed
//! to `transition`; every outcome is checked against an independent model
//! built from SPEC.md's "who may move it" list, every accepted state against
//! the `CaseState` invariants, and every trail against `replay`.

use caselog_core::*;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1000,
        ..ProptestConfig::default()
    }
}

const MINUTE_MS: i64 = 60_000;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms).expect("test timestamps are in range")
}

fn at(t: Timestamp, ms: i64) -> Timestamp {
    t.saturating_add(Span(ms))
}

/// The surviving case of a merge, as `CaseEvent::MergeInto` takes it.
fn merge_target(n: u64) -> CaseNumber {
    CaseNumber::generated(n % 1_000_000).expect("a small n gives an 11-digit number")
}

fn seller() -> Actor {
    Actor::Seller(UserId::parse("ops@example.com").expect("valid user"))
}

fn support() -> Actor {
    Actor::Support(UserId::parse("agent-7").expect("valid user"))
}

fn actor_of(role: Role) -> Actor {
    match role {
        Role::Seller => seller(),
        Role::Support => support(),
        Role::System => Actor::System,
    }
}

/// Builds an event of `kind` at `now`; `deadline_ms` is the reply deadline
/// relative to `now` (may be in the past), `target` picks the merge target.
fn event_of(kind: EventKind, now: Timestamp, deadline_ms: i64, target: u64) -> CaseEvent {
    match kind {
        EventKind::Create => CaseEvent::Create,
        EventKind::Reply => CaseEvent::Reply,
        EventKind::PickUp => CaseEvent::PickUp,
        EventKind::RequestInfo => CaseEvent::RequestInfo {
            deadline: at(now, deadline_ms),
        },
        EventKind::Resolve => CaseEvent::Resolve,
        EventKind::Close => CaseEvent::Close,
        EventKind::MergeInto => CaseEvent::MergeInto {
            target: merge_target(target),
        },
        EventKind::AutoClose => CaseEvent::AutoClose,
        EventKind::DeadlineExpired => CaseEvent::DeadlineExpired,
        EventKind::Transfer => CaseEvent::Transfer {
            category: Category::ALL[(target % 12) as usize],
            marketplace: (target % 3 == 0).then(|| Marketplace::parse("DE").expect("valid marketplace")),
        },
        EventKind::Assign => CaseEvent::Assign {
            to: UserId::parse(if target % 2 == 0 { "agent-9" } else { "buyer-2" }).expect("valid user"),
        },
        EventKind::Release => CaseEvent::Release,
        EventKind::SetComplex => CaseEvent::SetComplex {
            complex: target % 2 == 0,
        },
    }
}

// ---------------------------------------------------------------------------
// The expectation table, written by hand from SPEC.md's Lifecycle section.
// ---------------------------------------------------------------------------

/// What the rules do with one (status, role, event kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    /// Accepted; the case moves to (or stays in) this status.
    To(Status),
    /// Refused: the timer event is not due yet.
    NotYetDue,
}

use Out::{NotYetDue, To};
use Status::{Closed, InProgress, Merged, NeedsAttention, Open, Resolved};

/// Every allowed (status, role, event kind), with its outcome while the
/// status's timer has not run out ("early") and after it has ("late"). The
/// timer is the reopen window for `resolved` and the reply deadline for
/// `needs_attention`; other statuses have none, so both columns agree.
/// Anything not listed is refused: `NotAllowed` for a non-final status,
/// `Final` for `closed` and `merged`.
///
/// Sources (SPEC.md, Lifecycle, "Who may move it"):
/// - seller: reply (needs_attention → in_progress; resolved within the
///   reopen window → in_progress; otherwise no status change); close (any
///   non-final → closed). Create is `create`, never a transition.
/// - support: pick up (open → in_progress); request information
///   (open/in_progress → needs_attention); resolve (open, in_progress,
///   needs_attention → resolved); merge (non-final → merged); reply without
///   a status change; transfer, assign, release and mark complex in any
///   non-final status, without a status change (routing, not a response).
/// - seller: hand a case to a colleague or take it back (assign, release;
///   Domain model: "a seller may hand a case to a colleague").
/// - system: auto-close (resolved past the reopen window → closed);
///   needs_attention past its reply deadline → resolved. System messages
///   (Domain model: "messages from the seller, support or the system") are
///   replies without a status change.
#[rustfmt::skip]
const ALLOWED: &[(Status, Role, EventKind, Out, Out)] = &[
    // status          role           event                         early                  late
    (Open,           Role::Seller,  EventKind::Reply,           To(Open),           To(Open)),
    (InProgress,     Role::Seller,  EventKind::Reply,           To(InProgress),     To(InProgress)),
    (NeedsAttention, Role::Seller,  EventKind::Reply,           To(InProgress),     To(InProgress)),
    (Resolved,       Role::Seller,  EventKind::Reply,           To(InProgress),     To(Resolved)),
    (Open,           Role::Seller,  EventKind::Close,           To(Closed),         To(Closed)),
    (InProgress,     Role::Seller,  EventKind::Close,           To(Closed),         To(Closed)),
    (NeedsAttention, Role::Seller,  EventKind::Close,           To(Closed),         To(Closed)),
    (Resolved,       Role::Seller,  EventKind::Close,           To(Closed),         To(Closed)),

    (Open,           Role::Support, EventKind::PickUp,          To(InProgress),     To(InProgress)),
    (Open,           Role::Support, EventKind::RequestInfo,     To(NeedsAttention), To(NeedsAttention)),
    (InProgress,     Role::Support, EventKind::RequestInfo,     To(NeedsAttention), To(NeedsAttention)),
    (Open,           Role::Support, EventKind::Resolve,         To(Resolved),       To(Resolved)),
    (InProgress,     Role::Support, EventKind::Resolve,         To(Resolved),       To(Resolved)),
    (NeedsAttention, Role::Support, EventKind::Resolve,         To(Resolved),       To(Resolved)),
    (Open,           Role::Support, EventKind::MergeInto,       To(Merged),         To(Merged)),
    (InProgress,     Role::Support, EventKind::MergeInto,       To(Merged),         To(Merged)),
    (NeedsAttention, Role::Support, EventKind::MergeInto,       To(Merged),         To(Merged)),
    (Resolved,       Role::Support, EventKind::MergeInto,       To(Merged),         To(Merged)),
    (Open,           Role::Support, EventKind::Reply,           To(Open),           To(Open)),
    (InProgress,     Role::Support, EventKind::Reply,           To(InProgress),     To(InProgress)),
    (NeedsAttention, Role::Support, EventKind::Reply,           To(NeedsAttention), To(NeedsAttention)),
    (Resolved,       Role::Support, EventKind::Reply,           To(Resolved),       To(Resolved)),

    (Resolved,       Role::System,  EventKind::AutoClose,       NotYetDue,          To(Closed)),
    (NeedsAttention, Role::System,  EventKind::DeadlineExpired, NotYetDue,          To(Resolved)),
    (Open,           Role::System,  EventKind::Reply,           To(Open),           To(Open)),
    (InProgress,     Role::System,  EventKind::Reply,           To(InProgress),     To(InProgress)),
    (NeedsAttention, Role::System,  EventKind::Reply,           To(NeedsAttention), To(NeedsAttention)),
    (Resolved,       Role::System,  EventKind::Reply,           To(Resolved),       To(Resolved)),

    (Open,           Role::Support, EventKind::Transfer,        To(Open),              To(Open)),
    (Open,           Role::Support, EventKind::Assign,          To(Open),              To(Open)),
    (Open,           Role::Support, EventKind::Release,         To(Open),              To(Open)),
    (Open,           Role::Support, EventKind::SetComplex,      To(Open),              To(Open)),
    (Open,           Role::Seller,  EventKind::Assign,          To(Open),              To(Open)),
    (Open,           Role::Seller,  EventKind::Release,         To(Open),              To(Open)),
    (InProgress,     Role::Support, EventKind::Transfer,        To(InProgress),        To(InProgress)),
    (InProgress,     Role::Support, EventKind::Assign,          To(InProgress),        To(InProgress)),
    (InProgress,     Role::Support, EventKind::Release,         To(InProgress),        To(InProgress)),
    (InProgress,     Role::Support, EventKind::SetComplex,      To(InProgress),        To(InProgress)),
    (InProgress,     Role::Seller,  EventKind::Assign,          To(InProgress),        To(InProgress)),
    (InProgress,     Role::Seller,  EventKind::Release,         To(InProgress),        To(InProgress)),
    (NeedsAttention, Role::Support, EventKind::Transfer,        To(NeedsAttention),    To(NeedsAttention)),
    (NeedsAttention, Role::Support, EventKind::Assign,          To(NeedsAttention),    To(NeedsAttention)),
    (NeedsAttention, Role::Support, EventKind::Release,         To(NeedsAttention),    To(NeedsAttention)),
    (NeedsAttention, Role::Support, EventKind::SetComplex,      To(NeedsAttention),    To(NeedsAttention)),
    (NeedsAttention, Role::Seller,  EventKind::Assign,          To(NeedsAttention),    To(NeedsAttention)),
    (NeedsAttention, Role::Seller,  EventKind::Release,         To(NeedsAttention),    To(NeedsAttention)),
    (Resolved,       Role::Support, EventKind::Transfer,        To(Resolved),          To(Resolved)),
    (Resolved,       Role::Support, EventKind::Assign,          To(Resolved),          To(Resolved)),
    (Resolved,       Role::Support, EventKind::Release,         To(Resolved),          To(Resolved)),
    (Resolved,       Role::Support, EventKind::SetComplex,      To(Resolved),          To(Resolved)),
    (Resolved,       Role::Seller,  EventKind::Assign,          To(Resolved),          To(Resolved)),
    (Resolved,       Role::Seller,  EventKind::Release,         To(Resolved),          To(Resolved)),
];

fn table(status: Status, role: Role, kind: EventKind) -> Option<(Out, Out)> {
    ALLOWED
        .iter()
        .find(|(s, r, k, _, _)| *s == status && *r == role && *k == kind)
        .map(|&(_, _, _, early, late)| (early, late))
}

/// The refusal the model expects, by variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Final,
    NotAllowed,
    NotYetDue,
    DeadlineNotInFuture,
    ClockBehind,
}

fn refusal_of(err: &TransitionError) -> Refusal {
    match err {
        TransitionError::Final { .. } => Refusal::Final,
        TransitionError::NotAllowed { .. } => Refusal::NotAllowed,
        TransitionError::NotYetDue { .. } => Refusal::NotYetDue,
        TransitionError::DeadlineNotInFuture { .. } => Refusal::DeadlineNotInFuture,
        TransitionError::ClockBehind { .. } => Refusal::ClockBehind,
        other => panic!("unknown TransitionError variant {other:?}"),
    }
}

/// Whether the timer of the case's current status has run out at `now`
/// (SPEC: "within the reopen window" is inclusive; "past" the window or
/// deadline means strictly after it).
fn timer_ran_out(state: &CaseState, now: Timestamp, policy: &LifecyclePolicy) -> bool {
    match state.status {
        Resolved => {
            let resolved = state.resolved_at.expect("a resolved case has resolved_at");
            now > resolved.saturating_add(policy.reopen_window)
        }
        NeedsAttention => now > state.reply_deadline.expect("a needs_attention case has a deadline"),
        _ => false,
    }
}

/// The model's expectation for one event: the status it leads to, or the
/// refusal. `None` refusal detail for a clock behind the last change means
/// "any refusal" when the rules alone would refuse too.
fn model(
    state: &CaseState,
    role: Role,
    event: &CaseEvent,
    now: Timestamp,
    policy: &LifecyclePolicy,
) -> Result<Status, Vec<Refusal>> {
    if state.status.is_final() {
        return Err(vec![Refusal::Final]);
    }
    let by_rules = match table(state.status, role, event.kind()) {
        None => Err(Refusal::NotAllowed),
        Some((early, late)) => match if timer_ran_out(state, now, policy) { late } else { early } {
            NotYetDue => Err(Refusal::NotYetDue),
            To(to) => match event {
                CaseEvent::RequestInfo { deadline } if *deadline <= now => Err(Refusal::DeadlineNotInFuture),
                _ => Ok(to),
            },
        },
    };
    if now < state.updated_at {
        // An event from before the last change is refused; if the rules
        // would refuse it anyway, either reason is a correct answer.
        return Err(match by_rules {
            Ok(_) => vec![Refusal::ClockBehind],
            Err(r) => vec![Refusal::ClockBehind, r],
        });
    }
    by_rules.map_err(|r| vec![r])
}

// ---------------------------------------------------------------------------
// Invariants
// ---------------------------------------------------------------------------

/// What every state the rules produce must satisfy.
fn check_invariants(s: &CaseState) -> Result<(), TestCaseError> {
    let st = s.status;
    prop_assert_eq!(
        s.reply_deadline.is_some(),
        st == NeedsAttention,
        "reply_deadline iff needs_attention: {:?}",
        s
    );
    prop_assert_eq!(s.closed_at.is_some(), st.is_final(), "closed_at iff final: {:?}", s);
    prop_assert_eq!(s.merged_into.is_some(), st == Merged, "merged_into iff merged: {:?}", s);
    prop_assert_eq!(
        s.paused_since.is_some(),
        st.pauses_clock(),
        "paused_since iff clock paused: {:?}",
        s
    );
    if st == Resolved {
        prop_assert!(s.resolved_at.is_some(), "a resolved case has resolved_at: {:?}", s);
    }
    if matches!(st, Open | InProgress | NeedsAttention) {
        prop_assert!(
            s.resolved_at.is_none(),
            "resolved_at is cleared when the case reopens: {:?}",
            s
        );
    }
    if matches!(st, InProgress | NeedsAttention | Resolved) && s.first_response_at.is_none() {
        // in_progress and needs_attention only come from support or from a
        // seller's reply to support; resolved only from support or a timer
        // that support's request started.
        prop_assert!(false, "{} without a first response: {:?}", st, s);
    }
    prop_assert!(s.created_at <= s.updated_at, "{:?}", s);
    prop_assert!(s.paused_total >= Span::ZERO, "{:?}", s);
    for t in [s.first_response_at, s.resolved_at, s.closed_at, s.paused_since]
        .into_iter()
        .flatten()
    {
        prop_assert!(
            s.created_at <= t && t <= s.updated_at,
            "time {} outside created..updated: {:?}",
            t,
            s
        );
    }
    if let Some(closed) = s.closed_at {
        prop_assert_eq!(closed, s.updated_at, "nothing changes a case after it became final");
    }
    Ok(())
}

fn check_refusal(
    err: &TransitionError,
    status: Status,
    kind: EventKind,
    role: Role,
    expected: &[Refusal],
) -> Result<(), TestCaseError> {
    prop_assert!(
        expected.contains(&refusal_of(err)),
        "{:?} by {} in {}: got {:?}, expected one of {:?}",
        kind,
        role,
        status,
        err,
        expected
    );
    prop_assert_eq!(err.status(), status);
    prop_assert_eq!(err.event(), kind);
    prop_assert_eq!(err.actor(), role);
    let text = err.to_string();
    for name in [status.as_str(), kind.as_str(), role.as_str()] {
        prop_assert!(text.contains(name), "{:?} does not name {}", text, name);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Random walks
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Step {
    actor: Actor,
    kind: EventKind,
    /// Clock step from the previous event's time, in ms (may be negative).
    dt: i64,
    /// Reply deadline relative to the event's time, in ms (may be ≤ 0).
    deadline: i64,
    target: u64,
}

fn actor_strategy() -> impl Strategy<Value = Actor> {
    prop_oneof![
        prop::sample::select(vec!["ops@example.com", "buyer-2"]).prop_map(|u| Actor::Seller(UserId::parse(u).unwrap())),
        prop::sample::select(vec!["agent-7", "agent-9"]).prop_map(|u| Actor::Support(UserId::parse(u).unwrap())),
        Just(Actor::System),
    ]
}

fn dt_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => 0..=MINUTE_MS,
        4 => 0..=3 * DAY_MS,
        1 => Just(0i64),
        // Around the default 7-day reopen window.
        2 => (7 * DAY_MS - HOUR_MS)..=(7 * DAY_MS + HOUR_MS),
        // Backwards.
        1 => -2 * HOUR_MS..0,
    ]
}

/// Every event kind; the two that end a case are rarer so that walks get
/// deep into the lifecycle before they end.
fn kind_strategy() -> impl Strategy<Value = EventKind> {
    let ending = [EventKind::Close, EventKind::MergeInto];
    let others: Vec<EventKind> = EventKind::ALL.iter().copied().filter(|k| !ending.contains(k)).collect();
    prop_oneof![
        12 => prop::sample::select(others),
        1 => prop::sample::select(ending.to_vec()),
    ]
}

fn step_strategy() -> impl Strategy<Value = Step> {
    (
        actor_strategy(),
        kind_strategy(),
        dt_strategy(),
        prop_oneof![-DAY_MS..=0i64, 1..=5 * DAY_MS],
        any::<u64>(),
    )
        .prop_map(|(actor, kind, dt, deadline, target)| Step {
            actor,
            kind,
            dt,
            deadline,
            target,
        })
}

/// 2000-01-01 to 2100-01-01.
fn start_strategy() -> impl Strategy<Value = Timestamp> {
    (946_684_800_000i64..4_102_444_800_000).prop_map(ts)
}

fn policy_strategy() -> impl Strategy<Value = LifecyclePolicy> {
    prop_oneof![
        3 => Just(LifecyclePolicy::default()),
        1 => (0..=10 * DAY_MS).prop_map(|ms| LifecyclePolicy { reopen_window: Span(ms) }),
    ]
}

/// The outcome of a walk: the trail, the state after each accepted event
/// (index-aligned with the trail) and the clock at the end.
struct Walk {
    trail: Vec<RecordedEvent>,
    states: Vec<CaseState>,
    clock: Timestamp,
}

/// Runs `steps` from a fresh case, checking every step against the model,
/// the invariants and the refusal rules.
fn walk(t0: Timestamp, steps: &[Step], policy: &LifecyclePolicy) -> Result<Walk, TestCaseError> {
    let created = create(&seller(), t0).expect("a seller creates cases");
    prop_assert_eq!(&created.state, &CaseState::new(t0));
    prop_assert_eq!(created.record.from, None);
    prop_assert_eq!(created.record.to, Open);
    check_invariants(&created.state)?;

    let mut trail = vec![created.record];
    let mut states = vec![created.state];
    let mut clock = t0;
    // Time the first-response clock was paused, kept by the test itself.
    let mut paused = Span::ZERO;
    for step in steps {
        clock = at(clock, step.dt);
        let state = states.last().expect("at least the created state").clone();
        let role = step.actor.role();
        let event = event_of(step.kind, clock, step.deadline, step.target);
        let expected = model(&state, role, &event, clock, policy);
        match (transition(&state, &step.actor, &event, clock, policy), expected) {
            (Ok(t), Ok(to)) => {
                let next = &t.state;
                prop_assert_eq!(next.status, to, "{:?} by {} from {}", event, role, state.status);
                check_invariants(next)?;
                prop_assert_eq!(&t.record.at, &clock);
                prop_assert_eq!(&t.record.actor, &step.actor);
                prop_assert_eq!(&t.record.event, &event);
                prop_assert_eq!(t.record.from, Some(state.status));
                prop_assert_eq!(t.record.to, to);
                prop_assert_eq!(next.updated_at, clock);
                prop_assert!(next.updated_at >= state.updated_at, "updated_at is monotone");
                prop_assert_eq!(next.created_at, state.created_at);
                // The first response is set by support's first action and
                // never changes afterwards.
                match state.first_response_at {
                    Some(first) => prop_assert_eq!(next.first_response_at, Some(first)),
                    // Routing (transfer, assignment, complexity) is not a
                    // response to the seller.
                    None if role == Role::Support && !event.is_routing() => {
                        prop_assert_eq!(next.first_response_at, Some(clock))
                    }
                    None => prop_assert_eq!(next.first_response_at, None),
                }
                match &event {
                    CaseEvent::RequestInfo { deadline } => prop_assert_eq!(next.reply_deadline, Some(*deadline)),
                    CaseEvent::MergeInto { target } => prop_assert_eq!(next.merged_into.as_ref(), Some(target)),
                    _ => {}
                }
                if to == Resolved && state.status != Resolved {
                    prop_assert_eq!(next.resolved_at, Some(clock));
                }
                if to.is_final() {
                    prop_assert_eq!(next.closed_at, Some(clock));
                    // The resolution time is history: becoming final keeps it.
                    prop_assert_eq!(next.resolved_at, state.resolved_at);
                }
                // Pause accounting: the time since the previous change was
                // spent in the previous status.
                if state.status.pauses_clock() {
                    paused = Span(paused.0 + clock.since(state.updated_at).0);
                }
                prop_assert_eq!(next.paused_as_of(clock), paused, "paused time after {:?}", event);
                trail.push(t.record);
                states.push(t.state);
            }
            (Err(err), Err(refusals)) => check_refusal(&err, state.status, step.kind, role, &refusals)?,
            (Ok(t), Err(refusals)) => {
                prop_assert!(
                    false,
                    "{:?} by {} in {:?} at {} was accepted (→ {}), model expected {:?}",
                    event,
                    role,
                    state,
                    clock,
                    t.state.status,
                    refusals
                );
            }
            (Err(err), Ok(to)) => {
                prop_assert!(
                    false,
                    "{:?} by {} in {:?} at {} was refused ({}), model expected → {}",
                    event,
                    role,
                    state,
                    clock,
                    err,
                    to
                );
            }
        }
    }
    Ok(Walk { trail, states, clock })
}

proptest! {
    #![proptest_config(config())]

    /// Random event sequences never reach an undefined state, every outcome
    /// matches the SPEC model, and every refusal names status, event and actor.
    #[test]
    fn random_walks_follow_the_rules(
        t0 in start_strategy(),
        steps in prop::collection::vec(step_strategy(), 0..40),
        policy in policy_strategy(),
    ) {
        let walk = walk(t0, &steps, &policy)?;
        prop_assert_eq!(walk.trail.len(), walk.states.len());
    }

    /// Replaying the recorded trail (create + accepted transitions) gives the
    /// final state back exactly, and every prefix gives the state at that point.
    #[test]
    fn replay_reproduces_every_state(
        t0 in start_strategy(),
        steps in prop::collection::vec(step_strategy(), 0..40),
        policy in policy_strategy(),
        tamper in any::<prop::sample::Index>(),
    ) {
        let walk = walk(t0, &steps, &policy)?;
        let last = walk.states.last().expect("created state");
        prop_assert_eq!(&replay(&walk.trail, &policy).expect("the trail replays"), last);
        for (i, state) in walk.states.iter().enumerate() {
            prop_assert_eq!(&replay(&walk.trail[..=i], &policy).expect("a prefix replays"), state);
        }
        // A trail with a falsified status change is refused at that event.
        if walk.trail.len() > 1 {
            let i = 1 + tamper.index(walk.trail.len() - 1);
            let mut forged = walk.trail.clone();
            let real = forged[i].to;
            forged[i].to = if real == Closed { Open } else { Closed };
            match replay(&forged, &policy) {
                Err(ReplayError::Mismatch { index, recorded_to, actual, .. }) => {
                    prop_assert_eq!(index, i);
                    prop_assert_eq!(recorded_to, forged[i].to);
                    prop_assert_eq!(actual, real);
                }
                other => prop_assert!(false, "forged trail replayed as {:?}", other),
            }
        }
        // Without its create event, a trail does not replay.
        prop_assert_eq!(replay(&walk.trail[1..], &policy), Err(ReplayError::MissingCreate));
    }

    /// From `closed` and `merged`, every event by every actor at any time
    /// (before, at or after the last change) is refused as `Final`.
    #[test]
    fn final_states_absorb_every_event(
        t0 in start_strategy(),
        steps in prop::collection::vec(step_strategy(), 0..20),
        merge in any::<bool>(),
        dt in -DAY_MS..=30 * DAY_MS,
        deadline in -DAY_MS..=5 * DAY_MS,
        target in any::<u64>(),
    ) {
        let policy = LifecyclePolicy::default();
        let walk = walk(t0, &steps, &policy)?;
        let mut state = walk.states.last().expect("created state").clone();
        if !state.status.is_final() {
            let now = walk.clock.max(state.updated_at);
            let (actor, event) = if merge {
                (support(), CaseEvent::MergeInto { target: merge_target(target) })
            } else {
                (seller(), CaseEvent::Close)
            };
            state = transition(&state, &actor, &event, now, &policy).expect("close or merge from a non-final state").state;
        }
        prop_assert!(state.status.is_final());
        let now = at(state.updated_at, dt);
        for role in Role::ALL {
            for &kind in EventKind::ALL {
                let event = event_of(kind, now, deadline, target);
                let err = transition(&state, &actor_of(*role), &event, now, &policy)
                    .expect_err("a final case accepts nothing");
                check_refusal(&err, state.status, kind, *role, &[Refusal::Final])?;
                prop_assert!(err.to_string().contains("final"), "{}", err);
            }
        }
    }

    /// Every non-final reachable state can reach `closed`: the seller's Close
    /// works directly, and support and the system get there by the rules too
    /// (resolve, let the deadline and the reopen window pass, auto-close).
    #[test]
    fn every_non_final_state_can_reach_closed(
        t0 in start_strategy(),
        steps in prop::collection::vec(step_strategy(), 0..30),
        policy in policy_strategy(),
        wait in 0..=DAY_MS,
        pick in any::<prop::sample::Index>(),
    ) {
        let walk = walk(t0, &steps, &policy)?;
        // Any non-final state the walk went through (there is always the
        // created one), with the trail that led to it.
        let non_final: Vec<usize> = (0..walk.states.len()).filter(|&i| !walk.states[i].status.is_final()).collect();
        let i = *pick.get(&non_final);
        let start = walk.states[i].clone();
        let now = at(start.updated_at, wait);

        let closed = transition(&start, &seller(), &CaseEvent::Close, now, &policy).expect("the seller may always close");
        prop_assert_eq!(closed.state.status, Closed);
        prop_assert_eq!(closed.state.closed_at, Some(now));
        check_invariants(&closed.state)?;

        // Without the seller: at most three steps by support and the system.
        let mut trail = walk.trail[..=i].to_vec();
        let mut state = start;
        let mut now = now;
        for _ in 0..3 {
            let (actor, event) = match state.status {
                Open | InProgress => (support(), CaseEvent::Resolve),
                NeedsAttention => {
                    let deadline = state.reply_deadline.expect("deadline");
                    now = now.max(at(deadline, 1));
                    (Actor::System, CaseEvent::DeadlineExpired)
                }
                Resolved => {
                    let window_end = state.resolved_at.expect("resolved_at").saturating_add(policy.reopen_window);
                    now = now.max(at(window_end, 1));
                    (Actor::System, CaseEvent::AutoClose)
                }
                Closed | Merged => break,
            };
            let t = transition(&state, &actor, &event, now, &policy).expect("the path to closed is allowed");
            check_invariants(&t.state)?;
            trail.push(t.record);
            state = t.state;
        }
        prop_assert_eq!(state.status, Closed);
        prop_assert_eq!(replay(&trail, &policy).expect("the path replays"), state);
    }
}

// ---------------------------------------------------------------------------
// The SPEC table, checked exhaustively
// ---------------------------------------------------------------------------

/// A state in `status`, built by hand (not by `transition`), last changed at
/// `t`: deadlines and windows run from `t`.
fn state_in(status: Status, t0: Timestamp, t: Timestamp) -> CaseState {
    let mut s = CaseState::new(t0);
    s.status = status;
    s.updated_at = t;
    if status != Open {
        s.first_response_at = Some(t);
    }
    match status {
        NeedsAttention => {
            s.reply_deadline = Some(at(t, 2 * DAY_MS));
            s.paused_since = Some(t);
        }
        Resolved => {
            s.resolved_at = Some(t);
            s.paused_since = Some(t);
        }
        Closed => s.closed_at = Some(t),
        Merged => {
            s.closed_at = Some(t);
            s.merged_into = Some(merge_target(42));
        }
        _ => {}
    }
    s
}

#[test]
fn spec_table_is_exactly_what_transition_accepts() {
    let policy = LifecyclePolicy::default();
    let t0 = ts(1_768_552_200_000); // 2026-01-16T08:30:00Z
    let t = at(t0, HOUR_MS);
    // Early: within the reopen window and before the reply deadline. Late:
    // past both.
    let early = at(t, HOUR_MS);
    let late = at(t, 30 * DAY_MS);
    let mut checked = 0;
    for &status in Status::ALL {
        for &role in Role::ALL {
            for &kind in EventKind::ALL {
                for (now, late_column) in [(early, false), (late, true)] {
                    let state = state_in(status, t0, t);
                    let event = event_of(kind, now, DAY_MS, 7);
                    let got = transition(&state, &actor_of(role), &event, now, &policy);
                    let want = match table(status, role, kind) {
                        Some((e, l)) => Ok(if late_column { l } else { e }),
                        None if status.is_final() => Err(Refusal::Final),
                        None => Err(Refusal::NotAllowed),
                    };
                    let case = format!(
                        "{kind} by {role} in {status} ({})",
                        if late_column { "late" } else { "early" }
                    );
                    match (got, want) {
                        (Ok(tr), Ok(To(to))) => {
                            assert_eq!(tr.state.status, to, "{case}");
                            assert_eq!(tr.record.from, Some(status), "{case}");
                            assert_eq!(tr.record.to, to, "{case}");
                        }
                        (Err(e), Ok(NotYetDue)) => {
                            assert!(matches!(e, TransitionError::NotYetDue { .. }), "{case}: {e:?}");
                        }
                        (Err(e), Err(refusal)) => assert_eq!(refusal_of(&e), refusal, "{case}: {e}"),
                        (got, want) => panic!("{case}: got {got:?}, SPEC table says {want:?}"),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 6 * 3 * EventKind::ALL.len() * 2);
}

#[test]
fn only_a_seller_creates_a_case() {
    let t0 = ts(1_768_552_200_000);
    let created = create(&seller(), t0).expect("seller creates");
    assert_eq!(created.state.status, Open);
    assert_eq!(created.record.event, CaseEvent::Create);
    for actor in [support(), Actor::System] {
        let err = create(&actor, t0).expect_err("only sellers create");
        assert!(matches!(err, TransitionError::NotAllowed { .. }), "{err:?}");
        assert_eq!(err.event(), EventKind::Create);
        assert_eq!(err.actor(), actor.role());
    }
}

#[test]
fn window_and_deadline_boundaries() {
    let policy = LifecyclePolicy::default();
    let t0 = ts(1_768_552_200_000);
    let t = at(t0, HOUR_MS);
    let window_end = t.saturating_add(policy.reopen_window);

    // Reopen window: a reply at its last instant reopens, one ms later not.
    let resolved = state_in(Resolved, t0, t);
    let reply = |now| {
        transition(&resolved, &seller(), &CaseEvent::Reply, now, &policy)
            .unwrap()
            .state
            .status
    };
    assert_eq!(reply(window_end), InProgress);
    assert_eq!(reply(at(window_end, 1)), Resolved);
    // Auto-close: not at the window's last instant, one ms after it.
    let auto = |now| transition(&resolved, &Actor::System, &CaseEvent::AutoClose, now, &policy);
    assert_eq!(
        auto(window_end),
        Err(TransitionError::NotYetDue {
            status: Resolved,
            event: EventKind::AutoClose,
            actor: Role::System,
            due: window_end,
        })
    );
    assert_eq!(auto(at(window_end, 1)).unwrap().state.status, Closed);

    // Reply deadline: expires strictly after it.
    let waiting = state_in(NeedsAttention, t0, t);
    let deadline = waiting.reply_deadline.unwrap();
    let expire = |now| transition(&waiting, &Actor::System, &CaseEvent::DeadlineExpired, now, &policy);
    assert!(matches!(expire(deadline), Err(TransitionError::NotYetDue { due, .. }) if due == deadline));
    assert_eq!(expire(at(deadline, 1)).unwrap().state.status, Resolved);

    // A request's deadline must be after the request.
    let open = state_in(Open, t0, t);
    for deadline in [at(t, -1), t] {
        let err = transition(&open, &support(), &CaseEvent::RequestInfo { deadline }, t, &policy).unwrap_err();
        assert_eq!(
            err,
            TransitionError::DeadlineNotInFuture {
                status: Open,
                event: EventKind::RequestInfo,
                actor: Role::Support,
                deadline,
                now: t,
            }
        );
    }
    let ok = transition(
        &open,
        &support(),
        &CaseEvent::RequestInfo { deadline: at(t, 1) },
        t,
        &policy,
    )
    .unwrap();
    assert_eq!(ok.state.status, NeedsAttention);

    // A clock behind the last change is refused, and says so.
    let err = transition(&open, &support(), &CaseEvent::PickUp, at(t, -1), &policy).unwrap_err();
    assert!(matches!(err, TransitionError::ClockBehind { now, last, .. } if now == at(t, -1) && last == t));
}

#[test]
fn pause_accounting_over_a_round_trip() {
    // open → (1 h) needs_attention → (5 h) in_progress → (2 h) resolved →
    // (3 h) in_progress: paused 5 h + 3 h.
    let policy = LifecyclePolicy::default();
    let t0 = ts(1_768_552_200_000);
    let h = |n| at(t0, n * HOUR_MS);
    let mut s = create(&seller(), t0).unwrap().state;
    for (actor, event, now) in [
        (support(), CaseEvent::RequestInfo { deadline: h(48) }, h(1)),
        (seller(), CaseEvent::Reply, h(6)),
        (support(), CaseEvent::Resolve, h(8)),
        (seller(), CaseEvent::Reply, h(11)),
    ] {
        s = transition(&s, &actor, &event, now, &policy).unwrap().state;
    }
    assert_eq!(s.status, InProgress);
    assert_eq!(s.paused_since, None);
    assert_eq!(s.paused_total, Span::hours(8));
    assert_eq!(s.first_response_at, Some(h(1)));
    assert_eq!(s.resolved_at, None);
    assert_eq!(s.paused_as_of(h(20)), Span::hours(8));
}

#[test]
fn becoming_final_keeps_the_resolution_time() {
    // Regression: merging a resolved case used to clear `resolved_at`,
    // while closing it kept it.
    let policy = LifecyclePolicy::default();
    let t0 = ts(1_768_552_200_000);
    let resolved = transition(
        &CaseState::new(t0),
        &support(),
        &CaseEvent::Resolve,
        at(t0, HOUR_MS),
        &policy,
    )
    .unwrap()
    .state;
    let later = at(t0, 2 * HOUR_MS);
    let merge = CaseEvent::MergeInto {
        target: merge_target(7),
    };
    for (actor, event) in [(support(), merge), (seller(), CaseEvent::Close)] {
        let done = transition(&resolved, &actor, &event, later, &policy).unwrap().state;
        assert!(done.status.is_final());
        assert_eq!(done.resolved_at, Some(at(t0, HOUR_MS)), "{event:?}");
        assert_eq!(done.closed_at, Some(later));
    }
}
