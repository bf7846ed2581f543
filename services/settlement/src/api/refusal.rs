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
    let code = match &e {
        // The service's own configuration, never the caller's request.
        SettlementError::CommissionAboveMaximum(_) => Code::Internal,
    };
    status(code, e.reason(), e.to_string())
}
