//! Who reads and changes a partner's notifications: active operators of the partner as the
//! catalog recorded them (invited, accepted, role, places), not any token naming the partner.
mod support;

use tonic::Code;
use uuid::Uuid;
use yeyak_kit::{
    access::OperatorRole,
    auth::{Caller, PlaceScope, Role},
};
use yeyak_proto::notifications::events::v1::MessageKind;

use support::*;

/// A partner the service knows: its owner is its active 관리자.
async fn known_partner() -> Service {
    let service = Service::new().await;
    service
        .operator(PARTNER, "owner", OperatorRole::Admin, None)
        .await;
    service
}

#[tokio::test]
async fn a_subject_that_is_no_operator_of_the_partner_is_refused() {
    let service = known_partner().await;
    let stranger = operator("stranger", PARTNER);
    refused(
        service.list(&stranger, PARTNER).await,
        Code::PermissionDenied,
        "NOT_AN_ACTIVE_OPERATOR",
    );
    refused(
        service.set(&stranger, PARTNER, &[], Uuid::new_v4()).await,
        Code::PermissionDenied,
        "NOT_AN_ACTIVE_OPERATOR",
    );
}

#[tokio::test]
async fn an_invited_operator_acts_only_once_it_accepts() {
    let service = known_partner().await;
    service
        .invited(PARTNER, "kim", OperatorRole::Admin, None)
        .await;
    let kim = operator("kim", PARTNER);
    refused(
        service.list(&kim, PARTNER).await,
        Code::PermissionDenied,
        "NOT_AN_ACTIVE_OPERATOR",
    );
    let mute = [MessageKind::ReservationCompleted];
    refused(
        service.set(&kim, PARTNER, &mute, Uuid::new_v4()).await,
        Code::PermissionDenied,
        "NOT_AN_ACTIVE_OPERATOR",
    );
    service.accepted(PARTNER, "kim").await;
    assert_eq!(service.list(&kim, PARTNER).await.expect("listed"), vec![]);
    let set = service
        .set(&kim, PARTNER, &mute, Uuid::new_v4())
        .await
        .expect("an accepted 관리자 sets preferences");
    assert_eq!(set.muted, vec![MessageKind::ReservationCompleted as i32]);
}

#[tokio::test]
async fn only_an_admin_of_all_places_switches_messages_off() {
    let service = known_partner().await;
    service
        .operator(PARTNER, "lee", OperatorRole::Member, None)
        .await;
    service
        .operator(PARTNER, "park", OperatorRole::Master, None)
        .await;
    let mute = [MessageKind::ReservationCompleted];
    for who in ["lee", "park"] {
        let caller = operator(who, PARTNER);
        refused(
            service.set(&caller, PARTNER, &mute, Uuid::new_v4()).await,
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        );
        service
            .list(&caller, PARTNER)
            .await
            .expect("every role lists");
    }
    let narrow_owner = operator_of_places("owner", PARTNER, &[PLACE_A]);
    refused(
        service
            .set(&narrow_owner, PARTNER, &mute, Uuid::new_v4())
            .await,
        Code::PermissionDenied,
        "ALL_PLACES_REQUIRED",
    );
    service
        .set(&operator("owner", PARTNER), PARTNER, &mute, Uuid::new_v4())
        .await
        .expect("the 관리자");
}

#[tokio::test]
async fn an_operator_granted_some_places_sees_only_their_messages() {
    let service = known_partner().await;
    service
        .operator(PARTNER, "member-a", OperatorRole::Member, Some(&[PLACE_A]))
        .await;
    let (at_a, at_b, nowhere) = (
        requested(PARTNER, Some(PLACE_A)),
        requested(PARTNER, Some(PLACE_B)),
        requested(PARTNER, None),
    );
    for event in [&at_a, &at_b, &nowhere] {
        service.deliver(event).await;
    }
    let (a, b, none) = (
        reservation_of(&at_a),
        reservation_of(&at_b),
        reservation_of(&nowhere),
    );

    let member = service
        .list(&operator("member-a", PARTNER), PARTNER)
        .await
        .expect("listed");
    assert_eq!(
        reservations(&member),
        vec![a.as_str()],
        "its record grants place A only; a message naming no place could be of any"
    );
    let owner_for_b = service
        .list(&operator_of_places("owner", PARTNER, &[PLACE_B]), PARTNER)
        .await
        .expect("listed");
    assert_eq!(
        reservations(&owner_for_b),
        vec![b.as_str()],
        "its token grants place B only"
    );
    let owner = service
        .list(&operator("owner", PARTNER), PARTNER)
        .await
        .expect("listed");
    assert_eq!(reservations(&owner), vec![&a, &b, &none]);
    let staff = service.list(&ops(), PARTNER).await.expect("listed");
    assert_eq!(reservations(&staff), vec![&a, &b, &none]);
}

#[tokio::test]
async fn before_any_operator_fact_of_the_partner_it_is_not_known_yet() {
    let service = Service::new().await;
    service
        .operator(OTHER_PARTNER, "owner-2", OperatorRole::Admin, None)
        .await;
    let owner = operator("owner", PARTNER);
    refused(
        service.list(&owner, PARTNER).await,
        Code::Unavailable,
        "PARTNER_NOT_KNOWN_YET",
    );
    refused(
        service.set(&owner, PARTNER, &[], Uuid::new_v4()).await,
        Code::Unavailable,
        "PARTNER_NOT_KNOWN_YET",
    );
    // Platform operations need no operator record.
    assert_eq!(service.list(&ops(), PARTNER).await.expect("listed"), vec![]);
    service
        .set(&ops(), PARTNER, &[], Uuid::new_v4())
        .await
        .expect("set by platform operations");
}

#[tokio::test]
async fn a_token_naming_another_partner_is_refused() {
    let service = known_partner().await;
    service
        .operator(OTHER_PARTNER, "owner-2", OperatorRole::Admin, None)
        .await;
    let elsewhere = operator("owner-2", OTHER_PARTNER);
    refused(
        service.list(&elsewhere, PARTNER).await,
        Code::PermissionDenied,
        "PARTNER_NOT_GRANTED",
    );
    refused(
        service.set(&elsewhere, PARTNER, &[], Uuid::new_v4()).await,
        Code::PermissionDenied,
        "PARTNER_NOT_GRANTED",
    );
}

#[tokio::test]
async fn customers_never_read_a_partners_messages() {
    let service = known_partner().await;
    let customer = Caller {
        subject: "owner".into(),
        role: Role::Customer,
        partner_id: None,
        places: PlaceScope::All,
    };
    refused(
        service.list(&customer, PARTNER).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
}
