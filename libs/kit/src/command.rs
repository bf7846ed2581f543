//! The command runner: the one path every command and every consumer of every service takes.
//!
//! ```text
//! idempotency check (actor, request_id) or (consumer, event_id)
//!   → load the streams, each read recording its version          (Command::load, async)
//!   → decide, purely, on what was loaded and the clock's time     (Command::decide, sync)
//!   → effects that must precede the append (a payment)            (Command::before_append)
//!   → number the event ids: derived from the key and their order
//!   → append atomically: written streams at the versions read, read streams checked unchanged,
//!     the dedupe row in the same transaction
//!   → on a conflict, load and decide again (bounded), then `Busy` (ABORTED)
//! ```
//!
//! A retried command (same key, same fingerprint) returns its first result: the events it
//! appended. The same key with another fingerprint is [`Error::RequestReused`].
use std::{collections::BTreeMap, sync::Arc};

use prost::{Message, Name};
use tracing::Instrument;
use uuid::Uuid;
use yeyak_eventlog::{
    AppendError, AppendRequest, AppendStatus, AppendedEvent, EventStore, ExpectedVersion,
    InboxEntry, InboxRecord, NewEvent, RecordedEvent,
};

use crate::{
    access::AccessError,
    clock::SharedClock,
    events::{Cause, DecodeError, EventSet, LoadError, SCHEMA_VERSION, derived_id, ordered_id},
};

/// How often a command is decided again after losing a race on the streams it read.
pub const DEFAULT_ATTEMPTS: u32 = 8;

/// A protobuf event payload: a message, or an [`EventSet`] enum over messages.
pub trait Payload {
    fn event_type(&self) -> String;
    fn encode_payload(&self) -> Vec<u8>;
}

impl<M: Message + Name> Payload for M {
    fn event_type(&self) -> String {
        M::full_name()
    }
    fn encode_payload(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}

/// An aggregate: a pure fold of its stream and a pure decision on it. `decide` reads nothing but
/// its arguments: the state, what was asked, and the context (the time, facts learned from
/// other services).
pub trait Aggregate: Default {
    type Event;
    type Command;
    type Context;
    type Decision;
    type Error;

    fn evolve(&mut self, event: Self::Event);

    /// This state after `events`: what a decision answers as the state it leaves.
    fn evolved<'a>(mut self, events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self: Sized,
        Self::Event: Clone + 'a,
    {
        for e in events {
            self.evolve(e.clone());
        }
        self
    }

    fn decide(
        &self,
        command: Self::Command,
        context: &Self::Context,
    ) -> Result<Self::Decision, Self::Error>;
}

/// Why a command or a consumer's reaction did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error<E> {
    /// The decision refused (a domain error).
    #[error("{0}")]
    Refused(E),
    /// The caller may not do this.
    #[error(transparent)]
    Denied(#[from] AccessError),
    /// The streams kept changing while deciding; the request may be retried with its id.
    #[error("{stream_id} changed concurrently; retry the request with the same request_id")]
    Busy { stream_id: String },
    /// The request id was already used by a request that asked something else.
    #[error("this request_id was used by a different request: use a new request_id")]
    RequestReused,
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Append(AppendError),
}

impl<E> Error<E> {
    /// A domain refusal.
    pub fn refused(e: impl Into<E>) -> Self {
        Error::Refused(e.into())
    }

    /// The same failure with the refusal converted.
    pub fn map_refusal<F>(self, f: impl FnOnce(E) -> F) -> Error<F> {
        match self {
            Error::Refused(e) => Error::Refused(f(e)),
            Error::Denied(e) => Error::Denied(e),
            Error::Busy { stream_id } => Error::Busy { stream_id },
            Error::RequestReused => Error::RequestReused,
            Error::Load(e) => Error::Load(e),
            Error::Append(e) => Error::Append(e),
        }
    }
}

/// A consumer's failure: storage trouble and lost races are delivered again; a refusal or a
/// malformed event never succeeds and is set aside.
impl<E: std::fmt::Display> From<Error<E>> for yeyak_transport::HandlerError {
    fn from(e: Error<E>) -> Self {
        use yeyak_transport::HandlerError;
        match e {
            Error::Busy { .. }
            | Error::Load(LoadError::Store(_))
            | Error::Append(AppendError::Store(_) | AppendError::Conflict { .. }) => {
                HandlerError::Retry(e.to_string())
            }
            Error::Denied(AccessError::PartnerNotKnownYet) => HandlerError::Retry(e.to_string()),
            _ => HandlerError::Poison(e.to_string()),
        }
    }
}

impl<E> From<yeyak_eventlog::StoreError> for Error<E> {
    fn from(e: yeyak_eventlog::StoreError) -> Self {
        Error::Load(LoadError::Store(e))
    }
}

/// The streams a decision read, each with the version it saw. Everything a command loads goes
/// through here, so the append can expect every one of them unchanged.
pub struct Reads<'a> {
    log: &'a dyn EventStore,
    seen: BTreeMap<String, Option<u64>>,
}

