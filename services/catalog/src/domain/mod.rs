//! The catalog's business rules: pure functions of state, command and time; no I/O.
//!
//! Events are the generated `yeyak.catalog.events.v1` messages: the public contract is the
//! domain's vocabulary. Commands are validated Rust types.

pub mod access;
pub mod booking_window;
pub mod cancellation_policy;
pub mod definition;
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
    /// The caller's role or places do not allow the action.
    #[error("{message}")]
    Forbidden {
        reason: &'static str,
        message: String,
    },
}

impl CatalogError {
    /// The machine-readable reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            CatalogError::Invalid { reason, .. }
            | CatalogError::NotFound { reason, .. }
            | CatalogError::Precondition { reason, .. }
            | CatalogError::Forbidden { reason, .. } => reason,
            CatalogError::AlreadyExists(_) => "ALREADY_EXISTS",
        }
    }

    pub(crate) fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        CatalogError::Precondition {
            reason,
            message: message.into(),
        }
    }

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
