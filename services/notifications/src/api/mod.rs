//! The notifications' gRPC API: requests to commands and queries, state to replies, failures to
//! statuses ([`refusal`], the one place), and who may call what ([`POLICY`]).
pub mod output;
pub mod refusal;

use tonic::{Request, Response, Status};
use yeyak_kit::{
    auth::{Caller, Policy, Role},
    command::Origin,
    status::{page, parse_uuid},
};
use yeyak_proto::notifications::v1::{
    self as pb, notifications_service_server::NotificationsService,
};

use crate::{
    app::{
        ChangeMessage, Listed, Notifications, SetPreferences, Switches,
        inquiries::{AcceptConsult, OpenInquiry, RequestConsult},
        templates::ChangeTemplate,
    },
    domain::delivery::DeliveryCommand,
};
use refusal::failure;

/// Who may call each notifications RPC. The operator check (which partner, which role, which
/// places) follows in the application.
pub static POLICY: Policy = Policy {
    service: "yeyak.notifications.v1.NotificationsService",
    rules: &[
        (
            "ListPartnerMessages",
            &[Role::PartnerOperator, Role::PlatformOps],
        ),
        (
            "SetPartnerPreferences",
            &[Role::PartnerOperator, Role::PlatformOps],
        ),
        (
            "GetPartnerPreferences",
            &[Role::PartnerOperator, Role::PlatformOps],
        ),
        (
            "ListPartnerNotifications",
            &[Role::PartnerOperator, Role::PlatformOps],
        ),
        ("ListMyNotifications", &[Role::Customer]),
        (
            "GetNotification",
            &[
                Role::Customer,
                Role::PartnerOperator,
                Role::PlatformOps,
                Role::InternalService,
            ],
        ),
        ("ListGaveUpNotifications", &[Role::PlatformOps]),
        ("RetryNotification", &[Role::PlatformOps]),
        ("ReportDelivery", &[Role::InternalService]),
        ("RegisterTemplate", &[Role::PlatformOps]),
        ("ReviewTemplate", &[Role::PlatformOps]),
        ("GetTemplate", &[Role::PlatformOps]),
        ("OpenInquiry", &[Role::Customer]),
        ("RequestConsult", &[Role::PartnerOperator]),
        ("AcceptConsult", &[Role::Customer]),
    ],
};

pub struct NotificationsApi {
    app: Notifications,
}

impl NotificationsApi {
    pub fn new(app: Notifications) -> Self {
        Self { app }
    }

    /// Runs a change of the message `message_id` names, for a command request.
    async fn change_message<M: prost::Message>(
        &self,
        request: &Request<M>,
        (request_id, message_id): (&str, &str),
        change: DeliveryCommand,
    ) -> Result<Response<pb::Notification>, Status> {
        let (caller, origin, _) = Caller::command_of(request, request_id)?;
        let command = ChangeMessage {
            message_id: parse_uuid("message_id", message_id)?,
            change,
        };
        let listed = self
            .app
            .change_message(&caller, &origin, &command)
            .await
            .map_err(failure)?;
        Ok(Response::new(output::notification(listed)))
    }

    async fn template(
        &self,
        origin: &Origin,
        command: &ChangeTemplate,
    ) -> Result<Response<pb::Template>, Status> {
        let template = self
            .app
            .change_template(origin, command)
            .await
            .map_err(failure)?;
        Ok(Response::new(output::template(template)))
    }
}

fn message_pb(listed: Listed) -> pb::PartnerMessage {
    let m = listed.message;
    pb::PartnerMessage {
        message_id: m.message_id,
        reservation_id: m.reservation_id,
        kind: m.kind,
        mandatory: m.mandatory,
        text: m.text,
        recorded_at: Some(yeyak_proto::time::from_micros(listed.recorded_at_us)),
    }
}

