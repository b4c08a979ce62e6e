//! Load drivers: one per engine. The driver picks the engine's load loop
//! (closed-loop users, stages of users, an open-loop schedule, a sweep's
//! levels), which decides *when* each request goes out; the lane
//! (`lane`) carries what every loop shares, and one request's life is
//! `request`'s. They stop issuing when their engine's `stop` token fires
//! and abort what is still in flight when `abort` fires.

use std::sync::Arc;

use tokio::sync::watch;

use super::lane::Lane;
use super::levels::{run_rate_levels, run_user_levels};
use super::open_loop::run_open_loop;
use super::opening::{OpeningLoad, first_second_users};
use super::schedule::{ArrivalSchedule, users_plan};
use super::users::{run_user_stages, run_users};
use crate::config::{LoadSpec, StageLevel};

/// Runs one engine's load until it is stopped: its users, or its arrival
/// schedule.
pub async fn drive(
    lane: Arc<Lane>,
    load: LoadSpec,
    seed: u64,
    level: Option<watch::Receiver<f64>>,
) {
    if let (LoadSpec::Sweep(sweep), Some(level)) = (&load, level) {
        let opening = OpeningLoad::of(&load, seed, None, lane.shard).preconnects;
        match sweep.of {
            StageLevel::Users => run_user_levels(lane, level, opening).await,
            StageLevel::Rate {
                arrivals,
                max_in_flight,
            } => run_rate_levels(lane, level, arrivals, max_in_flight, seed).await,
        }
        return;
    }
    match (
        ArrivalSchedule::of(&load, seed, lane.prompts.trace_times()),
        load,
    ) {
        (Some((schedule, max_in_flight)), _) => {
            // The shards' ceilings add up to the race's.
            let max_in_flight = lane.shard.share_at_least_one(max_in_flight);
            run_open_loop(lane, schedule, max_in_flight).await;
        }
        (None, LoadSpec::Users { users, spawn_rate }) => run_users(lane, users, spawn_rate).await,
        (None, LoadSpec::Stages { stages, .. }) => {
            // Users below this (global ids, whichever shard runs them)
            // connected before the start signal.
            let preconnected = first_second_users(&stages);
            run_user_stages(lane, users_plan(&stages), preconnected).await;
        }
        (None, _) => {}
    }
}
