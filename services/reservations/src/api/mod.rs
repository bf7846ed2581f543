//! The reservations' gRPC API: requests to commands ([`input`]), state to replies
//! ([`output`]), failures to statuses ([`refusal`], the one place), and who may call what
//! ([`POLICY`]).
mod input;
pub mod output;
pub mod refusal;

use tonic::{Request, Response, Status};
use yeyak_kit::{
    access::{self as shared_access, Scope},
    auth::{Caller, PlaceScope, Policy, Role},
    command::Origin,
    status::{invalid_field, parse_uuid, text},
};
use yeyak_proto::reservations::{
    events::v1::PaymentMethod,
    v1::{self as pb, ReservationState, reservations_service_server::ReservationsService},
};

use crate::{
    app::{Reservations, listing},
    domain::{
        access::{OperatorAction, roles},
        cancellation::Cancel,
        reservation::{ReservationCommand, canceller},
    },
};
use input::{adjustment, book_lines};
use output::{payment_view, state_of, view};
use refusal::failure;

/// Who may call each reservations RPC. Resource checks (own reservation, granted place) follow
/// in the application layer.
pub static POLICY: Policy = Policy {
    service: "yeyak.reservations.v1.ReservationsService",
    rules: &[
        ("Book", &[Role::Customer]),
        ("Confirm", &[Role::PartnerOperator]),
        ("Reject", &[Role::PartnerOperator]),
        ("Cancel", &[Role::Customer, Role::PartnerOperator]),
        ("Complete", &[Role::PartnerOperator]),
        ("CancelPaymentOnly", &[Role::PartnerOperator]),
        ("MarkNoShow", &[Role::PartnerOperator]),
        (
            "SetCompletionCode",
            &[Role::PartnerOperator, Role::PlatformOps],
        ),
        (
            "SetDefaultRejectText",
            &[Role::PartnerOperator, Role::PlatformOps],
        ),
        (
            "ListReservations",
            &[
                Role::PartnerOperator,
                Role::PlatformOps,
                Role::InternalService,
            ],
        ),
        (
            "GetDashboard",
            &[
                Role::PartnerOperator,
                Role::PlatformOps,
                Role::InternalService,
            ],
        ),
        (
            "GetReservationHistory",
            &[
                Role::Customer,
                Role::PartnerOperator,
                Role::PlatformOps,
                Role::InternalService,
            ],
        ),
        (
            "GetReservation",
            &[
                Role::Customer,
                Role::PartnerOperator,
                Role::PlatformOps,
                Role::InternalService,
            ],
        ),
    ],
};

pub struct ReservationsApi {
    app: Reservations,
}

impl ReservationsApi {
    pub fn new(app: Reservations) -> Self {
        Self { app }
    }
}

impl ReservationsApi {
    /// The partner and place a list query may read: operators need the partner, and a place they
    /// were granted when they were not granted all; an active operator record that allows it.
    async fn list_filter(
        &self,
        caller: &Caller,
        partner: &str,
        place: &str,
    ) -> Result<listing::Filter, Status> {
        let partner_id = parse_uuid("partner_id", partner)?;
        let place_id = if place.is_empty() {
            None
        } else {
            Some(parse_uuid("place_id", place)?)
        };
        if place_id.is_none()
            && caller.role == Role::PartnerOperator
            && caller.places != PlaceScope::All
        {
            return Err(invalid_field(
                "place_id",
                "PLACE_REQUIRED",
                "an operator granted some places names one",
            ));
        }
        let place = place_id.map(|p| p.to_string());
        let scope = match &place {
            Some(p) => Scope::Place(p),
            None => Scope::AllPlaces,
        };
        let operators = match caller.role {
            Role::PartnerOperator => self
                .app
                .operators(&partner_id.to_string())
                .await
                .map_err(failure)?,
            _ => None,
        };
        shared_access::authorize(
            caller,
            &partner_id.to_string(),
            scope,
            roles(OperatorAction::Read),
            operators.as_ref(),
        )
        .map_err(|e| yeyak_kit::status::access(&e))?;
        Ok(listing::Filter {
            partner_id,
            place_id,
            ..Default::default()
        })
    }

