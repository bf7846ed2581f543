//! The log as a channel: the embedded default, where no provider is configured.

use super::{Channel, Outgoing, SendOutcome};

/// Writes each message as one structured `tracing` line (target
/// `yeyak_notifications::delivery`) and reports it [`SendOutcome::Delivered`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

#[async_trait::async_trait]
impl Channel for LogSink {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn send(&self, message: &Outgoing) -> SendOutcome {
        tracing::info!(
            target: "yeyak_notifications::delivery",
            idempotency_key = %message.idempotency_key,
            recipient = %message.recipient,
            template_code = %message.template_code,
            variables = ?message.variables,
            text = %message.text,
            "message delivered to the log"
        );
        SendOutcome::Delivered
    }
}
