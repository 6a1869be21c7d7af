//! Per-scope view counts by time bucket ([`tables::VIEW_BUCKETS`]): how a
//! numbered view page finds its place without skipping every key before
//! it.
//!
//! A view's keys are ordered by a time (update, creation or deadline) in
//! each scope. Cut that time into fixed buckets and count the keys of
//! each (scope, series, bucket), split by status where a view filters on
//! status; a numbered page then walks the counts in the page's order (from
//! whichever end of the view is nearer), seeks to the first key of the
//! bucket that holds the page's first position and skips at most one
//! bucket's keys (`read/counted.rs`).
//!
//! The counts change in the same transaction as the keys they count,
//! gathered per batch like the totals (`views.rs`): a write that moves a
//! case's key within its bucket writes no count, one that moves it to
//! another bucket rewrites two (and the bucket it moves into is shared by
//! the batch's other moves into it, usually "now").
//!
//! Bucket widths come from the spread of an archive: years of cases, about
//! a thousand a day across all tenants at a million cases. Across all
//! tenants a bucket is 2^26 ms (about 18.6 hours: about a thousand keys at
//! that scale, some 500 buckets a year); in a tenant's scope 2^30 ms (about
//! 12.4 days: a tenant holds a few percent of the cases at most, so its
//! buckets hold hundreds of keys and its counts stay few — a small tenant
//! with a case a week would otherwise need nearly an entry per case).

use std::collections::BTreeMap;

use caselog_core::Status;
use redb::ReadableTable;

use crate::error::{st, Result, StoreError};
use crate::tables::ALL_SCOPE;
use crate::write::Table;

/// Bucket width across all tenants, as a shift of the key's time bits.
pub(crate) const ALL_SCOPE_SHIFT: u32 = 26;
/// Bucket width in a tenant's scope.
pub(crate) const TENANT_SHIFT: u32 = 30;

/// Count slots of one value: one per status in the status-split series
/// (the slot is the status's index), slot 0 in the others.
pub(crate) const SLOTS: usize = 8;
const _: () = assert!(Status::ALL.len() <= SLOTS);

/// The bucket width of a scope.
pub(crate) fn shift(scope: &str) -> u32 {
    if scope == ALL_SCOPE {
        ALL_SCOPE_SHIFT
    } else {
        TENANT_SHIFT
    }
}

/// The bucket of a key's time bits (`tables::order_bits`) in `scope`.
pub(crate) fn bucket(scope: &str, bits: u64) -> u64 {
    bits >> shift(scope)
}

/// The first time bits of a bucket (`None` when it has no representable
/// start, which no stored time reaches).
pub(crate) fn bucket_start(scope: &str, bucket: u64) -> Option<u64> {
    bucket.checked_shl(shift(scope)).filter(|s| s >> shift(scope) == bucket)
}

/// The series of [`tables::VIEW_BUCKETS`] (its second key part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Series<'c> {
    /// `by_updated` and `by_status`: update time, split by status.
    Updated,
    /// `by_created`: creation time, split by status.
    Created,
    /// `attention`: reply deadline.
    Attention,
    /// `by_user` of one user: creation time.
    User(&'c str),
}

impl Series<'_> {
    /// The series' name in the table's key.
    pub(crate) fn name(&self) -> String {
        match self {
            Series::Updated => "updated".to_owned(),
            Series::Created => "created".to_owned(),
            Series::Attention => "attention".to_owned(),
            Series::User(u) => format!("user:{u}"),
        }
    }
}

/// The count slot of a status.
pub(crate) fn status_slot(s: Status) -> u8 {
    s.index() as u8
}

/// One count entry of a case: (scope, series, bucket, slot).
pub(crate) type Item<'c> = (&'c str, Series<'c>, u64, u8);

/// Count changes of a batch: (scope, series name, bucket) → change per slot.
pub(crate) type Deltas = BTreeMap<(String, String, u64), [i64; SLOTS]>;

