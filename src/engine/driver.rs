//! Load drivers: one per engine. They decide *when* each request goes out
//! (closed-loop users or an open-loop schedule), run it through the client,
//! and report it to the aggregator. They stop issuing when their engine's
//! `stop` token fires and abort what is still in flight when `abort` fires.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::backoff::Outcome;
use super::client::{EngineClient, PieceKind};
use super::event::RaceEvent;
use super::levels::{run_rate_levels, run_user_levels};
use super::open_loop::run_open_loop;
use super::schedule::{ArrivalSchedule, users_plan};
use super::trace::TraceSlots;
use super::users::{run_user_stages, run_users};
use crate::config::{LoadSpec, Shard, Stage, StageLevel};
use crate::metrics::record::whole_micros;
use crate::metrics::trace::{TraceEvent, TraceStep};
use crate::metrics::{ErrorKind, RequestError, RequestRecord, TokenSource};
use crate::workload::{PromptSet, TraceTimes, estimate_tokens};

/// Most connections opened per engine before the start signal.
pub const MAX_PRECONNECTS: u32 = 256;

/// Closed loop: the users that start in the race's first second connect
/// before the start signal; later users of the ramp connect as they start.
#[must_use]
pub(super) fn preconnected_users(users: u32, spawn_rate: f64) -> u32 {
    let first_second = spawn_rate.ceil().clamp(1.0, f64::from(MAX_PRECONNECTS));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    users.min(first_second as u32)
}

/// Closed-loop stages: the most users the first second runs.
fn first_second_users(stages: &[Stage]) -> u32 {
    users_plan(stages)
        .iter()
        .take_while(|(at, _)| *at < Duration::from_secs(1))
        .map(|(_, users)| *users)
        .max()
        .unwrap_or(0)
        .min(MAX_PRECONNECTS)
}

/// What a load shape needs before the start signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningLoad {
    /// Requests at once during a warm-up: the users or open-loop arrivals of
    /// the first second.
    pub concurrency: u32,
    /// Connections to open before the start signal.
    pub preconnects: u32,
}

impl OpeningLoad {
    /// `trace`: the loaded trace of `mode: trace`; `shard`: this process's
    /// part of the load (its share of the first second's users or arrivals).
    #[must_use]
    pub fn of(load: &LoadSpec, seed: u64, trace: Option<&TraceTimes>, shard: Shard) -> Self {
        let at_once = match (ArrivalSchedule::of(load, seed, trace), load) {
            // Open loop: as many as the first second's arrivals may hold at once.
            (Some((schedule, max_in_flight)), _) => max_in_flight
                .min(schedule.first_second(MAX_PRECONNECTS))
                .max(1),
            // A warm-up keeps to the ramp's first second too: no burst.
            (None, &LoadSpec::Users { users, spawn_rate }) => preconnected_users(users, spawn_rate),
            (None, LoadSpec::Stages { stages, .. }) => first_second_users(stages).max(1),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            (None, LoadSpec::Sweep(sweep)) => match sweep.of {
                StageLevel::Users => (sweep.start as u32).clamp(1, MAX_PRECONNECTS),
                StageLevel::Rate { max_in_flight, .. } => max_in_flight
                    .min(ArrivalSchedule::constant(sweep.start).first_second(MAX_PRECONNECTS))
                    .max(1),
            },
            (None, _) => 1,
        };
        let at_once = shard.share_at_least_one(at_once);
        OpeningLoad {
            concurrency: at_once,
            preconnects: at_once,
        }
    }
}

