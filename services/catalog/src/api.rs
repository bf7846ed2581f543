//! The catalog's gRPC API: proto ↔ domain, who may call what, errors → statuses.
use tonic::{Code, Request, Response, Status};
use yeyak_kit::{
    auth::{Caller, PlaceScope, Policy, Role},
    events::created_id,
    status::{invalid_field, parse_uuid, request_id, status, text},
};
use yeyak_proto::catalog::{
    events::v1::{
        ConfirmationMode, PartnerRegistered, PaymentMode, PlaceRegistered, ProductRegistered,
    },
    v1::{self as pb, catalog_service_server::CatalogService},
};

use crate::{
    app::Catalog,
    domain::{
        CatalogError,
        partner::RegisterPartner,
        place::RegisterPlace,
        product::{RegisterProduct, ScheduleInput},
    },
};

/// Who may call each catalog RPC. Resource checks (which partner, which place) follow in the handlers.
pub static POLICY: Policy = Policy {
    service: "yeyak.catalog.v1.CatalogService",
    rules: &[
        ("RegisterPartner", &[Role::PlatformOps]),
        (
            "GetPartner",
            &[
                Role::PlatformOps,
                Role::InternalService,
                Role::PartnerOperator,
            ],
        ),
        ("RegisterPlace", &[Role::PlatformOps, Role::PartnerOperator]),
        (
            "RegisterProduct",
            &[Role::PlatformOps, Role::PartnerOperator],
        ),
        (
            "GetProduct",
            &[
                Role::Customer,
                Role::PartnerOperator,
                Role::PlatformOps,
                Role::InternalService,
            ],
        ),
    ],
};

/// The one place catalog refusals become gRPC statuses.
pub fn domain_status(e: CatalogError) -> Status {
    match e {
        CatalogError::Invalid {
            field,
            reason,
            message,
        } => invalid_field(field, reason, message),
        CatalogError::NotFound { what, reason } => {
            status(Code::NotFound, reason, format!("{what} not found"))
        }
        CatalogError::AlreadyExists(what) => status(
            Code::AlreadyExists,
            "ALREADY_EXISTS",
            format!("{what} already exists"),
        ),
        CatalogError::Precondition { reason, message } => {
            status(Code::FailedPrecondition, reason, message)
        }
    }
}

pub struct CatalogApi {
    app: Catalog,
}

impl CatalogApi {
    pub fn new(app: Catalog) -> Self {
        Self { app }
    }
}

fn partner_pb(e: PartnerRegistered) -> pb::Partner {
    pb::Partner {
        partner_id: e.partner_id,
        name: e.name,
        business_registration_number: e.business_registration_number,
        channel_id: e.channel_id,
        channel_business_verified: e.channel_business_verified,
    }
}

fn place_pb(e: PlaceRegistered) -> pb::Place {
    pb::Place {
        place_id: e.place_id,
        partner_id: e.partner_id,
        name: e.name,
        address: e.address,
    }
}

fn product_pb(e: ProductRegistered) -> pb::Product {
    pb::Product {
        product_id: e.product_id,
        partner_id: e.partner_id,
        place_id: e.place_id,
        name: e.name,
        confirmation_mode: e.confirmation_mode,
        payment_mode: e.payment_mode,
        reservation_schedules: e.reservation_schedules,
    }
}

fn parse_enum<T: TryFrom<i32>>(field: &str, value: i32) -> Result<T, Status> {
    T::try_from(value).map_err(|_| {
        invalid_field(
            field,
            "UNKNOWN_ENUM_VALUE",
            format!("{value} is not a known value"),
        )
    })
}

/// A business registration number as digits only (dashes allowed in input).
fn registration_number(value: &str) -> Result<String, Status> {
    let digits: String = value.chars().filter(|c| *c != '-').collect();
    if digits.len() != 10 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid_field(
            "business_registration_number",
            "MALFORMED",
            "must be 10 digits, e.g. 123-45-67891",
        ));
    }
    Ok(digits)
}

