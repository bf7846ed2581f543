//! `yeyak migrate` on the embedded default and on PostgreSQL.
use yeyak::migrate::{MigrateArgs, run};

#[tokio::test]
async fn migrate_without_urls_prepares_the_four_embedded_logs() {
    let dir = std::env::temp_dir().join(format!("yeyak-migrate-{}", uuid::Uuid::new_v4()));
    let mut out = Vec::new();
    run(
        MigrateArgs {
            urls: vec![],
            data_dir: dir.clone(),
            service_role: None,
        },
        &mut out,
    )
    .await
    .expect("migrated");
    let out = String::from_utf8(out).expect("text");
    assert_eq!(out.matches("schema at migration 6").count(), 4, "{out}");
    for service in ["catalog", "reservations", "notifications", "settlement"] {
        assert!(dir.join(format!("{service}.db")).exists(), "{service}");
    }
    let role = run(
        MigrateArgs {
            urls: vec![],
            data_dir: dir,
            service_role: Some("yeyak_service".into()),
        },
        &mut Vec::new(),
    )
    .await;
    assert!(
        role.expect_err("SQLite has no roles")
            .to_string()
            .contains("no roles"),
    );
}

#[tokio::test]
async fn migrate_on_postgres_grants_the_service_role_and_hides_the_password() {
    let Some(url) = yeyak_eventlog::testing::fresh_postgres_url("cli_migrate").await else {
        return;
    };
    let mut out = Vec::new();
    run(
        MigrateArgs {
            urls: vec![url.clone()],
            data_dir: std::env::temp_dir(),
            service_role: Some("pg_monitor".into()),
        },
        &mut out,
    )
    .await
    .expect("migrated and granted");
    let out = String::from_utf8(out).expect("text");
    assert!(out.contains("schema at migration 6"), "{out}");
    assert!(out.contains("pg_monitor granted"), "{out}");
    let wrong = run(
        MigrateArgs {
            urls: vec!["postgres://owner:s3cret@127.0.0.1:1/nowhere".into()],
            data_dir: std::env::temp_dir(),
            service_role: None,
        },
        &mut Vec::new(),
    )
    .await
    .expect_err("nothing listens there");
    assert!(!wrong.to_string().contains("s3cret"), "{wrong}");
}
