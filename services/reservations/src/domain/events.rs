//! The reservations' events, decoded from the log.
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::events::{DecodeError, decode_as};
use yeyak_proto::reservations::events::v1::{
    InventoryCapacityChanged, InventoryOpened, InventoryReleased, InventoryReserved, NoShowMarked,
    PoolCapacitySet, ReservationBooked, ReservationCancelled, ReservationCompleted,
    ReservationConfirmed, ReservationExpired, ReservationLinesCancelled,
    ReservationPaymentCancelled, ReservationRejected,
};

/// Events of an `inventory-<id>` stream.
#[derive(Debug, Clone, PartialEq)]
pub enum InventoryEvent {
    Opened(Box<InventoryOpened>),
    Reserved(InventoryReserved),
    Released(InventoryReleased),
    CapacityChanged(InventoryCapacityChanged),
    PoolCapacity(PoolCapacitySet),
}

/// Events of a `reservation-<id>` stream.
#[derive(Debug, Clone, PartialEq)]
pub enum ReservationEvent {
    Booked(ReservationBooked),
    Confirmed(ReservationConfirmed),
    Rejected(ReservationRejected),
    Cancelled(ReservationCancelled),
    /// 부분취소: some lines cancelled, the reservation stays in its state.
    LinesCancelled(ReservationLinesCancelled),
    Completed(ReservationCompleted),
    Expired(ReservationExpired),
    PaymentCancelled(ReservationPaymentCancelled),
    NoShow(NoShowMarked),
}

impl InventoryEvent {
    pub fn decode(e: &RecordedEvent) -> Result<Self, DecodeError> {
        if let Some(v) = decode_as(e)? {
            return Ok(Self::Opened(Box::new(v)));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::Reserved(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::Released(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::CapacityChanged(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::PoolCapacity(v));
        }
        Err(DecodeError::UnknownType(
            e.event_type.clone(),
            e.schema_version,
        ))
    }
}

impl ReservationEvent {
    pub fn decode(e: &RecordedEvent) -> Result<Self, DecodeError> {
        if let Some(v) = decode_as(e)? {
            return Ok(Self::Booked(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::Confirmed(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::Rejected(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::Cancelled(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::Completed(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::Expired(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::PaymentCancelled(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::NoShow(v));
        }
        if let Some(v) = decode_as(e)? {
            return Ok(Self::LinesCancelled(v));
        }
        Err(DecodeError::UnknownType(
            e.event_type.clone(),
            e.schema_version,
        ))
    }
}
