//! The aggregator: the only owner of a race's metric state. It folds request
//! events into `RaceStats`, decides when each engine has finished, hands
//! finished records to the sinks, and publishes an `Arc<RaceSnapshot>` at a
//! fixed rate (newest wins; readers never block it).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, interval, interval_at, sleep_until};
use tokio_util::sync::CancellationToken;

use super::event::{RaceEvent, RecordSink};
use super::probe::ClientProbe;
use crate::metrics::record::whole_micros;
use crate::metrics::{RacePhase, RaceSnapshot, RaceStats};

/// How often snapshots are published (10 Hz).
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);
/// Events taken from the channel at once.
const EVENT_BATCH: usize = 256;
/// How often the client's own health is sampled.
pub const CLIENT_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

pub struct Aggregator {
    pub stats: RaceStats,
    pub events: mpsc::Receiver<RaceEvent>,
    pub publish: watch::Sender<Arc<RaceSnapshot>>,
    pub go: Instant,
    /// One per engine: cancelled when the engine finishes.
    pub engine_stop: Vec<CancellationToken>,
    /// Cancelled when the user stops the race.
    pub race_stop: CancellationToken,
    pub sinks: Vec<Box<dyn RecordSink>>,
    /// The client's own lag and CPU.
    pub probe: ClientProbe,
    /// A sweep's steps, when the load is one.
    pub sweep: Option<SweepControl>,
}

/// How often a sweep's clock is looked at (step ends, drained requests).
const SWEEP_POLL: Duration = Duration::from_millis(20);

/// Where one engine's sweep step stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum StepClock {
    /// Not started yet (before the start signal).
    Idle,
    /// The step's load runs until `ends`.
    Running {
        ends: Duration,
    },
    /// The step is over: no new requests; it is judged when its requests
    /// have ended, or at `until`.
    Draining {
        until: Duration,
    },
    Done,
}

/// The sweep's clock: when each engine's step ends, and when it can be
/// judged. The metrics judge and pick the next level; this only keeps the
/// time and tells the drivers.
pub struct SweepControl {
    levels: Vec<watch::Sender<f64>>,
    start: f64,
    step_duration: Duration,
    drain_limit: Duration,
    clocks: Vec<StepClock>,
}

