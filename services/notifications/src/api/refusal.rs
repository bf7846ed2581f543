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
        NotificationsError::MandatoryMessage => {
            status(Code::FailedPrecondition, e.reason(), e.to_string())
        }
    }
}
