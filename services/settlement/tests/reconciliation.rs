//! Reconciliation over random histories, with no infrastructure: bookings paid by several
//! methods, partial and whole cancels, completions, payment-only cancels and cancels after
//! completion, daily settlements, transfers that succeed or fail, deposits and withdrawals.
//! Over any period, payments − refunds − commission (+ deposits) = payouts transferred + the
//! change in what the ledger holds.
use std::collections::BTreeMap;

use jiff::civil::{Date, Time, date};
use proptest::prelude::*;
use yeyak_kit::command::Aggregate;
use yeyak_proto::reservations::events::v1::{
    PaymentMethod, ReservationCancelled, ReservationCompleted, ReservationLinesCancelled,
    ReservationPaymentCancelled,
};
use yeyak_settlement::domain::{
    CommissionTable,
    account::{Account, AccountContext, AccountEvent, posting},
    facts::SettlementFact,
    ledger::{LedgerCommand, LedgerContext, LedgerEvent, PartnerLedger, TransferOutcome},
    reconciliation::reconcile,
};

#[derive(Debug, Clone)]
enum Step {
    Book {
        method: usize,
        lines: Vec<i64>,
    },
    CancelLines {
        reservation: usize,
        line: u32,
        refund_pct: i64,
    },
    Cancel {
        reservation: usize,
        refund_pct: i64,
    },
    Complete {
        reservation: usize,
    },
    CancelPaymentOnly {
        reservation: usize,
    },
    CancelAfterCompletion {
        reservation: usize,
        refund_pct: i64,
    },
    Settle,
    Transfer {
        fail: bool,
    },
    Deposit {
        amount: i64,
    },
    Withdraw {
        amount: i64,
    },
    NextDay,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0usize..4, proptest::collection::vec(1i64..200_000, 1..4))
            .prop_map(|(method, lines)| Step::Book { method, lines }),
        1 => (0usize..8, 1u32..4, 0i64..=100)
            .prop_map(|(reservation, line, refund_pct)| Step::CancelLines { reservation, line, refund_pct }),
        1 => (0usize..8, 0i64..=100).prop_map(|(reservation, refund_pct)| Step::Cancel { reservation, refund_pct }),
        3 => (0usize..8).prop_map(|reservation| Step::Complete { reservation }),
        1 => (0usize..8).prop_map(|reservation| Step::CancelPaymentOnly { reservation }),
        1 => (0usize..8, 0i64..=100)
            .prop_map(|(reservation, refund_pct)| Step::CancelAfterCompletion { reservation, refund_pct }),
        2 => Just(Step::Settle),
        2 => any::<bool>().prop_map(|fail| Step::Transfer { fail }),
        1 => (1i64..100_000).prop_map(|amount| Step::Deposit { amount }),
        1 => (1i64..200_000).prop_map(|amount| Step::Withdraw { amount }),
        2 => Just(Step::NextDay),
    ]
}

const METHODS: [PaymentMethod; 4] = [
    PaymentMethod::KakaoPayCard,
    PaymentMethod::KakaoPayMoney,
    PaymentMethod::CreditCard,
    PaymentMethod::Points,
];

fn noon(day: Date) -> i64 {
    yeyak_kit::kst::kst()
        .to_timestamp(day.to_datetime(Time::constant(12, 0, 0, 0)))
        .unwrap()
        .as_microsecond()
}

/// A history played out: the partner's ledger events, and each reservation's account.
struct World {
    day: Date,
    events: Vec<LedgerEvent>,
    ledger: PartnerLedger,
    accounts: BTreeMap<String, (Account, bool)>,
    n: u32,
}

impl World {
    fn now(&self) -> i64 {
        noon(self.day)
    }

    fn ledger(&mut self, command: LedgerCommand) {
        let context = LedgerContext {
            partner_id: "p".into(),
            now_us: self.now(),
        };
        if let Ok(events) = self.ledger.decide(command, &context) {
            for e in events {
                self.ledger.evolve(e.clone());
                self.events.push(e);
            }
        }
    }

    fn fact(&mut self, reservation: &str, fact: SettlementFact) {
        self.n += 1;
        let context = AccountContext {
            rates: CommissionTable::default(),
            occurred_at_us: self.now(),
            source_event_id: format!("e{}", self.n),
        };
        let (account, _) = self.accounts.entry(reservation.into()).or_default();
        let entries = account.decide(fact, &context).expect("decided");
        for e in &entries {
            account.evolve(AccountEvent::Entry(e.clone()));
        }
        if let Some(p) = posting(&entries, format!("post{}", self.n), self.now()) {
            self.ledger(LedgerCommand::Post(p));
        }
    }

    fn pending_of(&self, reservation: &str, lines: Option<u32>) -> i64 {
        self.accounts.get(reservation).map_or(0, |(a, _)| {
            a.lines
                .iter()
                .filter(|(n, _)| lines.is_none_or(|l| l == **n))
                .map(|(_, l)| l.pending)
                .sum()
        })
    }

