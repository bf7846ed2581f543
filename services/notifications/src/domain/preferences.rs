//! A partner's preferences: the message kinds it switched off. 예약신청 is never among them.
use std::collections::BTreeSet;

use yeyak_kit::command::Aggregate;
use yeyak_proto::notifications::events::v1::{MessageKind, PartnerPreferencesChanged};

use super::{NotificationsError, messages::is_mandatory};

yeyak_kit::event_set! {
    /// What happens on a partner's preferences.
    pub enum PreferencesEvent {
        Changed(PartnerPreferencesChanged),
    }
}

/// The partner's preferences as their stream folds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub muted: BTreeSet<i32>,
}

impl Preferences {
    /// Each change is the partner's whole choice.
    pub fn apply(&mut self, e: PartnerPreferencesChanged) {
        self.muted = e.muted.into_iter().collect();
    }

    /// Whether a message of `kind` is recorded: mandatory kinds always are.
    pub fn wants(&self, kind: MessageKind) -> bool {
        is_mandatory(kind) || !self.muted.contains(&(kind as i32))
    }
}

/// Switches off `muted` kinds (the others on). The mandatory Requested message is refused.
pub fn set_muted(
    partner_id: &str,
    muted: &[i32],
) -> Result<PartnerPreferencesChanged, NotificationsError> {
    let mut kinds = BTreeSet::new();
    for &k in muted {
        let kind =
            MessageKind::try_from(k).map_err(|_| NotificationsError::UnknownMessageKind(k))?;
        if kind == MessageKind::Unspecified {
            return Err(NotificationsError::UnknownMessageKind(k));
        }
        if is_mandatory(kind) {
            return Err(NotificationsError::MandatoryMessage);
        }
        kinds.insert(k);
    }
    Ok(PartnerPreferencesChanged {
        partner_id: partner_id.to_string(),
        muted: kinds.into_iter().collect(),
    })
}

/// What a partner asks of its preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreferencesCommand {
    /// The kinds to switch off, all others on.
    SetMuted { partner_id: String, muted: Vec<i32> },
}

impl Aggregate for Preferences {
    type Event = PreferencesEvent;
    type Command = PreferencesCommand;
    type Context = ();
    type Decision = Vec<PreferencesEvent>;
    type Error = NotificationsError;

    fn evolve(&mut self, event: PreferencesEvent) {
        let PreferencesEvent::Changed(e) = event;
        self.apply(e);
    }

    /// Every accepted choice is recorded, one equal to the current too: the stream keeps the
    /// partner's choices as made.
    fn decide(
        &self,
        command: PreferencesCommand,
        _: &(),
    ) -> Result<Vec<PreferencesEvent>, NotificationsError> {
        let PreferencesCommand::SetMuted { partner_id, muted } = command;
        Ok(vec![set_muted(&partner_id, &muted)?.into()])
    }
}

#[cfg(test)]
mod tests {
    use yeyak_kit::command::testing::given;

    use super::*;

    fn set(muted: &[MessageKind]) -> PreferencesCommand {
        PreferencesCommand::SetMuted {
            partner_id: "p".into(),
            muted: muted.iter().map(|k| *k as i32).collect(),
        }
    }

    fn changed(muted: &[MessageKind]) -> PreferencesEvent {
        PreferencesEvent::Changed(PartnerPreferencesChanged {
            partner_id: "p".into(),
            muted: muted.iter().map(|k| *k as i32).collect(),
        })
    }

    #[test]
    fn the_requested_message_cannot_be_switched_off() {
        assert_eq!(
            set_muted("p", &[MessageKind::ReservationRequested as i32]),
            Err(NotificationsError::MandatoryMessage)
        );
        given::<Preferences>([])
            .when(
                set(&[
                    MessageKind::ReservationCompleted,
                    MessageKind::ReservationRequested,
                ]),
                &(),
            )
            .then_refused(NotificationsError::MandatoryMessage);
        // Even a stored preference that somehow lists it does not silence it.
        let prefs = Preferences {
            muted: [MessageKind::ReservationRequested as i32].into(),
        };
        assert!(prefs.wants(MessageKind::ReservationRequested));
    }

    #[test]
    fn other_messages_can_be_switched_off() {
        let mut prefs = Preferences::default();
        prefs.apply(set_muted("p", &[MessageKind::ReservationCompleted as i32]).unwrap());
        assert!(!prefs.wants(MessageKind::ReservationCompleted));
        assert!(prefs.wants(MessageKind::ReservationCancelled));
    }

    #[test]
    fn a_change_is_the_partners_whole_choice_each_kind_once() {
        let then = given::<Preferences>([changed(&[MessageKind::ReservationCompleted])]).when(
            set(&[
                MessageKind::ReservationExpired,
                MessageKind::ReservationCancelled,
                MessageKind::ReservationExpired,
            ]),
            &(),
        );
        assert!(!then.state.wants(MessageKind::ReservationCompleted));
        then.then_expect(vec![changed(&[
            MessageKind::ReservationCancelled,
            MessageKind::ReservationExpired,
        ])]);
        let mut after = Preferences::default();
        after.evolve(changed(&[MessageKind::ReservationCancelled]));
        assert!(
            after.wants(MessageKind::ReservationCompleted),
            "switched on again"
        );
    }

    #[test]
    fn unknown_kinds_are_refused() {
        assert_eq!(
            set_muted("p", &[99]),
            Err(NotificationsError::UnknownMessageKind(99))
        );
        assert_eq!(
            set_muted("p", &[0]),
            Err(NotificationsError::UnknownMessageKind(0))
        );
    }
}
