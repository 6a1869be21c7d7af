//! Lifecycle event sequences against caselog-core's `transition`.

use arbitrary::{Result, Unstructured};
use caselog_core::{
    create, replay, transition, Actor, CaseEvent, CaseNumber, CaseState, EventKind, LifecyclePolicy, RecordedEvent,
    ReplayError, Role, Span, Status, Timestamp, TransitionError, UserId, HOUR_MS,
};

/// Reads the input as a reopen window and then a sequence of (actor, event,
/// time step) and applies it to a new case through `transition`, checking
/// after every step:
///
/// * the verdict (accepted with which status, or refused with which error)
///   agrees with an independent model of SPEC.md's lifecycle table;
/// * a refusal names the case's status, the event and the actor's role,
///   and the case stays as it was; once `closed` or `merged`, every event
///   is refused as `Final`;
/// * an accepted event records `from`/`to`, moves `updated_at` to its time
///   and keeps the state's invariants (a reply deadline exactly while
///   `needs_attention`, the clock paused exactly while `needs_attention` or
///   `resolved`, paused time never shrinking, the first response fixed once
///   set, `closed_at` and `merged_into` set on becoming final);
/// * `replay` of the trail gives the current state, a trail with a
///   falsified status is a `Mismatch`, and one without its creation is
///   `MissingCreate`.
pub fn lifecycle(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

const T0: i64 = 1_768_552_200_000; // 2026-01-16T08:30:00Z

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms.clamp(Timestamp::MIN.as_millis(), Timestamp::MAX.as_millis())).unwrap_or(Timestamp::MAX)
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap_or_else(|e| panic!("fixture user {name}: {e}"))
}

fn actor(u: &mut Unstructured<'_>) -> Result<Actor> {
    Ok(match u.int_in_range(0u8..=4)? {
        0 => Actor::Seller(user("ops@example.com")),
        1 => Actor::Seller(user("other@example.com")),
        2 => Actor::Support(user("agent-7")),
        3 => Actor::Support(user("agent-9")),
        _ => Actor::System,
    })
}

/// A time step in ms: mostly forward by minutes to weeks, sometimes equal,
/// backwards, or to the ends of time.
fn step(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(match u.int_in_range(0u8..=15)? {
        0 => 0,
        1 => -u.int_in_range(1i64..=HOUR_MS)?,
        2 => i64::MAX,
        3 => i64::from(u.arbitrary::<i32>()?),
        _ => u.int_in_range(1i64..=30 * 24 * HOUR_MS)?,
    })
}

fn event(u: &mut Unstructured<'_>, now: Timestamp) -> Result<CaseEvent> {
    Ok(match u.int_in_range(0u8..=8)? {
        0 => CaseEvent::Create,
        1 => CaseEvent::Reply,
        2 => CaseEvent::PickUp,
        3 => {
            let ahead = step(u)?;
            CaseEvent::RequestInfo {
                deadline: ts(now.as_millis().saturating_add(ahead)),
            }
        }
        4 => CaseEvent::Resolve,
        5 => CaseEvent::Close,
        6 => CaseEvent::MergeInto {
            target: CaseNumber::parse("17281736451").unwrap_or_else(|e| panic!("fixture number: {e}")),
        },
        7 => CaseEvent::AutoClose,
        _ => CaseEvent::DeadlineExpired,
    })
}

