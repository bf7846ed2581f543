//! The settlement's commands: which streams each reads and writes, decided with the domain's
//! aggregates by the kit's runner.
use uuid::Uuid;
use yeyak_kit::{
    command::{Aggregate, Command, Decision, Error, Reads},
    events::derived_id,
};
use yeyak_proto::settlement::events::v1::{LedgerEntryRecorded, PayoutBatchRun};

use super::streams;
use crate::domain::{
    CommissionTable, SettlementError,
    account::{Account, AccountContext, posting},
    facts::SettlementFact,
    ledger::{LedgerCommand, LedgerContext, LedgerEvent, PartnerLedger},
    seller::{Seller, SellerCommand, SellerEvent},
};

/// Settles a reservation fact: its entries on the reservation's account (read, so a fact is
/// decided on the lines as they are) and their posting on the partner's ledger (appended after
/// whatever it holds: postings of different reservations come in any order).
pub struct SettleFact {
    pub fact: SettlementFact,
    pub partner_id: Uuid,
    pub rates: CommissionTable,
    pub source_event_id: String,
    pub occurred_at_us: i64,
}

#[async_trait::async_trait]
impl Command for SettleFact {
    type State = Account;
    type Output = Vec<LedgerEntryRecorded>;
    type Error = SettlementError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Account, Error<SettlementError>> {
        Ok(reads
            .aggregate(&streams::account(self.fact.reservation_id()))
            .await?)
    }

    fn decide(
        &self,
        account: Account,
        _now_us: i64,
    ) -> Result<Decision<Self::Output>, Error<SettlementError>> {
        let context = AccountContext {
            rates: self.rates.clone(),
            occurred_at_us: self.occurred_at_us,
            source_event_id: self.source_event_id.clone(),
        };
        let entries = account
            .decide(self.fact.clone(), &context)
            .map_err(Error::Refused)?;
        let id = derived_id("settlement-posting", &self.source_event_id, 0).to_string();
        let Some(posted) = posting(&entries, id, self.occurred_at_us) else {
            return Ok(Decision::new(entries));
        };
        let account = streams::account(self.fact.reservation_id());
        Ok(Decision::new(entries.clone())
            .emit_all(
                account,
                entries
                    .into_iter()
                    .map(crate::domain::account::AccountEvent::from),
            )
            .emit_unordered(streams::ledger(self.partner_id), &LedgerEvent::from(posted)))
    }
}

/// A change to a partner's ledger, decided on its fold (a withdrawal also on whether the
/// settlement account is verified).
pub struct ChangeLedger {
    pub partner_id: Uuid,
    pub command: LedgerCommand,
}

#[async_trait::async_trait]
impl Command for ChangeLedger {
    type State = (PartnerLedger, LedgerCommand);
    type Output = PartnerLedger;
    type Error = SettlementError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Self::State, Error<SettlementError>> {
        let ledger = reads.aggregate(&streams::ledger(self.partner_id)).await?;
        let mut command = self.command.clone();
        if let LedgerCommand::Withdraw {
            account_verified, ..
        } = &mut command
        {
            let seller: Seller = reads.aggregate(&streams::seller(self.partner_id)).await?;
            *account_verified = seller.verified_account().is_some();
        }
        Ok((ledger, command))
    }

    fn decide(
        &self,
        (ledger, command): Self::State,
        now_us: i64,
    ) -> Result<Decision<PartnerLedger>, Error<SettlementError>> {
        let context = LedgerContext {
            partner_id: self.partner_id.to_string(),
            now_us,
        };
        let events = ledger.decide(command, &context).map_err(Error::Refused)?;
        Ok(Decision::new(ledger.evolved(&events))
            .emit_all(streams::ledger(self.partner_id), events))
    }
}

/// A change to a partner's settlement information.
pub struct ChangeSeller {
    pub partner_id: Uuid,
    pub command: SellerCommand,
}

#[async_trait::async_trait]
impl Command for ChangeSeller {
    type State = Seller;
    type Output = Seller;
    type Error = SettlementError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Seller, Error<SettlementError>> {
        Ok(reads.aggregate(&streams::seller(self.partner_id)).await?)
    }

    fn decide(
        &self,
        seller: Seller,
        now_us: i64,
    ) -> Result<Decision<Seller>, Error<SettlementError>> {
        let context = (self.partner_id.to_string(), now_us);
        let events = seller
            .decide(self.command.clone(), &context)
            .map_err(Error::Refused)?;
        Ok(Decision::new(seller.evolved(&events))
            .emit_all::<SellerEvent>(streams::seller(self.partner_id), events))
    }
}

/// Records what a payout batch run did, after whatever the day's batch stream holds.
pub struct RecordBatch {
    pub day: jiff::civil::Date,
    pub run: PayoutBatchRun,
}

#[async_trait::async_trait]
impl Command for RecordBatch {
    type State = ();
    type Output = ();
    type Error = SettlementError;

    async fn load(&self, _: &mut Reads<'_>) -> Result<(), Error<SettlementError>> {
        Ok(())
    }

    fn decide(&self, _: (), _now_us: i64) -> Result<Decision<()>, Error<SettlementError>> {
        Ok(Decision::new(()).emit_unordered(streams::batch(self.day), &self.run))
    }
}