    async fn act(
        &self,
        caller: Caller,
        origin: Origin,
        reservation_id: &str,
        command: ReservationCommand,
    ) -> Result<Response<pb::Reservation>, Status> {
        let reservation_id = parse_uuid("reservation_id", reservation_id)?;
        self.app
            .act(&caller, &origin, reservation_id, command)
            .await
            .map(|r| Response::new(view(r)))
            .map_err(failure)
    }
}

#[tonic::async_trait]
impl ReservationsService for ReservationsApi {
    async fn book(
        &self,
        request: Request<pb::BookRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let (caller, origin, request_id) =
            Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let lines = book_lines(&r)?;
        let method = PaymentMethod::try_from(r.payment_method).map_err(|_| {
            invalid_field(
                "payment_method",
                "UNKNOWN_ENUM_VALUE",
                "not a payment method",
            )
        })?;
        let booked = self
            .app
            .book(&caller, &origin, request_id, lines, r.answers, method)
            .await
            .map(|r| Response::new(view(r)))
            .map_err(failure);
        metrics::counter!("yeyak_bookings_total", "outcome" => yeyak_kit::metrics::outcome(&booked))
            .increment(1);
        booked
    }

    async fn confirm(
        &self,
        request: Request<pb::ConfirmRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        self.act(
            caller,
            origin,
            &r.reservation_id,
            ReservationCommand::Confirm,
        )
        .await
    }

    async fn reject(
        &self,
        request: Request<pb::RejectRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let reason = text("reason", &r.reason, 0, 500)?;
        self.act(
            caller,
            origin,
            &r.reservation_id,
            ReservationCommand::Reject { reason },
        )
        .await
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = ReservationCommand::Cancel(Cancel {
            by: canceller(caller.role == Role::Customer),
            reason: text("reason", &r.reason, 0, 500)?,
            adjustment: adjustment(r.adjustment)?,
            line_numbers: r.line_numbers,
        });
        let cancelled = self.act(caller, origin, &r.reservation_id, command).await;
        metrics::counter!("yeyak_cancellations_total",
            "outcome" => yeyak_kit::metrics::outcome(&cancelled))
        .increment(1);
        cancelled
    }

    async fn complete(
        &self,
        request: Request<pb::CompleteRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = ReservationCommand::Complete {
            code: r.completion_code,
        };
        self.act(caller, origin, &r.reservation_id, command).await
    }

    async fn cancel_payment_only(
        &self,
        request: Request<pb::CancelPaymentOnlyRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let reason = text("reason", &r.reason, 0, 500)?;
        let command = ReservationCommand::CancelPaymentOnly { reason };
        self.act(caller, origin, &r.reservation_id, command).await
    }

    async fn mark_no_show(
        &self,
        request: Request<pb::MarkNoShowRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = ReservationCommand::MarkNoShow { no_show: r.no_show };
        self.act(caller, origin, &r.reservation_id, command).await
    }

