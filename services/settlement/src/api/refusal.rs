//! The one place settlement failures become gRPC statuses.
use tonic::{Code, Status};
use yeyak_kit::status::{of, status};

use crate::{app::Error, domain::SettlementError};

/// The status of a failed command or query.
pub fn failure(e: Error) -> Status {
    of(e, refusal)
}

/// The status of a domain refusal: its reason code, a human message, and the code by kind.
pub fn refusal(e: SettlementError) -> Status {
    use SettlementError as E;
    let code = match &e {
        // The service's own configuration, never the caller's request.
        E::CommissionAboveMaximum(_) | E::CommissionTableInvalid(_) => Code::Internal,
        E::AmountOutOfRange(_)
        | E::WithdrawalAboveLimit(_)
        | E::PeriodInvalid(_)
        | E::BusinessTypeMissing
        | E::DocumentsMissing(_)
        | E::MailOrderMissing
        | E::MailOrderNumberMissing
        | E::RejectionReasonMissing => Code::InvalidArgument,
        E::BalanceInsufficient { .. }
        | E::AccountNotVerified
        | E::PayoutNotHeld(_)
        | E::BatchNotOpen(_)
        | E::AccountHolderNotOwner { .. }
        | E::NothingToReview
        | E::AccountRefused(_) => Code::FailedPrecondition,
        E::PayoutNotFound(_) => Code::NotFound,
        E::ProviderUnavailable(_) => Code::Unavailable,
    };
    status(code, e.reason(), e.to_string())
}
