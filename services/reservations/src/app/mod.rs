//! The reservations' application layer: which streams each command reads and writes, handed to
//! the kit's command runner — booking ([`booking`], with its lanes and the payment), the
//! lifecycle ([`lifecycle`]), refunds ([`refunds`]), the partner's settings
//! ([`partner_settings`]) — the consumers ([`catalog_consumer`], [`scheduling`], [`listing`]) and
//! the queries ([`Reservations`]).
pub mod booking;
pub mod catalog_consumer;
pub mod gateway;
pub mod lifecycle;
pub mod listing;
pub mod partner_settings;
pub mod refunds;
pub mod scheduling;
pub mod streams;
mod upcast;

use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::{EventStore, RecordedEvent};
use yeyak_kit::{
    access::{Operators, load_operators},
    auth::{Caller, Role},
    clock::SharedClock,
    command::{self, Reads, Runner},
};

use crate::domain::{
    ReservationError,
    access::{self, OperatorAction},
    payment::Payment,
    reservation::Reservation,
};
use gateway::{PaymentGateway, SimulatedGateway};

/// Why a reservations command or query did not complete.
pub type Error = command::Error<ReservationError>;

impl From<ReservationError> for Error {
    fn from(e: ReservationError) -> Self {
        Error::Refused(e)
    }
}

/// The reservations service over its own event log.
#[derive(Clone)]
pub struct Reservations {
    runner: Runner,
    gateway: Arc<dyn PaymentGateway>,
    lanes: booking::Lanes,
}

impl Reservations {
    /// Event ids of the reservations' commands derive within this namespace.
    pub const NAMESPACE: &'static str = "reservations";

    /// Over `log`, with a simulated payment provider that never fails.
    pub fn new(log: Arc<dyn EventStore>, clock: SharedClock) -> Self {
        Self::with_gateway(log, clock, Arc::new(SimulatedGateway::default()))
    }

    /// Over `log`, taking payments through `gateway`.
    pub fn with_gateway(
        log: Arc<dyn EventStore>,
        clock: SharedClock,
        gateway: Arc<dyn PaymentGateway>,
    ) -> Self {
        Self {
            runner: Runner::new(log, clock, Self::NAMESPACE).with_attempts(booking::ATTEMPTS),
            gateway,
            lanes: booking::Lanes::default(),
        }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    pub fn log(&self) -> &Arc<dyn EventStore> {
        self.runner.log()
    }

    pub fn now_us(&self) -> i64 {
        self.runner.clock().now_us()
    }

    fn reads(&self) -> Reads<'_> {
        Reads::new(&**self.runner.log())
    }

    /// The reservation rebuilt by folding its stream, with the stream's version.
    pub async fn reservation(&self, id: Uuid) -> Result<(Reservation, Option<u64>), Error> {
        let mut reads = self.reads();
        let r = streams::load_reservation(&mut reads, id).await?;
        Ok((r, reads.version(&streams::reservation(id)).flatten()))
    }

    /// The reservation after its first `version` events.
    pub async fn reservation_at(&self, id: Uuid, version: u64) -> Result<Reservation, Error> {
        let mut reads = self.reads();
        Ok(streams::reservation_until(&mut reads, id, Some(version)).await?)
    }

    /// A quantity seats are held in: a unit's, a shared pool's, a price cap's.
    pub async fn inventory(
        &self,
        pool: &crate::domain::inventory::Pool,
    ) -> Result<crate::domain::inventory::Inventory, Error> {
        Ok(streams::load_pool(&mut self.reads(), pool).await?)
    }

    /// The payment of a reservation, folded from its own stream.
    pub async fn payment(&self, reservation_id: Uuid) -> Result<Payment, Error> {
        Ok(streams::load_payment(&mut self.reads(), reservation_id).await?)
    }

    /// The partner's operators as this service learned them (`None`: not yet).
    pub async fn operators(&self, partner_id: &str) -> Result<Option<Operators>, Error> {
        Ok(load_operators(&mut self.reads(), partner_id).await?)
    }

    /// A reservation the caller may see: now, or as it was at `as_of_us` (the fold of the events
    /// recorded up to then), with its version.
    pub async fn get(
        &self,
        caller: &Caller,
        id: Uuid,
        as_of_us: Option<i64>,
    ) -> Result<(Reservation, u64), Error> {
        let (r, version) = self.reservation(id).await?;
        self.may_read(caller, &r).await?;
        let Some(as_of) = as_of_us else {
            return Ok((r, version.unwrap_or(0)));
        };
        let events = self.history_of(id).await?;
        let then: Vec<&RecordedEvent> = events
            .iter()
            .filter(|e| e.recorded_at_us <= as_of)
            .collect();
        let Some(last) = then.last() else {
            return Err(Error::Refused(ReservationError::NotYetBooked));
        };
        let r = self.reservation_at(id, last.stream_version).await?;
        Ok((r, last.stream_version))
    }

    /// Every event of a reservation the caller may see, oldest first.
    pub async fn history(&self, caller: &Caller, id: Uuid) -> Result<Vec<RecordedEvent>, Error> {
        let (r, _) = self.reservation(id).await?;
        self.may_read(caller, &r).await?;
        self.history_of(id).await
    }

    async fn history_of(&self, id: Uuid) -> Result<Vec<RecordedEvent>, Error> {
        let (events, _) = command::fold_stream(
            &**self.log(),
            &streams::reservation(id),
            Vec::new(),
            |all, e| {
                all.push(e.clone());
                Ok(())
            },
        )
        .await?;
        Ok(events)
    }

    /// A customer reads their own reservations; an operator those of its granted places.
    async fn may_read(&self, caller: &Caller, r: &Reservation) -> Result<(), Error> {
        let booked = r
            .booked
            .as_ref()
            .ok_or(Error::Refused(ReservationError::ReservationNotFound))?;
        let operators = match caller.role {
            Role::PartnerOperator => self.operators(&booked.partner_id).await?,
            _ => None,
        };
        access::authorize(
            caller,
            booked,
            operators.as_ref(),
            OperatorAction::Read,
            false,
        )
        .map_err(Error::Refused)
    }
}
