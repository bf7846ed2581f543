//! Consumes the catalog's events: what they mean for booking is decided in
//! [`crate::domain::catalog_terms`]; this reads what each touches and appends it, with the inbox
//! row, through the command runner. The partner's operators are learned by the kit's
//! [`yeyak_kit::access::OperatorDirectory`], a consumer of its own.
use std::collections::BTreeMap;

use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    command::{Command, Decision, Error as Failed, Origin, Reads, Runner},
    events::EventSet,
};
use yeyak_proto::{
    catalog::events::v1::{
        CapacityChanged, PlacePaused, PlaceResumed, ProductApproved, ProductDeleted,
        ProductSanctioned, ProductStatusSet, SchedulesAdded, VisibilitySet,
    },
    reservations::events::v1::{
        PlaceAvailabilityChanged, ProductAvailabilityChanged, ProductTerms,
    },
};
use yeyak_transport::{EventHandler, HandlerError};

use super::streams;
use crate::domain::{
    ReservationError,
    catalog_terms::{self, CatalogUnits, ProductFact},
    inventory::{Inventory, Pool},
};

/// The catalog facts booking depends on.
enum Fact {
    /// An approval, or schedules added to the live product.
    Units(Box<CatalogUnits>),
    Capacity(CapacityChanged),
    Visibility(VisibilitySet),
    Product {
        product_id: String,
        fact: ProductFact,
    },
    Place {
        place_id: String,
        paused: bool,
    },
}

yeyak_kit::event_set! {
    /// The catalog's events booking depends on.
    enum CatalogEvent {
        Approved(ProductApproved),
        SchedulesAdded(SchedulesAdded),
        Capacity(CapacityChanged),
        Visibility(VisibilitySet),
        Status(ProductStatusSet),
        Sanctioned(ProductSanctioned),
        Deleted(ProductDeleted),
        Paused(PlacePaused),
        Resumed(PlaceResumed),
    }
}

fn fact_of(event: CatalogEvent) -> Option<Fact> {
    let product = |product_id: String, fact| Fact::Product { product_id, fact };
    let place = |place_id: String, paused| Fact::Place { place_id, paused };
    Some(match event {
        CatalogEvent::Approved(e) => Fact::Units(Box::new(CatalogUnits::approved(e))),
        CatalogEvent::SchedulesAdded(e) => Fact::Units(Box::new(CatalogUnits::added(e)?)),
        CatalogEvent::Capacity(e) => Fact::Capacity(e),
        CatalogEvent::Visibility(e) => Fact::Visibility(e),
        CatalogEvent::Status(e) => product(e.product_id, ProductFact::Status(e.status)),
        CatalogEvent::Sanctioned(e) => product(e.product_id, ProductFact::Sanctioned),
        CatalogEvent::Deleted(e) => product(e.product_id, ProductFact::Deleted),
        CatalogEvent::Paused(e) => place(e.place_id, true),
        CatalogEvent::Resumed(e) => place(e.place_id, false),
    })
}

/// A catalog fact applied: what it touches read, the change decided, appended.
struct Apply {
    fact: Fact,
}

/// What a fact touches, as stored.
#[derive(Default)]
struct Touched {
    terms: Option<ProductTerms>,
    units: BTreeMap<String, Inventory>,
    pools: BTreeMap<Pool, Inventory>,
    product: Option<ProductAvailabilityChanged>,
}

