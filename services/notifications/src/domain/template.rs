//! Message templates, as a business-messaging provider requires them (알림톡): a code, Korean
//! text with `#{variable}` placeholders, and a review state. Only an approved template is sent;
//! a new registration of a code needs a new review.
use std::collections::BTreeMap;

use yeyak_kit::command::Aggregate;
use yeyak_proto::notifications::events::v1::{TemplateRegistered, TemplateReviewed, TemplateState};

use super::NotificationsError;

yeyak_kit::event_set! {
    /// What happens on a template's stream.
    pub enum TemplateEvent {
        Registered(TemplateRegistered),
        Reviewed(TemplateReviewed),
    }
}

/// The longest template text, in characters (the provider's limit for one 알림톡).
pub const MAX_TEXT_CHARS: usize = 1_000;
/// The longest placeholder name, in characters.
pub const MAX_VARIABLE_CHARS: usize = 30;

/// A template as its stream folds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    pub code: String,
    pub text: String,
    pub variables: Vec<String>,
    pub state: TemplateState,
    /// The last approved text: it stays in force while a new text waits for review.
    pub approved_text: Option<String>,
}

impl Template {
    pub fn is_registered(&self) -> bool {
        self.state != TemplateState::Unspecified
    }

    pub fn is_approved(&self) -> bool {
        self.state == TemplateState::Approved
    }

    /// The text messages go out with: the approved one, the last approved while a new text
    /// waits for review or was rejected; `None` before any approval.
    pub fn text_in_force(&self) -> Option<&str> {
        if self.is_approved() {
            Some(&self.text)
        } else {
            self.approved_text.as_deref()
        }
    }
}

/// A template code: 1 to 64 of `a-z`, `0-9` and `-`, e.g. `customer-reservation-confirmed`.
pub fn valid_code(code: &str) -> Result<(), NotificationsError> {
    let ok = (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(NotificationsError::BadTemplateCode(code.to_string()))
    }
}

/// The placeholders of `text`, each once, in order of first use. A `#{` without its `}`, an
/// empty name, or a name of other than letters, digits and `_` is refused.
pub fn placeholders(text: &str) -> Result<Vec<String>, NotificationsError> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("#{") {
        let after = &rest[at + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| NotificationsError::BadPlaceholder(after.chars().take(20).collect()))?;
        let name = &after[..end];
        let ok = (1..=MAX_VARIABLE_CHARS).contains(&name.chars().count())
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !ok {
            return Err(NotificationsError::BadPlaceholder(name.to_string()));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    Ok(names)
}

/// The text with every placeholder replaced by its variable. A placeholder without a variable
/// is refused: a message never goes out with `#{…}` in it.
pub fn render(
    text: &str,
    variables: &BTreeMap<String, String>,
) -> Result<String, NotificationsError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| NotificationsError::BadPlaceholder(after.chars().take(20).collect()))?;
        let name = &after[..end];
        let value = variables
            .get(name)
            .ok_or_else(|| NotificationsError::MissingVariable(name.to_string()))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The templates the rule table names, as the project registers them for review: code, text.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "partner-reservation-requested",
        "[예약신청]\n#{이용일시} 예약신청(#{인원}명)이 도착했습니다. #{확정기한}까지 확정 또는 확정거절해 주세요.\n예약번호: #{예약번호}",
    ),
    (
        "partner-expiry-warning",
        "[확정 대기]\n#{이용일시} 예약신청이 #{확정기한}에 만료됩니다. 확정 또는 확정거절해 주세요.\n예약번호: #{예약번호}",
    ),
    (
        "partner-new-reservation",
        "[새 예약]\n#{이용일시} 예약(#{인원}명)이 확정되었습니다.\n예약번호: #{예약번호}",
    ),
    (
        "partner-reservation-confirmed",
        "[예약 확정]\n#{이용일시} 예약을 확정했습니다.\n예약번호: #{예약번호}",
    ),
    (
        "partner-reservation-cancelled",
        "[예약 취소]\n#{이용일시} 예약이 취소되었습니다. 취소수수료: #{취소수수료}\n예약번호: #{예약번호}",
    ),
    (
        "partner-lines-cancelled",
        "[예약 부분취소]\n#{이용일시} 예약 중 예약상세 #{예약상세}(#{취소인원}명)이 취소되었습니다.\n예약번호: #{예약번호}",
    ),
    (
        "partner-reservation-expired",
        "[예약신청 만료]\n응답하지 않은 #{이용일시} 예약신청이 만료되었습니다.\n예약번호: #{예약번호}",
    ),
    (
        "partner-payment-cancelled",
        "[결제금액 취소]\n이용완료된 #{이용일시} 예약의 결제금액 #{결제취소금액}이 취소되었습니다.\n예약번호: #{예약번호}",
    ),
    (
        "customer-reservation-requested",
        "[예약신청 완료]\n#{이용일시} 예약신청(#{인원}명)이 접수되었습니다. 파트너가 #{확정기한}까지 확정하면 알려드립니다.\n예약번호: #{예약번호}",
    ),
    (
        "customer-reservation-booked",
        "[예약 확정]\n#{이용일시} 예약(#{인원}명)이 확정되었습니다.\n예약번호: #{예약번호}",
    ),
    (
        "customer-usage-reminder",
        "[이용 안내]\n#{이용일시} 예약(#{인원}명)을 잊지 마세요.\n예약번호: #{예약번호}",
    ),
    (
        "customer-reservation-confirmed",
        "[예약 확정]\n예약신청하신 #{이용일시} 예약이 확정되었습니다.\n예약번호: #{예약번호}",
    ),
    (
        "customer-reservation-rejected",
        "[예약 확정거절]\n#{이용일시} 예약신청이 거절되었습니다.\n사유: #{거절사유}\n환불금액: #{환불금액}\n예약번호: #{예약번호}",
    ),
    (
        "customer-reservation-cancelled",
        "[예약 취소]\n#{이용일시} 예약이 취소되었습니다.\n취소수수료: #{취소수수료}\n환불금액: #{환불금액}\n예약번호: #{예약번호}",
    ),
    (
        "customer-lines-cancelled",
        "[예약 부분취소]\n#{이용일시} 예약 중 예약상세 #{예약상세}(#{취소인원}명)이 취소되었습니다.\n취소수수료: #{취소수수료}\n환불금액: #{환불금액}\n예약번호: #{예약번호}",
    ),
    (
        "customer-reservation-expired",
        "[예약신청 만료]\n파트너가 확정하지 않아 #{이용일시} 예약신청이 자동 취소되었습니다.\n환불금액: #{환불금액}\n예약번호: #{예약번호}",
    ),
    (
        "customer-usage-completed",
        "[이용완료]\n#{이용일시} 예약의 이용이 완료되었습니다. 이용은 어떠셨나요? 리뷰를 남겨 주세요.\n예약번호: #{예약번호}",
    ),
    (
        "customer-payment-cancelled",
        "[결제 취소]\n이용완료된 #{이용일시} 예약의 결제금액 #{결제취소금액}이 취소되었습니다.\n예약번호: #{예약번호}",
    ),
    (
        "customer-consult-request",
        "[상담 요청]\n파트너가 #{이용일시} 예약에 대해 상담을 요청했습니다. 수락하시면 1:1 채팅이 열립니다.\n예약번호: #{예약번호}",
    ),
];

