//! The settlement over a real (SQLite) log on the controlled clock, through its API: facts are
//! settled once, a completed line is paid out on the next business day by the daily batch, the
//! outcomes of a payout, the balance, statements, reconciliation and KYC.
mod support;

use jiff::civil::{Date, Time, date};
use tonic::Code;
use yeyak_kit::access::OperatorRole;
use yeyak_proto::{
    catalog::events::v1::MailOrder,
    reservations::events::v1::{
        PaymentMethod, ReservationBooked, ReservationCompleted, ReservationPaymentCancelled,
    },
    settlement::{
        events::v1::{BusinessType, Document, DocumentKind},
        v1::{
            GetBalanceRequest, GetStatementRequest, PayoutState, ReconcileRequest,
            ReviewKycRequest, RunPayoutBatchRequest, SubmitSettlementInfoRequest, WithdrawRequest,
            settlement_service_server::SettlementService,
        },
    },
};
use yeyak_settlement::app::payout_provider::SimulatedFailures;
use yeyak_transport::{EventHandler, HandlerError};

use support::*;

fn at(day: Date, hour: i8, minute: i8) -> i64 {
    yeyak_kit::kst::kst()
        .to_timestamp(day.to_datetime(Time::constant(hour, minute, 0, 0)))
        .unwrap()
        .as_microsecond()
}

/// A fact of reservation `id`, as it happened at `at_us`.
fn fact<M: prost::Message + prost::Name>(
    id: &str,
    at_us: i64,
    m: &M,
) -> yeyak_eventlog::RecordedEvent {
    let mut e = recorded(&format!("reservation-{id}"), m);
    e.metadata.occurred_at_us = at_us;
    e
}

fn booked(id: &str, paid: &[i64], at_us: i64) -> yeyak_eventlog::RecordedEvent {
    let booked = ReservationBooked {
        place_id: PLACE_A.to_string(),
        ..yeyak_settlement::testing::booked(
            id,
            &PARTNER.to_string(),
            PaymentMethod::KakaoPayCard,
            paid,
        )
    };
    fact(id, at_us, &booked)
}

fn completion(id: &str, at_us: i64) -> yeyak_eventlog::RecordedEvent {
    fact(
        id,
        at_us,
        &ReservationCompleted {
            reservation_id: id.into(),
            partner_id: PARTNER.to_string(),
            place_id: PLACE_A.to_string(),
            ..Default::default()
        },
    )
}

async fn verified(service: &Service) {
    service
        .api
        .submit_settlement_info(request(
            &ops(),
            SubmitSettlementInfoRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                partner_id: PARTNER.to_string(),
                business_type: BusinessType::Individual as i32,
                business_owner: "김서울".into(),
                bank_code: "088".into(),
                account_number: "110123456789".into(),
                account_holder: "김서울".into(),
                documents: vec![Document {
                    kind: DocumentKind::BusinessRegistrationCertificate as i32,
                    file_ref: "kyc/1.pdf".into(),
                    sha256: "ab".repeat(32),
                }],
                mail_order: MailOrder::Exempt as i32,
                mail_order_number: String::new(),
            },
        ))
        .await
        .expect("submitted");
    service
        .api
        .review_kyc(request(
            &ops(),
            ReviewKycRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                partner_id: PARTNER.to_string(),
                verified: true,
                reason: String::new(),
            },
        ))
        .await
        .expect("verified");
}

async fn balance(service: &Service) -> yeyak_proto::settlement::v1::Balance {
    service
        .api
        .get_balance(request(
            &ops(),
            GetBalanceRequest {
                partner_id: PARTNER.to_string(),
            },
        ))
        .await
        .expect("balance")
        .into_inner()
}

async fn run_batch(
    service: &Service,
    day: Date,
) -> Result<yeyak_proto::settlement::v1::PayoutBatch, tonic::Status> {
    service.index_all().await;
    let batch = service
        .api
        .run_payout_batch(request(
            &ops(),
            RunPayoutBatchRequest {
                day: day.to_string(),
            },
        ))
        .await?;
    service.index_all().await;
    service.payouts.send_instructed().await.expect("sent");
    service.index_all().await;
    Ok(batch.into_inner())
}

/// Friday 2026-10-02, the day before 개천절's weekend and its 대체공휴일 Monday 10-05.
const FRIDAY: Date = date(2026, 10, 2);
const TUESDAY: Date = date(2026, 10, 6);

