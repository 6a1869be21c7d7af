//! The store's public data types: cases, thread entries, what callers send
//! in, and what they get back.

use caselog_core::{
    Actor, AttachmentMeta, CaseEvent, CaseId, CaseNumber, CaseState, Category, LanguageTag, Marketplace,
    PerformanceTier, References, Status, TenantId, Timestamp, UserId,
};
use serde::{Deserialize, Serialize};

/// Whose cases a read may see. Every read takes one; a case of another
/// tenant is indistinguishable from a missing one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One tenant's cases (the seller side).
    Tenant(TenantId),
    /// Every tenant's cases (the support side), asked for explicitly.
    AllTenants,
}

impl Scope {
    /// The scope string the view tables are keyed by.
    pub(crate) fn key(&self) -> &str {
        match self {
            Scope::Tenant(t) => t.as_str(),
            Scope::AllTenants => crate::tables::ALL_SCOPE,
        }
    }

    /// Whether a case of `tenant` is visible in this scope.
    pub fn allows(&self, tenant: &TenantId) -> bool {
        match self {
            Scope::Tenant(t) => t == tenant,
            Scope::AllTenants => true,
        }
    }
}

/// Links between cases, by number (numbers survive export and import;
/// internal ids do not).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaseLinks {
    /// The non-final case this one repeats (flagged by the duplicate rule).
    pub duplicate_of: Option<CaseNumber>,
    /// The closed case this one continues.
    pub follow_up_of: Option<CaseNumber>,
    /// Cases that continue this one.
    pub follow_ups: Vec<CaseNumber>,
}

/// A case as stored (without its thread).
///
/// This struct is also the body of the version-2 case record: a change to
/// its fields needs a new record version (see `records.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Internal id.
    pub id: CaseId,
    /// Human-facing number, unique in the store.
    pub number: CaseNumber,
    /// The owning tenant.
    pub tenant: TenantId,
    /// The user who opened it.
    pub created_by: UserId,
    /// The support agent the case is assigned to (picked up, or assigned
    /// by support), if any. Support's *My cases*.
    pub assignee: Option<UserId>,
    /// The user of the tenant the case is handed to (a seller's
    /// assignment to a colleague), if any: the tenant's *My cases* lists
    /// the case under its creator and this user.
    pub handler: Option<UserId>,
    /// Marketplace.
    pub marketplace: Marketplace,
    /// Language tag of the case.
    pub language: LanguageTag,
    /// Category.
    pub category: Category,
    /// Title (subject line).
    pub title: String,
    /// References.
    pub refs: References,
    /// Lifecycle state (status and times).
    pub state: CaseState,
    /// Whether support marked it complex (longer first-response target).
    pub complex: bool,
    /// The tenant's performance tier (kept up to date while the case is
    /// not final: a tier change re-keys the tenant's open cases).
    pub tier: PerformanceTier,
    /// Links to other cases.
    pub links: CaseLinks,
    /// Number of thread entries.
    pub entries: u32,
    /// Whether the case came from an imported archive (its trail is the
    /// archive's, not replayable through the rules).
    pub imported: bool,
}

impl Case {
    /// The current status.
    pub fn status(&self) -> Status {
        self.state.status
    }
}

/// A status change recorded in the thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The event.
    pub event: CaseEvent,
    /// Status before (none for creation).
    pub from: Option<Status>,
    /// Status after.
    pub to: Status,
}

/// One entry of a case's thread: a message, a status change, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadEntry {
    /// When it happened.
    pub at: Timestamp,
    /// Who wrote or did it.
    pub actor: Actor,
    /// The status change, if the entry records one.
    pub change: Option<StatusChange>,
    /// Message text (empty for a bare status change).
    pub body: String,
    /// Attachments of the message.
    pub attachments: Vec<AttachmentMeta>,
}

/// An attachment sent with a message: validated metadata and, optionally,
/// the bytes (kept once per content hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// Validated metadata.
    pub meta: AttachmentMeta,
    /// The content; when given, its size and SHA-256 must match `meta`.
    pub bytes: Option<Vec<u8>>,
}

