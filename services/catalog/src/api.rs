//! The catalog's gRPC API: proto ↔ domain, who may call what, errors → statuses.
use std::collections::BTreeSet;

use tonic::{Code, Request, Response, Status};
use uuid::Uuid;
use yeyak_kit::{
    auth::{Caller, PlaceScope, Policy, Role},
    events::created_id,
    status::{invalid_field, parse_uuid, request_id, status, text},
};
use yeyak_proto::{
    catalog::{
        events::v1::{
            ConfirmationMode, InventoryMode, MailOrder, OperatorRole, ProductDefinition,
            ProductStatus, ReservationType, VisibilityLevel,
        },
        v1::{self as pb, catalog_service_server::CatalogService},
    },
    time::to_micros,
};

use crate::{
    app::{Catalog, ProductView},
    domain::{
        CatalogError,
        access::Action,
        definition::{self, PriceSpec, ProductSpec, ScheduleSpec, SlotGenerator},
        display::{self, Displayed},
        partner::{self, Partner, RegisterPartner},
        place::{self, Place, PlaceState, RegisterPlace},
        product::{self, pool_usage},
    },
};

const OPS_AND_OPERATORS: &[Role] = &[Role::PlatformOps, Role::PartnerOperator];
const OPS: &[Role] = &[Role::PlatformOps];
const EVERYONE: &[Role] = &[
    Role::Customer,
    Role::PartnerOperator,
    Role::PlatformOps,
    Role::InternalService,
];

/// Who may call each catalog RPC. Resource checks (which partner, which place, which operator
/// role) follow in the handlers.
pub static POLICY: Policy = Policy {
    service: "yeyak.catalog.v1.CatalogService",
    rules: &[
        ("RegisterPartner", OPS),
        (
            "GetPartner",
            &[
                Role::PlatformOps,
                Role::InternalService,
                Role::PartnerOperator,
            ],
        ),
        ("RecordChannelSettings", OPS_AND_OPERATORS),
        (
            "RecordSellerVerification",
            &[Role::PlatformOps, Role::InternalService],
        ),
        ("InviteOperator", OPS_AND_OPERATORS),
        ("AcceptInvitation", &[Role::PartnerOperator]),
        ("RegisterPlace", OPS_AND_OPERATORS),
        ("SubmitPlace", OPS_AND_OPERATORS),
        ("ReviewPlace", OPS),
        ("SetPlacePaused", OPS_AND_OPERATORS),
        ("ReorderProducts", OPS_AND_OPERATORS),
        ("GetPlacePage", EVERYONE),
        ("RegisterProduct", OPS_AND_OPERATORS),
        ("EditProduct", OPS_AND_OPERATORS),
        ("SubmitProduct", OPS_AND_OPERATORS),
        ("ReviewProduct", OPS),
        ("SanctionProduct", OPS),
        ("SetProductStatus", OPS_AND_OPERATORS),
        ("AddSchedules", OPS_AND_OPERATORS),
        ("ChangeCapacity", OPS_AND_OPERATORS),
        ("SetVisibility", OPS_AND_OPERATORS),
        ("CopyProduct", OPS_AND_OPERATORS),
        ("DeleteProduct", OPS_AND_OPERATORS),
        ("GetProduct", EVERYONE),
    ],
};

/// The one place catalog refusals become gRPC statuses.
pub fn domain_status(e: CatalogError) -> Status {
    match e {
        CatalogError::Invalid {
            field,
            reason,
            message,
        } => invalid_field(field, reason, message),
        CatalogError::NotFound { what, reason } => {
            status(Code::NotFound, reason, format!("{what} not found"))
        }
        CatalogError::AlreadyExists(what) => status(
            Code::AlreadyExists,
            "ALREADY_EXISTS",
            format!("{what} already exists"),
        ),
        CatalogError::Precondition { reason, message } => {
            status(Code::FailedPrecondition, reason, message)
        }
        CatalogError::Forbidden { reason, message } => {
            status(Code::PermissionDenied, reason, message)
        }
    }
}