/// Runs one engine's load until it is stopped: its users, or its arrival
/// schedule.
pub async fn drive(
    lane: Arc<Lane>,
    load: LoadSpec,
    seed: u64,
    level: Option<watch::Receiver<f64>>,
) {
    if let (LoadSpec::Sweep(sweep), Some(level)) = (&load, level) {
        let opening = OpeningLoad::of(&load, seed, None, lane.shard).preconnects;
        match sweep.of {
            StageLevel::Users => run_user_levels(lane, level, opening).await,
            StageLevel::Rate {
                arrivals,
                max_in_flight,
            } => run_rate_levels(lane, level, arrivals, max_in_flight, seed).await,
        }
        return;
    }
    match (
        ArrivalSchedule::of(&load, seed, lane.prompts.trace_times()),
        load,
    ) {
        (Some((schedule, max_in_flight)), _) => {
            // The shards' ceilings add up to the race's.
            let max_in_flight = lane.shard.share_at_least_one(max_in_flight);
            run_open_loop(lane, schedule, max_in_flight).await;
        }
        (None, LoadSpec::Users { users, spawn_rate }) => run_users(lane, users, spawn_rate).await,
        (None, LoadSpec::Stages { stages, .. }) => {
            // Users below this (global ids, whichever shard runs them)
            // connected before the start signal.
            let preconnected = first_second_users(&stages);
            run_user_stages(lane, users_plan(&stages), preconnected).await;
        }
        (None, _) => {}
    }
}

/// Everything one engine's driver needs.
#[derive(Debug)]
pub struct Lane {
    pub engine: usize,
    pub client: EngineClient,
    pub prompts: Arc<PromptSet>,
    pub events: mpsc::Sender<RaceEvent>,
    /// The start signal.
    pub go: Instant,
    /// Stop issuing new requests.
    pub stop: CancellationToken,
    /// Abort requests still in flight.
    pub abort: CancellationToken,
    /// This process's part of the race (`--shard`; the whole race without).
    pub shard: Shard,
    /// Which requests the inspector follows.
    traces: TraceSlots,
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
}

/// Sends one request, measures it and reports it. Returns how it ended
/// (`None` when it was aborted).
async fn run_request(lane: &Lane, slot: RequestSlot) -> Option<Outcome> {
    let prompt = lane.prompts.for_request(slot.request_id);
    let max_tokens = lane.prompts.max_tokens_for(slot.request_id);
    lane.emit(RaceEvent::Started {
        engine: lane.engine,
    })
    .await;
    let since_go = |t: Instant| whole_micros(t.saturating_duration_since(lane.go));
    let claim = lane.traces.claim(slot.request_id, since_go(Instant::now()));
    let trace_event = |at: Duration, step: TraceStep| {
        RaceEvent::Trace(TraceEvent {
            engine: lane.engine,
            request_id: slot.request_id,
            at,
            step,
        })
    };
    if claim.is_some() {
        let opened = TraceStep::Opened {
            prompt: Arc::clone(&prompt),
        };
        lane.emit(trace_event(since_go(Instant::now()), opened))
            .await;
    }
    let mut observe = |text: &str, kind: PieceKind, at: Instant| {
        if claim.is_some() {
            let piece = TraceStep::Piece {
                text: text.to_owned(),
                answer: kind == PieceKind::Answer,
            };
            // Never wait on the stream's path: under a backlog the
            // inspector misses a piece (live and replayed alike, as the
            // race file records what the aggregator got).
            let _ = lane.events.try_send(trace_event(since_go(at), piece));
        }
    };
    let exchange = tokio::select! {
        ex = lane.client.send_observed(&prompt, max_tokens, &mut observe) => ex,
        () = lane.abort.cancelled() => {
            if let Some(claim) = &claim {
                let now = since_go(Instant::now());
                claim.end(now);
                lane.emit(trace_event(now, TraceStep::Cut)).await;
            }
            lane.emit(RaceEvent::Cancelled { engine: lane.engine, count: 1 }).await;
            return None;
        }
    };
    if let Some(claim) = &claim {
        claim.end(since_go(exchange.end));
    }
    // The server's count first, then the engine's tokenizer, then the estimate.
    let tokenizer_count = lane.prompts.tokenizer_count(lane.engine, slot.request_id);
    let (input_tokens, input_source) = match (exchange.usage, tokenizer_count) {
        (Some(u), _) if u.prompt_tokens > 0 => (u.prompt_tokens, TokenSource::Usage),
        (_, Some(n)) => (n, TokenSource::Tokenizer),
        _ => (estimate_tokens(&prompt), TokenSource::Estimate),
    };
    let chunks = u32::try_from(exchange.chunk_times.len()).unwrap_or(u32::MAX);
    // The server's count first, then the engine's tokenizer on the answer,
    // then the content chunks.
    // A zero count is no count (LiteLLM reports 0 in every chunk).
    let (output_tokens, output_source) = match exchange.usage {
        Some(u) if exchange.error.is_none() && u.completion_tokens > 0 => {
            (u.completion_tokens, TokenSource::Usage)
        }
        _ => match lane.prompts.count_output(lane.engine, &exchange.text) {
            Some(n) if exchange.error.is_none() => (n, TokenSource::Tokenizer),
            _ => (chunks, TokenSource::Chunks),
        },
    };
    let outcome = Outcome::of(&exchange);
    if exchange.reuse_stopped {
        lane.emit(RaceEvent::ConnectionReuseStopped {
            engine: lane.engine,
        })
        .await;
    }
    if exchange.connection_retried {
        lane.emit(RaceEvent::ConnectionRetried {
            engine: lane.engine,
        })
        .await;
    }
    let record = RequestRecord {
        engine: lane.engine,
        request_id: slot.request_id,
        user_id: slot.user_id,
        user_request_num: slot.user_request_num,
        prompt,
        scheduled_at: since_go(slot.scheduled),
        sent_at: since_go(exchange.sent),
        waited_for_slot: slot.waited_for_slot,
        chunk_times: exchange.chunk_times.iter().map(|&t| since_go(t)).collect(),
        first_answer_chunk: exchange
            .first_answer
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX)),
        end_at: since_go(exchange.end),
        input_tokens,
        input_source,
        output_tokens,
        output_source,
        status: exchange.status,
        error: exchange.error,
        output_text: exchange.text,
    };
    lane.emit(RaceEvent::Finished(Arc::new(record))).await;
    lane.report_connections().await;
    Some(outcome)
}