    fn play(&mut self, step: Step) {
        let name = |r: usize| format!("r{r}");
        let id = |r: usize| name(r);
        match step {
            Step::Book { method, lines } => {
                let r = self.accounts.len();
                let booked =
                    yeyak_settlement::testing::booked(&id(r), "p", METHODS[method], &lines);
                self.fact(&id(r), SettlementFact::Booked(booked));
            }
            Step::CancelLines {
                reservation,
                line,
                refund_pct,
            } => {
                let pending = self.pending_of(&id(reservation), Some(line));
                if pending > 0 && !self.completed(reservation) {
                    let refunded = pending * refund_pct / 100;
                    self.fact(
                        &id(reservation),
                        SettlementFact::LinesCancelled(ReservationLinesCancelled {
                            reservation_id: id(reservation),
                            partner_id: "p".into(),
                            line_numbers: vec![line],
                            refunded_krw: refunded,
                            fee_krw: pending - refunded,
                            ..Default::default()
                        }),
                    );
                }
            }
            Step::Cancel {
                reservation,
                refund_pct,
            } => {
                let pending = self.pending_of(&id(reservation), None);
                if pending > 0 && !self.completed(reservation) {
                    self.fact(
                        &id(reservation),
                        SettlementFact::Cancelled(ReservationCancelled {
                            reservation_id: id(reservation),
                            partner_id: "p".into(),
                            refunded_krw: pending * refund_pct / 100,
                            ..Default::default()
                        }),
                    );
                }
            }
            Step::Complete { reservation } => {
                if self.accounts.contains_key(&id(reservation)) && !self.completed(reservation) {
                    self.fact(
                        &id(reservation),
                        SettlementFact::Completed(ReservationCompleted {
                            reservation_id: id(reservation),
                            partner_id: "p".into(),
                            ..Default::default()
                        }),
                    );
                    if let Some((_, done)) = self.accounts.get_mut(&id(reservation)) {
                        *done = true;
                    }
                }
            }
            Step::CancelPaymentOnly { reservation } => {
                if self.completed(reservation) {
                    let left = self.reversible(reservation);
                    self.fact(
                        &id(reservation),
                        SettlementFact::PaymentCancelled(ReservationPaymentCancelled {
                            reservation_id: id(reservation),
                            partner_id: "p".into(),
                            refunded_krw: left,
                            ..Default::default()
                        }),
                    );
                }
            }
            Step::CancelAfterCompletion {
                reservation,
                refund_pct,
            } => {
                if self.completed(reservation) {
                    let left = self.reversible(reservation);
                    self.fact(
                        &id(reservation),
                        SettlementFact::Cancelled(ReservationCancelled {
                            reservation_id: id(reservation),
                            partner_id: "p".into(),
                            after_completion: true,
                            refunded_krw: left * refund_pct / 100,
                            ..Default::default()
                        }),
                    );
                }
            }
            Step::Settle => {
                let day = self.day;
                self.ledger(LedgerCommand::SettleDay {
                    day,
                    payout_id: format!("payout-{day}"),
                });
            }
            Step::Transfer { fail } => {
                let waiting: Vec<String> = self.ledger.payouts.keys().cloned().collect();
                for payout_id in waiting {
                    let outcome = if fail {
                        TransferOutcome::Failed {
                            reason: "closed".into(),
                        }
                    } else {
                        TransferOutcome::Transferred {
                            transfer_id: "t".into(),
                        }
                    };
                    self.ledger(LedgerCommand::Outcome { payout_id, outcome });
                }
            }
            Step::Deposit { amount } => {
                self.n += 1;
                self.ledger(LedgerCommand::Deposit {
                    deposit_id: format!("d{}", self.n),
                    amount,
                    reference: "bank".into(),
                });
            }
            Step::Withdraw { amount } => {
                self.n += 1;
                self.ledger(LedgerCommand::Withdraw {
                    withdrawal_id: format!("w{}", self.n),
                    payout_id: format!("wp{}", self.n),
                    amount,
                    account_verified: true,
                });
            }
            Step::NextDay => self.day = self.day.tomorrow().unwrap(),
        }
    }

    fn completed(&self, r: usize) -> bool {
        self.accounts
            .get(&format!("r{r}"))
            .is_some_and(|(_, done)| *done)
    }

    fn reversible(&self, r: usize) -> i64 {
        self.accounts.get(&format!("r{r}")).map_or(0, |(a, _)| {
            a.lines.values().map(|l| l.payable - l.reversed).sum()
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn payments_less_refunds_and_commission_equal_payouts_and_the_change_in_holdings(
        steps in proptest::collection::vec(step(), 1..80),
        split in 0usize..40,
    ) {
        let mut world = World {
            day: date(2026, 9, 21),
            events: Vec::new(),
            ledger: PartnerLedger::default(),
            accounts: BTreeMap::new(),
            n: 0,
        };
        for s in steps {
            world.play(s);
        }
        let start = noon(date(2026, 9, 21)) - 1;
        let end = world.now() + 1;
        let whole = reconcile(world.events.clone(), start, end);
        prop_assert!(whole.holds(), "{whole:?}");
        prop_assert_eq!(whole.opening, 0);
        prop_assert_eq!(whole.closing, world.ledger.holdings());
        // Any period holds too.
        let cut = noon(date(2026, 9, 21)) + split as i64 * 86_400_000_000;
        let before = reconcile(world.events.clone(), start, cut);
        let after = reconcile(world.events.clone(), cut, end);
        prop_assert!(before.holds(), "{before:?}");
        prop_assert!(after.holds(), "{after:?}");
        // The ledger's pending money is what the accounts hold pending.
        let pending: i64 = world.accounts.values().flat_map(|(a, _)| a.lines.values()).map(|l| l.pending).sum();
        prop_assert_eq!(world.ledger.pending, pending);
        prop_assert!(world.ledger.balance >= -10_000_000_000);
    }
}
