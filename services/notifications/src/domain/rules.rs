//! The rule table (domain.md §2.5): which reservation fact becomes which message, for whom, by
//! which template and channels, under which switch, and when it is due. Data, read by one
//! function ([`plan`]); a new message is a new row.
use std::collections::BTreeMap;

use yeyak_proto::notifications::events::v1::{Channel, MessageKind, MessageQueued, RecipientKind};

use super::{facts::ReservationFact, preferences::Preferences, reservation_file::ReservationFile};

/// The reservation fact a rule reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// 예약신청: booked, waiting for the partner.
    Requested,
    /// Booked and confirmed at once.
    BookedConfirmed,
    Confirmed,
    Rejected,
    Cancelled,
    /// 부분취소.
    LinesCancelled,
    Expired,
    Completed,
    /// 결제만 취소.
    PaymentCancelled,
}

/// Who a rule's message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Each active operator of the partner granted the reservation's place.
    Operators,
    /// The customer who booked.
    Customer,
}

/// Whether the partner can silence a rule's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// 예약신청 received: never switched off.
    Mandatory,
    /// The confirmation and cancellation alerts: one switch for all of them.
    ConfirmCancelAlerts,
    /// Not a partner setting (the customer's messages, the expiry warning).
    None,
}

/// When a rule's message is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// As the fact is learned.
    AtOnce,
    /// Before the usage time, by [`Timing::reminder_days_before`] at [`Timing::reminder_at`].
    Reminder,
    /// [`Timing::expiry_warning_before_us`] before an unanswered request expires.
    BeforeExpiry,
}

/// What makes a message that has not gone out yet no longer hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawnWhen {
    /// It is about the reservation closing: it always holds.
    Never,
    /// Held for the night while the reservation was called off (cancelled, rejected, expired).
    CalledOffWhileHeld,
    /// The reservation was closed (called off or completed).
    Closed,
    /// The reservation was closed, or its request answered.
    ClosedOrAnswered,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub fact: Fact,
    pub audience: Audience,
    pub kind: MessageKind,
    pub template: &'static str,
    /// In order: the next is used only when one refuses the recipient.
    pub channels: &'static [Channel],
    pub switch: Switch,
    pub due: Due,
    pub withdrawn_when: WithdrawnWhen,
}

const TO_PARTNER: &[Channel] = &[Channel::Alimtalk];
const TO_CUSTOMER: &[Channel] = &[Channel::Alimtalk, Channel::Sms];

const fn rule(
    fact: Fact,
    audience: Audience,
    kind: MessageKind,
    template: &'static str,
    switch: Switch,
    due: Due,
    withdrawn_when: WithdrawnWhen,
) -> Rule {
    let channels = match audience {
        Audience::Operators => TO_PARTNER,
        Audience::Customer => TO_CUSTOMER,
    };
    Rule {
        fact,
        audience,
        kind,
        template,
        channels,
        switch,
        due,
        withdrawn_when,
    }
}

use Audience::{Customer, Operators};
use Due::{AtOnce, BeforeExpiry, Reminder};
use MessageKind as K;
use WithdrawnWhen::{CalledOffWhileHeld as HeldCalledOff, Closed, ClosedOrAnswered, Never};

