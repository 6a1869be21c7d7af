//! SQLite + FTS5, set up the way a competent user would for this workload.
//!
//! - WAL with `synchronous=FULL`: every commit is durable before it returns,
//!   as caselog's default `Durability::Immediate` acknowledges.
//! - `cases` with B-tree indexes on number (unique), tenant+created,
//!   status+created and created, built after the bulk load; `messages`
//!   keyed by (case, seq) without a rowid.
//! - One contentless FTS5 row per case (`content=''`, `contentless_delete=1`)
//!   over the title and the whole thread, so the text is not stored twice.
//!   Tokenizer `porter unicode61 remove_diacritics 2`: English words stemmed
//!   and folded like caselog's. unicode61 alone would keep a run of Chinese
//!   as one token, so, as is usual with FTS5, each CJK character is
//!   surrounded by spaces before indexing ([`fts_text`]) and a Chinese word
//!   is searched as the phrase of its characters, which is caselog's own
//!   substring semantics. (trigram cannot find two-character words.)
//! - Bulk load in transactions of 5,000 cases with prepared statements,
//!   256 MiB page cache, temp store in memory; no mmap (it would hide the
//!   file pages in RSS accounting).
//! - Searches join `fts CROSS JOIN cases`, which pins the full-text index as
//!   the outer loop: left to itself the planner walks the tenant index and
//!   probes FTS5 once per row, which measured slower than an unscoped search.
//! - Writes go through one connection behind a mutex, which serialises
//!   writers without SQLITE_BUSY retry sleeps.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

use crate::gen;
use crate::queries::BenchQuery;
use crate::Engine;

/// The text FTS5 indexes: each CJK character stands alone.
pub fn fts_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for c in text.chars() {
        if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// The SQLite system.
pub struct Sqlite {
    conn: Mutex<Connection>,
}

const DB_FILE: &str = "cases.sqlite";

fn connect(dir: &Path) -> Result<Connection> {
    let conn = Connection::open(dir.join(DB_FILE))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=FULL;
         PRAGMA cache_size=-262144;
         PRAGMA temp_store=MEMORY;
         PRAGMA busy_timeout=60000;",
    )?;
    Ok(conn)
}

/// A row of `cases`, read whole by a number lookup.
#[allow(dead_code)]
#[derive(Debug)]
struct CaseRow {
    id: i64,
    number: String,
    tenant: String,
    created_by: String,
    marketplace: String,
    language: String,
    category: i64,
    status: i64,
    created: i64,
    updated: i64,
    title: String,
    refs: String,
    entries: i64,
}

fn author(a: &caselog_core::Actor) -> (&'static str, String) {
    match a {
        caselog_core::Actor::Seller(u) => ("seller", u.as_str().to_owned()),
        caselog_core::Actor::Support(u) => ("support", u.as_str().to_owned()),
        caselog_core::Actor::System => ("system", String::new()),
    }
}

/// A case ready for SQLite, converted on the producer thread.
pub struct Row {
    case: caselog_store::ImportCase,
    fts_title: String,
    fts_body: String,
}

impl Engine for Sqlite {
    const NAME: &'static str = "sqlite";

    fn ingest(dir: &Path, cases: u64) -> Result<crate::IngestCounts> {
        std::fs::create_dir_all(dir)?;
        let mut conn = connect(dir)?;
        conn.execute_batch(
            "CREATE TABLE cases(
                id INTEGER PRIMARY KEY, number TEXT NOT NULL, tenant TEXT NOT NULL, created_by TEXT NOT NULL,
                marketplace TEXT NOT NULL, language TEXT NOT NULL, category INTEGER NOT NULL,
                status INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
                title TEXT NOT NULL, refs TEXT NOT NULL, entries INTEGER NOT NULL);
             CREATE TABLE messages(
                case_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, author TEXT NOT NULL,
                author_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY(case_id, seq)) WITHOUT ROWID;
             CREATE VIRTUAL TABLE fts USING fts5(title, body, content='', contentless_delete=1,
                tokenize='porter unicode61 remove_diacritics 2');",
        )?;
        let rows = crate::produce(cases, |c| {
            let body = c.thread.iter().map(|e| e.body.as_str()).collect::<Vec<_>>().join("\n");
            Row {
                fts_title: fts_text(&c.case.title),
                fts_body: fts_text(&body),
                case: c,
            }
        });
        let mut counts = crate::IngestCounts::default();
        let mut iter = rows.into_iter().peekable();
        while iter.peek().is_some() {
            let tx = conn.transaction()?;
            {
                let mut ins_case =
                    tx.prepare_cached("INSERT INTO cases VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)")?;
                let mut ins_msg = tx.prepare_cached("INSERT INTO messages VALUES(?1,?2,?3,?4,?5,?6)")?;
                let mut ins_fts = tx.prepare_cached("INSERT INTO fts(rowid, title, body) VALUES(?1,?2,?3)")?;
                for row in iter.by_ref().take(5_000) {
                    let c = &row.case.case;
                    let id = counts.cases as i64 + 1;
                    counts.add(&row.case);
                    let refs = format!(
                        "{};{}",
                        c.refs.orders.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(","),
                        c.refs.asins.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(",")
                    );
                    ins_case.execute(params![
                        id,
                        c.number.as_str(),
                        c.tenant.as_str(),
                        c.created_by.as_str(),
                        c.marketplace.as_str(),
                        c.language.as_str(),
                        c.category.index() as i64,
                        c.state.status.index() as i64,
                        c.state.created_at.as_millis(),
                        c.state.updated_at.as_millis(),
                        c.title,
                        refs,
                        row.case.thread.len() as i64,
                    ])?;
                    for (seq, e) in row.case.thread.iter().enumerate() {
                        let (kind, who) = author(&e.actor);
                        ins_msg.execute(params![id, seq as i64, e.at.as_millis(), kind, who, e.body])?;
                    }
                    ins_fts.execute(params![id, row.fts_title, row.fts_body])?;
                }
            }
            tx.commit()?;
        }
        conn.execute_batch(
            "CREATE UNIQUE INDEX cases_number ON cases(number);
             CREATE INDEX cases_tenant_created ON cases(tenant, created);
             CREATE INDEX cases_status_created ON cases(status, created);
             CREATE INDEX cases_created ON cases(created);
             ANALYZE;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
        drop(conn);
        Ok(counts)
    }

