//! The case lifecycle: statuses, who may move a case, and the one
//! transition function every change goes through.
//!
//! The store never changes a status by itself: it calls [`transition`],
//! records the [`RecordedEvent`] it returns in the thread, and keeps the new
//! [`CaseState`]. Because the recorded events are the whole trail,
//! [`replay`] rebuilds the state from them.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::category::Category;
use crate::ident_enum::ident_enum;
use crate::ids::{CaseNumber, Marketplace, UserId};
use crate::timestamp::{Span, Timestamp};

ident_enum! {
    /// Where a case stands in its lifecycle.
    Status, "status" {
        /// Submitted, waiting for support's first response.
        Open = "open",
        /// Support is working on it.
        InProgress = "in_progress",
        /// Support asked the seller for information; a reply deadline runs.
        NeedsAttention = "needs_attention",
        /// Support answered; the seller may reply within the reopen window.
        Resolved = "resolved",
        /// Final.
        Closed = "closed",
        /// Final; folded into another case of the same tenant.
        Merged = "merged",
    }
}

impl Status {
    /// `closed` and `merged` are final: every later event is refused.
    pub const fn is_final(self) -> bool {
        matches!(self, Status::Closed | Status::Merged)
    }

    /// Whether the case waits on support and so sits in the support queue.
    pub const fn waits_on_support(self) -> bool {
        matches!(self, Status::Open | Status::InProgress)
    }

    /// Whether the first-response clock is paused in this status.
    pub const fn pauses_clock(self) -> bool {
        matches!(self, Status::NeedsAttention | Status::Resolved)
    }
}

ident_enum! {
    /// The kind of party acting on a case (the `author` of a message).
    Role, "author" {
        /// The seller (a user of the case's tenant).
        Seller = "seller",
        /// A support agent.
        Support = "support",
        /// The system (timers, automation).
        System = "system",
    }
}

/// Who acts on a case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Actor {
    /// A user of the case's tenant.
    Seller(UserId),
    /// A support agent.
    Support(UserId),
    /// The system.
    System,
}

impl Actor {
    /// The actor's role.
    pub fn role(&self) -> Role {
        match self {
            Actor::Seller(_) => Role::Seller,
            Actor::Support(_) => Role::Support,
            Actor::System => Role::System,
        }
    }

