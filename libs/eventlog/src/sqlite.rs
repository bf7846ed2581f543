//! SQLite backend for the embedded default: one writer connection, WAL, full fsync.
use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    Sqlite, SqlitePool,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tokio::sync::watch;

use crate::{
    Backend, Lease, StoreError,
    common::{Dialect, impl_event_store},
};

/// The event log in a SQLite file.
pub struct SqliteEventStore {
    /// One connection: writers queue here instead of fighting over the file lock.
    writer: SqlitePool,
    reader: SqlitePool,
    commits: Arc<watch::Sender<u64>>,
    /// The database file, which names this log's leases.
    file: String,
    group: crate::group_commit::Group,
}

impl SqliteEventStore {
    const DIALECT: Dialect = Dialect {
        // Take the write lock at once, so a transaction never fails upgrading a read lock.
        begin: "BEGIN IMMEDIATE",
        event_by_id: "SELECT '0' AS commit_id, global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context \
             FROM events WHERE event_id = $1",
        read_stream: "SELECT '0' AS commit_id, global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context \
             FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3",
        // Writers are serialised, so a position is taken and committed before the next writer starts:
        // position order is commit order and there are no gaps to wait for.
        read_all: "SELECT '0' AS commit_id, global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context \
             FROM events WHERE global_position > $2 AND $1 IS NOT NULL ORDER BY global_position LIMIT $3",
        notify: None,
        head: "SELECT '0' AS commit_id, global_position FROM events ORDER BY global_position DESC LIMIT 1",
    };

