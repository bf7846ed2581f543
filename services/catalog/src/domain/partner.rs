//! Partners: onboarding with a linked KakaoTalk channel, channel facts, operators and the
//! seller verification paid products need (domain.md §2.1, S7, S10).
use std::collections::BTreeSet;

use yeyak_kit::{
    access::{Grant, Operators},
    command::Aggregate,
};

use yeyak_proto::catalog::events::v1::{
    ChannelCustomMenuInstalled, ChannelHomeCardInstalled, ChannelSettingsRecorded, MailOrder,
    OperatorAccepted, OperatorInvited, OperatorRole, PartnerRegistered, SellerVerificationRecorded,
};

use super::{CatalogError, Entity};

yeyak_kit::event_set! {
    /// What happens on a partner's stream.
    pub enum PartnerEvent {
        Registered(PartnerRegistered),
        HomeCardInstalled(ChannelHomeCardInstalled),
        CustomMenuInstalled(ChannelCustomMenuInstalled),
        ChannelSettings(ChannelSettingsRecorded),
        OperatorInvited(OperatorInvited),
        OperatorAccepted(OperatorAccepted),
        SellerVerification(SellerVerificationRecorded),
    }
}

/// Industries (업종) a partner may onboard in.
pub const INDUSTRIES: &[&str] = &[
    "restaurant",
    "beauty",
    "living",
    "ticket_leisure",
    "hospital",
    "lodging",
    "class",
];

/// Industries that onboard only with a business-verified channel. The sources say "some
/// industries" without a list; these two are where a wrong seller costs the customer most.
pub const VERIFIED_CHANNEL_INDUSTRIES: &[&str] = &["hospital", "lodging"];

/// A partner as its stream folds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partner {
    pub registered: Option<PartnerRegistered>,
    pub home_card_installed: bool,
    pub custom_menu_kept: bool,
    pub channel: ChannelSettingsRecorded,
    pub seller: SellerVerificationRecorded,
    /// The partner's operators, checked by the one operator check every service runs.
    pub operators: Operators,
}

impl Partner {
    pub fn apply(&mut self, event: PartnerEvent) {
        match event {
            PartnerEvent::Registered(e) => self.registered = Some(e),
            PartnerEvent::HomeCardInstalled(_) => self.home_card_installed = true,
            PartnerEvent::CustomMenuInstalled(e) => self.custom_menu_kept = e.existing_menu_kept,
            PartnerEvent::ChannelSettings(e) => self.channel = e,
            PartnerEvent::SellerVerification(e) => self.seller = e,
            PartnerEvent::OperatorInvited(e) => self.operators.invited(&e),
            PartnerEvent::OperatorAccepted(e) => self.operators.accepted(&e),
        }
    }

    fn require_registered(&self) -> Result<&PartnerRegistered, CatalogError> {
        self.registered
            .as_ref()
            .ok_or(CatalogError::NotFound(Entity::Partner))
    }

    /// Settlement verified, KYC verified and a mail-order registration (or exemption) recorded.
    pub fn may_sell_paid_products(&self) -> bool {
        self.seller.settlement_account_verified
            && self.seller.kyc_verified
            && self.seller.mail_order() != MailOrder::Unspecified
    }

    /// The active operator with this account, if any.
    pub fn active_operator(&self, operator_id: &str) -> Option<&Grant> {
        self.operators.active(operator_id)
    }
}

/// Command: onboard a partner.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterPartner {
    pub partner_id: uuid::Uuid,
    pub name: String,
    pub business_registration_number: String,
    pub channel_id: String,
    pub channel_business_verified: bool,
    pub industry: String,
    pub channel_has_home_card: bool,
    pub channel_has_custom_menu: bool,
    /// The owner's account: the first Admin, active at once (the owner onboards themself).
    pub owner_operator_id: String,
}

