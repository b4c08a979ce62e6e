//! One request's life: its trace, its exchange with the server (aborted
//! with its engine), the record of how it ended (one builder for every
//! way), and a panic in it turned into a counted failure. What it sends
//! (an [`Ask`]: system message, conversation so far, prompt) its caller
//! decides.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Outcome;
use super::client::{Exchange, PieceKind};
use super::event::RaceEvent;
use super::lane::{Lane, RequestSlot};
use crate::metrics::trace::{TraceEvent, TraceStep};
use crate::metrics::{ErrorKind, RequestError, RequestRecord, TokenSource};
use crate::workload::{Ask, estimate_tokens};

/// How a request ended, for what its caller does next: back off, or send
/// the conversation's next turn.
pub(super) struct Ended {
    pub(super) outcome: Outcome,
    /// The answer's text (a conversation with its own history resends it).
    pub(super) answer: Arc<str>,
    /// The prompt's and the answer's token counts, as recorded.
    pub(super) input_tokens: u32,
    pub(super) output_tokens: u32,
}

/// Sends one request, measures it and reports it. Returns how it ended
/// (`None` when it was aborted).
async fn run_request(lane: &Lane, slot: RequestSlot, ask: &Ask) -> Option<Ended> {
    let batch;
    let ask = match lane.client.embeddings_batch() {
        Some(n) => {
            batch = lane.prompts.batch(slot.request_id, n);
            &batch
        }
        None => ask,
    };
    let prompt = Arc::clone(&ask.text);
    let max_tokens = lane.prompts.max_tokens_for(slot.request_id);
    lane.emit(RaceEvent::Started {
        engine: lane.engine,
    })
    .await;
    let trace = Trace::open(lane, &slot, &prompt).await;
    let mut observe = |text: &str, kind: PieceKind, at: Instant| trace.piece(text, kind, at);
    let exchange = tokio::select! {
        ex = lane.client.send_observed(ask, max_tokens, &mut observe) => ex,
        () = lane.abort.cancelled() => {
            trace.cut().await;
            lane.emit(RaceEvent::Cancelled { engine: lane.engine, count: 1 }).await;
            return None;
        }
    };
    trace.end(exchange.end);
    let counts = Counts::of(lane, slot.request_id, ask, &exchange);
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
    let answer = Arc::from(exchange.text.as_str());
    finish(lane, &slot, prompt, exchange, counts).await;
    lane.report_connections().await;
    Some(Ended {
        outcome,
        answer,
        input_tokens: counts.input.0,
        output_tokens: counts.output.0,
    })
}

/// [`run_request`], with a panic in it (a bug) turned into a counted
/// failure of that request: its start is matched, its lane's numbers stay
/// whole, and a closed-loop user goes on.
pub(super) async fn run_guarded(lane: &Lane, slot: RequestSlot, ask: &Ask) -> Option<Ended> {
    let panicked = match guard(run_request(lane, slot, ask)).await {
        Ok(ended) => return ended,
        Err(message) => message,
    };
    let mut failed = Exchange::new(Instant::now());
    failed.error = Some(RequestError {
        kind: ErrorKind::Internal,
        message: format!("llm-locust failed on this request (a bug; please report it): {panicked}"),
    });
    finish(lane, &slot, Arc::clone(&ask.text), failed, Counts::NONE).await;
    Some(Ended {
        outcome: Outcome {
            error: Some(ErrorKind::Internal),
            retry_after: None,
            took: Duration::ZERO,
        },
        answer: Arc::from(""),
        input_tokens: 0,
        output_tokens: 0,
    })
}

/// Reports how a request ended: its record, built from what its exchange
/// measured.
async fn finish(
    lane: &Lane,
    slot: &RequestSlot,
    prompt: Arc<str>,
    exchange: Exchange,
    counts: Counts,
) {
    let since_go = |t: Instant| lane.since_go(t);
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
        input_tokens: counts.input.0,
        input_source: counts.input.1,
        output_tokens: counts.output.0,
        output_source: counts.output.1,
        cached_tokens: exchange.usage.and_then(|u| u.cached_tokens),
        conversation: slot.conversation,
        status: exchange.status,
        error: exchange.error,
        output_text: exchange.text,
    };
    lane.emit(RaceEvent::Finished(Arc::new(record))).await;
}

