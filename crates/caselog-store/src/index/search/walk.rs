//! Deep walks: every hit of a query, page by page, for one match of the
//! query in all. `search_after` runs the whole query again for each page
//! (it keeps no state between calls, so a walk of `n` pages costs `n`
//! matches); a [`SearchWalk`] matches once against one searcher
//! generation, keeps the sort keys of every hit after its starting point,
//! and renders its pages from them.

use std::sync::Arc;

use caselog_core::{parse, CaseId, Query};
use tantivy::{DocAddress, Searcher};

use crate::error::Result;
use crate::model::Scope;
use crate::paging::{Binding, Cursor, SortKey};
use crate::store::Store;

use super::*;

/// A walk through every hit of a query, in the order of its
/// [`SearchOptions`], from [`Store::search_walk`].
///
/// The hits are those of the searcher generation the walk started on (a
/// case indexed later is not added, nor one deleted later removed); each
/// page's numbers and titles are read from the store when the page is
/// rendered, and a case erased from the store since the walk started is
/// left out of its page. The walk gives the hits that paging and
/// [`Store::search_after`] give, in the same order, each once.
pub struct SearchWalk<'s> {
    store: &'s Store,
    /// Kept so the generation the keys point into stays open.
    _searcher: Searcher,
    columns: Arc<SearcherColumns>,
    highlighter: Highlighter,
    /// Every hit after the starting point, best first.
    hits: Vec<(SortKey, DocAddress)>,
    /// Hits already returned.
    at: usize,
    per_page: usize,
    sort: SearchSort,
    snippets: bool,
    titles: bool,
    total: u64,
    facets: Facets,
    indexed_change: u64,
    binding: Binding,
}

impl<'s> SearchWalk<'s> {
    /// Matching cases in the whole result set (also those before the
    /// cursor the walk started after).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Counts per status and per category over the whole result set.
    pub fn facets(&self) -> &Facets {
        &self.facets
    }

    /// The change-log sequence the walk's searcher covers.
    pub fn indexed_change(&self) -> u64 {
        self.indexed_change
    }

    /// Hits not yet returned.
    pub fn remaining(&self) -> usize {
        self.hits.len().saturating_sub(self.at)
    }

    /// Whether hits carry [`SearchHit::title_highlights`] (default: no, a
    /// walk is for reading results out, and analysing each title is a good
    /// part of a hit's cost).
    pub fn with_title_highlights(mut self, on: bool) -> Self {
        self.titles = on;
        self
    }

    /// The next page of at most `per_page` hits (fewer only at the end or
    /// where cases were erased meanwhile); empty when the walk is done.
    /// Snippets are made when the options asked for them.
    pub fn next_page(&mut self) -> Result<Vec<SearchHit>> {
        let range = self.take();
        let page = self.hits.get(range).unwrap_or(&[]);
        if page.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.store.read_txn()?;
        let mut hits = render(&txn, &self.columns, page, self.sort, Missing::Skip)?;
        let mut analysis = CharsAnalysis::new(&self.highlighter.plans);
        if self.titles {
            self.highlighter.titles(&mut hits, &mut analysis);
        }
        if self.snippets {
            decorate(&txn, &self.highlighter, &mut analysis, &mut hits)?;
        }
        Ok(hits)
    }

    /// The case ids of the next page, from the index alone (no store read;
    /// a case erased since the walk started may be among them); empty when
    /// the walk is done.
    pub fn next_ids(&mut self) -> Result<Vec<CaseId>> {
        let range = self.take();
        let columns = &self.columns;
        self.hits
            .get(range)
            .unwrap_or(&[])
            .iter()
            .map(|&(_, addr)| {
                columns
                    .segments
                    .get(addr.segment_ord as usize)
                    .and_then(|c| c.id.first(addr.doc_id))
                    .map(CaseId)
                    .ok_or_else(|| {
                        StoreError::index_detail("reading a hit", format!("document {addr:?}: missing or invalid id"))
                    })
            })
            .collect()
    }

