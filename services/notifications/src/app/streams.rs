//! Every stream the notifications keep, by name: the one place their storage layout is spelled.
//! (The partners' operators, learned from the catalog, are on the kit's `operators-<partner>`.)
use uuid::Uuid;

/// The messages recorded for a partner.
pub fn messages(partner_id: Uuid) -> String {
    format!("partner-messages-{partner_id}")
}

/// The message kinds a partner switched off.
pub fn preferences(partner_id: Uuid) -> String {
    format!("partner-preferences-{partner_id}")
}