/// Every message the notifications send about reservations: fact, audience, kind, template,
/// switch, when due, when withdrawn.
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // To the partner.
    rule(Fact::Requested, Operators, K::ReservationRequested, "partner-reservation-requested", Switch::Mandatory, AtOnce, HeldCalledOff),
    rule(Fact::Requested, Operators, K::ExpiryWarning, "partner-expiry-warning", Switch::None, BeforeExpiry, ClosedOrAnswered),
    rule(Fact::BookedConfirmed, Operators, K::NewReservation, "partner-new-reservation", Switch::ConfirmCancelAlerts, AtOnce, HeldCalledOff),
    rule(Fact::Confirmed, Operators, K::ReservationConfirmed, "partner-reservation-confirmed", Switch::ConfirmCancelAlerts, AtOnce, HeldCalledOff),
    rule(Fact::Cancelled, Operators, K::ReservationCancelled, "partner-reservation-cancelled", Switch::ConfirmCancelAlerts, AtOnce, Never),
    rule(Fact::LinesCancelled, Operators, K::ReservationCancelled, "partner-lines-cancelled", Switch::ConfirmCancelAlerts, AtOnce, Never),
    rule(Fact::Expired, Operators, K::ReservationExpired, "partner-reservation-expired", Switch::ConfirmCancelAlerts, AtOnce, Never),
    rule(Fact::PaymentCancelled, Operators, K::PaymentCancelled, "partner-payment-cancelled", Switch::ConfirmCancelAlerts, AtOnce, Never),
    // To the customer.
    rule(Fact::Requested, Customer, K::ReservationBooked, "customer-reservation-requested", Switch::None, AtOnce, Never),
    rule(Fact::BookedConfirmed, Customer, K::ReservationBooked, "customer-reservation-booked", Switch::None, AtOnce, Never),
    rule(Fact::BookedConfirmed, Customer, K::UsageReminder, "customer-usage-reminder", Switch::None, Reminder, Closed),
    rule(Fact::Confirmed, Customer, K::ReservationConfirmed, "customer-reservation-confirmed", Switch::None, AtOnce, Never),
    rule(Fact::Confirmed, Customer, K::UsageReminder, "customer-usage-reminder", Switch::None, Reminder, Closed),
    rule(Fact::Rejected, Customer, K::ReservationRejected, "customer-reservation-rejected", Switch::None, AtOnce, Never),
    rule(Fact::Cancelled, Customer, K::ReservationCancelled, "customer-reservation-cancelled", Switch::None, AtOnce, Never),
    rule(Fact::LinesCancelled, Customer, K::ReservationCancelled, "customer-lines-cancelled", Switch::None, AtOnce, Never),
    rule(Fact::Expired, Customer, K::ReservationExpired, "customer-reservation-expired", Switch::None, AtOnce, Never),
    rule(Fact::Completed, Customer, K::ReservationCompleted, "customer-usage-completed", Switch::None, AtOnce, Never),
    rule(Fact::PaymentCancelled, Customer, K::PaymentCancelled, "customer-payment-cancelled", Switch::None, AtOnce, Never),
];

/// The rows for a fact, in table order.
pub fn rules_for(fact: Fact) -> impl Iterator<Item = &'static Rule> {
    RULES.iter().filter(move |r| r.fact == fact)
}

/// The row a queued message was decided by.
pub fn rule_of(kind: MessageKind, template: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.kind == kind && r.template == template)
}

/// The kinds the one confirmation-and-cancellation switch silences.
pub fn silenced_by_alerts_switch(kind: MessageKind) -> bool {
    RULES
        .iter()
        .any(|r| r.kind == kind && r.switch == Switch::ConfirmCancelAlerts)
}

/// Whether a message of `kind` is mandatory for the partner.
pub fn is_mandatory(kind: MessageKind) -> bool {
    RULES
        .iter()
        .any(|r| r.kind == kind && r.switch == Switch::Mandatory)
}

/// The times the table's `Due` rows use; configurable per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The reminder goes out this many KST days before the usage date…
    pub reminder_days_before: u32,
    /// …at this KST time of day.
    pub reminder_at: (i8, i8),
    /// The warning that a request is about to expire goes out this long before it does.
    pub expiry_warning_before_us: i64,
    /// A fact learned later than this after it happened makes no message due at once.
    pub news_within_us: i64,
}

impl Default for Timing {
    /// The day before at 10:00 KST; an hour before expiry.
    fn default() -> Self {
        Self {
            reminder_days_before: 1,
            reminder_at: (10, 0),
            expiry_warning_before_us: 3_600_000_000,
            news_within_us: 24 * 3_600_000_000,
        }
    }
}

