//! A product's reservations as the catalog learned them from the reservations' events
//! (`product-bookings-<id>`): what deleting and editing a product depend on, and what is left
//! to book.
use std::collections::BTreeMap;

use yeyak_kit::command::Aggregate;
use yeyak_proto::{
    catalog::events::v1::{
        ProductDefinition, ProductDeleted, ReservationTracked, TrackedLine, TrackedState,
    },
    reservations::events::v1::{
        ReservationBooked, ReservationCancelled, ReservationCompleted, ReservationExpired,
        ReservationLinesCancelled, ReservationRejected,
    },
};

use super::CatalogError;

yeyak_kit::event_set! {
    /// The product's reservations as the catalog learned them.
    pub enum BookingsEvent {
        Tracked(ReservationTracked),
        /// Written with the product's deletion, so a deletion and a new reservation race on
        /// this stream's version.
        Deleted(ProductDeleted),
    }
}

/// The reservations of a product, as learned from the reservations' events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bookings {
    pub reservations: BTreeMap<String, ReservationTracked>,
}

impl Bookings {
    pub fn apply(&mut self, event: BookingsEvent) {
        let BookingsEvent::Tracked(e) = event else {
            return;
        };
        match self.reservations.get_mut(&e.reservation_id) {
            // Later facts keep the lines (schedule, quantity) the booking recorded, less those a
            // partial cancel gave back.
            Some(known) => {
                known.state = e.state;
                known
                    .lines
                    .retain(|l| !e.cancelled_lines.contains(&l.line_number));
            }
            None => {
                self.reservations.insert(e.reservation_id.clone(), e);
            }
        }
    }

    /// Reservations `Requested` or `Confirmed`.
    pub fn active(&self) -> u64 {
        self.reservations
            .values()
            .filter(|r| r.state() == TrackedState::Active)
            .count() as u64
    }

    /// Whether the product ever had a reservation.
    pub fn any(&self) -> bool {
        !self.reservations.is_empty()
    }

    /// Quantity held (active or completed) per reservation schedule.
    pub fn booked(&self) -> BTreeMap<&str, u32> {
        let mut booked = BTreeMap::new();
        for r in self.reservations.values() {
            if !matches!(r.state(), TrackedState::Active | TrackedState::Completed) {
                continue;
            }
            if r.lines.is_empty() {
                *booked
                    .entry(r.reservation_schedule_id.as_str())
                    .or_default() += r.quantity;
            }
            for line in &r.lines {
                *booked
                    .entry(line.reservation_schedule_id.as_str())
                    .or_default() += line.quantity;
            }
        }
        booked
    }
}

/// Quantity booked and remaining per inventory pool of a definition.
pub fn pool_usage(def: &ProductDefinition, bookings: &Bookings) -> BTreeMap<String, (u32, u32)> {
    let booked = bookings.booked();
    def.inventory_pools
        .iter()
        .map(|p| {
            let used: u32 = def
                .reservation_schedules
                .iter()
                .filter(|u| u.inventory_key == p.inventory_key)
                .map(|u| {
                    booked
                        .get(u.reservation_schedule_id.as_str())
                        .copied()
                        .unwrap_or(0)
                })
                .sum();
            (
                p.inventory_key.clone(),
                (used, p.capacity.saturating_sub(used)),
            )
        })
        .collect()
}

yeyak_kit::event_set! {
    /// The reservations' facts a product's bookings follow.
    pub enum ReservationFact {
        Booked(ReservationBooked),
        LinesCancelled(ReservationLinesCancelled),
        Rejected(ReservationRejected),
        Cancelled(ReservationCancelled),
        Expired(ReservationExpired),
        Completed(ReservationCompleted),
    }
}

/// What the catalog records of a reservation fact: the reservation's seats held (with its
/// lines, less those a partial cancel gave back), released, or used.
pub fn tracked(fact: ReservationFact) -> ReservationTracked {
    let t = |product_id: String, reservation_id: String, state: TrackedState| ReservationTracked {
        product_id,
        reservation_id,
        state: state as i32,
        ..Default::default()
    };
    match fact {
        ReservationFact::Booked(e) => ReservationTracked {
            product_id: e.product_id,
            reservation_id: e.reservation_id,
            reservation_schedule_id: e.reservation_schedule_id,
            quantity: e.quantity,
            state: TrackedState::Active as i32,
            lines: e
                .lines
                .into_iter()
                .map(|l| TrackedLine {
                    line_number: l.line_number,
                    reservation_schedule_id: l.reservation_schedule_id,
                    quantity: l.quantity,
                })
                .collect(),
            cancelled_lines: vec![],
        },
        ReservationFact::LinesCancelled(e) => ReservationTracked {
            cancelled_lines: e.line_numbers,
            ..t(e.product_id, e.reservation_id, TrackedState::Active)
        },
        ReservationFact::Rejected(e) => t(e.product_id, e.reservation_id, TrackedState::Released),
        ReservationFact::Cancelled(e) => t(e.product_id, e.reservation_id, TrackedState::Released),
        ReservationFact::Expired(e) => t(e.product_id, e.reservation_id, TrackedState::Released),
        ReservationFact::Completed(e) => t(e.product_id, e.reservation_id, TrackedState::Completed),
    }
}

/// A reservation fact the catalog records.
#[derive(Debug, Clone, PartialEq)]
pub enum BookingsCommand {
    Track(ReservationTracked),
}

impl Aggregate for Bookings {
    type Event = BookingsEvent;
    type Command = BookingsCommand;
    type Context = ();
    type Decision = Vec<BookingsEvent>;
    type Error = CatalogError;

    fn evolve(&mut self, event: BookingsEvent) {
        self.apply(event);
    }

    /// Every reservation fact is recorded: the reservations service decided it.
    fn decide(&self, command: BookingsCommand, _: &()) -> Result<Vec<BookingsEvent>, CatalogError> {
        let BookingsCommand::Track(fact) = command;
        Ok(vec![BookingsEvent::Tracked(fact)])
    }
}
