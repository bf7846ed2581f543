//! A product's definition: prices, schedules, the reservation schedules they make (schedule ×
//! price, the bookable unit), inventory pools, booking window, cancellation policy and custom
//! questions, built from an operator's input and checked against every rule of domain.md §2.2.
//!
//! Identifiers are derived, so saving the same schedule or price again keeps its id: a schedule
//! by its start, a price by its name, a reservation schedule by the pair.
use std::collections::{BTreeMap, BTreeSet};

use yeyak_kit::events::derived_id;
use yeyak_proto::{
    catalog::events::v1::{
        self as ev, BookingWindow as BookingWindowPb, CancellationKind, CancellationPolicy,
        ConfirmationMode, InventoryMode, InventoryPool, PaymentMode, Price, ProductDefinition,
        ReservationSchedule, ReservationType, Schedule,
    },
    time::{from_micros, to_micros},
};

use super::{
    CatalogError,
    booking_window::{self, BookingEnd, BookingWindow, SalePeriod},
    cancellation_policy::{self, Deadline, FeeTier, Policy, ProductKind, kst},
};

/// Most schedules one product carries.
pub const MAX_SCHEDULES: usize = 2_000;
/// Most prices per product.
pub const MAX_PRICES: usize = 20;
/// Largest quantity of one inventory pool.
pub const MAX_CAPACITY: u32 = 10_000;
/// Largest price in won.
pub const MAX_PRICE_KRW: i64 = 100_000_000;
/// Largest headcount of one slot.
pub const MAX_HEADCOUNT: u32 = 50;
/// How far ahead schedules may start: 6 months (183 days), in microseconds.
pub const MAX_AHEAD_US: i64 = 183 * DAY_US;
pub const MAX_QUESTIONS: usize = 10;
const DAY_US: i64 = 24 * 3_600_000_000;
const HOUR_US: i64 = 3_600_000_000;

/// Words that mark a question asking for personal information, which custom questions may not.
const PERSONAL_INFO: &[&str] = &[
    "주민등록",
    "주민번호",
    "여권",
    "계좌",
    "카드번호",
    "비밀번호",
    "resident registration",
    "passport",
    "card number",
    "password",
];

#[derive(Debug, Clone, PartialEq)]
pub struct PriceSpec {
    pub name: String,
    pub amount_krw: i64,
    pub payment_mode: PaymentMode,
    /// 0: none.
    pub max_quantity: u32,
    pub sale_starts_us: Option<i64>,
    pub sale_ends_us: Option<i64>,
}

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

/// What the operator gives.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductSpec {
    pub name: String,
    pub reservation_type: ReservationType,
    pub confirmation_mode: ConfirmationMode,
    pub inventory_mode: InventoryMode,
    pub prices: Vec<PriceSpec>,
    pub schedules: Vec<ScheduleSpec>,
    /// The quantity registered in bulk for every new inventory pool.
    pub capacity: u32,
    /// `None`: open from now, close at each slot's start.
    pub booking_window: Option<BookingWindow>,
    /// `None`: full refund until the usage start.
    pub cancellation_policy: Option<Policy>,
    pub custom_questions: Vec<String>,
    pub request_expiry_minutes: u32,
    /// A class (클래스 상품): its reservations are completed only from the usage date.
    pub class_product: bool,
}

fn invalid(field: &'static str, reason: &'static str, message: impl Into<String>) -> CatalogError {
    CatalogError::invalid(field, reason, message)
}

/// Whether a customer pays anything when booking this product.
pub fn is_paid(def: &ProductDefinition) -> bool {
    def.prices.iter().any(|p| {
        p.amount_krw > 0
            && matches!(
                p.payment_mode(),
                PaymentMode::PayAtBooking | PaymentMode::Deposit
            )
    })
}

