//! On PostgreSQL the services run as a role granted only what the log needs (`yeyak migrate`
//! grants it): it can append and read, but never change, remove or truncate events, nor switch
//! off the triggers that refuse it. The schema's owner could; that is why the services are not
//! the owner.
use sqlx::{Connection, Executor, PgConnection};
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, PgEventStore, Position, ProjectionRow, StoreError,
    migrations::{grant_service_role, migrate},
    testing::{event, fresh_postgres_url, postgres_admin_url},
};

/// `url` with its user replaced by `role` (loopback trusts it; no password).
fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{role}@{host}")
}

/// A new login role, dropped (with what it was granted) when the test ends.
struct Role {
    name: String,
    databases: Vec<String>,
}

impl Role {
    async fn create() -> Role {
        let name = format!(
            "yeyak_t_svc_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let mut admin = PgConnection::connect(&postgres_admin_url())
            .await
            .expect("admin");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE ROLE {name} LOGIN")))
            .await
            .expect("create role");
        Role {
            name,
            databases: Vec::new(),
        }
    }

    async fn drop(self) {
        for db in &self.databases {
            let mut owner = PgConnection::connect(db).await.expect("owner");
            owner
                .execute(sqlx::AssertSqlSafe(format!("DROP OWNED BY {}", self.name)))
                .await
                .expect("revoke");
        }
        let mut admin = PgConnection::connect(&postgres_admin_url())
            .await
            .expect("admin");
        admin
            .execute(sqlx::AssertSqlSafe(format!("DROP ROLE {}", self.name)))
            .await
            .expect("drop role");
    }
}

fn denied(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>, what: &str) {
    match result {
        Err(sqlx::Error::Database(e)) => assert_eq!(
            e.code().as_deref(),
            Some("42501"),
            "{what}: refused for another reason: {e}"
        ),
        other => panic!("{what} was not refused: {other:?}"),
    }
}

#[tokio::test]
async fn the_service_role_appends_and_reads_but_cannot_change_remove_or_unguard_events() {
    let Some(url) = fresh_postgres_url("privileges").await else {
        return;
    };
    migrate(&url).await.expect("the owner migrates");
    let mut role = Role::create().await;
    role.databases.push(url.clone());
    let service_url = as_role(&url, &role.name);

    // Not granted yet: the role cannot even read the schema's version.
    assert!(PgEventStore::connect(&service_url).await.is_err());
    grant_service_role(&url, &role.name).await.expect("grant");

    // Granted: everything the services do works.
    let store = PgEventStore::connect(&service_url)
        .await
        .expect("the service role connects without migrating");
    let first = event("A", b"original");
    store
        .append(
            AppendRequest::single("s", ExpectedVersion::NoStream, vec![first])
                .with_inbox("consumer", uuid::Uuid::new_v4()),
        )
        .await
        .expect("append");
    assert_eq!(store.read_stream("s", 1, 10).await.expect("read").len(), 1);
    store
        .save_checkpoint(
            "consumer@source",
            Position {
                commit: 1,
                position: 1,
            },
        )
        .await
        .expect("checkpoint");
    store
        .upsert_rows(
            "list.v1",
            vec![ProjectionRow {
                key: "k".into(),
                partition: "p".into(),
                filters: vec![],
                sort: 1,
                value: vec![1],
                version: 1,
            }],
        )
        .await
        .expect("a read model row");
    store
        .reset_projection("list.v1", "consumer@source")
        .await
        .expect("a read model is rebuilt");

    // What would break the log's guarantee is refused by the database, to this role.
    let mut service = PgConnection::connect(&service_url).await.expect("connect");
    for (sql, what) in [
        ("UPDATE events SET payload = '\\x00'", "UPDATE"),
        ("DELETE FROM events", "DELETE"),
        ("TRUNCATE events", "TRUNCATE"),
        (
            "ALTER TABLE events DISABLE TRIGGER ALL",
            "disabling the triggers",
        ),
        (
            "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete",
            "disabling the update trigger",
        ),
        (
            "DROP TRIGGER events_refuse_truncate ON events",
            "dropping the truncate trigger",
        ),
        (
            "SET session_replication_role = replica",
            "skipping triggers",
        ),
        ("DELETE FROM inbox", "deleting the inbox"),
        ("CREATE TABLE shadow (id INT)", "changing the schema"),
    ] {
        denied(service.execute(sql).await, what);
    }

    // The owner could switch the guard off: the role, not the code, is what keeps it on.
    let mut owner = PgConnection::connect(&url).await.expect("owner");
    let mut tx = owner.begin().await.expect("begin");
    tx.execute("ALTER TABLE events DISABLE TRIGGER ALL")
        .await
        .expect("the owner may");
    tx.rollback().await.expect("rollback");
    assert_eq!(
        store.read_stream("s", 1, 10).await.expect("read")[0].payload,
        b"original"
    );
    drop(store);
    drop(service);
    role.drop().await;
}

#[tokio::test]
async fn a_service_role_on_an_unmigrated_log_is_told_to_run_the_migrations() {
    let Some(url) = fresh_postgres_url("unmigrated").await else {
        return;
    };
    let mut role = Role::create().await;
    role.databases.push(url.clone());
    match PgEventStore::connect(&as_role(&url, &role.name)).await {
        Err(StoreError::NotMigrated(reason)) => {
            assert!(reason.contains("permission denied"), "{reason}")
        }
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("the role migrated a schema it does not own"),
    }
    let applied = migrate(&url).await.expect("the owner migrates");
    assert_eq!(applied, [1, 2, 3, 4, 5, 6]);
    role.drop().await;
}
