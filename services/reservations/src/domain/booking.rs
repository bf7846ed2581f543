//! Booking: a reservation of one or more lines (예약상세번호), each a unit (one price of one
//! schedule) and its quantity, decided on the units' terms, the quantities they share, what the
//! catalog said about the product and its place, and the time.
use std::collections::{BTreeMap, BTreeSet};

use yeyak_proto::{
    catalog::events::v1::ProductStatus,
    reservations::events::v1::{
        InventoryOpened, InventoryReserved, PaymentMethod, PaymentMode, ProductAvailabilityChanged,
        ReservationBooked, ReservationLine,
    },
    time::{from_micros, to_micros},
};

use super::{
    ReservationError,
    expiry::expires_at,
    inventory::{Inventory, Pool, pools_of},
    reservation::{Reservation, ReservationContext},
};

/// Most seats one booking takes (all its lines together).
pub const MAX_QUANTITY: u32 = 50;
/// Most lines (예약상세번호) in one reservation.
pub const MAX_LINES: usize = 10;
/// Most answers to custom questions, and the longest answer.
pub const MAX_ANSWERS: usize = 10;
pub const MAX_ANSWER_CHARS: usize = 500;

/// Command: book a reservation of one or more lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Book {
    pub reservation_id: uuid::Uuid,
    pub customer_id: String,
    /// `(reservation schedule id, seats)` per line, in the customer's order.
    pub lines: Vec<(String, u32)>,
    /// Answers to the product's custom questions, free text.
    pub answers: Vec<String>,
    /// How a price paid at booking is paid.
    pub method: PaymentMethod,
}

/// A booking decided: the seats to hold, per quantity, and the reservation's first event.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub holds: Vec<(Pool, InventoryReserved)>,
    pub booked: ReservationBooked,
}

/// What the catalog said about booking a unit's product and place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Availability {
    pub product: Option<ProductAvailabilityChanged>,
    pub place_paused: bool,
}

/// Refuses a booking of a product the catalog does not show as bookable.
fn check_available(a: &Availability) -> Result<(), ReservationError> {
    if let Some(p) = &a.product {
        if p.deleted {
            return Err(ReservationError::ProductDeleted);
        }
        if p.sanctioned {
            return Err(ReservationError::ProductSanctioned);
        }
        match p.status() {
            ProductStatus::Ended => return Err(ReservationError::ProductEnded),
            ProductStatus::Closed => return Err(ReservationError::ProductClosed),
            _ => {}
        }
    }
    if a.place_paused {
        return Err(ReservationError::PlacePaused);
    }
    Ok(())
}

/// Checks the lines' shape: 1 to [`MAX_LINES`], each unit once, 1 to [`MAX_QUANTITY`] seats in
/// all; every unit open, on one product and one schedule time, paid the same way.
fn check_lines<'a>(
    lines: &[(String, u32)],
    units: &'a BTreeMap<String, Inventory>,
) -> Result<Vec<&'a InventoryOpened>, ReservationError> {
    if lines.is_empty() || lines.len() > MAX_LINES {
        return Err(ReservationError::invalid(
            "lines",
            "OUT_OF_RANGE",
            format!("a reservation has 1 to {MAX_LINES} lines"),
        ));
    }
    let total: u64 = lines.iter().map(|(_, q)| u64::from(*q)).sum();
    if lines.iter().any(|(_, q)| *q == 0) || total > u64::from(MAX_QUANTITY) {
        return Err(ReservationError::invalid(
            "quantity",
            "OUT_OF_RANGE",
            format!("book 1 to {MAX_QUANTITY} seats (every line at least 1)"),
        ));
    }
    let mut opened = Vec::with_capacity(lines.len());
    for (unit, _) in lines {
        match units.get(unit).and_then(|u| u.opened.as_ref()) {
            Some(unit) => opened.push(unit),
            None => return Err(ReservationError::ScheduleNotFound),
        }
    }
    let first = opened[0];
    let mut seen = BTreeSet::new();
    for unit in &opened {
        if !seen.insert(unit.reservation_schedule_id.as_str()) {
            return Err(ReservationError::invalid(
                "lines",
                "DUPLICATE_LINE",
                format!(
                    "reservation schedule {} is in two lines: give its whole quantity in one",
                    unit.reservation_schedule_id
                ),
            ));
        }
        if unit.product_id != first.product_id || unit.starts_at != first.starts_at {
            return Err(ReservationError::invalid(
                "lines",
                "LINES_NOT_ONE_SCHEDULE",
                "the lines of a reservation are prices of one product's schedule, at one time",
            ));
        }
        if unit.payment_mode != first.payment_mode {
            return Err(ReservationError::invalid(
                "lines",
                "LINES_MIXED_PAYMENT",
                "the lines of a reservation are paid the same way (book the others separately)",
            ));
        }
    }
    Ok(opened)
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
        return Err(ReservationError::invalid(
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
        return Err(ReservationError::invalid(
            "quantity",
            "HEADCOUNT_NOT_MULTIPLE",
            format!("this slot is booked in multiples of {step} people ({total} asked)"),
        ));
    }
    Ok(())
}

/// The answers to the product's custom questions: one each, in order, free text.
fn check_answers(answers: &[String], asked: u32) -> Result<(), ReservationError> {
    if answers.len() > MAX_ANSWERS || answers.iter().any(|a| a.chars().count() > MAX_ANSWER_CHARS) {
        return Err(ReservationError::invalid(
            "answers",
            "OUT_OF_RANGE",
            format!("at most {MAX_ANSWERS} answers of at most {MAX_ANSWER_CHARS} characters"),
        ));
    }
    if answers.len() != asked as usize {
        return Err(ReservationError::invalid(
            "answers",
            "ANSWERS_MISMATCH",
            format!(
                "answer each of the product's {asked} questions, in order ({} given)",
                answers.len()
            ),
        ));
    }
    Ok(())
}

