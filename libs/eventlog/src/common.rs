//! The append and read algorithms, written once and instantiated for each sqlx backend.
//!
//! Both backends speak the same SQL except for the statements in their [`Dialect`].

/// Of rows upserted together, the one each key ends with when they are upserted in order (the
/// newest version; of equal versions, the last): what one statement may write, as it may touch
/// a row once.
pub(crate) fn newest_per_key(
    rows: Vec<(String, crate::ProjectionRow)>,
) -> Vec<(String, crate::ProjectionRow)> {
    let mut at: std::collections::HashMap<(String, String), usize> = Default::default();
    let mut out: Vec<(String, crate::ProjectionRow)> = Vec::with_capacity(rows.len());
    for (projection, row) in rows {
        match at.entry((projection.clone(), row.key.clone())) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let kept = &mut out[*e.get()].1;
                if row.version >= kept.version {
                    *kept = row;
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(out.len());
                out.push((projection, row));
            }
        }
    }
    out
}

/// One event row of an append, at the version its checks found.
pub(crate) struct EventRow<'a> {
    pub stream_id: &'a str,
    pub version: u64,
    pub event: &'a crate::NewEvent,
}

/// Backend-specific SQL.
pub(crate) struct Dialect {
    /// Statement that opens a write transaction.
    pub begin: &'static str,
    /// Select one event by id.
    pub event_by_id: &'static str,
    /// Events of a stream from a version: `$1` stream, `$2` from version, `$3` limit.
    pub read_stream: &'static str,
    /// Committed events after a position in commit order: `$1` commit (text), `$2` position, `$3` limit.
    pub read_all: &'static str,
    /// Statement run in each write transaction to wake other processes' subscribers.
    pub notify: Option<&'static str>,
    /// The last event `read_all` would return: `commit_id` (text), `global_position`.
    pub head: &'static str,
}

pub(crate) const INBOX_SEEN: &str =
    "SELECT fingerprint, processed_at_us FROM inbox WHERE consumer = $1 AND event_id = $2";
pub(crate) const LOAD_CHECKPOINT: &str =
    "SELECT commit_id, position FROM checkpoints WHERE name = $1";
pub(crate) const SAVE_CHECKPOINT: &str = "INSERT INTO checkpoints (name, commit_id, position, updated_at_us) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (name) DO UPDATE SET commit_id = excluded.commit_id, position = excluded.position, updated_at_us = excluded.updated_at_us";

pub(crate) const QUERY_ROWS: &str = "SELECT key, partition_key, filter_1, filter_2, filter_3, filter_4, sort, value, version FROM projection_rows \
     WHERE projection = $1 AND partition_key = $2 AND ($3 = '' OR filter_1 = $3) AND ($4 = '' OR filter_2 = $4) \
     AND ($5 = '' OR filter_3 = $5) AND ($6 = '' OR filter_4 = $6) AND (sort < $7 OR (sort = $7 AND key < $8)) \
     ORDER BY sort DESC, key DESC LIMIT $9";
pub(crate) const RENAME_ROWS: &str =
    "UPDATE projection_rows SET projection = $2 WHERE projection = $1";
pub(crate) const CHECKPOINTS: &str =
    "SELECT name, commit_id, position FROM checkpoints ORDER BY name";
pub(crate) const DELETE_ROWS: &str = "DELETE FROM projection_rows WHERE projection = $1";
pub(crate) const DELETE_CHECKPOINT: &str = "DELETE FROM checkpoints WHERE name = $1";

