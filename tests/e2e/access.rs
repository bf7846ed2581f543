//! Who may do what, and precise refusals, through the public gRPC APIs.
use tonic::Code;
use uuid::Uuid;
use yeyak_e2e::{Bearer, Harness, Storage, until};
use yeyak_proto::{
    catalog::{
        events::v1::{ConfirmationMode, OperatorRole, PaymentMode},
        v1::{AcceptInvitationRequest, InviteOperatorRequest, RegisterPartnerRequest},
    },
    notifications::v1::ListPartnerMessagesRequest,
    reservations::{
        events::v1::PaymentMethod,
        v1::{
            BookRequest, CancelRequest, CompleteRequest, ConfirmRequest, GetReservationRequest,
            ListReservationsRequest, ReservationState,
        },
    },
};

use crate::support::{book, refused, seed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_authenticates_and_authorises_its_caller() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let seeded = seed(
        &h,
        ConfirmationMode::Approval,
        PaymentMode::ReservationOnly,
        3,
        0,
    )
    .await;
    let mine = book(
        &h,
        "alice",
        &seeded.schedule_id(),
        1,
        &Uuid::new_v4().to_string(),
    )
    .await;
    let get = |id: &str| GetReservationRequest {
        reservation_id: id.to_string(),
        as_of: None,
    };

    // No token, or a token signed with another secret.
    let mut anonymous = h.reservations(Bearer(None)).await;
    refused(
        anonymous.get_reservation(get(&mine.reservation_id)).await,
        Code::Unauthenticated,
        "MISSING_TOKEN",
    );
    let mut forged = h.reservations(yeyak_e2e::bearer("not.a.jwt")).await;
    refused(
        forged.get_reservation(get(&mine.reservation_id)).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );

    // A customer cannot onboard partners, nor confirm, and sees only their own reservations.
    let mut alice_catalog = h.catalog(h.customer("alice")).await;
    let onboarding = RegisterPartnerRequest {
        request_id: Uuid::new_v4().to_string(),
        name: "x".into(),
        business_registration_number: "1234567891".into(),
        channel_id: "c".into(),
        industry: "restaurant".into(),
        owner_operator_id: "owner".into(),
        ..Default::default()
    };
    refused(
        alice_catalog.register_partner(onboarding).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    let mut alice = h.reservations(h.customer("alice")).await;
    let confirm = ConfirmRequest {
        request_id: Uuid::new_v4().to_string(),
        reservation_id: mine.reservation_id.clone(),
    };
    refused(
        alice.confirm(confirm.clone()).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    assert_eq!(
        alice
            .get_reservation(get(&mine.reservation_id))
            .await
            .expect("own")
            .into_inner()
            .customer_id,
        "alice"
    );
    let mut bob = h.reservations(h.customer("bob")).await;
    refused(
        bob.get_reservation(get(&mine.reservation_id)).await,
        Code::NotFound,
        "RESERVATION_NOT_FOUND",
    );
    let bob_cancel = CancelRequest {
        request_id: Uuid::new_v4().to_string(),
        reservation_id: mine.reservation_id.clone(),
        reason: String::new(),
        ..Default::default()
    };
    refused(
        bob.cancel(bob_cancel).await,
        Code::NotFound,
        "RESERVATION_NOT_FOUND",
    );

    // An operator of another partner, or of another place of this partner, is refused.
    let stranger = h.operator(Uuid::new_v4(), None);
    let mut stranger_reservations = h.reservations(stranger.clone()).await;
    refused(
        stranger_reservations
            .get_reservation(get(&mine.reservation_id))
            .await,
        Code::PermissionDenied,
        "PARTNER_NOT_GRANTED",
    );
    let mut stranger_messages = h.notifications(stranger).await;
    let list = ListPartnerMessagesRequest {
        partner_id: seeded.partner_id.to_string(),
        ..Default::default()
    };
    refused(
        stranger_messages.list_partner_messages(list).await,
        Code::PermissionDenied,
        "PARTNER_NOT_GRANTED",
    );
    // A token for this partner is not enough: the account must be one of its active operators.
    let impostor = h.operator_as("not-an-operator", seeded.partner_id, None);
    refused(
        h.reservations(impostor)
            .await
            .confirm(confirm.clone())
            .await,
        Code::PermissionDenied,
        "NOT_AN_ACTIVE_OPERATOR",
    );
    let other_place = h.operator(seeded.partner_id, Some(vec![Uuid::new_v4()]));
    let mut other_place_reservations = h.reservations(other_place).await;
    refused(
        other_place_reservations.confirm(confirm.clone()).await,
        Code::PermissionDenied,
        "PLACE_NOT_GRANTED",
    );

    // The granted operator may confirm; a retry of the same request returns the same result.
    let mut granted = h
        .reservations(h.operator(seeded.partner_id, Some(vec![seeded.place_id])))
        .await;
    // Listing: an operator granted some places names one of them.
    let list = |place: String| ListReservationsRequest {
        partner_id: seeded.partner_id.to_string(),
        place_id: place,
        ..Default::default()
    };
    refused(
        granted.list_reservations(list(String::new())).await,
        Code::InvalidArgument,
        "PLACE_REQUIRED",
    );
    refused(
        granted
            .list_reservations(list(Uuid::new_v4().to_string()))
            .await,
        Code::PermissionDenied,
        "PLACE_NOT_GRANTED",
    );
    granted
        .list_reservations(list(seeded.place_id.to_string()))
        .await
        .expect("the granted place's reservations");
    let first = granted
        .confirm(confirm.clone())
        .await
        .expect("confirm")
        .into_inner();
    let again = granted.confirm(confirm).await.expect("retry").into_inner();
    assert_eq!(first.state, ReservationState::Confirmed as i32);
    assert_eq!(
        again.version, first.version,
        "a retried command appends nothing"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_precise_status_and_reason() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let seeded = seed(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::PayAtBooking,
        1,
        10_000,
    )
    .await;
    let mut carol = h.reservations(h.customer("carol")).await;
    // As `book` sends it, so that the same request sent again is a retry.
    let request = |request_id: &str, schedule: &str, quantity| BookRequest {
        request_id: request_id.to_string(),
        reservation_schedule_id: schedule.to_string(),
        quantity,
        payment_method: PaymentMethod::KakaoPayCard as i32,
        ..Default::default()
    };
    let schedule = seeded.schedule_id();
    refused(
        carol.book(request("", &schedule, 1)).await,
        Code::InvalidArgument,
        "REQUIRED",
    );
    refused(
        carol.book(request("nope", &schedule, 1)).await,
        Code::InvalidArgument,
        "MALFORMED_ID",
    );
    refused(
        carol
            .book(request(&Uuid::new_v4().to_string(), &schedule, 0))
            .await,
        Code::InvalidArgument,
        "OUT_OF_RANGE",
    );
    refused(
        carol
            .book(request(&Uuid::new_v4().to_string(), &schedule, 51))
            .await,
        Code::InvalidArgument,
        "OUT_OF_RANGE",
    );
    let unknown = Uuid::new_v4().to_string();
    refused(
        carol
            .book(request(&Uuid::new_v4().to_string(), &unknown, 1))
            .await,
        Code::NotFound,
        "SCHEDULE_NOT_FOUND",
    );

    // Capacity 1: the same request twice is one booking; another request is sold out.
    let request_id = Uuid::new_v4().to_string();
    let first = book(&h, "carol", &schedule, 1, &request_id).await;
    assert_eq!(
        first.state,
        ReservationState::Confirmed as i32,
        "Instant mode books straight to Confirmed"
    );
    let retry = carol
        .book(request(&request_id, &schedule, 1))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retry.reservation_id, first.reservation_id);
    refused(
        carol.book(request(&request_id, &schedule, 2)).await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    refused(
        carol
            .book(request(&Uuid::new_v4().to_string(), &schedule, 1))
            .await,
        Code::FailedPrecondition,
        "SOLD_OUT",
    );

    let mut ops = h.catalog(h.ops()).await;
    let bad_number = RegisterPartnerRequest {
        request_id: Uuid::new_v4().to_string(),
        name: "x".into(),
        business_registration_number: "1234567890".into(),
        channel_id: "c".into(),
        industry: "restaurant".into(),
        owner_operator_id: "owner".into(),
        ..Default::default()
    };
    refused(
        ops.register_partner(bad_number).await,
        Code::InvalidArgument,
        "INVALID_BUSINESS_REGISTRATION_NUMBER",
    );
    let no_channel = RegisterPartnerRequest {
        request_id: Uuid::new_v4().to_string(),
        name: "x".into(),
        business_registration_number: "1234567891".into(),
        industry: "restaurant".into(),
        owner_operator_id: "owner".into(),
        ..Default::default()
    };
    refused(
        ops.register_partner(no_channel).await,
        Code::InvalidArgument,
        "CHANNEL_REQUIRED",
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_handles_reservations_of_its_place_and_only_admins_and_masters_cancel() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let seeded = seed(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::ReservationOnly,
        5,
        0,
    )
    .await;
    let (partner, place) = (seeded.partner_id, seeded.place_id);
    h.catalog(h.operator(partner, None))
        .await
        .invite_operator(InviteOperatorRequest {
            request_id: Uuid::new_v4().to_string(),
            partner_id: partner.to_string(),
            operator_id: "member".into(),
            role: OperatorRole::Member as i32,
            all_places: false,
            place_ids: vec![place.to_string()],
        })
        .await
        .expect("the admin invites a member");
    let member = h.operator_as("member", partner, Some(vec![place]));
    h.catalog(member.clone())
        .await
        .accept_invitation(AcceptInvitationRequest {
            request_id: Uuid::new_v4().to_string(),
            partner_id: partner.to_string(),
        })
        .await
        .expect("the member accepts");
    let first = book(
        &h,
        "yuna",
        &seeded.schedule_id(),
        1,
        &Uuid::new_v4().to_string(),
    )
    .await;
    let second = book(
        &h,
        "yuna",
        &seeded.schedule_id(),
        1,
        &Uuid::new_v4().to_string(),
    )
    .await;
    let reservations = h.reservations(member).await;
    // The acceptance reaches the reservations service through the catalog's events.
    let complete = CompleteRequest {
        request_id: Uuid::new_v4().to_string(),
        reservation_id: first.reservation_id.clone(),
        ..Default::default()
    };
    let completed = until("the member to be known as active", || {
        let mut reservations = reservations.clone();
        let complete = complete.clone();
        async move {
            match reservations.complete(complete).await {
                Ok(r) => Some(r.into_inner()),
                Err(s) if yeyak_e2e::reason(&s) == "NOT_AN_ACTIVE_OPERATOR" => None,
                Err(s) => panic!("complete: {s:?}"),
            }
        }
    })
    .await;
    assert_eq!(completed.state, ReservationState::Completed as i32);
    let cancel = CancelRequest {
        request_id: Uuid::new_v4().to_string(),
        reservation_id: second.reservation_id.clone(),
        ..Default::default()
    };
    refused(
        reservations.clone().cancel(cancel.clone()).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    let cancelled = h
        .reservations(h.operator(partner, None))
        .await
        .cancel(cancel)
        .await
        .expect("the admin cancels")
        .into_inner();
    assert_eq!(cancelled.state, ReservationState::Cancelled as i32);
    h.stop().await;
}

/// The answer once the service has learned the partner's operators from the catalog.
async fn once_known<T, F, Fut>(what: &str, call: F) -> Result<T, tonic::Status>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    until(what, || {
        let answer = call();
        async move {
            match answer.await {
                Err(s) if yeyak_e2e::reason(&s) == "PARTNER_NOT_KNOWN_YET" => None,
                other => Some(other),
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_refuses_a_token_whose_subject_is_no_active_operator_of_the_partner() {
    use yeyak_proto::{
        catalog::v1::GetPartnerRequest, notifications::v1::SetPartnerPreferencesRequest,
        settlement::v1::GetBalanceRequest,
    };
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let seeded = seed(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::ReservationOnly,
        5,
        0,
    )
    .await;
    let partner = seeded.partner_id;
    h.catalog(h.operator(partner, None))
        .await
        .invite_operator(InviteOperatorRequest {
            request_id: Uuid::new_v4().to_string(),
            partner_id: partner.to_string(),
            operator_id: "invited".into(),
            role: OperatorRole::Admin as i32,
            all_places: true,
            place_ids: vec![],
        })
        .await
        .expect("the owner invites an admin who never accepts");
    let impostor = h.operator_as("not-an-operator", partner, None);
    let invited = h.operator_as("invited", partner, None);
    let owner = h.operator(partner, None);
    for (who, token) in [
        ("impostor", &impostor),
        ("invited", &invited),
        ("owner", &owner),
    ] {
        let catalog = h.catalog(token.clone()).await;
        let reservations = h.reservations(token.clone()).await;
        let notifications = h.notifications(token.clone()).await;
        let settlement = h.settlement(token.clone()).await;
        let answers = [
            (
                "catalog GetPartner",
                once_known("the catalog", || {
                    let mut c = catalog.clone();
                    async move {
                        c.get_partner(GetPartnerRequest {
                            partner_id: partner.to_string(),
                        })
                        .await
                        .map(|_| ())
                    }
                })
                .await,
            ),
            (
                "reservations ListReservations",
                once_known("the reservations service", || {
                    let mut r = reservations.clone();
                    async move {
                        r.list_reservations(ListReservationsRequest {
                            partner_id: partner.to_string(),
                            ..Default::default()
                        })
                        .await
                        .map(|_| ())
                    }
                })
                .await,
            ),
            (
                "notifications ListPartnerMessages",
                once_known("the notifications service", || {
                    let mut n = notifications.clone();
                    async move {
                        n.list_partner_messages(ListPartnerMessagesRequest {
                            partner_id: partner.to_string(),
                            ..Default::default()
                        })
                        .await
                        .map(|_| ())
                    }
                })
                .await,
            ),
            (
                "notifications SetPartnerPreferences",
                once_known("the notifications service", || {
                    let mut n = notifications.clone();
                    async move {
                        n.set_partner_preferences(SetPartnerPreferencesRequest {
                            request_id: Uuid::new_v4().to_string(),
                            partner_id: partner.to_string(),
                            ..Default::default()
                        })
                        .await
                        .map(|_| ())
                    }
                })
                .await,
            ),
            (
                "settlement GetBalance",
                once_known("the settlement service", || {
                    let mut s = settlement.clone();
                    async move {
                        s.get_balance(GetBalanceRequest {
                            partner_id: partner.to_string(),
                        })
                        .await
                        .map(|_| ())
                    }
                })
                .await,
            ),
        ];
        for (rpc, answer) in answers {
            if who == "owner" {
                answer.unwrap_or_else(|e| panic!("{rpc} refused the owner: {e:?}"));
            } else {
                refused(answer, Code::PermissionDenied, "NOT_AN_ACTIVE_OPERATOR");
            }
        }
    }
    h.stop().await;
}
