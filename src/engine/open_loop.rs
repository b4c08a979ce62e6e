//! Open loop: requests at the arrivals of a schedule, whatever the server
//! does, with at most `max_in_flight` at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use super::conversation::{Gate, converse};
use super::event::RaceEvent;
use super::lane::{Lane, RequestSlot};
use super::request::run_guarded;
use super::schedule::ArrivalSchedule;

/// Open loop: one request per arrival of `schedule`, at most
/// `max_in_flight` at once. An arrival that finds every slot taken waits
/// (and is counted late; its latency still counts from its scheduled time);
/// once `max_in_flight` arrivals are waiting, further ones are dropped.
pub(super) async fn run_open_loop(lane: Arc<Lane>, schedule: ArrivalSchedule, max_in_flight: u32) {
    lane.report_connections().await;
    if !lane.wait_for_go().await {
        return;
    }
    let mut open = OpenLoop::new(max_in_flight);
    // Arrival `k` is shard `k mod N`'s: the shards' arrivals are the schedule.
    let shard = lane.shard;
    for (k, offset) in schedule.enumerate().filter(|&(k, _)| shard.owns(k as u64)) {
        let scheduled = lane.go + offset;
        // Stop first: an arrival due after the stop was never offered.
        tokio::select! {
            biased;
            () = lane.stop.cancelled() => break,
            () = sleep_until(scheduled) => {}
        }
        if !lane.offers(scheduled) {
            break;
        }
        open.arrive(&lane, k as u64, scheduled).await;
    }
    open.finish().await;
}

/// An open loop's in-flight slots and the arrivals waiting for one.
pub(super) struct OpenLoop {
    slots: Arc<Semaphore>,
    backlog: Arc<AtomicUsize>,
    max_in_flight: u32,
    tasks: JoinSet<()>,
}

impl OpenLoop {
    pub(super) fn new(max_in_flight: u32) -> Self {
        OpenLoop {
            slots: Arc::new(Semaphore::new(max_in_flight as usize)),
            backlog: Arc::new(AtomicUsize::new(0)),
            max_in_flight,
            tasks: JoinSet::new(),
        }
    }

    /// Arrival `k`, due at `scheduled` (now): sent at once if a slot is
    /// free, else waiting (late) or, with the backlog full, dropped.
    pub(super) async fn arrive(&mut self, lane: &Arc<Lane>, k: u64, scheduled: Instant) {
        let slot = RequestSlot {
            request_id: k,
            user_id: 0,
            user_request_num: u32::try_from(k + 1).unwrap_or(u32::MAX),
            scheduled,
            waited_for_slot: false,
            conversation: None,
        };
        let lane = Arc::clone(lane);
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            let slots = Arc::clone(&self.slots);
            self.tasks.spawn(async move {
                run_arrival(&lane, slot, permit, slots).await;
            });
        } else if self.backlog.load(Ordering::Relaxed) >= self.max_in_flight as usize {
            lane.emit(RaceEvent::DroppedArrival {
                engine: lane.engine,
            })
            .await;
        } else {
            lane.emit(RaceEvent::LateArrival {
                engine: lane.engine,
            })
            .await;
            self.backlog.fetch_add(1, Ordering::Relaxed);
            let (slots, backlog) = (Arc::clone(&self.slots), Arc::clone(&self.backlog));
            self.tasks.spawn(async move {
                // Stop first: a slot that frees as the engine stops must
                // not send a request after the stop.
                let permit = tokio::select! {
                    biased;
                    () = lane.stop.cancelled() => None,
                    p = Arc::clone(&slots).acquire_owned() => p.ok(),
                };
                backlog.fetch_sub(1, Ordering::Relaxed);
                if let Some(permit) = permit {
                    let slot = RequestSlot {
                        waited_for_slot: true,
                        ..slot
                    };
                    run_arrival(&lane, slot, permit, slots).await;
                } else {
                    lane.emit(RaceEvent::UnsentArrivals {
                        engine: lane.engine,
                        count: 1,
                    })
                    .await;
                }
            });
        }
        while self.tasks.try_join_next().is_some() {}
    }

    /// Waits for every request sent to end.
    pub(super) async fn finish(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Arrival `slot`, holding its in-flight slot: one request, or in a
/// conversation race the conversation it starts (its later turns take a
/// slot of their own each).
async fn run_arrival(
    lane: &Lane,
    slot: RequestSlot,
    permit: OwnedSemaphorePermit,
    slots: Arc<Semaphore>,
) {
    if lane.prompts.conversation_spec().is_some() {
        let gate = Gate {
            slots: Some(slots),
            first: Some(permit),
        };
        let mut sent = 0;
        converse(lane, slot.request_id, slot, gate, &mut sent).await;
    } else {
        run_guarded(lane, slot, &lane.prompts.ask(slot.request_id)).await;
        drop(permit);
    }
}