    /// Where the walk stands, as a cursor for [`Store::search_after`] or
    /// [`Store::search_walk`] (so a walk can be resumed in another
    /// request); `None` when every hit has been returned.
    pub fn cursor(&self) -> Option<Cursor> {
        if self.remaining() == 0 {
            return None;
        }
        let last = self.at.checked_sub(1)?;
        self.hits.get(last).map(|&(key, _)| Cursor::encode(&self.binding, key))
    }

    /// Moves past the next page; gives its place in `hits`.
    fn take(&mut self) -> std::ops::Range<usize> {
        let from = self.at.min(self.hits.len());
        let to = from.saturating_add(self.per_page).min(self.hits.len());
        self.at = to;
        from..to
    }
}

impl Store {
    /// Starts a walk through every hit of `text` within `scope`, in the
    /// order `opts` asks for, `opts.per_page` hits a page (`opts.page` is
    /// ignored), after `cursor` when given (a `next` of
    /// [`Store::search_after`] or a [`SearchWalk::cursor`] of the same
    /// query, order and scope). The query is matched once, here; the pages
    /// then cost their rendering only. Not bounded by
    /// [`SearchLimits::max_window`]; the walk holds about 40 bytes per hit
    /// (40 MB for a million) and one searcher generation until dropped.
    ///
    /// ```
    /// # use caselog_core::*;
    /// # use caselog_store::*;
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(dir.path(), Options::default())?;
    /// let opts = SearchOptions { per_page: 500, snippets: false, ..SearchOptions::default() };
    /// let mut walk = store.search_walk(&Scope::AllTenants, "refund", &opts, None)?;
    /// loop {
    ///     let page = walk.next_page()?;
    ///     if page.is_empty() {
    ///         break;
    ///     }
    ///     // ... use the page ...
    /// }
    /// # store.shutdown()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn search_walk(
        &self,
        scope: &Scope,
        text: &str,
        opts: &SearchOptions,
        cursor: Option<&Cursor>,
    ) -> Result<SearchWalk<'_>> {
        let parsed = parse(text, &self.opts.search_limits.query)?;
        self.damage.guard("searching", || {
            let bare = self.recognise_bare(&parsed)?;
            self.start_walk(
                scope,
                &parsed.root,
                bare.as_ref(),
                opts,
                binding(scope, text, opts),
                cursor,
            )
        })
    }

    /// [`Store::search_walk`] for a query built in code.
    pub fn search_query_walk(
        &self,
        scope: &Scope,
        query: &Query,
        opts: &SearchOptions,
        cursor: Option<&Cursor>,
    ) -> Result<SearchWalk<'_>> {
        check_tree(query, &self.opts.search_limits.query)?;
        let binding = binding(scope, &format!("{query:?}"), opts);
        self.damage.guard("searching", || {
            self.start_walk(scope, query, None, opts, binding, cursor)
        })
    }

    fn start_walk(
        &self,
        scope: &Scope,
        root: &Query,
        bare: Option<&caselog_core::BareReference>,
        opts: &SearchOptions,
        binding: Binding,
        cursor: Option<&Cursor>,
    ) -> Result<SearchWalk<'_>> {
        let max = self.opts.search_limits.max_per_page;
        if opts.per_page == 0 || opts.per_page > max {
            return Err(StoreError::PerPageOutOfRange {
                per_page: opts.per_page,
                max,
            });
        }
        let after = cursor.map(|c| c.decode(&binding)).transpose()?;
        let planned = self.plan_search(scope, root, bare);
        // Keep every hit: the collector's heap then takes each one in O(1)
        // on average, and the merge sorts them once.
        let ask = Ask {
            sort: opts.sort,
            descending: opts.descending,
            keep: usize::MAX,
            after,
        };
        let Collected {
            indexed_change,
            searcher,
            columns,
            fruit,
        } = self.collect_search(&planned, ask)?;
        let facets = fruit.facets();
        Ok(SearchWalk {
            store: self,
            _searcher: searcher,
            columns,
            highlighter: planned.highlighter,
            hits: fruit.hits,
            at: 0,
            per_page: opts.per_page as usize,
            sort: opts.sort,
            snippets: opts.snippets,
            titles: false,
            total: fruit.total,
            facets,
            indexed_change,
            binding,
        })
    }
}