    fn open(dir: &Path) -> Result<Self> {
        let conn = connect(dir)?;
        // Reading the schema is part of opening: SQLite defers it to the
        // first statement.
        let _: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        Ok(Sqlite { conn: Mutex::new(conn) })
    }

    fn search(&self, q: &BenchQuery, tenant: Option<&str>) -> Result<u64> {
        let conn = self.conn.lock().expect("not poisoned");
        let mut filter = String::from("fts MATCH ?1");
        if tenant.is_some() {
            filter.push_str(" AND c.tenant = ?2");
        }
        if q.status.is_some() {
            filter.push_str(" AND c.status = ?3");
        }
        if q.created.is_some() {
            filter.push_str(" AND c.created >= ?4 AND c.created < ?5");
        }
        let m = q.fts5_match();
        let status = q.status.map(|s| s.index() as i64);
        let (from, to) = q.created.unwrap_or((0, 0));
        let bind = |st: &mut rusqlite::CachedStatement<'_>| -> Result<()> {
            st.raw_bind_parameter(1, &m)?;
            if let Some(t) = tenant {
                st.raw_bind_parameter(2, t)?;
            }
            if let Some(s) = status {
                st.raw_bind_parameter(3, s)?;
            }
            if q.created.is_some() {
                st.raw_bind_parameter(4, from)?;
                st.raw_bind_parameter(5, to)?;
            }
            Ok(())
        };
        let mut count = conn.prepare_cached(&format!(
            "SELECT count(*) FROM fts CROSS JOIN cases c ON c.id = fts.rowid WHERE {filter}"
        ))?;
        bind(&mut count)?;
        let total: i64 = count.raw_query().next()?.context("count row")?.get(0)?;
        let mut page = conn.prepare_cached(&format!(
            "SELECT c.id, c.number, c.tenant, c.title, c.status, c.category, c.created, c.updated
             FROM fts CROSS JOIN cases c ON c.id = fts.rowid WHERE {filter} ORDER BY fts.rank LIMIT 20"
        ))?;
        bind(&mut page)?;
        let mut rows = page.raw_query();
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let _: (i64, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            n += 1;
        }
        anyhow::ensure!(n <= 20);
        Ok(total as u64)
    }

    fn lookup(&self, number: &str, tenant: &str) -> Result<bool> {
        let conn = self.conn.lock().expect("not poisoned");
        let mut st = conn.prepare_cached(
            "SELECT id, number, tenant, created_by, marketplace, language, category, status, created, updated,
                    title, refs, entries FROM cases WHERE number = ?1 AND tenant = ?2",
        )?;
        let row = st
            .query_row(params![number, tenant], |r| {
                Ok(CaseRow {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    tenant: r.get(2)?,
                    created_by: r.get(3)?,
                    marketplace: r.get(4)?,
                    language: r.get(5)?,
                    category: r.get(6)?,
                    status: r.get(7)?,
                    created: r.get(8)?,
                    updated: r.get(9)?,
                    title: r.get(10)?,
                    refs: r.get(11)?,
                    entries: r.get(12)?,
                })
            })
            .optional()?;
        Ok(row.is_some())
    }

    fn append(&self, case: u64, writer: usize, body: String) -> Result<()> {
        let mut conn = self.conn.lock().expect("not poisoned");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let number = gen::number(case);
            let (id, entries, title): (i64, i64, String) = tx
                .prepare_cached("SELECT id, entries, title FROM cases WHERE number = ?1")?
                .query_row([number.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            let now = caselog_core::Timestamp::now().as_millis();
            tx.prepare_cached("INSERT INTO messages VALUES(?1,?2,?3,'support',?4,?5)")?
                .execute(params![id, entries, now, format!("agent-{writer}"), body])?;
            tx.prepare_cached("UPDATE cases SET entries = entries + 1, updated = ?2 WHERE id = ?1")?
                .execute(params![id, now])?;
            // The case's document is the whole thread: re-index it.
            let bodies: Vec<String> = tx
                .prepare_cached("SELECT body FROM messages WHERE case_id = ?1 ORDER BY seq")?
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            tx.prepare_cached("DELETE FROM fts WHERE rowid = ?1")?.execute([id])?;
            tx.prepare_cached("INSERT INTO fts(rowid, title, body) VALUES(?1,?2,?3)")?
                .execute(params![id, fts_text(&title), fts_text(&bodies.join("\n"))])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn close(self) -> Result<()> {
        let conn = self.conn.into_inner().expect("not poisoned");
        conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }
}
