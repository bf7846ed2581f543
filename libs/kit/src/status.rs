//! gRPC statuses that carry a machine-readable reason (`google.rpc.ErrorInfo`).
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every yeyak error.
pub const DOMAIN: &str = "yeyak.dev";

/// A status with `code`, a reason code such as `SOLD_OUT`, and a human message.
pub fn status(code: Code, reason: &str, message: impl Into<String>) -> Status {
    let details = ErrorDetails::with_error_info(reason, DOMAIN, std::collections::HashMap::new());
    Status::with_error_details(code, message, details)
}

/// `INVALID_ARGUMENT` for one field, with the reason and a `BadRequest` field violation.
pub fn invalid_field(field: &str, reason: &str, message: impl Into<String>) -> Status {
    let message = message.into();
    let mut details =
        ErrorDetails::with_error_info(reason, DOMAIN, std::collections::HashMap::new());
    details.add_bad_request_violation(field, message.clone());
    Status::with_error_details(
        Code::InvalidArgument,
        format!("{field}: {message}"),
        details,
    )
}

/// The reason code of a status made by this module, if any.
pub fn reason(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

/// Parses a UUID field, or says precisely which field is wrong.
pub fn parse_uuid(field: &str, value: &str) -> Result<uuid::Uuid, Status> {
    if value.is_empty() {
        return Err(invalid_field(field, "REQUIRED", "is required"));
    }
    uuid::Uuid::parse_str(value).map_err(|_| invalid_field(field, "MALFORMED_ID", "must be a UUID"))
}

/// The status of a failed command or query: `refused` maps the service's domain refusal (each
/// service's `api` holds that one mapping); the runner's own failures map the same everywhere.
pub fn of<E>(e: crate::command::Error<E>, refused: impl FnOnce(E) -> Status) -> Status {
    use crate::command::Error;
    match e {
        Error::Refused(e) => refused(e),
        Error::Denied(e) => access(&e),
        Error::Busy { stream_id } => status(
            Code::Aborted,
            "CONCURRENCY_CONFLICT",
            format!("{stream_id} changed concurrently; retry the request with the same request_id"),
        ),
        Error::RequestReused => invalid_field(
            "request_id",
            "REQUEST_ID_REUSED",
            "this request_id was used by a different request: use a new request_id",
        ),
        Error::Load(e) => from_load(e),
        Error::Append(e) => from_append(e),
    }
}

/// The status of a refused operator check.
pub fn access(e: &crate::access::AccessError) -> Status {
    use crate::access::AccessError;
    let code = match e {
        AccessError::PartnerNotKnownYet => Code::Unavailable,
        _ => Code::PermissionDenied,
    };
    status(code, e.reason(), e.to_string())
}

fn from_append(e: yeyak_eventlog::AppendError) -> Status {
    use yeyak_eventlog::AppendError;
    match e {
        AppendError::Conflict { stream_id, .. } => status(
            Code::Aborted,
            "CONCURRENCY_CONFLICT",
            format!("{stream_id} changed concurrently; retry the request with the same request_id"),
        ),
        AppendError::EventIdReused(_) | AppendError::RequestReused { .. } => invalid_field(
            "request_id",
            "REQUEST_ID_REUSED",
            "this request_id was used by a different request: use a new request_id",
        ),
        AppendError::Invalid(why) => status(Code::Internal, "INVALID_APPEND", why),
        AppendError::Store(e) => from_store(e),
    }
}

fn from_store(e: yeyak_eventlog::StoreError) -> Status {
    tracing::error!(error = %e, "event log unavailable");
    status(
        Code::Unavailable,
        "STORAGE_UNAVAILABLE",
        "the event log is unavailable; retry later",
    )
}

fn from_load(e: crate::events::LoadError) -> Status {
    match e {
        crate::events::LoadError::Store(e) => from_store(e),
        crate::events::LoadError::Decode(e) => {
            tracing::error!(error = %e, "stored event could not be decoded");
            status(
                Code::Internal,
                "CORRUPT_STREAM",
                "a stored event could not be read",
            )
        }
    }
}

/// Parses a client request id: a UUID that makes a retried command return its first result.
pub fn request_id(value: &str) -> Result<uuid::Uuid, Status> {
    parse_uuid("request_id", value)
}

/// Checks a free-text field's length in characters after trimming; returns the trimmed text.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, Status> {
    let trimmed = value.trim();
    let n = trimmed.chars().count();
    if n < min {
        return Err(invalid_field(
            field,
            "REQUIRED",
            format!("needs at least {min} characters"),
        ));
    }
    if n > max {
        return Err(invalid_field(
            field,
            "TOO_LONG",
            format!("has at most {max} characters"),
        ));
    }
    if trimmed.chars().any(|c| c.is_control()) {
        return Err(invalid_field(
            field,
            "CONTROL_CHARACTERS",
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_string())
}

/// A page request: `size` (0 for the default 20, at most 100) and the previous page's token
/// (`sort:key`), as a limit and the row to continue after.
pub fn page(size: u32, token: &str, what: &str) -> Result<(u32, Option<(i64, String)>), Status> {
    let limit = match size {
        0 => 20,
        n @ 1..=100 => n,
        _ => {
            return Err(invalid_field(
                "page_size",
                "OUT_OF_RANGE",
                format!("a page has 1 to 100 {what}"),
            ));
        }
    };
    if token.is_empty() {
        return Ok((limit, None));
    }
    let malformed = || invalid_field("page_token", "MALFORMED", "use the previous page's token");
    let (sort, key) = token.split_once(':').ok_or_else(malformed)?;
    Ok((
        limit,
        Some((sort.parse().map_err(|_| malformed())?, key.to_string())),
    ))
}

/// The token of the page after the one whose last row is `next` (empty on the last page).
pub fn page_token(next: Option<(i64, String)>) -> String {
    next.map(|(sort, key)| format!("{sort}:{key}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_their_reason_code() {
        let s = status(Code::FailedPrecondition, "SOLD_OUT", "no seats left");
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert_eq!(reason(&s).as_deref(), Some("SOLD_OUT"));
        let f = invalid_field("quantity", "OUT_OF_RANGE", "must be 1 to 50");
        assert_eq!(f.code(), Code::InvalidArgument);
        assert_eq!(reason(&f).as_deref(), Some("OUT_OF_RANGE"));
        assert!(f.message().starts_with("quantity: "));
    }

    #[test]
    fn uuid_fields_are_checked() {
        assert_eq!(
            reason(&parse_uuid("id", "").unwrap_err()).as_deref(),
            Some("REQUIRED")
        );
        assert_eq!(
            reason(&parse_uuid("id", "nope").unwrap_err()).as_deref(),
            Some("MALFORMED_ID")
        );
        assert!(parse_uuid("id", "67e55044-10b1-426f-9247-bb680e5fe0c8").is_ok());
    }
}
