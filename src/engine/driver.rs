//! Load drivers: one per engine. They decide *when* each request goes out
//! (closed-loop users or an open-loop schedule), run it through the client,
//! and report it to the aggregator. They stop issuing when their engine's
//! `stop` token fires and abort what is still in flight when `abort` fires.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use super::backoff::{Backoff, Outcome, Reason};
use super::event::RaceEvent;
use super::openai::{EngineClient, PieceKind};
use super::schedule::{ArrivalSchedule, users_plan};
use super::trace::TraceSlots;
use crate::config::{LoadSpec, Stage};
use crate::metrics::record::whole_micros;
use crate::metrics::trace::{TraceEvent, TraceStep};
use crate::metrics::{ErrorKind, RequestError, RequestRecord, TokenSource};
use crate::workload::{PromptSet, TraceTimes, estimate_tokens};

/// Most connections opened per engine before the start signal.
pub const MAX_PRECONNECTS: u32 = 256;

/// Closed loop: the users that start in the race's first second connect
/// before the start signal; later users of the ramp connect as they start.
#[must_use]
fn preconnected_users(users: u32, spawn_rate: f64) -> u32 {
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
    /// `trace`: the loaded trace of `mode: trace`.
    #[must_use]
    pub fn of(load: &LoadSpec, seed: u64, trace: Option<&TraceTimes>) -> Self {
        let at_once = match (ArrivalSchedule::of(load, seed, trace), load) {
            // Open loop: as many as the first second's arrivals may hold at once.
            (Some((schedule, max_in_flight)), _) => max_in_flight
                .min(schedule.first_second(MAX_PRECONNECTS))
                .max(1),
            // A warm-up keeps to the ramp's first second too: no burst.
            (None, &LoadSpec::Users { users, spawn_rate }) => preconnected_users(users, spawn_rate),
            (None, LoadSpec::Stages { stages, .. }) => first_second_users(stages).max(1),
            (None, _) => 1,
        };
        OpeningLoad {
            concurrency: at_once,
            preconnects: at_once,
        }
    }
}

