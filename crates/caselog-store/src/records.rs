//! Versioned record encodings.
//!
//! Every stored value starts with a one-byte version tag followed by the
//! postcard encoding of that version's struct. A reader matches on the tag,
//! so a later release can still read version 1 records (and converts them),
//! and an unknown tag is a typed error rather than a garbled decode.
//!
//! The stored shapes are private types of this module (`CaseV1`,
//! `EntryV1`), converted to and from the public [`Case`] and
//! [`ThreadEntry`] explicitly: a public field can change without changing
//! the format, and a new format version without changing the API.

use caselog_core::{
    Actor, AttachmentMeta, CaseEvent, CaseId, CaseNumber, CaseState, Category, LanguageTag, Marketplace,
    PerformanceTier, References, Status, TenantId, Timestamp, UserId,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::model::{Case, CaseLinks, StatusChange, ThreadEntry};

/// Version 1 of the case record, frozen (read only). Fields are encoded in
/// this order (postcard is positional): never reorder or retype them; a
/// change is a new version.
#[derive(Deserialize)]
struct CaseV1 {
    id: CaseId,
    number: CaseNumber,
    tenant: TenantId,
    created_by: UserId,
    assignee: Option<UserId>,
    marketplace: Marketplace,
    language: LanguageTag,
    category: Category,
    title: String,
    refs: References,
    state: CaseState,
    complex: bool,
    tier: PerformanceTier,
    duplicate_of: Option<CaseNumber>,
    follow_up_of: Option<CaseNumber>,
    follow_ups: Vec<CaseNumber>,
    entries: u32,
    imported: bool,
}

/// Version 2 of the case record: version 1 with the seller-side handler
/// after the assignee. `CaseV2Ref` is the same shape, borrowed, for writing.
#[derive(Deserialize)]
struct CaseV2 {
    id: CaseId,
    number: CaseNumber,
    tenant: TenantId,
    created_by: UserId,
    assignee: Option<UserId>,
    handler: Option<UserId>,
    marketplace: Marketplace,
    language: LanguageTag,
    category: Category,
    title: String,
    refs: References,
    state: CaseState,
    complex: bool,
    tier: PerformanceTier,
    duplicate_of: Option<CaseNumber>,
    follow_up_of: Option<CaseNumber>,
    follow_ups: Vec<CaseNumber>,
    entries: u32,
    imported: bool,
}

#[derive(Serialize)]
struct CaseV2Ref<'a> {
    id: CaseId,
    number: &'a CaseNumber,
    tenant: &'a TenantId,
    created_by: &'a UserId,
    assignee: &'a Option<UserId>,
    handler: &'a Option<UserId>,
    marketplace: &'a Marketplace,
    language: &'a LanguageTag,
    category: Category,
    title: &'a str,
    refs: &'a References,
    state: &'a CaseState,
    complex: bool,
    tier: PerformanceTier,
    duplicate_of: &'a Option<CaseNumber>,
    follow_up_of: &'a Option<CaseNumber>,
    follow_ups: &'a [CaseNumber],
    entries: u32,
    imported: bool,
}

impl<'a> From<&'a Case> for CaseV2Ref<'a> {
    fn from(c: &'a Case) -> Self {
        CaseV2Ref {
            id: c.id,
            number: &c.number,
            tenant: &c.tenant,
            created_by: &c.created_by,
            assignee: &c.assignee,
            handler: &c.handler,
            marketplace: &c.marketplace,
            language: &c.language,
            category: c.category,
            title: &c.title,
            refs: &c.refs,
            state: &c.state,
            complex: c.complex,
            tier: c.tier,
            duplicate_of: &c.links.duplicate_of,
            follow_up_of: &c.links.follow_up_of,
            follow_ups: &c.links.follow_ups,
            entries: c.entries,
            imported: c.imported,
        }
    }
}

impl From<CaseV2> for Case {
    fn from(r: CaseV2) -> Case {
        Case {
            id: r.id,
            number: r.number,
            tenant: r.tenant,
            created_by: r.created_by,
            assignee: r.assignee,
            handler: r.handler,
            marketplace: r.marketplace,
            language: r.language,
            category: r.category,
            title: r.title,
            refs: r.refs,
            state: r.state,
            complex: r.complex,
            tier: r.tier,
            links: CaseLinks {
                duplicate_of: r.duplicate_of,
                follow_up_of: r.follow_up_of,
                follow_ups: r.follow_ups,
            },
            entries: r.entries,
            imported: r.imported,
        }
    }
}

