//! What the notifications know of a reservation: who booked it, where and when, and whether it
//! was answered or closed. Later facts do not carry the customer; the file does, and it decides
//! which messages not yet out still hold.
use yeyak_kit::command::Aggregate;
use yeyak_proto::notifications::events::v1::{
    ReservationAnswered, ReservationClosed, ReservationNoted,
};

use super::{NotificationsError, facts::ReservationFact};

yeyak_kit::event_set! {
    /// What happens on a reservation's file.
    pub enum FileEvent {
        Noted(ReservationNoted),
        Answered(ReservationAnswered),
        Closed(ReservationClosed),
    }
}

/// A reservation as its file folds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReservationFile {
    pub noted: Option<ReservationNoted>,
    pub quantity: u32,
    /// The request was confirmed.
    pub answered: bool,
    /// Cancelled, rejected, expired or completed.
    pub closed: bool,
    /// Closed without being used: cancelled, rejected or expired.
    pub called_off: bool,
}

impl Aggregate for ReservationFile {
    type Event = FileEvent;
    type Command = ReservationFact;
    type Context = ();
    type Decision = Vec<FileEvent>;
    type Error = NotificationsError;

    fn evolve(&mut self, event: FileEvent) {
        match event {
            FileEvent::Noted(e) => {
                self.quantity = e.quantity;
                self.noted = Some(e);
            }
            FileEvent::Answered(_) => self.answered = true,
            FileEvent::Closed(e) => {
                self.closed = true;
                self.called_off = matches!(e.reason.as_str(), "cancelled" | "rejected" | "expired");
            }
        }
    }

    /// What a fact adds to the file; a fact it already holds adds nothing.
    fn decide(&self, fact: ReservationFact, _: &()) -> Result<Vec<FileEvent>, NotificationsError> {
        let reservation_id = fact.reservation_id().to_string();
        let closed = |reason: &str| {
            Ok(vec![
                ReservationClosed {
                    reservation_id: reservation_id.clone(),
                    reason: reason.to_string(),
                }
                .into(),
            ])
        };
        match &fact {
            ReservationFact::Booked(_) if self.noted.is_some() => Ok(vec![]),
            ReservationFact::Booked(e) => Ok(vec![
                ReservationNoted {
                    reservation_id: e.reservation_id.clone(),
                    partner_id: e.partner_id.clone(),
                    place_id: e.place_id.clone(),
                    customer_id: e.customer_id.clone(),
                    starts_at: e.starts_at,
                    expires_at: e.expires_at,
                    requires_approval: e.requires_approval,
                    quantity: e.quantity,
                }
                .into(),
            ]),
            _ if self.closed => Ok(vec![]),
            ReservationFact::Confirmed(_) if self.answered => Ok(vec![]),
            ReservationFact::Confirmed(_) => {
                Ok(vec![ReservationAnswered { reservation_id }.into()])
            }
            ReservationFact::Rejected(_) => closed("rejected"),
            ReservationFact::Cancelled(_) => closed("cancelled"),
            ReservationFact::Expired(_) => closed("expired"),
            ReservationFact::Completed(_) => closed("completed"),
            ReservationFact::PaymentCancelled(_) => closed("payment cancelled"),
            // A partial cancel leaves the reservation open.
            ReservationFact::LinesCancelled(_) => Ok(vec![]),
        }
    }
}

impl ReservationFile {
    /// The file after `fact`.
    pub fn with(
        &self,
        fact: &ReservationFact,
    ) -> Result<(Self, Vec<FileEvent>), NotificationsError> {
        let events = self.decide(fact.clone(), &())?;
        Ok((self.clone().evolved(&events), events))
    }
}

#[cfg(test)]
mod tests {
    use yeyak_kit::command::testing::given;
    use yeyak_proto::reservations::events::v1::{
        ReservationBooked, ReservationCancelled, ReservationConfirmed, ReservationLinesCancelled,
    };

    use super::*;

    fn booked() -> ReservationFact {
        ReservationFact::Booked(ReservationBooked {
            reservation_id: "r".into(),
            customer_id: "c".into(),
            partner_id: "p".into(),
            quantity: 2,
            requires_approval: true,
            ..Default::default()
        })
    }

    #[test]
    fn a_booking_notes_its_customer_and_a_second_delivery_adds_nothing() {
        let then = given::<ReservationFile>([]).when(booked(), &());
        assert_eq!(then.then_state().noted.as_ref().unwrap().customer_id, "c");
        assert_eq!(then.then_state().quantity, 2);
        let (file, _) = ReservationFile::default().with(&booked()).unwrap();
        assert_eq!(file.with(&booked()).unwrap().1, vec![]);
    }

    #[test]
    fn a_confirmation_answers_a_cancel_closes_and_a_partial_cancel_leaves_it_open() {
        let (file, _) = ReservationFile::default().with(&booked()).unwrap();
        let (answered, _) = file
            .with(&ReservationFact::Confirmed(ReservationConfirmed::default()))
            .unwrap();
        assert!(answered.answered && !answered.closed);
        let (partial, events) = answered
            .with(&ReservationFact::LinesCancelled(
                ReservationLinesCancelled::default(),
            ))
            .unwrap();
        assert!(events.is_empty() && !partial.closed);
        let (closed, _) = partial
            .with(&ReservationFact::Cancelled(ReservationCancelled::default()))
            .unwrap();
        assert!(closed.closed && closed.called_off);
        assert_eq!(
            closed
                .with(&ReservationFact::Cancelled(ReservationCancelled::default()))
                .unwrap()
                .1,
            vec![],
            "closed once"
        );
    }
}