pub struct CatalogApi {
    app: Catalog,
}

impl CatalogApi {
    pub fn new(app: Catalog) -> Self {
        Self { app }
    }
}

// --- proto → domain -------------------------------------------------------------------------

fn parse_enum<T: TryFrom<i32>>(field: &str, value: i32) -> Result<T, Status> {
    T::try_from(value).map_err(|_| {
        invalid_field(
            field,
            "UNKNOWN_ENUM_VALUE",
            format!("{value} is not a known value"),
        )
    })
}

fn micros(field: &str, t: &Option<prost_types::Timestamp>) -> Result<Option<i64>, Status> {
    t.as_ref()
        .map(|t| {
            to_micros(t)
                .ok_or_else(|| invalid_field(field, "OUT_OF_RANGE", "is not a valid timestamp"))
        })
        .transpose()
}

fn required_micros(field: &str, t: &Option<prost_types::Timestamp>) -> Result<i64, Status> {
    micros(field, t)?.ok_or_else(|| invalid_field(field, "REQUIRED", "is required"))
}

/// A business registration number as digits only (dashes allowed in input).
fn registration_number(value: &str) -> Result<String, Status> {
    let digits: String = value.chars().filter(|c| *c != '-').collect();
    if digits.len() != 10 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid_field(
            "business_registration_number",
            "MALFORMED",
            "must be 10 digits, e.g. 123-45-67891",
        ));
    }
    Ok(digits)
}

fn schedule_spec(s: &pb::ScheduleInput) -> Result<ScheduleSpec, Status> {
    Ok(ScheduleSpec {
        starts_us: required_micros("schedules.starts_at", &s.starts_at)?,
        ends_us: micros("schedules.ends_at", &s.ends_at)?,
        min_headcount: s.min_headcount,
        max_headcount: s.max_headcount,
        headcount_multiple: s.headcount_multiple,
    })
}

fn generator(g: &pb::SlotGenerator) -> Result<SlotGenerator, Status> {
    let date = |field: &str, v: &str| {
        v.parse::<jiff::civil::Date>()
            .map_err(|_| invalid_field(field, "MALFORMED", "a KST date, YYYY-MM-DD"))
    };
    let time = |field: &str, v: &str| {
        v.parse::<jiff::civil::Time>()
            .map_err(|_| invalid_field(field, "MALFORMED", "a KST time of day, HH:MM"))
    };
    Ok(SlotGenerator {
        from: date("generate.from_date", &g.from_date)?,
        until: date("generate.until_date", &g.until_date)?,
        first_start: time("generate.first_start_kst", &g.first_start_kst)?,
        last_start: time("generate.last_start_kst", &g.last_start_kst)?,
        every_minutes: g.every_minutes,
        duration_minutes: g.duration_minutes,
        min_headcount: g.min_headcount,
        max_headcount: g.max_headcount,
        headcount_multiple: g.headcount_multiple,
    })
}

