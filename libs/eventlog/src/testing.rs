//! Test support: fresh databases for each test, and the conformance suite every backend passes.
use std::time::Duration;

use uuid::Uuid;

use crate::{Metadata, NewEvent};

/// Admin URL of the test PostgreSQL server (`YEYAK_TEST_PG_URL`).
pub fn postgres_admin_url() -> String {
    std::env::var("YEYAK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// Whether missing infrastructure must fail the test instead of skipping it (`CI=true`).
pub fn infrastructure_required() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// Creates a new, empty PostgreSQL database and returns its URL. Returns `None` (the test is
/// skipped) when no server answers, unless [`infrastructure_required`].
pub async fn fresh_postgres_url(hint: &str) -> Option<String> {
    fresh_database_on(&postgres_admin_url(), hint).await
}

/// Like [`fresh_postgres_url`], on the server `admin` names; the new database's URL keeps the
/// admin URL's parameters (`sslmode`, `sslrootcert`, …).
pub async fn fresh_database_on(admin: &str, hint: &str) -> Option<String> {
    use sqlx::{Connection, Executor};
    let mut conn = match sqlx::PgConnection::connect(admin).await {
        Ok(conn) => conn,
        Err(e) => {
            assert!(
                !infrastructure_required(),
                "PostgreSQL is required (CI=true) but {} is unreachable: {e}",
                crate::redact(admin)
            );
            eprintln!(
                "skipped: PostgreSQL at {} is unreachable: {e}",
                crate::redact(admin)
            );
            return None;
        }
    };
    let hint: String = hint
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(20)
        .collect::<String>()
        .to_lowercase();
    let name = format!(
        "yeyak_t_{hint}_{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create test database");
    let (path, query) = admin
        .split_once('?')
        .map_or((admin, None), |(p, q)| (p, Some(q)));
    let base = path.rsplit_once('/').map_or(path, |(base, _)| base);
    Some(match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    })
}

/// A URL for a new SQLite file in the temporary directory.
pub fn fresh_sqlite_url(hint: &str) -> String {
    let dir = std::env::temp_dir().join("yeyak-tests");
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let file = dir.join(format!("{hint}-{}.db", Uuid::new_v4().simple()));
    format!("sqlite://{}", file.display())
}

/// An event with a fresh id and a small payload.
pub fn event(event_type: &str, payload: &[u8]) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event_type.to_string(),
        schema_version: 1,
        payload: payload.to_vec(),
        metadata: Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: "service:test".to_string(),
            occurred_at_us: 1_700_000_000_000_000,
            trace_context: Some(
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
            ),
        },
    }
}

/// Waits until `probe` yields a value, checking every few milliseconds, and fails after
/// `deadline` naming `what`. The one way tests wait for something asynchronous to happen.
pub async fn until<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for `cond` to hold (see [`until`]).
pub async fn eventually<F, Fut>(deadline: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    until(deadline, what, || {
        let check = cond();
        async move { check.await.then_some(()) }
    })
    .await
}

/// What an [`Intercepted`] store does before each append: anything on the real store (a racing
/// write), or an error that fails the append before it reaches the store.
#[async_trait::async_trait]
pub trait BeforeAppend: Send + Sync {
    async fn before_append(
        &self,
        inner: &dyn crate::EventStore,
        request: &crate::AppendRequest,
    ) -> Result<(), crate::AppendError>;

    /// Before read models are switched ([`crate::EventStore::switch_projections`]): a write
    /// that races the switch. Nothing by default.
    async fn before_switch(&self, _inner: &dyn crate::EventStore) {}
}

/// A real store with a hook before each append, for tests of races and failures at the worst
/// moment. Everything else goes straight to the store.
pub struct Intercepted<H> {
    pub inner: std::sync::Arc<dyn crate::EventStore>,
    pub hook: H,
}

