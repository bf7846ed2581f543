//! `yeyak admin verify`: what the log promises, checked on what it holds — every stream's
//! versions contiguous from 1, positions strictly increasing, and every event decodable with the
//! published schemas (a dead letter with its own format).
use std::collections::HashMap;

use yeyak_eventlog::RecordedEvent;
use yeyak_kit::config::BoxError;

use super::{Logs, Service, each_event};
use crate::tail::Printer;

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub logs: Logs,
    /// Only this service's log (default: all four).
    #[arg(long, value_enum)]
    pub service: Option<Service>,
}

/// Problems reported per log before the rest are only counted.
const SHOWN: usize = 20;

/// What a log holds and what is wrong with it.
#[derive(Default)]
struct Findings {
    events: usize,
    versions: HashMap<String, u64>,
    /// The last event's place in the log's commit order: `(commit, position)`, since on
    /// PostgreSQL a later commit may hold a smaller position.
    last_position: Option<yeyak_eventlog::Position>,
    problems: Vec<String>,
    more: usize,
}

impl Findings {
    fn problem(&mut self, p: String) {
        if self.problems.len() < SHOWN {
            self.problems.push(p);
        } else {
            self.more += 1;
        }
    }

    fn check(&mut self, printer: &Printer, e: &RecordedEvent) {
        self.events += 1;
        let at = e.position;
        if let Some(last) = self.last_position
            && at <= last
        {
            self.problem(format!(
                "position {}@{} after {}@{}: not increasing",
                at.position, at.commit, last.position, last.commit
            ));
        }
        self.last_position = Some(at);
        let at = at.position;
        let expected = self.versions.get(&e.stream_id).map_or(1, |v| v + 1);
        if e.stream_version != expected {
            self.problem(format!(
                "{} version {} at position {at}: expected {expected}",
                e.stream_id, e.stream_version
            ));
        }
        self.versions.insert(e.stream_id.clone(), e.stream_version);
        let decoded = match yeyak_transport::DeadLetter::decode(e) {
            Some(letter) if letter.stream_id.is_empty() && e.schema_version >= 2 => {
                Err("a dead letter without its original stream".to_string())
            }
            Some(_) => Ok(()),
            None => printer.payload_json(&e.event_type, &e.payload).map(|_| ()),
        };
        if let Err(why) = decoded {
            self.problem(format!(
                "{} version {} ({}) at position {at}: {why}",
                e.stream_id, e.stream_version, e.event_type
            ));
        }
    }
}

pub async fn run(args: VerifyArgs, out: &mut impl std::io::Write) -> Result<bool, BoxError> {
    let printer = Printer::default();
    let services = args.service.map_or(Service::ALL.to_vec(), |s| vec![s]);
    let mut holds = true;
    for service in services {
        let log = args.logs.open(service).await?;
        let mut found = Findings::default();
        each_event(&*log, |e| found.check(&printer, e)).await?;
        for p in &found.problems {
            writeln!(out, "{}: {p}", service.name())?;
        }
        if found.more > 0 {
            writeln!(out, "{}: … and {} more", service.name(), found.more)?;
        }
        let ok = found.problems.is_empty();
        holds &= ok;
        writeln!(
            out,
            "{}: {} events in {} streams: {}",
            service.name(),
            found.events,
            found.versions.len(),
            if ok {
                "every stream contiguous, every event decodable"
            } else {
                "DOES NOT VERIFY"
            }
        )?;
    }
    Ok(holds)
}