/// A new case opened by a seller: [`NewCase::new`] takes what every case
/// needs; attachments, references and a creation time are added with the
/// builder methods. (Whether a case is complex is support's call:
/// [`crate::Store::set_complex`].)
///
/// ```
/// # use caselog_core::*;
/// # use caselog_store::NewCase;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let new = NewCase::new(
///     TenantId::parse("seller-0042")?,
///     UserId::parse("ops@example.com")?,
///     Marketplace::parse("US")?,
///     LanguageTag::parse("en")?,
///     Category::Listing,
///     "ASIN B08XYZ1234 suppressed",
///     "I am unable to remove a suppressed ASIN.",
/// )
/// .with_refs(References {
///     asins: vec![Asin::parse("B08XYZ1234")?],
///     ..References::default()
/// });
/// assert_eq!(new.title, "ASIN B08XYZ1234 suppressed");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewCase {
    /// The owning tenant.
    pub tenant: TenantId,
    /// The seller user opening it.
    pub created_by: UserId,
    /// Marketplace.
    pub marketplace: Marketplace,
    /// Language tag.
    pub language: LanguageTag,
    /// Category.
    pub category: Category,
    /// Title (validated when written: 1 to 500 characters, one line).
    pub title: String,
    /// The description: the thread's first message.
    pub description: String,
    /// Attachments of the description.
    pub attachments: Vec<NewAttachment>,
    /// References (order ids, ASINs, SKUs, related case numbers).
    pub refs: References,
    /// Creation time; `None` means when the store writes it.
    pub at: Option<Timestamp>,
}

impl NewCase {
    /// A case of `tenant` opened by `created_by`, whose description is the
    /// thread's first message. Validated when it is written.
    pub fn new(
        tenant: TenantId,
        created_by: UserId,
        marketplace: Marketplace,
        language: LanguageTag,
        category: Category,
        title: impl Into<String>,
        description: impl Into<String>,
    ) -> NewCase {
        NewCase {
            tenant,
            created_by,
            marketplace,
            language,
            category,
            title: title.into(),
            description: description.into(),
            attachments: Vec::new(),
            refs: References::default(),
            at: None,
        }
    }

    /// The description's attachments.
    pub fn with_attachments(mut self, attachments: Vec<NewAttachment>) -> NewCase {
        self.attachments = attachments;
        self
    }

    /// Order ids, ASINs, SKUs and case numbers the case is about.
    pub fn with_refs(mut self, refs: References) -> NewCase {
        self.refs = refs;
        self
    }

    /// The creation time (default, or `None`: when the store writes it).
    pub fn with_time(mut self, at: impl Into<Option<Timestamp>>) -> NewCase {
        self.at = at.into();
        self
    }
}

/// A follow-up to a closed case ([`crate::Store::follow_up`]): the new
/// case's tenant, category, marketplace, language and references come
/// from the case it continues, so only what is new is given here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewFollowUp {
    /// The seller user opening it (of the closed case's tenant).
    pub created_by: UserId,
    /// Title of the new case.
    pub title: String,
    /// The description: the new thread's first message.
    pub description: String,
    /// Attachments of the description.
    pub attachments: Vec<NewAttachment>,
    /// Creation time; `None` means when the store writes it.
    pub at: Option<Timestamp>,
}

impl NewFollowUp {
    /// A follow-up opened by `created_by` (a user of the closed case's tenant).
    pub fn new(created_by: UserId, title: impl Into<String>, description: impl Into<String>) -> NewFollowUp {
        NewFollowUp {
            created_by,
            title: title.into(),
            description: description.into(),
            attachments: Vec::new(),
            at: None,
        }
    }

    /// The description's attachments.
    pub fn with_attachments(mut self, attachments: Vec<NewAttachment>) -> NewFollowUp {
        self.attachments = attachments;
        self
    }

