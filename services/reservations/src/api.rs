//! The reservations' gRPC API: proto ↔ domain, who may call what, errors → statuses.
use tonic::{Code, Request, Response, Status};
use yeyak_kit::{
    auth::{Caller, Policy, Role},
    status::{invalid_field, parse_uuid, request_id, status, text},
};
use yeyak_proto::reservations::events::v1::PaymentMethod;
use yeyak_proto::reservations::v1::{
    self as pb, ReservationState, reservations_service_server::ReservationsService,
};

use crate::{
    app::{Action, Reservations},
    domain::{
        ReservationError,
        operators::OperatorAction,
        reservation::{Adjustment, MAX_LINES, MAX_QUANTITY, Reservation, State},
    },
    listing,
};

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

/// The one place reservation refusals become gRPC statuses.
pub fn domain_status(e: ReservationError) -> Status {
    match e {
        ReservationError::Invalid {
            field,
            reason,
            message,
        } => invalid_field(field, reason, message),
        ReservationError::NotFound { what, reason } => {
            status(Code::NotFound, reason, format!("{what} not found"))
        }
        ReservationError::Precondition { reason, message } => {
            status(Code::FailedPrecondition, reason, message)
        }
        ReservationError::Forbidden { reason, message } => {
            status(Code::PermissionDenied, reason, message)
        }
    }
}

pub struct ReservationsApi {
    app: Reservations,
}

impl ReservationsApi {
    pub fn new(app: Reservations) -> Self {
        Self { app }
    }
}

pub fn state_pb(state: Option<State>) -> ReservationState {
    match state {
        None => ReservationState::Unspecified,
        Some(State::Requested) => ReservationState::Requested,
        Some(State::Confirmed) => ReservationState::Confirmed,
        Some(State::Rejected) => ReservationState::Rejected,
        Some(State::Cancelled) => ReservationState::Cancelled,
        Some(State::Completed) => ReservationState::Completed,
        Some(State::Expired) => ReservationState::Expired,
    }
}

fn reservation_pb(folded: (Reservation, u64)) -> Response<pb::Reservation> {
    Response::new(view(folded))
}

/// A reservation as the API shows it.
pub fn view((r, version): (Reservation, u64)) -> pb::Reservation {
    let lines = r
        .lines()
        .into_iter()
        .map(|l| pb::ReservationLineView {
            cancelled: r.cancelled_lines.contains(&l.line_number),
            line_number: l.line_number,
            reservation_schedule_id: l.reservation_schedule_id,
            quantity: l.quantity,
            unit_price_krw: l.unit_price_krw,
            paid_krw: l.paid_krw,
        })
        .collect();
    let quantity = r.live_quantity();
    let b = r.booked.unwrap_or_default();
    pb::Reservation {
        reservation_id: b.reservation_id,
        state: state_pb(r.state) as i32,
        customer_id: b.customer_id,
        partner_id: b.partner_id,
        place_id: b.place_id,
        product_id: b.product_id,
        reservation_schedule_id: b.reservation_schedule_id,
        starts_at: b.starts_at,
        quantity,
        unit_price_krw: b.unit_price_krw,
        paid_krw: b.paid_krw,
        refunded_krw: r.refunded_krw,
        payment_mode: b.payment_mode,
        version,
        cancellation_policy: b.cancellation_policy,
        answers: b.answers,
        booked_at: b.booked_at,
        cancellation_fee_krw: r.cancellation.as_ref().map_or(0, |c| c.fee_krw),
        ex_officio: r.cancellation.as_ref().is_some_and(|c| c.ex_officio),
        expires_at: b.expires_at,
        payment_cancelled: r.payment_cancelled,
        no_show: r.no_show,
        payment: None,
        lines,
        partial_cancel_restricted: b.partial_cancel_restricted,
    }
}

