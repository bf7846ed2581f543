//! The time business rules see. Services read it from an injected [`Clock`]: the system clock
//! in production, a [`ControlledClock`] in tests (set and advanced by the test, never waited
//! for), and in the embedded development mode only, an [`OffsetClock`] that runs from a chosen
//! instant so someone trying the API can reach a time rule.
use std::sync::Arc;

use tokio::sync::watch;

/// Business time, microseconds since the Unix epoch (UTC).
pub trait Clock: std::fmt::Debug + Send + Sync + 'static {
    fn now_us(&self) -> i64;

    /// Bumped whenever the time jumps (a controlled clock set by a test), so that schedulers
    /// look again at once instead of at their next tick. The system clock never jumps.
    fn jumps(&self) -> Option<watch::Receiver<i64>> {
        None
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        jiff::Timestamp::now().as_microsecond()
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that stands still until it is told otherwise: tests put the time exactly at a
/// rule's boundary.
#[derive(Debug)]
pub struct ControlledClock {
    now: watch::Sender<i64>,
}

impl ControlledClock {
    /// A clock showing `now_us`.
    pub fn at(now_us: i64) -> Arc<Self> {
        Arc::new(Self {
            now: watch::Sender::new(now_us),
        })
    }

    /// A clock showing the current system time, then standing still.
    pub fn starting_now() -> Arc<Self> {
        Self::at(SystemClock.now_us())
    }

    /// Sets the time (forwards or backwards).
    pub fn set(&self, now_us: i64) {
        self.now.send_replace(now_us);
    }

    /// Moves the time forward by `by_us` microseconds.
    pub fn advance(&self, by_us: i64) {
        self.now.send_modify(|now| *now += by_us);
    }
}

impl Clock for ControlledClock {
    fn now_us(&self) -> i64 {
        *self.now.borrow()
    }

    fn jumps(&self) -> Option<watch::Receiver<i64>> {
        Some(self.now.subscribe())
    }
}

/// Development only (`yeyak run --dev-clock-*`): the system clock shifted by a fixed offset, so
/// time runs normally from a chosen instant. The service binaries never take it.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset_us: i64,
}

impl OffsetClock {
    /// A clock that reads `start_us` now and runs on from there.
    pub fn starting_at(start_us: i64) -> Self {
        Self {
            offset_us: start_us - SystemClock.now_us(),
        }
    }

    /// A clock `offset_us` ahead of the system clock (behind when negative).
    pub fn shifted(offset_us: i64) -> Self {
        Self { offset_us }
    }
}

impl Clock for OffsetClock {
    fn now_us(&self) -> i64 {
        SystemClock.now_us() + self.offset_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_controlled_clock_moves_only_when_told_and_says_so() {
        let clock = ControlledClock::at(1_000);
        let mut jumps = clock.jumps().expect("a controlled clock reports jumps");
        assert_eq!(clock.now_us(), 1_000);
        clock.advance(500);
        assert_eq!(clock.now_us(), 1_500);
        assert!(jumps.has_changed().unwrap());
        assert_eq!(*jumps.borrow_and_update(), 1_500);
        clock.set(10);
        assert_eq!(clock.now_us(), 10);
    }

    #[test]
    fn an_offset_clock_runs_from_its_start() {
        let start = 1_900_000_000_000_000;
        let clock = OffsetClock::starting_at(start);
        let now = clock.now_us();
        assert!((start..start + 60_000_000).contains(&now), "{now}");
        assert!(SystemClock.jumps().is_none());
        let ahead = OffsetClock::shifted(3_600_000_000).now_us() - SystemClock.now_us();
        assert!((3_599_000_000..3_601_000_000).contains(&ahead), "{ahead}");
    }
}