/// Onboarding requires a linked channel (business-verified for some industries) and a valid
/// business registration number (사업자등록번호). The channel gets the home card and the custom
/// menu; a custom menu it already has is kept.
pub fn register(state: &Partner, cmd: RegisterPartner) -> Result<Vec<PartnerEvent>, CatalogError> {
    if state.registered.is_some() {
        return Err(CatalogError::AlreadyExists(Entity::Partner));
    }
    if cmd.channel_id.trim().is_empty() {
        return Err(CatalogError::invalid(
            "channel_id",
            "CHANNEL_REQUIRED",
            "a linked KakaoTalk channel is required to onboard",
        ));
    }
    if !INDUSTRIES.contains(&cmd.industry.as_str()) {
        return Err(CatalogError::invalid(
            "industry",
            "UNKNOWN_INDUSTRY",
            format!("choose one of {}", INDUSTRIES.join(", ")),
        ));
    }
    if VERIFIED_CHANNEL_INDUSTRIES.contains(&cmd.industry.as_str())
        && !cmd.channel_business_verified
    {
        return Err(CatalogError::BusinessVerifiedChannelRequired {
            industry: cmd.industry,
        });
    }
    if !valid_business_registration_number(&cmd.business_registration_number) {
        return Err(CatalogError::invalid(
            "business_registration_number",
            "INVALID_BUSINESS_REGISTRATION_NUMBER",
            "must be the 10 digits of a valid 사업자등록번호 (check digit included)",
        ));
    }
    if cmd.owner_operator_id.trim().is_empty() {
        return Err(CatalogError::invalid(
            "owner_operator_id",
            "REQUIRED",
            "the owner's account is required",
        ));
    }
    let partner_id = cmd.partner_id.to_string();
    Ok(vec![
        PartnerRegistered {
            partner_id: partner_id.clone(),
            name: cmd.name,
            business_registration_number: cmd.business_registration_number,
            channel_id: cmd.channel_id.clone(),
            channel_business_verified: cmd.channel_business_verified,
            industry: cmd.industry,
        }
        .into(),
        ChannelHomeCardInstalled {
            partner_id: partner_id.clone(),
            channel_id: cmd.channel_id.clone(),
            previous_card_moved_down: cmd.channel_has_home_card,
        }
        .into(),
        ChannelCustomMenuInstalled {
            partner_id: partner_id.clone(),
            channel_id: cmd.channel_id,
            existing_menu_kept: cmd.channel_has_custom_menu,
        }
        .into(),
        OperatorInvited {
            partner_id: partner_id.clone(),
            operator_id: cmd.owner_operator_id.clone(),
            role: OperatorRole::Admin as i32,
            all_places: true,
            place_ids: vec![],
        }
        .into(),
        OperatorAccepted {
            partner_id,
            operator_id: cmd.owner_operator_id,
        }
        .into(),
    ])
}

/// Records the channel's chat settings.
pub fn record_channel_settings(
    state: &Partner,
    one_to_one_chat: bool,
    chatbot_with_chat: bool,
) -> Result<Vec<PartnerEvent>, CatalogError> {
    let p = state.require_registered()?;
    let e = ChannelSettingsRecorded {
        partner_id: p.partner_id.clone(),
        one_to_one_chat,
        chatbot_with_chat,
    };
    Ok(if e == state.channel {
        vec![]
    } else {
        vec![e.into()]
    })
}

/// Records settlement verification, KYC and the mail-order registration.
pub fn record_seller_verification(
    state: &Partner,
    settlement_account_verified: bool,
    kyc_verified: bool,
    mail_order: MailOrder,
) -> Result<Vec<PartnerEvent>, CatalogError> {
    let p = state.require_registered()?;
    let e = SellerVerificationRecorded {
        partner_id: p.partner_id.clone(),
        settlement_account_verified,
        kyc_verified,
        mail_order: mail_order as i32,
    };
    Ok(if e == state.seller {
        vec![]
    } else {
        vec![e.into()]
    })
}

/// Command: invite an operator.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteOperator {
    pub operator_id: String,
    pub role: OperatorRole,
    /// `None`: every place.
    pub places: Option<BTreeSet<String>>,
}

