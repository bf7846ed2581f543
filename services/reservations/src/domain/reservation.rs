//! A reservation: its state folded from its stream, and its commands decided — booking
//! ([`super::booking`]), confirm and reject (here), cancel ([`super::cancellation`]), complete,
//! cancel payment only and no-show ([`super::completion`]), expiry ([`super::expiry`]).
use std::collections::{BTreeMap, BTreeSet};

use yeyak_kit::command::Aggregate;
use yeyak_proto::{
    reservations::events::v1::{
        InventoryReleased, InventoryReserved, ReservationBooked, ReservationCancelled,
        ReservationConfirmed, ReservationLine, ReservationRejected,
    },
    time::to_micros,
};

use super::{
    ReservationError,
    booking::{self, Availability, Book},
    cancellation::{self, Cancel, Cancelled, Canceller},
    completion::{self, Completion},
    events::ReservationEvent,
    expiry,
    inventory::{Inventory, Pool, pools_of_line},
};

/// Where a reservation is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// 예약신청: waiting for the partner (Approval mode).
    Requested,
    /// 예약확정.
    Confirmed,
    /// 확정거절.
    Rejected,
    /// 예약취소.
    Cancelled,
    /// 이용완료.
    Completed,
    /// `Requested`, unanswered until it expired.
    Expired,
}

/// A reservation as its stream folds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reservation {
    pub booked: Option<ReservationBooked>,
    pub state: Option<State>,
    pub refunded_krw: i64,
    pub cancellation: Option<ReservationCancelled>,
    /// 결제만 취소 happened.
    pub payment_cancelled: bool,
    pub no_show: bool,
    /// Lines cancelled by partial cancels.
    pub cancelled_lines: BTreeSet<u32>,
    /// What was paid for the cancelled lines, and what their cancels refunded.
    pub(crate) cancelled_paid_krw: i64,
    pub(crate) lines_refunded_krw: i64,
}

impl Reservation {
    pub fn apply(&mut self, event: ReservationEvent) {
        match event {
            ReservationEvent::Booked(e) => {
                self.state = Some(if e.requires_approval {
                    State::Requested
                } else {
                    State::Confirmed
                });
                self.booked = Some(e);
            }
            ReservationEvent::Confirmed(_) => self.state = Some(State::Confirmed),
            ReservationEvent::Rejected(e) => {
                self.state = Some(State::Rejected);
                self.refunded_krw += e.refunded_krw;
            }
            ReservationEvent::Cancelled(e) => {
                self.state = Some(State::Cancelled);
                self.refunded_krw += e.refunded_krw;
                self.cancellation = Some(e);
            }
            ReservationEvent::LinesCancelled(e) => {
                let paid: i64 = self
                    .lines()
                    .iter()
                    .filter(|l| e.line_numbers.contains(&l.line_number))
                    .map(|l| l.paid_krw)
                    .sum();
                self.cancelled_paid_krw += paid;
                self.lines_refunded_krw += e.refunded_krw;
                self.refunded_krw += e.refunded_krw;
                self.cancelled_lines.extend(e.line_numbers);
            }
            ReservationEvent::Completed(_) => self.state = Some(State::Completed),
            ReservationEvent::Expired(e) => {
                self.state = Some(State::Expired);
                self.refunded_krw += e.refunded_krw;
            }
            ReservationEvent::PaymentCancelled(e) => {
                self.payment_cancelled = true;
                self.refunded_krw += e.refunded_krw;
            }
            ReservationEvent::NoShow(e) => self.no_show = e.no_show,
        }
    }

    /// Every line, cancelled ones included. A booking recorded before lines existed has one.
    pub fn lines(&self) -> Vec<ReservationLine> {
        let Some(b) = &self.booked else {
            return vec![];
        };
        if !b.lines.is_empty() {
            return b.lines.clone();
        }
        vec![ReservationLine {
            line_number: 1,
            reservation_schedule_id: b.reservation_schedule_id.clone(),
            quantity: b.quantity,
            unit_price_krw: b.unit_price_krw,
            paid_krw: b.paid_krw,
            ..Default::default()
        }]
    }

