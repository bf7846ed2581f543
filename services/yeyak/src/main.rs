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
    /// Reservation-management fee in basis points.
    #[arg(long, env = "YEYAK_COMMISSION_BPS", default_value_t = yeyak_settlement::DEFAULT_COMMISSION_BPS,
          value_parser = clap::value_parser!(u32).range(0..=yeyak_settlement::domain::MAX_COMMISSION_BPS as i64))]
    commission_bps: u32,
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
}

fn token(args: &TokenArgs) -> Result<String, BoxError> {
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
    let config = SystemConfig {
        databases: Databases::sqlite_in(&args.secret.data_dir),
        host: args.host,
        base_port: args.base_port,
        jwt_secret: secret.clone(),
        commission_bps: args.commission_bps,
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
         notifications  {n}   yeyak.notifications.v1.NotificationsService\n  settlement     {s}   yeyak.settlement.v1.SettlementService\n\
         \nEvery service serves gRPC health and server reflection. Development tokens (12 h):\n\
         \n  platform ops:  {ops}\n  customer:      {customer}\n\
         \nAn operator token for a partner:  yeyak token --role operator --partner <partner_id>\n\
         Stop with Ctrl-C.",
        data = args.secret.data_dir.display(),
        c = a.catalog,
        r = a.reservations,
        n = a.notifications,
        s = a.settlement,
    );
    system.wait().await
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match Cli::parse().command {
        Command::Run(args) => run(args).await,
        Command::Token(args) => {
            println!("{}", token(&args)?);
            Ok(())
        }
        Command::Tail(args) => {
            yeyak::tail::tail(&args, &mut std::io::stdout()).await?;
            Ok(())
        }
    }
}
