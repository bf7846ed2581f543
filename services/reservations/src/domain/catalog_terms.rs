//! What the catalog's facts mean for booking: a product's approval (and schedules added to a
//! live product) opens each reservation schedule with its terms — or re-opens one whose terms a
//! newer revision changed, its holds kept — and sets the quantities units share; a capacity
//! change applies to the unit or its pool; visibility switches units on and off; the product's
//! status, sanction and deletion and the place's pause are what booking checks.
use std::collections::{BTreeMap, HashMap};

use yeyak_proto::{
    catalog::events::v1::{
        CancellationPolicy, CapacityChanged, ConfirmationMode, InventoryMode, InventoryPool,
        PaymentMode as CatalogPaymentMode, ProductApproved, ReservationSchedule, SchedulesAdded,
        VisibilitySet,
    },
    reservations::events::v1::{
        InventoryCapacityChanged, InventoryOpened, PaymentMode, PoolCapacitySet,
        ProductAvailabilityChanged, ProductTerms,
    },
};

use super::{
    events::InventoryEvent,
    inventory::{Inventory, Pool},
};

/// A catalog fact that cannot be applied (it will never become applicable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    #[error("unit {0} has no payment mode")]
    NoPaymentMode(String),
}

/// What the catalog said about a product's units.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogUnits {
    pub request_expiry_minutes: u32,
    pub question_count: u32,
    pub class_product: bool,
    pub product_id: String,
    pub partner_id: String,
    pub place_id: String,
    pub confirmation_mode: i32,
    pub inventory_mode: i32,
    /// The approval's revision; 0 for schedules added to the live product.
    pub revision: u32,
    pub policy: Option<CancellationPolicy>,
    pub units: Vec<ReservationSchedule>,
    /// The pooled modes' shared quantities (empty per reservation schedule).
    pub pools: Vec<InventoryPool>,
    /// Price maximums across schedules, by price id (`None`: not told, keep the last known).
    pub price_caps: Option<HashMap<String, u32>>,
}

impl CatalogUnits {
    pub fn approved(e: ProductApproved) -> Self {
        let def = e.definition.unwrap_or_default();
        Self {
            request_expiry_minutes: def.request_expiry_minutes,
            question_count: def.custom_questions.len() as u32,
            class_product: def.class_product,
            product_id: e.product_id,
            partner_id: e.partner_id,
            place_id: e.place_id,
            confirmation_mode: def.confirmation_mode,
            inventory_mode: def.inventory_mode,
            revision: e.revision,
            policy: def.cancellation_policy,
            units: def.reservation_schedules,
            pools: def.inventory_pools,
            price_caps: Some(
                def.prices
                    .iter()
                    .filter(|p| p.max_quantity > 0)
                    .map(|p| (p.price_id.clone(), p.max_quantity))
                    .collect(),
            ),
        }
    }

    /// Schedules added to a live product (a draft's do not concern booking).
    pub fn added(e: SchedulesAdded) -> Option<Self> {
        e.live.then_some(Self {
            request_expiry_minutes: 0,
            question_count: 0,
            class_product: false,
            product_id: e.product_id,
            partner_id: e.partner_id,
            place_id: e.place_id,
            confirmation_mode: e.confirmation_mode,
            inventory_mode: e.inventory_mode,
            revision: 0,
            policy: None,
            units: e.reservation_schedules,
            pools: e.inventory_pools,
            price_caps: None,
        })
    }

    fn pooled(&self) -> bool {
        self.inventory_mode != InventoryMode::PerReservationSchedule as i32
    }

    /// The price maximums in force: this approval's, or the last approval's.
    fn caps(&self, terms: Option<&ProductTerms>) -> HashMap<String, u32> {
        self.price_caps
            .clone()
            .or_else(|| terms.map(|t| t.price_caps.clone().into_iter().collect()))
            .unwrap_or_default()
    }

    /// The units this fact touches: its own, then those of the last approval that this one
    /// dropped (they are switched off).
    pub fn units_touched(&self, terms: Option<&ProductTerms>) -> Vec<String> {
        let mut ids: Vec<String> = self
            .units
            .iter()
            .map(|u| u.reservation_schedule_id.clone())
            .collect();
        if let (Some(t), true) = (terms, self.revision > 0) {
            let dropped: Vec<String> = t
                .unit_ids
                .iter()
                .filter(|id| !ids.contains(id))
                .cloned()
                .collect();
            ids.extend(dropped);
        }
        ids
    }

