//! Is the load generator itself the bottleneck? The engine samples its own
//! event-loop lag, event queue depth and CPU once a second and folds each
//! sample in as an event (so a replay judges it the same way); requests
//! contribute their send lag. When these say the client could not keep up,
//! its numbers are not to be trusted, and every front end says so.

use std::time::Duration;

use super::histogram::{LatencyHistogram, LatencySummary};
use super::record::RequestRecord;

/// Send lag above this (p99, or p90 with fewer than
/// [`SEND_LAG_P99_FROM`] requests) means requests left late because of the
/// client.
pub const SEND_LAG_LIMIT: Duration = Duration::from_millis(5);
/// Requests it takes before the send lag's p99 (not its p90) decides: with
/// fewer, p99 is one or two unlucky requests.
pub const SEND_LAG_P99_FROM: u64 = 1000;
/// Requests it takes before send lag decides at all.
pub const SEND_LAG_MIN_REQUESTS: u64 = 20;
/// Event-loop lag (the second's p90) above this makes the second saturated.
pub const LOOP_LAG_LIMIT: Duration = Duration::from_millis(5);
/// CPU busy at or above this fraction of all cores makes a second saturated.
pub const CPU_LIMIT: f64 = 0.9;
/// Saturated seconds in a row that make the whole race saturated...
pub const SATURATED_RUN_LIMIT: u64 = 3;
/// ...or saturated seconds, at least [`SATURATED_RUN_LIMIT`] of them, as a
/// share of all: isolated hiccups of a long race are not enough.
pub const SATURATED_SHARE_LIMIT: f64 = 0.05;

/// One second of the client's own health, as measured by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientSample {
    /// p90 of how late a 10 ms timer on the runtime woke up in the second.
    pub loop_lag: Duration,
    /// Events waiting for the aggregator, at most, during the second...
    pub queue_depth: u32,
    /// ...of this many it can hold.
    pub queue_capacity: u32,
    /// Process CPU time over wall time, in thousandths of all cores
    /// (simulated engines in the same process included).
    pub cpu_permille: u32,
    /// Cores the machine offers the process.
    pub cores: u32,
}

impl ClientSample {
    #[must_use]
    pub fn cpu(&self) -> f64 {
        f64::from(self.cpu_permille) / 1000.0
    }

    /// The event queue was more than half full.
    #[must_use]
    pub fn queue_backed_up(&self) -> bool {
        self.queue_capacity > 0 && u64::from(self.queue_depth) * 2 > u64::from(self.queue_capacity)
    }

    #[must_use]
    pub fn is_saturated(&self) -> bool {
        self.loop_lag > LOOP_LAG_LIMIT || self.cpu() >= CPU_LIMIT || self.queue_backed_up()
    }

