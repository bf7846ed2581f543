//! The notifications' gRPC API.
use tonic::{Request, Response, Status};
use yeyak_kit::{
    auth::{Caller, Policy, Role},
    status::{parse_uuid, request_id},
};
use yeyak_proto::notifications::v1::{
    self as pb, notifications_service_server::NotificationsService,
};

use crate::app::Notifications;

/// Who may call each notifications RPC; the partner scope is checked in the handlers.
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
    ],
};

pub struct NotificationsApi {
    app: Notifications,
}

impl NotificationsApi {
    pub fn new(app: Notifications) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl NotificationsService for NotificationsApi {
    async fn list_partner_messages(
        &self,
        request: Request<pb::ListPartnerMessagesRequest>,
    ) -> Result<Response<pb::ListPartnerMessagesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let partner_id = parse_uuid("partner_id", &request.get_ref().partner_id)?;
        caller.require_partner(partner_id)?;
        let messages = self
            .app
            .messages(partner_id)
            .await?
            .into_iter()
            .map(|(m, recorded_at_us)| pb::PartnerMessage {
                message_id: m.message_id,
                reservation_id: m.reservation_id,
                kind: m.kind,
                mandatory: m.mandatory,
                text: m.text,
                recorded_at: Some(yeyak_proto::time::from_micros(recorded_at_us)),
            })
            .collect();
        Ok(Response::new(pb::ListPartnerMessagesResponse { messages }))
    }

    async fn set_partner_preferences(
        &self,
        request: Request<pb::SetPartnerPreferencesRequest>,
    ) -> Result<Response<pb::PartnerPreferences>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        caller.require_partner(partner_id)?;
        let changed = self
            .app
            .set_preferences(&caller, request_id, partner_id, &r.muted)
            .await?;
        Ok(Response::new(pb::PartnerPreferences {
            partner_id: changed.partner_id,
            muted: changed.muted,
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
