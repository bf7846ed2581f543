//! A reservation's lifecycle: book (`Requested` or `Confirmed`), confirm, reject, cancel (whole
//! or by line), complete.
use std::collections::{BTreeMap, BTreeSet};

use yeyak_proto::{
    catalog::events::v1::{CancellationKind, ProductStatus},
    reservations::events::v1::{
        InventoryOpened, InventoryReleased, InventoryReserved, NoShowMarked, PaymentMode,
        ProductAvailabilityChanged, ReservationBooked, ReservationCancelled, ReservationCompleted,
        ReservationConfirmed, ReservationExpired, ReservationLine, ReservationLinesCancelled,
        ReservationPaymentCancelled, ReservationRejected,
    },
    time::{from_micros, to_micros},
};

use super::{
    ReservationError,
    events::ReservationEvent,
    inventory::{Inventory, unit_stream},
    policy::{self, Quote},
};

/// Most seats one booking takes (all its lines together).
pub const MAX_QUANTITY: u32 = 50;
/// Most lines (예약상세번호) in one reservation.
pub const MAX_LINES: usize = 10;
/// Most answers to custom questions, and the longest answer.
pub const MAX_ANSWERS: usize = 10;
pub const MAX_ANSWER_CHARS: usize = 500;

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

/// How long a `Requested` reservation waits for the partner by default: 24 h.
pub const DEFAULT_EXPIRY_MINUTES: u32 = 24 * 60;

/// When a `Requested` reservation booked at `now_us` expires: after the product's expiry (24 h
/// by default), or at the usage start, whichever comes first.
pub fn expires_at(now_us: i64, expiry_minutes: u32, usage_start_us: i64) -> i64 {
    let minutes = if expiry_minutes == 0 {
        DEFAULT_EXPIRY_MINUTES
    } else {
        expiry_minutes
    };
    (now_us + i64::from(minutes) * 60_000_000).min(usage_start_us)
}

/// The folded `reservation-<id>` stream.
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
    cancelled_paid_krw: i64,
    lines_refunded_krw: i64,
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
            held_streams: if b.held_streams.is_empty() {
                vec![unit_stream(&b.reservation_schedule_id)]
            } else {
                b.held_streams.clone()
            },
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

    fn booked(&self) -> Result<&ReservationBooked, ReservationError> {
        self.booked.as_ref().ok_or(ReservationError::NotFound {
            what: "reservation",
            reason: "RESERVATION_NOT_FOUND",
        })
    }

    fn require(
        &self,
        allowed: &[State],
        action: &str,
    ) -> Result<&ReservationBooked, ReservationError> {
        let booked = self.booked()?;
        let state = self.state.expect("a booked reservation has a state");
        if allowed.contains(&state) {
            Ok(booked)
        } else {
            Err(ReservationError::precondition(
                "INVALID_STATE",
                format!("cannot {action} a reservation in state {state:?}"),
            ))
        }
    }
}

/// Seats to give back, per inventory stream, for these lines.
pub type Releases = Vec<(String, InventoryReleased)>;

fn releases(reservation_id: &str, lines: &[ReservationLine]) -> Releases {
    let mut per_stream: BTreeMap<&str, u32> = BTreeMap::new();
    for line in lines {
        for stream in &line.held_streams {
            *per_stream.entry(stream.as_str()).or_default() += line.quantity;
        }
    }
    per_stream
        .into_iter()
        .map(|(stream, quantity)| {
            (
                stream.to_string(),
                InventoryReleased {
                    reservation_id: reservation_id.to_string(),
                    quantity,
                },
            )
        })
        .collect()
}

/// Command: book a reservation of one or more lines.
#[derive(Debug, Clone)]
pub struct Book {
    pub reservation_id: uuid::Uuid,
    pub customer_id: String,
    /// Answers to the product's custom questions, free text.
    pub answers: Vec<String>,
    pub now_us: i64,
}

/// One line asked for: a unit, folded from its own stream, and how many seats.
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    pub unit: &'a Inventory,
    pub quantity: u32,
}

/// A booking decided: the seats to hold, per inventory stream, and the reservation's first event.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub holds: Vec<(String, InventoryReserved)>,
    pub booked: ReservationBooked,
}

/// What the catalog said about booking a unit's product and place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Availability {
    pub product: Option<ProductAvailabilityChanged>,
    pub place_paused: bool,
}

fn kst_text(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| {
            t.to_zoned_datetime(yeyak_kit::kst::kst())
                .strftime("%Y-%m-%d %H:%M KST")
                .to_string()
        })
        .unwrap_or_default()
}

/// Refuses a booking of a product the catalog does not show as bookable.
fn check_available(a: &Availability) -> Result<(), ReservationError> {
    let refuse = |reason, message: &str| Err(ReservationError::precondition(reason, message));
    if let Some(p) = &a.product {
        if p.deleted {
            return refuse("PRODUCT_DELETED", "the product was deleted");
        }
        if p.sanctioned {
            return refuse(
                "PRODUCT_SANCTIONED",
                "the product is restricted by operations",
            );
        }
        match p.status() {
            ProductStatus::Ended => {
                return refuse("PRODUCT_ENDED", "the partner ended this product's sale");
            }
            ProductStatus::Closed => {
                return refuse(
                    "PRODUCT_CLOSED",
                    "the partner closed this product's bookings",
                );
            }
            _ => {}
        }
    }
    if a.place_paused {
        return refuse("PLACE_PAUSED", "the place is paused");
    }
    Ok(())
}

fn invalid(
    field: &'static str,
    reason: &'static str,
    message: impl Into<String>,
) -> ReservationError {
    ReservationError::Invalid {
        field,
        reason,
        message: message.into(),
    }
}

/// Checks the lines' shape: 1 to [`MAX_LINES`], each unit once, 1 to [`MAX_QUANTITY`] seats in
/// all; every unit open, on one product and one schedule time, paid the same way.
fn check_lines<'a>(orders: &[Order<'a>]) -> Result<Vec<&'a InventoryOpened>, ReservationError> {
    if orders.is_empty() || orders.len() > MAX_LINES {
        return Err(invalid(
            "lines",
            "OUT_OF_RANGE",
            format!("a reservation has 1 to {MAX_LINES} lines"),
        ));
    }
    let total: u64 = orders.iter().map(|o| u64::from(o.quantity)).sum();
    if orders.iter().any(|o| o.quantity == 0) || total > u64::from(MAX_QUANTITY) {
        return Err(invalid(
            "quantity",
            "OUT_OF_RANGE",
            format!("book 1 to {MAX_QUANTITY} seats (every line at least 1)"),
        ));
    }
    let mut units = Vec::with_capacity(orders.len());
    for order in orders {
        let Some(unit) = &order.unit.opened else {
            return Err(ReservationError::NotFound {
                what: "reservation schedule",
                reason: "SCHEDULE_NOT_FOUND",
            });
        };
        units.push(unit);
    }
    let first = units[0];
    let mut seen = BTreeSet::new();
    for unit in &units {
        if !seen.insert(unit.reservation_schedule_id.as_str()) {
            return Err(invalid(
                "lines",
                "DUPLICATE_LINE",
                format!(
                    "reservation schedule {} is in two lines: give its whole quantity in one",
                    unit.reservation_schedule_id
                ),
            ));
        }
        if unit.product_id != first.product_id || unit.starts_at != first.starts_at {
            return Err(invalid(
                "lines",
                "LINES_NOT_ONE_SCHEDULE",
                "the lines of a reservation are prices of one product's schedule, at one time",
            ));
        }
        if unit.payment_mode != first.payment_mode {
            return Err(invalid(
                "lines",
                "LINES_MIXED_PAYMENT",
                "the lines of a reservation are paid the same way (book the others separately)",
            ));
        }
    }
    Ok(units)
}

/// The headcount limits of the schedule the lines share: the strictest of its units'.
fn check_headcount(units: &[&InventoryOpened], total: u32) -> Result<(), ReservationError> {
    let min = units.iter().map(|u| u.min_headcount).max().unwrap_or(0);
    let max = units
        .iter()
        .map(|u| u.max_headcount)
        .filter(|m| *m > 0)
        .min()
        .unwrap_or(0);
    if (min > 0 && total < min) || (max > 0 && total > max) {
        return Err(invalid(
            "quantity",
            "HEADCOUNT_OUT_OF_RANGE",
            format!("this slot takes {min} to {max} people per booking"),
        ));
    }
    let step = units
        .iter()
        .map(|u| u.headcount_multiple)
        .max()
        .unwrap_or(0);
    if step > 1 && !total.is_multiple_of(step) {
        return Err(invalid(
            "quantity",
            "HEADCOUNT_NOT_MULTIPLE",
            format!("this slot is booked in multiples of {step} people ({total} asked)"),
        ));
    }
    Ok(())
}