    async fn set_default_reject_text(
        &self,
        request: Request<pb::SetDefaultRejectTextRequest>,
    ) -> Result<Response<pb::SetDefaultRejectTextResponse>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let partner = parse_uuid("partner_id", &r.partner_id)?;
        let text = text("text", &r.text, 0, 500)?;
        self.app
            .set_default_reject_text(&caller, &origin, partner, text.clone())
            .await
            .map_err(failure)?;
        Ok(Response::new(pb::SetDefaultRejectTextResponse {
            partner_id: partner.to_string(),
            text,
        }))
    }

    async fn set_completion_code(
        &self,
        request: Request<pb::SetCompletionCodeRequest>,
    ) -> Result<Response<pb::SetCompletionCodeResponse>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let partner = parse_uuid("partner_id", &r.partner_id)?;
        let code_set = self
            .app
            .set_completion_code(&caller, &origin, partner, &r.code)
            .await
            .map_err(failure)?;
        Ok(Response::new(pb::SetCompletionCodeResponse {
            partner_id: partner.to_string(),
            code_set,
        }))
    }

    async fn get_reservation(
        &self,
        request: Request<pb::GetReservationRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let id = parse_uuid("reservation_id", &r.reservation_id)?;
        let as_of = r
            .as_of
            .as_ref()
            .map(|t| {
                yeyak_proto::time::to_micros(t).ok_or_else(|| {
                    invalid_field("as_of", "OUT_OF_RANGE", "is not a valid timestamp")
                })
            })
            .transpose()?;
        let folded = self.app.get(&caller, id, as_of).await.map_err(failure)?;
        let payment = self.app.payment(id).await.map_err(failure)?;
        let mut reply = view(folded);
        reply.payment = payment_view(&payment);
        Ok(Response::new(reply))
    }

    async fn list_reservations(
        &self,
        request: Request<pb::ListReservationsRequest>,
    ) -> Result<Response<pb::ReservationPage>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let mut filter = self
            .list_filter(&caller, &r.partner_id, &r.place_id)
            .await?;
        if !r.date.is_empty() {
            r.date
                .parse::<jiff::civil::Date>()
                .map_err(|_| invalid_field("date", "MALFORMED", "a KST date, YYYY-MM-DD"))?;
            filter.day = Some(r.date.clone());
        }
        if r.state != 0 {
            filter.state = state_of(ReservationState::try_from(r.state).map_err(|_| {
                invalid_field("state", "UNKNOWN_ENUM_VALUE", "not a reservation state")
            })?);
        }
        (filter.limit, filter.after) =
            yeyak_kit::status::page(r.page_size, &r.page_token, "reservations")?;
        let (reservations, next) = self.app.list(&filter).await.map_err(failure)?;
        Ok(Response::new(pb::ReservationPage {
            reservations: reservations.into_iter().map(view).collect(),
            next_page_token: yeyak_kit::status::page_token(next),
        }))
    }

    async fn get_dashboard(
        &self,
        request: Request<pb::GetDashboardRequest>,
    ) -> Result<Response<pb::Dashboard>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let filter = self
            .list_filter(&caller, &r.partner_id, &r.place_id)
            .await?;
        let latest = |state| listing::Filter {
            state: Some(state),
            limit: 10,
            ..filter.clone()
        };
        let (requested, _) = self
            .app
            .list(&latest(crate::domain::reservation::State::Requested))
            .await
            .map_err(failure)?;
        let (confirmed, _) = self
            .app
            .list(&latest(crate::domain::reservation::State::Confirmed))
            .await
            .map_err(failure)?;
        Ok(Response::new(pb::Dashboard {
            latest_requested: requested.into_iter().map(view).collect(),
            latest_confirmed: confirmed.into_iter().map(view).collect(),
        }))
    }

    async fn get_reservation_history(
        &self,
        request: Request<pb::GetReservationHistoryRequest>,
    ) -> Result<Response<pb::ReservationHistory>, Status> {
        let caller = Caller::of(&request)?;
        let id = parse_uuid("reservation_id", &request.get_ref().reservation_id)?;
        let events = self.app.history(&caller, id).await.map_err(failure)?;
        Ok(Response::new(pb::ReservationHistory {
            reservation_id: id.to_string(),
            events: events
                .into_iter()
                .map(|e| pb::HistoryEntry {
                    version: e.stream_version,
                    event_id: e.event_id.to_string(),
                    payload: Some(prost_types::Any {
                        type_url: format!("type.googleapis.com/{}", e.event_type),
                        value: e.payload,
                    }),
                    event_type: e.event_type,
                    occurred_at: Some(yeyak_proto::time::from_micros(e.metadata.occurred_at_us)),
                    recorded_at: Some(yeyak_proto::time::from_micros(e.recorded_at_us)),
                    actor: e.metadata.actor,
                })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reservations_rpc_states_who_may_call_it() {
        assert!(POLICY.service_exists(yeyak_proto::FILE_DESCRIPTOR_SET));
        assert_eq!(
            POLICY.unlisted_methods(yeyak_proto::FILE_DESCRIPTOR_SET),
            Vec::<String>::new()
        );
    }
}
