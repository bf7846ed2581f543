//! A reservation's lifecycle: book (`Requested` or `Confirmed`), confirm, reject, cancel, complete.
use yeyak_proto::reservations::events::v1::{
    InventoryReleased, InventoryReserved, PaymentMode, ReservationBooked, ReservationCancelled,
    ReservationCompleted, ReservationConfirmed, ReservationRejected,
};

use super::{ReservationError, events::ReservationEvent, inventory::Inventory};

/// Most seats one booking takes.
pub const MAX_QUANTITY: u32 = 50;

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
}

/// The folded `reservation-<id>` stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reservation {
    pub booked: Option<ReservationBooked>,
    pub state: Option<State>,
    pub refunded_krw: i64,
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
            }
            ReservationEvent::Completed(_) => self.state = Some(State::Completed),
        }
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

/// Command: book `quantity` seats of a reservation schedule.
#[derive(Debug, Clone)]
pub struct Book {
    pub reservation_id: uuid::Uuid,
    pub customer_id: String,
    pub quantity: u32,
    pub now_us: i64,
}

/// Books seats if the schedule is open, not started and has room. `Instant` products are
/// confirmed at once; `Approval` products wait in `Requested`. Pay-at-booking products are paid
/// in full at booking.
pub fn book(
    inventory: &Inventory,
    existing: &Reservation,
    cmd: Book,
) -> Result<(InventoryReserved, ReservationBooked), ReservationError> {
    if existing.booked.is_some() {
        return Err(ReservationError::precondition(
            "ALREADY_BOOKED",
            "this reservation exists already",
        ));
    }
    let Some(schedule) = &inventory.opened else {
        return Err(ReservationError::NotFound {
            what: "reservation schedule",
            reason: "SCHEDULE_NOT_FOUND",
        });
    };
    if cmd.quantity == 0 || cmd.quantity > MAX_QUANTITY {
        return Err(ReservationError::Invalid {
            field: "quantity",
            reason: "OUT_OF_RANGE",
            message: format!("book 1 to {MAX_QUANTITY} seats"),
        });
    }
    let starts_at_us = schedule
        .starts_at
        .as_ref()
        .and_then(yeyak_proto::time::to_micros)
        .unwrap_or(i64::MIN);
    if starts_at_us <= cmd.now_us {
        return Err(ReservationError::precondition(
            "SCHEDULE_STARTED",
            "this reservation schedule has already started",
        ));
    }
    let remaining = inventory.remaining();
    if cmd.quantity > remaining {
        return Err(ReservationError::precondition(
            "SOLD_OUT",
            format!(
                "sold out: {remaining} of {} seats left, {} asked",
                schedule.capacity, cmd.quantity
            ),
        ));
    }
    let reservation_id = cmd.reservation_id.to_string();
    let payment_mode = schedule.payment_mode;
    // Pay at booking and a deposit are both paid when booking.
    let paid_krw = if payment_mode == PaymentMode::PayAtBooking as i32
        || payment_mode == PaymentMode::Deposit as i32
    {
        schedule.price_krw * i64::from(cmd.quantity)
    } else {
        0
    };
    Ok((
        InventoryReserved {
            reservation_id: reservation_id.clone(),
            quantity: cmd.quantity,
        },
        ReservationBooked {
            reservation_id,
            customer_id: cmd.customer_id,
            partner_id: schedule.partner_id.clone(),
            place_id: schedule.place_id.clone(),
            product_id: schedule.product_id.clone(),
            reservation_schedule_id: schedule.reservation_schedule_id.clone(),
            starts_at: schedule.starts_at,
            quantity: cmd.quantity,
            unit_price_krw: schedule.price_krw,
            paid_krw,
            payment_mode,
            requires_approval: schedule.requires_approval,
        },
    ))
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
) -> Result<(ReservationRejected, InventoryReleased), ReservationError> {
    let b = r.require(&[State::Requested], "reject")?;
    Ok((
        ReservationRejected {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            reason,
            refunded_krw: b.paid_krw,
        },
        InventoryReleased {
            reservation_id: b.reservation_id.clone(),
            quantity: b.quantity,
        },
    ))
}

/// Who cancels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canceller {
    Customer,
    Partner,
}

