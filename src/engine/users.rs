//! Closed-loop users: a fixed number added at a spawn rate, or users that
//! join and leave as stages (or a sweep) say. Each sends its next request as
//! soon as the previous one ends, backing off after fast failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};

use super::backoff::{Backoff, Reason};
use super::conversation::{Gate, converse};
use super::event::RaceEvent;
use super::lane::{Lane, RequestSlot};
use super::opening::preconnected_users;
use super::request::run_guarded;
use crate::metrics::record::whole_micros;

/// Closed loop: `users` users, added at `spawn_rate` per second; each sends
/// its next request as soon as the previous one ends.
pub(super) async fn run_users(lane: Arc<Lane>, users: u32, spawn_rate: f64) {
    // The connections made before the start signal (see `race::start`).
    lane.report_connections().await;
    if !lane.wait_for_go().await {
        return;
    }
    let mut tasks = JoinSet::new();
    // User `u` starts at `u / spawn_rate` in whichever shard runs it.
    for user in (0..users).filter(|&u| lane.shard.owns(u64::from(u))) {
        let start_at = lane.go + Duration::from_secs_f64(f64::from(user) / spawn_rate);
        tokio::select! {
            biased;
            () = lane.stop.cancelled() => break,
            () = sleep_until(start_at) => {}
        }
        let preconnected = user < preconnected_users(users, spawn_rate);
        tasks.spawn(user_loop(Arc::clone(&lane), user, preconnected, None));
    }
    while tasks.join_next().await.is_some() {}
}

/// A closed-loop user's place in a plan of user counts: it runs while its
/// number is below the target, and says when it has stopped.
struct Seat {
    target: Arc<AtomicU32>,
    running: Arc<AtomicBool>,
}

/// Closed-loop users that join and leave: user `i` runs while `i` is
/// below the target; one leaving finishes its request first.
pub(super) struct Seats {
    target: Arc<AtomicU32>,
    seats: Vec<Arc<AtomicBool>>,
    preconnected: u32,
    tasks: JoinSet<()>,
}

impl Seats {
    pub(super) fn new(preconnected: u32) -> Self {
        Seats {
            target: Arc::new(AtomicU32::new(0)),
            seats: Vec::new(),
            preconnected,
            tasks: JoinSet::new(),
        }
    }

    /// From now on, `users` users run.
    pub(super) fn set(&mut self, lane: &Arc<Lane>, users: u32) {
        self.target.store(users, Ordering::Relaxed);
        for user in (0..users).filter(|&u| lane.shard.owns(u64::from(u))) {
            // Another shard's users keep their places, empty.
            while self.seats.len() <= user as usize {
                self.seats.push(Arc::new(AtomicBool::new(false)));
            }
            let running = &self.seats[user as usize];
            if !running.swap(true, Ordering::Relaxed) {
                let seat = Seat {
                    target: Arc::clone(&self.target),
                    running: Arc::clone(running),
                };
                self.tasks.spawn(user_loop(
                    Arc::clone(lane),
                    user,
                    user < self.preconnected,
                    Some(seat),
                ));
            }
        }
        while self.tasks.try_join_next().is_some() {}
    }

    /// Waits for every user to leave.
    pub(super) async fn finish(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Closed-loop stages: users join and leave as `plan` says (`(from when,
/// how many)`).
pub(super) async fn run_user_stages(
    lane: Arc<Lane>,
    plan: Vec<(Duration, u32)>,
    preconnected: u32,
) {
    lane.report_connections().await;
    if !lane.wait_for_go().await {
        return;
    }
    let mut seats = Seats::new(preconnected);
    for (at, users) in plan {
        tokio::select! {
            biased;
            () = lane.stop.cancelled() => break,
            () = sleep_until(lane.go + at) => {}
        }
        seats.set(&lane, users);
    }
    seats.finish().await;
}

async fn user_loop(lane: Arc<Lane>, user_id: u32, preconnected: bool, seat: Option<Seat>) {
    let seated = || {
        seat.as_ref()
            .is_none_or(|s| user_id < s.target.load(Ordering::Relaxed))
    };
    if !preconnected {
        // A user of the ramp connects as it starts, outside any timing.
        tokio::select! {
            biased;
            () = lane.stop.cancelled() => return,
            () = lane.client.preconnect() => {}
        }
        lane.report_connections().await;
    }
    let mut user_request_num = 0;
    let mut backoff = Backoff::default();
    let conversations = lane.prompts.conversation_spec().is_some();
    while lane.offers(Instant::now()) && seated() {
        let slot = RequestSlot {
            request_id: lane.next_request_id(),
            user_id,
            user_request_num: user_request_num + 1,
            scheduled: Instant::now(),
            waited_for_slot: false,
            conversation: None,
        };
        let outcome = if conversations {
            // The id is the conversation's: each user's are its own, and
            // a shard's are whole.
            let gate = Gate {
                slots: None,
                first: None,
            };
            converse(&lane, slot.request_id, slot, gate, &mut user_request_num).await
        } else {
            user_request_num += 1;
            let ask = lane.prompts.ask(slot.request_id);
            run_guarded(&lane, slot, &ask).await.map(|e| e.outcome)
        };
        let Some(outcome) = outcome else {
            continue;
        };
        if let Some((wait, reason)) = backoff.after(&outcome) {
            let began = Instant::now();
            tokio::select! {
                () = sleep(wait) => {}
                () = lane.stop.cancelled() => {}
            }
            lane.emit(RaceEvent::BackedOff {
                engine: lane.engine,
                waited: whole_micros(began.elapsed()),
                retry_after: reason == Reason::RetryAfter,
            })
            .await;
        }
    }
    if let Some(seat) = seat {
        seat.running.store(false, Ordering::Relaxed);
    }
}
