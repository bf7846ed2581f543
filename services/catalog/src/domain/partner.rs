//! Partners: onboarding with a linked KakaoTalk channel.
use yeyak_proto::catalog::events::v1::PartnerRegistered;

use super::CatalogError;

/// A partner as its stream folds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partner {
    pub registered: Option<PartnerRegistered>,
}

impl Partner {
    pub fn apply(&mut self, event: PartnerRegistered) {
        self.registered = Some(event);
    }
}

/// Command: onboard a partner.
#[derive(Debug, Clone)]
pub struct RegisterPartner {
    pub partner_id: uuid::Uuid,
    pub name: String,
    pub business_registration_number: String,
    pub channel_id: String,
    pub channel_business_verified: bool,
}

/// Onboarding requires a linked channel and a valid business registration number (사업자등록번호).
pub fn register(
    state: &Partner,
    cmd: RegisterPartner,
) -> Result<Vec<PartnerRegistered>, CatalogError> {
    if state.registered.is_some() {
        return Err(CatalogError::AlreadyExists("partner"));
    }
    if cmd.channel_id.trim().is_empty() {
        return Err(CatalogError::invalid(
            "channel_id",
            "CHANNEL_REQUIRED",
            "a linked KakaoTalk channel is required to onboard",
        ));
    }
    if !valid_business_registration_number(&cmd.business_registration_number) {
        return Err(CatalogError::invalid(
            "business_registration_number",
            "INVALID_BUSINESS_REGISTRATION_NUMBER",
            "must be the 10 digits of a valid 사업자등록번호 (check digit included)",
        ));
    }
    Ok(vec![PartnerRegistered {
        partner_id: cmd.partner_id.to_string(),
        name: cmd.name,
        business_registration_number: cmd.business_registration_number,
        channel_id: cmd.channel_id,
        channel_business_verified: cmd.channel_business_verified,
    }])
}

/// The Korean business registration number: 10 digits, the last a weighted check digit.
pub fn valid_business_registration_number(number: &str) -> bool {
    let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 10 || number.len() != 10 {
        return false;
    }
    const WEIGHTS: [u32; 9] = [1, 3, 7, 1, 3, 7, 1, 3, 5];
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum::<u32>() + digits[8] * 5 / 10;
    (10 - sum % 10) % 10 == digits[9]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> RegisterPartner {
        RegisterPartner {
            partner_id: uuid::Uuid::nil(),
            name: "Seoul Table".into(),
            business_registration_number: "1234567891".into(),
            channel_id: "_xkakao".into(),
            channel_business_verified: true,
        }
    }

    #[test]
    fn onboarding_requires_a_linked_channel() {
        let err = register(
            &Partner::default(),
            RegisterPartner {
                channel_id: " ".into(),
                ..cmd()
            },
        )
        .unwrap_err();
        assert!(matches!(
            err,
            CatalogError::Invalid {
                reason: "CHANNEL_REQUIRED",
                ..
            }
        ));
    }

    #[test]
    fn business_registration_number_needs_a_valid_check_digit() {
        assert!(valid_business_registration_number("1234567891"));
        assert!(!valid_business_registration_number("1234567890"));
        assert!(!valid_business_registration_number("123456789"));
        assert!(!valid_business_registration_number("12345678a1"));
        let err = register(
            &Partner::default(),
            RegisterPartner {
                business_registration_number: "1234567890".into(),
                ..cmd()
            },
        );
        assert!(matches!(
            err,
            Err(CatalogError::Invalid {
                field: "business_registration_number",
                ..
            })
        ));
    }

    #[test]
    fn a_partner_registers_once() {
        let mut partner = Partner::default();
        for e in register(&partner, cmd()).unwrap() {
            partner.apply(e);
        }
        assert_eq!(
            register(&partner, cmd()),
            Err(CatalogError::AlreadyExists("partner"))
        );
    }

    proptest::proptest! {
        #[test]
        fn the_check_digit_validator_never_panics(s in "\\PC{0,20}") {
            let _ = valid_business_registration_number(&s);
        }

        #[test]
        fn exactly_one_check_digit_is_valid(prefix in "[0-9]{9}") {
            let valid = (0..10).filter(|d| valid_business_registration_number(&format!("{prefix}{d}"))).count();
            proptest::prop_assert_eq!(valid, 1);
        }
    }
}