impl From<CaseV1> for Case {
    fn from(r: CaseV1) -> Case {
        Case {
            id: r.id,
            number: r.number,
            tenant: r.tenant,
            created_by: r.created_by,
            assignee: r.assignee,
            handler: None,
            marketplace: r.marketplace,
            language: r.language,
            category: r.category,
            title: r.title,
            refs: r.refs,
            state: r.state,
            complex: r.complex,
            tier: r.tier,
            links: CaseLinks {
                duplicate_of: r.duplicate_of,
                follow_up_of: r.follow_up_of,
                follow_ups: r.follow_ups,
            },
            entries: r.entries,
            imported: r.imported,
        }
    }
}

/// Version 1 of a thread entry (a status change's fields inline).
#[derive(Deserialize)]
struct EntryV1 {
    at: Timestamp,
    actor: Actor,
    change: Option<(CaseEvent, Option<Status>, Status)>,
    body: String,
    attachments: Vec<AttachmentMeta>,
}

#[derive(Serialize)]
struct EntryV1Ref<'a> {
    at: Timestamp,
    actor: &'a Actor,
    change: Option<(&'a CaseEvent, Option<Status>, Status)>,
    body: &'a str,
    attachments: &'a [AttachmentMeta],
}

impl<'a> From<&'a ThreadEntry> for EntryV1Ref<'a> {
    fn from(e: &'a ThreadEntry) -> Self {
        EntryV1Ref {
            at: e.at,
            actor: &e.actor,
            change: e.change.as_ref().map(|c| (&c.event, c.from, c.to)),
            body: &e.body,
            attachments: &e.attachments,
        }
    }
}

impl From<EntryV1> for ThreadEntry {
    fn from(r: EntryV1) -> ThreadEntry {
        ThreadEntry {
            at: r.at,
            actor: r.actor,
            change: r.change.map(|(event, from, to)| StatusChange { event, from, to }),
            body: r.body,
            attachments: r.attachments,
        }
    }
}

/// Version tag of the thread and tenant records this release writes, and
/// of the first case records (still read).
pub const RECORD_V1: u8 = 1;
/// Version tag of the case records this release writes: version 1 plus the
/// seller-side handler.
pub const RECORD_CASE_V2: u8 = 2;

pub(crate) fn encode<T: Serialize>(value: &T, table: &'static str) -> Result<Vec<u8>> {
    encode_as(RECORD_V1, value, table)
}

fn encode_as<T: Serialize>(version: u8, value: &T, table: &'static str) -> Result<Vec<u8>> {
    let mut out = vec![version];
    let body = postcard::to_stdvec(value).map_err(|e| StoreError::Corrupt {
        table,
        key: "(new record)".into(),
        detail: format!("cannot encode: {e}"),
    })?;
    out.extend_from_slice(&body);
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], table: &'static str, key: &dyn std::fmt::Display) -> Result<T> {
    match bytes.split_first() {
        Some((&RECORD_V1, body)) => postcard::from_bytes(body).map_err(|e| StoreError::Corrupt {
            table,
            key: key.to_string(),
            detail: e.to_string(),
        }),
        Some((&version, _)) => Err(StoreError::UnknownRecordVersion {
            table,
            key: key.to_string(),
            version,
        }),
        None => Err(StoreError::Corrupt {
            table,
            key: key.to_string(),
            detail: "empty record".into(),
        }),
    }
}

/// Encodes a case record (version 2).
pub fn encode_case(case: &Case) -> Result<Vec<u8>> {
    encode_as(RECORD_CASE_V2, &CaseV2Ref::from(case), "cases")
}

/// Decodes a case record of version 1 or 2.
pub fn decode_case(bytes: &[u8], id: u64) -> Result<Case> {
    match bytes.split_first() {
        Some((&RECORD_CASE_V2, body)) => {
            postcard::from_bytes::<CaseV2>(body)
                .map(Case::from)
                .map_err(|e| StoreError::Corrupt {
                    table: "cases",
                    key: id.to_string(),
                    detail: e.to_string(),
                })
        }
        _ => decode::<CaseV1>(bytes, "cases", &id).map(Case::from),
    }
}