    /// The acting user, if any.
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Actor::Seller(u) | Actor::Support(u) => Some(u),
            Actor::System => None,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Seller(u) => write!(f, "seller {u}"),
            Actor::Support(u) => write!(f, "support {u}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// Something that happens to a case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CaseEvent {
    /// The case is created (always the first event).
    Create,
    /// A message is added to the thread.
    Reply,
    /// Support picks the case up.
    PickUp,
    /// Support asks the seller for information, to be given by `deadline`.
    RequestInfo {
        /// When the seller's reply is due.
        deadline: Timestamp,
    },
    /// Support resolves the case.
    Resolve,
    /// The seller closes the case.
    Close,
    /// Support folds the case into another case of the same tenant.
    MergeInto {
        /// The surviving case, by number (numbers are stable across stores,
        /// internal ids are not).
        target: CaseNumber,
    },
    /// The system closes a resolved case after the reopen window.
    AutoClose,
    /// The system resolves a case whose reply deadline passed.
    DeadlineExpired,
    // The variants below were added after the first record version; new
    // variants go at the end so stored thread entries keep decoding.
    /// Support moves a misfiled case to another category and, if given,
    /// marketplace. No status change; the queue follows.
    Transfer {
        /// The new category.
        category: Category,
        /// The new marketplace, if it changes.
        marketplace: Option<Marketplace>,
    },
    /// Assigns the case: support to an agent (the case's `assignee`), a
    /// seller to a user of its tenant (the seller-side handler). No status
    /// change.
    Assign {
        /// The user who takes the case.
        to: UserId,
    },
    /// Releases an assignment: support hands the case back to the queue
    /// (no agent), a seller takes a hand-over back. No status change.
    Release,
    /// Support marks the case complex (longer first-response target) or
    /// not. No status change.
    SetComplex {
        /// The new flag.
        complex: bool,
    },
}

ident_enum! {
    /// The kind of a [`CaseEvent`], without its data; used in errors.
    EventKind, "event" {
        /// [`CaseEvent::Create`]
        Create = "create",
        /// [`CaseEvent::Reply`]
        Reply = "reply",
        /// [`CaseEvent::PickUp`]
        PickUp = "pick_up",
        /// [`CaseEvent::RequestInfo`]
        RequestInfo = "request_info",
        /// [`CaseEvent::Resolve`]
        Resolve = "resolve",
        /// [`CaseEvent::Close`]
        Close = "close",
        /// [`CaseEvent::MergeInto`]
        MergeInto = "merge",
        /// [`CaseEvent::AutoClose`]
        AutoClose = "auto_close",
        /// [`CaseEvent::DeadlineExpired`]
        DeadlineExpired = "deadline_expired",
        /// [`CaseEvent::Transfer`]
        Transfer = "transfer",
        /// [`CaseEvent::Assign`]
        Assign = "assign",
        /// [`CaseEvent::Release`]
        Release = "release",
        /// [`CaseEvent::SetComplex`]
        SetComplex = "set_complex",
    }
}

impl CaseEvent {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            CaseEvent::Create => EventKind::Create,
            CaseEvent::Reply => EventKind::Reply,
            CaseEvent::PickUp => EventKind::PickUp,
            CaseEvent::RequestInfo { .. } => EventKind::RequestInfo,
            CaseEvent::Resolve => EventKind::Resolve,
            CaseEvent::Close => EventKind::Close,
            CaseEvent::MergeInto { .. } => EventKind::MergeInto,
            CaseEvent::AutoClose => EventKind::AutoClose,
            CaseEvent::DeadlineExpired => EventKind::DeadlineExpired,
            CaseEvent::Transfer { .. } => EventKind::Transfer,
            CaseEvent::Assign { .. } => EventKind::Assign,
            CaseEvent::Release => EventKind::Release,
            CaseEvent::SetComplex { .. } => EventKind::SetComplex,
        }
    }

    /// Whether the event only routes the case (transfer, assignment,
    /// complexity): it never changes the status and is not a response to
    /// the seller, so it does not stop the first-response clock.
    pub fn is_routing(&self) -> bool {
        matches!(
            self,
            CaseEvent::Transfer { .. } | CaseEvent::Assign { .. } | CaseEvent::Release | CaseEvent::SetComplex { .. }
        )
    }
}

/// Lifecycle settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecyclePolicy {
    /// How long after resolution a seller's reply reopens the case, and
    /// after which the system may auto-close it. Default: 7 days.
    pub reopen_window: Span,
}

impl Default for LifecyclePolicy {
    fn default() -> Self {
        LifecyclePolicy {
            reopen_window: Span::days(7),
        }
    }
}

/// The lifecycle part of a case: its status and the times the rules need.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaseState {
    /// Current status.
    pub status: Status,
    /// When the case was created.
    pub created_at: Timestamp,
    /// When the case last changed (any event).
    pub updated_at: Timestamp,
    /// Support's first response (pick up, request, resolve or reply).
    pub first_response_at: Option<Timestamp>,
    /// When the case was last resolved (cleared when it reopens).
    pub resolved_at: Option<Timestamp>,
    /// When the case became final.
    pub closed_at: Option<Timestamp>,
    /// The seller's reply deadline while `needs_attention`.
    pub reply_deadline: Option<Timestamp>,
    /// The surviving case, once merged.
    pub merged_into: Option<CaseNumber>,
    /// Since when the first-response clock is paused, if it is.
    pub paused_since: Option<Timestamp>,
    /// Total time the first-response clock was paused before `paused_since`.
    pub paused_total: Span,
}

