//! What one admitted request produces and when: the deterministic word and
//! fault draws, the token schedule (absolute deadlines, so timer rounding
//! never accumulates), and the body stream that plays it all out in the
//! request's dialect (`dialects`), including the in-stream faults.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::dialects::StreamFormat;
use super::request::SimRequest;
use super::sse::{PromptCount, TokenKind};
use super::stats::Counters;
use super::vocab::WORDS;
use crate::config::{FaultKind, Quirk, SimSpec};

/// Most SSE events written into one body frame. When tokens are due faster
/// than they can be written (zero-latency mode) batching keeps the cost per
/// token to a few copies instead of one wakeup and one write each.
pub(crate) const MAX_EVENTS_PER_FRAME: usize = 64;

/// Output length when neither the spec nor the request sets one.
pub(crate) const DEFAULT_OUTPUT_TOKENS: u32 = 128;

/// Why a body stream was cut on purpose. Yielding it makes hyper drop the
/// connection without the chunked terminator, which a client sees as a body
/// error rather than a clean end.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Abort {
    #[error("simulated connection reset")]
    Reset,
    #[error("simulated stall ended by dropping the connection")]
    Stall,
    #[error("simulator shutting down")]
    Shutdown,
}

/// The request's own random stream: seed plus sequence number pick it, so a
/// rerun with the same seed and arrival order gives the same faults and text.
pub(crate) fn request_rng(seed: u64, seq: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(seq);
    rng
}

/// Picks at most one fault from per-kind probabilities. Always consumes one
/// draw, so whether faults are configured does not change the text.
pub(crate) fn draw_fault(
    probabilities: &[(FaultKind, f64)],
    rng: &mut ChaCha8Rng,
) -> Option<FaultKind> {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (kind, p) in probabilities {
        acc += p;
        if u < acc {
            return Some(*kind);
        }
    }
    None
}

/// Scales `d` by a uniform factor in `1 ± jitter`, never below zero.
pub(crate) fn jittered(d: Duration, jitter: f64, rng: &mut ChaCha8Rng) -> Duration {
    if jitter <= 0.0 || d.is_zero() {
        return d;
    }
    let u: f64 = rng.random_range(-1.0..=1.0);
    let factor = (1.0 + jitter * u).max(0.0);
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
}

/// `at + d`, saturating at a far but representable instant instead of
/// panicking on absurd configured delays.
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(at)
}

/// How many tokens go out before an in-stream fault: half, at least one.
pub(crate) fn fault_point(output_tokens: u32) -> u32 {
    (output_tokens / 2).max(1)
}

/// The output length for a request.
pub(crate) fn output_tokens(spec: &SimSpec, req: &SimRequest) -> u32 {
    spec.output_tokens
        .or(req.max_tokens)
        .unwrap_or(DEFAULT_OUTPUT_TOKENS)
        .max(1)
}

/// When each token is due and which word it is.
#[derive(Debug)]
pub(crate) struct Schedule {
    rng: ChaCha8Rng,
    tpot: Duration,
    jitter: f64,
    next_due: Instant,
}

impl Schedule {
    /// The first token is due a jittered TTFT plus prefill after admission.
    pub(crate) fn new(
        admitted: Instant,
        spec: &SimSpec,
        prompt_tokens: u32,
        mut rng: ChaCha8Rng,
    ) -> Self {
        let ttft = jittered(spec.ttft, spec.jitter, &mut rng)
            .saturating_add(spec.prefill_per_token.saturating_mul(prompt_tokens));
        Schedule {
            tpot: spec.tpot,
            jitter: spec.jitter,
            next_due: later(admitted, ttft),
            rng,
        }
    }

    pub(crate) fn next_due(&self) -> Instant {
        self.next_due
    }

    /// The word of the token due now; moves the deadline one jittered TPOT on.
    pub(crate) fn take(&mut self) -> &'static str {
        let word = WORDS[self.rng.random_range(0..WORDS.len())];
        let gap = jittered(self.tpot, self.jitter, &mut self.rng);
        self.next_due = later(self.next_due, gap);
        word
    }
}

