//! SQLite + FTS5, set up the way a competent user would for this workload,
//! in two layouts that scope a search by tenant inside the full-text index
//! (both are measured; the report compares caselog with the faster):
//!
//! - `sqlite` ([`Sqlite<false>`]): the FTS5 row carries the tenant as one
//!   unique token in its own column (`tenant`), so a tenant search is
//!   `tenant : "seller00042" AND (...)`, an intersection of doclists inside
//!   FTS5; rowids are in load order.
//! - `sqlite-rowid` ([`Sqlite<true>`]): rowids are grouped by tenant
//!   (`tenant rank << 32 | case`), so a tenant search is `MATCH ... AND rowid
//!   BETWEEN lo AND hi`, which FTS5 answers by seeking inside each doclist.
//!
//! Common to both:
//!
//! - WAL with `synchronous=FULL`: every commit is durable before it returns,
//!   as caselog's default `Durability::Immediate` acknowledges.
//! - `cases` with B-tree indexes for what caselog's views and lookups need
//!   (number; tenant+updated; tenant+status+updated; created_by+updated;
//!   status+updated; updated), built after the bulk load; `messages` keyed
//!   by (case, seq) without a rowid.
//! - One contentless FTS5 row per case (`content=''`, `contentless_delete=1`)
//!   over the title and the whole thread, so the text is not stored twice.
//!   Tokenizer `porter unicode61 remove_diacritics 2`: English words stemmed
//!   and folded like caselog's. unicode61 alone would keep a run of Chinese
//!   as one token, so, as is usual with FTS5, each CJK character is
//!   surrounded by spaces before indexing ([`fts_text`]) and a Chinese word
//!   is searched as the phrase of its characters, which is caselog's own
//!   substring semantics. (trigram cannot find two-character words.)
//! - Bulk load in transactions of 8,000 cases (caselog's import chunk) with
//!   prepared statements, 256 MiB page cache, temp store in memory; then
//!   `INSERT INTO fts(fts) VALUES('optimize')` (one b-tree segment per
//!   index), `ANALYZE` and a WAL checkpoint; no mmap (it would hide the file
//!   pages in RSS accounting).
//! - Counts without a join when the query has no field filter; the page of
//!   20 is ranked inside FTS5 (`ORDER BY rank LIMIT 20`) and only those rows
//!   are joined to `cases`. A status/date filter joins `fts CROSS JOIN
//!   cases` by rowid, the FTS5 scan outermost (its tenant restriction is
//!   already inside the MATCH).
//! - Writes go through one connection behind a mutex, which serialises
//!   writers without SQLITE_BUSY retry sleeps; reads use a second one.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

use crate::queries::{BenchQuery, ScopeSpec};
use crate::{gen, Engine, Settings};

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

