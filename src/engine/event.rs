//! What the aggregator hands on: every event it applied, in order, to the
//! sinks that keep a record of the race (per-request CSVs, the race file).

use std::time::{Duration, SystemTime};

pub use crate::metrics::RaceEvent;

/// What a race is once it is set up, just before the countdown ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceStart {
    /// Wall-clock time of the start signal (whole microseconds).
    pub started_at: SystemTime,
    /// The URL each engine is raced at (a simulator's is its own port).
    pub engine_urls: Vec<String>,
}

/// Keeps a record of the race. The engine calls [`on_start`](Self::on_start)
/// once, before any event; then every event the aggregator applied, in
/// order, with the time (since the start signal, whole microseconds) it was
/// applied at. Called from the aggregator task: must not block.
pub trait RecordSink: Send {
    /// The race is set up; sinks that need the start time or the URLs (to
    /// stamp rows, to write a header) take them here.
    fn on_start(&mut self, _start: &RaceStart) {}
    fn event(&mut self, at: Duration, event: &RaceEvent);
}
