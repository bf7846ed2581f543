//! KakaoTalk business messages (알림톡) through a business-messaging provider's HTTP API.

use super::provider::{MessageBody, ProviderClient, ProviderConfig};
use super::{Channel, Outgoing, SendOutcome};
use crate::domain::text_length;

/// Sends 알림톡 as `POST {base_url}/v1/alimtalk/messages` with `Idempotency-Key` (and
/// `Authorization: Bearer` when the config has a key), over plain HTTP: production reaches the
/// provider through the cluster's egress proxy / mesh. A text over
/// [`text_length::ALIMTALK_MAX_CHARS`] is [`SendOutcome::Permanent`] and never sent.
#[derive(Debug, Clone)]
pub struct HttpSender {
    provider: ProviderClient,
}

impl HttpSender {
    pub const PATH: &'static str = "/v1/alimtalk/messages";

    /// Fails only when the HTTP client cannot be built.
    pub fn new(config: ProviderConfig) -> Result<Self, reqwest::Error> {
        Ok(Self {
            provider: ProviderClient::new(config)?,
        })
    }
}

#[async_trait::async_trait]
impl Channel for HttpSender {
    fn name(&self) -> &'static str {
        "alimtalk"
    }

    async fn send(&self, message: &Outgoing) -> SendOutcome {
        if let Err(too_long) = text_length::fits_alimtalk(&message.text) {
            return SendOutcome::Permanent(format!(
                "too long for 알림톡: {} characters, at most {}",
                too_long.actual, too_long.limit
            ));
        }
        let body = MessageBody::of(message, None);
        self.provider
            .post(Self::PATH, &message.idempotency_key, &body)
            .await
    }
}
