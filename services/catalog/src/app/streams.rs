//! Every stream the catalog keeps, by name: the one place its storage layout is spelled.
use uuid::Uuid;

pub fn partner(id: Uuid) -> String {
    format!("partner-{id}")
}

pub fn place(id: Uuid) -> String {
    format!("place-{id}")
}

pub fn product(id: Uuid) -> String {
    format!("product-{id}")
}

/// A product's reservations as learned from the reservations' events.
pub fn bookings(id: Uuid) -> String {
    format!("product-bookings-{id}")
}

/// An id the catalog wrote itself (a stored event's field): unreadable only when the log is.
pub fn id_of(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}
