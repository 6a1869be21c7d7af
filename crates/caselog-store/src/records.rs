//! Versioned record encodings.
//!
//! Every stored value starts with a one-byte version tag followed by the
//! postcard encoding of that version's struct. A reader matches on the tag,
//! so a later release can still read version 1 records (and converts them),
//! and an unknown tag is a typed error rather than a garbled decode.
//!
//! The stored shapes are private types of this module (`CaseV1`,
//! `CaseV2`, `EntryV1`, `EntryV2`), converted to and from the public [`Case`] and
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

/// Version 1 of a thread entry (a status change's fields inline), frozen
/// (read only).
#[derive(Deserialize)]
struct EntryV1 {
    at: Timestamp,
    actor: Actor,
    change: Option<(CaseEvent, Option<Status>, Status)>,
    body: String,
    attachments: Vec<AttachmentMeta>,
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

/// Version 2 of a thread entry: version 1 with two savings. The author is
/// either inline or, when an earlier entry of the same thread names the
/// same actor inline, a reference to that entry's sequence (a seller and an
/// agent take turns: their ids are stored once per thread, not once per
/// message). The body is stored raw or as one zstd frame, whichever is
/// smaller (short bodies do not pay for a frame header). Fields are
/// positional: never reorder or retype them; a change is a new version.
#[derive(Deserialize)]
struct EntryV2<'a> {
    at: Timestamp,
    author: Author,
    change: Option<(CaseEvent, Option<Status>, Status)>,
    #[serde(borrow)]
    body: BodyV2<'a>,
    attachments: Vec<AttachmentMeta>,
}

#[derive(Serialize)]
struct EntryV2Ref<'a> {
    at: Timestamp,
    author: AuthorRef<'a>,
    change: Option<(&'a CaseEvent, Option<Status>, Status)>,
    body: BodyV2<'a>,
    attachments: &'a [AttachmentMeta],
}

/// A version-2 entry's author as stored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) enum Author {
    /// Named here.
    Actor(Actor),
    /// The actor named inline by the earlier entry with this sequence.
    SameAs(u32),
}

#[derive(Serialize)]
enum AuthorRef<'a> {
    Actor(&'a Actor),
    SameAs(u32),
}

/// A version-2 entry's body: raw text, or a zstd frame (its header carries
/// the decompressed size, which the reader bounds before allocating).
#[derive(Serialize, Deserialize)]
enum BodyV2<'a> {
    Raw(&'a str),
    Zstd(&'a [u8]),
}

/// Compression level of stored bodies (see `BENCHMARKS.md`, body
/// compression: higher levels gain little on message-sized texts).
const BODY_ZSTD_LEVEL: i32 = 3;
/// Bodies shorter than this are stored raw without trying: a zstd frame
/// costs about a dozen bytes of header before it saves any.
const BODY_ZSTD_MIN: usize = 64;

thread_local! {
    // zstd contexts are costly to make (hundreds of KiB); one per thread.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The body as stored: compressed when that is smaller, else `None`.
fn compress_body(body: &str) -> Option<Vec<u8>> {
    if body.len() < BODY_ZSTD_MIN {
        return None;
    }
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(BODY_ZSTD_LEVEL).ok();
        }
        // A compressor that cannot be made or fails stores the body raw:
        // compression is an optimisation, never a reason to refuse a write.
        let frame = c.as_mut()?.compress(body.as_bytes()).ok()?;
        (frame.len() < body.len()).then_some(frame)
    })
}

/// Decompresses a stored body, refusing a frame that does not declare its
/// size or declares more than a message body may hold, so a damaged or
/// hostile record cannot make the reader allocate without bound.
fn decompress_body(frame: &[u8], corrupt: impl Fn(String) -> StoreError) -> Result<String> {
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) => n,
        Ok(None) => return Err(corrupt("compressed body does not declare its size".into())),
        Err(_) => return Err(corrupt("compressed body is not a zstd frame".into())),
    };
    let size = usize::try_from(size)
        .ok()
        .filter(|&n| n <= caselog_core::MAX_BODY_BYTES)
        .ok_or_else(|| corrupt(format!("compressed body declares {size} bytes")))?;
    let bytes = DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d =
                Some(zstd::bulk::Decompressor::new().map_err(|e| corrupt(format!("cannot make a zstd context: {e}")))?);
        }
        match d.as_mut() {
            Some(d) => d
                .decompress(frame, size)
                .map_err(|e| corrupt(format!("compressed body: {e}"))),
            None => Err(corrupt("no zstd context".into())),
        }
    })?;
    if bytes.len() != size {
        return Err(corrupt(format!(
            "compressed body holds {} bytes, declares {size}",
            bytes.len()
        )));
    }
    String::from_utf8(bytes).map_err(|_| corrupt("compressed body is not UTF-8".into()))
}

