//! Setting a partner's preferences through the API: the mandatory message, unknown kinds, and
//! a retried request.
mod support;

use tonic::Code;
use uuid::Uuid;
use yeyak_kit::access::OperatorRole;
use yeyak_notifications::app::streams;
use yeyak_proto::notifications::events::v1::MessageKind;

use support::*;

async fn owner() -> (Service, yeyak_kit::auth::Caller) {
    let service = Service::new().await;
    service
        .operator(PARTNER, "owner", OperatorRole::Admin, None)
        .await;
    (service, operator("owner", PARTNER))
}

#[tokio::test]
async fn the_requested_message_cannot_be_switched_off_and_unknown_kinds_are_refused() {
    let (service, owner) = owner().await;
    refused(
        service
            .set(
                &owner,
                PARTNER,
                &[MessageKind::ReservationRequested],
                Uuid::new_v4(),
            )
            .await,
        Code::FailedPrecondition,
        "MANDATORY_MESSAGE",
    );
    refused(
        service
            .set(&owner, PARTNER, &[MessageKind::Unspecified], Uuid::new_v4())
            .await,
        Code::InvalidArgument,
        "UNKNOWN_ENUM_VALUE",
    );
}

#[tokio::test]
async fn a_retried_change_answers_as_its_first_run_and_a_reused_request_id_is_refused() {
    let (service, owner) = owner().await;
    let id = Uuid::new_v4();
    let mute = [
        MessageKind::ReservationExpired,
        MessageKind::ReservationCompleted,
    ];
    let first = service
        .set(&owner, PARTNER, &mute, id)
        .await
        .expect("first");
    assert_eq!(first.partner_id, PARTNER.to_string());
    assert_eq!(
        first.muted,
        vec![
            MessageKind::ReservationCompleted as i32,
            MessageKind::ReservationExpired as i32
        ]
    );
    service
        .set(&owner, PARTNER, &[], Uuid::new_v4())
        .await
        .expect("switched on again");
    let retry = service
        .set(&owner, PARTNER, &mute, id)
        .await
        .expect("retry");
    assert_eq!(retry, first);
    refused(
        service.set(&owner, PARTNER, &[], id).await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    let changes = service
        .log
        .read_stream(&streams::preferences(PARTNER), 1, 10)
        .await
        .expect("read");
    assert_eq!(changes.len(), 2, "the retry recorded nothing");
}