async fn completed_on_friday(service: &Service) {
    service
        .deliver(&booked("r-1", &[30_000, 20_000], at(FRIDAY, 9, 0)))
        .await;
    let done = completion("r-1", at(FRIDAY, 15, 0));
    service.deliver(&done).await;
    service.deliver(&done).await;
}

#[tokio::test]
async fn a_redelivered_fact_is_settled_once() {
    let service = Service::new().await;
    completed_on_friday(&service).await;
    let entries = service.entries(&ops(), PARTNER).await.expect("listed");
    assert_eq!(
        entries.len(),
        6,
        "two payments, two completions, two commissions"
    );
    let b = balance(&service).await;
    assert_eq!((b.pending_krw, b.payable_krw), (0, 48_500));
}

#[tokio::test]
async fn a_line_completed_before_a_holiday_weekend_is_paid_out_the_business_day_after_it() {
    let service = Service::new().await;
    verified(&service).await;
    completed_on_friday(&service).await;
    // The substitute holiday: no batch.
    service.clock.set(at(date(2026, 10, 5), 12, 0));
    let refused_batch = run_batch(&service, date(2026, 10, 5)).await;
    refused(refused_batch, Code::FailedPrecondition, "BATCH_NOT_OPEN");
    // Tuesday, a microsecond before 10:00 KST: not yet.
    service.clock.set(at(TUESDAY, 10, 0) - 1);
    refused(
        run_batch(&service, TUESDAY).await,
        Code::FailedPrecondition,
        "BATCH_NOT_OPEN",
    );
    service.clock.set(at(TUESDAY, 10, 0));
    let batch = run_batch(&service, TUESDAY).await.expect("the batch runs");
    assert_eq!((batch.partners, batch.payout_krw), (1, 48_500));
    let again = run_batch(&service, TUESDAY).await.expect("again");
    assert_eq!(again.payouts.len(), 1, "once per partner and day");
    assert_eq!(again.payouts[0].state, PayoutState::Transferred as i32);
    assert_eq!(service.provider.transferred_krw(), 48_500);
    let b = balance(&service).await;
    assert_eq!(
        (b.payable_krw, b.in_flight_krw, b.transferred_krw),
        (0, 0, 48_500)
    );
}

#[tokio::test]
async fn a_refund_after_payout_with_nothing_to_net_is_deducted_from_the_balance_then_netted() {
    let service = Service::new().await;
    verified(&service).await;
    completed_on_friday(&service).await;
    service.clock.set(at(TUESDAY, 10, 0));
    run_batch(&service, TUESDAY).await.expect("paid");
    // 결제만 취소 on Tuesday afternoon: netted on Wednesday, where nothing else is payable.
    let cancel = ReservationPaymentCancelled {
        reservation_id: "r-1".into(),
        partner_id: PARTNER.to_string(),
        refunded_krw: 50_000,
        ..Default::default()
    };
    service
        .deliver(&fact("r-1", at(TUESDAY, 14, 0), &cancel))
        .await;
    let wednesday = date(2026, 10, 7);
    service.clock.set(at(wednesday, 10, 0));
    run_batch(&service, wednesday).await.expect("settled");
    assert_eq!(balance(&service).await.balance_krw, -48_500);
    // A later completion pays the debt back first.
    service
        .deliver(&booked("r-2", &[100_000], at(wednesday, 9, 0)))
        .await;
    service
        .deliver(&completion("r-2", at(wednesday, 12, 0)))
        .await;
    let thursday = date(2026, 10, 8);
    service.clock.set(at(thursday, 10, 0));
    let batch = run_batch(&service, thursday).await.expect("netted");
    assert_eq!(batch.payout_krw, 97_000 - 48_500);
    assert_eq!(balance(&service).await.balance_krw, 0);
    let reconciled = service
        .api
        .reconcile(request(
            &ops(),
            ReconcileRequest {
                partner_id: String::new(),
                from: "2026-10-01".into(),
                to: "2026-10-09".into(),
            },
        ))
        .await
        .expect("reconciled")
        .into_inner();
    let total = reconciled.total.expect("total");
    assert!(total.holds, "{total:?}");
    assert_eq!(
        (
            total.payments_krw,
            total.refunds_krw,
            total.commission_krw,
            total.transferred_krw
        ),
        (150_000, 50_000, 3_000, 97_000)
    );
}

