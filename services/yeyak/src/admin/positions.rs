//! `yeyak admin positions`: every position the logs keep — the relays' (`relay:<topic>`, what
//! was published of this log) and the consumers' (`<consumer>@<source>`, what was applied of the
//! source's log) — and how many events each is behind. A consumer of Kafka keeps its offsets in
//! its group instead: the admin API's `GetConsumerLag` and the `yeyak.consumer.lag` metric show
//! those.
use std::{collections::BTreeMap, sync::Arc};

use yeyak_eventlog::EventStore;
use yeyak_kit::config::BoxError;

use super::{Logs, Service};

#[derive(clap::Args, Debug)]
pub struct PositionsArgs {
    #[command(flatten)]
    pub logs: Logs,
    /// One JSON object per position instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Counted up to this many events behind.
const COUNTED: usize = 100_000;

pub async fn run(args: PositionsArgs, out: &mut impl std::io::Write) -> Result<bool, BoxError> {
    let mut logs: BTreeMap<&str, Arc<dyn EventStore>> = BTreeMap::new();
    for service in Service::ALL {
        match args.logs.open(service).await {
            Ok(log) => {
                logs.insert(service.name(), log);
            }
            Err(e) => writeln!(out, "{}: not opened: {e}", service.name())?,
        }
    }
    if !args.json {
        writeln!(
            out,
            "{:<14} {:<52} {:>10} {:>8}",
            "log", "position of", "at", "behind"
        )?;
    }
    for (service, log) in &logs {
        for (name, at) in log.checkpoints().await? {
            // Whose events the position counts: this log's for a relay, the source's for a
            // consumer.
            let source = match name.rsplit_once('@') {
                Some((_, source)) => logs.get(source),
                None if name.starts_with("relay:") => Some(log),
                None => None,
            };
            let late = match source {
                Some(source) => Some(super::events_after(&**source, at, COUNTED).await?),
                None => None,
            };
            let shown = late.map_or("?".to_string(), |n| {
                if n >= COUNTED {
                    format!("≥{COUNTED}")
                } else {
                    n.to_string()
                }
            });
            if args.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "log": service, "name": name, "position": at.position, "behind": late,
                    })
                )?;
            } else {
                writeln!(
                    out,
                    "{service:<14} {name:<52} {:>10} {shown:>8}",
                    at.position
                )?;
            }
        }
    }
    Ok(true)
}
