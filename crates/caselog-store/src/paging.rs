//! One paging model for searches and views: an opaque [`Cursor`] holding the
//! sort key of the last result returned, bound by digests to the scope and
//! to the query (text or view filters) and order it was made for.
//!
//! A walk with cursors is not bounded by the result window of numbered
//! pages, and a page never repeats or skips a result that stays put.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};
use crate::model::Scope;

/// A result's place in its order, largest first: (score bits, time, id)
/// for a search, (0, time, id) for a view. Case ids are unique, so "after a
/// key" is exact.
pub(crate) type SortKey = (u32, u64, u64);

/// What a cursor is bound to: digests of the scope and of the query with
/// its order.
pub(crate) struct Binding {
    scope: u32,
    query: u32,
}

impl Binding {
    /// Binds to `scope` and to the query described by `parts`.
    pub(crate) fn new(scope: &Scope, parts: &[&[u8]]) -> Binding {
        let scope = match scope {
            Scope::Tenant(t) => digest(&[b"tenant", t.as_str().as_bytes()]),
            Scope::AllTenants => digest(&[b"all"]),
        };
        Binding {
            scope,
            query: digest(parts),
        }
    }
}

fn digest(parts: &[&[u8]]) -> u32 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

/// Version byte of the cursor encoding.
const CURSOR_VERSION: u8 = 1;
/// Bytes of an encoded cursor: version, two bindings, the key, a check.
const CURSOR_BYTES: usize = 1 + 4 + 4 + 4 + 8 + 8 + 4;

/// Where a walk through a search's or a view's results stands: the sort key
/// of the last result returned. Opaque text, safe in a URL; it only means
/// something to the same query, filters and order in the same scope
/// ([`crate::Store::search_after`], [`crate::Store::view_after`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// A cursor received as text (from an API caller). It is checked when
    /// used: a malformed or foreign one is [`StoreError::BadCursor`].
    pub fn from_text(text: impl Into<String>) -> Cursor {
        Cursor(text.into())
    }

    /// The cursor as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn encode(binding: &Binding, key: SortKey) -> Cursor {
        let mut bytes = Vec::with_capacity(CURSOR_BYTES);
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&binding.scope.to_le_bytes());
        bytes.extend_from_slice(&binding.query.to_le_bytes());
        bytes.extend_from_slice(&key.0.to_le_bytes());
        bytes.extend_from_slice(&key.1.to_le_bytes());
        bytes.extend_from_slice(&key.2.to_le_bytes());
        let check = cursor_check(&bytes);
        bytes.extend_from_slice(&check);
        Cursor(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub(crate) fn decode(&self, binding: &Binding) -> Result<SortKey> {
        let malformed = StoreError::BadCursor(CursorError::Malformed);
        let text = self.0.as_bytes();
        if text.len() != CURSOR_BYTES * 2 {
            return Err(malformed);
        }
        let mut bytes = [0u8; CURSOR_BYTES];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let hex = std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok());
            *byte = hex.ok_or(StoreError::BadCursor(CursorError::Malformed))?;
        }
        let (body, check) = bytes.split_at(CURSOR_BYTES - 4);
        if body.first() != Some(&CURSOR_VERSION) || cursor_check(body) != check {
            return Err(malformed);
        }
        let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        if u32_at(1) != binding.scope {
            return Err(StoreError::BadCursor(CursorError::OtherScope));
        }
        if u32_at(5) != binding.query {
            return Err(StoreError::BadCursor(CursorError::OtherQuery));
        }
        Ok((u32_at(9), u64_at(13), u64_at(21)))
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A digest of a cursor's content, so that a mangled cursor is told apart
/// from a real one.
fn cursor_check(body: &[u8]) -> [u8; 4] {
    let d = Sha256::digest(body);
    [d[0], d[1], d[2], d[3]]
}

/// Why a search cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// The text is not a cursor this store makes (or it was altered).
    #[error("not a cursor")]
    Malformed,
    /// The cursor was made in another scope (another tenant).
    #[error("the cursor belongs to another scope")]
    OtherScope,
    /// The cursor was made for another query or order.
    #[error("the cursor belongs to another query or order")]
    OtherQuery,
    /// The case a status-, category- or number-sorted view's cursor names
    /// has left the view: start the walk again.
    #[error("the case this cursor continues after has left the view; start again")]
    Stale,
}
