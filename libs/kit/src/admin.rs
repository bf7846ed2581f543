//! The operations surface every service serves: consumer lag.
use tonic::{Request, Response, Status};
use yeyak_proto::admin::v1::{
    ConsumerLag, GetConsumerLagRequest, GetConsumerLagResponse,
    admin_service_server::{AdminService, AdminServiceServer},
};

use crate::auth::{Policy, Role};

/// Who may call the admin RPCs.
pub static POLICY: Policy = Policy {
    service: "yeyak.admin.v1.AdminService",
    rules: &[(
        "GetConsumerLag",
        &[Role::PlatformOps, Role::InternalService],
    )],
};

#[derive(Debug, Default, Clone, Copy)]
pub struct Admin;

#[tonic::async_trait]
impl AdminService for Admin {
    async fn get_consumer_lag(
        &self,
        _: Request<GetConsumerLagRequest>,
    ) -> Result<Response<GetConsumerLagResponse>, Status> {
        let consumers = yeyak_transport::lag::snapshot()
            .into_iter()
            .map(|(consumer, topic, partition, lag)| ConsumerLag {
                consumer,
                topic,
                partition,
                lag,
            })
            .collect();
        Ok(Response::new(GetConsumerLagResponse { consumers }))
    }
}

/// The admin service, ready to add to a server.
pub fn service() -> AdminServiceServer<Admin> {
    AdminServiceServer::new(Admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_admin_rpc_states_who_may_call_it() {
        assert!(POLICY.service_exists(yeyak_proto::FILE_DESCRIPTOR_SET));
        assert!(
            POLICY
                .unlisted_methods(yeyak_proto::FILE_DESCRIPTOR_SET)
                .is_empty()
        );
    }
}