impl<'a> Reads<'a> {
    pub fn new(log: &'a dyn EventStore) -> Self {
        Self {
            log,
            seen: BTreeMap::new(),
        }
    }

    /// Folds every event of `stream` into `init` with `apply`, and records its version. A stream
    /// read twice keeps the first version seen (a move in between makes the append conflict).
    pub async fn fold<S>(
        &mut self,
        stream: &str,
        init: S,
        apply: impl FnMut(&mut S, &RecordedEvent) -> Result<(), DecodeError>,
    ) -> Result<S, LoadError> {
        let (state, version) = fold_stream(self.log, stream, init, apply).await?;
        self.seen.entry(stream.to_string()).or_insert(version);
        Ok(state)
    }

    /// Folds an aggregate's stream, from the process's cached fold on (see
    /// [`crate::fold_cache`]). Every event in it must belong to the aggregate's set.
    pub async fn aggregate<A>(&mut self, stream: &str) -> Result<A, LoadError>
    where
        A: Aggregate + Clone + Send + Sync + 'static,
        A::Event: EventSet,
    {
        let (state, version) = aggregate::<A>(self.log, stream).await?;
        self.seen.entry(stream.to_string()).or_insert(version);
        Ok(state)
    }

    /// The latest event of a stream of single-fact snapshots (each event the whole picture).
    pub async fn latest<M: Message + Name + Default>(
        &mut self,
        stream: &str,
    ) -> Result<Option<M>, LoadError> {
        self.fold(stream, None, |latest, e| {
            if let Some(m) = crate::events::decode_as::<M>(e)? {
                *latest = Some(m);
            }
            Ok(())
        })
        .await
    }

    /// The version `stream` had when it was read (`None` inside: it did not exist); `None` when
    /// it was not read.
    pub fn version(&self, stream: &str) -> Option<Option<u64>> {
        self.seen.get(stream).copied()
    }

    /// The log, for reads that need no version (they are not checked at the append).
    pub fn log(&self) -> &'a dyn EventStore {
        self.log
    }
}

/// Decodes an event of an aggregate's stream; a type outside the set is an error, never skipped.
pub fn decode_strict<E: EventSet>(e: &RecordedEvent) -> Result<E, DecodeError> {
    E::decode(e)?.ok_or_else(|| DecodeError::UnknownType(e.event_type.clone(), e.schema_version))
}

/// Folds a whole stream; returns the state and the stream's version (`None`: no stream).
pub async fn fold_stream<S>(
    log: &dyn EventStore,
    stream: &str,
    state: S,
    apply: impl FnMut(&mut S, &RecordedEvent) -> Result<(), DecodeError>,
) -> Result<(S, Option<u64>), LoadError> {
    fold_stream_after(log, stream, state, None, apply).await
}

/// Folds the events of a stream after `version` (`None`: all) into `state`, the fold of the
/// events up to it; returns the state and the stream's version.
pub async fn fold_stream_after<S>(
    log: &dyn EventStore,
    stream: &str,
    mut state: S,
    mut version: Option<u64>,
    mut apply: impl FnMut(&mut S, &RecordedEvent) -> Result<(), DecodeError>,
) -> Result<(S, Option<u64>), LoadError> {
    const PAGE: usize = 512;
    loop {
        let from = version.map_or(1, |v| v + 1);
        let page = log.read_stream(stream, from, PAGE).await?;
        for event in &page {
            apply(&mut state, event)?;
            version = Some(event.stream_version);
        }
        if page.len() < PAGE {
            return Ok((state, version));
        }
    }
}

