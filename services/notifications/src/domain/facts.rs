//! The reservation facts the notifications hear of (the reservations' public events), and what
//! each tells a message: its row in the table, its business key, its variables.
use std::collections::BTreeMap;

use yeyak_proto::reservations::events::v1::{
    ReservationBooked, ReservationCancelled, ReservationCompleted, ReservationConfirmed,
    ReservationExpired, ReservationLinesCancelled, ReservationPaymentCancelled,
    ReservationRejected,
};

use super::{
    reservation_file::ReservationFile,
    rules::{Fact, reservation_variables},
};

yeyak_kit::event_set! {
    /// A reservation fact the notifications hear about.
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
}

impl ReservationFact {
    /// The partner, the reservation and the place the fact is about: every reservation fact
    /// carries them.
    pub fn about(&self) -> (&str, &str, &str) {
        let (partner, reservation, place) = match self {
            ReservationFact::Booked(e) => (&e.partner_id, &e.reservation_id, &e.place_id),
            ReservationFact::Confirmed(e) => (&e.partner_id, &e.reservation_id, &e.place_id),
            ReservationFact::Rejected(e) => (&e.partner_id, &e.reservation_id, &e.place_id),
            ReservationFact::Cancelled(e) => (&e.partner_id, &e.reservation_id, &e.place_id),
            ReservationFact::LinesCancelled(e) => (&e.partner_id, &e.reservation_id, &e.place_id),
            ReservationFact::Completed(e) => (&e.partner_id, &e.reservation_id, &e.place_id),
            ReservationFact::PaymentCancelled(e) => (&e.partner_id, &e.reservation_id, &e.place_id),
            ReservationFact::Expired(e) => (&e.partner_id, &e.reservation_id, &e.place_id),
        };
        (partner, reservation, place)
    }

    /// The partner the fact is told to.
    pub fn partner_id(&self) -> &str {
        self.about().0
    }

    /// The reservation the fact is about.
    pub fn reservation_id(&self) -> &str {
        self.about().1
    }

    /// The fact's row in the table.
    pub fn kind(&self) -> Fact {
        match self {
            ReservationFact::Booked(e) if e.requires_approval => Fact::Requested,
            ReservationFact::Booked(_) => Fact::BookedConfirmed,
            ReservationFact::Confirmed(_) => Fact::Confirmed,
            ReservationFact::Rejected(_) => Fact::Rejected,
            ReservationFact::Cancelled(_) => Fact::Cancelled,
            ReservationFact::LinesCancelled(_) => Fact::LinesCancelled,
            ReservationFact::Completed(_) => Fact::Completed,
            ReservationFact::PaymentCancelled(_) => Fact::PaymentCancelled,
            ReservationFact::Expired(_) => Fact::Expired,
        }
    }

    /// The business fact's name, unique per reservation: a partial cancel is named by its lines.
    pub fn key(&self) -> String {
        match self {
            ReservationFact::Booked(e) if e.requires_approval => "reservation-requested".into(),
            ReservationFact::Booked(_) => "reservation-booked".into(),
            ReservationFact::Confirmed(_) => "reservation-confirmed".into(),
            ReservationFact::Rejected(_) => "reservation-rejected".into(),
            ReservationFact::Cancelled(_) => "reservation-cancelled".into(),
            ReservationFact::LinesCancelled(e) => {
                format!("lines-cancelled-{}", lines(&e.line_numbers, "-"))
            }
            ReservationFact::Completed(_) => "reservation-completed".into(),
            ReservationFact::PaymentCancelled(_) => "payment-cancelled".into(),
            ReservationFact::Expired(_) => "reservation-expired".into(),
        }
    }

    /// The variables the fact's templates may use: the reservation's, and the fact's own.
    pub fn variables(&self, file: &ReservationFile) -> BTreeMap<String, String> {
        let mut v = reservation_variables(file);
        let mut put = |k: &str, value: String| {
            v.insert(k.to_string(), value);
        };
        match self {
            ReservationFact::Rejected(e) => {
                put("거절사유", e.reason.clone());
                put("환불금액", won(e.refunded_krw));
            }
            ReservationFact::Cancelled(e) => {
                put("취소수수료", won(e.fee_krw));
                put("환불금액", won(e.refunded_krw));
            }
            ReservationFact::LinesCancelled(e) => {
                put("예약상세", lines(&e.line_numbers, ", "));
                put("취소인원", e.quantity.to_string());
                put("취소수수료", won(e.fee_krw));
                put("환불금액", won(e.refunded_krw));
            }
            ReservationFact::PaymentCancelled(e) => put("결제취소금액", won(e.refunded_krw)),
            ReservationFact::Expired(e) => put("환불금액", won(e.refunded_krw)),
            ReservationFact::Booked(_)
            | ReservationFact::Confirmed(_)
            | ReservationFact::Completed(_) => {}
        }
        v
    }
}

fn lines(numbers: &[u32], sep: &str) -> String {
    numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// An amount as people read it: `12,000원`.
pub fn won(krw: i64) -> String {
    let digits = krw.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    let sign = if krw < 0 { "-" } else { "" };
    format!("{sign}{out}원")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amount_reads_with_thousands_separators_in_won() {
        assert_eq!(won(0), "0원");
        assert_eq!(won(999), "999원");
        assert_eq!(won(1_000), "1,000원");
        assert_eq!(won(12_345_678), "12,345,678원");
        assert_eq!(won(-5_000), "-5,000원");
    }

    #[test]
    fn a_partial_cancel_is_a_fact_of_its_own_lines() {
        let fact = ReservationFact::LinesCancelled(ReservationLinesCancelled {
            line_numbers: vec![2, 3],
            quantity: 3,
            fee_krw: 1_000,
            refunded_krw: 9_000,
            ..Default::default()
        });
        assert_eq!(fact.key(), "lines-cancelled-2-3");
        let v = fact.variables(&ReservationFile::default());
        assert_eq!(v["예약상세"], "2, 3");
        assert_eq!(v["취소수수료"], "1,000원");
        assert_eq!(v["환불금액"], "9,000원");
    }
}
