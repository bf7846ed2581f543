//! The catalog's application layer: which streams each command reads and writes, handed to the
//! kit's command runner ([`commands`]); the queries ([`Catalog`]); the consumer that learns a
//! product's reservations ([`bookings`]).
pub mod bookings;
pub mod commands;
pub mod sellers;
pub mod streams;

use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::EventStore;
use yeyak_kit::{
    auth::Caller,
    clock::SharedClock,
    command::{self, Origin, Ran, Runner},
};

pub use commands::{OnPartner, OnPlace, OnProduct, PartnerAuth};

use crate::domain::{
    CatalogError, Entity,
    access::{self, Action},
    bookings::Bookings,
    display::{self, Displayed},
    partner::Partner,
    place::Place,
    product::{self, Product},
};

/// Why a catalog command or query did not complete.
pub type Error = command::Error<CatalogError>;

/// The catalog over its own event log.
#[derive(Clone)]
pub struct Catalog {
    runner: Runner,
}

/// Everything a product's views need.
pub struct ProductView {
    pub product: Product,
    pub place: Place,
    pub bookings: Bookings,
    pub partner: Partner,
    pub displayed: Displayed,
    /// When the view was taken, by the service's clock.
    pub now_us: i64,
}

impl Catalog {
    /// Event ids of the catalog's commands derive within this namespace.
    pub const NAMESPACE: &'static str = "catalog";

    pub fn new(log: Arc<dyn EventStore>, clock: SharedClock) -> Self {
        Self {
            runner: Runner::new(log, clock, Self::NAMESPACE),
        }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    fn log(&self) -> &dyn EventStore {
        &**self.runner.log()
    }

    /// Runs a command for `origin`.
    pub async fn run<C>(&self, origin: &Origin, command: &C) -> Result<Ran<C::Output>, Error>
    where
        C: command::Command<Error = CatalogError>,
    {
        self.runner.run(origin, command).await
    }

    pub async fn partner(&self, id: Uuid) -> Result<Partner, Error> {
        Ok(command::aggregate(self.log(), &streams::partner(id))
            .await?
            .0)
    }

    pub async fn place(&self, id: Uuid) -> Result<Place, Error> {
        Ok(command::aggregate(self.log(), &streams::place(id)).await?.0)
    }

    pub async fn product(&self, id: Uuid) -> Result<Product, Error> {
        Ok(command::aggregate(self.log(), &streams::product(id))
            .await?
            .0)
    }

    pub async fn bookings(&self, id: Uuid) -> Result<Bookings, Error> {
        Ok(command::aggregate(self.log(), &streams::bookings(id))
            .await?
            .0)
    }

    /// A product with its place, its partner, its bookings and its displayed state now.
    pub async fn product_view(&self, id: Uuid) -> Result<ProductView, Error> {
        let product = self.product(id).await?;
        let Some(r) = &product.registered else {
            return Err(Error::Refused(CatalogError::NotFound(Entity::Product)));
        };
        let (place_id, partner_id) = (streams::id_of(&r.place_id), streams::id_of(&r.partner_id));
        let place = self.place(place_id).await?;
        let bookings = self.bookings(id).await?;
        let partner = self.partner(partner_id).await?;
        let now_us = self.runner.clock().now_us();
        let displayed = product::displayed(&product, &place, &bookings, now_us);
        Ok(ProductView {
            product,
            place,
            bookings,
            partner,
            displayed,
            now_us,
        })
    }

    /// Whether `caller` may do `action` for the partner: staff and services pass; an operator's
    /// token and its record on the partner's stream must agree.
    pub async fn authorize(
        &self,
        caller: &Caller,
        partner_id: Uuid,
        action: Action<'_>,
    ) -> Result<(), Error> {
        let partner = self.partner(partner_id).await?;
        access::authorize(caller, &partner_id.to_string(), &partner, action).map_err(Error::Refused)
    }

    /// The public place page: shown products in the partner's order.
    pub async fn place_page(&self, place_id: Uuid) -> Result<(Place, Vec<ProductView>), Error> {
        let place = self.place(place_id).await?;
        if place.registered.is_none() || !place.operating() {
            return Err(Error::Refused(CatalogError::NotFound(Entity::Place)));
        }
        let mut shown = Vec::new();
        for id in &place.product_order {
            let view = self.product_view(streams::id_of(id)).await?;
            if display::shown_on_place_page(view.displayed) && !view.product.deleted {
                shown.push(view);
            }
        }
        Ok((place, shown))
    }
}
