//! PostgreSQL backend: gap-safe commit order with `xid8`, LISTEN/NOTIFY wake-ups.
use std::{sync::Arc, time::Duration};

use sqlx::{
    PgPool, Postgres,
    migrate::Migrator,
    postgres::{PgListener, PgPoolOptions},
};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    Backend, Lease, StoreError,
    common::{Dialect, impl_event_store},
};

/// Transactions that take batches of appends at once (each on a connection of the writer pool,
/// whose other connections serve appends that run alone).
const COMMITTERS: usize = 4;

const CHANNEL: &str = "yeyak_events";

/// The event log on PostgreSQL.
pub struct PgEventStore {
    writer: PgPool,
    reader: PgPool,
    commits: Arc<watch::Sender<u64>>,
    listener: JoinHandle<()>,
    group: crate::group_commit::Group,
}

impl Drop for PgEventStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PgEventStore {
    const DIALECT: Dialect = Dialect {
        begin: "BEGIN",
        event_by_id: "SELECT transaction_id::text AS commit_id, global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context \
             FROM events WHERE event_id = $1",
        read_stream: "SELECT transaction_id::text AS commit_id, global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context \
             FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3",
        // Never read past the oldest transaction still running: it may commit an event that sorts
        // before anything later in the table.
        read_all: "SELECT transaction_id::text AS commit_id, global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context \
             FROM events \
             WHERE (transaction_id, global_position) > ($1::text::xid8, $2) \
               AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY transaction_id, global_position LIMIT $3",
        notify: Some("SELECT pg_notify('yeyak_events', '')"),
        head: "SELECT transaction_id::text AS commit_id, global_position FROM events \
             WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    };

    /// Connects, migrates, and starts listening for commits of other processes.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // The committers hold COMMITTERS of these; the rest serve appends that run alone. Four
        // services of one process on one server stay well inside its 100 connections.
        let writer = PgPoolOptions::new()
            .max_connections(2 * COMMITTERS as u32)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        let reader = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        if !crate::migrations::up_to_date(&writer).await? {
            migrator().run(&writer).await.map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(d))
                    if d.code().as_deref() == Some("42501") =>
                {
                    StoreError::NotMigrated(d.message().to_string())
                }
                e => e.into(),
            })?;
        }
        let commits = Arc::new(watch::Sender::new(0));
        let mut listener = PgListener::connect_with(&reader).await?;
        listener.listen(CHANNEL).await?;
        let signal = commits.clone();
        let listener = tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => signal.send_modify(|n| *n += 1),
                    Err(e) => {
                        tracing::warn!(error = %e, "event log listener lost its connection; subscribers keep polling");
                        // Back off before the listener reconnects on the next recv.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        let group = Self::start_committers(&writer, &commits, COMMITTERS);
        Ok(Self {
            writer,
            reader,
            commits,
            listener,
            group,
        })
    }

    /// A session-level advisory lock on a dedicated connection: released when the guard drops
    /// or the session dies.
    async fn lease(&self, name: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        use sqlx::ConnectOptions;
        let mut conn = self.writer.connect_options().connect().await?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 1))")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
        if held {
            Ok(Some(Box::new(PgLease { conn })))
        } else {
            use sqlx::Connection;
            let _ = conn.close().await;
            Ok(None)
        }
    }

    /// Locks every stream an append alone checks, in the order given (stream order), until
    /// the commit: exclusively the ones it writes, shared the ones it only read.
    async fn lock_streams(
        tx: &mut sqlx::PgConnection,
        checked: &[(&str, crate::ExpectedVersion, bool)],
    ) -> Result<(), sqlx::Error> {
        let ids: Vec<&str> = checked.iter().map(|c| c.0).collect();
        let written: Vec<bool> = checked.iter().map(|c| c.2).collect();
        sqlx::query(
            "SELECT CASE WHEN written THEN pg_advisory_xact_lock(hashtextextended(stream_id, 0)) \
             ELSE pg_advisory_xact_lock_shared(hashtextextended(stream_id, 0)) END \
             FROM unnest($1::text[], $2::bool[]) AS locked(stream_id, written)",
        )
        .bind(ids)
        .bind(written)
        .execute(tx)
        .await?;
        Ok(())
    }

    /// Tries, in one statement, the lock of every stream of a batch (`true`: written, so
    /// exclusive) without waiting for any; the ones held elsewhere.
    async fn try_lock_streams(
        tx: &mut sqlx::PgConnection,
        streams: &[(&str, bool)],
    ) -> Result<std::collections::HashSet<String>, sqlx::Error> {
        if streams.is_empty() {
            return Ok(Default::default());
        }
        let busy: Vec<String> = sqlx::query_scalar(
            "SELECT stream_id FROM unnest($1::text[], $2::bool[]) AS locked(stream_id, written) \
             WHERE NOT (CASE WHEN written THEN pg_try_advisory_xact_lock(hashtextextended(stream_id, 0)) \
                        ELSE pg_try_advisory_xact_lock_shared(hashtextextended(stream_id, 0)) END)",
        )
        .bind(streams.iter().map(|s| s.0).collect::<Vec<_>>())
        .bind(streams.iter().map(|s| s.1).collect::<Vec<_>>())
        .fetch_all(tx)
        .await?;
        Ok(busy.into_iter().collect())
    }

    /// The stored dedupe rows among `keys`, with their fingerprints, in one statement.
    async fn inboxes_seen(
        tx: &mut sqlx::PgConnection,
        keys: &[(&str, uuid::Uuid)],
    ) -> Result<std::collections::HashMap<(String, uuid::Uuid), Option<Vec<u8>>>, sqlx::Error> {
        if keys.is_empty() {
            return Ok(Default::default());
        }
        let rows: Vec<(String, uuid::Uuid, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT i.consumer, i.event_id, i.fingerprint \
             FROM unnest($1::text[], $2::uuid[]) AS k(consumer, event_id) \
             JOIN inbox i ON i.consumer = k.consumer AND i.event_id = k.event_id",
        )
        .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.1).collect::<Vec<_>>())
        .fetch_all(tx)
        .await?;
        Ok(rows.into_iter().map(|(c, e, f)| ((c, e), f)).collect())
    }

    /// Every event of `streams`, by stream and version, in one statement.
    async fn select_streams(
        pool: &PgPool,
        streams: &[&str],
    ) -> Result<Vec<sqlx::postgres::PgRow>, sqlx::Error> {
        sqlx::query(
            "SELECT transaction_id::text AS commit_id, global_position, event_id, stream_id, stream_version, \
             event_type, schema_version, payload, correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context \
             FROM events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version",
        )
        .bind(streams)
        .fetch_all(pool)
        .await
    }

    /// The last version of each of `streams` (`None`: no such stream), in one statement;
    /// each is its index's last entry. Never called with no streams.
    async fn select_stream_versions(
        tx: &mut sqlx::PgConnection,
        streams: &[&str],
    ) -> Result<Vec<(String, Option<i64>)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT s.id, (SELECT MAX(stream_version) FROM events WHERE stream_id = s.id) \
             FROM unnest($1::text[]) AS s(id)",
        )
        .bind(streams)
        .fetch_all(tx)
        .await
    }

    /// The dedupe rows and the events of appends (a whole batch's), one statement each: the
    /// rows travel as arrays. The events' positions, in order.
    async fn insert_rows(
        tx: &mut sqlx::PgConnection,
        inboxes: &[&crate::InboxEntry],
        rows: &[crate::common::EventRow<'_>],
        now: i64,
    ) -> Result<Vec<crate::Position>, crate::AppendError> {
        if !inboxes.is_empty() {
            sqlx::query(
                "INSERT INTO inbox (consumer, event_id, processed_at_us, fingerprint) \
                 SELECT consumer, event_id, processed_at_us, fingerprint \
                 FROM unnest($1::text[], $2::uuid[], $3::int8[], $4::bytea[]) \
                      AS i(consumer, event_id, processed_at_us, fingerprint)",
            )
            .bind(
                inboxes
                    .iter()
                    .map(|i| i.consumer.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(inboxes.iter().map(|i| i.event_id).collect::<Vec<_>>())
            .bind(
                inboxes
                    .iter()
                    .map(|i| i.processed_at_us)
                    .collect::<Vec<_>>(),
            )
            .bind(
                inboxes
                    .iter()
                    .map(|i| i.fingerprint.as_deref())
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await?;
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let events = rows.iter().map(|r| r.event);
        let stored: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
            "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, payload, \
             correlation_id, causation_id, actor, occurred_at_us, recorded_at_us, trace_context) \
             SELECT event_id, stream_id, stream_version, event_type, schema_version, payload, \
                    correlation_id, causation_id, actor, occurred_at_us, $11, trace_context \
             FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::text[], $5::int4[], $6::bytea[], \
                         $7::uuid[], $8::uuid[], $9::text[], $10::int8[], $12::text[]) WITH ORDINALITY \
                  AS e(event_id, stream_id, stream_version, event_type, schema_version, payload, \
                       correlation_id, causation_id, actor, occurred_at_us, trace_context, n) \
             ORDER BY n \
             RETURNING event_id, transaction_id::text, global_position",
        )
        .bind(events.clone().map(|e| e.event_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.stream_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| crate::common::to_i64(r.version)).collect::<Vec<_>>())
        .bind(events.clone().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
        .bind(events.clone().map(|e| e.schema_version as i32).collect::<Vec<_>>())
        .bind(events.clone().map(|e| e.payload.as_slice()).collect::<Vec<_>>())
        .bind(events.clone().map(|e| e.metadata.correlation_id).collect::<Vec<_>>())
        .bind(events.clone().map(|e| e.metadata.causation_id).collect::<Vec<_>>())
        .bind(events.clone().map(|e| e.metadata.actor.as_str()).collect::<Vec<_>>())
        .bind(events.clone().map(|e| e.metadata.occurred_at_us).collect::<Vec<_>>())
        .bind(now)
        .bind(events.map(|e| e.metadata.trace_context.as_deref()).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
        // RETURNING's order is not promised: each position is found by its event's id.
        let mut by_id = std::collections::HashMap::with_capacity(stored.len());
        for (id, commit, position) in stored {
            let position = crate::Position {
                commit: crate::common::parse_commit(&commit)?,
                position: position as u64,
            };
            by_id.insert(id, position);
        }
        rows.iter()
            .map(|r| {
                by_id.get(&r.event.event_id).copied().ok_or_else(|| {
                    crate::StoreError::Corrupt(format!(
                        "event {} not returned by its insert",
                        r.event.event_id
                    ))
                    .into()
                })
            })
            .collect()
    }

    /// Read-model rows in one statement, as arrays (each key once: see `newest_per_key`).
    async fn upsert_rows(
        tx: &mut sqlx::PgConnection,
        rows: Vec<(String, crate::ProjectionRow)>,
    ) -> Result<(), crate::StoreError> {
        let n = rows.len();
        let (mut projections, mut keys, mut partitions) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut filters: [Vec<String>; crate::PROJECTION_FILTERS] = Default::default();
        let (mut sorts, mut values, mut versions) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (projection, row) in rows {
            let row_filters = crate::projection_filters(row.filters)?;
            for (column, value) in filters.iter_mut().zip(row_filters) {
                column.push(value);
            }
            projections.push(projection);
            keys.push(row.key);
            partitions.push(row.partition);
            sorts.push(row.sort);
            values.push(row.value);
            versions.push(crate::common::to_i64(row.version));
        }
        let [f1, f2, f3, f4] = filters;
        sqlx::query(
            "INSERT INTO projection_rows (projection, key, partition_key, filter_1, filter_2, filter_3, filter_4, sort, value, version) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                                  $8::int8[], $9::bytea[], $10::int8[]) \
             ON CONFLICT (projection, key) DO UPDATE SET \
             partition_key = excluded.partition_key, filter_1 = excluded.filter_1, filter_2 = excluded.filter_2, \
             filter_3 = excluded.filter_3, filter_4 = excluded.filter_4, sort = excluded.sort, value = excluded.value, \
             version = excluded.version WHERE projection_rows.version <= excluded.version",
        )
        .bind(projections)
        .bind(keys)
        .bind(partitions)
        .bind(f1)
        .bind(f2)
        .bind(f3)
        .bind(f4)
        .bind(sorts)
        .bind(values)
        .bind(versions)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// The connection pool, for callers that need their own queries (tests).
    pub fn pool(&self) -> &PgPool {
        &self.writer
    }
}

struct PgLease {
    conn: sqlx::PgConnection,
}

#[async_trait::async_trait]
impl Lease for PgLease {
    async fn is_held(&mut self) -> bool {
        sqlx::query("SELECT 1")
            .execute(&mut self.conn)
            .await
            .is_ok()
    }
}

pub(crate) fn migrator() -> Migrator {
    crate::common::migrator(&[
        (
            1,
            "event log",
            include_str!("../migrations/postgres/0001_event_log.sql"),
        ),
        (
            2,
            "trace context",
            include_str!("../migrations/postgres/0002_trace_context.sql"),
        ),
        (
            3,
            "projection rows",
            include_str!("../migrations/postgres/0003_projection_rows.sql"),
        ),
        (
            4,
            "idempotency and replacement",
            include_str!("../migrations/postgres/0004_idempotency_and_replacement.sql"),
        ),
        (
            5,
            "generic projection rows",
            include_str!("../migrations/postgres/0005_generic_projection_rows.sql"),
        ),
        (
            6,
            "projection row versions",
            include_str!("../migrations/postgres/0006_projection_row_versions.sql"),
        ),
    ])
}

impl_event_store!(PgEventStore, Postgres, Backend::Postgres);