/// Version tag of the tenant records this release writes, of the first
/// case records and of the first thread entries (both still read).
pub const RECORD_V1: u8 = 1;
/// Version tag of the case records this release writes: version 1 plus the
/// seller-side handler.
pub const RECORD_CASE_V2: u8 = 2;
/// Version tag of the thread entries this release writes: authors by
/// reference within a thread, bodies compressed.
pub const RECORD_ENTRY_V2: u8 = 2;

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

/// What a search hit shows of its case record: the fields the index does
/// not hold as fast fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseHead {
    /// Case number.
    pub number: CaseNumber,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Title.
    pub title: String,
}

/// The leading fields of a version-2 case record, up to the title. Postcard
/// is positional, so a prefix of the fields reads a prefix of the bytes and
/// the rest is never looked at; the fields before the title that a hit does
/// not show are borrowed, not validated (a string newtype allocates and
/// validates, the most costly part of a full decode).
#[derive(Deserialize)]
struct CaseHeadV2<'a> {
    _id: CaseId,
    number: CaseNumber,
    tenant: TenantId,
    #[serde(borrow)]
    _created_by: &'a str,
    #[serde(borrow)]
    _assignee: Option<&'a str>,
    #[serde(borrow)]
    _handler: Option<&'a str>,
    #[serde(borrow)]
    _marketplace: &'a str,
    #[serde(borrow)]
    _language: &'a str,
    _category: Category,
    title: String,
}

/// [`CaseHeadV2`] for a version-1 record (no handler).
#[derive(Deserialize)]
struct CaseHeadV1<'a> {
    _id: CaseId,
    number: CaseNumber,
    tenant: TenantId,
    #[serde(borrow)]
    _created_by: &'a str,
    #[serde(borrow)]
    _assignee: Option<&'a str>,
    #[serde(borrow)]
    _marketplace: &'a str,
    #[serde(borrow)]
    _language: &'a str,
    _category: Category,
    title: String,
}

/// Decodes the number, tenant and title of a case record of version 1 or 2:
/// what [`decode_case`] gives for them, reading only the record's leading
/// fields. A record damaged after the title is not noticed here (a full
/// read, verification or the scrub reports it).
pub fn decode_case_head(bytes: &[u8], id: u64) -> Result<CaseHead> {
    let corrupt = |e: postcard::Error| StoreError::Corrupt {
        table: "cases",
        key: id.to_string(),
        detail: e.to_string(),
    };
    match bytes.split_first() {
        Some((&RECORD_CASE_V2, body)) => postcard::from_bytes::<CaseHeadV2<'_>>(body)
            .map(|h| CaseHead {
                number: h.number,
                tenant: h.tenant,
                title: h.title,
            })
            .map_err(corrupt),
        Some((&RECORD_V1, body)) => postcard::from_bytes::<CaseHeadV1<'_>>(body)
            .map(|h| CaseHead {
                number: h.number,
                tenant: h.tenant,
                title: h.title,
            })
            .map_err(corrupt),
        Some((&version, _)) => Err(StoreError::UnknownRecordVersion {
            table: "cases",
            key: id.to_string(),
            version,
        }),
        None => Err(StoreError::Corrupt {
            table: "cases",
            key: id.to_string(),
            detail: "empty record".into(),
        }),
    }
}

/// Encodes a thread entry (version 2) with its author inline (the fuzz
/// targets' and tests' encoder; the store names authors by reference).
#[cfg(any(test, feature = "internals"))]
pub fn encode_entry(entry: &ThreadEntry) -> Result<Vec<u8>> {
    encode_entry_as(entry, None)
}