/// The inventory streams a booking of `unit` holds its seats in: the unit's own, or the pool and
/// price cap it shares with other units.
pub fn held_streams(unit: &InventoryOpened) -> Vec<String> {
    let pooled: Vec<String> = [&unit.pool_stream, &unit.price_cap_stream]
        .into_iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    if pooled.is_empty() {
        vec![unit_stream(&unit.reservation_schedule_id)]
    } else {
        pooled
    }
}

/// A partial cancel is not allowed when the quantity had a minimum above one (a fixed party
/// size included) or came in multiples of n (domain.md K10).
fn partial_cancel_restricted(units: &[&InventoryOpened]) -> bool {
    units
        .iter()
        .any(|u| u.min_headcount > 1 || u.headcount_multiple > 1)
}

/// Books one or more lines if the product is bookable, every unit shown, the booking window open,
/// the headcount within the slot's limits and there is room — in each unit's own inventory, or in
/// the pools and price caps (`shared`, by stream) units share: the lines holding seats in one
/// stream are counted together. `Instant` products are confirmed at once; `Approval` products
/// wait in `Requested`. Pay-at-booking and deposit prices are paid at booking. The reservation
/// keeps a snapshot of the cancellation policy.
pub fn book(
    orders: &[Order<'_>],
    shared: &BTreeMap<String, Inventory>,
    availability: &Availability,
    existing: &Reservation,
    cmd: Book,
) -> Result<Booking, ReservationError> {
    if existing.booked.is_some() {
        return Err(ReservationError::precondition(
            "ALREADY_BOOKED",
            "this reservation exists already",
        ));
    }
    let units = check_lines(orders)?;
    let first = units[0];
    if cmd.answers.len() > MAX_ANSWERS
        || cmd
            .answers
            .iter()
            .any(|a| a.chars().count() > MAX_ANSWER_CHARS)
    {
        return Err(invalid(
            "answers",
            "OUT_OF_RANGE",
            format!("at most {MAX_ANSWERS} answers of at most {MAX_ANSWER_CHARS} characters"),
        ));
    }
    let asked = first.question_count as usize;
    if cmd.answers.len() != asked {
        return Err(invalid(
            "answers",
            "ANSWERS_MISMATCH",
            format!(
                "answer each of the product's {asked} questions, in order ({} given)",
                cmd.answers.len()
            ),
        ));
    }
    check_available(availability)?;
    if let Some(hidden) = units.iter().find(|u| !u.visible) {
        return Err(ReservationError::precondition(
            "SCHEDULE_HIDDEN",
            format!(
                "the partner switched reservation schedule {} off",
                hidden.reservation_schedule_id
            ),
        ));
    }
    let starts_at_us = first
        .starts_at
        .as_ref()
        .and_then(to_micros)
        .unwrap_or(i64::MIN);
    if starts_at_us <= cmd.now_us {
        return Err(ReservationError::precondition(
            "SCHEDULE_STARTED",
            "this reservation schedule has already started",
        ));
    }
    for unit in &units {
        if let Some(opens) = unit.booking_opens_at.as_ref().and_then(to_micros)
            && cmd.now_us < opens
        {
            return Err(ReservationError::precondition(
                "BOOKING_NOT_OPEN_YET",
                format!("booking opens at {}", kst_text(opens)),
            ));
        }
        if let Some(closes) = unit.booking_closes_at.as_ref().and_then(to_micros)
            && cmd.now_us >= closes
        {
            return Err(ReservationError::precondition(
                "BOOKING_CLOSED",
                format!("booking closed at {}", kst_text(closes)),
            ));
        }
    }
    let total: u32 = orders.iter().map(|o| o.quantity).sum();
    check_headcount(&units, total)?;
    // Each line holds its seats in its unit's own inventory, or in the pool and price cap it
    // shares with other units.
    let payment_mode = first.payment_mode;
    let paid_at_booking = payment_mode == PaymentMode::PayAtBooking as i32
        || payment_mode == PaymentMode::Deposit as i32;
    let mut lines = Vec::with_capacity(orders.len());
    let mut wanted: BTreeMap<String, u32> = BTreeMap::new();
    for (n, (order, unit)) in orders.iter().zip(&units).enumerate() {
        let held_streams = held_streams(unit);
        for stream in &held_streams {
            *wanted.entry(stream.clone()).or_default() += order.quantity;
        }
        lines.push(ReservationLine {
            line_number: n as u32 + 1,
            reservation_schedule_id: unit.reservation_schedule_id.clone(),
            quantity: order.quantity,
            unit_price_krw: unit.price_krw,
            paid_krw: if paid_at_booking {
                unit.price_krw.saturating_mul(i64::from(order.quantity))
            } else {
                0
            },
            held_streams,
        });
    }
    let empty = Inventory::default();
    for (stream, quantity) in &wanted {
        let inventory = orders
            .iter()
            .zip(&units)
            .find(|(_, u)| unit_stream(&u.reservation_schedule_id) == *stream)
            .map(|(o, _)| o.unit)
            .or_else(|| shared.get(stream))
            .unwrap_or(&empty);
        let remaining = inventory.remaining();
        if *quantity > remaining {
            return Err(ReservationError::precondition(
                "SOLD_OUT",
                format!(
                    "sold out: {remaining} of {} seats left, {quantity} asked",
                    inventory.capacity()
                ),
            ));
        }
    }
    let reservation_id = cmd.reservation_id.to_string();
    let held_streams: Vec<String> = wanted.keys().cloned().collect();
    let holds = wanted
        .into_iter()
        .map(|(stream, quantity)| {
            (
                stream,
                InventoryReserved {
                    reservation_id: reservation_id.clone(),
                    quantity,
                },
            )
        })
        .collect();
    let ends_at = units
        .iter()
        .filter_map(|u| u.ends_at)
        .max_by_key(|t| (t.seconds, t.nanos));
    Ok(Booking {
        holds,
        booked: ReservationBooked {
            reservation_id,
            customer_id: cmd.customer_id,
            partner_id: first.partner_id.clone(),
            place_id: first.place_id.clone(),
            product_id: first.product_id.clone(),
            reservation_schedule_id: first.reservation_schedule_id.clone(),
            starts_at: first.starts_at,
            quantity: total,
            unit_price_krw: first.price_krw,
            paid_krw: lines.iter().map(|l| l.paid_krw).sum(),
            payment_mode,
            requires_approval: first.requires_approval,
            cancellation_policy: first.cancellation_policy.clone(),
            answers: cmd.answers,
            booked_at: Some(from_micros(cmd.now_us)),
            class_product: first.class_product,
            held_streams,
            ends_at,
            expires_at: first.requires_approval.then(|| {
                from_micros(expires_at(
                    cmd.now_us,
                    first.request_expiry_minutes,
                    starts_at_us,
                ))
            }),
            partial_cancel_restricted: partial_cancel_restricted(&units),
            lines,
        },
    })
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
pub fn reject(
    r: &Reservation,
    reason: String,
) -> Result<(ReservationRejected, Releases), ReservationError> {
    let b = r.require(&[State::Requested], "reject")?;
    Ok((
        ReservationRejected {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            reason,
            refunded_krw: r.paid_left(),
        },
        releases(&b.reservation_id, &r.live_lines()),
    ))
}

/// Who cancels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canceller {
    Customer,
    Partner,
}

impl Canceller {
    fn name(self) -> String {
        match self {
            Canceller::Customer => "customer",
            Canceller::Partner => "partner",
        }
        .to_string()
    }
}

/// The fee a partner sets in an adjusted cancel (조정 후 취소).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    Rate { fee_bps: u32 },
    Amount { fee_krw: i64 },
}

fn micros(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().and_then(to_micros).unwrap_or_default()
}

