//! Settlement information and KYC (`seller-<partner>`): what a partner needs before selling paid
//! products (domain.md §2.1 K15): a settlement account in the business owner's name, the KYC
//! documents its business type requires, verified by operations, and the mail-order
//! (통신판매업) registration or an exemption. Each change states the whole picture in
//! `SellerStatusChanged`, which the catalog follows.
use yeyak_kit::command::Aggregate;
use yeyak_proto::{
    catalog::events::v1::MailOrder,
    settlement::events::v1::{
        BusinessType, DocumentKind, KycReviewed, SellerStatusChanged, SettlementInfoSubmitted,
    },
    time::from_micros,
};

use super::SettlementError;

yeyak_kit::event_set! {
    /// What happens to a partner's settlement information.
    pub enum SellerEvent {
        Submitted(SettlementInfoSubmitted),
        Reviewed(KycReviewed),
        StatusChanged(SellerStatusChanged),
    }
}

/// Where the KYC review is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Kyc {
    #[default]
    NotSubmitted,
    InReview,
    Verified,
    Rejected(String),
}

/// The partner's settlement information as its stream folds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seller {
    pub submitted: Option<SettlementInfoSubmitted>,
    pub kyc: Kyc,
}

impl Seller {
    /// The settlement account's provider reference, once verified: where payouts go.
    pub fn verified_account(&self) -> Option<&str> {
        let s = self.submitted.as_ref()?;
        (self.kyc == Kyc::Verified).then_some(s.account_ref.as_str())
    }

    /// The picture the catalog follows.
    pub fn status(&self, partner_id: &str) -> SellerStatusChanged {
        let mail_order = self
            .submitted
            .as_ref()
            .map_or(MailOrder::Unspecified as i32, |s| s.mail_order);
        let kyc_verified = self.kyc == Kyc::Verified;
        SellerStatusChanged {
            partner_id: partner_id.to_string(),
            settlement_account_verified: kyc_verified,
            kyc_verified,
            mail_order,
            may_sell_paid_products: kyc_verified && mail_order != MailOrder::Unspecified as i32,
        }
    }
}

/// The documents a business type must submit: an individual business its business
/// registration certificate (사업자등록증); a corporation that, its corporate registry transcript
/// (법인등기부등본) and its shareholder register (주주명부).
pub fn required_documents(business_type: BusinessType) -> &'static [DocumentKind] {
    match business_type {
        BusinessType::Corporation => &[
            DocumentKind::BusinessRegistrationCertificate,
            DocumentKind::CorporateRegistryTranscript,
            DocumentKind::ShareholderRegister,
        ],
        _ => &[DocumentKind::BusinessRegistrationCertificate],
    }
}

/// A document kind's name in refusals.
pub fn document_name(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::BusinessRegistrationCertificate => {
            "business registration certificate (사업자등록증)"
        }
        DocumentKind::CorporateRegistryTranscript => {
            "corporate registry transcript (법인등기부등본)"
        }
        DocumentKind::ShareholderRegister => "shareholder register (주주명부)",
        DocumentKind::Unspecified => "unspecified document",
    }
}

