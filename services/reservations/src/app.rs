//! Reservation command handlers (load → decide → append) and the catalog consumer.
use std::{collections::BTreeMap, sync::Arc};

use tonic::{Code, Status};
use uuid::Uuid;
use yeyak_eventlog::{
    AppendError, AppendRequest, EventStore, ExpectedVersion, NewEvent, RecordedEvent,
};
use yeyak_kit::{
    auth::{Caller, Role},
    events::{Cause, created_id, decode_as, derived_id, encode, expected, load},
    status::{from_append, from_load, status},
};
use yeyak_proto::{
    catalog::events::v1::{
        CancellationPolicy, CapacityChanged, ConfirmationMode, InventoryMode, OperatorAccepted,
        OperatorInvited, PlacePaused, PlaceResumed, ProductApproved, ProductDeleted,
        ProductSanctioned, ProductStatusSet, ReservationSchedule, SchedulesAdded, VisibilitySet,
    },
    reservations::events::v1::{
        CompletionCodeSet, DefaultRejectTextSet, InventoryCapacityChanged, InventoryOpened,
        OperatorRecorded, PaymentCaptured, PaymentMethod, PaymentMode, PaymentRefunded,
        PlaceAvailabilityChanged, PoolCapacitySet, ProductAvailabilityChanged, ProductTerms,
        RefundCreditedAsBalance, RefundFailed, RefundRequested, ReservationBooked,
    },
};
use yeyak_transport::{EventHandler, HandlerError};

use crate::domain::{
    ReservationError,
    events::{InventoryEvent, ReservationEvent},
    inventory::Inventory,
    operators::{self, OperatorAction, Operators},
    reservation::{
        self, Availability, Book, Booking, Cancelled, Canceller, Completion, Order, Releases,
        Reservation,
    },
};
use crate::payments::{
    self, Payment, PaymentError, PaymentEvent, PaymentGateway, SimulatedGateway,
};

/// How many times a booking reloads and decides again after losing a race for the inventory.
pub const BOOKING_ATTEMPTS: u32 = 8;

pub fn reservation_stream(id: Uuid) -> String {
    format!("reservation-{id}")
}
pub fn inventory_stream(id: &str) -> String {
    crate::domain::inventory::unit_stream(id)
}
/// A reservation's payment, separate from its state.
pub fn payment_stream(reservation_id: Uuid) -> String {
    format!("payment-{reservation_id}")
}
/// What the catalog said about booking a product.
pub fn product_stream(id: &str) -> String {
    format!("product-{id}")
}
/// Whether the catalog paused a place.
pub fn place_stream(id: &str) -> String {
    format!("place-{id}")
}
/// The partner's default reject text.
pub fn reject_text_stream(partner_id: &str) -> String {
    format!("reject-text-{partner_id}")
}
/// The partner's completion code (its hash).
pub fn code_stream(partner_id: &str) -> String {
    format!("completion-code-{partner_id}")
}
/// The partner's operators, as learned from the catalog.
pub fn operators_stream(partner_id: &str) -> String {
    format!("operators-{partner_id}")
}
/// The terms of a product's last approval (revision, cancellation policy).
pub fn terms_stream(id: &str) -> String {
    format!("product-terms-{id}")
}

/// The reservations application service over its own event log.
#[derive(Clone)]
pub struct Reservations {
    log: Arc<dyn EventStore>,
    /// Bookings holding seats in one inventory stream (a unit's own, or a pool several units
    /// share) queue in this process on one of these stripes, so a hot schedule or pool costs one
    /// append per booking instead of a storm of version conflicts. Replicas still meet at the
    /// expected-version check, which alone guarantees no overselling.
    booking_lanes: Arc<[tokio::sync::Mutex<()>]>,
    /// The streams each unit holds seats in, to pick lanes before reading (they change only
    /// when a revision adds a price maximum; a stale entry costs a retry, never a wrong answer).
    held_by_unit: Arc<std::sync::Mutex<std::collections::HashMap<Uuid, Vec<String>>>>,
    gateway: Arc<dyn PaymentGateway>,
}

const BOOKING_LANES: usize = 64;
/// Units whose streams the lane cache remembers before it starts over.
const LANE_CACHE_UNITS: usize = 100_000;

/// A lifecycle command on an existing reservation.
#[derive(Debug, Clone)]
pub enum Action {
    Confirm,
    Reject {
        reason: String,
    },
    Cancel {
        reason: String,
        adjustment: Option<reservation::Adjustment>,
        /// 부분취소: these lines only; empty: the whole reservation.
        line_numbers: Vec<u32>,
    },
    Complete {
        /// The partner's completion code, checked when the partner set one.
        code: String,
    },
    CancelPaymentOnly {
        reason: String,
    },
    MarkNoShow {
        no_show: bool,
    },
}

impl Action {
    /// What an operator needs to be allowed: cancels move money.
    fn operator_action(&self) -> OperatorAction {
        match self {
            Action::Cancel { .. } | Action::CancelPaymentOnly { .. } => OperatorAction::MoveMoney,
            _ => OperatorAction::Handle,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Action::Confirm => "confirm",
            Action::Reject { .. } => "reject",
            Action::Cancel { .. } => "cancel",
            Action::Complete { .. } => "complete",
            Action::CancelPaymentOnly { .. } => "cancel-payment",
            Action::MarkNoShow { .. } => "no-show",
        }
    }
}

