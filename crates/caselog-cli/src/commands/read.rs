//! Read-only commands: `show`, `view`, `queue`, `stats`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use caselog_core::{CaseEvent, Category, Status};
use caselog_store::interchange::to_line;
use caselog_store::{
    CaseRef, QueueEntry, QueueQuery, Scope, ThreadEntry, ViewFilter, ViewKind, ViewPage, ViewQuery, ViewSort,
};
use serde::Serialize;

use super::{close, open_for_reading, scope, time_range, CaseSummary};
use crate::cli::{FilterArgs, QueueArgs, ShowArgs, StatsArgs, ViewArgs, ViewKindArg, ViewSortArg};
use crate::render::{count, json_line, opt_time, short_time, visible, Table};
use crate::Outcome;

/// `show NUMBER`.
pub fn show(db: &Path, args: &ShowArgs, out: &mut dyn Write) -> Result<Outcome> {
    let store = open_for_reading(db)?;
    let scope = scope(&args.scope);
    let case_ref = CaseRef::Number(args.number.clone());
    let Some((case, thread)) = store.case_with_thread(&scope, &case_ref)? else {
        bail!("no case {} in {}", args.number, describe(&scope));
    };
    close(store)?;
    if args.json {
        writeln!(out, "{}", to_line(&case, &thread))?;
        return Ok(Outcome::Success);
    }
    let s = &case.state;
    writeln!(out, "Case {}  [{}]  {}", case.number, s.status, case.category)?;
    writeln!(out, "  Title:          {}", visible(&case.title))?;
    writeln!(out, "  Tenant:         {}", case.tenant)?;
    writeln!(
        out,
        "  Created:        {} by {} ({}, {})",
        short_time(s.created_at),
        visible(case.created_by.as_str()),
        case.marketplace,
        case.language
    )?;
    writeln!(out, "  Updated:        {}", short_time(s.updated_at))?;
    if let Some(a) = &case.assignee {
        writeln!(out, "  Assignee:       {}", visible(a.as_str()))?;
    }
    if let Some(h) = &case.handler {
        writeln!(out, "  Handed to:      {}", visible(h.as_str()))?;
    }
    if case.complex {
        writeln!(out, "  Complex:        yes")?;
    }
    writeln!(out, "  First response: {}", opt_time(s.first_response_at))?;
    if let Some(d) = s.reply_deadline {
        writeln!(out, "  Reply deadline: {}", short_time(d))?;
    }
    if let Some(t) = s.resolved_at {
        writeln!(out, "  Resolved:       {}", short_time(t))?;
    }
    if let Some(t) = s.closed_at {
        writeln!(out, "  Closed:         {}", short_time(t))?;
    }
    if let Some(n) = &s.merged_into {
        writeln!(out, "  Merged into:    {n}")?;
    }
    if case.complex {
        writeln!(out, "  Complex:        yes (longer first-response target)")?;
    }
    let r = &case.refs;
    let join = |items: Vec<&str>| items.join(", ");
    for (label, items) in [
        ("Orders", join(r.orders.iter().map(|o| o.as_str()).collect())),
        ("ASINs", join(r.asins.iter().map(|o| o.as_str()).collect())),
        ("SKUs", join(r.skus.iter().map(|o| o.as_str()).collect())),
        ("Related cases", join(r.cases.iter().map(|o| o.as_str()).collect())),
    ] {
        if !items.is_empty() {
            writeln!(out, "  {:<15} {}", format!("{label}:"), visible(&items))?;
        }
    }
    if let Some(n) = &case.links.duplicate_of {
        writeln!(out, "  Duplicate of:   {n}")?;
    }
    if let Some(n) = &case.links.follow_up_of {
        writeln!(out, "  Follow-up of:   {n}")?;
    }
    if !case.links.follow_ups.is_empty() {
        let list: Vec<&str> = case.links.follow_ups.iter().map(|n| n.as_str()).collect();
        writeln!(out, "  Follow-ups:     {}", list.join(", "))?;
    }
    writeln!(out)?;
    writeln!(out, "Thread ({} entries)", thread.len())?;
    for entry in &thread {
        write_entry(out, entry)?;
    }
    Ok(Outcome::Success)
}

fn write_entry(out: &mut dyn Write, e: &ThreadEntry) -> std::io::Result<()> {
    let change = match &e.change {
        None => String::new(),
        Some(c) => {
            let detail = match &c.event {
                CaseEvent::RequestInfo { deadline } => format!(" (reply by {})", short_time(*deadline)),
                CaseEvent::MergeInto { target } => format!(" (into {target})"),
                _ => String::new(),
            };
            match c.from {
                Some(from) if from != c.to => format!(" · {}{detail}: {from} → {}", c.event.kind(), c.to),
                Some(_) => format!(" · {}{detail}", c.event.kind()),
                None => format!(" · {}{detail} → {}", c.event.kind(), c.to),
            }
        }
    };
    writeln!(
        out,
        "── {} · {}{change}",
        short_time(e.at),
        visible(&e.actor.to_string())
    )?;
    for line in e.body.lines() {
        writeln!(out, "   {}", visible(line))?;
    }
    for a in &e.attachments {
        writeln!(
            out,
            "   [attachment] {} ({}, {} bytes, sha256 {})",
            visible(&a.name),
            a.content_type(),
            a.size,
            a.content_hash()
                .map_or_else(|| "unknown, no content".to_owned(), |h| h.to_hex())
        )?;
    }
    Ok(())
}