/// The pool a reservation schedule draws from, by inventory mode.
fn inventory_key(mode: InventoryMode, rs_id: &str, schedule_id: &str, starts_us: i64) -> String {
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

fn schedule_id(product_id: &str, starts_us: i64) -> String {
    derived_id("schedule", &format!("{product_id}/{starts_us}"), 0).to_string()
}

fn price_id(product_id: &str, name: &str) -> String {
    derived_id("price", &format!("{product_id}/{name}"), 0).to_string()
}

fn reservation_schedule_id(schedule_id: &str, price_id: &str) -> String {
    derived_id(
        "reservation-schedule",
        &format!("{schedule_id}/{price_id}"),
        0,
    )
    .to_string()
}

/// Checks and builds the schedules; ids derive from the product.
pub fn build_schedules(
    product_id: &str,
    reservation_type: ReservationType,
    specs: &[ScheduleSpec],
    now_us: i64,
) -> Result<Vec<Schedule>, CatalogError> {
    if specs.len() > MAX_SCHEDULES {
        return Err(invalid(
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
                return Err(invalid(
                    "schedules.starts_at",
                    "DUPLICATE_SCHEDULE",
                    "two schedules start at the same time",
                ));
            }
            if reservation_type != ReservationType::AlwaysOpen && s.starts_us <= now_us {
                return Err(invalid(
                    "schedules.starts_at",
                    "IN_THE_PAST",
                    "a schedule must start in the future",
                ));
            }
            if s.starts_us - now_us > MAX_AHEAD_US {
                return Err(invalid(
                    "schedules.starts_at",
                    "TOO_FAR_AHEAD",
                    "schedules are registered at most 6 months ahead",
                ));
            }
            let ends_us = match (reservation_type, s.ends_us) {
                (ReservationType::AlwaysOpen, None) => {
                    return Err(invalid(
                        "schedules.ends_at",
                        "REQUIRED",
                        "an always-open product's schedule is its usage period: give its end",
                    ));
                }
                (_, Some(end)) => end,
                (_, None) => s.starts_us + HOUR_US,
            };
            if ends_us <= s.starts_us || ends_us <= now_us {
                return Err(invalid(
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
                return Err(invalid(
                    "schedules.headcount",
                    "OUT_OF_RANGE",
                    format!(
                        "headcount is a minimum and a maximum of 1 to {MAX_HEADCOUNT} (equal for a fixed party size)"
                    ),
                ));
            }
            let step = s.headcount_multiple.max(1);
            if step > max || min.div_ceil(step) * step > max {
                return Err(invalid(
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

fn us(t: &Option<prost_types::Timestamp>) -> i64 {
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
        .map(window_from_pb)
        .transpose()?
        .ok_or_else(|| invalid("booking_window", "REQUIRED", "is required"))?;
    let always_open = def.reservation_type() == ReservationType::AlwaysOpen;
    let mode = def.inventory_mode();
    let mut units = Vec::new();
    let mut pools = BTreeMap::new();
    for s in schedules {
        let (starts, ends) = (us(&s.starts_at), us(&s.ends_at));
        // An always-open product is booked through its usage period.
        let slot = if always_open { ends } else { starts };
        let closes = booking_window::closes_at(&window.end, slot).ok_or_else(|| {
            invalid(
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

/// Builds and checks a definition. Pools and visibility already set on `previous` are kept.
pub fn build(
    product_id: &str,
    spec: ProductSpec,
    previous: Option<&ProductDefinition>,
    now_us: i64,
) -> Result<ProductDefinition, CatalogError> {
    if spec.reservation_type == ReservationType::Unspecified {
        return Err(invalid(
            "reservation_type",
            "REQUIRED",
            "choose ALWAYS_OPEN, DATE or DATE_TIME",
        ));
    }
    if spec.confirmation_mode == ConfirmationMode::Unspecified {
        return Err(invalid(
            "confirmation_mode",
            "REQUIRED",
            "choose INSTANT or APPROVAL",
        ));
    }
    if spec.inventory_mode == InventoryMode::Unspecified {
        return Err(invalid(
            "inventory_mode",
            "REQUIRED",
            "choose PER_RESERVATION_SCHEDULE, PER_DATE_TIME, PER_DATE or PER_PERIOD",
        ));
    }
    let always_open = spec.reservation_type == ReservationType::AlwaysOpen;
    if always_open && spec.inventory_mode != InventoryMode::PerReservationSchedule {
        return Err(invalid(
            "inventory_mode",
            "NOT_FOR_ALWAYS_OPEN",
            "an always-open product manages quantity per price (PER_RESERVATION_SCHEDULE)",
        ));
    }
    if always_open && spec.schedules.len() != 1 {
        return Err(invalid(
            "schedules",
            "ALWAYS_OPEN_HAS_ONE_SCHEDULE",
            "an always-open product has exactly one schedule: its usage period",
        ));
    }
    if spec.schedules.is_empty() {
        return Err(invalid(
            "schedules",
            "REQUIRED",
            "give at least one schedule",
        ));
    }
    if spec.capacity == 0 || spec.capacity > MAX_CAPACITY {
        return Err(invalid(
            "capacity",
            "OUT_OF_RANGE",
            format!("capacity is 1 to {MAX_CAPACITY}"),
        ));
    }
    if spec.prices.is_empty() || spec.prices.len() > MAX_PRICES {
        return Err(invalid(
            "prices",
            "OUT_OF_RANGE",
            format!("give 1 to {MAX_PRICES} prices"),
        ));
    }
    if spec.custom_questions.len() > MAX_QUESTIONS {
        return Err(invalid(
            "custom_questions",
            "OUT_OF_RANGE",
            format!("at most {MAX_QUESTIONS} questions"),
        ));
    }
    for q in &spec.custom_questions {
        let lower = q.to_lowercase();
        if q.trim().is_empty() || q.chars().count() > 200 {
            return Err(invalid(
                "custom_questions",
                "OUT_OF_RANGE",
                "a question has 1 to 200 characters",
            ));
        }
        if PERSONAL_INFO.iter().any(|w| lower.contains(w)) {
            return Err(invalid(
                "custom_questions",
                "PERSONAL_INFORMATION_QUESTION",
                "questions may not ask for personal information",
            ));
        }
    }
    if spec.request_expiry_minutes > 7 * 24 * 60 {
        return Err(invalid(
            "request_expiry_minutes",
            "OUT_OF_RANGE",
            "a request waits at most 7 days",
        ));
    }
    let mut names = BTreeSet::new();
    let mut prices = Vec::new();
    for p in &spec.prices {
        if p.name.trim().is_empty() || !names.insert(p.name.clone()) {
            return Err(invalid(
                "prices.name",
                "DUPLICATE_PRICE",
                "each price has its own non-empty name",
            ));
        }
        if !(0..=MAX_PRICE_KRW).contains(&p.amount_krw) {
            return Err(invalid(
                "prices.amount_krw",
                "OUT_OF_RANGE",
                format!("a price is 0 to {MAX_PRICE_KRW} won"),
            ));
        }
        match p.payment_mode {
            PaymentMode::Unspecified => {
                return Err(invalid(
                    "prices.payment_mode",
                    "REQUIRED",
                    "choose RESERVATION_ONLY, PAY_AT_BOOKING or DEPOSIT",
                ));
            }
            PaymentMode::PayAtBooking | PaymentMode::Deposit if p.amount_krw == 0 => {
                return Err(invalid(
                    "prices.amount_krw",
                    "PAID_PRODUCT_NEEDS_PRICE",
                    "a pay-at-booking or deposit price is above 0 won",
                ));
            }
            _ => {}
        }
        if p.max_quantity > 0 && spec.inventory_mode == InventoryMode::PerReservationSchedule {
            return Err(invalid(
                "prices.max_quantity",
                "MAX_QUANTITY_NOT_IN_THIS_MODE",
                "a price's maximum quantity applies only in the per-date-time, per-date and per-period modes",
            ));
        }
        if let (Some(a), Some(b)) = (p.sale_starts_us, p.sale_ends_us)
            && b <= a
        {
            return Err(invalid(
                "prices.sale_ends_at",
                "OUT_OF_RANGE",
                "a sale period ends after it starts",
            ));
        }
        let id = price_id(product_id, &p.name);
        let visible = previous
            .and_then(|d| d.prices.iter().find(|x| x.price_id == id))
            .is_none_or(|x| x.visible);
        prices.push(Price {
            price_id: id,
            name: p.name.clone(),
            amount_krw: p.amount_krw,
            payment_mode: p.payment_mode as i32,
            max_quantity: p.max_quantity,
            sale_starts_at: p.sale_starts_us.map(from_micros),
            sale_ends_at: p.sale_ends_us.map(from_micros),
            visible,
        });
    }
    let window = spec.booking_window.unwrap_or(BookingWindow {
        start_us: now_us,
        end: BookingEnd::BeforeSlot {
            hours: 0,
            minutes: 0,
        },
    });
    booking_window::validate(&window)?;
    let policy = spec
        .cancellation_policy
        .unwrap_or(Policy::FullRefundUntil(Deadline::MinutesBeforeUse(0)));
    let mut schedules =
        build_schedules(product_id, spec.reservation_type, &spec.schedules, now_us)?;
    for s in &mut schedules {
        if let Some(old) =
            previous.and_then(|d| d.schedules.iter().find(|x| x.schedule_id == s.schedule_id))
        {
            s.visible = old.visible;
        }
    }
    let mut def = ProductDefinition {
        name: spec.name,
        reservation_type: spec.reservation_type as i32,
        confirmation_mode: spec.confirmation_mode as i32,
        inventory_mode: spec.inventory_mode as i32,
        prices,
        schedules: vec![],
        reservation_schedules: vec![],
        inventory_pools: vec![],
        booking_window: Some(window_to_pb(&window)),
        cancellation_policy: Some(policy_to_pb(&policy)),
        custom_questions: spec.custom_questions,
        request_expiry_minutes: spec.request_expiry_minutes,
        class_product: spec.class_product,
    };
    cancellation_policy::validate(
        &policy,
        ProductKind {
            paid: is_paid(&def),
            always_open,
        },
    )?;
    let (mut units, mut pools) = reservation_schedules(&def, &schedules, spec.capacity)?;
    if let Some(prev) = previous {
        for pool in &mut pools {
            if let Some(old) = prev
                .inventory_pools
                .iter()
                .find(|p| p.inventory_key == pool.inventory_key)
            {
                pool.capacity = old.capacity;
            }
        }
        for u in &mut units {
            if let Some(old) = prev
                .reservation_schedules
                .iter()
                .find(|x| x.reservation_schedule_id == u.reservation_schedule_id)
            {
                u.visible = u.visible && old.visible;
            }
            if let Some(pool) = pools.iter().find(|p| p.inventory_key == u.inventory_key) {
                u.capacity = pool.capacity;
            }
        }
    }
    def.schedules = schedules;
    def.reservation_schedules = units;
    def.inventory_pools = pools;
    Ok(def)
}

/// A copy's definition: the same content under the new product's ids, without the schedules
/// that are entirely in the past (their pools and reservation schedules go with them).
pub fn copy(
    source: &ProductDefinition,
    new_product_id: &str,
    name: String,
    now_us: i64,
) -> ProductDefinition {
    let mut def = source.clone();
    def.name = name;
    let price_ids: BTreeMap<String, String> = def
        .prices
        .iter_mut()
        .map(|p| {
            let new = price_id(new_product_id, &p.name);
            (std::mem::replace(&mut p.price_id, new.clone()), new)
        })
        .collect();
    def.schedules.retain(|s| us(&s.ends_at) > now_us);
    let schedule_ids: BTreeMap<String, String> = def
        .schedules
        .iter_mut()
        .map(|s| {
            let new = schedule_id(new_product_id, us(&s.starts_at));
            (std::mem::replace(&mut s.schedule_id, new.clone()), new)
        })
        .collect();
    let mode = def.inventory_mode();
    let old_pools: BTreeMap<String, u32> = def
        .inventory_pools
        .iter()
        .map(|p| (p.inventory_key.clone(), p.capacity))
        .collect();
    let mut pools = BTreeMap::new();
    def.reservation_schedules.retain_mut(|u| {
        let (Some(s), Some(p)) = (schedule_ids.get(&u.schedule_id), price_ids.get(&u.price_id))
        else {
            return false;
        };
        let old_key = std::mem::take(&mut u.inventory_key);
        u.schedule_id = s.clone();
        u.price_id = p.clone();
        u.reservation_schedule_id = reservation_schedule_id(s, p);
        u.inventory_key = inventory_key(mode, &u.reservation_schedule_id, s, us(&u.starts_at));
        pools.insert(
            u.inventory_key.clone(),
            old_pools.get(&old_key).copied().unwrap_or(u.capacity),
        );
        true
    });
    def.inventory_pools = pools
        .into_iter()
        .map(|(inventory_key, capacity)| InventoryPool {
            inventory_key,
            capacity,
        })
        .collect();
    def
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
        return Err(invalid(
            "generate",
            "OUT_OF_RANGE",
            "the dates and the times of day run forward",
        ));
    }
    if !(5..=24 * 60).contains(&g.every_minutes) || !(1..=24 * 60).contains(&g.duration_minutes) {
        return Err(invalid(
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
                    invalid(
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
                return Err(invalid(
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
        day = day
            .tomorrow()
            .map_err(|_| invalid("generate.until_date", "OUT_OF_RANGE", "past the calendar"))?;
    }
    Ok(slots)
}

// --- proto ↔ domain ---------------------------------------------------------------------------

fn days_before_at(
    d: &ev::DaysBeforeAt,
    field: &'static str,
) -> Result<(u32, i8, i8), CatalogError> {
    let hour =
        i8::try_from(d.hour).map_err(|_| invalid(field, "OUT_OF_RANGE", "hour is 0 to 23"))?;
    let minute =
        i8::try_from(d.minute).map_err(|_| invalid(field, "OUT_OF_RANGE", "minute is 0 to 59"))?;
    Ok((d.days, hour, minute))
}

pub fn window_from_pb(w: &BookingWindowPb) -> Result<BookingWindow, CatalogError> {
    let start_us = w
        .opens_at
        .as_ref()
        .and_then(to_micros)
        .ok_or_else(|| invalid("booking_window.opens_at", "REQUIRED", "is required"))?;
    let end = match &w.end {
        Some(ev::booking_window::End::BeforeSlot(b)) => BookingEnd::BeforeSlot {
            hours: b.hours,
            minutes: b.minutes,
        },
        Some(ev::booking_window::End::DaysBeforeAt(d)) => {
            let (days, hour, minute) = days_before_at(d, "booking_window.end")?;
            BookingEnd::DaysBeforeAt { days, hour, minute }
        }
        None => return Err(invalid("booking_window.end", "REQUIRED", "is required")),
    };
    let window = BookingWindow { start_us, end };
    booking_window::validate(&window)?;
    Ok(window)
}

pub fn window_to_pb(w: &BookingWindow) -> BookingWindowPb {
    BookingWindowPb {
        opens_at: Some(from_micros(w.start_us)),
        end: Some(match w.end {
            BookingEnd::BeforeSlot { hours, minutes } => {
                ev::booking_window::End::BeforeSlot(ev::BeforeSlot { hours, minutes })
            }
            BookingEnd::DaysBeforeAt { days, hour, minute } => {
                ev::booking_window::End::DaysBeforeAt(ev::DaysBeforeAt {
                    days,
                    hour: hour.into(),
                    minute: minute.into(),
                })
            }
        }),
    }
}

fn deadline_from_pb(d: Option<&ev::CancellationDeadline>) -> Result<Deadline, CatalogError> {
    use ev::cancellation_deadline::Kind;
    const FIELD: &str = "cancellation_policy.deadline";
    match d.and_then(|d| d.kind.as_ref()) {
        Some(Kind::MinutesBeforeUse(m)) => Ok(Deadline::MinutesBeforeUse(*m)),
        Some(Kind::DaysBeforeAt(d)) => {
            let (days, hour, minute) = days_before_at(d, FIELD)?;
            Ok(Deadline::DaysBeforeAt { days, hour, minute })
        }
        Some(Kind::FixedKst(s)) => s
            .parse::<jiff::civil::DateTime>()
            .map(Deadline::Fixed)
            .map_err(|_| {
                invalid(
                    FIELD,
                    "MALFORMED",
                    "a fixed deadline is a KST date-time, YYYY-MM-DDTHH:00",
                )
            }),
        None => Err(invalid(FIELD, "REQUIRED", "is required")),
    }
}

fn deadline_to_pb(d: &Deadline) -> ev::CancellationDeadline {
    use ev::cancellation_deadline::Kind;
    ev::CancellationDeadline {
        kind: Some(match *d {
            Deadline::MinutesBeforeUse(m) => Kind::MinutesBeforeUse(m),
            Deadline::DaysBeforeAt { days, hour, minute } => Kind::DaysBeforeAt(ev::DaysBeforeAt {
                days,
                hour: hour.into(),
                minute: minute.into(),
            }),
            Deadline::Fixed(at) => Kind::FixedKst(at.strftime("%Y-%m-%dT%H:%M").to_string()),
        }),
    }
}

pub fn policy_from_pb(p: &CancellationPolicy) -> Result<Policy, CatalogError> {
    match p.kind() {
        CancellationKind::NotCancellable => Ok(Policy::NotCancellable),
        CancellationKind::FullRefundUntilDeadline => Ok(Policy::FullRefundUntil(deadline_from_pb(
            p.deadline.as_ref(),
        )?)),
        CancellationKind::Tiered => Ok(Policy::Tiered {
            tiers: p
                .tiers
                .iter()
                .map(|t| FeeTier {
                    within_minutes_before_use: t.within_minutes_before_use,
                    fee_bps: t.fee_bps,
                })
                .collect(),
            full_refund_minutes_after_booking: (p.full_refund_minutes_after_booking > 0)
                .then_some(p.full_refund_minutes_after_booking),
            deadline: deadline_from_pb(p.deadline.as_ref())?,
        }),
        CancellationKind::Unspecified => Err(invalid(
            "cancellation_policy.kind",
            "REQUIRED",
            "choose NOT_CANCELLABLE, FULL_REFUND_UNTIL_DEADLINE or TIERED",
        )),
    }
}

pub fn policy_to_pb(p: &Policy) -> CancellationPolicy {
    match p {
        Policy::NotCancellable => CancellationPolicy {
            kind: CancellationKind::NotCancellable as i32,
            ..Default::default()
        },
        Policy::FullRefundUntil(d) => CancellationPolicy {
            kind: CancellationKind::FullRefundUntilDeadline as i32,
            deadline: Some(deadline_to_pb(d)),
            ..Default::default()
        },
        Policy::Tiered {
            tiers,
            full_refund_minutes_after_booking,
            deadline,
        } => CancellationPolicy {
            kind: CancellationKind::Tiered as i32,
            deadline: Some(deadline_to_pb(deadline)),
            tiers: tiers
                .iter()
                .map(|t| ev::FeeTier {
                    within_minutes_before_use: t.within_minutes_before_use,
                    fee_bps: t.fee_bps,
                })
                .collect(),
            full_refund_minutes_after_booking: full_refund_minutes_after_booking.unwrap_or(0),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const NOW: i64 = 1_800_000_000_000_000;
    pub const DAY: i64 = DAY_US;

    pub fn price(name: &str, amount: i64, mode: PaymentMode) -> PriceSpec {
        PriceSpec {
            name: name.into(),
            amount_krw: amount,
            payment_mode: mode,
            max_quantity: 0,
            sale_starts_us: None,
            sale_ends_us: None,
        }
    }

    pub fn slot(starts_us: i64) -> ScheduleSpec {
        ScheduleSpec {
            starts_us,
            ends_us: None,
            min_headcount: 0,
            max_headcount: 0,
            headcount_multiple: 0,
        }
    }

    pub fn spec() -> ProductSpec {
        ProductSpec {
            name: "오마카세".into(),
            reservation_type: ReservationType::DateTime,
            confirmation_mode: ConfirmationMode::Approval,
            inventory_mode: InventoryMode::PerReservationSchedule,
            prices: vec![price("성인", 0, PaymentMode::ReservationOnly)],
            schedules: vec![slot(NOW + DAY), slot(NOW + 2 * DAY)],
            capacity: 10,
            booking_window: None,
            cancellation_policy: None,
            custom_questions: vec![],
            request_expiry_minutes: 0,
            class_product: false,
        }
    }

    fn refused(spec: ProductSpec) -> &'static str {
        build("p", spec, None, NOW).unwrap_err().reason()
    }

    #[test]
    fn a_reservation_schedule_is_a_schedule_times_a_price() {
        let def = build(
            "p",
            ProductSpec {
                prices: vec![
                    price("성인", 0, PaymentMode::ReservationOnly),
                    price("아동", 0, PaymentMode::ReservationOnly),
                ],
                ..spec()
            },
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(def.reservation_schedules.len(), 4);
        assert_eq!(
            def.inventory_pools.len(),
            4,
            "per reservation schedule: one pool each"
        );
        let again = build(
            "p",
            ProductSpec {
                prices: vec![
                    price("성인", 0, PaymentMode::ReservationOnly),
                    price("아동", 0, PaymentMode::ReservationOnly),
                ],
                ..spec()
            },
            Some(&def),
            NOW,
        )
        .unwrap();
        assert_eq!(
            again.reservation_schedules, def.reservation_schedules,
            "ids are stable across saves"
        );
    }

    #[test]
    fn the_inventory_mode_decides_which_units_share_a_quantity() {
        let two_prices = |mode| ProductSpec {
            inventory_mode: mode,
            prices: vec![
                price("성인", 0, PaymentMode::ReservationOnly),
                price("아동", 0, PaymentMode::ReservationOnly),
            ],
            schedules: vec![
                slot(NOW + DAY),
                slot(NOW + DAY + 2 * HOUR_US),
                slot(NOW + 2 * DAY),
            ],
            ..spec()
        };
        let pools = |mode| {
            build("p", two_prices(mode), None, NOW)
                .unwrap()
                .inventory_pools
                .len()
        };
        assert_eq!(pools(InventoryMode::PerReservationSchedule), 6);
        assert_eq!(pools(InventoryMode::PerDateTime), 3);
        assert_eq!(pools(InventoryMode::PerDate), 2);
        assert_eq!(pools(InventoryMode::PerPeriod), 1);
    }

    #[test]
    fn a_price_maximum_applies_only_in_the_pooled_modes() {
        let capped = |mode| ProductSpec {
            inventory_mode: mode,
            prices: vec![PriceSpec {
                max_quantity: 5,
                ..price("성인", 0, PaymentMode::ReservationOnly)
            }],
            ..spec()
        };
        assert_eq!(
            refused(capped(InventoryMode::PerReservationSchedule)),
            "MAX_QUANTITY_NOT_IN_THIS_MODE"
        );
        assert!(build("p", capped(InventoryMode::PerDate), None, NOW).is_ok());
    }

    #[test]
    fn schedules_start_in_the_future_and_at_most_six_months_ahead() {
        assert_eq!(
            refused(ProductSpec {
                schedules: vec![slot(NOW)],
                ..spec()
            }),
            "IN_THE_PAST"
        );
        assert_eq!(
            refused(ProductSpec {
                schedules: vec![slot(NOW + 200 * DAY)],
                ..spec()
            }),
            "TOO_FAR_AHEAD"
        );
    }

    #[test]
    fn headcount_per_slot_is_a_minimum_and_a_maximum_up_to_fifty() {
        let with = |min, max| ProductSpec {
            schedules: vec![ScheduleSpec {
                min_headcount: min,
                max_headcount: max,
                ..slot(NOW + DAY)
            }],
            ..spec()
        };
        assert_eq!(refused(with(1, 51)), "OUT_OF_RANGE");
        assert_eq!(refused(with(5, 4)), "OUT_OF_RANGE");
        let fixed = build("p", with(4, 4), None, NOW).unwrap();
        assert_eq!(
            (
                fixed.schedules[0].min_headcount,
                fixed.schedules[0].max_headcount
            ),
            (4, 4)
        );
    }

    #[test]
    fn headcount_in_multiples_of_n_needs_a_multiple_between_the_minimum_and_maximum() {
        let with = |min, max, n| ProductSpec {
            schedules: vec![ScheduleSpec {
                min_headcount: min,
                max_headcount: max,
                headcount_multiple: n,
                ..slot(NOW + DAY)
            }],
            ..spec()
        };
        assert_eq!(refused(with(1, 2, 3)), "OUT_OF_RANGE");
        assert_eq!(
            refused(with(5, 7, 4)),
            "OUT_OF_RANGE",
            "8 is past the maximum"
        );
        let pairs = build("p", with(1, 6, 2), None, NOW).unwrap();
        assert_eq!(pairs.schedules[0].headcount_multiple, 2);
        assert_eq!(
            pairs.reservation_schedules[0].headcount_multiple, 2,
            "the unit carries it to booking"
        );
        let any = build("p", with(1, 6, 1), None, NOW).unwrap();
        assert_eq!(any.schedules[0].headcount_multiple, 0, "1 is any headcount");
    }

    #[test]
    fn an_always_open_product_has_exactly_one_usage_period_and_manages_quantity_per_price() {
        let always = ProductSpec {
            reservation_type: ReservationType::AlwaysOpen,
            schedules: vec![ScheduleSpec {
                ends_us: Some(NOW + 30 * DAY),
                ..slot(NOW - DAY)
            }],
            ..spec()
        };
        assert!(build("p", always.clone(), None, NOW).is_ok());
        assert_eq!(
            refused(ProductSpec {
                schedules: vec![slot(NOW + DAY), slot(NOW + 2 * DAY)],
                ..always.clone()
            }),
            "ALWAYS_OPEN_HAS_ONE_SCHEDULE"
        );
        assert_eq!(
            refused(ProductSpec {
                inventory_mode: InventoryMode::PerDate,
                ..always
            }),
            "NOT_FOR_ALWAYS_OPEN"
        );
    }

    #[test]
    fn payment_is_chosen_per_price_and_a_paid_price_is_above_zero() {
        assert_eq!(
            refused(ProductSpec {
                prices: vec![price("예약금", 0, PaymentMode::Deposit)],
                ..spec()
            }),
            "PAID_PRODUCT_NEEDS_PRICE"
        );
        let mixed = build(
            "p",
            ProductSpec {
                prices: vec![
                    price("예약금", 10_000, PaymentMode::Deposit),
                    price("현장결제", 50_000, PaymentMode::ReservationOnly),
                ],
                cancellation_policy: Some(Policy::NotCancellable),
                ..spec()
            },
            None,
            NOW,
        )
        .unwrap();
        assert!(is_paid(&mixed));
    }

    #[test]
    fn the_booking_window_and_the_sale_period_overlap_by_a_day_for_every_reservation_schedule() {
        let short_sale = ProductSpec {
            prices: vec![PriceSpec {
                sale_starts_us: Some(NOW),
                sale_ends_us: Some(NOW + 12 * HOUR_US),
                ..price("성인", 0, PaymentMode::ReservationOnly)
            }],
            ..spec()
        };
        assert_eq!(refused(short_sale), "WINDOW_AND_SALE_PERIOD_DO_NOT_OVERLAP");
    }

    #[test]
    fn free_products_only_refund_fully_until_the_deadline() {
        assert_eq!(
            refused(ProductSpec {
                cancellation_policy: Some(Policy::NotCancellable),
                ..spec()
            }),
            "POLICY_NOT_ALLOWED_FOR_PRODUCT"
        );
    }

    #[test]
    fn custom_questions_are_free_text_and_never_ask_for_personal_information() {
        assert_eq!(
            refused(ProductSpec {
                custom_questions: vec!["주민등록번호를 적어주세요".into()],
                ..spec()
            }),
            "PERSONAL_INFORMATION_QUESTION"
        );
        assert!(
            build(
                "p",
                ProductSpec {
                    custom_questions: vec!["알레르기가 있나요?".into()],
                    ..spec()
                },
                None,
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn booking_closes_per_slot_as_the_window_says() {
        let def = build(
            "p",
            ProductSpec {
                booking_window: Some(BookingWindow {
                    start_us: NOW,
                    end: BookingEnd::BeforeSlot {
                        hours: 1,
                        minutes: 30,
                    },
                }),
                ..spec()
            },
            None,
            NOW,
        )
        .unwrap();
        let u = &def.reservation_schedules[0];
        assert_eq!(us(&u.booking_closes_at), us(&u.starts_at) - 90 * 60_000_000);
        assert_eq!(us(&u.booking_opens_at), NOW);
    }

    #[test]
    fn a_copy_drops_schedules_entirely_in_the_past_and_takes_new_ids() {
        let def = build("p", spec(), None, NOW).unwrap();
        let later = NOW + DAY + 2 * HOUR_US; // the first slot (NOW + DAY, one hour) is over
        let copied = copy(&def, "q", "오마카세 (복사)".into(), later);
        assert_eq!(copied.schedules.len(), 1);
        assert_eq!(copied.reservation_schedules.len(), 1);
        assert_eq!(copied.inventory_pools.len(), 1);
        assert!(
            def.reservation_schedules
                .iter()
                .all(|u| u.reservation_schedule_id
                    != copied.reservation_schedules[0].reservation_schedule_id)
        );
        assert_eq!(copied.name, "오마카세 (복사)");
    }

    #[test]
    fn date_time_slots_are_generated_in_bulk_in_kst() {
        use jiff::civil::{date, time};
        let g = SlotGenerator {
            from: date(2026, 12, 1),
            until: date(2026, 12, 3),
            first_start: time(10, 0, 0, 0),
            last_start: time(12, 0, 0, 0),
            every_minutes: 60,
            duration_minutes: 50,
            min_headcount: 1,
            max_headcount: 4,
            headcount_multiple: 0,
        };
        let slots = generate_slots(&g).unwrap();
        assert_eq!(slots.len(), 9, "3 days × 10:00, 11:00, 12:00");
        let first = kst()
            .to_timestamp(date(2026, 12, 1).at(10, 0, 0, 0))
            .unwrap()
            .as_microsecond();
        assert_eq!(slots[0].starts_us, first);
        assert_eq!(slots[0].ends_us, Some(first + 50 * 60_000_000));
        let too_many = SlotGenerator {
            every_minutes: 5,
            first_start: time(0, 0, 0, 0),
            last_start: time(23, 55, 0, 0),
            until: date(2027, 1, 31),
            ..g
        };
        assert_eq!(
            generate_slots(&too_many).unwrap_err().reason(),
            "OUT_OF_RANGE"
        );
    }

    #[test]
    fn policies_survive_the_proto_round_trip() {
        for p in [
            Policy::NotCancellable,
            Policy::FullRefundUntil(Deadline::DaysBeforeAt {
                days: 1,
                hour: 17,
                minute: 0,
            }),
            Policy::Tiered {
                tiers: vec![FeeTier {
                    within_minutes_before_use: 1440,
                    fee_bps: 5000,
                }],
                full_refund_minutes_after_booking: Some(60),
                deadline: Deadline::Fixed("2026-11-21T00:00".parse().unwrap()),
            },
        ] {
            assert_eq!(policy_from_pb(&policy_to_pb(&p)).unwrap(), p);
        }
    }

    proptest::proptest! {
        #[test]
        fn building_a_definition_never_panics(
            starts in proptest::collection::vec(-1_000_000_000_000_000i64..5_000_000_000_000_000, 0..5),
            ends in proptest::option::of(-1_000_000_000_000_000i64..5_000_000_000_000_000),
            heads in (0u32..80, 0u32..80),
            capacity in 0u32..20_000,
            amount in -10i64..200_000_000,
            mode in 0i32..6,
            inventory in 0i32..6,
            kind in 0i32..5,
            max_quantity in 0u32..3,
            question in "\\PC{0,40}",
        ) {
            let spec = ProductSpec {
                reservation_type: ReservationType::try_from(kind % 4).unwrap_or_default(),
                inventory_mode: InventoryMode::try_from(inventory % 5).unwrap_or_default(),
                prices: vec![PriceSpec {
                    max_quantity,
                    ..price("p", amount, PaymentMode::try_from(mode % 4).unwrap_or_default())
                }],
                schedules: starts
                    .iter()
                    .map(|s| ScheduleSpec { starts_us: *s, ends_us: ends, min_headcount: heads.0, max_headcount: heads.1, headcount_multiple: 0 })
                    .collect(),
                capacity,
                custom_questions: vec![question],
                ..spec()
            };
            if let Ok(def) = build("p", spec, None, NOW) {
                proptest::prop_assert_eq!(def.reservation_schedules.len(), def.schedules.len() * def.prices.len());
                proptest::prop_assert!(def.inventory_pools.iter().all(|p| p.capacity >= 1 && p.capacity <= MAX_CAPACITY));
            }
        }

        #[test]
        fn decoding_windows_policies_and_generators_never_panics(
            hour in -300i32..300,
            minute in -300i32..300,
            days in 0u32..100_000,
            fixed in "\\PC{0,25}",
            every in 0u32..3000,
            span in 0i16..400,
        ) {
            let d = ev::DaysBeforeAt { days, hour, minute };
            let _ = window_from_pb(&BookingWindowPb {
                opens_at: Some(from_micros(NOW)),
                end: Some(ev::booking_window::End::DaysBeforeAt(d)),
            });
            for kind in [
                ev::cancellation_deadline::Kind::DaysBeforeAt(d),
                ev::cancellation_deadline::Kind::FixedKst(fixed.clone()),
            ] {
                let _ = policy_from_pb(&CancellationPolicy {
                    kind: CancellationKind::FullRefundUntilDeadline as i32,
                    deadline: Some(ev::CancellationDeadline { kind: Some(kind) }),
                    ..Default::default()
                });
            }
            let from = jiff::civil::date(2026, 1, 1);
            let _ = generate_slots(&SlotGenerator {
                from,
                until: from.checked_add(jiff::Span::new().days(i64::from(span))).unwrap(),
                first_start: jiff::civil::time(0, 0, 0, 0),
                last_start: jiff::civil::time(23, 59, 0, 0),
                every_minutes: every,
                duration_minutes: every,
                min_headcount: 1,
                max_headcount: 1,
                headcount_multiple: 0,
            });
        }
    }
}
