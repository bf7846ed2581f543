use jiff::civil::{Time, date};
use yeyak_proto::reservations::events::v1::{
    ReservationCancelled, ReservationCompleted, ReservationLinesCancelled,
    ReservationPaymentCancelled, ReservationRejected,
};

use super::*;

/// 2026-10-02 (a Friday before 개천절's weekend and its 대체공휴일), 15:00 KST.
fn friday_us() -> i64 {
    yeyak_kit::kst::kst()
        .to_timestamp(date(2026, 10, 2).to_datetime(Time::constant(15, 0, 0, 0)))
        .unwrap()
        .as_microsecond()
}

fn context_at(occurred_at_us: i64, event: &str) -> AccountContext {
    AccountContext {
        rates: CommissionTable::default(),
        occurred_at_us,
        source_event_id: event.into(),
    }
}

fn booked(method: PaymentMethod, paid: &[i64]) -> SettlementFact {
    SettlementFact::Booked(ReservationBooked {
        place_id: "pl".into(),
        ..crate::testing::booked("r", "p", method, paid)
    })
}

fn completed() -> SettlementFact {
    SettlementFact::Completed(ReservationCompleted {
        reservation_id: "r".into(),
        partner_id: "p".into(),
        ..Default::default()
    })
}

/// The account after `facts`, each decided and applied in turn at `at_us`.
fn account_after(facts: &[SettlementFact], at_us: i64) -> (Account, Vec<LedgerEntryRecorded>) {
    let mut account = Account::default();
    let mut all = Vec::new();
    for (i, fact) in facts.iter().enumerate() {
        let entries = account
            .decide(fact.clone(), &context_at(at_us, &format!("e{i}")))
            .unwrap();
        for e in &entries {
            account.evolve(AccountEvent::Entry(e.clone()));
        }
        all.extend(entries);
    }
    (account, all)
}

fn kinds(entries: &[LedgerEntryRecorded]) -> Vec<(u32, EntryKind, i64, &str)> {
    entries
        .iter()
        .map(|e| {
            (
                e.line_number,
                EntryKind::try_from(e.kind).unwrap(),
                e.amount_krw,
                e.payable_on.as_str(),
            )
        })
        .collect()
}

#[test]
fn a_paid_booking_records_each_lines_payment_as_pending() {
    let (_, entries) = account_after(
        &[booked(PaymentMethod::KakaoPayCard, &[30_000, 20_000])],
        friday_us(),
    );
    assert_eq!(
        kinds(&entries),
        vec![
            (1, EntryKind::Payment, 30_000, ""),
            (2, EntryKind::Payment, 20_000, ""),
        ]
    );
}

#[test]
fn a_reservation_only_booking_has_no_entries_and_no_commission() {
    let (_, entries) = account_after(
        &[booked(PaymentMethod::Unspecified, &[0]), completed()],
        friday_us(),
    );
    assert_eq!(entries, vec![]);
}

#[test]
fn a_completion_makes_each_line_payable_the_next_business_day_less_its_methods_commission() {
    let (account, entries) = account_after(
        &[
            booked(PaymentMethod::KakaoPayMoney, &[30_000, 20_000]),
            completed(),
        ],
        friday_us(),
    );
    // Friday 2026-10-02 → the weekend, 개천절 and its 대체공휴일 → Tuesday 10-06; 2.2 %.
    assert_eq!(
        kinds(&entries[2..]),
        vec![
            (1, EntryKind::Completion, 30_000, "2026-10-06"),
            (1, EntryKind::Commission, -660, "2026-10-06"),
            (2, EntryKind::Completion, 20_000, "2026-10-06"),
            (2, EntryKind::Commission, -440, "2026-10-06"),
        ]
    );
    assert_eq!(entries[3].commission_bps, 220);
    assert!(
        account
            .lines
            .values()
            .all(|l| l.completed && l.pending == 0)
    );
}