fn product_spec(p: Option<&pb::ProductInput>) -> Result<ProductSpec, Status> {
    let p = p.ok_or_else(|| invalid_field("product", "REQUIRED", "is required"))?;
    let prices = p
        .prices
        .iter()
        .map(|x| {
            Ok(PriceSpec {
                name: text("prices.name", &x.name, 1, 50)?,
                amount_krw: x.amount_krw,
                payment_mode: parse_enum("prices.payment_mode", x.payment_mode)?,
                max_quantity: x.max_quantity,
                sale_starts_us: micros("prices.sale_starts_at", &x.sale_starts_at)?,
                sale_ends_us: micros("prices.sale_ends_at", &x.sale_ends_at)?,
            })
        })
        .collect::<Result<_, Status>>()?;
    let booking_window = p
        .booking_window
        .as_ref()
        .map(|w| {
            definition::window_from_pb(&yeyak_proto::catalog::events::v1::BookingWindow {
                opens_at: w.opens_at,
                end: w.end.map(|e| match e {
                    pb::booking_window_input::End::BeforeSlot(b) => {
                        yeyak_proto::catalog::events::v1::booking_window::End::BeforeSlot(b)
                    }
                    pb::booking_window_input::End::DaysBeforeAt(d) => {
                        yeyak_proto::catalog::events::v1::booking_window::End::DaysBeforeAt(d)
                    }
                }),
            })
        })
        .transpose()
        .map_err(domain_status)?;
    let cancellation_policy = p
        .cancellation_policy
        .as_ref()
        .map(definition::policy_from_pb)
        .transpose()
        .map_err(domain_status)?;
    Ok(ProductSpec {
        name: text("product.name", &p.name, 1, 100)?,
        reservation_type: parse_enum::<ReservationType>("reservation_type", p.reservation_type)?,
        confirmation_mode: parse_enum::<ConfirmationMode>(
            "confirmation_mode",
            p.confirmation_mode,
        )?,
        inventory_mode: parse_enum::<InventoryMode>("inventory_mode", p.inventory_mode)?,
        prices,
        schedules: p
            .schedules
            .iter()
            .map(schedule_spec)
            .collect::<Result<_, _>>()?,
        capacity: p.capacity,
        booking_window,
        cancellation_policy,
        custom_questions: p.custom_questions.clone(),
        request_expiry_minutes: p.request_expiry_minutes,
        class_product: p.class_product,
    })
}

// --- domain → proto -------------------------------------------------------------------------

fn partner_pb(p: Partner) -> Result<pb::Partner, Status> {
    let may_sell = p.may_sell_paid_products();
    let r = p
        .registered
        .ok_or_else(|| status(Code::NotFound, "PARTNER_NOT_FOUND", "partner not found"))?;
    Ok(pb::Partner {
        partner_id: r.partner_id,
        name: r.name,
        business_registration_number: r.business_registration_number,
        channel_id: r.channel_id,
        channel_business_verified: r.channel_business_verified,
        industry: r.industry,
        home_card_installed: p.home_card_installed,
        custom_menu_kept: p.custom_menu_kept,
        one_to_one_chat: p.channel.one_to_one_chat,
        chatbot_with_chat: p.channel.chatbot_with_chat,
        settlement_account_verified: p.seller.settlement_account_verified,
        kyc_verified: p.seller.kyc_verified,
        mail_order: p.seller.mail_order,
        may_sell_paid_products: may_sell,
        operators: p
            .operators
            .into_iter()
            .map(|(id, o)| pb::Operator {
                operator_id: id,
                role: o.role as i32,
                all_places: o.places.is_none(),
                place_ids: o.places.into_iter().flatten().collect(),
                active: o.active,
            })
            .collect(),
    })
}

fn place_pb(p: Place) -> Result<pb::Place, Status> {
    let r = p
        .registered
        .ok_or_else(|| status(Code::NotFound, "PLACE_NOT_FOUND", "place not found"))?;
    Ok(pb::Place {
        place_id: r.place_id,
        partner_id: r.partner_id,
        name: r.name,
        address: r.address,
        state: match p.state {
            PlaceState::Draft => pb::PlaceState::Draft,
            PlaceState::InReview => pb::PlaceState::InReview,
            PlaceState::ReviewRejected => pb::PlaceState::ReviewRejected,
            PlaceState::Operating => pb::PlaceState::Operating,
            PlaceState::Paused => pb::PlaceState::Paused,
        } as i32,
        rejection_reason: p.rejection_reason,
        product_order: p.product_order,
    })
}

fn displayed_pb(d: Displayed) -> pb::DisplayedState {
    match d {
        Displayed::Draft => pb::DisplayedState::Draft,
        Displayed::InReview => pb::DisplayedState::InReview,
        Displayed::ReviewRejected => pb::DisplayedState::ReviewRejected,
        Displayed::Sanctioned => pb::DisplayedState::Sanctioned,
        Displayed::Unavailable => pb::DisplayedState::Unavailable,
        Displayed::Closed => pb::DisplayedState::Closed,
        Displayed::Upcoming => pb::DisplayedState::Upcoming,
        Displayed::Open => pb::DisplayedState::Open,
    }
}