/// Encodes a thread entry (version 2); `same_author_as` names an earlier
/// entry of the thread that stores the same actor inline.
pub(crate) fn encode_entry_as(entry: &ThreadEntry, same_author_as: Option<u32>) -> Result<Vec<u8>> {
    let frame = compress_body(&entry.body);
    let record = EntryV2Ref {
        at: entry.at,
        author: match same_author_as {
            Some(seq) => AuthorRef::SameAs(seq),
            None => AuthorRef::Actor(&entry.actor),
        },
        change: entry.change.as_ref().map(|c| (&c.event, c.from, c.to)),
        body: match &frame {
            Some(f) => BodyV2::Zstd(f),
            None => BodyV2::Raw(&entry.body),
        },
        attachments: &entry.attachments,
    };
    encode_as(RECORD_ENTRY_V2, &record, "thread")
}

fn entry_corrupt(case: u64, seq: u32) -> impl Fn(String) -> StoreError {
    move |detail| StoreError::Corrupt {
        table: "thread",
        key: format!("({case}, {seq})"),
        detail,
    }
}

/// Decodes a thread entry of version 1 or 2. A version-2 entry that names
/// its author by reference gets it from `earlier(k)`: the actor entry `k`
/// of the same thread stores inline (`k` is below `seq`, checked here).
pub(crate) fn decode_entry_with(
    bytes: &[u8],
    case: u64,
    seq: u32,
    earlier: impl FnOnce(u32) -> Result<Actor>,
) -> Result<ThreadEntry> {
    let corrupt = entry_corrupt(case, seq);
    let Some((&RECORD_ENTRY_V2, body)) = bytes.split_first() else {
        return decode::<EntryV1>(bytes, "thread", &format_args!("({case}, {seq})")).map(ThreadEntry::from);
    };
    let r: EntryV2<'_> = postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    let actor = match r.author {
        Author::Actor(a) => a,
        Author::SameAs(k) if k < seq => earlier(k)?,
        Author::SameAs(k) => return Err(corrupt(format!("author refers to entry {k}, not an earlier one"))),
    };
    let body = match r.body {
        BodyV2::Raw(s) => s.to_owned(),
        BodyV2::Zstd(frame) => decompress_body(frame, &corrupt)?,
    };
    Ok(ThreadEntry {
        at: r.at,
        actor,
        change: r.change.map(|(event, from, to)| StatusChange { event, from, to }),
        body,
        attachments: r.attachments,
    })
}

/// The author of a stored thread entry of version 1 or 2, as stored (a
/// version-1 entry always names it), without decoding the rest.
pub(crate) fn entry_author(bytes: &[u8], case: u64, seq: u32) -> Result<Author> {
    let corrupt = entry_corrupt(case, seq);
    match bytes.split_first() {
        Some((&RECORD_ENTRY_V2, body)) => postcard::take_from_bytes::<(Timestamp, Author)>(body)
            .map(|((_, a), _)| a)
            .map_err(|e| corrupt(e.to_string())),
        _ => decode::<EntryV1>(bytes, "thread", &format_args!("({case}, {seq})")).map(|e| Author::Actor(e.actor)),
    }
}

/// The attachments of a stored thread entry (no author resolved, no body
/// decompressed).
pub(crate) fn entry_attachments(bytes: &[u8], case: u64, seq: u32) -> Result<Vec<AttachmentMeta>> {
    match bytes.split_first() {
        Some((&RECORD_ENTRY_V2, body)) => postcard::from_bytes::<EntryV2<'_>>(body)
            .map(|r| r.attachments)
            .map_err(|e| entry_corrupt(case, seq)(e.to_string())),
        _ => decode::<EntryV1>(bytes, "thread", &format_args!("({case}, {seq})")).map(|e| e.attachments),
    }
}

/// Whether a stored thread entry carries a message (a non-empty body).
pub(crate) fn entry_has_body(bytes: &[u8], case: u64, seq: u32) -> Result<bool> {
    match bytes.split_first() {
        Some((&RECORD_ENTRY_V2, body)) => postcard::from_bytes::<EntryV2<'_>>(body)
            .map(|r| match r.body {
                BodyV2::Raw(s) => !s.is_empty(),
                // Only a body that compressed to less than itself is a frame.
                BodyV2::Zstd(_) => true,
            })
            .map_err(|e| entry_corrupt(case, seq)(e.to_string())),
        _ => decode::<EntryV1>(bytes, "thread", &format_args!("({case}, {seq})")).map(|e| !e.body.is_empty()),
    }
}

/// The leading fields of a version-2 entry, up to the body: what a
/// snippet needs, without resolving the author or reading attachments.
#[derive(Deserialize)]
struct EntryBodyV2<'a> {
    _at: Timestamp,
    _author: Author,
    _change: Option<(CaseEvent, Option<Status>, Status)>,
    #[serde(borrow)]
    body: BodyV2<'a>,
}

