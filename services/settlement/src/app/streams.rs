//! Every stream the settlement keeps, by name: the one place its storage layout is spelled.
//! (The partners' operators, learned from the catalog, are on the kit's `operators-<partner>`.)
use uuid::Uuid;

/// A partner's ledger.
pub fn ledger(partner_id: Uuid) -> String {
    format!("ledger-{partner_id}")
}