/// Cancels a `Requested` or `Confirmed` reservation: seats are released, payment refunded.
pub fn cancel(
    r: &Reservation,
    by: Canceller,
    reason: String,
) -> Result<(ReservationCancelled, InventoryReleased), ReservationError> {
    let b = r.require(&[State::Requested, State::Confirmed], "cancel")?;
    Ok((
        ReservationCancelled {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            cancelled_by: match by {
                Canceller::Customer => "customer",
                Canceller::Partner => "partner",
            }
            .to_string(),
            reason,
            refunded_krw: b.paid_krw,
        },
        InventoryReleased {
            reservation_id: b.reservation_id.clone(),
            quantity: b.quantity,
        },
    ))
}

/// The partner marks a `Confirmed` reservation used (이용완료). Seats stay taken.
pub fn complete(r: &Reservation) -> Result<ReservationCompleted, ReservationError> {
    let b = r.require(&[State::Confirmed], "complete")?;
    Ok(ReservationCompleted {
        reservation_id: b.reservation_id.clone(),
        partner_id: b.partner_id.clone(),
        place_id: b.place_id.clone(),
        product_id: b.product_id.clone(),
        paid_krw: b.paid_krw,
        payment_mode: b.payment_mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::InventoryEvent;
    use yeyak_proto::reservations::events::v1::InventoryOpened;

    const NOW: i64 = 1_800_000_000_000_000;
    const HOUR: i64 = 3600 * 1_000_000;

    fn given_inventory(capacity: u32, approval: bool, payment: PaymentMode) -> Inventory {
        let mut inv = Inventory::default();
        inv.apply(InventoryEvent::Opened(InventoryOpened {
            reservation_schedule_id: "rs".into(),
            product_id: "prod".into(),
            partner_id: "partner".into(),
            place_id: "place".into(),
            starts_at: Some(yeyak_proto::time::from_micros(NOW + 24 * HOUR)),
            capacity,
            price_krw: 30_000,
            requires_approval: approval,
            payment_mode: payment as i32,
            ..Default::default()
        }));
        inv
    }

    fn when_booking(
        inv: &Inventory,
        quantity: u32,
    ) -> Result<(InventoryReserved, ReservationBooked), ReservationError> {
        book(
            inv,
            &Reservation::default(),
            Book {
                reservation_id: uuid::Uuid::new_v4(),
                customer_id: "c".into(),
                quantity,
                now_us: NOW,
            },
        )
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
        let late = book(
            &inv,
            &Reservation::default(),
            Book {
                reservation_id: uuid::Uuid::new_v4(),
                customer_id: "c".into(),
                quantity: 1,
                now_us: NOW + 25 * HOUR,
            },
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
        inv.apply(InventoryEvent::Released(released));
        r.apply(ReservationEvent::Rejected(rejected));
        assert_eq!(r.state, Some(State::Rejected));
        assert_eq!(inv.remaining(), 10);
    }

    #[test]
    fn cancelling_releases_the_seats_and_a_cancelled_reservation_stays_cancelled() {
        let (mut inv, mut r) = booked(false);
        assert_eq!(inv.remaining(), 8);
        let (cancelled, released) =
            cancel(&r, Canceller::Customer, "plans changed".into()).unwrap();
        assert_eq!(cancelled.cancelled_by, "customer");
        inv.apply(InventoryEvent::Released(released));
        r.apply(ReservationEvent::Cancelled(cancelled));
        assert_eq!(inv.remaining(), 10);
        assert!(cancel(&r, Canceller::Partner, "x".into()).is_err());
        assert!(complete(&r).is_err());
    }

    #[test]
    fn only_a_confirmed_reservation_is_completed_and_keeps_its_payment() {
        let (_, mut r) = booked(true);
        assert!(
            complete(&r).is_err(),
            "a Requested reservation is not completed"
        );
        r.apply(ReservationEvent::Confirmed(confirm(&r).unwrap()));
        let done = complete(&r).unwrap();
        assert_eq!(done.paid_krw, 60_000);
        assert_eq!(done.partner_id, "partner");
        r.apply(ReservationEvent::Completed(done));
        assert_eq!(r.state, Some(State::Completed));
    }
}