/// A cancel's fee, decided on `paid` by the snapshot policy, and the rule's own rate.
fn quote(
    r: &Reservation,
    by: Canceller,
    adjustment: Option<Adjustment>,
    paid: i64,
    now_us: i64,
) -> Result<(Quote, u32), ReservationError> {
    let b = r.booked()?;
    let state = r.state.expect("a booked reservation has a state");
    let policy = b.cancellation_policy.clone().unwrap_or_default();
    let (booked_at, usage) = (micros(&b.booked_at), micros(&b.starts_at));
    // Nothing was confirmed yet: cancelling a request costs nothing.
    let default_bps = match state {
        State::Requested => 0,
        State::Completed => policy::FULL_BPS,
        _ => policy::default_rate(&policy, booked_at, usage, now_us),
    };
    let quote = match (by, adjustment) {
        (Canceller::Customer, Some(_)) => {
            return Err(invalid(
                "adjustment",
                "PARTNER_ONLY",
                "only the partner sets an adjusted fee",
            ));
        }
        (Canceller::Customer, None) if state == State::Requested => Quote::at_rate(paid, 0),
        (Canceller::Customer, None) => Quote::at_rate(
            paid,
            policy::customer_rate(&policy, booked_at, usage, now_us)?,
        ),
        (Canceller::Partner, None) => Quote::at_rate(paid, default_bps),
        (Canceller::Partner, Some(adj)) => {
            let quote = match adj {
                Adjustment::Rate { fee_bps } => Quote::at_rate(paid, fee_bps),
                Adjustment::Amount { fee_krw } => Quote::at_amount(paid, fee_krw),
            };
            let cap = Quote::at_rate(paid, default_bps).fee_krw;
            if quote.fee_krw < 0 || quote.fee_krw > cap || quote.fee_bps > default_bps {
                return Err(invalid(
                    "adjustment",
                    "FEE_ABOVE_DEFAULT",
                    format!(
                        "an adjusted fee is 0 to the rule's fee ({} won, {} bps)",
                        cap, default_bps
                    ),
                ));
            }
            quote
        }
    };
    Ok((quote, default_bps))
}

/// 직권취소 by the fee: a non-cancellable reservation, or a fee off the rule.
fn ex_officio_by_fee(r: &Reservation, quote: &Quote, default_bps: u32) -> bool {
    let state = r.state.expect("a booked reservation has a state");
    let not_cancellable = r
        .booked
        .as_ref()
        .and_then(|b| b.cancellation_policy.as_ref())
        .is_some_and(|p| p.kind() == CancellationKind::NotCancellable);
    (state != State::Requested && not_cancellable) || quote.fee_bps != default_bps
}

/// Cancels a reservation. The customer cancels a `Requested` reservation for free and a
/// `Confirmed` one by the snapshot policy (fee tiers, full-refund window, exclusive deadline).
/// The partner cancels `Requested` or `Confirmed` any time, and `Completed` (ex officio), at the
/// rule's fee or, adjusted, at a fee never above it. Refund = max(0, paid − fee). Seats come back
/// unless the reservation was already used.
pub fn cancel(
    r: &Reservation,
    by: Canceller,
    reason: String,
    adjustment: Option<Adjustment>,
    now_us: i64,
) -> Result<(ReservationCancelled, Releases), ReservationError> {
    let allowed: &[State] = match by {
        Canceller::Customer => &[State::Requested, State::Confirmed],
        Canceller::Partner => &[State::Requested, State::Confirmed, State::Completed],
    };
    let b = r.require(allowed, "cancel")?;
    let state = r.state.expect("a booked reservation has a state");
    let (quote, default_bps) = quote(r, by, adjustment, r.paid_left(), now_us)?;
    let ex_officio = state == State::Completed || ex_officio_by_fee(r, &quote, default_bps);
    let released = if state == State::Completed {
        vec![]
    } else {
        releases(&b.reservation_id, &r.live_lines())
    };
    Ok((
        ReservationCancelled {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            cancelled_by: by.name(),
            reason,
            refunded_krw: quote.refund_krw,
            fee_krw: quote.fee_krw,
            fee_bps: quote.fee_bps,
            default_fee_bps: default_bps,
            ex_officio,
            adjusted: adjustment.is_some(),
            after_completion: state == State::Completed,
            payment_mode: b.payment_mode,
        },
        released,
    ))
}

/// What a cancel by line came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancelled {
    /// Every remaining line: the whole reservation.
    Whole(ReservationCancelled),
    /// Some lines; the reservation stays in its state.
    Lines(ReservationLinesCancelled),
}

/// 부분취소: cancels some lines of a `Requested` or `Confirmed` reservation by the same rules as
/// a whole cancel, on what was paid for those lines; their seats come back. Naming no line, or
/// every remaining line, cancels the reservation ([`cancel`]). A reservation whose quantity had a minimum, a fixed
/// size or a multiple allows no partial cancel: the customer is refused, the partner's is
/// 직권취소.
pub fn cancel_lines(
    r: &Reservation,
    by: Canceller,
    reason: String,
    adjustment: Option<Adjustment>,
    line_numbers: &[u32],
    now_us: i64,
) -> Result<(Cancelled, Releases), ReservationError> {
    if line_numbers.is_empty() {
        let (whole, released) = cancel(r, by, reason, adjustment, now_us)?;
        return Ok((Cancelled::Whole(whole), released));
    }
    let b = r.require(&[State::Requested, State::Confirmed], "cancel lines of")?;
    let asked: BTreeSet<u32> = line_numbers.iter().copied().collect();
    let lines = r.lines();
    if let Some(unknown) = asked
        .iter()
        .find(|n| !lines.iter().any(|l| l.line_number == **n))
    {
        return Err(invalid(
            "line_numbers",
            "UNKNOWN_LINE",
            format!("the reservation has no line {unknown}"),
        ));
    }
    if let Some(gone) = asked.iter().find(|n| r.cancelled_lines.contains(n)) {
        return Err(ReservationError::precondition(
            "LINE_ALREADY_CANCELLED",
            format!("line {gone} is cancelled already"),
        ));
    }
    let live = r.live_lines();
    if live.iter().all(|l| asked.contains(&l.line_number)) {
        let (whole, released) = cancel(r, by, reason, adjustment, now_us)?;
        return Ok((Cancelled::Whole(whole), released));
    }
    if b.partial_cancel_restricted && by == Canceller::Customer {
        return Err(ReservationError::precondition(
            "PARTIAL_CANCEL_NOT_ALLOWED",
            "this reservation had a minimum, fixed or multiple-of-n quantity: it is cancelled whole, or by the partner",
        ));
    }
    let cancelled: Vec<ReservationLine> = live
        .into_iter()
        .filter(|l| asked.contains(&l.line_number))
        .collect();
    let paid: i64 = cancelled.iter().map(|l| l.paid_krw).sum();
    let (quote, default_bps) = quote(r, by, adjustment, paid, now_us)?;
    let ex_officio = b.partial_cancel_restricted || ex_officio_by_fee(r, &quote, default_bps);
    Ok((
        Cancelled::Lines(ReservationLinesCancelled {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            cancelled_by: by.name(),
            reason,
            line_numbers: cancelled.iter().map(|l| l.line_number).collect(),
            quantity: cancelled.iter().map(|l| l.quantity).sum(),
            refunded_krw: quote.refund_krw,
            fee_krw: quote.fee_krw,
            fee_bps: quote.fee_bps,
            default_fee_bps: default_bps,
            ex_officio,
            adjusted: adjustment.is_some(),
            payment_mode: b.payment_mode,
        }),
        releases(&b.reservation_id, &cancelled),
    ))
}

/// A `Requested` reservation the partner has not answered by its expiry expires: the seats come
/// back and any payment is refunded. Anything else (answered, not yet due) is left alone.
pub fn expire(
    r: &Reservation,
    now_us: i64,
) -> Result<(ReservationExpired, Releases), ReservationError> {
    let b = r.require(&[State::Requested], "expire")?;
    let due = micros(&b.expires_at);
    if b.expires_at.is_none() || now_us < due {
        return Err(ReservationError::precondition(
            "NOT_DUE",
            "the reservation has not reached its expiry",
        ));
    }
    Ok((
        ReservationExpired {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            refunded_krw: r.paid_left(),
        },
        releases(&b.reservation_id, &r.live_lines()),
    ))
}

/// The partner's completion code as kept: SHA-256 of the partner id and the code, in hex.
pub fn code_hash(partner_id: &str, code: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{partner_id}:{code}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a completion code: four digits, or empty to remove it.
pub fn valid_code(code: &str) -> bool {
    code.is_empty() || (code.len() == 4 && code.chars().all(|c| c.is_ascii_digit()))
}

/// Who completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The partner, with the code it typed (checked when the partner has set one).
    Partner { code: String },
    /// The scheduler, the day after use, for a reservation nothing was paid for.
    Automatic,
}

fn usage_date_starts(b: &ReservationBooked) -> i64 {
    midnight_kst(micros(&b.starts_at))
}

