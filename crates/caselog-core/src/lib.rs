//! The pure rules of caselog: domain types, the case lifecycle, the support
//! queue's order and the duplicate rule.
//!
//! This crate does no I/O and starts no threads. Everything that takes
//! outside data validates it and returns a typed [`ValidationError`]; nothing
//! here panics on any input. The store (`caselog-store`) calls these rules;
//! it never changes a status or orders its queue by any other means.
//!
//! # Example: a case's life
//!
//! ```
//! use caselog_core::*;
//!
//! let policy = LifecyclePolicy::default();
//! let t0 = Timestamp::parse_rfc3339("2026-01-16T08:30:00Z")?;
//! let later = |h| t0.saturating_add(Span::hours(h));
//! let seller = Actor::Seller(UserId::parse("ops@example.com")?);
//! let agent = Actor::Support(UserId::parse("agent-7")?);
//!
//! let created = create(&seller, t0)?;
//! let mut trail = vec![created.record];
//! let mut state = created.state;
//! for (actor, event, at) in [
//!     (&agent, CaseEvent::RequestInfo { deadline: later(48) }, later(1)),
//!     (&seller, CaseEvent::Reply, later(2)),
//!     (&agent, CaseEvent::Resolve, later(3)),
//! ] {
//!     let t = transition(&state, actor, &event, at, &policy)?;
//!     trail.push(t.record);
//!     state = t.state;
//! }
//! assert_eq!(state.status, Status::Resolved);
//! // The trail alone gives the state back.
//! assert_eq!(replay(&trail, &policy)?, state);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example: the queue
//!
//! ```
//! use caselog_core::*;
//!
//! let policy = QueuePolicy::default();
//! let at = Timestamp::parse_rfc3339("2026-03-02T09:00:00Z")?;
//! let inputs = |category| QueueInputs {
//!     category, complex: false, tier: PerformanceTier::Standard,
//!     created_at: at, paused: Span::ZERO, duplicate: false,
//! };
//! let suspension = policy.key(&inputs(Category::AccountHealth), CaseId(2));
//! let pricing = policy.key(&inputs(Category::Pricing), CaseId(1));
//! assert!(suspension < pricing);
//! assert_eq!(suspension.due, at.saturating_add(Span::hours(12)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod ident_enum;

pub mod attachment;
pub mod calendar;
pub mod category;
pub mod duplicate;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod query;
pub mod queue;
pub mod refs;
pub mod text;
pub mod timestamp;

pub use attachment::{AttachmentKind, AttachmentMeta, AttachmentPolicy, ContentHash, MIB};
pub use calendar::{BusinessCalendar, BusinessHours};
pub use category::Category;
pub use duplicate::{find_duplicate, normalise_title, DuplicateFacts};
pub use error::ValidationError;
pub use ids::{CaseId, CaseNumber, LanguageTag, Marketplace, TenantId, UserId};
pub use lifecycle::{
    create, replay, transition, Actor, CaseEvent, CaseState, EventKind, LifecyclePolicy, RecordedEvent, ReplayError,
    Role, Status, Transition, TransitionError,
};
pub use query::{
    attachment_name_keys, parse, DateRange, FieldFilter, FieldName, HasWhat, Matchable, ParsedQuery, Query,
    QueryBuilder, QueryError, QueryErrorKind, QueryLimits,
};
pub use queue::{PerformanceTier, PriorityClass, QueueInputs, QueueKey, QueuePolicy, QUEUE_KEY_LEN};
pub use refs::{Asin, BareReference, OrderId, References, Sku};
pub use text::{is_bidi_control, validate_body, validate_title, MAX_BODY_BYTES, MAX_TITLE_CHARS};
pub use timestamp::{Span, Timestamp, DAY_MS, HOUR_MS};
