//! The settlement's gRPC API: requests to queries, state to replies, failures to statuses
//! ([`refusal`], the one place), and who may call what ([`POLICY`]).
pub mod refusal;

use tonic::{Request, Response, Status};
use yeyak_kit::{
    auth::{Caller, Policy, Role},
    status::parse_uuid,
};
use yeyak_proto::settlement::v1::{self as pb, settlement_service_server::SettlementService};

use crate::app::Settlement;
use refusal::failure;

/// Who may call each settlement RPC. The operator check (which partner, which role, which
/// places) follows in the application.
pub static POLICY: Policy = Policy {
    service: "yeyak.settlement.v1.SettlementService",
    rules: &[(
        "ListSettlementLines",
        &[Role::PartnerOperator, Role::PlatformOps],
    )],
};

pub struct SettlementApi {
    app: Settlement,
}

impl SettlementApi {
    pub fn new(app: Settlement) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl SettlementService for SettlementApi {
    async fn list_settlement_lines(
        &self,
        request: Request<pb::ListSettlementLinesRequest>,
    ) -> Result<Response<pb::ListSettlementLinesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let partner_id = parse_uuid("partner_id", &request.get_ref().partner_id)?;
        let lines = self
            .app
            .lines(&caller, partner_id)
            .await
            .map_err(failure)?
            .into_iter()
            .map(|l| pb::SettlementLine {
                line_id: l.line_id,
                reservation_id: l.reservation_id,
                gross_krw: l.gross_krw,
                commission_krw: l.commission_krw,
                net_krw: l.net_krw,
                commission_bps: l.commission_bps,
            })
            .collect();
        Ok(Response::new(pb::ListSettlementLinesResponse { lines }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_settlement_rpc_states_who_may_call_it() {
        assert!(POLICY.service_exists(yeyak_proto::FILE_DESCRIPTOR_SET));
        assert_eq!(
            POLICY.unlisted_methods(yeyak_proto::FILE_DESCRIPTOR_SET),
            Vec::<String>::new()
        );
    }
}
