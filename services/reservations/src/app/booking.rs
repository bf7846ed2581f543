//! Booking: reads each line's unit, the quantities the units share and what the catalog said
//! about the product and its place; decides on them; takes a paid booking's money; appends the
//! reservation and a hold in every quantity with the version read (the only guard against
//! overselling), in one transaction.
//!
//! Bookings holding seats in one quantity queue in this process on a lane (64 striped mutexes
//! keyed by the quantity's stream), so a hot schedule or pool costs one append per booking
//! instead of a storm of version conflicts. Replicas still meet at the expected versions.
use std::{collections::HashMap, sync::Arc};

use uuid::Uuid;
use yeyak_kit::{
    auth::Caller,
    command::{Aggregate, Command, Decision, Error as Failed, Origin, Ran, Reads},
    events::{Cause, created_id, derived_id},
};
use yeyak_proto::reservations::events::v1::{
    PaymentCaptured, PaymentMode, PlaceAvailabilityChanged, ProductAvailabilityChanged,
    RefundRequested, ReservationBooked,
};

use super::{Error, Reservations, gateway::PaymentError, streams};
use crate::domain::{
    ReservationError,
    booking::{Availability, Book},
    events::ReservationEvent,
    inventory::{Pool, pools_of},
    reservation::{Reservation, ReservationCommand, ReservationContext},
};

/// How many times a booking is decided again after losing a race for its quantities.
pub const ATTEMPTS: u32 = 8;
const LANES: usize = 64;
/// Units whose quantities the lane cache remembers before it starts over.
const LANE_CACHE_UNITS: usize = 100_000;

/// The booking lanes of this process, and the quantities each unit holds seats in (they change
/// only when a revision adds a price maximum; a stale entry costs contention, never a wrong
/// answer).
#[derive(Clone)]
pub struct Lanes {
    locks: Arc<[tokio::sync::Mutex<()>]>,
    pools_by_unit: Arc<std::sync::Mutex<HashMap<String, Vec<Pool>>>>,
}

impl Default for Lanes {
    fn default() -> Self {
        Self {
            locks: (0..LANES).map(|_| tokio::sync::Mutex::new(())).collect(),
            pools_by_unit: Arc::default(),
        }
    }
}

fn lane_of(key: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % LANES as u64) as usize
}

impl Lanes {
    fn cached(&self, unit: &str) -> Option<Vec<Pool>> {
        self.pools_by_unit
            .lock()
            .expect("lane cache")
            .get(unit)
            .cloned()
    }

    /// The lanes of the quantities these units hold seats in, sorted, each once.
    async fn of(&self, app: &Reservations, units: &[String]) -> Result<Vec<usize>, Error> {
        let mut lanes = Vec::new();
        for unit in units {
            // A miss reads the unit once: concurrent bookings of an unseen unit wait on the
            // unit's own lane, and find it cached when their turn comes.
            let _first = match self.cached(unit) {
                Some(_) => None,
                None => Some(self.locks[lane_of(unit)].lock().await),
            };
            let pools = match self.cached(unit) {
                Some(pools) => pools,
                None => {
                    let inventory = streams::load_pool(
                        &mut Reads::new(&**app.log()),
                        &Pool::Unit(unit.clone()),
                    )
                    .await?;
                    let pools = match &inventory.opened {
                        Some(opened) => pools_of(opened),
                        // Not bookable: the booking is refused without contention.
                        None => vec![Pool::Unit(unit.clone())],
                    };
                    let mut cache = self.pools_by_unit.lock().expect("lane cache");
                    if cache.len() >= LANE_CACHE_UNITS {
                        cache.clear();
                    }
                    cache.insert(unit.clone(), pools.clone());
                    pools
                }
            };
            lanes.extend(pools.iter().map(|p| lane_of(&streams::pool(p))));
        }
        lanes.sort_unstable();
        lanes.dedup();
        Ok(lanes)
    }
}

/// A booking as the runner runs it.
struct Booking<'a> {
    app: &'a Reservations,
    cmd: Book,
    /// The capture taken on the last attempt, if the money was taken.
    captured: std::sync::Mutex<Option<PaymentCaptured>>,
}

