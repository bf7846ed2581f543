//! The reservations' business rules: pure functions of state, command and time; no I/O.
//!
//! Aggregates: a reservation ([`reservation`], its commands decided in [`booking`],
//! [`cancellation`], [`completion`] and [`expiry`]), the quantities seats are held in
//! ([`inventory`]) and a reservation's payment ([`payment`]). What the catalog's facts mean for
//! booking is [`catalog_terms`]; who may act is [`access`]; fees are [`policy`]; the work a
//! booking leaves for later is [`due_work`].

pub mod access;
pub mod booking;
pub mod cancellation;
pub mod catalog_terms;
pub mod completion;
pub mod due_work;
pub mod events;
pub mod expiry;
pub mod inventory;
pub mod payment;
pub mod policy;
pub mod reservation;
#[cfg(test)]
mod tests;

use reservation::State;

/// Why a reservation command was refused: one variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReservationError {
    /// An input breaks a rule of its field.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
        message: String,
    },
    #[error("reservation not found")]
    ReservationNotFound,
    #[error("the reservation did not exist yet at that instant")]
    NotYetBooked,
    #[error("reservation schedule not found")]
    ScheduleNotFound,
    #[error("this reservation exists already")]
    AlreadyBooked,
    #[error("cannot {action} a reservation in state {state:?}")]
    InvalidState { action: &'static str, state: State },
    #[error("the product was deleted")]
    ProductDeleted,
    #[error("the product is restricted by operations")]
    ProductSanctioned,
    #[error("the partner ended this product's sale")]
    ProductEnded,
    #[error("the partner closed this product's bookings")]
    ProductClosed,
    #[error("the place is paused")]
    PlacePaused,
    #[error("the partner switched reservation schedule {0} off")]
    ScheduleHidden(String),
    #[error("this reservation schedule has already started")]
    ScheduleStarted,
    #[error("booking opens at {}", yeyak_kit::kst::text(*.0))]
    BookingNotOpenYet(i64),
    #[error("booking closed at {}", yeyak_kit::kst::text(*.0))]
    BookingClosed(i64),
    #[error("sold out: {remaining} of {capacity} seats left, {asked} asked")]
    SoldOut {
        remaining: u32,
        capacity: u32,
        asked: u32,
    },
    /// The payment provider refused the charge for good.
    #[error("the payment was declined ({0}); nothing was booked")]
    PaymentDeclined(String),
    /// The payment provider did not answer.
    #[error("the payment provider did not answer ({0}); nothing was booked")]
    PaymentUnavailable(String),
    #[error(
        "this request's booking failed after its payment, which is being refunded; book again with a new request_id"
    )]
    BookingFailedRefunded,
    #[error("this product cannot be cancelled by the customer; the partner can cancel it")]
    NotCancellable,
    #[error(
        "cancelling closed at {} (the deadline is exclusive); the partner can still cancel",
        yeyak_kit::kst::text(*.0)
    )]
    PastCancellationDeadline(i64),
    #[error("line {0} is cancelled already")]
    LineAlreadyCancelled(u32),
    #[error(
        "this reservation had a minimum, fixed or multiple-of-n quantity: it is cancelled whole, or by the partner"
    )]
    PartialCancelNotAllowed,
    #[error("a class is completed only from its usage date")]
    ClassBeforeUsageDate,
    #[error("a no-show is not completed by itself")]
    NoShow,
    #[error("{0}")]
    NotDue(&'static str),
    #[error("nothing was paid for this reservation, or it was already refunded")]
    NothingToRefund,
    #[error("a no-show is marked after the usage time")]
    BeforeUsageTime,
    /// A customer asked for what only the partner does (confirm, reject, complete…).
    #[error("only the partner may do this")]
    PartnerAction,
    /// The operator check (the caller's token, account, role and places).
    #[error(transparent)]
    Denied(#[from] yeyak_kit::access::AccessError),
}

impl ReservationError {
    /// The machine-readable reason code: the rule's name.
    pub fn reason(&self) -> &'static str {
        match self {
            ReservationError::Invalid { reason, .. } => reason,
            ReservationError::ReservationNotFound => "RESERVATION_NOT_FOUND",
            ReservationError::NotYetBooked => "NOT_YET_BOOKED",
            ReservationError::ScheduleNotFound => "SCHEDULE_NOT_FOUND",
            ReservationError::AlreadyBooked => "ALREADY_BOOKED",
            ReservationError::InvalidState { .. } => "INVALID_STATE",
            ReservationError::ProductDeleted => "PRODUCT_DELETED",
            ReservationError::ProductSanctioned => "PRODUCT_SANCTIONED",
            ReservationError::ProductEnded => "PRODUCT_ENDED",
            ReservationError::ProductClosed => "PRODUCT_CLOSED",
            ReservationError::PlacePaused => "PLACE_PAUSED",
            ReservationError::ScheduleHidden(_) => "SCHEDULE_HIDDEN",
            ReservationError::ScheduleStarted => "SCHEDULE_STARTED",
            ReservationError::BookingNotOpenYet(_) => "BOOKING_NOT_OPEN_YET",
            ReservationError::BookingClosed(_) => "BOOKING_CLOSED",
            ReservationError::SoldOut { .. } => "SOLD_OUT",
            ReservationError::PaymentDeclined(_) => "PAYMENT_DECLINED",
            ReservationError::PaymentUnavailable(_) => "PAYMENT_UNAVAILABLE",
            ReservationError::BookingFailedRefunded => "BOOKING_FAILED_REFUNDED",
            ReservationError::NotCancellable => "NOT_CANCELLABLE",
            ReservationError::PastCancellationDeadline(_) => "PAST_CANCELLATION_DEADLINE",
            ReservationError::LineAlreadyCancelled(_) => "LINE_ALREADY_CANCELLED",
            ReservationError::PartialCancelNotAllowed => "PARTIAL_CANCEL_NOT_ALLOWED",
            ReservationError::ClassBeforeUsageDate => "CLASS_BEFORE_USAGE_DATE",
            ReservationError::NoShow => "NO_SHOW",
            ReservationError::NotDue(_) => "NOT_DUE",
            ReservationError::NothingToRefund => "NOTHING_TO_REFUND",
            ReservationError::BeforeUsageTime => "BEFORE_USAGE_TIME",
            ReservationError::PartnerAction => "PARTNER_ACTION",
            ReservationError::Denied(e) => e.reason(),
        }
    }

    /// The message of an `Invalid` refusal without its field's name (the status names the field).
    pub fn to_string_without_field(&self) -> String {
        match self {
            ReservationError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    pub(crate) fn invalid(
        field: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ReservationError::Invalid {
            field,
            reason,
            message: message.into(),
        }
    }
}