impl Timing {
    /// When a row's message is due, learned at `now_us`: `None` when it would be due at a time
    /// already past, or at or after what it is about (a reminder after the usage start, a
    /// warning after the expiry).
    pub fn due_at(&self, due: Due, file: &ReservationFile, now_us: i64) -> Option<i64> {
        let noted = file.noted.as_ref()?;
        let at = match due {
            Due::AtOnce => return Some(now_us),
            Due::Reminder => {
                let starts = yeyak_proto::time::to_micros(noted.starts_at.as_ref()?)?;
                let (h, m) = self.reminder_at;
                let at = yeyak_kit::kst::days_before_at(starts, self.reminder_days_before, h, m)?;
                (at < starts).then_some(at)?
            }
            Due::BeforeExpiry => {
                let expires = yeyak_proto::time::to_micros(noted.expires_at.as_ref()?)?;
                expires.checked_sub(self.expiry_warning_before_us)?
            }
        };
        (at > now_us).then_some(at)
    }
}

/// What a plan needs besides the fact.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// What the notifications know of the reservation, the fact included.
    pub file: &'a ReservationFile,
    /// The partner's preferences in force when the fact happened.
    pub preferences: &'a Preferences,
    /// The partner's active operators granted the reservation's place.
    pub operators: &'a [String],
    pub timing: Timing,
    pub now_us: i64,
    /// When the fact happened (by the business clock of the service that recorded it).
    pub fact_at_us: i64,
    pub source_event_id: &'a str,
}

/// The messages a fact makes: one per row and recipient, unless the partner switched the row
/// off or it would be due too late. Each message's id and idempotency key derive from the
/// business fact and the recipient, so every delivery of the fact plans the same messages.
pub fn plan(fact: &ReservationFact, cx: &Context<'_>) -> Vec<MessageQueued> {
    let Some(noted) = cx.file.noted.as_ref() else {
        return vec![];
    };
    let variables = fact.variables(cx.file);
    let fact_key = fact.key();
    let mut out = Vec::new();
    // News learned too late (a consumer rebuilt from the start, a long outage) is not news:
    // only what is still ahead (reminders, warnings) is planned for it.
    let stale = cx.now_us.saturating_sub(cx.fact_at_us) > cx.timing.news_within_us;
    for rule in rules_for(fact.kind()) {
        if rule.switch == Switch::ConfirmCancelAlerts && !cx.preferences.wants_alert(rule.kind) {
            continue;
        }
        if stale && rule.due == Due::AtOnce {
            continue;
        }
        let Some(due_at) = cx.timing.due_at(rule.due, cx.file, cx.now_us) else {
            continue;
        };
        let recipients: Vec<(RecipientKind, &str)> = match rule.audience {
            Audience::Operators => cx
                .operators
                .iter()
                .map(|o| (RecipientKind::Operator, o.as_str()))
                .collect(),
            Audience::Customer => vec![(RecipientKind::Customer, noted.customer_id.as_str())],
        };
        for (recipient_kind, recipient_id) in recipients {
            let key = idempotency_key(
                rule,
                &fact_key,
                &noted.reservation_id,
                recipient_kind,
                recipient_id,
            );
            out.push(MessageQueued {
                message_id: message_id(&key),
                kind: rule.kind as i32,
                recipient_kind: recipient_kind as i32,
                recipient_id: recipient_id.to_string(),
                partner_id: noted.partner_id.clone(),
                place_id: noted.place_id.clone(),
                reservation_id: noted.reservation_id.clone(),
                template_code: rule.template.to_string(),
                variables: variables.clone().into_iter().collect(),
                channels: rule.channels.iter().map(|c| *c as i32).collect(),
                mandatory: rule.switch == Switch::Mandatory,
                due_at: Some(yeyak_proto::time::from_micros(due_at)),
                idempotency_key: key,
                source_event_id: cx.source_event_id.to_string(),
                night_rule_applies: rule.audience == Audience::Operators,
            });
        }
    }
    out
}

