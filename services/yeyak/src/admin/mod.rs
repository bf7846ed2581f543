//! `yeyak admin …`: operations' commands against the services' event logs, on the embedded
//! default (SQLite under the data directory) or on PostgreSQL (`--<service>-log postgres://…`).
use std::path::PathBuf;

use jiff::civil::Date;
use yeyak_kit::config::BoxError;

mod dead_letters;
mod positions;
mod rebuild;
mod stream;
mod verify;

pub use dead_letters::DeadLettersArgs;
pub use positions::PositionsArgs;
pub use rebuild::RebuildArgs;
pub use stream::StreamArgs;
pub use verify::VerifyArgs;

#[derive(clap::Subcommand, Debug)]
pub enum AdminCommand {
    /// Reconcile the settlement's ledgers over [from, to): payments − refunds − commission
    /// (+ discounts, adjustments, deposits) = payouts transferred + the change in holdings.
    /// Exits with status 1 when a partner does not reconcile.
    Reconcile(ReconcileArgs),
    /// Print a stream's events, their payloads decoded with the published schemas.
    Stream(stream::StreamArgs),
    /// Check a log: every stream's versions contiguous from 1, positions increasing, every
    /// event decodable. Exits with status 1 on the first problems found.
    Verify(verify::VerifyArgs),
    /// Where every relay and consumer kept in the logs is, and how far behind its source.
    Positions(positions::PositionsArgs),
    /// The events each consumer set aside (dead letters): the consumer, the reason, the
    /// original event's source, stream and type, and its payload decoded.
    DeadLetters(dead_letters::DeadLettersArgs),
    /// Rebuild a service's read models from position 0 while the old rows keep serving, with a
    /// progress bar, then switch to the new rows in one transaction.
    Rebuild(rebuild::RebuildArgs),
}

/// A service, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    Catalog,
    Reservations,
    Notifications,
    Settlement,
}

impl Service {
    pub const ALL: [Service; 4] = [
        Service::Catalog,
        Service::Reservations,
        Service::Notifications,
        Service::Settlement,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Catalog => "catalog",
            Service::Reservations => "reservations",
            Service::Notifications => "notifications",
            Service::Settlement => "settlement",
        }
    }
}

/// The logs an admin command may open: each service's embedded one under `--data-dir`, unless
/// its URL is given.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Logs {
    #[arg(long, env = "YEYAK_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The catalog's log (postgres://… or sqlite://…).
    #[arg(long)]
    pub catalog_log: Option<String>,
    /// The reservations' log.
    #[arg(long)]
    pub reservations_log: Option<String>,
    /// The notifications' log.
    #[arg(long)]
    pub notifications_log: Option<String>,
    /// The settlement's log.
    #[arg(long)]
    pub settlement_log: Option<String>,
}

impl Logs {
    /// The URL of `service`'s log.
    pub fn url(&self, service: Service) -> String {
        let embedded = crate::Databases::sqlite_in(&self.data_dir);
        let (given, embedded) = match service {
            Service::Catalog => (&self.catalog_log, embedded.catalog),
            Service::Reservations => (&self.reservations_log, embedded.reservations),
            Service::Notifications => (&self.notifications_log, embedded.notifications),
            Service::Settlement => (&self.settlement_log, embedded.settlement),
        };
        given.clone().unwrap_or(embedded)
    }

    /// Opens `service`'s log; an embedded one must exist already (an admin command never
    /// creates a log).
    pub async fn open(
        &self,
        service: Service,
    ) -> Result<std::sync::Arc<dyn yeyak_eventlog::EventStore>, BoxError> {
        let url = self.url(service);
        if let Some(path) = url.strip_prefix("sqlite://")
            && !std::path::Path::new(path).exists()
        {
            return Err(format!("{} has no log at {path}", service.name()).into());
        }
        yeyak_eventlog::connect(&url)
            .await
            .map_err(|e| format!("{}: {e}", yeyak_eventlog::redact(&url)).into())
    }
}

/// The brokers an admin command also asks, when given (`--kafka-brokers` or
/// `YEYAK_KAFKA_BROKERS`; the client takes `YEYAK_RDKAFKA_*` like the services).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Brokers {
    /// Kafka bootstrap servers: also show what the brokers hold.
    #[arg(long, env = "YEYAK_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
}

