//! A message's delivery: queued until due, held for the night when the partner refuses night
//! delivery, taken by one sender at a time under a lease, sent, delivered, retried after a
//! retryable failure, given up, withdrawn when what it is about no longer holds, and retried by
//! operations after it gave up.
//!
//! The window between a send and its record is closed on the side of sending again: a sender
//! that took an attempt and crashed leaves it `Sending` until its lease runs out; the next
//! sender takes a new attempt and sends with the same idempotency key, which the provider
//! dedupes. So a message is never lost, and a resend is harmless.
use yeyak_kit::command::Aggregate;
use yeyak_proto::{
    notifications::events::v1::{
        Channel, MessageAttemptFailed, MessageAttemptStarted, MessageDelivered, MessageGaveUp,
        MessageHeld, MessageQueued, MessageRetryRequested, MessageSent, MessageWithdrawn,
    },
    time::{from_micros, to_micros},
};

use super::{NotificationsError, night::NightWindow, template::Template};

yeyak_kit::event_set! {
    /// What happens on a message's stream.
    pub enum DeliveryEvent {
        Queued(MessageQueued),
        Held(MessageHeld),
        AttemptStarted(MessageAttemptStarted),
        Sent(MessageSent),
        Delivered(MessageDelivered),
        AttemptFailed(MessageAttemptFailed),
        GaveUp(MessageGaveUp),
        Withdrawn(MessageWithdrawn),
        RetryRequested(MessageRetryRequested),
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MessageState {
    /// No such message.
    #[default]
    Unknown,
    /// Waiting until it is due.
    Queued,
    /// Held for the night, until 09:00 KST.
    Held,
    /// A sender holds an attempt.
    Sending,
    /// An attempt failed; the next one is scheduled.
    RetryScheduled,
    /// The provider accepted it.
    Sent,
    /// The provider reported it delivered.
    Delivered,
    /// It will not be sent (operations may retry it).
    GaveUp,
    /// What it was about no longer holds.
    Withdrawn,
}

impl MessageState {
    /// Whether the message has not gone out and may still: it can be withdrawn.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            MessageState::Queued | MessageState::Held | MessageState::RetryScheduled
        )
    }
}

/// A message as its stream folds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub queued: Option<MessageQueued>,
    pub state: MessageState,
    /// When it is next due: its due time, the end of the night, the retry time, or the end of
    /// the current attempt's lease.
    pub next_at_us: i64,
    /// Attempts taken, in all.
    pub attempts: u32,
    /// Attempts taken since it was queued or last retried by operations.
    pub attempts_in_round: u32,
    /// The channel of the last attempt.
    pub channel: Channel,
    /// Why it failed, gave up or was withdrawn, last.
    pub reason: String,
    pub provider_message_id: String,
}

/// How an attempt ended, as its sender saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        channel: Channel,
        provider_message_id: String,
        delivered: bool,
    },
    /// Worth another attempt (a timeout, an overloaded provider).
    Retryable { channel: Channel, reason: String },
    /// Never worth another attempt (refused, too long, template not approved).
    Permanent { reason: String },
}

/// What a message is asked.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryCommand {
    /// Queue it; queued once, whatever is asked again.
    Queue(Box<MessageQueued>),
    /// A sender would send it now.
    Start {
        now_us: i64,
        /// How long the attempt is the sender's alone.
        lease_us: i64,
        /// Why the message no longer holds, if it does not.
        withdrawn: Option<&'static str>,
        /// The partner refuses night delivery now.
        night_refused: bool,
        night: NightWindow,
    },
    /// The sender's attempt ended. `retry_delay_us` is the back-off before the next attempt,
    /// `None` when the attempts are exhausted.
    Finish {
        attempt: u32,
        outcome: Outcome,
        now_us: i64,
        retry_delay_us: Option<i64>,
    },
    /// The provider reported the message delivered.
    Delivered,
    /// Operations send a message that gave up again.
    Retry { by: String },
    /// What the message is about no longer holds.
    Withdraw { reason: String },
}

impl Message {
    /// The attempt a `Start` decision took, if it took one.
    pub fn started(events: &[DeliveryEvent]) -> Option<&MessageAttemptStarted> {
        events.iter().find_map(|e| match e {
            DeliveryEvent::AttemptStarted(a) => Some(a),
            _ => None,
        })
    }