#[test]
fn the_rate_in_force_on_the_completion_date_applies_not_the_booking_dates() {
    let rates = CommissionTable::parse(
        "kakao_pay_card=330@2026-01-01,kakao_pay_card=100@2026-10-02,\
         kakao_pay_money=1@2026-01-01,credit_card=1@2026-01-01,points=1@2026-01-01",
    )
    .unwrap();
    let mut account = Account::default();
    let day_before = friday_us() - 86_400_000_000;
    let booking = AccountContext {
        rates: rates.clone(),
        occurred_at_us: day_before,
        source_event_id: "b".into(),
    };
    for e in account
        .decide(booked(PaymentMethod::KakaoPayCard, &[10_000]), &booking)
        .unwrap()
    {
        account.evolve(AccountEvent::Entry(e));
    }
    let completion = AccountContext {
        rates,
        occurred_at_us: friday_us(),
        source_event_id: "c".into(),
    };
    let entries = account.decide(completed(), &completion).unwrap();
    assert_eq!(
        (entries[1].amount_krw, entries[1].commission_bps),
        (-100, 100)
    );
}

#[test]
fn a_partial_cancel_refunds_its_lines_and_makes_the_kept_fee_payable_with_commission() {
    let cancel = SettlementFact::LinesCancelled(ReservationLinesCancelled {
        reservation_id: "r".into(),
        partner_id: "p".into(),
        line_numbers: vec![2],
        refunded_krw: 18_000,
        fee_krw: 2_000,
        ..Default::default()
    });
    let (account, entries) = account_after(
        &[booked(PaymentMethod::CreditCard, &[30_000, 20_000]), cancel],
        friday_us(),
    );
    assert_eq!(
        kinds(&entries[2..]),
        vec![
            (2, EntryKind::Refund, -18_000, ""),
            (2, EntryKind::CancellationFee, 2_000, "2026-10-06"),
            (2, EntryKind::Commission, -70, "2026-10-06"),
        ]
    );
    assert_eq!(account.lines[&1].pending, 30_000, "line 1 stays pending");
    assert_eq!(account.lines[&2].pending, 0);
}

#[test]
fn a_rejection_gives_back_everything_pending_and_nothing_becomes_payable() {
    let rejected = SettlementFact::Rejected(ReservationRejected {
        reservation_id: "r".into(),
        partner_id: "p".into(),
        refunded_krw: 50_000,
        ..Default::default()
    });
    let (account, entries) = account_after(
        &[booked(PaymentMethod::Points, &[30_000, 20_000]), rejected],
        friday_us(),
    );
    assert_eq!(
        kinds(&entries[2..]),
        vec![
            (1, EntryKind::Refund, -30_000, ""),
            (2, EntryKind::Refund, -20_000, ""),
        ]
    );
    assert!(
        account
            .lines
            .values()
            .all(|l| l.pending == 0 && l.payable == 0)
    );
}

#[test]
fn cancel_payment_only_reverses_each_line_with_exactly_the_commission_it_was_charged() {
    let cancel = SettlementFact::PaymentCancelled(ReservationPaymentCancelled {
        reservation_id: "r".into(),
        partner_id: "p".into(),
        refunded_krw: 50_001,
        ..Default::default()
    });
    let (account, entries) = account_after(
        &[
            booked(PaymentMethod::KakaoPayCard, &[33_333, 16_668]),
            completed(),
            cancel,
        ],
        friday_us(),
    );
    let reversal = kinds(&entries[6..]);
    assert_eq!(
        reversal,
        vec![
            (1, EntryKind::Reversal, -33_333, "2026-10-06"),
            (1, EntryKind::CommissionReturned, 1_100, "2026-10-06"),
            (2, EntryKind::Reversal, -16_668, "2026-10-06"),
            (2, EntryKind::CommissionReturned, 550, "2026-10-06"),
        ]
    );
    for line in account.lines.values() {
        assert_eq!(line.commission, line.commission_returned);
        assert_eq!(line.payable, line.reversed);
    }
}

