//! The settlement's application layer: the commands handed to the kit's command runner
//! ([`commands`]); the consumer of the reservations' events ([`consumer`]); the read models over
//! its own log ([`index`]); the payout batch and sender ([`payouts`]) with the provider behind a
//! trait ([`payout_provider`]); the queries and the reconciliation ([`Settlement`]).
pub mod commands;
pub mod consumer;
pub mod index;
pub mod output;
pub mod payout_provider;
pub mod payouts;
pub mod streams;

use std::sync::Arc;

use jiff::civil::Date;
use prost::Message;
use uuid::Uuid;
use yeyak_eventlog::{EventStore, ProjectionQuery};
use yeyak_kit::{
    access::load_operators,
    auth::Caller,
    clock::SharedClock,
    command::{self, Aggregate, Origin, Reads, Runner, decode_strict},
};
use yeyak_proto::settlement::{
    events::v1::{LedgerEntryRecorded, SettlementInfoSubmitted},
    v1 as pb,
};

use crate::domain::{
    CommissionTable, SettlementError, access,
    ledger::{LedgerCommand, LedgerEvent, PartnerLedger},
    reconciliation::{Reconciliation, reconcile},
    seller::{Seller, SellerCommand},
    statement::{self, Period},
};
use commands::{ChangeLedger, ChangeSeller};
use payout_provider::{PayoutError, PayoutProvider};
use payouts::Payouts;

/// Why a settlement command or query did not complete.
pub type Error = command::Error<SettlementError>;

/// One page of rows and the row to continue after.
pub type Page<T> = (Vec<T>, Option<(i64, String)>);

/// The settlement over its own event log.
#[derive(Clone)]
pub struct Settlement {
    runner: Runner,
    rates: CommissionTable,
    provider: Arc<dyn PayoutProvider>,
}

impl Settlement {
    /// Event ids of the settlement's reactions derive within this namespace.
    pub const NAMESPACE: &'static str = crate::SOURCE;

