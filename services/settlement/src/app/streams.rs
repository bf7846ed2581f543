//! Every stream the settlement keeps, by name: the one place its storage layout is spelled.
//! (The partners' operators, learned from the catalog, are on the kit's `operators-<partner>`.)
use jiff::civil::Date;
use uuid::Uuid;

/// A reservation's lines and their ledger entries.
pub fn account(reservation_id: &str) -> String {
    format!("account-{reservation_id}")
}

/// A partner's postings, daily settlements, payouts and balance.
pub fn ledger(partner_id: Uuid) -> String {
    format!("ledger-{partner_id}")
}

/// A partner's settlement information and KYC.
pub fn seller(partner_id: Uuid) -> String {
    format!("seller-{partner_id}")
}

/// The daily payout batch of a payout day.
pub fn batch(day: Date) -> String {
    format!("batch-{day}")
}

/// The partner of a ledger stream.
pub fn ledger_partner(stream: &str) -> Option<Uuid> {
    Uuid::parse_str(stream.strip_prefix("ledger-")?).ok()
}
