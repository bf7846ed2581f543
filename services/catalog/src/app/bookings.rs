//! Learns each product's reservations from the reservations' events: every reservation fact is
//! tracked on the product's bookings stream (held, released, completed), with its inbox row,
//! through the command runner.
use uuid::Uuid;
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    command::{Aggregate, Command, Decision, Error, Origin, Reads, Runner},
    events::EventSet,
};
use yeyak_proto::catalog::events::v1::ReservationTracked;
use yeyak_transport::{EventHandler, HandlerError};

use super::streams;
use crate::domain::{
    CatalogError,
    bookings::{Bookings, BookingsCommand, ReservationFact, tracked},
};

/// Consumes the reservations' events into `product-bookings-<product>`.
pub struct ReservationConsumer {
    runner: Runner,
}

impl ReservationConsumer {
    pub const NAME: &'static str = "catalog-bookings";

    pub fn new(runner: Runner) -> Self {
        Self { runner }
    }
}

/// Records a reservation fact. The order of facts of different reservations does not matter,
/// so the fact is appended after whatever the stream holds.
struct Track {
    product_id: Uuid,
    fact: ReservationTracked,
}

#[async_trait::async_trait]
impl Command for Track {
    type State = ();
    type Output = ();
    type Error = CatalogError;

    async fn load(&self, _: &mut Reads<'_>) -> Result<(), Error<CatalogError>> {
        Ok(())
    }

    fn decide(&self, _: (), _now_us: i64) -> Result<Decision<()>, Error<CatalogError>> {
        let events = Bookings::default()
            .decide(BookingsCommand::Track(self.fact.clone()), &())
            .map_err(Error::Refused)?;
        let stream = streams::bookings(self.product_id);
        Ok(events.into_iter().fold(Decision::new(()), |d, e| {
            d.emit_unordered(stream.clone(), &e)
        }))
    }
}

#[async_trait::async_trait]
impl EventHandler for ReservationConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    /// A fact is appended after whatever the product's stream holds and reads nothing: facts of
    /// different reservations (the default ordering key) are tracked at once.
    fn concurrency(&self) -> usize {
        16
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(fact) = ReservationFact::decode(event)
            .map_err(|e| HandlerError::Poison(e.to_string()))?
            .map(tracked)
        else {
            return Ok(());
        };
        let Ok(product_id) = Uuid::parse_str(&fact.product_id) else {
            return Err(HandlerError::Poison(format!(
                "{} names no product",
                event.event_type
            )));
        };
        self.runner
            .run(
                &Origin::reaction(Self::NAME, event),
                &Track { product_id, fact },
            )
            .await?;
        Ok(())
    }
}