    /// The lines not cancelled.
    pub fn live_lines(&self) -> Vec<ReservationLine> {
        self.lines()
            .into_iter()
            .filter(|l| !self.cancelled_lines.contains(&l.line_number))
            .collect()
    }

    /// Seats the live lines hold.
    pub fn live_quantity(&self) -> u32 {
        self.live_lines().iter().map(|l| l.quantity).sum()
    }

    /// What was paid for the live lines and not refunded yet.
    pub fn paid_left(&self) -> i64 {
        let paid = self.booked.as_ref().map_or(0, |b| b.paid_krw);
        paid - self.cancelled_paid_krw - (self.refunded_krw - self.lines_refunded_krw)
    }

    pub(crate) fn booked(&self) -> Result<&ReservationBooked, ReservationError> {
        self.booked
            .as_ref()
            .ok_or(ReservationError::ReservationNotFound)
    }

    /// The booking, when the reservation is in one of `allowed`.
    pub(crate) fn require(
        &self,
        allowed: &[State],
        action: &'static str,
    ) -> Result<&ReservationBooked, ReservationError> {
        let booked = self.booked()?;
        let state = self.state.expect("a booked reservation has a state");
        if allowed.contains(&state) {
            Ok(booked)
        } else {
            Err(ReservationError::InvalidState { action, state })
        }
    }
}

/// Seats to give back, per quantity, for these lines.
pub type Releases = Vec<(Pool, InventoryReleased)>;

/// The seats of `lines`, given back where they are held (lines in one quantity summed).
pub(crate) fn releases(booked: &ReservationBooked, lines: &[ReservationLine]) -> Releases {
    let mut per_pool: BTreeMap<Pool, u32> = BTreeMap::new();
    for line in lines {
        for pool in pools_of_line(&booked.product_id, line) {
            *per_pool.entry(pool).or_default() += line.quantity;
        }
    }
    per_pool
        .into_iter()
        .map(|(pool, quantity)| {
            (
                pool,
                InventoryReleased {
                    reservation_id: booked.reservation_id.clone(),
                    quantity,
                },
            )
        })
        .collect()
}

pub(crate) fn micros(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().and_then(to_micros).unwrap_or_default()
}

/// The partner confirms a `Requested` reservation.
pub fn confirm(r: &Reservation) -> Result<ReservationConfirmed, ReservationError> {
    let b = r.require(&[State::Requested], "confirm")?;
    Ok(ReservationConfirmed {
        reservation_id: b.reservation_id.clone(),
        partner_id: b.partner_id.clone(),
        place_id: b.place_id.clone(),
        product_id: b.product_id.clone(),
    })
}

/// The partner rejects (확정거절) a `Requested` reservation: seats are released, payment refunded.
/// Without a reason, the partner's default reject text is used; without one, it is refused.
pub fn reject(
    r: &Reservation,
    reason: String,
    default_text: Option<&str>,
) -> Result<(ReservationRejected, Releases), ReservationError> {
    let b = r.require(&[State::Requested], "reject")?;
    let reason = if reason.trim().is_empty() {
        default_text.unwrap_or_default().to_string()
    } else {
        reason
    };
    if reason.trim().is_empty() {
        return Err(ReservationError::invalid(
            "reason",
            "REASON_REQUIRED",
            "give a reason, or set the partner's default reject text",
        ));
    }
    Ok((
        ReservationRejected {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            reason,
            refunded_krw: r.paid_left(),
        },
        releases(b, &r.live_lines()),
    ))
}

/// What is asked of a reservation.
#[derive(Debug, Clone, PartialEq)]
pub enum ReservationCommand {
    Book(Book),
    Confirm,
    Reject {
        reason: String,
    },
    Cancel(Cancel),
    Complete {
        code: String,
    },
    CancelPaymentOnly {
        reason: String,
    },
    MarkNoShow {
        no_show: bool,
    },
    /// The scheduler, when a `Requested` reservation's expiry is due.
    Expire,
    /// The scheduler, the day after a free or reservation-only reservation's use.
    AutoComplete,
}

