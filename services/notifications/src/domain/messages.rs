//! The partner's message log: which reservation facts become which messages, and which kinds
//! can never be switched off.
use yeyak_kit::command::Aggregate;
use yeyak_proto::notifications::events::v1::{MessageKind, PartnerMessageRecorded};

pub use super::facts::ReservationFact;
use super::{NotificationsError, preferences::Preferences, rules::is_mandatory};

yeyak_kit::event_set! {
    /// What happens on a partner's message log.
    pub enum MessageEvent {
        Recorded(PartnerMessageRecorded),
    }
}

/// A message to record for a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub partner_id: String,
    pub reservation_id: String,
    pub place_id: String,
    pub kind: MessageKind,
    pub text: String,
}

/// The message a reservation fact produces for its partner.
pub fn draft(fact: &ReservationFact) -> Draft {
    let (kind, text) = match fact {
        ReservationFact::Booked(e) if e.requires_approval => (
            MessageKind::ReservationRequested,
            format!(
                "새 예약신청이 도착했습니다 ({}명). 확정 또는 확정거절해 주세요.",
                e.quantity
            ),
        ),
        ReservationFact::Booked(e) => (
            MessageKind::ReservationConfirmed,
            format!("새 예약이 확정되었습니다 ({}명).", e.quantity),
        ),
        ReservationFact::Confirmed(_) => (
            MessageKind::ReservationConfirmed,
            "예약을 확정했습니다.".to_string(),
        ),
        ReservationFact::Rejected(e) => (
            MessageKind::ReservationRejected,
            format!("예약을 확정거절했습니다: {}", e.reason),
        ),
        ReservationFact::Cancelled(_) => (
            MessageKind::ReservationCancelled,
            "예약이 취소되었습니다.".to_string(),
        ),
        ReservationFact::LinesCancelled(e) => (
            MessageKind::ReservationCancelled,
            format!(
                "예약 일부가 취소되었습니다 (예약상세 {}, {}명).",
                e.line_numbers
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                e.quantity
            ),
        ),
        ReservationFact::Completed(_) => (
            MessageKind::ReservationCompleted,
            "이용완료 처리되었습니다.".to_string(),
        ),
        ReservationFact::PaymentCancelled(e) => (
            MessageKind::PaymentCancelled,
            format!(
                "이용완료 예약의 결제금액 {}원이 취소되었습니다.",
                e.refunded_krw
            ),
        ),
        ReservationFact::Expired(_) => (
            MessageKind::ReservationExpired,
            "응답하지 않은 예약신청이 만료되었습니다.".to_string(),
        ),
    };
    let (partner_id, reservation_id, place_id) = fact.about();
    Draft {
        partner_id: partner_id.to_string(),
        reservation_id: reservation_id.to_string(),
        place_id: place_id.to_string(),
        kind,
        text,
    }
}

/// What the partner's message log is asked.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageCommand {
    /// Tell the partner of a fact, as message `message_id`; `source_event_id` is the fact's event.
    Record {
        fact: ReservationFact,
        message_id: String,
        source_event_id: String,
    },
}

/// The partner's message log. A decision on it needs none of its past: each fact is recorded
/// once (the consumer's inbox sees to that), and facts of different reservations come in any
/// order. So the log is never folded to decide, and holds nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageLog;

impl Aggregate for MessageLog {
    type Event = MessageEvent;
    type Command = MessageCommand;
    /// The partner's preferences as they stand.
    type Context = Preferences;
    type Decision = Vec<MessageEvent>;
    type Error = NotificationsError;

    fn evolve(&mut self, _: MessageEvent) {}

    /// A fact becomes its message, unless the partner switched that kind off.
    fn decide(
        &self,
        command: MessageCommand,
        preferences: &Preferences,
    ) -> Result<Vec<MessageEvent>, NotificationsError> {
        let MessageCommand::Record {
            fact,
            message_id,
            source_event_id,
        } = command;
        let draft = draft(&fact);
        if !preferences.wants(draft.kind) {
            return Ok(vec![]);
        }
        Ok(vec![
            PartnerMessageRecorded {
                message_id,
                partner_id: draft.partner_id,
                reservation_id: draft.reservation_id,
                kind: draft.kind as i32,
                mandatory: is_mandatory(draft.kind),
                text: draft.text,
                source_event_id,
                place_id: draft.place_id,
            }
            .into(),
        ])
    }
}

