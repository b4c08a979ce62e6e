//! What a load shape needs before the start signal: how many requests at
//! once a warm-up sends, and how many connections are opened ahead (the
//! first second's users or arrivals).

use std::time::Duration;

use super::schedule::{ArrivalSchedule, users_plan};
use crate::config::{LoadSpec, Shard, Stage, StageLevel};
use crate::workload::TraceTimes;

/// Most connections opened per engine before the start signal.
pub const MAX_PRECONNECTS: u32 = 256;

/// Closed loop: the users that start in the race's first second connect
/// before the start signal; later users of the ramp connect as they start.
#[must_use]
pub(super) fn preconnected_users(users: u32, spawn_rate: f64) -> u32 {
    let first_second = spawn_rate.ceil().clamp(1.0, f64::from(MAX_PRECONNECTS));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    users.min(first_second as u32)
}

/// Closed-loop stages: the most users the first second runs.
pub(super) fn first_second_users(stages: &[Stage]) -> u32 {
    users_plan(stages)
        .iter()
        .take_while(|(at, _)| *at < Duration::from_secs(1))
        .map(|(_, users)| *users)
        .max()
        .unwrap_or(0)
        .min(MAX_PRECONNECTS)
}

/// What a load shape needs before the start signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningLoad {
    /// Requests at once during a warm-up: the users or open-loop arrivals of
    /// the first second.
    pub concurrency: u32,
    /// Connections to open before the start signal.
    pub preconnects: u32,
}

impl OpeningLoad {
    /// `trace`: the loaded trace of `mode: trace`; `shard`: this process's
    /// part of the load (its share of the first second's users or arrivals).
    #[must_use]
    pub fn of(load: &LoadSpec, seed: u64, trace: Option<&TraceTimes>, shard: Shard) -> Self {
        let at_once = match (ArrivalSchedule::of(load, seed, trace), load) {
            // Open loop: as many as the first second's arrivals may hold at once.
            (Some((schedule, max_in_flight)), _) => max_in_flight
                .min(schedule.first_second(MAX_PRECONNECTS))
                .max(1),
            // A warm-up keeps to the ramp's first second too: no burst.
            (None, &LoadSpec::Users { users, spawn_rate }) => preconnected_users(users, spawn_rate),
            (None, LoadSpec::Stages { stages, .. }) => first_second_users(stages).max(1),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            (None, LoadSpec::Sweep(sweep)) => match sweep.of {
                StageLevel::Users => (sweep.start as u32).clamp(1, MAX_PRECONNECTS),
                StageLevel::Rate { max_in_flight, .. } => max_in_flight
                    .min(ArrivalSchedule::constant(sweep.start).first_second(MAX_PRECONNECTS))
                    .max(1),
            },
            (None, _) => 1,
        };
        let at_once = shard.share_at_least_one(at_once);
        OpeningLoad {
            concurrency: at_once,
            preconnects: at_once,
        }
    }
}
