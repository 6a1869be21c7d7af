//! `caselog erase` and `caselog scrub`.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use caselog_store::{CaseRef, Store, STORE_FILE};
use serde_json::json;

use super::{close, open_existing, scope};
use crate::cli::{EraseArgs, ScrubArgs};
use crate::Outcome;

pub fn erase(db: &Path, args: &EraseArgs, out: &mut dyn Write) -> Result<Outcome> {
    let store = open_existing(db)?;
    let erased = store
        .erase(&scope(&args.scope), &CaseRef::Number(args.number.clone()))
        .with_context(|| format!("erasing case {}", args.number));
    close(store)?;
    let e = erased?;
    if args.json {
        let v = json!({
            "number": e.number.as_str(),
            "tenant": e.tenant.as_str(),
            "entries": e.entries,
            "attachments_removed": e.blobs,
            "change": e.change,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "erased case {} of {} ({} thread entries, {} attachment contents); run `caselog scrub` to remove its bytes from the files",
            e.number, e.tenant, e.entries, e.blobs
        )?;
    }
    Ok(Outcome::Success)
}

pub fn scrub(db: &Path, args: &ScrubArgs, out: &mut dyn Write) -> Result<Outcome> {
    if !db.join(STORE_FILE).is_file() {
        bail!("no caselog store at {}", db.display());
    }
    let r = Store::scrub(db).with_context(|| format!("scrubbing the store at {}", db.display()))?;
    if args.json {
        let v = json!({
            "store_bytes_before": r.store_bytes_before,
            "store_bytes_after": r.store_bytes_after,
            "segments_before": r.segments_before,
            "segments_after": r.segments_after,
            "deleted_documents_dropped": r.deleted_docs_dropped,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "store file {} -> {} bytes; index segments {} -> {} ({} deleted documents dropped)",
            r.store_bytes_before, r.store_bytes_after, r.segments_before, r.segments_after, r.deleted_docs_dropped
        )?;
    }
    Ok(Outcome::Success)
}
