//! Schedules (일정): each start (and end) of the product, with its headcount limits; built from
//! the operator's input, one by one or generated in bulk on the KST calendar, and added to a
//! product (live at once).
use std::collections::BTreeSet;

use yeyak_proto::{
    catalog::events::v1::{ReservationType, Schedule, SchedulesAdded},
    time::from_micros,
};

use super::{
    CatalogError,
    cancellation_policy::kst,
    definition::{MAX_AHEAD_US, MAX_CAPACITY, MAX_HEADCOUNT, MAX_SCHEDULES},
    product::{Product, ProductEvent, require_changeable},
    reservation_schedule::{reservation_schedules, schedule_id},
};

const HOUR_US: i64 = 3_600_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    pub starts_us: i64,
    pub ends_us: Option<i64>,
    /// 0: the default (1).
    pub min_headcount: u32,
    /// 0: the default (50).
    pub max_headcount: u32,
    /// Headcount in multiples of n; 0 or 1: any.
    pub headcount_multiple: u32,
}

/// Checks and builds the schedules; ids derive from the product.
pub fn build_schedules(
    product_id: &str,
    reservation_type: ReservationType,
    specs: &[ScheduleSpec],
    now_us: i64,
) -> Result<Vec<Schedule>, CatalogError> {
    if specs.len() > MAX_SCHEDULES {
        return Err(CatalogError::invalid(
            "schedules",
            "OUT_OF_RANGE",
            format!("at most {MAX_SCHEDULES} schedules"),
        ));
    }
    let mut starts = BTreeSet::new();
    specs
        .iter()
        .map(|s| {
            if !starts.insert(s.starts_us) {
                return Err(CatalogError::invalid(
                    "schedules.starts_at",
                    "DUPLICATE_SCHEDULE",
                    "two schedules start at the same time",
                ));
            }
            if reservation_type != ReservationType::AlwaysOpen && s.starts_us <= now_us {
                return Err(CatalogError::invalid(
                    "schedules.starts_at",
                    "IN_THE_PAST",
                    "a schedule must start in the future",
                ));
            }
            if s.starts_us - now_us > MAX_AHEAD_US {
                return Err(CatalogError::invalid(
                    "schedules.starts_at",
                    "TOO_FAR_AHEAD",
                    "schedules are registered at most 6 months ahead",
                ));
            }
            let ends_us = match (reservation_type, s.ends_us) {
                (ReservationType::AlwaysOpen, None) => {
                    return Err(CatalogError::invalid(
                        "schedules.ends_at",
                        "REQUIRED",
                        "an always-open product's schedule is its usage period: give its end",
                    ));
                }
                (_, Some(end)) => end,
                (_, None) => s.starts_us + HOUR_US,
            };
            if ends_us <= s.starts_us || ends_us <= now_us {
                return Err(CatalogError::invalid(
                    "schedules.ends_at",
                    "OUT_OF_RANGE",
                    "a schedule ends after it starts, in the future",
                ));
            }
            let min = if s.min_headcount == 0 { 1 } else { s.min_headcount };
            let max = if s.max_headcount == 0 {
                MAX_HEADCOUNT
            } else {
                s.max_headcount
            };
            if max > MAX_HEADCOUNT || min > max {
                return Err(CatalogError::invalid(
                    "schedules.headcount",
                    "OUT_OF_RANGE",
                    format!(
                        "headcount is a minimum and a maximum of 1 to {MAX_HEADCOUNT} (equal for a fixed party size)"
                    ),
                ));
            }
            let step = s.headcount_multiple.max(1);
            if step > max || min.div_ceil(step) * step > max {
                return Err(CatalogError::invalid(
                    "schedules.headcount_multiple",
                    "OUT_OF_RANGE",
                    format!("no headcount from {min} to {max} is a multiple of {step}"),
                ));
            }
            Ok(Schedule {
                schedule_id: schedule_id(product_id, s.starts_us),
                starts_at: Some(from_micros(s.starts_us)),
                ends_at: Some(from_micros(ends_us)),
                min_headcount: min,
                max_headcount: max,
                visible: true,
                headcount_multiple: if step > 1 { step } else { 0 },
            })
        })
        .collect()
}

/// Date-time slots generated in bulk: every `every_minutes` from `first_start` to `last_start`
/// (KST times of day) on each KST date from `from` to `until`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotGenerator {
    pub from: jiff::civil::Date,
    pub until: jiff::civil::Date,
    pub first_start: jiff::civil::Time,
    pub last_start: jiff::civil::Time,
    pub every_minutes: u32,
    pub duration_minutes: u32,
    pub min_headcount: u32,
    pub max_headcount: u32,
    pub headcount_multiple: u32,
}

