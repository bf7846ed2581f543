//! A partner's preferences (domain.md §2.5): the confirmation and cancellation alerts, one
//! switch for all of them; whether messages due in the night are held until 09:00 KST; and, as
//! recorded before the alerts were one switch, message kinds switched off. 예약신청 is never
//! switched off. Every change is an event; the preferences in force at any instant are the
//! changes made until then ([`in_force_at`]).
use std::collections::BTreeSet;

use yeyak_kit::command::Aggregate;
use yeyak_proto::notifications::events::v1::{MessageKind, PartnerPreferencesChanged};

use super::{
    NotificationsError,
    rules::{is_mandatory, silenced_by_alerts_switch},
};

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
    /// The confirmation and cancellation alerts are off.
    pub alerts_off: bool,
    /// 야간수신 허용하지 않음.
    pub night_refused: bool,
}

impl Preferences {
    /// Each change is the partner's whole choice.
    pub fn apply(&mut self, e: PartnerPreferencesChanged) {
        self.muted = e.muted.into_iter().collect();
        self.alerts_off = e.confirm_cancel_alerts_off;
        self.night_refused = e.night_delivery_refused;
    }

    /// Whether a message of `kind` is recorded: mandatory kinds always are.
    pub fn wants(&self, kind: MessageKind) -> bool {
        is_mandatory(kind)
            || !(self.muted.contains(&(kind as i32))
                || (self.alerts_off && silenced_by_alerts_switch(kind)))
    }

    /// Whether the partner wants a message of `kind` by its switches: the mandatory kinds
    /// always; the confirmation and cancellation alerts unless the one switch is off.
    pub fn wants_alert(&self, kind: MessageKind) -> bool {
        is_mandatory(kind) || !(self.alerts_off && silenced_by_alerts_switch(kind))
    }

    fn changed(&self, partner_id: &str) -> PartnerPreferencesChanged {
        PartnerPreferencesChanged {
            partner_id: partner_id.to_string(),
            muted: self.muted.iter().copied().collect(),
            confirm_cancel_alerts_off: self.alerts_off,
            night_delivery_refused: self.night_refused,
        }
    }
}

/// The preferences in force at `at_us`: the changes made at or before it, in order. A change
/// applies from the moment it is made.
pub fn in_force_at<'a>(
    changes: impl IntoIterator<Item = (i64, &'a PartnerPreferencesChanged)>,
    at_us: i64,
) -> Preferences {
    let mut preferences = Preferences::default();
    for (made_at_us, change) in changes {
        if made_at_us <= at_us {
            preferences.apply(change.clone());
        }
    }
    preferences
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
        ..Default::default()
    })
}

/// What a partner asks of its preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreferencesCommand {
    /// The kinds to switch off, all others on (the switches as they are).
    SetMuted { partner_id: String, muted: Vec<i32> },
    /// The partner's switches; one left out keeps its setting. The 예약신청 alert can only be on.
    Set {
        partner_id: String,
        requested_alerts: Option<bool>,
        confirm_cancel_alerts: Option<bool>,
        night_delivery_allowed: Option<bool>,
    },
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
        match command {
            PreferencesCommand::SetMuted { partner_id, muted } => {
                let mut change = set_muted(&partner_id, &muted)?;
                // The alerts are one switch: muting any of them is switching them all off.
                change.confirm_cancel_alerts_off = change
                    .muted
                    .iter()
                    .any(|k| MessageKind::try_from(*k).is_ok_and(silenced_by_alerts_switch));
                change.night_delivery_refused = self.night_refused;
                Ok(vec![change.into()])
            }
            PreferencesCommand::Set {
                partner_id,
                requested_alerts,
                confirm_cancel_alerts,
                night_delivery_allowed,
            } => {
                if requested_alerts == Some(false) {
                    return Err(NotificationsError::MandatoryMessage);
                }
                let mut after = self.clone();
                if let Some(on) = confirm_cancel_alerts {
                    after.alerts_off = !on;
                }
                if let Some(allowed) = night_delivery_allowed {
                    after.night_refused = !allowed;
                }
                Ok(vec![after.changed(&partner_id).into()])
            }
        }
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
            ..Default::default()
        })
    }

    fn switches(alerts: Option<bool>, night_allowed: Option<bool>) -> PreferencesCommand {
        PreferencesCommand::Set {
            partner_id: "p".into(),
            requested_alerts: None,
            confirm_cancel_alerts: alerts,
            night_delivery_allowed: night_allowed,
        }
    }

    #[test]
    fn switching_off_the_requested_alert_is_refused_and_appends_nothing() {
        given::<Preferences>([])
            .when(
                PreferencesCommand::Set {
                    partner_id: "p".into(),
                    requested_alerts: Some(false),
                    confirm_cancel_alerts: Some(false),
                    night_delivery_allowed: None,
                },
                &(),
            )
            .then_refused(NotificationsError::MandatoryMessage);
    }

    #[test]
    fn the_confirmation_and_cancellation_alerts_are_one_switch() {
        let then = given::<Preferences>([]).when(switches(Some(false), None), &());
        for kind in [
            MessageKind::NewReservation,
            MessageKind::ReservationConfirmed,
            MessageKind::ReservationCancelled,
            MessageKind::ReservationExpired,
            MessageKind::PaymentCancelled,
        ] {
            assert!(
                !then.then_state().wants(kind),
                "{kind:?} is silenced by the switch"
            );
        }
        assert!(then.then_state().wants(MessageKind::ReservationRequested));
        assert!(
            then.then_state().wants(MessageKind::ExpiryWarning),
            "not a confirm/cancel alert"
        );
        assert!(!then.then_state().night_refused, "left out, kept");
        let on = given::<Preferences>([changed(&[])])
            .when(switches(Some(false), None), &())
            .then_state();
        let mut again = on.clone();
        again.apply(PartnerPreferencesChanged {
            confirm_cancel_alerts_off: false,
            ..Default::default()
        });
        assert!(again.wants(MessageKind::PaymentCancelled));
    }

    #[test]
    fn a_switch_left_out_keeps_its_setting() {
        let night = given::<Preferences>([])
            .when(switches(None, Some(false)), &())
            .then_state();
        assert!(night.night_refused && !night.alerts_off);
        let both = given::<Preferences>([PreferencesEvent::Changed(night.changed("p"))])
            .when(switches(Some(false), None), &())
            .then_state();
        assert!(both.night_refused && both.alerts_off);
    }

    #[test]
    fn the_preferences_in_force_at_an_instant_are_the_changes_made_until_then() {
        let off = PartnerPreferencesChanged {
            night_delivery_refused: true,
            ..Default::default()
        };
        let on = PartnerPreferencesChanged::default();
        let changes = [(100, &off), (200, &on)];
        assert!(!in_force_at(changes, 99).night_refused);
        assert!(
            in_force_at(changes, 100).night_refused,
            "from the moment it is made"
        );
        assert!(in_force_at(changes, 199).night_refused);
        assert!(!in_force_at(changes, 200).night_refused);
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
            ..Default::default()
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
        let PreferencesEvent::Changed(mut expected) = changed(&[
            MessageKind::ReservationCancelled,
            MessageKind::ReservationExpired,
        ]);
        // Muting any confirmation or cancellation alert is switching the one switch off.
        expected.confirm_cancel_alerts_off = true;
        then.then_expect(vec![expected.into()]);
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
