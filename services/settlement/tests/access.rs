//! Who sees a partner's settlement: its 관리자 as the catalog recorded it (invited, accepted,
//! Admin of all places), not any token naming the partner.
mod support;

use tonic::Code;
use yeyak_kit::{
    access::OperatorRole,
    auth::{Caller, PlaceScope, Role},
};

use support::*;

/// A partner the service knows, with one settled reservation: its owner is its active 관리자.
async fn known_partner() -> Service {
    let service = Service::new().await;
    service
        .operator(PARTNER, "owner", OperatorRole::Admin, None)
        .await;
    service.deliver(&completed(PARTNER, "r-1", 60_000)).await;
    service
}

#[tokio::test]
async fn a_subject_that_is_no_operator_of_the_partner_is_refused() {
    let service = known_partner().await;
    refused(
        service
            .entries(&operator("stranger", PARTNER), PARTNER)
            .await,
        Code::PermissionDenied,
        "NOT_AN_ACTIVE_OPERATOR",
    );
}

#[tokio::test]
async fn an_invited_admin_sees_the_settlement_only_once_it_accepts() {
    let service = known_partner().await;
    service
        .invited(PARTNER, "kim", OperatorRole::Admin, None)
        .await;
    let kim = operator("kim", PARTNER);
    refused(
        service.entries(&kim, PARTNER).await,
        Code::PermissionDenied,
        "NOT_AN_ACTIVE_OPERATOR",
    );
    service.accepted(PARTNER, "kim").await;
    let lines = service
        .entries(&kim, PARTNER)
        .await
        .expect("the 관리자 sees it");
    assert_eq!(lines.len(), 3, "payment, completion, commission");
    assert_eq!(lines[0].reservation_id, "r-1");
}

#[tokio::test]
async fn only_an_admin_of_all_places_sees_the_settlement() {
    let service = known_partner().await;
    service
        .operator(PARTNER, "lee", OperatorRole::Member, None)
        .await;
    service
        .operator(PARTNER, "park", OperatorRole::Master, None)
        .await;
    for who in ["lee", "park"] {
        refused(
            service.entries(&operator(who, PARTNER), PARTNER).await,
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        );
    }
    service
        .operator(PARTNER, "choi", OperatorRole::Admin, Some(&[PLACE_A]))
        .await;
    refused(
        service.entries(&operator("choi", PARTNER), PARTNER).await,
        Code::PermissionDenied,
        "ALL_PLACES_REQUIRED",
    );
    let narrow_token = Caller {
        places: PlaceScope::Only([PLACE_A].into()),
        ..operator("owner", PARTNER)
    };
    refused(
        service.entries(&narrow_token, PARTNER).await,
        Code::PermissionDenied,
        "ALL_PLACES_REQUIRED",
    );
    assert_eq!(
        service
            .entries(&operator("owner", PARTNER), PARTNER)
            .await
            .expect("the owner")
            .len(),
        3
    );
}

#[tokio::test]
async fn before_any_operator_fact_of_the_partner_it_is_not_known_yet() {
    let service = Service::new().await;
    service
        .operator(OTHER_PARTNER, "owner-2", OperatorRole::Admin, None)
        .await;
    service.deliver(&completed(PARTNER, "r-1", 60_000)).await;
    refused(
        service.entries(&operator("owner", PARTNER), PARTNER).await,
        Code::Unavailable,
        "PARTNER_NOT_KNOWN_YET",
    );
    // Platform operations need no operator record.
    assert_eq!(
        service.entries(&ops(), PARTNER).await.expect("ops").len(),
        3
    );
}

#[tokio::test]
async fn a_token_naming_another_partner_is_refused() {
    let service = known_partner().await;
    service
        .operator(OTHER_PARTNER, "owner-2", OperatorRole::Admin, None)
        .await;
    refused(
        service
            .entries(&operator("owner-2", OTHER_PARTNER), PARTNER)
            .await,
        Code::PermissionDenied,
        "PARTNER_NOT_GRANTED",
    );
}

#[tokio::test]
async fn customers_never_see_a_partners_settlement() {
    let service = known_partner().await;
    let customer = Caller {
        subject: "owner".into(),
        role: Role::Customer,
        partner_id: None,
        places: PlaceScope::All,
    };
    refused(
        service.entries(&customer, PARTNER).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
}