/// Expands a generator into schedules; at most [`MAX_SCHEDULES`] slots.
pub fn generate_slots(g: &SlotGenerator) -> Result<Vec<ScheduleSpec>, CatalogError> {
    if g.until < g.from || g.last_start < g.first_start {
        return Err(CatalogError::invalid(
            "generate",
            "OUT_OF_RANGE",
            "the dates and the times of day run forward",
        ));
    }
    if !(5..=24 * 60).contains(&g.every_minutes) || !(1..=24 * 60).contains(&g.duration_minutes) {
        return Err(CatalogError::invalid(
            "generate.every_minutes",
            "OUT_OF_RANGE",
            "slots repeat every 5 minutes to 24 hours and last 1 minute to 24 hours",
        ));
    }
    let mut slots = Vec::new();
    let mut day = g.from;
    while day <= g.until {
        let mut t = g.first_start;
        loop {
            let starts = kst()
                .to_timestamp(day.to_datetime(t))
                .map_err(|_| {
                    CatalogError::invalid(
                        "generate",
                        "OUT_OF_RANGE",
                        "a slot falls outside the calendar",
                    )
                })?
                .as_microsecond();
            slots.push(ScheduleSpec {
                starts_us: starts,
                ends_us: Some(starts + i64::from(g.duration_minutes) * 60_000_000),
                min_headcount: g.min_headcount,
                max_headcount: g.max_headcount,
                headcount_multiple: g.headcount_multiple,
            });
            if slots.len() > MAX_SCHEDULES {
                return Err(CatalogError::invalid(
                    "generate",
                    "OUT_OF_RANGE",
                    format!("at most {MAX_SCHEDULES} slots at once"),
                ));
            }
            match t.checked_add(jiff::Span::new().minutes(i64::from(g.every_minutes))) {
                Ok(next) if next > t && next <= g.last_start => t = next,
                _ => break,
            }
        }
        day = day.tomorrow().map_err(|_| {
            CatalogError::invalid("generate.until_date", "OUT_OF_RANGE", "past the calendar")
        })?;
    }
    Ok(slots)
}

/// Adds schedules (bulk-generated or given); they are live at once with their reservation
/// schedules and pools at `capacity`. An always-open product keeps its one usage period.
pub fn add_schedules(
    state: &Product,
    specs: &[ScheduleSpec],
    capacity: u32,
    now_us: i64,
) -> Result<Vec<ProductEvent>, CatalogError> {
    let id = require_changeable(state)?;
    // New schedules go live at once: they take the live (reviewed) prices and terms, never a
    // pending revision's.
    let def = state.live.as_ref().unwrap_or(&state.working);
    if def.reservation_type() == ReservationType::AlwaysOpen {
        return Err(CatalogError::AlwaysOpenHasOneSchedule);
    }
    if specs.is_empty() {
        return Err(CatalogError::invalid(
            "schedules",
            "REQUIRED",
            "give at least one schedule",
        ));
    }
    if capacity == 0 || capacity > MAX_CAPACITY {
        return Err(CatalogError::invalid(
            "capacity",
            "OUT_OF_RANGE",
            format!("capacity is 1 to {}", MAX_CAPACITY),
        ));
    }
    if def.schedules.len() + specs.len() > MAX_SCHEDULES {
        return Err(CatalogError::invalid(
            "schedules",
            "OUT_OF_RANGE",
            format!("a product has at most {} schedules", MAX_SCHEDULES),
        ));
    }
    let schedules = build_schedules(&id, def.reservation_type(), specs, now_us)?;
    if let Some(dup) = schedules
        .iter()
        .find(|s| def.schedules.iter().any(|x| x.schedule_id == s.schedule_id))
    {
        return Err(CatalogError::invalid(
            "schedules.starts_at",
            "DUPLICATE_SCHEDULE",
            format!("a schedule already starts at {:?}", dup.starts_at),
        ));
    }
    let (units, pools) = reservation_schedules(def, &schedules, capacity)?;
    // Pools that already exist (per date or per period) keep their quantity.
    let pools: Vec<_> = pools
        .into_iter()
        .filter(|p| {
            !def.inventory_pools
                .iter()
                .any(|x| x.inventory_key == p.inventory_key)
        })
        .collect();
    let units = units
        .into_iter()
        .map(|mut u| {
            if let Some(existing) = def
                .inventory_pools
                .iter()
                .find(|p| p.inventory_key == u.inventory_key)
            {
                u.capacity = existing.capacity;
            }
            u
        })
        .collect();
    let r = state.id()?;
    Ok(vec![
        SchedulesAdded {
            product_id: id,
            schedules,
            reservation_schedules: units,
            inventory_pools: pools,
            partner_id: r.partner_id.clone(),
            place_id: r.place_id.clone(),
            live: state.live.is_some(),
            confirmation_mode: def.confirmation_mode,
            inventory_mode: def.inventory_mode,
        }
        .into(),
    ])
}
