//! Learns from the settlement's events whether each partner may sell paid products: every
//! `SellerStatusChanged` (settlement account, KYC, mail-order registration) is recorded on the
//! partner's stream, with its inbox row, through the command runner.
use uuid::Uuid;
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    auth::{Caller, PlaceScope, Role},
    command::{Origin, Runner},
    events::decode_as,
};
use yeyak_proto::{catalog::events::v1::MailOrder, settlement::events::v1::SellerStatusChanged};
use yeyak_transport::{EventHandler, HandlerError};

use super::commands::{OnPartner, PartnerAuth};
use crate::domain::partner::PartnerCommand;

/// Consumes the settlement's seller facts into `partner-<id>`.
pub struct SellerConsumer {
    runner: Runner,
}

impl SellerConsumer {
    pub const NAME: &'static str = "catalog-sellers";

    pub fn new(runner: Runner) -> Self {
        Self { runner }
    }
}

#[async_trait::async_trait]
impl EventHandler for SellerConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(status) = decode_as::<SellerStatusChanged>(event)
            .map_err(|e| HandlerError::Poison(e.to_string()))?
        else {
            return Ok(());
        };
        let Ok(partner_id) = Uuid::parse_str(&status.partner_id) else {
            return Err(HandlerError::Poison(
                "SellerStatusChanged names no partner".into(),
            ));
        };
        let command = OnPartner {
            caller: Caller {
                subject: crate::SETTLEMENT_SOURCE.into(),
                role: Role::InternalService,
                partner_id: None,
                places: PlaceScope::All,
            },
            partner_id,
            auth: PartnerAuth::Policy,
            command: PartnerCommand::RecordSellerVerification {
                settlement_account_verified: status.settlement_account_verified,
                kyc_verified: status.kyc_verified,
                mail_order: MailOrder::try_from(status.mail_order).unwrap_or_default(),
            },
        };
        self.runner
            .run(&Origin::reaction(Self::NAME, event), &command)
            .await?;
        Ok(())
    }
}