/// The body of a stored thread entry of version 1 or 2, decompressed: what
/// [`decode_entry_with`] gives as the body, without resolving a referenced
/// author (no other entry is read) or decoding the attachments.
pub(crate) fn entry_body(bytes: &[u8], case: u64, seq: u32) -> Result<String> {
    let corrupt = entry_corrupt(case, seq);
    let Some((&RECORD_ENTRY_V2, body)) = bytes.split_first() else {
        return decode::<EntryV1>(bytes, "thread", &format_args!("({case}, {seq})")).map(|e| e.body);
    };
    let r: EntryBodyV2<'_> = postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    match r.body {
        BodyV2::Raw(s) => Ok(s.to_owned()),
        BodyV2::Zstd(frame) => decompress_body(frame, &corrupt),
    }
}

/// Which earlier entry a thread's next entry can name its author by: the
/// first entry of each actor stores it inline, later ones refer to that
/// entry. Used where a whole thread is written at once (an import).
#[derive(Default)]
pub(crate) struct ThreadAuthors {
    first: Vec<(Actor, u32)>,
}

impl ThreadAuthors {
    /// The reference for entry `seq` by `actor`, remembering the actor's
    /// first entry. The system has no id to save.
    pub(crate) fn same_as(&mut self, actor: &Actor, seq: u32) -> Option<u32> {
        if *actor == Actor::System {
            return None;
        }
        if let Some((_, k)) = self.first.iter().find(|(a, _)| a == actor) {
            return Some(*k);
        }
        self.first.push((actor.clone(), seq));
        None
    }
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
pub(crate) mod tests {
    use caselog_core::{AttachmentKind, ContentHash, OrderId, Span};

    use super::*;