impl SweepControl {
    #[must_use]
    pub fn new(
        spec: &crate::config::SweepSpec,
        drain_limit: Duration,
        levels: Vec<watch::Sender<f64>>,
    ) -> Self {
        SweepControl {
            clocks: vec![StepClock::Idle; levels.len()],
            levels,
            start: spec.start,
            step_duration: spec.step_duration,
            drain_limit,
        }
    }
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
        // The client is judged from the start signal on: the first tick (at
        // the signal) only starts the first second.
        let mut sample = interval_at(self.go, CLIENT_SAMPLE_INTERVAL);
        sample.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut sampling = false;
        let mut deepest_queue = 0;
        let mut sweep_poll = interval_at(self.go, SWEEP_POLL);
        sweep_poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let sweeping = self.sweep.is_some();
        loop {
            // Not `biased`: under a flood of events the timers must still
            // get their turn (the deadline, the publish tick).
            tokio::select! {
                received = self.events.recv_many(&mut batch, EVENT_BATCH) => {
                    if received == 0 {
                        break;
                    }
                    // What was still waiting behind this batch.
                    deepest_queue = deepest_queue.max(self.events.len());
                    // One time for the whole batch: it is when these events
                    // became visible, and what a replay applies them at.
                    let at = self.now();
                    for event in batch.drain(..) {
                        self.apply(at, event);
                    }
                }
                () = sleep_until(deadline), if !deadline_passed => {
                    deadline_passed = true;
                    let at = self.now();
                    self.apply(at, RaceEvent::TimeLimit);
                }
                () = self.race_stop.cancelled(), if !user_stopped => {
                    user_stopped = true;
                    let at = self.now();
                    self.apply(at, RaceEvent::Stopped);
                }
                _ = tick.tick() => {
                    let at = self.now();
                    self.publish(at, false);
                }
                _ = sweep_poll.tick(), if sweeping => self.step_sweep(),
                _ = sample.tick() => {
                    let queue = u32::try_from(deepest_queue).unwrap_or(u32::MAX);
                    deepest_queue = 0;
                    if !sampling {
                        sampling = true;
                        self.probe.restart();
                        continue;
                    }
                    let capacity = u32::try_from(self.events.max_capacity()).unwrap_or(u32::MAX);
                    let measured = self.probe.sample(queue, capacity);
                    let at = self.now();
                    self.apply(at, RaceEvent::ClientSample(measured));
                }
            }
        }
        let at = self.now();
        self.apply(at, RaceEvent::Ended);
        self.publish(at, true)
    }

    /// Moves each engine's sweep on: ends steps that ran their time, judges
    /// drained ones and starts the next level.
    fn step_sweep(&mut self) {
        let Some(mut control) = self.sweep.take() else {
            return;
        };
        let now = self.now();
        for engine in 0..control.clocks.len() {
            let running = self
                .stats
                .engines
                .get(engine)
                .is_some_and(|e| e.is_running());
            if !running {
                control.clocks[engine] = StepClock::Done;
            }
            match control.clocks[engine] {
                StepClock::Idle => {
                    self.apply(
                        now,
                        RaceEvent::SweepStep {
                            engine,
                            level: control.start,
                        },
                    );
                    control.levels[engine].send_replace(control.start);
                    control.clocks[engine] = StepClock::Running {
                        ends: now + control.step_duration,
                    };
                }
                StepClock::Running { ends } if now >= ends => {
                    control.levels[engine].send_replace(0.0);
                    control.clocks[engine] = StepClock::Draining {
                        until: now + control.drain_limit,
                    };
                }
                StepClock::Draining { until }
                    if self.stats.in_flight(engine) == 0 || now >= until =>
                {
                    self.apply(now, RaceEvent::SweepJudged { engine });
                    match self.stats.sweep_next(engine) {
                        Some(level) if self.stats.engines[engine].is_running() => {
                            self.apply(now, RaceEvent::SweepStep { engine, level });
                            control.levels[engine].send_replace(level);
                            control.clocks[engine] = StepClock::Running {
                                ends: now + control.step_duration,
                            };
                        }
                        _ => control.clocks[engine] = StepClock::Done,
                    }
                }
                StepClock::Running { .. } | StepClock::Draining { .. } | StepClock::Done => {}
            }
        }
        self.sweep = Some(control);
    }

    /// Time since the start signal, cut to whole microseconds (as the race
    /// file stores it).
    fn now(&self) -> Duration {
        whole_micros(Instant::now().saturating_duration_since(self.go))
    }

    fn apply(&mut self, at: Duration, event: RaceEvent) {
        let stop_all = matches!(
            event,
            RaceEvent::TimeLimit | RaceEvent::Stopped | RaceEvent::Ended
        );
        if let Some(finished) = self.stats.apply(at, &event)
            && let Some(stop) = self.engine_stop.get(finished)
        {
            stop.cancel();
        }
        if stop_all {
            for stop in &self.engine_stop {
                stop.cancel();
            }
        }
        for sink in &mut self.sinks {
            sink.event(at, &event);
        }
    }

    fn publish(&mut self, at: Duration, last: bool) -> Arc<RaceSnapshot> {
        let now = Instant::now();
        let (phase, elapsed) = if last {
            (RacePhase::Finished, at)
        } else if now < self.go {
            (
                RacePhase::Countdown {
                    remaining: self.go - now,
                },
                Duration::ZERO,
            )
        } else {
            (RacePhase::Running, at)
        };
        let snapshot = Arc::new(self.stats.snapshot(phase, elapsed, last));
        self.publish.send_replace(Arc::clone(&snapshot));
        snapshot
    }
}
