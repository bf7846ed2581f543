//! What the services' tests share (feature `testing`): callers as the `Authenticated` wrapper
//! hands them to an API, precise-refusal checks, and other services' events as a transport
//! delivers them — the catalog's operator facts among them.
use prost::{Message, Name};
use tonic::{Code, Request, Status};
use uuid::Uuid;
use yeyak_eventlog::{Metadata, RecordedEvent};
use yeyak_proto::catalog::events::v1::{OperatorAccepted, OperatorInvited, OperatorRole};

use crate::{
    auth::{Caller, PlaceScope, Role},
    events::SCHEMA_VERSION,
};

/// The instant the tests' events happened and their clocks start at.
pub const NOW_US: i64 = 1_800_000_000_000_000;

/// A request as it reaches an API behind `Authenticated`: the verified caller in its extensions.
pub fn request<T>(caller: &Caller, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(caller.clone());
    request
}

/// An operator token of `partner` for all its places.
pub fn operator(subject: &str, partner: Uuid) -> Caller {
    Caller {
        subject: subject.into(),
        role: Role::PartnerOperator,
        partner_id: Some(partner),
        places: PlaceScope::All,
    }
}

/// An operator token of `partner` for `places` only.
pub fn operator_of_places(subject: &str, partner: Uuid, places: &[Uuid]) -> Caller {
    Caller {
        places: PlaceScope::Only(places.iter().copied().collect()),
        ..operator(subject, partner)
    }
}

/// A platform operations token.
pub fn ops() -> Caller {
    Caller {
        subject: "ops-1".into(),
        role: Role::PlatformOps,
        partner_id: None,
        places: PlaceScope::All,
    }
}

/// `result` is refused with `code` and the reason code `reason`.
pub fn refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, reason: &str) {
    let status = result.expect_err("refused");
    assert_eq!(
        (status.code(), crate::status::reason(&status).as_deref()),
        (code, Some(reason)),
        "{status:?}"
    );
}

/// Another service's event as a transport delivers it, happened at [`NOW_US`].
pub fn recorded<M: Message + Name>(stream: &str, message: &M) -> RecordedEvent {
    RecordedEvent {
        position: Default::default(),
        event_id: Uuid::new_v4(),
        stream_id: stream.into(),
        stream_version: 1,
        event_type: M::full_name(),
        schema_version: SCHEMA_VERSION,
        payload: message.encode_to_vec(),
        metadata: Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: "another-service".into(),
            occurred_at_us: NOW_US,
            trace_context: None,
        },
        recorded_at_us: NOW_US,
    }
}

/// The catalog's event: `operator` invited to `partner` as `role` for `places` (`None`: all).
pub fn operator_invited(
    partner: Uuid,
    operator: &str,
    role: OperatorRole,
    places: Option<&[Uuid]>,
) -> RecordedEvent {
    let invited = OperatorInvited {
        partner_id: partner.to_string(),
        operator_id: operator.into(),
        role: role as i32,
        all_places: places.is_none(),
        place_ids: places.into_iter().flatten().map(Uuid::to_string).collect(),
    };
    recorded(&format!("partner-{partner}"), &invited)
}

/// The catalog's event: the invited `operator` accepted.
pub fn operator_accepted(partner: Uuid, operator: &str) -> RecordedEvent {
    let accepted = OperatorAccepted {
        partner_id: partner.to_string(),
        operator_id: operator.into(),
    };
    recorded(&format!("partner-{partner}"), &accepted)
}
