//! The events of each of the reservations' aggregates.
use yeyak_proto::reservations::events::v1::{
    InventoryCapacityChanged, InventoryOpened, InventoryReleased, InventoryReserved, NoShowMarked,
    PaymentCaptured, PaymentRefunded, PoolCapacitySet, RefundCreditedAsBalance, RefundFailed,
    RefundRequested, ReservationBooked, ReservationCancelled, ReservationCompleted,
    ReservationConfirmed, ReservationExpired, ReservationLinesCancelled,
    ReservationPaymentCancelled, ReservationRejected,
};

yeyak_kit::event_set! {
    /// What happens to a quantity seats are held in: a unit's own, or one several units share.
    pub enum InventoryEvent {
        Opened(InventoryOpened),
        Reserved(InventoryReserved),
        Released(InventoryReleased),
        CapacityChanged(InventoryCapacityChanged),
        PoolCapacity(PoolCapacitySet),
    }
}

yeyak_kit::event_set! {
    /// What happens to a reservation.
    pub enum ReservationEvent {
        Booked(ReservationBooked),
        Confirmed(ReservationConfirmed),
        Rejected(ReservationRejected),
        Cancelled(ReservationCancelled),
        /// 부분취소: some lines cancelled, the reservation stays in its state.
        LinesCancelled(ReservationLinesCancelled),
        Completed(ReservationCompleted),
        Expired(ReservationExpired),
        PaymentCancelled(ReservationPaymentCancelled),
        NoShow(NoShowMarked),
    }
}

yeyak_kit::event_set! {
    /// What happens to a reservation's payment, apart from its state.
    pub enum PaymentEvent {
        Captured(PaymentCaptured),
        RefundRequested(RefundRequested),
        Refunded(PaymentRefunded),
        RefundFailed(RefundFailed),
        Credited(RefundCreditedAsBalance),
    }
}
