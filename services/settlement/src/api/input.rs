//! Every request field, validated: a bad one is `INVALID_ARGUMENT` naming the field, with a
//! reason code, before anything is loaded or appended.
use jiff::civil::Date;
use tonic::Status;
use yeyak_kit::status::{invalid_field, text};
use yeyak_proto::{
    catalog::events::v1::MailOrder,
    settlement::{
        events::v1::{BusinessType, Document, DocumentKind, SettlementInfoSubmitted},
        v1 as pb,
    },
};

use crate::domain::{ledger::MAX_AMOUNT_KRW, statement::Period};

/// A KST calendar date, `YYYY-MM-DD`.
pub fn date(field: &str, value: &str) -> Result<Date, Status> {
    if value.len() != 10 {
        return Err(invalid_field(field, "MALFORMED", "a date is YYYY-MM-DD"));
    }
    value
        .parse()
        .map_err(|_| invalid_field(field, "MALFORMED", "a date is YYYY-MM-DD"))
}

/// A payout-day filter: a date or `pending`; empty for none.
pub fn payable_on(value: &str) -> Result<Option<String>, Status> {
    match value {
        "" => Ok(None),
        "pending" => Ok(Some(value.into())),
        day => Ok(Some(date("payable_on", day)?.to_string())),
    }
}

pub fn period(value: &str) -> Result<Period, Status> {
    Period::parse(value).map_err(|e| invalid_field("period", e.reason(), e.to_string()))
}

/// A positive amount of won, at most ₩1,000,000,000 (a withdrawal's limit is checked by the
/// rule, with its own reason).
pub fn amount(value: i64, max: i64) -> Result<i64, Status> {
    if value <= 0 || value > max {
        return Err(invalid_field(
            "amount_krw",
            "OUT_OF_RANGE",
            format!("a positive number of won, at most {max}"),
        ));
    }
    Ok(value)
}

/// An adjustment: a non-zero amount of at most ₩1,000,000,000 either way.
pub fn adjustment(value: i64) -> Result<i64, Status> {
    if value == 0 || value.abs() > MAX_AMOUNT_KRW {
        return Err(invalid_field(
            "amount_krw",
            "OUT_OF_RANGE",
            format!("a non-zero number of won, at most {MAX_AMOUNT_KRW} either way"),
        ));
    }
    Ok(value)
}

fn digits(field: &str, value: &str, min: usize, max: usize) -> Result<String, Status> {
    let v = value.trim();
    if v.len() < min || v.len() > max || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid_field(
            field,
            "MALFORMED",
            format!("{min} to {max} digits"),
        ));
    }
    Ok(v.to_string())
}

/// A SHA-256 in hex.
fn sha256(field: &str, value: &str) -> Result<String, Status> {
    if value.len() != 64 || !value.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid_field(
            field,
            "MALFORMED",
            "a SHA-256 is 64 hex digits",
        ));
    }
    Ok(value.to_ascii_lowercase())
}

