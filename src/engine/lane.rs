//! One engine's lane: what every load loop of the engine shares (its
//! client, prompts, event channel, start signal and tokens, trace slots),
//! and the identity of one request within it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::client::EngineClient;
use super::event::RaceEvent;
use super::trace::TraceSlots;
use crate::config::Shard;
use crate::metrics::ConversationTurn;
use crate::metrics::record::whole_micros;
use crate::workload::PromptSet;

/// Everything one engine's driver needs.
#[derive(Debug)]
pub struct Lane {
    pub engine: usize,
    pub client: EngineClient,
    pub prompts: Arc<PromptSet>,
    pub events: mpsc::Sender<RaceEvent>,
    /// The start signal.
    pub go: Instant,
    /// The race's time limit: no request is offered at or after it.
    pub time_limit: Instant,
    /// Stop issuing new requests.
    pub stop: CancellationToken,
    /// Abort requests still in flight.
    pub abort: CancellationToken,
    /// This process's part of the race (`--shard`; the whole race without).
    pub shard: Shard,
    /// Which requests the inspector follows.
    pub(super) traces: TraceSlots,
    /// Closed-loop requests this lane has sent (see [`Lane::next_request_id`]).
    sent: AtomicU64,
    /// The client's connection count last reported to the aggregator.
    reported_connections: AtomicU64,
}

impl Lane {
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: usize,
        client: EngineClient,
        prompts: Arc<PromptSet>,
        events: mpsc::Sender<RaceEvent>,
        go: Instant,
        time_limit: Instant,
        stop: CancellationToken,
        abort: CancellationToken,
        shard: Shard,
    ) -> Self {
        Lane {
            engine,
            client,
            prompts,
            events,
            go,
            time_limit,
            stop,
            abort,
            shard,
            traces: TraceSlots::default(),
            sent: AtomicU64::new(0),
            reported_connections: AtomicU64::new(0),
        }
    }

    /// The global id of the next closed-loop request: its prompt is the one
    /// the whole race gives that id, however the race is sharded.
    pub(super) fn next_request_id(&self) -> u64 {
        self.shard
            .request_id(self.sent.fetch_add(1, Ordering::Relaxed))
    }

    /// Tells the aggregator when the client has opened more connections.
    pub(super) async fn report_connections(&self) {
        let total = self.client.connections_opened();
        if self
            .reported_connections
            .fetch_max(total, Ordering::Relaxed)
            < total
        {
            self.emit(RaceEvent::ConnectionsOpened {
                engine: self.engine,
                total,
            })
            .await;
        }
    }

    pub(super) async fn emit(&self, event: RaceEvent) {
        // The aggregator outlives every driver; a send can only fail while
        // the process is tearing down, when there is nothing left to count.
        let _ = self.events.send(event).await;
    }

    /// `t` as time since the start signal (whole microseconds).
    pub(super) fn since_go(&self, t: Instant) -> Duration {
        whole_micros(t.saturating_duration_since(self.go))
    }

    /// Whether a request due at `at` is still offered: before the time
    /// limit (its timer and an arrival due at that very moment may wake
    /// in either order) and before the engine was stopped.
    pub(super) fn offers(&self, at: Instant) -> bool {
        at < self.time_limit && !self.stop.is_cancelled()
    }

    /// Waits for the start signal; false if stopped first.
    pub(super) async fn wait_for_go(&self) -> bool {
        tokio::select! {
            () = sleep_until(self.go) => true,
            () = self.stop.cancelled() => false,
        }
    }
}

/// Identifies one request within its engine.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestSlot {
    pub(super) request_id: u64,
    pub(super) user_id: u32,
    pub(super) user_request_num: u32,
    pub(super) scheduled: Instant,
    /// An open-loop arrival that waited for an in-flight slot.
    pub(super) waited_for_slot: bool,
    /// Its conversation and turn, in a conversation race.
    pub(super) conversation: Option<ConversationTurn>,
}