/// Folds an aggregate's stream, with its version: the process's cached fold (see
/// [`crate::fold_cache`]) and the events after it.
pub async fn aggregate<A>(log: &dyn EventStore, stream: &str) -> Result<(A, Option<u64>), LoadError>
where
    A: Aggregate + Clone + Send + Sync + 'static,
    A::Event: EventSet,
{
    let (start, after) = match crate::fold_cache::get::<A>(log, stream) {
        Some((state, version)) => (state, Some(version)),
        None => (A::default(), None),
    };
    let (state, version) = fold_stream_after(log, stream, start, after, |state, e| {
        state.evolve(decode_strict::<A::Event>(e)?);
        Ok(())
    })
    .await?;
    if let Some(v) = version
        && version != after
    {
        crate::fold_cache::put(log, stream, &state, v);
    }
    Ok((state, version))
}

/// One stream's new events in a decision.
#[derive(Debug, Clone)]
struct Write {
    stream: String,
    /// Appended after whatever is there: for streams no decision reads for a rule (indexes,
    /// seats given back, which never oversell).
    unordered: bool,
    events: Vec<(String, Vec<u8>)>,
}

/// What a decision appends, and what it answers.
#[derive(Debug, Clone)]
pub struct Decision<T> {
    pub output: T,
    writes: Vec<Write>,
}

impl<T> Decision<T> {
    /// A decision that appends nothing (yet).
    pub fn new(output: T) -> Self {
        Self {
            output,
            writes: Vec::new(),
        }
    }

    /// Appends `event` to `stream` at the version the decision read, in place (an effect that
    /// adds to a decision, say).
    pub fn add(&mut self, stream: impl Into<String>, event: &impl Payload) {
        self.push(stream.into(), false, event);
    }

    fn push(&mut self, stream: String, unordered: bool, event: &dyn Payload) {
        let encoded = (event.event_type(), event.encode_payload());
        match self.writes.iter_mut().find(|w| w.stream == stream) {
            Some(w) => {
                w.unordered &= unordered;
                w.events.push(encoded);
            }
            None => self.writes.push(Write {
                stream,
                unordered,
                events: vec![encoded],
            }),
        }
    }

    /// Appends `event` to `stream` at the version the decision read (a stream it never read
    /// must not exist yet).
    pub fn emit(mut self, stream: impl Into<String>, event: &impl Payload) -> Self {
        self.push(stream.into(), false, event);
        self
    }

    /// Appends each of `events` to `stream`, in order.
    pub fn emit_all<P: Payload>(
        mut self,
        stream: impl Into<String>,
        events: impl IntoIterator<Item = P>,
    ) -> Self {
        let stream = stream.into();
        for e in events {
            self.push(stream.clone(), false, &e);
        }
        self
    }

    /// Appends `event` after whatever `stream` holds, without expecting a version.
    pub fn emit_unordered(mut self, stream: impl Into<String>, event: &impl Payload) -> Self {
        self.push(stream.into(), true, event);
        self
    }

    /// Whether the decision appends anything.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The streams the decision appends to.
    pub fn streams(&self) -> impl Iterator<Item = &str> {
        self.writes.iter().map(|w| w.stream.as_str())
    }

    /// The same appends with another answer.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decision<U> {
        Decision {
            output: f(self.output),
            writes: self.writes,
        }
    }
}

/// What a command does, in the runner's steps.
#[async_trait::async_trait]
pub trait Command: Send + Sync {
    /// What the decision needs, loaded.
    type State: Send;
    type Output: Send;
    /// The domain's refusal.
    type Error: Send;

    /// Loads what the decision needs; every read goes through `reads`.
    async fn load(&self, reads: &mut Reads<'_>) -> Result<Self::State, Error<Self::Error>>;

    /// Decides, purely, on what was loaded, at `now_us`.
    fn decide(
        &self,
        state: Self::State,
        now_us: i64,
    ) -> Result<Decision<Self::Output>, Error<Self::Error>>;

    /// An effect that must happen before the append (taking a payment), which may add events.
    /// Runs on every attempt, so it must be idempotent (keys derived from the decision).
    async fn before_append(
        &self,
        _decision: &mut Decision<Self::Output>,
        _cause: &Cause,
    ) -> Result<(), Error<Self::Error>> {
        Ok(())
    }
}

/// Who asks: a client's command, or a consumer reacting to another service's event.
#[derive(Debug, Clone)]
pub enum Origin {
    /// Deduplicated by `(actor, request_id)`; `fingerprint` is what the request asked.
    Command {
        actor: String,
        request_id: Uuid,
        fingerprint: Vec<u8>,
    },
    /// Deduplicated by `(consumer, source event id)`.
    Reaction {
        consumer: String,
        event: Box<RecordedEvent>,
    },
}

impl Origin {
    /// A client's command; `fingerprint` is any canonical encoding of what it asked (the request
    /// message, say).
    pub fn command(actor: impl Into<String>, request_id: Uuid, fingerprint: &[u8]) -> Self {
        use sha2::Digest;
        Origin::Command {
            actor: actor.into(),
            request_id,
            fingerprint: sha2::Sha256::digest(fingerprint).to_vec(),
        }
    }