/// A submission's fields, checked; the account number apart (the provider keeps it).
pub fn submission(
    r: &pb::SubmitSettlementInfoRequest,
) -> Result<(String, SettlementInfoSubmitted), Status> {
    if BusinessType::try_from(r.business_type).is_err() {
        return Err(invalid_field(
            "business_type",
            "UNKNOWN_VALUE",
            "individual or corporation",
        ));
    }
    let bank_code = digits("bank_code", &r.bank_code, 3, 3)?;
    let account_number = digits("account_number", &r.account_number, 10, 16)?;
    let mut documents = Vec::with_capacity(r.documents.len());
    for (i, d) in r.documents.iter().enumerate() {
        let field = |f: &str| format!("documents[{i}].{f}");
        match DocumentKind::try_from(d.kind) {
            Ok(DocumentKind::Unspecified) | Err(_) => {
                return Err(invalid_field(
                    &field("kind"),
                    "UNKNOWN_VALUE",
                    "a document kind",
                ));
            }
            Ok(_) => {}
        }
        documents.push(Document {
            kind: d.kind,
            file_ref: text(&field("file_ref"), &d.file_ref, 1, 500)?,
            sha256: sha256(&field("sha256"), &d.sha256)?,
        });
    }
    if documents.len() > 10 {
        return Err(invalid_field(
            "documents",
            "TOO_MANY",
            "at most 10 documents",
        ));
    }
    if MailOrder::try_from(r.mail_order).is_err() {
        return Err(invalid_field(
            "mail_order",
            "UNKNOWN_VALUE",
            "registered or exempt",
        ));
    }
    let mail_order_number = if r.mail_order_number.is_empty() {
        String::new()
    } else {
        text("mail_order_number", &r.mail_order_number, 5, 40)?
    };
    let masked = format!(
        "{}{}",
        "*".repeat(account_number.len() - 4),
        &account_number[account_number.len() - 4..]
    );
    Ok((
        account_number,
        SettlementInfoSubmitted {
            business_type: r.business_type,
            business_owner: text("business_owner", &r.business_owner, 1, 100)?,
            bank_code,
            account_number_masked: masked,
            account_holder: text("account_holder", &r.account_holder, 1, 100)?,
            documents,
            mail_order: r.mail_order,
            mail_order_number,
            ..Default::default()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: Status) -> String {
        yeyak_kit::status::reason(&s).unwrap_or_default()
    }

    #[test]
    fn dates_amounts_and_periods_are_refused_precisely() {
        assert_eq!(reason(date("day", "2026-1-1").unwrap_err()), "MALFORMED");
        assert_eq!(reason(date("day", "2026-02-30").unwrap_err()), "MALFORMED");
        assert_eq!(payable_on("pending").unwrap().as_deref(), Some("pending"));
        assert_eq!(reason(amount(0, 10).unwrap_err()), "OUT_OF_RANGE");
        assert_eq!(reason(amount(11, 10).unwrap_err()), "OUT_OF_RANGE");
        assert_eq!(amount(10, 10).unwrap(), 10);
        assert_eq!(reason(adjustment(0).unwrap_err()), "OUT_OF_RANGE");
        assert_eq!(adjustment(-MAX_AMOUNT_KRW).unwrap(), -MAX_AMOUNT_KRW);
        assert_eq!(reason(period("2026-13").unwrap_err()), "PERIOD_INVALID");
    }

    #[test]
    fn a_submission_keeps_only_the_last_four_digits_of_the_account() {
        let r = pb::SubmitSettlementInfoRequest {
            business_type: BusinessType::Individual as i32,
            business_owner: "홍길동".into(),
            bank_code: "088".into(),
            account_number: "110123456789".into(),
            account_holder: "홍길동".into(),
            mail_order: MailOrder::Exempt as i32,
            ..Default::default()
        };
        let (number, info) = submission(&r).unwrap();
        assert_eq!(number, "110123456789");
        assert_eq!(info.account_number_masked, "********6789");
        let bad = pb::SubmitSettlementInfoRequest {
            account_number: "12-34".into(),
            ..r.clone()
        };
        assert_eq!(reason(submission(&bad).unwrap_err()), "MALFORMED");
        let bad_doc = pb::SubmitSettlementInfoRequest {
            documents: vec![Document {
                kind: DocumentKind::ShareholderRegister as i32,
                file_ref: "kyc/1".into(),
                sha256: "xyz".into(),
            }],
            ..r
        };
        assert_eq!(reason(submission(&bad_doc).unwrap_err()), "MALFORMED");
    }

    proptest::proptest! {
        #[test]
        fn no_submission_makes_the_validator_panic(
            owner in ".{0,120}", bank in ".{0,5}", number in ".{0,20}", kind in -2i32..6,
            sha in ".{0,70}", mail in -1i32..4, business in -1i32..4,
        ) {
            let r = pb::SubmitSettlementInfoRequest {
                business_type: business,
                business_owner: owner.clone(),
                bank_code: bank,
                account_number: number,
                account_holder: owner,
                documents: vec![Document { kind, file_ref: "f".into(), sha256: sha }],
                mail_order: mail,
                ..Default::default()
            };
            let _ = submission(&r);
        }
    }
}
