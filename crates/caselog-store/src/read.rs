//! Reads: cases, threads, the case-log views, the support queue and
//! statistics. Every read runs in its own redb read transaction and never
//! waits for the writer; every read takes a [`Scope`].

use crate::error::st;
use std::collections::BTreeMap;

use caselog_core::{AttachmentMeta, Category, ContentHash, Marketplace, QueueKey, Status, Timestamp, UserId};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata};

use crate::error::{Result, StoreError};
use crate::model::{Case, CaseRef, Scope, ThreadEntry};
use crate::paging::{Binding, Cursor};
use crate::records::{self, category_from_byte, marketplace_bytes, ViewSummary};
use crate::store::Store;
use crate::stored::{changes_after, full_thread, load_case, open, read_thread, resolve};
use crate::tables::{self, order_bits, ALL_SCOPE};

mod counted;
mod view_sort;

/// Largest page a view or thread read returns.
pub const MAX_PER_PAGE: u32 = 1_000;
/// Deepest position a view page may start at (page × per page).
pub const MAX_VIEW_WINDOW: u64 = 100_000;

/// A half-open time range `[start, end)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: Option<Timestamp>,
    /// Exclusive end.
    pub end: Option<Timestamp>,
}

impl TimeRange {
    /// Whether `t` lies in the range.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start.is_none_or(|s| t >= s) && self.end.is_none_or(|e| t < e)
    }

    fn key_bounds(&self) -> (u64, u64) {
        let lo = self.start.map_or(0, |s| order_bits(s.as_millis()));
        let hi = self
            .end
            .map_or(u64::MAX, |e| order_bits(e.as_millis()).saturating_sub(1));
        (lo, hi)
    }
}

/// Which case-log tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewKind {
    /// *All cases*.
    All,
    /// *My cases*. In a tenant's scope (the seller side): the cases this
    /// user of the tenant created or was handed
    /// ([`crate::Store::hand_over`]). In the all-tenants scope (the support
    /// side): the cases assigned to this agent.
    Mine(UserId),
    /// *Cases needing attention*, soonest reply deadline first.
    NeedsAttention,
}

/// Sort order of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewSort {
    /// By last update.
    #[default]
    Updated,
    /// By creation.
    Created,
    /// By status in lifecycle order, then last update (see `read/view_sort.rs`).
    Status,
    /// By category identifier, then last update.
    Category,
    /// By case number: shorter first, then by bytes.
    Number,
}

/// Filters of a view; empty lists mean "any".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewFilter {
    /// Any of these statuses.
    pub statuses: Vec<Status>,
    /// Any of these categories.
    pub categories: Vec<Category>,
    /// Any of these marketplaces.
    pub marketplaces: Vec<Marketplace>,
    /// Created within.
    pub created: TimeRange,
    /// Updated within.
    pub updated: TimeRange,
}

impl ViewFilter {
    fn matches(&self, s: &ViewSummary) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&s.status))
            && (self.categories.is_empty() || self.categories.contains(&s.category))
            && (self.marketplaces.is_empty() || self.marketplaces.iter().any(|m| marketplace_bytes(m) == s.marketplace))
            && self.created.contains(s.created_at)
            && self.updated.contains(s.updated_at)
    }
}

/// A view request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewQuery {
    /// The tab.
    pub kind: ViewKind,
    /// Filters.
    pub filter: ViewFilter,
    /// Sort field. *Needing attention* is by deadline under `Updated` and
    /// `Created`; status, category and number sort every tab.
    pub sort: ViewSort,
    /// Newest first (the default) or oldest first; for status, category
    /// and number, the reverse of their order (`true`) or that order.
    pub descending: bool,
    /// Page number, from 1.
    pub page: u32,
    /// Cases per page, 1 to [`MAX_PER_PAGE`].
    pub per_page: u32,
}

impl ViewQuery {
    /// The first page of 20 of a tab, newest update first, unfiltered.
    pub fn new(kind: ViewKind) -> Self {
        ViewQuery {
            kind,
            filter: ViewFilter::default(),
            sort: ViewSort::Updated,
            descending: true,
            page: 1,
            per_page: 20,
        }
    }
}

