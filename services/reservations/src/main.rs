//! The reservations service as its own process (Kubernetes): configured by the environment.
use std::sync::Arc;

use clap::Parser;
use yeyak_kit::config::CommonConfig;
use yeyak_transport::LogTailTransport;

#[derive(Parser, Debug)]
#[command(name = "yeyak-reservations", about = "yeyak reservations service")]
struct Config {
    #[command(flatten)]
    common: CommonConfig,
    /// The catalog's event log, tailed for product registrations.
    #[arg(long, env = "YEYAK_CATALOG_EVENTS_URL", hide_env_values = true)]
    catalog_events_url: String,
}

#[tokio::main]
async fn main() -> Result<(), yeyak_kit::config::BoxError> {
    let config = Config::parse();
    let _telemetry = yeyak_kit::telemetry::init("yeyak-reservations");
    let p = config
        .common
        .start(yeyak_reservations::DEFAULT_PORT)
        .await?;
    let catalog = yeyak_eventlog::connect(&config.catalog_events_url).await?;
    let transport = Arc::new(LogTailTransport::new(p.log.clone()).with_source("catalog", catalog));
    yeyak_reservations::serve(p.log, transport, p.auth, p.listener, p.shutdown).await
}
