//! The reservations consumer that records partner messages, preferences, and message queries.
use std::sync::Arc;

use tonic::{Code, Status};
use uuid::Uuid;
use yeyak_eventlog::{AppendRequest, EventStore, ExpectedVersion, RecordedEvent};
use yeyak_kit::{
    auth::Caller,
    events::{Cause, DecodeError, decode_as, derived_id, encode, expected, load},
    status::{from_append, from_load, status},
};
use yeyak_proto::notifications::events::v1::{PartnerMessageRecorded, PartnerPreferencesChanged};
use yeyak_transport::{EventHandler, HandlerError};

use crate::domain::{self, Preferences, ReservationFact};

pub fn messages_stream(partner_id: &str) -> String {
    format!("partner-messages-{partner_id}")
}
pub fn preferences_stream(partner_id: &str) -> String {
    format!("partner-preferences-{partner_id}")
}

#[derive(Clone)]
pub struct Notifications {
    log: Arc<dyn EventStore>,
}

impl Notifications {
    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self { log }
    }

    pub async fn preferences(
        &self,
        partner_id: &str,
    ) -> Result<(Preferences, Option<u64>), yeyak_kit::events::LoadError> {
        load(
            &*self.log,
            &preferences_stream(partner_id),
            Preferences::default(),
            |s, e| {
                if let Some(ev) = decode_as::<PartnerPreferencesChanged>(e)? {
                    s.apply(ev);
                }
                Ok(())
            },
        )
        .await
    }

    /// The partner's messages, oldest first, with when each was recorded.
    pub async fn messages(
        &self,
        partner_id: Uuid,
    ) -> Result<Vec<(PartnerMessageRecorded, i64)>, Status> {
        let stream = messages_stream(&partner_id.to_string());
        let (messages, _) = load(&*self.log, &stream, Vec::new(), |out, e| {
            if let Some(m) = decode_as::<PartnerMessageRecorded>(e)? {
                out.push((m, e.recorded_at_us));
            }
            Ok(())
        })
        .await
        .map_err(from_load)?;
        Ok(messages)
    }

    pub async fn set_preferences(
        &self,
        caller: &Caller,
        request_id: Uuid,
        partner_id: Uuid,
        muted: &[i32],
    ) -> Result<PartnerPreferencesChanged, Status> {
        let changed = domain::set_muted(&partner_id.to_string(), muted).map_err(|e| match e {
            domain::PreferenceError::Mandatory => {
                status(Code::FailedPrecondition, "MANDATORY_MESSAGE", e.to_string())
            }
            domain::PreferenceError::UnknownKind(_) => {
                yeyak_kit::status::invalid_field("muted", "UNKNOWN_ENUM_VALUE", e.to_string())
            }
        })?;
        let stream = preferences_stream(&partner_id.to_string());
        let (_, version) = self
            .preferences(&partner_id.to_string())
            .await
            .map_err(from_load)?;
        let cause = Cause::command(
            caller.actor(),
            request_id,
            jiff::Timestamp::now().as_microsecond(),
        );
        let id = derived_id("preferences", &format!("{stream}/{request_id}"), 0);
        self.log
            .append(AppendRequest::single(
                stream,
                expected(version),
                vec![encode(id, &changed, &cause)],
            ))
            .await
            .map_err(from_append)?;
        Ok(changed)
    }
}

/// Decodes the reservation facts partners hear about; other reservation events are ignored.
pub fn reservation_fact(e: &RecordedEvent) -> Result<Option<ReservationFact>, DecodeError> {
    if let Some(v) = decode_as(e)? {
        return Ok(Some(ReservationFact::Booked(v)));
    }
    if let Some(v) = decode_as(e)? {
        return Ok(Some(ReservationFact::Confirmed(v)));
    }
    if let Some(v) = decode_as(e)? {
        return Ok(Some(ReservationFact::Rejected(v)));
    }
    if let Some(v) = decode_as(e)? {
        return Ok(Some(ReservationFact::Cancelled(v)));
    }
    if let Some(v) = decode_as(e)? {
        return Ok(Some(ReservationFact::Completed(v)));
    }
    if let Some(v) = decode_as(e)? {
        return Ok(Some(ReservationFact::PaymentCancelled(v)));
    }
    if let Some(v) = decode_as(e)? {
        return Ok(Some(ReservationFact::Expired(v)));
    }
    if let Some(v) = decode_as(e)? {
        return Ok(Some(ReservationFact::LinesCancelled(v)));
    }
    Ok(None)
}

/// Records a message for the partner for each reservation fact, unless the partner switched that
/// kind off (the Requested message is always recorded). The message and the inbox row are one
/// append, so a redelivered fact records nothing twice.
pub struct ReservationConsumer {
    app: Notifications,
}

impl ReservationConsumer {
    pub const NAME: &'static str = "notifications-partner-messages";

    pub fn new(app: Notifications) -> Self {
        Self { app }
    }
}

#[async_trait::async_trait]
impl EventHandler for ReservationConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(fact) =
            reservation_fact(event).map_err(|e| HandlerError::Poison(e.to_string()))?
        else {
            return Ok(());
        };
        let draft = domain::draft(&fact);
        let (prefs, _) = self
            .app
            .preferences(&draft.partner_id)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))?;
        if !prefs.wants(draft.kind) {
            return Ok(());
        }
        let request = {
            let message = PartnerMessageRecorded {
                message_id: derived_id(Self::NAME, &event.event_id.to_string(), 0).to_string(),
                partner_id: draft.partner_id.clone(),
                reservation_id: draft.reservation_id,
                kind: draft.kind as i32,
                mandatory: domain::is_mandatory(draft.kind),
                text: draft.text,
                source_event_id: event.event_id.to_string(),
            };
            let id = derived_id(Self::NAME, &event.event_id.to_string(), 0);
            AppendRequest::single(
                messages_stream(&draft.partner_id),
                ExpectedVersion::Any,
                vec![encode(id, &message, &Cause::reaction(Self::NAME, event))],
            )
            .with_inbox(Self::NAME, event.event_id)
        };
        HandlerError::from_append(self.app.log.append(request).await)
    }
}
