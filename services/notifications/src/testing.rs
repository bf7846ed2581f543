//! Test support (feature `testing`): [`ProviderDouble`], a messaging provider as a real HTTP
//! server on `127.0.0.1:0`, for the delivery channels ([`crate::app::channels`]).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The provider's two endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/alimtalk/messages`
    Alimtalk,
    /// `POST /v1/sms/messages`
    Sms,
}

/// A request as it arrived, before any answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    pub endpoint: Endpoint,
    /// Header names lower-case; a header sent twice keeps its last value.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A message the provider accepted: one per distinct idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub endpoint: Endpoint,
    pub idempotency_key: String,
    /// The id the provider answered with (`msg-1`, `msg-2`, … in order of acceptance).
    pub message_id: String,
    pub recipient: String,
    pub template_code: String,
    pub variables: BTreeMap<String, String>,
    pub text: String,
    /// `SMS` or `LMS` on the SMS endpoint.
    pub kind: Option<String>,
}

/// The body both endpoints take.
#[derive(Deserialize)]
struct MessageBody {
    recipient: String,
    template_code: String,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    text: String,
    kind: Option<String>,
}

/// What the double has seen and what it was told to do next.
#[derive(Default)]
struct Script {
    requests: Vec<RawRequest>,
    accepted: Vec<Received>,
    ids_by_key: HashMap<String, String>,
    /// Statuses the next requests answer with, one each, before anything else happens.
    failures: VecDeque<u16>,
    /// Delays of the next requests' answers, one each.
    delays: VecDeque<Duration>,
    refused: HashSet<(Endpoint, String)>,
    answer_delivered: bool,
}

struct Shared {
    script: Mutex<Script>,
    /// How many messages were accepted; bumped on each acceptance.
    accepted: watch::Sender<usize>,
}

impl Shared {
    fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A messaging provider on `127.0.0.1:0` serving both endpoints the channels call. It dedupes
/// by `Idempotency-Key` (a repeated key answers 409 with the first message id and has no second
/// effect), records every request and every accepted message, and can be scripted: fail the
/// next calls, refuse a recipient, answer late. Stops when dropped.
pub struct ProviderDouble {
    base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl ProviderDouble {
    /// Binds `127.0.0.1:0` and serves until dropped.
    pub async fn start() -> Self {
        let (accepted, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            script: Mutex::new(Script::default()),
            accepted,
        });
        let router = Router::new()
            .route(
                "/v1/alimtalk/messages",
                post(
                    |state: State<Arc<Shared>>, headers: HeaderMap, body: Bytes| {
                        handle(Endpoint::Alimtalk, state, headers, body)
                    },
                ),
            )
            .route(
                "/v1/sms/messages",
                post(
                    |state: State<Arc<Shared>>, headers: HeaderMap, body: Bytes| {
                        handle(Endpoint::Sms, state, headers, body)
                    },
                ),
            )
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the provider double");
        let base_url = format!("http://{}", listener.local_addr().expect("local address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("serve the provider double");
        });
        Self {
            base_url,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`, for a channel's `ProviderConfig`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every message accepted so far, one per distinct idempotency key, in order.
    pub fn accepted(&self) -> Vec<Received> {
        self.shared.script().accepted.clone()
    }

    /// How many requests arrived, whatever they were answered.
    pub fn requests(&self) -> usize {
        self.shared.script().requests.len()
    }

    /// Every request as it arrived, in order.
    pub fn raw_requests(&self) -> Vec<RawRequest> {
        self.shared.script().requests.clone()
    }

    /// The next `n` requests, on either endpoint, answer `status` and have no effect.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.shared
            .script()
            .failures
            .extend(std::iter::repeat_n(status, n));
    }

    /// 알림톡 to `recipient` answers 422 `RECIPIENT_REFUSED` (not a KakaoTalk user); text
    /// messages to them still go.
    pub fn refuse_recipient(&self, recipient: &str) {
        self.refuse_on(Endpoint::Alimtalk, recipient);
    }

    /// Messages to `recipient` on `endpoint` answer 422 `RECIPIENT_REFUSED`.
    pub fn refuse_on(&self, endpoint: Endpoint, recipient: &str) {
        self.shared
            .script()
            .refused
            .insert((endpoint, recipient.to_string()));
    }

    /// The next request is answered only after `delay`; what it does happens at once, so a
    /// client that gave up meanwhile finds its message accepted when it resends.
    pub fn delay_next(&self, delay: Duration) {
        self.shared.script().delays.push_back(delay);
    }

    /// Acceptances answer `"status": "delivered"` instead of `"accepted"` from now on.
    pub fn answer_delivered(&self) {
        self.shared.script().answer_delivered = true;
    }

    /// Waits until at least `n` messages were accepted, at most `deadline`; answers them all.
    ///
    /// # Panics
    /// When `deadline` passes first, naming what was accepted.
    pub async fn wait_for_accepted(&self, n: usize, deadline: Duration) -> Vec<Received> {
        let mut count = self.shared.accepted.subscribe();
        let reached = tokio::time::timeout(deadline, count.wait_for(|&c| c >= n)).await;
        assert!(
            matches!(reached, Ok(Ok(_))),
            "{n} accepted messages within {deadline:?}; accepted: {:?}",
            self.accepted()
        );
        self.accepted()
    }
}

impl Drop for ProviderDouble {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One request: record it, then the script, then dedupe, then accept.
async fn handle(
    endpoint: Endpoint,
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (delay, status, answer) = decide(endpoint, &shared, &headers, &body);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}

/// What the provider does with a request and answers to it (the lock held throughout, so two
/// requests with one key cannot both be accepted).
fn decide(
    endpoint: Endpoint,
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> (Option<Duration>, u16, serde_json::Value) {
    let mut script = shared.script();
    script.requests.push(RawRequest {
        endpoint,
        headers: headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
    });
    let delay = script.delays.pop_front();
    if let Some(status) = script.failures.pop_front() {
        let answer = serde_json::json!({"code": "SCRIPTED_FAILURE", "message": "fail_next"});
        return (delay, status, answer);
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return (delay, 400, bad_request("no Idempotency-Key"));
    };
    let message: MessageBody = match serde_json::from_slice(body) {
        Ok(message) => message,
        Err(e) => return (delay, 400, bad_request(&e.to_string())),
    };
    if let Some(first) = script.ids_by_key.get(&key) {
        let answer = serde_json::json!({"code": "DUPLICATE", "message_id": first});
        return (delay, 409, answer);
    }
    if script
        .refused
        .contains(&(endpoint, message.recipient.clone()))
    {
        let answer = serde_json::json!({
            "code": "RECIPIENT_REFUSED",
            "message": "the recipient cannot receive this channel",
        });
        return (delay, 422, answer);
    }
    let message_id = format!("msg-{}", script.accepted.len() + 1);
    script.ids_by_key.insert(key.clone(), message_id.clone());
    script.accepted.push(Received {
        endpoint,
        idempotency_key: key,
        message_id: message_id.clone(),
        recipient: message.recipient,
        template_code: message.template_code,
        variables: message.variables,
        text: message.text,
        kind: message.kind,
    });
    let status = if script.answer_delivered {
        "delivered"
    } else {
        "accepted"
    };
    shared.accepted.send_replace(script.accepted.len());
    (
        delay,
        202,
        serde_json::json!({"message_id": message_id, "status": status}),
    )
}

fn bad_request(message: &str) -> serde_json::Value {
    serde_json::json!({"code": "BAD_REQUEST", "message": message})
}