impl CaseState {
    /// The state of a case created at `at`: `open`, clock running.
    pub fn new(at: Timestamp) -> Self {
        CaseState {
            status: Status::Open,
            created_at: at,
            updated_at: at,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            reply_deadline: None,
            merged_into: None,
            paused_since: None,
            paused_total: Span::ZERO,
        }
    }

    /// Time the first-response clock has been paused as of `now`.
    pub fn paused_as_of(&self, now: Timestamp) -> Span {
        let running = self
            .paused_since
            .map_or(Span::ZERO, |since| now.since(since).max(Span::ZERO));
        Span(self.paused_total.0.saturating_add(running.0))
    }
}

/// One entry of a case's trail: who did what, when, and the status change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub actor: Actor,
    /// What happened.
    pub event: CaseEvent,
    /// Status before (none for creation).
    pub from: Option<Status>,
    /// Status after.
    pub to: Status,
}

/// The outcome of an accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The case's new lifecycle state.
    pub state: CaseState,
    /// The event to append to the thread.
    pub record: RecordedEvent,
}

/// Why an event was refused. Every variant names the case's status, the
/// event and the actor's role.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// The case is closed or merged; nothing may change it any more.
    #[error("case is {status}, which is final: {event} by {actor} refused (open a follow-up case to continue)")]
    Final {
        /// The final status.
        status: Status,
        /// The refused event.
        event: EventKind,
        /// Who tried.
        actor: Role,
    },
    /// The actor may not apply the event in this status.
    #[error("{event} by {actor} is not allowed while the case is {status}")]
    NotAllowed {
        /// Current status.
        status: Status,
        /// The refused event.
        event: EventKind,
        /// Who tried.
        actor: Role,
    },
    /// A timer event came before its time.
    #[error("{event} by {actor} refused while the case is {status}: not due until {due}")]
    NotYetDue {
        /// Current status.
        status: Status,
        /// The refused event.
        event: EventKind,
        /// Who tried.
        actor: Role,
        /// When it becomes due.
        due: Timestamp,
    },
    /// A reply deadline was not after the request.
    #[error("{event} by {actor} refused while the case is {status}: deadline {deadline} is not after {now}")]
    DeadlineNotInFuture {
        /// Current status.
        status: Status,
        /// The refused event.
        event: EventKind,
        /// Who tried.
        actor: Role,
        /// The given deadline.
        deadline: Timestamp,
        /// The event's time.
        now: Timestamp,
    },
    /// The event's time is before the case's last change.
    #[error("{event} by {actor} refused while the case is {status}: time {now} is before the last change at {last}")]
    ClockBehind {
        /// Current status.
        status: Status,
        /// The refused event.
        event: EventKind,
        /// Who tried.
        actor: Role,
        /// The event's time.
        now: Timestamp,
        /// The case's last change.
        last: Timestamp,
    },
}

impl TransitionError {
    /// The status the case had when the event was refused.
    pub fn status(&self) -> Status {
        match self {
            TransitionError::Final { status, .. }
            | TransitionError::NotAllowed { status, .. }
            | TransitionError::NotYetDue { status, .. }
            | TransitionError::DeadlineNotInFuture { status, .. }
            | TransitionError::ClockBehind { status, .. } => *status,
        }
    }

    /// The refused event's kind.
    pub fn event(&self) -> EventKind {
        match self {
            TransitionError::Final { event, .. }
            | TransitionError::NotAllowed { event, .. }
            | TransitionError::NotYetDue { event, .. }
            | TransitionError::DeadlineNotInFuture { event, .. }
            | TransitionError::ClockBehind { event, .. } => *event,
        }
    }

    /// The role of the actor who was refused.
    pub fn actor(&self) -> Role {
        match self {
            TransitionError::Final { actor, .. }
            | TransitionError::NotAllowed { actor, .. }
            | TransitionError::NotYetDue { actor, .. }
            | TransitionError::DeadlineNotInFuture { actor, .. }
            | TransitionError::ClockBehind { actor, .. } => *actor,
        }
    }
}

