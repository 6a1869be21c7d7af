//! What each write command does inside the writer's transaction.
//!
//! Every command first reads and validates, and only then writes, so a
//! refused command leaves the shared transaction untouched and the other
//! commands of its batch commit normally.

use crate::stored::{full_thread, load_case, read_counter, resolve};
use crate::wal::ops::Readable;
use caselog_core::{
    create, find_duplicate, transition, validate_body, validate_title, Actor, AttachmentMeta, AttachmentPolicy,
    CaseEvent, CaseId, CaseNumber, DuplicateFacts, PerformanceTier, QueueInputs, Status, TenantId, Timestamp,
};
use redb::{ReadableTable, WriteTransaction};

/// The writer's tables record every write into the batch's log record
/// (`wal::ops`); reads go to redb's table as before.
pub(crate) type Table<'t, K, V> = crate::wal::ops::Logged<'t, K, V>;
use sha2::{Digest, Sha256};

use crate::error::{st, Result, StoreError};
use crate::model::{
    Case, CaseLinks, CaseRef, Created, ImportCase, ImportConflict, ImportOutcome, NewAttachment, NewCase, NewFollowUp,
    Scope, StatusChange, ThreadEntry, Written,
};
use crate::options::Options;
use crate::records::{self, TenantRecord};
use crate::tables::{self, order_bits, ALL_SCOPE};

/// Most entries one thread may hold.
pub const MAX_THREAD_ENTRIES: u32 = 100_000;

/// The tables of one write transaction, opened once per batch.
pub(crate) struct Tables<'t> {
    pub meta: Table<'t, &'static str, &'static [u8]>,
    pub cases: Table<'t, u64, &'static [u8]>,
    pub numbers: Table<'t, &'static str, u64>,
    pub thread: Table<'t, (u64, u32), &'static [u8]>,
    pub blobs: Table<'t, &'static [u8; 32], &'static [u8]>,
    pub tenants: Table<'t, &'static str, &'static [u8]>,
    pub by_updated: Table<'t, (&'static str, u64, u64), &'static [u8]>,
    pub by_created: Table<'t, (&'static str, u64, u64), &'static [u8]>,
    pub by_status: Table<'t, (&'static str, u8, u64, u64), ()>,
    pub by_user: Table<'t, (&'static str, &'static str, u64, u64), ()>,
    pub attention: Table<'t, (&'static str, u64, u64), ()>,
    pub queue: Table<'t, &'static [u8; 25], &'static [u8]>,
    pub changes: Table<'t, u64, u64>,
    pub feed: Table<'t, u64, &'static [u8]>,
    pub feed_consumers: Table<'t, (&'static str, &'static str), &'static [u8]>,
    pub read_markers: Table<'t, (&'static str, u64), u32>,
    pub view_counts: Table<'t, (&'static str, &'static str), u64>,
    pub views_pending: Table<'t, u64, ()>,
    pub view_buckets: Table<'t, (&'static str, &'static str, u64), &'static [u8]>,
    /// B-tree entries this transaction inserted or removed in the case,
    /// number, thread, change-log, feed, view, queue, count and meta tables
    /// (`Metrics::entries_written`).
    pub written: u64,
    /// View-count changes of this batch, written once by `Ctx::save`
    /// (`views::flush_counts`): an import chunk touches each counter once.
    pub count_deltas: std::collections::BTreeMap<(String, String), i64>,
    /// Bucket-count changes of this batch, written with the counts
    /// (`buckets::flush`).
    pub bucket_deltas: crate::buckets::Deltas,
}

impl<'t> Tables<'t> {
    /// The tables, writing nothing to a log (open-time work, tests).
    pub fn open(txn: &'t WriteTransaction) -> Result<Self> {
        Self::open_logged(txn, None)
    }