/// What operations ask of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateCommand {
    /// Register (or register anew, with other text) the template: it waits for review.
    Register { code: String, text: String },
    /// Record the provider's review of the template as last registered.
    Review { approved: bool, reason: String },
}

impl Aggregate for Template {
    type Event = TemplateEvent;
    type Command = TemplateCommand;
    type Context = ();
    type Decision = Vec<TemplateEvent>;
    type Error = NotificationsError;

    fn evolve(&mut self, event: TemplateEvent) {
        match event {
            TemplateEvent::Registered(e) => {
                self.code = e.code;
                self.text = e.text;
                self.variables = e.variables;
                self.state = TemplateState::PendingReview;
            }
            TemplateEvent::Reviewed(e) => {
                self.state = if e.approved {
                    self.approved_text = Some(self.text.clone());
                    TemplateState::Approved
                } else {
                    TemplateState::Rejected
                };
            }
        }
    }

    fn decide(
        &self,
        command: TemplateCommand,
        _: &(),
    ) -> Result<Vec<TemplateEvent>, NotificationsError> {
        match command {
            TemplateCommand::Register { code, text } => {
                valid_code(&code)?;
                let chars = text.chars().count();
                if text.trim().is_empty() || chars > MAX_TEXT_CHARS {
                    return Err(NotificationsError::BadTemplateText { chars });
                }
                let variables = placeholders(&text)?;
                // The same text again is the same registration: nothing new to review.
                if self.is_registered() && self.text == text {
                    return Ok(vec![]);
                }
                Ok(vec![
                    TemplateRegistered {
                        code,
                        text,
                        variables,
                    }
                    .into(),
                ])
            }
            TemplateCommand::Review { approved, reason } => {
                if !self.is_registered() {
                    return Err(NotificationsError::TemplateNotFound);
                }
                if self.state != TemplateState::PendingReview {
                    return Err(NotificationsError::TemplateAlreadyReviewed);
                }
                if !approved && reason.trim().is_empty() {
                    return Err(NotificationsError::RejectionNeedsReason);
                }
                Ok(vec![
                    TemplateReviewed {
                        code: self.code.clone(),
                        approved,
                        reason,
                    }
                    .into(),
                ])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use yeyak_kit::command::testing::given;

    use super::*;

    fn register(text: &str) -> TemplateCommand {
        TemplateCommand::Register {
            code: "customer-reservation-confirmed".into(),
            text: text.into(),
        }
    }

    fn registered(text: &str) -> TemplateEvent {
        TemplateEvent::Registered(TemplateRegistered {
            code: "customer-reservation-confirmed".into(),
            text: text.into(),
            variables: placeholders(text).unwrap(),
        })
    }

    fn reviewed(approved: bool) -> TemplateEvent {
        TemplateEvent::Reviewed(TemplateReviewed {
            code: "customer-reservation-confirmed".into(),
            approved,
            reason: if approved {
                String::new()
            } else {
                "광고성 문구".into()
            },
        })
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_registered_template_waits_for_review_and_only_an_approved_one_is_sendable() {
        let text = "#{이용일시} 예약이 확정되었습니다. 예약번호 #{예약번호}";
        let then = given::<Template>([]).when(register(text), &());
        assert_eq!(then.then_state().variables, ["이용일시", "예약번호"]);
        then.then_expect(vec![registered(text)]);
        let mut t = Template::default();
        t.evolve(registered(text));
        assert_eq!(t.state, TemplateState::PendingReview);
        assert!(!t.is_approved());
        t.evolve(reviewed(true));
        assert!(t.is_approved());
    }

    #[test]
    fn registering_other_text_needs_a_new_review_and_the_same_text_changes_nothing() {
        let approved = [registered("안녕하세요 #{이름}님"), reviewed(true)];
        given::<Template>(approved.clone())
            .when(register("안녕하세요 #{이름}님"), &())
            .then_expect(vec![]);
        let then = given::<Template>(approved).when(register("반갑습니다 #{이름}님"), &());
        assert_eq!(then.then_state().state, TemplateState::PendingReview);
    }

    #[test]
    fn a_review_needs_a_pending_template_and_a_rejection_its_reason() {
        given::<Template>([])
            .when(
                TemplateCommand::Review {
                    approved: true,
                    reason: String::new(),
                },
                &(),
            )
            .then_refused(NotificationsError::TemplateNotFound);
        given::<Template>([registered("a #{b}"), reviewed(true)])
            .when(
                TemplateCommand::Review {
                    approved: false,
                    reason: "x".into(),
                },
                &(),
            )
            .then_refused(NotificationsError::TemplateAlreadyReviewed);
        given::<Template>([registered("a #{b}")])
            .when(
                TemplateCommand::Review {
                    approved: false,
                    reason: " ".into(),
                },
                &(),
            )
            .then_refused(NotificationsError::RejectionNeedsReason);
        let then = given::<Template>([registered("a #{b}")]).when(
            TemplateCommand::Review {
                approved: false,
                reason: "광고성 문구".into(),
            },
            &(),
        );
        assert_eq!(then.then_state().state, TemplateState::Rejected);
    }

    #[test]
    fn a_template_code_and_text_are_validated() {
        for code in ["", "Upper", "space code", "한글", &"a".repeat(65)] {
            assert_eq!(
                valid_code(code),
                Err(NotificationsError::BadTemplateCode(code.to_string())),
                "{code:?}"
            );
        }
        assert_eq!(valid_code(&"a".repeat(64)), Ok(()));
        given::<Template>([])
            .when(register("  "), &())
            .then_refused(NotificationsError::BadTemplateText { chars: 2 });
        given::<Template>([])
            .when(register(&"가".repeat(MAX_TEXT_CHARS + 1)), &())
            .then_refused(NotificationsError::BadTemplateText {
                chars: MAX_TEXT_CHARS + 1,
            });
        given::<Template>([])
            .when(register(&"가".repeat(MAX_TEXT_CHARS)), &())
            .then_expect(vec![registered(&"가".repeat(MAX_TEXT_CHARS))]);
    }

    #[test]
    fn a_malformed_placeholder_is_refused() {
        for text in ["#{", "a #{이름", "#{}", "#{이 름}", "#{a-b}"] {
            assert!(
                matches!(
                    placeholders(text),
                    Err(NotificationsError::BadPlaceholder(_))
                ),
                "{text:?}"
            );
        }
        assert_eq!(
            placeholders("#{a}#{b}#{a} {c} #d"),
            Ok(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn rendering_fills_every_placeholder_or_refuses() {
        assert_eq!(
            render(
                "#{이름}님, #{이용일시} 예약 (#{이름})",
                &vars(&[("이름", "김"), ("이용일시", "12-24 19:00")])
            ),
            Ok("김님, 12-24 19:00 예약 (김)".to_string())
        );
        assert_eq!(
            render("#{이름}님 #{인원}명", &vars(&[("이름", "김")])),
            Err(NotificationsError::MissingVariable("인원".into()))
        );
        // A value that looks like a placeholder is not expanded again.
        assert_eq!(
            render("#{a}", &vars(&[("a", "#{b}")])),
            Ok("#{b}".to_string())
        );
    }

    proptest! {
        #[test]
        fn placeholders_and_render_never_panic(text in ".{0,80}") {
            let _ = placeholders(&text);
            let _ = render(&text, &BTreeMap::new());
        }

        #[test]
        fn a_text_with_all_its_variables_renders_without_placeholders(
            words in proptest::collection::vec("[가-힣a-z]{1,8}", 1..6),
        ) {
            let text: String = words.iter().map(|w| format!("#{{{w}}} ")).collect();
            let names = placeholders(&text).unwrap();
            let values = names.iter().map(|n| (n.clone(), "값".to_string())).collect();
            let out = render(&text, &values).unwrap();
            prop_assert!(!out.contains("#{"), "{}", out);
        }
    }
}
