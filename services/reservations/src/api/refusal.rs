//! The one place reservation failures become gRPC statuses.
use tonic::{Code, Status};
use yeyak_kit::status::{access, invalid_field, of, status};

use crate::{app::Error, domain::ReservationError};

/// The status of a failed command or query.
pub fn failure(e: Error) -> Status {
    of(e, refusal)
}

/// The status of a refusal: its reason code, a human message, and the code by kind.
pub fn refusal(e: ReservationError) -> Status {
    use ReservationError as R;
    let code = match &e {
        R::Invalid { field, .. } => {
            return invalid_field(field, e.reason(), e.to_string_without_field());
        }
        R::Denied(denied) => return access(denied),
        R::ReservationNotFound | R::ScheduleNotFound | R::NotYetBooked => Code::NotFound,
        R::PartnerAction => Code::PermissionDenied,
        R::PaymentUnavailable(_) => Code::Unavailable,
        R::AlreadyBooked
        | R::InvalidState { .. }
        | R::ProductDeleted
        | R::ProductSanctioned
        | R::ProductEnded
        | R::ProductClosed
        | R::PlacePaused
        | R::ScheduleHidden(_)
        | R::ScheduleStarted
        | R::BookingNotOpenYet(_)
        | R::BookingClosed(_)
        | R::SoldOut { .. }
        | R::PaymentDeclined(_)
        | R::BookingFailedRefunded
        | R::NotCancellable
        | R::PastCancellationDeadline(_)
        | R::LineAlreadyCancelled(_)
        | R::PartialCancelNotAllowed
        | R::ClassBeforeUsageDate
        | R::NoShow
        | R::NotDue(_)
        | R::NothingToRefund
        | R::BeforeUsageTime => Code::FailedPrecondition,
    };
    status(code, e.reason(), e.to_string())
}
