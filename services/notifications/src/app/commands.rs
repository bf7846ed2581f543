//! The notifications' commands: which streams each reads and writes. The runner loads, decides
//! with the domain's aggregates, and appends with every stream read checked unchanged.
use uuid::Uuid;
use yeyak_kit::{
    access::{Operators, load_operators},
    auth::Caller,
    command::{Aggregate, Command, Decision, Error, Reads},
};

use super::streams;
use crate::domain::{
    NotificationsError, access,
    delivery::{DeliveryCommand, Message},
    messages::{MessageCommand, MessageLog},
    preferences::{Preferences, PreferencesCommand},
};

type Failed = Error<NotificationsError>;

/// Switches message kinds off for a partner, as its 관리자 (or platform operations). Answers
/// with the preferences as decided.
pub struct SetPreferences {
    pub caller: Caller,
    pub partner_id: Uuid,
    pub muted: Vec<i32>,
    /// The switches asked for; all `None`: the message kinds in `muted` are the request.
    pub switches: Switches,
}

/// The partner's switches a change sets; one left out keeps its setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Switches {
    pub requested_alerts: Option<bool>,
    pub confirm_cancel_alerts: Option<bool>,
    pub night_delivery_allowed: Option<bool>,
}

#[async_trait::async_trait]
impl Command for SetPreferences {
    type State = (Preferences, Option<Operators>);
    type Output = Preferences;
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Self::State, Failed> {
        let preferences = reads
            .aggregate(&streams::preferences(self.partner_id))
            .await?;
        let operators = load_operators(reads, &self.partner_id.to_string()).await?;
        Ok((preferences, operators))
    }

    fn decide(
        &self,
        (preferences, operators): Self::State,
        _now_us: i64,
    ) -> Result<Decision<Preferences>, Failed> {
        let partner_id = self.partner_id.to_string();
        access::may_set_preferences(&self.caller, &partner_id, operators.as_ref())?;
        let s = self.switches;
        let command = if s == Switches::default() {
            PreferencesCommand::SetMuted {
                partner_id,
                muted: self.muted.clone(),
            }
        } else {
            PreferencesCommand::Set {
                partner_id,
                requested_alerts: s.requested_alerts,
                confirm_cancel_alerts: s.confirm_cancel_alerts,
                night_delivery_allowed: s.night_delivery_allowed,
            }
        };
        let events = preferences.decide(command, &()).map_err(Error::Refused)?;
        let after = preferences.evolved(&events);
        Ok(Decision::new(after).emit_all(streams::preferences(self.partner_id), events))
    }
}

/// Records the message a reservation fact makes for its partner. Decided on the partner's
/// preferences as read, so a change that lands before the append makes it decide again; the
/// message goes after whatever the log holds, since facts of different reservations come in
/// any order.
pub struct RecordMessage {
    pub partner_id: Uuid,
    pub command: MessageCommand,
}

#[async_trait::async_trait]
impl Command for RecordMessage {
    type State = Preferences;
    type Output = ();
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Preferences, Failed> {
        Ok(reads
            .aggregate(&streams::preferences(self.partner_id))
            .await?)
    }

    fn decide(&self, preferences: Preferences, _now_us: i64) -> Result<Decision<()>, Failed> {
        let events = MessageLog
            .decide(self.command.clone(), &preferences)
            .map_err(Error::Refused)?;
        let stream = streams::messages(self.partner_id);
        Ok(events.iter().fold(Decision::new(()), |d, e| {
            d.emit_unordered(stream.clone(), e)
        }))
    }
}

/// A change of one message from outside its sender: operations send it again after it gave up
/// (`Retry`), the provider reports it delivered (`Delivered`). Answers it as decided.
pub struct ChangeMessage {
    pub message_id: Uuid,
    pub change: DeliveryCommand,
}

#[async_trait::async_trait]
impl Command for ChangeMessage {
    type State = Message;
    type Output = Message;
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Message, Failed> {
        Ok(reads
            .aggregate(&streams::message(&self.message_id.to_string()))
            .await?)
    }

    fn decide(&self, message: Message, _now_us: i64) -> Result<Decision<Message>, Failed> {
        let events = message
            .decide(self.change.clone(), &())
            .map_err(Error::Refused)?;
        let after = message.evolved(&events);
        Ok(Decision::new(after).emit_all(streams::message(&self.message_id.to_string()), events))
    }
}