    /// The tables, recording every write into `log` when given.
    pub fn open_logged(txn: &'t WriteTransaction, log: Option<&'t crate::wal::ops::OpLog>) -> Result<Self> {
        let o = &st::<redb::TableError>("opening tables");
        let txn = crate::wal::ops::LoggingTxn::new(txn, log);
        Ok(Tables {
            meta: txn.open_table(tables::META).map_err(o)?,
            cases: txn.open_table(tables::CASES).map_err(o)?,
            numbers: txn.open_table(tables::NUMBERS).map_err(o)?,
            thread: txn.open_table(tables::THREAD).map_err(o)?,
            blobs: txn.open_table(tables::BLOBS).map_err(o)?,
            tenants: txn.open_table(tables::TENANTS).map_err(o)?,
            by_updated: txn.open_table(tables::BY_UPDATED).map_err(o)?,
            by_created: txn.open_table(tables::BY_CREATED).map_err(o)?,
            by_status: txn.open_table(tables::BY_STATUS).map_err(o)?,
            by_user: txn.open_table(tables::BY_USER).map_err(o)?,
            attention: txn.open_table(tables::ATTENTION).map_err(o)?,
            queue: txn.open_table(tables::QUEUE).map_err(o)?,
            changes: txn.open_table(tables::CHANGES).map_err(o)?,
            feed: txn.open_table(tables::FEED).map_err(o)?,
            feed_consumers: txn.open_table(tables::FEED_CONSUMERS).map_err(o)?,
            read_markers: txn.open_table(tables::READ_MARKERS).map_err(o)?,
            view_counts: txn.open_table(tables::VIEW_COUNTS).map_err(o)?,
            views_pending: txn.open_table(tables::VIEWS_PENDING).map_err(o)?,
            view_buckets: txn.open_table(tables::VIEW_BUCKETS).map_err(o)?,
            written: 0,
            count_deltas: Default::default(),
            bucket_deltas: Default::default(),
        })
    }
}

/// The writer's per-batch context: counters and policies.
pub(crate) struct Ctx<'o> {
    pub opts: &'o Options,
    pub next_case_id: u64,
    pub next_number: u64,
    pub next_change: u64,
    /// The counters as loaded, so `save` writes only those that moved.
    loaded: [u64; 3],
}

impl Ctx<'_> {
    pub fn load<'o>(opts: &'o Options, t: &Tables<'_>) -> Result<Ctx<'o>> {
        let stored = [
            read_counter(&t.meta, tables::NEXT_CASE_ID)?,
            read_counter(&t.meta, tables::NEXT_NUMBER)?,
            read_counter(&t.meta, tables::NEXT_CHANGE)?,
        ];
        Ok(Ctx {
            opts,
            next_case_id: stored[0].max(1),
            next_number: stored[1],
            next_change: stored[2].max(1),
            loaded: stored,
        })
    }

    /// Writes the counters that moved in this batch.
    pub fn save(&self, t: &mut Tables<'_>) -> Result<()> {
        crate::views::flush_counts(t)?;
        for ((key, v), was) in [
            (tables::NEXT_CASE_ID, self.next_case_id),
            (tables::NEXT_NUMBER, self.next_number),
            (tables::NEXT_CHANGE, self.next_change),
        ]
        .into_iter()
        .zip(self.loaded)
        {
            if v != was {
                t.meta
                    .insert(key, v.to_le_bytes().as_slice())
                    .map_err(st("saving counters"))?;
                t.written += 1;
            }
        }
        Ok(())
    }

    /// Appends a write of `case` (as the write left it) to the change log
    /// and the feed, and returns the change's sequence. `appended` is the
    /// thread entry the write added, `created` whether it made the case.
    pub(crate) fn log_change(
        &mut self,
        t: &mut Tables<'_>,
        case: &Case,
        appended: Option<&ThreadEntry>,
        created: bool,
    ) -> Result<u64> {
        let seq = self.next_change;
        t.changes.insert(seq, case.id.0).map_err(st("writing the change log"))?;
        t.written += 1;
        crate::feed::record(t, seq, case, appended, created)?;
        self.next_change += 1;
        Ok(seq)
    }
}

