use jiff::civil::date;
use yeyak_kit::command::testing::given;

use super::*;

fn context() -> LedgerContext {
    LedgerContext {
        partner_id: "p".into(),
        now_us: 0,
    }
}

/// A posting of `payable` on `day` (and what it says happened).
fn posted(id: &str, day: &str, payable: i64) -> LedgerEvent {
    EntriesPosted {
        posting_id: id.into(),
        partner_id: "p".into(),
        payable_on: day.into(),
        payable_krw: payable,
        pending_krw: -payable,
        sales_krw: payable.max(0),
        reversals_krw: (-payable).max(0),
        ..Default::default()
    }
    .into()
}

fn settle(day: Date) -> LedgerCommand {
    LedgerCommand::SettleDay {
        day,
        payout_id: format!("payout-{day}"),
    }
}

/// The ledger after `events` and the decision of `command` on it, applied.
fn after(events: Vec<LedgerEvent>, command: LedgerCommand) -> (Vec<LedgerEvent>, PartnerLedger) {
    let decided = given::<PartnerLedger>(events.clone())
        .when(command, &context())
        .decision();
    let mut ledger = given::<PartnerLedger>(events).state;
    for e in decided.clone() {
        ledger.evolve(e);
    }
    (decided, ledger)
}

fn settled(events: &[LedgerEvent]) -> &DaySettled {
    match events {
        [LedgerEvent::DaySettled(s), ..] => s,
        other => panic!("no settlement: {other:?}"),
    }
}

#[test]
fn a_payout_day_settles_what_is_payable_by_then_and_only_once() {
    let history = vec![
        posted("a", "2026-10-06", 9_670),
        posted("b", "2026-10-07", 1_000),
    ];
    let (decided, ledger) = after(history.clone(), settle(date(2026, 10, 6)));
    let s = settled(&decided);
    assert_eq!((s.payable_krw, s.payout_krw, s.postings), (9_670, 9_670, 1));
    assert_eq!(ledger.payable(), 1_000, "the next day's stays");
    assert_eq!(ledger.in_flight(), 9_670);
    let mut again = history;
    again.extend(decided);
    // Even with a late posting for that day, the day is not settled twice.
    again.push(posted("late", "2026-10-06", 10));
    given::<PartnerLedger>(again)
        .when(settle(date(2026, 10, 6)), &context())
        .then_expect(vec![]);
}

#[test]
fn a_posting_that_arrives_after_its_day_was_settled_is_paid_with_the_next_batch() {
    let (first, _) = after(
        vec![posted("a", "2026-10-06", 100)],
        settle(date(2026, 10, 6)),
    );
    let mut history = vec![posted("a", "2026-10-06", 100)];
    history.extend(first);
    history.push(posted("late", "2026-10-06", 50));
    let (decided, _) = after(history, settle(date(2026, 10, 7)));
    assert_eq!(settled(&decided).payout_krw, 50);
}

#[test]
fn a_refund_after_payout_is_netted_against_that_days_settlement() {
    let (decided, ledger) = after(
        vec![
            posted("sale", "2026-10-07", 10_000),
            posted("refund", "2026-10-07", -3_000),
        ],
        settle(date(2026, 10, 7)),
    );
    assert_eq!(settled(&decided).payout_krw, 7_000);
    assert_eq!(ledger.balance, 0);
}

#[test]
fn with_nothing_to_net_against_a_refund_is_deducted_from_the_balance_which_may_go_negative() {
    let (decided, ledger) = after(
        vec![posted("refund", "2026-10-07", -3_000)],
        settle(date(2026, 10, 7)),
    );
    let s = settled(&decided);
    assert_eq!(
        (
            s.payable_krw,
            s.balance_applied_krw,
            s.payout_krw,
            s.payout_id.as_str()
        ),
        (-3_000, 3_000, 0, "")
    );
    assert_eq!(ledger.balance, -3_000);
    assert_eq!(ledger.in_flight(), 0);
}

