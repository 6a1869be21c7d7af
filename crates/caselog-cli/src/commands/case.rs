//! `case new|reply|event|follow-up`: writes as a seller, an agent or the
//! system. Refusals (an illegal transition, a case of another tenant) come
//! back as the store's typed errors and end the command with exit 1.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use caselog_core::{
    Actor, AttachmentKind, AttachmentMeta, AttachmentPolicy, CaseEvent, ContentHash, References, Span, Timestamp,
};
use caselog_store::{CaseRef, Created, NewAttachment, NewCase, NewFollowUp, NewMessage, Scope, Written};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{close, open_existing};
use crate::cli::{
    ActorArgs, CaseAction, EventArg, EventArgs, FollowUpArgs, MessageArgs, NewCaseArgs, ReplyArgs, RoleArg,
};
use crate::render::json_line;
use crate::{input, Outcome};

/// Runs a `case` action.
pub fn run(db: &Path, action: CaseAction, out: &mut dyn Write) -> Result<Outcome> {
    match action {
        CaseAction::New(a) => new_case(db, a, out),
        CaseAction::Reply(a) => reply(db, a, out),
        CaseAction::Event(a) => event(db, a, out),
        CaseAction::FollowUp(a) => follow_up(db, a, out),
        CaseAction::Transfer(a) => super::workflow::transfer(db, a, out),
        CaseAction::Assign(a) => super::workflow::assign(db, a, out),
        CaseAction::Release(a) => super::workflow::release(db, a, out),
        CaseAction::Complex(a) => super::workflow::complex(db, a, out),
    }
}

/// The message text: `--body`, `--body-file FILE` or `--body-file -`,
/// read through [`crate::input`] so that no file or stream is read past the
/// largest message body.
fn body(m: &MessageArgs, required: bool) -> Result<String> {
    let limit = caselog_core::MAX_BODY_BYTES as u64;
    let (bytes, path) = match (&m.body, &m.body_file) {
        (Some(b), _) => return Ok(b.clone()),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let path = Path::new("standard input");
            (
                input::read_bounded(std::io::stdin().lock(), path, limit, "a message")?,
                path,
            )
        }
        (None, Some(p)) => (input::read_file(p, limit, "a message")?, p.as_path()),
        (None, None) if required => bail!("the message text is missing: give --body TEXT or --body-file FILE"),
        (None, None) => return Ok(String::new()),
    };
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

fn kind_from_extension(path: &Path) -> Option<AttachmentKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "pdf" => AttachmentKind::Pdf,
        "jpg" | "jpeg" => AttachmentKind::Jpeg,
        "png" => AttachmentKind::Png,
        "gif" => AttachmentKind::Gif,
        "txt" | "log" => AttachmentKind::Text,
        "csv" => AttachmentKind::Csv,
        "xlsx" => AttachmentKind::Xlsx,
        "docx" => AttachmentKind::Docx,
        "mp4" => AttachmentKind::Mp4,
        "mov" => AttachmentKind::Mov,
        _ => return None,
    })
}

/// Reads the `--attach` files: type from `--content-type` or the extension,
/// size checked against the policy before the file is read.
fn attachments(m: &MessageArgs) -> Result<Vec<NewAttachment>> {
    let policy = AttachmentPolicy::default();
    let mut out = Vec::with_capacity(m.attach.len());
    for path in &m.attach {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
        let content_type = match &m.content_type {
            Some(ct) => ct.clone(),
            None => kind_from_extension(path)
                .ok_or_else(|| {
                    anyhow!(
                        "{}: cannot tell the content type from the extension; pass --content-type",
                        path.display()
                    )
                })?
                .as_str()
                .to_owned(),
        };
        // A refused type is refused before anything is read.
        let Some(kind) = AttachmentKind::from_content_type(&content_type) else {
            AttachmentMeta::new(name, &content_type, 0, ContentHash([0; 32]), &policy)?;
            bail!("{}: content type {content_type:?} is not accepted", path.display());
        };
        let limit = policy.limit(kind);
        let bytes = input::read_file(path, limit, &format!("an attachment of type {}", kind.as_str()))?;
        let sha256 = ContentHash(Sha256::digest(&bytes).into());
        let meta = AttachmentMeta::new(name, &content_type, bytes.len() as u64, sha256, &policy)?;
        out.push(NewAttachment {
            meta,
            bytes: Some(bytes),
        });
    }
    Ok(out)
}

#[derive(Serialize)]
struct CreatedJson {
    number: String,
    duplicate_of: Option<String>,
}

fn report_created(out: &mut dyn Write, created: &Created, json: bool, what: &str) -> Result<()> {
    if json {
        return json_line(
            out,
            &CreatedJson {
                number: created.number.to_string(),
                duplicate_of: created.duplicate_of.as_ref().map(ToString::to_string),
            },
        );
    }
    writeln!(out, "Opened {what} {}", created.number)?;
    if let Some(d) = &created.duplicate_of {
        writeln!(
            out,
            "Note: it repeats open case {d} (same issue within the cooldown); it was accepted but queued as low priority."
        )?;
    }
    Ok(())
}

