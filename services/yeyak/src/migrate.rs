//! `yeyak migrate`: the schema of each service's event log, applied as its owner before the
//! services start (the Kubernetes migrations Job runs it), and on PostgreSQL the service role's
//! grants — only what the log needs (see `yeyak_eventlog::migrations`).
use std::path::PathBuf;

use yeyak_kit::config::BoxError;

#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// The event logs to migrate, connecting as the schema's owner (`postgres://…` or
    /// `sqlite://…`, comma separated); default: the four embedded ones under --data-dir.
    #[arg(
        long = "database-url",
        env = "YEYAK_MIGRATE_DATABASE_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub urls: Vec<String>,
    #[arg(long, env = "YEYAK_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// PostgreSQL: grant this role what a service needs of each log (SELECT and INSERT on the
    /// events and the inbox; the checkpoints and read models), and nothing more.
    #[arg(long, env = "YEYAK_SERVICE_ROLE")]
    pub service_role: Option<String>,
}

/// Migrates every log asked for, then grants the service role; says what it did on `out`.
pub async fn run(args: MigrateArgs, out: &mut impl std::io::Write) -> Result<(), BoxError> {
    let urls = if args.urls.is_empty() {
        std::fs::create_dir_all(&args.data_dir)?;
        let d = crate::Databases::sqlite_in(&args.data_dir);
        vec![d.catalog, d.reservations, d.notifications, d.settlement]
    } else {
        args.urls
    };
    for url in &urls {
        let shown = yeyak_eventlog::redact(url);
        let applied = yeyak_eventlog::migrations::migrate(url)
            .await
            .map_err(|e| format!("{shown}: {e}"))?;
        writeln!(
            out,
            "{shown}: schema at migration {}",
            applied.last().unwrap_or(&0)
        )?;
        if let Some(role) = &args.service_role {
            yeyak_eventlog::migrations::grant_service_role(url, role)
                .await
                .map_err(|e| format!("{shown}: {e}"))?;
            writeln!(out, "{shown}: {role} granted what a service needs")?;
        }
    }
    Ok(())
}