#[async_trait::async_trait]
impl Command for Apply {
    type State = Touched;
    type Output = ();
    type Error = ReservationError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Touched, Failed<ReservationError>> {
        let mut touched = Touched::default();
        match &self.fact {
            Fact::Units(units) => {
                touched.terms = reads
                    .latest::<ProductTerms>(&streams::terms(&units.product_id))
                    .await?;
                for id in units.units_touched(touched.terms.as_ref()) {
                    let unit = streams::load_pool(reads, &Pool::Unit(id.clone())).await?;
                    touched.units.insert(id, unit);
                }
                for (pool, _, _) in units.pools_touched(touched.terms.as_ref()) {
                    let shared = streams::load_pool(reads, &pool).await?;
                    touched.pools.insert(pool, shared);
                }
            }
            Fact::Capacity(e) => {
                let unit = Pool::Unit(e.inventory_key.clone());
                touched.units.insert(
                    e.inventory_key.clone(),
                    streams::load_pool(reads, &unit).await?,
                );
                let pool = Pool::Shared {
                    product_id: e.product_id.clone(),
                    key: e.inventory_key.clone(),
                };
                let shared = streams::load_pool(reads, &pool).await?;
                touched.pools.insert(pool, shared);
            }
            Fact::Visibility(e) => {
                for u in &e.units {
                    let id = u.reservation_schedule_id.clone();
                    let unit = streams::load_pool(reads, &Pool::Unit(id.clone())).await?;
                    touched.units.insert(id, unit);
                }
            }
            Fact::Product { product_id, .. } => {
                touched.product = reads
                    .latest::<ProductAvailabilityChanged>(&streams::product(product_id))
                    .await?;
            }
            Fact::Place { place_id, .. } => {
                reads
                    .latest::<PlaceAvailabilityChanged>(&streams::place(place_id))
                    .await?;
            }
        }
        Ok(touched)
    }

    fn decide(&self, t: Touched, _now_us: i64) -> Result<Decision<()>, Failed<ReservationError>> {
        let mut out = Decision::new(());
        match &self.fact {
            Fact::Units(units) => {
                let opening = catalog_terms::open(units, t.terms.as_ref(), &t.units, &t.pools)
                    .map_err(|e| {
                        Failed::Refused(ReservationError::invalid(
                            "reservation_schedules",
                            "MALFORMED_CATALOG_FACT",
                            e.to_string(),
                        ))
                    })?;
                if let Some(terms) = opening.terms {
                    out = out.emit(streams::terms(&units.product_id), &terms);
                }
                for (pool, set) in opening.pools {
                    out = out.emit(streams::pool(&pool), &set);
                }
                for (id, opened) in opening.units {
                    out = out.emit(streams::pool(&Pool::Unit(id)), &opened);
                }
            }
            Fact::Capacity(e) => {
                let unit = t.units.get(&e.inventory_key).cloned().unwrap_or_default();
                let pool = t.pools.values().next().cloned().unwrap_or_default();
                if let Some((pool, event)) = catalog_terms::capacity(e, &unit, &pool) {
                    out = out.emit(streams::pool(&pool), &event);
                }
            }
            Fact::Visibility(e) => {
                for (id, opened) in catalog_terms::visibility(e, &t.units) {
                    out = out.emit(streams::pool(&Pool::Unit(id)), &opened);
                }
            }
            Fact::Product { product_id, fact } => {
                let next = catalog_terms::availability_after(t.product, product_id, *fact);
                out = out.emit(streams::product(product_id), &next);
            }
            Fact::Place { place_id, paused } => {
                let fact = PlaceAvailabilityChanged {
                    place_id: place_id.clone(),
                    paused: *paused,
                };
                out = out.emit(streams::place(place_id), &fact);
            }
        }
        Ok(out)
    }
}

/// Consumes the catalog's events into this service's inventory and availability streams.
pub struct CatalogConsumer {
    runner: Runner,
}

impl CatalogConsumer {
    pub const NAME: &'static str = "reservations-inventory";

    pub fn new(runner: Runner) -> Self {
        Self { runner }
    }
}

#[async_trait::async_trait]
impl EventHandler for CatalogConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let decoded =
            CatalogEvent::decode(event).map_err(|e| HandlerError::Poison(e.to_string()))?;
        // Other catalog facts (and schedules added to a draft) do not concern booking.
        let Some(fact) = decoded.and_then(fact_of) else {
            return Ok(());
        };
        let apply = Apply { fact };
        self.runner
            .run(&Origin::reaction(Self::NAME, event), &apply)
            .await?;
        Ok(())
    }
}