    pub fn new(
        log: Arc<dyn EventStore>,
        clock: SharedClock,
        rates: CommissionTable,
        provider: Arc<dyn PayoutProvider>,
    ) -> Self {
        Self {
            runner: Runner::new(log, clock, Self::NAMESPACE),
            rates,
            provider,
        }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    pub fn rates(&self) -> &CommissionTable {
        &self.rates
    }

    pub fn payouts(&self) -> Payouts {
        Payouts::new(self.runner.clone(), self.provider.clone())
    }

    fn log(&self) -> &dyn EventStore {
        &**self.runner.log()
    }

    /// The partner's settlement is for its 관리자 and platform operations.
    async fn check(&self, caller: &Caller, partner_id: Uuid) -> Result<(), Error> {
        let partner = partner_id.to_string();
        let operators = load_operators(&mut Reads::new(self.log()), &partner).await?;
        Ok(access::may_see_settlement(
            caller,
            &partner,
            operators.as_ref(),
        )?)
    }

    async fn ledger(&self, partner_id: Uuid) -> Result<PartnerLedger, Error> {
        Ok(command::aggregate(self.log(), &streams::ledger(partner_id))
            .await?
            .0)
    }

    /// The partner's ledger entries, newest first, by payout day (or `pending`).
    pub async fn entries(
        &self,
        caller: &Caller,
        partner_id: Uuid,
        payable_on: Option<String>,
        (limit, after): (u32, Option<(i64, String)>),
    ) -> Result<Page<LedgerEntryRecorded>, Error> {
        self.check(caller, partner_id).await?;
        let rows = self
            .log()
            .query_rows(&ProjectionQuery {
                projection: index::ENTRIES.into(),
                partition: index::partner_partition(&partner_id.to_string()),
                filters: vec![payable_on],
                after,
                limit,
            })
            .await?;
        let next = (rows.len() == limit as usize)
            .then(|| rows.last().map(|r| (r.sort, r.key.clone())))
            .flatten();
        let entries = rows
            .iter()
            .filter_map(|r| LedgerEntryRecorded::decode(&*r.value).ok())
            .collect();
        Ok((entries, next))
    }

    pub async fn balance(&self, caller: &Caller, partner_id: Uuid) -> Result<pb::Balance, Error> {
        self.check(caller, partner_id).await?;
        let ledger = self.ledger(partner_id).await?;
        Ok(output::balance(&partner_id.to_string(), &ledger))
    }

    /// Days still to be settled, then every payout, newest first; paged by position.
    pub async fn list_payouts(
        &self,
        caller: &Caller,
        partner_id: Uuid,
        (limit, after): (u32, Option<(i64, String)>),
    ) -> Result<Page<pb::Payout>, Error> {
        self.check(caller, partner_id).await?;
        let ledger = self.ledger(partner_id).await?;
        let partner = partner_id.to_string();
        let mut all = output::scheduled(&partner, &ledger);
        all.reverse();
        let mut paid: Vec<_> = ledger.payouts.values().collect();
        paid.sort_by_key(|p| std::cmp::Reverse((p.instructed_at_us, p.id.clone())));
        all.extend(paid.into_iter().map(|p| output::payout(&partner, p)));
        let start = after.map_or(0, |(position, _)| position.max(0) as usize);
        let page: Vec<_> = all
            .iter()
            .skip(start)
            .take(limit as usize)
            .cloned()
            .collect();
        let end = start + page.len();
        let next = (end < all.len()).then(|| (end as i64, "p".to_string()));
        Ok((page, next))
    }

    /// A day's or a month's statement (a day's lists its entries).
    pub async fn statement(
        &self,
        caller: &Caller,
        partner_id: Uuid,
        period: Period,
    ) -> Result<pb::Statement, Error> {
        self.check(caller, partner_id).await?;
        let ledger = self.ledger(partner_id).await?;
        let days = statement::days(&ledger, period);
        let mut entries = Vec::new();
        if let Period::Day(day) = period {
            let mut after = None;
            loop {
                let (page, next) = self
                    .entries(caller, partner_id, Some(day.to_string()), (100, after))
                    .await?;
                entries.extend(page.into_iter().map(output::entry));
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            entries.reverse();
        }
        Ok(pb::Statement {
            partner_id: partner_id.to_string(),
            period: match period {
                Period::Day(d) => d.to_string(),
                Period::Month(y, m) => format!("{y:04}-{m:02}"),
            },
            total: Some(output::statement_day(&statement::total(&days))),
            days: days.iter().map(output::statement_day).collect(),
            entries,
            csv: String::new(),
        })
    }

    /// Runs a change on the partner's ledger for a client.
    pub async fn change_ledger(
        &self,
        caller: &Caller,
        origin: &Origin,
        partner_id: Uuid,
        command: LedgerCommand,
    ) -> Result<pb::Balance, Error> {
        self.check(caller, partner_id).await?;
        self.runner
            .run(
                origin,
                &ChangeLedger {
                    partner_id,
                    command,
                },
            )
            .await?;
        self.balance(caller, partner_id).await
    }

    pub async fn seller(
        &self,
        caller: &Caller,
        partner_id: Uuid,
    ) -> Result<pb::SellerStatus, Error> {
        self.check(caller, partner_id).await?;
        let (seller, _) =
            command::aggregate::<Seller>(self.log(), &streams::seller(partner_id)).await?;
        Ok(output::seller(&partner_id.to_string(), &seller))
    }

    /// Registers the account with the provider (it keeps the number) and submits the partner's
    /// settlement information for review.
    pub async fn submit(
        &self,
        caller: &Caller,
        origin: &Origin,
        partner_id: Uuid,
        account_number: &str,
        mut info: SettlementInfoSubmitted,
    ) -> Result<pb::SellerStatus, Error> {
        self.check(caller, partner_id).await?;
        info.partner_id = partner_id.to_string();
        // The rules first (owner's name, documents, mail order): a refused submission registers
        // nothing with the provider.
        let (seller, _) =
            command::aggregate::<Seller>(self.log(), &streams::seller(partner_id)).await?;
        seller
            .decide(
                SellerCommand::Submit(info.clone()),
                &(partner_id.to_string(), self.runner.clock().now_us()),
            )
            .map_err(Error::Refused)?;
        let key = format!("{partner_id}/{}/{account_number}", info.bank_code);
        info.account_ref = self
            .provider
            .register_account(&key, &info.bank_code, account_number)
            .await
            .map_err(|e| {
                Error::Refused(match e {
                    PayoutError::Refused(why) => SettlementError::AccountRefused(why),
                    PayoutError::Unavailable(why) => SettlementError::ProviderUnavailable(why),
                })
            })?;
        let command = ChangeSeller {
            partner_id,
            command: SellerCommand::Submit(info),
        };
        self.runner.run(origin, &command).await?;
        self.seller(caller, partner_id).await
    }

    /// Operations verify or reject the submitted documents.
    pub async fn review(
        &self,
        caller: &Caller,
        origin: &Origin,
        partner_id: Uuid,
        verified: bool,
        reason: String,
    ) -> Result<pb::SellerStatus, Error> {
        let command = ChangeSeller {
            partner_id,
            command: SellerCommand::Review {
                verified,
                reason,
                by: caller.actor(),
            },
        };
        self.runner.run(origin, &command).await?;
        self.seller(caller, partner_id).await
    }

    /// Reconciles one partner, or every partner with a ledger, over `[from, to)` (KST dates).
    pub async fn reconcile(
        &self,
        partner_id: Option<Uuid>,
        from: Date,
        to: Date,
    ) -> Result<Vec<(Uuid, Reconciliation)>, Error> {
        reconcile_log(self.log(), partner_id, from, to).await
    }
}

/// 00:00 KST of a date, in UTC microseconds.
fn start_of(day: Date) -> i64 {
    yeyak_kit::kst::kst()
        .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .map_or(0, |t| t.as_microsecond())
}

/// Reconciles a settlement log: one partner's ledger, or, reading the whole log, every
/// partner's. Shared by the RPC and `yeyak admin reconcile`.
pub async fn reconcile_log(
    log: &dyn EventStore,
    partner_id: Option<Uuid>,
    from: Date,
    to: Date,
) -> Result<Vec<(Uuid, Reconciliation)>, Error> {
    let (from_us, to_us) = (start_of(from), start_of(to));
    let mut by_partner: std::collections::BTreeMap<Uuid, Vec<LedgerEvent>> = Default::default();
    match partner_id {
        Some(p) => {
            let (events, _) = command::fold_stream(log, &streams::ledger(p), Vec::new(), |v, e| {
                v.push(decode_strict::<LedgerEvent>(e)?);
                Ok(())
            })
            .await?;
            by_partner.insert(p, events);
        }
        None => {
            let mut position = yeyak_eventlog::Position::START;
            loop {
                let batch = log
                    .read_all(position, 1_000)
                    .await
                    .map_err(|e| Error::Load(e.into()))?;
                let Some(last) = batch.last() else {
                    break;
                };
                position = last.position;
                for e in &batch {
                    if let Some(p) = streams::ledger_partner(&e.stream_id) {
                        let event =
                            decode_strict::<LedgerEvent>(e).map_err(|d| Error::Load(d.into()))?;
                        by_partner.entry(p).or_default().push(event);
                    }
                }
            }
        }
    }
    Ok(by_partner
        .into_iter()
        .map(|(p, events)| (p, reconcile(events, from_us, to_us)))
        .collect())
}
