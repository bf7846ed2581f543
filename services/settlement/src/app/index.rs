//! The settlement's read models, kept by one consumer of its own log ([`SettlementIndex`]);
//! each row is written from the event (an entry) or from the fold of the partner's ledger (a
//! payout), so replays converge and dropping the rows and the checkpoint rebuilds them.
//!
//! - `settlement-entries.v1`: every ledger entry by partner (partition `partner:<id>`, filters:
//!   the payout day or `pending`, and its month), newest first;
//! - `settlement-partners.v1`: every partner with a ledger (partition `all`), for the batch;
//! - `settlement-payout-queue.v1`: every payout by state (partition `queue`), for the sender;
//! - `settlement-payout-days.v1`: every payout by payout day (partition `day:<date>`).
use std::sync::Arc;

use prost::Message;
use tokio::sync::Notify;
use yeyak_eventlog::{ProjectionRow, RecordedEvent};
use yeyak_kit::{
    command::{Runner, aggregate},
    events::EventSet,
};
use yeyak_proto::{settlement::events::v1::LedgerEntryRecorded, time::to_micros};
use yeyak_transport::{EventHandler, HandlerError};

use super::streams;
use crate::domain::{
    account::AccountEvent,
    ledger::{LedgerEvent, PartnerLedger, Payout, PayoutState},
};

pub const ENTRIES: &str = "settlement-entries.v1";
pub const PARTNERS: &str = "settlement-partners.v1";
pub const PAYOUT_QUEUE: &str = "settlement-payout-queue.v1";
pub const PAYOUT_DAYS: &str = "settlement-payout-days.v1";
pub(crate) const ALL: &str = "all";
pub(crate) const QUEUE: &str = "queue";
pub(crate) const PENDING: &str = "pending";
pub(crate) const INSTRUCTED: &str = "instructed";
pub(crate) const HELD: &str = "held";

/// A partner's partition.
pub fn partner_partition(partner_id: &str) -> String {
    format!("partner:{partner_id}")
}

/// A payout day's partition.
pub fn day_partition(day: &str) -> String {
    format!("day:{day}")
}

/// A payout state's name in the rows' filter.
pub fn state_name(state: &PayoutState) -> &'static str {
    match state {
        PayoutState::Instructed => INSTRUCTED,
        PayoutState::Held(_) => HELD,
        PayoutState::Transferred(_) => "transferred",
        PayoutState::CreditedToBalance(_) => "credited",
    }
}

/// The row of an entry.
fn entry_row(e: &LedgerEntryRecorded) -> ProjectionRow {
    let (day, month) = if e.payable_on.is_empty() {
        (PENDING.to_string(), PENDING.to_string())
    } else {
        (
            e.payable_on.clone(),
            e.payable_on.get(..7).unwrap_or("").to_string(),
        )
    };
    ProjectionRow {
        key: e.entry_id.clone(),
        partition: partner_partition(&e.partner_id),
        filters: vec![day, month],
        sort: e.occurred_at.as_ref().and_then(to_micros).unwrap_or(0),
        value: e.encode_to_vec(),
        // An entry never changes.
        version: 0,
    }
}

/// A payout's value in its rows: the partner and the payout, as the API shows it.
pub fn payout_value(partner_id: &str, p: &Payout) -> Vec<u8> {
    super::output::payout(partner_id, p).encode_to_vec()
}

/// Keeps the settlement's read models.
pub struct SettlementIndex {
    runner: Runner,
    /// Told after payout rows are written: the sender looks again.
    indexed: Arc<Notify>,
}

impl SettlementIndex {
    pub const NAME: &'static str = "settlement-index";

    pub fn new(runner: Runner, indexed: Arc<Notify>) -> Self {
        Self { runner, indexed }
    }
}

#[async_trait::async_trait]
impl EventHandler for SettlementIndex {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let log = self.runner.log();
        let retry = |e: &dyn std::fmt::Display| HandlerError::Retry(e.to_string());
        let poison = |e: &dyn std::fmt::Display| HandlerError::Poison(e.to_string());
        if event.stream_id.starts_with("account-") {
            if let Some(AccountEvent::Entry(e)) =
                AccountEvent::decode(event).map_err(|e| poison(&e))?
            {
                log.upsert_rows(ENTRIES, vec![entry_row(&e)])
                    .await
                    .map_err(|e| retry(&e))?;
            }
            return Ok(());
        }
        let Some(partner) = streams::ledger_partner(&event.stream_id) else {
            return Ok(());
        };
        let Some(e) = LedgerEvent::decode(event).map_err(|e| poison(&e))? else {
            return Ok(());
        };
        if matches!(e, LedgerEvent::Posted(_) | LedgerEvent::Deposited(_)) {
            let row = ProjectionRow {
                key: partner.to_string(),
                partition: ALL.into(),
                filters: vec![],
                sort: 0,
                value: vec![],
                version: 0,
            };
            return log
                .upsert_rows(PARTNERS, vec![row])
                .await
                .map_err(|e| retry(&e));
        }
        if matches!(e, LedgerEvent::Legacy(_) | LedgerEvent::Withdrawn(_)) {
            return Ok(());
        }
        let (ledger, version) = aggregate::<PartnerLedger>(&**log, &streams::ledger(partner))
            .await
            .map_err(|e| retry(&e))?;
        let partner = partner.to_string();
        let version = version.unwrap_or(0);
        let (queue, days): (Vec<_>, Vec<_>) = ledger
            .payouts
            .values()
            .map(|p| {
                let value = payout_value(&partner, p);
                let queued = ProjectionRow {
                    key: p.id.clone(),
                    partition: QUEUE.into(),
                    filters: vec![state_name(&p.state).into()],
                    // Oldest first: the sender pays in instruction order.
                    sort: -p.instructed_at_us,
                    value: value.clone(),
                    version,
                };
                let by_day = ProjectionRow {
                    key: p.id.clone(),
                    partition: day_partition(&p.day),
                    filters: vec![state_name(&p.state).into()],
                    sort: p.instructed_at_us,
                    value,
                    version,
                };
                (queued, by_day)
            })
            .unzip();
        log.upsert_rows(PAYOUT_QUEUE, queue)
            .await
            .map_err(|e| retry(&e))?;
        log.upsert_rows(PAYOUT_DAYS, days)
            .await
            .map_err(|e| retry(&e))?;
        self.indexed.notify_waiters();
        Ok(())
    }
}
