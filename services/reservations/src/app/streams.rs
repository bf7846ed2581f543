//! Every stream the reservations service keeps, by name — the one place its storage layout is
//! spelled — and the folds that read them (old events upcast on the way).
use uuid::Uuid;
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    command::{Reads, decode_strict},
    events::{DecodeError, LoadError},
};

use super::upcast;
use crate::domain::{
    events::{InventoryEvent, PaymentEvent, ReservationEvent},
    inventory::{Inventory, Pool},
    payment::{Payment, PaymentFact},
    reservation::Reservation,
};

pub fn reservation(id: Uuid) -> String {
    format!("reservation-{id}")
}

/// The reservation a `reservation-<id>` stream holds.
pub fn reservation_of(stream: &str) -> Option<Uuid> {
    stream
        .strip_prefix("reservation-")
        .and_then(|id| Uuid::parse_str(id).ok())
}

/// A reservation's payment, separate from its state.
pub fn payment(reservation_id: Uuid) -> String {
    format!("payment-{reservation_id}")
}

/// A quantity seats are held in.
pub fn pool(pool: &Pool) -> String {
    match pool {
        Pool::Unit(id) => format!("inventory-{id}"),
        Pool::Shared { product_id, key } => format!("pool-{product_id}-{key}"),
        Pool::PriceCap {
            product_id,
            price_id,
        } => format!("price-cap-{product_id}-{price_id}"),
    }
}

/// What the catalog said about booking a product.
pub fn product(id: &str) -> String {
    format!("product-{id}")
}

/// The terms of a product's last approval.
pub fn terms(id: &str) -> String {
    format!("product-terms-{id}")
}

/// Whether the catalog paused a place.
pub fn place(id: &str) -> String {
    format!("place-{id}")
}

/// The partner's default reject text.
pub fn reject_text(partner_id: &str) -> String {
    format!("reject-text-{partner_id}")
}

/// The partner's completion code (its hash).
pub fn completion_code(partner_id: &str) -> String {
    format!("completion-code-{partner_id}")
}

/// Scheduled work due in an hour (hours since the Unix epoch): `due-<YYYYMMDDHH>` (UTC).
pub fn due(bucket: i64) -> String {
    let label = jiff::Timestamp::from_microsecond(bucket * 3_600_000_000)
        .map(|t| t.strftime("%Y%m%d%H").to_string())
        .unwrap_or_else(|_| bucket.to_string());
    format!("due-{label}")
}

/// How far the scheduler has done its work.
pub const DUE_CURSOR: &str = "due-cursor";

fn reservation_event(e: &RecordedEvent) -> Result<ReservationEvent, DecodeError> {
    Ok(upcast::reservation(decode_strict(e)?, e))
}

fn inventory_event(e: &RecordedEvent) -> Result<InventoryEvent, DecodeError> {
    Ok(upcast::inventory(decode_strict(e)?, e))
}

fn payment_fact(e: &RecordedEvent) -> Result<PaymentFact, DecodeError> {
    Ok(PaymentFact {
        event_id: e.event_id.to_string(),
        event: decode_strict::<PaymentEvent>(e)?,
    })
}

/// A reservation folded from its stream, the read recorded.
pub async fn load_reservation(reads: &mut Reads<'_>, id: Uuid) -> Result<Reservation, LoadError> {
    reads
        .fold(&reservation(id), Reservation::default(), |r, e| {
            r.apply(reservation_event(e)?);
            Ok(())
        })
        .await
}

/// Each of these reservations folded from its stream, with its version, in one read of the
/// log (not recorded: for read models, not decisions); each id once, in the order given.
pub async fn load_reservations(
    log: &dyn yeyak_eventlog::EventStore,
    ids: &[Uuid],
) -> Result<Vec<(Reservation, Option<u64>)>, LoadError> {
    let mut folded: std::collections::HashMap<Uuid, (Reservation, Option<u64>)> =
        Default::default();
    let stream_ids: Vec<String> = ids.iter().map(|id| reservation(*id)).collect();
    for e in log.read_streams(&stream_ids).await? {
        let Some(id) = reservation_of(&e.stream_id) else {
            continue;
        };
        let (r, version) = folded.entry(id).or_default();
        r.apply(reservation_event(&e)?);
        *version = Some(e.stream_version);
    }
    let mut seen = std::collections::HashSet::new();
    Ok(ids
        .iter()
        .filter(|id| seen.insert(**id))
        .map(|id| folded.remove(id).unwrap_or_default())
        .collect())
}

/// A reservation as it was after its first `version` events (all of them when `None`).
pub async fn reservation_until(
    reads: &mut Reads<'_>,
    id: Uuid,
    version: Option<u64>,
) -> Result<Reservation, LoadError> {
    reads
        .fold(&reservation(id), Reservation::default(), |r, e| {
            if version.is_none_or(|v| e.stream_version <= v) {
                r.apply(reservation_event(e)?);
            }
            Ok(())
        })
        .await
}

/// A quantity folded from its stream, the read recorded.
pub async fn load_pool(reads: &mut Reads<'_>, of: &Pool) -> Result<Inventory, LoadError> {
    reads
        .fold(&pool(of), Inventory::default(), |i, e| {
            i.apply(inventory_event(e)?);
            Ok(())
        })
        .await
}

/// A reservation's payment folded from its stream, the read recorded.
pub async fn load_payment(
    reads: &mut Reads<'_>,
    reservation_id: Uuid,
) -> Result<Payment, LoadError> {
    reads
        .fold(&payment(reservation_id), Payment::default(), |p, e| {
            p.apply(payment_fact(e)?);
            Ok(())
        })
        .await
}
