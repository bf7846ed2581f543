//! Test helpers (feature `testing`).
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use yeyak_eventlog::{AppendRequest, EventStore, ExpectedVersion, RecordedEvent, testing::event};

use crate::{EventHandler, HandlerError};

/// A consumer (`fixable`) whose effect is an event in its own log's stream `effects` with its
/// inbox row; while `broken`, it cannot apply anything (a bug, fixed later).
pub struct Fixable {
    pub own: Arc<dyn EventStore>,
    pub broken: AtomicBool,
}

impl Fixable {
    pub fn new(own: Arc<dyn EventStore>, broken: bool) -> Arc<Self> {
        Arc::new(Self {
            own,
            broken: AtomicBool::new(broken),
        })
    }

    /// Fixes or breaks it.
    pub fn set_broken(&self, broken: bool) {
        self.broken.store(broken, Ordering::SeqCst);
    }

    /// The payloads of the effects, in order.
    pub async fn effects(&self) -> Vec<String> {
        self.own
            .read_stream("effects", 1, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.payload).unwrap())
            .collect()
    }
}

#[async_trait::async_trait]
impl EventHandler for Fixable {
    fn name(&self) -> &str {
        "fixable"
    }

    async fn handle(&self, e: &RecordedEvent) -> Result<(), HandlerError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(HandlerError::Poison("a bug".into()));
        }
        let effect = AppendRequest::single(
            "effects",
            ExpectedVersion::Any,
            vec![event("Effect", &e.payload)],
        )
        .with_inbox("fixable", e.event_id);
        HandlerError::from_append(self.own.append(effect).await)
    }
}
