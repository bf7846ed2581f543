//! The reservations consumer that records settlement lines, and ledger queries.
use std::sync::Arc;

use tonic::Status;
use uuid::Uuid;
use yeyak_eventlog::{AppendRequest, EventStore, ExpectedVersion, RecordedEvent};
use yeyak_kit::{
    events::{Cause, decode_as, derived_id, encode, load},
    status::from_load,
};
use yeyak_proto::{
    reservations::events::v1::{
        ReservationCancelled, ReservationCompleted, ReservationPaymentCancelled,
    },
    settlement::events::v1::SettlementLineRecorded,
};
use yeyak_transport::{EventHandler, HandlerError};

use crate::domain;

pub fn ledger_stream(partner_id: &str) -> String {
    format!("ledger-{partner_id}")
}

#[derive(Clone)]
pub struct Settlement {
    log: Arc<dyn EventStore>,
    commission_bps: u32,
}

impl Settlement {
    pub fn new(log: Arc<dyn EventStore>, commission_bps: u32) -> Self {
        Self {
            log,
            commission_bps,
        }
    }

    /// The partner's settlement lines, oldest first.
    pub async fn lines(&self, partner_id: Uuid) -> Result<Vec<SettlementLineRecorded>, Status> {
        let stream = ledger_stream(&partner_id.to_string());
        let (lines, _) = load(&*self.log, &stream, Vec::new(), |out, e| {
            if let Some(line) = decode_as::<SettlementLineRecorded>(e)? {
                out.push(line);
            }
            Ok(())
        })
        .await
        .map_err(from_load)?;
        Ok(lines)
    }
}

/// Records one ledger line per completed reservation, with its inbox row in the same append.
pub struct ReservationConsumer {
    app: Settlement,
}

impl ReservationConsumer {
    pub const NAME: &'static str = "settlement-ledger";

    pub fn new(app: Settlement) -> Self {
        Self { app }
    }
}

#[async_trait::async_trait]
impl EventHandler for ReservationConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let poison = |e: yeyak_kit::events::DecodeError| HandlerError::Poison(e.to_string());
        let id = derived_id(Self::NAME, &event.event_id.to_string(), 0);
        let (line_id, source, bps) = (
            id.to_string(),
            event.event_id.to_string(),
            self.app.commission_bps,
        );
        let line = if let Some(completed) =
            decode_as::<ReservationCompleted>(event).map_err(poison)?
        {
            domain::line(&completed, line_id, source, bps)
        } else if let Some(c) = decode_as::<ReservationPaymentCancelled>(event).map_err(poison)? {
            let facts = (
                &*c.partner_id,
                &*c.reservation_id,
                c.refunded_krw,
                c.payment_mode,
            );
            domain::reversal(facts, line_id, source, bps)
        } else if let Some(c) = decode_as::<ReservationCancelled>(event).map_err(poison)? {
            // Only a cancel after completion has a line to reverse.
            if !c.after_completion || c.refunded_krw <= 0 {
                return Ok(());
            }
            let facts = (
                &*c.partner_id,
                &*c.reservation_id,
                c.refunded_krw,
                c.payment_mode,
            );
            domain::reversal(facts, line_id, source, bps)
        } else {
            return Ok(());
        };
        let request = AppendRequest::single(
            ledger_stream(&line.partner_id),
            ExpectedVersion::Any,
            vec![encode(id, &line, &Cause::reaction(Self::NAME, event))],
        )
        .with_inbox(Self::NAME, event.event_id);
        HandlerError::from_append(self.app.log.append(request).await)
    }
}
