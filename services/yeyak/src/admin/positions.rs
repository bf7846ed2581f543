//! `yeyak admin positions`: every position the logs keep — the relays' (`relay:<topic>`, what
//! was published of this log) and the consumers' (`<consumer>@<source>`, what was applied of the
//! source's log) — and how many events each is behind. A consumer of Kafka keeps its offsets in
//! its group instead: with `--kafka-brokers`, every group's committed offset on each partition
//! against the partition's end.
use std::{collections::BTreeMap, sync::Arc};

use yeyak_eventlog::EventStore;
use yeyak_kit::config::BoxError;

use super::{ASK_BROKERS, Brokers, Logs, Service};

#[derive(clap::Args, Debug)]
pub struct PositionsArgs {
    #[command(flatten)]
    pub logs: Logs,
    #[command(flatten)]
    pub brokers: Brokers,
    /// The consumer groups to show (default: every group the brokers list).
    #[arg(long = "group")]
    pub groups: Vec<String>,
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
    match args.brokers.config() {
        Some(config) => kafka_lag(config, args.groups, args.json, out).await,
        None => Ok(true),
    }
}

/// Each consumer group's position on every partition it committed on, and how far behind.
async fn kafka_lag(
    config: yeyak_kafka::KafkaConfig,
    groups: Vec<String>,
    json: bool,
    out: &mut impl std::io::Write,
) -> Result<bool, BoxError> {
    use yeyak_kafka::inspect;
    let lag = tokio::task::spawn_blocking(move || {
        let groups = if groups.is_empty() {
            inspect::consumer_groups(&config, ASK_BROKERS).map_err(|e| {
                format!(
                    "the brokers did not list their consumer groups ({e}); name them with --group"
                )
            })?
        } else {
            groups
        };
        inspect::group_lag(&config, &groups, ASK_BROKERS).map_err(|e| e.to_string())
    })
    .await??;
    for l in lag {
        let name = format!("{} on {}/{}", l.group, l.topic, l.partition);
        if json {
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "log": "kafka", "name": name, "group": l.group, "topic": l.topic,
                    "partition": l.partition, "position": l.committed, "end": l.end,
                    "behind": l.behind(),
                })
            )?;
        } else {
            let at = l.committed.map_or("-".to_string(), |c| c.to_string());
            writeln!(out, "{:<14} {name:<52} {at:>10} {:>8}", "kafka", l.behind())?;
        }
    }
    Ok(true)
}
