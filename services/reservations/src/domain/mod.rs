//! The reservations' business rules: pure functions of state, command and time; no I/O.
//!
//! Two aggregates, each one stream: the inventory of a reservation schedule
//! (`inventory-<id>`) and the reservation itself (`reservation-<id>`). A booking appends to
//! both at once with expected versions, so capacity is never oversold.

pub mod events;
pub mod inventory;
pub mod operators;
pub mod policy;
pub mod reservation;

/// Why a reservation command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReservationError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
        message: String,
    },
    #[error("{what} not found")]
    NotFound {
        what: &'static str,
        reason: &'static str,
    },
    #[error("{message}")]
    Precondition {
        reason: &'static str,
        message: String,
    },
    /// The caller may not do this.
    #[error("{message}")]
    Forbidden {
        reason: &'static str,
        message: String,
    },
}

impl ReservationError {
    /// The machine-readable reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            ReservationError::Invalid { reason, .. }
            | ReservationError::NotFound { reason, .. }
            | ReservationError::Precondition { reason, .. }
            | ReservationError::Forbidden { reason, .. } => reason,
        }
    }

    pub(crate) fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        ReservationError::Precondition {
            reason,
            message: message.into(),
        }
    }
}