    /// The creation time (default, or `None`: when the store writes it).
    pub fn with_time(mut self, at: impl Into<Option<Timestamp>>) -> NewFollowUp {
        self.at = at.into();
        self
    }
}

/// What the store answers to a new case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The new case's id.
    pub id: CaseId,
    /// Its assigned number.
    pub number: CaseNumber,
    /// When it repeats a recent non-final case of the tenant: that case.
    /// The new case was accepted but demoted to the low class.
    pub duplicate_of: Option<CaseNumber>,
    /// The change-log sequence of the write (for `wait_indexed`).
    pub change: u64,
}

/// A message added to a thread: [`NewMessage::new`] with who writes it
/// and the text; attachments and a time with the builder methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewMessage {
    /// Who writes it.
    pub actor: Actor,
    /// The text.
    pub body: String,
    /// Attachments.
    pub attachments: Vec<NewAttachment>,
    /// Time; `None` means when the store writes it.
    pub at: Option<Timestamp>,
}

impl NewMessage {
    /// A message by `actor` (a seller user or a support agent).
    pub fn new(actor: Actor, body: impl Into<String>) -> NewMessage {
        NewMessage {
            actor,
            body: body.into(),
            attachments: Vec::new(),
            at: None,
        }
    }

    /// The message's attachments.
    pub fn with_attachments(mut self, attachments: Vec<NewAttachment>) -> NewMessage {
        self.attachments = attachments;
        self
    }

    /// The time of the message (default, or `None`: when the store writes it).
    pub fn with_time(mut self, at: impl Into<Option<Timestamp>>) -> NewMessage {
        self.at = at.into();
        self
    }
}

/// A case named by id or by number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseRef {
    /// By internal id.
    Id(CaseId),
    /// By number.
    Number(CaseNumber),
}

impl From<CaseNumber> for CaseRef {
    fn from(number: CaseNumber) -> CaseRef {
        CaseRef::Number(number)
    }
}

impl From<CaseId> for CaseRef {
    fn from(id: CaseId) -> CaseRef {
        CaseRef::Id(id)
    }
}

impl std::fmt::Display for CaseRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseRef::Id(id) => write!(f, "{id}"),
            CaseRef::Number(n) => write!(f, "{n}"),
        }
    }
}

/// What the store answers to an accepted write on an existing case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The case.
    pub id: CaseId,
    /// Its status after the write.
    pub status: Status,
    /// The sequence of the new thread entry.
    pub entry: u32,
    /// The change-log sequence of the write.
    pub change: u64,
}

/// A case from an archive, imported with its status as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportCase {
    /// The case, with `id`, `entries` and `imported` ignored (the store
    /// assigns them).
    pub case: Case,
    /// Its thread, oldest first.
    pub thread: Vec<ThreadEntry>,
}

/// The outcome of importing one archived case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Imported under a new id.
    Imported {
        /// The new id.
        id: CaseId,
        /// The change-log sequence of the write.
        change: u64,
    },
    /// The number already exists with the same content (the same archive
    /// imported again); nothing was written.
    Skipped {
        /// The number.
        number: CaseNumber,
        /// The existing case with that number.
        existing: CaseId,
    },
}

/// Why an archived case whose number already exists was not imported
/// (carried by [`crate::StoreError::ImportConflict`]). An existing case
/// with the same content is not a conflict: it is
/// [`ImportOutcome::Skipped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportConflict {
    /// The number belongs to a case of another tenant.
    OtherTenant,
    /// The number's case, in the same tenant, holds other content; `field`
    /// is the first field found to differ (`title`, `status`, `messages`,
    /// ...).
    OtherContent {
        /// The first differing field.
        field: &'static str,
    },
}

impl std::fmt::Display for ImportConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportConflict::OtherTenant => f.write_str("belongs to a case of another tenant"),
            ImportConflict::OtherContent { field } => {
                write!(f, "belongs to a case with other content (first difference: {field})")
            }
        }
    }
}
