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
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Config::parse();
    let _telemetry = yeyak_kit::telemetry::init("yeyak-catalog");
    let p = config.common.start(yeyak_catalog::DEFAULT_PORT).await?;
    let (_, relay) = yeyak_kafka::wire(
        &config.kafka,
        p.log.clone(),
        yeyak_catalog::SOURCE,
        &[],
        p.shutdown.clone(),
    )
    .await?;
    let served = yeyak_catalog::serve(p.log, p.auth, p.listener, p.shutdown.clone()).await;
    p.shutdown.cancel();
    if let Some(relay) = relay {
        relay.await??;
    }
    Ok(served?)
}
