//! The settlement's gRPC API: requests to commands and queries ([`input`] validates every
//! field), state to replies, failures to statuses ([`refusal`], the one place), and who may call
//! what ([`POLICY`]).
pub mod input;
pub mod refusal;

use tonic::{Request, Response, Status};
use yeyak_kit::{
    auth::{Caller, Policy, Role},
    events::derived_id,
    status::{page, page_token, parse_uuid, text},
};
use yeyak_proto::settlement::{
    events::v1::SettlementInfoSubmitted,
    v1::{self as pb, settlement_service_server::SettlementService},
};

use crate::{
    app::{Settlement, output},
    domain::{
        ledger::{LedgerCommand, MAX_AMOUNT_KRW},
        payout_day,
        statement::Period,
    },
};
use refusal::failure;

const PARTNER: &[Role] = &[Role::PartnerOperator, Role::PlatformOps];
const OPS: &[Role] = &[Role::PlatformOps];

/// Who may call each settlement RPC. The operator check (which partner, which role) follows in
/// the application: only the partner's active 관리자.
pub static POLICY: Policy = Policy {
    service: "yeyak.settlement.v1.SettlementService",
    rules: &[
        ("ListLedgerEntries", PARTNER),
        ("GetBalance", PARTNER),
        ("ListPayouts", PARTNER),
        ("GetStatement", PARTNER),
        ("Deposit", OPS),
        ("Withdraw", PARTNER),
        ("SubmitSettlementInfo", PARTNER),
        ("GetSellerStatus", PARTNER),
        ("ReviewKyc", OPS),
        ("RunPayoutBatch", OPS),
        ("GetPayoutBatch", OPS),
        ("SetPayoutHold", OPS),
        ("ReleasePayout", OPS),
        ("RecordAdjustment", OPS),
        ("Reconcile", OPS),
    ],
};

pub struct SettlementApi {
    app: Settlement,
}

impl SettlementApi {
    pub fn new(app: Settlement) -> Self {
        Self { app }
    }
}

/// An id a request creates, derived from its caller and request id (a retry names the same).
fn created(what: &str, caller: &Caller, request_id: uuid::Uuid) -> String {
    derived_id(what, &format!("{}/{request_id}", caller.actor()), 0).to_string()
}

fn reply<T>(r: Result<T, crate::app::Error>) -> Result<Response<T>, Status> {
    r.map(Response::new).map_err(failure)
}