/// Encodes a thread entry.
pub fn encode_entry(entry: &ThreadEntry) -> Result<Vec<u8>> {
    encode(&EntryV1Ref::from(entry), "thread")
}

/// Decodes a thread entry.
pub fn decode_entry(bytes: &[u8], case: u64, seq: u32) -> Result<ThreadEntry> {
    decode::<EntryV1>(bytes, "thread", &format_args!("({case}, {seq})")).map(ThreadEntry::from)
}

/// What the store keeps about a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// The performance tier the queue policy uses.
    pub tier: PerformanceTier,
}

/// Encodes a tenant record.
pub fn encode_tenant(t: &TenantRecord) -> Result<Vec<u8>> {
    encode(t, "tenants")
}

/// Decodes a tenant record.
pub fn decode_tenant(bytes: &[u8], tenant: &str) -> Result<TenantRecord> {
    decode(bytes, "tenants", &tenant)
}

/// The few fields a view filters on, kept in the view tables' values so a
/// filtered scan never loads whole case records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewSummary {
    /// Status.
    pub status: Status,
    /// Category.
    pub category: Category,
    /// Marketplace code (two ASCII letters).
    pub marketplace: [u8; 2],
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// Length of an encoded [`ViewSummary`].
pub const SUMMARY_LEN: usize = 20;

/// The two bytes of a marketplace code.
pub fn marketplace_bytes(m: &Marketplace) -> [u8; 2] {
    let b = m.as_str().as_bytes();
    [b.first().copied().unwrap_or(b'?'), b.get(1).copied().unwrap_or(b'?')]
}

impl ViewSummary {
    /// The summary of a case.
    pub fn of(case: &Case) -> Self {
        ViewSummary {
            status: case.state.status,
            category: case.category,
            marketplace: marketplace_bytes(&case.marketplace),
            created_at: case.state.created_at,
            updated_at: case.state.updated_at,
        }
    }

    /// Fixed 20-byte encoding.
    pub fn encode(&self) -> [u8; SUMMARY_LEN] {
        let mut out = [0u8; SUMMARY_LEN];
        out[0] = self.status.index() as u8;
        out[1] = self.category.index() as u8;
        out[2..4].copy_from_slice(&self.marketplace);
        out[4..12].copy_from_slice(&self.created_at.as_millis().to_le_bytes());
        out[12..20].copy_from_slice(&self.updated_at.as_millis().to_le_bytes());
        out
    }

    /// Decodes [`ViewSummary::encode`]'s output.
    pub fn decode(bytes: &[u8], table: &'static str) -> Result<Self> {
        let corrupt = |detail: &str| StoreError::Corrupt {
            table,
            key: "(view entry)".into(),
            detail: detail.into(),
        };
        let arr: &[u8; SUMMARY_LEN] = bytes.try_into().map_err(|_| corrupt("wrong summary length"))?;
        let status = status_from_byte(arr[0]).ok_or_else(|| corrupt("bad status byte"))?;
        let category = category_from_byte(arr[1]).ok_or_else(|| corrupt("bad category byte"))?;
        let mut w = [0u8; 8];
        w.copy_from_slice(&arr[4..12]);
        let created_at = Timestamp::from_millis(i64::from_le_bytes(w)).map_err(|_| corrupt("bad time"))?;
        w.copy_from_slice(&arr[12..20]);
        let updated_at = Timestamp::from_millis(i64::from_le_bytes(w)).map_err(|_| corrupt("bad time"))?;
        Ok(ViewSummary {
            status,
            category,
            marketplace: [arr[2], arr[3]],
            created_at,
            updated_at,
        })
    }
}

/// The status with a dense index.
pub fn status_from_byte(b: u8) -> Option<Status> {
    Status::ALL.get(usize::from(b)).copied()
}

/// The category with a dense index.
pub fn category_from_byte(b: u8) -> Option<Category> {
    Category::ALL.get(usize::from(b)).copied()
}

/// Value of a queue entry: category and marketplace, for filtered queue reads.
pub fn encode_queue_value(case: &Case) -> [u8; 3] {
    let m = marketplace_bytes(&case.marketplace);
    [case.category.index() as u8, m[0], m[1]]
}

