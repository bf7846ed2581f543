//! An inventory stream folded: a reservation schedule's terms and quantity, or a pool (or price
//! cap) several units share; and the seats held in it.
use std::collections::HashMap;

use yeyak_proto::reservations::events::v1::InventoryOpened;

use super::events::InventoryEvent;

/// The stream of a reservation schedule's own inventory.
pub fn unit_stream(reservation_schedule_id: &str) -> String {
    format!("inventory-{reservation_schedule_id}")
}

/// The folded `inventory-<id>` stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub opened: Option<InventoryOpened>,
    /// Seats held per reservation.
    holds: HashMap<String, u32>,
    /// A shared pool's (or price cap's) quantity.
    pub pool_capacity: Option<u32>,
}

impl Inventory {
    pub fn apply(&mut self, event: InventoryEvent) {
        match event {
            InventoryEvent::Opened(e) => self.opened = Some(*e),
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
