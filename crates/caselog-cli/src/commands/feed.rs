//! `caselog feed`: a named consumer's changes, as text or JSON Lines.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use caselog_store::{ChangeKind, FeedChange, FeedStart};
use serde_json::{json, Value};

use super::{close, open_existing, scope};
use crate::cli::FeedArgs;
use crate::Outcome;

/// Changes per page (one acknowledgement each).
const PAGE: usize = 500;
/// How long one wait of `--follow` lasts before it checks again.
const FOLLOW_WAIT: Duration = Duration::from_secs(1);

/// One change as a JSON object.
pub fn change_json(c: &FeedChange) -> Value {
    let mut v = json!({
        "seq": c.seq,
        "case": c.case.0,
        "number": c.number.as_str(),
        "tenant": c.tenant.as_str(),
        "kind": c.kind.as_str(),
        "at": c.at.to_rfc3339(),
    });
    match &c.kind {
        ChangeKind::Message { entry } => v["entry"] = json!(entry),
        ChangeKind::StatusChanged { entry, from, to } => {
            v["entry"] = json!(entry);
            v["from"] = json!(from.map(|s| s.as_str()));
            v["to"] = json!(to.as_str());
        }
        ChangeKind::Merged { entry, into } => {
            v["entry"] = json!(entry);
            v["into"] = json!(into.as_str());
        }
        _ => {}
    }
    v
}

pub fn run(db: &Path, args: &FeedArgs, out: &mut dyn Write) -> Result<Outcome> {
    let store = open_existing(db)?;
    let scope = scope(&args.scope);
    let result = (|| -> Result<()> {
        store
            .feed_register(&scope, &args.consumer, FeedStart::Beginning)
            .with_context(|| format!("registering feed consumer {:?}", args.consumer))?;
        let mut from = args.from;
        loop {
            let page = if args.follow {
                store.feed_wait(&scope, &args.consumer, from, PAGE, FOLLOW_WAIT)?
            } else {
                store.feed(&scope, &args.consumer, from, PAGE)?
            };
            for c in &page.changes {
                if args.json {
                    writeln!(out, "{}", change_json(c))?;
                } else {
                    writeln!(
                        out,
                        "{:>8}  {:<14}  {}  {}  {}",
                        c.seq,
                        c.kind.as_str(),
                        c.number,
                        c.tenant,
                        c.at.to_rfc3339()
                    )?;
                }
            }
            out.flush()?;
            // Acknowledged only after the page is written out.
            if !args.no_ack && page.position > from.unwrap_or(0) {
                store.feed_ack(&scope, &args.consumer, page.position)?;
            }
            let done = page.changes.is_empty() && Some(page.position) == from;
            from = Some(page.position);
            if done && !args.follow {
                return Ok(());
            }
        }
    })();
    close(store)?;
    result.map(|()| Outcome::Success)
}
