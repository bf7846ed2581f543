//! The inventory of one reservation schedule: its capacity and the seats held.
use std::collections::HashMap;

use yeyak_proto::reservations::events::v1::InventoryOpened;

use super::events::InventoryEvent;

/// The folded `inventory-<id>` stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub opened: Option<InventoryOpened>,
    /// Seats held per reservation.
    holds: HashMap<String, u32>,
}

impl Inventory {
    pub fn apply(&mut self, event: InventoryEvent) {
        match event {
            InventoryEvent::Opened(e) => self.opened = Some(*e),
            InventoryEvent::Reserved(e) => {
                self.holds.insert(e.reservation_id, e.quantity);
            }
            InventoryEvent::Released(e) => {
                self.holds.remove(&e.reservation_id);
            }
            InventoryEvent::CapacityChanged(e) => {
                if let Some(opened) = &mut self.opened {
                    opened.capacity = e.capacity;
                }
            }
        }
    }

    /// Seats held by live reservations.
    pub fn held(&self) -> u32 {
        self.holds.values().sum()
    }

    /// Seats still bookable.
    pub fn remaining(&self) -> u32 {
        self.opened
            .as_ref()
            .map_or(0, |o| o.capacity.saturating_sub(self.held()))
    }

    /// Whether this reservation holds seats here.
    pub fn holds(&self, reservation_id: &str) -> Option<u32> {
        self.holds.get(reservation_id).copied()
    }
}