/// Checks attachments against the store's policy and their bytes, if
/// given, against their metadata. `AttachmentMeta`'s fields are public, so
/// metadata built by hand is validated again here rather than trusted.
fn check_attachments(atts: &[NewAttachment], policy: &AttachmentPolicy) -> Result<()> {
    for a in atts {
        let m = &a.meta;
        AttachmentMeta::new(&m.name, m.content_type(), m.size, m.sha256, policy)?;
        if let Some(bytes) = &a.bytes {
            if bytes.len() as u64 != a.meta.size {
                return Err(StoreError::AttachmentMismatch {
                    name: a.meta.name.clone(),
                    detail: format!("declared {} bytes, got {}", a.meta.size, bytes.len()),
                });
            }
            let digest: [u8; 32] = Sha256::digest(bytes).into();
            if digest != a.meta.sha256.0 {
                return Err(StoreError::AttachmentMismatch {
                    name: a.meta.name.clone(),
                    detail: "content does not match its sha256".into(),
                });
            }
        }
    }
    Ok(())
}

fn store_blobs(t: &mut Tables<'_>, atts: &[NewAttachment]) -> Result<()> {
    for a in atts {
        if let Some(bytes) = &a.bytes {
            let present = t.blobs.get(&a.meta.sha256.0).map_err(st("reading blobs"))?.is_some();
            if !present {
                t.blobs
                    .insert(&a.meta.sha256.0, bytes.as_slice())
                    .map_err(st("writing a blob"))?;
            }
        }
    }
    Ok(())
}

pub(crate) fn tenant_tier(t: &Tables<'_>, tenant: &TenantId) -> Result<PerformanceTier> {
    match t.tenants.get(tenant.as_str()).map_err(st("reading a tenant"))? {
        Some(v) => Ok(records::decode_tenant(v.value(), tenant.as_str())?.tier),
        None => Ok(PerformanceTier::Standard),
    }
}

pub(crate) fn queue_key(opts: &Options, case: &Case) -> [u8; 25] {
    let inputs = QueueInputs {
        category: case.category,
        complex: case.complex,
        tier: case.tier,
        created_at: case.state.created_at,
        paused: case.state.paused_total,
        duplicate: case.links.duplicate_of.is_some(),
    };
    opts.queue.key(&inputs, case.id).encode()
}

/// Writes a new case's entries in every view table and the queue.
pub(crate) fn insert_views(t: &mut Tables<'_>, opts: &Options, case: &Case) -> Result<()> {
    crate::views::update(t, opts, None, Some(case))
}

/// Removes every entry of a case that goes (see `views.rs`).
pub(crate) fn remove_views(t: &mut Tables<'_>, opts: &Options, case: &Case) -> Result<()> {
    crate::views::update(t, opts, Some(case), None)
}

/// Moves a case's entries from its stored version to the next, touching
/// only what changed.
pub(crate) fn move_views(t: &mut Tables<'_>, opts: &Options, old: &Case, next: &Case) -> Result<()> {
    crate::views::update(t, opts, Some(old), Some(next))
}

pub(crate) fn put_case(t: &mut Tables<'_>, case: &Case) -> Result<()> {
    let bytes = records::encode_case(case)?;
    t.cases
        .insert(case.id.0, bytes.as_slice())
        .map_err(st("writing a case"))?;
    t.written += 1;
    Ok(())
}

/// Writes entry `seq` of a thread, naming its author by reference when an
/// entry just before it names the same actor (see `records::EntryV2`).
pub(crate) fn put_entry(t: &mut Tables<'_>, case: CaseId, seq: u32, entry: &ThreadEntry) -> Result<()> {
    let same = crate::stored::same_author_as(&t.thread, case.0, seq, &entry.actor)?;
    put_entry_as(t, case, seq, entry, same)
}

