//! The channels a rendered message is delivered by, behind one trait ([`Channel`]):
//! KakaoTalk business messages (알림톡, [`HttpSender`]), text messages ([`SmsSender`]), the log
//! ([`LogSink`], the embedded default), and [`Fallback`] (알림톡, then SMS for a recipient it
//! refuses).
//!
//! A send is one attempt: a channel never sleeps nor retries. Every send carries an idempotency
//! key, so a resend after a crash or a timeout is harmless at the provider; the caller records a
//! [`SendOutcome::Retryable`] with the [`retry_delay`] it was given and sends again when that time
//! comes.

mod fallback;
mod http;
mod log;
mod provider;
mod retry;
mod sms;

use std::collections::BTreeMap;

pub use fallback::Fallback;
pub use http::HttpSender;
pub use log::LogSink;
pub use provider::ProviderConfig;
pub use retry::{RetryPolicy, retry_delay};
pub use sms::SmsSender;

/// One rendered message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The same for every attempt of one message: the provider does it at most once.
    pub idempotency_key: String,
    /// An account id or a phone number; opaque to the channels.
    pub recipient: String,
    /// The provider's template the text was rendered from (알림톡 templates are pre-approved).
    pub template_code: String,
    pub variables: BTreeMap<String, String>,
    /// The rendered text.
    pub text: String,
}

/// What one send came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The provider took the message (its delivery report may follow). The id is empty when
    /// the provider named none.
    Accepted { provider_message_id: String },
    /// The message reached the recipient.
    Delivered,
    /// The recipient cannot be reached by this channel (not a KakaoTalk user, blocked the
    /// channel): another channel may reach them.
    RecipientRefused(String),
    /// Try again later with the same idempotency key: the provider was down, slow or busy.
    Retryable(String),
    /// Never try this message again on this channel.
    Permanent(String),
}

impl SendOutcome {
    /// Whether the message is with the provider or the recipient: nothing more to do.
    pub fn is_sent(&self) -> bool {
        matches!(self, SendOutcome::Accepted { .. } | SendOutcome::Delivered)
    }
}

/// A way to deliver a message.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// The channel's name, for the records (`alimtalk`, `sms`, `log`).
    fn name(&self) -> &'static str;
    /// One attempt to deliver `message`; never retries nor sleeps.
    async fn send(&self, message: &Outgoing) -> SendOutcome;
}