#[tokio::test]
async fn a_payout_to_a_partner_without_a_verified_account_is_held() {
    let service = Service::new().await;
    completed_on_friday(&service).await;
    service.clock.set(at(TUESDAY, 10, 0));
    let batch = run_batch(&service, TUESDAY).await.expect("ran");
    let held = run_batch(&service, TUESDAY).await.expect("again");
    assert_eq!(batch.payout_krw, 48_500);
    assert_eq!(held.payouts[0].state, PayoutState::Held as i32);
    assert_eq!(held.payouts[0].reason, "no verified settlement account");
    assert_eq!(
        balance(&service).await.in_flight_krw,
        48_500,
        "shown as pending"
    );
    assert_eq!(service.provider.transferred_krw(), 0);
    // Once operations verify the account, the sender releases it and transfers.
    verified(&service).await;
    service
        .payouts
        .send_instructed()
        .await
        .expect("released and sent");
    assert_eq!(service.provider.transferred_krw(), 48_500);
}

#[tokio::test]
async fn a_refused_transfer_is_credited_to_the_balance_which_is_withdrawn_up_to_what_it_holds() {
    let service = Service::new().await;
    verified(&service).await;
    completed_on_friday(&service).await;
    service.provider.set_failures(SimulatedFailures {
        refused_accounts: ["110123456789".to_string()].into(),
        ..Default::default()
    });
    service.clock.set(at(TUESDAY, 10, 0));
    run_batch(&service, TUESDAY).await.expect("ran");
    let b = balance(&service).await;
    assert_eq!((b.balance_krw, b.in_flight_krw), (48_500, 0));
    service.provider.set_failures(SimulatedFailures::default());
    let withdraw = |amount| {
        request(
            &ops(),
            WithdrawRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                partner_id: PARTNER.to_string(),
                amount_krw: amount,
            },
        )
    };
    refused(
        service.api.withdraw(withdraw(48_501)).await,
        Code::FailedPrecondition,
        "BALANCE_INSUFFICIENT",
    );
    let after = service
        .api
        .withdraw(withdraw(48_500))
        .await
        .expect("withdrawn")
        .into_inner();
    assert_eq!((after.balance_krw, after.in_flight_krw), (0, 48_500));
    service.index_all().await;
    service.payouts.send_instructed().await.expect("sent");
    assert_eq!(service.provider.transferred_krw(), 48_500);
}

#[tokio::test]
async fn a_days_statement_lists_its_entries_and_exports_them_as_csv() {
    let service = Service::new().await;
    completed_on_friday(&service).await;
    service.index_all().await;
    let statement = service
        .api
        .get_statement(request(
            &ops(),
            GetStatementRequest {
                partner_id: PARTNER.to_string(),
                period: "2026-10-06".into(),
                csv: true,
            },
        ))
        .await
        .expect("statement")
        .into_inner();
    assert_eq!(statement.entries.len(), 4);
    let total = statement.total.expect("total");
    assert_eq!(
        (total.sales_krw, total.commission_krw, total.payable_krw),
        (50_000, 1_500, 48_500)
    );
    let mut lines = statement.csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "payable_on,occurred_on,reservation_id,line_number,kind,method,commission_bps,amount_krw"
        )
    );
    assert_eq!(lines.count(), 4);
    refused(
        service
            .api
            .get_statement(request(
                &ops(),
                GetStatementRequest {
                    partner_id: PARTNER.to_string(),
                    period: "2026-13".into(),
                    csv: false,
                },
            ))
            .await,
        Code::InvalidArgument,
        "PERIOD_INVALID",
    );
}

