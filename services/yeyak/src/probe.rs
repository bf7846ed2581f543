//! `yeyak probe`: asks a service's `grpc.health.v1.Health` whether it serves, for container
//! health checks where no gRPC probe is built in (the compose file's healthchecks). Exits 0 when
//! the answer is `SERVING`, non-zero otherwise.
use std::time::Duration;

use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use yeyak_kit::config::BoxError;

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The service's gRPC address, `host:port`.
    #[arg(default_value = "127.0.0.1:50051")]
    pub addr: String,
    /// The health service name to ask about (empty: the whole server).
    #[arg(long, default_value = "")]
    pub service: String,
    /// How long to wait for the answer, in seconds.
    #[arg(long = "timeout-secs", default_value_t = 2)]
    pub timeout_secs: u64,
}

/// The serving status the service gives, or why none came.
pub async fn run(args: &ProbeArgs) -> Result<ServingStatus, BoxError> {
    let timeout = Duration::from_secs(args.timeout_secs);
    let ask = async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", args.addr))?
            .connect_timeout(timeout)
            .connect()
            .await?;
        let answer = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: args.service.clone(),
            })
            .await?;
        Ok::<_, BoxError>(answer.into_inner().status())
    };
    tokio::time::timeout(timeout, ask)
        .await
        .map_err(|_| format!("{}: no answer within {:?}", args.addr, timeout))?
}
