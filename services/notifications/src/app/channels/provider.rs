//! The HTTP shape both messaging providers share: a JSON POST carrying an `Idempotency-Key`,
//! and one mapping of their answers to a [`SendOutcome`].
//!
//! Plain HTTP only (the client is built without TLS, which would pull aws-lc and a C
//! toolchain): production reaches the providers through the cluster's egress proxy / mesh,
//! which holds the TLS connection outside. `HTTP_PROXY`/`NO_PROXY` are honoured.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::{Outgoing, SendOutcome};

/// Where a provider is and how to call it. The API key comes from the configuration (the
/// environment), never from the code; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// E.g. `http://alimtalk-egress.mesh:8080`; the endpoint's path is appended.
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// The whole request, connection to last body byte.
    pub timeout: Duration,
}

impl ProviderConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A provider at `base_url`, without an API key, with the default timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A provider's answer to a send: `{"message_id", "status"}` on success, `{"code", "message"}`
/// on a refusal. Every field is optional: an answer we cannot read still has a status code.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    message_id: Option<String>,
    status: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

/// The refusal code of a recipient the channel cannot reach.
/// The body of a message request: the same for every endpoint, with the text message's kind on
/// the SMS endpoint.
#[derive(Serialize)]
pub(super) struct MessageBody<'a> {
    template_code: &'a str,
    recipient: &'a str,
    variables: &'a std::collections::BTreeMap<String, String>,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
}

impl<'a> MessageBody<'a> {
    pub(super) fn of(message: &'a Outgoing, kind: Option<&'static str>) -> Self {
        Self {
            template_code: &message.template_code,
            recipient: &message.recipient,
            variables: &message.variables,
            text: &message.text,
            kind,
        }
    }
}

pub(super) const RECIPIENT_REFUSED: &str = "RECIPIENT_REFUSED";

/// An HTTP client for one provider.
#[derive(Debug, Clone)]
pub(super) struct ProviderClient {
    client: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
}

impl ProviderClient {
    pub(super) fn new(config: ProviderConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            // A redirected POST would become a GET elsewhere: an answer, not a hop.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            api_key: config.api_key,
        })
    }

    /// POSTs `body` to `path` once and reads the answer.
    pub(super) async fn post(
        &self,
        path: &str,
        idempotency_key: &str,
        body: &impl Serialize,
    ) -> SendOutcome {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header("Idempotency-Key", idempotency_key)
            .json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return failed(&e),
        };
        let status = response.status();
        // A body that does not arrive or does not parse still leaves the status to go by.
        let body = response.bytes().await.unwrap_or_default();
        outcome(status, &body)
    }
}

/// A request that got no answer: the network or the provider may heal; a request we could not
/// even build will not.
fn failed(e: &reqwest::Error) -> SendOutcome {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        reason = format!("{reason}: {cause}");
        source = cause.source();
    }
    if e.is_builder() {
        SendOutcome::Permanent(reason)
    } else {
        SendOutcome::Retryable(reason)
    }
}

/// The mapping of a provider's answer, the same for both providers.
fn outcome(status: StatusCode, body: &[u8]) -> SendOutcome {
    let answer: Answer = serde_json::from_slice(body).unwrap_or_default();
    let code = status.as_u16();
    match code {
        // The provider has the message: an answer we cannot read does not change that.
        200..=299 if answer.status.as_deref() == Some("delivered") => SendOutcome::Delivered,
        200..=299 => SendOutcome::Accepted {
            provider_message_id: answer.message_id.unwrap_or_default(),
        },
        // It already has this idempotency key: this was a resend, harmless.
        409 => SendOutcome::Accepted {
            provider_message_id: answer.message_id.unwrap_or_default(),
        },
        400 | 422 if answer.code.as_deref() == Some(RECIPIENT_REFUSED) => {
            SendOutcome::RecipientRefused(reason(code, &answer, body))
        }
        408 | 429 | 500..=599 => SendOutcome::Retryable(reason(code, &answer, body)),
        _ => SendOutcome::Permanent(reason(code, &answer, body)),
    }
}

/// Why the provider said no, for the records: its code and message, or the start of its body.
fn reason(status: u16, answer: &Answer, body: &[u8]) -> String {
    match (&answer.code, &answer.message) {
        (Some(code), Some(message)) => format!("HTTP {status} {code}: {message}"),
        (Some(code), None) => format!("HTTP {status} {code}"),
        _ => {
            let text = String::from_utf8_lossy(body);
            let start: String = text.chars().take(200).collect();
            format!("HTTP {status}: {start}").trim_end().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> SendOutcome {
        outcome(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    #[test]
    fn an_acceptance_names_the_providers_message_and_a_delivery_is_a_delivery() {
        for status in [200, 201, 202] {
            assert_eq!(
                answer(status, r#"{"message_id":"m-1","status":"accepted"}"#),
                SendOutcome::Accepted {
                    provider_message_id: "m-1".into()
                }
            );
            assert_eq!(
                answer(status, r#"{"message_id":"m-1","status":"delivered"}"#),
                SendOutcome::Delivered
            );
        }
    }

    #[test]
    fn a_known_idempotency_key_is_an_acceptance_with_or_without_an_id() {
        assert_eq!(
            answer(409, r#"{"message_id":"m-1"}"#),
            SendOutcome::Accepted {
                provider_message_id: "m-1".into()
            }
        );
        assert_eq!(
            answer(409, ""),
            SendOutcome::Accepted {
                provider_message_id: String::new()
            }
        );
    }

    #[test]
    fn only_a_recipient_refused_code_is_a_refusal() {
        for status in [400, 422] {
            assert!(matches!(
                answer(
                    status,
                    r#"{"code":"RECIPIENT_REFUSED","message":"not a user"}"#
                ),
                SendOutcome::RecipientRefused(_)
            ));
            assert!(matches!(
                answer(status, r#"{"code":"INVALID_TEMPLATE"}"#),
                SendOutcome::Permanent(_)
            ));
        }
        assert!(matches!(
            answer(404, r#"{"code":"RECIPIENT_REFUSED"}"#),
            SendOutcome::Permanent(_)
        ));
    }

    #[test]
    fn timeouts_throttling_and_server_errors_are_retryable_other_client_errors_are_not() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(answer(status, ""), SendOutcome::Retryable(_)));
        }
        for status in [401, 403, 404, 413, 301] {
            assert!(matches!(answer(status, ""), SendOutcome::Permanent(_)));
        }
    }

    #[test]
    fn the_api_key_is_never_shown() {
        let config = ProviderConfig::new("http://p").with_api_key("s3cret");
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