/// A name as compared for the account check: no spaces, no `(주)`/`주식회사` marks, case folded.
pub fn normalized_name(name: &str) -> String {
    name.replace("주식회사", "")
        .replace("(주)", "")
        .replace("㈜", "")
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What is asked of a partner's settlement information.
#[derive(Debug, Clone, PartialEq)]
pub enum SellerCommand {
    /// A submission, with the provider's account reference and the time in it.
    Submit(SettlementInfoSubmitted),
    Review {
        verified: bool,
        reason: String,
        by: String,
    },
}

impl Aggregate for Seller {
    type Event = SellerEvent;
    type Command = SellerCommand;
    /// The partner and the business time.
    type Context = (String, i64);
    type Decision = Vec<SellerEvent>;
    type Error = SettlementError;

    fn evolve(&mut self, event: SellerEvent) {
        match event {
            SellerEvent::Submitted(s) => {
                self.submitted = Some(s);
                self.kyc = Kyc::InReview;
            }
            SellerEvent::Reviewed(r) => {
                self.kyc = if r.verified {
                    Kyc::Verified
                } else {
                    Kyc::Rejected(r.reason)
                }
            }
            SellerEvent::StatusChanged(_) => {}
        }
    }

    fn decide(
        &self,
        command: SellerCommand,
        (partner_id, now_us): &(String, i64),
    ) -> Result<Vec<SellerEvent>, SettlementError> {
        let mut out: Vec<SellerEvent> = match command {
            SellerCommand::Submit(s) => {
                let business_type = BusinessType::try_from(s.business_type).unwrap_or_default();
                if business_type == BusinessType::Unspecified {
                    return Err(SettlementError::BusinessTypeMissing);
                }
                if normalized_name(&s.account_holder) != normalized_name(&s.business_owner) {
                    return Err(SettlementError::AccountHolderNotOwner {
                        holder: s.account_holder,
                        owner: s.business_owner,
                    });
                }
                let missing: Vec<&'static str> = required_documents(business_type)
                    .iter()
                    .filter(|k| !s.documents.iter().any(|d| d.kind == **k as i32))
                    .map(|k| document_name(*k))
                    .collect();
                if !missing.is_empty() {
                    return Err(SettlementError::DocumentsMissing(missing.join(", ")));
                }
                let mail_order = MailOrder::try_from(s.mail_order).unwrap_or_default();
                match mail_order {
                    MailOrder::Unspecified => return Err(SettlementError::MailOrderMissing),
                    MailOrder::Registered if s.mail_order_number.trim().is_empty() => {
                        return Err(SettlementError::MailOrderNumberMissing);
                    }
                    _ => {}
                }
                let unchanged = self.submitted.as_ref().is_some_and(|before| {
                    SettlementInfoSubmitted {
                        occurred_at: None,
                        ..before.clone()
                    } == s
                });
                if unchanged {
                    return Ok(vec![]);
                }
                vec![
                    SettlementInfoSubmitted {
                        occurred_at: Some(from_micros(*now_us)),
                        ..s
                    }
                    .into(),
                ]
            }
            SellerCommand::Review {
                verified,
                reason,
                by,
            } => {
                if self.kyc != Kyc::InReview {
                    return Err(SettlementError::NothingToReview);
                }
                if !verified && reason.trim().is_empty() {
                    return Err(SettlementError::RejectionReasonMissing);
                }
                vec![
                    KycReviewed {
                        partner_id: partner_id.clone(),
                        verified,
                        reason,
                        reviewed_by: by,
                        occurred_at: Some(from_micros(*now_us)),
                    }
                    .into(),
                ]
            }
        };
        let status = self.clone().evolved(&out).status(partner_id);
        if status != self.status(partner_id) {
            out.push(status.into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use yeyak_kit::command::testing::given;
    use yeyak_proto::settlement::events::v1::Document;

    use super::*;

    fn doc(kind: DocumentKind) -> Document {
        Document {
            kind: kind as i32,
            file_ref: format!("kyc/{}", kind as i32),
            sha256: "00".repeat(32),
        }
    }

    fn submission(
        business_type: BusinessType,
        documents: Vec<Document>,
    ) -> SettlementInfoSubmitted {
        SettlementInfoSubmitted {
            partner_id: "p".into(),
            business_type: business_type as i32,
            business_owner: "주식회사 예약".into(),
            bank_code: "088".into(),
            account_number_masked: "******1234".into(),
            account_holder: "(주)예약".into(),
            account_ref: "acct-1".into(),
            documents,
            mail_order: MailOrder::Registered as i32,
            mail_order_number: "2026-서울강남-01234".into(),
            occurred_at: None,
        }
    }

    const CONTEXT: (&str, i64) = ("p", 0);

    fn context() -> (String, i64) {
        (CONTEXT.0.into(), CONTEXT.1)
    }

    #[test]
    fn a_corporation_without_its_registry_and_shareholder_register_is_refused_naming_both() {
        let s = submission(
            BusinessType::Corporation,
            vec![doc(DocumentKind::BusinessRegistrationCertificate)],
        );
        given::<Seller>([])
            .when(SellerCommand::Submit(s), &context())
            .then_refused(SettlementError::DocumentsMissing(
                "corporate registry transcript (법인등기부등본), shareholder register (주주명부)"
                    .into(),
            ));
    }

    #[test]
    fn an_individual_business_needs_only_its_business_registration_certificate() {
        given::<Seller>([])
            .when(
                SellerCommand::Submit(submission(BusinessType::Individual, vec![])),
                &context(),
            )
            .then_refused(SettlementError::DocumentsMissing(
                "business registration certificate (사업자등록증)".into(),
            ));
        let ok = submission(
            BusinessType::Individual,
            vec![doc(DocumentKind::BusinessRegistrationCertificate)],
        );
        let decided = given::<Seller>([])
            .when(SellerCommand::Submit(ok), &context())
            .decision();
        let [
            SellerEvent::Submitted(_),
            SellerEvent::StatusChanged(status),
        ] = decided.as_slice()
        else {
            panic!("{decided:?}")
        };
        assert!(
            !status.may_sell_paid_products,
            "not before operations verify"
        );
    }

    #[test]
    fn an_account_not_in_the_business_owners_name_fails_verification() {
        let mut s = submission(
            BusinessType::Individual,
            vec![doc(DocumentKind::BusinessRegistrationCertificate)],
        );
        s.account_holder = "김철수".into();
        given::<Seller>([])
            .when(SellerCommand::Submit(s), &context())
            .then_refused(SettlementError::AccountHolderNotOwner {
                holder: "김철수".into(),
                owner: "주식회사 예약".into(),
            });
    }

    #[test]
    fn a_registered_mail_order_business_needs_its_number_and_an_exemption_none() {
        let docs = vec![doc(DocumentKind::BusinessRegistrationCertificate)];
        let mut s = submission(BusinessType::Individual, docs.clone());
        s.mail_order_number.clear();
        given::<Seller>([])
            .when(SellerCommand::Submit(s.clone()), &context())
            .then_refused(SettlementError::MailOrderNumberMissing);
        s.mail_order = MailOrder::Exempt as i32;
        assert!(
            !given::<Seller>([])
                .when(SellerCommand::Submit(s.clone()), &context())
                .decision()
                .is_empty()
        );
        s.mail_order = MailOrder::Unspecified as i32;
        given::<Seller>([])
            .when(SellerCommand::Submit(s), &context())
            .then_refused(SettlementError::MailOrderMissing);
    }

    #[test]
    fn only_verified_kyc_with_a_mail_order_status_lets_the_partner_sell_paid_products() {
        let s = submission(
            BusinessType::Corporation,
            vec![
                doc(DocumentKind::BusinessRegistrationCertificate),
                doc(DocumentKind::CorporateRegistryTranscript),
                doc(DocumentKind::ShareholderRegister),
            ],
        );
        let submitted = given::<Seller>([])
            .when(SellerCommand::Submit(s.clone()), &context())
            .decision();
        let Some(SellerEvent::StatusChanged(in_review)) = submitted.last() else {
            panic!("{submitted:?}")
        };
        assert!(!in_review.may_sell_paid_products && !in_review.kyc_verified);
        let review = |verified: bool, reason: &str| SellerCommand::Review {
            verified,
            reason: reason.into(),
            by: "ops:1".into(),
        };
        let verified = given::<Seller>(submitted.clone())
            .when(review(true, ""), &context())
            .decision();
        let Some(SellerEvent::StatusChanged(status)) = verified.last() else {
            panic!("{verified:?}")
        };
        assert!(status.may_sell_paid_products && status.settlement_account_verified);
        given::<Seller>(submitted.clone())
            .when(review(false, " "), &context())
            .then_refused(SettlementError::RejectionReasonMissing);
        let mut history = submitted;
        history.extend(verified);
        let rejected = given::<Seller>(history.clone())
            .when(SellerCommand::Submit(s), &context())
            .decision();
        assert!(
            rejected.is_empty(),
            "the same submission again changes nothing"
        );
        given::<Seller>(history)
            .when(review(true, ""), &context())
            .then_refused(SettlementError::NothingToReview);
    }
}
