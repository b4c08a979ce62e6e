//! The events a race's metric state is built from. The live aggregator
//! receives them from the load drivers (plus the two it makes itself: the
//! time limit and a stop); a replay reads the same events back from a race
//! file. Both fold them with [`RaceStats::apply`](super::RaceStats::apply),
//! so a replay shows the numbers the race showed.

use std::sync::Arc;
use std::time::Duration;

use super::client::ClientSample;
use super::record::{ConversationEnd, RequestRecord};
use super::server::ServerSample;
use super::trace::TraceEvent;

#[derive(Debug, Clone, PartialEq)]
pub enum RaceEvent {
    /// A request was sent.
    Started { engine: usize },
    /// A request ended, successfully or not. Shared: every sink that keeps
    /// it holds the same record, none copies it.
    Finished(Arc<RequestRecord>),
    /// An open-loop arrival found every in-flight slot taken and waited.
    LateArrival { engine: usize },
    /// An open-loop arrival was dropped because the backlog was full.
    DroppedArrival { engine: usize },
    /// In-flight requests aborted when the engine stopped.
    Cancelled { engine: usize, count: u64 },
    /// A closed-loop user waited `waited` before its next request: the
    /// server's `Retry-After` when `retry_after`, else backoff after fast
    /// failures.
    BackedOff {
        engine: usize,
        waited: Duration,
        retry_after: bool,
    },
    /// The engine's client has opened `total` connections so far (warm-up
    /// and pre-connects included).
    ConnectionsOpened { engine: usize, total: u64 },
    /// The server closed a reused connection before answering a request,
    /// which was sent again on a fresh connection (its `Finished` follows).
    ConnectionRetried { engine: usize },
    /// The engine's server keeps closing connections right after its
    /// answers: its client stopped reusing them and reconnects for every
    /// request from now on.
    ConnectionReuseStopped { engine: usize },
    /// One second of the client's own health (event-loop lag, queue, CPU).
    ClientSample(ClientSample),
    /// Open-loop arrivals still waiting for a slot when the engine stopped:
    /// offered, never sent.
    UnsentArrivals { engine: usize, count: u64 },
    /// A step of a request that holds one of its engine's trace slots (for
    /// the inspector).
    Trace(TraceEvent),
    /// A sweep step at `level` (users or requests per second) started for
    /// this engine.
    SweepStep { engine: usize, level: f64 },
    /// The engine's running sweep step is over and its requests have ended:
    /// judge it.
    SweepJudged { engine: usize },
    /// A scrape of the engine's server metrics: what it read, or why it
    /// could not.
    ServerScrape {
        engine: usize,
        sample: Result<ServerSample, String>,
    },
    /// One of the engine's conversations ended (its turns' `Finished`
    /// came before).
    ConversationEnded { engine: usize, how: ConversationEnd },
    /// The race's time limit passed: every engine still running ends.
    TimeLimit,
    /// The user stopped the race (Ctrl-C, `q`): every engine still running ends.
    Stopped,
    /// The last request has ended; nothing follows.
    Ended,
}
