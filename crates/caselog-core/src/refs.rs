//! References a case carries: order ids, ASINs, SKUs and related case
//! numbers, with parsing and normalisation.

use std::collections::HashSet;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::error::{check_text, ValidationError};
use crate::ids::{validated_string, CaseNumber};

/// Most references of one kind a case may carry.
pub const MAX_REFS_PER_KIND: usize = 100;

fn fold_fullwidth(c: char) -> char {
    // Full-width ASCII (U+FF01..U+FF5E) maps onto ASCII by a fixed offset;
    // sellers pasting from CJK input methods produce these.
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn fold(text: &str) -> String {
    text.trim().chars().map(fold_fullwidth).collect()
}

fn validate_order(text: &str) -> Result<String, ValidationError> {
    let t = fold(text);
    let parts: Vec<&str> = t.split('-').collect();
    let shape_ok = parts.len() == 3
        && parts
            .iter()
            .zip([3usize, 7, 7])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()));
    if shape_ok {
        Ok(t)
    } else {
        Err(ValidationError::malformed(
            "order id",
            text,
            "three groups of 3, 7 and 7 digits, like 112-1234567-1234567",
        ))
    }
}

validated_string!(
    /// A marketplace order id: `112-1234567-1234567` (3-7-7 digits).
    OrderId,
    validate_order
);

fn validate_asin(text: &str) -> Result<String, ValidationError> {
    let t = fold(text).to_ascii_uppercase();
    let bytes = t.as_bytes();
    let alnum = bytes.len() == 10 && bytes.iter().all(u8::is_ascii_alphanumeric);
    // Either a `B`-prefixed ASIN with at least one digit, or an ISBN-10
    // (nine digits and a check digit or X).
    let b_asin = alnum && bytes.first() == Some(&b'B') && bytes.iter().skip(1).any(u8::is_ascii_digit);
    let isbn = alnum
        && bytes.iter().take(9).all(u8::is_ascii_digit)
        && bytes.get(9).is_some_and(|b| b.is_ascii_digit() || *b == b'X');
    if b_asin || isbn {
        Ok(t)
    } else {
        Err(ValidationError::malformed(
            "ASIN",
            text,
            "10 letters and digits starting with B (like B08XYZ1234), or an ISBN-10",
        ))
    }
}

validated_string!(
    /// An Amazon Standard Identification Number, normalised to upper case:
    /// `B08XYZ1234`, or an ISBN-10 for books.
    Asin,
    validate_asin
);

fn validate_sku(text: &str) -> Result<String, ValidationError> {
    let t = fold(text);
    check_text("SKU", &t, 40)?;
    if t.chars().any(char::is_whitespace) {
        return Err(ValidationError::malformed(
            "SKU",
            text,
            "a seller SKU without spaces (at most 40 characters)",
        ));
    }
    Ok(t)
}

validated_string!(
    /// A seller's stock keeping unit: up to 40 characters without spaces.
    /// Kept as written (full-width folded); search matches it ignoring case.
    Sku,
    validate_sku
);

/// The references of a case. Each list is deduplicated and kept in the
/// order first given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct References {
    /// Order ids.
    #[serde(default)]
    pub orders: Vec<OrderId>,
    /// ASINs.
    #[serde(default)]
    pub asins: Vec<Asin>,
    /// SKUs.
    #[serde(default)]
    pub skus: Vec<Sku>,
    /// Related case numbers (a follow-up names the case it continues).
    #[serde(default)]
    pub cases: Vec<CaseNumber>,
}

impl References {
    /// Removes duplicates (keeping first occurrences) and checks the
    /// per-kind limit.
    pub fn normalised(mut self) -> Result<Self, ValidationError> {
        dedup(&mut self.orders);
        dedup(&mut self.asins);
        dedup(&mut self.skus);
        dedup(&mut self.cases);
        for (field, len) in [
            ("refs.orders", self.orders.len()),
            ("refs.asins", self.asins.len()),
            ("refs.skus", self.skus.len()),
            ("refs.cases", self.cases.len()),
        ] {
            if len > MAX_REFS_PER_KIND {
                return Err(ValidationError::TooMany {
                    field,
                    len,
                    max: MAX_REFS_PER_KIND,
                });
            }
        }
        Ok(self)
    }

    /// Whether there are no references at all.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty() && self.asins.is_empty() && self.skus.is_empty() && self.cases.is_empty()
    }
}

/// Keeps the first occurrence of each item, in order. Linear time: a list
/// of any length arrives here before the per-kind limit is checked (an
/// import line with 50,000 distinct SKUs took 30 s with a quadratic scan).
fn dedup<T: Eq + Hash + Clone>(items: &mut Vec<T>) {
    let mut seen: HashSet<T> = HashSet::with_capacity(items.len());
    items.retain(|item| seen.insert(item.clone()));
}

/// What a single token typed alone in a search box looks like, so a bare
/// case number, order id or ASIN can find its case first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BareReference {
    /// A case number in the default format.
    CaseNumber(CaseNumber),
    /// An order id.
    Order(OrderId),
    /// An ASIN.
    Asin(Asin),
}

impl BareReference {
    /// Recognises a token as a case number, an order id or an ASIN.
    pub fn recognise(token: &str) -> Option<BareReference> {
        if let Ok(n) = CaseNumber::parse(token) {
            return Some(BareReference::CaseNumber(n));
        }
        if let Ok(o) = OrderId::parse(token) {
            return Some(BareReference::Order(o));
        }
        Asin::parse(token).ok().map(BareReference::Asin)
    }
}
