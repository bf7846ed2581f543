//! Rebuilding a read model beside the live one: the switch gives the live name rows computed
//! from position 0, and what the service applied to the old rows while the rebuild ran is not
//! lost with them.
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, ProjectionQuery, ProjectionRow, RecordedEvent,
    testing::{BeforeAppend, Intercepted, event, fresh_sqlite_url},
};
use yeyak_transport::{
    EventHandler, HandlerError,
    rebuild::{ReadModel, rebuild},
};

const PROJECTION: &str = "counts.v1";

/// A read model of how many events each stream holds: each row is the fold of its stream.
struct Counts {
    log: Arc<dyn EventStore>,
}

#[async_trait::async_trait]
impl EventHandler for Counts {
    fn name(&self) -> &str {
        "counts"
    }

    async fn handle(&self, e: &RecordedEvent) -> Result<(), HandlerError> {
        let events = self
            .log
            .read_stream(&e.stream_id, 1, 10_000)
            .await
            .map_err(HandlerError::from)?;
        let version = events.last().map_or(0, |l| l.stream_version);
        let row = ProjectionRow {
            key: e.stream_id.clone(),
            partition: "all".into(),
            value: events.len().to_string().into_bytes(),
            version,
            ..Default::default()
        };
        self.log
            .upsert_rows(PROJECTION, vec![row])
            .await
            .map_err(HandlerError::from)
    }
}

fn counts(log: Arc<dyn EventStore>) -> ReadModel {
    ReadModel {
        handler: Arc::new(Counts { log }),
        projections: &[PROJECTION],
    }
}

async fn append(log: &dyn EventStore, stream: &str) {
    log.append(AppendRequest::single(
        stream,
        ExpectedVersion::Any,
        vec![event("Counted", b"")],
    ))
    .await
    .expect("append");
}

/// The live rows, `(key, value)` by key.
async fn rows(log: &dyn EventStore, projection: &str) -> Vec<(String, String)> {
    let query = ProjectionQuery {
        projection: projection.into(),
        partition: "all".into(),
        limit: 100,
        ..Default::default()
    };
    let mut rows: Vec<_> = log
        .query_rows(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key, String::from_utf8_lossy(&r.value).into_owned()))
        .collect();
    rows.sort();
    rows
}

fn row(key: &str, value: &str, version: u64) -> ProjectionRow {
    ProjectionRow {
        key: key.into(),
        partition: "all".into(),
        value: value.as_bytes().to_vec(),
        version,
        ..Default::default()
    }
}

/// Just before the switch, an event is committed and the service's own consumer applies it to
/// the live rows (which the switch then drops).
struct ServiceAppliesBeforeTheSwitch;

#[async_trait::async_trait]
impl BeforeAppend for ServiceAppliesBeforeTheSwitch {
    async fn before_append(
        &self,
        _: &dyn EventStore,
        _: &AppendRequest,
    ) -> Result<(), yeyak_eventlog::AppendError> {
        Ok(())
    }

    async fn before_switch(&self, inner: &dyn EventStore) {
        append(inner, "a").await;
        inner
            .upsert_rows(PROJECTION, vec![row("a", "4", 4)])
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_rebuild_switches_the_live_rows_to_rows_computed_from_position_0() {
    let log = yeyak_eventlog::connect(&fresh_sqlite_url("rebuild"))
        .await
        .unwrap();
    for stream in ["a", "a", "a", "b", "b"] {
        append(&*log, stream).await;
    }
    // The live read model is wrong (a bug since fixed) and holds a row no event explains.
    log.upsert_rows(PROJECTION, vec![row("a", "wrong", 3), row("ghost", "1", 1)])
        .await
        .unwrap();
    let mut seen = Vec::new();
    let done = rebuild(
        log.clone(),
        &counts,
        &mut |at, head| seen.push((at, head)),
        &CancellationToken::new(),
    )
    .await
    .expect("rebuild");
    assert_eq!(
        rows(&*log, PROJECTION).await,
        [("a".into(), "3".into()), ("b".into(), "2".into())]
    );
    assert!(rows(&*log, "counts.v1~rebuild").await.is_empty());
    assert_eq!((done.events, done.caught_up, done.set_aside), (5, 0, 0));
    assert_eq!(seen.last(), Some(&(5, 5)), "the progress reaches the head");
}

#[tokio::test]
async fn what_the_service_applied_while_the_rebuild_ran_is_applied_again_after_the_switch() {
    let real = yeyak_eventlog::connect(&fresh_sqlite_url("rebuild-race"))
        .await
        .unwrap();
    for stream in ["a", "a", "a", "b"] {
        append(&*real, stream).await;
    }
    let log: Arc<dyn EventStore> = Arc::new(Intercepted {
        inner: real.clone(),
        hook: ServiceAppliesBeforeTheSwitch,
    });
    let done = rebuild(log, &counts, &mut |_, _| {}, &CancellationToken::new())
        .await
        .expect("rebuild");
    // The switch dropped the live row "a" = 4 the service wrote; the catch-up wrote it again.
    assert_eq!(
        rows(&*real, PROJECTION).await,
        [("a".into(), "4".into()), ("b".into(), "1".into())]
    );
    assert_eq!(done.caught_up, 1);
}
