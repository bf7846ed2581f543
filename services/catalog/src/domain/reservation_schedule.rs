//! Reservation schedules (예약 스케줄): schedule × price, the bookable unit, with the inventory
//! pool each draws from by the product's inventory mode. Identifiers are derived, so saving the
//! same schedule or price again keeps its id: a schedule by its start, a price by its name, a
//! reservation schedule by the pair.
use std::collections::BTreeMap;

use yeyak_kit::events::derived_id;
use yeyak_proto::{
    catalog::events::v1::{
        InventoryMode, InventoryPool, ProductDefinition, ReservationSchedule, ReservationType,
        Schedule,
    },
    time::{from_micros, to_micros},
};

use super::{
    CatalogError,
    booking_window::{self, SalePeriod},
    cancellation_policy::kst,
};

/// The pool a reservation schedule draws from, by inventory mode.
pub(super) fn inventory_key(
    mode: InventoryMode,
    rs_id: &str,
    schedule_id: &str,
    starts_us: i64,
) -> String {
    match mode {
        InventoryMode::PerDateTime => schedule_id.to_string(),
        InventoryMode::PerDate => {
            let date = jiff::Timestamp::from_microsecond(starts_us)
                .map(|t| t.to_zoned_datetime(kst()).date().to_string())
                .unwrap_or_default();
            format!("date-{date}")
        }
        InventoryMode::PerPeriod => "period".to_string(),
        _ => rs_id.to_string(),
    }
}

pub(super) fn schedule_id(product_id: &str, starts_us: i64) -> String {
    derived_id("schedule", &format!("{product_id}/{starts_us}"), 0).to_string()
}

pub(super) fn price_id(product_id: &str, name: &str) -> String {
    derived_id("price", &format!("{product_id}/{name}"), 0).to_string()
}

pub(super) fn reservation_schedule_id(schedule_id: &str, price_id: &str) -> String {
    derived_id(
        "reservation-schedule",
        &format!("{schedule_id}/{price_id}"),
        0,
    )
    .to_string()
}

pub(super) fn us(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().and_then(to_micros).unwrap_or_default()
}

/// The reservation schedules (schedule × price) of `schedules` with their pools; each checked
/// for the booking window's overlap with the price's sale period.
pub fn reservation_schedules(
    def: &ProductDefinition,
    schedules: &[Schedule],
    capacity: u32,
) -> Result<(Vec<ReservationSchedule>, Vec<InventoryPool>), CatalogError> {
    let window = def
        .booking_window
        .as_ref()
        .map(booking_window::from_pb)
        .transpose()?
        .ok_or_else(|| CatalogError::invalid("booking_window", "REQUIRED", "is required"))?;
    let always_open = def.reservation_type() == ReservationType::AlwaysOpen;
    let mode = def.inventory_mode();
    let mut units = Vec::new();
    let mut pools = BTreeMap::new();
    for s in schedules {
        let (starts, ends) = (us(&s.starts_at), us(&s.ends_at));
        // An always-open product is booked through its usage period.
        let slot = if always_open { ends } else { starts };
        let closes = booking_window::closes_at(&window.end, slot).ok_or_else(|| {
            CatalogError::invalid(
                "booking_window.end",
                "OUT_OF_RANGE",
                "the booking end cannot be computed",
            )
        })?;
        for p in &def.prices {
            let sale = SalePeriod {
                start_us: p
                    .sale_starts_at
                    .as_ref()
                    .map_or(i64::MIN / 2, |t| us(&Some(*t))),
                end_us: p
                    .sale_ends_at
                    .as_ref()
                    .map_or(i64::MAX / 2, |t| us(&Some(*t))),
            };
            // The one-day overlap binds a price that has its own sale period.
            if p.sale_starts_at.is_some() || p.sale_ends_at.is_some() {
                booking_window::check_overlap(&window, slot, &sale)?;
            }
            let id = reservation_schedule_id(&s.schedule_id, &p.price_id);
            let key = inventory_key(mode, &id, &s.schedule_id, starts);
            let pool = *pools.entry(key.clone()).or_insert(capacity);
            units.push(ReservationSchedule {
                reservation_schedule_id: id,
                starts_at: s.starts_at,
                capacity: pool,
                price_krw: p.amount_krw,
                schedule_id: s.schedule_id.clone(),
                price_id: p.price_id.clone(),
                visible: s.visible && p.visible,
                payment_mode: p.payment_mode,
                ends_at: s.ends_at,
                booking_opens_at: Some(from_micros(window.start_us)),
                booking_closes_at: Some(from_micros(closes)),
                min_headcount: s.min_headcount,
                max_headcount: s.max_headcount,
                inventory_key: key,
                headcount_multiple: s.headcount_multiple,
            });
        }
    }
    let pools = pools
        .into_iter()
        .map(|(inventory_key, capacity)| InventoryPool {
            inventory_key,
            capacity,
        })
        .collect();
    Ok((units, pools))
}