    /// A client's command whose fingerprint is the request message as sent.
    pub fn for_request(actor: impl Into<String>, request_id: Uuid, request: &impl Message) -> Self {
        Self::command(actor, request_id, &request.encode_to_vec())
    }

    /// A consumer's reaction to `event`.
    pub fn reaction(consumer: impl Into<String>, event: &RecordedEvent) -> Self {
        Origin::Reaction {
            consumer: consumer.into(),
            event: Box::new(event.clone()),
        }
    }

    fn inbox(&self) -> InboxEntry {
        match self {
            Origin::Command {
                actor,
                request_id,
                fingerprint,
            } => InboxEntry {
                consumer: actor.clone(),
                event_id: *request_id,
                fingerprint: Some(fingerprint.clone()),
                processed_at_us: 0,
            },
            Origin::Reaction { consumer, event } => InboxEntry {
                consumer: consumer.clone(),
                event_id: event.event_id,
                fingerprint: None,
                processed_at_us: 0,
            },
        }
    }

    fn cause(&self, now_us: i64) -> Cause {
        match self {
            Origin::Command {
                actor, request_id, ..
            } => Cause::command(actor.clone(), *request_id, now_us),
            Origin::Reaction { consumer, event } => Cause::reaction(consumer, event),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ran<T> {
    /// Decided now: the answer and the events appended (none when nothing changed).
    Decided(T, Vec<AppendedEvent>),
    /// Done before (a retry, or a redelivery): the events it appended then.
    Replayed(Vec<AppendedEvent>),
}

impl<T> Ran<T> {
    /// The events appended, now or by the first run.
    pub fn appended(&self) -> &[AppendedEvent] {
        match self {
            Ran::Decided(_, events) | Ran::Replayed(events) => events,
        }
    }

    /// The version `stream` reached with this command's last event on it, if it wrote there.
    pub fn version_of(&self, stream: &str) -> Option<u64> {
        self.appended()
            .iter()
            .filter(|e| e.stream_id == stream)
            .map(|e| e.stream_version)
            .max()
    }

    /// The answer when decided now.
    pub fn decided(self) -> Option<T> {
        match self {
            Ran::Decided(output, _) => Some(output),
            Ran::Replayed(_) => None,
        }
    }
}

/// Runs commands and reactions over one service's log.
#[derive(Clone)]
pub struct Runner {
    log: Arc<dyn EventStore>,
    clock: SharedClock,
    /// The service: event ids are derived within it.
    namespace: &'static str,
    attempts: u32,
}

impl Runner {
    pub fn new(log: Arc<dyn EventStore>, clock: SharedClock, namespace: &'static str) -> Self {
        Self {
            log,
            clock,
            namespace,
            attempts: DEFAULT_ATTEMPTS,
        }
    }

    /// How many times a command is decided before it is `Busy`.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    pub fn log(&self) -> &Arc<dyn EventStore> {
        &self.log
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The `n`th event id of the command or reaction keyed by `inbox`, handled at its
    /// `processed_at_us`: time-ordered, and found again from the stored dedupe row.
    fn event_id(&self, inbox: &InboxEntry, n: usize) -> Uuid {
        ordered_id(
            self.namespace,
            &Self::key(inbox),
            n as u32,
            inbox.processed_at_us,
        )
    }

    fn key(inbox: &InboxEntry) -> String {
        format!("{}/{}", inbox.consumer, inbox.event_id)
    }

    /// The events a keyed run appended, found by the ids it derived from its dedupe row (or, for
    /// a row stored before event ids were time-ordered, by the ids derived from the key alone).
    async fn appended_by(
        &self,
        inbox: &InboxEntry,
        stored: &InboxRecord,
    ) -> Result<Vec<AppendedEvent>, LoadError> {
        let handled = InboxEntry {
            processed_at_us: stored.processed_at_us,
            ..inbox.clone()
        };
        let events = self.found(|n| self.event_id(&handled, n)).await?;
        if !events.is_empty() {
            return Ok(events);
        }
        let key = Self::key(inbox);
        self.found(|n| derived_id(self.namespace, &key, n as u32))
            .await
    }

    /// The stored events with ids `id(0)`, `id(1)`, … up to the first that is not stored.
    async fn found(&self, id: impl Fn(usize) -> Uuid) -> Result<Vec<AppendedEvent>, LoadError> {
        let mut events = Vec::new();
        for n in 0.. {
            match self.log.event_by_id(id(n)).await? {
                Some(e) => events.push(AppendedEvent {
                    event_id: e.event_id,
                    stream_id: e.stream_id,
                    stream_version: e.stream_version,
                    position: e.position,
                }),
                None => break,
            }
        }
        Ok(events)
    }

    /// Runs `command` for `origin`.
    pub async fn run<C: Command>(
        &self,
        origin: &Origin,
        command: &C,
    ) -> Result<Ran<C::Output>, Error<C::Error>> {
        let mut inbox = origin.inbox();
        if let Some(done) = self
            .log
            .inbox_entry(&inbox.consumer, inbox.event_id)
            .await?
        {
            return if done.fingerprint == inbox.fingerprint {
                Ok(Ran::Replayed(self.appended_by(&inbox, &done).await?))
            } else {
                Err(Error::RequestReused)
            };
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut reads = Reads::new(&*self.log);
            let state = command.load(&mut reads).await?;
            let now = self.clock.now_us();
            let mut decision = command.decide(state, now)?;
            if decision.is_empty() {
                return Ok(Ran::Decided(decision.output, Vec::new()));
            }
            inbox.processed_at_us = now;
            let mut cause = origin.cause(now);
            command.before_append(&mut decision, &cause).await?;
            // The events carry the append's span as their trace parent, so the relay's and the
            // consumers' spans hang below it.
            let span = append_span::<C>(&*self.log, attempt);
            cause.trace_context = yeyak_transport::traceparent_of(&span).or(cause.trace_context);
            let request = self.request(&inbox, &reads, &decision, &cause);
            match self.log.append(request).instrument(span).await {
                Ok(r) if r.status == AppendStatus::Committed => {
                    return Ok(Ran::Decided(decision.output, r.events));
                }
                // A concurrent run of the same request got there first.
                Ok(_) => {
                    let stored = self
                        .log
                        .inbox_entry(&inbox.consumer, inbox.event_id)
                        .await?;
                    let replayed = match stored {
                        Some(stored) => self.appended_by(&inbox, &stored).await?,
                        None => Vec::new(),
                    };
                    return Ok(Ran::Replayed(replayed));
                }
                Err(AppendError::Conflict { stream_id, .. }) => {
                    if attempt >= self.attempts {
                        metrics::counter!("yeyak_command_busy_total", "command" => command_name::<C>())
                            .increment(1);
                        return Err(Error::Busy { stream_id });
                    }
                    metrics::counter!("yeyak_command_retries_total", "command" => command_name::<C>())
                        .increment(1);
                    tracing::debug!(%stream_id, attempt, "a stream the decision read moved; deciding again");
                }
                Err(AppendError::RequestReused { .. }) => return Err(Error::RequestReused),
                Err(e) => return Err(Error::Append(e)),
            }
        }
    }

    /// The append of a decision: every write at the version read (or after whatever is there),
    /// every other stream read checked unchanged, the dedupe row, deterministic event ids.
    fn request<T>(
        &self,
        inbox: &InboxEntry,
        reads: &Reads<'_>,
        decision: &Decision<T>,
        cause: &Cause,
    ) -> AppendRequest {
        let mut request = AppendRequest::default().with_idempotency(inbox.clone());
        let mut n = 0;
        for write in &decision.writes {
            let expected = if write.unordered {
                ExpectedVersion::Any
            } else {
                crate::events::expected(reads.version(&write.stream).flatten())
            };
            let events = write
                .events
                .iter()
                .map(|(event_type, payload)| {
                    let event_id = self.event_id(inbox, n);
                    n += 1;
                    NewEvent {
                        event_id,
                        event_type: event_type.clone(),
                        schema_version: SCHEMA_VERSION,
                        payload: payload.clone(),
                        metadata: cause.metadata(),
                    }
                })
                .collect();
            request = request.and(write.stream.clone(), expected, events);
        }
        for (stream, version) in &reads.seen {
            if !decision.writes.iter().any(|w| &w.stream == stream) {
                request = request.expecting(stream.clone(), crate::events::expected(*version));
            }
        }
        request
    }
}

/// Given/when/then for an aggregate, in the style of cqrs-es:
/// `given(events).when(command, &context).then_expect(decision)`.
pub mod testing {
    use std::fmt::Debug;

    use super::Aggregate;

    /// An aggregate folded from `events`.
    pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
        let mut state = A::default();
        for e in events {
            state.evolve(e);
        }
        Given { state }
    }

    pub struct Given<A> {
        pub state: A,
    }

    impl<A: Aggregate> Given<A> {
        pub fn when(self, command: A::Command, context: &A::Context) -> Then<A> {
            let outcome = self.state.decide(command, context);
            Then {
                state: self.state,
                outcome,
            }
        }
    }

    pub struct Then<A: Aggregate> {
        pub state: A,
        pub outcome: Result<A::Decision, A::Error>,
    }

    impl<A: Aggregate> Then<A>
    where
        A::Decision: Debug,
        A::Error: Debug,
    {
        /// The decision must be exactly `expected`.
        pub fn then_expect(self, expected: A::Decision)
        where
            A::Decision: PartialEq,
        {
            assert_eq!(self.outcome.expect("the command is accepted"), expected);
        }

        /// The command must be refused with exactly `expected`.
        pub fn then_refused(self, expected: A::Error)
        where
            A::Error: PartialEq,
        {
            assert_eq!(self.outcome.expect_err("the command is refused"), expected);
        }

        /// The command must be refused; `check` says whether with the right error.
        pub fn then_refused_as(self, check: impl FnOnce(&A::Error) -> bool) {
            let e = self.outcome.expect_err("the command is refused");
            assert!(check(&e), "refused, but with {e:?}");
        }

        /// The accepted decision, for assertions of its own.
        pub fn decision(self) -> A::Decision {
            self.outcome.expect("the command is accepted")
        }
    }

    impl<A, E> Then<A>
    where
        A: Aggregate<Event = E, Decision = Vec<E>> + Clone,
        A::Error: Debug,
        E: Clone,
    {
        /// The state the accepted decision's events leave.
        pub fn then_state(&self) -> A {
            let mut state = self.state.clone();
            let events = self.outcome.as_ref().expect("the command is accepted");
            for e in events {
                state.evolve(e.clone());
            }
            state
        }
    }
}

/// The span of one append of a command's decision: an OpenTelemetry client span of the log's
/// database (`db.system.name`, `db.operation.name`), child of the call or event being handled.
fn append_span<C>(log: &dyn EventStore, attempt: u32) -> tracing::Span {
    let system = match log.backend() {
        yeyak_eventlog::Backend::Postgres => "postgresql",
        yeyak_eventlog::Backend::Sqlite => "sqlite",
    };
    tracing::info_span!(
        "append",
        otel.name = %format!("append {}", command_name::<C>()),
        otel.kind = "client",
        db.system.name = system,
        db.operation.name = "append",
        yeyak.command = command_name::<C>(),
        yeyak.attempt = attempt,
    )
}

/// A command's name as metrics label it: its type's last path segment.
fn command_name<C>() -> &'static str {
    let full = std::any::type_name::<C>();
    let plain = full.split('<').next().unwrap_or(full);
    plain.rsplit("::").next().unwrap_or(plain)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use prost_types::Timestamp;

    use super::*;
    use crate::clock::ControlledClock;

    /// A counter with a limit on another stream: enough to exercise every step.
    struct Increment {
        counter: String,
        limit: String,
        loads: AtomicU32,
    }

    #[async_trait::async_trait]
    impl Command for Increment {
        type State = (i64, i64);
        type Output = i64;
        type Error = String;

        async fn load(&self, reads: &mut Reads<'_>) -> Result<(i64, i64), Error<String>> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            let count = reads
                .fold(&self.counter, 0i64, |n, _| {
                    *n += 1;
                    Ok(())
                })
                .await?;
            let limit = reads
                .latest::<Timestamp>(&self.limit)
                .await?
                .map_or(i64::MAX, |t| t.seconds);
            Ok((count, limit))
        }

        fn decide(
            &self,
            (count, limit): (i64, i64),
            now_us: i64,
        ) -> Result<Decision<i64>, Error<String>> {
            if count >= limit {
                return Err(Error::Refused(format!("limit {limit} reached")));
            }
            Ok(Decision::new(count + 1).emit(
                &self.counter,
                &Timestamp {
                    seconds: now_us,
                    nanos: 0,
                },
            ))
        }
    }

    async fn runner() -> Runner {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("runner");
        let log = yeyak_eventlog::connect(&url).await.expect("log");
        Runner::new(log, ControlledClock::at(42), "test")
    }

    fn increment() -> Increment {
        Increment {
            counter: "counter".into(),
            limit: "limit".into(),
            loads: AtomicU32::new(0),
        }
    }

    #[tokio::test]
    async fn a_retried_command_returns_its_first_result_and_a_reused_id_is_refused() {
        let runner = runner().await;
        let cmd = increment();
        let id = Uuid::new_v4();
        let first = runner
            .run(&Origin::command("customer:c", id, b"+1"), &cmd)
            .await
            .expect("first");
        let Ran::Decided(1, appended) = &first else {
            panic!("{first:?}")
        };
        assert_eq!(appended.len(), 1);
        let retry = runner
            .run(&Origin::command("customer:c", id, b"+1"), &cmd)
            .await
            .expect("retry");
        assert_eq!(retry, Ran::Replayed(appended.clone()));
        assert!(matches!(
            runner
                .run(&Origin::command("customer:c", id, b"+2"), &cmd)
                .await,
            Err(Error::RequestReused)
        ));
        let other_actor = runner
            .run(&Origin::command("customer:d", id, b"+1"), &cmd)
            .await
            .expect("another actor's request");
        assert!(matches!(other_actor, Ran::Decided(2, _)));
    }

    #[tokio::test]
    async fn a_fact_recorded_on_a_read_stream_makes_the_command_decide_again() {
        let runner = runner().await;
        // Before the first decision is appended, a limit of 0 is recorded on the stream it read.
        let log = runner.log().clone();
        struct LimitLands(Increment, Arc<dyn EventStore>, AtomicU32);
        #[async_trait::async_trait]
        impl Command for LimitLands {
            type State = (i64, i64);
            type Output = i64;
            type Error = String;
            async fn load(&self, reads: &mut Reads<'_>) -> Result<(i64, i64), Error<String>> {
                self.0.load(reads).await
            }
            fn decide(&self, s: (i64, i64), now: i64) -> Result<Decision<i64>, Error<String>> {
                self.0.decide(s, now)
            }
            async fn before_append(
                &self,
                _: &mut Decision<i64>,
                cause: &Cause,
            ) -> Result<(), Error<String>> {
                if self.2.fetch_add(1, Ordering::SeqCst) == 0 {
                    let limit = crate::events::encode(
                        Uuid::new_v4(),
                        &Timestamp {
                            seconds: 0,
                            nanos: 0,
                        },
                        cause,
                    );
                    self.1
                        .append(AppendRequest::single(
                            "limit",
                            ExpectedVersion::Any,
                            vec![limit],
                        ))
                        .await
                        .expect("the racing fact");
                }
                Ok(())
            }
        }
        let cmd = LimitLands(increment(), log, AtomicU32::new(0));
        let refused = runner
            .run(&Origin::command("customer:c", Uuid::new_v4(), b"+1"), &cmd)
            .await;
        assert!(
            matches!(refused, Err(Error::Refused(ref why)) if why.contains("limit 0")),
            "{refused:?}"
        );
        assert_eq!(cmd.0.loads.load(Ordering::SeqCst), 2, "decided twice");
        assert!(
            runner
                .log()
                .read_stream("counter", 1, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_reaction_happens_once_per_source_event_with_event_ids_from_its_key_and_time() {
        let runner = runner().await;
        let cmd = increment();
        let source = RecordedEvent {
            position: Default::default(),
            event_id: Uuid::new_v4(),
            stream_id: "elsewhere".into(),
            stream_version: 1,
            event_type: "x".into(),
            schema_version: 1,
            payload: vec![],
            metadata: yeyak_eventlog::Metadata {
                correlation_id: Uuid::new_v4(),
                causation_id: None,
                actor: "customer:c".into(),
                occurred_at_us: 7,
                trace_context: None,
            },
            recorded_at_us: 7,
        };
        let origin = Origin::reaction("counter-consumer", &source);
        let first = runner.run(&origin, &cmd).await.expect("first");
        let again = runner.run(&origin, &cmd).await.expect("redelivered");
        assert_eq!(again, Ran::Replayed(first.appended().to_vec()));
        let stored = runner.log().read_stream("counter", 1, 10).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            stored[0].event_id,
            ordered_id(
                "test",
                &format!("counter-consumer/{}", source.event_id),
                0,
                42
            )
        );
        assert_eq!(stored[0].metadata.causation_id, Some(source.event_id));
    }

    #[tokio::test]
    async fn a_later_handling_has_greater_event_ids_and_a_retry_finds_the_first_ones() {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("runner");
        let log = yeyak_eventlog::connect(&url).await.expect("log");
        let clock = ControlledClock::at(1_800_000_000_000_000);
        let runner = Runner::new(log, clock.clone(), "test");
        let cmd = increment();
        let (earlier, later) = (Uuid::new_v4(), Uuid::new_v4());
        let first = runner
            .run(&Origin::command("customer:z", earlier, b"+1"), &cmd)
            .await
            .expect("first");
        // One millisecond on: the smallest step the ids' timestamp has.
        clock.advance(1_000);
        let second = runner
            .run(&Origin::command("customer:a", later, b"+1"), &cmd)
            .await
            .expect("second");
        assert!(
            second.appended()[0].event_id > first.appended()[0].event_id,
            "a later handling's id sorts after an earlier one's, whatever their keys"
        );
        // The retry comes a day later: the ids are found from the stored dedupe row's time,
        // not from the time of the retry.
        clock.advance(86_400_000_000);
        let retry = runner
            .run(&Origin::command("customer:z", earlier, b"+1"), &cmd)
            .await
            .expect("retry");
        assert_eq!(retry, Ran::Replayed(first.appended().to_vec()));
    }

    #[tokio::test]
    async fn a_request_stored_with_ids_from_its_key_alone_is_replayed() {
        let runner = runner().await;
        let request_id = Uuid::new_v4();
        // Before event ids were time-ordered, they derived from the key alone.
        let legacy = yeyak_eventlog::NewEvent {
            event_id: derived_id("test", &format!("customer:c/{request_id}"), 0),
            ..yeyak_eventlog::testing::event("x", b"")
        };
        let Origin::Command { fingerprint, .. } = Origin::command("customer:c", request_id, b"+1")
        else {
            unreachable!()
        };
        let stored = runner
            .log()
            .append(
                AppendRequest::single("counter", ExpectedVersion::NoStream, vec![legacy])
                    .with_idempotency(InboxEntry {
                        consumer: "customer:c".into(),
                        event_id: request_id,
                        fingerprint: Some(fingerprint),
                        processed_at_us: 7,
                    }),
            )
            .await
            .expect("stored");
        let retry = runner
            .run(
                &Origin::command("customer:c", request_id, b"+1"),
                &increment(),
            )
            .await
            .expect("retry");
        assert_eq!(retry, Ran::Replayed(stored.events));
    }

    #[tokio::test]
    async fn a_command_that_keeps_losing_its_race_is_busy() {
        let runner = runner().await.with_attempts(3);
        struct AlwaysRaced(Arc<dyn EventStore>);
        #[async_trait::async_trait]
        impl Command for AlwaysRaced {
            type State = ();
            type Output = ();
            type Error = String;
            async fn load(&self, reads: &mut Reads<'_>) -> Result<(), Error<String>> {
                reads.fold("hot", (), |_, _| Ok(())).await?;
                Ok(())
            }
            fn decide(&self, _: (), _: i64) -> Result<Decision<()>, Error<String>> {
                Ok(Decision::new(()).emit("hot", &Timestamp::default()))
            }
            async fn before_append(
                &self,
                _: &mut Decision<()>,
                cause: &Cause,
            ) -> Result<(), Error<String>> {
                let e = crate::events::encode(Uuid::new_v4(), &Timestamp::default(), cause);
                self.0
                    .append(AppendRequest::single("hot", ExpectedVersion::Any, vec![e]))
                    .await
                    .expect("racer");
                Ok(())
            }
        }
        let outcome = runner
            .run(
                &Origin::command("customer:c", Uuid::new_v4(), b""),
                &AlwaysRaced(runner.log().clone()),
            )
            .await;
        assert!(
            matches!(outcome, Err(Error::Busy { ref stream_id }) if stream_id == "hot"),
            "{outcome:?}"
        );
    }
}
