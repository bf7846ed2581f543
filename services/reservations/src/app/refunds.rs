//! Refunds through the payment gateway: an attempt when one is due, its outcome recorded once
//! (refunded; failed and tried again with back-off; or, after 3 business days of failures,
//! credited to the customer's balance). The gateway's idempotency key (the request) makes a
//! repeated attempt move no money twice.
use uuid::Uuid;
use yeyak_kit::{
    command::{Aggregate, Command, Decision, Error as Failed, Origin, Ran, Reads},
    events::derived_id,
};

use super::{Error, Reservations, streams};
use crate::domain::{
    ReservationError,
    payment::{Payment, PaymentCommand, RefundOutcome},
};

/// Records an attempt's outcome on the payment.
struct RecordRefund {
    reservation_id: Uuid,
    command: PaymentCommand,
}

#[async_trait::async_trait]
impl Command for RecordRefund {
    type State = Payment;
    type Output = ();
    type Error = ReservationError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Payment, Failed<ReservationError>> {
        Ok(streams::load_payment(reads, self.reservation_id).await?)
    }

    fn decide(
        &self,
        payment: Payment,
        now_us: i64,
    ) -> Result<Decision<()>, Failed<ReservationError>> {
        let events = payment.decide(self.command.clone(), &now_us)?;
        Ok(Decision::new(()).emit_all(streams::payment(self.reservation_id), events))
    }
}

impl Reservations {
    /// Tries the refund request `request_id` (the event id of its `RefundRequested`) when an
    /// attempt is due. `Ok(false)` when there is nothing to do.
    pub async fn refund(&self, reservation_id: Uuid, request_id: &str) -> Result<bool, Error> {
        let payment = self.payment(reservation_id).await?;
        let (Some(owed), Some(capture)) = (
            payment.refund_due(request_id, self.now_us()),
            payment.captured.as_ref(),
        ) else {
            return Ok(false);
        };
        let attempt = owed.attempts + 1;
        let outcome = match self
            .gateway
            .refund(request_id, &capture.capture_id, owed.amount_krw)
            .await
        {
            Ok(refund_id) => RefundOutcome::Refunded { refund_id },
            Err(e) => {
                tracing::warn!(%reservation_id, request_id, attempt, error = %e, "refund attempt failed");
                RefundOutcome::Failed {
                    reason: e.to_string(),
                }
            }
        };
        let origin = Origin::command(
            "service:refund",
            derived_id("refund", &format!("{request_id}/{attempt}"), 0),
            b"",
        );
        let record = RecordRefund {
            reservation_id,
            command: PaymentCommand::RecordRefund {
                reservation_id: reservation_id.to_string(),
                request_id: request_id.to_string(),
                attempt,
                outcome,
            },
        };
        Ok(match self.runner.run(&origin, &record).await? {
            Ran::Decided(_, appended) => !appended.is_empty(),
            Ran::Replayed(_) => false,
        })
    }
}
