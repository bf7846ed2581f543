//! A product's definition: prices, schedules, the reservation schedules they make (schedule ×
//! price, the bookable unit), inventory pools, booking window, cancellation policy and custom
//! questions, built from an operator's input and checked against every rule of domain.md §2.2.
//! Schedules are built in [`super::schedule`], reservation schedules and their pools in
//! [`super::reservation_schedule`].
use std::collections::{BTreeMap, BTreeSet};

use yeyak_proto::{
    catalog::events::v1::{
        ConfirmationMode, InventoryMode, InventoryPool, PaymentMode, Price, ProductDefinition,
        ReservationSchedule, ReservationType,
    },
    time::from_micros,
};

use super::{
    CatalogError,
    booking_window::{self, BookingEnd, BookingWindow},
    cancellation_policy::{self, Deadline, Policy, ProductKind},
    reservation_schedule::{
        inventory_key, price_id, reservation_schedule_id, reservation_schedules, schedule_id, us,
    },
    schedule::{ScheduleSpec, build_schedules},
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
/// Longest a `Requested` reservation may wait for the partner: 7 days.
pub const MAX_REQUEST_EXPIRY_MINUTES: u32 = 7 * 24 * 60;
const DAY_US: i64 = 24 * 3_600_000_000;

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

/// Builds and checks a definition. Pools and visibility already set on `previous` are kept.
pub fn build(
    product_id: &str,
    spec: ProductSpec,
    previous: Option<&ProductDefinition>,
    now_us: i64,
) -> Result<ProductDefinition, CatalogError> {
    check_kinds(&spec)?;
    check_shape(&spec)?;
    check_questions(&spec.custom_questions)?;
    let prices = build_prices(product_id, &spec, previous)?;
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
        .clone()
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
        booking_window: Some(booking_window::to_pb(&window)),
        cancellation_policy: Some(cancellation_policy::to_pb(&policy)),
        custom_questions: spec.custom_questions,
        request_expiry_minutes: spec.request_expiry_minutes,
        class_product: spec.class_product,
    };
    cancellation_policy::validate(
        &policy,
        ProductKind {
            paid: is_paid(&def),
            always_open: spec.reservation_type == ReservationType::AlwaysOpen,
        },
    )?;
    let (mut units, mut pools) = reservation_schedules(&def, &schedules, spec.capacity)?;
    if let Some(prev) = previous {
        keep_previous(prev, &mut units, &mut pools);
    }
    def.schedules = schedules;
    def.reservation_schedules = units;
    def.inventory_pools = pools;
    Ok(def)
}

/// The reservation type, confirmation mode and inventory mode are chosen, and fit together.
fn check_kinds(spec: &ProductSpec) -> Result<(), CatalogError> {
    if spec.reservation_type == ReservationType::Unspecified {
        return Err(CatalogError::invalid(
            "reservation_type",
            "REQUIRED",
            "choose ALWAYS_OPEN, DATE or DATE_TIME",
        ));
    }
    if spec.confirmation_mode == ConfirmationMode::Unspecified {
        return Err(CatalogError::invalid(
            "confirmation_mode",
            "REQUIRED",
            "choose INSTANT or APPROVAL",
        ));
    }
    if spec.inventory_mode == InventoryMode::Unspecified {
        return Err(CatalogError::invalid(
            "inventory_mode",
            "REQUIRED",
            "choose PER_RESERVATION_SCHEDULE, PER_DATE_TIME, PER_DATE or PER_PERIOD",
        ));
    }
    let always_open = spec.reservation_type == ReservationType::AlwaysOpen;
    if always_open && spec.inventory_mode != InventoryMode::PerReservationSchedule {
        return Err(CatalogError::invalid(
            "inventory_mode",
            "NOT_FOR_ALWAYS_OPEN",
            "an always-open product manages quantity per price (PER_RESERVATION_SCHEDULE)",
        ));
    }
    if always_open && spec.schedules.len() != 1 {
        return Err(CatalogError::invalid(
            "schedules",
            "ALWAYS_OPEN_HAS_ONE_SCHEDULE",
            "an always-open product has exactly one schedule: its usage period",
        ));
    }
    Ok(())
}

/// How many schedules, prices and seats, and how long a request waits.
fn check_shape(spec: &ProductSpec) -> Result<(), CatalogError> {
    if spec.schedules.is_empty() {
        return Err(CatalogError::invalid(
            "schedules",
            "REQUIRED",
            "give at least one schedule",
        ));
    }
    if spec.capacity == 0 || spec.capacity > MAX_CAPACITY {
        return Err(CatalogError::invalid(
            "capacity",
            "OUT_OF_RANGE",
            format!("capacity is 1 to {MAX_CAPACITY}"),
        ));
    }
    if spec.prices.is_empty() || spec.prices.len() > MAX_PRICES {
        return Err(CatalogError::invalid(
            "prices",
            "OUT_OF_RANGE",
            format!("give 1 to {MAX_PRICES} prices"),
        ));
    }
    if spec.request_expiry_minutes > MAX_REQUEST_EXPIRY_MINUTES {
        return Err(CatalogError::invalid(
            "request_expiry_minutes",
            "OUT_OF_RANGE",
            "a request waits at most 7 days",
        ));
    }
    Ok(())
}