fn describe(scope: &Scope) -> String {
    match scope {
        Scope::Tenant(t) => format!("tenant {t}"),
        Scope::AllTenants => "any tenant".into(),
    }
}

/// The store's view request for `view` (and `export --view`).
pub fn view_query(
    kind: ViewKindArg,
    user: Option<&caselog_core::UserId>,
    filter: &FilterArgs,
    sort: ViewSortArg,
    oldest_first: bool,
) -> Result<ViewQuery> {
    let kind = match kind {
        ViewKindArg::All => ViewKind::All,
        ViewKindArg::Attention => ViewKind::NeedsAttention,
        ViewKindArg::Mine => match user {
            Some(u) => ViewKind::Mine(u.clone()),
            None => bail!("`mine` needs --user USER"),
        },
    };
    let mut q = ViewQuery::new(kind);
    q.filter = ViewFilter {
        statuses: filter.status.clone(),
        categories: filter.category.clone(),
        marketplaces: filter.marketplace.clone(),
        created: time_range(filter.created),
        updated: time_range(filter.updated),
    };
    q.sort = match sort {
        ViewSortArg::Updated => ViewSort::Updated,
        ViewSortArg::Created => ViewSort::Created,
        ViewSortArg::Status => ViewSort::Status,
        ViewSortArg::Category => ViewSort::Category,
        ViewSortArg::Number => ViewSort::Number,
    };
    // Times newest first; status, category and number in their order.
    q.descending = match sort {
        ViewSortArg::Updated | ViewSortArg::Created => !oldest_first,
        _ => oldest_first,
    };
    Ok(q)
}

#[derive(Serialize)]
struct ViewJson {
    total: u64,
    page: u32,
    per_page: u32,
    cases: Vec<CaseSummary>,
}

/// `view all|mine|attention`.
pub fn view(db: &Path, args: &ViewArgs, out: &mut dyn Write) -> Result<Outcome> {
    let mut q = view_query(
        args.kind,
        args.user.as_ref(),
        &args.filter,
        args.sort,
        args.oldest_first,
    )?;
    q.page = args.page;
    q.per_page = args.per_page;
    let store = open_for_reading(db)?;
    let scope = scope(&args.scope);
    let page = store.view(&scope, &q).context("reading the view")?;
    close(store)?;
    if args.json {
        json_line(
            out,
            &ViewJson {
                total: page.total,
                page: page.page,
                per_page: page.per_page,
                cases: page.cases.iter().map(CaseSummary::from).collect(),
            },
        )?;
        return Ok(Outcome::Success);
    }
    write_view(out, &page, &scope, args.kind == ViewKindArg::Attention)?;
    Ok(Outcome::Success)
}