/// Creates a case: the first state and its `Create` record. Only a seller
/// creates cases (imports of archived cases bypass the lifecycle).
pub fn create(actor: &Actor, now: Timestamp) -> Result<Transition, TransitionError> {
    if actor.role() != Role::Seller {
        return Err(TransitionError::NotAllowed {
            status: Status::Open,
            event: EventKind::Create,
            actor: actor.role(),
        });
    }
    Ok(Transition {
        state: CaseState::new(now),
        record: RecordedEvent {
            at: now,
            actor: actor.clone(),
            event: CaseEvent::Create,
            from: None,
            to: Status::Open,
        },
    })
}

/// Applies one event to a case: the new state and the event to record, or
/// a typed refusal. This is the only way a status changes.
///
/// ```
/// use caselog_core::{transition, Actor, CaseEvent, CaseState, LifecyclePolicy, Status, Timestamp, UserId};
///
/// let t0 = Timestamp::parse_rfc3339("2026-01-16T08:30:00Z").unwrap();
/// let agent = Actor::Support(UserId::parse("agent-7").unwrap());
/// let policy = LifecyclePolicy::default();
///
/// let open = CaseState::new(t0);
/// let picked = transition(&open, &agent, &CaseEvent::PickUp, t0, &policy).unwrap();
/// assert_eq!(picked.state.status, Status::InProgress);
/// assert_eq!(picked.record.from, Some(Status::Open));
///
/// // A seller cannot pick a case up; the error names status, event and actor.
/// let seller = Actor::Seller(UserId::parse("ops@example.com").unwrap());
/// let err = transition(&open, &seller, &CaseEvent::PickUp, t0, &policy).unwrap_err();
/// assert_eq!(err.to_string(), "pick_up by seller is not allowed while the case is open");
/// ```
pub fn transition(
    state: &CaseState,
    actor: &Actor,
    event: &CaseEvent,
    now: Timestamp,
    policy: &LifecyclePolicy,
) -> Result<Transition, TransitionError> {
    use Status::*;
    let status = state.status;
    let kind = event.kind();
    let role = actor.role();
    if status.is_final() {
        return Err(TransitionError::Final {
            status,
            event: kind,
            actor: role,
        });
    }
    let not_allowed = TransitionError::NotAllowed {
        status,
        event: kind,
        actor: role,
    };
    if now < state.updated_at {
        return Err(TransitionError::ClockBehind {
            status,
            event: kind,
            actor: role,
            now,
            last: state.updated_at,
        });
    }

    let reopen_deadline = state.resolved_at.map(|at| at.saturating_add(policy.reopen_window));
    let to = match (event, role) {
        (CaseEvent::Create, _) => return Err(not_allowed),
        (CaseEvent::Reply, Role::Seller) => match status {
            NeedsAttention => InProgress,
            Resolved if reopen_deadline.is_some_and(|d| now <= d) => InProgress,
            other => other,
        },
        (CaseEvent::Reply, Role::Support | Role::System) => status,
        (CaseEvent::PickUp, Role::Support) if status == Open => InProgress,
        (CaseEvent::RequestInfo { deadline }, Role::Support) if matches!(status, Open | InProgress) => {
            if *deadline <= now {
                return Err(TransitionError::DeadlineNotInFuture {
                    status,
                    event: kind,
                    actor: role,
                    deadline: *deadline,
                    now,
                });
            }
            NeedsAttention
        }
        (CaseEvent::Resolve, Role::Support) if matches!(status, Open | InProgress | NeedsAttention) => Resolved,
        (CaseEvent::Close, Role::Seller) => Closed,
        (CaseEvent::MergeInto { .. }, Role::Support) => Merged,
        // Routing: support transfers, assigns, releases and marks complex
        // in any non-final status; a seller hands a case to a colleague
        // (or takes it back). The status stays.
        (CaseEvent::Transfer { .. } | CaseEvent::SetComplex { .. }, Role::Support) => status,
        (CaseEvent::Assign { .. } | CaseEvent::Release, Role::Support | Role::Seller) => status,
        (CaseEvent::AutoClose, Role::System) if status == Resolved => {
            let due = reopen_deadline.unwrap_or(state.updated_at);
            if now <= due {
                return Err(TransitionError::NotYetDue {
                    status,
                    event: kind,
                    actor: role,
                    due,
                });
            }
            Closed
        }
        (CaseEvent::DeadlineExpired, Role::System) if status == NeedsAttention => {
            let due = state.reply_deadline.unwrap_or(state.updated_at);
            if now <= due {
                return Err(TransitionError::NotYetDue {
                    status,
                    event: kind,
                    actor: role,
                    due,
                });
            }
            Resolved
        }
        _ => return Err(not_allowed),
    };

    let mut next = state.clone();
    next.status = to;
    next.updated_at = now;
    if role == Role::Support && !event.is_routing() && next.first_response_at.is_none() {
        next.first_response_at = Some(now);
    }
    // The first-response clock pauses while the case waits on the seller
    // or sits resolved, and runs again when it returns to support.
    match (status.pauses_clock(), to.pauses_clock()) {
        (false, true) => next.paused_since = Some(now),
        (true, false) => {
            next.paused_total = state.paused_as_of(now);
            next.paused_since = None;
        }
        _ => {}
    }
    next.reply_deadline = match event {
        CaseEvent::RequestInfo { deadline } => Some(*deadline),
        _ if to == NeedsAttention => state.reply_deadline,
        _ => None,
    };
    next.resolved_at = match to {
        Resolved if status != Resolved => Some(now),
        // Becoming final (closed or merged) keeps the resolution as history.
        Resolved | Closed | Merged => state.resolved_at,
        _ => None,
    };
    if to.is_final() {
        next.closed_at = Some(now);
    }
    if let CaseEvent::MergeInto { target } = event {
        next.merged_into = Some(target.clone());
    }
    Ok(Transition {
        state: next,
        record: RecordedEvent {
            at: now,
            actor: actor.clone(),
            event: event.clone(),
            from: Some(status),
            to,
        },
    })
}