#[tokio::test]
async fn only_the_partners_admin_reads_its_balance() {
    let service = Service::new().await;
    service
        .operator(PARTNER, "owner", OperatorRole::Admin, None)
        .await;
    service
        .operator(PARTNER, "member", OperatorRole::Member, None)
        .await;
    let get = |who| {
        request(
            &operator(who, PARTNER),
            GetBalanceRequest {
                partner_id: PARTNER.to_string(),
            },
        )
    };
    service
        .api
        .get_balance(get("owner"))
        .await
        .expect("the 관리자");
    refused(
        service.api.get_balance(get("member")).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
}

#[tokio::test]
async fn a_fact_naming_no_partner_is_set_aside() {
    let service = Service::new().await;
    let nameless = recorded("reservation-r-1", &ReservationCompleted::default());
    let outcome = service.ledger.handle(&nameless).await;
    assert!(
        matches!(outcome, Err(HandlerError::Poison(_))),
        "{outcome:?}"
    );
}

fn ops_request<T>(message: T) -> tonic::Request<T> {
    request(&ops(), message)
}

#[tokio::test]
async fn operations_hold_a_partners_payouts_and_release_one_which_is_then_transferred() {
    use yeyak_proto::settlement::v1::{ReleasePayoutRequest, SetPayoutHoldRequest};
    let service = Service::new().await;
    verified(&service).await;
    completed_on_friday(&service).await;
    let hold = |held: bool, reason: &str| {
        ops_request(SetPayoutHoldRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            partner_id: PARTNER.to_string(),
            held,
            reason: reason.into(),
        })
    };
    refused(
        service.api.set_payout_hold(hold(true, "")).await,
        Code::InvalidArgument,
        "REQUIRED",
    );
    let held = service
        .api
        .set_payout_hold(hold(true, "서류 재확인"))
        .await
        .expect("held")
        .into_inner();
    assert!(held.payouts_held);
    service.clock.set(at(TUESDAY, 10, 0));
    let batch = run_batch(&service, TUESDAY).await.expect("ran");
    let payout = &batch.payouts[0];
    assert_eq!(payout.state, PayoutState::Held as i32);
    assert_eq!(
        service.provider.transferred_krw(),
        0,
        "a held payout is not sent"
    );
    let release = |payout_id: &str| {
        ops_request(ReleasePayoutRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            partner_id: PARTNER.to_string(),
            payout_id: payout_id.into(),
        })
    };
    let released = service
        .api
        .release_payout(release(&payout.payout_id))
        .await
        .expect("released")
        .into_inner();
    assert_eq!(released.state, PayoutState::Instructed as i32);
    refused(
        service.api.release_payout(release(&payout.payout_id)).await,
        Code::FailedPrecondition,
        "PAYOUT_NOT_HELD",
    );
    service.index_all().await;
    service.payouts.send_instructed().await.expect("sent");
    assert_eq!(service.provider.transferred_krw(), 48_500);
}

#[tokio::test]
async fn an_adjustment_is_paid_with_the_next_business_days_settlement() {
    use yeyak_proto::settlement::v1::RecordAdjustmentRequest;
    let service = Service::new().await;
    verified(&service).await;
    completed_on_friday(&service).await;
    service.clock.set(at(FRIDAY, 16, 0));
    let adjust = |amount: i64| {
        ops_request(RecordAdjustmentRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            partner_id: PARTNER.to_string(),
            amount_krw: amount,
            reason: "쿠폰 정산 보정".into(),
        })
    };
    refused(
        service.api.record_adjustment(adjust(0)).await,
        Code::InvalidArgument,
        "OUT_OF_RANGE",
    );
    let b = service
        .api
        .record_adjustment(adjust(1_500))
        .await
        .expect("adjusted")
        .into_inner();
    assert_eq!(b.payable_krw, 50_000);
    service.clock.set(at(TUESDAY, 10, 0));
    let batch = run_batch(&service, TUESDAY).await.expect("ran");
    assert_eq!(batch.payout_krw, 50_000);
}

#[tokio::test]
async fn a_months_statement_has_a_row_per_payout_day_and_a_total() {
    let service = Service::new().await;
    verified(&service).await;
    completed_on_friday(&service).await;
    service
        .deliver(&booked("r-2", &[10_000], at(TUESDAY, 9, 0)))
        .await;
    service
        .deliver(&completion("r-2", at(TUESDAY, 12, 0)))
        .await;
    service.clock.set(at(TUESDAY, 10, 0));
    run_batch(&service, TUESDAY).await.expect("ran");
    let statement = service
        .api
        .get_statement(ops_request(GetStatementRequest {
            partner_id: PARTNER.to_string(),
            period: "2026-10".into(),
            csv: true,
        }))
        .await
        .expect("statement")
        .into_inner();
    let days: Vec<_> = statement
        .days
        .iter()
        .map(|d| (d.day.as_str(), d.payable_krw, d.state))
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-10-06", 48_500, PayoutState::Transferred as i32),
            ("2026-10-07", 9_700, PayoutState::Scheduled as i32),
        ]
    );
    let csv: Vec<_> = statement.csv.lines().collect();
    assert_eq!(csv.len(), 4, "header, two days, the total: {csv:?}");
    assert!(
        csv[3].starts_with("total,60000,1800,0,0,58200,"),
        "{}",
        csv[3]
    );
}

