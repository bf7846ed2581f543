//! `yeyak admin …`: operations' commands against a service's event log, on the embedded default
//! (SQLite under the data directory) or on PostgreSQL (`--log postgres://…`).
use std::path::PathBuf;

use jiff::civil::Date;
use yeyak_kit::config::BoxError;

#[derive(clap::Subcommand, Debug)]
pub enum AdminCommand {
    /// Reconcile the settlement's ledgers over [from, to): payments − refunds − commission
    /// (+ discounts, adjustments, deposits) = payouts transferred + the change in holdings.
    /// Exits with status 1 when a partner does not reconcile.
    Reconcile(ReconcileArgs),
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