/// Custom questions (부가정보): free text, 1 to 200 characters, never asking for personal
/// information.
fn check_questions(questions: &[String]) -> Result<(), CatalogError> {
    if questions.len() > MAX_QUESTIONS {
        return Err(CatalogError::invalid(
            "custom_questions",
            "OUT_OF_RANGE",
            format!("at most {MAX_QUESTIONS} questions"),
        ));
    }
    for q in questions {
        let lower = q.to_lowercase();
        if q.trim().is_empty() || q.chars().count() > 200 {
            return Err(CatalogError::invalid(
                "custom_questions",
                "OUT_OF_RANGE",
                "a question has 1 to 200 characters",
            ));
        }
        if PERSONAL_INFO.iter().any(|w| lower.contains(w)) {
            return Err(CatalogError::invalid(
                "custom_questions",
                "PERSONAL_INFORMATION_QUESTION",
                "questions may not ask for personal information",
            ));
        }
    }
    Ok(())
}

/// The prices, each checked; a price keeps the visibility `previous` gave it.
fn build_prices(
    product_id: &str,
    spec: &ProductSpec,
    previous: Option<&ProductDefinition>,
) -> Result<Vec<Price>, CatalogError> {
    let mut names = BTreeSet::new();
    let mut prices = Vec::new();
    for p in &spec.prices {
        if p.name.trim().is_empty() || !names.insert(p.name.clone()) {
            return Err(CatalogError::invalid(
                "prices.name",
                "DUPLICATE_PRICE",
                "each price has its own non-empty name",
            ));
        }
        if !(0..=MAX_PRICE_KRW).contains(&p.amount_krw) {
            return Err(CatalogError::invalid(
                "prices.amount_krw",
                "OUT_OF_RANGE",
                format!("a price is 0 to {MAX_PRICE_KRW} won"),
            ));
        }
        match p.payment_mode {
            PaymentMode::Unspecified => {
                return Err(CatalogError::invalid(
                    "prices.payment_mode",
                    "REQUIRED",
                    "choose RESERVATION_ONLY, PAY_AT_BOOKING or DEPOSIT",
                ));
            }
            PaymentMode::PayAtBooking | PaymentMode::Deposit if p.amount_krw == 0 => {
                return Err(CatalogError::invalid(
                    "prices.amount_krw",
                    "PAID_PRODUCT_NEEDS_PRICE",
                    "a pay-at-booking or deposit price is above 0 won",
                ));
            }
            _ => {}
        }
        if p.max_quantity > 0 && spec.inventory_mode == InventoryMode::PerReservationSchedule {
            return Err(CatalogError::invalid(
                "prices.max_quantity",
                "MAX_QUANTITY_NOT_IN_THIS_MODE",
                "a price's maximum quantity applies only in the per-date-time, per-date and per-period modes",
            ));
        }
        if let (Some(a), Some(b)) = (p.sale_starts_us, p.sale_ends_us)
            && b <= a
        {
            return Err(CatalogError::invalid(
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
    Ok(prices)
}

/// A saved definition keeps its pools' quantities and its units switched off.
fn keep_previous(
    previous: &ProductDefinition,
    units: &mut [ReservationSchedule],
    pools: &mut [InventoryPool],
) {
    for pool in pools.iter_mut() {
        if let Some(old) = previous
            .inventory_pools
            .iter()
            .find(|p| p.inventory_key == pool.inventory_key)
        {
            pool.capacity = old.capacity;
        }
    }
    for u in units.iter_mut() {
        if let Some(old) = previous
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

#[cfg(test)]
pub(crate) mod tests {
    use yeyak_proto::catalog::events::v1::{
        self as ev, BookingWindow as BookingWindowPb, CancellationKind, CancellationPolicy,
    };

    use super::*;
    use crate::domain::{
        booking_window::from_pb as window_from_pb,
        cancellation_policy::{FeeTier, from_pb as policy_from_pb, kst, to_pb as policy_to_pb},
        schedule::{SlotGenerator, generate_slots},
    };

    const HOUR_US: i64 = 3_600_000_000;
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
    fn a_schedule_starts_after_now_and_at_most_183_days_ahead_to_the_microsecond() {
        let starting = |starts_us| ProductSpec {
            schedules: vec![slot(starts_us)],
            ..spec()
        };
        assert_eq!(refused(starting(NOW)), "IN_THE_PAST");
        assert!(build("p", starting(NOW + 1), None, NOW).is_ok());
        assert!(build("p", starting(NOW + MAX_AHEAD_US), None, NOW).is_ok());
        assert_eq!(refused(starting(NOW + MAX_AHEAD_US + 1)), "TOO_FAR_AHEAD");
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