fn submission(
    business_type: BusinessType,
    holder: &str,
    documents: &[DocumentKind],
) -> tonic::Request<SubmitSettlementInfoRequest> {
    ops_request(SubmitSettlementInfoRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        partner_id: PARTNER.to_string(),
        business_type: business_type as i32,
        business_owner: "주식회사 서울테이블".into(),
        bank_code: "088".into(),
        account_number: "110123456789".into(),
        account_holder: holder.into(),
        documents: documents
            .iter()
            .map(|k| Document {
                kind: *k as i32,
                file_ref: "kyc/doc.pdf".into(),
                sha256: "cd".repeat(32),
            })
            .collect(),
        mail_order: MailOrder::Registered as i32,
        mail_order_number: "2026-서울강남-01234".into(),
    })
}

#[tokio::test]
async fn kyc_refusals_name_the_rule_and_append_nothing() {
    let service = Service::new().await;
    let all = [
        DocumentKind::BusinessRegistrationCertificate,
        DocumentKind::CorporateRegistryTranscript,
        DocumentKind::ShareholderRegister,
    ];
    refused(
        service
            .api
            .submit_settlement_info(submission(BusinessType::Corporation, "김철수", &all))
            .await,
        Code::FailedPrecondition,
        "ACCOUNT_HOLDER_NOT_OWNER",
    );
    let missing = service
        .api
        .submit_settlement_info(submission(
            BusinessType::Corporation,
            "(주)서울테이블",
            &all[..1],
        ))
        .await
        .expect_err("documents missing");
    assert_eq!(
        yeyak_kit::status::reason(&missing).as_deref(),
        Some("DOCUMENTS_MISSING")
    );
    assert!(
        missing.message().contains("법인등기부등본") && missing.message().contains("주주명부"),
        "{}",
        missing.message()
    );
    let stored = service
        .log
        .read_stream(&yeyak_settlement::app::streams::seller(PARTNER), 1, 10)
        .await
        .expect("read");
    assert!(stored.is_empty(), "a refused submission appends nothing");
    assert_eq!(
        service.provider.registered_accounts(),
        0,
        "nor registers an account"
    );
    let status = service
        .api
        .submit_settlement_info(submission(
            BusinessType::Corporation,
            "(주)서울테이블",
            &all,
        ))
        .await
        .expect("submitted")
        .into_inner();
    assert!(!status.may_sell_paid_products);
    assert_eq!(status.account_number_masked, "********6789");
    let reject = |reason: &str| {
        ops_request(ReviewKycRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            partner_id: PARTNER.to_string(),
            verified: false,
            reason: reason.into(),
        })
    };
    refused(
        service.api.review_kyc(reject("")).await,
        Code::InvalidArgument,
        "REJECTION_REASON_MISSING",
    );
    let rejected = service
        .api
        .review_kyc(reject("주주명부 불일치"))
        .await
        .expect("rejected")
        .into_inner();
    assert_eq!(rejected.rejection_reason, "주주명부 불일치");
    assert!(!rejected.may_sell_paid_products);
}

#[tokio::test]
async fn a_partial_refund_after_completion_delivered_twice_is_reversed_once() {
    use yeyak_proto::reservations::events::v1::ReservationCancelled;
    let service = Service::new().await;
    completed_on_friday(&service).await;
    let cancel = ReservationCancelled {
        reservation_id: "r-1".into(),
        partner_id: PARTNER.to_string(),
        after_completion: true,
        refunded_krw: 10_000,
        ..Default::default()
    };
    let refund = fact("r-1", at(FRIDAY, 18, 0), &cancel);
    service.deliver(&refund).await;
    service.deliver(&refund).await;
    // 10,000 back, 300 of commission given back with it: once.
    assert_eq!(balance(&service).await.payable_krw, 48_500 - 10_000 + 300);
}