/// Writes a page of a view as a table.
pub fn write_view(out: &mut dyn Write, page: &ViewPage, scope: &Scope, attention: bool) -> Result<()> {
    let all = matches!(scope, Scope::AllTenants);
    let mut cols = vec![("NUMBER", 32), ("STATUS", 15), ("CATEGORY", 21)];
    if all {
        cols.push(("TENANT", 20));
    }
    cols.push(if attention { ("REPLY BY", 16) } else { ("UPDATED", 16) });
    cols.push(("TITLE", 60));
    let mut table = Table::new(&cols);
    for c in &page.cases {
        let mut row = vec![c.number.to_string(), c.status().to_string(), c.category.to_string()];
        if all {
            row.push(c.tenant.to_string());
        }
        row.push(if attention {
            opt_time(c.state.reply_deadline)
        } else {
            short_time(c.state.updated_at)
        });
        row.push(c.title.clone());
        table.row(row);
    }
    if table.is_empty() {
        writeln!(out, "No cases.")?;
    } else {
        table.write(out)?;
        let pages = page.total.div_ceil(u64::from(page.per_page.max(1)));
        writeln!(
            out,
            "\n{} · page {} of {}",
            count(page.total, "case"),
            page.page,
            pages.max(1)
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct QueueJson {
    entries: Vec<QueueEntryJson>,
}

#[derive(Serialize)]
struct QueueEntryJson {
    position: usize,
    class: caselog_core::PriorityClass,
    due: String,
    #[serde(flatten)]
    case: CaseSummary,
}

/// `queue`.
pub fn queue(db: &Path, args: &QueueArgs, out: &mut dyn Write) -> Result<Outcome> {
    let store = open_for_reading(db)?;
    let scope = args.tenant.clone().map_or(Scope::AllTenants, Scope::Tenant);
    let entries = store
        .queue(
            &scope,
            &QueueQuery {
                limit: usize::try_from(args.limit).unwrap_or(usize::MAX),
                category: args.category,
                marketplace: args.marketplace.clone(),
            },
        )
        .context("reading the queue")?;
    close(store)?;
    if args.json {
        let entries = entries
            .iter()
            .enumerate()
            .map(|(i, e)| QueueEntryJson {
                position: i + 1,
                class: e.key.class,
                due: e.key.due.to_rfc3339(),
                case: CaseSummary::from(&e.case),
            })
            .collect();
        json_line(out, &QueueJson { entries })?;
        return Ok(Outcome::Success);
    }
    write_queue(out, &entries)?;
    Ok(Outcome::Success)
}

/// Writes queue entries as a table.
pub fn write_queue(out: &mut dyn Write, entries: &[QueueEntry]) -> Result<()> {
    if entries.is_empty() {
        writeln!(out, "The queue is empty.")?;
        return Ok(());
    }
    let mut table = Table::new(&[
        ("#", 6),
        ("CLASS", 8),
        ("DUE", 16),
        ("NUMBER", 32),
        ("STATUS", 11),
        ("CATEGORY", 21),
        ("TENANT", 20),
        ("TITLE", 50),
    ]);
    for (i, e) in entries.iter().enumerate() {
        let dup = if e.case.links.duplicate_of.is_some() {
            " (dup)"
        } else {
            ""
        };
        table.row(vec![
            (i + 1).to_string(),
            format!("{}{dup}", e.key.class),
            short_time(e.key.due),
            e.case.number.to_string(),
            e.case.status().to_string(),
            e.case.category.to_string(),
            e.case.tenant.to_string(),
            e.case.title.clone(),
        ]);
    }
    table.write(out)?;
    Ok(())
}

#[derive(Serialize)]
struct StatsJson {
    cases: u64,
    messages: u64,
    tenants: u64,
    by_status: BTreeMap<&'static str, u64>,
    by_category: BTreeMap<&'static str, u64>,
    bytes: Bytes,
}

#[derive(Serialize)]
struct Bytes {
    store: u64,
    index: u64,
}

/// Total size of the files under `dir` (0 if it does not exist).
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// `stats`.
pub fn stats(db: &Path, args: &StatsArgs, out: &mut dyn Write) -> Result<Outcome> {
    let store = open_for_reading(db)?;
    let s = store.stats().context("reading statistics")?;
    // The write-path counters cover this process's session only (opening
    // the store and reading); a long-running application reads them from
    // `Store::metrics`.
    let metrics = store.metrics();
    close(store)?;
    // Every status and category appears, with 0 when absent, so scripts can
    // rely on the keys.
    let by_status: BTreeMap<&'static str, u64> = Status::ALL
        .iter()
        .map(|st| (st.as_str(), s.by_status.get(st).copied().unwrap_or(0)))
        .collect();
    let by_category: BTreeMap<&'static str, u64> = Category::ALL
        .iter()
        .map(|c| (c.as_str(), s.by_category.get(c).copied().unwrap_or(0)))
        .collect();
    let stats = StatsJson {
        cases: s.cases,
        messages: s.messages,
        tenants: s.tenants,
        by_status,
        by_category,
        bytes: Bytes {
            store: s.store_bytes,
            index: dir_size(&db.join("index")),
        },
    };
    if args.json {
        json_line(out, &stats)?;
        return Ok(Outcome::Success);
    }
    writeln!(out, "Cases:     {}", stats.cases)?;
    writeln!(out, "Messages:  {}", stats.messages)?;
    writeln!(out, "Tenants:   {}", stats.tenants)?;
    writeln!(out, "Store:     {}", human_bytes(stats.bytes.store))?;
    writeln!(out, "Index:     {}", human_bytes(stats.bytes.index))?;
    writeln!(out, "\nBy status")?;
    for st in Status::ALL {
        writeln!(
            out,
            "  {:<17} {:>9}",
            st.as_str(),
            stats.by_status.get(st.as_str()).unwrap_or(&0)
        )?;
    }
    writeln!(out, "\nBy category")?;
    for c in Category::ALL {
        writeln!(
            out,
            "  {:<22} {:>9}",
            c.as_str(),
            stats.by_category.get(c.as_str()).unwrap_or(&0)
        )?;
    }
    writeln!(out, "\nWrite path (this session)")?;
    for line in metrics.to_string().lines() {
        writeln!(out, "  {line}")?;
    }
    Ok(Outcome::Success)
}

/// Bytes as `12.3 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"B"))
    }
}
