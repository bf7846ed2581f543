//! The catalog as its own process (Kubernetes): configured by the environment.
use clap::Parser;
use yeyak_kit::config::CommonConfig;

#[derive(Parser, Debug)]
#[command(name = "yeyak-catalog", about = "yeyak catalog service")]
struct Config {
    #[command(flatten)]
    common: CommonConfig,
}

#[tokio::main]
async fn main() -> Result<(), yeyak_kit::config::BoxError> {
    let config = Config::parse();
    let _telemetry = yeyak_kit::telemetry::init("yeyak-catalog");
    let p = config.common.start(yeyak_catalog::DEFAULT_PORT).await?;
    yeyak_catalog::serve(p.log, p.auth, p.listener, p.shutdown).await?;
    Ok(())
}
