//! Rebuilding a read model beside the one that serves: [`Shadowed`] is the log as a read
//! model's consumer sees it, except that every read model it writes or reads is its shadow
//! (`<name>~rebuild`). A rebuild runs the service's own consumer over a `Shadowed` log from
//! position 0, then [`crate::EventStore::switch_projections`] gives the live names the shadows'
//! rows in one transaction.
use std::sync::Arc;

use uuid::Uuid;

use crate::{
    AppendError, AppendRequest, AppendResult, Backend, EventStore, InboxRecord, Lease, Position,
    ProjectionQuery, ProjectionRow, RecordedEvent, StoreError,
};

/// The shadow of read model `projection`, where a rebuild writes.
pub fn shadow_of(projection: &str) -> String {
    format!("{projection}~rebuild")
}

/// `log`, with every read model replaced by its shadow; events, checkpoints and leases are
/// `log`'s own.
pub struct Shadowed {
    inner: Arc<dyn EventStore>,
}

impl Shadowed {
    pub fn new(inner: Arc<dyn EventStore>) -> Self {
        Self { inner }
    }
}

#[async_trait::async_trait]
impl EventStore for Shadowed {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    async fn append(&self, request: AppendRequest) -> Result<AppendResult, AppendError> {
        self.inner.append(request).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream_id, from_version, limit).await
    }

    async fn read_streams(&self, stream_ids: &[String]) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_streams(stream_ids).await
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, limit).await
    }

    async fn inbox_entry(
        &self,
        consumer: &str,
        event_id: Uuid,
    ) -> Result<Option<InboxRecord>, StoreError> {
        self.inner.inbox_entry(consumer, event_id).await
    }

    async fn event_by_id(&self, event_id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        self.inner.event_by_id(event_id).await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Position, StoreError> {
        self.inner.load_checkpoint(name).await
    }

    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError> {
        self.inner.save_checkpoint(name, position).await
    }

    async fn checkpoints(&self) -> Result<Vec<(String, Position)>, StoreError> {
        self.inner.checkpoints().await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        self.inner.head().await
    }

    fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commits()
    }

    async fn upsert_projections(
        &self,
        rows: Vec<(String, ProjectionRow)>,
    ) -> Result<(), StoreError> {
        let rows = rows
            .into_iter()
            .map(|(projection, row)| (shadow_of(&projection), row))
            .collect();
        self.inner.upsert_projections(rows).await
    }

    async fn query_rows(&self, query: &ProjectionQuery) -> Result<Vec<ProjectionRow>, StoreError> {
        let query = ProjectionQuery {
            projection: shadow_of(&query.projection),
            ..query.clone()
        };
        self.inner.query_rows(&query).await
    }

    async fn reset_projection(&self, projection: &str, checkpoint: &str) -> Result<(), StoreError> {
        self.inner
            .reset_projection(&shadow_of(projection), checkpoint)
            .await
    }

    async fn switch_projections(&self, renames: &[(String, String)]) -> Result<(), StoreError> {
        self.inner.switch_projections(renames).await
    }

    async fn try_lease(&self, name: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        self.inner.try_lease(name).await
    }

    #[cfg(feature = "testing")]
    async fn append_held(
        &self,
        request: AppendRequest,
    ) -> Result<Box<dyn crate::HeldAppend>, AppendError> {
        self.inner.append_held(request).await
    }
}