/// A page of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewPage {
    /// Matching cases in all pages.
    pub total: u64,
    /// The page number.
    pub page: u32,
    /// The page size.
    pub per_page: u32,
    /// The cases of this page.
    pub cases: Vec<Case>,
    /// The cursor of the next page ([`Store::view_after`]); `None` on the
    /// last page.
    pub next: Option<Cursor>,
}

/// A page of a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPage {
    /// Entries in the whole thread.
    pub total: u32,
    /// (sequence, entry) pairs of this page, oldest first.
    pub entries: Vec<(u32, ThreadEntry)>,
}

/// A queue read request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueQuery {
    /// Most entries to return.
    pub limit: usize,
    /// Only this category.
    pub category: Option<Category>,
    /// Only this marketplace.
    pub marketplace: Option<Marketplace>,
}

/// One entry of the support queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// Its position key (class, due time, submission, id).
    pub key: QueueKey,
    /// The case.
    pub case: Case,
}

/// Store statistics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    /// Cases.
    pub cases: u64,
    /// Thread entries with a message body.
    pub messages: u64,
    /// Distinct tenants with cases.
    pub tenants: u64,
    /// Cases per status.
    pub by_status: BTreeMap<Status, u64>,
    /// Cases per category.
    pub by_category: BTreeMap<Category, u64>,
    /// Size of the store file in bytes.
    pub store_bytes: u64,
}

fn check_page(page: u32, per_page: u32) -> Result<()> {
    // The same typed errors as a search's, so a caller handles paging once.
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(StoreError::PerPageOutOfRange {
            per_page,
            max: MAX_PER_PAGE,
        });
    }
    if page == 0 || u64::from(page - 1) * u64::from(per_page) >= MAX_VIEW_WINDOW {
        let last_page = u32::try_from(MAX_VIEW_WINDOW.div_ceil(u64::from(per_page))).unwrap_or(u32::MAX);
        return Err(StoreError::PageOutOfRange {
            page,
            per_page,
            last_page,
        });
    }
    Ok(())
}

/// A result's place in a view's order: (time or deadline, case id).
type ViewKey = (u64, u64);

/// Keeps the total and the items of one page while a scan visits a view's
/// results in its order: either a numbered page (skip, take) or the page
/// after a cursor's key.
struct PageWindow<T> {
    skip: u64,
    take: usize,
    /// The key of the last result of the previous page, when walking with
    /// a cursor, and whether the scan runs down (keys decreasing).
    after: Option<ViewKey>,
    descending: bool,
    total: u64,
    items: Vec<(ViewKey, T)>,
    /// Whether a result follows the page.
    more: bool,
}

impl<T> PageWindow<T> {
    fn new(q: &ViewQuery, after: Option<ViewKey>, descending: bool) -> Self {
        PageWindow {
            skip: u64::from(q.page.saturating_sub(1)) * u64::from(q.per_page),
            take: q.per_page as usize,
            after,
            descending,
            total: 0,
            items: Vec::new(),
            more: false,
        }
    }

    fn push(&mut self, key: ViewKey, item: T) {
        let position = self.total;
        self.total += 1;
        let on_or_past = match self.after {
            Some(after) if self.descending => key < after,
            Some(after) => key > after,
            None => position >= self.skip,
        };
        if !on_or_past {
            return;
        }
        if self.items.len() < self.take {
            self.items.push((key, item));
        } else {
            self.more = true;
        }
    }
}

impl Store {
    pub(crate) fn read_txn(&self) -> Result<ReadTransaction> {
        self.db
            .begin_read()
            .map_err(|e| StoreError::storage("starting a read", e))
    }

