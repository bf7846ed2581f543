//! The read models of messages, kept by one consumer of this service's own log
//! ([`MessageIndex`]): each row is the fold of the message's stream when one of its events is
//! handled, so replays converge and dropping the rows and the checkpoint rebuilds them.
//!
//! - `notification-due.v1`: every message by when it is next due (partition `due`, filter:
//!   `pending`, `gave-up` or `done`), for the sender and for operations' dead letters;
//! - `notification-list.v1`: every message by recipient (partition `partner:<id>` for the
//!   operators' messages, `customer:<id>` for a customer's), filtered by place and state, newest
//!   first.
use uuid::Uuid;
use yeyak_eventlog::{EventStore, ProjectionQuery, ProjectionRow, RecordedEvent};
use yeyak_kit::{
    access::load_operators,
    auth::{Caller, Role},
    command::{Aggregate, Reads, Runner, decode_strict, fold_stream},
    events::LoadError,
};
use yeyak_proto::notifications::events::v1::{MessageQueued, RecipientKind};
use yeyak_transport::{EventHandler, HandlerError};

use super::{Error, Notifications, streams};
use crate::domain::{
    NotificationsError, access,
    delivery::{Message, MessageState},
};

/// Messages by when they are next due.
pub const DUE: &str = "notification-due.v1";
pub(crate) const DUE_PARTITION: &str = "due";
pub(crate) const PENDING: &str = "pending";
const GAVE_UP: &str = "gave-up";
const DONE: &str = "done";
/// Messages by recipient.
pub const LIST: &str = "notification-list.v1";

/// The partition of a message's recipient in the list.
fn recipient_partition(q: &MessageQueued) -> String {
    match RecipientKind::try_from(q.recipient_kind) {
        Ok(RecipientKind::Customer) => format!("customer:{}", q.recipient_id),
        _ => format!("partner:{}", q.partner_id),
    }
}

/// A state's name in the list's filter.
pub fn state_name(state: MessageState) -> &'static str {
    match state {
        MessageState::Unknown => "unknown",
        MessageState::Queued => "queued",
        MessageState::Held => "held",
        MessageState::Sending => "sending",
        MessageState::RetryScheduled => "retry",
        MessageState::Sent => "sent",
        MessageState::Delivered => "delivered",
        MessageState::GaveUp => "gave-up",
        MessageState::Withdrawn => "withdrawn",
    }
}

/// The rows of one message, when it was queued at `queued_at_us`, folded from its stream at
/// `version`.
fn rows(
    id: &str,
    m: &Message,
    queued_at_us: i64,
    version: u64,
) -> Option<(ProjectionRow, ProjectionRow)> {
    let q = m.queued.as_ref()?;
    let due_filter = match m.state {
        MessageState::Queued
        | MessageState::Held
        | MessageState::RetryScheduled
        | MessageState::Sending => PENDING,
        MessageState::GaveUp => GAVE_UP,
        _ => DONE,
    };
    let due = ProjectionRow {
        key: id.to_string(),
        partition: DUE_PARTITION.into(),
        filters: vec![due_filter.into()],
        // Newest first is soonest due first.
        sort: -m.next_at_us,
        value: Vec::new(),
        version,
    };
    let listed = ProjectionRow {
        key: id.to_string(),
        partition: recipient_partition(q),
        filters: vec![q.place_id.clone(), state_name(m.state).into()],
        sort: queued_at_us,
        value: Vec::new(),
        version,
    };
    Some((due, listed))
}

/// Keeps both read models.
pub struct MessageIndex {
    runner: Runner,
}

impl MessageIndex {
    pub const NAME: &'static str = "notifications-message-index";

    pub fn new(runner: Runner) -> Self {
        Self { runner }
    }
}

#[async_trait::async_trait]
impl EventHandler for MessageIndex {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        self.handle_batch(std::slice::from_ref(event)).await
    }

    fn batches(&self) -> bool {
        true
    }

    /// Each message the batch touched, folded once (every one from a single read of the log),
    /// both rows of every one in one transaction.
    async fn handle_batch(&self, events: &[RecordedEvent]) -> Result<(), HandlerError> {
        let touched: Vec<String> = events
            .iter()
            .filter_map(|e| e.stream_id.strip_prefix("message-"))
            .map(str::to_string)
            .collect();
        let log = self.runner.log();
        let retry = |e: &dyn std::fmt::Display| HandlerError::Retry(e.to_string());
        let folded = folded_all(&**log, &touched).await.map_err(|e| retry(&e))?;
        let mut out = Vec::with_capacity(2 * folded.len());
        for (id, (found, version)) in folded {
            if let Some((due, listed)) = rows(&id, &found.message, found.queued_at_us, version) {
                out.push((DUE.to_string(), due));
                out.push((LIST.to_string(), listed));
            }
        }
        log.upsert_projections(out).await.map_err(|e| retry(&e))
    }
}

/// A message as listed: its fold and when it was queued.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub message: Message,
    pub queued_at_us: i64,
}

/// A message's fold and when it was queued, in one read of its stream.
async fn listed(log: &dyn EventStore, id: &str) -> Result<Listed, LoadError> {
    Ok(folded(log, id).await?.0)
}

