//! The aggregator: the only owner of a race's metric state. It folds request
//! events into `RaceStats`, decides when each engine has finished, hands
//! finished records to the sinks, and publishes an `Arc<RaceSnapshot>` at a
//! fixed rate (newest wins; readers never block it).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};
use tokio_util::sync::CancellationToken;

use super::event::{RecordSink, RequestEvent};
use super::trace::TraceSlots;
use crate::metrics::{LaneState, RacePhase, RaceSnapshot, RaceStats};

/// How often snapshots are published (10 Hz).
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);
/// Events taken from the channel at once.
const EVENT_BATCH: usize = 256;

pub struct Aggregator {
    pub stats: RaceStats,
    pub events: mpsc::Receiver<RequestEvent>,
    pub publish: watch::Sender<Arc<RaceSnapshot>>,
    pub go: Instant,
    /// One per engine: cancelled when the engine finishes.
    pub engine_stop: Vec<CancellationToken>,
    /// Cancelled when the user stops the race.
    pub race_stop: CancellationToken,
    pub sinks: Vec<Box<dyn RecordSink>>,
    /// Each engine's live request traces, copied into every snapshot.
    pub traces: Vec<TraceSlots>,
}

impl Aggregator {
    /// Runs until every driver and request task has gone (the event channel
    /// closes), then publishes and returns the final snapshot.
    pub async fn run(mut self) -> Arc<RaceSnapshot> {
        let mut tick = interval(PUBLISH_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let deadline = self.go + self.stats.finish.duration;
        let mut deadline_passed = false;
        let mut user_stopped = false;
        let mut batch = Vec::with_capacity(EVENT_BATCH);
        loop {
            // Not `biased`: under a flood of events the timers must still
            // get their turn (the deadline, the publish tick).
            tokio::select! {
                received = self.events.recv_many(&mut batch, EVENT_BATCH) => {
                    if received == 0 {
                        break;
                    }
                    for event in batch.drain(..) {
                        self.apply(event);
                    }
                }
                () = sleep_until(deadline), if !deadline_passed => {
                    deadline_passed = true;
                    let state = if self.stats.finish.duration_is_finish_line {
                        LaneState::Finished
                    } else {
                        LaneState::OutOfTime
                    };
                    self.end_all(state, self.stats.finish.duration);
                }
                () = self.race_stop.cancelled(), if !user_stopped => {
                    user_stopped = true;
                    let now = self.now();
                    self.end_all(LaneState::Stopped, now);
                }
                _ = tick.tick() => {
                    self.publish(false);
                }
            }
        }
        let now = self.now();
        self.end_all(LaneState::Stopped, now);
        self.publish(true)
    }

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.go)
    }

    fn apply(&mut self, event: RequestEvent) {
        match event {
            RequestEvent::Started { engine } => {
                if let Some(e) = self.stats.engines.get_mut(engine) {
                    e.on_started();
                }
            }
            RequestEvent::LateArrival { engine } => {
                if let Some(e) = self.stats.engines.get_mut(engine) {
                    e.on_late_arrival();
                }
            }
            RequestEvent::DroppedArrival { engine } => {
                if let Some(e) = self.stats.engines.get_mut(engine) {
                    e.on_dropped_arrival();
                }
            }
            RequestEvent::Cancelled { engine, count } => {
                if let Some(e) = self.stats.engines.get_mut(engine) {
                    e.on_cancelled(count);
                }
            }
            RequestEvent::Finished(record) => {
                let engine = record.engine;
                self.stats.observe(&record);
                let finish = &self.stats.finish;
                if let Some(e) = self.stats.engines.get_mut(engine)
                    && e.is_running()
                    && e.crossed_finish_line(finish)
                {
                    e.end(LaneState::Finished, record.end_at);
                    if let Some(stop) = self.engine_stop.get(engine) {
                        stop.cancel();
                    }
                }
                // Every sink but the last gets a copy; the last takes the record.
                if let Some((last, others)) = self.sinks.split_last_mut() {
                    for sink in others {
                        sink.record(record.clone());
                    }
                    last.record(record);
                }
            }
        }
    }

    fn end_all(&mut self, state: LaneState, at: Duration) {
        for (engine, stop) in self.stats.engines.iter_mut().zip(&self.engine_stop) {
            engine.end(state, at);
            stop.cancel();
        }
    }

    fn publish(&mut self, last: bool) -> Arc<RaceSnapshot> {
        let now = Instant::now();
        let (phase, elapsed) = if last {
            (RacePhase::Finished, now.saturating_duration_since(self.go))
        } else if now < self.go {
            (
                RacePhase::Countdown {
                    remaining: self.go - now,
                },
                Duration::ZERO,
            )
        } else {
            (RacePhase::Running, now - self.go)
        };
        let mut snapshot = self.stats.snapshot(phase, elapsed, last);
        for (lane, traces) in snapshot.lanes.iter_mut().zip(&self.traces) {
            lane.traces = traces.snapshot();
        }
        let snapshot = Arc::new(snapshot);
        self.publish.send_replace(Arc::clone(&snapshot));
        snapshot
    }
}