#[async_trait::async_trait]
impl<H: BeforeAppend + 'static> crate::EventStore for Intercepted<H> {
    fn backend(&self) -> crate::Backend {
        self.inner.backend()
    }

    async fn append(
        &self,
        request: crate::AppendRequest,
    ) -> Result<crate::AppendResult, crate::AppendError> {
        self.hook.before_append(&*self.inner, &request).await?;
        self.inner.append(request).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<crate::RecordedEvent>, crate::StoreError> {
        self.inner.read_stream(stream_id, from_version, limit).await
    }

    async fn read_streams(
        &self,
        stream_ids: &[String],
    ) -> Result<Vec<crate::RecordedEvent>, crate::StoreError> {
        self.inner.read_streams(stream_ids).await
    }

    async fn read_all(
        &self,
        after: crate::Position,
        limit: usize,
    ) -> Result<Vec<crate::RecordedEvent>, crate::StoreError> {
        self.inner.read_all(after, limit).await
    }

    async fn event_by_id(
        &self,
        event_id: Uuid,
    ) -> Result<Option<crate::RecordedEvent>, crate::StoreError> {
        self.inner.event_by_id(event_id).await
    }

    async fn inbox_entry(
        &self,
        consumer: &str,
        event_id: Uuid,
    ) -> Result<Option<crate::InboxRecord>, crate::StoreError> {
        self.inner.inbox_entry(consumer, event_id).await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<crate::Position, crate::StoreError> {
        self.inner.load_checkpoint(name).await
    }

    async fn save_checkpoint(
        &self,
        name: &str,
        position: crate::Position,
    ) -> Result<(), crate::StoreError> {
        self.inner.save_checkpoint(name, position).await
    }

    async fn checkpoints(&self) -> Result<Vec<(String, crate::Position)>, crate::StoreError> {
        self.inner.checkpoints().await
    }

    async fn head(&self) -> Result<crate::Position, crate::StoreError> {
        self.inner.head().await
    }

    fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commits()
    }

    async fn try_lease(
        &self,
        name: &str,
    ) -> Result<Option<Box<dyn crate::Lease>>, crate::StoreError> {
        self.inner.try_lease(name).await
    }

    async fn upsert_projections(
        &self,
        rows: Vec<(String, crate::ProjectionRow)>,
    ) -> Result<(), crate::StoreError> {
        self.inner.upsert_projections(rows).await
    }

    async fn query_rows(
        &self,
        query: &crate::ProjectionQuery,
    ) -> Result<Vec<crate::ProjectionRow>, crate::StoreError> {
        self.inner.query_rows(query).await
    }

    async fn reset_projection(
        &self,
        projection: &str,
        checkpoint: &str,
    ) -> Result<(), crate::StoreError> {
        self.inner.reset_projection(projection, checkpoint).await
    }

    async fn switch_projections(
        &self,
        renames: &[(String, String)],
    ) -> Result<(), crate::StoreError> {
        self.hook.before_switch(&*self.inner).await;
        self.inner.switch_projections(renames).await
    }

    async fn append_held(
        &self,
        request: crate::AppendRequest,
    ) -> Result<Box<dyn crate::HeldAppend>, crate::AppendError> {
        self.hook.before_append(&*self.inner, &request).await?;
        self.inner.append_held(request).await
    }
}

/// The contract every [`crate::EventStore`] keeps. Each function is one rule; the backend tests
/// call each of them on a fresh store.
pub mod conformance {
    use std::{
        collections::{HashMap, HashSet},
        sync::Arc,
        time::Duration,
    };

    use tokio::sync::Barrier;

    use super::event;