/// Writes a whole thread (an import): each actor's first entry names it,
/// later ones refer to that entry.
fn put_thread(t: &mut Tables<'_>, case: CaseId, thread: &[ThreadEntry]) -> Result<()> {
    let mut authors = records::ThreadAuthors::default();
    for (seq, entry) in (0u32..).zip(thread) {
        put_entry_as(t, case, seq, entry, authors.same_as(&entry.actor, seq))?;
    }
    Ok(())
}

fn put_entry_as(t: &mut Tables<'_>, case: CaseId, seq: u32, entry: &ThreadEntry, same: Option<u32>) -> Result<()> {
    let bytes = records::encode_entry_as(entry, same)?;
    t.thread
        .insert((case.0, seq), bytes.as_slice())
        .map_err(st("writing a thread entry"))?;
    t.written += 1;
    Ok(())
}

fn assign_number(t: &Tables<'_>, ctx: &mut Ctx<'_>) -> Result<CaseNumber> {
    // Imported archives may hold numbers in the generated range; skip them.
    loop {
        let n = CaseNumber::generated(ctx.next_number).ok_or_else(|| StoreError::Corrupt {
            table: "meta",
            key: tables::NEXT_NUMBER.into(),
            detail: "case numbers exhausted".into(),
        })?;
        ctx.next_number += 1;
        if t.numbers.get(n.as_str()).map_err(st("reading a number"))?.is_none() {
            return Ok(n);
        }
    }
}

/// The recent non-final case of the tenant that `new` repeats, if any.
fn duplicate_of(
    t: &Tables<'_>,
    opts: &Options,
    tenant: &TenantId,
    new: &DuplicateFacts<'_>,
) -> Result<Option<CaseNumber>> {
    let from = order_bits(new.created_at.saturating_sub(opts.queue.duplicate_cooldown).as_millis());
    let to = order_bits(new.created_at.as_millis());
    let mut recent = Vec::new();
    let range = t
        .by_created
        .range((tenant.as_str(), from, 0)..=(tenant.as_str(), to, u64::MAX))
        .map_err(st("scanning recent cases"))?;
    for item in range {
        let (k, _) = item.map_err(st("scanning recent cases"))?;
        let (_, _, id) = k.value();
        if let Some(c) = load_case(&t.cases, id)? {
            recent.push(c);
        }
    }
    let facts: Vec<DuplicateFacts<'_>> = recent
        .iter()
        .map(|c| DuplicateFacts {
            id: c.id,
            status: c.state.status,
            category: c.category,
            title: &c.title,
            orders: &c.refs.orders,
            asins: &c.refs.asins,
            created_at: c.state.created_at,
        })
        .collect();
    let found = find_duplicate(new, &facts, &opts.queue);
    Ok(found.and_then(|id| recent.iter().find(|c| c.id == id).map(|c| c.number.clone())))
}