/// Runs one engine's load until it is stopped: its users, or its arrival
/// schedule.
pub async fn drive(lane: Arc<Lane>, load: LoadSpec, seed: u64) {
    match (
        ArrivalSchedule::of(&load, seed, lane.prompts.trace_times()),
        load,
    ) {
        (Some((schedule, max_in_flight)), _) => run_open_loop(lane, schedule, max_in_flight).await,
        (None, LoadSpec::Users { users, spawn_rate }) => run_users(lane, users, spawn_rate).await,
        (None, LoadSpec::Stages { stages, .. }) => {
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
    /// Which requests the inspector follows.
    traces: TraceSlots,
    next_request: AtomicU64,
    /// The client's connection count last reported to the aggregator.
    reported_connections: AtomicU64,
}

impl Lane {
    #[must_use]
    pub fn new(
        engine: usize,
        client: EngineClient,
        prompts: Arc<PromptSet>,
        events: mpsc::Sender<RaceEvent>,
        go: Instant,
        stop: CancellationToken,
        abort: CancellationToken,
    ) -> Self {
        Lane {
            engine,
            client,
            prompts,
            events,
            go,
            stop,
            abort,
            traces: TraceSlots::default(),
            next_request: AtomicU64::new(0),
            reported_connections: AtomicU64::new(0),
        }
    }

    /// Tells the aggregator when the client has opened more connections.
    async fn report_connections(&self) {
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

    async fn emit(&self, event: RaceEvent) {
        // The aggregator outlives every driver; a send can only fail while
        // the process is tearing down, when there is nothing left to count.
        let _ = self.events.send(event).await;
    }

    /// Waits for the start signal; false if stopped first.
    async fn wait_for_go(&self) -> bool {
        tokio::select! {
            () = sleep_until(self.go) => true,
            () = self.stop.cancelled() => false,
        }
    }
}

/// Identifies one request within its engine.
#[derive(Debug, Clone, Copy)]
struct RequestSlot {
    request_id: u64,
    user_id: u32,
    user_request_num: u32,
    scheduled: Instant,
    /// An open-loop arrival that waited for an in-flight slot.
    waited_for_slot: bool,
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
async fn run_guarded(lane: &Lane, slot: RequestSlot) -> Option<Outcome> {
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

/// Closed loop: `users` users, added at `spawn_rate` per second; each sends
/// its next request as soon as the previous one ends.
async fn run_users(lane: Arc<Lane>, users: u32, spawn_rate: f64) {
    // The connections made before the start signal (see `race::start`).
    lane.report_connections().await;
    if !lane.wait_for_go().await {
        return;
    }
    let mut tasks = JoinSet::new();
    for user in 0..users {
        let start_at = lane.go + Duration::from_secs_f64(f64::from(user) / spawn_rate);
        tokio::select! {
            biased;
            () = lane.stop.cancelled() => break,
            () = sleep_until(start_at) => {}
        }
        let preconnected = user < preconnected_users(users, spawn_rate);
        tasks.spawn(user_loop(Arc::clone(&lane), user, preconnected, None));
    }
    while tasks.join_next().await.is_some() {}
}

/// A closed-loop user's place in a plan of user counts: it runs while its
/// number is below the target, and says when it has stopped.
struct Seat {
    target: Arc<AtomicU32>,
    running: Arc<AtomicBool>,
}

/// Closed-loop stages: users join and leave as `plan` says (`(from when,
/// how many)`); one leaving finishes its request first.
async fn run_user_stages(lane: Arc<Lane>, plan: Vec<(Duration, u32)>, preconnected: u32) {
    lane.report_connections().await;
    if !lane.wait_for_go().await {
        return;
    }
    let target = Arc::new(AtomicU32::new(0));
    let mut seats: Vec<Arc<AtomicBool>> = Vec::new();
    let mut tasks = JoinSet::new();
    for (at, users) in plan {
        tokio::select! {
            biased;
            () = lane.stop.cancelled() => break,
            () = sleep_until(lane.go + at) => {}
        }
        target.store(users, Ordering::Relaxed);
        for user in 0..users {
            if seats.len() <= user as usize {
                seats.push(Arc::new(AtomicBool::new(false)));
            }
            let running = &seats[user as usize];
            if !running.swap(true, Ordering::Relaxed) {
                let seat = Seat {
                    target: Arc::clone(&target),
                    running: Arc::clone(running),
                };
                tasks.spawn(user_loop(
                    Arc::clone(&lane),
                    user,
                    user < preconnected,
                    Some(seat),
                ));
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

async fn user_loop(lane: Arc<Lane>, user_id: u32, preconnected: bool, seat: Option<Seat>) {
    let seated = || {
        seat.as_ref()
            .is_none_or(|s| user_id < s.target.load(Ordering::Relaxed))
    };
    if !preconnected {
        // A user of the ramp connects as it starts, outside any timing.
        tokio::select! {
            biased;
            () = lane.stop.cancelled() => return,
            () = lane.client.preconnect() => {}
        }
        lane.report_connections().await;
    }
    let mut user_request_num = 0;
    let mut backoff = Backoff::default();
    while !lane.stop.is_cancelled() && seated() {
        user_request_num += 1;
        let slot = RequestSlot {
            request_id: lane.next_request.fetch_add(1, Ordering::Relaxed),
            user_id,
            user_request_num,
            scheduled: Instant::now(),
            waited_for_slot: false,
        };
        let Some(outcome) = run_guarded(&lane, slot).await else {
            continue;
        };
        if let Some((wait, reason)) = backoff.after(&outcome) {
            let began = Instant::now();
            tokio::select! {
                () = sleep(wait) => {}
                () = lane.stop.cancelled() => {}
            }
            lane.emit(RaceEvent::BackedOff {
                engine: lane.engine,
                waited: whole_micros(began.elapsed()),
                retry_after: reason == Reason::RetryAfter,
            })
            .await;
        }
    }
    if let Some(seat) = seat {
        seat.running.store(false, Ordering::Relaxed);
    }
}

/// Open loop: one request per arrival of `schedule`, at most
/// `max_in_flight` at once. An arrival that finds every slot taken waits
/// (and is counted late; its latency still counts from its scheduled time);
/// once `max_in_flight` arrivals are waiting, further ones are dropped.
async fn run_open_loop(lane: Arc<Lane>, schedule: ArrivalSchedule, max_in_flight: u32) {
    lane.report_connections().await;
    if !lane.wait_for_go().await {
        return;
    }
    let slots = Arc::new(Semaphore::new(max_in_flight as usize));
    let backlog = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for (k, offset) in schedule.enumerate() {
        let scheduled = lane.go + offset;
        // Stop first: an arrival due after the stop was never offered.
        tokio::select! {
            biased;
            () = lane.stop.cancelled() => break,
            () = sleep_until(scheduled) => {}
        }
        let slot = RequestSlot {
            request_id: k as u64,
            user_id: 0,
            user_request_num: u32::try_from(k + 1).unwrap_or(u32::MAX),
            scheduled,
            waited_for_slot: false,
        };
        let lane = Arc::clone(&lane);
        if let Ok(permit) = Arc::clone(&slots).try_acquire_owned() {
            tasks.spawn(async move {
                run_guarded(&lane, slot).await;
                drop(permit);
            });
        } else if backlog.load(Ordering::Relaxed) >= max_in_flight as usize {
            lane.emit(RaceEvent::DroppedArrival {
                engine: lane.engine,
            })
            .await;
        } else {
            lane.emit(RaceEvent::LateArrival {
                engine: lane.engine,
            })
            .await;
            backlog.fetch_add(1, Ordering::Relaxed);
            let (slots, backlog) = (Arc::clone(&slots), Arc::clone(&backlog));
            tasks.spawn(async move {
                // Stop first: a slot that frees as the engine stops must
                // not send a request after the stop.
                let permit = tokio::select! {
                    biased;
                    () = lane.stop.cancelled() => None,
                    p = slots.acquire_owned() => p.ok(),
                };
                backlog.fetch_sub(1, Ordering::Relaxed);
                if let Some(permit) = permit {
                    let slot = RequestSlot {
                        waited_for_slot: true,
                        ..slot
                    };
                    run_guarded(&lane, slot).await;
                    drop(permit);
                } else {
                    lane.emit(RaceEvent::UnsentArrivals {
                        engine: lane.engine,
                        count: 1,
                    })
                    .await;
                }
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
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