/// Who may invite whom: an Admin invites any role; a Master invites Members within its own
/// places; a Member invites nobody. An operator is invited once.
pub fn invite_operator(
    state: &Partner,
    inviter: Option<&Grant>,
    cmd: InviteOperator,
    known_places: &BTreeSet<String>,
) -> Result<Vec<PartnerEvent>, CatalogError> {
    let p = state.require_registered()?;
    if cmd.operator_id.trim().is_empty() {
        return Err(CatalogError::invalid(
            "operator_id",
            "REQUIRED",
            "the invited account is required",
        ));
    }
    if cmd.role == OperatorRole::Unspecified {
        return Err(CatalogError::invalid(
            "role",
            "REQUIRED",
            "choose ADMIN, MASTER or MEMBER",
        ));
    }
    if let Some(places) = &cmd.places {
        if places.is_empty() {
            return Err(CatalogError::invalid(
                "place_ids",
                "REQUIRED",
                "grant all places or at least one",
            ));
        }
        if let Some(unknown) = places.iter().find(|id| !known_places.contains(*id)) {
            return Err(CatalogError::invalid(
                "place_ids",
                "UNKNOWN_PLACE",
                format!("{unknown} is not a place of this partner"),
            ));
        }
    }
    if let Some(inviter) = inviter {
        let allowed = match inviter.role {
            OperatorRole::Admin => true,
            OperatorRole::Master => {
                cmd.role == OperatorRole::Member
                    && match (&cmd.places, &inviter.places) {
                        (_, None) => true,
                        (Some(wanted), Some(own)) => wanted.is_subset(own),
                        (None, Some(_)) => false,
                    }
            }
            _ => false,
        };
        if !allowed {
            return Err(CatalogError::RoleMayNotInvite {
                inviter: inviter.role,
                invited: cmd.role,
            });
        }
    }
    if state.operators.by_id.contains_key(&cmd.operator_id) {
        return Err(CatalogError::AlreadyExists(Entity::Operator));
    }
    Ok(vec![
        OperatorInvited {
            partner_id: p.partner_id.clone(),
            operator_id: cmd.operator_id,
            role: cmd.role as i32,
            all_places: cmd.places.is_none(),
            place_ids: cmd.places.into_iter().flatten().collect(),
        }
        .into(),
    ])
}

/// The invited account accepts and becomes active; accepting twice changes nothing.
pub fn accept_invitation(
    state: &Partner,
    operator_id: &str,
) -> Result<Vec<PartnerEvent>, CatalogError> {
    let p = state.require_registered()?;
    match state.operators.by_id.get(operator_id) {
        None => Err(CatalogError::NotFound(Entity::Invitation)),
        Some(op) if op.active => Ok(vec![]),
        Some(_) => Ok(vec![
            OperatorAccepted {
                partner_id: p.partner_id.clone(),
                operator_id: operator_id.to_string(),
            }
            .into(),
        ]),
    }
}

/// What platform operations or an operator asks of a partner.
#[derive(Debug, Clone, PartialEq)]
pub enum PartnerCommand {
    Register(RegisterPartner),
    RecordChannelSettings {
        one_to_one_chat: bool,
        chatbot_with_chat: bool,
    },
    RecordSellerVerification {
        settlement_account_verified: bool,
        kyc_verified: bool,
        mail_order: MailOrder,
    },
    /// `by`: the inviting operator's account; `None` for platform operations.
    InviteOperator {
        invitation: InviteOperator,
        by: Option<String>,
    },
    /// The invited account accepts.
    AcceptInvitation {
        operator_id: String,
    },
}

/// What a partner decision needs besides the partner: the places that are the partner's (an
/// invitation may grant only those).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartnerContext {
    pub known_places: BTreeSet<String>,
}

impl Aggregate for Partner {
    type Event = PartnerEvent;
    type Command = PartnerCommand;
    type Context = PartnerContext;
    type Decision = Vec<PartnerEvent>;
    type Error = CatalogError;

    fn evolve(&mut self, event: PartnerEvent) {
        self.apply(event);
    }

