//! Application state to replies.
use yeyak_proto::{notifications::v1 as pb, time::from_micros};

use crate::{
    app::listing::{Listed, Page},
    domain::{delivery::MessageState, preferences::Preferences, template::Template},
};

fn state_pb(state: MessageState) -> pb::DeliveryState {
    match state {
        MessageState::Unknown => pb::DeliveryState::Unspecified,
        MessageState::Queued => pb::DeliveryState::Queued,
        MessageState::Held => pb::DeliveryState::HeldForNight,
        MessageState::Sending => pb::DeliveryState::Sending,
        MessageState::RetryScheduled => pb::DeliveryState::FailedWillRetry,
        MessageState::Sent => pb::DeliveryState::Sent,
        MessageState::Delivered => pb::DeliveryState::Delivered,
        MessageState::GaveUp => pb::DeliveryState::GaveUp,
        MessageState::Withdrawn => pb::DeliveryState::Withdrawn,
    }
}

/// A message as the API shows it.
pub fn notification(listed: Listed) -> pb::Notification {
    let m = listed.message;
    let q = m.queued.unwrap_or_default();
    pb::Notification {
        message_id: q.message_id,
        kind: q.kind,
        recipient_kind: q.recipient_kind,
        recipient_id: q.recipient_id,
        partner_id: q.partner_id,
        place_id: q.place_id,
        reservation_id: q.reservation_id,
        template_code: q.template_code,
        variables: q.variables,
        mandatory: q.mandatory,
        state: state_pb(m.state) as i32,
        due_at: q.due_at,
        next_at: Some(from_micros(m.next_at_us)),
        attempts: m.attempts,
        channel: m.channel as i32,
        reason: m.reason,
        provider_message_id: m.provider_message_id,
        idempotency_key: q.idempotency_key,
        queued_at: Some(from_micros(listed.queued_at_us)),
    }
}

/// A page of messages.
pub fn page((listed, next): Page) -> pb::ListNotificationsResponse {
    pb::ListNotificationsResponse {
        notifications: listed.into_iter().map(notification).collect(),
        next_page_token: yeyak_kit::status::page_token(next),
    }
}

/// The partner's preferences, as in force at `as_of_us`.
pub fn preferences(partner_id: String, p: Preferences, as_of_us: i64) -> pb::PartnerPreferences {
    pb::PartnerPreferences {
        partner_id,
        requested_alerts: true,
        confirm_cancel_alerts: !p.alerts_off,
        night_delivery_allowed: !p.night_refused,
        muted: p.muted.into_iter().collect(),
        as_of: Some(from_micros(as_of_us)),
    }
}

/// A template and its review state.
pub fn template(t: Template) -> pb::Template {
    pb::Template {
        code: t.code,
        text: t.text,
        variables: t.variables,
        state: t.state as i32,
    }
}
