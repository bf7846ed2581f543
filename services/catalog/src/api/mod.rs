//! The catalog's gRPC API: requests to commands ([`input`]), state to replies ([`output`]),
//! failures to statuses ([`refusal`], the one place), and who may call what ([`POLICY`]).
mod input;
mod output;
mod policy;
pub mod refusal;

use std::collections::BTreeSet;

use tonic::{Request, Response, Status};
use uuid::Uuid;
use yeyak_kit::{
    auth::{Caller, Role},
    command::Origin,
    events::created_id,
    status::{parse_uuid, request_id, text},
};
use yeyak_proto::catalog::{
    events::v1::{OperatorRole, ProductStatus, VisibilityLevel},
    v1::{self as pb, catalog_service_server::CatalogService},
};

use crate::{
    app::{Catalog, OnPartner, OnPlace, OnProduct, PartnerAuth},
    domain::{
        access::Action,
        partner::{InviteOperator, PartnerCommand, RegisterPartner},
        place::{PlaceCommand, RegisterPlace},
        product::ProductCommand,
        schedule,
    },
};
use input::{generator, parse_enum, product_spec, registration_number, schedule_spec};
use output::{partner_pb, place_pb, product_pb};
pub use policy::POLICY;
use refusal::{failure, refusal};

pub struct CatalogApi {
    app: Catalog,
}

impl CatalogApi {
    pub fn new(app: Catalog) -> Self {
        Self { app }
    }
}

fn manage(place: &str) -> Action<'_> {
    Action::ManagePlace(place)
}
fn pause(place: &str) -> Action<'_> {
    Action::PausePlace(place)
}
fn delete(place: &str) -> Action<'_> {
    Action::DeleteProduct(place)
}
fn register_place(_: &str) -> Action<'_> {
    Action::RegisterPlace
}
/// Reviewer and sanction RPCs: platform operations only (the policy, and no operator role).
fn review_action(_: &str) -> Action<'_> {
    Action::Review
}