/// A request's token counts and where each came from.
#[derive(Debug, Clone, Copy)]
struct Counts {
    input: (u32, TokenSource),
    output: (u32, TokenSource),
}

impl Counts {
    /// A request that never got as far as counting.
    const NONE: Counts = Counts {
        input: (0, TokenSource::Estimate),
        output: (0, TokenSource::Chunks),
    };

    fn of(lane: &Lane, request_id: u64, ask: &Ask, exchange: &Exchange) -> Self {
        // The server's count first, then the engine's tokenizer, then the
        // estimate (a prompt on its own was counted as the prompts loaded;
        // a system message and a history are counted part by part).
        let input = match exchange.usage {
            Some(u) if u.prompt_tokens > 0 => (u.prompt_tokens, TokenSource::Usage),
            _ if ask.system.is_none() && ask.history().is_empty() && ask.more.is_empty() => {
                match lane.prompts.tokenizer_count(lane.engine, request_id) {
                    Some(n) => (n, TokenSource::Tokenizer),
                    None => (estimate_tokens(&ask.text), TokenSource::Estimate),
                }
            }
            _ => {
                let n = ask
                    .parts()
                    .map(|part| lane.prompts.count(lane.engine, part))
                    .fold(0u32, u32::saturating_add);
                let source = if lane.prompts.has_tokenizer(lane.engine) {
                    TokenSource::Tokenizer
                } else {
                    TokenSource::Estimate
                };
                (n, source)
            }
        };
        let chunks = u32::try_from(exchange.chunk_times.len()).unwrap_or(u32::MAX);
        // The server's count first, then the engine's tokenizer on the answer,
        // then the content chunks.
        // A zero count is no count (LiteLLM reports 0 in every chunk).
        let output = match exchange.usage {
            Some(u) if exchange.error.is_none() && u.completion_tokens > 0 => {
                (u.completion_tokens, TokenSource::Usage)
            }
            _ => match lane.prompts.count_output(lane.engine, &exchange.text) {
                Some(n) if exchange.error.is_none() => (n, TokenSource::Tokenizer),
                _ => (chunks, TokenSource::Chunks),
            },
        };
        Counts { input, output }
    }
}

/// A request's trace for the inspector, when it holds one of its engine's
/// trace slots: opened with its prompt, its pieces of text, and its end.
struct Trace<'l> {
    lane: &'l Lane,
    request_id: u64,
    claim: Option<super::trace::TraceClaim>,
}

impl<'l> Trace<'l> {
    async fn open(lane: &'l Lane, slot: &RequestSlot, prompt: &Arc<str>) -> Trace<'l> {
        let claim = lane
            .traces
            .claim(slot.request_id, lane.since_go(Instant::now()));
        let trace = Trace {
            lane,
            request_id: slot.request_id,
            claim,
        };
        if trace.claim.is_some() {
            let opened = TraceStep::Opened {
                prompt: Arc::clone(prompt),
            };
            lane.emit(trace.event(lane.since_go(Instant::now()), opened))
                .await;
        }
        trace
    }

    fn event(&self, at: Duration, step: TraceStep) -> RaceEvent {
        RaceEvent::Trace(TraceEvent {
            engine: self.lane.engine,
            request_id: self.request_id,
            at,
            step,
        })
    }

    fn piece(&self, text: &str, kind: PieceKind, at: Instant) {
        if self.claim.is_none() {
            return;
        }
        let piece = TraceStep::Piece {
            text: text.to_owned(),
            answer: kind == PieceKind::Answer,
        };
        // Never wait on the stream's path: under a backlog the inspector
        // misses a piece (live and replayed alike, as the race file records
        // what the aggregator got).
        let _ = self
            .lane
            .events
            .try_send(self.event(self.lane.since_go(at), piece));
    }

    /// The request ended at `end`: its slot frees from then.
    fn end(&self, end: Instant) {
        if let Some(claim) = &self.claim {
            claim.end(self.lane.since_go(end));
        }
    }

    /// The request was aborted now.
    async fn cut(&self) {
        if let Some(claim) = &self.claim {
            let now = self.lane.since_go(Instant::now());
            claim.end(now);
            self.lane.emit(self.event(now, TraceStep::Cut)).await;
        }
    }
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