impl Brokers {
    pub fn config(&self) -> Option<yeyak_kafka::KafkaConfig> {
        let brokers = self
            .kafka_brokers
            .clone()
            .filter(|b| !b.trim().is_empty())?;
        let mut config = yeyak_kafka::KafkaConfig::new(brokers);
        config.properties = yeyak_kafka::properties_from(std::env::vars());
        Some(config)
    }
}

/// How long an admin command waits for the brokers' answer.
pub const ASK_BROKERS: std::time::Duration = std::time::Duration::from_secs(10);

/// How many events `log` holds after `at`, counted up to `cap` (a page at a time).
pub async fn events_after(
    log: &dyn yeyak_eventlog::EventStore,
    mut at: yeyak_eventlog::Position,
    cap: usize,
) -> Result<usize, BoxError> {
    let mut n = 0;
    while n < cap {
        let page = log.read_all(at, 1_000).await?;
        let Some(last) = page.last() else { break };
        at = last.position;
        n += page.len();
    }
    Ok(n.min(cap))
}

/// Every event of `log` after `after`, a page at a time, handed to `each` (the pager the
/// commands share).
pub async fn each_event(
    log: &dyn yeyak_eventlog::EventStore,
    mut each: impl FnMut(&yeyak_eventlog::RecordedEvent),
) -> Result<(), BoxError> {
    let mut after = yeyak_eventlog::Position::START;
    loop {
        let page = log.read_all(after, 1_000).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.position;
        page.iter().for_each(&mut each);
    }
}

