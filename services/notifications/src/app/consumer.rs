//! Tells partners of their reservations: each reservation fact becomes a message on the
//! partner's log, with the consumer's inbox row, through the command runner.
use uuid::Uuid;
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    command::{Origin, Runner},
    events::{EventSet, derived_id},
};
use yeyak_transport::{EventHandler, HandlerError};

use super::commands::RecordMessage;
use crate::domain::messages::{MessageCommand, ReservationFact};

/// Consumes the reservations' events into `partner-messages-<partner>`.
pub struct ReservationConsumer {
    runner: Runner,
}

impl ReservationConsumer {
    pub const NAME: &'static str = "notifications-partner-messages";

    pub fn new(runner: Runner) -> Self {
        Self { runner }
    }
}

#[async_trait::async_trait]
impl EventHandler for ReservationConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    /// A message is appended after whatever the partner's stream holds: facts of different
    /// reservations (the default ordering key) are recorded at once.
    fn concurrency(&self) -> usize {
        16
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(fact) =
            ReservationFact::decode(event).map_err(|e| HandlerError::Poison(e.to_string()))?
        else {
            return Ok(());
        };
        let Ok(partner_id) = Uuid::parse_str(fact.partner_id()) else {
            return Err(HandlerError::Poison(format!(
                "{} names no partner",
                event.event_type
            )));
        };
        let command = RecordMessage {
            partner_id,
            command: MessageCommand::Record {
                fact,
                // Derived from the fact's event: every delivery names the same message.
                message_id: derived_id(Self::NAME, &event.event_id.to_string(), 0).to_string(),
                source_event_id: event.event_id.to_string(),
            },
        };
        self.runner
            .run(&Origin::reaction(Self::NAME, event), &command)
            .await?;
        Ok(())
    }
}