/// What a booking decision needs.
struct Loaded {
    existing: Reservation,
    context: ReservationContext,
    /// The payment stream of a paid booking exists already.
    paid_before: bool,
}

#[async_trait::async_trait]
impl Command for Booking<'_> {
    type State = Loaded;
    type Output = Reservation;
    type Error = ReservationError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Loaded, Failed<ReservationError>> {
        let id = self.cmd.reservation_id;
        let existing = streams::load_reservation(reads, id).await?;
        let mut context = ReservationContext::default();
        for (unit, _) in &self.cmd.lines {
            let inventory = streams::load_pool(reads, &Pool::Unit(unit.clone())).await?;
            context.units.insert(unit.clone(), inventory);
        }
        let opened: Vec<_> = context
            .units
            .values()
            .filter_map(|u| u.opened.clone())
            .collect();
        for pool in opened.iter().flat_map(pools_of) {
            if !matches!(pool, Pool::Unit(_)) && !context.shared.contains_key(&pool) {
                let inventory = streams::load_pool(reads, &pool).await?;
                context.shared.insert(pool, inventory);
            }
        }
        let mut paid_before = false;
        if let Some(unit) = opened.first() {
            let product = reads
                .latest::<ProductAvailabilityChanged>(&streams::product(&unit.product_id))
                .await?;
            let place = reads
                .latest::<PlaceAvailabilityChanged>(&streams::place(&unit.place_id))
                .await?;
            context.availability = Availability {
                product,
                place_paused: place.is_some_and(|p| p.paused),
            };
            let paid = [PaymentMode::PayAtBooking, PaymentMode::Deposit]
                .iter()
                .any(|m| *m as i32 == unit.payment_mode);
            if paid {
                paid_before = streams::load_payment(reads, id).await?.captured.is_some();
            }
        }
        Ok(Loaded {
            existing,
            context,
            paid_before,
        })
    }

    fn decide(
        &self,
        mut loaded: Loaded,
        now_us: i64,
    ) -> Result<Decision<Reservation>, Failed<ReservationError>> {
        // An earlier try of this request was charged, failed, and is being refunded.
        if loaded.paid_before && loaded.existing.booked.is_none() {
            return Err(Failed::Refused(ReservationError::BookingFailedRefunded));
        }
        loaded.context.now_us = now_us;
        let decision = loaded
            .existing
            .decide(ReservationCommand::Book(self.cmd.clone()), &loaded.context)
            .map_err(Failed::Refused)?;
        let Some(ReservationEvent::Booked(booked)) = decision.event else {
            unreachable!("a booking decides a ReservationBooked");
        };
        let mut r = Reservation::default();
        r.apply(ReservationEvent::Booked(booked.clone()));
        let mut out = Decision::new(r).emit(
            streams::reservation(self.cmd.reservation_id),
            &ReservationEvent::Booked(booked),
        );
        for (pool, held) in decision.holds {
            out = out.emit(streams::pool(&pool), &held);
        }
        Ok(out)
    }

    /// Paid at booking: the money is taken before anything is written, so a refusal writes
    /// nothing.
    async fn before_append(
        &self,
        decision: &mut Decision<Reservation>,
        _: &Cause,
    ) -> Result<(), Failed<ReservationError>> {
        let Some(booked) = decision.output.booked.clone().filter(|b| b.paid_krw > 0) else {
            return Ok(());
        };
        let capture = self.charge(&booked).await.map_err(Failed::Refused)?;
        *self.captured.lock().expect("capture") = Some(capture.clone());
        decision.add(streams::payment(self.cmd.reservation_id), &capture);
        Ok(())
    }
}