/// What SPEC.md's lifecycle section says an event does: the next status,
/// or the refusal, written from the table rather than from the code.
fn expected(state: &CaseState, actor: Role, event: &CaseEvent, now: Timestamp, window: Span) -> Verdict {
    use Status::*;
    let status = state.status;
    if status.is_final() {
        return Verdict::Final;
    }
    if now < state.updated_at {
        return Verdict::ClockBehind;
    }
    let reopen_until = state.resolved_at.map(|r| r.saturating_add(window));
    match (event, actor) {
        (CaseEvent::Reply, Role::Seller) => match status {
            NeedsAttention => Verdict::To(InProgress),
            Resolved if reopen_until.is_some_and(|d| now <= d) => Verdict::To(InProgress),
            s => Verdict::To(s),
        },
        (CaseEvent::Reply, Role::Support | Role::System) => Verdict::To(status),
        (CaseEvent::PickUp, Role::Support) if status == Open => Verdict::To(InProgress),
        (CaseEvent::RequestInfo { deadline }, Role::Support) if matches!(status, Open | InProgress) => {
            if *deadline <= now {
                Verdict::DeadlineNotInFuture
            } else {
                Verdict::To(NeedsAttention)
            }
        }
        (CaseEvent::Resolve, Role::Support) if matches!(status, Open | InProgress | NeedsAttention) => {
            Verdict::To(Resolved)
        }
        (CaseEvent::Close, Role::Seller) => Verdict::To(Closed),
        (CaseEvent::MergeInto { .. }, Role::Support) => Verdict::To(Merged),
        (CaseEvent::AutoClose, Role::System) if status == Resolved => {
            let due = reopen_until.unwrap_or(state.updated_at);
            if now > due {
                Verdict::To(Closed)
            } else {
                Verdict::NotYetDue(due)
            }
        }
        (CaseEvent::DeadlineExpired, Role::System) if status == NeedsAttention => {
            let due = state.reply_deadline.unwrap_or(state.updated_at);
            if now > due {
                Verdict::To(Resolved)
            } else {
                Verdict::NotYetDue(due)
            }
        }
        _ => Verdict::NotAllowed,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    To(Status),
    Final,
    NotAllowed,
    NotYetDue(Timestamp),
    DeadlineNotInFuture,
    ClockBehind,
}

fn verdict_of(result: &std::result::Result<caselog_core::Transition, TransitionError>) -> Verdict {
    match result {
        Ok(t) => Verdict::To(t.state.status),
        Err(TransitionError::Final { .. }) => Verdict::Final,
        Err(TransitionError::NotAllowed { .. }) => Verdict::NotAllowed,
        Err(TransitionError::NotYetDue { due, .. }) => Verdict::NotYetDue(*due),
        Err(TransitionError::DeadlineNotInFuture { .. }) => Verdict::DeadlineNotInFuture,
        Err(TransitionError::ClockBehind { .. }) => Verdict::ClockBehind,
        Err(e) => panic!("a refusal of an unknown kind: {e:?}"),
    }
}

fn check_state(s: &CaseState) {
    assert_eq!(
        s.reply_deadline.is_some(),
        s.status == Status::NeedsAttention,
        "reply deadline vs status: {s:?}"
    );
    assert_eq!(
        s.paused_since.is_some(),
        s.status.pauses_clock(),
        "clock pause vs status: {s:?}"
    );
    assert!(s.paused_total >= Span::ZERO, "negative paused time: {s:?}");
    assert_eq!(s.closed_at.is_some(), s.status.is_final(), "closed_at vs status: {s:?}");
    assert_eq!(
        s.merged_into.is_some(),
        s.status == Status::Merged,
        "merged_into vs status: {s:?}"
    );
    if s.status == Status::Resolved {
        assert!(s.resolved_at.is_some(), "resolved without resolved_at: {s:?}");
    }
    assert!(s.created_at <= s.updated_at, "updated before created: {s:?}");
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let policy = LifecyclePolicy {
        reopen_window: Span(u.int_in_range(0i64..=14 * 24 * HOUR_MS)?),
    };
    let start = ts(T0.saturating_add(i64::from(u.arbitrary::<i32>()?)));
    let seller = Actor::Seller(user("ops@example.com"));
    // Only a seller creates a case.
    for other in [Actor::Support(user("agent-7")), Actor::System] {
        assert!(matches!(
            create(&other, start),
            Err(TransitionError::NotAllowed {
                event: EventKind::Create,
                ..
            })
        ));
    }
    let created = create(&seller, start).unwrap_or_else(|e| panic!("seller cannot create: {e}"));
    let mut state = created.state;
    let mut trail = vec![created.record];
    check_state(&state);

    let steps = u.int_in_range(0usize..=64)?;
    for _ in 0..steps {
        let who = actor(u)?;
        let now = ts(state.updated_at.as_millis().saturating_add(step(u)?));
        let ev = event(u, now)?;
        let result = transition(&state, &who, &ev, now, &policy);
        let want = expected(&state, who.role(), &ev, now, policy.reopen_window);
        assert_eq!(verdict_of(&result), want, "{ev:?} by {who} at {now:?} on {state:?}");
        match result {
            Err(e) => {
                assert_eq!(
                    (e.status(), e.event(), e.actor()),
                    (state.status, ev.kind(), who.role()),
                    "refusal names the wrong status, event or actor: {e:?}"
                );
                assert!(!e.to_string().is_empty());
            }
            Ok(t) => {
                assert_eq!(t.record.from, Some(state.status));
                assert_eq!(t.record.to, t.state.status);
                assert_eq!((&t.record.actor, &t.record.event, t.record.at), (&who, &ev, now));
                assert_eq!(t.state.updated_at, now);
                assert_eq!(t.state.created_at, state.created_at);
                assert!(t.state.paused_total >= state.paused_total, "paused time shrank");
                if let Some(first) = state.first_response_at {
                    assert_eq!(t.state.first_response_at, Some(first), "first response moved");
                } else if who.role() == Role::Support {
                    assert_eq!(
                        t.state.first_response_at,
                        Some(now),
                        "support's first response not recorded"
                    );
                } else {
                    assert_eq!(t.state.first_response_at, None);
                }
                check_state(&t.state);
                state = t.state;
                trail.push(t.record);
            }
        }
    }

    assert_eq!(
        replay(&trail, &policy),
        Ok(state.clone()),
        "replay differs from the live state"
    );
    assert_eq!(
        replay(trail.get(1..).unwrap_or(&[]), &policy),
        Err(ReplayError::MissingCreate)
    );
    if let Some(last) = trail.len().checked_sub(1).filter(|&i| i > 0) {
        let mut forged = trail.clone();
        if let Some(entry) = forged.get_mut(last) {
            let entry: &mut RecordedEvent = entry;
            entry.to = if entry.to == Status::Open {
                Status::Closed
            } else {
                Status::Open
            };
        }
        assert!(
            matches!(replay(&forged, &policy), Err(ReplayError::Mismatch { index, .. }) if index == last),
            "a falsified status was not caught"
        );
    }
    Ok(())
}
