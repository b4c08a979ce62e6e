//! How long a closed-loop user waits before its next request after a
//! failure, so a load test stays polite: a server's `Retry-After` is
//! honoured, and fast failures (refused, rate-limited, 5xx, or anything that
//! failed within a second) back off exponentially with jitter, per user,
//! reset by a success. Open-loop arrivals never wait here: they keep their
//! schedule.

use std::time::Duration;

use rand::RngExt;

use super::stream::Exchange;
use crate::metrics::ErrorKind;

/// The first wait after a fast failure.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait after repeated fast failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A failure that ended sooner than this counts as fast whatever its kind.
pub const FAST_FAILURE: Duration = Duration::from_secs(1);

/// How a request ended, as far as the next one's timing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub error: Option<ErrorKind>,
    /// The server's `Retry-After` (429 and 503 only).
    pub retry_after: Option<Duration>,
    /// From send to the end of the answer.
    pub took: Duration,
}

impl Outcome {
    /// How `exchange` ended.
    #[must_use]
    pub fn of(exchange: &Exchange) -> Self {
        Outcome {
            error: exchange.error.as_ref().map(|e| e.kind),
            retry_after: exchange.retry_after,
            took: exchange.end.saturating_duration_since(exchange.sent),
        }
    }
}

/// Why a user waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The server said how long (`Retry-After`).
    RetryAfter,
    /// Exponential backoff after fast failures.
    Failures,
}

/// One user's backoff state.
#[derive(Debug, Default)]
pub struct Backoff {
    streak: u32,
}

impl Backoff {
    /// The wait before the next request after `outcome`, if any. `unit` is
    /// a uniform draw in `0..1` for the jitter.
    pub fn after_with(&mut self, outcome: &Outcome, unit: f64) -> Option<(Duration, Reason)> {
        let kind = match outcome.error {
            None => {
                self.streak = 0;
                return None;
            }
            Some(kind) => kind,
        };
        if let Some(wait) = outcome.retry_after {
            self.streak = self.streak.saturating_add(1);
            // `Retry-After: 0` (or a date our clock has passed) must not
            // turn the user into a busy loop.
            return Some((wait.max(FIRST_BACKOFF), Reason::RetryAfter));
        }
        let overload = matches!(
            kind,
            ErrorKind::Http429 | ErrorKind::Http5xx | ErrorKind::Connect | ErrorKind::ServerError
        );
        if !overload && outcome.took >= FAST_FAILURE {
            // A slow failure (a timeout, a long stream cut late) paces itself.
            return None;
        }
        self.streak = self.streak.saturating_add(1);
        let doublings = self.streak.saturating_sub(1).min(16);
        let cap = FIRST_BACKOFF
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF);
        // "Equal jitter": between half the cap and the cap, so users that
        // failed together do not retry together.
        let wait = cap.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0));
        Some((wait, Reason::Failures))
    }

    /// [`after_with`](Self::after_with) with a fresh random draw.
    pub fn after(&mut self, outcome: &Outcome) -> Option<(Duration, Reason)> {
        let unit: f64 = rand::rng().random();
        self.after_with(outcome, unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: ErrorKind, took_ms: u64) -> Outcome {
        Outcome {
            error: Some(kind),
            retry_after: None,
            took: Duration::from_millis(took_ms),
        }
    }

    #[test]
    fn fast_failures_double_from_100_ms_to_5_s_and_a_success_resets() {
        let mut b = Backoff::default();
        let waits: Vec<Duration> = (0..10)
            .map(|_| b.after_with(&failed(ErrorKind::Http5xx, 3), 1.0).unwrap().0)
            .collect();
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
        let ok = Outcome {
            error: None,
            retry_after: None,
            took: Duration::from_millis(5),
        };
        assert_eq!(b.after_with(&ok, 1.0), None);
        let again = b.after_with(&failed(ErrorKind::Connect, 0), 0.0).unwrap();
        assert_eq!(again, (Duration::from_millis(50), Reason::Failures));
    }

    #[test]
    fn retry_after_is_honoured_as_given() {
        let mut b = Backoff::default();
        let limited = Outcome {
            retry_after: Some(Duration::from_secs(2)),
            ..failed(ErrorKind::Http429, 1)
        };
        assert_eq!(
            b.after_with(&limited, 0.3),
            Some((Duration::from_secs(2), Reason::RetryAfter))
        );
        let now = Outcome {
            retry_after: Some(Duration::ZERO),
            ..limited
        };
        assert_eq!(
            b.after_with(&now, 0.3),
            Some((FIRST_BACKOFF, Reason::RetryAfter)),
            "never a busy loop"
        );
    }

    #[test]
    fn slow_failures_pace_themselves_but_overload_always_backs_off() {
        let mut b = Backoff::default();
        assert_eq!(b.after_with(&failed(ErrorKind::Timeout, 60_000), 1.0), None);
        assert_eq!(
            b.after_with(&failed(ErrorKind::StreamReset, 2_000), 1.0),
            None
        );
        assert!(
            b.after_with(&failed(ErrorKind::EmptyAnswer, 2), 1.0)
                .is_some()
        );
        assert!(
            b.after_with(&failed(ErrorKind::Http5xx, 9_000), 1.0)
                .is_some()
        );
    }
}
