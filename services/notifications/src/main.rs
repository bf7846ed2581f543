//! The notifications service as its own process (Kubernetes): configured by the environment.
use clap::Parser;
use yeyak_kafka::KafkaArgs;
use yeyak_kit::config::{BoxError, CommonConfig};
use yeyak_notifications::{CATALOG_SOURCE, RESERVATIONS_SOURCE};

#[derive(Parser, Debug)]
#[command(name = "yeyak-notifications", about = "yeyak notifications service")]
struct Config {
    #[command(flatten)]
    common: CommonConfig,
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    delivery: yeyak_notifications::DeliveryArgs,
    /// Without Kafka: the reservations' event log, tailed for reservation facts.
    #[arg(long, env = "YEYAK_RESERVATIONS_EVENTS_URL", hide_env_values = true)]
    reservations_events_url: Option<String>,
    /// Without Kafka: the catalog's event log, tailed for the partners' operators.
    #[arg(long, env = "YEYAK_CATALOG_EVENTS_URL", hide_env_values = true)]
    catalog_events_url: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Config::parse();
    let delivery = config.delivery.delivery()?;
    let _telemetry = yeyak_kit::telemetry::init("yeyak-notifications");
    let p = config
        .common
        .start(yeyak_notifications::DEFAULT_PORT)
        .await?;
    let consumes = [
        (RESERVATIONS_SOURCE, config.reservations_events_url.clone()),
        (CATALOG_SOURCE, config.catalog_events_url.clone()),
    ];
    let (transport, relay) = yeyak_kafka::wire(
        &config.kafka,
        p.log.clone(),
        yeyak_notifications::SOURCE,
        &consumes,
        p.shutdown.clone(),
    )
    .await?;
    let served = yeyak_notifications::serve(
        p.log,
        transport,
        p.auth,
        p.listener,
        p.clock,
        delivery,
        p.shutdown.clone(),
    )
    .await;
    p.shutdown.cancel();
    if let Some(relay) = relay {
        relay.await??;
    }
    served
}
