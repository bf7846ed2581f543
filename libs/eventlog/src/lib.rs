//! yeyak's append-only event log.
//!
//! One [`EventStore`] trait, two implementations on sqlx: PostgreSQL for production and SQLite for
//! the embedded default. Both keep the same contract, checked by one conformance suite
//! (`testing::conformance`):
//!
//! - appends touch one or several streams atomically, each with an [`ExpectedVersion`];
//! - an event id is stored at most once, and re-appending it returns the original result;
//! - an append may carry an [`InboxEntry`]: the consumer's (or command's) dedupe row is written
//!   in the same transaction as the events it caused, so a redelivered event or a retried command
//!   has no second effect;
//! - an append may name streams it read without writing ([`StreamRead`]): it commits only while
//!   they are still at the versions the decision saw;
//! - [`EventStore::read_all`] returns committed events in gap-safe commit order: no reader ever
//!   moves past an event that commits later;
//! - the database refuses UPDATE, DELETE and every form of replacement on the event table.

mod common;
mod group_commit;
pub mod migrations;
mod model;
mod postgres;
pub mod rebuild;
mod sqlite;
mod subscription;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

pub use group_commit::GroupCommits;
pub use model::*;
pub use postgres::PgEventStore;
pub use sqlite::SqliteEventStore;
pub use subscription::Subscription;

/// The contract of an event log backend.
#[async_trait::async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Which database this store runs on.
    fn backend(&self) -> Backend;

    /// Appends events to one or more streams in one transaction.
    async fn append(&self, request: AppendRequest) -> Result<AppendResult, AppendError>;

    /// Events of one stream with `stream_version >= from_version`, oldest first.
    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Every event of each of `stream_ids`, in one read: each stream's events oldest first, the
    /// streams one after another (in no promised order). What a read model folds for the
    /// entities a batch touched; for streams of bounded length (an entity's), since it reads
    /// them whole.
    async fn read_streams(&self, stream_ids: &[String]) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Committed events after `after`, in commit order, without gaps: an event that a still
    /// running transaction will commit is never overtaken.
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The dedupe row `(consumer, event_id)`, if one was stored.
    async fn inbox_entry(
        &self,
        consumer: &str,
        event_id: uuid::Uuid,
    ) -> Result<Option<InboxRecord>, StoreError>;

    /// The stored event with this id, if any.
    async fn event_by_id(&self, event_id: uuid::Uuid) -> Result<Option<RecordedEvent>, StoreError>;

    /// The durable position of a named subscription ([`Position::START`] when never saved).
    async fn load_checkpoint(&self, name: &str) -> Result<Position, StoreError>;

    /// Saves the durable position of a named subscription.
    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError>;

    /// Every saved checkpoint, `(name, position)`, by name: how far each subscription of this
    /// log has got (lag, the admin CLI, the benchmark's "caught up").
    async fn checkpoints(&self) -> Result<Vec<(String, Position)>, StoreError>;

    /// The position of the last event [`EventStore::read_all`] would return now
    /// ([`Position::START`] when it would return none).
    async fn head(&self) -> Result<Position, StoreError>;

    /// A signal bumped whenever new events may have committed (this process's appends, and
    /// LISTEN/NOTIFY on PostgreSQL). Subscribers also poll, so a missed signal only delays.
    fn commits(&self) -> tokio::sync::watch::Receiver<u64>;

    /// Inserts or replaces rows of a read model (`projection`), in one transaction. Read models
    /// are derived from the log and can be rebuilt, so their rows may change.
    async fn upsert_rows(
        &self,
        projection: &str,
        rows: Vec<ProjectionRow>,
    ) -> Result<(), StoreError> {
        let rows = rows
            .into_iter()
            .map(|r| (projection.to_string(), r))
            .collect();
        self.upsert_projections(rows).await
    }

    /// Inserts or replaces rows of several read models, `(projection, row)`, in one
    /// transaction: what a read model's consumer writes for a batch of events.
    async fn upsert_projections(
        &self,
        rows: Vec<(String, ProjectionRow)>,
    ) -> Result<(), StoreError>;

    /// Rows of a read model in one partition, filtered, newest `sort` first.
    async fn query_rows(&self, query: &ProjectionQuery) -> Result<Vec<ProjectionRow>, StoreError>;

    /// Drops a read model's rows and its consumer's `checkpoint`, so it rebuilds from position 0.
    async fn reset_projection(&self, projection: &str, checkpoint: &str) -> Result<(), StoreError>;

    /// Replaces read models at once, `(from, to)`: `to`'s rows are dropped and `from`'s become
    /// `to`'s, every pair in one transaction, so a reader sees the old rows or the new, never a
    /// mix (how a rebuilt read model takes over from the one that served meanwhile).
    async fn switch_projections(&self, renames: &[(String, String)]) -> Result<(), StoreError>;

    /// Tries to become the only holder of `name` among all processes sharing this log (the
    /// single active relay of a topic, say). The lease lasts while the guard lives and
    /// [`Lease::is_held`] says so.
    async fn try_lease(&self, name: &str) -> Result<Option<Box<dyn Lease>>, StoreError>;

    /// Test support: an append whose transaction stays open until [`HeldAppend::commit`].
    #[cfg(feature = "testing")]
    async fn append_held(&self, request: AppendRequest)
    -> Result<Box<dyn HeldAppend>, AppendError>;
}

