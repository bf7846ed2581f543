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

/// A message's delivery, from queued to its end.
pub fn message(message_id: &str) -> String {
    format!("message-{message_id}")
}

/// What the notifications know of a reservation.
pub fn reservation(reservation_id: &str) -> String {
    format!("notified-reservation-{reservation_id}")
}

/// A message template.
pub fn template(code: &str) -> String {
    format!("template-{code}")
}

/// The partner's channel, as the catalog recorded it.
pub fn channel(partner_id: &str) -> String {
    format!("channel-{partner_id}")
}

/// What the notifications know of a product (its partner and place).
pub fn product(product_id: &str) -> String {
    format!("notified-product-{product_id}")
}

/// A customer's inquiry.
pub fn inquiry(inquiry_id: &str) -> String {
    format!("inquiry-{inquiry_id}")
}

/// A partner's consult request.
pub fn consult(consult_id: &str) -> String {
    format!("consult-{consult_id}")
}