/// Opens a new case (and, for follow-ups, links it).
pub(crate) fn create_case(
    t: &mut Tables<'_>,
    ctx: &mut Ctx<'_>,
    new: NewCase,
    follow_up_of: Option<CaseNumber>,
    now: Timestamp,
) -> Result<Created> {
    let title = validate_title(&new.title)?;
    validate_body(&new.description)?;
    let refs = new.refs.normalised()?;
    check_attachments(&new.attachments, &ctx.opts.attachments)?;
    let at = new.at.unwrap_or(now);
    let actor = Actor::Seller(new.created_by.clone());
    let created = create(&actor, at).map_err(|refusal| StoreError::Transition {
        case: "(new case)".into(),
        refusal,
    })?;
    let tier = tenant_tier(t, &new.tenant)?;
    let facts = DuplicateFacts {
        id: CaseId(0),
        status: Status::Open,
        category: new.category,
        title: &title,
        orders: &refs.orders,
        asins: &refs.asins,
        created_at: at,
    };
    let duplicate = if follow_up_of.is_some() {
        None
    } else {
        duplicate_of(t, ctx.opts, &new.tenant, &facts)?
    };

    // Everything is checked; from here on the command only writes.
    let number = assign_number(t, ctx)?;
    let id = CaseId(ctx.next_case_id);
    ctx.next_case_id += 1;
    let case = Case {
        id,
        number: number.clone(),
        tenant: new.tenant,
        created_by: new.created_by,
        assignee: None,
        handler: None,
        marketplace: new.marketplace,
        language: new.language,
        category: new.category,
        title,
        refs,
        state: created.state,
        // Support marks a case complex (`set_complex`), never its creator.
        complex: false,
        tier,
        links: CaseLinks {
            duplicate_of: duplicate.clone(),
            follow_up_of,
            follow_ups: Vec::new(),
        },
        entries: 1,
        imported: false,
    };
    let entry = ThreadEntry {
        at,
        actor,
        change: Some(StatusChange {
            event: CaseEvent::Create,
            from: None,
            to: Status::Open,
        }),
        body: new.description,
        attachments: new.attachments.iter().map(|a| a.meta.clone()).collect(),
    };
    store_blobs(t, &new.attachments)?;
    put_case(t, &case)?;
    t.numbers
        .insert(number.as_str(), id.0)
        .map_err(st("writing a number"))?;
    t.written += 1;
    put_entry(t, id, 0, &entry)?;
    insert_views(t, ctx.opts, &case)?;
    let change = ctx.log_change(t, &case, Some(&entry), true)?;
    Ok(Created {
        id,
        number,
        duplicate_of: duplicate,
        change,
    })
}

/// One event (with an optional message) applied to an existing case.
pub(crate) struct EventCommand {
    pub scope: Scope,
    pub case: CaseRef,
    pub actor: Actor,
    pub event: CaseEvent,
    pub body: String,
    pub attachments: Vec<NewAttachment>,
    pub at: Option<Timestamp>,
}

/// The case an event is for, checked: visible in the scope, a seller's
/// only in their own tenant's scope, and with room in its thread.
pub(crate) fn case_for_event(t: &Tables<'_>, scope: &Scope, case: &CaseRef, actor: &Actor) -> Result<Case> {
    let found = resolve(&t.cases, &t.numbers, scope, case)?;
    if let Actor::Seller(_) = actor {
        // A seller acts only within their own tenant's scope.
        if !matches!(scope, Scope::Tenant(tn) if *tn == found.tenant) {
            return Err(StoreError::CaseNotFound(case.to_string()));
        }
    }
    if found.entries >= MAX_THREAD_ENTRIES {
        return Err(StoreError::Invalid(caselog_core::ValidationError::TooMany {
            field: "thread entries",
            len: found.entries as usize,
            max: MAX_THREAD_ENTRIES as usize,
        }));
    }
    Ok(found)
}

/// The lifecycle rules' answer to `event` on `case`, a refusal naming the case.
pub(crate) fn rules(
    case: &Case,
    actor: &Actor,
    event: &CaseEvent,
    at: Timestamp,
    ctx: &Ctx<'_>,
) -> Result<caselog_core::Transition> {
    transition(&case.state, actor, event, at, &ctx.opts.lifecycle).map_err(|refusal| StoreError::Transition {
        case: case.number.to_string(),
        refusal,
    })
}

