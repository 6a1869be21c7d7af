//! The duplicate rule: a new case that repeats a recent non-final case of
//! the same tenant is accepted, flagged with the case it repeats, and
//! demoted to the low class.

use crate::category::Category;
use crate::ids::CaseId;
use crate::lifecycle::Status;
use crate::queue::QueuePolicy;
use crate::refs::{Asin, OrderId};
use crate::timestamp::Timestamp;

/// What the rule needs to know about a case (new or existing). All cases
/// given to [`find_duplicate`] must belong to the same tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateFacts<'a> {
    /// The existing case's id (ignored for the new case).
    pub id: CaseId,
    /// Its status (ignored for the new case).
    pub status: Status,
    /// Its category.
    pub category: Category,
    /// Its title.
    pub title: &'a str,
    /// Its order ids.
    pub orders: &'a [OrderId],
    /// Its ASINs.
    pub asins: &'a [Asin],
    /// When it was created.
    pub created_at: Timestamp,
}

/// Normalises a title for comparison: lower case, letters and digits only,
/// words separated by single spaces.
pub fn normalise_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for word in title.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Returns the case `new` repeats, if any: a non-final case of the same
/// tenant created within the cooldown before `new`, with the same category
/// and normalised title, or sharing an order id or ASIN. The most recent
/// such case wins (then the highest id), so the answer does not depend on
/// the order of `recent`.
pub fn find_duplicate(new: &DuplicateFacts<'_>, recent: &[DuplicateFacts<'_>], policy: &QueuePolicy) -> Option<CaseId> {
    let title = normalise_title(new.title);
    recent
        .iter()
        .filter(|old| !old.status.is_final())
        .filter(|old| {
            let age = new.created_at.since(old.created_at);
            age.0 >= 0 && age <= policy.duplicate_cooldown
        })
        .filter(|old| {
            (old.category == new.category && !title.is_empty() && normalise_title(old.title) == title)
                || old.orders.iter().any(|o| new.orders.contains(o))
                || old.asins.iter().any(|a| new.asins.contains(a))
        })
        .max_by_key(|old| (old.created_at, old.id))
        .map(|old| old.id)
}
