//! Open-loop arrival schedules: when request `k` is meant to be sent,
//! relative to the start signal. Every engine gets the same schedule.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::LoadSpec;

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
    /// The schedule of an open-loop load and its in-flight limit; `None`
    /// for a closed loop. A new open-loop shape is a variant here.
    #[must_use]
    pub fn of(load: &LoadSpec, seed: u64) -> Option<(ArrivalSchedule, u32)> {
        match *load {
            LoadSpec::Users { .. } => None,
            LoadSpec::Constant {
                rate,
                max_in_flight,
            } => Some((ArrivalSchedule::constant(rate), max_in_flight)),
            LoadSpec::Poisson {
                rate,
                max_in_flight,
            } => Some((ArrivalSchedule::poisson(rate, seed), max_in_flight)),
        }
    }

    /// How many arrivals fall in the first second (at most `cap`).
    #[must_use]
    pub fn first_second(&self, cap: u32) -> u32 {
        let n = self
            .clone()
            .take_while(|at| *at < Duration::from_secs(1))
            .take(cap as usize)
            .count();
        u32::try_from(n).unwrap_or(cap)
    }

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
    fn the_first_second_counts_the_arrivals_in_it() {
        assert_eq!(ArrivalSchedule::constant(2.5).first_second(100), 3);
        assert_eq!(ArrivalSchedule::constant(0.1).first_second(100), 1);
        assert_eq!(ArrivalSchedule::constant(1e6).first_second(256), 256);
        let poisson = ArrivalSchedule::poisson(10.0, 3);
        let arrivals = poisson
            .clone()
            .take_while(|at| *at < Duration::from_secs(1))
            .count();
        assert_eq!(poisson.first_second(1000) as usize, arrivals);
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
