//! The PostgreSQL log over TLS with `sslmode=verify-full`, against a server that refuses
//! plaintext (the `yeyak_tls` cluster `scripts/ensure-postgres-tls.sh` starts on 5433, with a
//! certificate from a test CA): the store appends and reads, its sessions are encrypted, and a
//! certificate from another CA is refused.
use sqlx::{Connection, Executor, PgConnection, Row};
use yeyak_eventlog::{
    AppendRequest, ExpectedVersion, PgEventStore, Position,
    testing::{event, fresh_database_on},
};

/// The TLS cluster's admin URL (`YEYAK_TEST_PG_TLS_URL`, as the script prints it).
fn admin_url() -> String {
    let set = std::env::var("YEYAK_TEST_PG_TLS_URL").ok();
    let set = set.map(|u| u.trim().to_owned());
    set.filter(|u| !u.is_empty()).unwrap_or_else(|| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!(
            "postgres://postgres@localhost:5433/postgres?sslmode=verify-full&sslrootcert={home}/.cache/yeyak/test-tls/ca.crt"
        )
    })
}

/// `url` with the query parameter `key` set to `value`.
fn with_param(url: &str, key: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with(&format!("{key}=")))
        .collect();
    format!("{path}?{}&{key}={value}", kept.join("&"))
}

/// A fresh database on the TLS cluster, or `None` (skipped outside CI) when it is not running
/// (`scripts/ensure-postgres-tls.sh` starts it).
async fn fresh_database() -> Option<String> {
    fresh_database_on(&admin_url(), "tls").await
}

#[tokio::test]
async fn the_log_appends_and_reads_over_verify_full_tls_and_every_session_is_encrypted() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let store = PgEventStore::connect(&url).await.expect("connect over TLS");
    use yeyak_eventlog::EventStore;
    store
        .append(AppendRequest::single(
            "booking-1",
            ExpectedVersion::NoStream,
            vec![event("Requested", b"over tls")],
        ))
        .await
        .expect("append");
    let read = store.read_all(Position::START, 10).await.expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].payload, b"over tls".to_vec());

    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let row = conn
        .fetch_one(
            "SELECT s.ssl, s.version, (SELECT count(*) FROM pg_stat_ssl t JOIN pg_stat_activity a \
             ON a.pid = t.pid WHERE a.datname = current_database() AND NOT t.ssl) AS plaintext \
             FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
        )
        .await
        .expect("ssl status");
    assert!(row.get::<bool, _>("ssl"), "this session is not encrypted");
    assert!(
        row.get::<Option<String>, _>("version")
            .is_some_and(|v| v.starts_with("TLSv1."))
    );
    assert_eq!(
        row.get::<i64, _>("plaintext"),
        0,
        "some session of the store's pools is not encrypted"
    );
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let ca = url
        .split('&')
        .find_map(|p| p.strip_prefix("sslrootcert="))
        .expect("the URL names its CA")
        .to_string();
    let other = ca.replace("ca.crt", "other-ca.crt");
    assert!(std::path::Path::new(&other).exists(), "{other} missing");
    let err = PgConnection::connect(&with_param(&url, "sslrootcert", &other))
        .await
        .expect_err("a certificate the CA did not sign must be refused");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "refused for another reason: {err}"
    );
}

#[tokio::test]
async fn the_test_server_refuses_plaintext_so_the_tls_tests_cannot_pass_without_tls() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let err = PgConnection::connect(&with_param(&url, "sslmode", "disable"))
        .await
        .expect_err("plaintext must be refused");
    assert!(
        err.to_string().contains("no encryption"),
        "refused for another reason: {err}"
    );
}