/// Applies an event through the core transition function and records it.
pub(crate) fn apply_event(t: &mut Tables<'_>, ctx: &mut Ctx<'_>, cmd: EventCommand, now: Timestamp) -> Result<Written> {
    if cmd.event.is_routing() {
        // Transfer, assignment and complexity have their own effects.
        return crate::workflow::route_event(t, ctx, cmd, now);
    }
    validate_body(&cmd.body)?;
    check_attachments(&cmd.attachments, &ctx.opts.attachments)?;
    let case = case_for_event(t, &cmd.scope, &cmd.case, &cmd.actor)?;
    // With the store's clock, an event is never stamped before the case's
    // last change (the wall clock may step back); an explicit time is
    // taken as given and refused by the rules if it is behind.
    let at = cmd.at.unwrap_or_else(|| now.max(case.state.updated_at));
    let mut target = None;
    if let CaseEvent::MergeInto { target: number } = &cmd.event {
        let into = resolve(
            &t.cases,
            &t.numbers,
            &Scope::Tenant(case.tenant.clone()),
            &CaseRef::Number(number.clone()),
        )
        .map_err(|_| StoreError::MergeRefused {
            from: case.number.clone(),
            into: number.clone(),
            reason: "the surviving case does not exist in the same tenant",
        })?;
        let refuse = |reason| StoreError::MergeRefused {
            from: case.number.clone(),
            into: into.number.clone(),
            reason,
        };
        if into.id == case.id {
            return Err(refuse("a case cannot be merged into itself"));
        }
        if into.state.status.is_final() {
            return Err(refuse("the surviving case is closed or merged"));
        }
        // The note on the surviving case is written after this case; check
        // now everything that could refuse it, so a merge is never half done.
        if into.entries >= MAX_THREAD_ENTRIES {
            return Err(refuse("the surviving case's thread is full"));
        }
        let note_at = at.max(into.state.updated_at);
        if transition(
            &into.state,
            &Actor::System,
            &CaseEvent::Reply,
            note_at,
            &ctx.opts.lifecycle,
        )
        .is_err()
        {
            return Err(refuse("the surviving case cannot take the merge note"));
        }
        target = Some(into);
    }
    let tr = rules(&case, &cmd.actor, &cmd.event, at, ctx)?;

    let mut next = case.clone();
    next.state = tr.state;
    if cmd.event == CaseEvent::PickUp {
        next.assignee = cmd.actor.user().cloned();
    }
    let seq = next.entries;
    next.entries += 1;
    let status_changed = tr.record.from != Some(tr.record.to);
    let entry = ThreadEntry {
        at,
        actor: cmd.actor.clone(),
        change: (status_changed || cmd.event != CaseEvent::Reply).then(|| StatusChange {
            event: tr.record.event.clone(),
            from: tr.record.from,
            to: tr.record.to,
        }),
        body: cmd.body,
        attachments: cmd.attachments.iter().map(|a| a.meta.clone()).collect(),
    };
    store_blobs(t, &cmd.attachments)?;
    put_case(t, &next)?;
    put_entry(t, next.id, seq, &entry)?;
    move_views(t, ctx.opts, &case, &next)?;
    let change = ctx.log_change(t, &next, Some(&entry), false)?;

    if let Some(into) = target {
        // The surviving case's thread notes the merge, so both trails show it.
        let note = EventCommand {
            scope: Scope::AllTenants,
            case: CaseRef::Id(into.id),
            actor: Actor::System,
            event: CaseEvent::Reply,
            body: format!("Case {} was merged into this case.", case.number),
            attachments: Vec::new(),
            at: Some(at.max(into.state.updated_at)),
        };
        apply_event(t, ctx, note, now)?;
    }
    Ok(Written {
        id: next.id,
        status: next.state.status,
        entry: seq,
        change,
    })
}

/// Opens a follow-up to a closed case: a new case that references it,
/// with its category and references, linked both ways.
pub(crate) fn follow_up(
    t: &mut Tables<'_>,
    ctx: &mut Ctx<'_>,
    scope: &Scope,
    of: &CaseRef,
    new: NewFollowUp,
    now: Timestamp,
) -> Result<Created> {
    let old = resolve(&t.cases, &t.numbers, scope, of)?;
    if old.state.status != Status::Closed {
        return Err(StoreError::FollowUpRefused {
            number: old.number.clone(),
            status: old.state.status,
        });
    }
    let mut refs = old.refs.clone();
    refs.cases.push(old.number.clone());
    let new = NewCase::new(
        old.tenant.clone(),
        new.created_by,
        old.marketplace.clone(),
        old.language.clone(),
        old.category,
        new.title,
        new.description,
    )
    .with_attachments(new.attachments)
    .with_refs(refs)
    .with_time(new.at);
    let created = create_case(t, ctx, new, Some(old.number.clone()), now)?;
    let mut linked = old;
    linked.links.follow_ups.push(created.number.clone());
    put_case(t, &linked)?;
    Ok(created)
}