#[cfg(test)]
mod tests {
    use yeyak_kit::command::testing::given;
    use yeyak_proto::reservations::events::v1::{
        ReservationBooked, ReservationCompleted, ReservationExpired, ReservationLinesCancelled,
        ReservationPaymentCancelled,
    };

    use super::*;

    fn booked(approval: bool) -> ReservationFact {
        ReservationFact::Booked(ReservationBooked {
            reservation_id: "r".into(),
            partner_id: "p".into(),
            place_id: "pl".into(),
            quantity: 2,
            requires_approval: approval,
            ..Default::default()
        })
    }

    fn record(fact: ReservationFact) -> MessageCommand {
        MessageCommand::Record {
            fact,
            message_id: "m".into(),
            source_event_id: "e".into(),
        }
    }

    fn muted(kinds: &[MessageKind]) -> Preferences {
        Preferences {
            muted: kinds.iter().map(|k| *k as i32).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_requested_booking_tells_the_partner_to_confirm_or_reject() {
        let d = draft(&booked(true));
        assert_eq!(d.kind, MessageKind::ReservationRequested);
        assert_eq!(d.partner_id, "p");
        assert!(d.text.contains("예약신청"));
        assert_eq!(
            draft(&booked(false)).kind,
            MessageKind::ReservationConfirmed
        );
    }

    #[test]
    fn a_partial_cancel_names_the_cancelled_lines() {
        let partial = draft(&ReservationFact::LinesCancelled(
            ReservationLinesCancelled {
                partner_id: "p".into(),
                reservation_id: "r".into(),
                line_numbers: vec![2, 3],
                quantity: 3,
                ..Default::default()
            },
        ));
        assert_eq!(partial.kind, MessageKind::ReservationCancelled);
        assert!(
            partial.text.contains("2, 3") && partial.text.contains("3명"),
            "{}",
            partial.text
        );
    }

    #[test]
    fn cancel_payment_only_and_an_expired_request_each_have_their_own_message() {
        let paid = draft(&ReservationFact::PaymentCancelled(
            ReservationPaymentCancelled {
                partner_id: "p".into(),
                reservation_id: "r".into(),
                refunded_krw: 60_000,
                ..Default::default()
            },
        ));
        assert_eq!(paid.kind, MessageKind::PaymentCancelled);
        assert!(paid.text.contains("60000"), "{}", paid.text);
        let expired = draft(&ReservationFact::Expired(ReservationExpired {
            partner_id: "p".into(),
            reservation_id: "r".into(),
            ..Default::default()
        }));
        assert_eq!(expired.kind, MessageKind::ReservationExpired);
        assert!(!is_mandatory(paid.kind) && !is_mandatory(expired.kind));
    }

    #[test]
    fn a_fact_is_recorded_as_its_message_for_the_place_it_is_at() {
        given::<MessageLog>([])
            .when(record(booked(true)), &Preferences::default())
            .then_expect(vec![MessageEvent::Recorded(PartnerMessageRecorded {
                message_id: "m".into(),
                partner_id: "p".into(),
                reservation_id: "r".into(),
                kind: MessageKind::ReservationRequested as i32,
                mandatory: true,
                text: "새 예약신청이 도착했습니다 (2명). 확정 또는 확정거절해 주세요.".into(),
                source_event_id: "e".into(),
                place_id: "pl".into(),
            })]);
    }

    #[test]
    fn a_switched_off_kind_records_nothing_but_the_requested_message_always_is() {
        let completed = ReservationFact::Completed(ReservationCompleted {
            partner_id: "p".into(),
            reservation_id: "r".into(),
            ..Default::default()
        });
        given::<MessageLog>([])
            .when(
                record(completed),
                &muted(&[MessageKind::ReservationCompleted]),
            )
            .then_expect(vec![]);
        let requested = given::<MessageLog>([])
            .when(
                record(booked(true)),
                &muted(&[MessageKind::ReservationRequested]),
            )
            .decision();
        assert_eq!(
            requested.len(),
            1,
            "a stored mute of 예약신청 never silences it"
        );
    }
}
