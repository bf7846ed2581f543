//! The catalog through its gRPC API: what each role may and may not do, and the product
//! lifecycle with the facts it learns from the reservations' events.
use tonic::Code;
use uuid::Uuid;
use yeyak_e2e::{Harness, Storage, reason, until};
use yeyak_proto::{
    catalog::{
        events::v1::{ConfirmationMode, OperatorRole, PaymentMode, ProductStatus, VisibilityLevel},
        v1::{
            AcceptInvitationRequest, AddSchedulesRequest, ChangeCapacityRequest,
            CopyProductRequest, DisplayedState, EditProductRequest, GetPartnerRequest,
            GetPlacePageRequest, GetProductRequest, InviteOperatorRequest, PlaceRequest,
            ProductRequest, RecordChannelSettingsRequest, RegisterProductRequest,
            ReorderProductsRequest, ReviewRequest, SanctionProductRequest, ScheduleInput,
            SetPlacePausedRequest, SetProductStatusRequest, SetVisibilityRequest,
        },
    },
    reservations::v1::{BookRequest, CancelRequest},
};

use crate::support::{Seeded, book, product_input, refused, rid, seed};

/// A system on the embedded default with a live, free product of `capacity` seats.
async fn live_product(mode: ConfirmationMode, capacity: u32) -> (Harness, Seeded) {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let seeded = seed(&h, mode, PaymentMode::ReservationOnly, capacity, 0).await;
    (h, seeded)
}

