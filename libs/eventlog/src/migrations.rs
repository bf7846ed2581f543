//! The schema and who may touch it. Migrations run as the schema's owner (`yeyak migrate`, a
//! Kubernetes Job before the rollout); on PostgreSQL the services then run as a role granted
//! only what the log needs: `SELECT` and `INSERT` on the events and the inbox, and what the
//! checkpoints and read models need. Not owning the tables, that role can neither disable the
//! append-only triggers nor set `session_replication_role`, so the log stays append-only
//! whatever the service does. (An embedded SQLite log has no roles: the file's owner is the
//! service.)
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::StoreError;

/// What a service role is granted, table by table.
pub const SERVICE_GRANTS: [(&str, &str); 5] = [
    ("events", "SELECT, INSERT"),
    ("inbox", "SELECT, INSERT"),
    ("checkpoints", "SELECT, INSERT, UPDATE, DELETE"),
    ("projection_rows", "SELECT, INSERT, UPDATE, DELETE"),
    ("_sqlx_migrations", "SELECT"),
];

/// Applies every migration this build knows to the log at `url` (connecting as its owner) and
/// answers the versions now applied.
pub async fn migrate(url: &str) -> Result<Vec<i64>, StoreError> {
    if is_postgres(url) {
        // One connection, not a pool: an unreachable server fails at once instead of retrying.
        let mut conn = PgConnection::connect(url).await?;
        crate::postgres::migrator().run(&mut conn).await?;
        applied(&mut conn).await
    } else if url.starts_with("sqlite:") {
        // Opening an embedded log migrates it.
        drop(crate::SqliteEventStore::connect(url).await?);
        Ok(crate::sqlite::migrator()
            .iter()
            .map(|m| m.version)
            .collect())
    } else {
        Err(StoreError::UnsupportedUrl(crate::redact(url)))
    }
}

/// Grants `role` what a service needs of the log at `url`, and nothing more (PostgreSQL only).
pub async fn grant_service_role(url: &str, role: &str) -> Result<(), StoreError> {
    if !is_postgres(url) {
        return Err(StoreError::Privileges(
            "an embedded SQLite log has no roles to grant".into(),
        ));
    }
    let role = role_name(role)?;
    let mut conn = PgConnection::connect(url).await?;
    let mut tx = conn.begin().await?;
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut *tx)
        .await?;
    tx.execute(sqlx::AssertSqlSafe(format!(
        "GRANT USAGE ON SCHEMA \"{schema}\" TO \"{role}\""
    )))
    .await?;
    for (table, privileges) in SERVICE_GRANTS {
        tx.execute(sqlx::AssertSqlSafe(format!(
            "GRANT {privileges} ON \"{table}\" TO \"{role}\""
        )))
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A PostgreSQL role name, checked (it is spliced into `GRANT`).
fn role_name(role: &str) -> Result<&str, StoreError> {
    let valid = !role.is_empty()
        && role.len() <= 63
        && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(role)
    } else {
        Err(StoreError::Privileges(format!(
            "{role:?} is not a role name (lower-case letters, digits and '_', at most 63)"
        )))
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The versions applied successfully.
async fn applied(conn: &mut PgConnection) -> Result<Vec<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(conn)
            .await?,
    )
}

/// Whether every migration this build knows is applied, unchanged: then a service connecting
/// as a role that may not change the schema needs no migration run.
pub(crate) async fn up_to_date(pool: &PgPool) -> Result<bool, StoreError> {
    // Asked first, so a new database's log stays free of "relation does not exist" errors.
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(false);
    }
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?;
    Ok(crate::postgres::migrator().iter().all(|m| {
        rows.iter()
            .any(|(v, checksum)| *v == m.version && checksum[..] == m.checksum[..])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_role_names_reach_the_grant() {
        assert!(role_name("yeyak_reservations").is_ok());
        for bad in [
            "",
            "Yeyak",
            "a\"; DROP TABLE events; --",
            "1role",
            &"r".repeat(64),
        ] {
            assert!(role_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