    /// Read-model rows: upserted, filtered within a partition newest first, paged, and dropped
    /// with their checkpoint for a rebuild.
    pub async fn projection_rows_are_upserted_filtered_and_reset(store: Arc<dyn EventStore>) {
        use crate::{ProjectionQuery, ProjectionRow};
        // Filters by position: a place, a day, a state.
        let row = |key: &str, partition: &str, state: &str, sort: i64| ProjectionRow {
            key: key.into(),
            partition: partition.into(),
            filters: vec!["pl".into(), "2026-12-24".into(), state.into()],
            sort,
            value: key.as_bytes().to_vec(),
            version: 0,
        };
        store
            .upsert_rows(
                "list",
                vec![
                    row("a", "p1", "Requested", 1),
                    row("b", "p1", "Confirmed", 2),
                    row("c", "p1", "Requested", 3),
                    row("d", "p2", "Requested", 4),
                ],
            )
            .await
            .expect("upsert");
        store
            .upsert_rows("list", vec![row("a", "p1", "Confirmed", 5)])
            .await
            .expect("replace a row");
        let query = |state: Option<&str>, after: Option<(i64, &str)>, limit| ProjectionQuery {
            projection: "list".into(),
            partition: "p1".into(),
            filters: vec![None, None, state.map(str::to_string)],
            after: after.map(|(sort, key)| (sort, key.to_string())),
            limit,
        };
        let keys = |rows: Vec<ProjectionRow>| rows.into_iter().map(|r| r.key).collect::<Vec<_>>();
        assert_eq!(
            keys(store.query_rows(&query(None, None, 10)).await.unwrap()),
            ["a", "c", "b"]
        );
        assert_eq!(
            keys(
                store
                    .query_rows(&query(Some("Confirmed"), None, 10))
                    .await
                    .unwrap()
            ),
            ["a", "b"]
        );
        assert_eq!(
            keys(
                store
                    .query_rows(&query(None, Some((5, "a")), 1))
                    .await
                    .unwrap()
            ),
            ["c"]
        );
        // Rows of one sort value are paged by key, none skipped.
        store
            .upsert_rows(
                "list",
                vec![
                    row("e", "p1", "Requested", 7),
                    row("f", "p1", "Requested", 7),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            keys(store.query_rows(&query(None, None, 1)).await.unwrap()),
            ["f"]
        );
        assert_eq!(
            keys(
                store
                    .query_rows(&query(None, Some((7, "f")), 1))
                    .await
                    .unwrap()
            ),
            ["e"]
        );
        let other_day = ProjectionQuery {
            filters: vec![None, Some("2026-12-25".into())],
            ..query(None, None, 10)
        };
        assert!(store.query_rows(&other_day).await.unwrap().is_empty());
        let this_place = ProjectionQuery {
            filters: vec![Some("pl".into()), Some("2026-12-24".into()), None, None],
            ..query(None, None, 10)
        };
        assert_eq!(store.query_rows(&this_place).await.unwrap().len(), 5);
        let too_many = ProjectionQuery {
            filters: vec![None; crate::PROJECTION_FILTERS + 1],
            ..query(None, None, 10)
        };
        assert!(store.query_rows(&too_many).await.is_err());
        store
            .save_checkpoint(
                "list@x",
                Position {
                    commit: 3,
                    position: 9,
                },
            )
            .await
            .unwrap();
        store
            .reset_projection("list", "list@x")
            .await
            .expect("reset");
        assert!(
            store
                .query_rows(&query(None, None, 10))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.load_checkpoint("list@x").await.unwrap(),
            Position::START
        );
    }

    /// A row `key` of partition `p` computed from version `version`, its value `value`.
    fn versioned(key: &str, version: u64, value: &str) -> crate::ProjectionRow {
        crate::ProjectionRow {
            key: key.into(),
            partition: "p".into(),
            value: value.as_bytes().to_vec(),
            version,
            ..Default::default()
        }
    }

    /// The values of partition `p` of `projection`, by key.
    async fn values(store: &dyn EventStore, projection: &str) -> Vec<(String, String)> {
        let query = crate::ProjectionQuery {
            projection: projection.into(),
            partition: "p".into(),
            limit: 100,
            ..Default::default()
        };
        let mut rows: Vec<_> = store
            .query_rows(&query)
            .await
            .expect("query")
            .into_iter()
            .map(|r| (r.key, String::from_utf8_lossy(&r.value).into_owned()))
            .collect();
        rows.sort();
        rows
    }

    /// A row computed from an older version never replaces one computed from a newer: a late
    /// writer (another replica, a rebuild catching up) cannot undo a newer fold; the same version
    /// is written again.
    pub async fn an_older_row_version_never_replaces_a_newer_one(store: Arc<dyn EventStore>) {
        store
            .upsert_rows("list", vec![versioned("a", 6, "v6")])
            .await
            .unwrap();
        store
            .upsert_rows("list", vec![versioned("a", 5, "v5")])
            .await
            .expect("an older row is not an error");
        assert_eq!(values(&*store, "list").await, [("a".into(), "v6".into())]);
        store
            .upsert_rows("list", vec![versioned("a", 6, "v6 again")])
            .await
            .unwrap();
        store
            .upsert_rows("list", vec![versioned("a", 7, "v7")])
            .await
            .unwrap();
        assert_eq!(values(&*store, "list").await, [("a".into(), "v7".into())]);
        let query = crate::ProjectionQuery {
            projection: "list".into(),
            partition: "p".into(),
            limit: 1,
            ..Default::default()
        };
        assert_eq!(store.query_rows(&query).await.unwrap()[0].version, 7);
    }

    /// One upsert holding a key several times ends as the rows upserted one by one would: the
    /// newest version, and of equal versions the last (a batch of a read model often touches
    /// one row twice).
    pub async fn a_key_upserted_twice_at_once_ends_as_upserted_in_order(
        store: Arc<dyn EventStore>,
    ) {
        store
            .upsert_rows(
                "list",
                vec![
                    versioned("a", 2, "a2"),
                    versioned("b", 1, "b1"),
                    versioned("a", 3, "a3"),
                    versioned("a", 1, "a1 late"),
                    versioned("b", 1, "b1 again"),
                ],
            )
            .await
            .expect("a key twice in one upsert");
        assert_eq!(
            values(&*store, "list").await,
            [("a".into(), "a3".into()), ("b".into(), "b1 again".into())]
        );
    }

    /// Switching read models drops the target's rows and gives it the source's, every pair in one
    /// transaction; other read models are untouched.
    pub async fn switching_projections_replaces_the_rows_at_once(store: Arc<dyn EventStore>) {
        store
            .upsert_rows(
                "list",
                vec![versioned("a", 1, "old a"), versioned("gone", 1, "old")],
            )
            .await
            .unwrap();
        store
            .upsert_rows(
                "list~next",
                vec![versioned("a", 2, "new a"), versioned("b", 1, "new b")],
            )
            .await
            .unwrap();
        store
            .upsert_rows("other", vec![versioned("x", 1, "x")])
            .await
            .unwrap();
        store
            .switch_projections(&[("list~next".into(), "list".into())])
            .await
            .expect("switch");
        assert_eq!(
            values(&*store, "list").await,
            [("a".into(), "new a".into()), ("b".into(), "new b".into())]
        );
        assert!(values(&*store, "list~next").await.is_empty());
        assert_eq!(values(&*store, "other").await, [("x".into(), "x".into())]);
    }

    use crate::{
        AppendError, AppendRequest, AppendStatus, Backend, EventStore, ExpectedVersion, Position,
        Subscription,
    };

    type Store = Arc<dyn EventStore>;

    /// (a) Many appenders race for each next version of one stream: exactly one wins each
    /// version, every loser gets a typed conflict carrying the winner's version.
    pub async fn concurrent_appenders_on_one_stream_exactly_one_wins_each_version(store: Store) {
        const APPENDERS: usize = 12;
        const VERSIONS: u64 = 6;
        for version in 0..VERSIONS {
            let barrier = Arc::new(Barrier::new(APPENDERS));
            let mut tasks = Vec::new();
            for i in 0..APPENDERS {
                let store = store.clone();
                let barrier = barrier.clone();
                tasks.push(tokio::spawn(async move {
                    let expected = if version == 0 {
                        ExpectedVersion::NoStream
                    } else {
                        ExpectedVersion::Exact(version)
                    };
                    let payload = format!("{version}:{i}");
                    barrier.wait().await;
                    store
                        .append(AppendRequest::single(
                            "race",
                            expected,
                            vec![event("Raced", payload.as_bytes())],
                        ))
                        .await
                }));
            }
            let mut winners = 0;
            for task in tasks {
                match task.await.expect("task") {
                    Ok(result) => {
                        assert_eq!(result.status, AppendStatus::Committed);
                        assert_eq!(result.events[0].stream_version, version + 1);
                        winners += 1;
                    }
                    Err(AppendError::Conflict {
                        stream_id, actual, ..
                    }) => {
                        assert_eq!(stream_id, "race");
                        assert_eq!(
                            actual,
                            Some(version + 1),
                            "a conflict reports the actual version"
                        );
                    }
                    Err(other) => panic!("unexpected error: {other}"),
                }
            }
            assert_eq!(
                winners,
                1,
                "exactly one appender wins version {}",
                version + 1
            );
        }
        let stored = store.read_stream("race", 1, 1000).await.expect("read");
        let versions: Vec<u64> = stored.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, (1..=VERSIONS).collect::<Vec<_>>());
    }

