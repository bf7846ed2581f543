//! `yeyak admin dead-letters`: the events consumers set aside (`dead-letters-<consumer>` in the
//! consumer's own log), with the original key (stream), type and payload decoded.
use yeyak_kit::config::BoxError;
use yeyak_transport::DeadLetter;

use super::{Logs, Service, each_event};
use crate::tail::Printer;

#[derive(clap::Args, Debug)]
pub struct DeadLettersArgs {
    #[command(flatten)]
    pub logs: Logs,
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
    for service in services {
        let log = args.logs.open(service).await?;
        each_event(&*log, |e| {
            if let Some(letter) = DeadLetter::decode(e)
                && args.consumer.as_ref().is_none_or(|c| *c == letter.consumer)
            {
                letters.push((service, e.position.position, e.recorded_at_us, letter));
            }
        })
        .await?;
    }
    for (service, position, recorded_at_us, l) in &letters {
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
                    "stream_version": l.stream_version, "data": data,
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
        }
    }
    if !args.json {
        writeln!(out, "{} dead letter(s)", letters.len())?;
    }
    Ok(true)
}
