//! The settlement service as its own process (Kubernetes): configured by the environment.
use std::sync::Arc;

use clap::Parser;
use yeyak_kit::config::CommonConfig;
use yeyak_settlement::{DEFAULT_COMMISSION_BPS, domain::MAX_COMMISSION_BPS};
use yeyak_transport::LogTailTransport;

#[derive(Parser, Debug)]
#[command(name = "yeyak-settlement", about = "yeyak settlement service")]
struct Config {
    #[command(flatten)]
    common: CommonConfig,
    /// The reservations' event log, tailed for completed reservations.
    #[arg(long, env = "YEYAK_RESERVATIONS_EVENTS_URL", hide_env_values = true)]
    reservations_events_url: String,
    /// Reservation-management fee in basis points (300 = 3 %), charged on paid reservations.
    #[arg(long, env = "YEYAK_COMMISSION_BPS", default_value_t = DEFAULT_COMMISSION_BPS,
          value_parser = clap::value_parser!(u32).range(0..=MAX_COMMISSION_BPS as i64))]
    commission_bps: u32,
}

#[tokio::main]
async fn main() -> Result<(), yeyak_kit::config::BoxError> {
    let config = Config::parse();
    let _telemetry = yeyak_kit::telemetry::init("yeyak-settlement");
    let p = config.common.start(yeyak_settlement::DEFAULT_PORT).await?;
    let reservations = yeyak_eventlog::connect(&config.reservations_events_url).await?;
    let transport = Arc::new(
        LogTailTransport::new(p.log.clone())
            .with_source(yeyak_settlement::RESERVATIONS_SOURCE, reservations),
    );
    yeyak_settlement::serve(
        p.log,
        transport,
        p.auth,
        p.listener,
        config.commission_bps,
        p.shutdown,
    )
    .await
}