/// One capacity slot, held from admission until the response ends or is
/// dropped (the client went away). Counts as `in_flight` meanwhile.
#[derive(Debug)]
pub(crate) struct Lease {
    _permit: OwnedSemaphorePermit,
    counters: Arc<Counters>,
    seq: u64,
    ended: bool,
}

impl Lease {
    pub(crate) fn new(permit: OwnedSemaphorePermit, counters: Arc<Counters>, seq: u64) -> Self {
        counters.in_flight().fetch_add(1, Ordering::Relaxed);
        Lease {
            _permit: permit,
            counters,
            seq,
            ended: false,
        }
    }

    /// Marks the response as played out; `success` counts it as completed.
    pub(crate) fn end(&mut self, success: bool) {
        if success && !self.ended {
            self.counters.completed();
        }
        self.ended = true;
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.counters.in_flight().fetch_sub(1, Ordering::Relaxed);
        if !self.ended {
            debug!(
                seq = self.seq,
                "sim: response dropped before its end (client gone or shutdown)"
            );
        }
    }
}

/// An in-stream fault still to come.
#[derive(Debug, Clone, Copy)]
struct PendingFault {
    kind: FaultKind,
    after_tokens: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Opening,
    Tokens,
    Done,
}

/// Everything one streaming response needs; consumed step by step by
/// [`Generation::into_stream`]. Dropping it (client gone) frees the slot.
#[derive(Debug)]
pub(crate) struct Generation {
    format: StreamFormat,
    schedule: Schedule,
    output_tokens: u32,
    sent: u32,
    prompt: PromptCount,
    include_usage: bool,
    reasoning_tokens: u32,
    done_delay: Duration,
    fault: Option<PendingFault>,
    faulted: bool,
    stall: Duration,
    phase: Phase,
    lease: Lease,
    stop: CancellationToken,
    stamp_from: Option<Instant>,
    arrived: Instant,
}

/// Inputs of a [`Generation`].
#[derive(Debug)]
pub(crate) struct GenerationParts {
    pub format: StreamFormat,
    pub schedule: Schedule,
    pub output_tokens: u32,
    pub prompt: PromptCount,
    pub include_usage: bool,
    pub reasoning_tokens: u32,
    pub done_delay: Duration,
    /// Only in-stream kinds (reset, stall, malformed, stream error) act here.
    pub fault: Option<FaultKind>,
    pub stall: Duration,
    pub lease: Lease,
    /// Fires when the server must cut every stream now.
    pub stop: CancellationToken,
    /// The request's arrival, when each token's text is to be its send time
    /// from there (`SimOptions::stamp_tokens`).
    pub stamp_from: Option<Instant>,
    /// The request's arrival: its TTFT, as the server counts it, is from
    /// here.
    pub arrived: Instant,
}

impl Generation {
    pub(crate) fn new(p: GenerationParts) -> Self {
        let fault = p.fault.map(|kind| PendingFault {
            kind,
            // A clean early end must come before the last token, which
            // would say the answer finished.
            after_tokens: match kind {
                FaultKind::EarlyEnd => {
                    fault_point(p.output_tokens).min(p.output_tokens.saturating_sub(1))
                }
                _ => fault_point(p.output_tokens),
            },
        });
        // An empty answer has no tokens to play out.
        let output_tokens = if p.format.has(Quirk::EmptyAnswer) {
            0
        } else {
            p.output_tokens
        };
        Generation {
            format: p.format,
            schedule: p.schedule,
            output_tokens,
            sent: 0,
            prompt: p.prompt,
            include_usage: p.include_usage,
            reasoning_tokens: p.reasoning_tokens,
            done_delay: p.done_delay,
            fault,
            faulted: false,
            stall: p.stall,
            phase: Phase::Opening,
            lease: p.lease,
            stop: p.stop,
            stamp_from: p.stamp_from,
            arrived: p.arrived,
        }
    }

