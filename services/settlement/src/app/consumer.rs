//! Settles the reservations' facts: each completion, and each refund after one, becomes a line
//! on the partner's ledger, with the consumer's inbox row, through the command runner.
use uuid::Uuid;
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    command::{Origin, Runner},
    events::{EventSet, derived_id},
};
use yeyak_transport::{EventHandler, HandlerError};

use super::commands::RecordLine;
use crate::domain::{
    CommissionRate,
    ledger::{LedgerCommand, SettlementFact},
};

/// Consumes the reservations' events into `ledger-<partner>`.
pub struct ReservationConsumer {
    runner: Runner,
    rate: CommissionRate,
}

impl ReservationConsumer {
    pub const NAME: &'static str = "settlement-ledger";

    pub fn new(runner: Runner, rate: CommissionRate) -> Self {
        Self { runner, rate }
    }
}

#[async_trait::async_trait]
impl EventHandler for ReservationConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(fact) =
            SettlementFact::decode(event).map_err(|e| HandlerError::Poison(e.to_string()))?
        else {
            return Ok(());
        };
        let Ok(partner_id) = Uuid::parse_str(fact.partner_id()) else {
            return Err(HandlerError::Poison(format!(
                "{} names no partner",
                event.event_type
            )));
        };
        let command = RecordLine {
            partner_id,
            rate: self.rate,
            command: LedgerCommand::Record {
                fact,
                // Derived from the fact's event: every delivery names the same line.
                line_id: derived_id(Self::NAME, &event.event_id.to_string(), 0).to_string(),
                source_event_id: event.event_id.to_string(),
            },
        };
        self.runner
            .run(&Origin::reaction(Self::NAME, event), &command)
            .await?;
        Ok(())
    }
}
