//! The settlement's commands: which streams each reads and writes, decided with the domain's
//! aggregates by the kit's runner.
use uuid::Uuid;
use yeyak_kit::command::{Aggregate, Command, Decision, Error, Reads};

use super::streams;
use crate::domain::{
    CommissionRate, SettlementError,
    ledger::{Ledger, LedgerCommand},
};

/// Settles a reservation fact on its partner's ledger. Reads nothing: a line depends on the fact
/// and the rate alone, and goes after whatever the ledger holds, since facts of different
/// reservations come in any order.
pub struct RecordLine {
    pub partner_id: Uuid,
    pub rate: CommissionRate,
    pub command: LedgerCommand,
}

#[async_trait::async_trait]
impl Command for RecordLine {
    type State = ();
    type Output = ();
    type Error = SettlementError;

    async fn load(&self, _: &mut Reads<'_>) -> Result<(), Error<SettlementError>> {
        Ok(())
    }

    fn decide(&self, _: (), _now_us: i64) -> Result<Decision<()>, Error<SettlementError>> {
        let events = Ledger::default()
            .decide(self.command.clone(), &self.rate)
            .map_err(Error::Refused)?;
        let stream = streams::ledger(self.partner_id);
        Ok(events.iter().fold(Decision::new(()), |d, e| {
            d.emit_unordered(stream.clone(), e)
        }))
    }
}
