//! The settlement's state as the API's messages (also the values of the payout rows).
use yeyak_proto::settlement::{
    events::v1::{LedgerEntryRecorded, PayoutKind},
    v1 as pb,
};

use crate::domain::{
    ledger::{PartnerLedger, Payout, PayoutState},
    seller::{Kyc, Seller},
    statement::{DayState, StatementDay},
};

pub fn payout_state(state: &PayoutState) -> pb::PayoutState {
    match state {
        PayoutState::Instructed => pb::PayoutState::Instructed,
        PayoutState::Held(_) => pb::PayoutState::Held,
        PayoutState::Transferred(_) => pb::PayoutState::Transferred,
        PayoutState::CreditedToBalance(_) => pb::PayoutState::CreditedToBalance,
    }
}

pub fn payout(partner_id: &str, p: &Payout) -> pb::Payout {
    let (reason, transfer_id) = match &p.state {
        PayoutState::Held(r) | PayoutState::CreditedToBalance(r) => (r.clone(), String::new()),
        PayoutState::Transferred(t) => (String::new(), t.clone()),
        PayoutState::Instructed => (String::new(), String::new()),
    };
    pb::Payout {
        payout_id: p.id.clone(),
        partner_id: partner_id.to_string(),
        kind: p.kind as i32,
        day: p.day.clone(),
        amount_krw: p.amount,
        state: payout_state(&p.state) as i32,
        reason,
        payable_krw: p.payable,
        balance_applied_krw: p.balance_applied,
        transfer_id,
    }
}

/// The days still to be settled, as scheduled payouts.
pub fn scheduled(partner_id: &str, ledger: &PartnerLedger) -> Vec<pb::Payout> {
    let mut by_day: std::collections::BTreeMap<_, i64> = Default::default();
    for (day, amount) in &ledger.unsettled {
        *by_day.entry(*day).or_default() += amount;
    }
    by_day
        .into_iter()
        .map(|(day, amount)| pb::Payout {
            partner_id: partner_id.to_string(),
            kind: PayoutKind::Settlement as i32,
            day: day.to_string(),
            amount_krw: amount,
            payable_krw: amount,
            state: pb::PayoutState::Scheduled as i32,
            ..Default::default()
        })
        .collect()
}

pub fn balance(partner_id: &str, l: &PartnerLedger) -> pb::Balance {
    pb::Balance {
        partner_id: partner_id.to_string(),
        pending_krw: l.pending,
        payable_krw: l.payable(),
        balance_krw: l.balance,
        in_flight_krw: l.in_flight(),
        transferred_krw: l.transferred,
        payouts_held: l.hold.is_some(),
        hold_reason: l.hold.clone().unwrap_or_default(),
    }
}

pub fn entry(e: LedgerEntryRecorded) -> pb::LedgerEntry {
    pb::LedgerEntry {
        entry_id: e.entry_id,
        reservation_id: e.reservation_id,
        line_number: e.line_number,
        kind: e.kind,
        amount_krw: e.amount_krw,
        method: e.method,
        commission_bps: e.commission_bps,
        occurred_on: e.occurred_on,
        payable_on: e.payable_on,
        occurred_at: e.occurred_at,
        place_id: e.place_id,
    }
}

pub fn statement_day(d: &StatementDay) -> pb::StatementDay {
    pb::StatementDay {
        day: d.day.map(|d| d.to_string()).unwrap_or_default(),
        sales_krw: d.sales,
        commission_krw: d.commission,
        reversals_krw: d.reversals,
        adjustments_krw: d.adjustments,
        payable_krw: d.payable,
        balance_applied_krw: d.balance_applied,
        payout_krw: d.payout,
        state: match &d.state {
            DayState::Scheduled => pb::PayoutState::Scheduled,
            DayState::NothingToPay => pb::PayoutState::NothingToPay,
            DayState::Payout(s) => payout_state(s),
            DayState::SettledIn(_) => pb::PayoutState::SettledLater,
        } as i32,
    }
}

pub fn seller(partner_id: &str, s: &Seller) -> pb::SellerStatus {
    let status = s.status(partner_id);
    let submitted = s.submitted.clone().unwrap_or_default();
    pb::SellerStatus {
        partner_id: partner_id.to_string(),
        kyc: match &s.kyc {
            Kyc::NotSubmitted => pb::KycState::NotSubmitted,
            Kyc::InReview => pb::KycState::InReview,
            Kyc::Verified => pb::KycState::Verified,
            Kyc::Rejected(_) => pb::KycState::Rejected,
        } as i32,
        settlement_account_verified: status.settlement_account_verified,
        mail_order: status.mail_order,
        may_sell_paid_products: status.may_sell_paid_products,
        account_number_masked: submitted.account_number_masked,
        bank_code: submitted.bank_code,
        rejection_reason: match &s.kyc {
            Kyc::Rejected(r) => r.clone(),
            _ => String::new(),
        },
    }
}

/// A statement as CSV: one row per entry for a day, one row per payout day for a month.
pub fn csv(statement: &pb::Statement, by_entry: bool) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if by_entry {
        w.write_record([
            "payable_on",
            "occurred_on",
            "reservation_id",
            "line_number",
            "kind",
            "method",
            "commission_bps",
            "amount_krw",
        ])?;
        for e in &statement.entries {
            let kind = yeyak_proto::settlement::events::v1::EntryKind::try_from(e.kind)
                .unwrap_or_default()
                .as_str_name();
            let method = yeyak_proto::reservations::events::v1::PaymentMethod::try_from(e.method)
                .unwrap_or_default()
                .as_str_name();
            w.write_record([
                e.payable_on.as_str(),
                &e.occurred_on,
                &e.reservation_id,
                &e.line_number.to_string(),
                kind,
                method,
                &e.commission_bps.to_string(),
                &e.amount_krw.to_string(),
            ])?;
        }
    } else {
        w.write_record([
            "day",
            "sales_krw",
            "commission_krw",
            "reversals_krw",
            "adjustments_krw",
            "payable_krw",
            "balance_applied_krw",
            "payout_krw",
            "state",
        ])?;
        for d in statement.days.iter().chain(statement.total.as_ref()) {
            let state = pb::PayoutState::try_from(d.state)
                .unwrap_or_default()
                .as_str_name();
            let day = if d.day.is_empty() { "total" } else { &d.day };
            w.write_record([
                day,
                &d.sales_krw.to_string(),
                &d.commission_krw.to_string(),
                &d.reversals_krw.to_string(),
                &d.adjustments_krw.to_string(),
                &d.payable_krw.to_string(),
                &d.balance_applied_krw.to_string(),
                &d.payout_krw.to_string(),
                state,
            ])?;
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

pub fn reconciliation(
    partner_id: &str,
    r: &crate::domain::reconciliation::Reconciliation,
) -> pb::Reconciliation {
    pb::Reconciliation {
        partner_id: partner_id.to_string(),
        payments_krw: r.payments,
        refunds_krw: r.refunds,
        commission_krw: r.commission,
        platform_discount_krw: r.platform_discount,
        adjustments_krw: r.adjustments,
        deposits_krw: r.deposits,
        transferred_krw: r.transferred,
        balances_change_krw: r.balances_change(),
        difference_krw: r.difference(),
        holds: r.holds(),
    }
}
