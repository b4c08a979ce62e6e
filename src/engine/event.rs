//! What request tasks and load drivers tell the aggregator.

use crate::metrics::RequestRecord;

#[derive(Debug)]
pub enum RequestEvent {
    /// A request was sent.
    Started { engine: usize },
    /// A request ended, successfully or not.
    Finished(Box<RequestRecord>),
    /// An open-loop arrival found every in-flight slot taken and waited.
    LateArrival { engine: usize },
    /// An open-loop arrival was dropped because the backlog was full.
    DroppedArrival { engine: usize },
    /// In-flight requests aborted when the engine stopped.
    Cancelled { engine: usize, count: u64 },
}

/// Receives every finished request, in completion order (CSV writers, the
/// race file recorder). Called from the aggregator task: must not block.
pub trait RecordSink: Send {
    fn record(&mut self, record: Box<RequestRecord>);
}