/// 00:00 KST of the day of an instant.
fn midnight_kst(at_us: i64) -> i64 {
    let start = at_us;
    yeyak_kit::kst::date_of(start)
        .and_then(|d| {
            yeyak_kit::kst::kst()
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        })
        .map_or(start, |t| t.as_microsecond())
}

/// Marks a `Confirmed` reservation used (이용완료); seats stay taken. The partner gives its
/// completion code when one is set (`code_sha256`); a class is completed only from its usage
/// date (KST). The scheduler completes a reservation nothing was paid for from the day after use.
pub fn complete(
    r: &Reservation,
    by: Completion,
    code_sha256: Option<&str>,
    now_us: i64,
) -> Result<ReservationCompleted, ReservationError> {
    let b = r.require(&[State::Confirmed], "complete")?;
    if b.class_product && now_us < usage_date_starts(b) {
        return Err(ReservationError::precondition(
            "CLASS_BEFORE_USAGE_DATE",
            "a class is completed only from its usage date",
        ));
    }
    let automatic = match &by {
        Completion::Partner { code } => {
            if let Some(expected) = code_sha256.filter(|h| !h.is_empty())
                && code_hash(&b.partner_id, code) != expected
            {
                return Err(ReservationError::Invalid {
                    field: "completion_code",
                    reason: "COMPLETION_CODE_MISMATCH",
                    message: "the partner's 4-digit completion code is required and did not match"
                        .into(),
                });
            }
            false
        }
        Completion::Automatic => {
            // The day after the use ends (the last day of a pass), 00:00 KST.
            let last_day = match &b.ends_at {
                Some(end) => midnight_kst(micros(&Some(*end)) - 1),
                None => usage_date_starts(b),
            };
            let day_after = last_day + 24 * 3_600_000_000;
            if r.no_show {
                return Err(ReservationError::precondition(
                    "NO_SHOW",
                    "a no-show is not completed by itself",
                ));
            }
            if b.paid_krw != 0 || now_us < day_after {
                return Err(ReservationError::precondition(
                    "NOT_DUE",
                    "only free and reservation-only reservations complete by themselves, the day after use",
                ));
            }
            true
        }
    };
    Ok(ReservationCompleted {
        reservation_id: b.reservation_id.clone(),
        partner_id: b.partner_id.clone(),
        place_id: b.place_id.clone(),
        product_id: b.product_id.clone(),
        // What was paid for the lines used (not for lines cancelled before).
        paid_krw: b.paid_krw - r.cancelled_paid_krw,
        payment_mode: b.payment_mode,
        automatic,
    })
}

/// 결제만 취소: refunds what is left of the payment of a `Completed` reservation, which stays
/// `Completed`.
pub fn cancel_payment_only(
    r: &Reservation,
    reason: String,
) -> Result<ReservationPaymentCancelled, ReservationError> {
    let b = r.require(&[State::Completed], "cancel the payment of")?;
    let left = r.paid_left();
    if left <= 0 {
        return Err(ReservationError::precondition(
            "NOTHING_TO_REFUND",
            "nothing was paid for this reservation, or it was already refunded",
        ));
    }
    Ok(ReservationPaymentCancelled {
        reservation_id: b.reservation_id.clone(),
        partner_id: b.partner_id.clone(),
        place_id: b.place_id.clone(),
        product_id: b.product_id.clone(),
        refunded_krw: left,
        reason,
        payment_mode: b.payment_mode,
    })
}