/// Why a recorded trail could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The trail does not start with a `Create` event.
    #[error("the trail does not start with a create event")]
    MissingCreate,
    /// An event was refused on replay.
    #[error("event {index} of the trail is refused: {refusal}")]
    Refused {
        /// Index of the event in the trail.
        index: usize,
        /// The refusal.
        refusal: TransitionError,
    },
    /// An event's recorded status change differs from what the rules give.
    #[error("event {index} of the trail records {recorded:?} → {recorded_to}, the rules give → {actual}")]
    Mismatch {
        /// Index of the event in the trail.
        index: usize,
        /// Recorded status before.
        recorded: Option<Status>,
        /// Recorded status after.
        recorded_to: Status,
        /// Status the rules give.
        actual: Status,
    },
}

/// Rebuilds a case's state from its recorded trail, checking every
/// recorded status change against the rules.
pub fn replay(trail: &[RecordedEvent], policy: &LifecyclePolicy) -> Result<CaseState, ReplayError> {
    let mut events = trail.iter().enumerate();
    let first = match events.next() {
        Some((_, e)) if e.event == CaseEvent::Create => e,
        _ => return Err(ReplayError::MissingCreate),
    };
    let mut state = create(&first.actor, first.at)
        .map_err(|refusal| ReplayError::Refused { index: 0, refusal })?
        .state;
    for (index, recorded) in events {
        let t = transition(&state, &recorded.actor, &recorded.event, recorded.at, policy)
            .map_err(|refusal| ReplayError::Refused { index, refusal })?;
        if t.record.from != recorded.from || t.record.to != recorded.to {
            return Err(ReplayError::Mismatch {
                index,
                recorded: recorded.from,
                recorded_to: recorded.to,
                actual: t.record.to,
            });
        }
        state = t.state;
    }
    Ok(state)
}
