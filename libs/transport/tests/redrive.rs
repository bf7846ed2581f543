//! Redriving a log-tail consumer's dead letters: a request in its dead-letter stream, the event
//! applied again once the consumer is fixed, never a second effect however many requests, and a
//! failed attempt that leaves the next one free to apply it.
use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion,
    testing::{event, eventually, fresh_sqlite_url, until},
};
use yeyak_transport::{
    DeadLetter, EventHandler, LogTailTransport, Transport, dead_letter_stream, redrive,
    testing::Fixable,
};

const WAIT: Duration = Duration::from_secs(30);

async fn outcome(own: &dyn EventStore, letter: &DeadLetter) -> Option<String> {
    redrive::outcomes(own, "fixable")
        .await
        .unwrap()
        .get(&letter.event_id)
        .cloned()
        .flatten()
}

#[tokio::test]
async fn a_redriven_dead_letter_is_applied_once_when_its_consumer_is_fixed() {
    let source = yeyak_eventlog::connect(&fresh_sqlite_url("redrive-source"))
        .await
        .unwrap();
    let own = yeyak_eventlog::connect(&fresh_sqlite_url("redrive-own"))
        .await
        .unwrap();
    let handler = Fixable::new(own.clone(), true);
    let transport = LogTailTransport::new(own.clone())
        .with_source("orders", source.clone())
        .poll_interval(Duration::from_millis(20))
        .redrive_interval(Duration::from_millis(20));
    let stop = CancellationToken::new();
    let consuming = {
        let (handler, stop) = (handler.clone() as Arc<dyn EventHandler>, stop.clone());
        tokio::spawn(async move { transport.consume("orders", handler, stop).await })
    };
    source
        .append(AppendRequest::single(
            "order-1",
            ExpectedVersion::Any,
            vec![event("Order", b"1")],
        ))
        .await
        .unwrap();
    let letter = until(WAIT, "the event set aside", || async {
        let stream = own
            .read_stream(&dead_letter_stream("fixable"), 1, 100)
            .await
            .ok()?;
        stream.iter().find_map(DeadLetter::decode)
    })
    .await;

    // Still broken: the attempt fails and is recorded; nothing is applied.
    redrive::request(&*own, &letter, "ops:test").await.unwrap();
    eventually(WAIT, "the failed attempt recorded", || async {
        outcome(&*own, &letter)
            .await
            .is_some_and(|o| o.starts_with("set aside again"))
    })
    .await;
    assert!(handler.effects().await.is_empty());

    // Fixed: the next request applies it, and a further one has no second effect.
    handler.set_broken(false);
    for _ in 0..2 {
        redrive::request(&*own, &letter, "ops:test").await.unwrap();
        eventually(WAIT, "the redrive applied", || async {
            outcome(&*own, &letter).await.as_deref() == Some(redrive::APPLIED)
        })
        .await;
    }
    assert_eq!(handler.effects().await, ["1"], "applied once");
    stop.cancel();
    consuming.await.unwrap().unwrap();
}
