//! The one place catalog failures become gRPC statuses.
use tonic::{Code, Status};
use yeyak_kit::status::{access, invalid_field, of, status};

use crate::{app::Error, domain::CatalogError};

/// The status of a failed command or query.
pub fn failure(e: Error) -> Status {
    of(e, refusal)
}

/// The status of a domain refusal: its reason code, a human message, and the code by kind.
pub fn refusal(e: CatalogError) -> Status {
    let code = match &e {
        CatalogError::Invalid { field, .. } => {
            return invalid_field(field, e.reason(), e.to_string_without_field());
        }
        CatalogError::Denied(denied) => return access(denied),
        CatalogError::NotFound(_) => Code::NotFound,
        CatalogError::AlreadyExists(_) => Code::AlreadyExists,
        CatalogError::RoleMayNotInvite { .. } => Code::PermissionDenied,
        CatalogError::BusinessVerifiedChannelRequired { .. }
        | CatalogError::PlaceAlreadyApproved
        | CatalogError::PlaceNotInReview
        | CatalogError::PlaceNotOperating
        | CatalogError::PlaceIsDraft
        | CatalogError::ProductDeleted
        | CatalogError::SellerNotVerified
        | CatalogError::PriceMaximumLocked { .. }
        | CatalogError::OperatingPeriodLocked
        | CatalogError::NoSchedules
        | CatalogError::AlwaysOpenHasOneSchedule
        | CatalogError::Sanctioned
        | CatalogError::InReview
        | CatalogError::RevisionInReview
        | CatalogError::AlreadyApproved
        | CatalogError::NothingToReview
        | CatalogError::NotLive
        | CatalogError::CopyNotAllowed(_)
        | CatalogError::ActiveReservations(_)
        | CatalogError::DeleteInReview
        | CatalogError::OnSale(_) => Code::FailedPrecondition,
    };
    status(code, e.reason(), e.to_string())
}
