//! A reservation's lifecycle after booking — confirm, reject, cancel (whole or by line),
//! complete, cancel payment only, no-show marks, and the scheduler's expiry and automatic
//! completion — each decided on the reservation's fold with what it needs (the partner's
//! operators, default reject text, completion code, the payment), appended with the seats it
//! gives back and the refund it owes.
use uuid::Uuid;
use yeyak_kit::{
    access::load_operators,
    auth::{Caller, Role},
    command::{Aggregate, Command, Decision, Error as Failed, Origin, Ran, Reads},
    events::derived_id,
};
use yeyak_proto::reservations::events::v1::{
    CompletionCodeSet, DefaultRejectTextSet, RefundRequested,
};

use super::{Error, Reservations, streams};
use crate::domain::{
    ReservationError,
    access::{self, OperatorAction},
    cancellation::Cancel,
    payment::Payment,
    reservation::{Reservation, ReservationCommand, ReservationContext, canceller},
};

/// What a lifecycle command needs to be allowed: cancels move money.
fn operator_action(command: &ReservationCommand) -> OperatorAction {
    match command {
        ReservationCommand::Cancel(_) | ReservationCommand::CancelPaymentOnly { .. } => {
            OperatorAction::MoveMoney
        }
        _ => OperatorAction::Handle,
    }
}

/// A lifecycle command as the runner runs it.
struct Act<'a> {
    caller: &'a Caller,
    reservation_id: Uuid,
    command: ReservationCommand,
}

struct Loaded {
    reservation: Reservation,
    context: ReservationContext,
    operators: Option<yeyak_kit::access::Operators>,
    payment: Payment,
}

#[async_trait::async_trait]
impl Command for Act<'_> {
    type State = Loaded;
    type Output = Reservation;
    type Error = ReservationError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Loaded, Failed<ReservationError>> {
        let reservation = streams::load_reservation(reads, self.reservation_id).await?;
        let Some(booked) = reservation.booked.clone() else {
            return Err(Failed::Refused(ReservationError::ReservationNotFound));
        };
        let operators = match self.caller.role {
            Role::PartnerOperator => load_operators(reads, &booked.partner_id).await?,
            _ => None,
        };
        let mut context = ReservationContext::default();
        match &self.command {
            ReservationCommand::Reject { reason } if reason.trim().is_empty() => {
                context.default_reject_text = reads
                    .latest::<DefaultRejectTextSet>(&streams::reject_text(&booked.partner_id))
                    .await?
                    .map(|d| d.text)
                    .filter(|t| !t.is_empty());
            }
            ReservationCommand::Complete { .. } => {
                context.completion_code_sha256 = reads
                    .latest::<CompletionCodeSet>(&streams::completion_code(&booked.partner_id))
                    .await?
                    .map(|c| c.code_sha256)
                    .filter(|h| !h.is_empty());
            }
            _ => {}
        }
        let payment = if booked.paid_krw > 0 {
            streams::load_payment(reads, self.reservation_id).await?
        } else {
            Payment::default()
        };
        Ok(Loaded {
            reservation,
            context,
            operators,
            payment,
        })
    }

    fn decide(
        &self,
        mut loaded: Loaded,
        now_us: i64,
    ) -> Result<Decision<Reservation>, Failed<ReservationError>> {
        let r = &loaded.reservation;
        let booked = r.booked()?;
        let customer_may = matches!(self.command, ReservationCommand::Cancel(_));
        access::authorize(
            self.caller,
            booked,
            loaded.operators.as_ref(),
            operator_action(&self.command),
            customer_may,
        )?;
        loaded.context.now_us = now_us;
        let decision = r.decide(self.command_of_caller(), &loaded.context)?;
        let Some(event) = decision.event else {
            return Ok(Decision::new(loaded.reservation));
        };
        let mut next = loaded.reservation.clone();
        next.apply(event.clone());
        let mut out = Decision::new(next).emit(streams::reservation(self.reservation_id), &event);
        // Giving seats back never oversells: no expected version.
        for (pool, released) in decision.releases {
            out = out.emit_unordered(streams::pool(&pool), &released);
        }
        if let Some(captured) = &loaded.payment.captured
            && decision.refund_krw > 0
        {
            let refund = RefundRequested {
                reservation_id: captured.reservation_id.clone(),
                amount_krw: decision.refund_krw.min(captured.amount_krw),
                reason: reason_of(&self.command).into(),
                requested_at: Some(yeyak_proto::time::from_micros(now_us)),
            };
            out = out.emit(streams::payment(self.reservation_id), &refund);
        }
        Ok(out)
    }
}

impl Act<'_> {
    /// The command as its caller may ask it: a cancel is the customer's when a customer asks, the
    /// partner's otherwise, whatever the request said.
    fn command_of_caller(&self) -> ReservationCommand {
        match &self.command {
            ReservationCommand::Cancel(cancel) => ReservationCommand::Cancel(Cancel {
                by: canceller(self.caller.role == Role::Customer),
                ..cancel.clone()
            }),
            other => other.clone(),
        }
    }
}

/// Why money goes back, as the refund request says.
fn reason_of(command: &ReservationCommand) -> &'static str {
    match command {
        ReservationCommand::Reject { .. } => "reject",
        ReservationCommand::Cancel(_) => "cancel",
        ReservationCommand::CancelPaymentOnly { .. } => "cancel-payment",
        ReservationCommand::Expire => "expire",
        _ => "refund",
    }
}

/// Scheduled work runs as this service.
fn scheduler() -> Caller {
    Caller {
        subject: "scheduler".into(),
        role: Role::InternalService,
        partner_id: None,
        places: yeyak_kit::auth::PlaceScope::All,
    }
}

impl Reservations {
    /// Applies a lifecycle command for `origin`. A retry returns the reservation as the first
    /// run left it.
    pub async fn act(
        &self,
        caller: &Caller,
        origin: &Origin,
        reservation_id: Uuid,
        command: ReservationCommand,
    ) -> Result<(Reservation, u64), Error> {
        let act = Act {
            caller,
            reservation_id,
            command,
        };
        let ran = self.runner.run(origin, &act).await?;
        let version = ran.version_of(&streams::reservation(reservation_id));
        match (ran, version) {
            (Ran::Decided(r, _), Some(v)) => Ok((r, v)),
            (Ran::Replayed(_), Some(v)) => Ok((self.reservation_at(reservation_id, v).await?, v)),
            // Nothing changed (a no-show marked again): the reservation as it is.
            (_, None) => {
                let (r, v) = self.reservation(reservation_id).await?;
                Ok((r, v.unwrap_or(0)))
            }
        }
    }

    /// Scheduled work on a reservation (expiry, automatic completion), done once however many
    /// schedulers try: its origin derives from the work and the reservation. `Ok(false)` when
    /// there is nothing to do (answered, not due, done already).
    pub async fn by_scheduler(
        &self,
        reservation_id: Uuid,
        command: ReservationCommand,
    ) -> Result<bool, Error> {
        let work = match command {
            ReservationCommand::Expire => "expire",
            _ => "auto-complete",
        };
        let origin = Origin::command(
            format!("service:{work}"),
            derived_id(work, &reservation_id.to_string(), 0),
            b"",
        );
        let caller = scheduler();
        let act = Act {
            caller: &caller,
            reservation_id,
            command,
        };
        match self.runner.run(&origin, &act).await {
            Ok(Ran::Decided(_, appended)) => Ok(!appended.is_empty()),
            Ok(Ran::Replayed(_)) => Ok(false),
            // Answered, not due, or moved on meanwhile: the next look decides again.
            Err(Failed::Refused(_) | Failed::Busy { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
