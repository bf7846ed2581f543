//! A log event as a Kafka record, and back: CloudEvents binary mode.
//!
//! Key = stream id. Value = the protobuf payload. Headers carry the CloudEvents attributes
//! (`ce_id`, `ce_type`, `ce_source`, `ce_time`, `ce_specversion`, `ce_subject`), the content type,
//! yeyak's envelope extensions (`ce_streamversion`, `ce_position`, `ce_commit`, `ce_schemaversion`,
//! `ce_recordedtime`, `ce_correlationid`, `ce_causationid`, `ce_actor`) and W3C `traceparent`.
use rdkafka::message::{Header, Headers, OwnedHeaders};
use uuid::Uuid;
use yeyak_eventlog::{Metadata, Position, RecordedEvent};

pub const CONTENT_TYPE: &str = "application/protobuf";
pub const SPEC_VERSION: &str = "1.0";

/// The CloudEvents `source` of a service's events.
pub fn source_uri(source: &str) -> String {
    format!("/yeyak/{source}")
}

fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_microsecond())
}

/// The headers of a record carrying `event` from service `source`, its `traceparent` being
/// `trace` (the relay's producer span) or, without one, the event's own.
pub fn headers(source: &str, event: &RecordedEvent, trace: Option<&str>) -> OwnedHeaders {
    let mut pairs: Vec<(&str, String)> = vec![
        ("ce_specversion", SPEC_VERSION.to_string()),
        ("ce_id", event.event_id.to_string()),
        ("ce_type", event.event_type.clone()),
        ("ce_source", source_uri(source)),
        ("ce_subject", event.stream_id.clone()),
        ("ce_time", rfc3339(event.metadata.occurred_at_us)),
        ("content-type", CONTENT_TYPE.to_string()),
        ("ce_streamversion", event.stream_version.to_string()),
        ("ce_position", event.position.position.to_string()),
        ("ce_commit", event.position.commit.to_string()),
        ("ce_schemaversion", event.schema_version.to_string()),
        ("ce_recordedtime", rfc3339(event.recorded_at_us)),
        (
            "ce_correlationid",
            event.metadata.correlation_id.to_string(),
        ),
        ("ce_actor", event.metadata.actor.clone()),
    ];
    if let Some(causation) = event.metadata.causation_id {
        pairs.push(("ce_causationid", causation.to_string()));
    }
    if let Some(trace) = trace.or(event.metadata.trace_context.as_deref()) {
        pairs.push(("traceparent", trace.to_string()));
    }
    pairs
        .into_iter()
        .fold(OwnedHeaders::new_with_capacity(16), |h, (key, value)| {
            h.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        })
}

/// The headers of a record, as text pairs (non-UTF-8 values are dropped).
pub fn header_pairs<H: Headers>(headers: Option<&H>) -> Vec<(String, String)> {
    let Some(headers) = headers else {
        return Vec::new();
    };
    headers
        .iter()
        .filter_map(|h| {
            Some((
                h.key.to_string(),
                std::str::from_utf8(h.value?).ok()?.to_string(),
            ))
        })
        .collect()
}

/// Why a record is not a yeyak event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("malformed header {0}")]
    Malformed(&'static str),
    #[error("unsupported CloudEvents spec version {0}")]
    SpecVersion(String),
    #[error("unsupported content type {0}")]
    ContentType(String),
    #[error("the record has no payload")]
    NoPayload,
}

