//! Redriving a log-tail consumer's dead letters (`yeyak admin dead-letters --redrive`): the
//! operator appends a request to the consumer's dead-letter stream, and the consumer, which looks
//! at that stream between batches, hands the original event (read again from its source's log)
//! to its handler and records the outcome there.
//!
//! The dead letter was written with the consumer's inbox row for the event, so the event cannot
//! be applied again under its own id. Attempt `n` of a redrive applies it under
//! [`attempt_id`]`(event, n)` instead. That id is deterministic, so an attempt repeated after a
//! crash finds its own inbox row and has no second effect. `n` counts the attempts recorded as
//! failed, and a failed attempt writes nothing but its outcome.
use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent,
};

use crate::{
    DeadLetter, EventHandler, Outcome, TransportError, apply, dead_letter_stream,
    dead_letters_unwritten,
};

/// An operator asked for a dead letter to be redriven.
pub const REDRIVE_REQUESTED_TYPE: &str = "yeyak.transport.DeadLetterRedriveRequested";
/// How a redrive ended.
pub const REDRIVEN_TYPE: &str = "yeyak.transport.DeadLetterRedriven";
/// How often a log-tail consumer looks for redrive requests by default.
pub const REDRIVE_INTERVAL: Duration = Duration::from_secs(5);
/// The outcome of a redrive that applied the event.
pub const APPLIED: &str = "applied";
const FAILED_PREFIX: &str = "set aside again: ";

/// The id under which attempt `n` of a redrive applies event `event_id`.
pub fn attempt_id(event_id: Uuid, n: u64) -> Uuid {
    Uuid::new_v5(&event_id, format!("redrive-{n}").as_bytes())
}

fn text_event(
    event_type: &str,
    event_id: Uuid,
    causation: Uuid,
    actor: &str,
    body: String,
) -> NewEvent {
    NewEvent {
        event_id,
        event_type: event_type.to_string(),
        schema_version: 1,
        payload: body.into_bytes(),
        metadata: Metadata {
            correlation_id: causation,
            causation_id: Some(causation),
            actor: actor.to_string(),
            occurred_at_us: 0,
            trace_context: None,
        },
    }
}

/// A `name: value` line of a text payload.
fn field<'a>(payload: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(payload)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(": ")))
}

/// The original event a request or an outcome is about.
fn original_of(e: &RecordedEvent) -> Option<Uuid> {
    field(&e.payload, "event")?.parse().ok()
}

/// `consumer`'s dead-letter stream, requests and outcomes included.
async fn dead_letters(
    own: &dyn EventStore,
    consumer: &str,
) -> Result<Vec<RecordedEvent>, TransportError> {
    Ok(own
        .read_stream(&dead_letter_stream(consumer), 1, 100_000)
        .await?)
}

/// Appends `event` to `consumer`'s dead-letter stream.
async fn append(
    own: &dyn EventStore,
    consumer: &str,
    event: NewEvent,
) -> Result<(), TransportError> {
    own.append(AppendRequest::single(
        dead_letter_stream(consumer),
        ExpectedVersion::Any,
        vec![event],
    ))
    .await
    .map_err(dead_letters_unwritten)?;
    Ok(())
}

/// Asks the consumer that set `letter` aside to apply its event again (in the consumer's own
/// log, `own`).
pub async fn request(
    own: &dyn EventStore,
    letter: &DeadLetter,
    actor: &str,
) -> Result<(), TransportError> {
    let body = format!("event: {}\nsource: {}\n", letter.event_id, letter.source);
    let event = text_event(
        REDRIVE_REQUESTED_TYPE,
        Uuid::new_v4(),
        letter.event_id,
        actor,
        body,
    );
    append(own, &letter.consumer, event).await
}

/// The outcome of each redriven event of `consumer`'s dead letters, by the original event's id
/// (the last one recorded; `None` while requested and not yet handled).
pub async fn outcomes(
    own: &dyn EventStore,
    consumer: &str,
) -> Result<HashMap<Uuid, Option<String>>, TransportError> {
    let mut out = HashMap::new();
    for e in &dead_letters(own, consumer).await? {
        let Some(original) = original_of(e) else {
            continue;
        };
        if e.event_type == REDRIVE_REQUESTED_TYPE {
            out.insert(original, None);
        } else if e.event_type == REDRIVEN_TYPE {
            out.insert(original, field(&e.payload, "outcome").map(str::to_string));
        }
    }
    Ok(out)
}

/// Handles every redrive request of `handler`'s dead letters from `source` not handled yet.
/// `false` when shutdown came first (the request stays, and is handled next time).
pub(crate) async fn handle_requests(
    own: &dyn EventStore,
    source_log: &dyn EventStore,
    source: &str,
    handler: &dyn EventHandler,
    shutdown: &CancellationToken,
) -> Result<bool, TransportError> {
    let consumer = handler.name();
    let events = dead_letters(own, consumer).await?;
    // The requests answered, and how many attempts failed for each event.
    let mut handled = HashSet::new();
    let mut failed: HashMap<Uuid, u64> = HashMap::new();
    for e in events.iter().filter(|e| e.event_type == REDRIVEN_TYPE) {
        handled.extend(e.metadata.causation_id);
        if field(&e.payload, "outcome").is_some_and(|o| o.starts_with(FAILED_PREFIX))
            && let Some(original) = original_of(e)
        {
            *failed.entry(original).or_default() += 1;
        }
    }
    let requests = events.iter().filter(|e| {
        e.event_type == REDRIVE_REQUESTED_TYPE
            && !handled.contains(&e.event_id)
            && field(&e.payload, "source") == Some(source)
    });
    for request in requests {
        let Some(original) = original_of(request) else {
            continue;
        };
        let outcome = match source_log.event_by_id(original).await? {
            None => format!("{FAILED_PREFIX}the event is not in the log of {source}"),
            Some(mut event) => {
                let n = failed.get(&original).copied().unwrap_or(0);
                event.event_id = attempt_id(original, n);
                match apply(handler, &event, shutdown).await {
                    Outcome::Applied => APPLIED.to_string(),
                    Outcome::Poison(reason) => {
                        *failed.entry(original).or_default() += 1;
                        format!("{FAILED_PREFIX}{}", reason.replace('\n', " "))
                    }
                    Outcome::Interrupted => return Ok(false),
                }
            }
        };
        tracing::info!(consumer, event_id = %original, %outcome, "dead letter redriven");
        let body = format!("event: {original}\noutcome: {outcome}\n");
        let marker = text_event(
            REDRIVEN_TYPE,
            Uuid::new_v5(&request.event_id, b"redriven"),
            request.event_id,
            &format!("service:{consumer}"),
            body,
        );
        append(own, consumer, marker).await?;
    }
    Ok(true)
}
