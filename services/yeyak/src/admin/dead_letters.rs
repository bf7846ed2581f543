//! `yeyak admin dead-letters`: the events consumers set aside (`dead-letters-<consumer>` in the
//! consumer's own log), with the original key (stream), type and payload decoded, and how their
//! redrive went; with `--kafka-brokers`, also the records of the dead-letter topics
//! (`<topic>.dlq`). `--redrive` asks each log-tail consumer to apply its events again
//! (`yeyak_transport::redrive`) and sends the topics' records back to their topic.
use yeyak_kit::config::BoxError;
use yeyak_transport::{DeadLetter, redrive};

use super::{ASK_BROKERS, Brokers, Logs, Service, each_event};
use crate::tail::Printer;

#[derive(clap::Args, Debug)]
pub struct DeadLettersArgs {
    #[command(flatten)]
    pub logs: Logs,
    #[command(flatten)]
    pub brokers: Brokers,
    /// Redrive the listed dead letters: each log-tail consumer applies its events again (under a
    /// redrive id, so never twice), and the dead-letter topics' records are sent back to their
    /// topic, where every group reads them again (the ones that applied them without a second
    /// effect).
    #[arg(long)]
    pub redrive: bool,
    /// Only this service's consumers (default: all four services').
    #[arg(long, value_enum)]
    pub service: Option<Service>,
    /// Only this consumer's.
    #[arg(long)]
    pub consumer: Option<String>,
    /// One JSON object per dead letter instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: DeadLettersArgs, out: &mut impl std::io::Write) -> Result<bool, BoxError> {
    let printer = Printer::default();
    let services = args.service.map_or(Service::ALL.to_vec(), |s| vec![s]);
    let mut letters = Vec::new();
    let mut redrives = std::collections::HashMap::new();
    for service in services {
        let log = args.logs.open(service).await?;
        let mut found = Vec::new();
        each_event(&*log, |e| {
            if let Some(letter) = DeadLetter::decode(e)
                && args.consumer.as_ref().is_none_or(|c| *c == letter.consumer)
            {
                found.push((service, e.position.position, e.recorded_at_us, letter));
            }
        })
        .await?;
        let consumers: std::collections::BTreeSet<_> = found
            .iter()
            .map(|(_, _, _, l)| l.consumer.clone())
            .collect();
        for consumer in consumers {
            for (event, outcome) in redrive::outcomes(&*log, &consumer).await? {
                redrives.insert((consumer.clone(), event), outcome);
            }
        }
        if args.redrive {
            for (_, _, _, letter) in &found {
                redrive::request(&*log, letter, "ops:yeyak-admin").await?;
                redrives.insert((letter.consumer.clone(), letter.event_id), None);
            }
        }
        letters.extend(found);
    }
    for (service, position, recorded_at_us, l) in &letters {
        let redriven = redrives
            .get(&(l.consumer.clone(), l.event_id))
            .map(|o| o.clone().unwrap_or_else(|| "requested".into()));
        let data = printer
            .payload_json(&l.event_type, &l.payload)
            .unwrap_or_else(|e| serde_json::json!({ "undecodable": e }));
        let at = jiff::Timestamp::from_microsecond(*recorded_at_us)
            .map(|t| t.to_string())
            .unwrap_or_default();
        if args.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "log": service.name(), "position": position, "set_aside_at": at,
                    "consumer": l.consumer, "reason": l.reason, "source": l.source,
                    "event_id": l.event_id, "type": l.event_type, "stream": l.stream_id,
                    "stream_version": l.stream_version, "data": data, "redrive": redriven,
                })
            )?;
        } else {
            writeln!(
                out,
                "{at}  {} set aside {} {} v{} from {} ({}): {}\n        {data}",
                l.consumer,
                l.event_type,
                l.stream_id,
                l.stream_version,
                l.source,
                l.event_id,
                l.reason
            )?;
            if let Some(redriven) = redriven {
                writeln!(out, "        redrive: {redriven}")?;
            }
        }
    }
    if !args.json {
        writeln!(out, "{} dead letter(s)", letters.len())?;
        if args.redrive && !letters.is_empty() {
            writeln!(
                out,
                "redrive requested: each consumer applies its events again within seconds (it looks every {} s)",
                redrive::REDRIVE_INTERVAL.as_secs()
            )?;
        }
    }
    match args.brokers.config() {
        Some(config) => kafka(config, &args, &printer, out).await,
        None => Ok(true),
    }
}

/// The dead-letter topics' records, decoded; redriven when asked.
async fn kafka(
    config: yeyak_kafka::KafkaConfig,
    args: &DeadLettersArgs,
    printer: &Printer,
    out: &mut impl std::io::Write,
) -> Result<bool, BoxError> {
    use yeyak_kafka::inspect;
    let asked = config.clone();
    let records =
        tokio::task::spawn_blocking(move || inspect::dead_records(&asked, ASK_BROKERS)).await??;
    let records: Vec<_> = records
        .into_iter()
        .filter(|r| {
            args.consumer
                .as_ref()
                .is_none_or(|c| r.header("yeyak_dlq_consumer") == c)
        })
        .collect();
    for r in &records {
        let event_type = r.header("ce_type");
        let data = printer
            .payload_json(event_type, r.payload.as_deref().unwrap_or_default())
            .unwrap_or_else(|e| serde_json::json!({ "undecodable": e }));
        let key = r
            .key
            .as_deref()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        let at = format!("{}/{}/{}", r.topic, r.partition, r.offset);
        if args.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "log": "kafka", "record": at, "consumer": r.header("yeyak_dlq_consumer"),
                    "reason": r.header("yeyak_dlq_reason"), "origin": r.header("yeyak_dlq_origin"),
                    "event_id": r.header("ce_id"), "type": event_type, "stream": key,
                    "data": data,
                })
            )?;
        } else {
            writeln!(
                out,
                "{at}  {} set aside {event_type} {key} from {}: {}\n        {data}",
                r.header("yeyak_dlq_consumer"),
                r.header("yeyak_dlq_origin"),
                r.header("yeyak_dlq_reason"),
            )?;
        }
    }
    if !args.json {
        writeln!(out, "{} dead-letter record(s) on Kafka", records.len())?;
    }
    if args.redrive {
        let sent = inspect::redrive(&config, &records).await?;
        if args.json {
            writeln!(out, "{}", serde_json::json!({ "redriven": sent }))?;
        } else {
            writeln!(out, "redriven: {sent} record(s) sent back to their topic")?;
        }
    }
    Ok(true)
}
