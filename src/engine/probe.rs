//! The client's own health, measured where it runs: how late a timer on the
//! runtime wakes (event-loop lag), and the process's CPU time against wall
//! time. The aggregator turns these into one `ClientSample` a second.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpu_time::ProcessTime;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use crate::metrics::LatencyHistogram;
use crate::metrics::client::ClientSample;

/// How often the lag sampler wakes.
const LAG_TICK: Duration = Duration::from_millis(10);

/// Measures event-loop lag in the background (ended on drop) and CPU time
/// between samples.
#[derive(Debug)]
pub struct ClientProbe {
    lag: Arc<Mutex<LatencyHistogram>>,
    sampler: JoinHandle<()>,
    /// Process CPU time at the last sample.
    cpu_at: Option<Duration>,
    wall_at: Instant,
    cores: u32,
}

impl ClientProbe {
    /// Starts the lag sampler on the current runtime.
    #[must_use]
    pub fn start() -> Self {
        let lag = Arc::new(Mutex::new(LatencyHistogram::new()));
        let recorder = Arc::clone(&lag);
        let sampler = tokio::spawn(async move {
            loop {
                let due = Instant::now() + LAG_TICK;
                sleep_until(due).await;
                let late = Instant::now().saturating_duration_since(due);
                if let Ok(mut h) = recorder.lock() {
                    h.record(late);
                }
            }
        });
        let cores = std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
        ClientProbe {
            lag,
            sampler,
            cpu_at: process_cpu(),
            wall_at: Instant::now(),
            cores,
        }
    }

    /// Starts the next sample now (at the start signal: what came before,
    /// the countdown, is not the race's).
    pub fn restart(&mut self) {
        let _ = self.sample(0, 0);
    }

    /// The sample since the last one; `queue_depth` is the deepest the
    /// event queue (of `queue_capacity`) got meanwhile.
    pub fn sample(&mut self, queue_depth: u32, queue_capacity: u32) -> ClientSample {
        let loop_lag = match self.lag.lock() {
            Ok(mut h) => {
                // p90: one or two late wake-ups of ~100 are scheduling
                // noise, not a saturated loop.
                let p90 = h.quantile(0.9);
                *h = LatencyHistogram::new();
                p90
            }
            Err(_) => Duration::ZERO,
        };
        let now = Instant::now();
        let wall = now.saturating_duration_since(self.wall_at);
        let cpu_now = process_cpu();
        let cpu = match (self.cpu_at, cpu_now) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => Duration::ZERO,
        };
        self.wall_at = now;
        self.cpu_at = cpu_now;
        let all_cores = wall.as_secs_f64() * f64::from(self.cores);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let cpu_permille = if all_cores > 0.0 {
            (cpu.as_secs_f64() / all_cores * 1000.0)
                .round()
                .clamp(0.0, 1000.0) as u32
        } else {
            0
        };
        ClientSample {
            loop_lag: crate::metrics::record::whole_micros(loop_lag),
            queue_depth,
            queue_capacity,
            cpu_permille,
            cores: self.cores,
        }
    }
}

fn process_cpu() -> Option<Duration> {
    ProcessTime::try_now().ok().map(|t| t.as_duration())
}

impl Drop for ClientProbe {
    fn drop(&mut self) {
        self.sampler.abort();
    }
}
