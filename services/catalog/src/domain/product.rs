//! Products with their reservation schedules (schedule × price, the bookable unit).
use yeyak_proto::catalog::events::v1::{
    ConfirmationMode, PaymentMode, ProductRegistered, ReservationSchedule,
};

use super::{CatalogError, place::Place};

/// Most reservation schedules one product registration may carry.
pub const MAX_SCHEDULES: usize = 500;
/// Largest capacity of one reservation schedule.
pub const MAX_CAPACITY: u32 = 10_000;
/// Largest price in won.
pub const MAX_PRICE_KRW: i64 = 100_000_000;
/// How far ahead schedules may be registered: 6 months (183 days), in microseconds.
pub const MAX_AHEAD_US: i64 = 183 * 24 * 3600 * 1_000_000;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Product {
    pub registered: Option<ProductRegistered>,
}

impl Product {
    pub fn apply(&mut self, event: ProductRegistered) {
        self.registered = Some(event);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleInput {
    pub reservation_schedule_id: uuid::Uuid,
    pub starts_at_us: i64,
    pub capacity: u32,
    pub price_krw: i64,
}

#[derive(Debug, Clone)]
pub struct RegisterProduct {
    pub product_id: uuid::Uuid,
    pub place_id: uuid::Uuid,
    pub name: String,
    pub confirmation_mode: ConfirmationMode,
    pub payment_mode: PaymentMode,
    pub schedules: Vec<ScheduleInput>,
}

/// Registers a product of a registered place. Every schedule is in the future (at most six
/// months ahead), has a capacity, and a price that fits the payment mode.
pub fn register(
    state: &Product,
    place: &Place,
    cmd: RegisterProduct,
    now_us: i64,
) -> Result<Vec<ProductRegistered>, CatalogError> {
    if state.registered.is_some() {
        return Err(CatalogError::AlreadyExists("product"));
    }
    let Some(place) = &place.registered else {
        return Err(CatalogError::NotFound {
            what: "place",
            reason: "PLACE_NOT_FOUND",
        });
    };
    if cmd.confirmation_mode == ConfirmationMode::Unspecified {
        return Err(CatalogError::invalid(
            "confirmation_mode",
            "REQUIRED",
            "choose INSTANT or APPROVAL",
        ));
    }
    if cmd.payment_mode == PaymentMode::Unspecified {
        return Err(CatalogError::invalid(
            "payment_mode",
            "REQUIRED",
            "choose RESERVATION_ONLY or PAY_AT_BOOKING",
        ));
    }
    if cmd.schedules.is_empty() || cmd.schedules.len() > MAX_SCHEDULES {
        return Err(CatalogError::invalid(
            "schedules",
            "OUT_OF_RANGE",
            format!("give 1 to {MAX_SCHEDULES} schedules"),
        ));
    }
    for s in &cmd.schedules {
        if s.starts_at_us <= now_us {
            return Err(CatalogError::invalid(
                "schedules.starts_at",
                "IN_THE_PAST",
                "a schedule must start in the future",
            ));
        }
        if s.starts_at_us - now_us > MAX_AHEAD_US {
            return Err(CatalogError::invalid(
                "schedules.starts_at",
                "TOO_FAR_AHEAD",
                "schedules are registered at most 6 months ahead",
            ));
        }
        if s.capacity == 0 || s.capacity > MAX_CAPACITY {
            return Err(CatalogError::invalid(
                "schedules.capacity",
                "OUT_OF_RANGE",
                format!("capacity is 1 to {MAX_CAPACITY}"),
            ));
        }
        if !(0..=MAX_PRICE_KRW).contains(&s.price_krw) {
            return Err(CatalogError::invalid(
                "schedules.price_krw",
                "OUT_OF_RANGE",
                format!("price is 0 to {MAX_PRICE_KRW} won"),
            ));
        }
        if cmd.payment_mode == PaymentMode::PayAtBooking && s.price_krw == 0 {
            return Err(CatalogError::invalid(
                "schedules.price_krw",
                "PAID_PRODUCT_NEEDS_PRICE",
                "a pay-at-booking product has a price above 0 won",
            ));
        }
    }
    Ok(vec![ProductRegistered {
        product_id: cmd.product_id.to_string(),
        partner_id: place.partner_id.clone(),
        place_id: cmd.place_id.to_string(),
        name: cmd.name,
        confirmation_mode: cmd.confirmation_mode as i32,
        payment_mode: cmd.payment_mode as i32,
        reservation_schedules: cmd
            .schedules
            .into_iter()
            .map(|s| ReservationSchedule {
                reservation_schedule_id: s.reservation_schedule_id.to_string(),
                starts_at: Some(yeyak_proto::time::from_micros(s.starts_at_us)),
                capacity: s.capacity,
                price_krw: s.price_krw,
            })
            .collect(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use yeyak_proto::catalog::events::v1::PlaceRegistered;

    const NOW: i64 = 1_800_000_000_000_000;
    const DAY: i64 = 24 * 3600 * 1_000_000;

    fn place() -> Place {
        Place {
            registered: Some(PlaceRegistered {
                place_id: uuid::Uuid::nil().to_string(),
                partner_id: "p".into(),
                name: "n".into(),
                address: "a".into(),
            }),
        }
    }

    fn cmd(payment: PaymentMode, starts: i64, capacity: u32, price: i64) -> RegisterProduct {
        RegisterProduct {
            product_id: uuid::Uuid::nil(),
            place_id: uuid::Uuid::nil(),
            name: "Omakase".into(),
            confirmation_mode: ConfirmationMode::Approval,
            payment_mode: payment,
            schedules: vec![ScheduleInput {
                reservation_schedule_id: uuid::Uuid::nil(),
                starts_at_us: starts,
                capacity,
                price_krw: price,
            }],
        }
    }

    fn reason(r: Result<Vec<ProductRegistered>, CatalogError>) -> &'static str {
        match r.unwrap_err() {
            CatalogError::Invalid { reason, .. }
            | CatalogError::NotFound { reason, .. }
            | CatalogError::Precondition { reason, .. } => reason,
            CatalogError::AlreadyExists(_) => "ALREADY_EXISTS",
        }
    }

    #[test]
    fn a_product_is_registered_with_its_partner_from_the_place() {
        let events = register(
            &Product::default(),
            &place(),
            cmd(PaymentMode::PayAtBooking, NOW + DAY, 20, 50_000),
            NOW,
        )
        .unwrap();
        assert_eq!(events[0].partner_id, "p");
        assert_eq!(events[0].reservation_schedules[0].capacity, 20);
    }

    #[test]
    fn a_product_needs_a_registered_place() {
        let r = register(
            &Product::default(),
            &Place::default(),
            cmd(PaymentMode::ReservationOnly, NOW + DAY, 1, 0),
            NOW,
        );
        assert_eq!(reason(r), "PLACE_NOT_FOUND");
    }

    #[test]
    fn schedules_start_in_the_future_and_at_most_six_months_ahead() {
        assert_eq!(
            reason(register(
                &Product::default(),
                &place(),
                cmd(PaymentMode::ReservationOnly, NOW, 1, 0),
                NOW
            )),
            "IN_THE_PAST"
        );
        assert_eq!(
            reason(register(
                &Product::default(),
                &place(),
                cmd(PaymentMode::ReservationOnly, NOW + 200 * DAY, 1, 0),
                NOW
            )),
            "TOO_FAR_AHEAD"
        );
    }

    #[test]
    fn capacity_and_price_are_bounded() {
        assert_eq!(
            reason(register(
                &Product::default(),
                &place(),
                cmd(PaymentMode::ReservationOnly, NOW + DAY, 0, 0),
                NOW
            )),
            "OUT_OF_RANGE"
        );
        assert_eq!(
            reason(register(
                &Product::default(),
                &place(),
                cmd(PaymentMode::ReservationOnly, NOW + DAY, 1, -1),
                NOW
            )),
            "OUT_OF_RANGE"
        );
    }

    #[test]
    fn a_pay_at_booking_product_has_a_price() {
        assert_eq!(
            reason(register(
                &Product::default(),
                &place(),
                cmd(PaymentMode::PayAtBooking, NOW + DAY, 5, 0),
                NOW
            )),
            "PAID_PRODUCT_NEEDS_PRICE"
        );
    }
}