/// The tenant's single FTS5 token: the id without its punctuation.
fn tenant_token(tenant: &str) -> String {
    tenant.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// The rowid of case `i` of tenant rank `r` in the grouped layout.
fn grouped_rowid(r: usize, i: u64) -> i64 {
    ((r as i64) << 32) | (i as i64 + 1)
}

/// The SQLite system; `ROWID` picks the rowid-grouped layout.
pub struct Sqlite<const ROWID: bool> {
    /// The writers' connection.
    conn: Mutex<Connection>,
    /// The readers' connection (WAL lets it read while a write is open).
    read: Mutex<Connection>,
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
    index: u64,
    tenant_rank: usize,
    fts_title: String,
    fts_body: String,
}

/// One prepared search: SQL and its parameters.
struct Sql {
    count: String,
    page: String,
    params: Vec<rusqlite::types::Value>,
}

impl<const ROWID: bool> Sqlite<ROWID> {
    /// The statements of a search (shared by `search` and `plans`).
    fn sql(q: &BenchQuery, scope: &ScopeSpec) -> Sql {
        use rusqlite::types::Value;
        let mut m = q.fts5_match();
        let mut params: Vec<Value> = vec![Value::Null];
        let mut filter = String::from("fts MATCH ?1");
        if let Some(t) = &scope.tenant {
            if ROWID {
                let r = scope.rank.unwrap_or(0);
                filter.push_str(" AND fts.rowid BETWEEN ?2 AND ?3");
                params.push(Value::Integer((r as i64) << 32));
                params.push(Value::Integer(((r as i64 + 1) << 32) - 1));
            } else {
                m = format!("tenant : \"{}\" AND ({m})", tenant_token(t));
            }
        }
        params[0] = Value::Text(m);
        let cols = "c.id, c.number, c.tenant, c.title, c.status, c.category, c.created, c.updated";
        if q.has_field_filter() {
            if let Some(s) = q.status {
                params.push(Value::Integer(s.index() as i64));
                filter.push_str(&format!(" AND c.status = ?{}", params.len()));
            }
            if let Some((from, to)) = q.created {
                params.push(Value::Integer(from));
                params.push(Value::Integer(to));
                filter.push_str(&format!(
                    " AND c.created >= ?{} AND c.created < ?{}",
                    params.len() - 1,
                    params.len()
                ));
            }
            Sql {
                count: format!("SELECT count(*) FROM fts CROSS JOIN cases c ON c.id = fts.rowid WHERE {filter}"),
                page: format!(
                    "SELECT {cols} FROM fts CROSS JOIN cases c ON c.id = fts.rowid WHERE {filter} \
                     ORDER BY fts.rank LIMIT 20"
                ),
                params,
            }
        } else {
            Sql {
                count: format!("SELECT count(*) FROM fts WHERE {filter}"),
                page: format!(
                    "SELECT {cols} FROM (SELECT fts.rowid AS id, fts.rank AS rank FROM fts WHERE {filter} \
                     ORDER BY fts.rank LIMIT 20) f CROSS JOIN cases c ON c.id = f.id ORDER BY f.rank"
                ),
                params,
            }
        }
    }

    fn view_sql(view: &str, scope: &ScopeSpec) -> Result<(String, String, Vec<rusqlite::types::Value>)> {
        use rusqlite::types::Value;
        let mut params: Vec<Value> = Vec::new();
        let mut cond: Vec<String> = Vec::new();
        if let Some(t) = &scope.tenant {
            params.push(Value::Text(t.clone()));
            cond.push(format!("tenant = ?{}", params.len()));
        }
        let order = "updated DESC";
        let mut offset = 0i64;
        match view {
            "view: all, page 1" => {}
            "view: all, deep page" => offset = (i64::from(scope.deep_page) - 1) * 20,
            // A seller's *Mine* is the cases the user created (the archive
            // hands none over); support's is the cases assigned to the agent,
            // and the generated archive assigns none.
            "view: mine" if scope.tenant.is_none() => cond.push("0".into()),
            "view: mine" => {
                params.push(Value::Text(scope.mine_user.clone()));
                cond.push(format!("created_by = ?{}", params.len()));
            }
            "view: needs attention" => {
                params.push(Value::Integer(caselog_core::Status::NeedsAttention.index() as i64));
                cond.push(format!("status = ?{}", params.len()));
            }
            other => anyhow::bail!("unknown view {other:?}"),
        }
        let filter = if cond.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", cond.join(" AND "))
        };
        Ok((
            format!("SELECT count(*) FROM cases {filter}"),
            format!(
                "SELECT id, number, tenant, title, status, category, created, updated FROM cases {filter} \
                 ORDER BY {order} LIMIT 20 OFFSET {offset}"
            ),
            params,
        ))
    }

    fn count_and_page(conn: &Connection, count: &str, page: &str, params: &[rusqlite::types::Value]) -> Result<u64> {
        let mut st = conn.prepare_cached(count)?;
        let total: i64 = st.query_row(rusqlite::params_from_iter(params), |r| r.get(0))?;
        let mut st = conn.prepare_cached(page)?;
        let mut rows = st.query(rusqlite::params_from_iter(params))?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let _: (i64, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            n += 1;
        }
        anyhow::ensure!(n <= 20);
        Ok(total as u64)
    }
}

fn explain(conn: &Connection, sql: &str, params: &[rusqlite::types::Value]) -> Result<String> {
    let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let lines: Vec<String> = st
        .query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(format!("{sql}\n  -> {}", lines.join("; ")))
}

impl<const ROWID: bool> Engine for Sqlite<ROWID> {
    const NAME: &'static str = if ROWID { "sqlite-rowid" } else { "sqlite" };

