//! When a retryable send is tried again: exponential back-off with jitter (`backon`).
//!
//! The retry is durable: the caller records the delay with the failed attempt and sends again
//! when the clock passes it. So this computes a delay and never sleeps.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// How retryable sends back off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The delay before the second attempt, before jitter.
    pub min_delay: Duration,
    /// How much each delay grows on the previous one, before jitter.
    pub factor: f32,
    /// The most a delay grows to, before jitter (the jittered delay may reach twice this).
    pub max_delay: Duration,
    /// How many sends a message gets in all, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 30 s, doubling, at most 1 h, 8 sends: 30 s, 1, 2, 4, 8, 16, 32 min (before jitter).
    fn default() -> Self {
        Self {
            min_delay: Duration::from_secs(30),
            factor: 2.0,
            max_delay: Duration::from_secs(60 * 60),
            max_attempts: 8,
        }
    }
}

/// The delay after attempt `attempt` failed before attempt `attempt + 1`, counting the first
/// send as attempt 0; `None` when `attempt + 1` would exceed `policy.max_attempts`.
///
/// The delay is `backon`'s `ExponentialBuilder` with jitter: a base of
/// `min(min_delay · factor^attempt, max_delay)`, plus a uniformly random jitter in `[0, base)`
/// (`base · rng.f32()`), so it lies in `[base, 2 · base]` (the upper end reached only by `f32`
/// rounding).
pub fn retry_delay(attempt: u32, policy: &RetryPolicy) -> Option<Duration> {
    let retries = policy.max_attempts.saturating_sub(1);
    ExponentialBuilder::new()
        .with_jitter()
        .with_min_delay(policy.min_delay)
        .with_factor(policy.factor)
        .with_max_delay(policy.max_delay)
        .with_max_times(usize::try_from(retries).unwrap_or(usize::MAX))
        .build()
        .nth(usize::try_from(attempt).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(attempt: u32, policy: &RetryPolicy) -> Duration {
        (policy.min_delay * 2u32.pow(attempt)).min(policy.max_delay)
    }

    #[test]
    fn each_delay_lies_between_its_base_and_twice_its_base() {
        let policy = RetryPolicy::default();
        for _ in 0..200 {
            for attempt in 0..7 {
                let delay = retry_delay(attempt, &policy).expect("a retry is left");
                let base = base(attempt, &policy);
                assert!(
                    base <= delay && delay <= 2 * base,
                    "attempt {attempt}: {delay:?} outside [{base:?}, {:?}]",
                    2 * base
                );
            }
        }
    }

    #[test]
    fn the_first_retry_waits_at_least_thirty_seconds_and_under_a_minute_by_default() {
        let delay = retry_delay(0, &RetryPolicy::default()).unwrap();
        assert!(Duration::from_secs(30) <= delay && delay <= Duration::from_secs(60));
    }

    #[test]
    fn the_base_stops_growing_at_the_max_delay() {
        let policy = RetryPolicy {
            max_delay: Duration::from_secs(120),
            max_attempts: 20,
            ..RetryPolicy::default()
        };
        for attempt in 2..19 {
            let delay = retry_delay(attempt, &policy).unwrap();
            assert!(
                Duration::from_secs(120) <= delay && delay <= Duration::from_secs(240),
                "attempt {attempt}: {delay:?}"
            );
        }
    }

    #[test]
    fn there_is_no_retry_after_the_last_attempt() {
        let policy = RetryPolicy::default();
        assert!(retry_delay(6, &policy).is_some());
        assert_eq!(retry_delay(7, &policy), None);
        assert_eq!(retry_delay(u32::MAX, &policy), None);
        let once = RetryPolicy {
            max_attempts: 1,
            ..policy
        };
        assert_eq!(retry_delay(0, &once), None);
    }

    #[test]
    fn the_jitter_spreads_the_retries_of_many_messages() {
        let policy = RetryPolicy::default();
        let delays: std::collections::BTreeSet<_> =
            (0..50).map(|_| retry_delay(3, &policy).unwrap()).collect();
        assert!(delays.len() > 1, "{delays:?}");
    }
}
