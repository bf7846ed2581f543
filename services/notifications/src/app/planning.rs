//! Plans the messages each reservation fact makes (the rule table), through the command runner:
//! the reservation's file, the partner's preferences and operators are read; the file and one
//! stream per message are written, with the consumer's inbox row, in one append.
use std::collections::BTreeSet;

use uuid::Uuid;
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    access::{Operators, load_operators},
    command::{Command, Decision, Error, Origin, Reads, Runner, decode_strict},
    events::EventSet,
};
use yeyak_transport::{EventHandler, HandlerError};

use super::streams;
use crate::domain::{
    NotificationsError,
    delivery::{DeliveryCommand, DeliveryEvent, Message},
    facts::ReservationFact,
    preferences::{Preferences, PreferencesEvent, in_force_at},
    reservation_file::ReservationFile,
    rules::{self, Context, Timing},
};

type Failed = Error<NotificationsError>;

/// Queues the messages a reservation fact makes.
pub struct PlanMessages {
    pub fact: ReservationFact,
    pub source_event_id: String,
    /// When the fact happened.
    pub fact_at_us: i64,
    pub timing: Timing,
}

/// How long a fact waits for the partner's operators to be learned (another consumer) before
/// its messages are planned without the partner's.
pub const OPERATORS_WAIT_US: i64 = 10 * 60 * 1_000_000;

/// What a plan is decided on.
pub struct Planning {
    file: ReservationFile,
    /// The partner's preferences in force when the fact happened.
    preferences: Preferences,
    /// `None` while the partner's operators are not known.
    operators: Option<Vec<String>>,
    /// Messages of the plan already queued (a replayed fact).
    queued: BTreeSet<String>,
}

impl PlanMessages {
    fn plan(
        &self,
        p: &Planning,
        file: &ReservationFile,
        now_us: i64,
    ) -> Vec<yeyak_proto::notifications::events::v1::MessageQueued> {
        rules::plan(
            &self.fact,
            &Context {
                file,
                preferences: &p.preferences,
                operators: p.operators.as_deref().unwrap_or_default(),
                timing: self.timing,
                now_us,
                fact_at_us: self.fact_at_us,
                source_event_id: &self.source_event_id,
            },
        )
    }
}

#[async_trait::async_trait]
impl Command for PlanMessages {
    type State = Planning;
    type Output = usize;
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Planning, Failed> {
        let (partner_id, reservation_id, place_id) = self.fact.about();
        let file: ReservationFile = reads
            .aggregate(&streams::reservation(reservation_id))
            .await?;
        let mut changes = Vec::new();
        reads
            .fold(&streams::preferences(parse(partner_id)?), (), |_, e| {
                let PreferencesEvent::Changed(c) = decode_strict(e)?;
                changes.push((e.metadata.occurred_at_us, c));
                Ok(())
            })
            .await?;
        let preferences = in_force_at(changes.iter().map(|(at, c)| (*at, c)), self.fact_at_us);
        let operators: Option<Operators> = load_operators(reads, partner_id).await?;
        let operators = operators.map(|o| o.granted(place_id).map(str::to_string).collect());
        let mut planning = Planning {
            file,
            preferences,
            operators,
            queued: BTreeSet::new(),
        };
        // Every message the fact could make, whenever it is learned: those queued already are
        // not queued again.
        let (after, _) = planning.file.with(&self.fact).map_err(Error::Refused)?;
        for m in self.plan(&planning, &after, i64::MIN) {
            let message: Message = reads.aggregate(&streams::message(&m.message_id)).await?;
            if message.queued.is_some() {
                planning.queued.insert(m.message_id);
            }
        }
        Ok(planning)
    }

    fn decide(&self, mut planning: Planning, now_us: i64) -> Result<Decision<usize>, Failed> {
        if planning.operators.is_none() {
            if now_us.saturating_sub(self.fact_at_us) < OPERATORS_WAIT_US {
                return Err(Error::Refused(NotificationsError::OperatorsNotKnown));
            }
            tracing::warn!(
                partner_id = self.fact.partner_id(),
                "the partner's operators are still not known: planning without the partner's messages"
            );
            planning.operators = Some(Vec::new());
        }
        let (after, file_events) = planning.file.with(&self.fact).map_err(Error::Refused)?;
        let reservation_id = self.fact.reservation_id();
        let mut decision =
            Decision::new(0).emit_all(streams::reservation(reservation_id), file_events);
        for m in self.plan(&planning, &after, now_us) {
            if planning.queued.contains(&m.message_id) {
                continue;
            }
            let stream = streams::message(&m.message_id);
            let events = Message::default()
                .decide_queue(m)
                .into_iter()
                .collect::<Vec<DeliveryEvent>>();
            decision.output += events.len();
            decision = decision.emit_all(stream, events);
        }
        Ok(decision)
    }
}

fn parse(partner_id: &str) -> Result<Uuid, Failed> {
    Uuid::parse_str(partner_id).map_err(|_| Error::Refused(NotificationsError::OperatorsNotKnown))
}

impl Message {
    /// The events queueing `m` on a new message.
    fn decide_queue(
        &self,
        m: yeyak_proto::notifications::events::v1::MessageQueued,
    ) -> Vec<DeliveryEvent> {
        use yeyak_kit::command::Aggregate;
        self.decide(DeliveryCommand::Queue(Box::new(m)), &())
            .unwrap_or_default()
    }
}

/// Consumes the reservations' events into planned messages.
pub struct MessagePlanner {
    runner: Runner,
    timing: Timing,
}

impl MessagePlanner {
    pub const NAME: &'static str = "notifications-messages";

    pub fn new(runner: Runner, timing: Timing) -> Self {
        Self { runner, timing }
    }
}

#[async_trait::async_trait]
impl EventHandler for MessagePlanner {
    fn name(&self) -> &str {
        Self::NAME
    }

    /// A plan writes its reservation's file and messages of its own: facts of different
    /// reservations (the default ordering key) are planned at once.
    fn concurrency(&self) -> usize {
        16
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(fact) =
            ReservationFact::decode(event).map_err(|e| HandlerError::Poison(e.to_string()))?
        else {
            return Ok(());
        };
        if Uuid::parse_str(fact.partner_id()).is_err() {
            return Err(HandlerError::Poison(format!(
                "{} names no partner",
                event.event_type
            )));
        }
        let command = PlanMessages {
            fact,
            source_event_id: event.event_id.to_string(),
            fact_at_us: event.metadata.occurred_at_us,
            timing: self.timing,
        };
        match self
            .runner
            .run(&Origin::reaction(Self::NAME, event), &command)
            .await
        {
            Ok(_) => Ok(()),
            // The catalog's operator facts come by another consumer: wait for them.
            Err(Error::Refused(NotificationsError::OperatorsNotKnown)) => Err(HandlerError::Retry(
                "the partner's operators are not known yet".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}
