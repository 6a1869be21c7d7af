//! The floor: a plain tantivy `IndexWriter` and a plain redb database, with
//! no caselog machinery (no writer thread, change log, views, queue,
//! versioned records, fingerprints or facets).
//!
//! Same analyzers as caselog: its analysis module is public, so the index
//! registers caselog's two analyzers and plans words with its
//! `query_plan`. The document carries the fields caselog's does (minus the
//! fingerprint); records are the same `Case` and `ThreadEntry` structs in
//! postcard, without the version byte.

use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use caselog_core::{Actor, UserId};
use caselog_store::index::analysis::{self, Analyzer, DEFAULT_WORDS_BOOST};
use caselog_store::{Case, ThreadEntry};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextOptions, Value, FAST, INDEXED, STORED, STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::queries::{BenchQuery, ScopeSpec};
use crate::{gen, Engine, Settings};

const CASES: TableDefinition<u64, &[u8]> = TableDefinition::new("cases");
const THREAD: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("thread");
const NUMBERS: TableDefinition<&str, u64> = TableDefinition::new("numbers");

const DB_FILE: &str = "raw.redb";
const INDEX_DIR: &str = "index";
/// caselog's defaults: 128 MiB redb cache, 128 MiB index writer heap.
const CACHE_BYTES: usize = 128 * 1024 * 1024;
const HEAP_BYTES: usize = 128 * 1024 * 1024;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    tenant: Field,
    number: Field,
    order: Field,
    asin: Field,
    status: Field,
    category: Field,
    marketplace: Field,
    by: Field,
    created: Field,
    updated: Field,
    title: Field,
    text_words: Field,
    text_chars: Field,
    title_words: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let u64_fast: NumericOptions = (INDEXED | FAST | STORED).into();
    let time: NumericOptions = (FAST | STORED).into();
    let exact: TextOptions = STRING | STORED;
    let f = Fields {
        id: b.add_u64_field("id", u64_fast.clone()),
        tenant: b.add_text_field("tenant", exact.clone()),
        number: b.add_text_field("number", exact.clone()),
        order: b.add_text_field("order", exact.clone()),
        asin: b.add_text_field("asin", exact.clone()),
        status: b.add_u64_field("status", u64_fast.clone()),
        category: b.add_u64_field("category", u64_fast),
        marketplace: b.add_text_field("marketplace", exact.clone()),
        by: b.add_text_field("by", exact),
        created: b.add_i64_field("created", time.clone()),
        updated: b.add_i64_field("updated", time),
        title: b.add_text_field("title", STORED),
        text_words: b.add_text_field("text_words", Analyzer::CjkWords.text_options()),
        text_chars: b.add_text_field("text_chars", Analyzer::Chars.text_options()),
        title_words: b.add_text_field("title_words", Analyzer::Words.text_options()),
    };
    (b.build(), f)
}

fn document(f: &Fields, case: &Case, thread: &[ThreadEntry]) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_u64(f.id, case.id.0);
    doc.add_text(f.tenant, case.tenant.as_str());
    doc.add_text(f.number, case.number.as_str());
    for o in &case.refs.orders {
        doc.add_text(f.order, o.as_str());
    }
    for a in &case.refs.asins {
        doc.add_text(f.asin, a.as_str());
    }
    doc.add_u64(f.status, case.state.status.index() as u64);
    doc.add_u64(f.category, case.category.index() as u64);
    doc.add_text(f.marketplace, case.marketplace.as_str());
    doc.add_text(f.by, case.created_by.as_str());
    doc.add_i64(f.created, case.state.created_at.as_millis());
    doc.add_i64(f.updated, case.state.updated_at.as_millis());
    doc.add_text(f.title, &case.title);
    doc.add_text(f.title_words, &case.title);
    for text in std::iter::once(case.title.as_str()).chain(thread.iter().map(|e| e.body.as_str())) {
        if !text.is_empty() {
            doc.add_text(f.text_words, text);
            doc.add_text(f.text_chars, text);
        }
    }
    doc
}