/// A booking's lines, from `lines` or from the one-line fields (exclusive).
fn book_lines(r: &pb::BookRequest) -> Result<Vec<(uuid::Uuid, u32)>, Status> {
    let quantity = |field: &str, q: u32| {
        if q == 0 || q > MAX_QUANTITY {
            Err(invalid_field(
                field,
                "OUT_OF_RANGE",
                format!("book 1 to {MAX_QUANTITY} seats"),
            ))
        } else {
            Ok(q)
        }
    };
    if r.lines.is_empty() {
        return Ok(vec![(
            parse_uuid("reservation_schedule_id", &r.reservation_schedule_id)?,
            quantity("quantity", r.quantity)?,
        )]);
    }
    if !r.reservation_schedule_id.is_empty() || r.quantity != 0 {
        return Err(invalid_field(
            "lines",
            "EXCLUSIVE",
            "give either lines, or reservation_schedule_id and quantity",
        ));
    }
    if r.lines.len() > MAX_LINES {
        return Err(invalid_field(
            "lines",
            "OUT_OF_RANGE",
            format!("a reservation has 1 to {MAX_LINES} lines"),
        ));
    }
    r.lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok((
                parse_uuid(
                    &format!("lines[{i}].reservation_schedule_id"),
                    &l.reservation_schedule_id,
                )?,
                quantity(&format!("lines[{i}].quantity"), l.quantity)?,
            ))
        })
        .collect()
}

/// The payment as the API shows it.
pub fn payment_view(p: &crate::payments::Payment) -> Option<pb::Payment> {
    let captured = p.captured.as_ref()?;
    Some(pb::Payment {
        method: captured.method,
        captured_krw: captured.amount_krw,
        refunded_krw: p.refunded_krw,
        refund_pending_krw: p.pending_krw(),
        credited_krw: p.credited_krw,
    })
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
        caller.require_partner(partner_id)?;
        let place_id = if place.is_empty() {
            None
        } else {
            Some(parse_uuid("place_id", place)?)
        };
        match place_id {
            Some(p) => caller.require_place(partner_id, p)?,
            None if caller.role == Role::PartnerOperator
                && caller.places != yeyak_kit::auth::PlaceScope::All =>
            {
                return Err(invalid_field(
                    "place_id",
                    "PLACE_REQUIRED",
                    "an operator granted some places names one",
                ));
            }
            None => {}
        }
        self.app
            .require_operator(
                caller,
                &partner_id.to_string(),
                place_id.map(|p| p.to_string()).as_deref(),
                OperatorAction::Read,
            )
            .await?;
        Ok(listing::Filter {
            partner_id,
            place_id,
            ..Default::default()
        })
    }

    async fn act(
        &self,
        caller: Caller,
        request_id: &str,
        reservation_id: &str,
        action: Action,
    ) -> Result<Response<pb::Reservation>, Status> {
        let request_id = yeyak_kit::status::request_id(request_id)?;
        let reservation_id = parse_uuid("reservation_id", reservation_id)?;
        self.app
            .act(&caller, request_id, reservation_id, action)
            .await
            .map(reservation_pb)
    }
}

#[tonic::async_trait]
impl ReservationsService for ReservationsApi {
    async fn book(
        &self,
        request: Request<pb::BookRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let lines = book_lines(&r)?;
        self.app
            .book(
                &caller,
                request_id,
                &lines,
                r.answers,
                PaymentMethod::try_from(r.payment_method).map_err(|_| {
                    invalid_field(
                        "payment_method",
                        "UNKNOWN_ENUM_VALUE",
                        "not a payment method",
                    )
                })?,
            )
            .await
            .map(reservation_pb)
    }

    async fn confirm(
        &self,
        request: Request<pb::ConfirmRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.act(caller, &r.request_id, &r.reservation_id, Action::Confirm)
            .await
    }

    async fn reject(
        &self,
        request: Request<pb::RejectRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let reason = text("reason", &r.reason, 0, 500)?;
        self.act(
            caller,
            &r.request_id,
            &r.reservation_id,
            Action::Reject { reason },
        )
        .await
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let reason = text("reason", &r.reason, 0, 500)?;
        let adjustment = match r.adjustment {
            Some(pb::cancel_request::Adjustment::FeeBps(fee_bps)) if fee_bps <= 10_000 => {
                Some(Adjustment::Rate { fee_bps })
            }
            Some(pb::cancel_request::Adjustment::FeeKrw(fee_krw)) if fee_krw >= 0 => {
                Some(Adjustment::Amount { fee_krw })
            }
            Some(_) => {
                return Err(invalid_field(
                    "adjustment",
                    "OUT_OF_RANGE",
                    "a fee is 0 to 10000 bps, or 0 won or more",
                ));
            }
            None => None,
        };
        self.act(
            caller,
            &r.request_id,
            &r.reservation_id,
            Action::Cancel {
                reason,
                adjustment,
                line_numbers: r.line_numbers,
            },
        )
        .await
    }

