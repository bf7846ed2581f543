//! The notifications' business rules (domain.md §2.5): which reservation facts become which
//! partner messages ([`messages`]), which messages a partner may switch off ([`preferences`]),
//! and who may read and change them ([`access`]). Pure functions of state, command and facts;
//! no I/O.
//!
//! Events are the generated `yeyak.notifications.events.v1` messages.

pub mod access;
pub mod messages;
pub mod preferences;

/// Why the notifications refused a command: one variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationsError {
    /// 예약신청 must be confirmed or rejected quickly: its message is never switched off.
    #[error("the 예약신청 (Requested) message cannot be switched off")]
    MandatoryMessage,
    #[error("unknown message kind {0}")]
    UnknownMessageKind(i32),
}

impl NotificationsError {
    /// The machine-readable reason code: the rule's name.
    pub fn reason(&self) -> &'static str {
        match self {
            NotificationsError::MandatoryMessage => "MANDATORY_MESSAGE",
            NotificationsError::UnknownMessageKind(_) => "UNKNOWN_ENUM_VALUE",
        }
    }
}