/// Booking is open for every unit at `now_us`: shown, not started, within its booking window.
fn check_window(units: &[&InventoryOpened], now_us: i64) -> Result<i64, ReservationError> {
    if let Some(hidden) = units.iter().find(|u| !u.visible) {
        return Err(ReservationError::ScheduleHidden(
            hidden.reservation_schedule_id.clone(),
        ));
    }
    let starts_at_us = units[0]
        .starts_at
        .as_ref()
        .and_then(to_micros)
        .unwrap_or(i64::MIN);
    if starts_at_us <= now_us {
        return Err(ReservationError::ScheduleStarted);
    }
    for unit in units {
        if let Some(opens) = unit.booking_opens_at.as_ref().and_then(to_micros)
            && now_us < opens
        {
            return Err(ReservationError::BookingNotOpenYet(opens));
        }
        if let Some(closes) = unit.booking_closes_at.as_ref().and_then(to_micros)
            && now_us >= closes
        {
            return Err(ReservationError::BookingClosed(closes));
        }
    }
    Ok(starts_at_us)
}

/// A partial cancel is not allowed when the quantity had a minimum above one (a fixed party
/// size included) or came in multiples of n (domain.md K10).
fn partial_cancel_restricted(units: &[&InventoryOpened]) -> bool {
    units
        .iter()
        .any(|u| u.min_headcount > 1 || u.headcount_multiple > 1)
}

/// Books one or more lines if the product is bookable, every unit shown, the booking window open,
/// the headcount within the slot's limits and there is room — in each unit's own quantity, or in
/// the pools and price caps units share: the lines holding seats in one quantity are counted
/// together. `Instant` products are confirmed at once; `Approval` products wait in `Requested`.
/// Pay-at-booking and deposit prices are paid at booking. The reservation keeps a snapshot of
/// the cancellation policy.
pub fn book(
    existing: &Reservation,
    cmd: Book,
    c: &ReservationContext,
) -> Result<Booking, ReservationError> {
    if existing.booked.is_some() {
        return Err(ReservationError::AlreadyBooked);
    }
    let units = check_lines(&cmd.lines, &c.units)?;
    let first = units[0];
    check_answers(&cmd.answers, first.question_count)?;
    check_available(&c.availability)?;
    let starts_at_us = check_window(&units, c.now_us)?;
    let total: u32 = cmd.lines.iter().map(|(_, q)| q).sum();
    check_headcount(&units, total)?;
    let payment_mode = first.payment_mode;
    let paid_at_booking = payment_mode == PaymentMode::PayAtBooking as i32
        || payment_mode == PaymentMode::Deposit as i32;
    let mut lines = Vec::with_capacity(cmd.lines.len());
    let mut wanted: BTreeMap<Pool, u32> = BTreeMap::new();
    for (n, ((_, quantity), unit)) in cmd.lines.iter().zip(&units).enumerate() {
        for pool in pools_of(unit) {
            *wanted.entry(pool).or_default() += quantity;
        }
        lines.push(ReservationLine {
            line_number: n as u32 + 1,
            reservation_schedule_id: unit.reservation_schedule_id.clone(),
            quantity: *quantity,
            unit_price_krw: unit.price_krw,
            paid_krw: if paid_at_booking {
                unit.price_krw.saturating_mul(i64::from(*quantity))
            } else {
                0
            },
            shared_inventory_key: unit.shared_inventory_key.clone(),
            capped_price_id: unit.capped_price_id.clone(),
        });
    }
    let empty = Inventory::default();
    for (pool, quantity) in &wanted {
        let inventory = match pool {
            Pool::Unit(id) => c.units.get(id),
            shared => c.shared.get(shared),
        }
        .unwrap_or(&empty);
        let remaining = inventory.remaining();
        if *quantity > remaining {
            return Err(ReservationError::SoldOut {
                remaining,
                capacity: inventory.capacity(),
                asked: *quantity,
            });
        }
    }
    let paid_krw: i64 = lines.iter().map(|l| l.paid_krw).sum();
    if paid_krw > 0 && cmd.method == PaymentMethod::Unspecified {
        return Err(ReservationError::invalid(
            "payment_method",
            "PAYMENT_METHOD_REQUIRED",
            "this price is paid at booking: choose a payment method",
        ));
    }
    let reservation_id = cmd.reservation_id.to_string();
    let holds = wanted
        .into_iter()
        .map(|(pool, quantity)| {
            let held = InventoryReserved {
                reservation_id: reservation_id.clone(),
                quantity,
            };
            (pool, held)
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
            paid_krw,
            payment_mode,
            requires_approval: first.requires_approval,
            cancellation_policy: first.cancellation_policy.clone(),
            answers: cmd.answers,
            booked_at: Some(from_micros(c.now_us)),
            class_product: first.class_product,
            ends_at,
            expires_at: first.requires_approval.then(|| {
                from_micros(expires_at(
                    c.now_us,
                    first.request_expiry_minutes,
                    starts_at_us,
                ))
            }),
            partial_cancel_restricted: partial_cancel_restricted(&units),
            lines,
            payment_method: if paid_krw > 0 {
                cmd.method as i32
            } else {
                PaymentMethod::Unspecified as i32
            },
        },
    })
}