    async fn complete(
        &self,
        request: Request<pb::CompleteRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let code = r.completion_code.clone();
        self.act(
            caller,
            &r.request_id,
            &r.reservation_id,
            Action::Complete { code },
        )
        .await
    }

    async fn cancel_payment_only(
        &self,
        request: Request<pb::CancelPaymentOnlyRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let reason = text("reason", &r.reason, 0, 500)?;
        self.act(
            caller,
            &r.request_id,
            &r.reservation_id,
            Action::CancelPaymentOnly { reason },
        )
        .await
    }

    async fn mark_no_show(
        &self,
        request: Request<pb::MarkNoShowRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.act(
            caller,
            &r.request_id,
            &r.reservation_id,
            Action::MarkNoShow { no_show: r.no_show },
        )
        .await
    }

    async fn set_default_reject_text(
        &self,
        request: Request<pb::SetDefaultRejectTextRequest>,
    ) -> Result<Response<pb::SetDefaultRejectTextResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let partner = parse_uuid("partner_id", &r.partner_id)?;
        let text = text("text", &r.text, 0, 500)?;
        self.app
            .set_default_reject_text(&caller, request_id, partner, text.clone())
            .await?;
        Ok(Response::new(pb::SetDefaultRejectTextResponse {
            partner_id: partner.to_string(),
            text,
        }))
    }

    async fn set_completion_code(
        &self,
        request: Request<pb::SetCompletionCodeRequest>,
    ) -> Result<Response<pb::SetCompletionCodeResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let partner = parse_uuid("partner_id", &r.partner_id)?;
        let code_set = self
            .app
            .set_completion_code(&caller, request_id, partner, &r.code)
            .await?;
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
        let (r, version) = self.app.get(&caller, id, as_of).await?;
        let (payment, _) = self.app.payment(id).await?;
        let mut reply = view((r, version));
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
            filter.state = Some(ReservationState::try_from(r.state).map_err(|_| {
                invalid_field("state", "UNKNOWN_ENUM_VALUE", "not a reservation state")
            })?);
        }
        filter.limit = match r.page_size {
            0 => 20,
            n @ 1..=100 => n,
            _ => {
                return Err(invalid_field(
                    "page_size",
                    "OUT_OF_RANGE",
                    "a page has 1 to 100 reservations",
                ));
            }
        };
        if !r.page_token.is_empty() {
            let malformed =
                || invalid_field("page_token", "MALFORMED", "use the previous page's token");
            let (sort, key) = r.page_token.split_once(':').ok_or_else(malformed)?;
            filter.after = Some((sort.parse().map_err(|_| malformed())?, key.to_string()));
        }
        let (reservations, next) = listing::list(&**self.app.log(), &filter).await?;
        Ok(Response::new(pb::ReservationPage {
            reservations,
            next_page_token: next
                .map(|(sort, key)| format!("{sort}:{key}"))
                .unwrap_or_default(),
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
        let log = self.app.log();
        let (latest_requested, _) =
            listing::list(&**log, &latest(ReservationState::Requested)).await?;
        let (latest_confirmed, _) =
            listing::list(&**log, &latest(ReservationState::Confirmed)).await?;
        Ok(Response::new(pb::Dashboard {
            latest_requested,
            latest_confirmed,
        }))
    }

    async fn get_reservation_history(
        &self,
        request: Request<pb::GetReservationHistoryRequest>,
    ) -> Result<Response<pb::ReservationHistory>, Status> {
        let caller = Caller::of(&request)?;
        let id = parse_uuid("reservation_id", &request.get_ref().reservation_id)?;
        let events = self.app.history(&caller, id).await?;
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