    fn ingest(dir: &Path, s: &Settings, counts: &mut crate::IngestCounts) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut conn = connect(dir)?;
        let fts_cols = if ROWID { "title, body" } else { "title, body, tenant" };
        conn.execute_batch(&format!(
            "CREATE TABLE cases(
                id INTEGER PRIMARY KEY, number TEXT NOT NULL, tenant TEXT NOT NULL, created_by TEXT NOT NULL,
                marketplace TEXT NOT NULL, language TEXT NOT NULL, category INTEGER NOT NULL,
                status INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
                title TEXT NOT NULL, refs TEXT NOT NULL, entries INTEGER NOT NULL);
             CREATE TABLE messages(
                case_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, author TEXT NOT NULL,
                author_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY(case_id, seq)) WITHOUT ROWID;
             CREATE VIRTUAL TABLE fts USING fts5({fts_cols}, content='', contentless_delete=1,
                tokenize='porter unicode61 remove_diacritics 2');"
        ))?;
        let mut index = 0u64;
        let rows = crate::produce(s.cases, move |c| {
            let body = c.thread.iter().map(|e| e.body.as_str()).collect::<Vec<_>>().join("\n");
            let i = index;
            index += 1;
            Row {
                fts_title: fts_text(&c.case.title),
                fts_body: fts_text(&body),
                tenant_rank: gen::tenant_rank(i),
                index: i,
                case: c,
            }
        });
        let mut iter = rows.into_iter().peekable();
        while iter.peek().is_some() {
            let tx = conn.transaction()?;
            {
                let mut ins_case =
                    tx.prepare_cached("INSERT INTO cases VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)")?;
                let mut ins_msg = tx.prepare_cached("INSERT INTO messages VALUES(?1,?2,?3,?4,?5,?6)")?;
                let mut ins_fts = if ROWID {
                    tx.prepare_cached("INSERT INTO fts(rowid, title, body) VALUES(?1,?2,?3)")?
                } else {
                    tx.prepare_cached("INSERT INTO fts(rowid, title, body, tenant) VALUES(?1,?2,?3,?4)")?
                };
                for row in iter.by_ref().take(crate::IMPORT_CHUNK) {
                    let c = &row.case.case;
                    let id = if ROWID {
                        grouped_rowid(row.tenant_rank, row.index)
                    } else {
                        row.index as i64 + 1
                    };
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
                    if ROWID {
                        ins_fts.execute(params![id, row.fts_title, row.fts_body])?;
                    } else {
                        ins_fts.execute(params![
                            id,
                            row.fts_title,
                            row.fts_body,
                            tenant_token(c.tenant.as_str())
                        ])?;
                    }
                }
            }
            tx.commit()?;
        }
        conn.execute_batch(
            "INSERT INTO fts(fts) VALUES('optimize');
             CREATE UNIQUE INDEX cases_number ON cases(number);
             CREATE INDEX cases_tenant_updated ON cases(tenant, updated);
             CREATE INDEX cases_tenant_status_updated ON cases(tenant, status, updated);
             CREATE INDEX cases_user_updated ON cases(created_by, updated);
             CREATE INDEX cases_status_updated ON cases(status, updated);
             CREATE INDEX cases_updated ON cases(updated);
             ANALYZE;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
        drop(conn);
        Ok(())
    }

    fn open(dir: &Path) -> Result<Self> {
        let conn = connect(dir)?;
        // Reading the schema is part of opening: SQLite defers it to the
        // first statement.
        let _: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        let read = connect(dir)?;
        let _: i64 = read.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        Ok(Sqlite {
            conn: Mutex::new(conn),
            read: Mutex::new(read),
        })
    }

    fn search(&self, q: &BenchQuery, scope: &ScopeSpec) -> Result<u64> {
        let conn = self.read.lock().expect("not poisoned");
        let sql = Self::sql(q, scope);
        Self::count_and_page(&conn, &sql.count, &sql.page, &sql.params)
    }

    fn view(&self, view: &str, scope: &ScopeSpec) -> Result<Option<u64>> {
        let conn = self.read.lock().expect("not poisoned");
        let (count, page, params) = Self::view_sql(view, scope)?;
        Self::count_and_page(&conn, &count, &page, &params).map(Some)
    }

    fn plans(&self, q: &BenchQuery, scope: &ScopeSpec) -> Result<Vec<String>> {
        let conn = self.read.lock().expect("not poisoned");
        let sql = Self::sql(q, scope);
        Ok(vec![
            explain(&conn, &sql.count, &sql.params)?,
            explain(&conn, &sql.page, &sql.params)?,
        ])
    }

    fn view_plans(&self, view: &str, scope: &ScopeSpec) -> Result<Vec<String>> {
        let conn = self.read.lock().expect("not poisoned");
        let (count, page, params) = Self::view_sql(view, scope)?;
        Ok(vec![explain(&conn, &count, &params)?, explain(&conn, &page, &params)?])
    }

    fn lookup(&self, number: &str, tenant: &str) -> Result<bool> {
        let conn = self.read.lock().expect("not poisoned");
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
            let (id, entries, title, tenant): (i64, i64, String, String) = tx
                .prepare_cached("SELECT id, entries, title, tenant FROM cases WHERE number = ?1")?
                .query_row([number.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .context("case of an append")?;
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
            let body = fts_text(&bodies.join("\n"));
            if ROWID {
                tx.prepare_cached("INSERT INTO fts(rowid, title, body) VALUES(?1,?2,?3)")?
                    .execute(params![id, fts_text(&title), body])?;
            } else {
                tx.prepare_cached("INSERT INTO fts(rowid, title, body, tenant) VALUES(?1,?2,?3,?4)")?
                    .execute(params![id, fts_text(&title), body, tenant_token(&tenant)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn close(self) -> Result<()> {
        self.read
            .into_inner()
            .expect("not poisoned")
            .close()
            .map_err(|(_, e)| e)?;
        let conn = self.conn.into_inner().expect("not poisoned");
        conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }
}