    /// Looks a case up by id or number. Another tenant's case is `None`,
    /// exactly like a missing one.
    pub fn case(&self, scope: &Scope, case: &CaseRef) -> Result<Option<Case>> {
        self.damage.guard("reading a case", || {
            let txn = self.read_txn()?;
            let cases = open(&txn, tables::CASES)?;
            let numbers = open(&txn, tables::NUMBERS)?;
            match resolve(&cases, &numbers, scope, case) {
                Ok(c) => Ok(Some(c)),
                Err(StoreError::CaseNotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// A case and its whole thread, read in one transaction: the thread
    /// always has the case's `entries` entries, whatever is written
    /// meanwhile. Another tenant's case is `None`, like a missing one.
    pub fn case_with_thread(&self, scope: &Scope, case: &CaseRef) -> Result<Option<(Case, Vec<ThreadEntry>)>> {
        self.damage.guard("reading a case with its thread", || {
            let txn = self.read_txn()?;
            let cases = open(&txn, tables::CASES)?;
            let numbers = open(&txn, tables::NUMBERS)?;
            let c = match resolve(&cases, &numbers, scope, case) {
                Ok(c) => c,
                Err(StoreError::CaseNotFound(_)) => return Ok(None),
                Err(e) => return Err(e),
            };
            let thread = open(&txn, tables::THREAD)?;
            let entries = full_thread(&thread, c.id.0)?;
            Ok(Some((c, entries)))
        })
    }

    /// A page of a case's thread: `limit` entries from sequence `from`.
    pub fn thread(&self, scope: &Scope, case: &CaseRef, from: u32, limit: u32) -> Result<ThreadPage> {
        self.damage.guard("reading a thread", || {
            let limit = limit.min(MAX_PER_PAGE.saturating_mul(100));
            let txn = self.read_txn()?;
            let cases = open(&txn, tables::CASES)?;
            let numbers = open(&txn, tables::NUMBERS)?;
            let c = resolve(&cases, &numbers, scope, case)?;
            let thread = open(&txn, tables::THREAD)?;
            Ok(ThreadPage {
                total: c.entries,
                entries: read_thread(&thread, c.id.0, from, limit)?,
            })
        })
    }

    /// A case's whole thread.
    pub fn full_thread(&self, scope: &Scope, case: &CaseRef) -> Result<Vec<ThreadEntry>> {
        Ok(self
            .thread(scope, case, 0, u32::MAX)?
            .entries
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    /// The bytes of an attachment of a case, if they were stored.
    pub fn attachment(&self, scope: &Scope, case: &CaseRef, sha256: &ContentHash) -> Result<Option<Vec<u8>>> {
        self.damage.guard("reading an attachment", || {
            let listed = self
                .full_thread(scope, case)?
                .iter()
                .flat_map(|e| e.attachments.iter())
                .any(|a: &AttachmentMeta| &a.sha256 == sha256);
            if !listed {
                return Ok(None);
            }
            let txn = self.read_txn()?;
            let blobs = open(&txn, tables::BLOBS)?;
            Ok(blobs
                .get(&sha256.0)
                .map_err(st("reading a blob"))?
                .map(|v| v.value().to_vec()))
        })
    }

    /// A page of a case-log tab, with the total count. A page past the
    /// view window ([`MAX_VIEW_WINDOW`]) or of size 0 or above
    /// [`MAX_PER_PAGE`] is [`StoreError::PageOutOfRange`] or
    /// [`StoreError::PerPageOutOfRange`], as for a search. To walk a whole
    /// view, follow [`ViewPage::next`] with [`Store::view_after`].
    pub fn view(&self, scope: &Scope, q: &ViewQuery) -> Result<ViewPage> {
        check_page(q.page, q.per_page)?;
        self.damage.guard("reading a view", || self.view_page(scope, q, None))
    }

    /// The page of a view that follows `cursor` (the first page when it is
    /// `None`); `q.page` is not used. The walk is not bounded by the view
    /// window, and every case that stays put is returned exactly once. A
    /// cursor made for another scope, view, filter or order is
    /// [`StoreError::BadCursor`].
    ///
    /// ```
    /// # use caselog_core::*;
    /// # use caselog_store::*;
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(dir.path(), Options::default())?;
    /// # let tenant = TenantId::parse("seller-0042")?;
    /// # for i in 0..5 {
    /// #     store.create_case(NewCase::new(tenant.clone(), UserId::parse("ops@example.com")?,
    /// #         Marketplace::parse("US")?, LanguageTag::parse("en")?, Category::Orders,
    /// #         format!("Order {i} missing"), "It did not arrive."))?;
    /// # }
    /// let scope = Scope::Tenant(tenant);
    /// let mut q = ViewQuery::new(ViewKind::All);
    /// q.per_page = 2;
    /// let (mut seen, mut cursor) = (Vec::new(), None);
    /// loop {
    ///     let page = store.view_after(&scope, &q, cursor.as_ref())?;
    ///     seen.extend(page.cases.iter().map(|c| c.number.clone()));
    ///     match page.next {
    ///         Some(next) => cursor = Some(next),
    ///         None => break,
    ///     }
    /// }
    /// assert_eq!(seen.len(), 5);
    /// # store.shutdown()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn view_after(&self, scope: &Scope, q: &ViewQuery, cursor: Option<&Cursor>) -> Result<ViewPage> {
        check_page(1, q.per_page)?;
        let after = match cursor {
            Some(c) => {
                let (_, t, id) = c.decode(&view_binding(scope, q))?;
                Some((t, id))
            }
            None => None,
        };
        // A walk's first page is the view's first page, whatever `q.page` says.
        let q = &ViewQuery { page: 1, ..q.clone() };
        self.damage.guard("reading a view", || self.view_page(scope, q, after))
    }

    fn view_page(&self, scope: &Scope, q: &ViewQuery, after: Option<ViewKey>) -> Result<ViewPage> {
        {
            let txn = self.read_txn()?;
            let cases = open(&txn, tables::CASES)?;
            let scope_key = scope.key();
            if view_sort::is_field_sort(q.sort) {
                return view_sort::view_by_field(&txn, &cases, scope, q, after.map(|(_, id)| id));
            }
            if let Some(page) = counted::view(&txn, &cases, scope, q, after)? {
                return Ok(page);
            }
            let mut window = PageWindow::new(q, after, q.descending);
            match &q.kind {
                ViewKind::All => {
                    let one_status = (q.filter.statuses.len() == 1 && q.sort == ViewSort::Updated)
                        .then(|| q.filter.statuses.first().copied())
                        .flatten();
                    if let Some(status) = one_status {
                        let (lo, hi) = q.filter.updated.key_bounds();
                        let t = open(&txn, tables::BY_STATUS)?;
                        let s = status.index() as u8;
                        let range = t
                            .range((scope_key, s, lo, 0)..=(scope_key, s, hi, u64::MAX))
                            .map_err(st("scanning a view"))?;
                        let needs_summary = !q.filter.categories.is_empty()
                            || !q.filter.marketplaces.is_empty()
                            || q.filter.created != TimeRange::default();
                        let by_updated = open(&txn, tables::BY_UPDATED)?;
                        let mut visit = |k: (&str, u8, u64, u64)| -> Result<()> {
                            let (_, _, updated, id) = k;
                            let key = (updated, id);
                            if needs_summary {
                                let Some(v) = by_updated
                                    .get((scope_key, updated, id))
                                    .map_err(st("scanning a view"))?
                                else {
                                    return Ok(());
                                };
                                if !q.filter.matches(&ViewSummary::decode(v.value(), "by_updated")?) {
                                    return Ok(());
                                }
                            }
                            window.push(key, id);
                            Ok(())
                        };
                        if q.descending {
                            for item in range.rev() {
                                visit(item.map_err(st("scanning a view"))?.0.value())?;
                            }
                        } else {
                            for item in range {
                                visit(item.map_err(st("scanning a view"))?.0.value())?;
                            }
                        }
                    } else {
                        let (def, bounds) = match q.sort {
                            ViewSort::Updated => (tables::BY_UPDATED, q.filter.updated.key_bounds()),
                            ViewSort::Created => (tables::BY_CREATED, q.filter.created.key_bounds()),
                            // Made by `view_sort` above.
                            ViewSort::Status | ViewSort::Category | ViewSort::Number => {
                                (tables::BY_UPDATED, q.filter.updated.key_bounds())
                            }
                        };
                        let table = open(&txn, def)?;
                        let range = table
                            .range((scope_key, bounds.0, 0)..=(scope_key, bounds.1, u64::MAX))
                            .map_err(st("scanning a view"))?;
                        let by_created = q.sort == ViewSort::Created;
                        let mut visit = |item: ViewItem<'_>| -> Result<()> {
                            let (k, v) = item.map_err(st("scanning a view"))?;
                            let (_, t, id) = k.value();
                            let summary = if by_created {
                                created_summary(&cases, v.value(), t, id, &q.filter)?
                            } else {
                                Some(ViewSummary::decode(v.value(), "view")?)
                            };
                            if summary.is_some_and(|s| q.filter.matches(&s)) {
                                window.push((t, id), id);
                            }
                            Ok(())
                        };
                        if q.descending {
                            for item in range.rev() {
                                visit(item)?;
                            }
                        } else {
                            for item in range {
                                visit(item)?;
                            }
                        }
                    }
                }
                ViewKind::Mine(user) => {
                    let t = open(&txn, tables::BY_USER)?;
                    let mut found = Vec::new();
                    let range = t
                        .range((scope_key, user.as_str(), 0, 0)..=(scope_key, user.as_str(), u64::MAX, u64::MAX))
                        .map_err(st("scanning a view"))?;
                    for item in range {
                        let id = item.map_err(st("scanning a view"))?.0.value().3;
                        if let Some(c) = load_case(&cases, id)? {
                            if q.filter.matches(&ViewSummary::of(&c)) {
                                found.push(c);
                            }
                        }
                    }
                    let key = |c: &Case| {
                        let t = match q.sort {
                            ViewSort::Created => c.state.created_at,
                            _ => c.state.updated_at,
                        };
                        (order_bits(t.as_millis()), c.id.0)
                    };
                    found.sort_by_key(key);
                    if q.descending {
                        found.reverse();
                    }
                    let mut window = PageWindow::new(q, after, q.descending);
                    for c in found {
                        window.push(key(&c), c);
                    }
                    return Ok(view_page(scope, q, window));
                }
                ViewKind::NeedsAttention => {
                    let t = open(&txn, tables::ATTENTION)?;
                    let range = t
                        .range((scope_key, 0, 0)..=(scope_key, u64::MAX, u64::MAX))
                        .map_err(st("scanning a view"))?;
                    // By deadline, soonest first, whatever the order asked.
                    let mut window = PageWindow::new(q, after, false);
                    for item in range {
                        let (_, deadline, id) = item.map_err(st("scanning a view"))?.0.value();
                        if let Some(c) = load_case(&cases, id)? {
                            if q.filter.matches(&ViewSummary::of(&c)) {
                                window.push((deadline, id), c);
                            }
                        }
                    }
                    return Ok(view_page(scope, q, window));
                }
            }
            let mut items = Vec::with_capacity(window.items.len());
            for (key, id) in std::mem::take(&mut window.items) {
                if let Some(c) = load_case(&cases, id)? {
                    items.push((key, c));
                }
            }
            let loaded = PageWindow {
                skip: window.skip,
                take: window.take,
                after: window.after,
                descending: window.descending,
                total: window.total,
                items,
                more: window.more,
            };
            Ok(view_page(scope, q, loaded))
        }
    }

    /// The support queue, in the core comparator's order. With a tenant
    /// scope, only that tenant's cases.
    pub fn queue(&self, scope: &Scope, q: &QueueQuery) -> Result<Vec<QueueEntry>> {
        self.damage.guard("reading the queue", || {
            let txn = self.read_txn()?;
            let queue = open(&txn, tables::QUEUE)?;
            let cases = open(&txn, tables::CASES)?;
            let want_market = q.marketplace.as_ref().map(marketplace_bytes);
            let mut out = Vec::new();
            for item in queue.iter().map_err(st("reading the queue"))? {
                if out.len() >= q.limit {
                    break;
                }
                let (k, v) = item.map_err(st("reading the queue"))?;
                let value = v.value();
                let category = value.first().copied().and_then(category_from_byte);
                if q.category.is_some_and(|c| Some(c) != category) {
                    continue;
                }
                if want_market.is_some_and(|m| value.get(1..3) != Some(&m[..])) {
                    continue;
                }
                let key = QueueKey::decode(k.value()).map_err(|e| StoreError::Corrupt {
                    table: "queue",
                    key: "(queue key)".into(),
                    detail: e.to_string(),
                })?;
                if let Some(case) = load_case(&cases, key.case.0)? {
                    if scope.allows(&case.tenant) {
                        out.push(QueueEntry { key, case });
                    }
                }
            }
            Ok(out)
        })
    }

    /// Counts of cases, messages, tenants, per status and per category.
    pub fn stats(&self) -> Result<Stats> {
        self.damage.guard("counting", || {
            let txn = self.read_txn()?;
            let cases = open(&txn, tables::CASES)?;
            let mut stats = Stats {
                cases: cases.len().map_err(st("counting cases"))?,
                store_bytes: std::fs::metadata(self.dir.join(crate::store::STORE_FILE))
                    .map(|m| m.len())
                    .unwrap_or(0),
                ..Stats::default()
            };
            let thread = open(&txn, tables::THREAD)?;
            for item in thread.iter().map_err(st("counting messages"))? {
                let (k, v) = item.map_err(st("counting messages"))?;
                let (case, seq) = k.value();
                if records::entry_has_body(v.value(), case, seq)? {
                    stats.messages += 1;
                }
            }
            let by_created = open(&txn, tables::BY_CREATED)?;
            for item in by_created
                .range((ALL_SCOPE, 0, 0)..=(ALL_SCOPE, u64::MAX, u64::MAX))
                .map_err(st("counting cases"))?
            {
                let (k, v) = item.map_err(st("counting cases"))?;
                let (s, _) = crate::views::decode_created(v.value(), k.value().1)?;
                *stats.by_status.entry(s.status).or_default() += 1;
                *stats.by_category.entry(s.category).or_default() += 1;
            }
            // Distinct tenants: skip from one tenant's entries to the next.
            let mut next: Option<String> = Some(String::new());
            while let Some(from) = next.take() {
                let mut range = by_created
                    .range((from.as_str(), 0, 0)..)
                    .map_err(st("counting tenants"))?;
                if let Some(item) = range.next() {
                    let (k, _) = item.map_err(st("counting tenants"))?;
                    let tenant = k.value().0.to_owned();
                    if tenant != ALL_SCOPE {
                        stats.tenants += 1;
                    }
                    let mut succ = tenant;
                    succ.push('\u{1}');
                    next = Some(succ);
                }
            }
            Ok(stats)
        })
    }

    /// Change-log entries after `after`, at most `limit`: (sequence, case id).
    pub fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, u64)>> {
        self.damage.guard("reading the change log", || {
            let txn = self.read_txn()?;
            let changes = open(&txn, tables::CHANGES)?;
            changes_after(&changes, after, limit)
        })
    }

    /// Every case id in the store, in id order (for rebuilds and checks).
    pub fn case_ids(&self) -> Result<Vec<u64>> {
        self.damage.guard("listing cases", || {
            let txn = self.read_txn()?;
            let cases = open(&txn, tables::CASES)?;
            let mut ids = Vec::new();
            for item in cases.iter().map_err(st("listing cases"))? {
                ids.push(item.map_err(st("listing cases"))?.0.value());
            }
            Ok(ids)
        })
    }
}

/// One entry of a scan over `by_updated` or `by_created`.
type ViewItem<'a> = std::result::Result<
    (
        redb::AccessGuard<'a, (&'static str, u64, u64)>,
        redb::AccessGuard<'a, &'static [u8]>,
    ),
    redb::StorageError,
>;

/// The summary a `by_created` entry filters on: from its value, or, when
/// the filter needs the update time and the value (schema 2) does not hold
/// it, from the case (`None` if it is gone).
fn created_summary(
    cases: &redb::ReadOnlyTable<u64, &'static [u8]>,
    value: &[u8],
    created: u64,
    id: u64,
    filter: &ViewFilter,
) -> Result<Option<ViewSummary>> {
    let (summary, has_updated) = crate::views::decode_created(value, created)?;
    if has_updated || filter.updated == TimeRange::default() {
        return Ok(Some(summary));
    }
    Ok(load_case(cases, id)?.map(|c| ViewSummary::of(&c)))
}

/// The page a window holds, with the cursor of the page after it.
fn view_page(scope: &Scope, q: &ViewQuery, window: PageWindow<Case>) -> ViewPage {
    let next = match window.items.last() {
        Some(&((t, id), _)) if window.more => Some(Cursor::encode(&view_binding(scope, q), (0, t, id))),
        _ => None,
    };
    ViewPage {
        total: window.total,
        page: q.page,
        per_page: q.per_page,
        cases: window.items.into_iter().map(|(_, c)| c).collect(),
        next,
    }
}

/// What a view's cursors are bound to: the scope, the tab, its filters and
/// its order (not the page or its size).
fn view_binding(scope: &Scope, q: &ViewQuery) -> Binding {
    let shape = format!("{:?} {:?} {:?} {}", q.kind, q.filter, q.sort, q.descending);
    Binding::new(scope, &[b"view", shape.as_bytes()])
}
