//! What the aggregator hands on: every event it applied, in order, to the
//! sinks that keep a record of the race (per-request CSVs, the race file).

use std::time::Duration;

pub use crate::metrics::RaceEvent;

/// Receives every event the aggregator applied, in order, with the time
/// (since the start signal, whole microseconds) it was applied at. Called
/// from the aggregator task: must not block.
pub trait RecordSink: Send {
    fn event(&mut self, at: Duration, event: &RaceEvent);
}
