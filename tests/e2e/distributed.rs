//! The distributed mode's failure claims, with real processes, PostgreSQL and a Kafka broker.
use uuid::Uuid;
use yeyak_e2e::{Harness, until};
use yeyak_proto::{
    admin::v1::{GetConsumerLagRequest, admin_service_client::AdminServiceClient},
    catalog::events::v1::{ConfirmationMode, PaymentMode},
    reservations::v1::CompleteRequest,
    settlement::v1::GetBalanceRequest,
};

use crate::support::{book, seed};

const COMPLETED: &str = "yeyak.reservations.events.v1.ReservationCompleted";

/// The settlement process dies after its ledger line committed but before the record's offset was
/// stored. The restarted process receives the record again, and the inbox makes it a no-op.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_between_effect_and_offset_has_no_second_effect() {
    let failpoint = format!("crash-after-effect:{COMPLETED}");
    let Some(mut h) = Harness::distributed(&[("settlement", "YEYAK_FAILPOINT", &failpoint)]).await
    else {
        return;
    };
    let seeded = seed(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::PayAtBooking,
        3,
        20_000,
    )
    .await;
    let booked = book(
        &h,
        "dana",
        &seeded.schedule_id(),
        1,
        &Uuid::new_v4().to_string(),
    )
    .await;
    let operator = h.operator(seeded.partner_id, None);
    h.reservations(operator.clone())
        .await
        .complete(CompleteRequest {
            request_id: Uuid::new_v4().to_string(),
            reservation_id: booked.reservation_id.clone(),
            ..Default::default()
        })
        .await
        .expect("complete");

    let cluster = h.cluster.as_mut().expect("distributed");
    let status = cluster.wait_for_exit("settlement").await;
    assert!(
        !status.success(),
        "the failpoint aborted the consumer: {status}"
    );
    assert!(
        cluster
            .log("settlement")
            .contains("failpoint crash-after-effect")
    );
    cluster
        .restart_without("settlement", &["YEYAK_FAILPOINT"])
        .await;

    // Wait until the restarted consumer has read to the end of the topic (so it has seen the
    // redelivered record), then count the lines.
    let admin = AdminServiceClient::with_interceptor(
        yeyak_e2e::channel(h.addresses.settlement).await,
        h.ops(),
    );
    until("the settlement consumer to catch up", || {
        let mut admin = admin.clone();
        async move {
            let lag = admin
                .get_consumer_lag(GetConsumerLagRequest {})
                .await
                .ok()?
                .into_inner();
            let ours: Vec<_> = lag
                .consumers
                .iter()
                .filter(|c| c.consumer == "settlement-ledger")
                .collect();
            (!ours.is_empty() && ours.iter().all(|c| c.lag == 0)).then_some(())
        }
    })
    .await;
    let balance = h
        .settlement(operator)
        .await
        .get_balance(GetBalanceRequest {
            partner_id: seeded.partner_id.to_string(),
        })
        .await
        .expect("balance")
        .into_inner();
    // One completed reservation paid by Kakao Pay card: payable less 3.3 % once.
    assert_eq!(
        (balance.pending_krw, balance.payable_krw),
        (0, 20_000 - 660)
    );

    // The notifications process, over Kafka, told the partner and the customer once each.
    let id = &booked.reservation_id;
    let expected = [
        format!("reservation-booked:{id}:customer"),
        format!("reservation-booked:{id}:operator:{}", yeyak_e2e::OPERATOR),
        format!("reservation-completed:{id}:customer"),
    ];
    until("the booking's messages at the provider", || async {
        let keys: Vec<_> = h
            .provider
            .accepted()
            .into_iter()
            .map(|r| r.idempotency_key)
            .collect();
        expected.iter().all(|k| keys.contains(k)).then_some(())
    })
    .await;
    assert_eq!(
        h.provider.requests(),
        h.provider.accepted().len(),
        "no message was sent twice"
    );
    h.stop().await;
}

/// With the broker down, bookings go on (the log is the outbox); within seconds of its return
/// the backlog flows on to the other services; and with it down again, every process exits on
/// SIGTERM well inside Kubernetes' 30-second grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_stops_no_booking_recovers_in_seconds_and_never_holds_up_a_shutdown() {
    let Some(mut h) = Harness::distributed(&[]).await else {
        return;
    };
    let seeded = seed(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::ReservationOnly,
        5,
        0,
    )
    .await;
    book(
        &h,
        "erin",
        &seeded.schedule_id(),
        1,
        &Uuid::new_v4().to_string(),
    )
    .await;

    h.cluster.as_mut().expect("distributed").broker.kill();
    let during = book(
        &h,
        "frank",
        &seeded.schedule_id(),
        1,
        &Uuid::new_v4().to_string(),
    )
    .await;
    let told = format!("reservation-booked:{}:customer", during.reservation_id);
    assert!(
        !h.provider
            .accepted()
            .iter()
            .any(|r| r.idempotency_key == told),
        "nothing reached the notifications while the broker was down"
    );

    h.cluster
        .as_mut()
        .expect("distributed")
        .broker
        .restart()
        .await;
    let returned = std::time::Instant::now();
    until(
        "the booking made during the outage to reach the notifications",
        || async {
            h.provider
                .accepted()
                .iter()
                .any(|r| r.idempotency_key == told)
                .then_some(())
        },
    )
    .await;
    let recovered = returned.elapsed();
    eprintln!("recovered {recovered:?} after the broker returned");
    assert!(
        recovered < std::time::Duration::from_secs(15),
        "the relay and the consumers took {recovered:?} after the broker returned"
    );

    let cluster = h.cluster.as_mut().expect("distributed");
    cluster.broker.kill();
    let stopping = std::time::Instant::now();
    for (service, pid) in cluster.pids() {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "SIGTERM to {service}");
    }
    for service in yeyak_e2e::cluster::SERVICES {
        let status = cluster.wait_for_exit(service).await;
        assert!(status.success(), "{service} exited with {status}");
    }
    let took = stopping.elapsed();
    eprintln!("every service exited {took:?} after SIGTERM with the broker down");
    assert!(
        took < std::time::Duration::from_secs(25),
        "the services took {took:?} to exit, past the grace period's margin"
    );
}
