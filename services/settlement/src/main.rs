//! The settlement service as its own process (Kubernetes): configured by the environment.
use clap::Parser;
use yeyak_kafka::KafkaArgs;
use yeyak_kit::config::{BoxError, CommonConfig};
use yeyak_settlement::{
    CATALOG_SOURCE, DEFAULT_COMMISSION_BPS, RESERVATIONS_SOURCE, domain::MAX_COMMISSION_BPS,
};

#[derive(Parser, Debug)]
#[command(name = "yeyak-settlement", about = "yeyak settlement service")]
struct Config {
    #[command(flatten)]
    common: CommonConfig,
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Without Kafka: the reservations' event log, tailed for completed reservations.
    #[arg(long, env = "YEYAK_RESERVATIONS_EVENTS_URL", hide_env_values = true)]
    reservations_events_url: Option<String>,
    /// Without Kafka: the catalog's event log, tailed for the partners' operators.
    #[arg(long, env = "YEYAK_CATALOG_EVENTS_URL", hide_env_values = true)]
    catalog_events_url: Option<String>,
    /// Reservation-management fee in basis points (300 = 3 %), charged on paid reservations.
    #[arg(long, env = "YEYAK_COMMISSION_BPS", default_value_t = DEFAULT_COMMISSION_BPS,
          value_parser = clap::value_parser!(u32).range(0..=MAX_COMMISSION_BPS as i64))]
    commission_bps: u32,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Config::parse();
    let _telemetry = yeyak_kit::telemetry::init("yeyak-settlement");
    let p = config.common.start(yeyak_settlement::DEFAULT_PORT).await?;
    let consumes = [
        (RESERVATIONS_SOURCE, config.reservations_events_url.clone()),
        (CATALOG_SOURCE, config.catalog_events_url.clone()),
    ];
    let (transport, relay) = yeyak_kafka::wire(
        &config.kafka,
        p.log.clone(),
        yeyak_settlement::SOURCE,
        &consumes,
        p.shutdown.clone(),
    )
    .await?;
    let served = yeyak_settlement::serve(
        p.log,
        transport,
        p.auth,
        p.listener,
        config.commission_bps,
        p.clock,
        p.shutdown.clone(),
    )
    .await;
    p.shutdown.cancel();
    if let Some(relay) = relay {
        relay.await??;
    }
    served
}