    pub(crate) fn sample() -> (Case, ThreadEntry) {
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

    /// A version-1 case record (no handler), as the first release wrote it.
    fn case_v1_bytes(c: &Case) -> Vec<u8> {
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
        bytes
    }

    /// The head of a case as the full decode gives it.
    fn head_of(c: &Case) -> CaseHead {
        CaseHead {
            number: c.number.clone(),
            tenant: c.tenant.clone(),
            title: c.title.clone(),
        }
    }

    proptest::proptest! {
        /// The light decodes give what the full decodes give for the fields
        /// they read: a case's number, tenant and title (version 2 and
        /// version 1 records), an entry's body (version 2 with the author
        /// inline or by reference, raw or compressed, and version 1); and a
        /// truncated case record is an error or, cut after the title, the
        /// same head.
        #[test]
        fn light_decodes_equal_full_decodes_projected(
            (case, thread) in crate::interchange::tests::case_and_thread(),
            repeat in 1usize..12,
            cut in 0usize..400,
        ) {
            for (bytes, version) in [(encode_case(&case).unwrap(), RECORD_CASE_V2), (case_v1_bytes(&case), RECORD_V1)] {
                proptest::prop_assert_eq!(bytes[0], version);
                let full = decode_case(&bytes, 7).unwrap();
                let head = decode_case_head(&bytes, 7).unwrap();
                proptest::prop_assert_eq!(&head, &head_of(&full));
                let cut = cut.min(bytes.len());
                if let Ok(h) = decode_case_head(&bytes[..cut], 7) {
                    proptest::prop_assert_eq!(h, head);
                }
            }
            let mut thread = thread;
            let long = ThreadEntry {
                body: "The refund for my order has not arrived yet. ".repeat(repeat + 8),
                ..thread[0].clone()
            };
            thread.push(long);
            let mut compressed = 0;
            for (e, seq) in thread.iter().zip(1u32..) {
                let mut e = e.clone();
                e.body = e.body.repeat(repeat);
                let mut v1 = vec![RECORD_V1];
                v1.extend(postcard::to_stdvec(&e).unwrap());
                let inline = encode_entry_as(&e, None).unwrap();
                let by_reference = encode_entry_as(&e, Some(0)).unwrap();
                compressed += usize::from(compress_body(&e.body).is_some());
                for bytes in [inline, by_reference, v1] {
                    let full = decode_entry_with(&bytes, 7, seq, |_| Ok(e.actor.clone())).unwrap();
                    proptest::prop_assert_eq!(&full, &e);
                    proptest::prop_assert_eq!(entry_body(&bytes, 7, seq).unwrap(), full.body);
                }
            }
            // The appended long body at least is stored as a zstd frame.
            proptest::prop_assert!(compressed > 0);
        }
    }

    /// The private case record type writes exactly the postcard encoding
    /// of the public struct behind tag 2, reads back what was written, and
    /// version-1 cases and entries still read.
    #[test]
    fn records_keep_their_bytes_and_round_trip() {
        let (case, entry) = sample();
        let bytes = encode_case(&case).unwrap();
        assert_eq!(bytes[0], RECORD_CASE_V2);
        assert_eq!(&bytes[1..], postcard::to_stdvec(&case).unwrap().as_slice());
        assert_eq!(decode_case(&bytes, 42).unwrap(), case);
        // A version-1 case (no handler), as the first release wrote it.
        let bytes = case_v1_bytes(&case);
        let mut expected = case.clone();
        expected.handler = None;
        assert_eq!(decode_case(&bytes, 42).unwrap(), expected);
        // A version-1 entry (what the first release wrote: the postcard
        // encoding of the public struct) still reads, with or without a
        // status change.
        let no_ref = |_| -> Result<Actor> { panic!("a version-1 entry has no author reference") };
        let mut v1 = vec![RECORD_V1];
        v1.extend(postcard::to_stdvec(&entry).unwrap());
        assert_eq!(decode_entry_with(&v1, 42, 2, no_ref).unwrap(), entry);
        let mut bare = entry.clone();
        bare.change = None;
        let mut v1 = vec![RECORD_V1];
        v1.extend(postcard::to_stdvec(&bare).unwrap());
        assert_eq!(decode_entry_with(&v1, 42, 3, no_ref).unwrap(), bare);
        assert_eq!(entry_author(&v1, 42, 3).unwrap(), Author::Actor(bare.actor.clone()));
        assert_eq!(entry_attachments(&v1, 42, 3).unwrap(), bare.attachments);
        assert!(entry_has_body(&v1, 42, 3).unwrap());
    }

    /// The bytes of a version-2 entry, field by field: tag 2, time, author
    /// (variant 0 + the actor, or variant 1 + the sequence it refers to),
    /// status change, body (variant 0 + the text, or variant 1 + a zstd
    /// frame), attachments.
    fn entry_v2_bytes(e: &ThreadEntry, same_as: Option<u32>, frame: Option<&[u8]>) -> Vec<u8> {
        let mut b = vec![RECORD_ENTRY_V2];
        b.extend(postcard::to_stdvec(&e.at).unwrap());
        match same_as {
            None => {
                b.push(0);
                b.extend(postcard::to_stdvec(&e.actor).unwrap());
            }
            Some(k) => {
                b.push(1);
                b.extend(postcard::to_stdvec(&k).unwrap());
            }
        }
        b.extend(postcard::to_stdvec(&e.change).unwrap());
        match frame {
            None => {
                b.push(0);
                b.extend(postcard::to_stdvec(&e.body).unwrap());
            }
            Some(f) => {
                b.push(1);
                b.extend(postcard::to_stdvec(&f.len()).unwrap());
                b.extend_from_slice(f);
            }
        }
        b.extend(postcard::to_stdvec(&e.attachments).unwrap());
        b
    }

    #[test]
    fn entry_v2_keeps_its_bytes_and_round_trips() {
        let (_, entry) = sample();
        let no_ref = |_| -> Result<Actor> { panic!("no author reference expected") };
        // A short body stays raw; the author inline.
        let bytes = encode_entry(&entry).unwrap();
        assert_eq!(bytes, entry_v2_bytes(&entry, None, None));
        assert_eq!(decode_entry_with(&bytes, 42, 2, no_ref).unwrap(), entry);

        // A long body is a zstd frame of the configured level; the author
        // by reference, resolved by the caller.
        let mut long = entry.clone();
        long.change = None;
        long.body = "The refund for my order has not arrived yet. ".repeat(8);
        let frame = zstd::bulk::compress(long.body.as_bytes(), BODY_ZSTD_LEVEL).unwrap();
        assert!(frame.len() < long.body.len());
        let bytes = encode_entry_as(&long, Some(1)).unwrap();
        assert_eq!(bytes, entry_v2_bytes(&long, Some(1), Some(&frame)));
        assert_eq!(entry_author(&bytes, 42, 5).unwrap(), Author::SameAs(1));
        assert_eq!(entry_attachments(&bytes, 42, 5).unwrap(), long.attachments);
        assert!(entry_has_body(&bytes, 42, 5).unwrap());
        let mut asked = None;
        let back = decode_entry_with(&bytes, 42, 5, |k| {
            asked = Some(k);
            Ok(long.actor.clone())
        })
        .unwrap();
        assert_eq!((back, asked), (long.clone(), Some(1)));

        // A body above the threshold that does not compress (70 distinct
        // characters: no match, nothing for an entropy coder) stays raw.
        let mut noise = long.clone();
        noise.body = (0..70u32).filter_map(|i| char::from_u32(33 + (i * 37) % 94)).collect();
        assert!(noise.body.len() >= BODY_ZSTD_MIN);
        let bytes = encode_entry(&noise).unwrap();
        assert_eq!(bytes, entry_v2_bytes(&noise, None, None));
        let empty = ThreadEntry {
            body: String::new(),
            ..entry.clone()
        };
        assert!(!entry_has_body(&encode_entry(&empty).unwrap(), 42, 1).unwrap());
    }

    /// Damaged or hostile version-2 entries are typed errors naming the
    /// key: a reference to a later entry, a frame declaring more than a
    /// body may hold, one without a declared size, one holding more or
    /// less than it declares, one that is not zstd or not UTF-8.
    #[test]
    fn damaged_entry_v2_is_a_typed_error() {
        let (_, entry) = sample();
        let corrupt = |bytes: &[u8], seq: u32| -> String {
            match decode_entry_with(bytes, 42, seq, |_| Ok(Actor::System)) {
                Err(StoreError::Corrupt { table, key, detail }) => {
                    assert_eq!((table, key), ("thread", format!("(42, {seq})")));
                    detail
                }
                other => panic!("expected a corruption error, got {other:?}"),
            }
        };
        let own = encode_entry_as(&entry, Some(4)).unwrap();
        assert!(corrupt(&own, 4).contains("not an earlier one"));

        let huge = vec![b'a'; caselog_core::MAX_BODY_BYTES + 1];
        let frame = zstd::bulk::compress(&huge, 19).unwrap();
        let bytes = entry_v2_bytes(&entry, None, Some(&frame));
        assert!(corrupt(&bytes, 1).contains("declares"));

        let mut c = zstd::bulk::Compressor::new(3).unwrap();
        c.set_parameter(zstd::zstd_safe::CParameter::ContentSizeFlag(false))
            .unwrap();
        let unsized_frame = c.compress(&[b'b'; 300]).unwrap();
        assert!(corrupt(&entry_v2_bytes(&entry, None, Some(&unsized_frame)), 1).contains("size"));

        // Two frames back to back: the first declares 300 bytes, the
        // second adds more.
        let one = zstd::bulk::compress(&[b'c'; 300], 3).unwrap();
        let two = [one.as_slice(), one.as_slice()].concat();
        assert!(!corrupt(&entry_v2_bytes(&entry, None, Some(&two)), 1).is_empty());
        let mut cut = one.clone();
        cut.truncate(cut.len() - 2);
        assert!(!corrupt(&entry_v2_bytes(&entry, None, Some(&cut)), 1).is_empty());
        assert!(corrupt(&entry_v2_bytes(&entry, None, Some(b"not zstd at all")), 1).contains("zstd"));
        let latin1 = zstd::bulk::compress(&[0xE9; 300], 3).unwrap();
        assert!(corrupt(&entry_v2_bytes(&entry, None, Some(&latin1)), 1).contains("UTF-8"));
        // Unknown versions stay typed.
        assert!(matches!(
            decode_entry_with(&[9, 1, 2], 42, 1, |_| Ok(Actor::System)),
            Err(StoreError::UnknownRecordVersion { version: 9, .. })
        ));
    }

    /// An imported thread stores each actor once and refers to it after.
    #[test]
    fn thread_authors_refer_to_each_actors_first_entry() {
        let seller = Actor::Seller(UserId::parse("user1@seller00001.example").unwrap());
        let agent = Actor::Support(UserId::parse("agent-3").unwrap());
        let mut a = ThreadAuthors::default();
        let got: Vec<Option<u32>> = [&seller, &agent, &seller, &Actor::System, &agent, &seller]
            .iter()
            .zip(0u32..)
            .map(|(actor, seq)| a.same_as(actor, seq))
            .collect();
        assert_eq!(got, [None, None, Some(0), None, Some(1), Some(0)]);
    }
}