#[test]
fn a_negative_balance_is_netted_against_the_next_payout() {
    let mut history = vec![posted("refund", "2026-10-07", -3_000)];
    let (first, _) = after(history.clone(), settle(date(2026, 10, 7)));
    history.extend(first);
    history.push(posted("sale", "2026-10-08", 10_000));
    let (decided, ledger) = after(history.clone(), settle(date(2026, 10, 8)));
    let s = settled(&decided);
    assert_eq!((s.balance_applied_krw, s.payout_krw), (-3_000, 7_000));
    assert_eq!(ledger.balance, 0);
    // A smaller payout than the debt: all of it goes to the balance.
    let mut small = history[..2].to_vec();
    small.push(posted("sale", "2026-10-08", 1_000));
    let (decided, ledger) = after(small, settle(date(2026, 10, 8)));
    assert_eq!(settled(&decided).payout_krw, 0);
    assert_eq!(ledger.balance, -2_000);
}

fn instructed(amount: i64) -> Vec<LedgerEvent> {
    let mut history = vec![posted("sale", "2026-10-07", amount)];
    let (decided, _) = after(history.clone(), settle(date(2026, 10, 7)));
    history.extend(decided);
    history
}

const PAYOUT: &str = "payout-2026-10-07";

fn outcome(outcome: TransferOutcome) -> LedgerCommand {
    LedgerCommand::Outcome {
        payout_id: PAYOUT.into(),
        outcome,
    }
}

#[test]
fn a_failed_transfer_is_credited_to_the_balance() {
    let (_, ledger) = after(
        instructed(5_000),
        outcome(TransferOutcome::Failed {
            reason: "account closed".into(),
        }),
    );
    assert_eq!((ledger.balance, ledger.in_flight()), (5_000, 0));
    assert_eq!(
        ledger.payouts[PAYOUT].state,
        PayoutState::CreditedToBalance("account closed".into())
    );
}

#[test]
fn a_transfer_answered_twice_has_no_second_effect() {
    let transferred = TransferOutcome::Transferred {
        transfer_id: "t".into(),
    };
    let (decided, ledger) = after(instructed(5_000), outcome(transferred.clone()));
    let mut history = instructed(5_000);
    history.extend(decided);
    given::<PartnerLedger>(history)
        .when(outcome(transferred), &context())
        .then_expect(vec![]);
    assert_eq!((ledger.transferred, ledger.in_flight()), (5_000, 0));
}

#[test]
fn a_hold_holds_instructed_payouts_and_the_next_ones_until_released() {
    let hold = LedgerCommand::SetHold {
        held: true,
        reason: "under review".into(),
    };
    let (decided, ledger) = after(instructed(5_000), hold);
    assert_eq!(
        ledger.payouts[PAYOUT].state,
        PayoutState::Held("under review".into())
    );
    let mut history = instructed(5_000);
    history.extend(decided);
    history.push(posted("next", "2026-10-08", 1_000));
    let (next, ledger) = after(history.clone(), settle(date(2026, 10, 8)));
    assert_eq!(settled(&next).held_reason, "under review");
    assert_eq!(ledger.in_flight(), 6_000, "held money is still in flight");
    given::<PartnerLedger>(history.clone())
        .when(
            outcome(TransferOutcome::Transferred {
                transfer_id: "t".into(),
            }),
            &context(),
        )
        .then_expect(vec![]);
    let release = LedgerCommand::Release {
        payout_id: PAYOUT.into(),
        by: "ops:1".into(),
    };
    let (_, released) = after(history.clone(), release.clone());
    assert_eq!(released.payouts[PAYOUT].state, PayoutState::Instructed);
    let mut twice = history;
    twice.extend(
        given::<PartnerLedger>(twice.clone())
            .when(release.clone(), &context())
            .decision(),
    );
    given::<PartnerLedger>(twice)
        .when(release, &context())
        .then_refused(SettlementError::PayoutNotHeld(PAYOUT.into()));
}

fn funded(balance: i64) -> Vec<LedgerEvent> {
    vec![
        BalanceDeposited {
            deposit_id: "d".into(),
            partner_id: "p".into(),
            amount_krw: balance,
            ..Default::default()
        }
        .into(),
    ]
}