/// Reads a record's headers, key and value back into the event the relay published.
pub fn event_from(
    pairs: &[(String, String)],
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
) -> Result<RecordedEvent, RecordError> {
    let get = |name: &'static str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let need = |name: &'static str| get(name).ok_or(RecordError::Missing(name));
    let spec = need("ce_specversion")?;
    if spec != SPEC_VERSION {
        return Err(RecordError::SpecVersion(spec.to_string()));
    }
    let content_type = get("content-type").unwrap_or(CONTENT_TYPE);
    if content_type != CONTENT_TYPE {
        return Err(RecordError::ContentType(content_type.to_string()));
    }
    let uuid = |name: &'static str| -> Result<Uuid, RecordError> {
        Uuid::parse_str(need(name)?).map_err(|_| RecordError::Malformed(name))
    };
    let number = |name: &'static str| -> Result<u64, RecordError> {
        need(name)?
            .parse()
            .map_err(|_| RecordError::Malformed(name))
    };
    let time = |name: &'static str| -> Result<i64, RecordError> {
        parse_rfc3339(need(name)?).ok_or(RecordError::Malformed(name))
    };
    let stream_id = need("ce_subject")?.to_string();
    if key.is_some_and(|k| k != stream_id.as_bytes()) {
        return Err(RecordError::Malformed("key"));
    }
    Ok(RecordedEvent {
        position: Position {
            commit: number("ce_commit")?,
            position: number("ce_position")?,
        },
        event_id: uuid("ce_id")?,
        stream_id,
        stream_version: number("ce_streamversion")?,
        event_type: need("ce_type")?.to_string(),
        schema_version: u32::try_from(number("ce_schemaversion")?)
            .map_err(|_| RecordError::Malformed("ce_schemaversion"))?,
        payload: payload.ok_or(RecordError::NoPayload)?.to_vec(),
        metadata: Metadata {
            correlation_id: uuid("ce_correlationid")?,
            causation_id: match get("ce_causationid") {
                Some(c) => {
                    Some(Uuid::parse_str(c).map_err(|_| RecordError::Malformed("ce_causationid"))?)
                }
                None => None,
            },
            actor: need("ce_actor")?.to_string(),
            occurred_at_us: time("ce_time")?,
            trace_context: get("traceparent").map(str::to_string),
        },
        recorded_at_us: time("ce_recordedtime")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> RecordedEvent {
        RecordedEvent {
            position: Position {
                commit: 812,
                position: 42,
            },
            event_id: Uuid::new_v4(),
            stream_id: "reservation-1".into(),
            stream_version: 3,
            event_type: "yeyak.reservations.events.v1.ReservationConfirmed".into(),
            schema_version: 1,
            payload: vec![1, 2, 3],
            metadata: Metadata {
                correlation_id: Uuid::new_v4(),
                causation_id: Some(Uuid::new_v4()),
                actor: "operator:op-1".into(),
                occurred_at_us: 1_800_000_000_123_456,
                trace_context: Some(
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
                ),
            },
            recorded_at_us: 1_800_000_000_223_456,
        }
    }

    #[test]
    fn an_event_survives_the_trip_through_a_record() {
        let e = sample();
        let pairs = header_pairs(Some(&headers("reservations", &e, None)));
        assert!(pairs.contains(&("ce_source".into(), "/yeyak/reservations".into())));
        assert!(pairs.contains(&("content-type".into(), CONTENT_TYPE.into())));
        let back = event_from(&pairs, Some(e.stream_id.as_bytes()), Some(&e.payload)).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn records_that_are_not_yeyak_events_are_refused_with_the_reason() {
        let e = sample();
        let mut pairs = header_pairs(Some(&headers("reservations", &e, None)));
        assert_eq!(event_from(&pairs, None, None), Err(RecordError::NoPayload));
        assert_eq!(
            event_from(&pairs, Some(b"other-key"), Some(&e.payload)),
            Err(RecordError::Malformed("key"))
        );
        pairs.retain(|(k, _)| k != "ce_id");
        assert_eq!(
            event_from(&pairs, None, Some(&e.payload)),
            Err(RecordError::Missing("ce_id"))
        );
        assert_eq!(
            event_from(&[], None, Some(b"x")),
            Err(RecordError::Missing("ce_specversion"))
        );
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_headers_never_panics(
            pairs in proptest::collection::vec(("(ce_[a-z]{1,14}|content-type|traceparent)", "\\PC{0,40}"), 0..20),
            payload in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32)),
        ) {
            let _ = event_from(&pairs, None, payload.as_deref());
        }
    }
}
