//! The database itself refuses to change, remove or replace stored events, whatever the code does.
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, PgEventStore, SqliteEventStore,
    testing::{event, fresh_postgres_url, fresh_sqlite_url},
};

async fn seed(store: &dyn EventStore) -> uuid::Uuid {
    let first = event("A", b"original");
    let id = first.event_id;
    store
        .append(AppendRequest::single(
            "s",
            ExpectedVersion::NoStream,
            vec![first, event("A", b"second")],
        ))
        .await
        .expect("seed");
    id
}

/// Every stored event is still there, as written.
async fn untouched(store: &dyn EventStore, id: uuid::Uuid) {
    let stored = store.read_stream("s", 1, 10).await.expect("read");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].event_id, id);
    assert_eq!(stored[0].payload, b"original");
    assert_eq!(stored[1].payload, b"second");
}

/// Statements that would overwrite the first stored event (`$id`) or take its place.
const SQLITE_REPLACEMENTS: &[&str] = &[
    "UPDATE events SET payload = x'00'",
    "DELETE FROM events",
    "INSERT OR REPLACE INTO events (event_id, stream_id, stream_version, event_type, schema_version, payload, \
     correlation_id, actor, occurred_at_us, recorded_at_us) \
     SELECT event_id, 'other', 1, event_type, schema_version, x'00', correlation_id, 'customer:mallory', 0, 0 \
     FROM events WHERE stream_version = 1",
    "REPLACE INTO events (event_id, stream_id, stream_version, event_type, schema_version, payload, \
     correlation_id, actor, occurred_at_us, recorded_at_us) \
     SELECT randomblob(16), stream_id, 1, event_type, schema_version, x'00', correlation_id, 'customer:mallory', 0, 0 \
     FROM events WHERE stream_version = 1",
    "INSERT OR REPLACE INTO events (global_position, event_id, stream_id, stream_version, event_type, schema_version, \
     payload, correlation_id, actor, occurred_at_us, recorded_at_us) \
     SELECT global_position, randomblob(16), 'other', 1, event_type, schema_version, x'00', correlation_id, 'x', 0, 0 \
     FROM events WHERE stream_version = 1",
    "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, payload, \
     correlation_id, actor, occurred_at_us, recorded_at_us) \
     SELECT event_id, 'other', 1, event_type, schema_version, x'00', correlation_id, 'x', 0, 0 \
     FROM events WHERE stream_version = 1 ON CONFLICT (event_id) DO UPDATE SET payload = x'00'",
    "UPDATE OR REPLACE events SET stream_version = 1 WHERE stream_version = 2",
];

#[tokio::test]
async fn sqlite_refuses_update_delete_and_every_replacement_of_events() {
    let store = SqliteEventStore::connect(&fresh_sqlite_url("append-only"))
        .await
        .expect("store");
    let id = seed(&store).await;
    for sql in SQLITE_REPLACEMENTS {
        let err = sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(store.pool())
            .await
            .expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        untouched(&store, id).await;
    }
}

#[tokio::test]
async fn postgres_refuses_update_delete_truncate_and_upserts_on_events() {
    let Some(url) = fresh_postgres_url("append-only").await else {
        return;
    };
    let store = PgEventStore::connect(&url).await.expect("store");
    let id = seed(&store).await;
    let upsert = |target: &str| {
        format!(
            "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, payload, \
             correlation_id, actor, occurred_at_us, recorded_at_us) \
             SELECT event_id, stream_id, stream_version, event_type, schema_version, '\\x00', correlation_id, 'x', 0, 0 \
             FROM events WHERE stream_version = 1 ON CONFLICT {target} DO UPDATE SET payload = '\\x00', actor = 'customer:mallory'"
        )
    };
    for sql in [
        "UPDATE events SET payload = '\\x00'".to_string(),
        "DELETE FROM events".to_string(),
        "TRUNCATE events".to_string(),
        upsert("(event_id)"),
        upsert("(stream_id, stream_version)"),
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(store.pool())
            .await
            .expect_err(&sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        untouched(&store, id).await;
    }
    // PostgreSQL has no REPLACE statement at all.
    assert!(
        sqlx::query("REPLACE INTO events SELECT * FROM events")
            .execute(store.pool())
            .await
            .is_err()
    );
    untouched(&store, id).await;
}