    /// Why this second was saturated, in a person's words.
    fn reasons(&self, out: &mut Vec<String>) {
        if self.loop_lag > LOOP_LAG_LIMIT {
            out.push(format!(
                "event loop {:.1} ms late (p90 in a second; limit {:.0} ms)",
                ms(self.loop_lag),
                ms(LOOP_LAG_LIMIT)
            ));
        }
        if self.cpu() >= CPU_LIMIT {
            out.push(format!(
                "CPU at {:.0} % of {} cores",
                self.cpu() * 100.0,
                self.cores
            ));
        }
        if self.queue_backed_up() {
            out.push(format!(
                "{} of {} events waiting for the aggregator",
                self.queue_depth, self.queue_capacity
            ));
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The client's health so far.
#[derive(Debug, Clone, Default)]
pub struct ClientStats {
    send_lag: LatencyHistogram,
    last: Option<ClientSample>,
    samples: u64,
    saturated_seconds: u64,
    run: u64,
    longest_run: u64,
    /// The worst second seen: the highest lag, CPU and queue of any second.
    worst: ClientSample,
}

/// The client's health in a snapshot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientHealth {
    /// Send time − scheduled time of requests that did not wait for an
    /// in-flight slot: the client's own lateness.
    pub send_lag: LatencySummary,
    /// The latest second.
    pub last: Option<ClientSample>,
    pub samples: u64,
    pub saturated_seconds: u64,
    pub worst_loop_lag: Duration,
    pub worst_queue_depth: u32,
    /// Highest CPU of a second, fraction of all cores.
    pub worst_cpu: f64,
    /// The latest second was saturated.
    pub saturated_now: bool,
    /// The race's verdict: the numbers may be the client's, not the server's.
    pub saturated: bool,
    /// Why, in a person's words (set when `saturated` or `saturated_now`):
    /// the race's worst seconds for the verdict, else the latest second.
    pub reason: Option<String>,
}

impl ClientStats {
    /// A finished request: its send lag counts unless it waited for a slot
    /// (that wait is the load shape's, not the client's).
    pub fn observe(&mut self, record: &RequestRecord) {
        if !record.waited_for_slot {
            self.send_lag.record(record.send_delay());
        }
    }

    pub fn on_sample(&mut self, sample: ClientSample) {
        self.samples += 1;
        if sample.is_saturated() {
            self.saturated_seconds += 1;
            self.run += 1;
            self.longest_run = self.longest_run.max(self.run);
        } else {
            self.run = 0;
        }
        let w = &mut self.worst;
        w.loop_lag = w.loop_lag.max(sample.loop_lag);
        w.queue_depth = w.queue_depth.max(sample.queue_depth);
        w.queue_capacity = w.queue_capacity.max(sample.queue_capacity);
        w.cpu_permille = w.cpu_permille.max(sample.cpu_permille);
        w.cores = sample.cores;
        self.last = Some(sample);
    }

    /// The send lag that decides: p99 once there are enough requests.
    fn send_lag_judged(&self, summary: &LatencySummary) -> Option<Duration> {
        if summary.count < SEND_LAG_MIN_REQUESTS {
            None
        } else if summary.count < SEND_LAG_P99_FROM {
            Some(summary.p90)
        } else {
            Some(summary.p99)
        }
    }

    #[must_use]
    pub fn health(&self) -> ClientHealth {
        let send_lag = self.send_lag.summary();
        let judged = self.send_lag_judged(&send_lag);
        let lagging = judged.is_some_and(|lag| lag > SEND_LAG_LIMIT);
        #[allow(clippy::cast_precision_loss)]
        let share = self.saturated_seconds as f64 / self.samples.max(1) as f64;
        let saturated = lagging
            || self.longest_run >= SATURATED_RUN_LIMIT
            || (self.saturated_seconds >= SATURATED_RUN_LIMIT && share >= SATURATED_SHARE_LIMIT);
        let saturated_now = self.last.is_some_and(|s| s.is_saturated());
        let mut reasons = Vec::new();
        if lagging {
            reasons.push(format!(
                "requests left {:.1} ms late (send lag; limit {:.0} ms)",
                ms(judged.unwrap_or_default()),
                ms(SEND_LAG_LIMIT)
            ));
        }
        if saturated && self.saturated_seconds > 0 {
            self.worst.reasons(&mut reasons);
            reasons.push(format!("{} saturated seconds", self.saturated_seconds));
        } else if saturated_now && let Some(last) = &self.last {
            last.reasons(&mut reasons);
        }
        ClientHealth {
            send_lag,
            last: self.last,
            samples: self.samples,
            saturated_seconds: self.saturated_seconds,
            worst_loop_lag: self.worst.loop_lag,
            worst_queue_depth: self.worst.queue_depth,
            worst_cpu: self.worst.cpu(),
            saturated_now,
            saturated,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::record::tests::ok_record;

    fn sample(lag_ms: u64, cpu_permille: u32) -> ClientSample {
        ClientSample {
            loop_lag: Duration::from_millis(lag_ms),
            queue_depth: 3,
            queue_capacity: 8192,
            cpu_permille,
            cores: 2,
        }
    }

    #[test]
    fn three_saturated_seconds_in_a_row_make_the_race_saturated() {
        let mut c = ClientStats::default();
        c.on_sample(sample(1, 300));
        c.on_sample(sample(9, 300));
        let h = c.health();
        assert!(h.saturated_now && !h.saturated, "{h:?}");
        assert!(
            h.reason
                .as_deref()
                .unwrap()
                .contains("event loop 9.0 ms late")
        );
        c.on_sample(sample(1, 950));
        let h = c.health();
        assert!(!h.saturated);
        assert!(
            h.reason.as_deref().unwrap().starts_with("CPU at 95 %"),
            "the latest second's own reason: {h:?}"
        );
        c.on_sample(sample(6, 100));
        let h = c.health();
        assert!(h.saturated, "three in a row: {h:?}");
        assert_eq!(h.saturated_seconds, 3);
        assert!(h.reason.unwrap().contains("CPU at 95 % of 2 cores"));
    }

    #[test]
    fn isolated_hiccups_of_a_long_race_are_not_saturation() {
        let mut c = ClientStats::default();
        for second in 0..600 {
            c.on_sample(if second % 100 == 50 {
                sample(20, 100)
            } else {
                sample(1, 100)
            });
        }
        let h = c.health();
        assert_eq!(h.saturated_seconds, 6);
        assert!(!h.saturated, "{h:?}");
        // ...but the same share of a short race is.
        let mut short = ClientStats::default();
        for second in 0..40 {
            short.on_sample(if second % 10 == 5 {
                sample(20, 100)
            } else {
                sample(1, 100)
            });
        }
        assert!(short.health().saturated);
    }

    #[test]
    fn a_backed_up_event_queue_is_saturation() {
        let s = ClientSample {
            queue_depth: 5000,
            ..sample(1, 100)
        };
        assert!(s.is_saturated());
        let mut c = ClientStats::default();
        c.on_sample(s);
        assert!(c.health().reason.unwrap().contains("5000 of 8192 events"));
    }

    #[test]
    fn send_lag_decides_once_there_are_enough_requests() {
        let late = |ms: u64| {
            let mut r = ok_record(0, 1000, 80, 10, 3);
            r.sent_at = r.scheduled_at + Duration::from_millis(ms);
            r
        };
        let mut c = ClientStats::default();
        for _ in 0..5 {
            c.observe(&late(12));
        }
        assert!(!c.health().saturated, "five requests decide nothing");
        // Two unlucky requests of a hundred are not the client's lag...
        let mut few = ClientStats::default();
        for i in 0..100 {
            few.observe(&late(if i < 2 { 50 } else { 0 }));
        }
        assert!(!few.health().saturated);
        // ...most requests late are.
        let mut many = ClientStats::default();
        for _ in 0..100 {
            many.observe(&late(12));
        }
        assert!(many.health().saturated);
        // Waiting for a slot is the load shape's doing, not the client's.
        let mut queued = ClientStats::default();
        for _ in 0..100 {
            let mut r = late(50);
            r.waited_for_slot = true;
            queued.observe(&r);
        }
        assert!(!queued.health().saturated);
        assert_eq!(queued.health().send_lag.count, 0);
    }
}