/// [`run_request`], with a panic in it (a bug) turned into a counted
/// failure of that request: its start is matched, its lane's numbers stay
/// whole, and a closed-loop user goes on.
pub(super) async fn run_guarded(lane: &Lane, slot: RequestSlot) -> Option<Outcome> {
    let panicked = match guard(run_request(lane, slot)).await {
        Ok(outcome) => return outcome,
        Err(message) => message,
    };
    let at = whole_micros(Instant::now().saturating_duration_since(lane.go));
    let error = RequestError {
        kind: ErrorKind::Internal,
        message: format!("llm-locust failed on this request (a bug; please report it): {panicked}"),
    };
    let record = RequestRecord {
        engine: lane.engine,
        request_id: slot.request_id,
        user_id: slot.user_id,
        user_request_num: slot.user_request_num,
        prompt: lane.prompts.for_request(slot.request_id),
        scheduled_at: whole_micros(slot.scheduled.saturating_duration_since(lane.go)),
        sent_at: at,
        waited_for_slot: slot.waited_for_slot,
        chunk_times: Vec::new(),
        first_answer_chunk: None,
        end_at: at,
        input_tokens: 0,
        input_source: TokenSource::Estimate,
        output_tokens: 0,
        output_source: TokenSource::Chunks,
        status: 0,
        error: Some(error),
        output_text: String::new(),
    };
    lane.emit(RaceEvent::Finished(Arc::new(record))).await;
    Some(Outcome {
        error: Some(ErrorKind::Internal),
        retry_after: None,
        took: Duration::ZERO,
    })
}

/// Runs `work`, catching a panic in it as its message.
async fn guard<T>(work: impl std::future::Future<Output = T>) -> Result<T, String> {
    use futures_util::FutureExt as _;
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|panic| {
            panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_a_request_becomes_its_message() {
        let panicking = async {
            if u64::MAX > 0 {
                panic!("boom at request 7");
            }
            1
        };
        assert_eq!(guard(panicking).await, Err("boom at request 7".to_owned()));
        assert_eq!(guard(async { 5 }).await, Ok(5));
    }
}