/// Marks or unmarks a no-show of a `Confirmed` reservation, once its usage time has come.
/// Marking what is already marked changes nothing.
pub fn mark_no_show(
    r: &Reservation,
    no_show: bool,
    now_us: i64,
) -> Result<Option<NoShowMarked>, ReservationError> {
    let b = r.require(&[State::Confirmed], "mark a no-show of")?;
    if now_us < micros(&b.starts_at) {
        return Err(ReservationError::precondition(
            "BEFORE_USAGE_TIME",
            "a no-show is marked after the usage time",
        ));
    }
    Ok((r.no_show != no_show).then(|| NoShowMarked {
        reservation_id: b.reservation_id.clone(),
        partner_id: b.partner_id.clone(),
        place_id: b.place_id.clone(),
        product_id: b.product_id.clone(),
        no_show,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::InventoryEvent;
    use yeyak_proto::{
        catalog::events::v1::{
            CancellationDeadline, CancellationPolicy, FeeTier, cancellation_deadline,
        },
        reservations::events::v1::InventoryOpened,
    };

    const NOW: i64 = 1_800_000_000_000_000;
    const HOUR: i64 = 3600 * 1_000_000;

    /// Gives back what a decision releases, in the one inventory of these tests.
    fn release(inv: &mut Inventory, released: Releases) {
        assert!(!released.is_empty(), "something is given back");
        for (_, r) in released {
            inv.apply(InventoryEvent::Released(r));
        }
    }

    /// Books one line of `inv`, with `shared` pools by stream name.
    fn book_one(
        inv: &Inventory,
        shared: &[(&str, &Inventory)],
        availability: &Availability,
        quantity: u32,
        answers: Vec<String>,
        now_us: i64,
    ) -> Result<(InventoryReserved, ReservationBooked), ReservationError> {
        let shared = shared
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).clone()))
            .collect();
        book(
            &[Order {
                unit: inv,
                quantity,
            }],
            &shared,
            availability,
            &Reservation::default(),
            Book {
                reservation_id: uuid::Uuid::new_v4(),
                customer_id: "c".into(),
                answers,
                now_us,
            },
        )
        .map(|b| (b.holds[0].1.clone(), b.booked))
    }

    fn given_inventory(capacity: u32, approval: bool, payment: PaymentMode) -> Inventory {
        let mut inv = Inventory::default();
        inv.apply(InventoryEvent::Opened(Box::new(InventoryOpened {
            reservation_schedule_id: "rs".into(),
            product_id: "prod".into(),
            partner_id: "partner".into(),
            place_id: "place".into(),
            starts_at: Some(yeyak_proto::time::from_micros(NOW + 24 * HOUR)),
            capacity,
            price_krw: 30_000,
            requires_approval: approval,
            payment_mode: payment as i32,
            visible: true,
            ..Default::default()
        })));
        inv
    }

    fn when_booking(
        inv: &Inventory,
        quantity: u32,
    ) -> Result<(InventoryReserved, ReservationBooked), ReservationError> {
        book_one(inv, &[], &Availability::default(), quantity, vec![], NOW)
    }

    fn booked(approval: bool) -> (Inventory, Reservation) {
        let mut inv = given_inventory(10, approval, PaymentMode::PayAtBooking);
        let (held, event) = when_booking(&inv, 2).unwrap();
        inv.apply(InventoryEvent::Reserved(held));
        let mut r = Reservation::default();
        r.apply(ReservationEvent::Booked(event));
        (inv, r)
    }

    #[test]
    fn instant_mode_books_straight_to_confirmed() {
        let (_, r) = booked(false);
        assert_eq!(r.state, Some(State::Confirmed));
    }

    #[test]
    fn approval_mode_books_to_requested() {
        let (_, r) = booked(true);
        assert_eq!(r.state, Some(State::Requested));
    }

    #[test]
    fn pay_at_booking_pays_price_times_quantity() {
        let (_, r) = booked(false);
        assert_eq!(r.booked.unwrap().paid_krw, 60_000);
        let inv = given_inventory(10, false, PaymentMode::ReservationOnly);
        assert_eq!(when_booking(&inv, 2).unwrap().1.paid_krw, 0);
    }

    #[test]
    fn booking_past_capacity_is_refused_as_sold_out() {
        let mut inv = given_inventory(3, false, PaymentMode::ReservationOnly);
        let (held, _) = when_booking(&inv, 2).unwrap();
        inv.apply(InventoryEvent::Reserved(held));
        let err = when_booking(&inv, 2).unwrap_err();
        assert!(
            matches!(
                err,
                ReservationError::Precondition {
                    reason: "SOLD_OUT",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            when_booking(&inv, 1).is_ok(),
            "the last seat is still bookable"
        );
    }

    #[test]
    fn quantity_is_one_to_fifty() {
        let inv = given_inventory(100, false, PaymentMode::ReservationOnly);
        assert!(matches!(
            when_booking(&inv, 0),
            Err(ReservationError::Invalid {
                reason: "OUT_OF_RANGE",
                ..
            })
        ));
        assert!(matches!(
            when_booking(&inv, 51),
            Err(ReservationError::Invalid {
                reason: "OUT_OF_RANGE",
                ..
            })
        ));
    }

    #[test]
    fn a_started_schedule_is_not_bookable() {
        let inv = given_inventory(5, false, PaymentMode::ReservationOnly);
        let late = book_one(
            &inv,
            &[],
            &Availability::default(),
            1,
            vec![],
            NOW + 25 * HOUR,
        );
        assert!(matches!(
            late,
            Err(ReservationError::Precondition {
                reason: "SCHEDULE_STARTED",
                ..
            })
        ));
    }

    #[test]
    fn an_unknown_schedule_is_not_found() {
        assert!(matches!(
            when_booking(&Inventory::default(), 1),
            Err(ReservationError::NotFound {
                reason: "SCHEDULE_NOT_FOUND",
                ..
            })
        ));
    }

    #[test]
    fn only_a_requested_reservation_is_confirmed_or_rejected() {
        let (_, mut r) = booked(true);
        r.apply(ReservationEvent::Confirmed(confirm(&r).unwrap()));
        assert_eq!(r.state, Some(State::Confirmed));
        assert!(matches!(
            confirm(&r),
            Err(ReservationError::Precondition {
                reason: "INVALID_STATE",
                ..
            })
        ));
        assert!(matches!(
            reject(&r, "full".into()),
            Err(ReservationError::Precondition {
                reason: "INVALID_STATE",
                ..
            })
        ));
    }

    #[test]
    fn rejecting_releases_the_seats_and_refunds_the_payment() {
        let (mut inv, mut r) = booked(true);
        let (rejected, released) = reject(&r, "closed that day".into()).unwrap();
        assert_eq!(rejected.refunded_krw, 60_000);
        release(&mut inv, released);
        r.apply(ReservationEvent::Rejected(rejected));
        assert_eq!(r.state, Some(State::Rejected));
        assert_eq!(inv.remaining(), 10);
    }

    #[test]
    fn cancelling_releases_the_seats_and_a_cancelled_reservation_stays_cancelled() {
        let (mut inv, mut r) = booked(false);
        assert_eq!(inv.remaining(), 8);
        let (cancelled, released) =
            cancel(&r, Canceller::Customer, "plans changed".into(), None, NOW).unwrap();
        assert_eq!(cancelled.cancelled_by, "customer");
        release(&mut inv, released);
        r.apply(ReservationEvent::Cancelled(cancelled));
        assert_eq!(inv.remaining(), 10);
        assert!(cancel(&r, Canceller::Partner, "x".into(), None, NOW).is_err());
        assert!(
            complete(
                &r,
                Completion::Partner {
                    code: String::new()
                },
                None,
                NOW
            )
            .is_err()
        );
    }

    #[test]
    fn only_a_confirmed_reservation_is_completed_and_keeps_its_payment() {
        let (_, mut r) = booked(true);
        assert!(
            complete(
                &r,
                Completion::Partner {
                    code: String::new()
                },
                None,
                NOW
            )
            .is_err(),
            "a Requested reservation is not completed"
        );
        r.apply(ReservationEvent::Confirmed(confirm(&r).unwrap()));
        let done = complete(
            &r,
            Completion::Partner {
                code: String::new(),
            },
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(done.paid_krw, 60_000);
        assert_eq!(done.partner_id, "partner");
        r.apply(ReservationEvent::Completed(done));
        assert_eq!(r.state, Some(State::Completed));
    }

    fn unit(f: impl FnOnce(&mut InventoryOpened)) -> Inventory {
        let mut inv = given_inventory(10, false, PaymentMode::PayAtBooking);
        let mut opened = inv.opened.clone().unwrap();
        f(&mut opened);
        inv.apply(InventoryEvent::Opened(Box::new(opened)));
        inv
    }

    fn refusal(inv: &Inventory, availability: &Availability, quantity: u32) -> &'static str {
        book_one(inv, &[], availability, quantity, vec![], NOW)
            .unwrap_err()
            .reason()
    }

    #[test]
    fn booking_outside_the_booking_window_is_refused_with_the_time() {
        let early = unit(|o| o.booking_opens_at = Some(from_micros(NOW + HOUR)));
        assert_eq!(
            refusal(&early, &Availability::default(), 1),
            "BOOKING_NOT_OPEN_YET"
        );
        let late = unit(|o| o.booking_closes_at = Some(from_micros(NOW)));
        assert_eq!(
            refusal(&late, &Availability::default(), 1),
            "BOOKING_CLOSED"
        );
        let open = unit(|o| {
            o.booking_opens_at = Some(from_micros(NOW));
            o.booking_closes_at = Some(from_micros(NOW + 1));
        });
        assert!(
            when_booking(&open, 1).is_ok(),
            "open from its start, closed at its end"
        );
    }

    #[test]
    fn a_product_not_displayed_as_open_is_refused_with_the_reason() {
        let inv = given_inventory(10, false, PaymentMode::ReservationOnly);
        let with = |f: fn(&mut ProductAvailabilityChanged)| {
            let mut p = ProductAvailabilityChanged::default();
            f(&mut p);
            Availability {
                product: Some(p),
                place_paused: false,
            }
        };
        assert_eq!(
            refusal(&inv, &with(|p| p.deleted = true), 1),
            "PRODUCT_DELETED"
        );
        assert_eq!(
            refusal(&inv, &with(|p| p.sanctioned = true), 1),
            "PRODUCT_SANCTIONED"
        );
        assert_eq!(
            refusal(&inv, &with(|p| p.status = ProductStatus::Ended as i32), 1),
            "PRODUCT_ENDED"
        );
        assert_eq!(
            refusal(&inv, &with(|p| p.status = ProductStatus::Closed as i32), 1),
            "PRODUCT_CLOSED"
        );
        let paused = Availability {
            product: None,
            place_paused: true,
        };
        assert_eq!(refusal(&inv, &paused, 1), "PLACE_PAUSED");
        let hidden = unit(|o| o.visible = false);
        assert_eq!(
            refusal(&hidden, &Availability::default(), 1),
            "SCHEDULE_HIDDEN"
        );
    }

    #[test]
    fn the_headcount_of_a_booking_stays_within_the_slots_minimum_and_maximum() {
        let pair = unit(|o| {
            o.min_headcount = 2;
            o.max_headcount = 2;
        });
        assert_eq!(
            refusal(&pair, &Availability::default(), 1),
            "HEADCOUNT_OUT_OF_RANGE"
        );
        assert_eq!(
            refusal(&pair, &Availability::default(), 3),
            "HEADCOUNT_OUT_OF_RANGE"
        );
        assert!(when_booking(&pair, 2).is_ok());
    }

    fn tiered() -> CancellationPolicy {
        CancellationPolicy {
            kind: CancellationKind::Tiered as i32,
            deadline: Some(CancellationDeadline {
                kind: Some(cancellation_deadline::Kind::MinutesBeforeUse(60)),
            }),
            tiers: vec![FeeTier {
                within_minutes_before_use: 24 * 60 + 1,
                fee_bps: 3_000,
            }],
            full_refund_minutes_after_booking: 0,
        }
    }

    /// A confirmed, paid reservation of 2 × 30 000 won starting in 24 h, under `policy`.
    fn confirmed_under(policy: CancellationPolicy) -> Reservation {
        let inv = unit(|o| o.cancellation_policy = Some(policy));
        let (_, event) = when_booking(&inv, 2).unwrap();
        let mut r = Reservation::default();
        r.apply(ReservationEvent::Booked(event));
        r
    }

    #[test]
    fn the_reservation_keeps_a_snapshot_of_the_policy_at_booking() {
        let r = confirmed_under(tiered());
        assert_eq!(r.booked.unwrap().cancellation_policy, Some(tiered()));
    }

    #[test]
    fn a_customer_cancel_follows_the_snapshot_fee_tiers_and_refunds_paid_minus_fee() {
        let r = confirmed_under(tiered());
        let (c, released) = cancel(&r, Canceller::Customer, String::new(), None, NOW).unwrap();
        assert_eq!(
            (c.fee_krw, c.refunded_krw, c.fee_bps),
            (18_000, 42_000, 3_000)
        );
        assert!(!c.ex_officio && !released.is_empty());
        let late = cancel(
            &r,
            Canceller::Customer,
            String::new(),
            None,
            NOW + 23 * HOUR,
        );
        assert_eq!(late.unwrap_err().reason(), "PAST_CANCELLATION_DEADLINE");
    }

    #[test]
    fn a_requested_reservation_is_cancelled_for_free() {
        let inv = unit(|o| {
            o.cancellation_policy = Some(tiered());
            o.requires_approval = true;
        });
        let (_, event) = when_booking(&inv, 2).unwrap();
        let mut r = Reservation::default();
        r.apply(ReservationEvent::Booked(event));
        let (c, _) = cancel(&r, Canceller::Customer, String::new(), None, NOW).unwrap();
        assert_eq!((c.fee_krw, c.refunded_krw), (0, 60_000));
    }

    #[test]
    fn an_adjusted_cancel_never_charges_more_than_the_rule_and_a_deviation_is_ex_officio() {
        let r = confirmed_under(tiered());
        let over = cancel(
            &r,
            Canceller::Partner,
            String::new(),
            Some(Adjustment::Rate { fee_bps: 3_001 }),
            NOW,
        );
        assert_eq!(over.unwrap_err().reason(), "FEE_ABOVE_DEFAULT");
        let (c, _) = cancel(
            &r,
            Canceller::Partner,
            String::new(),
            Some(Adjustment::Amount { fee_krw: 5_000 }),
            NOW,
        )
        .unwrap();
        assert_eq!((c.fee_krw, c.refunded_krw), (5_000, 55_000));
        assert!(
            c.adjusted && c.ex_officio,
            "a fee off the rule is ex officio"
        );
        let (plain, _) = cancel(&r, Canceller::Partner, String::new(), None, NOW).unwrap();
        assert!(!plain.ex_officio, "the rule's own fee is not ex officio");
        assert_eq!(
            cancel(
                &r,
                Canceller::Customer,
                String::new(),
                Some(Adjustment::Rate { fee_bps: 0 }),
                NOW
            )
            .unwrap_err()
            .reason(),
            "PARTNER_ONLY"
        );
    }

    #[test]
    fn cancelling_a_non_cancellable_or_completed_reservation_is_ex_officio() {
        let locked = confirmed_under(CancellationPolicy {
            kind: CancellationKind::NotCancellable as i32,
            ..Default::default()
        });
        assert_eq!(
            cancel(&locked, Canceller::Customer, String::new(), None, NOW)
                .unwrap_err()
                .reason(),
            "NOT_CANCELLABLE"
        );
        let (c, _) = cancel(
            &locked,
            Canceller::Partner,
            String::new(),
            Some(Adjustment::Rate { fee_bps: 0 }),
            NOW,
        )
        .unwrap();
        assert!(c.ex_officio);
        assert_eq!(c.refunded_krw, 60_000);
        let mut used = confirmed_under(tiered());
        used.apply(ReservationEvent::Completed(
            complete(
                &used,
                Completion::Partner {
                    code: String::new(),
                },
                None,
                NOW,
            )
            .unwrap(),
        ));
        let (after, released) =
            cancel(&used, Canceller::Partner, String::new(), None, NOW).unwrap();
        assert!(
            after.ex_officio && released.is_empty(),
            "used seats are not given back"
        );
        assert_eq!(after.fee_bps, policy::FULL_BPS);
    }

    #[test]
    fn an_unanswered_request_expires_after_24_hours_or_at_the_usage_start_whichever_is_first() {
        assert_eq!(expires_at(NOW, 0, NOW + 48 * HOUR), NOW + 24 * HOUR);
        assert_eq!(expires_at(NOW, 0, NOW + 3 * HOUR), NOW + 3 * HOUR);
        assert_eq!(expires_at(NOW, 60, NOW + 3 * HOUR), NOW + HOUR);
        let (mut inv, mut r) = booked(true);
        let due = micros(&r.booked.as_ref().unwrap().expires_at);
        assert_eq!(due, NOW + 24 * HOUR, "the usage starts in 24 h too");
        assert_eq!(expire(&r, due - 1).unwrap_err().reason(), "NOT_DUE");
        let (expired, released) = expire(&r, due).unwrap();
        assert_eq!(expired.refunded_krw, 60_000);
        release(&mut inv, released);
        r.apply(ReservationEvent::Expired(expired));
        assert_eq!((r.state, inv.remaining()), (Some(State::Expired), 10));
        assert_eq!(expire(&r, due).unwrap_err().reason(), "INVALID_STATE");
    }

    #[test]
    fn an_answered_request_never_expires() {
        let (_, mut r) = booked(true);
        r.apply(ReservationEvent::Confirmed(confirm(&r).unwrap()));
        assert_eq!(
            expire(&r, NOW + 100 * HOUR).unwrap_err().reason(),
            "INVALID_STATE"
        );
        let (_, instant) = booked(false);
        assert!(instant.booked.unwrap().expires_at.is_none());
    }

    fn confirmed_paid() -> Reservation {
        let (_, mut r) = booked(true);
        r.apply(ReservationEvent::Confirmed(confirm(&r).unwrap()));
        r
    }

    #[test]
    fn completion_needs_the_partners_code_when_one_is_set() {
        let r = confirmed_paid();
        let hash = code_hash("partner", "4821");
        let with = |code: &str| {
            complete(
                &r,
                Completion::Partner { code: code.into() },
                Some(hash.as_str()),
                NOW,
            )
        };
        assert_eq!(
            with("1234").unwrap_err().reason(),
            "COMPLETION_CODE_MISMATCH"
        );
        assert_eq!(with("").unwrap_err().reason(), "COMPLETION_CODE_MISMATCH");
        assert!(with("4821").is_ok());
        assert!(
            complete(
                &r,
                Completion::Partner {
                    code: String::new()
                },
                Some(""),
                NOW
            )
            .is_ok(),
            "a removed code asks for nothing"
        );
        assert!(valid_code("0042") && valid_code("") && !valid_code("42") && !valid_code("12a4"));
    }

    #[test]
    fn a_class_cannot_be_completed_before_its_usage_date() {
        let inv = unit(|o| {
            o.class_product = true;
            o.requires_approval = false;
        });
        let (_, event) = when_booking(&inv, 1).unwrap();
        let mut r = Reservation::default();
        r.apply(ReservationEvent::Booked(event));
        let partner = || Completion::Partner {
            code: String::new(),
        };
        assert_eq!(
            complete(&r, partner(), None, NOW).unwrap_err().reason(),
            "CLASS_BEFORE_USAGE_DATE"
        );
        assert!(complete(&r, partner(), None, NOW + 24 * HOUR).is_ok());
    }

    #[test]
    fn only_unpaid_reservations_complete_by_themselves_and_only_the_day_after_use() {
        let r = confirmed_paid();
        assert_eq!(
            complete(&r, Completion::Automatic, None, NOW + 100 * HOUR)
                .unwrap_err()
                .reason(),
            "NOT_DUE",
            "a paid reservation waits for the partner"
        );
        let inv = given_inventory(5, false, PaymentMode::ReservationOnly);
        let (_, event) = when_booking(&inv, 1).unwrap();
        let mut free = Reservation::default();
        free.apply(ReservationEvent::Booked(event));
        assert!(complete(&free, Completion::Automatic, None, NOW + 24 * HOUR).is_err());
        let done = complete(&free, Completion::Automatic, None, NOW + 48 * HOUR).unwrap();
        assert!(done.automatic);
    }

    #[test]
    fn cancel_payment_only_refunds_a_completed_reservation_that_stays_completed() {
        let mut r = confirmed_paid();
        assert_eq!(
            cancel_payment_only(&r, String::new()).unwrap_err().reason(),
            "INVALID_STATE"
        );
        r.apply(ReservationEvent::Completed(
            complete(
                &r,
                Completion::Partner {
                    code: String::new(),
                },
                None,
                NOW,
            )
            .unwrap(),
        ));
        let e = cancel_payment_only(&r, "환불 요청".into()).unwrap();
        assert_eq!(e.refunded_krw, 60_000);
        r.apply(ReservationEvent::PaymentCancelled(e));
        assert_eq!(
            (r.state, r.payment_cancelled),
            (Some(State::Completed), true)
        );
        assert_eq!(
            cancel_payment_only(&r, String::new()).unwrap_err().reason(),
            "NOTHING_TO_REFUND"
        );
    }

    #[test]
    fn a_no_show_is_marked_or_unmarked_only_after_the_usage_time() {
        let mut r = confirmed_paid();
        assert_eq!(
            mark_no_show(&r, true, NOW).unwrap_err().reason(),
            "BEFORE_USAGE_TIME"
        );
        let after = NOW + 25 * HOUR;
        let marked = mark_no_show(&r, true, after).unwrap().unwrap();
        r.apply(ReservationEvent::NoShow(marked));
        assert!(r.no_show);
        assert_eq!(
            mark_no_show(&r, true, after).unwrap(),
            None,
            "marking twice changes nothing"
        );
        r.apply(ReservationEvent::NoShow(
            mark_no_show(&r, false, after).unwrap().unwrap(),
        ));
        assert!(!r.no_show);
    }

    #[test]
    fn units_sharing_a_pool_or_a_price_cap_are_sold_out_together() {
        let pooled = |cap: &str| {
            unit(|o| {
                o.payment_mode = PaymentMode::ReservationOnly as i32;
                o.pool_stream = "pool".into();
                o.price_cap_stream = cap.into();
            })
        };
        let (only_pool, capped) = (pooled(""), pooled("cap"));
        let mut pool = Inventory::default();
        pool.apply(InventoryEvent::PoolCapacity(
            yeyak_proto::reservations::events::v1::PoolCapacitySet { capacity: 3 },
        ));
        let mut cap = Inventory::default();
        cap.apply(InventoryEvent::PoolCapacity(
            yeyak_proto::reservations::events::v1::PoolCapacitySet { capacity: 2 },
        ));
        let with = |unit: &Inventory, pool: &Inventory, quantity| {
            book_one(
                unit,
                &[("pool", pool), ("cap", &cap)],
                &Availability::default(),
                quantity,
                vec![],
                NOW,
            )
        };
        assert!(with(&only_pool, &pool, 3).is_ok());
        assert_eq!(with(&only_pool, &pool, 4).unwrap_err().reason(), "SOLD_OUT");
        assert_eq!(
            with(&capped, &pool, 3).unwrap_err().reason(),
            "SOLD_OUT",
            "the price cap binds too"
        );
        let (held, _) = with(&only_pool, &pool, 2).unwrap();
        pool.apply(InventoryEvent::Reserved(held));
        assert_eq!(with(&only_pool, &pool, 2).unwrap_err().reason(), "SOLD_OUT");
    }

    /// Two prices (adult 30 000, child 10 000) of one schedule, with their own quantities.
    fn two_prices(f: impl Fn(&mut InventoryOpened)) -> (Inventory, Inventory) {
        let adult = unit(|o| {
            o.reservation_schedule_id = "adult".into();
            f(o);
        });
        let child = unit(|o| {
            o.reservation_schedule_id = "child".into();
            o.price_krw = 10_000;
            f(o);
        });
        (adult, child)
    }

    fn book_lines(
        lines: &[(&Inventory, u32)],
        shared: &BTreeMap<String, Inventory>,
    ) -> Result<Booking, ReservationError> {
        let orders: Vec<Order<'_>> = lines
            .iter()
            .map(|(unit, quantity)| Order {
                unit,
                quantity: *quantity,
            })
            .collect();
        book(
            &orders,
            shared,
            &Availability::default(),
            &Reservation::default(),
            Book {
                reservation_id: uuid::Uuid::new_v4(),
                customer_id: "c".into(),
                answers: vec![],
                now_us: NOW,
            },
        )
    }

    /// A confirmed reservation of 2 adults and 1 child under `policy`.
    fn family(f: impl Fn(&mut InventoryOpened)) -> (Reservation, Booking) {
        let (adult, child) = two_prices(f);
        let booking = book_lines(&[(&adult, 2), (&child, 1)], &BTreeMap::new()).unwrap();
        let mut r = Reservation::default();
        r.apply(ReservationEvent::Booked(booking.booked.clone()));
        (r, booking)
    }

    #[test]
    fn a_reservation_has_numbered_lines_each_with_its_price_and_seats() {
        let (r, booking) = family(|_| {});
        let lines = r.lines();
        assert_eq!(
            lines
                .iter()
                .map(|l| (
                    l.line_number,
                    l.reservation_schedule_id.as_str(),
                    l.quantity,
                    l.paid_krw
                ))
                .collect::<Vec<_>>(),
            [(1, "adult", 2, 60_000), (2, "child", 1, 10_000)]
        );
        let b = r.booked.as_ref().unwrap();
        assert_eq!((b.quantity, b.paid_krw), (3, 70_000));
        assert_eq!(
            booking
                .holds
                .iter()
                .map(|(s, h)| (s.as_str(), h.quantity))
                .collect::<Vec<_>>(),
            [("inventory-adult", 2), ("inventory-child", 1)],
            "each line holds its seats in its own unit"
        );
    }

    #[test]
    fn lines_are_prices_of_one_schedule_each_once_and_within_the_headcount() {
        let (adult, child) = two_prices(|_| {});
        let none = BTreeMap::new();
        let refused = |lines: &[(&Inventory, u32)]| book_lines(lines, &none).unwrap_err().reason();
        assert_eq!(refused(&[(&adult, 1), (&adult, 1)]), "DUPLICATE_LINE");
        let later = unit(|o| {
            o.reservation_schedule_id = "later".into();
            o.starts_at = Some(from_micros(NOW + 48 * HOUR));
        });
        assert_eq!(
            refused(&[(&adult, 1), (&later, 1)]),
            "LINES_NOT_ONE_SCHEDULE"
        );
        let free = unit(|o| {
            o.reservation_schedule_id = "free".into();
            o.payment_mode = PaymentMode::ReservationOnly as i32;
        });
        assert_eq!(refused(&[(&adult, 1), (&free, 1)]), "LINES_MIXED_PAYMENT");
        assert_eq!(
            refused(&[(&adult, 30), (&child, 21)]),
            "OUT_OF_RANGE",
            "at most 50 seats in all"
        );
        let (small_a, small_c) = two_prices(|o| o.max_headcount = 4);
        assert_eq!(
            refused(&[(&small_a, 3), (&small_c, 2)]),
            "HEADCOUNT_OUT_OF_RANGE",
            "the headcount counts every line of the schedule"
        );
        let (pair_a, pair_c) = two_prices(|o| o.headcount_multiple = 2);
        assert_eq!(
            refused(&[(&pair_a, 2), (&pair_c, 1)]),
            "HEADCOUNT_NOT_MULTIPLE"
        );
        assert!(book_lines(&[(&pair_a, 3), (&pair_c, 1)], &none).is_ok());
    }

    #[test]
    fn lines_sharing_a_pool_are_counted_together() {
        let (adult, child) = two_prices(|o| o.pool_stream = "pool".into());
        let mut pool = Inventory::default();
        pool.apply(InventoryEvent::PoolCapacity(
            yeyak_proto::reservations::events::v1::PoolCapacitySet { capacity: 3 },
        ));
        let shared = BTreeMap::from([("pool".to_string(), pool)]);
        assert_eq!(
            book_lines(&[(&adult, 2), (&child, 2)], &shared)
                .unwrap_err()
                .reason(),
            "SOLD_OUT",
            "2 + 2 of a pool of 3"
        );
        let booking = book_lines(&[(&adult, 2), (&child, 1)], &shared).unwrap();
        assert_eq!(
            booking
                .holds
                .iter()
                .map(|(s, h)| (s.as_str(), h.quantity))
                .collect::<Vec<_>>(),
            [("pool", 3)],
            "one hold per stream, for every line in it"
        );
    }

    #[test]
    fn a_partial_cancel_refunds_the_cancelled_lines_by_the_rule_and_gives_back_their_seats() {
        let (mut r, _) = family(|o| o.cancellation_policy = Some(tiered()));
        let (adult, mut child) = two_prices(|_| {});
        child.apply(InventoryEvent::Reserved(InventoryReserved {
            reservation_id: r.booked.as_ref().unwrap().reservation_id.clone(),
            quantity: 1,
        }));
        let (outcome, released) =
            cancel_lines(&r, Canceller::Customer, String::new(), None, &[2], NOW).unwrap();
        let Cancelled::Lines(partial) = outcome else {
            panic!("one of two lines is a partial cancel");
        };
        // 24 h before use: the 30 % tier, on the child line's 10 000.
        assert_eq!(
            (partial.fee_krw, partial.refunded_krw, partial.quantity),
            (3_000, 7_000, 1)
        );
        assert!(!partial.ex_officio);
        assert_eq!(
            released
                .iter()
                .map(|(s, h)| (s.as_str(), h.quantity))
                .collect::<Vec<_>>(),
            [("inventory-child", 1)],
            "only the cancelled line's seats come back"
        );
        for (_, h) in released {
            child.apply(InventoryEvent::Released(h));
        }
        assert_eq!((adult.remaining(), child.remaining()), (10, 10));
        r.apply(ReservationEvent::LinesCancelled(partial));
        assert_eq!(r.state, Some(State::Confirmed), "the rest stays confirmed");
        assert_eq!((r.live_quantity(), r.paid_left()), (2, 60_000));
        assert_eq!(
            cancel_lines(&r, Canceller::Customer, String::new(), None, &[2], NOW)
                .unwrap_err()
                .reason(),
            "LINE_ALREADY_CANCELLED"
        );
        assert_eq!(
            cancel_lines(&r, Canceller::Customer, String::new(), None, &[7], NOW)
                .unwrap_err()
                .reason(),
            "UNKNOWN_LINE"
        );
        // The last live line: the whole reservation, on what is left of the payment.
        let (outcome, released) =
            cancel_lines(&r, Canceller::Customer, String::new(), None, &[1], NOW).unwrap();
        let Cancelled::Whole(whole) = outcome else {
            panic!("the last line cancels the reservation");
        };
        assert_eq!((whole.fee_krw, whole.refunded_krw), (18_000, 42_000));
        assert_eq!(
            released
                .iter()
                .map(|(s, h)| (s.as_str(), h.quantity))
                .collect::<Vec<_>>(),
            [("inventory-adult", 2)]
        );
        r.apply(ReservationEvent::Cancelled(whole));
        assert_eq!(r.state, Some(State::Cancelled));
        assert_eq!(r.refunded_krw, 49_000);
    }

    #[test]
    fn a_minimum_fixed_or_multiple_quantity_allows_no_partial_cancel_but_the_partners_is_ex_officio()
     {
        for restrict in [
            (|o: &mut InventoryOpened| o.min_headcount = 2) as fn(&mut InventoryOpened),
            |o| {
                o.min_headcount = 3;
                o.max_headcount = 3;
            },
            |o| o.headcount_multiple = 3,
        ] {
            let (r, _) = family(restrict);
            assert!(r.booked.as_ref().unwrap().partial_cancel_restricted);
            assert_eq!(
                cancel_lines(&r, Canceller::Customer, String::new(), None, &[2], NOW)
                    .unwrap_err()
                    .reason(),
                "PARTIAL_CANCEL_NOT_ALLOWED"
            );
            let (outcome, _) =
                cancel_lines(&r, Canceller::Partner, String::new(), None, &[2], NOW).unwrap();
            let Cancelled::Lines(partial) = outcome else {
                panic!("a partial cancel");
            };
            assert!(partial.ex_officio, "직권취소");
            assert!(
                cancel_lines(&r, Canceller::Customer, String::new(), None, &[1, 2], NOW).is_ok(),
                "cancelling every line is a whole cancel, always allowed"
            );
        }
        let (free, _) = family(|_| {});
        assert!(!free.booked.unwrap().partial_cancel_restricted);
    }

    #[test]
    fn completing_after_a_partial_cancel_settles_only_the_lines_used() {
        let (mut r, _) = family(|_| {});
        let (outcome, _) =
            cancel_lines(&r, Canceller::Partner, String::new(), None, &[1], NOW).unwrap();
        let Cancelled::Lines(partial) = outcome else {
            panic!("a partial cancel");
        };
        r.apply(ReservationEvent::LinesCancelled(partial));
        let done = complete(
            &r,
            Completion::Partner {
                code: String::new(),
            },
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(done.paid_krw, 10_000, "the child line only");
    }

    #[test]
    fn a_pass_completes_by_itself_after_its_last_day_and_a_no_show_never_does() {
        let inv = unit(|o| {
            o.payment_mode = PaymentMode::ReservationOnly as i32;
            o.ends_at = Some(from_micros(NOW + 24 * HOUR + 72 * HOUR));
        });
        let (_, event) = when_booking(&inv, 1).unwrap();
        let mut r = Reservation::default();
        r.apply(ReservationEvent::Booked(event));
        assert_eq!(
            complete(&r, Completion::Automatic, None, NOW + 72 * HOUR)
                .unwrap_err()
                .reason(),
            "NOT_DUE",
            "not the day after its first day"
        );
        assert!(complete(&r, Completion::Automatic, None, NOW + 5 * 24 * HOUR).is_ok());
        let marked = mark_no_show(&r, true, NOW + 30 * HOUR).unwrap().unwrap();
        r.apply(ReservationEvent::NoShow(marked));
        assert_eq!(
            complete(&r, Completion::Automatic, None, NOW + 5 * 24 * HOUR)
                .unwrap_err()
                .reason(),
            "NO_SHOW"
        );
    }

    #[test]
    fn fees_never_overflow_and_refunds_never_go_negative() {
        let q = Quote::at_rate(i64::MAX, u32::MAX);
        assert_eq!(q.fee_bps, policy::FULL_BPS);
        assert_eq!(q.refund_krw, 0);
        assert_eq!(Quote::at_amount(1_000, i64::MIN).fee_krw, 0);
    }

    #[test]
    fn the_customer_answers_each_of_the_products_questions() {
        let asks = unit(|o| o.question_count = 2);
        let with =
            |answers: Vec<String>| book_one(&asks, &[], &Availability::default(), 1, answers, NOW);
        assert_eq!(
            with(vec!["없음".into()]).unwrap_err().reason(),
            "ANSWERS_MISMATCH"
        );
        let (_, booked) = with(vec!["없음".into(), "창가 자리".into()]).unwrap();
        assert_eq!(booked.answers, ["없음", "창가 자리"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Arbitrary lines, headcount rules and partial cancels: a booking holds exactly its
        /// seats or nothing; every cancel refunds at most what was paid for its lines and gives
        /// back exactly their seats; in the end every seat held came back once.
        #[test]
        fn lines_hold_and_give_back_exactly_their_seats_and_money(
            quantities in proptest::collection::vec(1u32..12, 1..5),
            prices in proptest::collection::vec(0i64..200_000, 4),
            min in 0u32..3,
            multiple in 0u32..3,
            capacity in 5u32..40,
            order in proptest::collection::vec(1u32..6, 0..6),
            partner in proptest::bool::ANY,
        ) {
            let units: Vec<Inventory> = quantities
                .iter()
                .enumerate()
                .map(|(n, _)| {
                    unit(|o| {
                        o.reservation_schedule_id = format!("u{n}");
                        o.price_krw = prices[n % prices.len()];
                        o.capacity = capacity;
                        o.min_headcount = min;
                        o.headcount_multiple = multiple;
                        o.cancellation_policy = Some(tiered());
                    })
                })
                .collect();
            let lines: Vec<(&Inventory, u32)> =
                units.iter().zip(&quantities).map(|(u, q)| (u, *q)).collect();
            let booking = match book_lines(&lines, &BTreeMap::new()) {
                Ok(booking) => booking,
                Err(e) => {
                    proptest::prop_assert!(
                        ["SOLD_OUT", "HEADCOUNT_OUT_OF_RANGE", "HEADCOUNT_NOT_MULTIPLE"]
                            .contains(&e.reason()),
                        "{e:?}"
                    );
                    return Ok(());
                }
            };
            let total: u32 = quantities.iter().sum();
            proptest::prop_assert!(total <= MAX_QUANTITY && quantities.iter().all(|q| *q <= capacity));
            proptest::prop_assert_eq!(booking.holds.iter().map(|(_, h)| h.quantity).sum::<u32>(), total);
            let paid = booking.booked.paid_krw;
            let mut r = Reservation::default();
            r.apply(ReservationEvent::Booked(booking.booked));
            let by = if partner { Canceller::Partner } else { Canceller::Customer };
            let mut released = 0u32;
            for line in order {
                let Ok((outcome, back)) = cancel_lines(&r, by, String::new(), None, &[line], NOW) else {
                    continue;
                };
                released += back.iter().map(|(_, h)| h.quantity).sum::<u32>();
                match outcome {
                    Cancelled::Lines(e) => {
                        proptest::prop_assert!(e.refunded_krw >= 0 && e.fee_krw >= 0);
                        r.apply(ReservationEvent::LinesCancelled(e));
                    }
                    Cancelled::Whole(e) => {
                        proptest::prop_assert!(e.refunded_krw >= 0);
                        r.apply(ReservationEvent::Cancelled(e));
                    }
                }
                proptest::prop_assert!(r.refunded_krw <= paid && r.paid_left() >= 0);
            }
            if r.state == Some(State::Cancelled) {
                proptest::prop_assert_eq!(released, total, "every seat came back once");
            } else {
                proptest::prop_assert_eq!(released + r.live_quantity(), total);
            }
        }
    }
}