#[cfg(test)]
mod tests {
    use caselog_core::{AttachmentKind, ContentHash, OrderId, Span};

    use super::*;

    fn sample() -> (Case, ThreadEntry) {
        let at = Timestamp::from_millis(1_767_225_600_000).unwrap();
        let number = |n: u64| CaseNumber::generated(n).unwrap();
        let mut state = CaseState::new(at);
        state.status = Status::InProgress;
        state.updated_at = at.saturating_add(Span::hours(3));
        let case = Case {
            id: CaseId(42),
            number: number(1_000_042),
            tenant: TenantId::parse("seller-0042").unwrap(),
            created_by: UserId::parse("ops@example.com").unwrap(),
            assignee: Some(UserId::parse("agent-7").unwrap()),
            handler: Some(UserId::parse("colleague@example.com").unwrap()),
            marketplace: Marketplace::parse("DE").unwrap(),
            language: LanguageTag::parse("de").unwrap(),
            category: Category::Payments,
            title: "Auszahlung fehlt 付款".into(),
            refs: References {
                orders: vec![OrderId::parse("112-1234567-1234567").unwrap()],
                cases: vec![number(1_000_001)],
                ..References::default()
            },
            state,
            complex: true,
            tier: PerformanceTier::Standard,
            links: CaseLinks {
                duplicate_of: Some(number(1_000_002)),
                follow_up_of: Some(number(1_000_003)),
                follow_ups: vec![number(1_000_050), number(1_000_051)],
            },
            entries: 3,
            imported: true,
        };
        let entry = ThreadEntry {
            at,
            actor: Actor::Support(UserId::parse("agent-7").unwrap()),
            change: Some(StatusChange {
                event: CaseEvent::MergeInto {
                    target: number(1_000_009),
                },
                from: Some(Status::Open),
                to: Status::Merged,
            }),
            body: "merged".into(),
            attachments: vec![AttachmentMeta {
                name: "invoice.pdf".into(),
                kind: AttachmentKind::Pdf,
                size: 5,
                sha256: ContentHash([7; 32]),
            }],
        };
        (case, entry)
    }

    /// The private record types write exactly the postcard encoding of the
    /// public structs behind the tag (version 2 for cases, 1 for entries),
    /// read back what was written, and still read version-1 cases.
    #[test]
    fn records_keep_their_bytes_and_round_trip() {
        let (case, entry) = sample();
        let bytes = encode_case(&case).unwrap();
        assert_eq!(bytes[0], RECORD_CASE_V2);
        assert_eq!(&bytes[1..], postcard::to_stdvec(&case).unwrap().as_slice());
        assert_eq!(decode_case(&bytes, 42).unwrap(), case);
        let bytes = encode_entry(&entry).unwrap();
        assert_eq!(&bytes[1..], postcard::to_stdvec(&entry).unwrap().as_slice());
        assert_eq!(decode_entry(&bytes, 42, 2).unwrap(), entry);
        let mut bare = entry;
        bare.change = None;
        let bytes = encode_entry(&bare).unwrap();
        assert_eq!(&bytes[1..], postcard::to_stdvec(&bare).unwrap().as_slice());
        assert_eq!(decode_entry(&bytes, 42, 3).unwrap(), bare);

        // A version-1 case (no handler), as the first release wrote it.
        #[derive(Serialize)]
        struct V1<'a>(
            CaseId,
            &'a CaseNumber,
            &'a TenantId,
            &'a UserId,
            &'a Option<UserId>,
            &'a Marketplace,
            &'a LanguageTag,
            Category,
            &'a str,
            &'a References,
            &'a CaseState,
            bool,
            PerformanceTier,
            &'a CaseLinks,
            u32,
            bool,
        );
        let c = &case;
        let v1 = V1(
            c.id,
            &c.number,
            &c.tenant,
            &c.created_by,
            &c.assignee,
            &c.marketplace,
            &c.language,
            c.category,
            &c.title,
            &c.refs,
            &c.state,
            c.complex,
            c.tier,
            &c.links,
            c.entries,
            c.imported,
        );
        let mut bytes = vec![RECORD_V1];
        bytes.extend(postcard::to_stdvec(&v1).unwrap());
        let mut expected = case.clone();
        expected.handler = None;
        assert_eq!(decode_case(&bytes, 42).unwrap(), expected);
    }
}