/// What a reservation decision needs besides the reservation: the time and the facts learned
/// from other streams.
#[derive(Debug, Clone, Default)]
pub struct ReservationContext {
    pub now_us: i64,
    /// A booking's units, by reservation schedule id.
    pub units: BTreeMap<String, Inventory>,
    /// The quantities a booking's units share with others.
    pub shared: BTreeMap<Pool, Inventory>,
    /// What the catalog said about booking the product and its place.
    pub availability: Availability,
    /// The partner's completion code (its hash), when one is set.
    pub completion_code_sha256: Option<String>,
    /// The partner's default reject text, when one is set.
    pub default_reject_text: Option<String>,
}

/// What a reservation decision appends: the reservation's event, the seats it holds or gives
/// back, and what it owes the customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReservationDecision {
    /// `None`: nothing changes (a no-show marked again).
    pub event: Option<ReservationEvent>,
    pub holds: Vec<(Pool, InventoryReserved)>,
    pub releases: Releases,
    /// Money owed back to the customer (a refund request when something was captured).
    pub refund_krw: i64,
}

impl ReservationDecision {
    fn of(event: impl Into<ReservationEvent>) -> Self {
        Self {
            event: Some(event.into()),
            ..Default::default()
        }
    }

    fn releasing(mut self, releases: Releases) -> Self {
        self.releases = releases;
        self
    }
}

/// What a reservation event owes the customer back.
pub fn refunded(event: &ReservationEvent) -> i64 {
    match event {
        ReservationEvent::Rejected(e) => e.refunded_krw,
        ReservationEvent::Cancelled(e) => e.refunded_krw,
        ReservationEvent::LinesCancelled(e) => e.refunded_krw,
        ReservationEvent::Expired(e) => e.refunded_krw,
        ReservationEvent::PaymentCancelled(e) => e.refunded_krw,
        _ => 0,
    }
}

impl Aggregate for Reservation {
    type Event = ReservationEvent;
    type Command = ReservationCommand;
    type Context = ReservationContext;
    type Decision = ReservationDecision;
    type Error = ReservationError;

    fn evolve(&mut self, event: ReservationEvent) {
        self.apply(event);
    }

    fn decide(
        &self,
        command: ReservationCommand,
        c: &ReservationContext,
    ) -> Result<ReservationDecision, ReservationError> {
        let decision = match command {
            ReservationCommand::Book(cmd) => {
                let booking = booking::book(self, cmd, c)?;
                ReservationDecision {
                    event: Some(booking.booked.into()),
                    holds: booking.holds,
                    ..Default::default()
                }
            }
            ReservationCommand::Confirm => ReservationDecision::of(confirm(self)?),
            ReservationCommand::Reject { reason } => {
                let (e, released) = reject(self, reason, c.default_reject_text.as_deref())?;
                ReservationDecision::of(e).releasing(released)
            }
            ReservationCommand::Cancel(cmd) => {
                let (outcome, released) = cancellation::cancel_lines(self, cmd, c.now_us)?;
                match outcome {
                    Cancelled::Whole(e) => ReservationDecision::of(e),
                    Cancelled::Lines(e) => ReservationDecision::of(e),
                }
                .releasing(released)
            }
            ReservationCommand::Complete { code } => ReservationDecision::of(completion::complete(
                self,
                Completion::Partner { code },
                c.completion_code_sha256.as_deref(),
                c.now_us,
            )?),
            ReservationCommand::CancelPaymentOnly { reason } => {
                ReservationDecision::of(completion::cancel_payment_only(self, reason)?)
            }
            ReservationCommand::MarkNoShow { no_show } => {
                match completion::mark_no_show(self, no_show, c.now_us)? {
                    Some(e) => ReservationDecision::of(e),
                    None => ReservationDecision::default(),
                }
            }
            ReservationCommand::Expire => {
                let (e, released) = expiry::expire(self, c.now_us)?;
                ReservationDecision::of(e).releasing(released)
            }
            ReservationCommand::AutoComplete => ReservationDecision::of(completion::complete(
                self,
                Completion::Automatic,
                None,
                c.now_us,
            )?),
        };
        let refund_krw = decision.event.as_ref().map_or(0, refunded);
        Ok(ReservationDecision {
            refund_krw,
            ..decision
        })
    }
}

/// The canceller of a cancel command by who asks.
pub fn canceller(by_customer: bool) -> Canceller {
    if by_customer {
        Canceller::Customer
    } else {
        Canceller::Partner
    }
}