/// The raw system.
pub struct Raw {
    db: Database,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    /// Documents of live appends waiting for the next `refresh`: appends
    /// never wait for an index commit, as caselog's never wait for its
    /// indexer.
    pending: Mutex<Vec<(u64, TantivyDocument)>>,
    index: Index,
}

fn open_index(dir: &Path) -> Result<(Index, Fields)> {
    let index = Index::open_in_dir(dir.join(INDEX_DIR))?;
    analysis::register(&index);
    let (_, fields) = schema();
    Ok((index, fields))
}

impl Engine for Raw {
    const NAME: &'static str = "raw";

    fn ingest(dir: &Path, s: &Settings, counts: &mut crate::IngestCounts) -> Result<()> {
        std::fs::create_dir_all(dir.join(INDEX_DIR))?;
        let (schema, fields) = schema();
        let index = Index::create_in_dir(dir.join(INDEX_DIR), schema)?;
        analysis::register(&index);
        let mut writer: IndexWriter = index.writer(HEAP_BYTES)?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(dir.join(DB_FILE))?;
        let rx = crate::produce(s.cases, |c| c);
        let mut iter = rx.into_iter().peekable();
        // Chunks as caselog imports: 8,000 cases per transaction, every one
        // durable.
        while iter.peek().is_some() {
            let txn = db.begin_write()?;
            {
                let mut cases_t = txn.open_table(CASES)?;
                let mut thread_t = txn.open_table(THREAD)?;
                let mut numbers_t = txn.open_table(NUMBERS)?;
                for mut c in iter.by_ref().take(crate::IMPORT_CHUNK) {
                    counts.add(&c);
                    let id = counts.cases;
                    c.case.id = caselog_core::CaseId(id);
                    c.case.entries = c.thread.len() as u32;
                    writer.add_document(document(&fields, &c.case, &c.thread))?;
                    cases_t.insert(id, postcard::to_stdvec(&c.case)?.as_slice())?;
                    for (seq, e) in c.thread.iter().enumerate() {
                        thread_t.insert((id, seq as u32), postcard::to_stdvec(e)?.as_slice())?;
                    }
                    numbers_t.insert(c.case.number.as_str(), id)?;
                }
            }
            txn.commit()?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        Ok(())
    }

    fn open(dir: &Path) -> Result<Self> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .open(dir.join(DB_FILE))?;
        let (index, fields) = open_index(dir)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Raw {
            db,
            fields,
            reader,
            writer: Mutex::new(None),
            pending: Mutex::new(Vec::new()),
            index,
        })
    }

    fn search(&self, q: &BenchQuery, scope: &ScopeSpec) -> Result<u64> {
        let f = &self.fields;
        let tenant = scope.tenant.as_deref();
        // As caselog: the chars field decides recall, words and title only
        // add score.
        let text = |term: &str| -> Result<Box<dyn Query>> {
            let plan = analysis::query_plan(term);
            let mut text = plan
                .clauses(f.text_chars, f.text_words, DEFAULT_WORDS_BOOST)
                .context("empty plan")?;
            if let Some(w) = plan.words_query(f.title_words) {
                text.push((Occur::Should, Box::new(BoostQuery::new(w, 1.5))));
            }
            Ok(Box::new(BooleanQuery::new(text)))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in &q.terms {
            clauses.push((Occur::Must, text(term)?));
        }
        if !q.any.is_empty() {
            let any = q
                .any
                .iter()
                .map(|t| Ok((Occur::Should, text(t)?)))
                .collect::<Result<Vec<_>>>()?;
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        for term in &q.not {
            let plan = analysis::query_plan(term);
            clauses.push((Occur::MustNot, plan.chars_query(f.text_chars).context("empty plan")?));
        }
        let filter =
            |q: Box<dyn Query>| -> (Occur, Box<dyn Query>) { (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0))) };
        if let Some(s) = q.status {
            clauses.push(filter(Box::new(TermQuery::new(
                Term::from_field_u64(f.status, s.index() as u64),
                IndexRecordOption::Basic,
            ))));
        }
        if let Some((from, to)) = q.created {
            clauses.push(filter(Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_i64(f.created, from)),
                Bound::Excluded(Term::from_field_i64(f.created, to)),
            ))));
        }
        if let Some(t) = tenant {
            clauses.push(filter(Box::new(TermQuery::new(
                Term::from_field_text(f.tenant, t),
                IndexRecordOption::Basic,
            ))));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let (top, total) = searcher.search(&query, &(TopDocs::with_limit(20).order_by_score(), Count))?;
        // Render the page from stored fields, as a search result needs.
        for (_, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let _title = doc.get_first(f.title).and_then(|v| v.as_str()).map(str::to_owned);
            let _number = doc.get_first(f.number).and_then(|v| v.as_str()).map(str::to_owned);
        }
        Ok(total as u64)
    }

    fn lookup(&self, number: &str, tenant: &str) -> Result<bool> {
        let txn = self.db.begin_read()?;
        let Some(id) = txn.open_table(NUMBERS)?.get(number)?.map(|v| v.value()) else {
            return Ok(false);
        };
        let cases = txn.open_table(CASES)?;
        let bytes = cases.get(id)?.context("dangling number")?;
        let case: Case = postcard::from_bytes(bytes.value())?;
        Ok(case.tenant.as_str() == tenant)
    }

    fn append(&self, case: u64, writer: usize, body: String) -> Result<()> {
        let txn = self.db.begin_write()?;
        let (record, thread) = {
            let mut cases_t = txn.open_table(CASES)?;
            let mut thread_t = txn.open_table(THREAD)?;
            let id = txn
                .open_table(NUMBERS)?
                .get(gen::number(case).as_str())?
                .context("unknown number")?
                .value();
            let mut record: Case = postcard::from_bytes(cases_t.get(id)?.context("dangling")?.value())?;
            let entry = ThreadEntry {
                at: caselog_core::Timestamp::now(),
                actor: Actor::Support(UserId::parse(&format!("agent-{writer}"))?),
                change: None,
                body,
                attachments: vec![],
            };
            thread_t.insert((id, record.entries), postcard::to_stdvec(&entry)?.as_slice())?;
            record.entries += 1;
            record.state.updated_at = entry.at;
            cases_t.insert(id, postcard::to_stdvec(&record)?.as_slice())?;
            let thread = thread_t
                .range((id, 0)..(id, u32::MAX))?
                .map(|r| Ok(postcard::from_bytes::<ThreadEntry>(r?.1.value())?))
                .collect::<Result<Vec<_>>>()?;
            (record, thread)
        };
        txn.commit()?;
        // Re-index the case; `refresh` applies the documents and commits
        // the index every 200 ms (caselog's default commit interval), not
        // per append: this is the floor.
        let doc = document(&self.fields, &record, &thread);
        self.pending.lock().expect("not poisoned").push((record.id.0, doc));
        Ok(())
    }

    fn refresh(&self) -> Result<()> {
        let docs = std::mem::take(&mut *self.pending.lock().expect("not poisoned"));
        if docs.is_empty() {
            return Ok(());
        }
        let mut guard = self.writer.lock().expect("not poisoned");
        if guard.is_none() {
            *guard = Some(self.index.writer(HEAP_BYTES)?);
        }
        let w = guard.as_mut().context("writer")?;
        for (id, doc) in docs {
            w.delete_term(Term::from_field_u64(self.fields.id, id));
            w.add_document(doc)?;
        }
        w.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    fn close(self) -> Result<()> {
        self.refresh()?;
        if let Some(w) = self.writer.into_inner().expect("not poisoned") {
            w.wait_merging_threads()?;
        }
        Ok(())
    }
}