impl CatalogApi {
    /// A product as the caller sees it: operators (active, granted the place) and staff see
    /// drafts and pending revisions; customers only the live version of a shown product.
    async fn product_reply(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Response<pb::Product>, Status> {
        let view = self.app.product_view(id).await.map_err(failure)?;
        let manager = match caller.role {
            Role::Customer => false,
            Role::PartnerOperator => {
                let r = view.product.registered.clone().unwrap_or_default();
                let partner = Uuid::parse_str(&r.partner_id).unwrap_or_default();
                self.app
                    .authorize(caller, partner, Action::ReadPlace(&r.place_id))
                    .await
                    .map_err(failure)?;
                true
            }
            Role::PlatformOps | Role::InternalService => true,
        };
        Ok(Response::new(product_pb(view, !manager)?))
    }

    async fn partner_reply(&self, id: Uuid) -> Result<Response<pb::Partner>, Status> {
        let partner = self.app.partner(id).await.map_err(failure)?;
        Ok(Response::new(partner_pb(partner)?))
    }

    async fn place_reply(&self, id: Uuid) -> Result<Response<pb::Place>, Status> {
        let place = self.app.place(id).await.map_err(failure)?;
        Ok(Response::new(place_pb(place)?))
    }

    /// Runs a partner command and answers with the partner.
    async fn on_partner(
        &self,
        origin: Origin,
        command: OnPartner,
    ) -> Result<Response<pb::Partner>, Status> {
        self.app.run(&origin, &command).await.map_err(failure)?;
        self.partner_reply(command.partner_id).await
    }

    /// Runs a place command and answers with the place.
    async fn on_place(
        &self,
        origin: Origin,
        caller: Caller,
        place_id: &str,
        action: fn(&str) -> Action<'_>,
        command: PlaceCommand,
    ) -> Result<Response<pb::Place>, Status> {
        let place_id = parse_uuid("place_id", place_id)?;
        let command = OnPlace {
            caller,
            place_id,
            action,
            command,
        };
        self.app.run(&origin, &command).await.map_err(failure)?;
        self.place_reply(place_id).await
    }

    /// Runs a product command and answers with the product as the caller sees it.
    async fn on_product(
        &self,
        origin: Origin,
        caller: Caller,
        product_id: &str,
        action: fn(&str) -> Action<'_>,
        command: ProductCommand,
    ) -> Result<Response<pb::Product>, Status> {
        let product_id = parse_uuid("product_id", product_id)?;
        let reply_to = match &command {
            ProductCommand::CopyTo { product_id } => {
                Uuid::parse_str(product_id).unwrap_or_default()
            }
            _ => product_id,
        };
        let run = OnProduct {
            caller: caller.clone(),
            product_id,
            place_id: None,
            action,
            command,
        };
        self.app.run(&origin, &run).await.map_err(failure)?;
        self.product_reply(&caller, reply_to).await
    }
}

/// The caller and the origin (actor, request id, what was asked) of a command request.
fn command_of<M: prost::Message>(
    request: &Request<M>,
    request_id_field: &str,
) -> Result<(Caller, Origin), Status> {
    let (caller, origin, _) = Caller::command_of(request, request_id_field)?;
    Ok((caller, origin))
}

#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn register_partner(
        &self,
        request: Request<pb::RegisterPartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let partner_id = created_id("partner", &caller.actor(), request_id);
        let cmd = RegisterPartner {
            partner_id,
            name: text("name", &r.name, 1, 100)?,
            business_registration_number: registration_number(&r.business_registration_number)?,
            channel_id: text("channel_id", &r.channel_id, 0, 100)?,
            channel_business_verified: r.channel_business_verified,
            industry: text("industry", &r.industry, 0, 50)?,
            channel_has_home_card: r.channel_has_home_card,
            channel_has_custom_menu: r.channel_has_custom_menu,
            owner_operator_id: text("owner_operator_id", &r.owner_operator_id, 1, 200)?,
        };
        let command = OnPartner {
            caller,
            partner_id,
            auth: PartnerAuth::Policy,
            command: PartnerCommand::Register(cmd),
        };
        self.on_partner(origin, command).await
    }

    async fn get_partner(
        &self,
        request: Request<pb::GetPartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = Caller::of(&request)?;
        let id = parse_uuid("partner_id", &request.get_ref().partner_id)?;
        self.app
            .authorize(&caller, id, Action::Read)
            .await
            .map_err(failure)?;
        self.partner_reply(id).await
    }

    async fn record_channel_settings(
        &self,
        request: Request<pb::RecordChannelSettingsRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = OnPartner {
            caller,
            partner_id: parse_uuid("partner_id", &r.partner_id)?,
            auth: PartnerAuth::Action(Action::SetPartnerFacts),
            command: PartnerCommand::RecordChannelSettings {
                one_to_one_chat: r.one_to_one_chat,
                chatbot_with_chat: r.chatbot_with_chat,
            },
        };
        self.on_partner(origin, command).await
    }

    async fn invite_operator(
        &self,
        request: Request<pb::InviteOperatorRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let places = if r.all_places {
            None
        } else {
            let mut ids = BTreeSet::new();
            for p in &r.place_ids {
                ids.insert(parse_uuid("place_ids", p)?.to_string());
            }
            Some(ids)
        };
        let invitation = InviteOperator {
            operator_id: text("operator_id", &r.operator_id, 1, 200)?,
            role: parse_enum::<OperatorRole>("role", r.role)?,
            places,
        };
        let by = (caller.role == Role::PartnerOperator).then(|| caller.subject.clone());
        let command = OnPartner {
            caller,
            partner_id: parse_uuid("partner_id", &r.partner_id)?,
            auth: PartnerAuth::Action(Action::InviteOperators),
            command: PartnerCommand::InviteOperator { invitation, by },
        };
        self.on_partner(origin, command).await
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let operator_id = caller.subject.clone();
        let command = OnPartner {
            caller,
            partner_id: parse_uuid("partner_id", &r.partner_id)?,
            auth: PartnerAuth::Token,
            command: PartnerCommand::AcceptInvitation { operator_id },
        };
        self.on_partner(origin, command).await
    }

    async fn register_place(
        &self,
        request: Request<pb::RegisterPlaceRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let place_id = created_id("place", &caller.actor(), request_id);
        let cmd = RegisterPlace {
            place_id,
            partner_id: parse_uuid("partner_id", &r.partner_id)?,
            name: text("name", &r.name, 1, 100)?,
            address: text("address", &r.address, 1, 200)?,
        };
        self.on_place(
            origin,
            caller,
            &place_id.to_string(),
            register_place,
            PlaceCommand::Register(cmd),
        )
        .await
    }

    async fn submit_place(
        &self,
        request: Request<pb::PlaceRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        self.on_place(origin, caller, &r.place_id, manage, PlaceCommand::Submit)
            .await
    }

    async fn review_place(
        &self,
        request: Request<pb::ReviewRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = PlaceCommand::Review {
            approve: r.approve,
            reason: r.reason,
        };
        self.on_place(origin, caller, &r.id, review_action, command)
            .await
    }

    async fn set_place_paused(
        &self,
        request: Request<pb::SetPlacePausedRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        self.on_place(
            origin,
            caller,
            &r.place_id,
            pause,
            PlaceCommand::SetPaused(r.paused),
        )
        .await
    }

    async fn reorder_products(
        &self,
        request: Request<pb::ReorderProductsRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let mut order = Vec::with_capacity(r.product_ids.len());
        for id in &r.product_ids {
            order.push(parse_uuid("product_ids", id)?.to_string());
        }
        self.on_place(
            origin,
            caller,
            &r.place_id,
            manage,
            PlaceCommand::Reorder(order),
        )
        .await
    }

    async fn get_place_page(
        &self,
        request: Request<pb::GetPlacePageRequest>,
    ) -> Result<Response<pb::PlacePage>, Status> {
        let id = parse_uuid("place_id", &request.get_ref().place_id)?;
        let (place, views) = self.app.place_page(id).await.map_err(failure)?;
        let r = place.registered.unwrap_or_default();
        Ok(Response::new(pb::PlacePage {
            place_id: r.place_id,
            name: r.name,
            address: r.address,
            products: views
                .into_iter()
                .map(|v| product_pb(v, true))
                .collect::<Result<_, _>>()?,
        }))
    }

    async fn register_product(
        &self,
        request: Request<pb::RegisterProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let place_id = parse_uuid("place_id", &r.place_id)?;
        let product_id = created_id("product", &caller.actor(), request_id);
        let spec = product_spec(r.product.as_ref())?;
        let run = OnProduct {
            caller: caller.clone(),
            product_id,
            place_id: Some(place_id),
            action: manage,
            command: ProductCommand::Register {
                product_id: product_id.to_string(),
                spec,
            },
        };
        self.app.run(&origin, &run).await.map_err(failure)?;
        self.product_reply(&caller, product_id).await
    }

    async fn edit_product(
        &self,
        request: Request<pb::EditProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let spec = product_spec(r.product.as_ref())?;
        self.on_product(
            origin,
            caller,
            &r.product_id,
            manage,
            ProductCommand::Edit(spec),
        )
        .await
    }

    async fn submit_product(
        &self,
        request: Request<pb::ProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        self.on_product(
            origin,
            caller,
            &r.product_id,
            manage,
            ProductCommand::Submit,
        )
        .await
    }

    async fn review_product(
        &self,
        request: Request<pb::ReviewRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = ProductCommand::Review {
            approve: r.approve,
            reason: r.reason,
        };
        self.on_product(origin, caller, &r.id, review_action, command)
            .await
    }

    async fn sanction_product(
        &self,
        request: Request<pb::SanctionProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = ProductCommand::Sanction { reason: r.reason };
        self.on_product(origin, caller, &r.product_id, review_action, command)
            .await
    }

    async fn set_product_status(
        &self,
        request: Request<pb::SetProductStatusRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let status = parse_enum::<ProductStatus>("status", r.status)?;
        self.on_product(
            origin,
            caller,
            &r.product_id,
            manage,
            ProductCommand::SetStatus(status),
        )
        .await
    }

    async fn add_schedules(
        &self,
        request: Request<pb::AddSchedulesRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let mut specs = r
            .schedules
            .iter()
            .map(schedule_spec)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(g) = &r.generate {
            specs.extend(schedule::generate_slots(&generator(g)?).map_err(refusal)?);
        }
        self.on_product(
            origin,
            caller,
            &r.product_id,
            manage,
            ProductCommand::AddSchedules(specs),
        )
        .await
    }

    async fn change_capacity(
        &self,
        request: Request<pb::ChangeCapacityRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = ProductCommand::ChangeCapacity {
            inventory_key: r.inventory_key,
            capacity: r.capacity,
        };
        self.on_product(origin, caller, &r.product_id, manage, command)
            .await
    }

    async fn set_visibility(
        &self,
        request: Request<pb::SetVisibilityRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let command = ProductCommand::SetVisibility {
            level: parse_enum::<VisibilityLevel>("level", r.level)?,
            target_id: r.target_id,
            visible: r.visible,
        };
        self.on_product(origin, caller, &r.product_id, manage, command)
            .await
    }

    async fn copy_product(
        &self,
        request: Request<pb::CopyProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let copy = created_id("product", &caller.actor(), request_id);
        let command = ProductCommand::CopyTo {
            product_id: copy.to_string(),
        };
        self.on_product(origin, caller, &r.product_id, manage, command)
            .await
    }

    async fn delete_product(
        &self,
        request: Request<pb::ProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let (caller, origin) = command_of(&request, &request.get_ref().request_id)?;
        let r = request.into_inner();
        self.on_product(
            origin,
            caller,
            &r.product_id,
            delete,
            ProductCommand::Delete,
        )
        .await
    }

    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let id = parse_uuid("product_id", &request.get_ref().product_id)?;
        self.product_reply(&caller, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_rpc_states_who_may_call_it() {
        assert!(POLICY.service_exists(yeyak_proto::FILE_DESCRIPTOR_SET));
        assert_eq!(
            POLICY.unlisted_methods(yeyak_proto::FILE_DESCRIPTOR_SET),
            Vec::<String>::new()
        );
    }

    #[test]
    fn registration_numbers_accept_dashes_only() {
        assert_eq!(registration_number("123-45-67891").unwrap(), "1234567891");
        assert!(registration_number("123 45 67891").is_err());
        assert!(registration_number("12345678912").is_err());
    }
}
