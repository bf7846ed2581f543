//! The quantities seats are held in: a reservation schedule's own (its unit), or one several
//! units share — a product's inventory pool in the pooled modes (per date-time, per date, per
//! period), and a price's maximum across schedules. A booking holds seats in every quantity its
//! lines count against, each decided on its own fold; releases give them back there.
use std::collections::HashMap;

use yeyak_kit::command::Aggregate;
use yeyak_proto::reservations::events::v1::{InventoryOpened, ReservationLine};

use super::{ReservationError, events::InventoryEvent};

/// A quantity seats are held in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pool {
    /// A reservation schedule's own quantity.
    Unit(String),
    /// A product's inventory pool shared by several units (pooled inventory modes).
    Shared { product_id: String, key: String },
    /// A price's maximum quantity across all schedules (최대 예약 수량).
    PriceCap {
        product_id: String,
        price_id: String,
    },
}

/// The quantities a booking of `unit` counts against: the unit's own, or the pool and the price
/// cap it shares with other units.
pub fn pools_of(unit: &InventoryOpened) -> Vec<Pool> {
    pools(
        &unit.product_id,
        &unit.reservation_schedule_id,
        &unit.shared_inventory_key,
        &unit.capped_price_id,
    )
}

/// The quantities a reservation line holds its seats in.
pub fn pools_of_line(product_id: &str, line: &ReservationLine) -> Vec<Pool> {
    pools(
        product_id,
        &line.reservation_schedule_id,
        &line.shared_inventory_key,
        &line.capped_price_id,
    )
}

fn pools(product_id: &str, unit: &str, shared_key: &str, capped_price: &str) -> Vec<Pool> {
    let mut pools = Vec::new();
    if !shared_key.is_empty() {
        pools.push(Pool::Shared {
            product_id: product_id.to_string(),
            key: shared_key.to_string(),
        });
    }
    if !capped_price.is_empty() {
        pools.push(Pool::PriceCap {
            product_id: product_id.to_string(),
            price_id: capped_price.to_string(),
        });
    }
    if pools.is_empty() {
        pools.push(Pool::Unit(unit.to_string()));
    }
    pools
}

/// A quantity as its stream folds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// A unit's terms, as the catalog set them.
    pub opened: Option<InventoryOpened>,
    /// Seats held per reservation.
    holds: HashMap<String, u32>,
    /// A shared pool's (or price cap's) quantity.
    pub pool_capacity: Option<u32>,
}

impl Inventory {
    pub fn apply(&mut self, event: InventoryEvent) {
        match event {
            InventoryEvent::Opened(e) => self.opened = Some(e),
            InventoryEvent::Reserved(e) => {
                self.holds.insert(e.reservation_id, e.quantity);
            }
            // A partial cancel gives back part of a reservation's seats.
            InventoryEvent::Released(e) => {
                if let Some(held) = self.holds.get_mut(&e.reservation_id) {
                    *held = held.saturating_sub(e.quantity);
                    if *held == 0 {
                        self.holds.remove(&e.reservation_id);
                    }
                }
            }
            InventoryEvent::CapacityChanged(e) => {
                if let Some(opened) = &mut self.opened {
                    opened.capacity = e.capacity;
                }
            }
            InventoryEvent::PoolCapacity(e) => self.pool_capacity = Some(e.capacity),
        }
    }

    /// Seats held by live reservations.
    pub fn held(&self) -> u32 {
        self.holds.values().sum()
    }

    /// The quantity: a pool's, or the unit's own.
    pub fn capacity(&self) -> u32 {
        self.pool_capacity
            .or(self.opened.as_ref().map(|o| o.capacity))
            .unwrap_or(0)
    }

    /// Seats still bookable.
    pub fn remaining(&self) -> u32 {
        self.capacity().saturating_sub(self.held())
    }

    /// Whether this reservation holds seats here.
    pub fn holds(&self, reservation_id: &str) -> Option<u32> {
        self.holds.get(reservation_id).copied()
    }
}

/// The inventory decides nothing on its own: bookings and releases are decided on the
/// reservation (with every quantity they touch), and the catalog's facts in [`super::catalog_terms`].
impl Aggregate for Inventory {
    type Event = InventoryEvent;
    type Command = std::convert::Infallible;
    type Context = ();
    type Decision = Vec<InventoryEvent>;
    type Error = ReservationError;

    fn evolve(&mut self, event: InventoryEvent) {
        self.apply(event);
    }

    fn decide(
        &self,
        command: std::convert::Infallible,
        _: &(),
    ) -> Result<Vec<InventoryEvent>, ReservationError> {
        match command {}
    }
}