    /// The response body: SSE frames, or an [`Abort`] that cuts the connection.
    pub(crate) fn into_stream(self) -> impl Stream<Item = Result<Bytes, Abort>> + Send + 'static {
        futures_util::stream::unfold(self, |mut g| async move {
            let item = g.next_frame().await?;
            Some((item, g))
        })
    }

    /// Sleeps until `due` unless the server is stopping; false means stop.
    async fn wait_until(&self, due: Instant) -> bool {
        if due <= Instant::now() {
            return !self.stop.is_cancelled();
        }
        tokio::select! {
            biased;
            () = self.stop.cancelled() => false,
            () = tokio::time::sleep_until(due) => true,
        }
    }

    async fn next_frame(&mut self) -> Option<Result<Bytes, Abort>> {
        loop {
            match self.phase {
                Phase::Done => return None,
                Phase::Opening => {
                    self.phase = Phase::Tokens;
                    if let Some(opening) = self.format.opening(self.prompt) {
                        return Some(Ok(opening));
                    }
                }
                Phase::Tokens => {
                    if let Some(fault) = self.fault.filter(|f| f.after_tokens <= self.sent) {
                        self.fault = None;
                        return Some(self.inject(fault.kind).await);
                    }
                    let mut buf = Vec::new();
                    if self.sent < self.output_tokens {
                        if !self.wait_until(self.schedule.next_due()).await {
                            self.phase = Phase::Done;
                            return Some(Err(Abort::Shutdown));
                        }
                        self.push_due_tokens(&mut buf);
                    }
                    if self.sent >= self.output_tokens && self.fault.is_none() {
                        if !self.done_delay.is_zero() {
                            if !buf.is_empty() {
                                // The tokens go out now; the tail after the pause.
                                return Some(Ok(Bytes::from(buf)));
                            }
                            let until = later(Instant::now(), self.done_delay);
                            self.done_delay = Duration::ZERO;
                            if !self.wait_until(until).await {
                                self.phase = Phase::Done;
                                return Some(Err(Abort::Shutdown));
                            }
                        }
                        self.push_tail(&mut buf);
                    }
                    if !buf.is_empty() {
                        return Some(Ok(Bytes::from(buf)));
                    }
                }
            }
        }
    }

    /// Writes every token already due (at least one, the caller waited for
    /// it), up to the frame limit and the next fault.
    fn push_due_tokens(&mut self, buf: &mut Vec<u8>) {
        let limit = self.fault.map_or(self.output_tokens, |f| {
            f.after_tokens.min(self.output_tokens)
        });
        let now = Instant::now();
        let first_due = (self.sent == 0).then(|| self.schedule.next_due());
        // Every token of a frame goes out in the same write, at `now`.
        let stamp = self.stamp_from.map(|arrived| {
            now.saturating_duration_since(arrived)
                .as_micros()
                .to_string()
        });
        let mut events = 0;
        while self.sent < limit && events < MAX_EVENTS_PER_FRAME && self.schedule.next_due() <= now
        {
            let word = self.schedule.take();
            let word = stamp.as_deref().unwrap_or(word);
            let kind = if self.sent < self.reasoning_tokens {
                TokenKind::Reasoning
            } else {
                TokenKind::Answer
            };
            self.sent += 1;
            self.lease.counters().generated(1);
            // A stream about to fault never says it finished.
            let last = self.sent == self.output_tokens && self.fault.is_none();
            let usage = (last && self.include_usage && self.format.has(Quirk::UsageInFinishChunk))
                .then_some((self.prompt, self.sent));
            self.format.push_token(buf, word, kind, last, usage);
            events += 1;
        }
        if let Some(due) = first_due
            && events > 0
        {
            self.lease
                .counters()
                .first_token(now.saturating_duration_since(due));
            self.lease
                .counters()
                .ttft(now.saturating_duration_since(self.arrived));
        }
    }

    fn push_tail(&mut self, buf: &mut Vec<u8>) {
        self.format
            .push_tail(buf, self.prompt, self.sent, self.include_usage);
        self.phase = Phase::Done;
        self.lease.end(!self.faulted);
    }

    async fn inject(&mut self, kind: FaultKind) -> Result<Bytes, Abort> {
        self.faulted = true;
        self.lease.counters().fault(kind);
        debug!(
            seq = self.lease.seq(),
            fault = kind.name(),
            after = self.sent,
            "sim: injecting fault"
        );
        match kind {
            FaultKind::Malformed => Ok(Bytes::from_static(self.format.malformed_event())),
            FaultKind::StreamError => {
                self.phase = Phase::Done;
                self.lease.end(false);
                Ok(Bytes::from_static(self.format.failure_event()))
            }
            FaultKind::EventError => {
                self.phase = Phase::Done;
                self.lease.end(false);
                Ok(Bytes::from_static(self.format.error_event()))
            }
            FaultKind::EarlyEnd => {
                // An empty frame, then the body's clean end.
                self.phase = Phase::Done;
                self.lease.end(false);
                Ok(Bytes::new())
            }
            FaultKind::Stall => {
                self.phase = Phase::Done;
                self.lease.end(false);
                let until = later(Instant::now(), self.stall);
                if self.wait_until(until).await {
                    Err(Abort::Stall)
                } else {
                    Err(Abort::Shutdown)
                }
            }
            // HTTP-status kinds are answered before admission and never get
            // here; treat any that do as a reset rather than ignore them.
            FaultKind::Reset | FaultKind::Http429 | FaultKind::Http500 | FaultKind::Http503 => {
                self.phase = Phase::Done;
                self.lease.end(false);
                // Let hyper flush the tokens already written, so the client
                // sees a cut after real data rather than an empty reply.
                tokio::task::yield_now().await;
                Err(Abort::Reset)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_band_and_zero_jitter_is_exact() {
        let mut rng = request_rng(1, 2);
        let d = Duration::from_millis(100);
        assert_eq!(jittered(d, 0.0, &mut rng), d);
        for _ in 0..1000 {
            let j = jittered(d, 0.5, &mut rng);
            assert!(
                j >= Duration::from_millis(50) && j <= Duration::from_millis(150),
                "{j:?}"
            );
        }
        for _ in 0..100 {
            // Jitter above 1 could go negative; it is clamped at zero.
            let _ = jittered(d, 3.0, &mut rng);
        }
    }

    #[test]
    fn same_seed_and_sequence_give_the_same_text_and_faults() {
        let spec = SimSpec {
            ttft: Duration::ZERO,
            tpot: Duration::ZERO,
            ..SimSpec::default()
        };
        let words = |seed, seq| {
            let mut s = Schedule::new(Instant::now(), &spec, 0, request_rng(seed, seq));
            (0..50).map(|_| s.take()).collect::<Vec<_>>()
        };
        assert_eq!(words(7, 3), words(7, 3));
        assert_ne!(words(7, 3), words(7, 4));
        assert_ne!(words(7, 3), words(8, 3));
        let probs = [(FaultKind::Reset, 0.5)];
        let draws = |seed| {
            (0..64)
                .map(|seq| draw_fault(&probs, &mut request_rng(seed, seq)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(5), draws(5));
        let hits = draws(5).iter().filter(|f| f.is_some()).count();
        assert!((16..=48).contains(&hits), "{hits} of 64 at p=0.5");
    }

    #[test]
    fn certain_fault_always_fires_and_none_never_does() {
        let mut rng = request_rng(0, 0);
        for _ in 0..100 {
            assert_eq!(
                draw_fault(&[(FaultKind::Stall, 1.0)], &mut rng),
                Some(FaultKind::Stall)
            );
            assert_eq!(draw_fault(&[], &mut rng), None);
        }
    }

    #[test]
    fn schedule_uses_absolute_deadlines() {
        let spec = SimSpec {
            ttft: Duration::from_millis(80),
            tpot: Duration::from_millis(10),
            jitter: 0.0,
            prefill_per_token: Duration::from_millis(1),
            ..SimSpec::default()
        };
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, &spec, 5, request_rng(0, 0));
        assert_eq!(s.next_due(), t0 + Duration::from_millis(85));
        for _ in 0..100 {
            s.take();
        }
        assert_eq!(s.next_due(), t0 + Duration::from_millis(85 + 1000));
    }
}
