//! The one place notifications failures become gRPC statuses.
use tonic::{Code, Status};
use yeyak_kit::status::{invalid_field, of, status};

use crate::{app::Error, domain::NotificationsError};

/// The status of a failed command or query.
pub fn failure(e: Error) -> Status {
    of(e, refusal)
}

/// The status of a domain refusal: its reason code, a human message, and the code by kind.
pub fn refusal(e: NotificationsError) -> Status {
    match &e {
        NotificationsError::UnknownMessageKind(_) => {
            invalid_field("muted", e.reason(), e.to_string())
        }
        NotificationsError::BadTemplateCode(_) => invalid_field("code", e.reason(), e.to_string()),
        NotificationsError::BadTemplateText { .. }
        | NotificationsError::BadPlaceholder(_)
        | NotificationsError::MissingVariable(_) => {
            invalid_field("text", e.reason(), e.to_string())
        }
        NotificationsError::UnknownConsultTopic(_) => {
            invalid_field("topic", e.reason(), e.to_string())
        }
        NotificationsError::RejectionNeedsReason => {
            invalid_field("reason", e.reason(), e.to_string())
        }
        NotificationsError::TemplateNotFound
        | NotificationsError::MessageNotFound
        | NotificationsError::ConsultNotFound
        | NotificationsError::ReservationNotFound
        | NotificationsError::ProductNotFound => status(Code::NotFound, e.reason(), e.to_string()),
        NotificationsError::NotTheCustomer => {
            status(Code::PermissionDenied, e.reason(), e.to_string())
        }
        NotificationsError::MandatoryMessage
        | NotificationsError::TemplateAlreadyReviewed
        | NotificationsError::MessageNotSent
        | NotificationsError::MessageNotGivenUp
        | NotificationsError::ChannelNotKnown
        | NotificationsError::OperatorsNotKnown
        | NotificationsError::OneToOneChatOff
        | NotificationsError::ChatbotWithChat => {
            status(Code::FailedPrecondition, e.reason(), e.to_string())
        }
    }
}
