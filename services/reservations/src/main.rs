//! The reservations service as its own process (Kubernetes): configured by the environment.
use clap::Parser;
use yeyak_kafka::KafkaArgs;
use yeyak_kit::config::{BoxError, CommonConfig};

#[derive(Parser, Debug)]
#[command(name = "yeyak-reservations", about = "yeyak reservations service")]
struct Config {
    #[command(flatten)]
    common: CommonConfig,
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Without Kafka: the catalog's event log, tailed for product registrations.
    #[arg(long, env = "YEYAK_CATALOG_EVENTS_URL", hide_env_values = true)]
    catalog_events_url: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Config::parse();
    let _telemetry = yeyak_kit::telemetry::init("yeyak-reservations");
    let p = config
        .common
        .start(yeyak_reservations::DEFAULT_PORT)
        .await?;
    let consumes = [(
        yeyak_reservations::CATALOG_SOURCE,
        config.catalog_events_url.clone(),
    )];
    let (transport, relay) = yeyak_kafka::wire(
        &config.kafka,
        p.log.clone(),
        yeyak_reservations::SOURCE,
        &consumes,
        p.shutdown.clone(),
    )
    .await?;
    let served = yeyak_reservations::serve(
        p.log,
        transport,
        p.auth,
        p.listener,
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
