//! The reservation list: a read model (projection) of every reservation by partner, place,
//! usage date (KST) and state, newest booking first, kept by a consumer of this service's own log
//! with its checkpoint. Each row is the fold of the reservation's stream when one of its events
//! is handled, so replaying converges: dropping the rows and the checkpoint rebuilds the same list.
//!
//! The schema is this service's: the projection's name, its filters by position
//! ([`FILTERS`]) and its row, [`Listed`] — the reservation's fold in this service's own format.
use uuid::Uuid;
use yeyak_eventlog::{ProjectionQuery, ProjectionRow, RecordedEvent};
use yeyak_proto::{
    reservations::events::v1::{ReservationBooked, ReservationCancelled},
    time::to_micros,
};
use yeyak_transport::{EventHandler, HandlerError};

use super::{Error, Reservations, streams};
use crate::domain::reservation::{Reservation, State};

/// The read model's name (its version: a new schema is a new projection, rebuilt from position 0
/// while the old one's rows are left behind).
pub const PROJECTION: &str = "reservation-list.v2";
/// The row's filters, by position.
pub const FILTERS: [&str; 3] = ["place_id", "usage_date_kst", "state"];

/// A reservation as the list keeps it: its fold and its version.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Listed {
    #[prost(message, optional, tag = "1")]
    pub booked: Option<ReservationBooked>,
    #[prost(string, tag = "2")]
    pub state: String,
    #[prost(int64, tag = "3")]
    pub refunded_krw: i64,
    #[prost(message, optional, tag = "4")]
    pub cancellation: Option<ReservationCancelled>,
    #[prost(bool, tag = "5")]
    pub payment_cancelled: bool,
    #[prost(bool, tag = "6")]
    pub no_show: bool,
    #[prost(uint32, repeated, tag = "7")]
    pub cancelled_lines: Vec<u32>,
    #[prost(int64, tag = "8")]
    pub cancelled_paid_krw: i64,
    #[prost(int64, tag = "9")]
    pub lines_refunded_krw: i64,
    #[prost(uint64, tag = "10")]
    pub version: u64,
}

/// A state's name in the list.
pub fn state_name(state: State) -> &'static str {
    match state {
        State::Requested => "requested",
        State::Confirmed => "confirmed",
        State::Rejected => "rejected",
        State::Cancelled => "cancelled",
        State::Completed => "completed",
        State::Expired => "expired",
    }
}

fn state_of(name: &str) -> Option<State> {
    [
        State::Requested,
        State::Confirmed,
        State::Rejected,
        State::Cancelled,
        State::Completed,
        State::Expired,
    ]
    .into_iter()
    .find(|s| state_name(*s) == name)
}

impl Listed {
    pub fn of(r: &Reservation, version: u64) -> Self {
        Self {
            booked: r.booked.clone(),
            state: r.state.map(state_name).unwrap_or_default().to_string(),
            refunded_krw: r.refunded_krw,
            cancellation: r.cancellation.clone(),
            payment_cancelled: r.payment_cancelled,
            no_show: r.no_show,
            cancelled_lines: r.cancelled_lines.iter().copied().collect(),
            cancelled_paid_krw: r.cancelled_paid_krw,
            lines_refunded_krw: r.lines_refunded_krw,
            version,
        }
    }

    /// The reservation the row keeps, with its version.
    pub fn reservation(self) -> (Reservation, u64) {
        let r = Reservation {
            booked: self.booked,
            state: state_of(&self.state),
            refunded_krw: self.refunded_krw,
            cancellation: self.cancellation,
            payment_cancelled: self.payment_cancelled,
            no_show: self.no_show,
            cancelled_lines: self.cancelled_lines.into_iter().collect(),
            cancelled_paid_krw: self.cancelled_paid_krw,
            lines_refunded_krw: self.lines_refunded_krw,
        };
        (r, self.version)
    }
}

/// The list row of a reservation.
pub fn row(r: &Reservation, version: u64) -> Option<ProjectionRow> {
    let b = r.booked.as_ref()?;
    let day = b
        .starts_at
        .as_ref()
        .and_then(to_micros)
        .and_then(yeyak_kit::kst::date_of)
        .map(|d| d.to_string())
        .unwrap_or_default();
    Some(ProjectionRow {
        key: b.reservation_id.clone(),
        partition: b.partner_id.clone(),
        filters: vec![
            b.place_id.clone(),
            day,
            r.state.map(state_name).unwrap_or_default().to_string(),
        ],
        sort: b.booked_at.as_ref().and_then(to_micros).unwrap_or_default(),
        value: prost::Message::encode_to_vec(&Listed::of(r, version)),
        version,
    })
}

/// Keeps the reservation list.
pub struct ReservationList {
    app: Reservations,
}

impl ReservationList {
    pub const NAME: &'static str = "reservations-list.v2";

    pub fn new(app: Reservations) -> Self {
        Self { app }
    }

    /// The consumer's checkpoint on this service's log.
    pub fn checkpoint() -> String {
        format!("{}@{}", Self::NAME, crate::SOURCE)
    }
}

#[async_trait::async_trait]
impl EventHandler for ReservationList {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        self.handle_batch(std::slice::from_ref(event)).await
    }

    fn batches(&self) -> bool {
        true
    }

    /// Each reservation the batch touched, folded once (every one from a single read of the
    /// log), every row in one transaction.
    async fn handle_batch(&self, events: &[RecordedEvent]) -> Result<(), HandlerError> {
        let touched: Vec<Uuid> = events
            .iter()
            .filter_map(|e| streams::reservation_of(&e.stream_id))
            .collect();
        let folded = streams::load_reservations(&**self.app.log(), &touched)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))?;
        let rows: Vec<_> = folded
            .iter()
            .filter_map(|(r, version)| row(r, version.unwrap_or(0)))
            .map(|row| (PROJECTION.to_string(), row))
            .collect();
        self.app
            .log()
            .upsert_projections(rows)
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
    pub state: Option<State>,
    /// The previous page's last row, `(sort, key)`.
    pub after: Option<(i64, String)>,
    pub limit: u32,
}

impl Reservations {
    /// One page of the list, newest booking first, with the row to continue after.
    pub async fn list(
        &self,
        filter: &Filter,
    ) -> Result<(Vec<(Reservation, u64)>, Option<(i64, String)>), Error> {
        let rows = self
            .log()
            .query_rows(&ProjectionQuery {
                projection: PROJECTION.into(),
                partition: filter.partner_id.to_string(),
                filters: vec![
                    filter.place_id.map(|p| p.to_string()),
                    filter.day.clone(),
                    filter.state.map(|s| state_name(s).to_string()),
                ],
                after: filter.after.clone(),
                limit: filter.limit,
            })
            .await?;
        let next = (rows.len() as u32 == filter.limit)
            .then(|| rows.last().map(|r| (r.sort, r.key.clone())))
            .flatten();
        let items = rows
            .iter()
            .map(|r| {
                <Listed as prost::Message>::decode(r.value.as_slice())
                    .map(Listed::reservation)
                    .map_err(|e| {
                        Error::Load(yeyak_kit::events::LoadError::Decode(
                            yeyak_kit::events::DecodeError::Malformed(r.key.clone(), e),
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok((items, next))
    }
}
