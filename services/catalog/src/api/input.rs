//! Requests to domain commands: every field parsed and checked, or refused with the field named.
use tonic::Status;
use yeyak_kit::status::{invalid_field, text};
use yeyak_proto::{
    catalog::{
        events::v1::{ConfirmationMode, InventoryMode, ReservationType},
        v1 as pb,
    },
    time::to_micros,
};

use super::refusal::refusal;
use crate::domain::{
    booking_window, cancellation_policy,
    definition::{PriceSpec, ProductSpec},
    schedule::{ScheduleSpec, SlotGenerator},
};

pub fn parse_enum<T: TryFrom<i32>>(field: &str, value: i32) -> Result<T, Status> {
    T::try_from(value).map_err(|_| {
        invalid_field(
            field,
            "UNKNOWN_ENUM_VALUE",
            format!("{value} is not a known value"),
        )
    })
}

fn micros(field: &str, t: &Option<prost_types::Timestamp>) -> Result<Option<i64>, Status> {
    t.as_ref()
        .map(|t| {
            to_micros(t)
                .ok_or_else(|| invalid_field(field, "OUT_OF_RANGE", "is not a valid timestamp"))
        })
        .transpose()
}

fn required_micros(field: &str, t: &Option<prost_types::Timestamp>) -> Result<i64, Status> {
    micros(field, t)?.ok_or_else(|| invalid_field(field, "REQUIRED", "is required"))
}

/// A business registration number as digits only (dashes allowed in input).
pub fn registration_number(value: &str) -> Result<String, Status> {
    let digits: String = value.chars().filter(|c| *c != '-').collect();
    if digits.len() != 10 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid_field(
            "business_registration_number",
            "MALFORMED",
            "must be 10 digits, e.g. 123-45-67891",
        ));
    }
    Ok(digits)
}

pub fn schedule_spec(s: &pb::ScheduleInput) -> Result<ScheduleSpec, Status> {
    Ok(ScheduleSpec {
        starts_us: required_micros("schedules.starts_at", &s.starts_at)?,
        ends_us: micros("schedules.ends_at", &s.ends_at)?,
        min_headcount: s.min_headcount,
        max_headcount: s.max_headcount,
        headcount_multiple: s.headcount_multiple,
    })
}

pub fn generator(g: &pb::SlotGenerator) -> Result<SlotGenerator, Status> {
    let date = |field: &str, v: &str| {
        v.parse::<jiff::civil::Date>()
            .map_err(|_| invalid_field(field, "MALFORMED", "a KST date, YYYY-MM-DD"))
    };
    let time = |field: &str, v: &str| {
        v.parse::<jiff::civil::Time>()
            .map_err(|_| invalid_field(field, "MALFORMED", "a KST time of day, HH:MM"))
    };
    Ok(SlotGenerator {
        from: date("generate.from_date", &g.from_date)?,
        until: date("generate.until_date", &g.until_date)?,
        first_start: time("generate.first_start_kst", &g.first_start_kst)?,
        last_start: time("generate.last_start_kst", &g.last_start_kst)?,
        every_minutes: g.every_minutes,
        duration_minutes: g.duration_minutes,
        min_headcount: g.min_headcount,
        max_headcount: g.max_headcount,
        headcount_multiple: g.headcount_multiple,
    })
}

pub fn product_spec(p: Option<&pb::ProductInput>) -> Result<ProductSpec, Status> {
    let p = p.ok_or_else(|| invalid_field("product", "REQUIRED", "is required"))?;
    let prices = p
        .prices
        .iter()
        .map(|x| {
            Ok(PriceSpec {
                name: text("prices.name", &x.name, 1, 50)?,
                amount_krw: x.amount_krw,
                payment_mode: parse_enum("prices.payment_mode", x.payment_mode)?,
                max_quantity: x.max_quantity,
                sale_starts_us: micros("prices.sale_starts_at", &x.sale_starts_at)?,
                sale_ends_us: micros("prices.sale_ends_at", &x.sale_ends_at)?,
            })
        })
        .collect::<Result<_, Status>>()?;
    let booking_window = p
        .booking_window
        .as_ref()
        .map(|w| {
            booking_window::from_pb(&yeyak_proto::catalog::events::v1::BookingWindow {
                opens_at: w.opens_at,
                end: w.end.map(|e| match e {
                    pb::booking_window_input::End::BeforeSlot(b) => {
                        yeyak_proto::catalog::events::v1::booking_window::End::BeforeSlot(b)
                    }
                    pb::booking_window_input::End::DaysBeforeAt(d) => {
                        yeyak_proto::catalog::events::v1::booking_window::End::DaysBeforeAt(d)
                    }
                }),
            })
        })
        .transpose()
        .map_err(refusal)?;
    let cancellation_policy = p
        .cancellation_policy
        .as_ref()
        .map(cancellation_policy::from_pb)
        .transpose()
        .map_err(refusal)?;
    Ok(ProductSpec {
        name: text("product.name", &p.name, 1, 100)?,
        reservation_type: parse_enum::<ReservationType>("reservation_type", p.reservation_type)?,
        confirmation_mode: parse_enum::<ConfirmationMode>(
            "confirmation_mode",
            p.confirmation_mode,
        )?,
        inventory_mode: parse_enum::<InventoryMode>("inventory_mode", p.inventory_mode)?,
        prices,
        schedules: p
            .schedules
            .iter()
            .map(schedule_spec)
            .collect::<Result<_, _>>()?,
        capacity: p.capacity,
        booking_window,
        cancellation_policy,
        custom_questions: p.custom_questions.clone(),
        request_expiry_minutes: p.request_expiry_minutes,
        class_product: p.class_product,
    })
}
