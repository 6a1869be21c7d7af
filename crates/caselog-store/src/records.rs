//! Versioned record encodings.
//!
//! Every stored value starts with a one-byte version tag followed by the
//! postcard encoding of that version's struct. A reader matches on the tag,
//! so a later release can still read version 1 records (and converts them),
//! and an unknown tag is a typed error rather than a garbled decode.

use caselog_core::{Category, Marketplace, PerformanceTier, Status, Timestamp};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::model::{Case, ThreadEntry};

/// Version tag of the thread and tenant records this release writes, and
/// of the first case records.
pub const RECORD_V1: u8 = 1;
/// Version tag of the case records this release writes (version 1 lacked
/// [`Case::handler`]; it is still read).
pub const RECORD_CASE_V2: u8 = 2;

fn encode<T: Serialize>(value: &T, table: &'static str) -> Result<Vec<u8>> {
    let mut out = vec![RECORD_V1];
    let body = postcard::to_stdvec(value).map_err(|e| StoreError::Corrupt {
        table,
        key: "(new record)".into(),
        detail: format!("cannot encode: {e}"),
    })?;
    out.extend_from_slice(&body);
    Ok(out)
}

fn decode<T: DeserializeOwned>(bytes: &[u8], table: &'static str, key: &dyn std::fmt::Display) -> Result<T> {
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
    let mut out = encode(case, "cases")?;
    if let Some(tag) = out.first_mut() {
        *tag = RECORD_CASE_V2;
    }
    Ok(out)
}

/// Decodes a case record of version 1 or 2.
pub fn decode_case(bytes: &[u8], id: u64) -> Result<Case> {
    match bytes.split_first() {
        Some((&RECORD_CASE_V2, body)) => postcard::from_bytes(body).map_err(|e| StoreError::Corrupt {
            table: "cases",
            key: id.to_string(),
            detail: e.to_string(),
        }),
        _ => decode::<CaseV1>(bytes, "cases", &id).map(Case::from),
    }
}

/// The version-1 case record, frozen: [`Case`] before the seller-side
/// handler.
#[derive(Deserialize)]
struct CaseV1 {
    id: caselog_core::CaseId,
    number: caselog_core::CaseNumber,
    tenant: caselog_core::TenantId,
    created_by: caselog_core::UserId,
    assignee: Option<caselog_core::UserId>,
    marketplace: Marketplace,
    language: caselog_core::LanguageTag,
    category: Category,
    title: String,
    refs: caselog_core::References,
    state: caselog_core::CaseState,
    complex: bool,
    tier: PerformanceTier,
    links: crate::model::CaseLinks,
    entries: u32,
    imported: bool,
}

impl From<CaseV1> for Case {
    fn from(v: CaseV1) -> Case {
        Case {
            id: v.id,
            number: v.number,
            tenant: v.tenant,
            created_by: v.created_by,
            assignee: v.assignee,
            handler: None,
            marketplace: v.marketplace,
            language: v.language,
            category: v.category,
            title: v.title,
            refs: v.refs,
            state: v.state,
            complex: v.complex,
            tier: v.tier,
            links: v.links,
            entries: v.entries,
            imported: v.imported,
        }
    }
}

/// Encodes a thread entry.
pub fn encode_entry(entry: &ThreadEntry) -> Result<Vec<u8>> {
    encode(entry, "thread")
}

/// Decodes a thread entry.
pub fn decode_entry(bytes: &[u8], case: u64, seq: u32) -> Result<ThreadEntry> {
    decode(bytes, "thread", &format_args!("({case}, {seq})"))
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