    fn decide(
        &self,
        command: PartnerCommand,
        context: &PartnerContext,
    ) -> Result<Vec<PartnerEvent>, CatalogError> {
        match command {
            PartnerCommand::Register(cmd) => register(self, cmd),
            PartnerCommand::RecordChannelSettings {
                one_to_one_chat,
                chatbot_with_chat,
            } => record_channel_settings(self, one_to_one_chat, chatbot_with_chat),
            PartnerCommand::RecordSellerVerification {
                settlement_account_verified,
                kyc_verified,
                mail_order,
            } => record_seller_verification(
                self,
                settlement_account_verified,
                kyc_verified,
                mail_order,
            ),
            PartnerCommand::InviteOperator { invitation, by } => {
                let inviter = match &by {
                    Some(account) => Some(
                        self.active_operator(account)
                            .ok_or(yeyak_kit::access::AccessError::NotAnActiveOperator)?,
                    ),
                    None => None,
                };
                invite_operator(self, inviter, invitation, &context.known_places)
            }
            PartnerCommand::AcceptInvitation { operator_id } => {
                accept_invitation(self, &operator_id)
            }
        }
    }
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
            channel_business_verified: false,
            industry: "restaurant".into(),
            channel_has_home_card: false,
            channel_has_custom_menu: false,
            owner_operator_id: "owner".into(),
        }
    }

    fn given(events: Vec<PartnerEvent>) -> Partner {
        let mut p = Partner::default();
        for e in events {
            p.apply(e);
        }
        p
    }

    fn onboarded() -> Partner {
        given(register(&Partner::default(), cmd()).unwrap())
    }

    fn reason(e: CatalogError) -> &'static str {
        e.reason()
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
        assert_eq!(reason(err), "CHANNEL_REQUIRED");
    }

    #[test]
    fn industries_flagged_for_verification_need_a_business_verified_channel() {
        let lodging = RegisterPartner {
            industry: "lodging".into(),
            ..cmd()
        };
        assert_eq!(
            reason(register(&Partner::default(), lodging.clone()).unwrap_err()),
            "BUSINESS_VERIFIED_CHANNEL_REQUIRED"
        );
        assert!(
            register(
                &Partner::default(),
                RegisterPartner {
                    channel_business_verified: true,
                    ..lodging
                }
            )
            .is_ok()
        );
        assert!(
            register(&Partner::default(), cmd()).is_ok(),
            "restaurants need no verification"
        );
    }

    #[test]
    fn onboarding_installs_the_home_card_and_keeps_an_existing_custom_menu() {
        let fresh = onboarded();
        assert!(fresh.home_card_installed);
        assert!(!fresh.custom_menu_kept);
        let events = register(
            &Partner::default(),
            RegisterPartner {
                channel_has_custom_menu: true,
                channel_has_home_card: true,
                ..cmd()
            },
        )
        .unwrap();
        assert!(events.contains(&PartnerEvent::CustomMenuInstalled(
            ChannelCustomMenuInstalled {
                partner_id: uuid::Uuid::nil().to_string(),
                channel_id: "_xkakao".into(),
                existing_menu_kept: true,
            }
        )));
        assert!(
            events.contains(&PartnerEvent::HomeCardInstalled(ChannelHomeCardInstalled {
                partner_id: uuid::Uuid::nil().to_string(),
                channel_id: "_xkakao".into(),
                previous_card_moved_down: true,
            }))
        );
    }

    #[test]
    fn the_owner_is_the_first_active_admin() {
        let p = onboarded();
        let owner = p.active_operator("owner").expect("active");
        assert_eq!(owner.role, OperatorRole::Admin);
        assert!(owner.covers("any place"));
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
        )
        .unwrap_err();
        assert_eq!(reason(err), "INVALID_BUSINESS_REGISTRATION_NUMBER");
    }

    #[test]
    fn the_business_registration_number_is_immutable_a_partner_registers_once() {
        let p = onboarded();
        let again = RegisterPartner {
            business_registration_number: "2208162517".into(),
            ..cmd()
        };
        assert_eq!(
            register(&p, again),
            Err(CatalogError::AlreadyExists(Entity::Partner))
        );
        assert_eq!(
            p.registered.unwrap().business_registration_number,
            "1234567891"
        );
    }

    #[test]
    fn operators_are_active_only_once_they_accept() {
        let mut p = onboarded();
        let places: BTreeSet<String> = ["a".to_string()].into();
        let admin = p.active_operator("owner").cloned();
        for e in invite_operator(
            &p,
            admin.as_ref(),
            InviteOperator {
                operator_id: "kim".into(),
                role: OperatorRole::Member,
                places: Some(places.clone()),
            },
            &places,
        )
        .unwrap()
        {
            p.apply(e);
        }
        assert!(p.active_operator("kim").is_none(), "invited, not active");
        for e in accept_invitation(&p, "kim").unwrap() {
            p.apply(e);
        }
        let kim = p.active_operator("kim").expect("active after accepting");
        assert!(kim.covers("a") && !kim.covers("b"));
        assert_eq!(accept_invitation(&p, "kim").unwrap(), vec![]);
        assert_eq!(
            reason(accept_invitation(&p, "lee").unwrap_err()),
            "INVITATION_NOT_FOUND"
        );
    }

    #[test]
    fn a_master_invites_only_members_of_its_own_places_and_a_member_invites_nobody() {
        let p = onboarded();
        let known: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        let master = Grant {
            role: OperatorRole::Master,
            places: Some(["a".to_string()].into()),
            active: true,
        };
        let invite = |role, places: Option<&[&str]>| InviteOperator {
            operator_id: "new".into(),
            role,
            places: places.map(|p| p.iter().map(|s| s.to_string()).collect()),
        };
        assert!(
            invite_operator(
                &p,
                Some(&master),
                invite(OperatorRole::Member, Some(&["a"])),
                &known
            )
            .is_ok()
        );
        for refused in [
            invite(OperatorRole::Master, Some(&["a"])),
            invite(OperatorRole::Member, Some(&["b"])),
            invite(OperatorRole::Member, None),
        ] {
            assert_eq!(
                reason(invite_operator(&p, Some(&master), refused, &known).unwrap_err()),
                "ROLE_MAY_NOT_INVITE"
            );
        }
        let member = Grant {
            role: OperatorRole::Member,
            ..master
        };
        assert_eq!(
            reason(
                invite_operator(
                    &p,
                    Some(&member),
                    invite(OperatorRole::Member, Some(&["a"])),
                    &known
                )
                .unwrap_err()
            ),
            "ROLE_MAY_NOT_INVITE"
        );
        assert_eq!(
            reason(
                invite_operator(
                    &p,
                    None,
                    invite(OperatorRole::Member, Some(&["zzz"])),
                    &known
                )
                .unwrap_err()
            ),
            "UNKNOWN_PLACE"
        );
    }

    #[test]
    fn paid_products_need_settlement_kyc_and_mail_order() {
        let mut p = onboarded();
        assert!(!p.may_sell_paid_products());
        for e in record_seller_verification(&p, true, true, MailOrder::Unspecified).unwrap() {
            p.apply(e);
        }
        assert!(
            !p.may_sell_paid_products(),
            "no mail-order registration yet"
        );
        for e in record_seller_verification(&p, true, true, MailOrder::Exempt).unwrap() {
            p.apply(e);
        }
        assert!(p.may_sell_paid_products());
    }

    #[test]
    fn channel_settings_are_kept_as_facts_and_unchanged_settings_append_nothing() {
        let mut p = onboarded();
        let events = record_channel_settings(&p, true, false).unwrap();
        assert_eq!(events.len(), 1);
        for e in events {
            p.apply(e);
        }
        assert!(p.channel.one_to_one_chat && !p.channel.chatbot_with_chat);
        assert_eq!(record_channel_settings(&p, true, false).unwrap(), vec![]);
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
