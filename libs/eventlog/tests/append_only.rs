//! The database itself refuses to change or remove stored events, whatever the code does.
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, PgEventStore, SqliteEventStore,
    testing::{event, fresh_postgres_url, fresh_sqlite_url},
};

async fn seed(store: &dyn EventStore) {
    store
        .append(AppendRequest::single(
            "s",
            ExpectedVersion::NoStream,
            vec![event("A", b"original")],
        ))
        .await
        .expect("seed");
}

#[tokio::test]
async fn sqlite_refuses_update_and_delete_on_events() {
    let store = SqliteEventStore::connect(&fresh_sqlite_url("append-only"))
        .await
        .expect("store");
    seed(&store).await;
    let update = sqlx::query("UPDATE events SET payload = x'00'")
        .execute(store.pool())
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM events")
        .execute(store.pool())
        .await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let stored = store.read_stream("s", 1, 10).await.expect("read");
    assert_eq!(stored[0].payload, b"original");
}

#[tokio::test]
async fn postgres_refuses_update_delete_and_truncate_on_events() {
    let Some(url) = fresh_postgres_url("append-only").await else {
        return;
    };
    let store = PgEventStore::connect(&url).await.expect("store");
    seed(&store).await;
    for sql in [
        "UPDATE events SET payload = '\\x00'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let stored = store.read_stream("s", 1, 10).await.expect("read");
    assert_eq!(stored[0].payload, b"original");
}
