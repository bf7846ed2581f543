//! Catalog command handlers (load the streams → authorise → decide → append), the queries, and
//! the consumer that learns a product's reservations from the reservations' events.
use std::{collections::BTreeSet, sync::Arc};

use tonic::{Code, Status};
use uuid::Uuid;
use yeyak_eventlog::{AppendError, AppendRequest, EventStore, ExpectedVersion, RecordedEvent};
use yeyak_kit::{
    auth::{Caller, Role},
    events::{Cause, EventSet, decode_as, derived_id, expected, load},
    status::{from_append, from_load, from_store, status},
};
use yeyak_proto::{
    catalog::events::v1::{
        ProductDefinition, ProductDeleted, ReservationTracked, TrackedLine, TrackedState,
    },
    reservations::events::v1::{
        ReservationBooked, ReservationCancelled, ReservationCompleted, ReservationExpired,
        ReservationLinesCancelled, ReservationRejected,
    },
};
use yeyak_transport::{EventHandler, HandlerError};

use crate::{
    api::domain_status,
    domain::{
        CatalogError,
        access::{self, Action},
        display::{self, Displayed},
        partner::{self, Partner, PartnerEvent},
        place::{self, Place, PlaceEvent},
        product::{self, Bookings, BookingsEvent, Product, ProductEvent},
    },
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
pub fn bookings_stream(id: Uuid) -> String {
    format!("product-bookings-{id}")
}

/// How often a command is re-decided after losing a race on its streams.
const CONFLICT_RETRIES: usize = 5;

/// The catalog application service over its own event log.
#[derive(Clone)]
pub struct Catalog {
    log: Arc<dyn EventStore>,
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

fn uuid_of(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

/// One stream of a command's append: its id, the version the decision saw, its new events.
struct Write {
    stream: String,
    version: Option<u64>,
    events: Vec<yeyak_eventlog::NewEvent>,
}

/// The events of one stream, encoded for a command identified by `(actor, request_id)`.
struct Batch<'a> {
    cause: &'a Cause,
    key: String,
    n: u32,
    writes: Vec<Write>,
}

impl<'a> Batch<'a> {
    fn new(cause: &'a Cause, key: String) -> Self {
        Self {
            cause,
            key,
            n: 0,
            writes: vec![],
        }
    }

    fn add<E: EventSet>(mut self, stream: String, version: Option<u64>, events: Vec<E>) -> Self {
        let encoded = events
            .iter()
            .map(|e| {
                let id = derived_id("catalog", &self.key, self.n);
                self.n += 1;
                e.encode(id, self.cause)
            })
            .collect();
        self.writes.push(Write {
            stream,
            version,
            events: encoded,
        });
        self
    }

    fn request(self) -> AppendRequest {
        let mut request = AppendRequest::default();
        for w in self.writes.into_iter().filter(|w| !w.events.is_empty()) {
            request = request.and(w.stream, expected(w.version), w.events);
        }
        request
    }
}

/// Everything a product's commands and views need.
pub struct ProductView {
    pub product: Product,
    pub version: Option<u64>,
    pub place: Place,
    pub place_version: Option<u64>,
    pub bookings: Bookings,
    pub bookings_version: Option<u64>,
    pub partner: Partner,
    pub displayed: Displayed,
}

impl Catalog {
    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self { log }
    }

    pub fn log(&self) -> &Arc<dyn EventStore> {
        &self.log
    }

    /// Folds a stream of one event set.
    async fn fold<S: Default, E: EventSet>(
        &self,
        stream: &str,
        apply: fn(&mut S, E),
    ) -> Result<(S, Option<u64>), Status> {
        load(&*self.log, stream, S::default(), |s, e| {
            if let Some(ev) = E::decode(e)? {
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

    pub async fn bookings(&self, id: Uuid) -> Result<(Bookings, Option<u64>), Status> {
        self.fold(&bookings_stream(id), Bookings::apply).await
    }

    /// A product with its place, its bookings and its displayed state now.
    pub async fn product_view(&self, id: Uuid) -> Result<ProductView, Status> {
        let (product, version) = self.product(id).await?;
        let place_id = product
            .registered
            .as_ref()
            .map(|r| uuid_of(&r.place_id))
            .ok_or_else(|| status(Code::NotFound, "PRODUCT_NOT_FOUND", "product not found"))?;
        let (place, place_version) = self.place(place_id).await?;
        let (bookings, bookings_version) = self.bookings(id).await?;
        let partner_id = product
            .registered
            .as_ref()
            .map(|r| uuid_of(&r.partner_id))
            .unwrap_or_default();
        let (partner, _) = self.partner(partner_id).await?;
        let displayed = product::displayed(&product, &place, &bookings, now_us());
        Ok(ProductView {
            product,
            version,
            place,
            place_version,
            bookings,
            bookings_version,
            partner,
            displayed,
        })
    }

    /// Whether the command `(actor, request_id)` already ran: its first event is stored.
    async fn already_done(&self, key: &str) -> Result<bool, Status> {
        Ok(self
            .log
            .event_by_id(derived_id("catalog", key, 0))
            .await
            .map_err(from_store)?
            .is_some())
    }

    /// Runs a command: unless it already ran, decide on fresh state and append atomically,
    /// re-deciding when another writer got there first.
    async fn run<F, Fut>(&self, caller: &Caller, request_id: Uuid, decide: F) -> Result<(), Status>
    where
        F: Fn(Cause, String) -> Fut,
        Fut: std::future::Future<Output = Result<AppendRequest, Status>>,
    {
        let key = format!("{}/{request_id}", caller.actor());
        if self.already_done(&key).await? {
            return Ok(());
        }
        for attempt in 0.. {
            let cause = Cause::command(caller.actor(), request_id, now_us());
            let request = decide(cause, key.clone()).await?;
            if request.streams.is_empty() {
                return Ok(());
            }
            match self.log.append(request).await {
                Err(AppendError::Conflict { .. }) if attempt < CONFLICT_RETRIES => continue,
                other => {
                    other.map_err(from_append)?;
                    return Ok(());
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// Checks that `caller` may do `action` for `partner_id`: platform operations may; an
    /// operator must hold the partner (and place) in its token and be an active operator with
    /// a role that allows it.
    pub async fn authorize(
        &self,
        caller: &Caller,
        partner_id: Uuid,
        action: Action<'_>,
    ) -> Result<(), Status> {
        match caller.role {
            Role::PlatformOps => Ok(()),
            Role::InternalService if action == Action::Read => Ok(()),
            Role::PartnerOperator => {
                caller.require_partner(partner_id)?;
                if let Action::ReadPlace(p)
                | Action::ManagePlace(p)
                | Action::PausePlace(p)
                | Action::DeleteProduct(p) = action
                {
                    caller.require_place(partner_id, uuid_of(p))?;
                }
                let (partner, _) = self.partner(partner_id).await?;
                access::authorize(&partner, &caller.subject, action).map_err(domain_status)?;
                Ok(())
            }
            _ => Err(status(
                Code::PermissionDenied,
                "ROLE_NOT_ALLOWED",
                "this role may not do this",
            )),
        }
    }

    // --- partners ------------------------------------------------------------------------------

    /// Onboards a partner. A retry of the same request returns the registered partner.
    pub async fn register_partner(
        &self,
        caller: &Caller,
        request_id: Uuid,
        cmd: partner::RegisterPartner,
    ) -> Result<Uuid, Status> {
        let id = cmd.partner_id;
        let (state, version) = self.partner(id).await?;
        if state.registered.is_some() {
            return Ok(id);
        }
        let events = partner::register(&state, cmd).map_err(domain_status)?;
        let cause = Cause::command(caller.actor(), request_id, now_us());
        let request = Batch::new(&cause, partner_stream(id))
            .add(partner_stream(id), version, events)
            .request();
        self.log.append(request).await.map_err(from_append)?;
        Ok(id)
    }

    /// Decides on a partner's stream and appends.
    pub async fn on_partner(
        &self,
        caller: &Caller,
        request_id: Uuid,
        partner_id: Uuid,
        decide: impl Fn(&Partner) -> Result<Vec<PartnerEvent>, CatalogError>,
    ) -> Result<(), Status> {
        let decide = &decide;
        self.run(caller, request_id, |cause, key| async move {
            let (state, version) = self.partner(partner_id).await?;
            let events = decide(&state).map_err(domain_status)?;
            Ok(Batch::new(&cause, key)
                .add(partner_stream(partner_id), version, events)
                .request())
        })
        .await
    }

    /// Invites an operator; the places named must be places of the partner.
    pub async fn invite_operator(
        &self,
        caller: &Caller,
        request_id: Uuid,
        partner_id: Uuid,
        cmd: partner::InviteOperator,
    ) -> Result<(), Status> {
        self.authorize(caller, partner_id, Action::InviteOperators)
            .await?;
        let (state, _) = self.partner(partner_id).await?;
        let inviter = match caller.role {
            Role::PartnerOperator => state.active_operator(&caller.subject).cloned(),
            _ => None,
        };
        // Every place named must be a place of this partner.
        let mut known = BTreeSet::new();
        for id in cmd.places.iter().flatten() {
            let (place, _) = self.place(uuid_of(id)).await?;
            if place
                .registered
                .is_some_and(|p| p.partner_id == partner_id.to_string())
            {
                known.insert(id.clone());
            }
        }
        self.on_partner(caller, request_id, partner_id, |p| {
            partner::invite_operator(p, inviter.as_ref(), cmd.clone(), &known)
        })
        .await
    }

    // --- places --------------------------------------------------------------------------------

    /// Registers a place; the caller must act for its partner.
    pub async fn register_place(
        &self,
        caller: &Caller,
        request_id: Uuid,
        cmd: place::RegisterPlace,
    ) -> Result<Uuid, Status> {
        self.authorize(caller, cmd.partner_id, Action::RegisterPlace)
            .await?;
        let id = cmd.place_id;
        let (state, version) = self.place(id).await?;
        if state.registered.is_some() {
            return Ok(id);
        }
        let (partner, _) = self.partner(cmd.partner_id).await?;
        let events = place::register(&state, &partner, cmd).map_err(domain_status)?;
        let cause = Cause::command(caller.actor(), request_id, now_us());
        let request = Batch::new(&cause, place_stream(id))
            .add(place_stream(id), version, events)
            .request();
        self.log.append(request).await.map_err(from_append)?;
        Ok(id)
    }

    /// Decides on a place's stream and appends, after checking `action` on it.
    pub async fn on_place(
        &self,
        caller: &Caller,
        request_id: Uuid,
        place_id: Uuid,
        action: fn(&str) -> Action<'_>,
        decide: impl Fn(&Place) -> Result<Vec<PlaceEvent>, CatalogError>,
    ) -> Result<Place, Status> {
        let (state, _) = self.place(place_id).await?;
        let registered = state
            .registered
            .as_ref()
            .ok_or_else(|| status(Code::NotFound, "PLACE_NOT_FOUND", "place not found"))?;
        self.authorize(
            caller,
            uuid_of(&registered.partner_id),
            action(&registered.place_id),
        )
        .await?;
        let decide = &decide;
        self.run(caller, request_id, |cause, key| async move {
            let (state, version) = self.place(place_id).await?;
            let events = decide(&state).map_err(domain_status)?;
            Ok(Batch::new(&cause, key)
                .add(place_stream(place_id), version, events)
                .request())
        })
        .await?;
        Ok(self.place(place_id).await?.0)
    }

    /// The public place page: shown products in the partner's order.
    pub async fn place_page(&self, place_id: Uuid) -> Result<(Place, Vec<ProductView>), Status> {
        let (place, _) = self.place(place_id).await?;
        if place.registered.is_none() || !place.operating() {
            return Err(status(
                Code::NotFound,
                "PLACE_NOT_FOUND",
                "no operating place with this id",
            ));
        }
        let mut shown = Vec::new();
        for id in &place.product_order {
            let view = self.product_view(uuid_of(id)).await?;
            if display::shown_on_place_page(view.displayed) && !view.product.deleted {
                shown.push(view);
            }
        }
        Ok((place, shown))
    }

    // --- products ------------------------------------------------------------------------------

    /// Registers a product (a draft) of a place the caller was granted; the place's product
    /// order gains it in the same append.
    pub async fn register_product(
        &self,
        caller: &Caller,
        request_id: Uuid,
        product_id: Uuid,
        place_id: Uuid,
        def: ProductDefinition,
    ) -> Result<(), Status> {
        let (place, _) = self.place(place_id).await?;
        let partner_id = place
            .registered
            .as_ref()
            .map(|p| uuid_of(&p.partner_id))
            .ok_or_else(|| status(Code::NotFound, "PLACE_NOT_FOUND", "place not found"))?;
        self.authorize(
            caller,
            partner_id,
            Action::ManagePlace(&place_id.to_string()),
        )
        .await?;
        let def = &def;
        self.run(caller, request_id, |cause, key| async move {
            let (state, version) = self.product(product_id).await?;
            if state.registered.is_some() {
                return Ok(AppendRequest::default());
            }
            let (place, place_version) = self.place(place_id).await?;
            let (partner, _) = self.partner(partner_id).await?;
            let events = product::register(
                &state,
                &place,
                &partner,
                &product_id.to_string(),
                def.clone(),
            )
            .map_err(domain_status)?;
            Ok(with_order(
                Batch::new(&cause, key),
                &place,
                place_version,
                product_id,
                true,
            )
            .add(product_stream(product_id), version, events)
            .request())
        })
        .await
    }

    /// Decides on a product and appends, after checking `action` on its place. The decision
    /// sees the product, its place, its bookings and its displayed state; the append expects
    /// the versions of the product and its bookings, so a reservation learned meanwhile makes
    /// the command decide again.
    pub async fn on_product(
        &self,
        caller: &Caller,
        request_id: Uuid,
        product_id: Uuid,
        action: fn(&str) -> Action<'_>,
        decide: impl Fn(&ProductView) -> Result<Vec<ProductEvent>, CatalogError>,
    ) -> Result<(), Status> {
        let (state, _) = self.product(product_id).await?;
        let r = state
            .registered
            .as_ref()
            .ok_or_else(|| status(Code::NotFound, "PRODUCT_NOT_FOUND", "product not found"))?;
        self.authorize(caller, uuid_of(&r.partner_id), action(&r.place_id))
            .await?;
        let decide = &decide;
        self.run(caller, request_id, |cause, key| async move {
            let view = self.product_view(product_id).await?;
            let events = decide(&view).map_err(domain_status)?;
            let deleted = events.iter().any(|e| matches!(e, ProductEvent::Deleted(_)));
            let mut batch =
                Batch::new(&cause, key).add(product_stream(product_id), view.version, events);
            if deleted {
                // The place's order loses it, and the bookings stream records the deletion: the
                // append expects the bookings' version, so a reservation learned since the
                // decision makes it decide again.
                let gone = BookingsEvent::Deleted(ProductDeleted {
                    product_id: product_id.to_string(),
                });
                batch = with_order(batch, &view.place, view.place_version, product_id, false).add(
                    bookings_stream(product_id),
                    view.bookings_version,
                    vec![gone],
                );
            }
            Ok(batch.request())
        })
        .await
    }

    /// Copies a product into a new draft on the same place.
    pub async fn copy_product(
        &self,
        caller: &Caller,
        request_id: Uuid,
        source_id: Uuid,
        new_id: Uuid,
    ) -> Result<(), Status> {
        let (state, _) = self.product(source_id).await?;
        let r = state
            .registered
            .as_ref()
            .ok_or_else(|| status(Code::NotFound, "PRODUCT_NOT_FOUND", "product not found"))?;
        self.authorize(
            caller,
            uuid_of(&r.partner_id),
            Action::ManagePlace(&r.place_id),
        )
        .await?;
        self.run(caller, request_id, |cause, key| async move {
            let (copy, version) = self.product(new_id).await?;
            if copy.registered.is_some() {
                return Ok(AppendRequest::default());
            }
            let view = self.product_view(source_id).await?;
            let events =
                product::copy(&view.product, view.displayed, &new_id.to_string(), now_us())
                    .map_err(domain_status)?;
            Ok(with_order(
                Batch::new(&cause, key),
                &view.place,
                view.place_version,
                new_id,
                true,
            )
            .add(product_stream(new_id), version, events)
            .request())
        })
        .await
    }
}

/// Adds (or removes) a product in its place's order, in the same append.
fn with_order<'a>(
    batch: Batch<'a>,
    place: &Place,
    version: Option<u64>,
    product_id: Uuid,
    add: bool,
) -> Batch<'a> {
    let id = product_id.to_string();
    let mut order: Vec<String> = place
        .product_order
        .iter()
        .filter(|p| **p != id)
        .cloned()
        .collect();
    if add {
        order.push(id);
    }
    let all: BTreeSet<String> = order.iter().cloned().collect();
    let stream = place
        .registered
        .as_ref()
        .map(|p| place_stream(uuid_of(&p.place_id)))
        .unwrap_or_default();
    match place::reorder(place, &all, order) {
        Ok(events) => batch.add(stream, version, events),
        Err(_) => batch,
    }
}

/// Consumes the reservations' events: each reservation of a product is tracked on the
/// product's bookings stream (held, released, completed), in one append with the inbox row.
pub struct ReservationConsumer {
    log: Arc<dyn EventStore>,
}

impl ReservationConsumer {
    pub const NAME: &'static str = "catalog-bookings";

    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self { log }
    }
}

fn tracked(event: &RecordedEvent) -> Result<Option<ReservationTracked>, HandlerError> {
    let poison = |e: yeyak_kit::events::DecodeError| HandlerError::Poison(e.to_string());
    let t = |product_id: String, reservation_id: String, state: TrackedState| ReservationTracked {
        product_id,
        reservation_id,
        reservation_schedule_id: String::new(),
        quantity: 0,
        state: state as i32,
        lines: vec![],
        cancelled_lines: vec![],
    };
    if let Some(e) = decode_as::<ReservationBooked>(event).map_err(poison)? {
        return Ok(Some(ReservationTracked {
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
        }));
    }
    if let Some(e) = decode_as::<ReservationLinesCancelled>(event).map_err(poison)? {
        return Ok(Some(ReservationTracked {
            cancelled_lines: e.line_numbers,
            ..t(e.product_id, e.reservation_id, TrackedState::Active)
        }));
    }
    if let Some(e) = decode_as::<ReservationRejected>(event).map_err(poison)? {
        return Ok(Some(t(
            e.product_id,
            e.reservation_id,
            TrackedState::Released,
        )));
    }
    if let Some(e) = decode_as::<ReservationCancelled>(event).map_err(poison)? {
        return Ok(Some(t(
            e.product_id,
            e.reservation_id,
            TrackedState::Released,
        )));
    }
    if let Some(e) = decode_as::<ReservationExpired>(event).map_err(poison)? {
        return Ok(Some(t(
            e.product_id,
            e.reservation_id,
            TrackedState::Released,
        )));
    }
    if let Some(e) = decode_as::<ReservationCompleted>(event).map_err(poison)? {
        return Ok(Some(t(
            e.product_id,
            e.reservation_id,
            TrackedState::Completed,
        )));
    }
    Ok(None)
}

#[async_trait::async_trait]
impl EventHandler for ReservationConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(fact) = tracked(event)? else {
            return Ok(());
        };
        let Ok(product_id) = Uuid::parse_str(&fact.product_id) else {
            return Err(HandlerError::Poison(format!(
                "{} names no product",
                event.event_type
            )));
        };
        let cause = Cause::reaction(Self::NAME, event);
        let id = derived_id(Self::NAME, &event.event_id.to_string(), 0);
        let request = AppendRequest::single(
            bookings_stream(product_id),
            ExpectedVersion::Any,
            vec![BookingsEvent::Tracked(fact).encode(id, &cause)],
        )
        .with_inbox(Self::NAME, event.event_id);
        HandlerError::from_append(self.log.append(request).await)
    }
}
