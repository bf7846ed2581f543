//! Rebuilding a read model from position 0 while the one that serves keeps serving (`yeyak admin
//! rebuild`):
//!
//! 1. the read model's own consumer, built over the log's shadow
//!    ([`yeyak_eventlog::rebuild::Shadowed`]), applies every event from position 0 to the head
//!    into the shadow rows (`<name>~rebuild`), while the service keeps reading and writing the
//!    live rows;
//! 2. one transaction gives the live names the shadows' rows
//!    ([`EventStore::switch_projections`]): readers see the old rows or the new, never a mix;
//! 3. the consumer, now over the live log, applies again the events committed since step 1
//!    ended: what the running service applied to the old rows in the meantime was dropped with
//!    them. A row never goes back to an older version (`ProjectionRow::version`), so this pass
//!    and the service's own consumer can write the same rows in any order.
//!
//! The service's consumer keeps its checkpoint: the rows it writes after the switch are folds
//! as new as its events, and it never passes an event the rebuilt rows lack.
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use yeyak_eventlog::{
    EventStore, Position, StoreError,
    rebuild::{Shadowed, shadow_of},
};

use crate::{EventHandler, Outcome, apply, apply_batch};

/// A read model of a service: the consumer of the service's own log that keeps it, and the read
/// models (projections) it writes.
pub struct ReadModel {
    pub handler: Arc<dyn EventHandler>,
    pub projections: &'static [&'static str],
}

/// What a rebuild did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// Events applied into the shadow rows.
    pub events: u64,
    /// Events the consumer can never apply (the service set them aside as dead letters too).
    pub set_aside: u64,
    /// Events committed during the rebuild, applied again after the switch.
    pub caught_up: u64,
}

/// Why a rebuild stopped before the switch (the live rows serve on, untouched).
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("interrupted")]
    Interrupted,
}

/// Events read at a time.
const PAGE: usize = 500;

/// Rebuilds the read model `build` makes over `log` (see the module's steps), telling
/// `progress` the position reached and the head after each page.
pub async fn rebuild(
    log: Arc<dyn EventStore>,
    build: &dyn Fn(Arc<dyn EventStore>) -> ReadModel,
    progress: &mut (dyn FnMut(u64, u64) + Send),
    shutdown: &CancellationToken,
) -> Result<Rebuilt, RebuildError> {
    let shadow = build(Arc::new(Shadowed::new(log.clone())));
    for projection in shadow.projections {
        log.reset_projection(&shadow_of(projection), "").await?;
    }
    let mut done = Rebuilt::default();
    let at = follow(
        &*log,
        &*shadow.handler,
        Position::START,
        &mut done.events,
        &mut done.set_aside,
        progress,
        shutdown,
    )
    .await?;
    let renames: Vec<_> = shadow
        .projections
        .iter()
        .map(|p| (shadow_of(p), p.to_string()))
        .collect();
    log.switch_projections(&renames).await?;
    let live = build(log.clone());
    follow(
        &*log,
        &*live.handler,
        at,
        &mut done.caught_up,
        &mut done.set_aside,
        progress,
        shutdown,
    )
    .await?;
    Ok(done)
}

/// Applies every event after `at` to `handler`, a page at a time, to the head; the last position
/// applied.
async fn follow(
    log: &dyn EventStore,
    handler: &dyn EventHandler,
    mut at: Position,
    applied: &mut u64,
    set_aside: &mut u64,
    progress: &mut (dyn FnMut(u64, u64) + Send),
    shutdown: &CancellationToken,
) -> Result<Position, RebuildError> {
    let mut head = log.head().await?;
    loop {
        let page = log.read_all(at, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(at);
        };
        if !(handler.batches() && apply_batch(handler, &page).await) {
            for event in &page {
                match apply(handler, event, shutdown).await {
                    Outcome::Applied => {}
                    Outcome::Poison(reason) => {
                        tracing::warn!(consumer = handler.name(), event_id = %event.event_id,
                            %reason, "an event the read model cannot apply was skipped");
                        *set_aside += 1;
                    }
                    Outcome::Interrupted => return Err(RebuildError::Interrupted),
                }
            }
        }
        *applied += page.len() as u64;
        at = last.position;
        if at.position >= head.position {
            head = log.head().await?;
        }
        progress(at.position, head.position.max(at.position));
    }
}
