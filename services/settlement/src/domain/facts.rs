//! The reservations' facts settlement hears of: a paid booking (the payment is captured in the
//! booking's transaction), the money given back before completion, 이용완료, and the money given
//! back after it (결제만 취소, a cancel after completion). A reservation's facts are on its one
//! stream, so they arrive in their order.
use yeyak_proto::reservations::events::v1::{
    ReservationBooked, ReservationCancelled, ReservationCompleted, ReservationExpired,
    ReservationLinesCancelled, ReservationPaymentCancelled, ReservationRejected,
};

yeyak_kit::event_set! {
    /// A reservation fact with money in it.
    pub enum SettlementFact {
        Booked(ReservationBooked),
        LinesCancelled(ReservationLinesCancelled),
        Cancelled(ReservationCancelled),
        Rejected(ReservationRejected),
        Expired(ReservationExpired),
        /// 이용완료: settlement is driven by completion, not by payment.
        Completed(ReservationCompleted),
        /// 결제만 취소.
        PaymentCancelled(ReservationPaymentCancelled),
    }
}

impl SettlementFact {
    /// The partner whose ledger the fact is on.
    pub fn partner_id(&self) -> &str {
        match self {
            SettlementFact::Booked(e) => &e.partner_id,
            SettlementFact::LinesCancelled(e) => &e.partner_id,
            SettlementFact::Cancelled(e) => &e.partner_id,
            SettlementFact::Rejected(e) => &e.partner_id,
            SettlementFact::Expired(e) => &e.partner_id,
            SettlementFact::Completed(e) => &e.partner_id,
            SettlementFact::PaymentCancelled(e) => &e.partner_id,
        }
    }

    /// The reservation the fact is about.
    pub fn reservation_id(&self) -> &str {
        match self {
            SettlementFact::Booked(e) => &e.reservation_id,
            SettlementFact::LinesCancelled(e) => &e.reservation_id,
            SettlementFact::Cancelled(e) => &e.reservation_id,
            SettlementFact::Rejected(e) => &e.reservation_id,
            SettlementFact::Expired(e) => &e.reservation_id,
            SettlementFact::Completed(e) => &e.reservation_id,
            SettlementFact::PaymentCancelled(e) => &e.reservation_id,
        }
    }

    /// The place the reservation is at.
    pub fn place_id(&self) -> &str {
        match self {
            SettlementFact::Booked(e) => &e.place_id,
            SettlementFact::LinesCancelled(e) => &e.place_id,
            SettlementFact::Cancelled(e) => &e.place_id,
            SettlementFact::Rejected(e) => &e.place_id,
            SettlementFact::Expired(e) => &e.place_id,
            SettlementFact::Completed(e) => &e.place_id,
            SettlementFact::PaymentCancelled(e) => &e.place_id,
        }
    }
}
