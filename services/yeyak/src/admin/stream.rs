//! `yeyak admin stream`: one stream's events, oldest first, decoded.
use yeyak_kit::config::BoxError;

use super::{Logs, Service};
use crate::tail::Printer;

#[derive(clap::Args, Debug)]
pub struct StreamArgs {
    #[command(flatten)]
    pub logs: Logs,
    /// The service whose log holds the stream.
    #[arg(long, value_enum)]
    pub service: Service,
    /// The stream, e.g. `reservation-<id>` or `product-<id>`.
    pub stream: String,
    /// The first version to print.
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// One JSON object per event instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: StreamArgs, out: &mut impl std::io::Write) -> Result<bool, BoxError> {
    let log = args.logs.open(args.service).await?;
    let printer = Printer::default();
    let mut from = args.from.max(1);
    let mut printed = 0;
    loop {
        let page = log.read_stream(&args.stream, from, 500).await?;
        for event in &page {
            let json = printer.event_json(event);
            if args.json {
                writeln!(out, "{json}")?;
            } else {
                writeln!(
                    out,
                    "{:>6}  {}  {}  {}\n        {}",
                    event.stream_version,
                    json["time"].as_str().unwrap_or_default(),
                    event.event_type,
                    event.metadata.actor,
                    json["data"]
                )?;
            }
        }
        printed += page.len();
        match page.last() {
            Some(last) if page.len() == 500 => from = last.stream_version + 1,
            _ => break,
        }
    }
    if printed == 0 && !args.json {
        writeln!(
            out,
            "{} has no events from version {}",
            args.stream, args.from
        )?;
    }
    Ok(true)
}
