//! `yeyak admin rebuild`: rebuilds a service's read models from position 0 while the old rows
//! keep serving, then switches to the new ones in one transaction (`yeyak_transport::rebuild`),
//! with a progress bar on stderr.
use std::{sync::Arc, time::Instant};

use indicatif::{ProgressBar, ProgressStyle};
use yeyak_eventlog::EventStore;
use yeyak_kit::{CancellationToken, config::BoxError};
use yeyak_transport::rebuild::{ReadModel, rebuild};

use super::{Logs, Service};

#[derive(clap::Args, Debug)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub logs: Logs,
    /// The service whose read models to rebuild (the catalog keeps none).
    #[arg(long, value_enum)]
    pub service: Service,
    /// Only the read model that writes this projection (default: every read model of the
    /// service).
    #[arg(long)]
    pub projection: Option<String>,
    /// One JSON object per read model instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The read models of `service` over `log`.
fn read_models(service: Service, log: Arc<dyn EventStore>) -> Vec<ReadModel> {
    match service {
        Service::Catalog => Vec::new(),
        Service::Reservations => yeyak_reservations::read_models(log),
        Service::Notifications => yeyak_notifications::read_models(log),
        Service::Settlement => {
            yeyak_settlement::read_models(log, Arc::new(tokio::sync::Notify::new()))
        }
    }
}

pub async fn run(args: RebuildArgs, out: &mut impl std::io::Write) -> Result<bool, BoxError> {
    let log = args.logs.open(args.service).await?;
    let wanted = |m: &ReadModel| {
        args.projection
            .as_ref()
            .is_none_or(|p| m.projections.contains(&p.as_str()))
    };
    // Which read models, by their index in the service's list (each is built twice: over the
    // shadow, then over the live log).
    let chosen: Vec<usize> = read_models(args.service, log.clone())
        .iter()
        .enumerate()
        .filter(|(_, m)| wanted(m))
        .map(|(i, _)| i)
        .collect();
    if chosen.is_empty() {
        return Err(match &args.projection {
            Some(p) => format!("{} keeps no read model {p}", args.service.name()).into(),
            None => format!("{} keeps no read model", args.service.name()).into(),
        });
    }
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    for i in chosen {
        let service = args.service;
        let build = move |log: Arc<dyn EventStore>| read_models(service, log).swap_remove(i);
        let projections = build(log.clone()).projections;
        let names = projections.join(", ");
        let bar = ProgressBar::new(0).with_message(names.clone());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")?
                .progress_chars("=> "),
        );
        let started = Instant::now();
        let done = rebuild(
            log.clone(),
            &build,
            &mut |at, head| {
                bar.set_length(head);
                bar.set_position(at);
            },
            &shutdown,
        )
        .await
        .map_err(|e| format!("{names}: not switched, the old rows serve on: {e}"))?;
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        if args.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "log": service.name(), "projections": projections,
                    "events": done.events, "set_aside": done.set_aside,
                    "caught_up": done.caught_up, "seconds": seconds,
                })
            )?;
        } else {
            writeln!(
                out,
                "{}: rebuilt {names} from position 0 ({} event(s), {} set aside), switched, then \
                 applied {} event(s) committed meanwhile, in {seconds:.1} s",
                service.name(),
                done.events,
                done.set_aside,
                done.caught_up
            )?;
        }
    }
    Ok(true)
}
