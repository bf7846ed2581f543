//! The reservation list: a read model (projection) of every reservation by partner, place,
//! usage date (KST) and state, newest booking first, kept by a consumer of this service's own log
//! with its checkpoint. Each row is the fold of the reservation's stream when one of its events
//! is handled, so replaying converges: dropping the rows and the checkpoint rebuilds the same list.
use std::sync::Arc;

use prost::Message;
use tonic::Status;
use uuid::Uuid;
use yeyak_eventlog::{EventStore, ProjectionQuery, ProjectionRow, RecordedEvent};
use yeyak_kit::status::from_store;
use yeyak_proto::{reservations::v1 as pb, time::to_micros};
use yeyak_transport::{EventHandler, HandlerError};

use crate::{api::view, app::Reservations};

/// The read model's name.
pub const PROJECTION: &str = "reservation-list";

/// Keeps the reservation list.
pub struct ReservationList {
    log: Arc<dyn EventStore>,
    app: Reservations,
}

impl ReservationList {
    pub const NAME: &'static str = "reservations-list";

    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self {
            app: Reservations::new(log.clone()),
            log,
        }
    }

    /// The consumer's checkpoint on this service's log.
    pub fn checkpoint() -> String {
        format!("{}@{}", Self::NAME, crate::SOURCE)
    }
}

fn day_of(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(to_micros)
        .and_then(yeyak_kit::kst::date_of)
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// The list row of a reservation view.
pub fn row(r: &pb::Reservation) -> ProjectionRow {
    ProjectionRow {
        key: r.reservation_id.clone(),
        partition: r.partner_id.clone(),
        filters: vec![
            r.place_id.clone(),
            day_of(&r.starts_at),
            r.state().as_str_name().to_string(),
        ],
        sort: r.booked_at.as_ref().and_then(to_micros).unwrap_or_default(),
        value: r.encode_to_vec(),
    }
}

#[async_trait::async_trait]
impl EventHandler for ReservationList {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(id) = event
            .stream_id
            .strip_prefix("reservation-")
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            return Ok(());
        };
        let (r, version) = self
            .app
            .reservation(id)
            .await
            .map_err(|s| HandlerError::Retry(s.to_string()))?;
        if r.booked.is_none() {
            return Ok(());
        }
        let view = view((r, version.unwrap_or(0)));
        self.log
            .upsert_rows(PROJECTION, vec![row(&view)])
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))
    }
}

/// Filters of a list query.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub partner_id: Uuid,
    pub place_id: Option<Uuid>,
    /// KST usage date, `YYYY-MM-DD`.
    pub day: Option<String>,
    pub state: Option<pb::ReservationState>,
    /// The previous page's last row, `(sort, key)`.
    pub after: Option<(i64, String)>,
    pub limit: u32,
}

/// One page of the list, newest booking first, with the row to continue after.
pub async fn list(
    log: &dyn EventStore,
    filter: &Filter,
) -> Result<(Vec<pb::Reservation>, Option<(i64, String)>), Status> {
    let rows = log
        .query_rows(&ProjectionQuery {
            projection: PROJECTION.into(),
            partition: filter.partner_id.to_string(),
            filters: vec![
                filter.place_id.map(|p| p.to_string()),
                filter.day.clone(),
                filter.state.map(|s| s.as_str_name().to_string()),
            ],
            after: filter.after.clone(),
            limit: filter.limit,
        })
        .await
        .map_err(from_store)?;
    let next = (rows.len() as u32 == filter.limit)
        .then(|| rows.last().map(|r| (r.sort, r.key.clone())))
        .flatten();
    let items = rows
        .iter()
        .map(|r| {
            pb::Reservation::decode(r.value.as_slice())
                .map_err(|e| Status::internal(format!("corrupt list row {}: {e}", r.key)))
        })
        .collect::<Result<_, _>>()?;
    Ok((items, next))
}