#[tonic::async_trait]
impl NotificationsService for NotificationsApi {
    async fn list_partner_messages(
        &self,
        request: Request<pb::ListPartnerMessagesRequest>,
    ) -> Result<Response<pb::ListPartnerMessagesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let asked = page(r.page_size, &r.page_token, "messages")?;
        let (listed, next) = self
            .app
            .messages(&caller, partner_id, asked)
            .await
            .map_err(failure)?;
        Ok(Response::new(pb::ListPartnerMessagesResponse {
            messages: listed.into_iter().map(message_pb).collect(),
            next_page_token: yeyak_kit::status::page_token(next),
        }))
    }

    async fn set_partner_preferences(
        &self,
        request: Request<pb::SetPartnerPreferencesRequest>,
    ) -> Result<Response<pb::PartnerPreferences>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = SetPreferences {
            caller,
            partner_id: parse_uuid("partner_id", &r.partner_id)?,
            muted: r.muted,
            switches: Switches {
                requested_alerts: r.requested_alerts,
                confirm_cancel_alerts: r.confirm_cancel_alerts,
                night_delivery_allowed: r.night_delivery_allowed,
            },
        };
        let preferences = self
            .app
            .set_preferences(&origin, &command)
            .await
            .map_err(failure)?;
        let now = self.app.runner().clock().now_us();
        Ok(Response::new(output::preferences(
            command.partner_id.to_string(),
            preferences,
            now,
        )))
    }

    async fn get_partner_preferences(
        &self,
        request: Request<pb::GetPartnerPreferencesRequest>,
    ) -> Result<Response<pb::PartnerPreferences>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let at = match &r.as_of {
            Some(t) => yeyak_proto::time::to_micros(t).ok_or_else(|| {
                yeyak_kit::status::invalid_field("as_of", "OUT_OF_RANGE", "not a valid instant")
            })?,
            None => self.app.runner().clock().now_us(),
        };
        let preferences = self
            .app
            .preferences_at(&caller, partner_id, at)
            .await
            .map_err(failure)?;
        Ok(Response::new(output::preferences(
            partner_id.to_string(),
            preferences,
            at,
        )))
    }

    async fn list_partner_notifications(
        &self,
        request: Request<pb::ListPartnerNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        let place_id = match r.place_id.as_str() {
            "" => None,
            p => Some(parse_uuid("place_id", p)?),
        };
        let asked = page(r.page_size, &r.page_token, "notifications")?;
        let listed = self
            .app
            .partner_messages(&caller, partner_id, place_id, asked)
            .await
            .map_err(failure)?;
        Ok(Response::new(output::page(listed)))
    }

    async fn list_my_notifications(
        &self,
        request: Request<pb::ListMyNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let asked = page(r.page_size, &r.page_token, "notifications")?;
        let listed = self
            .app
            .my_messages(&caller, asked)
            .await
            .map_err(failure)?;
        Ok(Response::new(output::page(listed)))
    }

    async fn get_notification(
        &self,
        request: Request<pb::GetNotificationRequest>,
    ) -> Result<Response<pb::Notification>, Status> {
        let caller = Caller::of(&request)?;
        let message_id = parse_uuid("message_id", &request.get_ref().message_id)?;
        let listed = self
            .app
            .message(&caller, message_id)
            .await
            .map_err(failure)?;
        Ok(Response::new(output::notification(listed)))
    }

    async fn list_gave_up_notifications(
        &self,
        request: Request<pb::ListGaveUpNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let r = request.get_ref();
        let asked = page(r.page_size, &r.page_token, "notifications")?;
        let listed = self.app.gave_up(asked).await.map_err(failure)?;
        Ok(Response::new(output::page(listed)))
    }

    async fn retry_notification(
        &self,
        request: Request<pb::RetryNotificationRequest>,
    ) -> Result<Response<pb::Notification>, Status> {
        let (caller, ..) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let change = DeliveryCommand::Retry { by: caller.subject };
        self.change_message(
            &request,
            (&request.get_ref().request_id, &request.get_ref().message_id),
            change,
        )
        .await
    }

    async fn report_delivery(
        &self,
        request: Request<pb::ReportDeliveryRequest>,
    ) -> Result<Response<pb::Notification>, Status> {
        self.change_message(
            &request,
            (&request.get_ref().request_id, &request.get_ref().message_id),
            DeliveryCommand::Delivered,
        )
        .await
    }

    async fn register_template(
        &self,
        request: Request<pb::RegisterTemplateRequest>,
    ) -> Result<Response<pb::Template>, Status> {
        let (_, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let command = ChangeTemplate::register(&r.code, &r.text);
        self.template(&origin, &command).await
    }

    async fn review_template(
        &self,
        request: Request<pb::ReviewTemplateRequest>,
    ) -> Result<Response<pb::Template>, Status> {
        let (_, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let command = ChangeTemplate::review(&r.code, r.approved, &r.reason);
        self.template(&origin, &command).await
    }

    async fn get_template(
        &self,
        request: Request<pb::GetTemplateRequest>,
    ) -> Result<Response<pb::Template>, Status> {
        let template = self
            .app
            .template(&request.get_ref().code)
            .await
            .map_err(failure)?;
        Ok(Response::new(output::template(template)))
    }

    async fn open_inquiry(
        &self,
        request: Request<pb::OpenInquiryRequest>,
    ) -> Result<Response<pb::Inquiry>, Status> {
        let (caller, origin, request_id) =
            Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let (reservation_id, product_id) = match (r.reservation_id.as_str(), r.product_id.as_str())
        {
            (id, "") if !id.is_empty() => (Some(parse_uuid("reservation_id", id)?), None),
            ("", id) if !id.is_empty() => (None, Some(parse_uuid("product_id", id)?)),
            _ => {
                return Err(yeyak_kit::status::invalid_field(
                    "reservation_id",
                    "ONE_OF_REQUIRED",
                    "name a reservation or a product, one of the two",
                ));
            }
        };
        let command = OpenInquiry {
            caller,
            request_id,
            reservation_id,
            product_id,
        };
        let opened = self
            .app
            .open_inquiry(&origin, &command)
            .await
            .map_err(failure)?;
        Ok(Response::new(pb::Inquiry {
            inquiry_id: opened.inquiry_id,
            partner_id: opened.partner_id,
            channel_id: opened.channel_id,
            reservation_id: opened.reservation_id,
            product_id: opened.product_id,
        }))
    }

    async fn request_consult(
        &self,
        request: Request<pb::RequestConsultRequest>,
    ) -> Result<Response<pb::Consult>, Status> {
        let (caller, origin, request_id) =
            Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let command = RequestConsult {
            caller,
            request_id,
            reservation_id: parse_uuid("reservation_id", &r.reservation_id)?,
            topic: r.topic.clone(),
        };
        let (requested, message_id) = self
            .app
            .request_consult(&origin, &command)
            .await
            .map_err(failure)?;
        Ok(Response::new(pb::Consult {
            consult_id: requested.consult_id,
            reservation_id: requested.reservation_id,
            channel_id: String::new(),
            accepted: false,
            message_id,
        }))
    }

    async fn accept_consult(
        &self,
        request: Request<pb::AcceptConsultRequest>,
    ) -> Result<Response<pb::Consult>, Status> {
        let (caller, origin, _) = Caller::command_of(&request, &request.get_ref().request_id)?;
        let r = request.get_ref();
        let command = AcceptConsult {
            caller,
            consult_id: parse_uuid("consult_id", &r.consult_id)?,
        };
        let consult = self
            .app
            .accept_consult(&origin, &command)
            .await
            .map_err(failure)?;
        let requested = consult.requested.unwrap_or_default();
        Ok(Response::new(pb::Consult {
            consult_id: requested.consult_id,
            reservation_id: requested.reservation_id,
            channel_id: String::new(),
            accepted: consult.accepted,
            message_id: String::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notifications_rpc_states_who_may_call_it() {
        assert!(POLICY.service_exists(yeyak_proto::FILE_DESCRIPTOR_SET));
        assert_eq!(
            POLICY.unlisted_methods(yeyak_proto::FILE_DESCRIPTOR_SET),
            Vec::<String>::new()
        );
    }
}
