//! Catalog command handlers: load the streams, decide, append.
use std::sync::Arc;

use tonic::Status;
use uuid::Uuid;
use yeyak_eventlog::{AppendRequest, EventStore};
use yeyak_kit::{
    auth::Caller,
    events::{Cause, decode_as, derived_id, encode, expected, load},
    status::{from_append, from_load},
};
use yeyak_proto::catalog::events::v1::{PartnerRegistered, PlaceRegistered, ProductRegistered};

use crate::domain::{
    partner::{self, Partner, RegisterPartner},
    place::{self, Place, RegisterPlace},
    product::{self, Product, RegisterProduct},
};

pub fn partner_stream(id: Uuid) -> String {
    format!("partner-{id}")
}
pub fn place_stream(id: Uuid) -> String {
    format!("place-{id}")
}
pub fn product_stream(id: Uuid) -> String {
    format!("product-{id}")
}

/// The catalog application service over its own event log.
#[derive(Clone)]
pub struct Catalog {
    log: Arc<dyn EventStore>,
}

fn cause(caller: &Caller, request_id: Uuid) -> Cause {
    Cause::command(
        caller.actor(),
        request_id,
        jiff::Timestamp::now().as_microsecond(),
    )
}

impl Catalog {
    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self { log }
    }

    pub fn log(&self) -> &Arc<dyn EventStore> {
        &self.log
    }

    /// Folds a stream whose events are all of type `E`.
    async fn fold<S: Default, E: prost::Message + prost::Name + Default>(
        &self,
        stream: &str,
        apply: fn(&mut S, E),
    ) -> Result<(S, Option<u64>), Status> {
        load(&*self.log, stream, S::default(), |s, e| {
            if let Some(ev) = decode_as::<E>(e)? {
                apply(s, ev);
            }
            Ok(())
        })
        .await
        .map_err(from_load)
    }

    pub async fn partner(&self, id: Uuid) -> Result<(Partner, Option<u64>), Status> {
        self.fold(&partner_stream(id), Partner::apply).await
    }

    pub async fn place(&self, id: Uuid) -> Result<(Place, Option<u64>), Status> {
        self.fold(&place_stream(id), Place::apply).await
    }

    pub async fn product(&self, id: Uuid) -> Result<(Product, Option<u64>), Status> {
        self.fold(&product_stream(id), Product::apply).await
    }

    /// Appends the events that create an entity's stream and returns the first.
    async fn create<E: prost::Message + prost::Name>(
        &self,
        caller: &Caller,
        request_id: Uuid,
        stream: String,
        version: Option<u64>,
        events: Vec<E>,
    ) -> Result<E, Status> {
        let cause = cause(caller, request_id);
        let new = events
            .iter()
            .enumerate()
            .map(|(n, e)| encode(derived_id("catalog", &stream, n as u32), e, &cause))
            .collect();
        self.log
            .append(AppendRequest::single(stream, expected(version), new))
            .await
            .map_err(from_append)?;
        Ok(events.into_iter().next().expect("a creation has one event"))
    }

    /// Onboards a partner. A retry of the same request returns the registered partner.
    pub async fn register_partner(
        &self,
        caller: &Caller,
        request_id: Uuid,
        cmd: RegisterPartner,
    ) -> Result<PartnerRegistered, Status> {
        let id = cmd.partner_id;
        let (state, version) = self.partner(id).await?;
        if let Some(existing) = state.registered.clone() {
            return Ok(existing);
        }
        let events = partner::register(&state, cmd).map_err(crate::api::domain_status)?;
        self.create(caller, request_id, partner_stream(id), version, events)
            .await
    }

    /// Registers a place; the caller must act for its partner.
    pub async fn register_place(
        &self,
        caller: &Caller,
        request_id: Uuid,
        cmd: RegisterPlace,
    ) -> Result<PlaceRegistered, Status> {
        caller.require_partner(cmd.partner_id)?;
        let (state, version) = self.place(cmd.place_id).await?;
        if let Some(existing) = state.registered.clone() {
            return Ok(existing);
        }
        let (partner, _) = self.partner(cmd.partner_id).await?;
        let stream = place_stream(cmd.place_id);
        let events = place::register(&state, &partner, cmd).map_err(crate::api::domain_status)?;
        self.create(caller, request_id, stream, version, events)
            .await
    }

    /// Registers a product of a place the caller was granted.
    pub async fn register_product(
        &self,
        caller: &Caller,
        request_id: Uuid,
        cmd: RegisterProduct,
    ) -> Result<ProductRegistered, Status> {
        let (state, version) = self.product(cmd.product_id).await?;
        if let Some(existing) = state.registered.clone() {
            return Ok(existing);
        }
        let (place, _) = self.place(cmd.place_id).await?;
        if let Some(p) = &place.registered {
            let partner_id = Uuid::parse_str(&p.partner_id).unwrap_or_default();
            caller.require_place(partner_id, cmd.place_id)?;
        }
        let stream = product_stream(cmd.product_id);
        let now = jiff::Timestamp::now().as_microsecond();
        let events =
            product::register(&state, &place, cmd, now).map_err(crate::api::domain_status)?;
        self.create(caller, request_id, stream, version, events)
            .await
    }
}