    /// (b) Appenders on many streams while a reader follows the whole log: the reader sees every
    /// committed event exactly once, in each stream's version order, including an event whose
    /// transaction took an earlier position but committed later.
    pub async fn reader_sees_every_committed_event_exactly_once_in_stream_order(store: Store) {
        const WRITERS: usize = 6;
        const EVENTS_PER_WRITER: usize = 40;

        // Force the late commit first: `held` takes its position, then `after` commits.
        let held = store
            .append_held(AppendRequest::single(
                "late",
                ExpectedVersion::NoStream,
                vec![event("Late", b"late")],
            ))
            .await
            .expect("held append");
        let late_position = held.result().events[0].position;
        let early_store = store.clone();
        let early = tokio::spawn(async move {
            early_store
                .append(AppendRequest::single(
                    "early",
                    ExpectedVersion::NoStream,
                    vec![event("Early", b"early")],
                ))
                .await
                .expect("early append")
        });
        if store.backend() == Backend::Postgres {
            // PostgreSQL lets `early` commit while `late` is still open.
            let early_result = tokio::time::timeout(Duration::from_secs(10), early)
                .await
                .expect("early append commits while the held one is open")
                .expect("task");
            assert!(early_result.events[0].position.position > late_position.position);
            let visible = store.read_all(Position::START, 100).await.expect("read");
            assert!(
                visible.is_empty(),
                "the reader must not pass an open transaction that took an earlier position, saw {:?}",
                visible.iter().map(|e| &e.stream_id).collect::<Vec<_>>()
            );
            held.commit().await.expect("commit held");
        } else {
            // SQLite serialises writers: `early` waits for the held transaction.
            held.commit().await.expect("commit held");
            early.await.expect("task");
        }

        let mut reader = Subscription::new(store.clone(), Position::START)
            .poll_interval(Duration::from_millis(20))
            .batch_size(17);
        let expected_total = 2 + WRITERS * EVENTS_PER_WRITER;
        let follow = tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < expected_total {
                let batch = tokio::time::timeout(Duration::from_secs(30), reader.next_batch())
                    .await
                    .expect("reader stalled")
                    .expect("read");
                seen.extend(batch);
            }
            seen
        });

        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for n in 0..EVENTS_PER_WRITER {
                    // Two writers share each stream, so versions interleave across transactions.
                    let stream = format!("stream-{}", w % 3);
                    let payload = format!("{w}:{n}");
                    store
                        .append(AppendRequest::single(
                            stream,
                            ExpectedVersion::Any,
                            vec![event("Written", payload.as_bytes())],
                        ))
                        .await
                        .expect("append");
                }
            }));
        }
        for w in writers {
            w.await.expect("writer");
        }
        let seen = follow.await.expect("reader");
        assert_eq!(seen.len(), expected_total, "every committed event is seen");
        let ids: HashSet<_> = seen.iter().map(|e| e.event_id).collect();
        assert_eq!(ids.len(), seen.len(), "no event is seen twice");
        assert!(
            seen.iter().any(|e| e.stream_id == "late"),
            "the late commit is not skipped"
        );
        let late_index = seen
            .iter()
            .position(|e| e.stream_id == "late")
            .expect("late");
        let early_index = seen
            .iter()
            .position(|e| e.stream_id == "early")
            .expect("early");
        assert!(
            late_index < early_index,
            "commit order puts the earlier transaction first"
        );
        let mut last: HashMap<&str, u64> = HashMap::new();
        for e in &seen {
            let prev = last.insert(&e.stream_id, e.stream_version).unwrap_or(0);
            assert_eq!(
                e.stream_version,
                prev + 1,
                "stream {} is read in version order",
                e.stream_id
            );
        }
        for pair in seen.windows(2) {
            assert!(
                pair[0].position < pair[1].position,
                "positions strictly increase"
            );
        }
    }

    /// (c) An append that fails on its second stream writes nothing at all, not even its inbox row.
    pub async fn failed_append_leaves_nothing_behind(store: Store) {
        store
            .append(AppendRequest::single(
                "taken",
                ExpectedVersion::NoStream,
                vec![event("A", b"a")],
            ))
            .await
            .expect("seed");
        let failing = AppendRequest::single(
            "fresh",
            ExpectedVersion::NoStream,
            vec![event("B", b"b"), event("B", b"c")],
        )
        .and("taken", ExpectedVersion::NoStream, vec![event("C", b"d")])
        .with_inbox("consumer-x", uuid::Uuid::from_u128(7));
        let err = store
            .append(failing.clone())
            .await
            .expect_err("must conflict");
        assert!(
            matches!(err, AppendError::Conflict { ref stream_id, actual: Some(1), .. } if stream_id == "taken"),
            "got {err:?}"
        );
        // Stream reads, not the whole log: on PostgreSQL the visible end of the whole log also
        // depends on other transactions running in the cluster.
        assert_eq!(
            store.read_stream("taken", 1, 10).await.expect("read").len(),
            1
        );
        assert!(
            store
                .read_stream("fresh", 1, 10)
                .await
                .expect("read")
                .is_empty()
        );
        for e in failing.event_ids() {
            assert!(store.event_by_id(e).await.expect("read").is_none());
        }
        // The inbox row was rolled back too: the same consumer entry is still free.
        let retry =
            AppendRequest::single("fresh", ExpectedVersion::NoStream, vec![event("B", b"b")])
                .with_inbox("consumer-x", uuid::Uuid::from_u128(7));
        assert_eq!(
            store.append(retry).await.expect("retry").status,
            AppendStatus::Committed
        );
        // An invalid request writes nothing either.
        let invalid = AppendRequest::single("other", ExpectedVersion::Any, vec![]);
        assert!(matches!(
            store.append(invalid).await,
            Err(AppendError::Invalid(_))
        ));
    }

    /// Expected versions: no-stream, exact and any, with the actual version in every conflict.
    pub async fn expected_versions_are_enforced(store: Store) {
        let first = store
            .append(AppendRequest::single(
                "s",
                ExpectedVersion::NoStream,
                vec![event("A", b"1"), event("A", b"2")],
            ))
            .await
            .expect("create");
        assert_eq!(
            first
                .events
                .iter()
                .map(|e| e.stream_version)
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
        let again = store
            .append(AppendRequest::single(
                "s",
                ExpectedVersion::NoStream,
                vec![event("A", b"3")],
            ))
            .await;
        assert!(
            matches!(
                again,
                Err(AppendError::Conflict {
                    actual: Some(2),
                    ..
                })
            ),
            "{again:?}"
        );
        let stale = store
            .append(AppendRequest::single(
                "s",
                ExpectedVersion::Exact(1),
                vec![event("A", b"3")],
            ))
            .await;
        assert!(
            matches!(
                stale,
                Err(AppendError::Conflict {
                    actual: Some(2),
                    ..
                })
            ),
            "{stale:?}"
        );
        let missing = store
            .append(AppendRequest::single(
                "nope",
                ExpectedVersion::Exact(1),
                vec![event("A", b"3")],
            ))
            .await;
        assert!(
            matches!(missing, Err(AppendError::Conflict { actual: None, .. })),
            "{missing:?}"
        );
        let exact = store
            .append(AppendRequest::single(
                "s",
                ExpectedVersion::Exact(2),
                vec![event("A", b"3")],
            ))
            .await
            .expect("exact");
        assert_eq!(exact.events[0].stream_version, 3);
        let any = store
            .append(AppendRequest::single(
                "s",
                ExpectedVersion::Any,
                vec![event("A", b"4")],
            ))
            .await
            .expect("any");
        assert_eq!(any.events[0].stream_version, 4);
        let from_three = store.read_stream("s", 3, 10).await.expect("read");
        assert_eq!(
            from_three
                .iter()
                .map(|e| e.payload.clone())
                .collect::<Vec<_>>(),
            vec![b"3".to_vec(), b"4".to_vec()]
        );
    }

    /// Re-appending stored event ids returns the original result and stores nothing twice;
    /// reusing only some of them is refused.
    pub async fn appending_a_stored_event_id_is_idempotent(store: Store) {
        let events = vec![event("A", b"1"), event("A", b"2")];
        let request = AppendRequest::single("idem", ExpectedVersion::NoStream, events.clone());
        let first = store.append(request.clone()).await.expect("first");
        let second = store.append(request).await.expect("retry");
        assert_eq!(second.status, AppendStatus::Duplicate);
        assert_eq!(
            second.events, first.events,
            "the retry returns the original result"
        );
        assert_eq!(
            store.read_stream("idem", 1, 10).await.expect("read").len(),
            2
        );
        let partial = AppendRequest::single(
            "idem",
            ExpectedVersion::Any,
            vec![events[0].clone(), event("A", b"3")],
        );
        assert!(matches!(
            store.append(partial).await,
            Err(AppendError::EventIdReused(_))
        ));
        assert_eq!(
            store.read_stream("idem", 1, 10).await.expect("read").len(),
            2
        );
        // A retry racing its original: both see the same single copy.
        let racer =
            AppendRequest::single("idem-race", ExpectedVersion::Any, vec![event("A", b"r")]);
        let (a, b) = tokio::join!(store.append(racer.clone()), store.append(racer));
        assert_eq!(a.expect("a").events, b.expect("b").events);
        assert_eq!(
            store
                .read_stream("idem-race", 1, 10)
                .await
                .expect("read")
                .len(),
            1
        );
    }

    /// A consumer's inbox entry makes a redelivered event's effect happen once.
    pub async fn inbox_entry_makes_the_effect_happen_once(store: Store) {
        let source = uuid::Uuid::new_v4();
        let effect = |payload: &[u8]| {
            AppendRequest::single(
                "effects",
                ExpectedVersion::Any,
                vec![event("Effect", payload)],
            )
            .with_inbox("notifier", source)
        };
        assert_eq!(
            store.append(effect(b"1")).await.expect("first").status,
            AppendStatus::Committed
        );
        let again = store.append(effect(b"1 again")).await.expect("again");
        assert_eq!(again.status, AppendStatus::AlreadyHandled);
        assert_eq!(
            store
                .read_stream("effects", 1, 10)
                .await
                .expect("read")
                .len(),
            1
        );
        // Another consumer of the same event has its own entry.
        let other =
            AppendRequest::single("effects", ExpectedVersion::Any, vec![event("Effect", b"2")])
                .with_inbox("settler", source);
        assert_eq!(
            store.append(other).await.expect("other").status,
            AppendStatus::Committed
        );
    }

    /// Two handlers of the same event racing: one effect, the other sees "already handled".
    pub async fn concurrent_redeliveries_have_one_effect(store: Store) {
        let source = uuid::Uuid::new_v4();
        let effect = |payload: &'static [u8]| {
            AppendRequest::single(
                "raced-effects",
                ExpectedVersion::Any,
                vec![event("Effect", payload)],
            )
            .with_inbox("racer", source)
        };
        let (a, b) = tokio::join!(store.append(effect(b"a")), store.append(effect(b"b")));
        let mut statuses = [a.expect("a").status, b.expect("b").status];
        statuses.sort_by_key(|s| format!("{s:?}"));
        assert_eq!(
            statuses,
            [AppendStatus::AlreadyHandled, AppendStatus::Committed]
        );
        assert_eq!(
            store
                .read_stream("raced-effects", 1, 10)
                .await
                .expect("read")
                .len(),
            1
        );
    }

    /// A stream the decision read is checked at the version it saw: the append commits only while
    /// it has not moved, and a write to it that is still committing is waited for, never
    /// overtaken.
    pub async fn a_stream_read_is_checked_until_the_commit(store: Store) {
        store
            .append(AppendRequest::single(
                "facts",
                ExpectedVersion::NoStream,
                vec![event("Fact", b"open")],
            ))
            .await
            .expect("first fact");
        let decided_on = |version| {
            AppendRequest::single("effects", ExpectedVersion::Any, vec![event("Effect", b"")])
                .expecting("facts", ExpectedVersion::Exact(version))
        };
        assert_eq!(
            store.append(decided_on(1)).await.expect("unchanged").status,
            AppendStatus::Committed
        );
        // A fact being recorded while the decision is appended: the append waits for it, then
        // sees that the stream moved.
        let fact = store
            .append_held(AppendRequest::single(
                "facts",
                ExpectedVersion::Exact(1),
                vec![event("Fact", b"ended")],
            ))
            .await
            .expect("held fact");
        let racing = {
            let store = store.clone();
            tokio::spawn(async move { store.append(decided_on(1)).await })
        };
        fact.commit().await.expect("fact committed");
        let outcome = racing.await.expect("task");
        assert!(
            matches!(
                outcome,
                Err(AppendError::Conflict { ref stream_id, actual: Some(2), .. }) if stream_id == "facts"
            ),
            "{outcome:?}"
        );
        assert!(matches!(
            store
                .append(decided_on(1).expecting("missing", ExpectedVersion::NoStream))
                .await,
            Err(AppendError::Conflict { .. })
        ));
        assert_eq!(
            store
                .read_stream("effects", 1, 10)
                .await
                .expect("read")
                .len(),
            1,
            "refused appends wrote nothing"
        );
        // A write to a stream that a committing decision read waits for that commit.
        let decision = store
            .append_held(decided_on(2))
            .await
            .expect("held decision");
        let mut writer = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .append(AppendRequest::single(
                        "facts",
                        ExpectedVersion::Exact(2),
                        vec![event("Fact", b"later")],
                    ))
                    .await
            })
        };
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut writer)
                .await
                .is_err(),
            "the write waits for the decision that read the stream"
        );
        decision.commit().await.expect("decision committed");
        writer
            .await
            .expect("task")
            .expect("the write commits after");
        let reads_and_writes =
            AppendRequest::single("facts", ExpectedVersion::Any, vec![event("Fact", b"")])
                .expecting("facts", ExpectedVersion::Any);
        assert!(matches!(
            store.append(reads_and_writes).await,
            Err(AppendError::Invalid(_))
        ));
    }

    /// A command's dedupe row keeps the request's fingerprint: the same request again is
    /// "already handled", another request with the same key is refused.
    pub async fn a_request_id_reused_for_another_request_is_refused(store: Store) {
        let key = uuid::Uuid::new_v4();
        let request = |fingerprint: &[u8], payload: &[u8]| {
            AppendRequest::single(
                "orders",
                ExpectedVersion::Any,
                vec![event("Order", payload)],
            )
            .with_idempotency(crate::InboxEntry {
                consumer: "customer:c-1".into(),
                event_id: key,
                fingerprint: Some(fingerprint.to_vec()),
                processed_at_us: 1,
            })
        };
        assert_eq!(
            store
                .append(request(b"two seats", b"1"))
                .await
                .expect("first")
                .status,
            AppendStatus::Committed
        );
        assert_eq!(
            store
                .append(request(b"two seats", b"1"))
                .await
                .expect("retry")
                .status,
            AppendStatus::AlreadyHandled
        );
        assert!(matches!(
            store.append(request(b"three seats", b"2")).await,
            Err(AppendError::RequestReused { ref consumer, event_id }) if consumer == "customer:c-1" && event_id == key
        ));
        assert_eq!(
            store
                .inbox_entry("customer:c-1", key)
                .await
                .expect("lookup")
                .and_then(|r| r.fingerprint),
            Some(b"two seats".to_vec())
        );
        assert_eq!(
            store
                .inbox_entry("customer:c-2", key)
                .await
                .expect("lookup"),
            None
        );
        assert_eq!(
            store
                .read_stream("orders", 1, 10)
                .await
                .expect("read")
                .len(),
            1
        );
    }

    /// A dedupe row keeps the time its handler gave, alone and in a batch (the runner derives
    /// its event ids from it, and finds them again by it).
    pub async fn a_dedupe_row_keeps_the_time_it_was_handled_at(store: Store) {
        let entry = |n: i64| crate::InboxEntry {
            consumer: "customer:c-1".into(),
            event_id: uuid::Uuid::new_v4(),
            fingerprint: Some(vec![n as u8]),
            processed_at_us: 1_700_000_000_000_000 + n,
        };
        let entries: Vec<_> = (0..8).map(entry).collect();
        let appends = entries.iter().map(|e| {
            let store = store.clone();
            let request =
                AppendRequest::single("orders", ExpectedVersion::Any, vec![event("Order", b"1")])
                    .with_idempotency(e.clone());
            async move { store.append(request).await.expect("append") }
        });
        for done in futures::future::join_all(appends).await {
            assert_eq!(done.status, AppendStatus::Committed);
        }
        for e in &entries {
            let stored = store
                .inbox_entry(&e.consumer, e.event_id)
                .await
                .expect("lookup")
                .expect("stored");
            assert_eq!(stored.processed_at_us, e.processed_at_us);
        }
    }

    /// `read_streams` returns every event of the streams asked for and none of another, each
    /// stream oldest first.
    pub async fn several_streams_are_read_whole_in_one_read(store: Store) {
        for (stream, n) in [("a-1", 3), ("b-2", 1), ("c-3", 2)] {
            for i in 0..n {
                store
                    .append(AppendRequest::single(
                        stream,
                        ExpectedVersion::Any,
                        vec![event("E", format!("{stream}/{i}").as_bytes())],
                    ))
                    .await
                    .expect("append");
            }
        }
        let read = store
            .read_streams(&["c-3".into(), "a-1".into(), "none".into()])
            .await
            .expect("read");
        let mut by_stream: std::collections::BTreeMap<&str, Vec<(u64, Vec<u8>)>> =
            Default::default();
        for e in &read {
            by_stream
                .entry(e.stream_id.as_str())
                .or_default()
                .push((e.stream_version, e.payload.clone()));
        }
        assert_eq!(
            by_stream,
            [
                (
                    "a-1",
                    vec![
                        (1, b"a-1/0".to_vec()),
                        (2, b"a-1/1".to_vec()),
                        (3, b"a-1/2".to_vec())
                    ]
                ),
                ("c-3", vec![(1, b"c-3/0".to_vec()), (2, b"c-3/1".to_vec())]),
            ]
            .into_iter()
            .collect()
        );
        assert!(store.read_streams(&[]).await.expect("none").is_empty());
    }

    /// Checkpoints start at the beginning and keep what was saved.
    pub async fn checkpoints_are_durable_positions(store: Store) {
        assert_eq!(
            store.load_checkpoint("relay").await.expect("load"),
            Position::START
        );
        let p = Position {
            commit: 42,
            position: 7,
        };
        store.save_checkpoint("relay", p).await.expect("save");
        store
            .save_checkpoint(
                "other",
                Position {
                    commit: 1,
                    position: 1,
                },
            )
            .await
            .expect("save");
        assert_eq!(store.load_checkpoint("relay").await.expect("load"), p);
        let q = Position {
            commit: 43,
            position: 9,
        };
        store.save_checkpoint("relay", q).await.expect("save");
        assert_eq!(store.load_checkpoint("relay").await.expect("load"), q);
        assert_eq!(
            store.checkpoints().await.expect("list"),
            vec![
                (
                    "other".to_string(),
                    Position {
                        commit: 1,
                        position: 1
                    }
                ),
                ("relay".to_string(), q)
            ],
            "every checkpoint is listed, by name"
        );
    }

    /// The head is the position of the last event `read_all` returns.
    pub async fn the_head_is_the_last_event_read_all_returns(store: Store) {
        assert_eq!(store.head().await.expect("head"), Position::START);
        for n in 0..3 {
            store
                .append(AppendRequest::single(
                    format!("head-{n}"),
                    ExpectedVersion::NoStream,
                    vec![event("Headed", b"x"), event("Headed", b"y")],
                ))
                .await
                .expect("append");
        }
        // On PostgreSQL both stop short of any transaction still running on the server (another
        // test's, in another database): wait until every event is readable.
        let all = super::until(Duration::from_secs(10), "every event readable", || async {
            let all = store.read_all(Position::START, 100).await.expect("read");
            (all.len() == 6).then_some(all)
        })
        .await;
        assert_eq!(store.head().await.expect("head"), all[5].position);
    }

    /// A waiting subscriber wakes on a commit.
    pub async fn subscription_wakes_on_commit(store: Store) {
        // A long poll interval: only the commit signal can wake the reader within the deadline.
        let mut sub = Subscription::new(store.clone(), Position::START)
            .poll_interval(Duration::from_secs(60));
        let waiting = tokio::spawn(async move { sub.next_batch().await });
        tokio::task::yield_now().await;
        let appended = store
            .append(AppendRequest::single(
                "wake",
                ExpectedVersion::NoStream,
                vec![event("Woke", b"!")],
            ))
            .await
            .expect("append");
        let batch = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("woken by the commit")
            .expect("task")
            .expect("read");
        assert_eq!(batch[0].event_id, appended.events[0].event_id);
    }

    /// A lease has one holder at a time, and is free again once dropped.
    pub async fn a_lease_has_one_holder_at_a_time(store: Store) {
        let mut first = store
            .try_lease("relay:t")
            .await
            .expect("lease")
            .expect("free at first");
        assert!(first.is_held().await);
        assert!(
            store.try_lease("relay:t").await.expect("lease").is_none(),
            "held by the first"
        );
        let other = store.try_lease("relay:u").await.expect("lease");
        assert!(other.is_some(), "another name is independent");
        drop(first);
        crate::testing::eventually(Duration::from_secs(10), "the lease to be released", || {
            let store = store.clone();
            async move { store.try_lease("relay:t").await.expect("lease").is_some() }
        })
        .await;
    }

    /// Stored events keep their metadata, trace context included.
    pub async fn metadata_is_stored_as_given(store: Store) {
        let e = event("A", b"m");
        store
            .append(AppendRequest::single(
                "meta",
                ExpectedVersion::NoStream,
                vec![e.clone()],
            ))
            .await
            .expect("append");
        let stored = store.read_stream("meta", 1, 1).await.expect("read");
        assert_eq!(stored[0].metadata, e.metadata);
        assert_eq!(stored[0].event_type, e.event_type);
        assert_eq!(stored[0].schema_version, e.schema_version);
    }

    /// Runs a conformance case once per backend. Expands to `mod sqlite` and `mod postgres`.
    #[macro_export]
    macro_rules! conformance_tests {
        ($($case:ident),* $(,)?) => {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $case() {
                        let url = $crate::testing::fresh_sqlite_url(stringify!($case));
                        let store = $crate::connect(&url).await.expect("sqlite store");
                        $crate::testing::conformance::$case(store).await;
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $case() {
                        let Some(url) = $crate::testing::fresh_postgres_url(stringify!($case)).await else { return };
                        let store = $crate::connect(&url).await.expect("postgres store");
                        $crate::testing::conformance::$case(store).await;
                    }
                )*
            }
        };
    }
}