/// Writes a tenant's performance tier record (`workflow::set_tier` re-keys
/// its cases).
pub(crate) fn set_tier(t: &mut Tables<'_>, tenant: &TenantId, tier: PerformanceTier) -> Result<()> {
    let bytes = records::encode_tenant(&TenantRecord { tier })?;
    t.tenants
        .insert(tenant.as_str(), bytes.as_slice())
        .map_err(st("writing a tenant"))?;
    Ok(())
}

/// Imports one archived case with its status as recorded.
pub(crate) fn import_case(t: &mut Tables<'_>, ctx: &mut Ctx<'_>, item: ImportCase) -> Result<ImportOutcome> {
    let ImportCase { mut case, thread } = item;
    case.title = validate_title(&case.title)?;
    case.refs = case.refs.normalised()?;
    if thread.len() > MAX_THREAD_ENTRIES as usize {
        return Err(StoreError::Invalid(caselog_core::ValidationError::TooMany {
            field: "messages",
            len: thread.len(),
            max: MAX_THREAD_ENTRIES as usize,
        }));
    }
    for e in &thread {
        validate_body(&e.body)?;
    }
    let existing = t
        .numbers
        .get(case.number.as_str())
        .map_err(st("reading a number"))?
        .map(|v| v.value());
    if let Some(existing) = existing {
        // Re-importing the same archive is idempotent; any other use of a
        // taken number is refused, never silently dropped.
        let existing = CaseId(existing);
        let conflict = match load_case(&t.cases, existing.0)? {
            Some(old) if old.tenant != case.tenant => Some(ImportConflict::OtherTenant),
            Some(old) => {
                let old_thread = full_thread(&t.thread, existing.0)?;
                first_difference(&old, &old_thread, &case, &thread).map(|field| ImportConflict::OtherContent { field })
            }
            // A number pointing at no case: the store is damaged; refuse
            // rather than write a second case under it.
            None => {
                return Err(StoreError::Corrupt {
                    table: "numbers",
                    key: case.number.to_string(),
                    detail: format!("the number points at case {existing}, which does not exist"),
                })
            }
        };
        return match conflict {
            None => Ok(ImportOutcome::Skipped {
                number: case.number,
                existing,
            }),
            Some(conflict) => Err(StoreError::ImportConflict {
                number: case.number,
                existing,
                conflict,
            }),
        };
    }
    let id = CaseId(ctx.next_case_id);
    ctx.next_case_id += 1;
    case.id = id;
    case.entries = thread.len() as u32;
    case.imported = true;
    case.tier = tenant_tier(t, &case.tenant)?;
    put_case(t, &case)?;
    t.numbers
        .insert(case.number.as_str(), id.0)
        .map_err(st("writing a number"))?;
    put_thread(t, id, &thread)?;
    // Written, sorted, when the import ends (`import_views.rs`).
    crate::import_views::defer(t, id.0)?;
    let change = ctx.log_change(t, &case, None, true)?;
    Ok(ImportOutcome::Imported { id, change })
}

/// The first field in which an archived case differs from the stored case
/// of the same number, comparing what the interchange format carries (not
/// the internal id, the entry count, the tenant's tier or the imported
/// flag, which the store sets itself). `None` when they are the same.
fn first_difference(
    old: &Case,
    old_thread: &[ThreadEntry],
    new: &Case,
    new_thread: &[ThreadEntry],
) -> Option<&'static str> {
    let fields: [(&'static str, bool); 13] = [
        ("title", old.title == new.title),
        ("category", old.category == new.category),
        ("status", old.state.status == new.state.status),
        ("created_by", old.created_by == new.created_by),
        ("created_at", old.state.created_at == new.state.created_at),
        ("marketplace", old.marketplace == new.marketplace),
        ("language", old.language == new.language),
        ("refs", old.refs == new.refs),
        ("assignee", old.assignee == new.assignee),
        ("handler", old.handler == new.handler),
        ("complex", old.complex == new.complex),
        ("links", old.links == new.links),
        ("messages", old_thread == new_thread),
    ];
    if let Some((field, _)) = fields.into_iter().find(|(_, same)| !*same) {
        return Some(field);
    }
    // Every other lifecycle time (updated, resolved, deadlines, ...).
    (old.state != new.state).then_some("lifecycle times")
}

