//! Where an engine stands: the little that ranking and the commentary's
//! standings read of it, built from the fold each complete second (no whole
//! snapshot needed) and from a snapshot's lane alike.

use std::time::Duration;

use super::slo::SloCheck;
use crate::names::named_enum;

named_enum! {
    /// Where an engine's race is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum LaneState {
        /// Sending requests.
        Running = "running",
        /// Crossed its finish line (or the race's duration ran out).
        Finished = "finished",
        /// Hit the race's time limit before its request or token finish line.
        OutOfTime = "out_of_time",
        /// Stopped by the user (Ctrl-C / q) before finishing.
        Stopped = "stopped",
    }
}

/// An engine's standing at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub name: String,
    pub state: LaneState,
    /// When it crossed its finish line (or was stopped).
    pub finished_at: Option<Duration>,
    pub ok: u64,
    pub failed: u64,
    /// Offered arrivals that never became a request.
    pub lost: u64,
    pub output_tokens: u64,
    pub goodput_rps: f64,
    /// TTFT p50, once a successful request had one.
    pub ttft_p50: Option<Duration>,
    /// It runs a sweep...
    pub sweeping: bool,
    /// ... whose answer so far is this level, with this output tok/s there.
    pub sustained: Option<(f64, f64)>,
    pub slo_checks: Vec<SloCheck>,
}

impl Standing {
    /// Every objective holds (true when none is set).
    #[must_use]
    pub fn slo_pass(&self) -> bool {
        self.slo_checks.iter().all(|c| c.pass)
    }
}