fn new_case(db: &Path, a: NewCaseArgs, out: &mut dyn Write) -> Result<Outcome> {
    let description = body(&a.message, true)?;
    let attachments = attachments(&a.message)?;
    let refs = References {
        orders: a.order,
        asins: a.asin,
        skus: a.sku,
        cases: a.related,
    };
    let store = open_existing(db)?;
    let created = store.create_case(
        NewCase::new(
            a.tenant,
            a.user,
            a.marketplace,
            a.language,
            a.category,
            a.title,
            description,
        )
        .with_attachments(attachments)
        .with_refs(refs)
        .with_time(a.at),
    );
    close(store)?;
    report_created(out, &created.context("opening the case")?, a.json, "case")?;
    Ok(Outcome::Success)
}

fn follow_up(db: &Path, a: FollowUpArgs, out: &mut dyn Write) -> Result<Outcome> {
    let description = body(&a.message, true)?;
    let attachments = attachments(&a.message)?;
    let store = open_existing(db)?;
    let scope = Scope::Tenant(a.tenant.clone());
    let created = store.follow_up(
        &scope,
        &CaseRef::Number(a.number.clone()),
        // Tenant, marketplace, language, category and references are the
        // closed case's.
        NewFollowUp::new(a.user, a.title, description).with_attachments(attachments),
    );
    close(store)?;
    let created = created.with_context(|| format!("opening a follow-up to case {}", a.number))?;
    report_created(out, &created, a.json, &format!("follow-up to case {}: case", a.number))?;
    Ok(Outcome::Success)
}

/// The actor and the scope it acts in.
pub(super) fn actor(role: RoleArg, args: &ActorArgs) -> Result<(Actor, Scope)> {
    let user = || {
        args.user
            .clone()
            .ok_or_else(|| anyhow!("acting as {} needs --user", role_name(role)))
    };
    Ok(match role {
        RoleArg::Seller => {
            let tenant = args.tenant.clone().ok_or_else(|| {
                anyhow!("acting as the seller needs --tenant (a seller acts only on their own cases)")
            })?;
            (Actor::Seller(user()?), Scope::Tenant(tenant))
        }
        RoleArg::Support => (Actor::Support(user()?), scope_of(args)),
        RoleArg::System => (Actor::System, scope_of(args)),
    })
}

fn scope_of(args: &ActorArgs) -> Scope {
    args.tenant.clone().map_or(Scope::AllTenants, Scope::Tenant)
}

fn role_name(role: RoleArg) -> &'static str {
    match role {
        RoleArg::Seller => "the seller",
        RoleArg::Support => "support",
        RoleArg::System => "the system",
    }
}

#[derive(Serialize)]
struct WrittenJson {
    number: String,
    status: caselog_core::Status,
    entry: u32,
}

pub(super) fn report_written(out: &mut dyn Write, number: &str, w: &Written, json: bool, what: &str) -> Result<()> {
    if json {
        return json_line(
            out,
            &WrittenJson {
                number: number.to_owned(),
                status: w.status,
                entry: w.entry,
            },
        );
    }
    writeln!(out, "{what} case {number}: now {} (thread entry {})", w.status, w.entry)?;
    Ok(())
}

fn reply(db: &Path, a: ReplyArgs, out: &mut dyn Write) -> Result<Outcome> {
    let text = body(&a.message, true)?;
    let attachments = attachments(&a.message)?;
    let (actor, scope) = actor(a.role, &a.actor)?;
    let store = open_existing(db)?;
    let written = store.reply(
        &scope,
        &CaseRef::Number(a.number.clone()),
        NewMessage::new(actor, text)
            .with_attachments(attachments)
            .with_time(a.at),
    );
    close(store)?;
    let written = written.with_context(|| format!("replying to case {}", a.number))?;
    report_written(out, a.number.as_str(), &written, a.json, "Replied to")?;
    Ok(Outcome::Success)
}

fn event(db: &Path, a: EventArgs, out: &mut dyn Write) -> Result<Outcome> {
    let role = a.role.unwrap_or(a.event.default_role());
    let (actor, scope) = actor(role, &a.actor)?;
    let event = match a.event {
        EventArg::PickUp => CaseEvent::PickUp,
        EventArg::RequestInfo => {
            let deadline = match (a.deadline, a.days) {
                (Some(d), _) => d,
                (None, Some(days)) => {
                    a.at.unwrap_or_else(Timestamp::now)
                        .saturating_add(Span::days(i64::from(days)))
                }
                (None, None) => bail!("request-info needs a reply deadline: --deadline TIME or --days N"),
            };
            CaseEvent::RequestInfo { deadline }
        }
        EventArg::Resolve => CaseEvent::Resolve,
        EventArg::Close => CaseEvent::Close,
        EventArg::Merge => CaseEvent::MergeInto {
            target: a
                .into
                .clone()
                .ok_or_else(|| anyhow!("merge needs --into NUMBER (the surviving case)"))?,
        },
        EventArg::AutoClose => CaseEvent::AutoClose,
        EventArg::DeadlineExpired => CaseEvent::DeadlineExpired,
    };
    let kind = event.kind();
    let store = open_existing(db)?;
    let written = store.apply_event(
        &scope,
        &CaseRef::Number(a.number.clone()),
        actor,
        event,
        a.note.clone(),
        a.at,
    );
    close(store)?;
    let written = written.with_context(|| format!("applying {kind} to case {}", a.number))?;
    report_written(out, a.number.as_str(), &written, a.json, &format!("Applied {kind} to"))?;
    Ok(Outcome::Success)
}
