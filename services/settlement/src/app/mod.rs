//! The settlement's application layer: the command that settles a reservation fact, handed to
//! the kit's command runner ([`commands`]); the queries ([`Settlement`]); the consumer of the
//! reservations' events ([`consumer`]).
pub mod commands;
pub mod consumer;
pub mod streams;

use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::EventStore;
use yeyak_kit::{
    access::load_operators,
    auth::Caller,
    clock::SharedClock,
    command::{self, Reads, Runner},
};
use yeyak_proto::settlement::events::v1::SettlementLineRecorded;

use crate::domain::{CommissionRate, SettlementError, access, ledger::Ledger};

/// Why a settlement command or query did not complete.
pub type Error = command::Error<SettlementError>;

/// The settlement over its own event log, charging one commission rate.
#[derive(Clone)]
pub struct Settlement {
    runner: Runner,
    rate: CommissionRate,
}

impl Settlement {
    /// Event ids of the settlement's reactions derive within this namespace.
    pub const NAMESPACE: &'static str = crate::SOURCE;

    pub fn new(log: Arc<dyn EventStore>, clock: SharedClock, rate: CommissionRate) -> Self {
        Self {
            runner: Runner::new(log, clock, Self::NAMESPACE),
            rate,
        }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    pub fn rate(&self) -> CommissionRate {
        self.rate
    }

    /// The partner's settlement lines, oldest first, for its 관리자 (and platform operations).
    pub async fn lines(
        &self,
        caller: &Caller,
        partner_id: Uuid,
    ) -> Result<Vec<SettlementLineRecorded>, Error> {
        let partner = partner_id.to_string();
        let log = &**self.runner.log();
        let operators = load_operators(&mut Reads::new(log), &partner).await?;
        access::may_see_settlement(caller, &partner, operators.as_ref())?;
        let (ledger, _) = command::aggregate::<Ledger>(log, &streams::ledger(partner_id)).await?;
        Ok(ledger.lines)
    }
}