    /// Opens (creating if needed) and migrates the file named by `url`, e.g. `sqlite://./data/x.db`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await?;
        migrator().run(&writer).await?;
        let file = options.get_filename().display().to_string();
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let commits = Arc::new(watch::Sender::new(0));
        // One committer: the file has one writer at a time anyway.
        let group = Self::start_committers(&writer, &commits, 1);
        Ok(Self {
            writer,
            reader,
            commits,
            file,
            group,
        })
    }

    /// SQLite serves one process (the embedded default): a process-wide set of held names.
    async fn lease(&self, name: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let key = format!("{}#{name}", self.file);
        let mut held = LEASES.lock().expect("lease registry");
        if held.insert(key.clone()) {
            Ok(Some(Box::new(SqliteLease { key })))
        } else {
            Ok(None)
        }
    }

    /// Writers are serialised by `BEGIN IMMEDIATE`: nothing can move between a check and the
    /// commit.
    async fn lock_streams(
        _tx: &mut sqlx::SqliteConnection,
        _checked: &[(&str, crate::ExpectedVersion, bool)],
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// No stream is ever held elsewhere: see [`Self::lock_streams`].
    async fn try_lock_streams(
        _tx: &mut sqlx::SqliteConnection,
        _streams: &[(&str, bool)],
    ) -> Result<std::collections::HashSet<String>, sqlx::Error> {
        Ok(Default::default())
    }

    /// The stored dedupe rows among `keys`, with their fingerprints: a lookup each (in
    /// process, a statement costs no round trip).
    async fn inboxes_seen(
        tx: &mut sqlx::SqliteConnection,
        keys: &[(&str, uuid::Uuid)],
    ) -> Result<std::collections::HashMap<(String, uuid::Uuid), Option<Vec<u8>>>, sqlx::Error> {
        let mut seen = std::collections::HashMap::new();
        for (consumer, event_id) in keys {
            let row: Option<(Option<Vec<u8>>, i64)> = sqlx::query_as(crate::common::INBOX_SEEN)
                .bind(*consumer)
                .bind(*event_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((fingerprint, _)) = row {
                seen.insert((consumer.to_string(), *event_id), fingerprint);
            }
        }
        Ok(seen)
    }

    /// Every event of `streams`, by stream and version, in one statement.
    async fn select_streams(
        pool: &SqlitePool,
        streams: &[&str],
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error> {
        let ids = serde_json::to_string(streams).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "SELECT '0' AS commit_id, global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context \
             FROM events WHERE stream_id IN (SELECT value FROM json_each($1)) ORDER BY stream_id, stream_version",
        )
        .bind(ids)
        .fetch_all(pool)
        .await
    }

    /// The last version of each of `streams` (`None`: no such stream), in one statement;
    /// each is its index's last entry. Never called with no streams.
    async fn select_stream_versions(
        tx: &mut sqlx::SqliteConnection,
        streams: &[&str],
    ) -> Result<Vec<(String, Option<i64>)>, sqlx::Error> {
        let ids = serde_json::to_string(streams).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query_as(
            "SELECT s.value, (SELECT MAX(stream_version) FROM events WHERE stream_id = s.value) \
             FROM json_each($1) AS s",
        )
        .bind(ids)
        .fetch_all(tx)
        .await
    }

    /// The dedupe rows and the events of appends, a statement each (SQLite runs in process: a
    /// statement costs no round trip). The events' positions, in order.
    async fn insert_rows(
        tx: &mut sqlx::SqliteConnection,
        inboxes: &[&crate::InboxEntry],
        rows: &[crate::common::EventRow<'_>],
        now: i64,
    ) -> Result<Vec<crate::Position>, crate::AppendError> {
        for inbox in inboxes {
            sqlx::query(INSERT_INBOX)
                .bind(&inbox.consumer)
                .bind(inbox.event_id)
                .bind(inbox.processed_at_us)
                .bind(&inbox.fingerprint)
                .execute(&mut *tx)
                .await?;
        }
        let mut positions = Vec::with_capacity(rows.len());
        for row in rows {
            let event = row.event;
            let position: i64 = sqlx::query_scalar(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, payload, \
                 correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING global_position",
            )
            .bind(event.event_id)
            .bind(row.stream_id)
            .bind(crate::common::to_i64(row.version))
            .bind(&event.event_type)
            .bind(event.schema_version as i32)
            .bind(&event.payload)
            .bind(event.metadata.correlation_id)
            .bind(event.metadata.causation_id)
            .bind(&event.metadata.actor)
            .bind(event.metadata.occurred_at_us)
            .bind(now)
            .bind(&event.metadata.trace_context)
            .fetch_one(&mut *tx)
            .await?;
            positions.push(crate::Position {
                commit: 0,
                position: position as u64,
            });
        }
        Ok(positions)
    }

    /// Read-model rows, a statement each (in process, no round trip).
    async fn upsert_rows(
        tx: &mut sqlx::SqliteConnection,
        rows: Vec<(String, crate::ProjectionRow)>,
    ) -> Result<(), crate::StoreError> {
        for (projection, row) in rows {
            let [f1, f2, f3, f4] = crate::projection_filters(row.filters)?;
            sqlx::query(UPSERT_ROW)
                .bind(&projection)
                .bind(row.key)
                .bind(row.partition)
                .bind(f1)
                .bind(f2)
                .bind(f3)
                .bind(f4)
                .bind(row.sort)
                .bind(row.value)
                .bind(crate::common::to_i64(row.version))
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// The writer pool, for callers that need their own queries (tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }
}

/// One dedupe row (PostgreSQL writes a batch's in one statement instead).
const INSERT_INBOX: &str =
    "INSERT INTO inbox (consumer, event_id, processed_at_us, fingerprint) VALUES ($1, $2, $3, $4)";
/// One read-model row, never replacing a row of a greater version (PostgreSQL upserts a call's
/// rows in one statement instead).
const UPSERT_ROW: &str = "INSERT INTO projection_rows (projection, key, partition_key, filter_1, filter_2, filter_3, filter_4, sort, value, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (projection, key) DO UPDATE SET \
     partition_key = excluded.partition_key, filter_1 = excluded.filter_1, filter_2 = excluded.filter_2, \
     filter_3 = excluded.filter_3, filter_4 = excluded.filter_4, sort = excluded.sort, value = excluded.value, \
     version = excluded.version WHERE projection_rows.version <= excluded.version";

static LEASES: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<String>>> =
    std::sync::LazyLock::new(Default::default);

struct SqliteLease {
    key: String,
}

impl Drop for SqliteLease {
    fn drop(&mut self) {
        LEASES.lock().expect("lease registry").remove(&self.key);
    }
}

#[async_trait::async_trait]
impl Lease for SqliteLease {
    async fn is_held(&mut self) -> bool {
        true
    }
}

pub(crate) fn migrator() -> Migrator {
    crate::common::migrator(&[
        (
            1,
            "event log",
            include_str!("../migrations/sqlite/0001_event_log.sql"),
        ),
        (
            2,
            "trace context",
            include_str!("../migrations/sqlite/0002_trace_context.sql"),
        ),
        (
            3,
            "projection rows",
            include_str!("../migrations/sqlite/0003_projection_rows.sql"),
        ),
        (
            4,
            "idempotency and replacement",
            include_str!("../migrations/sqlite/0004_idempotency_and_replacement.sql"),
        ),
        (
            5,
            "generic projection rows",
            include_str!("../migrations/sqlite/0005_generic_projection_rows.sql"),
        ),
        (
            6,
            "projection row versions",
            include_str!("../migrations/sqlite/0006_projection_row_versions.sql"),
        ),
    ])
}

impl_event_store!(SqliteEventStore, Sqlite, Backend::Sqlite);
