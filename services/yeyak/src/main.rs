//! `yeyak`: run the whole system on the embedded default, and mint development tokens.
use std::{net::IpAddr, path::PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use yeyak::{Databases, System, SystemConfig, dev_secret};
use yeyak_kit::{
    auth::{Authenticator, Claims, Role},
    config::BoxError,
};

#[derive(Parser, Debug)]
#[command(name = "yeyak", version, about = "yeyak reservation platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run all four services in this process, each on its own SQLite event log under --data-dir.
    Run(RunArgs),
    /// Print a bearer token for local calls, signed with the same secret as `yeyak run`.
    Token(TokenArgs),
    /// Print the events of a Kafka topic as JSON lines (read-only; commits no offsets).
    Tail(yeyak::tail::TailArgs),
    /// Operations' commands against a service's event log.
    #[command(subcommand)]
    Admin(yeyak::admin::AdminCommand),
    /// Apply the event logs' schema as its owner (before the services start) and, on
    /// PostgreSQL, grant the services' role only what it needs.
    Migrate(yeyak::migrate::MigrateArgs),
    /// Print the event stream's contract (topics, message types, key, headers, ordering,
    /// delivery) as JSON; `--descriptor-set FILE` also writes the event schemas' descriptors.
    Schema(yeyak::schema::SchemaArgs),
    /// Ask a service's gRPC health whether it serves (exit 0 when SERVING): a container
    /// healthcheck where the orchestrator has no gRPC probe of its own.
    Probe(yeyak::probe::ProbeArgs),
}

#[derive(clap::Args, Debug)]
struct Secret {
    /// Directory for the SQLite logs and the development secret.
    #[arg(long, env = "YEYAK_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// HS256 secret; when unset, a random one is kept in <data-dir>/jwt-secret.
    #[arg(long, env = "YEYAK_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
}

impl Secret {
    fn resolve(&self) -> Result<String, BoxError> {
        match &self.jwt_secret {
            Some(s) => Ok(s.clone()),
            None => Ok(dev_secret(&self.data_dir.join("jwt-secret"))?),
        }
    }
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    secret: Secret,
    /// Address to bind.
    #[arg(long, env = "YEYAK_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// catalog = port, reservations = port+1, notifications = port+2, settlement = port+3.
    #[arg(long, env = "YEYAK_BASE_PORT", default_value_t = 50051)]
    base_port: u16,
    #[command(flatten)]
    settlement: yeyak_settlement::SettlementArgs,
    /// DEVELOPMENT ONLY: the business clock starts at this instant (RFC 3339, e.g.
    /// 2026-12-24T18:00:00+09:00) and runs on from there, so a time rule (an expiry, a deadline,
    /// the day after use) can be reached by hand. Tokens are still judged by the real time. The
    /// service binaries have no such setting.
    #[arg(
        long,
        env = "YEYAK_DEV_CLOCK_START",
        conflicts_with = "dev_clock_offset"
    )]
    dev_clock_start: Option<jiff::Timestamp>,
    /// DEVELOPMENT ONLY: the business clock runs this far ahead of the real time (behind when
    /// negative), e.g. `25h` or `-30m`.
    #[arg(long, env = "YEYAK_DEV_CLOCK_OFFSET", allow_hyphen_values = true)]
    dev_clock_offset: Option<jiff::SignedDuration>,
    #[command(flatten)]
    delivery: yeyak_notifications::DeliveryArgs,
}