#[test]
fn a_cancel_after_completion_reverses_only_the_refund() {
    let cancel = SettlementFact::Cancelled(ReservationCancelled {
        reservation_id: "r".into(),
        partner_id: "p".into(),
        after_completion: true,
        refunded_krw: 5_000,
        ..Default::default()
    });
    let (_, entries) = account_after(
        &[
            booked(PaymentMethod::KakaoPayCard, &[10_000]),
            completed(),
            cancel,
        ],
        friday_us(),
    );
    // Half the line: half its 330 commission.
    assert_eq!(
        kinds(&entries[3..]),
        vec![
            (1, EntryKind::Reversal, -5_000, "2026-10-06"),
            (1, EntryKind::CommissionReturned, 165, "2026-10-06"),
        ]
    );
}

#[test]
fn a_booking_delivered_again_adds_no_second_payment() {
    let booking = booked(PaymentMethod::KakaoPayCard, &[10_000]);
    let (_, entries) = account_after(&[booking.clone(), booking], friday_us());
    assert_eq!(entries.len(), 1);
}

#[test]
fn a_completion_of_a_reservation_booked_before_accounts_existed_records_its_payment() {
    let legacy = SettlementFact::Completed(ReservationCompleted {
        reservation_id: "r".into(),
        partner_id: "p".into(),
        paid_krw: 10_000,
        ..Default::default()
    });
    let (_, entries) = account_after(&[legacy], friday_us());
    assert_eq!(
        kinds(&entries),
        vec![
            (1, EntryKind::Payment, 10_000, ""),
            (1, EntryKind::Completion, 10_000, "2026-10-06"),
            (1, EntryKind::Commission, -350, "2026-10-06"),
        ]
    );
}

#[test]
fn a_posting_sums_one_facts_entries() {
    let (_, entries) = account_after(
        &[booked(PaymentMethod::KakaoPayCard, &[10_000]), completed()],
        friday_us(),
    );
    let p = posting(&entries[1..], "post".into(), friday_us()).unwrap();
    assert_eq!(
        (
            p.pending_krw,
            p.payable_krw,
            p.commission_krw,
            p.sales_krw,
            p.payable_on.as_str()
        ),
        (-10_000, 9_670, 330, 10_000, "2026-10-06")
    );
    assert_eq!(posting(&[], "none".into(), 0), None);
}

#[test]
fn shares_follow_the_weights_and_add_up() {
    assert_eq!(distribute(100, &[100, 100, 100]), vec![34, 33, 33]);
    assert_eq!(distribute(10, &[30, 20]), vec![6, 4]);
    assert_eq!(
        distribute(999, &[3, 4]),
        vec![3, 4],
        "never more than a weight"
    );
    assert_eq!(distribute(5, &[0, 0]), vec![0, 0]);
    assert_eq!(distribute(-5, &[3]), vec![0]);
}

proptest::proptest! {
    #[test]
    fn shares_never_exceed_their_weight_and_add_up_to_the_total(
        weights in proptest::collection::vec(0i64..1_000_000, 1..6),
        total in 0i64..5_000_000,
    ) {
        let shares = distribute(total, &weights);
        let sum: i64 = weights.iter().sum();
        proptest::prop_assert_eq!(shares.iter().sum::<i64>(), total.min(sum));
        for (s, w) in shares.iter().zip(&weights) {
            proptest::prop_assert!(*s >= 0 && s <= w);
        }
    }
}

#[test]
fn money_given_back_after_a_completion_settled_before_the_per_line_ledger_is_still_taken_back() {
    let cancel = SettlementFact::PaymentCancelled(ReservationPaymentCancelled {
        reservation_id: "r".into(),
        partner_id: "p".into(),
        refunded_krw: 10_000,
        ..Default::default()
    });
    let (_, entries) = account_after(&[cancel], friday_us());
    assert_eq!(
        kinds(&entries),
        vec![(0, EntryKind::Reversal, -10_000, "2026-10-06")]
    );
}