/// Adds one item's change to a batch's deltas.
pub(crate) fn add_delta(deltas: &mut Deltas, (scope, series, bucket, slot): &Item<'_>, by: i64) {
    let slots = deltas
        .entry(((*scope).to_owned(), series.name(), *bucket))
        .or_insert([0; SLOTS]);
    if let Some(n) = slots.get_mut(usize::from(*slot)) {
        *n += by;
    }
}

/// Encodes counts as postcard's `(slot, count)` list of the slots that are
/// not 0, in slot order (a bucket of one status, the common case, is 3–5
/// bytes: postcard writes lengths and integers as varints).
pub(crate) fn encode(counts: &[u64; SLOTS]) -> Result<Vec<u8>> {
    let nonzero: Vec<(u8, u64)> = (0u8..).zip(counts.iter().copied()).filter(|&(_, n)| n != 0).collect();
    postcard::to_stdvec(&nonzero).map_err(|e| StoreError::Corrupt {
        table: "view_buckets",
        key: "(new count entry)".into(),
        detail: format!("cannot encode: {e}"),
    })
}

/// Decodes [`encode`]'s bytes.
pub(crate) fn decode(bytes: &[u8]) -> Result<[u64; SLOTS]> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "view_buckets",
        key: "(count entry)".into(),
        detail,
    };
    let nonzero: Vec<(u8, u64)> = postcard::from_bytes(bytes).map_err(|e| corrupt(e.to_string()))?;
    let mut counts = [0u64; SLOTS];
    for (slot, n) in nonzero {
        *counts
            .get_mut(usize::from(slot))
            .ok_or_else(|| corrupt(format!("bad slot {slot}")))? = n;
    }
    Ok(counts)
}

/// Writes a batch's count changes (each entry once, in key order; one
/// whose changes cancel out is not written). Returns the entries written.
pub(crate) fn flush<S: AsRef<str>, N: AsRef<str>>(
    table: &mut Table<'_, (&'static str, &'static str, u64), &'static [u8]>,
    deltas: impl IntoIterator<Item = ((S, N, u64), [i64; SLOTS])>,
) -> Result<u64> {
    let w = st("writing view bucket counts");
    let mut written = 0;
    for ((scope, series, bucket), delta) in deltas {
        let (scope, series) = (scope.as_ref(), series.as_ref());
        if delta.iter().all(|d| *d == 0) {
            continue;
        }
        let key = (scope, series, bucket);
        let mut counts = match table.get(key).map_err(&w)? {
            Some(v) => decode(v.value())?,
            None => [0; SLOTS],
        };
        for (n, d) in counts.iter_mut().zip(delta) {
            *n = n.checked_add_signed(d).ok_or_else(|| StoreError::Corrupt {
                table: "view_buckets",
                key: format!("({scope}, {series}, {bucket})"),
                detail: format!("count {n} cannot change by {d}"),
            })?;
        }
        if counts.iter().all(|n| *n == 0) {
            table.remove(key).map_err(&w)?;
        } else {
            table.insert(key, encode(&counts)?.as_slice()).map_err(&w)?;
        }
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn counts_round_trip(counts in proptest::array::uniform8(proptest::option::weighted(0.3, any::<u64>()))) {
            let counts = counts.map(|c| c.unwrap_or(0));
            prop_assert_eq!(decode(&encode(&counts).unwrap()).unwrap(), counts);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn buckets_keep_time_order_and_start_where_they_begin() {
        for scope in ["*", "seller-a"] {
            for bits in [0u64, 1, 1 << 40, crate::tables::order_bits(1_735_689_600_000), u64::MAX] {
                let b = bucket(scope, bits);
                let start = bucket_start(scope, b).unwrap();
                assert!(start <= bits);
                assert_eq!(bucket(scope, start), b);
                if start > 0 {
                    assert_eq!(bucket(scope, start - 1), b - 1);
                }
            }
        }
    }
}