/// What the timers would do as of `now`: (case id, event), the expired
/// reply deadlines first, every one chosen before any is applied. Also
/// read by the timer thread to skip a pass (and its commit) with nothing due.
pub(crate) fn due_timers(
    attention: &impl Readable<(&'static str, u64, u64), ()>,
    by_status: &impl Readable<(&'static str, u8, u64, u64), ()>,
    cases: &impl Readable<u64, &'static [u8]>,
    lifecycle: &caselog_core::LifecyclePolicy,
    now: Timestamp,
) -> Result<Vec<(u64, CaseEvent)>> {
    let attention = attention.readable();
    let by_status = by_status.readable();
    let cases = cases.readable();
    let mut due: Vec<(u64, CaseEvent)> = Vec::new();
    let range = attention
        .range((ALL_SCOPE, 0, 0)..=(ALL_SCOPE, order_bits(now.as_millis()), u64::MAX))
        .map_err(st("scanning deadlines"))?;
    for item in range {
        let (k, _) = item.map_err(st("scanning deadlines"))?;
        due.push((k.value().2, CaseEvent::DeadlineExpired));
    }
    let resolved = Status::Resolved.index() as u8;
    let range = by_status
        .range((ALL_SCOPE, resolved, 0, 0)..=(ALL_SCOPE, resolved, u64::MAX, u64::MAX))
        .map_err(st("scanning resolved cases"))?;
    for item in range {
        let (k, _) = item.map_err(st("scanning resolved cases"))?;
        let id = k.value().3;
        if let Some(c) = load_case(cases, id)? {
            let window_end = c.state.resolved_at.map(|r| r.saturating_add(lifecycle.reopen_window));
            if window_end.is_some_and(|w| w < now) {
                due.push((id, CaseEvent::AutoClose));
            }
        }
    }
    Ok(due)
}

/// Applies the system's timers as of `now`: needs-attention cases past
/// their reply deadline are resolved, resolved cases past the reopen
/// window are closed. Returns how many cases changed.
pub(crate) fn run_timers(t: &mut Tables<'_>, ctx: &mut Ctx<'_>, now: Timestamp) -> Result<usize> {
    let due = due_timers(&t.attention, &t.by_status, &t.cases, &ctx.opts.lifecycle, now)?;
    let mut changed = 0;
    for (id, event) in due {
        let cmd = EventCommand {
            scope: Scope::AllTenants,
            case: CaseRef::Id(CaseId(id)),
            actor: Actor::System,
            event,
            body: String::new(),
            attachments: Vec::new(),
            at: Some(now),
        };
        // A case another timer already moved is simply refused; skip it.
        match apply_event(t, ctx, cmd, now) {
            Ok(_) => changed += 1,
            Err(StoreError::Transition { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(changed)
}

/// Deletes change-log entries below `upto` (the index has applied them).
pub(crate) fn prune_changes(t: &mut Tables<'_>, upto: u64) -> Result<u64> {
    let mut removed = 0;
    let keys: Vec<u64> = t
        .changes
        .range(..upto)
        .map_err(st("pruning the change log"))?
        .map(|item| item.map(|(k, _)| k.value()))
        .collect::<std::result::Result<_, _>>()
        .map_err(st("pruning the change log"))?;
    for k in keys {
        t.changes.remove(k).map_err(st("pruning the change log"))?;
        removed += 1;
    }
    Ok(removed)
}