/// The consult-request message (톡보내기) to the customer of a reservation: due at once, by
/// 알림톡 then SMS, keyed by the consult request.
pub fn consult_message(
    consult_id: &str,
    file: &ReservationFile,
    now_us: i64,
    source_event_id: &str,
) -> Option<MessageQueued> {
    let noted = file.noted.as_ref()?;
    let key = format!("consult-request:{consult_id}:customer");
    Some(MessageQueued {
        message_id: message_id(&key),
        kind: MessageKind::ConsultRequest as i32,
        recipient_kind: RecipientKind::Customer as i32,
        recipient_id: noted.customer_id.clone(),
        partner_id: noted.partner_id.clone(),
        place_id: noted.place_id.clone(),
        reservation_id: noted.reservation_id.clone(),
        template_code: CONSULT_TEMPLATE.to_string(),
        variables: reservation_variables(file).into_iter().collect(),
        channels: TO_CUSTOMER.iter().map(|c| *c as i32).collect(),
        mandatory: false,
        due_at: Some(yeyak_proto::time::from_micros(now_us)),
        idempotency_key: key,
        source_event_id: source_event_id.to_string(),
        night_rule_applies: false,
    })
}

/// The template of the consult-request message.
pub const CONSULT_TEMPLATE: &str = "customer-consult-request";

/// The business fact a provider dedupes a message on: `reservation-confirmed:<id>:customer`,
/// `reservation-requested:<id>:operator:<account>`; a reminder or warning is its own fact.
/// `fact_key` tells apart facts of one kind on one reservation (partial cancels).
pub fn idempotency_key(
    rule: &Rule,
    fact_key: &str,
    reservation_id: &str,
    recipient_kind: RecipientKind,
    recipient_id: &str,
) -> String {
    let what = match rule.due {
        Due::AtOnce => fact_key.to_string(),
        Due::Reminder => "usage-reminder".to_string(),
        Due::BeforeExpiry => "expiry-warning".to_string(),
    };
    match recipient_kind {
        RecipientKind::Customer => format!("{what}:{reservation_id}:customer"),
        _ => format!("{what}:{reservation_id}:operator:{recipient_id}"),
    }
}

/// A message's id: derived from its idempotency key, so a replan names the same message.
pub fn message_id(idempotency_key: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("yeyak/notifications/message/{idempotency_key}").as_bytes(),
    )
    .to_string()
}

/// Whether a message not yet out (`held` for the night, or not) still holds, for a reservation
/// as the file knows it: the reason it does not.
pub fn no_longer_holds(
    message: &MessageQueued,
    held: bool,
    file: &ReservationFile,
) -> Option<&'static str> {
    let kind = MessageKind::try_from(message.kind).ok()?;
    let rule = rule_of(kind, &message.template_code)?;
    match rule.withdrawn_when {
        WithdrawnWhen::Never => None,
        WithdrawnWhen::CalledOffWhileHeld => (held && file.called_off)
            .then_some("the reservation was called off while the message was held"),
        WithdrawnWhen::Closed => file.closed.then_some("the reservation was closed"),
        WithdrawnWhen::ClosedOrAnswered if file.closed => Some("the reservation was closed"),
        WithdrawnWhen::ClosedOrAnswered => file.answered.then_some("the request was answered"),
    }
}

/// The variables every template about a reservation may use.
pub fn reservation_variables(file: &ReservationFile) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    if let Some(n) = &file.noted {
        v.insert("예약번호".into(), n.reservation_id.clone());
        if let Some(at) = n.starts_at.as_ref().and_then(yeyak_proto::time::to_micros) {
            v.insert("이용일시".into(), yeyak_kit::kst::text(at));
        }
        if let Some(at) = n.expires_at.as_ref().and_then(yeyak_proto::time::to_micros) {
            v.insert("확정기한".into(), yeyak_kit::kst::text(at));
        }
        v.insert("인원".into(), file.quantity.to_string());
    }
    v
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
