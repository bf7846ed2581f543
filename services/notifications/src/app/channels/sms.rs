//! Text messages (SMS, or LMS when the text is long) through a provider's HTTP API.

use super::provider::{MessageBody, ProviderClient, ProviderConfig};
use super::{Channel, Outgoing, SendOutcome};
use crate::domain::text_length;

/// Sends text messages as `POST {base_url}/v1/sms/messages`, the same shape as
/// [`HttpSender`](super::HttpSender) plus `"kind": "SMS" | "LMS"` by the text's EUC-KR length
/// ([`text_length::sms_kind`]); a text over the LMS limit is [`SendOutcome::Permanent`] and never
/// sent. A refused recipient is permanent too: there is no channel after this one.
#[derive(Debug, Clone)]
pub struct SmsSender {
    provider: ProviderClient,
}

impl SmsSender {
    pub const PATH: &'static str = "/v1/sms/messages";

    /// Fails only when the HTTP client cannot be built.
    pub fn new(config: ProviderConfig) -> Result<Self, reqwest::Error> {
        Ok(Self {
            provider: ProviderClient::new(config)?,
        })
    }
}

#[async_trait::async_trait]
impl Channel for SmsSender {
    fn name(&self) -> &'static str {
        "sms"
    }

    async fn send(&self, message: &Outgoing) -> SendOutcome {
        let kind = match text_length::sms_kind(&message.text) {
            Ok(kind) => kind,
            Err(too_long) => {
                return SendOutcome::Permanent(format!(
                    "too long for an LMS: {} EUC-KR bytes, at most {}",
                    too_long.actual, too_long.limit
                ));
            }
        };
        let body = MessageBody::of(message, Some(kind.as_str()));
        match self
            .provider
            .post(Self::PATH, &message.idempotency_key, &body)
            .await
        {
            SendOutcome::RecipientRefused(reason) => SendOutcome::Permanent(reason),
            outcome => outcome,
        }
    }
}
