//! The catalog's business rules: pure functions of state, command and time; no I/O.
//!
//! Events are the generated `yeyak.catalog.events.v1` messages: the public contract is the
//! domain's vocabulary. Commands are validated Rust types.

pub mod booking_window;
pub mod cancellation_policy;
pub mod display;
pub mod partner;
pub mod place;
pub mod product;
pub mod review;

/// Why the catalog refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
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
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    #[error("{message}")]
    Precondition {
        reason: &'static str,
        message: String,
    },
}

impl CatalogError {
    pub(crate) fn invalid(
        field: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        CatalogError::Invalid {
            field,
            reason,
            message: message.into(),
        }
    }
}