    /// The shared quantities this fact sets: each pool (opened once; later changes come as
    /// capacity changes) and each price maximum (which follows the latest approval).
    pub fn pools_touched(&self, terms: Option<&ProductTerms>) -> Vec<(Pool, u32, bool)> {
        if !self.pooled() {
            return vec![];
        }
        let product_id = &self.product_id;
        let mut shared: Vec<(Pool, u32, bool)> = self
            .pools
            .iter()
            .map(|p| {
                let pool = Pool::Shared {
                    product_id: product_id.clone(),
                    key: p.inventory_key.clone(),
                };
                (pool, p.capacity, false)
            })
            .collect();
        let mut caps: Vec<(String, u32)> = self.caps(terms).into_iter().collect();
        caps.sort();
        shared.extend(caps.into_iter().map(|(price_id, cap)| {
            let pool = Pool::PriceCap {
                product_id: product_id.clone(),
                price_id,
            };
            (pool, cap, true)
        }));
        shared
    }
}

/// What an opening appends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Opening {
    /// The product's terms, when they change.
    pub terms: Option<ProductTerms>,
    /// Shared quantities to set.
    pub pools: Vec<(Pool, PoolCapacitySet)>,
    /// Units to open (or re-open with new terms), by reservation schedule id.
    pub units: Vec<(String, InventoryOpened)>,
}

fn payment_mode(mode: i32) -> Option<PaymentMode> {
    match CatalogPaymentMode::try_from(mode).ok()? {
        CatalogPaymentMode::PayAtBooking => Some(PaymentMode::PayAtBooking),
        CatalogPaymentMode::ReservationOnly => Some(PaymentMode::ReservationOnly),
        CatalogPaymentMode::Deposit => Some(PaymentMode::Deposit),
        CatalogPaymentMode::Unspecified => None,
    }
}

/// Opens the units of an approval (or of schedules added to the live product) on what is
/// stored: `terms` (the last approval's), `units` and `pools` (by what
/// [`CatalogUnits::units_touched`] and [`CatalogUnits::pools_touched`] name). Schedules added
/// later share the product's live policy, expiry and revision; a unit's capacity moves only by
/// the catalog's capacity changes once open; a unit a revision drops is switched off, its holds
/// kept.
pub fn open(
    fact: &CatalogUnits,
    terms: Option<&ProductTerms>,
    units: &BTreeMap<String, Inventory>,
    pools: &BTreeMap<Pool, Inventory>,
) -> Result<Opening, TermsError> {
    let ids: Vec<String> = fact
        .units
        .iter()
        .map(|u| u.reservation_schedule_id.clone())
        .collect();
    let next = if fact.revision > 0 {
        Some(ProductTerms {
            product_id: fact.product_id.clone(),
            revision: fact.revision,
            cancellation_policy: fact.policy.clone(),
            request_expiry_minutes: fact.request_expiry_minutes,
            class_product: fact.class_product,
            price_caps: fact.price_caps.clone().unwrap_or_default(),
            unit_ids: ids.clone(),
            question_count: fact.question_count,
        })
    } else {
        // Schedules added to the live product join its units.
        terms.cloned().map(|mut t| {
            for id in &ids {
                if !t.unit_ids.contains(id) {
                    t.unit_ids.push(id.clone());
                }
            }
            t
        })
    };
    let mut opening = Opening {
        terms: next.filter(|n| terms != Some(n)),
        ..Default::default()
    };
    for (pool, capacity, follows) in fact.pools_touched(terms) {
        let current = pools.get(&pool).and_then(|p| p.pool_capacity);
        if current.is_none() || (follows && current != Some(capacity)) {
            opening.pools.push((pool, PoolCapacitySet { capacity }));
        }
    }
    let caps = fact.caps(terms);
    let pooled = fact.pooled();
    let later = fact.revision == 0;
    for id in fact.units_touched(terms) {
        let current = units.get(&id).and_then(|i| i.opened.as_ref());
        let Some(u) = fact.units.iter().find(|u| u.reservation_schedule_id == id) else {
            // Dropped by this revision: no longer shown nor bookable; its holds stay.
            if let Some(o) = current.filter(|o| o.visible) {
                let hidden = InventoryOpened {
                    visible: false,
                    ..o.clone()
                };
                opening.units.push((id, hidden));
            }
            continue;
        };
        let payment_mode = payment_mode(u.payment_mode)
            .ok_or_else(|| TermsError::NoPaymentMode(u.reservation_schedule_id.clone()))?;
        let opened = InventoryOpened {
            reservation_schedule_id: u.reservation_schedule_id.clone(),
            product_id: fact.product_id.clone(),
            partner_id: fact.partner_id.clone(),
            place_id: fact.place_id.clone(),
            starts_at: u.starts_at,
            capacity: current.map_or(u.capacity, |o| o.capacity),
            price_krw: u.price_krw,
            requires_approval: fact.confirmation_mode == ConfirmationMode::Approval as i32,
            payment_mode: payment_mode as i32,
            ends_at: u.ends_at,
            booking_opens_at: u.booking_opens_at,
            booking_closes_at: u.booking_closes_at,
            min_headcount: u.min_headcount,
            max_headcount: u.max_headcount,
            headcount_multiple: u.headcount_multiple,
            revision: fact.revision.max(terms.map_or(0, |t| t.revision)),
            cancellation_policy: fact
                .policy
                .clone()
                .or_else(|| terms.and_then(|t| t.cancellation_policy.clone())),
            visible: u.visible,
            request_expiry_minutes: if later {
                terms.map_or(0, |t| t.request_expiry_minutes)
            } else {
                fact.request_expiry_minutes
            },
            question_count: if later {
                terms.map_or(0, |t| t.question_count)
            } else {
                fact.question_count
            },
            class_product: if later {
                terms.is_some_and(|t| t.class_product)
            } else {
                fact.class_product
            },
            shared_inventory_key: if pooled {
                u.inventory_key.clone()
            } else {
                String::new()
            },
            capped_price_id: if pooled && caps.contains_key(&u.price_id) {
                u.price_id.clone()
            } else {
                String::new()
            },
        };
        if current != Some(&opened) {
            opening.units.push((id, opened));
        }
    }
    Ok(opening)
}

