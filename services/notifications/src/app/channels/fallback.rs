//! One channel, then another for a recipient the first cannot reach (알림톡, then SMS).

use std::sync::Arc;

use super::{Channel, Outgoing, SendOutcome};

/// Sends with `first`; only when it answers [`SendOutcome::RecipientRefused`] sends with `then`
/// and answers with that. Any other outcome of `first` (a retryable failure included) is the
/// answer: a retry goes through `first` again.
///
/// The second send's idempotency key is the first's with `:<then's name>` appended (`:sms` for
/// an [`SmsSender`](super::SmsSender)), so each provider dedupes its own sends and a resend of
/// the whole fallback is harmless at both.
#[derive(Clone)]
pub struct Fallback {
    pub first: Arc<dyn Channel>,
    pub then: Arc<dyn Channel>,
}

impl Fallback {
    /// Like [`Channel::send`], and names the channel whose outcome it is: `first`'s unless the
    /// recipient was refused by it.
    pub async fn send_via(&self, message: &Outgoing) -> (&'static str, SendOutcome) {
        match self.first.send(message).await {
            SendOutcome::RecipientRefused(reason) => {
                tracing::debug!(
                    first = self.first.name(),
                    then = self.then.name(),
                    %reason,
                    "recipient refused, falling back"
                );
                let second = Outgoing {
                    idempotency_key: format!("{}:{}", message.idempotency_key, self.then.name()),
                    ..message.clone()
                };
                (self.then.name(), self.then.send(&second).await)
            }
            outcome => (self.first.name(), outcome),
        }
    }
}

#[async_trait::async_trait]
impl Channel for Fallback {
    /// `first`'s name; [`Fallback::send_via`] tells which channel answered.
    fn name(&self) -> &'static str {
        self.first.name()
    }

    async fn send(&self, message: &Outgoing) -> SendOutcome {
        self.send_via(message).await.1
    }
}
