//! Sends messages when they are due, each attempt through the command runner:
//!
//! - [`MessageIndex`](super::listing::MessageIndex), a consumer of this service's own log, keeps
//!   the read model of every message by when it is next due (`notification-due.v1`).
//! - [`Sender`] reads the due rows, takes an attempt ([`StartAttempt`]: withdraws a message that
//!   no longer holds, holds one for the night, or leases the attempt to itself and composes its
//!   text from the approved template), sends it by its channels, and records the outcome
//!   ([`FinishAttempt`]) with the back-off before the next attempt.
//!
//! A crash between the send and its record leaves the attempt leased; when the lease ends,
//! another attempt sends again with the same idempotency key, which the provider dedupes. Two
//! senders never hold one attempt: the lease is an append with an expected version.
use std::{sync::Arc, time::Duration};

use backon::{ExponentialBuilder, Retryable};
use uuid::Uuid;
use yeyak_eventlog::ProjectionQuery;
use yeyak_kit::{
    CancellationToken,
    command::{Aggregate, Command, Decision, Error, Origin, Reads, Runner},
    events::derived_id,
    wake::Wake,
};
use yeyak_proto::notifications::events::v1::{Channel as Route, MessageQueued};

use super::{
    channels::{Channel, Fallback, Outgoing, RetryPolicy, SendOutcome, retry_delay},
    listing::{DUE, DUE_PARTITION, PENDING},
    streams,
};
use crate::domain::{
    NotificationsError,
    delivery::{DeliveryCommand, Message, MessageState, Outcome, Uncomposable, compose},
    night::NightWindow,
    preferences::Preferences,
    reservation_file::ReservationFile,
    rules::no_longer_holds,
    template::Template,
};

type Failed = Error<NotificationsError>;

/// How a deployment delivers.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub night: NightWindow,
    /// How long an attempt is its sender's alone.
    pub lease: Duration,
    pub retry: RetryPolicy,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            night: NightWindow::default(),
            lease: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

/// The channels messages go by: 알림톡, and the text-message fallback for recipients it refuses.
#[derive(Clone)]
pub struct Channels {
    pub alimtalk: Arc<dyn Channel>,
    pub sms: Option<Arc<dyn Channel>>,
}

impl Channels {
    /// Sends by the message's routes in order; answers which route answered, and how.
    async fn send(&self, routes: &[i32], message: &Outgoing) -> (Route, SendOutcome) {
        let wants_sms = routes.contains(&(Route::Sms as i32));
        match (&self.sms, wants_sms) {
            (Some(sms), true) => {
                let fallback = Fallback {
                    first: self.alimtalk.clone(),
                    then: sms.clone(),
                };
                let (name, outcome) = fallback.send_via(message).await;
                let route = if name == sms.name() {
                    Route::Sms
                } else {
                    Route::Alimtalk
                };
                (route, outcome)
            }
            _ => (Route::Alimtalk, self.alimtalk.send(message).await),
        }
    }
}

/// What a started attempt sends.
pub struct Attempt {
    pub number: u32,
    pub message: MessageQueued,
    pub text: String,
    pub attempts_in_round: u32,
}

/// Takes the next attempt of a due message, unless it is withdrawn, held, or not due.
pub struct StartAttempt {
    pub message_id: String,
    pub settings: DeliverySettings,
}

/// What an attempt is decided on.
pub struct Starting {
    message: Message,
    file: ReservationFile,
    preferences: Preferences,
    template: Template,
}

#[async_trait::async_trait]
impl Command for StartAttempt {
    type State = Starting;
    type Output = Option<Attempt>;
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Starting, Failed> {
        let message: Message = reads.aggregate(&streams::message(&self.message_id)).await?;
        let queued = message
            .queued
            .clone()
            .ok_or(Error::Refused(NotificationsError::MessageNotFound))?;
        let file = reads
            .aggregate(&streams::reservation(&queued.reservation_id))
            .await?;
        let preferences = match Uuid::parse_str(&queued.partner_id) {
            Ok(partner) => reads.aggregate(&streams::preferences(partner)).await?,
            Err(_) => Preferences::default(),
        };
        let template = reads
            .aggregate(&streams::template(&queued.template_code))
            .await?;
        Ok(Starting {
            message,
            file,
            preferences,
            template,
        })
    }