#[derive(clap::Args, Debug)]
pub struct ReconcileArgs {
    /// The settlement's event log; default: the embedded one under --data-dir.
    #[arg(long, env = "YEYAK_SETTLEMENT_LOG_URL", hide_env_values = true)]
    log: Option<String>,
    #[arg(long, env = "YEYAK_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// First KST date of the period (YYYY-MM-DD).
    #[arg(long)]
    from: Date,
    /// KST date after the period.
    #[arg(long)]
    to: Date,
    /// Only this partner.
    #[arg(long)]
    partner: Option<uuid::Uuid>,
    /// One JSON object per partner instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs an admin command; `Ok(false)` when what it checked does not hold.
pub async fn run(command: AdminCommand, out: &mut impl std::io::Write) -> Result<bool, BoxError> {
    match command {
        AdminCommand::Reconcile(args) => reconcile(args, out).await,
        AdminCommand::Stream(args) => stream::run(args, out).await,
        AdminCommand::Verify(args) => verify::run(args, out).await,
        AdminCommand::Positions(args) => positions::run(args, out).await,
        AdminCommand::DeadLetters(args) => dead_letters::run(args, out).await,
        AdminCommand::Rebuild(args) => rebuild::run(args, out).await,
    }
}

async fn reconcile(args: ReconcileArgs, out: &mut impl std::io::Write) -> Result<bool, BoxError> {
    if args.to <= args.from {
        return Err("--to must come after --from".into());
    }
    let url = args
        .log
        .clone()
        .unwrap_or_else(|| crate::Databases::sqlite_in(&args.data_dir).settlement);
    let log = yeyak_eventlog::connect(&url).await?;
    let all = yeyak_settlement::app::reconcile_log(&*log, args.partner, args.from, args.to)
        .await
        .map_err(|e| e.to_string())?;
    let mut holds = true;
    if !args.json {
        writeln!(
            out,
            "{:<36} {:>14} {:>14} {:>12} {:>14} {:>14} {:>14} {:>10}",
            "partner",
            "payments",
            "refunds",
            "commission",
            "deposits",
            "transferred",
            "Δholdings",
            "difference"
        )?;
    }
    for (partner, r) in &all {
        holds &= r.holds();
        if args.json {
            writeln!(
                out,
                "{{\"partner_id\":\"{partner}\",\"payments_krw\":{},\"refunds_krw\":{},\"commission_krw\":{},\"platform_discount_krw\":{},\"adjustments_krw\":{},\"deposits_krw\":{},\"transferred_krw\":{},\"balances_change_krw\":{},\"difference_krw\":{},\"holds\":{}}}",
                r.payments,
                r.refunds,
                r.commission,
                r.platform_discount,
                r.adjustments,
                r.deposits,
                r.transferred,
                r.balances_change(),
                r.difference(),
                r.holds()
            )?;
        } else {
            writeln!(
                out,
                "{partner:<36} {:>14} {:>14} {:>12} {:>14} {:>14} {:>14} {:>10}",
                r.payments,
                r.refunds,
                r.commission,
                r.deposits,
                r.transferred,
                r.balances_change(),
                r.difference()
            )?;
        }
    }
    if !args.json {
        writeln!(
            out,
            "{} partner(s) from {} to {}: {}",
            all.len(),
            args.from,
            args.to,
            if holds {
                "reconciled"
            } else {
                "DOES NOT RECONCILE"
            }
        )?;
    }
    Ok(holds)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use uuid::Uuid;
    use yeyak_kit::{
        clock::ControlledClock,
        command::{Command, Decision, Error, Origin, Reads},
    };
    use yeyak_proto::settlement::events::v1::PayoutTransferred;
    use yeyak_settlement::{
        app::{Settlement, commands::ChangeLedger, payout_provider::SimulatedPayouts, streams},
        domain::{CommissionTable, SettlementError, ledger::LedgerCommand},
    };

    use super::*;

    /// A transfer nobody instructed: money out of nowhere, which must not reconcile.
    struct Stray(Uuid);

    #[async_trait::async_trait]
    impl Command for Stray {
        type State = ();
        type Output = ();
        type Error = SettlementError;

        async fn load(&self, _: &mut Reads<'_>) -> Result<(), Error<SettlementError>> {
            Ok(())
        }

        fn decide(&self, _: (), now_us: i64) -> Result<Decision<()>, Error<SettlementError>> {
            let stray = PayoutTransferred {
                payout_id: "nobody-instructed".into(),
                partner_id: self.0.to_string(),
                amount_krw: 1_000,
                transfer_id: "t".into(),
                occurred_at: Some(yeyak_proto::time::from_micros(now_us)),
            };
            Ok(Decision::new(()).emit_unordered(streams::ledger(self.0), &stray))
        }
    }

    fn args(url: &str) -> ReconcileArgs {
        ReconcileArgs {
            log: Some(url.into()),
            data_dir: PathBuf::from("."),
            from: "2026-01-01".parse().unwrap(),
            to: "2028-01-01".parse().unwrap(),
            partner: None,
            json: false,
        }
    }

    #[tokio::test]
    async fn admin_reconcile_says_whether_every_partners_ledger_reconciles() {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("admin-reconcile");
        let log = yeyak_eventlog::connect(&url).await.unwrap();
        // 2026-12-01 12:00 KST.
        let clock = ControlledClock::at(1_796_094_000_000_000);
        let app = Settlement::new(
            log,
            clock,
            CommissionTable::default(),
            Arc::new(SimulatedPayouts::default()),
        );
        let partner = Uuid::from_u128(7);
        let deposit = ChangeLedger {
            partner_id: partner,
            command: LedgerCommand::Deposit {
                deposit_id: "d".into(),
                amount: 5_000,
                reference: "bank".into(),
            },
        };
        let origin = |n: u128| Origin::command("ops:1", Uuid::from_u128(n), &[]);
        app.runner().run(&origin(1), &deposit).await.unwrap();
        let mut out = Vec::new();
        assert!(
            run(AdminCommand::Reconcile(args(&url)), &mut out)
                .await
                .unwrap()
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("1 partner(s)") && text.contains("reconciled"),
            "{text}"
        );

        app.runner().run(&origin(2), &Stray(partner)).await.unwrap();
        let mut out = Vec::new();
        let json = ReconcileArgs {
            json: true,
            ..args(&url)
        };
        assert!(!run(AdminCommand::Reconcile(json), &mut out).await.unwrap());
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\"difference_krw\":-1000") && text.contains("\"holds\":false"),
            "{text}"
        );
    }
}
