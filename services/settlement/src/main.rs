//! The settlement service as its own process (Kubernetes): configured by the environment.
use clap::Parser;
use yeyak_kafka::KafkaArgs;
use yeyak_kit::config::{BoxError, CommonConfig};
use yeyak_settlement::{CATALOG_SOURCE, RESERVATIONS_SOURCE, SettlementArgs};

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
    #[command(flatten)]
    settlement: SettlementArgs,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Config::parse();
    // A bad commission table stops the process before anything starts.
    let settings = config.settlement.settings()?;
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
        settings,
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
