//! One request's measurements, and the per-request metrics derived from them
//! (TTFT, TPOT, ITL, E2E). Every time is an offset from the race's start
//! signal on the monotonic clock.

use std::sync::Arc;
use std::time::Duration;

use crate::names::named_enum;
use serde::Serialize;

named_enum! {
    /// Why a request failed. Every failure is counted under exactly one kind.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ErrorKind {
        /// HTTP 429 Too Many Requests.
        Http429 = "http_429",
        /// Any other non-2xx status below 500.
        Http4xx = "http_4xx",
        /// HTTP 5xx.
        Http5xx = "http_5xx",
        /// The connection could not be made (refused, DNS, TLS).
        Connect = "connect",
        /// The request did not complete within the engine's `timeout_s`.
        Timeout = "timeout",
        /// The connection broke, or the stream ended before it was complete.
        StreamReset = "stream_reset",
        /// The server sent something that is not a valid OpenAI stream event.
        Malformed = "malformed",
        /// The server reported an error inside the stream (`{"error": ...}` or
        /// an `event: error`).
        ServerError = "server_error",
        /// The answer completed without a single output token (no content, no
        /// tool call, and no reasoning unless the engine counts it).
        EmptyAnswer = "empty_answer",
        /// llm-locust itself failed on the request (a bug): counted, so the
        /// lane's numbers stay whole.
        Internal = "internal",
    }
}

impl ErrorKind {
    /// The kind for a non-success HTTP status.
    #[must_use]
    pub fn for_status(status: u16) -> ErrorKind {
        match status {
            429 => ErrorKind::Http429,
            500.. => ErrorKind::Http5xx,
            _ => ErrorKind::Http4xx,
        }
    }
}

named_enum! {
    /// Where a token count came from, best first.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum TokenSource {
        /// The server's own `usage` report.
        Usage = "usage",
        /// Counted with the engine's tokenizer.
        Tokenizer = "tokenizer",
        /// Estimated from the text length (no tokenizer, no usage).
        Estimate = "estimate",
        /// The number of content-bearing stream chunks.
        Chunks = "chunks",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub kind: ErrorKind,
    /// What happened, for logs and the CSV; never contains secrets.
    pub message: String,
}

/// A request's place in its conversation: the conversation (the same id in
/// every lane) and the turn, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConversationTurn {
    pub id: u64,
    pub turn: u32,
}

named_enum! {
    /// How a conversation ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ConversationEnd {
        /// Every turn was answered.
        Completed = "completed",
        /// Its next prompt would have held more than `max_context_tokens`.
        ContextLimit = "context_limit",
        /// A turn failed.
        Failed = "failed",
        /// The engine stopped (finish line, time limit, Ctrl-C) before its
        /// last turn.
        Stopped = "stopped",
    }
}

/// Everything measured about one request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Index of the engine in the race.
    pub engine: usize,
    /// The request's number within its engine (0-based, in issue order);
    /// request `k` of every engine carries the same prompt.
    pub request_id: u64,
    pub user_id: u32,
    /// The request's number within its user (1-based), as in the original.
    pub user_request_num: u32,
    pub prompt: Arc<str>,
    /// When the load shape meant the request to go out. Latencies are
    /// measured from here, so queueing in the load generator is not hidden.
    pub scheduled_at: Duration,
    /// When the request was actually sent.
    pub sent_at: Duration,
    /// An open-loop arrival that waited for an in-flight slot: its send
    /// delay is the load shape's, not the client's.
    pub waited_for_slot: bool,
    /// Arrival of each output-bearing chunk, reasoning or answer (the first
    /// one is the first token).
    pub chunk_times: Vec<Duration>,
    /// Index in `chunk_times` of the first answer chunk (content or tool
    /// call); `None` when no answer token arrived.
    pub first_answer_chunk: Option<u32>,
    /// When the last byte of the response arrived (or the failure was seen).
    pub end_at: Duration,
    pub input_tokens: u32,
    pub input_source: TokenSource,
    pub output_tokens: u32,
    pub output_source: TokenSource,
    /// Prompt tokens the server said it served from its prefix cache;
    /// `None` when it did not say.
    pub cached_tokens: Option<u32>,
    /// The conversation and turn it is, in a conversation race.
    pub conversation: Option<ConversationTurn>,
    /// HTTP status, or 0 when no response arrived.
    pub status: u16,
    pub error: Option<RequestError>,
    pub output_text: String,
}

impl RequestRecord {
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// Time to first token: first content-bearing chunk − scheduled start.
    #[must_use]
    pub fn ttft(&self) -> Option<Duration> {
        self.chunk_times
            .first()
            .map(|t| t.saturating_sub(self.scheduled_at))
    }

    /// Time to first output token of the answer itself (content or tool
    /// call, after any reasoning): its chunk − scheduled start.
    #[must_use]
    pub fn ttfot(&self) -> Option<Duration> {
        let index = usize::try_from(self.first_answer_chunk?).ok()?;
        self.chunk_times
            .get(index)
            .map(|t| t.saturating_sub(self.scheduled_at))
    }

    /// When decoding ended: the last output-bearing chunk. Usage reports and
    /// `[DONE]` may come later; they end E2E, not decoding.
    #[must_use]
    pub fn decode_end(&self) -> Option<Duration> {
        self.chunk_times.last().copied()
    }

    /// End-to-end latency: last byte − scheduled start.
    #[must_use]
    pub fn e2e(&self) -> Duration {
        self.end_at.saturating_sub(self.scheduled_at)
    }