fn us(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().and_then(to_micros).unwrap_or_default()
}

/// A product as `caller` may see it: customers see only the live version of a shown product.
fn product_pb(view: ProductView, customer: bool) -> Result<pb::Product, Status> {
    let p = &view.product;
    let r = p
        .registered
        .as_ref()
        .ok_or_else(|| status(Code::NotFound, "PRODUCT_NOT_FOUND", "product not found"))?;
    let hidden = p.deleted || !display::shown_on_place_page(view.displayed);
    if customer && hidden {
        return Err(status(
            Code::NotFound,
            "PRODUCT_NOT_FOUND",
            "product not found",
        ));
    }
    let shown: &ProductDefinition = match (&p.live, customer) {
        (Some(live), _) => live,
        (None, false) => &p.working,
        (None, true) => unreachable!("a shown product is live"),
    };
    let now = jiff::Timestamp::now().as_microsecond();
    let usage = pool_usage(shown, &view.bookings);
    let availability = shown
        .reservation_schedules
        .iter()
        .filter(|u| !customer || u.visible)
        .map(|u| {
            let (booked, remaining) = usage.get(&u.inventory_key).copied().unwrap_or_default();
            pb::Availability {
                reservation_schedule_id: u.reservation_schedule_id.clone(),
                inventory_key: u.inventory_key.clone(),
                capacity: u.capacity,
                booked,
                remaining,
                bookable_now: u.visible
                    && view.displayed == Displayed::Open
                    && remaining > 0
                    && us(&u.booking_opens_at) <= now
                    && now < us(&u.booking_closes_at),
            }
        })
        .collect();
    Ok(pb::Product {
        product_id: r.product_id.clone(),
        partner_id: r.partner_id.clone(),
        place_id: r.place_id.clone(),
        name: shown.name.clone(),
        confirmation_mode: shown.confirmation_mode,
        payment_mode: shown.prices.first().map_or(0, |x| x.payment_mode),
        reservation_schedules: shown
            .reservation_schedules
            .iter()
            .filter(|u| !customer || u.visible)
            .cloned()
            .collect(),
        displayed_state: if p.deleted {
            pb::DisplayedState::Deleted
        } else {
            displayed_pb(view.displayed)
        } as i32,
        status: p.status() as i32,
        live: p.live.clone(),
        working: (!customer).then(|| p.working.clone()),
        revision_pending: p.lifecycle.pending_revision,
        rejection_reason: if customer {
            String::new()
        } else {
            p.rejection_reason.clone()
        },
        sanction_reason: if customer {
            String::new()
        } else {
            p.sanction_reason.clone()
        },
        copied_from: r.copied_from.clone(),
        availability,
        revision: p.revision,
    })
}

