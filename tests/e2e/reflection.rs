//! A client that knows nothing but server reflection can discover every service.
use tokio_stream::StreamExt;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};
use yeyak_e2e::{Harness, Storage, channel};

/// The services a port lists through reflection `$version` (`v1`, or `v1alpha`, which older
/// clients speak): the two APIs are the same messages in two packages.
macro_rules! services_at {
    ($version:ident, $addr:expr) => {{
        use tonic_reflection::pb::$version::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let mut client = ServerReflectionClient::new(channel($addr).await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = client
            .server_reflection_info(tokio_stream::iter(vec![request]))
            .await
            .expect("reflection")
            .into_inner();
        let response = responses.next().await.expect("a response").expect("ok");
        match response.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => list
                .service
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<String>>(),
            other => panic!("unexpected {other:?}"),
        }
    }};
}

/// The descriptors a reflection client needs to call a service's methods.
async fn describe(addr: std::net::SocketAddr, symbol: &str) -> prost_types::FileDescriptorProto {
    use prost::Message;
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_string())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    match responses
        .next()
        .await
        .expect("a response")
        .expect("ok")
        .message_response
    {
        Some(MessageResponse::FileDescriptorResponse(files)) => {
            prost_types::FileDescriptorProto::decode(files.file_descriptor_proto[0].as_slice())
                .expect("a descriptor")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_describes_the_booking_rpcs_and_their_messages() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let file = describe(
        h.addresses.reservations,
        "yeyak.reservations.v1.ReservationsService",
    )
    .await;
    let service = file
        .service
        .iter()
        .find(|s| s.name() == "ReservationsService")
        .expect("the service");
    let methods: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
    assert_eq!(
        methods,
        [
            "Book",
            "Confirm",
            "Reject",
            "Cancel",
            "Complete",
            "CancelPaymentOnly",
            "MarkNoShow",
            "SetCompletionCode",
            "SetDefaultRejectText",
            "GetReservation",
            "GetReservationHistory",
            "ListReservations",
            "GetDashboard"
        ]
    );
    assert!(file.message_type.iter().any(|m| m.name() == "BookRequest"));
    assert!(
        file.dependency
            .iter()
            .any(|d| d == "yeyak/reservations/events/v1/events.proto"),
        "dependencies are resolvable too"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_port_lists_exactly_what_it_serves_on_reflection_v1_and_v1alpha() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let a = h.addresses;
    for (addr, service) in [
        (a.catalog, "yeyak.catalog.v1.CatalogService"),
        (a.reservations, "yeyak.reservations.v1.ReservationsService"),
        (
            a.notifications,
            "yeyak.notifications.v1.NotificationsService",
        ),
        (a.settlement, "yeyak.settlement.v1.SettlementService"),
    ] {
        let mut expected: Vec<String> = std::iter::once(service)
            .chain(yeyak_kit::server::ALONGSIDE)
            .map(str::to_string)
            .collect();
        expected.sort();
        for (version, mut names) in [
            ("v1", services_at!(v1, addr)),
            ("v1alpha", services_at!(v1alpha, addr)),
        ] {
            names.sort();
            assert_eq!(
                names, expected,
                "{service}'s port over reflection {version}"
            );
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_service_another_port_serves_says_which_port_serves_what() {
    use yeyak_proto::settlement::v1::{
        GetBalanceRequest, settlement_service_client::SettlementServiceClient,
    };
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    // The settlement's client pointed at the catalog's port.
    let mut wrong = SettlementServiceClient::new(channel(h.addresses.catalog).await);
    let status = wrong
        .get_balance(GetBalanceRequest::default())
        .await
        .expect_err("not served here");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status
            .message()
            .contains("yeyak.settlement.v1.SettlementService is not served on this port")
            && status.message().contains("yeyak.catalog.v1.CatalogService"),
        "{}",
        status.message()
    );
    h.stop().await;
}
