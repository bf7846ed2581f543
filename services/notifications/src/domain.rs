//! The notifications' business rules: which reservation facts become which partner messages,
//! and which messages a partner may switch off. Pure; no I/O.
use std::collections::BTreeSet;

use yeyak_proto::{
    notifications::events::v1::{MessageKind, PartnerPreferencesChanged},
    reservations::events::v1::{
        ReservationBooked, ReservationCancelled, ReservationCompleted, ReservationConfirmed,
        ReservationExpired, ReservationLinesCancelled, ReservationPaymentCancelled,
        ReservationRejected,
    },
};

/// A reservation fact the partner hears about.
#[derive(Debug, Clone, PartialEq)]
pub enum ReservationFact {
    Booked(ReservationBooked),
    Confirmed(ReservationConfirmed),
    Rejected(ReservationRejected),
    Cancelled(ReservationCancelled),
    /// 부분취소.
    LinesCancelled(ReservationLinesCancelled),
    Completed(ReservationCompleted),
    PaymentCancelled(ReservationPaymentCancelled),
    Expired(ReservationExpired),
}

/// A message to record for a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub partner_id: String,
    pub reservation_id: String,
    pub kind: MessageKind,
    pub text: String,
}

/// Message kinds a partner can never switch off: 예약신청 must be confirmed or rejected quickly.
pub fn is_mandatory(kind: MessageKind) -> bool {
    kind == MessageKind::ReservationRequested
}

/// The message a reservation fact produces for its partner.
pub fn draft(fact: &ReservationFact) -> Draft {
    let (partner_id, reservation_id, kind, text) = match fact {
        ReservationFact::Booked(e) if e.requires_approval => (
            &e.partner_id,
            &e.reservation_id,
            MessageKind::ReservationRequested,
            format!(
                "새 예약신청이 도착했습니다 ({}명). 확정 또는 확정거절해 주세요.",
                e.quantity
            ),
        ),
        ReservationFact::Booked(e) => (
            &e.partner_id,
            &e.reservation_id,
            MessageKind::ReservationConfirmed,
            format!("새 예약이 확정되었습니다 ({}명).", e.quantity),
        ),
        ReservationFact::Confirmed(e) => (
            &e.partner_id,
            &e.reservation_id,
            MessageKind::ReservationConfirmed,
            "예약을 확정했습니다.".to_string(),
        ),
        ReservationFact::Rejected(e) => (
            &e.partner_id,
            &e.reservation_id,
            MessageKind::ReservationRejected,
            format!("예약을 확정거절했습니다: {}", e.reason),
        ),
        ReservationFact::Cancelled(e) => (
            &e.partner_id,
            &e.reservation_id,
            MessageKind::ReservationCancelled,
            "예약이 취소되었습니다.".to_string(),
        ),
        ReservationFact::LinesCancelled(e) => (
            &e.partner_id,
            &e.reservation_id,
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
        ReservationFact::Completed(e) => (
            &e.partner_id,
            &e.reservation_id,
            MessageKind::ReservationCompleted,
            "이용완료 처리되었습니다.".to_string(),
        ),
        ReservationFact::PaymentCancelled(e) => (
            &e.partner_id,
            &e.reservation_id,
            MessageKind::PaymentCancelled,
            format!(
                "이용완료 예약의 결제금액 {}원이 취소되었습니다.",
                e.refunded_krw
            ),
        ),
        ReservationFact::Expired(e) => (
            &e.partner_id,
            &e.reservation_id,
            MessageKind::ReservationExpired,
            "응답하지 않은 예약신청이 만료되었습니다.".to_string(),
        ),
    };
    Draft {
        partner_id: partner_id.clone(),
        reservation_id: reservation_id.clone(),
        kind,
        text,
    }
}

/// The folded `partner-preferences-<id>` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub muted: BTreeSet<i32>,
}

impl Preferences {
    pub fn apply(&mut self, e: PartnerPreferencesChanged) {
        self.muted = e.muted.into_iter().collect();
    }

    /// Whether a message of `kind` is recorded: mandatory kinds always are.
    pub fn wants(&self, kind: MessageKind) -> bool {
        is_mandatory(kind) || !self.muted.contains(&(kind as i32))
    }
}

/// Why a preference change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreferenceError {
    #[error("the 예약신청 (Requested) message cannot be switched off")]
    Mandatory,
    #[error("unknown message kind {0}")]
    UnknownKind(i32),
}

/// Switches off `muted` kinds. The mandatory Requested message is refused.
pub fn set_muted(
    partner_id: &str,
    muted: &[i32],
) -> Result<PartnerPreferencesChanged, PreferenceError> {
    let mut kinds = BTreeSet::new();
    for &k in muted {
        let kind = MessageKind::try_from(k).map_err(|_| PreferenceError::UnknownKind(k))?;
        if kind == MessageKind::Unspecified {
            return Err(PreferenceError::UnknownKind(k));
        }
        if is_mandatory(kind) {
            return Err(PreferenceError::Mandatory);
        }
        kinds.insert(k);
    }
    Ok(PartnerPreferencesChanged {
        partner_id: partner_id.to_string(),
        muted: kinds.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booked(approval: bool) -> ReservationFact {
        ReservationFact::Booked(ReservationBooked {
            reservation_id: "r".into(),
            partner_id: "p".into(),
            quantity: 2,
            requires_approval: approval,
            ..Default::default()
        })
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
    fn the_requested_message_cannot_be_switched_off() {
        assert_eq!(
            set_muted("p", &[MessageKind::ReservationRequested as i32]),
            Err(PreferenceError::Mandatory)
        );
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
    fn unknown_kinds_are_refused() {
        assert_eq!(set_muted("p", &[99]), Err(PreferenceError::UnknownKind(99)));
        assert_eq!(set_muted("p", &[0]), Err(PreferenceError::UnknownKind(0)));
    }
}
