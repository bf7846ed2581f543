//! The notifications' business rules (domain.md §2.5–2.6): the rule table of which reservation
//! facts become which messages, for whom, when ([`rules`], over [`facts`] and what is known of
//! each reservation, [`reservation_file`]); templates ([`template`]); a message's delivery
//! ([`delivery`]) with the night window ([`night`]) and channel lengths ([`text_length`]); the
//! partner's switches ([`preferences`]); inquiries ([`inquiry`]); who may read and change them
//! ([`access`]); the partner's message log as first recorded ([`messages`]). Pure functions of
//! state, command and facts; no I/O.
//!
//! Events are the generated `yeyak.notifications.events.v1` messages.

pub mod access;
pub mod delivery;
pub mod facts;
pub mod inquiry;
pub mod messages;
pub mod night;
pub mod preferences;
pub mod reservation_file;
pub mod rules;
pub mod template;
pub mod text_length;

/// Why the notifications refused a command: one variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationsError {
    /// 예약신청 must be confirmed or rejected quickly: its message is never switched off.
    #[error(
        "the 예약신청 (Requested) alert cannot be switched off: a request must be answered before it expires"
    )]
    MandatoryMessage,
    #[error("unknown message kind {0}")]
    UnknownMessageKind(i32),
    #[error("a template code is 1 to 64 of a-z, 0-9 and '-': {0:?}")]
    BadTemplateCode(String),
    #[error("a template text is 1 to 1,000 characters, not blank ({chars} given)")]
    BadTemplateText { chars: usize },
    #[error("a placeholder is #{{name}} with a name of letters, digits and '_': {0:?}")]
    BadPlaceholder(String),
    #[error("the message has no value for #{{{0}}}")]
    MissingVariable(String),
    #[error("no such template")]
    TemplateNotFound,
    #[error("the template was reviewed already: register it again to have it reviewed")]
    TemplateAlreadyReviewed,
    #[error("a rejected template needs the reason")]
    RejectionNeedsReason,
    #[error("no such message")]
    MessageNotFound,
    #[error("the message was not sent yet")]
    MessageNotSent,
    #[error("only a message that gave up can be retried")]
    MessageNotGivenUp,
    #[error("the partner's channel is not known yet")]
    ChannelNotKnown,
    #[error("the partner's channel has 1:1 chat off: the partner must switch it on")]
    OneToOneChatOff,
    #[error(
        "the partner's channel runs a chatbot together with 1:1 chat: the partner must run 1:1 chat alone"
    )]
    ChatbotWithChat,
    #[error("a consult request is about `usage` or `cancellation`, not {0:?}")]
    UnknownConsultTopic(String),
    #[error("no such consult request")]
    ConsultNotFound,
    #[error("only the customer the consult request was sent to accepts it")]
    NotTheCustomer,
    #[error("the partner's operators are not known yet")]
    OperatorsNotKnown,
    #[error("no such reservation of yours")]
    ReservationNotFound,
    #[error("no such product")]
    ProductNotFound,
}

impl NotificationsError {
    /// The machine-readable reason code: the rule's name.
    pub fn reason(&self) -> &'static str {
        match self {
            NotificationsError::MandatoryMessage => "MANDATORY_MESSAGE",
            NotificationsError::UnknownMessageKind(_) => "UNKNOWN_ENUM_VALUE",
            NotificationsError::BadTemplateCode(_) => "BAD_TEMPLATE_CODE",
            NotificationsError::BadTemplateText { .. } => "BAD_TEMPLATE_TEXT",
            NotificationsError::BadPlaceholder(_) => "BAD_PLACEHOLDER",
            NotificationsError::MissingVariable(_) => "MISSING_VARIABLE",
            NotificationsError::TemplateNotFound => "TEMPLATE_NOT_FOUND",
            NotificationsError::TemplateAlreadyReviewed => "TEMPLATE_ALREADY_REVIEWED",
            NotificationsError::RejectionNeedsReason => "REASON_REQUIRED",
            NotificationsError::MessageNotFound => "MESSAGE_NOT_FOUND",
            NotificationsError::MessageNotSent => "MESSAGE_NOT_SENT",
            NotificationsError::MessageNotGivenUp => "MESSAGE_NOT_GIVEN_UP",
            NotificationsError::ChannelNotKnown => "CHANNEL_NOT_KNOWN",
            NotificationsError::OneToOneChatOff => "ONE_TO_ONE_CHAT_OFF",
            NotificationsError::ChatbotWithChat => "CHATBOT_WITH_CHAT",
            NotificationsError::UnknownConsultTopic(_) => "UNKNOWN_CONSULT_TOPIC",
            NotificationsError::ConsultNotFound => "CONSULT_NOT_FOUND",
            NotificationsError::NotTheCustomer => "NOT_THE_CUSTOMER",
            NotificationsError::OperatorsNotKnown => "OPERATORS_NOT_KNOWN",
            NotificationsError::ReservationNotFound => "RESERVATION_NOT_FOUND",
            NotificationsError::ProductNotFound => "PRODUCT_NOT_FOUND",
        }
    }
}