    fn decide(&self, s: Starting, now_us: i64) -> Result<Decision<Option<Attempt>>, Failed> {
        let Some(queued) = s.message.queued.clone() else {
            return Ok(Decision::new(None));
        };
        let command = DeliveryCommand::Start {
            now_us,
            lease_us: micros(self.settings.lease),
            withdrawn: no_longer_holds(&queued, s.message.state == MessageState::Held, &s.file),
            night_refused: s.preferences.night_refused,
            night: self.settings.night,
        };
        let mut events = s.message.decide(command, &()).map_err(Error::Refused)?;
        let after = s.message.clone().evolved(&events);
        let mut output = None;
        if let Some(started) = Message::started(&events).cloned() {
            match compose(&queued, &s.template) {
                Ok(text) => {
                    output = Some(Attempt {
                        number: started.attempt,
                        message: queued.clone(),
                        text,
                        attempts_in_round: after.attempts_in_round,
                    })
                }
                // A message that cannot be composed is recorded so in the same append: it waits
                // for its template's first review, or gives up for good.
                Err(e) => {
                    let (outcome, retry_delay_us) = match e {
                        Uncomposable::NotApprovedYet(reason) => (
                            Outcome::Retryable {
                                channel: Route::try_from(started.channel).unwrap_or_default(),
                                reason,
                            },
                            retry_delay(
                                after.attempts_in_round.saturating_sub(1),
                                &self.settings.retry,
                            )
                            .map(micros),
                        ),
                        Uncomposable::Never(reason) => (Outcome::Permanent { reason }, None),
                    };
                    let finish = DeliveryCommand::Finish {
                        attempt: started.attempt,
                        outcome,
                        now_us,
                        retry_delay_us,
                    };
                    events.extend(after.decide(finish, &()).map_err(Error::Refused)?);
                }
            }
        }
        Ok(Decision::new(output).emit_all(streams::message(&self.message_id), events))
    }
}

/// Records how an attempt ended.
pub struct FinishAttempt {
    pub message_id: String,
    pub attempt: u32,
    pub outcome: Outcome,
    pub retry_delay: Option<Duration>,
}

#[async_trait::async_trait]
impl Command for FinishAttempt {
    type State = Message;
    type Output = ();
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Message, Failed> {
        Ok(reads.aggregate(&streams::message(&self.message_id)).await?)
    }

    fn decide(&self, message: Message, now_us: i64) -> Result<Decision<()>, Failed> {
        let events = message
            .decide(
                DeliveryCommand::Finish {
                    attempt: self.attempt,
                    outcome: self.outcome.clone(),
                    now_us,
                    retry_delay_us: self.retry_delay.map(micros),
                },
                &(),
            )
            .map_err(Error::Refused)?;
        Ok(Decision::new(()).emit_all(streams::message(&self.message_id), events))
    }
}

/// A duration in microseconds, the log's unit (saturating).
fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The outcome a channel's answer records.
fn outcome_of(route: Route, answer: SendOutcome) -> Outcome {
    match answer {
        SendOutcome::Accepted {
            provider_message_id,
        } => Outcome::Sent {
            channel: route,
            provider_message_id,
            delivered: false,
        },
        SendOutcome::Delivered => Outcome::Sent {
            channel: route,
            provider_message_id: String::new(),
            delivered: true,
        },
        SendOutcome::Retryable(reason) => Outcome::Retryable {
            channel: route,
            reason,
        },
        SendOutcome::RecipientRefused(reason) | SendOutcome::Permanent(reason) => {
            Outcome::Permanent { reason }
        }
    }
}

/// Sends due messages.
#[derive(Clone)]
pub struct Sender {
    runner: Runner,
    channels: Channels,
    settings: DeliverySettings,
}

impl Sender {
    /// Due rows read per look.
    const PAGE: u32 = 200;
    /// The longest a sender waits between two looks.
    const TICK: Duration = Duration::from_secs(1);