/// Units switched ON or OFF: each opened unit with its new visibility.
pub fn visibility(
    e: &VisibilitySet,
    units: &BTreeMap<String, Inventory>,
) -> Vec<(String, InventoryOpened)> {
    e.units
        .iter()
        .filter_map(|v| {
            let current = units.get(&v.reservation_schedule_id)?.opened.as_ref()?;
            (current.visible != v.visible).then(|| {
                let reopened = InventoryOpened {
                    visible: v.visible,
                    ..current.clone()
                };
                (v.reservation_schedule_id.clone(), reopened)
            })
        })
        .collect()
}

/// A capacity change: per reservation schedule the key is the unit's own; in the pooled modes
/// the quantity lives on the shared pool. Nothing when neither is open yet.
pub fn capacity(
    e: &CapacityChanged,
    unit: &Inventory,
    pool: &Inventory,
) -> Option<(Pool, InventoryEvent)> {
    if unit.opened.is_some() {
        let changed = InventoryCapacityChanged {
            capacity: e.capacity,
        };
        return Some((
            Pool::Unit(e.inventory_key.clone()),
            InventoryEvent::CapacityChanged(changed),
        ));
    }
    pool.pool_capacity?;
    let set = PoolCapacitySet {
        capacity: e.capacity,
    };
    Some((
        Pool::Shared {
            product_id: e.product_id.clone(),
            key: e.inventory_key.clone(),
        },
        InventoryEvent::PoolCapacity(set),
    ))
}

/// What the catalog said about a product's sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductFact {
    /// The partner set the product's status (예약가능 / 예약마감 / 예약종료).
    Status(i32),
    /// Operations sanctioned it (운영제재).
    Sanctioned,
    Deleted,
}

/// The product's availability picture after `fact`: each picture is the whole current one.
pub fn availability_after(
    latest: Option<ProductAvailabilityChanged>,
    product_id: &str,
    fact: ProductFact,
) -> ProductAvailabilityChanged {
    let mut next = latest.unwrap_or_else(|| ProductAvailabilityChanged {
        product_id: product_id.to_string(),
        ..Default::default()
    });
    match fact {
        ProductFact::Status(status) => next.status = status,
        ProductFact::Sanctioned => next.sanctioned = true,
        ProductFact::Deleted => next.deleted = true,
    }
    next
}
