//! The catalog as its own process (Kubernetes): configured by the environment.
use clap::Parser;
use yeyak_kafka::KafkaArgs;
use yeyak_kit::config::{BoxError, CommonConfig};

#[derive(Parser, Debug)]
#[command(name = "yeyak-catalog", about = "yeyak catalog service")]
struct Config {
    #[command(flatten)]
    common: CommonConfig,
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Without Kafka: the reservations' event log, tailed for reservation facts.
    #[arg(long, env = "YEYAK_RESERVATIONS_EVENTS_URL", hide_env_values = true)]
    reservations_events_url: Option<String>,
    /// Without Kafka: the settlement's event log, tailed for the partners' seller status.
    #[arg(long, env = "YEYAK_SETTLEMENT_EVENTS_URL", hide_env_values = true)]
    settlement_events_url: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Config::parse();
    let _telemetry = yeyak_kit::telemetry::init("yeyak-catalog");
    let p = config.common.start(yeyak_catalog::DEFAULT_PORT).await?;
    let consumes = [
        (
            yeyak_catalog::RESERVATIONS_SOURCE,
            config.reservations_events_url.clone(),
        ),
        (
            yeyak_catalog::SETTLEMENT_SOURCE,
            config.settlement_events_url.clone(),
        ),
    ];
    let (transport, relay) = yeyak_kafka::wire(
        &config.kafka,
        p.log.clone(),
        yeyak_catalog::SOURCE,
        &consumes,
        p.shutdown.clone(),
    )
    .await?;
    let served = yeyak_catalog::serve(
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
