//! Read markers: per user and case, how many thread entries the user has
//! seen, and what is unread.
//!
//! The rule, in one place ([`is_unread`]): a case is unread for a user when
//! its thread has entries beyond the user's marker *and* its last entry was
//! not written by that user (replying is reading). A merged case is never
//! unread: its thread continues in the surviving case, whose merge note makes
//! that case unread for everyone who has not read past it. A follow-up is a
//! case of its own with its own markers; its first entry is the seller's, so
//! it starts read for its author and unread for everyone else. An erased
//! case's markers are erased with it.

use caselog_core::{Status, UserId};
use redb::ReadableTableMetadata;

use crate::error::st;
use crate::error::{Result, StoreError};
use crate::model::{Case, CaseRef, Scope};
use crate::read::{ViewPage, ViewQuery, MAX_PER_PAGE, MAX_VIEW_WINDOW};
use crate::store::Store;
use crate::stored::{read_entry, resolve};
use crate::tables;
use crate::writer::ext;

/// Unread cases of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadCount {
    /// Cases of the view that are unread.
    pub unread: u64,
    /// Cases of the view looked at.
    pub total: u64,
    /// Whether the view was larger than [`MAX_VIEW_WINDOW`] and only its
    /// first cases were counted.
    pub capped: bool,
}

/// The unread rule (see the module documentation): `seen` is the user's
/// marker, `last_author` the author of the case's last entry.
fn is_unread(case: &Case, seen: u32, last_author: Option<&UserId>, user: &UserId) -> bool {
    case.state.status != Status::Merged && case.entries > seen && last_author != Some(user)
}

/// Reads markers and last entries in one read transaction.
struct Marks<'a> {
    markers: Option<redb::ReadOnlyTable<(&'static str, u64), u32>>,
    thread: redb::ReadOnlyTable<(u64, u32), &'static [u8]>,
    user: &'a UserId,
}

impl<'a> Marks<'a> {
    fn open(txn: &redb::ReadTransaction, user: &'a UserId) -> Result<Self> {
        let markers = match txn.open_table(tables::READ_MARKERS) {
            Ok(t) => Some(t),
            // A store made before markers existed, opened read-only.
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(StoreError::storage("reading read markers", e)),
        };
        let thread = txn
            .open_table(tables::THREAD)
            .map_err(|e| StoreError::storage("reading read markers", e))?;
        Ok(Marks { markers, thread, user })
    }

    fn seen(&self, case: &Case) -> Result<u32> {
        let Some(m) = &self.markers else { return Ok(0) };
        Ok(m.get((self.user.as_str(), case.id.0))
            .map_err(st("reading read markers"))?
            .map_or(0, |v| v.value()))
    }

    /// Thread entries unread (0 when the case reads as read).
    fn unread_entries(&self, case: &Case) -> Result<u32> {
        let seen = self.seen(case)?;
        if case.entries <= seen || case.state.status == Status::Merged {
            return Ok(0);
        }
        let last = case.entries - 1;
        let author = read_entry(&self.thread, case.id.0, last)?.and_then(|e| e.actor.user().cloned());
        Ok(if is_unread(case, seen, author.as_ref(), self.user) {
            case.entries - seen
        } else {
            0
        })
    }
}

impl Store {
    /// Marks case `case` read by `user` up to thread entry count `upto`
    /// (default: the whole thread; a smaller count marks later entries
    /// unread again). Returns the marker stored (capped at the thread's
    /// length). The case must be visible in `scope`.
    pub fn mark_read(&self, scope: &Scope, user: &UserId, case: &CaseRef, upto: Option<u32>) -> Result<u32> {
        let scope = scope.clone();
        let user = user.clone();
        let case = case.clone();
        self.submit(ext(move |t, _ctx, _now| {
            let c = resolve(&t.cases, &t.numbers, &scope, &case)?;
            let seen = upto.unwrap_or(c.entries).min(c.entries);
            t.read_markers
                .insert((user.as_str(), c.id.0), seen)
                .map_err(st("writing a read marker"))?;
            Ok(seen)
        }))
    }

    /// How many thread entries of `case` are unread by `user` (0 if read by
    /// the rule above); `None` if the case is not visible in `scope`.
    pub fn unread_entries(&self, scope: &Scope, user: &UserId, case: &CaseRef) -> Result<Option<u32>> {
        let Some(c) = self.case(scope, case)? else {
            return Ok(None);
        };
        self.damage.guard("reading read markers", || {
            let txn = self.read_txn()?;
            Marks::open(&txn, user)?.unread_entries(&c).map(Some)
        })
    }

    /// The view `q` restricted to the cases unread by `user` (the `unread`
    /// filter), paged by `q.page` / `q.per_page`. Looks at the view's first
    /// [`MAX_VIEW_WINDOW`] cases.
    pub fn unread_view(&self, scope: &Scope, user: &UserId, q: &ViewQuery) -> Result<ViewPage> {
        let (unread, _) = self.unread_cases(scope, user, q)?;
        let total = unread.len() as u64;
        let skip = (q.page.saturating_sub(1) as usize).saturating_mul(q.per_page as usize);
        Ok(ViewPage {
            total,
            page: q.page,
            per_page: q.per_page,
            cases: unread.into_iter().skip(skip).take(q.per_page as usize).collect(),
            next: None,
        })
    }

    /// The unread badge of a view: how many of its cases `user` has not
    /// read (the page fields of `q` are ignored).
    pub fn unread_count(&self, scope: &Scope, user: &UserId, q: &ViewQuery) -> Result<UnreadCount> {
        let (unread, count) = self.unread_cases(scope, user, q)?;
        Ok(UnreadCount {
            unread: unread.len() as u64,
            ..count
        })
    }

    fn unread_cases(&self, scope: &Scope, user: &UserId, q: &ViewQuery) -> Result<(Vec<Case>, UnreadCount)> {
        let mut walk = q.clone();
        walk.per_page = MAX_PER_PAGE;
        walk.page = 1;
        let mut out = Vec::new();
        let mut count = UnreadCount {
            unread: 0,
            total: 0,
            capped: false,
        };
        loop {
            let page = self.view(scope, &walk)?;
            let done = page.cases.len() < MAX_PER_PAGE as usize;
            count.total += page.cases.len() as u64;
            let unread = self.damage.guard("reading read markers", || {
                let txn = self.read_txn()?;
                let marks = Marks::open(&txn, user)?;
                let mut unread = Vec::new();
                for c in page.cases {
                    if marks.unread_entries(&c)? > 0 {
                        unread.push(c);
                    }
                }
                Ok(unread)
            })?;
            out.extend(unread);
            if done {
                break;
            }
            if u64::from(walk.page + 1) * u64::from(MAX_PER_PAGE) > MAX_VIEW_WINDOW {
                count.capped = true;
                break;
            }
            walk.page += 1;
        }
        Ok((out, count))
    }

    /// How many read markers the store holds (for statistics and tests).
    pub fn read_marker_count(&self) -> Result<u64> {
        self.damage.guard("reading read markers", || {
            let txn = self.read_txn()?;
            match txn.open_table(tables::READ_MARKERS) {
                Ok(t) => t.len().map_err(st("reading read markers")),
                Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
                Err(e) => Err(StoreError::storage("reading read markers", e)),
            }
        })
    }
}