    fn id(&self) -> String {
        self.queued
            .as_ref()
            .map(|q| q.message_id.clone())
            .unwrap_or_default()
    }

    fn start(
        &self,
        now_us: i64,
        lease_us: i64,
        withdrawn: Option<&'static str>,
        night_refused: bool,
        night: NightWindow,
    ) -> Vec<DeliveryEvent> {
        let message_id = self.id();
        let Some(queued) = &self.queued else {
            return vec![];
        };
        let due = match self.state {
            MessageState::Queued
            | MessageState::Held
            | MessageState::RetryScheduled
            | MessageState::Sending => now_us >= self.next_at_us,
            _ => false,
        };
        if !due {
            return vec![];
        }
        // A resend after a lost attempt is withdrawn too: the first send may have reached the
        // provider, but what it says no longer holds.
        if let Some(reason) = withdrawn
            && (self.state.is_pending() || self.state == MessageState::Sending)
        {
            return vec![
                MessageWithdrawn {
                    message_id,
                    reason: reason.to_string(),
                }
                .into(),
            ];
        }
        // Held messages go out when the night ends; a resend after a lost attempt is not held.
        let night_applies = queued.night_rule_applies
            && night_refused
            && matches!(
                self.state,
                MessageState::Queued | MessageState::RetryScheduled
            );
        if night_applies && let Some(release_at) = night.release_at(now_us) {
            return vec![
                MessageHeld {
                    message_id,
                    release_at: Some(from_micros(release_at)),
                }
                .into(),
            ];
        }
        let channel = queued
            .channels
            .first()
            .and_then(|c| Channel::try_from(*c).ok())
            .unwrap_or_default();
        vec![
            MessageAttemptStarted {
                message_id,
                attempt: self.attempts + 1,
                channel: channel as i32,
                lease_until: Some(from_micros(now_us.saturating_add(lease_us))),
            }
            .into(),
        ]
    }

    fn finish(
        &self,
        attempt: u32,
        outcome: Outcome,
        now_us: i64,
        retry_delay_us: Option<i64>,
    ) -> Vec<DeliveryEvent> {
        // Only the attempt in hand is recorded: a sender whose lease ran out lost it.
        if self.state != MessageState::Sending || attempt != self.attempts {
            return vec![];
        }
        let message_id = self.id();
        match outcome {
            Outcome::Sent {
                channel,
                provider_message_id,
                delivered,
            } => vec![
                MessageSent {
                    message_id,
                    attempt,
                    channel: channel as i32,
                    provider_message_id,
                    delivered,
                }
                .into(),
            ],
            Outcome::Retryable { channel, reason } => match retry_delay_us {
                Some(delay) => vec![
                    MessageAttemptFailed {
                        message_id,
                        attempt,
                        channel: channel as i32,
                        reason,
                        next_attempt_at: Some(from_micros(now_us.saturating_add(delay))),
                    }
                    .into(),
                ],
                None => vec![
                    MessageGaveUp {
                        message_id,
                        attempt,
                        reason: format!("attempts exhausted: {reason}"),
                    }
                    .into(),
                ],
            },
            Outcome::Permanent { reason } => vec![
                MessageGaveUp {
                    message_id,
                    attempt,
                    reason,
                }
                .into(),
            ],
        }
    }
}

impl Aggregate for Message {
    type Event = DeliveryEvent;
    type Command = DeliveryCommand;
    type Context = ();
    type Decision = Vec<DeliveryEvent>;
    type Error = NotificationsError;