#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn register_partner(
        &self,
        request: Request<pb::RegisterPartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let cmd = RegisterPartner {
            partner_id: created_id("partner", &caller.actor(), request_id),
            name: text("name", &r.name, 1, 100)?,
            business_registration_number: registration_number(&r.business_registration_number)?,
            channel_id: text("channel_id", &r.channel_id, 0, 100)?,
            channel_business_verified: r.channel_business_verified,
        };
        let partner = self.app.register_partner(&caller, request_id, cmd).await?;
        Ok(Response::new(partner_pb(partner)))
    }

    async fn get_partner(
        &self,
        request: Request<pb::GetPartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = Caller::of(&request)?;
        let id = parse_uuid("partner_id", &request.get_ref().partner_id)?;
        caller.require_partner(id)?;
        let (partner, _) = self.app.partner(id).await?;
        let partner = partner
            .registered
            .ok_or_else(|| status(Code::NotFound, "PARTNER_NOT_FOUND", "partner not found"))?;
        Ok(Response::new(partner_pb(partner)))
    }

    async fn register_place(
        &self,
        request: Request<pb::RegisterPlaceRequest>,
    ) -> Result<Response<pb::Place>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let partner_id = parse_uuid("partner_id", &r.partner_id)?;
        caller.require_partner(partner_id)?;
        if caller.role == Role::PartnerOperator && caller.places != PlaceScope::All {
            return Err(status(
                Code::PermissionDenied,
                "ALL_PLACES_REQUIRED",
                "only operators granted all places register places",
            ));
        }
        let cmd = RegisterPlace {
            place_id: created_id("place", &caller.actor(), request_id),
            partner_id,
            name: text("name", &r.name, 1, 100)?,
            address: text("address", &r.address, 1, 200)?,
        };
        let place = self.app.register_place(&caller, request_id, cmd).await?;
        Ok(Response::new(place_pb(place)))
    }

    async fn register_product(
        &self,
        request: Request<pb::RegisterProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let request_id = request_id(&r.request_id)?;
        let product_id = created_id("product", &caller.actor(), request_id);
        let schedules = r
            .schedules
            .iter()
            .enumerate()
            .map(|(n, s)| {
                let starts_at = s.starts_at.as_ref().ok_or_else(|| {
                    invalid_field("schedules.starts_at", "REQUIRED", "is required")
                })?;
                let starts_at_us = yeyak_proto::time::to_micros(starts_at).ok_or_else(|| {
                    invalid_field(
                        "schedules.starts_at",
                        "OUT_OF_RANGE",
                        "is not a valid timestamp",
                    )
                })?;
                Ok(ScheduleInput {
                    reservation_schedule_id: yeyak_kit::events::derived_id(
                        "reservation-schedule",
                        &product_id.to_string(),
                        n as u32,
                    ),
                    starts_at_us,
                    capacity: s.capacity,
                    price_krw: s.price_krw,
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let cmd = RegisterProduct {
            product_id,
            place_id: parse_uuid("place_id", &r.place_id)?,
            name: text("name", &r.name, 1, 100)?,
            confirmation_mode: parse_enum::<ConfirmationMode>(
                "confirmation_mode",
                r.confirmation_mode,
            )?,
            payment_mode: parse_enum::<PaymentMode>("payment_mode", r.payment_mode)?,
            schedules,
        };
        let product = self.app.register_product(&caller, request_id, cmd).await?;
        Ok(Response::new(product_pb(product)))
    }

    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let id = parse_uuid("product_id", &request.get_ref().product_id)?;
        let (product, _) = self.app.product(id).await?;
        let product = product
            .registered
            .ok_or_else(|| status(Code::NotFound, "PRODUCT_NOT_FOUND", "product not found"))?;
        Ok(Response::new(product_pb(product)))
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
