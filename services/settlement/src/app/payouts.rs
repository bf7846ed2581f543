//! The daily payout batch and the payout sender.
//!
//! The batch of payout day D settles, for every partner with a ledger, everything payable on or
//! before D (once per partner and day: the settlement's request id derives from both); it runs
//! by itself on D from 10:00 KST and on demand. The sender transfers every instructed payout
//! through the provider and records the outcome: transferred, failed (credited to the balance),
//! or held while the partner has no verified settlement account. An outage leaves the payout
//! instructed; it is sent again on the next look.
use std::sync::Arc;

use jiff::civil::Date;
use prost::Message;
use uuid::Uuid;
use yeyak_eventlog::{ProjectionQuery, ProjectionRow};
use yeyak_kit::{
    CancellationToken,
    command::{Origin, Runner, aggregate, fold_stream},
    events::derived_id,
    wake::Wake,
};
use yeyak_proto::settlement::{events::v1::PayoutBatchRun, v1 as pb};

use super::{
    Error,
    commands::ChangeLedger,
    index::{ALL, INSTRUCTED, PARTNERS, PAYOUT_DAYS, PAYOUT_QUEUE, QUEUE, day_partition},
    payout_provider::{PayoutError, PayoutProvider},
    streams,
};
use crate::domain::{
    SettlementError,
    ledger::{LedgerCommand, NO_VERIFIED_ACCOUNT, TransferOutcome},
    payout_day::{batch_may_run, latest_open_batch},
    seller::Seller,
};

/// Rows read per page.
const PAGE: u32 = 500;

/// Runs batches and sends payouts.
#[derive(Clone)]
pub struct Payouts {
    runner: Runner,
    provider: Arc<dyn PayoutProvider>,
}

/// What a batch run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchRun {
    pub partners: u32,
    pub payout_krw: i64,
    pub payouts: u32,
    /// The payouts this run instructed.
    pub instructed: Vec<pb::Payout>,
}

impl Payouts {
    pub const ACTOR: &'static str = "service:settlement-payouts";
    /// How often the scheduler looks when nothing wakes it.
    pub const TICK: std::time::Duration = std::time::Duration::from_secs(30);

    pub fn new(runner: Runner, provider: Arc<dyn PayoutProvider>) -> Self {
        Self { runner, provider }
    }

    async fn rows(
        &self,
        projection: &str,
        partition: &str,
        filter: Option<&str>,
    ) -> Result<Vec<ProjectionRow>, Error> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .runner
                .log()
                .query_rows(&ProjectionQuery {
                    projection: projection.into(),
                    partition: partition.into(),
                    filters: vec![filter.map(String::from)],
                    after: after.clone(),
                    limit: PAGE,
                })
                .await?;
            let full = page.len() == PAGE as usize;
            after = page.last().map(|r| (r.sort, r.key.clone()));
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// Settles payout day `day` for every partner; `by` names who ran it.
    pub async fn run_batch(&self, day: Date, by: &str) -> Result<BatchRun, Error> {
        if !batch_may_run(day, self.runner.clock().now_us()) {
            return Err(Error::Refused(SettlementError::BatchNotOpen(
                day.to_string(),
            )));
        }
        let mut run = BatchRun::default();
        for row in self.rows(PARTNERS, ALL, None).await? {
            let Ok(partner_id) = Uuid::parse_str(&row.key) else {
                continue;
            };
            let key = format!("{partner_id}/{day}");
            let command = ChangeLedger {
                partner_id,
                command: LedgerCommand::SettleDay {
                    day,
                    payout_id: derived_id("settlement-payout", &key, 0).to_string(),
                },
            };
            let origin = Origin::command(
                "service:settlement-batch",
                derived_id("settlement-batch", &key, 0),
                key.as_bytes(),
            );
            let ran = self.runner.run(&origin, &command).await?;
            if let Some(ledger) = ran.decided()
                && let Some(settled) = ledger.days.get(&day).and_then(|d| d.settled.as_ref())
                && let Some(payout) = ledger.payouts.get(&settled.payout_id)
            {
                run.partners += 1;
                run.payouts += 1;
                run.payout_krw += settled.payout_krw;
                run.instructed
                    .push(super::output::payout(&partner_id.to_string(), payout));
            }
        }
        let record = PayoutBatchRun {
            day: day.to_string(),
            partners: run.partners,
            payout_krw: run.payout_krw,
            payouts: run.payouts,
            occurred_at: Some(yeyak_proto::time::from_micros(self.runner.clock().now_us())),
            run_by: by.to_string(),
        };
        self.runner
            .run(
                &Origin::command(by, Uuid::new_v4(), &record.encode_to_vec()),
                &super::commands::RecordBatch { day, run: record },
            )
            .await?;
        Ok(run)
    }

