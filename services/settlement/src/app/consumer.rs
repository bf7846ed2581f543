//! Settles the reservations' facts: each paid booking, refund, completion and payment-only
//! cancel becomes entries on the reservation's account and one posting on its partner's
//! ledger, with the consumer's inbox row, through the command runner (a redelivery has no
//! second effect).
use uuid::Uuid;
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    command::{Origin, Runner},
    events::EventSet,
};
use yeyak_transport::{EventHandler, HandlerError};

use super::commands::SettleFact;
use crate::domain::{CommissionTable, facts::SettlementFact};

/// Consumes the reservations' events into `account-<reservation>` and `ledger-<partner>`.
pub struct ReservationConsumer {
    runner: Runner,
    rates: CommissionTable,
}

impl ReservationConsumer {
    pub const NAME: &'static str = "settlement-ledger";

    pub fn new(runner: Runner, rates: CommissionTable) -> Self {
        Self { runner, rates }
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
        let command = SettleFact {
            fact,
            partner_id,
            rates: self.rates.clone(),
            source_event_id: event.event_id.to_string(),
            // The fact's business time: a completion's date is the day it happened.
            occurred_at_us: event.metadata.occurred_at_us,
        };
        self.runner
            .run(&Origin::reaction(Self::NAME, event), &command)
            .await?;
        Ok(())
    }
}
