//! Operation stamps a new writer must not hand out again.
//!
//! tantivy 0.27 starts a new `IndexWriter`'s stamper *at* the opstamp of
//! the commit it opens (`Stamper::new(meta.opstamp)`; `stamp()` returns the
//! current value), although that commit used the stamp itself. So the first
//! operation of every writer gets the committed opstamp `C`, and until the
//! writer's first commit a merge of committed segments targets `C` too.
//! `advance_deletes` takes a segment whose delete opstamp equals the target
//! as up to date and returns without applying anything: a committed
//! segment that got deletes at commit `C` skips a delete stamped `C` in the
//! new session. When such a segment is merged behind another source, the
//! merged segment inherits the other source's delete cursor, already past
//! that delete, and the segment's old document stays live forever: one
//! document indexed twice. (Reproduced by
//! `tantivy_first_delete_after_reopen_is_lost_in_a_merge` in
//! `tests/index_deletes.rs`; RELIABILITY.md has the upstream report.)
//!
//! The cure is to burn the stamps the index on disk has already used
//! before the writer does anything else: no merge starts before the first
//! segment is added or a commit runs, so the skipped stamp is never a
//! real operation.

use tantivy::indexer::UserOperation;
use tantivy::schema::document::Document;
use tantivy::{IndexWriter, TantivyError};

/// Most stamps skipped at writer start: a delete opstamp further beyond
/// the commit's means a damaged `meta.json`, which is better rebuilt than
/// counted up to.
const MAX_SKIPPED: u64 = 1 << 20;

/// Consumes every operation stamp that `writer`, freshly opened, would hand
/// out although the committed index already used it: the commit's own
/// opstamp and any segment delete opstamp beyond it. Call it before the
/// writer's first operation. Returns the first stamp left for real
/// operations.
pub fn skip_used_opstamps<D: Document>(writer: &IndexWriter<D>) -> tantivy::Result<u64> {
    let metas = writer.index().load_metas()?;
    let used = metas
        .segments
        .iter()
        .filter_map(|s| s.delete_opstamp())
        .fold(metas.opstamp, u64::max);
    // An empty batch takes one stamp and does nothing else.
    let mut stamp = writer.run(Vec::<UserOperation<D>>::new())?;
    if used.saturating_sub(stamp) > MAX_SKIPPED {
        return Err(TantivyError::InvalidArgument(format!(
            "a segment's delete opstamp {used} is far beyond the commit's {}",
            metas.opstamp
        )));
    }
    while stamp < used {
        stamp = writer.run(Vec::<UserOperation<D>>::new())?;
    }
    Ok(stamp + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::{Schema, INDEXED};
    use tantivy::{doc, Index, Term};

    /// The stamp skipped is exactly the committed one, and what comes after
    /// it is the first fresh stamp.
    #[test]
    fn the_first_operation_after_reopening_gets_a_fresh_stamp() {
        let mut b = Schema::builder();
        let id = b.add_u64_field("id", INDEXED);
        let index = Index::create_in_ram(b.build());
        let committed = {
            let mut w: IndexWriter = index.writer(15_000_000).expect("writer");
            w.add_document(doc!(id => 1u64)).expect("add");
            w.delete_term(Term::from_field_u64(id, 2));
            w.commit().expect("commit")
        };
        let w: IndexWriter = index.writer(15_000_000).expect("writer");
        let next = skip_used_opstamps(&w).expect("skip");
        assert_eq!(next, committed + 1);
        assert_eq!(w.delete_term(Term::from_field_u64(id, 1)), committed + 1);
    }
}