fn withdraw(amount: i64, account_verified: bool) -> LedgerCommand {
    LedgerCommand::Withdraw {
        withdrawal_id: "w".into(),
        payout_id: "wp".into(),
        amount,
        account_verified,
    }
}

#[test]
fn a_withdrawal_is_at_most_one_billion_won_at_a_time() {
    let mut rich = funded(1_000_000_000);
    rich.extend(funded(1_000_000_000));
    let (decided, ledger) = after(rich.clone(), withdraw(MAX_WITHDRAWAL_KRW, true));
    assert_eq!(decided.len(), 2);
    assert_eq!(
        (ledger.balance, ledger.in_flight()),
        (1_000_000_000, 1_000_000_000)
    );
    given::<PartnerLedger>(rich)
        .when(withdraw(MAX_WITHDRAWAL_KRW + 1, true), &context())
        .then_refused(SettlementError::WithdrawalAboveLimit(1_000_000_001));
}

#[test]
fn a_withdrawal_never_takes_the_balance_below_zero() {
    let (_, ledger) = after(funded(10_000), withdraw(10_000, true));
    assert_eq!(ledger.balance, 0);
    given::<PartnerLedger>(funded(10_000))
        .when(withdraw(10_001, true), &context())
        .then_refused(SettlementError::BalanceInsufficient {
            balance: 10_000,
            asked: 10_001,
        });
    given::<PartnerLedger>(funded(10_000))
        .when(withdraw(0, true), &context())
        .then_refused(SettlementError::AmountOutOfRange(0));
    given::<PartnerLedger>(funded(10_000))
        .when(withdraw(1, false), &context())
        .then_refused(SettlementError::AccountNotVerified);
}

#[test]
fn a_deposit_is_positive_and_clears_a_negative_balance() {
    let mut history = vec![posted("refund", "2026-10-07", -3_000)];
    let (first, _) = after(history.clone(), settle(date(2026, 10, 7)));
    history.extend(first);
    let deposit = |amount| LedgerCommand::Deposit {
        deposit_id: "d".into(),
        amount,
        reference: "bank".into(),
    };
    let (_, ledger) = after(history.clone(), deposit(3_000));
    assert_eq!(ledger.balance, 0);
    given::<PartnerLedger>(history)
        .when(deposit(-1), &context())
        .then_refused(SettlementError::AmountOutOfRange(-1));
}

#[test]
fn an_adjustment_is_payable_the_next_business_day() {
    let at_friday = LedgerContext {
        partner_id: "p".into(),
        // 2026-10-02 12:00 KST.
        now_us: 1_790_910_000_000_000,
    };
    let decided = given::<PartnerLedger>([])
        .when(
            LedgerCommand::Adjust {
                posting_id: "adj".into(),
                amount: -500,
                reason: "chargeback".into(),
            },
            &at_friday,
        )
        .decision();
    let [LedgerEvent::Posted(p)] = decided.as_slice() else {
        panic!("{decided:?}")
    };
    assert_eq!(
        (p.payable_on.as_str(), p.adjustments_krw, p.payable_krw),
        ("2026-10-06", -500, -500)
    );
    given::<PartnerLedger>([])
        .when(
            LedgerCommand::Adjust {
                posting_id: "adj".into(),
                amount: 0,
                reason: "nothing".into(),
            },
            &at_friday,
        )
        .then_refused(SettlementError::AmountOutOfRange(0));
}

#[test]
fn legacy_lines_are_skipped_by_the_fold() {
    let ledger = given::<PartnerLedger>([LedgerEvent::Legacy(Default::default())]).state;
    assert_eq!(ledger, PartnerLedger::default());
}

#[test]
fn a_day_whose_batch_never_ran_is_shown_settled_by_the_later_day_that_took_its_postings() {
    let history = vec![
        posted("a", "2026-10-06", 100),
        posted("b", "2026-10-07", 50),
    ];
    let (decided, ledger) = after(history, settle(date(2026, 10, 7)));
    assert_eq!(settled(&decided).payout_krw, 150);
    assert_eq!(
        ledger.days[&date(2026, 10, 6)].settled_in,
        Some(date(2026, 10, 7))
    );
    assert_eq!(ledger.days[&date(2026, 10, 7)].settled_in, None);
}