    /// Time per output token after the first: (decode end − first token) /
    /// (n − 1), only for requests with more than one output token.
    #[must_use]
    pub fn tpot(&self) -> Option<Duration> {
        let first = *self.chunk_times.first()?;
        if self.output_tokens < 2 {
            return None;
        }
        let decode_end = self.decode_end()?;
        Some(decode_end.saturating_sub(first) / (self.output_tokens - 1))
    }

    /// Inter-token latencies: every gap between successive content chunks.
    pub fn itls(&self) -> impl Iterator<Item = Duration> + '_ {
        self.chunk_times
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
    }

    /// How late the request went out relative to its schedule.
    #[must_use]
    pub fn send_delay(&self) -> Duration {
        self.sent_at.saturating_sub(self.scheduled_at)
    }

    /// Output tokens per second of this request: n / E2E.
    #[must_use]
    pub fn output_tokens_per_s(&self) -> f64 {
        per_second(u64::from(self.output_tokens), self.e2e())
    }

    /// (Input + output tokens) / E2E.
    #[must_use]
    pub fn total_tokens_per_s(&self) -> f64 {
        per_second(
            u64::from(self.input_tokens) + u64::from(self.output_tokens),
            self.e2e(),
        )
    }
}

/// `d` cut to whole microseconds. Every time in a record and every event
/// time is cut this way when measured, so a race file (which stores whole
/// microseconds) replays to exactly the numbers shown live.
#[must_use]
pub fn whole_micros(d: Duration) -> Duration {
    Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// `count / elapsed`, 0 when no time has passed.
#[must_use]
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let count = count as f64;
    count / secs
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A successful record: scheduled at `start_ms`, first token after
    /// `ttft_ms`, then `n - 1` more tokens every `gap_ms`.
    pub(crate) fn ok_record(
        engine: usize,
        start_ms: u64,
        ttft_ms: u64,
        gap_ms: u64,
        n: u32,
    ) -> RequestRecord {
        let start = Duration::from_millis(start_ms);
        let chunk_times: Vec<Duration> = (0..u64::from(n))
            .map(|i| start + Duration::from_millis(ttft_ms + i * gap_ms))
            .collect();
        let end_at = chunk_times.last().copied().unwrap_or(start);
        RequestRecord {
            engine,
            request_id: 0,
            user_id: 0,
            user_request_num: 1,
            prompt: Arc::from("hello"),
            scheduled_at: start,
            sent_at: start,
            waited_for_slot: false,
            first_answer_chunk: (n > 0).then_some(0),
            chunk_times,
            end_at,
            cached_tokens: None,
            conversation: None,
            input_tokens: 10,
            input_source: TokenSource::Usage,
            output_tokens: n,
            output_source: TokenSource::Usage,
            status: 200,
            error: None,
            output_text: String::new(),
        }
    }

    #[test]
    fn ttft_tpot_itl_and_e2e_follow_their_definitions() {
        let r = ok_record(0, 1000, 80, 12, 11);
        assert_eq!(r.ttft(), Some(Duration::from_millis(80)));
        assert_eq!(r.e2e(), Duration::from_millis(80 + 10 * 12));
        assert_eq!(r.tpot(), Some(Duration::from_millis(12)));
        assert_eq!(r.itls().count(), 10);
        assert!(r.itls().all(|g| g == Duration::from_millis(12)));
    }

    #[test]
    fn latency_counts_from_the_scheduled_time_not_the_send_time() {
        let mut r = ok_record(0, 1000, 80, 12, 2);
        r.sent_at = Duration::from_millis(1500);
        r.chunk_times = vec![Duration::from_millis(1580), Duration::from_millis(1592)];
        r.end_at = Duration::from_millis(1592);
        assert_eq!(r.ttft(), Some(Duration::from_millis(580)));
        assert_eq!(r.send_delay(), Duration::from_millis(500));
    }

    #[test]
    fn tpot_ends_at_the_last_token_not_at_a_late_done() {
        let mut r = ok_record(0, 0, 100, 20, 11);
        r.end_at += Duration::from_millis(1100);
        assert_eq!(r.tpot(), Some(Duration::from_millis(20)));
        assert_eq!(r.e2e(), Duration::from_millis(100 + 200 + 1100));
    }

    #[test]
    fn ttfot_is_the_first_answer_chunk_after_reasoning() {
        let mut r = ok_record(0, 0, 50, 10, 6);
        assert_eq!(r.ttfot(), r.ttft());
        r.first_answer_chunk = Some(4);
        assert_eq!(r.ttft(), Some(Duration::from_millis(50)));
        assert_eq!(r.ttfot(), Some(Duration::from_millis(90)));
        r.first_answer_chunk = None;
        assert_eq!(r.ttfot(), None);
    }

    #[test]
    fn tpot_is_undefined_for_a_single_token() {
        let r = ok_record(0, 0, 50, 10, 1);
        assert_eq!(r.tpot(), None);
        assert_eq!(r.ttft(), Some(Duration::from_millis(50)));
    }

    #[test]
    fn status_codes_map_to_error_kinds() {
        assert_eq!(ErrorKind::for_status(429), ErrorKind::Http429);
        assert_eq!(ErrorKind::for_status(404), ErrorKind::Http4xx);
        assert_eq!(ErrorKind::for_status(503), ErrorKind::Http5xx);
    }
}