fn cause(caller: &Caller, request_id: Uuid, now_us: i64) -> Cause {
    Cause::command(caller.actor(), request_id, now_us)
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

impl Reservations {
    /// Over `log`, with a simulated payment provider that never fails.
    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self::with_gateway(log, Arc::new(SimulatedGateway::default()))
    }

    /// Over `log`, taking payments through `gateway`.
    pub fn with_gateway(log: Arc<dyn EventStore>, gateway: Arc<dyn PaymentGateway>) -> Self {
        Self {
            log,
            booking_lanes: (0..BOOKING_LANES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            held_by_unit: Arc::default(),
            gateway,
        }
    }

    /// The payment of a reservation, folded from its own stream, with the stream's version.
    pub async fn payment(&self, reservation_id: Uuid) -> Result<(Payment, Option<u64>), Status> {
        load(
            &*self.log,
            &payment_stream(reservation_id),
            Payment::default(),
            |p, e| {
                let event = if let Some(v) = decode_as(e)? {
                    PaymentEvent::Captured(v)
                } else if let Some(v) = decode_as(e)? {
                    PaymentEvent::RefundRequested(e.event_id.to_string(), v)
                } else if let Some(v) = decode_as(e)? {
                    PaymentEvent::Refunded(v)
                } else if let Some(v) = decode_as(e)? {
                    PaymentEvent::RefundFailed(v)
                } else if let Some(v) = decode_as(e)? {
                    PaymentEvent::Credited(v)
                } else {
                    return Ok(());
                };
                p.apply(event);
                Ok(())
            },
        )
        .await
        .map_err(from_load)
    }

    /// Takes a booking's amount: authorises it, then captures the authorisation (a capture that
    /// fails voids it, so no money stays held). The idempotency keys derive from the reservation,
    /// so deciding again after a lost race takes the money once.
    async fn charge(
        &self,
        booked: &ReservationBooked,
        method: PaymentMethod,
    ) -> Result<PaymentCaptured, Status> {
        if method == PaymentMethod::Unspecified {
            return Err(yeyak_kit::status::invalid_field(
                "payment_method",
                "PAYMENT_METHOD_REQUIRED",
                "this price is paid at booking: choose a payment method",
            ));
        }
        let refused = |e: PaymentError| match e {
            PaymentError::Declined(why) => status(
                Code::FailedPrecondition,
                "PAYMENT_DECLINED",
                format!("the payment was declined ({why}); nothing was booked"),
            ),
            PaymentError::Unavailable(why) => status(
                Code::Unavailable,
                "PAYMENT_UNAVAILABLE",
                format!("the payment provider did not answer ({why}); nothing was booked"),
            ),
        };
        let key = |step: &str| format!("{}/{step}", booked.reservation_id);
        let authorization_id = self
            .gateway
            .authorize(&key("authorize"), method, booked.paid_krw)
            .await
            .map_err(refused)?;
        let capture_id = match self
            .gateway
            .capture(&key("capture"), &authorization_id, booked.paid_krw)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                if let Err(void) = self.gateway.void(&key("void"), &authorization_id).await {
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

    pub fn log(&self) -> &Arc<dyn EventStore> {
        &self.log
    }

    /// The booking lanes of the streams these lines hold seats in, sorted, each once.
    async fn lanes_of(&self, lines: &[(Uuid, u32)]) -> Result<Vec<usize>, Status> {
        use std::hash::{Hash, Hasher};
        let mut lanes = Vec::new();
        let cached = |unit: &Uuid| {
            self.held_by_unit
                .lock()
                .expect("lane cache")
                .get(unit)
                .cloned()
        };
        for (unit, _) in lines {
            // A miss reads the unit once: concurrent bookings of an unseen unit wait on the
            // unit's own lane, and find it cached when their turn comes.
            let _first = match cached(unit) {
                Some(_) => None,
                None => Some(
                    self.booking_lanes[(unit.as_u128() % BOOKING_LANES as u128) as usize]
                        .lock()
                        .await,
                ),
            };
            let streams = match cached(unit) {
                Some(streams) => streams,
                None => match self.inventory(&unit.to_string()).await?.0.opened {
                    Some(opened) => {
                        let streams = reservation::held_streams(&opened);
                        let mut cache = self.held_by_unit.lock().expect("lane cache");
                        if cache.len() >= LANE_CACHE_UNITS {
                            cache.clear();
                        }
                        cache.insert(*unit, streams.clone());
                        streams
                    }
                    // Not bookable: the booking is refused without contention.
                    None => vec![inventory_stream(&unit.to_string())],
                },
            };
            for stream in streams {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                stream.hash(&mut hasher);
                lanes.push((hasher.finish() % BOOKING_LANES as u64) as usize);
            }
        }
        lanes.sort_unstable();
        lanes.dedup();
        Ok(lanes)
    }

    /// The reservation rebuilt by folding its stream, with the stream's version.
    pub async fn reservation(&self, id: Uuid) -> Result<(Reservation, Option<u64>), Status> {
        load(
            &*self.log,
            &reservation_stream(id),
            Reservation::default(),
            |s, e| {
                s.apply(ReservationEvent::decode(e)?);
                Ok(())
            },
        )
        .await
        .map_err(from_load)
    }

    /// The reservation as it was at `as_of_us`: the fold of the events recorded up to then, with
    /// how many they were.
    pub async fn reservation_as_of(
        &self,
        id: Uuid,
        as_of_us: i64,
    ) -> Result<(Reservation, Option<u64>), Status> {
        let (state, _) = load(
            &*self.log,
            &reservation_stream(id),
            (Reservation::default(), None),
            |(s, version): &mut (Reservation, Option<u64>), e| {
                if e.recorded_at_us <= as_of_us {
                    s.apply(ReservationEvent::decode(e)?);
                    *version = Some(e.stream_version);
                }
                Ok(())
            },
        )
        .await
        .map_err(from_load)?;
        Ok(state)
    }

    /// Every event of a reservation the caller may see, oldest first.
    pub async fn history(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Vec<yeyak_eventlog::RecordedEvent>, Status> {
        let (r, _) = self.reservation(id).await?;
        self.authorize(caller, &r, OperatorAction::Read).await?;
        let mut events = Vec::new();
        loop {
            let page = self
                .log
                .read_stream(&reservation_stream(id), events.len() as u64 + 1, 512)
                .await
                .map_err(yeyak_kit::status::from_store)?;
            let done = page.len() < 512;
            events.extend(page);
            if done {
                return Ok(events);
            }
        }
    }

    pub async fn inventory(&self, schedule_id: &str) -> Result<(Inventory, Option<u64>), Status> {
        self.inventory_at(&inventory_stream(schedule_id)).await
    }

    /// Any inventory stream folded: a unit, a pool, a price cap.
    pub async fn inventory_at(&self, stream: &str) -> Result<(Inventory, Option<u64>), Status> {
        load(&*self.log, stream, Inventory::default(), |s, e| {
            s.apply(InventoryEvent::decode(e)?);
            Ok(())
        })
        .await
        .map_err(from_load)
    }

    /// The latest event of a stream of single-fact snapshots, if any.
    pub async fn latest<M: prost::Message + prost::Name + Default>(
        &self,
        stream: &str,
    ) -> Result<(Option<M>, Option<u64>), Status> {
        load(&*self.log, stream, None, |s: &mut Option<M>, e| {
            if let Some(m) = decode_as::<M>(e)? {
                *s = Some(m);
            }
            Ok(())
        })
        .await
        .map_err(from_load)
    }

    /// What the catalog said about booking the unit's product and place.
    pub async fn availability(&self, inventory: &Inventory) -> Result<Availability, Status> {
        let Some(unit) = &inventory.opened else {
            return Ok(Availability::default());
        };
        let (product, _) = self
            .latest::<ProductAvailabilityChanged>(&product_stream(&unit.product_id))
            .await?;
        let (place, _) = self
            .latest::<PlaceAvailabilityChanged>(&place_stream(&unit.place_id))
            .await?;
        Ok(Availability {
            product,
            place_paused: place.is_some_and(|p| p.paused),
        })
    }

    /// Books seats for the calling customer: one or more lines, each a unit and its quantity. The
    /// reservation id derives from the caller and the request id, so a retry returns the first
    /// booking. The inventory and reservation streams are appended together with expected
    /// versions: a lost race reloads and decides again, at most [`BOOKING_ATTEMPTS`] times.
    pub async fn book(
        &self,
        caller: &Caller,
        request_id: Uuid,
        lines: &[(Uuid, u32)],
        answers: Vec<String>,
        method: PaymentMethod,
    ) -> Result<(Reservation, u64), Status> {
        let reservation_id = created_id("reservation", &caller.actor(), request_id);
        let stream = reservation_stream(reservation_id);
        // One booking at a time per inventory stream in this process: every lane of the streams
        // the lines hold seats in, in lane order (so two bookings never wait on each other).
        let lanes = self.lanes_of(lines).await?;
        let mut _held = Vec::with_capacity(lanes.len());
        for lane in lanes {
            _held.push(self.booking_lanes[lane].lock().await);
        }
        let mut captured: Option<PaymentCaptured> = None;
        let outcome = self
            .book_once(caller, request_id, lines, &answers, method, &mut captured)
            .await;
        // Charged, but no booking came of it (checked: an append whose commit was reported as
        // failed may have committed): the money goes back, durably.
        let booked_anyway = outcome.is_err()
            && captured.is_some()
            && self.reservation(reservation_id).await?.1.is_some();
        if let (Err(_), Some(capture), false) = (&outcome, captured, booked_anyway) {
            let cause = cause(caller, request_id, now_us());
            let refund = RefundRequested {
                reservation_id: reservation_id.to_string(),
                amount_krw: capture.amount_krw,
                reason: "the booking failed after its payment".into(),
                requested_at: Some(yeyak_proto::time::from_micros(now_us())),
            };
            let request = AppendRequest::single(
                payment_stream(reservation_id),
                ExpectedVersion::Any,
                vec![
                    encode(derived_id("book", &stream, 10), &capture, &cause),
                    encode(derived_id("book", &stream, 11), &refund, &cause),
                ],
            );
            if let Err(e) = self.log.append(request).await {
                tracing::error!(reservation_id = %reservation_id, error = %e, "a payment without a booking could not be recorded for its refund");
            }
        }
        outcome
    }

    async fn book_once(
        &self,
        caller: &Caller,
        request_id: Uuid,
        lines: &[(Uuid, u32)],
        answers: &[String],
        method: PaymentMethod,
        captured: &mut Option<PaymentCaptured>,
    ) -> Result<(Reservation, u64), Status> {
        let reservation_id = created_id("reservation", &caller.actor(), request_id);
        let stream = reservation_stream(reservation_id);
        for _ in 0..BOOKING_ATTEMPTS {
            let (existing, version) = self.reservation(reservation_id).await?;
            if let Some(v) = version {
                same_booking(&existing, lines, answers)?;
                return Ok((existing, v));
            }
            // Each line's unit, and the pools and price caps they hold seats in, with the
            // versions the append expects.
            let mut versions: BTreeMap<String, Option<u64>> = BTreeMap::new();
            let mut units = Vec::with_capacity(lines.len());
            for (unit_id, _) in lines {
                let id = unit_id.to_string();
                let (unit, version) = self.inventory(&id).await?;
                versions.insert(inventory_stream(&id), version);
                units.push(unit);
            }
            let mut shared = BTreeMap::new();
            for unit in units.iter().filter_map(|u| u.opened.as_ref()) {
                for id in reservation::held_streams(unit) {
                    if !versions.contains_key(&id) {
                        let (pool, version) = self.inventory_at(&id).await?;
                        versions.insert(id.clone(), version);
                        shared.insert(id, pool);
                    }
                }
            }
            let availability = self.availability(&units[0]).await?;
            let orders: Vec<Order<'_>> = units
                .iter()
                .zip(lines)
                .map(|(unit, (_, quantity))| Order {
                    unit,
                    quantity: *quantity,
                })
                .collect();
            let now = now_us();
            let cmd = Book {
                reservation_id,
                customer_id: caller.subject.clone(),
                answers: answers.to_vec(),
                now_us: now,
            };
            let Booking { holds, booked } =
                reservation::book(&orders, &shared, &availability, &existing, cmd)
                    .map_err(crate::api::domain_status)?;
            let cause = cause(caller, request_id, now);
            let mut request = AppendRequest::single(
                stream.clone(),
                ExpectedVersion::NoStream,
                vec![encode(derived_id("book", &stream, 1), &booked, &cause)],
            );
            for (n, (id, held)) in holds.into_iter().enumerate() {
                let event_id = derived_id("book", &stream, if n == 0 { 0 } else { 20 + n as u32 });
                let version = versions.get(&id).copied().flatten();
                request = request.and(id, expected(version), vec![encode(event_id, &held, &cause)]);
            }
            // Paid at booking: charge before anything is written; a refusal writes nothing.
            let request = if booked.paid_krw > 0 {
                let capture = self.charge(&booked, method).await?;
                let event = encode(derived_id("book", &stream, 2), &capture, &cause);
                *captured = Some(capture);
                request.and(
                    payment_stream(reservation_id),
                    ExpectedVersion::NoStream,
                    vec![event],
                )
            } else {
                request
            };
            match self.log.append(request).await {
                // A concurrent retry of this request stored its booking first: return that one.
                Ok(result) if result.status == yeyak_eventlog::AppendStatus::Duplicate => continue,
                Ok(_) => {
                    *captured = None;
                    let mut r = Reservation::default();
                    r.apply(ReservationEvent::Booked(booked));
                    return Ok((r, 1));
                }
                // The payment stream exists without a booking: an earlier try of this request was
                // charged, failed, and is being refunded (its capture is that try's, already
                // recorded).
                Err(AppendError::Conflict { stream_id, .. })
                    if stream_id == payment_stream(reservation_id)
                        && self.reservation(reservation_id).await?.1.is_none() =>
                {
                    *captured = None;
                    return Err(status(
                        Code::FailedPrecondition,
                        "BOOKING_FAILED_REFUNDED",
                        "this request's booking failed after its payment, which is being refunded; book again with a new request_id",
                    ));
                }
                // Another booking took seats first (or a concurrent retry booked this one): decide again.
                Err(AppendError::Conflict { .. }) => continue,
                Err(e) => return Err(from_append(e)),
            }
        }
        Err(status(
            Code::Aborted,
            "CONCURRENCY_CONFLICT",
            "the reservation schedule is busy; retry with the same request_id",
        ))
    }

    /// Applies a lifecycle action. A retry with the same request id returns the current state.
    pub async fn act(
        &self,
        caller: &Caller,
        request_id: Uuid,
        reservation_id: Uuid,
        action: Action,
    ) -> Result<(Reservation, u64), Status> {
        let stream = reservation_stream(reservation_id);
        let id = |n| derived_id(action.name(), &format!("{stream}/{request_id}"), n);
        let (current, version) = self.reservation(reservation_id).await?;
        let booked = self
            .authorize(caller, &current, action.operator_action())
            .await?;
        if self
            .log
            .event_by_id(id(0))
            .await
            .map_err(yeyak_kit::status::from_store)?
            .is_some()
        {
            return Ok((current, version.unwrap_or(0)));
        }
        check_actor(caller, &action)?;
        let now = now_us();
        let cause = cause(caller, request_id, now);
        let booked = booked.clone();
        // The reservation's event (first id) and, when seats come back, the release.
        let (event, new, release): (ReservationEvent, NewEvent, Releases) = match action.clone() {
            Action::Confirm => {
                let e = reservation::confirm(&current).map_err(crate::api::domain_status)?;
                let new = encode(id(0), &e, &cause);
                (ReservationEvent::Confirmed(e), new, vec![])
            }
            Action::Reject { reason } => {
                let reason = if reason.trim().is_empty() {
                    let (default, _) = self
                        .latest::<DefaultRejectTextSet>(&reject_text_stream(&booked.partner_id))
                        .await?;
                    default.map(|d| d.text).unwrap_or_default()
                } else {
                    reason
                };
                if reason.trim().is_empty() {
                    return Err(yeyak_kit::status::invalid_field(
                        "reason",
                        "REASON_REQUIRED",
                        "give a reason, or set the partner's default reject text",
                    ));
                }
                let (e, released) =
                    reservation::reject(&current, reason).map_err(crate::api::domain_status)?;
                let new = encode(id(0), &e, &cause);
                (ReservationEvent::Rejected(e), new, released)
            }
            Action::Cancel {
                reason,
                adjustment,
                line_numbers,
            } => {
                let by = if caller.role == Role::Customer {
                    Canceller::Customer
                } else {
                    Canceller::Partner
                };
                let (outcome, released) =
                    reservation::cancel_lines(&current, by, reason, adjustment, &line_numbers, now)
                        .map_err(crate::api::domain_status)?;
                match outcome {
                    Cancelled::Whole(e) => {
                        let new = encode(id(0), &e, &cause);
                        (ReservationEvent::Cancelled(e), new, released)
                    }
                    Cancelled::Lines(e) => {
                        let new = encode(id(0), &e, &cause);
                        (ReservationEvent::LinesCancelled(e), new, released)
                    }
                }
            }
            Action::Complete { code } => {
                let (set, _) = self
                    .latest::<CompletionCodeSet>(&code_stream(&booked.partner_id))
                    .await?;
                let e = reservation::complete(
                    &current,
                    Completion::Partner { code },
                    set.as_ref().map(|c| c.code_sha256.as_str()),
                    now,
                )
                .map_err(crate::api::domain_status)?;
                let new = encode(id(0), &e, &cause);
                (ReservationEvent::Completed(e), new, vec![])
            }
            Action::CancelPaymentOnly { reason } => {
                let e = reservation::cancel_payment_only(&current, reason)
                    .map_err(crate::api::domain_status)?;
                let new = encode(id(0), &e, &cause);
                (ReservationEvent::PaymentCancelled(e), new, vec![])
            }
            Action::MarkNoShow { no_show } => {
                let Some(e) = reservation::mark_no_show(&current, no_show, now)
                    .map_err(crate::api::domain_status)?
                else {
                    return Ok((current, version.unwrap_or(0)));
                };
                let new = encode(id(0), &e, &cause);
                (ReservationEvent::NoShow(e), new, vec![])
            }
        };
        let mut request = AppendRequest::single(stream.clone(), expected(version), vec![new]);
        request = give_back(request, &release, id, &cause);
        if let Some(refund) = self
            .refund_request(reservation_id, refunded(&event), action.name(), now)
            .await?
        {
            request = request.and(
                payment_stream(reservation_id),
                ExpectedVersion::Any,
                vec![encode(id(2), &refund, &cause)],
            );
        }
        self.log.append(request).await.map_err(from_append)?;
        let mut next = current;
        next.apply(event);
        Ok((next, version.unwrap_or(0) + 1))
    }

    /// Expires a `Requested` reservation whose expiry has come; `Ok(false)` when there is
    /// nothing to do (answered, not due, already expired).
    pub async fn expire(&self, reservation_id: Uuid, now_us: i64) -> Result<bool, Status> {
        self.by_scheduler(reservation_id, "expire", now_us, |r| {
            reservation::expire(r, now_us).map(|(e, released)| {
                let refund = e.refunded_krw;
                (e, released, refund)
            })
        })
        .await
    }

    /// Completes a free or reservation-only reservation the day after its use; `Ok(false)` when
    /// there is nothing to do.
    pub async fn auto_complete(&self, reservation_id: Uuid, now_us: i64) -> Result<bool, Status> {
        self.by_scheduler(reservation_id, "auto-complete", now_us, |r| {
            reservation::complete(r, Completion::Automatic, None, now_us).map(|e| (e, vec![], 0))
        })
        .await
    }

    /// Scheduled work on a reservation: decided on its fold and appended with its expected
    /// version and event ids derived from the reservation and the work, so racing schedulers do
    /// it once. A refusal (the reservation moved on, not due) is nothing to do.
    async fn by_scheduler<E: prost::Message + prost::Name>(
        &self,
        reservation_id: Uuid,
        work: &str,
        now_us: i64,
        decide: impl FnOnce(&Reservation) -> Result<(E, Releases, i64), ReservationError>,
    ) -> Result<bool, Status> {
        let stream = reservation_stream(reservation_id);
        let (current, version) = self.reservation(reservation_id).await?;
        let Ok((event, released, refund)) = decide(&current) else {
            return Ok(false);
        };
        let cause = Cause::command(format!("service:{work}"), reservation_id, now_us);
        let id = |n| derived_id(work, &stream, n);
        let mut request = AppendRequest::single(
            stream.clone(),
            expected(version),
            vec![encode(id(0), &event, &cause)],
        );
        if let Some(refund) = self
            .refund_request(reservation_id, refund, work, now_us)
            .await?
        {
            request = request.and(
                payment_stream(reservation_id),
                ExpectedVersion::Any,
                vec![encode(id(2), &refund, &cause)],
            );
        }
        request = give_back(request, &released, id, &cause);
        match self.log.append(request).await {
            Ok(r) => Ok(r.status == yeyak_eventlog::AppendStatus::Committed),
            // Moved on meanwhile: the next look decides again.
            Err(AppendError::Conflict { .. }) => Ok(false),
            Err(e) => Err(from_append(e)),
        }
    }

    /// The refund a reservation event owes, when money was captured for it.
    async fn refund_request(
        &self,
        reservation_id: Uuid,
        amount_krw: i64,
        why: &str,
        now_us: i64,
    ) -> Result<Option<RefundRequested>, Status> {
        if amount_krw <= 0 {
            return Ok(None);
        }
        let (payment, _) = self.payment(reservation_id).await?;
        Ok(payment.captured.map(|c| RefundRequested {
            reservation_id: c.reservation_id,
            amount_krw: amount_krw.min(c.amount_krw),
            reason: why.to_string(),
            requested_at: Some(yeyak_proto::time::from_micros(now_us)),
        }))
    }

    /// Tries a requested refund through the gateway: refunded; or failed and tried again later;
    /// or, after 3 business days of failures, credited to the customer's balance (환불적립).
    /// `Ok(false)` when there is nothing to do. Event ids derive from the request and the
    /// attempt, so racing schedulers record each outcome once.
    pub async fn refund(
        &self,
        reservation_id: Uuid,
        request_id: &str,
        now_us: i64,
    ) -> Result<bool, Status> {
        let (payment, version) = self.payment(reservation_id).await?;
        let (Some(owed), Some(capture)) = (payment.owed.get(request_id), &payment.captured) else {
            return Ok(false);
        };
        // Settled, or backing off after a failure.
        if owed.settled || now_us < owed.next_attempt_us {
            return Ok(false);
        }
        let attempt = owed.attempts + 1;
        let stream = payment_stream(reservation_id);
        let id = derived_id("refund", &format!("{request_id}/{attempt}"), 0);
        let cause = Cause::command("service:refund".into(), reservation_id, now_us);
        let event = match self
            .gateway
            .refund(request_id, &capture.capture_id, owed.amount_krw)
            .await
        {
            Ok(refund_id) => encode(
                id,
                &PaymentRefunded {
                    reservation_id: reservation_id.to_string(),
                    request_id: request_id.to_string(),
                    amount_krw: owed.amount_krw,
                    refund_id,
                },
                &cause,
            ),
            Err(e)
                if now_us
                    >= payments::business_days_after(
                        owed.requested_at_us,
                        payments::REFUND_RETRY_BUSINESS_DAYS,
                    ) =>
            {
                tracing::warn!(reservation_id = %reservation_id, error = %e, "refund failed for 3 business days; crediting the balance");
                encode(
                    id,
                    &RefundCreditedAsBalance {
                        reservation_id: reservation_id.to_string(),
                        request_id: request_id.to_string(),
                        amount_krw: owed.amount_krw,
                    },
                    &cause,
                )
            }
            Err(e) => encode(
                id,
                &RefundFailed {
                    reservation_id: reservation_id.to_string(),
                    request_id: request_id.to_string(),
                    attempt,
                    reason: e.to_string(),
                    next_attempt_at: Some(yeyak_proto::time::from_micros(payments::next_attempt(
                        now_us, attempt,
                    ))),
                },
                &cause,
            ),
        };
        match self
            .log
            .append(AppendRequest::single(
                stream,
                expected(version),
                vec![event],
            ))
            .await
        {
            Ok(r) => Ok(r.status == yeyak_eventlog::AppendStatus::Committed),
            // Someone else wrote meanwhile: look again on the next tick (the gateway's key makes
            // a repeated refund move no money twice).
            Err(AppendError::Conflict { .. }) => Err(status(
                Code::Aborted,
                "REFUND_RACE",
                "the payment changed meanwhile; retried",
            )),
            Err(e) => Err(from_append(e)),
        }
    }

    /// Sets (or, with an empty text, removes) the partner's default reject text.
    pub async fn set_default_reject_text(
        &self,
        caller: &Caller,
        request_id: Uuid,
        partner_id: Uuid,
        text: String,
    ) -> Result<(), Status> {
        self.require_partner_settings(caller, partner_id).await?;
        let stream = reject_text_stream(&partner_id.to_string());
        let set = DefaultRejectTextSet {
            partner_id: partner_id.to_string(),
            text,
        };
        self.set_partner_fact(caller, request_id, stream, &set)
            .await
    }

    /// Appends a partner setting (a single-fact stream) for a request, once.
    async fn set_partner_fact<M: prost::Message + prost::Name + Default>(
        &self,
        caller: &Caller,
        request_id: Uuid,
        stream: String,
        fact: &M,
    ) -> Result<(), Status> {
        let (_, version) = self.latest::<M>(&stream).await?;
        let cause = cause(caller, request_id, now_us());
        let id = derived_id("partner-setting", &format!("{stream}/{request_id}"), 0);
        self.log
            .append(AppendRequest::single(
                stream,
                expected(version),
                vec![encode(id, fact, &cause)],
            ))
            .await
            .map_err(from_append)?;
        Ok(())
    }

    /// Sets (or, with an empty code, removes) the partner's completion code; only its hash is
    /// kept. Takes effect at once, for past reservations too.
    pub async fn set_completion_code(
        &self,
        caller: &Caller,
        request_id: Uuid,
        partner_id: Uuid,
        code: &str,
    ) -> Result<bool, Status> {
        self.require_partner_settings(caller, partner_id).await?;
        if !reservation::valid_code(code) {
            return Err(yeyak_kit::status::invalid_field(
                "code",
                "MALFORMED",
                "four digits, or empty to remove the code",
            ));
        }
        let stream = code_stream(&partner_id.to_string());
        let set = CompletionCodeSet {
            partner_id: partner_id.to_string(),
            code_sha256: if code.is_empty() {
                String::new()
            } else {
                reservation::code_hash(&partner_id.to_string(), code)
            },
        };
        self.set_partner_fact(caller, request_id, stream, &set)
            .await?;
        Ok(!code.is_empty())
    }

    /// Reads a reservation the caller may see, now or as it was at `as_of_us`.
    pub async fn get(
        &self,
        caller: &Caller,
        reservation_id: Uuid,
        as_of_us: Option<i64>,
    ) -> Result<(Reservation, u64), Status> {
        let (r, version) = self.reservation(reservation_id).await?;
        self.authorize(caller, &r, OperatorAction::Read).await?;
        let Some(as_of) = as_of_us else {
            return Ok((r, version.unwrap_or(0)));
        };
        let (then, version) = self.reservation_as_of(reservation_id, as_of).await?;
        if then.booked.is_none() {
            return Err(status(
                Code::NotFound,
                "NOT_YET_BOOKED",
                "the reservation did not exist yet at that instant",
            ));
        }
        Ok((then, version.unwrap_or(0)))
    }

    /// Partner settings are set by the partner's Admin (granted all places), or by operations.
    async fn require_partner_settings(
        &self,
        caller: &Caller,
        partner_id: Uuid,
    ) -> Result<(), Status> {
        caller.require_partner(partner_id)?;
        if caller.role == Role::PartnerOperator && caller.places != yeyak_kit::auth::PlaceScope::All
        {
            return Err(status(
                Code::PermissionDenied,
                "ALL_PLACES_REQUIRED",
                "only operators granted all places change the partner's settings",
            ));
        }
        self.require_operator(
            caller,
            &partner_id.to_string(),
            None,
            OperatorAction::PartnerSettings,
        )
        .await
    }

    /// The partner's operators as learned from the catalog, with the stream's version.
    pub async fn operators(&self, partner_id: &str) -> Result<(Operators, Option<u64>), Status> {
        load(
            &*self.log,
            &operators_stream(partner_id),
            Operators::default(),
            |s, e| {
                if let Some(v) = decode_as::<OperatorRecorded>(e)? {
                    s.apply(v);
                }
                Ok(())
            },
        )
        .await
        .map_err(from_load)
    }

    /// An operator must be an active operator of the partner, with a role that may do `action`
    /// at the place (`None`: every place). Other roles pass: their token says it all. Until this
    /// service has learned the partner from the catalog's events (they may come later than the
    /// product's), the answer is `UNAVAILABLE` — retry.
    pub async fn require_operator(
        &self,
        caller: &Caller,
        partner_id: &str,
        place_id: Option<&str>,
        action: OperatorAction,
    ) -> Result<(), Status> {
        if caller.role != Role::PartnerOperator {
            return Ok(());
        }
        let (operators, version) = self.operators(partner_id).await?;
        if version.is_none() {
            return Err(status(
                Code::Unavailable,
                "PARTNER_NOT_KNOWN_YET",
                "this service has not learned the partner's operators from the catalog yet; retry shortly",
            ));
        }
        operators::authorize(&operators, &caller.subject, place_id, action)
            .map_err(crate::api::domain_status)
    }

    /// A customer sees only their own reservations (others look missing); an operator only those
    /// of its partner's granted places, as an active operator whose role allows `action`.
    async fn authorize<'r>(
        &self,
        caller: &Caller,
        r: &'r Reservation,
        action: OperatorAction,
    ) -> Result<&'r yeyak_proto::reservations::events::v1::ReservationBooked, Status> {
        let not_found = || {
            status(
                Code::NotFound,
                "RESERVATION_NOT_FOUND",
                "reservation not found",
            )
        };
        let booked = r.booked.as_ref().ok_or_else(not_found)?;
        match caller.role {
            Role::Customer if booked.customer_id != caller.subject => Err(not_found()),
            Role::Customer => Ok(booked),
            _ => {
                let partner = Uuid::parse_str(&booked.partner_id).unwrap_or_default();
                let place = Uuid::parse_str(&booked.place_id).unwrap_or_default();
                caller.require_place(partner, place)?;
                self.require_operator(caller, &booked.partner_id, Some(&booked.place_id), action)
                    .await?;
                Ok(booked)
            }
        }
    }
}

/// A retry must ask for what the first request booked: a request id reused for another booking
/// is refused rather than answered with a reservation the caller did not ask for.
fn same_booking(
    existing: &Reservation,
    lines: &[(Uuid, u32)],
    answers: &[String],
) -> Result<(), Status> {
    let booked: Vec<(String, u32)> = existing
        .lines()
        .into_iter()
        .map(|l| (l.reservation_schedule_id, l.quantity))
        .collect();
    let asked: Vec<(String, u32)> = lines.iter().map(|(u, q)| (u.to_string(), *q)).collect();
    let same_answers = existing
        .booked
        .as_ref()
        .is_some_and(|b| b.answers == answers);
    if booked == asked && same_answers {
        Ok(())
    } else {
        Err(yeyak_kit::status::invalid_field(
            "request_id",
            "REQUEST_ID_REUSED",
            "this request_id already booked something else: use a new request_id for a new booking",
        ))
    }
}

/// Gives a booking's seats back in every inventory stream it holds them in (its unit's, or its
/// pool and price cap). Releasing never oversells, so it needs no expected version.
fn give_back(
    mut request: AppendRequest,
    releases: &Releases,
    id: impl Fn(u32) -> Uuid,
    cause: &Cause,
) -> AppendRequest {
    for (n, (stream, released)) in releases.iter().enumerate() {
        let event_id = id(if n == 0 { 1 } else { 30 + n as u32 });
        request = request.and(
            stream.clone(),
            ExpectedVersion::Any,
            vec![encode(event_id, released, cause)],
        );
    }
    request
}

/// What a reservation event owes the customer back.
fn refunded(event: &ReservationEvent) -> i64 {
    match event {
        ReservationEvent::Rejected(e) => e.refunded_krw,
        ReservationEvent::Cancelled(e) => e.refunded_krw,
        ReservationEvent::LinesCancelled(e) => e.refunded_krw,
        ReservationEvent::Expired(e) => e.refunded_krw,
        ReservationEvent::PaymentCancelled(e) => e.refunded_krw,
        _ => 0,
    }
}

/// Customers may only cancel; confirm, reject and complete are the partner's.
fn check_actor(caller: &Caller, action: &Action) -> Result<(), Status> {
    match (caller.role, action) {
        (Role::Customer, Action::Cancel { .. }) => Ok(()),
        (Role::Customer, _) => Err(status(
            Code::PermissionDenied,
            "PARTNER_ACTION",
            "only the partner may do this",
        )),
        _ => Ok(()),
    }
}

/// Consumes the catalog's events. A product's approval (and schedules added to a live product)
/// opens the inventory of each new reservation schedule, or re-opens one whose terms a newer
/// revision changed; a capacity change applies to the unit's inventory. Each in one append with
/// the inbox row.
///
/// In the pooled modes (per date-time, per date, per period) units share one quantity: it lives
/// on `pool-<product>-<inventory_key>`, and a price maximum across schedules on
/// `price-cap-<product>-<price_id>`; bookings hold seats there.
pub struct CatalogConsumer {
    log: Arc<dyn EventStore>,
    /// Reads of this service's streams (built once, not per event).
    app: Reservations,
}

/// What the catalog said about a product's units.
struct Units {
    request_expiry_minutes: u32,
    question_count: u32,
    class_product: bool,
    product_id: String,
    partner_id: String,
    place_id: String,
    confirmation_mode: i32,
    inventory_mode: i32,
    revision: u32,
    policy: Option<CancellationPolicy>,
    units: Vec<ReservationSchedule>,
    /// The pooled modes' shared quantities (empty per reservation schedule).
    pools: Vec<yeyak_proto::catalog::events::v1::InventoryPool>,
    /// Price maximums across schedules, by price id (`None`: not told, keep the last known).
    price_caps: Option<std::collections::HashMap<String, u32>>,
}

/// The stream of a shared pool.
pub fn pool_stream(product_id: &str, inventory_key: &str) -> String {
    format!("pool-{product_id}-{inventory_key}")
}

/// The stream of a price's maximum across schedules.
pub fn price_cap_stream(product_id: &str, price_id: &str) -> String {
    format!("price-cap-{product_id}-{price_id}")
}

fn payment_mode(mode: i32) -> Option<PaymentMode> {
    use yeyak_proto::catalog::events::v1::PaymentMode as Catalog;
    match Catalog::try_from(mode).ok()? {
        Catalog::PayAtBooking => Some(PaymentMode::PayAtBooking),
        Catalog::ReservationOnly => Some(PaymentMode::ReservationOnly),
        Catalog::Deposit => Some(PaymentMode::Deposit),
        Catalog::Unspecified => None,
    }
}

impl CatalogConsumer {
    pub const NAME: &'static str = "reservations-inventory";

    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self {
            app: Reservations::new(log.clone()),
            log,
        }
    }

    fn units(event: &RecordedEvent) -> Result<Option<Units>, HandlerError> {
        let poison = |e: yeyak_kit::events::DecodeError| HandlerError::Poison(e.to_string());
        if let Some(e) = decode_as::<ProductApproved>(event).map_err(poison)? {
            let def = e.definition.unwrap_or_default();
            return Ok(Some(Units {
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
            }));
        }
        if let Some(e) = decode_as::<SchedulesAdded>(event).map_err(poison)? {
            return Ok(e.live.then_some(Units {
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
            }));
        }
        Ok(None)
    }

    async fn open(&self, event: &RecordedEvent, units: Units) -> Result<(), HandlerError> {
        let pooled = units.inventory_mode != InventoryMode::PerReservationSchedule as i32;
        let cause = Cause::reaction(Self::NAME, event);
        let mut request = AppendRequest::default().with_inbox(Self::NAME, event.event_id);
        // Schedules added to a live product take the terms of the last approval.
        let (terms, terms_version) = self
            .app
            .latest::<ProductTerms>(&terms_stream(&units.product_id))
            .await
            .map_err(|s| HandlerError::Retry(s.to_string()))?;
        let ids: Vec<String> = units
            .units
            .iter()
            .map(|u| u.reservation_schedule_id.clone())
            .collect();
        // Units of the last approval that this one dropped are switched off.
        let dropped: Vec<String> = match (&terms, units.revision > 0) {
            (Some(t), true) => t
                .unit_ids
                .iter()
                .filter(|id| !ids.contains(id))
                .cloned()
                .collect(),
            _ => vec![],
        };
        let next = if units.revision > 0 {
            Some(ProductTerms {
                product_id: units.product_id.clone(),
                revision: units.revision,
                cancellation_policy: units.policy.clone(),
                request_expiry_minutes: units.request_expiry_minutes,
                class_product: units.class_product,
                price_caps: units.price_caps.clone().unwrap_or_default(),
                unit_ids: ids.clone(),
                question_count: units.question_count,
            })
        } else {
            // Schedules added to the live product join its units.
            terms.clone().map(|mut t| {
                for id in &ids {
                    if !t.unit_ids.contains(id) {
                        t.unit_ids.push(id.clone());
                    }
                }
                t
            })
        };
        if let Some(next) = next
            && terms.as_ref() != Some(&next)
        {
            let id = derived_id(Self::NAME, &event.event_id.to_string(), u32::MAX);
            request = request.and(
                terms_stream(&units.product_id),
                expected(terms_version),
                vec![encode(id, &next, &cause)],
            );
        }
        // Pooled modes: each shared quantity opens once (later changes come as capacity
        // changes); a price maximum follows the latest approval.
        let caps = units
            .price_caps
            .clone()
            .or_else(|| {
                terms
                    .as_ref()
                    .map(|t| t.price_caps.clone().into_iter().collect())
            })
            .unwrap_or_default();
        if pooled {
            let app = &self.app;
            let mut shared: Vec<(String, u32, bool)> = units
                .pools
                .iter()
                .map(|p| {
                    (
                        pool_stream(&units.product_id, &p.inventory_key),
                        p.capacity,
                        false,
                    )
                })
                .collect();
            shared.extend(
                caps.iter()
                    .map(|(price, cap)| (price_cap_stream(&units.product_id, price), *cap, true)),
            );
            for (n, (stream, capacity, follows)) in shared.into_iter().enumerate() {
                let (current, version) = app
                    .inventory_at(&stream)
                    .await
                    .map_err(|s| HandlerError::Retry(s.to_string()))?;
                let open = current.pool_capacity.is_none()
                    || (follows && current.pool_capacity != Some(capacity));
                if open {
                    let id = derived_id(
                        Self::NAME,
                        &event.event_id.to_string(),
                        1_000_000 + n as u32,
                    );
                    request = request.and(
                        stream,
                        expected(version),
                        vec![encode(id, &PoolCapacitySet { capacity }, &cause)],
                    );
                }
            }
        }
        let all: Vec<&str> = ids.iter().chain(&dropped).map(String::as_str).collect();
        self.reopen(event, request, &all, |n, current| {
            let Some(u) = units.units.get(n) else {
                // Dropped by this revision: no longer shown nor bookable; its holds stay.
                return Ok(current.map(|o| InventoryOpened {
                    visible: false,
                    ..o.clone()
                }));
            };
            let Some(payment_mode) = payment_mode(u.payment_mode) else {
                return Err(HandlerError::Poison(format!(
                    "unit {} has no payment mode",
                    u.reservation_schedule_id
                )));
            };
            Ok(Some(InventoryOpened {
                reservation_schedule_id: u.reservation_schedule_id.clone(),
                product_id: units.product_id.clone(),
                partner_id: units.partner_id.clone(),
                place_id: units.place_id.clone(),
                starts_at: u.starts_at,
                // Capacity moves only by the catalog's capacity changes once open.
                capacity: current.map_or(u.capacity, |o| o.capacity),
                price_krw: u.price_krw,
                requires_approval: units.confirmation_mode == ConfirmationMode::Approval as i32,
                payment_mode: payment_mode as i32,
                ends_at: u.ends_at,
                booking_opens_at: u.booking_opens_at,
                booking_closes_at: u.booking_closes_at,
                min_headcount: u.min_headcount,
                max_headcount: u.max_headcount,
                headcount_multiple: u.headcount_multiple,
                // Schedules added later share the product's live policy and revision.
                revision: units.revision.max(terms.as_ref().map_or(0, |t| t.revision)),
                cancellation_policy: units
                    .policy
                    .clone()
                    .or_else(|| terms.as_ref().and_then(|t| t.cancellation_policy.clone())),
                visible: u.visible,
                request_expiry_minutes: if units.revision == 0 {
                    terms.as_ref().map_or(0, |t| t.request_expiry_minutes)
                } else {
                    units.request_expiry_minutes
                },
                question_count: if units.revision == 0 {
                    terms.as_ref().map_or(0, |t| t.question_count)
                } else {
                    units.question_count
                },
                class_product: if units.revision == 0 {
                    terms.as_ref().is_some_and(|t| t.class_product)
                } else {
                    units.class_product
                },
                pool_stream: if pooled {
                    pool_stream(&units.product_id, &u.inventory_key)
                } else {
                    String::new()
                },
                price_cap_stream: if pooled && caps.contains_key(&u.price_id) {
                    price_cap_stream(&units.product_id, &u.price_id)
                } else {
                    String::new()
                },
            }))
        })
        .await
    }

    /// Appends, with `request` (the inbox row and any other stream), the terms `next` gives each
    /// unit where they differ from what is stored; `None` leaves a unit alone.
    async fn reopen(
        &self,
        event: &RecordedEvent,
        mut request: AppendRequest,
        ids: &[&str],
        mut next: impl FnMut(
            usize,
            Option<&InventoryOpened>,
        ) -> Result<Option<InventoryOpened>, HandlerError>,
    ) -> Result<(), HandlerError> {
        let cause = Cause::reaction(Self::NAME, event);
        for (n, id) in ids.iter().enumerate() {
            let (inventory, version) = self
                .inventory_of(id)
                .await
                .map_err(|s| HandlerError::Retry(s.to_string()))?;
            let Some(opened) = next(n, inventory.opened.as_ref())? else {
                continue;
            };
            if inventory.opened.as_ref() == Some(&opened) {
                continue;
            }
            let event_id = derived_id(Self::NAME, &event.event_id.to_string(), n as u32);
            request = request.and(
                inventory_stream(id),
                expected(version),
                vec![encode(event_id, &opened, &cause)],
            );
        }
        if request.streams.is_empty() {
            return Ok(());
        }
        HandlerError::from_append(self.log.append(request).await)
    }

    /// Appends the product's new availability picture, changed by `change`.
    async fn product_availability(
        &self,
        event: &RecordedEvent,
        product_id: &str,
        change: impl FnOnce(&mut ProductAvailabilityChanged),
    ) -> Result<(), HandlerError> {
        let (latest, version) = self
            .app
            .latest::<ProductAvailabilityChanged>(&product_stream(product_id))
            .await
            .map_err(|s| HandlerError::Retry(s.to_string()))?;
        let mut next = latest.unwrap_or_else(|| ProductAvailabilityChanged {
            product_id: product_id.to_string(),
            ..Default::default()
        });
        change(&mut next);
        self.append_one(event, product_stream(product_id), version, &next)
            .await
    }

    async fn append_one<M: prost::Message + prost::Name>(
        &self,
        event: &RecordedEvent,
        stream: String,
        version: Option<u64>,
        message: &M,
    ) -> Result<(), HandlerError> {
        let cause = Cause::reaction(Self::NAME, event);
        let id = derived_id(Self::NAME, &event.event_id.to_string(), 0);
        let request =
            AppendRequest::single(stream, expected(version), vec![encode(id, message, &cause)])
                .with_inbox(Self::NAME, event.event_id);
        HandlerError::from_append(self.log.append(request).await)
    }

    /// Units switched ON or OFF: each opened unit is re-opened with its new visibility.
    async fn visibility(
        &self,
        event: &RecordedEvent,
        e: VisibilitySet,
    ) -> Result<(), HandlerError> {
        let request = AppendRequest::default().with_inbox(Self::NAME, event.event_id);
        let ids: Vec<&str> = e
            .units
            .iter()
            .map(|u| u.reservation_schedule_id.as_str())
            .collect();
        self.reopen(event, request, &ids, |n, current| {
            Ok(current.map(|o| InventoryOpened {
                visible: e.units[n].visible,
                ..o.clone()
            }))
        })
        .await
    }

    async fn inventory_of(&self, id: &str) -> Result<(Inventory, Option<u64>), Status> {
        self.app.inventory(id).await
    }

    async fn change_capacity(
        &self,
        event: &RecordedEvent,
        e: CapacityChanged,
    ) -> Result<(), HandlerError> {
        // Per reservation schedule, the pool is the unit: its key is the unit's id. Pooled modes
        // keep the quantity on the pool's stream.
        let (inventory, version) = self
            .inventory_of(&e.inventory_key)
            .await
            .map_err(|s| HandlerError::Retry(s.to_string()))?;
        if inventory.opened.is_none() {
            let pool = pool_stream(&e.product_id, &e.inventory_key);
            let (shared, version) = self
                .app
                .inventory_at(&pool)
                .await
                .map_err(|s| HandlerError::Retry(s.to_string()))?;
            if shared.pool_capacity.is_none() {
                return Ok(());
            }
            let set = PoolCapacitySet {
                capacity: e.capacity,
            };
            return self.append_one(event, pool, version, &set).await;
        }
        let cause = Cause::reaction(Self::NAME, event);
        let id = derived_id(Self::NAME, &event.event_id.to_string(), 0);
        let request = AppendRequest::single(
            inventory_stream(&e.inventory_key),
            expected(version),
            vec![encode(
                id,
                &InventoryCapacityChanged {
                    capacity: e.capacity,
                },
                &cause,
            )],
        )
        .with_inbox(Self::NAME, event.event_id);
        HandlerError::from_append(self.log.append(request).await)
    }
}

#[async_trait::async_trait]
impl EventHandler for CatalogConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        if let Some(units) = Self::units(event)? {
            return self.open(event, units).await;
        }
        let poison = |e: yeyak_kit::events::DecodeError| HandlerError::Poison(e.to_string());
        if let Some(e) = decode_as::<CapacityChanged>(event).map_err(poison)? {
            return self.change_capacity(event, e).await;
        }
        if let Some(e) = decode_as::<VisibilitySet>(event).map_err(poison)? {
            return self.visibility(event, e).await;
        }
        if let Some(e) = decode_as::<ProductStatusSet>(event).map_err(poison)? {
            let status = e.status;
            return self
                .product_availability(event, &e.product_id, |a| a.status = status)
                .await;
        }
        if let Some(e) = decode_as::<ProductSanctioned>(event).map_err(poison)? {
            return self
                .product_availability(event, &e.product_id, |a| a.sanctioned = true)
                .await;
        }
        if let Some(e) = decode_as::<ProductDeleted>(event).map_err(poison)? {
            return self
                .product_availability(event, &e.product_id, |a| a.deleted = true)
                .await;
        }
        let paused = if let Some(e) = decode_as::<PlacePaused>(event).map_err(poison)? {
            Some((e.place_id, true))
        } else {
            decode_as::<PlaceResumed>(event)
                .map_err(poison)?
                .map(|e| (e.place_id, false))
        };
        if let Some((place_id, paused)) = paused {
            let (_, version) = self
                .app
                .latest::<PlaceAvailabilityChanged>(&place_stream(&place_id))
                .await
                .map_err(|s| HandlerError::Retry(s.to_string()))?;
            let fact = PlaceAvailabilityChanged {
                place_id: place_id.clone(),
                paused,
            };
            return self
                .append_one(event, place_stream(&place_id), version, &fact)
                .await;
        }
        if let Some(e) = decode_as::<OperatorInvited>(event).map_err(poison)? {
            let record = OperatorRecorded {
                partner_id: e.partner_id.clone(),
                operator_id: e.operator_id,
                role: e.role,
                all_places: e.all_places,
                place_ids: e.place_ids,
                active: false,
            };
            return self
                .record_operator(event, &e.partner_id, |_| Some(record))
                .await;
        }
        if let Some(e) = decode_as::<OperatorAccepted>(event).map_err(poison)? {
            return self
                .record_operator(event, &e.partner_id, |operators| {
                    let mut known = operators.by_id.get(&e.operator_id)?.clone();
                    known.active = true;
                    Some(known)
                })
                .await;
        }
        // Other catalog facts do not concern booking.
        Ok(())
    }
}

impl CatalogConsumer {
    /// Records an operator's new picture on `operators-<partner>` (nothing when `change` has
    /// none: an acceptance of an invitation never seen).
    async fn record_operator(
        &self,
        event: &RecordedEvent,
        partner_id: &str,
        change: impl FnOnce(&Operators) -> Option<OperatorRecorded>,
    ) -> Result<(), HandlerError> {
        let (operators, version) = self
            .app
            .operators(partner_id)
            .await
            .map_err(|s| HandlerError::Retry(s.to_string()))?;
        let Some(record) = change(&operators) else {
            tracing::warn!(partner_id, event_id = %event.event_id, "an operator accepted an invitation this service never saw");
            return Ok(());
        };
        self.append_one(event, operators_stream(partner_id), version, &record)
            .await
    }
}