/// The migrations of one backend: `(version, description, sql)`, in order.
pub(crate) fn migrator(
    migrations: &[(i64, &'static str, &'static str)],
) -> sqlx::migrate::Migrator {
    use sqlx::{
        SqlSafeStr,
        migrate::{Migration, MigrationType},
    };
    sqlx::migrate::Migrator::with_migrations(
        migrations
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Counts an append by its outcome (`yeyak_appends_total`).
pub(crate) fn count_append(
    backend: crate::Backend,
    result: &Result<crate::AppendResult, crate::AppendError>,
) {
    use crate::{AppendError, AppendStatus};
    let outcome = match result {
        Ok(r) => match r.status {
            AppendStatus::Committed => "committed",
            AppendStatus::Duplicate => "duplicate",
            AppendStatus::AlreadyHandled => "already_handled",
        },
        Err(AppendError::Conflict { .. }) => "conflict",
        Err(AppendError::Store(_)) => "failed",
        Err(_) => "refused",
    };
    metrics::counter!("yeyak_appends_total", "backend" => backend_name(backend), "outcome" => outcome)
        .increment(1);
}

/// A backend as metrics label it.
pub(crate) fn backend_name(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Postgres => "postgres",
        crate::Backend::Sqlite => "sqlite",
    }
}

/// The storage's own clock: when an event was recorded (business time is the event's
/// `occurred_at_us`, from the service's clock).
pub(crate) fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn parse_commit(text: &str) -> Result<u64, crate::StoreError> {
    text.parse()
        .map_err(|_| crate::StoreError::Corrupt(format!("commit id {text:?}")))
}

/// What the checks of an append found.
pub(crate) enum Checked {
    /// Write, at these versions of the streams it checked.
    Write(std::collections::HashMap<String, Option<u64>>),
    /// Nothing to write: this is the answer (a duplicate, or a dedupe row already stored).
    Answered(crate::AppendResult),
    /// A stream's lock is held by another transaction (only a batch tries locks).
    Busy,
}

/// The versions an append's checked streams are at, each satisfying its expected version:
/// `batch` holds what earlier members of the same transaction will write, `stored` the rest.
pub(crate) fn versions_of(
    checked: &[(&str, crate::ExpectedVersion, bool)],
    stored: &std::collections::HashMap<String, Option<u64>>,
    batch: Option<&std::collections::HashMap<String, Option<u64>>>,
) -> Result<std::collections::HashMap<String, Option<u64>>, crate::AppendError> {
    let mut versions = std::collections::HashMap::with_capacity(checked.len());
    for (stream_id, expected, _) in checked {
        let actual = match batch.and_then(|b| b.get(*stream_id)) {
            Some(written) => *written,
            None => stored.get(*stream_id).copied().flatten(),
        };
        if !crate::model::satisfies(*expected, actual) {
            return Err(crate::AppendError::Conflict {
                stream_id: stream_id.to_string(),
                expected: *expected,
                actual,
            });
        }
        versions.insert(stream_id.to_string(), actual);
    }
    Ok(versions)
}

/// The answer to an append whose dedupe row is stored already, with `fingerprint`: the same
/// request was handled, or its key was used by another request.
pub(crate) fn handled(
    inbox: &crate::InboxEntry,
    fingerprint: &Option<Vec<u8>>,
) -> Result<crate::AppendResult, crate::AppendError> {
    if *fingerprint == inbox.fingerprint {
        Ok(crate::AppendResult {
            status: crate::AppendStatus::AlreadyHandled,
            events: Vec::new(),
        })
    } else {
        Err(crate::AppendError::RequestReused {
            consumer: inbox.consumer.clone(),
            event_id: inbox.event_id,
        })
    }
}

/// Implements [`crate::EventStore`] for `$store`, a struct with fields `writer`, `reader` (pools of
/// `$db`), `commits` (an `Arc<watch::Sender<u64>>`) and a `DIALECT` constant.
macro_rules! impl_event_store {
    ($store:ty, $db:ty, $backend:expr) => {
        impl $store {
            fn decode(row: &<$db as sqlx::Database>::Row) -> Result<$crate::RecordedEvent, $crate::StoreError> {
                use sqlx::Row;
                let commit: String = row.try_get("commit_id")?;
                let position: i64 = row.try_get("global_position")?;
                let version: i64 = row.try_get("stream_version")?;
                let schema: i32 = row.try_get("schema_version")?;
                Ok($crate::RecordedEvent {
                    position: $crate::Position {
                        commit: $crate::common::parse_commit(&commit)?,
                        position: position as u64,
                    },
                    event_id: row.try_get("event_id")?,
                    stream_id: row.try_get("stream_id")?,
                    stream_version: version as u64,
                    event_type: row.try_get("event_type")?,
                    schema_version: schema as u32,
                    payload: row.try_get("payload")?,
                    metadata: $crate::Metadata {
                        correlation_id: row.try_get("correlation_id")?,
                        causation_id: row.try_get("causation_id")?,
                        actor: row.try_get("actor")?,
                        occurred_at_us: row.try_get("occurred_at_us")?,
                        trace_context: row.try_get("trace_context")?,
                    },
                    recorded_at_us: row.try_get("recorded_at_us")?,
                })
            }

            /// The versions of `streams` (`None`: no such stream), in one statement.
            async fn stream_versions_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                streams: &[&str],
            ) -> Result<std::collections::HashMap<String, Option<u64>>, sqlx::Error> {
                if streams.is_empty() {
                    return Ok(Default::default());
                }
                let rows = Self::select_stream_versions(conn, streams).await?;
                Ok(rows.into_iter().map(|(id, v)| (id, v.map(|v| v as u64))).collect())
            }

            /// The original result when every event id is stored already; `None` when none is.
            async fn find_duplicate(
                conn: &mut <$db as sqlx::Database>::Connection,
                request: &$crate::AppendRequest,
            ) -> Result<Option<$crate::AppendResult>, $crate::AppendError> {
                let mut found = Vec::new();
                let ids = request.event_ids();
                for id in &ids {
                    let row = sqlx::query(Self::DIALECT.event_by_id)
                        .bind(*id)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if let Some(row) = row {
                        let e = Self::decode(&row)?;
                        found.push($crate::AppendedEvent {
                            event_id: e.event_id,
                            stream_id: e.stream_id,
                            stream_version: e.stream_version,
                            position: e.position,
                        });
                    }
                }
                match found.len() {
                    0 => Ok(None),
                    n if n == ids.len() => Ok(Some($crate::AppendResult {
                        status: $crate::AppendStatus::Duplicate,
                        events: found,
                    })),
                    _ => Err($crate::AppendError::EventIdReused(found[0].event_id)),
                }
            }

            /// The result of an append whose dedupe row is stored already: the same request was
            /// handled, or its key was used by another request.
            async fn inbox_seen(
                conn: &mut <$db as sqlx::Database>::Connection,
                inbox: &$crate::InboxEntry,
            ) -> Result<Option<$crate::AppendResult>, $crate::AppendError> {
                let seen: Option<(Option<Vec<u8>>, i64)> = sqlx::query_as($crate::common::INBOX_SEEN)
                    .bind(&inbox.consumer)
                    .bind(inbox.event_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                seen.map(|(fingerprint, _)| $crate::common::handled(inbox, &fingerprint)).transpose()
            }

            /// Every stream the append checks: written ones with their events, read ones alone.
            fn checked(request: &$crate::AppendRequest) -> Vec<(&str, $crate::ExpectedVersion, bool)> {
                request
                    .streams
                    .iter()
                    .map(|s| (s.stream_id.as_str(), s.expected, true))
                    .chain(request.reads.iter().map(|r| (r.stream_id.as_str(), r.expected, false)))
                    .collect()
            }

            /// The checks of an append alone, before anything is written: its dedupe row, its
            /// event ids, its streams (locked until the commit, waiting for them) at their
            /// expected versions.
            async fn check_in(
                tx: &mut <$db as sqlx::Database>::Connection,
                request: &$crate::AppendRequest,
            ) -> Result<$crate::common::Checked, $crate::AppendError> {
                // Every read comes before the first write: PostgreSQL assigns the transaction id
                // (the commit-order key of `read_all`) at the first write, so an id taken after
                // reading a stream's version is above the ids of every event already in it, and a
                // stream's versions and its commit order never disagree.
                if let Some(inbox) = &request.inbox
                    && let Some(handled) = Self::inbox_seen(tx, inbox).await?
                {
                    return Ok($crate::common::Checked::Answered(handled));
                }
                // An append with a dedupe row writes ids derived from it, in the same transaction:
                // with no row stored, none of its ids is (and a collision with an id written
                // without one surfaces as a unique violation, explained after the rollback).
                if request.inbox.is_none()
                    && let Some(original) = Self::find_duplicate(tx, request).await?
                {
                    return Ok($crate::common::Checked::Answered(original));
                }
                let mut checked = Self::checked(request);
                // A writer holds its streams exclusively and a reader shares them until the
                // commit, so no stream a decision read can move between its check and the
                // commit. Sorted, so two appends never wait for each other in opposite orders.
                checked.sort_unstable_by(|a, b| a.0.cmp(b.0));
                Self::lock_streams(tx, &checked).await?;
                let ids: Vec<&str> = checked.iter().map(|c| c.0).collect();
                let stored = Self::stream_versions_in(tx, &ids).await?;
                $crate::common::versions_of(&checked, &stored, None).map($crate::common::Checked::Write)
            }

            /// The checks of a batch's members, before anything is written, a statement for each
            /// kind of check rather than for each member: their dedupe rows, their streams' locks
            /// (only tried: a batch never waits for another), the streams' versions; then each
            /// member in order, against the versions the members accepted before it will write.
            /// Each member's outcome, in order; `Checked::Busy` runs it alone.
            async fn check_batch(
                tx: &mut <$db as sqlx::Database>::Connection,
                requests: &[&$crate::AppendRequest],
            ) -> Result<Vec<Result<$crate::common::Checked, $crate::AppendError>>, $crate::AppendError> {
                use $crate::common::Checked;
                let mut outcomes: Vec<Option<Result<Checked, $crate::AppendError>>> = (0..requests.len()).map(|_| None).collect();
                let keys: Vec<(&str, uuid::Uuid)> = requests
                    .iter()
                    .filter_map(|r| r.inbox.as_ref().map(|i| (i.consumer.as_str(), i.event_id)))
                    .collect();
                let seen = Self::inboxes_seen(tx, &keys).await?;
                for (n, request) in requests.iter().enumerate() {
                    match &request.inbox {
                        Some(inbox) => {
                            if let Some(fingerprint) = seen.get(&(inbox.consumer.clone(), inbox.event_id)) {
                                outcomes[n] = Some($crate::common::handled(inbox, fingerprint).map(Checked::Answered));
                            }
                        }
                        // An append without a dedupe row is known by its event ids.
                        None => match Self::find_duplicate(tx, request).await {
                            Ok(Some(original)) => outcomes[n] = Some(Ok(Checked::Answered(original))),
                            Ok(None) => {}
                            Err(e @ $crate::AppendError::Store(_)) => return Err(e),
                            Err(refused) => outcomes[n] = Some(Err(refused)),
                        },
                    }
                }
                // Every stream of the members still to check, locked once: exclusively when any
                // of them writes it.
                let checks: Vec<_> = requests.iter().map(|r| Self::checked(r)).collect();
                let mut streams: std::collections::BTreeMap<&str, bool> = Default::default();
                for (n, checked) in checks.iter().enumerate() {
                    if outcomes[n].is_none() {
                        for (stream_id, _, writes) in checked {
                            *streams.entry(*stream_id).or_default() |= *writes;
                        }
                    }
                }
                let streams: Vec<(&str, bool)> = streams.into_iter().collect();
                let busy = Self::try_lock_streams(tx, &streams).await?;
                let free: Vec<&str> = streams.iter().map(|s| s.0).filter(|id| !busy.contains(*id)).collect();
                let stored = Self::stream_versions_in(tx, &free).await?;
                let mut written: std::collections::HashMap<String, Option<u64>> = Default::default();
                for (n, request) in requests.iter().enumerate() {
                    if outcomes[n].is_some() {
                        continue;
                    }
                    let checked = &checks[n];
                    if checked.iter().any(|c| busy.contains(c.0)) {
                        outcomes[n] = Some(Ok(Checked::Busy));
                        continue;
                    }
                    let versions = $crate::common::versions_of(checked, &stored, Some(&written));
                    if let Ok(versions) = &versions {
                        for stream in &request.streams {
                            let base = versions.get(&stream.stream_id).copied().flatten().unwrap_or(0);
                            written.insert(stream.stream_id.clone(), Some(base + stream.events.len() as u64));
                        }
                    }
                    outcomes[n] = Some(versions.map(Checked::Write));
                }
                Ok(outcomes.into_iter().map(|o| o.unwrap_or(Ok(Checked::Busy))).collect())
            }

            /// The writes of checked appends, in order: their dedupe rows and their events, at
            /// the versions their checks found; each append's result, in the same order. The
            /// backend writes every row of a kind in as few statements as it can.
            async fn write_in(
                tx: &mut <$db as sqlx::Database>::Connection,
                members: &[(&$crate::AppendRequest, &std::collections::HashMap<String, Option<u64>>)],
            ) -> Result<Vec<$crate::AppendResult>, $crate::AppendError> {
                let now = $crate::common::now_us();
                let inboxes: Vec<&$crate::InboxEntry> =
                    members.iter().filter_map(|(request, _)| request.inbox.as_ref()).collect();
                let mut rows = Vec::new();
                for (request, versions) in members {
                    for stream in &request.streams {
                        let base = versions.get(stream.stream_id.as_str()).copied().flatten().unwrap_or(0);
                        rows.extend(stream.events.iter().enumerate().map(|(n, event)| $crate::common::EventRow {
                            stream_id: &stream.stream_id,
                            version: base + n as u64 + 1,
                            event,
                        }));
                    }
                }
                // A concurrent handler of the same event that got here first makes the dedupe
                // row a unique violation, which the caller resolves as "already handled".
                let positions = Self::insert_rows(tx, &inboxes, &rows, now).await?;
                let mut written = rows.iter().zip(positions);
                Ok(members
                    .iter()
                    .map(|(request, _)| {
                        let count = request.streams.iter().map(|s| s.events.len()).sum();
                        $crate::AppendResult {
                            status: $crate::AppendStatus::Committed,
                            events: written
                                .by_ref()
                                .take(count)
                                .map(|(row, position)| $crate::AppendedEvent {
                                    event_id: row.event.event_id,
                                    stream_id: row.stream_id.to_string(),
                                    stream_version: row.version,
                                    position,
                                })
                                .collect(),
                        }
                    })
                    .collect())
            }

            /// Runs one append alone inside `tx`. `Ok(Err(result))` means "nothing to write: roll
            /// back and return this result" (duplicate or inbox hit).
            async fn append_in(
                tx: &mut <$db as sqlx::Database>::Connection,
                request: &$crate::AppendRequest,
            ) -> Result<Result<$crate::AppendResult, $crate::AppendResult>, $crate::AppendError> {
                let versions = match Self::check_in(tx, request).await? {
                    $crate::common::Checked::Write(versions) => versions,
                    $crate::common::Checked::Answered(result) => return Ok(Err(result)),
                    $crate::common::Checked::Busy => unreachable!("an append alone waits for its locks"),
                };
                let result = Self::write_in(tx, &[(request, &versions)]).await?.remove(0);
                if let Some(notify) = Self::DIALECT.notify {
                    sqlx::query(notify).execute(&mut *tx).await?;
                }
                Ok(Ok(result))
            }

            /// Starts `committers` tasks, each taking batches of appends from its own queue.
            fn start_committers(
                writer: &sqlx::Pool<$db>,
                commits: &std::sync::Arc<tokio::sync::watch::Sender<u64>>,
                committers: usize,
            ) -> $crate::group_commit::Group {
                let (group, queues) = $crate::group_commit::Group::new(committers);
                for batches in queues {
                    tokio::spawn(Self::commit_batches(writer.clone(), commits.clone(), batches));
                }
                group
            }

            /// How this store's appends were grouped into transactions so far.
            pub fn group_commits(&self) -> $crate::GroupCommits {
                self.group.stats()
            }

            /// Takes batches from the queue until the store is dropped.
            async fn commit_batches(
                writer: sqlx::Pool<$db>,
                commits: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
                mut batches: $crate::group_commit::Batches,
            ) {
                use futures::FutureExt;
                while let Some(batch) = batches.next().await {
                    // A panic must not stop the committer: the batch's members, whose answers
                    // it drops, run alone.
                    let batch = std::panic::AssertUnwindSafe(Self::commit_batch(&writer, &commits, batch));
                    if batch.catch_unwind().await.is_err() {
                        tracing::error!("a group commit panicked; its appends run alone");
                    }
                }
            }

            /// One transaction for every member of `batch` (see `group_commit`). Every member
            /// is answered once the transaction ended, so one that retries after a conflict
            /// reads what the batch committed.
            async fn commit_batch(
                writer: &sqlx::Pool<$db>,
                commits: &tokio::sync::watch::Sender<u64>,
                batch: Vec<$crate::group_commit::Member>,
            ) {
                use $crate::group_commit::Reply;
                let mut answers = Vec::with_capacity(batch.len());
                Self::run_batch(writer, commits, batch, &mut answers).await;
                for (member, answer) in answers {
                    match answer {
                        Some(result) => member.answer(Reply::Done(result)),
                        None => member.alone(),
                    }
                }
            }

            /// The batch's transaction; each member's answer (`None`: run it alone) goes to
            /// `answers`.
            async fn run_batch(
                writer: &sqlx::Pool<$db>,
                commits: &tokio::sync::watch::Sender<u64>,
                batch: Vec<$crate::group_commit::Member>,
                answers: &mut Vec<($crate::group_commit::Member, Option<Result<$crate::AppendResult, $crate::AppendError>>)>,
            ) {
                let mut tx = match writer.begin_with(Self::DIALECT.begin).await {
                    Ok(tx) => tx,
                    Err(_) => return answers.extend(batch.into_iter().map(|m| (m, None))),
                };
                // Phase one: every member's checks, together (`check_batch`). A member that
                // repeats an earlier one's event ids or dedupe row learns the outcome alone, once
                // the first one's transaction ended.
                let mut ids = std::collections::HashSet::new();
                let mut inboxes = std::collections::HashSet::new();
                let mut checking = Vec::with_capacity(batch.len());
                for member in batch {
                    let request = &member.request;
                    let event_ids = request.event_ids();
                    let inbox = request.inbox.as_ref().map(|i| (i.consumer.clone(), i.event_id));
                    if event_ids.iter().any(|id| ids.contains(id))
                        || inbox.as_ref().is_some_and(|k| inboxes.contains(k))
                    {
                        answers.push((member, None));
                        continue;
                    }
                    ids.extend(event_ids);
                    inboxes.extend(inbox);
                    checking.push(member);
                }
                let requests: Vec<&$crate::AppendRequest> = checking.iter().map(|m| &m.request).collect();
                let outcomes = match Self::check_batch(&mut tx, &requests).await {
                    Ok(outcomes) => outcomes,
                    Err(_) => {
                        // The transaction is unusable: nothing of it is kept.
                        let _ = tx.rollback().await;
                        return answers.extend(checking.into_iter().map(|m| (m, None)));
                    }
                };
                let mut accepted = Vec::new();
                for (member, outcome) in checking.into_iter().zip(outcomes) {
                    match outcome {
                        Ok($crate::common::Checked::Write(versions)) => accepted.push((member, versions)),
                        Ok($crate::common::Checked::Answered(result)) => answers.push((member, Some(Ok(result)))),
                        Ok($crate::common::Checked::Busy) => answers.push((member, None)),
                        Err(refused) => answers.push((member, Some(Err(refused)))),
                    }
                }
                if accepted.is_empty() {
                    let _ = tx.rollback().await;
                    return;
                }
                // Phase two: the writes, in the order the checks accepted them, together.
                let members: Vec<_> = accepted.iter().map(|(m, versions)| (&m.request, versions)).collect();
                let written = Self::write_in(&mut tx, &members).await;
                let results: Vec<_> = match written {
                    Ok(results) => accepted.into_iter().map(|(m, _)| m).zip(results).collect(),
                    Err(_) => {
                        // The versions of each member counted on the writes of those before it.
                        let _ = tx.rollback().await;
                        return answers.extend(accepted.into_iter().map(|(m, _)| (m, None)));
                    }
                };
                let notified = match Self::DIALECT.notify {
                    Some(notify) => sqlx::query(notify).execute(&mut *tx).await.map(|_| ()),
                    None => Ok(()),
                };
                let committed = match notified {
                    Ok(()) => tx.commit().await,
                    Err(e) => Err(e),
                };
                match committed {
                    Ok(()) => {
                        commits.send_modify(|n| *n += 1);
                        answers.extend(results.into_iter().map(|(m, r)| (m, Some(Ok(r)))));
                    }
                    // Not known to have committed: each member finds out alone.
                    Err(_) => answers.extend(results.into_iter().map(|(m, _)| (m, None))),
                }
            }

            /// One append in a transaction of its own, waiting for its locks.
            async fn append_alone(&self, request: &$crate::AppendRequest) -> Result<$crate::AppendResult, $crate::AppendError> {
                // `Any` appends that lose a race to a concurrent writer are retried a bounded number of times.
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let mut tx = self.writer.begin_with(Self::DIALECT.begin).await?;
                    let outcome = Self::append_in(&mut tx, request).await;
                    let err: $crate::AppendError = match outcome {
                        Ok(Ok(result)) => match tx.commit().await {
                            Ok(()) => {
                                self.commits.send_modify(|n| *n += 1);
                                return Ok(result);
                            }
                            Err(e) => e.into(),
                        },
                        Ok(Err(original)) => {
                            tx.rollback().await?;
                            return Ok(original);
                        }
                        Err(e) => {
                            let _ = tx.rollback().await;
                            e
                        }
                    };
                    if !Self::is_unique_violation(&err) {
                        return Err(err);
                    }
                    match self.explain_unique_violation(request).await {
                        Err($crate::AppendError::Conflict { expected: $crate::ExpectedVersion::Any, .. })
                            if attempts < 5 => continue,
                        other => return other,
                    }
                }
            }

            /// After a unique violation: either a concurrent duplicate (same event ids or dedupe
            /// row) or a concurrent writer on a stream (version conflict with the actual version).
            async fn explain_unique_violation(
                &self,
                request: &$crate::AppendRequest,
            ) -> Result<$crate::AppendResult, $crate::AppendError> {
                let mut conn = self.reader.acquire().await?;
                if let Some(inbox) = &request.inbox
                    && let Some(handled) = Self::inbox_seen(&mut conn, inbox).await?
                {
                    return Ok(handled);
                }
                if let Some(original) = Self::find_duplicate(&mut conn, request).await? {
                    return Ok(original);
                }
                let checked = Self::checked(request);
                let ids: Vec<&str> = checked.iter().map(|c| c.0).collect();
                let stored = Self::stream_versions_in(&mut conn, &ids).await?;
                for (stream_id, expected, _) in checked {
                    let actual = stored.get(stream_id).copied().flatten();
                    if expected != $crate::ExpectedVersion::Any
                        && !$crate::model::satisfies(expected, actual)
                    {
                        return Err($crate::AppendError::Conflict {
                            stream_id: stream_id.to_string(),
                            expected,
                            actual,
                        });
                    }
                }
                // Only `Any` streams moved: the caller retries.
                Err($crate::AppendError::Conflict {
                    stream_id: request.streams[0].stream_id.clone(),
                    expected: $crate::ExpectedVersion::Any,
                    actual: None,
                })
            }

            /// A race with a concurrent append: a unique violation, or on PostgreSQL a deadlock
            /// (40P01) between appends touching the same streams in different orders.
            fn is_unique_violation(e: &$crate::AppendError) -> bool {
                matches!(e, $crate::AppendError::Store($crate::StoreError::Database(sqlx::Error::Database(d)))
                    if d.kind() == sqlx::error::ErrorKind::UniqueViolation || d.code().as_deref() == Some("40P01"))
            }
        }

        #[async_trait::async_trait]
        impl $crate::EventStore for $store {
            fn backend(&self) -> $crate::Backend {
                $backend
            }

            async fn append(&self, request: $crate::AppendRequest) -> Result<$crate::AppendResult, $crate::AppendError> {
                let result = async {
                    $crate::model::check_request(&request)?;
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    let member = $crate::group_commit::Member { request, reply };
                    let request = match self.group.send(member).await {
                        Ok(()) => match answer.await {
                            Ok($crate::group_commit::Reply::Done(result)) => return result,
                            Ok($crate::group_commit::Reply::Alone(request)) => {
                                self.group.ran_alone();
                                request
                            }
                            // The batch was dropped unanswered (a panic): the request went with it.
                            Err(_) => return Err($crate::StoreError::Corrupt("the group commit holding this append failed".into()).into()),
                        },
                        Err(tokio::sync::mpsc::error::SendError(member)) => member.request,
                    };
                    self.append_alone(&request).await
                }
                .await;
                $crate::common::count_append($backend, &result);
                result
            }

            async fn read_stream(
                &self,
                stream_id: &str,
                from_version: u64,
                limit: usize,
            ) -> Result<Vec<$crate::RecordedEvent>, $crate::StoreError> {
                let rows = sqlx::query(Self::DIALECT.read_stream)
                    .bind(stream_id)
                    .bind($crate::common::to_i64(from_version))
                    .bind($crate::common::to_i64(limit as u64))
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter().map(Self::decode).collect()
            }

            async fn read_streams(&self, stream_ids: &[String]) -> Result<Vec<$crate::RecordedEvent>, $crate::StoreError> {
                if stream_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<&str> = stream_ids.iter().map(String::as_str).collect();
                let rows = Self::select_streams(&self.reader, &ids).await?;
                rows.iter().map(Self::decode).collect()
            }

            async fn read_all(
                &self,
                after: $crate::Position,
                limit: usize,
            ) -> Result<Vec<$crate::RecordedEvent>, $crate::StoreError> {
                let rows = sqlx::query(Self::DIALECT.read_all)
                    .bind(after.commit.to_string())
                    .bind($crate::common::to_i64(after.position))
                    .bind($crate::common::to_i64(limit as u64))
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter().map(Self::decode).collect()
            }

            async fn inbox_entry(
                &self,
                consumer: &str,
                event_id: uuid::Uuid,
            ) -> Result<Option<$crate::InboxRecord>, $crate::StoreError> {
                let seen: Option<(Option<Vec<u8>>, i64)> = sqlx::query_as($crate::common::INBOX_SEEN)
                    .bind(consumer)
                    .bind(event_id)
                    .fetch_optional(&self.reader)
                    .await?;
                Ok(seen.map(|(fingerprint, processed_at_us)| $crate::InboxRecord { fingerprint, processed_at_us }))
            }

            async fn event_by_id(&self, event_id: uuid::Uuid) -> Result<Option<$crate::RecordedEvent>, $crate::StoreError> {
                let row = sqlx::query(Self::DIALECT.event_by_id)
                    .bind(event_id)
                    .fetch_optional(&self.reader)
                    .await?;
                row.as_ref().map(Self::decode).transpose()
            }

            async fn load_checkpoint(&self, name: &str) -> Result<$crate::Position, $crate::StoreError> {
                let row: Option<(i64, i64)> = sqlx::query_as($crate::common::LOAD_CHECKPOINT)
                    .bind(name)
                    .fetch_optional(&self.reader)
                    .await?;
                Ok(row
                    .map(|(commit, position)| $crate::Position {
                        commit: commit as u64,
                        position: position as u64,
                    })
                    .unwrap_or($crate::Position::START))
            }

            async fn save_checkpoint(&self, name: &str, position: $crate::Position) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::common::SAVE_CHECKPOINT)
                    .bind(name)
                    .bind($crate::common::to_i64(position.commit))
                    .bind($crate::common::to_i64(position.position))
                    .bind($crate::common::now_us())
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn checkpoints(&self) -> Result<Vec<(String, $crate::Position)>, $crate::StoreError> {
                let rows: Vec<(String, i64, i64)> = sqlx::query_as($crate::common::CHECKPOINTS)
                    .fetch_all(&self.reader)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(name, commit, position)| {
                        (name, $crate::Position { commit: commit as u64, position: position as u64 })
                    })
                    .collect())
            }

            async fn head(&self) -> Result<$crate::Position, $crate::StoreError> {
                let row: Option<(String, i64)> = sqlx::query_as(Self::DIALECT.head)
                    .fetch_optional(&self.reader)
                    .await?;
                match row {
                    Some((commit, position)) => Ok($crate::Position {
                        commit: $crate::common::parse_commit(&commit)?,
                        position: position as u64,
                    }),
                    None => Ok($crate::Position::START),
                }
            }

            fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
                self.commits.subscribe()
            }

            async fn upsert_projections(
                &self,
                rows: Vec<(String, $crate::ProjectionRow)>,
            ) -> Result<(), $crate::StoreError> {
                if rows.is_empty() {
                    return Ok(());
                }
                let mut tx = self.writer.begin().await?;
                Self::upsert_rows(&mut tx, $crate::common::newest_per_key(rows)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn query_rows(
                &self,
                query: &$crate::ProjectionQuery,
            ) -> Result<Vec<$crate::ProjectionRow>, $crate::StoreError> {
                use sqlx::Row;
                let [f1, f2, f3, f4] = $crate::projection_filters(
                    query.filters.iter().map(|f| f.clone().unwrap_or_default()).collect(),
                )?;
                let rows = sqlx::query($crate::common::QUERY_ROWS)
                    .bind(&query.projection)
                    .bind(&query.partition)
                    .bind(f1)
                    .bind(f2)
                    .bind(f3)
                    .bind(f4)
                    .bind(query.after.as_ref().map_or(i64::MAX, |(sort, _)| *sort))
                    .bind(query.after.as_ref().map_or("", |(_, key)| key.as_str()))
                    .bind(i64::from(query.limit))
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::ProjectionRow {
                            key: r.try_get("key")?,
                            partition: r.try_get("partition_key")?,
                            filters: ["filter_1", "filter_2", "filter_3", "filter_4"]
                                .iter()
                                .map(|c| r.try_get(*c))
                                .collect::<Result<Vec<String>, _>>()?,
                            sort: r.try_get("sort")?,
                            value: r.try_get("value")?,
                            version: r.try_get::<i64, _>("version")? as u64,
                        })
                    })
                    .collect()
            }

            async fn reset_projection(
                &self,
                projection: &str,
                checkpoint: &str,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.writer.begin().await?;
                sqlx::query($crate::common::DELETE_ROWS)
                    .bind(projection)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query($crate::common::DELETE_CHECKPOINT)
                    .bind(checkpoint)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn switch_projections(
                &self,
                renames: &[(String, String)],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.writer.begin().await?;
                for (from, to) in renames {
                    sqlx::query($crate::common::DELETE_ROWS)
                        .bind(to)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query($crate::common::RENAME_ROWS)
                        .bind(from)
                        .bind(to)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn try_lease(&self, name: &str) -> Result<Option<Box<dyn $crate::Lease>>, $crate::StoreError> {
                self.lease(name).await
            }

            #[cfg(feature = "testing")]
            async fn append_held(
                &self,
                request: $crate::AppendRequest,
            ) -> Result<Box<dyn $crate::HeldAppend>, $crate::AppendError> {
                $crate::model::check_request(&request)?;
                let mut tx = self.writer.begin_with(Self::DIALECT.begin).await?;
                match Self::append_in(&mut tx, &request).await? {
                    Ok(result) => Ok(Box::new(Held {
                        tx,
                        result,
                        commits: self.commits.clone(),
                    })),
                    Err(_) => Err($crate::AppendError::Invalid("a held append must write events")),
                }
            }
        }

        #[cfg(feature = "testing")]
        struct Held {
            tx: sqlx::Transaction<'static, $db>,
            result: $crate::AppendResult,
            commits: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
        }

        #[cfg(feature = "testing")]
        #[async_trait::async_trait]
        impl $crate::HeldAppend for Held {
            fn result(&self) -> &$crate::AppendResult {
                &self.result
            }

            async fn commit(self: Box<Self>) -> Result<$crate::AppendResult, $crate::AppendError> {
                self.tx.commit().await?;
                self.commits.send_modify(|n| *n += 1);
                Ok(self.result)
            }
        }
    };
}

pub(crate) use impl_event_store;