    /// Whether a batch of `day` has run.
    pub async fn batch_has_run(&self, day: Date) -> Result<bool, Error> {
        let (_, version) =
            fold_stream(
                &**self.runner.log(),
                &streams::batch(day),
                (),
                |_, _| Ok(()),
            )
            .await?;
        Ok(version.is_some())
    }

    /// The payouts of payout day `day`, across partners.
    pub async fn of_day(&self, day: Date) -> Result<Vec<pb::Payout>, Error> {
        let rows = self
            .rows(PAYOUT_DAYS, &day_partition(&day.to_string()), None)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| pb::Payout::decode(&*r.value).ok())
            .collect())
    }

    /// Sends every instructed payout once.
    pub async fn send_instructed(&self) -> Result<usize, Error> {
        let mut sent = 0;
        for row in self.rows(PAYOUT_QUEUE, QUEUE, Some(INSTRUCTED)).await? {
            let Ok(payout) = pb::Payout::decode(&*row.value) else {
                continue;
            };
            let Ok(partner_id) = Uuid::parse_str(&payout.partner_id) else {
                continue;
            };
            let (seller, _) =
                aggregate::<Seller>(&**self.runner.log(), &streams::seller(partner_id)).await?;
            let outcome = match seller.verified_account() {
                None => TransferOutcome::Held {
                    reason: NO_VERIFIED_ACCOUNT.into(),
                },
                Some(account) => match self
                    .provider
                    .transfer(&payout.payout_id, account, payout.amount_krw)
                    .await
                {
                    Ok(transfer_id) => TransferOutcome::Transferred { transfer_id },
                    Err(PayoutError::Refused(reason)) => TransferOutcome::Failed { reason },
                    Err(PayoutError::Unavailable(why)) => {
                        tracing::warn!(payout_id = %payout.payout_id, error = %why, "payout provider unavailable; the payout stays instructed");
                        continue;
                    }
                },
            };
            let command = ChangeLedger {
                partner_id,
                command: LedgerCommand::Outcome {
                    payout_id: payout.payout_id.clone(),
                    outcome,
                },
            };
            // The ledger answers a payout once: a second outcome has no effect.
            self.runner
                .run(&Origin::command(Self::ACTOR, Uuid::new_v4(), &[]), &command)
                .await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Runs the day's batch once it opens, and sends payouts, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wake = Wake::new(&**self.runner.log(), &**self.runner.clock(), Self::TICK);
        loop {
            if let Err(e) = self.look().await {
                tracing::warn!(error = %e, "payout look failed; retrying");
            }
            if !wake.next(&shutdown).await {
                return;
            }
        }
    }

    async fn look(&self) -> Result<(), Error> {
        if let Some(day) = latest_open_batch(self.runner.clock().now_us())
            && !self.batch_has_run(day).await?
        {
            let run = self.run_batch(day, "service:settlement-scheduler").await?;
            tracing::info!(%day, partners = run.partners, payout_krw = run.payout_krw, "payout batch ran");
        }
        self.send_instructed().await?;
        Ok(())
    }
}
