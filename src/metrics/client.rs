//! Is the load generator itself the bottleneck? The engine samples its own
//! event-loop lag, event queue depth and CPU once a second and folds each
//! sample in as an event (so a replay judges it the same way); requests
//! contribute their send lag. When these say the client could not keep up,
//! its numbers are not to be trusted, and every front end says so.

use std::time::Duration;

use super::histogram::{LatencyHistogram, LatencySummary};
use super::record::RequestRecord;

/// Send lag p99 above this means requests left late because of the client.
pub const SEND_LAG_LIMIT: Duration = Duration::from_millis(5);
/// Event-loop lag p99 above this in a second makes the second saturated.
pub const LOOP_LAG_LIMIT: Duration = Duration::from_millis(5);
/// CPU busy at or above this fraction of all cores makes a second saturated.
pub const CPU_LIMIT: f64 = 0.9;
/// Saturated seconds it takes to call the whole race saturated (one
/// hiccup, e.g. while the race starts, is not enough).
pub const SATURATED_SECONDS_LIMIT: u64 = 3;

/// One second of the client's own health, as measured by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientSample {
    /// p99 of how late a 10 ms timer on the runtime woke up.
    pub loop_lag_p99: Duration,
    /// Events waiting for the aggregator, at most, during the second.
    pub queue_depth: u32,
    /// Process CPU time over wall time, in thousandths of all cores.
    pub cpu_permille: u32,
    /// Cores the machine offers the process.
    pub cores: u32,
}

impl ClientSample {
    #[must_use]
    pub fn cpu(&self) -> f64 {
        f64::from(self.cpu_permille) / 1000.0
    }

    #[must_use]
    pub fn is_saturated(&self) -> bool {
        self.loop_lag_p99 > LOOP_LAG_LIMIT || self.cpu() >= CPU_LIMIT
    }
}

/// The client's health so far.
#[derive(Debug, Clone, Default)]
pub struct ClientStats {
    send_lag: LatencyHistogram,
    last: Option<ClientSample>,
    samples: u64,
    saturated_seconds: u64,
    worst_loop_lag: Duration,
    worst_queue: u32,
    worst_cpu_permille: u32,
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
    pub worst_loop_lag_p99: Duration,
    pub worst_queue_depth: u32,
    /// Highest CPU of a second, fraction of all cores.
    pub worst_cpu: f64,
    /// The latest second was saturated.
    pub saturated_now: bool,
    /// The race's verdict: the numbers may be the client's, not the server's.
    pub saturated: bool,
    /// Why, in a person's words (set when `saturated` or `saturated_now`).
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
        }
        self.worst_loop_lag = self.worst_loop_lag.max(sample.loop_lag_p99);
        self.worst_queue = self.worst_queue.max(sample.queue_depth);
        self.worst_cpu_permille = self.worst_cpu_permille.max(sample.cpu_permille);
        self.last = Some(sample);
    }

    #[must_use]
    pub fn health(&self) -> ClientHealth {
        let send_lag = self.send_lag.summary();
        let lagging = send_lag.count > 0 && send_lag.p99 > SEND_LAG_LIMIT;
        let saturated = lagging || self.saturated_seconds >= SATURATED_SECONDS_LIMIT;
        let saturated_now = self.last.is_some_and(|s| s.is_saturated());
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut reasons = Vec::new();
        if lagging {
            reasons.push(format!(
                "requests left {:.1} ms late (send lag p99; limit {:.0} ms)",
                ms(send_lag.p99),
                ms(SEND_LAG_LIMIT)
            ));
        }
        if saturated || saturated_now {
            if self.worst_loop_lag > LOOP_LAG_LIMIT {
                reasons.push(format!(
                    "event loop {:.1} ms late (p99 in a second; limit {:.0} ms)",
                    ms(self.worst_loop_lag),
                    ms(LOOP_LAG_LIMIT)
                ));
            }
            let worst_cpu = f64::from(self.worst_cpu_permille) / 1000.0;
            if worst_cpu >= CPU_LIMIT {
                let cores = self.last.map_or(0, |s| s.cores);
                reasons.push(format!(
                    "CPU at {:.0} % of {cores} cores",
                    worst_cpu * 100.0
                ));
            }
            if self.saturated_seconds > 0 {
                reasons.push(format!("{} saturated seconds", self.saturated_seconds));
            }
        }
        ClientHealth {
            send_lag,
            last: self.last,
            samples: self.samples,
            saturated_seconds: self.saturated_seconds,
            worst_loop_lag_p99: self.worst_loop_lag,
            worst_queue_depth: self.worst_queue,
            worst_cpu: f64::from(self.worst_cpu_permille) / 1000.0,
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
            loop_lag_p99: Duration::from_millis(lag_ms),
            queue_depth: 3,
            cpu_permille,
            cores: 2,
        }
    }

    #[test]
    fn three_saturated_seconds_or_a_late_send_make_the_race_saturated() {
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
        c.on_sample(sample(1, 100));
        assert!(!c.health().saturated);
        c.on_sample(sample(6, 100));
        c.on_sample(sample(1, 100));
        let h = c.health();
        assert!(h.saturated && !h.saturated_now);
        assert_eq!(h.saturated_seconds, 3);
        assert!(h.reason.unwrap().contains("CPU at 95 % of 2 cores"));

        let mut late = ClientStats::default();
        let mut r = ok_record(0, 1000, 80, 10, 3);
        r.sent_at = r.scheduled_at + Duration::from_millis(12);
        late.observe(&r);
        assert!(late.health().saturated);
        // Waiting for a slot is the load shape's doing, not the client's.
        let mut queued = ClientStats::default();
        r.waited_for_slot = true;
        queued.observe(&r);
        assert!(!queued.health().saturated);
        assert_eq!(queued.health().send_lag.count, 0);
    }
}
