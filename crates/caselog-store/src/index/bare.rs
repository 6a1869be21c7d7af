//! A case number typed alone in the search box. The core parser recognises
//! numbers of the default format (10–11 digits); an imported archive keeps
//! its own numbering, so a single word is also looked up in the store's
//! `numbers` table at query time. The lookup only adds a ranking clause
//! (the tenant clause still applies), so it reveals nothing of another
//! tenant's numbers.

use caselog_core::{BareReference, CaseNumber, ParsedQuery, Query};

use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::tables;

impl Store {
    /// The bare reference of `parsed`: the parser's, or a single word that
    /// is a number present in the store.
    pub(crate) fn recognise_bare(&self, parsed: &ParsedQuery) -> Result<Option<BareReference>> {
        if parsed.bare_reference.is_some() {
            return Ok(parsed.bare_reference.clone());
        }
        let Query::Word(word) = &parsed.root else {
            return Ok(None);
        };
        let Ok(number) = CaseNumber::parse_imported(word) else {
            return Ok(None);
        };
        let txn = self.read_txn()?;
        let numbers = txn
            .open_table(tables::NUMBERS)
            .map_err(|e| StoreError::storage("opening the numbers table", e))?;
        let known = numbers
            .get(number.as_str())
            .map_err(|e| StoreError::storage("reading the numbers table", e))?
            .is_some();
        Ok(known.then_some(BareReference::CaseNumber(number)))
    }
}
