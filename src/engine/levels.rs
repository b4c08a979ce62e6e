//! Load whose level is set live: a sweep's steps. The aggregator decides
//! each step's level from the metrics and sends it here through a `watch`;
//! 0 pauses the load between steps (no new requests while the last ones
//! end and the step is judged).

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use super::lane::Lane;
use super::open_loop::OpenLoop;
use super::schedule::{ArrivalSchedule, RateProfile};
use super::users::Seats;
use crate::config::Arrivals;

/// Users: as many as the level says, joining and leaving as it changes.
pub(super) async fn run_user_levels(
    lane: Arc<Lane>,
    mut level: watch::Receiver<f64>,
    preconnected: u32,
) {
    lane.report_connections().await;
    if !lane.wait_for_go().await {
        return;
    }
    let mut seats = Seats::new(preconnected);
    loop {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let users = level.borrow_and_update().round().max(0.0) as u32;
        seats.set(&lane, users);
        tokio::select! {
            biased;
            () = lane.stop.cancelled() => break,
            changed = level.changed() => if changed.is_err() { break },
        }
    }
    seats.finish().await;
}

/// Requests per second: arrivals at the level's rate from when it was set
/// (evenly or Poisson, seeded per step, so engines at the same level get
/// the same arrivals), at most `max_in_flight` at once.
pub(super) async fn run_rate_levels(
    lane: Arc<Lane>,
    mut level: watch::Receiver<f64>,
    arrivals: Arrivals,
    max_in_flight: u32,
    seed: u64,
) {
    lane.report_connections().await;
    if !lane.wait_for_go().await {
        return;
    }
    let mut open = OpenLoop::new(max_in_flight);
    let mut k: u64 = 0;
    let mut step: u64 = 0;
    'steps: loop {
        let rate = *level.borrow_and_update();
        let since = Instant::now();
        step += 1;
        let mut schedule = (rate > 0.0).then(|| {
            ArrivalSchedule::new(
                RateProfile::constant(rate),
                arrivals,
                seed.wrapping_add(step),
            )
        });
        loop {
            let next = schedule.as_mut().and_then(Iterator::next);
            tokio::select! {
                biased;
                () = lane.stop.cancelled() => break 'steps,
                changed = level.changed() => {
                    if changed.is_err() {
                        break 'steps;
                    }
                    continue 'steps;
                }
                () = async {
                    match next {
                        Some(offset) => sleep_until(since + offset).await,
                        None => std::future::pending().await,
                    }
                } => {
                    let scheduled = since + next.unwrap_or_default();
                    if !lane.offers(scheduled) {
                        break 'steps;
                    }
                    open.arrive(&lane, k, scheduled).await;
                    k += 1;
                }
            }
        }
    }
    open.finish().await;
}