    fn evolve(&mut self, event: DeliveryEvent) {
        match event {
            DeliveryEvent::Queued(e) => {
                self.state = MessageState::Queued;
                self.next_at_us = e.due_at.as_ref().and_then(to_micros).unwrap_or(0);
                self.queued = Some(e);
            }
            DeliveryEvent::Held(e) => {
                self.state = MessageState::Held;
                self.next_at_us = e.release_at.as_ref().and_then(to_micros).unwrap_or(0);
            }
            DeliveryEvent::AttemptStarted(e) => {
                self.state = MessageState::Sending;
                self.attempts = e.attempt;
                self.attempts_in_round += 1;
                self.channel = Channel::try_from(e.channel).unwrap_or_default();
                self.next_at_us = e.lease_until.as_ref().and_then(to_micros).unwrap_or(0);
            }
            DeliveryEvent::Sent(e) => {
                self.state = if e.delivered || self.state == MessageState::Delivered {
                    MessageState::Delivered
                } else {
                    MessageState::Sent
                };
                self.channel = Channel::try_from(e.channel).unwrap_or_default();
                self.provider_message_id = e.provider_message_id;
            }
            DeliveryEvent::Delivered(_) => self.state = MessageState::Delivered,
            DeliveryEvent::AttemptFailed(e) => {
                self.state = MessageState::RetryScheduled;
                self.reason = e.reason;
                self.next_at_us = e.next_attempt_at.as_ref().and_then(to_micros).unwrap_or(0);
            }
            DeliveryEvent::GaveUp(e) => {
                self.state = MessageState::GaveUp;
                self.reason = e.reason;
            }
            DeliveryEvent::Withdrawn(e) => {
                self.state = MessageState::Withdrawn;
                self.reason = e.reason;
            }
            DeliveryEvent::RetryRequested(_) => {
                self.state = MessageState::Queued;
                self.attempts_in_round = 0;
                self.next_at_us = 0;
            }
        }
    }

    fn decide(
        &self,
        command: DeliveryCommand,
        _: &(),
    ) -> Result<Vec<DeliveryEvent>, NotificationsError> {
        Ok(match command {
            DeliveryCommand::Queue(q) if self.queued.is_none() => vec![(*q).into()],
            DeliveryCommand::Queue(_) => vec![],
            DeliveryCommand::Start {
                now_us,
                lease_us,
                withdrawn,
                night_refused,
                night,
            } => self.start(now_us, lease_us, withdrawn, night_refused, night),
            DeliveryCommand::Finish {
                attempt,
                outcome,
                now_us,
                retry_delay_us,
            } => self.finish(attempt, outcome, now_us, retry_delay_us),
            DeliveryCommand::Delivered => match self.state {
                // A provider may report before the sender records the send.
                MessageState::Sent | MessageState::Sending => vec![
                    MessageDelivered {
                        message_id: self.id(),
                    }
                    .into(),
                ],
                MessageState::Delivered => vec![],
                MessageState::Unknown => return Err(NotificationsError::MessageNotFound),
                _ => return Err(NotificationsError::MessageNotSent),
            },
            DeliveryCommand::Retry { by } => match self.state {
                MessageState::GaveUp => vec![
                    MessageRetryRequested {
                        message_id: self.id(),
                        requested_by: by,
                    }
                    .into(),
                ],
                MessageState::Unknown => return Err(NotificationsError::MessageNotFound),
                _ => return Err(NotificationsError::MessageNotGivenUp),
            },
            DeliveryCommand::Withdraw { reason } if self.state.is_pending() => vec![
                MessageWithdrawn {
                    message_id: self.id(),
                    reason,
                }
                .into(),
            ],
            DeliveryCommand::Withdraw { .. } => vec![],
        })
    }
}

/// Why a message could not be composed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uncomposable {
    /// Its template waits for its first review: worth another attempt later.
    NotApprovedYet(String),
    /// It never will be (no such template, a rejected one never approved, a missing variable).
    Never(String),
}

impl Uncomposable {
    pub fn reason(&self) -> &str {
        match self {
            Uncomposable::NotApprovedYet(r) | Uncomposable::Never(r) => r,
        }
    }
}

/// The text a message goes out with: its template's text in force (the approved one), filled
/// with its variables.
pub fn compose(message: &MessageQueued, template: &Template) -> Result<String, Uncomposable> {
    use yeyak_proto::notifications::events::v1::TemplateState;
    let code = &message.template_code;
    if !template.is_registered() {
        return Err(Uncomposable::Never(format!("TEMPLATE_NOT_FOUND: {code}")));
    }
    let Some(text) = template.text_in_force() else {
        return Err(if template.state == TemplateState::PendingReview {
            Uncomposable::NotApprovedYet(format!("TEMPLATE_NOT_APPROVED: {code} waits for review"))
        } else {
            Uncomposable::Never(format!("TEMPLATE_NOT_APPROVED: {code} was rejected"))
        });
    };
    let variables = message
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    super::template::render(text, &variables)
        .map_err(|e| Uncomposable::Never(format!("{}: {e}", e.reason())))
}

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