/// How many filter columns a read model may have.
pub const PROJECTION_FILTERS: usize = 4;

/// A row of a read model: a key, the values it is filtered by, and its encoded value. The read
/// model's owner says what each filter (by position) and the value mean; the log does not know.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectionRow {
    pub key: String,
    /// Rows are always queried within one partition (a partner, say).
    pub partition: String,
    /// Up to [`PROJECTION_FILTERS`] values, matched exactly by queries.
    pub filters: Vec<String>,
    /// Newest first: larger sorts first.
    pub sort: i64,
    pub value: Vec<u8>,
    /// The version of what the row was computed from (the folded stream's, say): an upsert never
    /// replaces a row of a greater version, so a late writer of an older fold (another replica, a
    /// rebuild catching up) cannot undo a newer one.
    pub version: u64,
}

/// Which rows of a read model to read: one partition, optional filters (exact match, by the
/// rows' filter positions), a page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectionQuery {
    pub projection: String,
    pub partition: String,
    pub filters: Vec<Option<String>>,
    /// Only rows after this `(sort, key)` in the order (the previous page's last), for paging.
    pub after: Option<(i64, String)>,
    pub limit: u32,
}

/// Exclusive ownership of a name, from [`EventStore::try_lease`]; released on drop.
#[async_trait::async_trait]
pub trait Lease: Send {
    /// Whether the lease is still held (on PostgreSQL: its session is alive). A holder that
    /// sees `false` must stop the work the lease guarded.
    async fn is_held(&mut self) -> bool;
}

/// Test support: an append that has run but not yet committed.
#[cfg(feature = "testing")]
#[async_trait::async_trait]
pub trait HeldAppend: Send {
    /// The positions this append took (not yet visible to readers).
    fn result(&self) -> &AppendResult;
    async fn commit(self: Box<Self>) -> Result<AppendResult, AppendError>;
}

/// A row's (or query's) filters, padded to [`PROJECTION_FILTERS`] columns.
pub(crate) fn projection_filters(
    mut filters: Vec<String>,
) -> Result<[String; PROJECTION_FILTERS], StoreError> {
    if filters.len() > PROJECTION_FILTERS {
        return Err(StoreError::Corrupt(format!(
            "a read model has at most {PROJECTION_FILTERS} filters, not {}",
            filters.len()
        )));
    }
    filters.resize(PROJECTION_FILTERS, String::new());
    Ok(filters.try_into().expect("padded"))
}

/// Opens the event log named by a sqlx URL (`postgres://…` or `sqlite://…`) and migrates it.
pub async fn connect(url: &str) -> Result<Arc<dyn EventStore>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgEventStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteEventStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact(url)))
    }
}

/// A URL with its password removed, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }
}