impl Booking<'_> {
    /// Takes a booking's amount: authorises it, then captures the authorisation (a capture that
    /// fails voids it, so no money stays held). The idempotency keys derive from the reservation,
    /// so deciding again after a lost race takes the money once.
    async fn charge(
        &self,
        booked: &ReservationBooked,
    ) -> Result<PaymentCaptured, ReservationError> {
        let refused = |e: PaymentError| match e {
            PaymentError::Declined(why) => ReservationError::PaymentDeclined(why),
            PaymentError::Unavailable(why) => ReservationError::PaymentUnavailable(why),
        };
        let gateway = &self.app.gateway;
        let method = self.cmd.method;
        let key = |step: &str| format!("{}/{step}", booked.reservation_id);
        let authorization_id = gateway
            .authorize(&key("authorize"), method, booked.paid_krw)
            .await
            .map_err(refused)?;
        let capture_id = match gateway
            .capture(&key("capture"), &authorization_id, booked.paid_krw)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                if let Err(void) = gateway.void(&key("void"), &authorization_id).await {
                    tracing::warn!(reservation_id = %booked.reservation_id, error = %void, "an authorisation whose capture failed could not be voided; the provider releases it when it lapses");
                }
                return Err(refused(e));
            }
        };
        Ok(PaymentCaptured {
            reservation_id: booked.reservation_id.clone(),
            method: method as i32,
            amount_krw: booked.paid_krw,
            capture_id,
            authorization_id,
        })
    }
}

/// Records a payment taken for a booking that failed, and its refund, once.
struct OwedBack {
    capture: PaymentCaptured,
}

#[async_trait::async_trait]
impl Command for OwedBack {
    type State = ();
    type Output = ();
    type Error = ReservationError;

    async fn load(&self, _: &mut Reads<'_>) -> Result<(), Failed<ReservationError>> {
        Ok(())
    }

    fn decide(&self, _: (), now_us: i64) -> Result<Decision<()>, Failed<ReservationError>> {
        let refund = RefundRequested {
            reservation_id: self.capture.reservation_id.clone(),
            amount_krw: self.capture.amount_krw,
            reason: "the booking failed after its payment".into(),
            requested_at: Some(yeyak_proto::time::from_micros(now_us)),
        };
        let stream =
            streams::payment(Uuid::parse_str(&self.capture.reservation_id).unwrap_or_default());
        Ok(Decision::new(())
            .emit_unordered(stream.clone(), &self.capture)
            .emit_unordered(stream, &refund))
    }
}

impl Reservations {
    /// Books for the calling customer. The reservation id derives from the caller and the
    /// request id, so a retry returns the first booking (as it was booked).
    pub async fn book(
        &self,
        caller: &Caller,
        origin: &Origin,
        request_id: Uuid,
        lines: Vec<(Uuid, u32)>,
        answers: Vec<String>,
        method: yeyak_proto::reservations::events::v1::PaymentMethod,
    ) -> Result<(Reservation, u64), Error> {
        let reservation_id = created_id("reservation", &caller.actor(), request_id);
        let units: Vec<String> = lines.iter().map(|(u, _)| u.to_string()).collect();
        let booking = Booking {
            app: self,
            cmd: Book {
                reservation_id,
                customer_id: caller.subject.clone(),
                lines: units
                    .iter()
                    .cloned()
                    .zip(lines.iter().map(|(_, q)| *q))
                    .collect(),
                answers,
                method,
            },
            captured: std::sync::Mutex::new(None),
        };
        // One booking at a time per quantity in this process: every lane, in lane order (so two
        // bookings never wait on each other).
        let lanes = self.lanes.of(self, &units).await?;
        let mut _held = Vec::with_capacity(lanes.len());
        for lane in lanes {
            _held.push(self.lanes.locks[lane].lock().await);
        }
        let outcome = self.runner.run(origin, &booking).await;
        let captured = booking.captured.lock().expect("capture").take();
        match outcome {
            Ok(Ran::Decided(r, _)) => Ok((r, 1)),
            Ok(Ran::Replayed(_)) => Ok((self.reservation_at(reservation_id, 1).await?, 1)),
            Err(e) => {
                // Charged, but no booking came of it (checked: an append whose commit was
                // reported as failed may have committed): the money goes back, durably.
                if let Some(capture) = captured
                    && self.reservation(reservation_id).await?.1.is_none()
                {
                    let origin = Origin::command(
                        "service:booking",
                        derived_id("failed-booking", &reservation_id.to_string(), 0),
                        b"",
                    );
                    if let Err(e) = self.runner.run(&origin, &OwedBack { capture }).await {
                        tracing::error!(%reservation_id, error = %e, "a payment without a booking could not be recorded for its refund");
                    }
                }
                Err(e)
            }
        }
    }
}