fn new_draft(h: &Harness, place_id: Uuid) -> RegisterProductRequest {
    RegisterProductRequest {
        request_id: rid(),
        place_id: place_id.to_string(),
        product: Some(product_input(
            h,
            ConfirmationMode::Instant,
            PaymentMode::ReservationOnly,
            5,
            0,
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_do_what_its_role_allows_and_nothing_more() {
    let (h, seeded) = live_product(ConfirmationMode::Instant, 5).await;
    let (partner, place) = (seeded.partner_id, seeded.place_id);
    let mut ops = h.catalog(h.ops()).await;
    let mut admin = h.catalog(h.operator(partner, None)).await;

    // Admin (the owner): channel facts and invitations.
    admin
        .record_channel_settings(RecordChannelSettingsRequest {
            request_id: rid(),
            partner_id: partner.to_string(),
            one_to_one_chat: true,
            chatbot_with_chat: false,
        })
        .await
        .expect("the admin records channel settings");
    let invite = |who: &str, role: OperatorRole, places: Vec<Uuid>| InviteOperatorRequest {
        request_id: rid(),
        partner_id: partner.to_string(),
        operator_id: who.into(),
        role: role as i32,
        all_places: places.is_empty(),
        place_ids: places.iter().map(Uuid::to_string).collect(),
    };
    admin
        .invite_operator(invite("master", OperatorRole::Master, vec![place]))
        .await
        .expect("the admin invites a master");

    // An invited operator acts only once it accepted.
    let mut master = h
        .catalog(h.operator_as("master", partner, Some(vec![place])))
        .await;
    refused(
        master.register_product(new_draft(&h, place)).await,
        Code::PermissionDenied,
        "NOT_AN_ACTIVE_OPERATOR",
    );
    master
        .accept_invitation(AcceptInvitationRequest {
            request_id: rid(),
            partner_id: partner.to_string(),
        })
        .await
        .expect("accept");

    // Master: manages its place's products, invites members, not partner facts.
    let draft = master
        .register_product(new_draft(&h, place))
        .await
        .expect("a master registers products")
        .into_inner();
    refused(
        master
            .record_channel_settings(RecordChannelSettingsRequest {
                request_id: rid(),
                partner_id: partner.to_string(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    refused(
        master
            .invite_operator(invite("another-master", OperatorRole::Master, vec![place]))
            .await,
        Code::PermissionDenied,
        "ROLE_MAY_NOT_INVITE",
    );
    master
        .invite_operator(invite("member", OperatorRole::Member, vec![place]))
        .await
        .expect("a master invites members of its places");

    // Member: manages products of its place; cannot delete, invite or review.
    let mut member = h
        .catalog(h.operator_as("member", partner, Some(vec![place])))
        .await;
    member
        .accept_invitation(AcceptInvitationRequest {
            request_id: rid(),
            partner_id: partner.to_string(),
        })
        .await
        .expect("accept");
    let copy = member
        .copy_product(CopyProductRequest {
            request_id: rid(),
            product_id: draft.product_id.clone(),
        })
        .await
        .expect("a member copies a product")
        .into_inner();
    assert_eq!(copy.name, "오마카세 디너 (복사)");
    refused(
        member
            .delete_product(ProductRequest {
                request_id: rid(),
                product_id: copy.product_id.clone(),
            })
            .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    refused(
        member
            .invite_operator(invite("x", OperatorRole::Member, vec![place]))
            .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    refused(
        member
            .review_product(ReviewRequest {
                request_id: rid(),
                id: copy.product_id.clone(),
                approve: true,
                reason: String::new(),
            })
            .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    master
        .delete_product(ProductRequest {
            request_id: rid(),
            product_id: copy.product_id.clone(),
        })
        .await
        .expect("a master deletes a draft");

    // A token naming another partner, or a place outside the grant, is refused.
    let mut stranger = h.catalog(h.operator(Uuid::new_v4(), None)).await;
    refused(
        stranger
            .get_partner(GetPartnerRequest {
                partner_id: partner.to_string(),
            })
            .await,
        Code::PermissionDenied,
        "PARTNER_NOT_GRANTED",
    );
    let mut elsewhere = h
        .catalog(h.operator_as("member", partner, Some(vec![Uuid::new_v4()])))
        .await;
    refused(
        elsewhere.register_product(new_draft(&h, place)).await,
        Code::PermissionDenied,
        "PLACE_NOT_GRANTED",
    );

    // A token for the right partner is not enough: the account must be an active operator.
    let mut impostor = h.catalog(h.operator_as("impostor", partner, None)).await;
    refused(
        impostor
            .get_product(GetProductRequest {
                product_id: draft.product_id.clone(),
            })
            .await,
        Code::PermissionDenied,
        "NOT_AN_ACTIVE_OPERATOR",
    );

    // Customer: browses shown products only, never drafts nor the working copy.
    let mut customer = h.catalog(h.customer("dana")).await;
    let shown = customer
        .get_product(GetProductRequest {
            product_id: seeded.product.product_id.clone(),
        })
        .await
        .expect("a live product")
        .into_inner();
    assert!(
        shown.working.is_none(),
        "customers see only the live version"
    );
    assert_eq!(shown.displayed_state, DisplayedState::Open as i32);
    refused(
        customer
            .get_product(GetProductRequest {
                product_id: draft.product_id.clone(),
            })
            .await,
        Code::NotFound,
        "PRODUCT_NOT_FOUND",
    );
    refused(
        customer.register_product(new_draft(&h, place)).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );

    // Platform operations review and sanction; internal services read, and register nothing.
    ops.sanction_product(SanctionProductRequest {
        request_id: rid(),
        product_id: seeded.product.product_id.clone(),
        reason: "신고 누적".into(),
    })
    .await
    .expect("ops sanction");
    refused(
        customer
            .get_product(GetProductRequest {
                product_id: seeded.product.product_id.clone(),
            })
            .await,
        Code::NotFound,
        "PRODUCT_NOT_FOUND",
    );
    let mut internal = h.catalog(h.internal()).await;
    refused(
        internal.register_product(new_draft(&h, place)).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    h.stop().await;
}

async fn operator_view(
    h: &Harness,
    partner: Uuid,
    product_id: &str,
) -> yeyak_proto::catalog::v1::Product {
    h.catalog(h.operator(partner, None))
        .await
        .get_product(GetProductRequest {
            product_id: product_id.to_string(),
        })
        .await
        .expect("get product")
        .into_inner()
}

async fn booked(h: &Harness, partner: Uuid, product_id: &str, quantity: u32) {
    until(
        "the catalog to learn the product's reservations",
        || async {
            let p = operator_view(h, partner, product_id).await;
            (p.availability.iter().map(|a| a.booked).sum::<u32>() == quantity).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_goes_live_is_listed_revised_copied_and_deleted_by_the_rules() {
    let (h, seeded) = live_product(ConfirmationMode::Approval, 3).await;
    let (partner, place) = (seeded.partner_id, seeded.place_id);
    let mut ops = h.catalog(h.ops()).await;
    let mut operator = h.catalog(h.operator(partner, None)).await;
    let mut customer = h.catalog(h.customer("erin")).await;
    let live_id = seeded.product.product_id.clone();

    // A second live product; the place page lists both, in the partner's order.
    let second = operator
        .register_product(new_draft(&h, place))
        .await
        .expect("register")
        .into_inner();
    operator
        .submit_product(ProductRequest {
            request_id: rid(),
            product_id: second.product_id.clone(),
        })
        .await
        .expect("submit");
    let page = || GetPlacePageRequest {
        place_id: place.to_string(),
    };
    let listed = |p: yeyak_proto::catalog::v1::PlacePage| {
        p.products
            .into_iter()
            .map(|p| p.product_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(customer.get_place_page(page()).await.unwrap().into_inner()),
        vec![live_id.clone()],
        "a product in review is not listed"
    );
    ops.review_product(ReviewRequest {
        request_id: rid(),
        id: second.product_id.clone(),
        approve: true,
        reason: String::new(),
    })
    .await
    .expect("approve");
    operator
        .reorder_products(ReorderProductsRequest {
            request_id: rid(),
            place_id: place.to_string(),
            product_ids: vec![second.product_id.clone(), live_id.clone()],
        })
        .await
        .expect("reorder");
    assert_eq!(
        listed(customer.get_place_page(page()).await.unwrap().into_inner()),
        vec![second.product_id.clone(), live_id.clone()]
    );
    refused(
        operator
            .reorder_products(ReorderProductsRequest {
                request_id: rid(),
                place_id: place.to_string(),
                product_ids: vec![live_id.clone()],
            })
            .await,
        Code::InvalidArgument,
        "NOT_THE_FULL_ORDER",
    );

    // Editing a live product: a pending revision; customers keep the live version.
    let mut edited = product_input(
        &h,
        ConfirmationMode::Approval,
        PaymentMode::ReservationOnly,
        3,
        0,
    );
    edited.name = "오마카세 런치".into();
    edited.schedules = operator_view(&h, partner, &live_id)
        .await
        .live
        .unwrap()
        .schedules
        .iter()
        .map(|s| ScheduleInput {
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            min_headcount: s.min_headcount,
            max_headcount: s.max_headcount,
            headcount_multiple: s.headcount_multiple,
        })
        .collect();
    let pending = operator
        .edit_product(EditProductRequest {
            request_id: rid(),
            product_id: live_id.clone(),
            product: Some(edited),
        })
        .await
        .expect("edit")
        .into_inner();
    assert!(pending.revision_pending);
    assert_eq!(pending.working.unwrap().name, "오마카세 런치");
    let seen = customer
        .get_product(GetProductRequest {
            product_id: live_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.name, "오마카세 디너", "the live version keeps serving");
    let approved = ops
        .review_product(ReviewRequest {
            request_id: rid(),
            id: live_id.clone(),
            approve: true,
            reason: String::new(),
        })
        .await
        .expect("approve revision")
        .into_inner();
    assert_eq!(
        (approved.name.as_str(), approved.revision),
        ("오마카세 런치", 2)
    );

    // Pausing the place hides it and its products.
    operator
        .set_place_paused(SetPlacePausedRequest {
            request_id: rid(),
            place_id: place.to_string(),
            paused: true,
        })
        .await
        .expect("pause");
    refused(
        customer.get_place_page(page()).await,
        Code::NotFound,
        "PLACE_NOT_FOUND",
    );
    refused(
        customer
            .get_product(GetProductRequest {
                product_id: live_id.clone(),
            })
            .await,
        Code::NotFound,
        "PRODUCT_NOT_FOUND",
    );
    operator
        .set_place_paused(SetPlacePausedRequest {
            request_id: rid(),
            place_id: place.to_string(),
            paused: false,
        })
        .await
        .expect("resume");

    // A reservation blocks deletion until it is no longer Requested or Confirmed.
    let reservation = book(&h, "erin", &seeded.schedule_id(), 1, &rid()).await;
    booked(&h, partner, &live_id, 1).await;
    refused(
        operator
            .delete_product(ProductRequest {
                request_id: rid(),
                product_id: live_id.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "ON_SALE",
    );
    operator
        .set_product_status(SetProductStatusRequest {
            request_id: rid(),
            product_id: live_id.clone(),
            status: ProductStatus::Ended as i32,
        })
        .await
        .expect("end the sale");
    refused(
        operator
            .delete_product(ProductRequest {
                request_id: rid(),
                product_id: live_id.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "ACTIVE_RESERVATIONS",
    );
    h.reservations(h.customer("erin"))
        .await
        .cancel(CancelRequest {
            request_id: rid(),
            reservation_id: reservation.reservation_id,
            reason: String::new(),
            ..Default::default()
        })
        .await
        .expect("cancel");
    booked(&h, partner, &live_id, 0).await;

    // Copy before deleting: a new draft, named with the suffix, listed nowhere yet.
    let copy = operator
        .copy_product(CopyProductRequest {
            request_id: rid(),
            product_id: live_id.clone(),
        })
        .await
        .expect("copy an Unavailable product")
        .into_inner();
    assert_eq!(copy.name, "오마카세 런치 (복사)");
    assert_eq!(copy.displayed_state, DisplayedState::Draft as i32);
    assert_eq!(copy.copied_from, live_id);
    assert!(
        copy.availability.iter().all(|a| a.booked == 0),
        "reservations are never copied"
    );

    let deleted = operator
        .delete_product(ProductRequest {
            request_id: rid(),
            product_id: live_id.clone(),
        })
        .await
        .expect("delete once nothing is active")
        .into_inner();
    assert_eq!(deleted.displayed_state, DisplayedState::Deleted as i32);
    assert_eq!(
        listed(customer.get_place_page(page()).await.unwrap().into_inner()),
        vec![second.product_id.clone()]
    );
    refused(
        operator
            .set_product_status(SetProductStatusRequest {
                request_id: rid(),
                product_id: live_id.clone(),
                status: ProductStatus::Open as i32,
            })
            .await,
        Code::FailedPrecondition,
        "PRODUCT_DELETED",
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_and_visibility_changes_reach_the_reservations_service() {
    let (h, seeded) = live_product(ConfirmationMode::Instant, 3).await;
    let mut operator = h.catalog(h.operator(seeded.partner_id, None)).await;
    let product_id = seeded.product.product_id.clone();
    let unit = seeded.schedule_id();
    book(&h, "finn", &unit, 1, &rid()).await;

    // Lower the quantity below nothing left, then add a slot: once the new slot is bookable,
    // the reservations service has applied the earlier capacity change too (log order).
    operator
        .change_capacity(ChangeCapacityRequest {
            request_id: rid(),
            product_id: product_id.clone(),
            inventory_key: seeded.product.reservation_schedules[0]
                .inventory_key
                .clone(),
            capacity: 1,
        })
        .await
        .expect("lower the capacity below what is free");
    let in_two_days = h.now_us() + 2 * 24 * 3600 * 1_000_000;
    let added = operator
        .add_schedules(AddSchedulesRequest {
            request_id: rid(),
            product_id: product_id.clone(),
            schedules: vec![ScheduleInput {
                starts_at: Some(yeyak_proto::time::from_micros(in_two_days)),
                ..Default::default()
            }],
            generate: None,
        })
        .await
        .expect("add a schedule")
        .into_inner();
    let new_unit = added
        .reservation_schedules
        .iter()
        .find(|u| u.reservation_schedule_id != unit)
        .expect("the new unit")
        .reservation_schedule_id
        .clone();
    book(&h, "finn", &new_unit, 1, &rid()).await;
    let refusal = h
        .reservations(h.customer("gina"))
        .await
        .book(BookRequest {
            request_id: rid(),
            reservation_schedule_id: unit.clone(),
            quantity: 1,
            ..Default::default()
        })
        .await
        .expect_err("the slot is closed: capacity 1, one held");
    assert_eq!(reason(&refusal), "SOLD_OUT");

    // Visibility OFF on a unit hides it from customers.
    operator
        .set_visibility(SetVisibilityRequest {
            request_id: rid(),
            product_id: product_id.clone(),
            level: VisibilityLevel::ReservationSchedule as i32,
            target_id: new_unit.clone(),
            visible: false,
        })
        .await
        .expect("hide");
    let seen = h
        .catalog(h.customer("gina"))
        .await
        .get_product(GetProductRequest { product_id })
        .await
        .unwrap()
        .into_inner();
    assert!(
        seen.reservation_schedules
            .iter()
            .all(|u| u.reservation_schedule_id != new_unit)
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_commands_are_idempotent_and_refusals_are_precise() {
    let (h, seeded) = live_product(ConfirmationMode::Instant, 3).await;
    let mut operator = h.catalog(h.operator(seeded.partner_id, None)).await;

    // A retried command returns the first result and appends nothing.
    let submit = PlaceRequest {
        request_id: rid(),
        place_id: seeded.place_id.to_string(),
    };
    refused(
        operator.submit_place(submit.clone()).await,
        Code::FailedPrecondition,
        "ALREADY_APPROVED",
    );
    let status = SetProductStatusRequest {
        request_id: rid(),
        product_id: seeded.product.product_id.clone(),
        status: ProductStatus::Closed as i32,
    };
    let first = operator
        .set_product_status(status.clone())
        .await
        .unwrap()
        .into_inner();
    let again = operator
        .set_product_status(status)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(first.displayed_state, DisplayedState::Closed as i32);

    // Paid products need a verified seller; a place's products need a place past its draft.
    let mut ops = h.catalog(h.ops()).await;
    let unverified = ops
        .register_partner(yeyak_proto::catalog::v1::RegisterPartnerRequest {
            request_id: rid(),
            name: "새 파트너".into(),
            business_registration_number: "2208162517".into(),
            channel_id: "_new".into(),
            industry: "beauty".into(),
            owner_operator_id: yeyak_e2e::OPERATOR.into(),
            ..Default::default()
        })
        .await
        .expect("onboard")
        .into_inner();
    let partner = Uuid::parse_str(&unverified.partner_id).unwrap();
    let mut owner = h.catalog(h.operator(partner, None)).await;
    let place = owner
        .register_place(yeyak_proto::catalog::v1::RegisterPlaceRequest {
            request_id: rid(),
            partner_id: partner.to_string(),
            name: "홍대점".into(),
            address: "서울 마포구".into(),
        })
        .await
        .expect("place")
        .into_inner();
    let place_id = Uuid::parse_str(&place.place_id).unwrap();
    refused(
        owner.register_product(new_draft(&h, place_id)).await,
        Code::FailedPrecondition,
        "PLACE_IS_DRAFT",
    );
    owner
        .submit_place(PlaceRequest {
            request_id: rid(),
            place_id: place.place_id.clone(),
        })
        .await
        .expect("submit place");
    let paid = RegisterProductRequest {
        request_id: rid(),
        place_id: place.place_id.clone(),
        product: Some(product_input(
            &h,
            ConfirmationMode::Instant,
            PaymentMode::PayAtBooking,
            3,
            20_000,
        )),
    };
    refused(
        owner.register_product(paid).await,
        Code::FailedPrecondition,
        "SELLER_NOT_VERIFIED",
    );
    let mut past = product_input(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::ReservationOnly,
        3,
        0,
    );
    past.schedules[0].starts_at = Some(yeyak_proto::time::from_micros(0));
    refused(
        owner
            .register_product(RegisterProductRequest {
                request_id: rid(),
                place_id: place.place_id.clone(),
                product: Some(past),
            })
            .await,
        Code::InvalidArgument,
        "IN_THE_PAST",
    );
    let mut fixed_2359 = product_input(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::ReservationOnly,
        3,
        0,
    );
    fixed_2359.cancellation_policy = Some(yeyak_proto::catalog::events::v1::CancellationPolicy {
        kind: 2,
        deadline: Some(yeyak_proto::catalog::events::v1::CancellationDeadline {
            kind: Some(
                yeyak_proto::catalog::events::v1::cancellation_deadline::Kind::FixedKst(
                    "2026-11-20T23:59".into(),
                ),
            ),
        }),
        ..Default::default()
    });
    let status = owner
        .register_product(RegisterProductRequest {
            request_id: rid(),
            place_id: place.place_id.clone(),
            product: Some(fixed_2359),
        })
        .await
        .expect_err("23:59 is refused");
    assert_eq!(reason(&status), "DEADLINE_2359");
    assert!(status.message().contains("2026-11-21 00:00"), "{status:?}");
    h.stop().await;
}