impl RunArgs {
    /// The business clock: the system's, unless a development clock was asked for.
    fn clock(&self) -> (yeyak_kit::clock::SharedClock, Option<String>) {
        use yeyak_kit::clock::OffsetClock;
        match (self.dev_clock_start, self.dev_clock_offset) {
            (Some(start), _) => (
                std::sync::Arc::new(OffsetClock::starting_at(start.as_microsecond())),
                Some(format!("starting at {start}")),
            ),
            (None, Some(offset)) => (
                std::sync::Arc::new(OffsetClock::shifted(offset.as_micros() as i64)),
                Some(format!("{offset:#} from the real time")),
            ),
            (None, None) => (yeyak_kit::clock::system(), None),
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TokenRole {
    Customer,
    Operator,
    Ops,
    Internal,
}

#[derive(clap::Args, Debug)]
struct TokenArgs {
    #[command(flatten)]
    secret: Secret,
    #[arg(long, value_enum)]
    role: TokenRole,
    /// Subject: the customer id, operator id, staff id or service name.
    #[arg(long)]
    subject: Option<String>,
    /// The operator's partner id.
    #[arg(long, required_if_eq("role", "operator"))]
    partner: Option<uuid::Uuid>,
    /// The operator's granted place ids (comma separated); all places when omitted.
    #[arg(long, value_delimiter = ',')]
    places: Option<Vec<uuid::Uuid>>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 12 * 3600)]
    ttl: i64,
    /// Sign with the secret given (`--jwt-secret` / `YEYAK_JWT_SECRET`) instead of the
    /// development secret under --data-dir: for a development system started with its own
    /// secret. Production tokens come from the identity provider, never from this command.
    #[arg(long)]
    development: bool,
}

fn token(args: &TokenArgs) -> Result<String, BoxError> {
    if args.secret.jwt_secret.is_some() && !args.development {
        return Err(
            "yeyak token mints development tokens only, signed with the development \
             secret under --data-dir; production tokens come from the identity provider \
             (add --development to sign with the given secret on a development system)"
                .into(),
        );
    }
    let auth = Authenticator::new(&args.secret.resolve()?)?;
    let subject = args.subject.clone().unwrap_or_else(|| match args.role {
        TokenRole::Customer => "customer-1".into(),
        TokenRole::Operator => "operator-1".into(),
        TokenRole::Ops => "ops-1".into(),
        TokenRole::Internal => "gateway".into(),
    });
    let claims = match args.role {
        TokenRole::Customer => Claims::new(subject, Role::Customer, args.ttl),
        TokenRole::Ops => Claims::new(subject, Role::PlatformOps, args.ttl),
        TokenRole::Internal => Claims::new(subject, Role::InternalService, args.ttl),
        TokenRole::Operator => Claims::operator(
            subject,
            args.partner.expect("required by clap"),
            args.places.clone(),
            args.ttl,
        ),
    };
    Ok(auth.issue(&claims)?)
}

async fn run(args: RunArgs) -> Result<(), BoxError> {
    let _telemetry = yeyak_kit::telemetry::init("yeyak");
    let secret = args.secret.resolve()?;
    let (clock, dev_clock) = args.clock();
    let config = SystemConfig {
        host: args.host,
        base_port: args.base_port,
        settlement: args.settlement.settings()?,
        clock,
        delivery: args.delivery.delivery()?,
        ..SystemConfig::new(Databases::sqlite_in(&args.secret.data_dir), secret.clone())
    };
    let shutdown = yeyak_kit::server::shutdown_on_signal();
    let system = System::start(config, shutdown).await?;
    let a = system.addresses;
    let auth = &system.auth;
    let ops = auth.issue(&Claims::new("ops-1", Role::PlatformOps, 12 * 3600))?;
    let customer = auth.issue(&Claims::new("customer-1", Role::Customer, 12 * 3600))?;
    println!(
        "yeyak is running on the embedded default (SQLite under {data}).\n\
         \n  catalog        {c}   yeyak.catalog.v1.CatalogService\n  reservations   {r}   yeyak.reservations.v1.ReservationsService\n  \
         notifications  {n}   yeyak.notifications.v1.NotificationsService\n  settlement     {s}   yeyak.settlement.v1.SettlementService\n  \
         metrics        http://{m}/metrics   (Prometheus text)\n\
         \nEvery service serves gRPC health and server reflection. Development tokens (12 h):\n\
         \n  platform ops:  {ops}\n  customer:      {customer}\n\
         \nAn operator token for a partner:  yeyak token --role operator --partner <partner_id>\n\
         Stop with Ctrl-C.",
        data = args.secret.data_dir.display(),
        c = a.catalog,
        r = a.reservations,
        n = a.notifications,
        s = a.settlement,
        m = system.metrics,
    );
    if let Some(dev_clock) = dev_clock {
        println!(
            "\nDEVELOPMENT CLOCK: business time runs {dev_clock} (not the real time). Never use this in production."
        );
    }
    system.wait().await
}

/// Whether `e` is the reader of our output going away (`yeyak admin positions | head`): the
/// command ends there, quietly, as other command-line tools do.
fn is_closed_pipe(e: &BoxError) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match command(Cli::parse().command).await {
        Err(e) if is_closed_pipe(&e) => Ok(()),
        other => other,
    }
}

async fn command(command: Command) -> Result<(), BoxError> {
    match command {
        Command::Run(args) => run(args).await,
        Command::Token(args) => {
            println!("{}", token(&args)?);
            Ok(())
        }
        Command::Tail(args) => {
            yeyak::tail::tail(&args, &mut std::io::stdout()).await?;
            Ok(())
        }
        Command::Migrate(args) => yeyak::migrate::run(args, &mut std::io::stdout()).await,
        Command::Schema(args) => yeyak::schema::run(&args, &mut std::io::stdout()),
        Command::Probe(args) => {
            let status = yeyak::probe::run(&args).await?;
            println!("{}", status.as_str_name());
            if status != tonic_health::pb::health_check_response::ServingStatus::Serving {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Admin(command) => {
            if !yeyak::admin::run(command, &mut std::io::stdout()).await? {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_ends_a_command_quietly_and_other_errors_do_not() {
        let closed: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_closed_pipe(&closed));
        let other: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!is_closed_pipe(&other));
        assert!(!is_closed_pipe(&BoxError::from(
            "catalog keeps no read model"
        )));
    }

    fn args(jwt_secret: Option<&str>, development: bool) -> TokenArgs {
        TokenArgs {
            secret: Secret {
                data_dir: std::env::temp_dir()
                    .join(format!("yeyak-token-{}", uuid::Uuid::new_v4())),
                jwt_secret: jwt_secret.map(str::to_string),
            },
            role: TokenRole::Customer,
            subject: None,
            partner: None,
            places: None,
            ttl: 600,
            development,
        }
    }

    #[test]
    fn a_token_is_minted_from_the_development_secret_and_never_from_a_shared_one_unasked() {
        assert!(token(&args(None, false)).is_ok(), "the development secret");
        let shared = "a-secret-of-at-least-thirty-two-bytes-0123456789";
        let refused = token(&args(Some(shared), false)).expect_err("a shared secret");
        assert!(
            refused.to_string().contains("identity provider"),
            "{refused}"
        );
        assert!(
            token(&args(Some(shared), true)).is_ok(),
            "asked for, on a development system"
        );
    }
}