impl CatalogApi {
    async fn product_reply(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Response<pb::Product>, Status> {
        let view = self.app.product_view(id).await?;
        let r = view
            .product
            .registered
            .as_ref()
            .ok_or_else(|| status(Code::NotFound, "PRODUCT_NOT_FOUND", "product not found"))?;
        // Operators must be active operators granted the place; staff and services see all.
        let manager = match caller.role {
            Role::Customer => false,
            Role::PartnerOperator => {
                let partner = Uuid::parse_str(&r.partner_id).unwrap_or_default();
                self.app
                    .authorize(caller, partner, Action::ReadPlace(&r.place_id))
                    .await?;
                true
            }
            Role::PlatformOps | Role::InternalService => true,
        };
        Ok(Response::new(product_pb(view, !manager)?))
    }

    async fn partner_reply(&self, id: Uuid) -> Result<Response<pb::Partner>, Status> {
        let (partner, _) = self.app.partner(id).await?;
        Ok(Response::new(partner_pb(partner)?))
    }

    async fn place_reply(&self, place: Place) -> Result<Response<pb::Place>, Status> {
        Ok(Response::new(place_pb(place)?))
    }

    /// Runs a product command and answers with the product as the caller sees it.
    async fn product_command(
        &self,
        caller: Caller,
        request_id: &str,
        product_id: &str,
        action: fn(&str) -> Action<'_>,
        decide: impl Fn(&ProductView) -> Result<Vec<product::ProductEvent>, CatalogError>,
    ) -> Result<Response<pb::Product>, Status> {
        let request_id = yeyak_kit::status::request_id(request_id)?;
        let id = parse_uuid("product_id", product_id)?;
        self.app
            .on_product(&caller, request_id, id, action, decide)
            .await?;
        self.product_reply(&caller, id).await
    }

    async fn place_command(
        &self,
        caller: Caller,
        request_id: &str,
        place_id: &str,
        action: fn(&str) -> Action<'_>,
        decide: impl Fn(&Place) -> Result<Vec<place::PlaceEvent>, CatalogError>,
    ) -> Result<Response<pb::Place>, Status> {
        let request_id = yeyak_kit::status::request_id(request_id)?;
        let id = parse_uuid("place_id", place_id)?;
        let place = self
            .app
            .on_place(&caller, request_id, id, action, decide)
            .await?;
        self.place_reply(place).await
    }
}

fn manage(place: &str) -> Action<'_> {
    Action::ManagePlace(place)
}
fn pause(place: &str) -> Action<'_> {
    Action::PausePlace(place)
}
fn delete(place: &str) -> Action<'_> {
    Action::DeleteProduct(place)
}
/// Reviewer and sanction RPCs: platform operations only (the policy, and no operator role).
fn review_action(_: &str) -> Action<'_> {
    Action::Review
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn register_partner(
        &self,
        request: Request<pb::RegisterPartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let cmd = RegisterPartner {
            partner_id: created_id("partner", &caller.actor(), request_id),
            name: text("name", &r.name, 1, 100)?,
            business_registration_number: registration_number(&r.business_registration_number)?,
            channel_id: text("channel_id", &r.channel_id, 0, 100)?,
            channel_business_verified: r.channel_business_verified,
            industry: text("industry", &r.industry, 0, 50)?,
            channel_has_home_card: r.channel_has_home_card,
            channel_has_custom_menu: r.channel_has_custom_menu,
            owner_operator_id: text("owner_operator_id", &r.owner_operator_id, 1, 200)?,
        };
        let id = self.app.register_partner(&caller, request_id, cmd).await?;
        self.partner_reply(id).await
    }

    async fn get_partner(
        &self,
        request: Request<pb::GetPartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = Caller::of(&request)?;
        let id = parse_uuid("partner_id", &request.get_ref().partner_id)?;
        self.app.authorize(&caller, id, Action::Read).await?;
        self.partner_reply(id).await
    }

    async fn record_channel_settings(
        &self,
        request: Request<pb::RecordChannelSettingsRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let id = parse_uuid("partner_id", &r.partner_id)?;
        self.app
            .authorize(&caller, id, Action::SetPartnerFacts)
            .await?;
        self.app
            .on_partner(&caller, request_id, id, |p| {
                partner::record_channel_settings(p, r.one_to_one_chat, r.chatbot_with_chat)
            })
            .await?;
        self.partner_reply(id).await
    }

    async fn record_seller_verification(
        &self,
        request: Request<pb::RecordSellerVerificationRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let id = parse_uuid("partner_id", &r.partner_id)?;
        let mail_order = parse_enum::<MailOrder>("mail_order", r.mail_order)?;
        self.app
            .on_partner(&caller, request_id, id, |p| {
                partner::record_seller_verification(
                    p,
                    r.settlement_account_verified,
                    r.kyc_verified,
                    mail_order,
                )
            })
            .await?;
        self.partner_reply(id).await
    }

    async fn invite_operator(
        &self,
        request: Request<pb::InviteOperatorRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let id = parse_uuid("partner_id", &r.partner_id)?;
        let places = if r.all_places {
            None
        } else {
            let mut ids = BTreeSet::new();
            for p in &r.place_ids {
                ids.insert(parse_uuid("place_ids", p)?.to_string());
            }
            Some(ids)
        };
        let cmd = partner::InviteOperator {
            operator_id: text("operator_id", &r.operator_id, 1, 200)?,
            role: parse_enum::<OperatorRole>("role", r.role)?,
            places,
        };
        self.app
            .invite_operator(&caller, request_id, id, cmd)
            .await?;
        self.partner_reply(id).await
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let id = parse_uuid("partner_id", &r.partner_id)?;
        caller.require_partner(id)?;
        let subject = caller.subject.clone();
        self.app
            .on_partner(&caller, request_id, id, |p| {
                partner::accept_invitation(p, &subject)
            })
            .await?;
        self.partner_reply(id).await
    }

    async fn register_place(
        &self,
        request: Request<pb::RegisterPlaceRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        if caller.role == Role::PartnerOperator && caller.places != PlaceScope::All {
            return Err(status(
                Code::PermissionDenied,
                "ALL_PLACES_REQUIRED",
                "only operators granted all places register places",
            ));
        }
        let cmd = RegisterPlace {
            place_id: created_id("place", &caller.actor(), request_id),
            partner_id,
            name: text("name", &r.name, 1, 100)?,
            address: text("address", &r.address, 1, 200)?,
        };
        let id = self.app.register_place(&caller, request_id, cmd).await?;
        self.place_reply(self.app.place(id).await?.0).await
    }

    async fn submit_place(
        &self,
        request: Request<pb::PlaceRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.place_command(caller, &r.request_id, &r.place_id, manage, place::submit)
            .await
    }

    async fn review_place(
        &self,
        request: Request<pb::ReviewRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.place_command(caller, &r.request_id, &r.id, review_action, |p| {
            place::review(p, r.approve, &r.reason)
        })
        .await
    }

    async fn set_place_paused(
        &self,
        request: Request<pb::SetPlacePausedRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.place_command(caller, &r.request_id, &r.place_id, pause, |p| {
            place::set_paused(p, r.paused)
        })
        .await
    }

    async fn reorder_products(
        &self,
        request: Request<pb::ReorderProductsRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let mut order = Vec::with_capacity(r.product_ids.len());
        for id in &r.product_ids {
            order.push(parse_uuid("product_ids", id)?.to_string());
        }
        self.place_command(caller, &r.request_id, &r.place_id, manage, |p| {
            let all: BTreeSet<String> = p.product_order.iter().cloned().collect();
            place::reorder(p, &all, order.clone())
        })
        .await
    }

    async fn get_place_page(
        &self,
        request: Request<pb::GetPlacePageRequest>,
    ) -> Result<Response<pb::PlacePage>, Status> {
        let id = parse_uuid("place_id", &request.get_ref().place_id)?;
        let (place, views) = self.app.place_page(id).await?;
        let r = place.registered.unwrap_or_default();
        Ok(Response::new(pb::PlacePage {
            place_id: r.place_id,
            name: r.name,
            address: r.address,
            products: views
                .into_iter()
                .map(|v| product_pb(v, true))
                .collect::<Result<_, _>>()?,
        }))
    }

    async fn register_product(
        &self,
        request: Request<pb::RegisterProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let place_id = parse_uuid("place_id", &r.place_id)?;
        let product_id = created_id("product", &caller.actor(), request_id);
        let spec = product_spec(r.product.as_ref())?;
        let def = definition::build(&product_id.to_string(), spec, None, now_us())
            .map_err(domain_status)?;
        self.app
            .register_product(&caller, request_id, product_id, place_id, def)
            .await?;
        self.product_reply(&caller, product_id).await
    }

    async fn edit_product(
        &self,
        request: Request<pb::EditProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let spec = product_spec(r.product.as_ref())?;
        let product_id = r.product_id.clone();
        self.product_command(caller, &r.request_id, &r.product_id, manage, |v| {
            let previous = v.product.live.as_ref().unwrap_or(&v.product.working);
            let def = definition::build(&product_id, spec.clone(), Some(previous), now_us())?;
            product::edit(&v.product, &v.partner, &v.bookings, def)
        })
        .await
    }

    async fn submit_product(
        &self,
        request: Request<pb::ProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.product_command(caller, &r.request_id, &r.product_id, manage, |v| {
            product::submit(&v.product)
        })
        .await
    }

    async fn review_product(
        &self,
        request: Request<pb::ReviewRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.product_command(caller, &r.request_id, &r.id, review_action, |v| {
            product::review(&v.product, r.approve, r.reason.clone())
        })
        .await
    }

    async fn sanction_product(
        &self,
        request: Request<pb::SanctionProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.product_command(caller, &r.request_id, &r.product_id, review_action, |v| {
            product::sanction(&v.product, r.reason.clone())
        })
        .await
    }

    async fn set_product_status(
        &self,
        request: Request<pb::SetProductStatusRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let status = parse_enum::<ProductStatus>("status", r.status)?;
        self.product_command(caller, &r.request_id, &r.product_id, manage, |v| {
            product::set_status(&v.product, status)
        })
        .await
    }

    async fn add_schedules(
        &self,
        request: Request<pb::AddSchedulesRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let mut specs = r
            .schedules
            .iter()
            .map(schedule_spec)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(g) = &r.generate {
            specs.extend(definition::generate_slots(&generator(g)?).map_err(domain_status)?);
        }
        self.product_command(caller, &r.request_id, &r.product_id, manage, |v| {
            // New pools start at the product's largest current pool quantity.
            let capacity = v
                .product
                .working
                .inventory_pools
                .iter()
                .map(|p| p.capacity)
                .max()
                .unwrap_or(1)
                .max(1);
            product::add_schedules(&v.product, &specs, capacity, now_us())
        })
        .await
    }

    async fn change_capacity(
        &self,
        request: Request<pb::ChangeCapacityRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.product_command(caller, &r.request_id, &r.product_id, manage, |v| {
            product::change_capacity(&v.product, &r.inventory_key, r.capacity)
        })
        .await
    }

    async fn set_visibility(
        &self,
        request: Request<pb::SetVisibilityRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let level = parse_enum::<VisibilityLevel>("level", r.level)?;
        self.product_command(caller, &r.request_id, &r.product_id, manage, |v| {
            product::set_visibility_of(&v.product, level, &r.target_id, r.visible)
        })
        .await
    }

    async fn copy_product(
        &self,
        request: Request<pb::CopyProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let source = parse_uuid("product_id", &r.product_id)?;
        let new_id = created_id("product", &caller.actor(), request_id);
        self.app
            .copy_product(&caller, request_id, source, new_id)
            .await?;
        self.product_reply(&caller, new_id).await
    }

    async fn delete_product(
        &self,
        request: Request<pb::ProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.product_command(caller, &r.request_id, &r.product_id, delete, |v| {
            product::delete(&v.product, v.displayed, &v.bookings)
        })
        .await
    }

    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let id = parse_uuid("product_id", &request.get_ref().product_id)?;
        self.product_reply(&caller, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_rpc_states_who_may_call_it() {
        assert!(POLICY.service_exists(yeyak_proto::FILE_DESCRIPTOR_SET));
        assert_eq!(
            POLICY.unlisted_methods(yeyak_proto::FILE_DESCRIPTOR_SET),
            Vec::<String>::new()
        );
    }

    #[test]
    fn registration_numbers_accept_dashes_only() {
        assert_eq!(registration_number("123-45-67891").unwrap(), "1234567891");
        assert!(registration_number("123 45 67891").is_err());
        assert!(registration_number("12345678912").is_err());
    }
}
