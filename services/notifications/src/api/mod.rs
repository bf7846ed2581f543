//! The notifications' gRPC API: requests to commands and queries, state to replies, failures to
//! statuses ([`refusal`], the one place), and who may call what ([`POLICY`]).
pub mod refusal;

use tonic::{Request, Response, Status};
use yeyak_kit::{
    auth::{Caller, Policy, Role},
    command::Origin,
    status::{parse_uuid, request_id},
};
use yeyak_proto::notifications::v1::{
    self as pb, notifications_service_server::NotificationsService,
};

use crate::app::{Listed, Notifications, SetPreferences};
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
        let partner_id = parse_uuid("partner_id", &request.get_ref().partner_id)?;
        let messages = self
            .app
            .messages(&caller, partner_id)
            .await
            .map_err(failure)?
            .into_iter()
            .map(message_pb)
            .collect();
        Ok(Response::new(pb::ListPartnerMessagesResponse { messages }))
    }

    async fn set_partner_preferences(
        &self,
        request: Request<pb::SetPartnerPreferencesRequest>,
    ) -> Result<Response<pb::PartnerPreferences>, Status> {
        let caller = Caller::of(&request)?;
        let request_id = request_id(&request.get_ref().request_id)?;
        let origin = Origin::for_request(caller.actor(), request_id, request.get_ref());
        let r = request.into_inner();
        let command = SetPreferences {
            caller,
            partner_id: parse_uuid("partner_id", &r.partner_id)?,
            muted: r.muted,
        };
        let preferences = self
            .app
            .set_preferences(&origin, &command)
            .await
            .map_err(failure)?;
        Ok(Response::new(pb::PartnerPreferences {
            partner_id: command.partner_id.to_string(),
            muted: preferences.muted.into_iter().collect(),
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
