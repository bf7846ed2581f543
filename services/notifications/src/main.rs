//! The notifications service as its own process (Kubernetes): configured by the environment.
use std::sync::Arc;

use clap::Parser;
use yeyak_kit::config::CommonConfig;
use yeyak_transport::LogTailTransport;

#[derive(Parser, Debug)]
#[command(name = "yeyak-notifications", about = "yeyak notifications service")]
struct Config {
    #[command(flatten)]
    common: CommonConfig,
    /// The reservations' event log, tailed for reservation facts.
    #[arg(long, env = "YEYAK_RESERVATIONS_EVENTS_URL", hide_env_values = true)]
    reservations_events_url: String,
}

#[tokio::main]
async fn main() -> Result<(), yeyak_kit::config::BoxError> {
    let config = Config::parse();
    let _telemetry = yeyak_kit::telemetry::init("yeyak-notifications");
    let p = config
        .common
        .start(yeyak_notifications::DEFAULT_PORT)
        .await?;
    let reservations = yeyak_eventlog::connect(&config.reservations_events_url).await?;
    let transport = Arc::new(
        LogTailTransport::new(p.log.clone())
            .with_source(yeyak_notifications::RESERVATIONS_SOURCE, reservations),
    );
    yeyak_notifications::serve(p.log, transport, p.auth, p.listener, p.shutdown).await
}
