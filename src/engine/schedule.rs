//! Open-loop arrival schedules: when request `k` is meant to be sent,
//! relative to the start signal. Every engine gets the same schedule.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An endless sequence of arrival offsets.
#[derive(Debug, Clone)]
pub enum ArrivalSchedule {
    /// Request `k` at `k / rate`.
    Constant { rate: f64, next: u64 },
    /// Exponential gaps with mean `1 / rate` (a Poisson process), seeded.
    Poisson {
        rate: f64,
        at: f64,
        rng: Box<ChaCha8Rng>,
    },
}

impl ArrivalSchedule {
    #[must_use]
    pub fn constant(rate: f64) -> Self {
        ArrivalSchedule::Constant { rate, next: 0 }
    }

    #[must_use]
    pub fn poisson(rate: f64, seed: u64) -> Self {
        ArrivalSchedule::Poisson {
            rate,
            at: 0.0,
            rng: Box::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }
}

impl Iterator for ArrivalSchedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        match self {
            ArrivalSchedule::Constant { rate, next } => {
                #[allow(clippy::cast_precision_loss)]
                let at = *next as f64 / *rate;
                *next += 1;
                Some(Duration::from_secs_f64(at))
            }
            ArrivalSchedule::Poisson { rate, at, rng } => {
                let offset = *at;
                // 1 - u is in (0, 1], so the logarithm is finite.
                let u: f64 = rng.random();
                *at += -(1.0 - u).ln() / *rate;
                Some(Duration::from_secs_f64(offset))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let offsets: Vec<Duration> = ArrivalSchedule::constant(4.0).take(5).collect();
        assert_eq!(offsets[0], Duration::ZERO);
        assert_eq!(offsets[4], Duration::from_secs(1));
    }

    #[test]
    fn poisson_has_the_requested_mean_rate_and_is_reproducible() {
        let a: Vec<Duration> = ArrivalSchedule::poisson(10.0, 3).take(20_001).collect();
        let b: Vec<Duration> = ArrivalSchedule::poisson(10.0, 3).take(20_001).collect();
        assert_eq!(a, b);
        let mean_gap = a[20_000].as_secs_f64() / 20_000.0;
        assert!((mean_gap - 0.1).abs() < 0.005, "mean gap {mean_gap}");
        assert!(a.windows(2).all(|w| w[1] >= w[0]));
    }
}
