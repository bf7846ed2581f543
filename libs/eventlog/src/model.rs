//! The log's data types and errors.
use uuid::Uuid;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A place in a log's commit order. On PostgreSQL `commit` is the writing transaction's id
/// (xid8); on SQLite, which serialises writers, it is always 0. Ordered by `(commit, position)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    pub commit: u64,
    pub position: u64,
}

impl Position {
    /// Before the first event.
    pub const START: Position = Position {
        commit: 0,
        position: 0,
    };
}

/// What the appender believes a stream's version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version (versions start at 1).
    Exact(u64),
    /// No check; the events go after whatever is there.
    Any,
}

/// Who and what caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    /// `customer:<id>`, `operator:<id>`, `ops:<id>` or `service:<name>`.
    pub actor: String,
    /// Business time of the fact, microseconds since the Unix epoch (UTC).
    pub occurred_at_us: i64,
    /// W3C `traceparent` of the request that caused the event, if it was traced.
    pub trace_context: Option<String>,
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: Uuid,
    /// Fully qualified protobuf message name of `payload`.
    pub event_type: String,
    pub schema_version: u32,
    pub payload: Vec<u8>,
    pub metadata: Metadata,
}

/// Events for one stream, with the version the appender expects.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// A stream the appender's decision read but does not write: the append commits only while the
/// stream is still at `expected`, so a fact recorded meanwhile makes the appender decide again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRead {
    pub stream_id: String,
    pub expected: ExpectedVersion,
}

/// A dedupe row, written with the events or the whole append is skipped: a consumer's
/// `(consumer, source event id)`, or a command's `(actor, request id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub consumer: String,
    pub event_id: Uuid,
    /// What the request asked, when the key is a client's request id: a later request with the
    /// same key and another fingerprint is refused ([`AppendError::RequestReused`]).
    pub fingerprint: Option<Vec<u8>>,
    /// When it was handled, in microseconds since the epoch, by the handler's clock; stored
    /// as given, so a handler can derive from it what it derived when it wrote the row (the
    /// command runner's time-ordered event ids).
    pub processed_at_us: i64,
}

/// A stored dedupe row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRecord {
    pub fingerprint: Option<Vec<u8>>,
    /// The [`InboxEntry::processed_at_us`] it was written with.
    pub processed_at_us: i64,
}

/// One atomic append.
#[derive(Debug, Clone, Default)]
pub struct AppendRequest {
    pub streams: Vec<StreamAppend>,
    /// Streams read and not written, each checked at its expected version in the same
    /// transaction.
    pub reads: Vec<StreamRead>,
    pub inbox: Option<InboxEntry>,
}

impl AppendRequest {
    /// An append to one stream.
    pub fn single(
        stream_id: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Self {
        Self {
            streams: vec![StreamAppend {
                stream_id: stream_id.into(),
                expected,
                events,
            }],
            reads: Vec::new(),
            inbox: None,
        }
    }

    /// Adds another stream to the same transaction.
    pub fn and(
        mut self,
        stream_id: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Self {
        self.streams.push(StreamAppend {
            stream_id: stream_id.into(),
            expected,
            events,
        });
        self
    }

    /// Commits only while `stream_id`, which the decision read, is still at `expected`.
    pub fn expecting(mut self, stream_id: impl Into<String>, expected: ExpectedVersion) -> Self {
        self.reads.push(StreamRead {
            stream_id: stream_id.into(),
            expected,
        });
        self
    }

    /// Records `(consumer, event_id)` in the inbox in the same transaction.
    pub fn with_inbox(mut self, consumer: impl Into<String>, event_id: Uuid) -> Self {
        self.inbox = Some(InboxEntry {
            consumer: consumer.into(),
            event_id,
            fingerprint: None,
            processed_at_us: crate::common::now_us(),
        });
        self
    }

    /// Records a dedupe row with the request's fingerprint in the same transaction.
    pub fn with_idempotency(mut self, inbox: InboxEntry) -> Self {
        self.inbox = Some(inbox);
        self
    }

    pub(crate) fn event_ids(&self) -> Vec<Uuid> {
        self.streams
            .iter()
            .flat_map(|s| s.events.iter().map(|e| e.event_id))
            .collect()
    }
}

/// How an append ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendStatus {
    /// The events were stored now.
    Committed,
    /// Every event id was already stored: nothing was written, the original result is returned.
    Duplicate,
    /// The inbox already held the entry: the consumer had handled that event; nothing was written.
    AlreadyHandled,
}

/// Where appended events landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    pub status: AppendStatus,
    /// For each appended event, in request order: stream, version and log position.
    pub events: Vec<AppendedEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEvent {
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: u64,
    pub position: Position,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub position: Position,
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: Vec<u8>,
    pub metadata: Metadata,
    pub recorded_at_us: i64,
}

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported event log URL {0}: use postgres://… or sqlite://…")]
    UnsupportedUrl(String),
    #[error("corrupt row in the event log: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Privileges(String),
    /// The schema lacks migrations this build needs, and the service may not apply them.
    #[error(
        "the event log's schema is not up to date and this role cannot migrate it ({0}); run `yeyak migrate` as the schema's owner first"
    )]
    NotMigrated(String),
}

/// Why an append stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Optimistic concurrency: the stream moved. `actual` is `None` when it does not exist.
    #[error("stream {stream_id}: expected version {expected:?}, actual {actual:?}")]
    Conflict {
        stream_id: String,
        expected: ExpectedVersion,
        actual: Option<u64>,
    },
    /// Some, but not all, of the event ids are already stored: the request is not a retry.
    #[error("event {0} is already stored as part of a different append")]
    EventIdReused(Uuid),
    /// The dedupe key was used by a request with another fingerprint.
    #[error("{consumer}/{event_id} was used by a different request")]
    RequestReused { consumer: String, event_id: Uuid },
    #[error("invalid append: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AppendError {
    fn from(e: sqlx::Error) -> Self {
        AppendError::Store(StoreError::Database(e))
    }
}

pub(crate) fn check_request(request: &AppendRequest) -> Result<(), AppendError> {
    if request.streams.is_empty() || request.streams.iter().any(|s| s.events.is_empty()) {
        return Err(AppendError::Invalid(
            "every stream in an append needs at least one event",
        ));
    }
    let mut streams: Vec<&str> = request
        .streams
        .iter()
        .map(|s| s.stream_id.as_str())
        .collect();
    streams.sort_unstable();
    if streams.windows(2).any(|w| w[0] == w[1]) {
        return Err(AppendError::Invalid(
            "a stream may appear only once in an append",
        ));
    }
    if streams.iter().any(|s| s.is_empty() || s.len() > 200) {
        return Err(AppendError::Invalid("a stream id has 1 to 200 characters"));
    }
    let mut read: Vec<&str> = request.reads.iter().map(|r| r.stream_id.as_str()).collect();
    read.sort_unstable();
    if read.windows(2).any(|w| w[0] == w[1])
        || read.iter().any(|r| streams.binary_search(r).is_ok())
    {
        return Err(AppendError::Invalid(
            "a stream read is named once, and not beside its own write",
        ));
    }
    let mut ids = request.event_ids();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(AppendError::Invalid(
            "an event id may appear only once in an append",
        ));
    }
    Ok(())
}

/// Whether a stream currently at `actual` satisfies `expected`.
pub(crate) fn satisfies(expected: ExpectedVersion, actual: Option<u64>) -> bool {
    match expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => actual.is_none(),
        ExpectedVersion::Exact(v) => actual == Some(v),
    }
}
