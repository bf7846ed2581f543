//! Protobuf event payloads to and from the log, and the public envelope.
use prost::{Message, Name};
use uuid::Uuid;
use yeyak_eventlog::{Metadata, NewEvent, RecordedEvent};
use yeyak_proto::events::v1::Envelope;

/// Version of every payload schema written today. Bumped per type when a payload changes
/// meaning; old versions are upcast on read.
pub const SCHEMA_VERSION: u32 = 1;

/// Who caused a change, and why: copied into every event a command appends.
#[derive(Debug, Clone)]
pub struct Cause {
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub actor: String,
    /// Business time, microseconds since the Unix epoch.
    pub at_us: i64,
    /// W3C `traceparent` of the current trace, so consumers continue it.
    pub trace_context: Option<String>,
}

impl Cause {
    /// The cause of an effect of `event` in a consumer named `consumer`.
    pub fn reaction(consumer: &str, event: &RecordedEvent) -> Self {
        Self {
            correlation_id: event.metadata.correlation_id,
            causation_id: Some(event.event_id),
            actor: format!("service:{consumer}"),
            at_us: event.metadata.occurred_at_us,
            trace_context: crate::telemetry::current_traceparent()
                .or_else(|| event.metadata.trace_context.clone()),
        }
    }

    /// The metadata every event this cause appends carries.
    pub fn metadata(&self) -> Metadata {
        Metadata {
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            actor: self.actor.clone(),
            occurred_at_us: self.at_us,
            trace_context: self.trace_context.clone(),
        }
    }

    /// The cause of a command from `actor`, correlated by its request id, in the current trace.
    pub fn command(actor: String, request_id: Uuid, at_us: i64) -> Self {
        Self {
            correlation_id: request_id,
            causation_id: None,
            actor,
            at_us,
            trace_context: crate::telemetry::current_traceparent(),
        }
    }
}

/// A log event carrying `message`, typed by its fully qualified protobuf name.
pub fn encode<M: Message + Name>(event_id: Uuid, message: &M, cause: &Cause) -> NewEvent {
    NewEvent {
        event_id,
        event_type: M::full_name(),
        schema_version: SCHEMA_VERSION,
        payload: message.encode_to_vec(),
        metadata: cause.metadata(),
    }
}

/// Why a stored event could not be read as a known message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {0} (schema version {1})")]
    UnknownType(String, u32),
    #[error("undecodable {0}: {1}")]
    Malformed(String, prost::DecodeError),
}

/// The events of one kind of stream, as one enum over their protobuf messages.
pub trait EventSet: Sized {
    /// The event as a log event.
    fn encode(&self, event_id: Uuid, cause: &Cause) -> NewEvent;
    /// The log event as one of the set; `Ok(None)` for a type outside the set.
    fn decode(event: &RecordedEvent) -> Result<Option<Self>, DecodeError>;
}

/// Declares an enum over protobuf event messages that implements [`EventSet`], with a `From`
/// for each message.
#[macro_export]
macro_rules! event_set {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident($ty:ty)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis enum $name { $($(#[$vmeta])* $variant($ty)),+ }
        $(impl From<$ty> for $name {
            fn from(e: $ty) -> Self { Self::$variant(e) }
        })+
        impl $crate::command::Payload for $name {
            fn event_type(&self) -> String {
                match self { $(Self::$variant(_) => <$ty as $crate::prost::Name>::full_name()),+ }
            }
            fn encode_payload(&self) -> Vec<u8> {
                match self { $(Self::$variant(e) => $crate::prost::Message::encode_to_vec(e)),+ }
            }
        }
        impl $crate::events::EventSet for $name {
            fn encode(&self, event_id: ::uuid::Uuid, cause: &$crate::events::Cause) -> ::yeyak_eventlog::NewEvent {
                match self { $(Self::$variant(e) => $crate::events::encode(event_id, e, cause)),+ }
            }
            fn decode(event: &::yeyak_eventlog::RecordedEvent) -> Result<Option<Self>, $crate::events::DecodeError> {
                $(if let Some(e) = $crate::events::decode_as::<$ty>(event)? {
                    return Ok(Some(Self::$variant(e)));
                })+
                Ok(None)
            }
        }
    };
}

/// Decodes `event` as `M` when it has M's type; `Ok(None)` when it is another type.
pub fn decode_as<M: Message + Name + Default>(
    event: &RecordedEvent,
) -> Result<Option<M>, DecodeError> {
    if event.event_type != M::full_name() {
        return Ok(None);
    }
    if event.schema_version != SCHEMA_VERSION {
        return Err(DecodeError::UnknownType(
            event.event_type.clone(),
            event.schema_version,
        ));
    }
    M::decode(event.payload.as_slice())
        .map(Some)
        .map_err(|e| DecodeError::Malformed(event.event_type.clone(), e))
}

/// The public envelope of a stored event, as analytics consumers see it.
pub fn envelope(source: &str, event: &RecordedEvent) -> Envelope {
    Envelope {
        event_id: event.event_id.to_string(),
        stream_id: event.stream_id.clone(),
        stream_version: event.stream_version,
        global_position: event.position.position,
        event_type: event.event_type.clone(),
        schema_version: event.schema_version,
        occurred_at: Some(yeyak_proto::time::from_micros(
            event.metadata.occurred_at_us,
        )),
        recorded_at: Some(yeyak_proto::time::from_micros(event.recorded_at_us)),
        correlation_id: event.metadata.correlation_id.to_string(),
        causation_id: event
            .metadata
            .causation_id
            .map(|c| c.to_string())
            .unwrap_or_default(),
        actor: event.metadata.actor.clone(),
        source: source.to_string(),
        payload: event.payload.clone(),
    }
}

/// The id of an entity created by `actor`'s request: the same for every retry of that request.
pub fn created_id(kind: &str, actor: &str, request_id: Uuid) -> Uuid {
    derived_id(kind, &format!("{actor}/{request_id}"), 0)
}

/// A deterministic id for the `n`th event a command or reaction produces, so that a retry
/// produces the same ids and the log stores them once.
pub fn derived_id(namespace: &str, key: &str, n: u32) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("yeyak/{namespace}/{key}/{n}").as_bytes(),
    )
}

/// A time-ordered id for the `n`th event of the command or reaction keyed by `key`, handled at
/// `at_us` (microseconds since the epoch): a UUIDv7 whose timestamp is `at_us`'s millisecond and
/// whose other bits derive from the namespace, the key and `n`. Later handlings sort after
/// earlier ones, so the log's unique index of event ids grows at its end instead of dirtying a
/// random page per event (each a full-page image in PostgreSQL's WAL after a checkpoint), and
/// the same key handled at the same time gives the same id.
pub fn ordered_id(namespace: &str, key: &str, n: u32, at_us: i64) -> Uuid {
    let derived = derived_id(namespace, key, n);
    let mut rest = [0u8; 10];
    rest.copy_from_slice(&derived.as_bytes()[6..]);
    let millis = (at_us.max(0) / 1_000) as u64;
    uuid::Builder::from_unix_timestamp_millis(millis, &rest).into_uuid()
}

/// Why a stream could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] yeyak_eventlog::StoreError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// The expected version for appending after a loaded stream.
pub fn expected(version: Option<u64>) -> yeyak_eventlog::ExpectedVersion {
    match version {
        None => yeyak_eventlog::ExpectedVersion::NoStream,
        Some(v) => yeyak_eventlog::ExpectedVersion::Exact(v),
    }
}