    pub fn new(runner: Runner, channels: Channels, settings: DeliverySettings) -> Self {
        Self {
            runner,
            channels,
            settings,
        }
    }

    /// The messages due by now, soonest first.
    pub async fn due(&self) -> Result<Vec<String>, Failed> {
        let now = self.runner.clock().now_us();
        let rows = self
            .runner
            .log()
            .query_rows(&ProjectionQuery {
                projection: DUE.into(),
                partition: DUE_PARTITION.into(),
                filters: vec![Some(PENDING.into())],
                after: None,
                limit: Self::PAGE,
            })
            .await
            .map_err(|e| Error::Load(e.into()))?;
        Ok(rows
            .into_iter()
            .take_while(|r| -r.sort <= now)
            .map(|r| r.key)
            .collect())
    }

    /// One attempt at one message: taken, sent, recorded. Answers whether it was sent.
    pub async fn attempt(&self, message_id: &str) -> Result<Option<SendOutcome>, Failed> {
        let start = StartAttempt {
            message_id: message_id.to_string(),
            settings: self.settings.clone(),
        };
        let origin = Origin::command("notifications-sender", Uuid::new_v4(), &[]);
        let Some(attempt) = self.runner.run(&origin, &start).await?.decided().flatten() else {
            return Ok(None);
        };
        let (outcome, answer) = self.send(&attempt).await;
        let finish = FinishAttempt {
            message_id: message_id.to_string(),
            attempt: attempt.number,
            retry_delay: retry_delay(
                attempt.attempts_in_round.saturating_sub(1),
                &self.settings.retry,
            ),
            outcome,
        };
        // The send happened: its record is worth a few quick tries (the same request each
        // time, so a record that committed is not made twice) before the lease is left to end.
        let request = derived_id(
            "notifications-sender",
            &format!("{message_id}/finish"),
            attempt.number,
        );
        let origin = Origin::command("notifications-sender", request, &[]);
        let record = || async { self.runner.run(&origin, &finish).await };
        record
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(20))
                    .with_max_times(4)
                    .with_jitter(),
            )
            .when(|e| !matches!(e, Error::Refused(_) | Error::Denied(_)))
            .await?;
        Ok(Some(answer))
    }

    /// Sends an attempt by its channels, without recording it (the record is the caller's).
    pub async fn send(&self, attempt: &Attempt) -> (Outcome, SendOutcome) {
        let m = &attempt.message;
        let outgoing = Outgoing {
            idempotency_key: m.idempotency_key.clone(),
            recipient: m.recipient_id.clone(),
            template_code: m.template_code.clone(),
            variables: m
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            text: attempt.text.clone(),
        };
        let (route, answer) = self.channels.send(&m.channels, &outgoing).await;
        let outcome = match &answer {
            SendOutcome::Accepted { .. } => "accepted",
            SendOutcome::Delivered => "delivered",
            SendOutcome::Retryable(_) => "retryable",
            SendOutcome::RecipientRefused(_) => "recipient_refused",
            SendOutcome::Permanent(_) => "permanent",
        };
        metrics::counter!("yeyak_notifications_total",
            "channel" => format!("{route:?}").to_lowercase(), "outcome" => outcome)
        .increment(1);
        (outcome_of(route, answer.clone()), answer)
    }

    /// Attempts every message due by now; answers how many were sent.
    pub async fn tick(&self) -> Result<usize, Failed> {
        let mut sent = 0;
        for id in self.due().await? {
            match self.attempt(&id).await {
                Ok(Some(answer)) if answer.is_sent() => sent += 1,
                Ok(_) => {}
                // Another sender took it meanwhile, or the log is busy: the next look retries.
                Err(e) => tracing::debug!(message_id = %id, error = %e, "attempt not taken"),
            }
        }
        Ok(sent)
    }

    /// Ticks until `shutdown`: on every commit to the log, when the clock jumps, and at least
    /// every second.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wake = Wake::new(&**self.runner.log(), &**self.runner.clock(), Self::TICK);
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "sender tick failed; retrying");
            }
            if !wake.next(&shutdown).await {
                return;
            }
        }
    }
}