#[tonic::async_trait]
impl SettlementService for SettlementApi {
    async fn list_ledger_entries(
        &self,
        request: Request<pb::ListLedgerEntriesRequest>,
    ) -> Result<Response<pb::ListLedgerEntriesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let filter = input::payable_on(&r.payable_on)?;
        let paging = page(r.page_size, &r.page_token, "entries")?;
        let (entries, next) = self
            .app
            .entries(&caller, partner_id, filter, paging)
            .await
            .map_err(failure)?;
        Ok(Response::new(pb::ListLedgerEntriesResponse {
            entries: entries.into_iter().map(output::entry).collect(),
            next_page_token: page_token(next),
        }))
    }

    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        let caller = Caller::of(&request)?;
        let partner_id = parse_uuid("partner_id", &request.get_ref().partner_id)?;
        reply(self.app.balance(&caller, partner_id).await)
    }

    async fn list_payouts(
        &self,
        request: Request<pb::ListPayoutsRequest>,
    ) -> Result<Response<pb::ListPayoutsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let paging = page(r.page_size, &r.page_token, "payouts")?;
        let (payouts, next) = self
            .app
            .list_payouts(&caller, partner_id, paging)
            .await
            .map_err(failure)?;
        Ok(Response::new(pb::ListPayoutsResponse {
            payouts,
            next_page_token: page_token(next),
        }))
    }

    async fn get_statement(
        &self,
        request: Request<pb::GetStatementRequest>,
    ) -> Result<Response<pb::Statement>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let period = input::period(&r.period)?;
        let mut statement = self
            .app
            .statement(&caller, partner_id, period)
            .await
            .map_err(failure)?;
        if r.csv {
            statement.csv = output::csv(&statement, matches!(period, Period::Day(_)))
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        Ok(Response::new(statement))
    }

    async fn deposit(
        &self,
        request: Request<pb::DepositRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        let (caller, origin, request_id) =
            Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let command = LedgerCommand::Deposit {
            deposit_id: created("settlement-deposit", &caller, request_id),
            amount: input::amount(r.amount_krw, MAX_AMOUNT_KRW)?,
            reference: text("reference", &r.reference, 1, 100)?,
        };
        reply(
            self.app
                .change_ledger(&caller, &origin, partner_id, command)
                .await,
        )
    }

    async fn withdraw(
        &self,
        request: Request<pb::WithdrawRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        let (caller, origin, request_id) =
            Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        if r.amount_krw <= 0 {
            input::amount(r.amount_krw, i64::MAX)?;
        }
        let command = LedgerCommand::Withdraw {
            withdrawal_id: created("settlement-withdrawal", &caller, request_id),
            payout_id: created("settlement-withdrawal-payout", &caller, request_id),
            amount: r.amount_krw,
            account_verified: false,
        };
        reply(
            self.app
                .change_ledger(&caller, &origin, partner_id, command)
                .await,
        )
    }

    async fn submit_settlement_info(
        &self,
        request: Request<pb::SubmitSettlementInfoRequest>,
    ) -> Result<Response<pb::SellerStatus>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let (account_number, info): (String, SettlementInfoSubmitted) = input::submission(r)?;
        reply(
            self.app
                .submit(&caller, &origin, partner_id, &account_number, info)
                .await,
        )
    }

    async fn get_seller_status(
        &self,
        request: Request<pb::GetSellerStatusRequest>,
    ) -> Result<Response<pb::SellerStatus>, Status> {
        let caller = Caller::of(&request)?;
        let partner_id = parse_uuid("partner_id", &request.get_ref().partner_id)?;
        reply(self.app.seller(&caller, partner_id).await)
    }

    async fn review_kyc(
        &self,
        request: Request<pb::ReviewKycRequest>,
    ) -> Result<Response<pb::SellerStatus>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let reason = text("reason", &r.reason, 0, 500)?;
        reply(
            self.app
                .review(&caller, &origin, partner_id, r.verified, reason)
                .await,
        )
    }

    async fn run_payout_batch(
        &self,
        request: Request<pb::RunPayoutBatchRequest>,
    ) -> Result<Response<pb::PayoutBatch>, Status> {
        let caller = Caller::of(&request)?;
        let day = match request.get_ref().day.as_str() {
            "" => payout_day::day_of(self.app.runner().clock().now_us()),
            day => input::date("day", day)?,
        };
        let payouts = self.app.payouts();
        let run = payouts
            .run_batch(day, &caller.actor())
            .await
            .map_err(failure)?;
        let mut batch = batch(&payouts, day).await.map_err(failure)?;
        // The read model may not show this run's payouts yet.
        for p in run.instructed {
            if !batch.payouts.iter().any(|b| b.payout_id == p.payout_id) {
                batch.payout_krw += p.amount_krw;
                batch.payouts.push(p);
            }
        }
        batch.run = true;
        batch.partners = partners(&batch.payouts);
        Ok(Response::new(batch))
    }

    async fn get_payout_batch(
        &self,
        request: Request<pb::GetPayoutBatchRequest>,
    ) -> Result<Response<pb::PayoutBatch>, Status> {
        let day = input::date("day", &request.get_ref().day)?;
        reply(batch(&self.app.payouts(), day).await)
    }

    async fn set_payout_hold(
        &self,
        request: Request<pb::SetPayoutHoldRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let reason = text("reason", &r.reason, usize::from(r.held), 500)?;
        let command = LedgerCommand::SetHold {
            held: r.held,
            reason,
        };
        reply(
            self.app
                .change_ledger(&caller, &origin, partner_id, command)
                .await,
        )
    }

    async fn release_payout(
        &self,
        request: Request<pb::ReleasePayoutRequest>,
    ) -> Result<Response<pb::Payout>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let payout_id = parse_uuid("payout_id", &r.payout_id)?.to_string();
        let command = LedgerCommand::Release {
            payout_id: payout_id.clone(),
            by: caller.actor(),
        };
        self.app
            .change_ledger(&caller, &origin, partner_id, command)
            .await
            .map_err(failure)?;
        let (payouts, _) = self
            .app
            .list_payouts(&caller, partner_id, (u32::MAX, None))
            .await
            .map_err(failure)?;
        payouts
            .into_iter()
            .find(|p| p.payout_id == payout_id)
            .map(Response::new)
            .ok_or_else(|| Status::not_found("payout"))
    }

    async fn record_adjustment(
        &self,
        request: Request<pb::RecordAdjustmentRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        let (caller, origin, request_id) =
            Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let command = LedgerCommand::Adjust {
            posting_id: created("settlement-adjustment", &caller, request_id),
            amount: input::adjustment(r.amount_krw)?,
            reason: text("reason", &r.reason, 1, 500)?,
        };
        reply(
            self.app
                .change_ledger(&caller, &origin, partner_id, command)
                .await,
        )
    }

    async fn reconcile(
        &self,
        request: Request<pb::ReconcileRequest>,
    ) -> Result<Response<pb::ReconcileResponse>, Status> {
        let r = request.get_ref();
        let partner_id = match r.partner_id.as_str() {
            "" => None,
            p => Some(parse_uuid("partner_id", p)?),
        };
        let from = input::date("from", &r.from)?;
        let to = input::date("to", &r.to)?;
        if to <= from {
            return Err(yeyak_kit::status::invalid_field(
                "to",
                "OUT_OF_RANGE",
                "the period ends after it starts",
            ));
        }
        let all = self
            .app
            .reconcile(partner_id, from, to)
            .await
            .map_err(failure)?;
        let mut total = crate::domain::reconciliation::Reconciliation::default();
        let partners = all
            .iter()
            .map(|(p, rec)| {
                total.add(rec);
                output::reconciliation(&p.to_string(), rec)
            })
            .collect();
        Ok(Response::new(pb::ReconcileResponse {
            partners,
            total: Some(output::reconciliation("", &total)),
        }))
    }
}

fn partners(payouts: &[pb::Payout]) -> u32 {
    payouts
        .iter()
        .map(|p| p.partner_id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u32
}

/// A payout day's batch as operations see it.
async fn batch(
    payouts: &crate::app::payouts::Payouts,
    day: jiff::civil::Date,
) -> Result<pb::PayoutBatch, crate::app::Error> {
    let run = payouts.batch_has_run(day).await?;
    let list = payouts.of_day(day).await?;
    Ok(pb::PayoutBatch {
        day: day.to_string(),
        run,
        partners: partners(&list),
        payout_krw: list.iter().map(|p| p.amount_krw).sum(),
        payouts: list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_settlement_rpc_states_who_may_call_it() {
        assert!(POLICY.service_exists(yeyak_proto::FILE_DESCRIPTOR_SET));
        assert_eq!(
            POLICY.unlisted_methods(yeyak_proto::FILE_DESCRIPTOR_SET),
            Vec::<String>::new()
        );
    }
}