/// A message's fold, when it was queued, and its stream's version.
async fn folded(log: &dyn EventStore, id: &str) -> Result<(Listed, u64), LoadError> {
    let (listed, version) = fold_stream(log, &streams::message(id), unlisted(), listing).await?;
    Ok((listed, version.unwrap_or(0)))
}

/// Each of these messages' folds, when it was queued and its stream's version, from one read
/// of the log: each id once, in the order given.
async fn folded_all(
    log: &dyn EventStore,
    ids: &[String],
) -> Result<Vec<(String, (Listed, u64))>, LoadError> {
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<&String> = ids.iter().filter(|id| seen.insert(*id)).collect();
    let streams: Vec<String> = ids.iter().map(|id| streams::message(id)).collect();
    let mut folded: std::collections::HashMap<String, (Listed, u64)> = Default::default();
    for e in log.read_streams(&streams).await? {
        let (listed, version) = folded
            .entry(e.stream_id.clone())
            .or_insert_with(|| (unlisted(), 0));
        listing(listed, &e)?;
        *version = e.stream_version;
    }
    Ok(ids
        .into_iter()
        .zip(streams)
        .map(|(id, stream)| {
            let found = folded.remove(&stream).unwrap_or_else(|| (unlisted(), 0));
            (id.clone(), found)
        })
        .collect())
}

/// A message before its first event.
fn unlisted() -> Listed {
    Listed {
        message: Message::default(),
        queued_at_us: 0,
    }
}

/// One event of a message's stream, folded into its listing.
fn listing(l: &mut Listed, e: &RecordedEvent) -> Result<(), yeyak_kit::events::DecodeError> {
    if l.message.queued.is_none() {
        l.queued_at_us = e.recorded_at_us;
    }
    l.message.evolve(decode_strict(e)?);
    Ok(())
}

/// One page of messages and the row to continue after.
pub type Page = (Vec<Listed>, Option<(i64, String)>);

impl Notifications {
    async fn listed_message(&self, id: &str) -> Result<Listed, Error> {
        Ok(listed(self.log(), id).await?)
    }

    async fn listed(&self, rows: Vec<ProjectionRow>, limit: u32) -> Result<Page, Error> {
        let next = (rows.len() == limit as usize)
            .then(|| rows.last().map(|r| (r.sort, r.key.clone())))
            .flatten();
        let ids: Vec<String> = rows.into_iter().map(|r| r.key).collect();
        let out = folded_all(self.log(), &ids)
            .await?
            .into_iter()
            .map(|(_, (listed, _))| listed)
            .collect();
        Ok((out, next))
    }

    async fn page(
        &self,
        projection: &str,
        partition: String,
        filters: Vec<Option<String>>,
        (limit, after): (u32, Option<(i64, String)>),
    ) -> Result<Page, Error> {
        let rows = self
            .log()
            .query_rows(&ProjectionQuery {
                projection: projection.into(),
                partition,
                filters,
                after,
                limit,
            })
            .await
            .map_err(|e| Error::Load(e.into()))?;
        self.listed(rows, limit).await
    }

    /// The partner's operators' messages, newest first: any active operator lists them, one
    /// granted some places only a place it was granted.
    pub async fn partner_messages(
        &self,
        caller: &Caller,
        partner_id: Uuid,
        place_id: Option<Uuid>,
        page: (u32, Option<(i64, String)>),
    ) -> Result<Page, Error> {
        let partner = partner_id.to_string();
        let mut reads = Reads::new(self.log());
        let operators = load_operators(&mut reads, &partner).await?;
        let place = place_id.map(|p| p.to_string());
        access::may_list_places(caller, &partner, place.as_deref(), operators.as_ref())?;
        self.page(LIST, format!("partner:{partner}"), vec![place], page)
            .await
    }

    /// The caller's own messages (a customer's), newest first.
    pub async fn my_messages(
        &self,
        caller: &Caller,
        page: (u32, Option<(i64, String)>),
    ) -> Result<Page, Error> {
        self.page(LIST, format!("customer:{}", caller.subject), vec![], page)
            .await
    }

    /// Messages that gave up, soonest due first.
    pub async fn gave_up(&self, page: (u32, Option<(i64, String)>)) -> Result<Page, Error> {
        self.page(DUE, DUE_PARTITION.into(), vec![Some(GAVE_UP.into())], page)
            .await
    }

    /// One message, for its customer, the partner's operators granted its place, operations
    /// and internal services.
    pub async fn message(&self, caller: &Caller, message_id: Uuid) -> Result<Listed, Error> {
        let listed = self.listed_message(&message_id.to_string()).await?;
        let not_found = Error::Refused(NotificationsError::MessageNotFound);
        let q = listed.message.queued.as_ref().ok_or(not_found)?;
        match caller.role {
            Role::PlatformOps | Role::InternalService => {}
            Role::Customer => {
                let own = q.recipient_kind == RecipientKind::Customer as i32
                    && q.recipient_id == caller.subject;
                if !own {
                    return Err(Error::Refused(NotificationsError::MessageNotFound));
                }
            }
            _ => {
                let mut reads = Reads::new(self.log());
                let operators = load_operators(&mut reads, &q.partner_id).await?;
                access::may_list_places(
                    caller,
                    &q.partner_id,
                    Some(&q.place_id)
                        .filter(|p| !p.is_empty())
                        .map(String::as_str),
                    operators.as_ref(),
                )?;
            }
        }
        Ok(listed)
    }
}
