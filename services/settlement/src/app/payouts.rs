//! The daily payout batch and the payout sender.
//!
//! The batch of payout day D settles, for every partner with a ledger, everything payable on or
//! before D (once per partner and day: the settlement's request id derives from both); it runs
//! by itself on D from 10:00 KST (a partner the index shows later that day is settled on the next
//! look) and on demand. The sender transfers every instructed payout
//! through the provider and records the outcome: transferred, failed (credited to the balance),
//! or held while the partner has no verified settlement account. An outage leaves the payout
//! instructed; it is sent again on the next look.
use std::{collections::HashSet, sync::Arc};

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
    index::{ALL, HELD, INSTRUCTED, PARTNERS, PAYOUT_DAYS, PAYOUT_QUEUE, QUEUE, day_partition},
    payout_provider::{PayoutError, PayoutProvider},
    streams,
};
use crate::domain::{
    SettlementError,
    ledger::{LedgerCommand, NO_VERIFIED_ACCOUNT, PartnerLedger, PayoutState, TransferOutcome},
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
    /// The scheduler's open payout day and the partners it has settled (or found nothing due
    /// for) on it in this process: a partner the index shows later is settled on a later look.
    checked: Arc<std::sync::Mutex<(Option<Date>, HashSet<Uuid>)>>,
}

/// What a batch run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchRun {
    pub partners: u32,
    pub payout_krw: i64,
    pub payouts: u32,
    /// The payouts this run instructed.
    pub instructed: Vec<pb::Payout>,
    /// The partners it looked at, and those it could not settle.
    pub checked: Vec<Uuid>,
    pub failed: Vec<Uuid>,
}

impl Payouts {
    pub const ACTOR: &'static str = "service:settlement-payouts";
    /// How often the scheduler looks when nothing wakes it.
    pub const TICK: std::time::Duration = std::time::Duration::from_secs(30);

    pub fn new(runner: Runner, provider: Arc<dyn PayoutProvider>) -> Self {
        Self {
            runner,
            provider,
            checked: Default::default(),
        }
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
        self.settle_partners(day, by, &HashSet::new()).await
    }

    /// Settles payout day `day` for every partner but `skip`, and records the run when it
    /// settled someone or is the day's first.
    async fn settle_partners(
        &self,
        day: Date,
        by: &str,
        skip: &HashSet<Uuid>,
    ) -> Result<BatchRun, Error> {
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
            if skip.contains(&partner_id) {
                continue;
            }
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
            let ran = match self.runner.run(&origin, &command).await {
                Ok(ran) => ran,
                Err(e) => {
                    // One partner's trouble never stops the others; it is tried on a later look.
                    tracing::warn!(%partner_id, %day, error = %e, "a partner's day could not be settled; trying again later");
                    run.failed.push(partner_id);
                    continue;
                }
            };
            run.checked.push(partner_id);
            let appended = !ran.appended().is_empty();
            if let Some(ledger) = ran.decided().filter(|_| appended)
                && let Some(settled) = ledger.days.get(&day).and_then(|d| d.settled.as_ref())
            {
                run.partners += 1;
                if let Some(payout) = ledger.payouts.get(&settled.payout_id) {
                    run.payouts += 1;
                    run.payout_krw += settled.payout_krw;
                    run.instructed
                        .push(super::output::payout(&partner_id.to_string(), payout));
                }
            }
        }
        if run.partners == 0 && self.batch_has_run(day).await? {
            return Ok(run);
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

    /// Sends every instructed payout the queue shows, and releases those held only for want of
    /// a verified account once the partner has one.
    pub async fn send_instructed(&self) -> Result<usize, Error> {
        let queued = |state: &'static str| async move {
            Ok::<_, Error>(
                self.rows(PAYOUT_QUEUE, QUEUE, Some(state))
                    .await?
                    .iter()
                    .filter_map(|row| pb::Payout::decode(&*row.value).ok())
                    .collect::<Vec<_>>(),
            )
        };
        let mut due = queued(INSTRUCTED).await?;
        for held in queued(HELD).await? {
            if held.reason != NO_VERIFIED_ACCOUNT {
                continue;
            }
            match self.release_if_verified(&held).await {
                Ok(true) => due.push(held),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(payout_id = %held.payout_id, error = %e, "a held payout could not be released; trying again later")
                }
            }
        }
        Ok(self.send(due).await)
    }

    /// Releases a payout held for want of a verified account, if the partner now has one.
    async fn release_if_verified(&self, held: &pb::Payout) -> Result<bool, Error> {
        let Ok(partner_id) = Uuid::parse_str(&held.partner_id) else {
            return Ok(false);
        };
        let (seller, _) =
            aggregate::<Seller>(&**self.runner.log(), &streams::seller(partner_id)).await?;
        if seller.verified_account().is_none() {
            return Ok(false);
        }
        let command = ChangeLedger {
            partner_id,
            command: LedgerCommand::Release {
                payout_id: held.payout_id.clone(),
                by: format!("{} (account verified)", Self::ACTOR),
            },
        };
        match self
            .runner
            .run(&Origin::command(Self::ACTOR, Uuid::new_v4(), &[]), &command)
            .await
        {
            // Released meanwhile (or never held): the ledger says so, nothing to do.
            Err(Error::Refused(SettlementError::PayoutNotHeld(_))) => Ok(false),
            other => other.map(|_| true),
        }
    }

    /// Sends each payout that its partner's ledger still shows instructed, and records the
    /// outcome; a payout that fails to send is tried again on a later look, and does not stop
    /// the others. Answers how many were answered.
    pub async fn send(&self, payouts: Vec<pb::Payout>) -> usize {
        let mut sent = 0;
        for payout in payouts {
            match self.send_one(&payout).await {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(payout_id = %payout.payout_id, error = %e, "payout not sent; trying again later")
                }
            }
        }
        sent
    }

    async fn send_one(&self, payout: &pb::Payout) -> Result<bool, Error> {
        let Ok(partner_id) = Uuid::parse_str(&payout.partner_id) else {
            return Ok(false);
        };
        let log = &**self.runner.log();
        // The queue is a read model: the ledger decides whether the payout is still to send.
        let (ledger, _) = aggregate::<PartnerLedger>(log, &streams::ledger(partner_id)).await?;
        let Some(current) = ledger.payouts.get(&payout.payout_id) else {
            return Ok(false);
        };
        if current.state != PayoutState::Instructed {
            return Ok(false);
        }
        let (seller, _) = aggregate::<Seller>(log, &streams::seller(partner_id)).await?;
        let outcome = match seller.verified_account() {
            None => TransferOutcome::Held {
                reason: NO_VERIFIED_ACCOUNT.into(),
            },
            Some(account) => match self
                .provider
                .transfer(&payout.payout_id, account, current.amount)
                .await
            {
                Ok(transfer_id) => TransferOutcome::Transferred { transfer_id },
                Err(PayoutError::Refused(reason)) => TransferOutcome::Failed { reason },
                Err(PayoutError::Unavailable(why)) => {
                    tracing::warn!(payout_id = %payout.payout_id, error = %why, "payout provider unavailable; the payout stays instructed");
                    return Ok(false);
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
        Ok(true)
    }

    /// Runs the day's batch once it opens, and sends payouts, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken, indexed: Arc<tokio::sync::Notify>) {
        let mut wake = Wake::new(&**self.runner.log(), &**self.runner.clock(), Self::TICK);
        loop {
            if let Err(e) = self.look().await {
                tracing::warn!(error = %e, "payout look failed; retrying");
            }
            // Also when the index has written payout rows (a released payout, say).
            let go_on = tokio::select! {
                go_on = wake.next(&shutdown) => go_on,
                _ = indexed.notified() => true,
            };
            if !go_on {
                return;
            }
        }
    }

    /// Settles the open payout day for every partner not yet looked at on it, then sends.
    async fn look(&self) -> Result<(), Error> {
        if let Some(day) = latest_open_batch(self.runner.clock().now_us()) {
            let skip = {
                let mut checked = self.checked.lock().expect("checked");
                if checked.0 != Some(day) {
                    *checked = (Some(day), HashSet::new());
                }
                checked.1.clone()
            };
            let run = self
                .settle_partners(day, "service:settlement-scheduler", &skip)
                .await?;
            if run.partners > 0 {
                tracing::info!(%day, partners = run.partners, payout_krw = run.payout_krw, "payout batch ran");
            }
            {
                let mut checked = self.checked.lock().expect("checked");
                if checked.0 == Some(day) {
                    checked.1.extend(run.checked);
                }
            }
            // What this run instructed is sent at once; the queue (a read model) catches the rest.
            self.send(run.instructed).await;
        }
        self.send_instructed().await?;
        Ok(())
    }
}
