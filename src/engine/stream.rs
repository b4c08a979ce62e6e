//! One request's answer, folded into an [`Exchange`] as it arrives: each
//! event (read by `body`) is handed to the request's protocol with an
//! [`EventFold`] to report what it said (pieces of text, usage, a finish, a
//! failure). What an event means is the protocol's; what the exchange keeps
//! of it, and when an event counts as a token, is decided here once:
//!
//! - an event with any piece of output is one token time (its arrival);
//! - a usage report only replaces earlier counts with non-zero ones
//!   (LiteLLM sends `completion_tokens: 0` in every chunk);
//! - a blank finish reason is no finish;
//! - a last event cut off before its blank line at the clean end of the
//!   body still counts, as it does for the SSE clients servers test with.

use std::time::Duration;

use tokio::time::Instant;

use crate::metrics::{ErrorKind, RequestError};

/// What a piece of streamed text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    /// The model's thinking (`reasoning_content` / `reasoning`).
    Reasoning,
    /// The answer: `content`, completions `text`, or a tool call.
    Answer,
}

/// Called with each piece of output text, its kind and its arrival time.
pub type Observer<'a> = dyn FnMut(&str, PieceKind, Instant) + Send + 'a;

/// How much of an error body or event is kept.
pub(crate) const ERROR_BODY_LIMIT: usize = 500;

/// Token counts the server reported; 0 means "not reported".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// Prompt tokens the server took from its prefix cache; `None` when it
    /// did not say (0 is a report: nothing was cached).
    pub cached_tokens: Option<u32>,
}

/// What one request produced, timed on the monotonic clock.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub sent: Instant,
    /// HTTP status, 0 when no response arrived.
    pub status: u16,
    /// Arrival of each output-bearing event (reasoning or answer).
    pub chunk_times: Vec<Instant>,
    /// Index in `chunk_times` of the first answer (content or tool call) event.
    pub first_answer: Option<usize>,
    pub end: Instant,
    pub text: String,
    /// Server-reported counts; `None` when the server reported none above 0.
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    pub error: Option<RequestError>,
    /// The answer is complete (`[DONE]`, or a finish reason and a clean end):
    /// a timeout while draining the body afterwards is not a failure.
    pub complete: bool,
    /// `Retry-After` of a 429 or 503 answer.
    pub retry_after: Option<Duration>,
    /// The server closed the reused connection it was first sent on before
    /// answering, and it was sent again on a fresh one.
    pub connection_retried: bool,
    /// That close made the client stop reusing the engine's connections.
    pub reuse_stopped: bool,
    /// Embeddings in a whole embeddings answer.
    pub embedded: Option<usize>,
}

impl Exchange {
    #[must_use]
    pub fn new(sent: Instant) -> Self {
        Exchange {
            sent,
            status: 0,
            chunk_times: Vec::new(),
            first_answer: None,
            end: sent,
            text: String::new(),
            usage: None,
            finish_reason: None,
            error: None,
            complete: false,
            retry_after: None,
            connection_retried: false,
            reuse_stopped: false,
            embedded: None,
        }
    }

    pub(crate) fn fail(&mut self, kind: ErrorKind, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(RequestError {
                kind,
                message: message.into(),
            });
        }
        self.end = Instant::now();
    }

    /// Folds one usage report in: only non-zero counts replace earlier ones.
    /// A cached count of 0 is a report only beside a real prompt count (a
    /// proxy's all-zero report after the real one changes nothing).
    fn merge_usage(
        &mut self,
        prompt_tokens: Option<f64>,
        completion_tokens: Option<f64>,
        cached_tokens: Option<f64>,
    ) {
        // Finite, at least `least` and at most u32::MAX: the cast only drops
        // a fraction.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = |n: Option<f64>, least: f64| {
            n.filter(|n| n.is_finite() && *n >= least)
                .map(|n| n.min(f64::from(u32::MAX)) as u32)
        };
        let (prompt, completion) = (count(prompt_tokens, 1.0), count(completion_tokens, 1.0));
        let cached = count(cached_tokens, 0.0).filter(|&n| n > 0 || prompt.is_some());
        if prompt.is_none() && completion.is_none() && cached.is_none() {
            return;
        }
        let usage = self.usage.get_or_insert_with(Usage::default);
        if cached.is_some() {
            usage.cached_tokens = cached;
        }
        if let Some(n) = prompt {
            usage.prompt_tokens = n;
        }
        if let Some(n) = completion {
            usage.completion_tokens = n;
        }
    }

    /// After a complete answer: an answer with no output token is its own
    /// failure, so it can never be counted good or win.
    pub(crate) fn check_not_empty(&mut self, count_reasoning: bool) {
        if self.error.is_some() || self.first_answer.is_some() {
            return;
        }
        if self.chunk_times.is_empty() {
            self.fail_keeping_end(ErrorKind::EmptyAnswer, "the answer had no output token");
        } else if !count_reasoning {
            self.fail_keeping_end(
                ErrorKind::EmptyAnswer,
                "only reasoning tokens arrived, no answer (set count_reasoning: true to count them)",
            );
        }
    }

    pub(crate) fn fail_keeping_end(&mut self, kind: ErrorKind, message: &str) {
        let end = self.end;
        self.fail(kind, message);
        self.end = end;
    }
}

/// What one event (or a whole body) said, reported by its protocol: the
/// pieces of output, a usage report, a finish, a failure. Dropped when the
/// event is done, the event counts as one token time if it carried output.
pub struct EventFold<'e, 'o> {
    ex: &'e mut Exchange,
    observe: &'e mut Observer<'o>,
    now: Instant,
    output: bool,
    answer: bool,
}

impl<'e, 'o> EventFold<'e, 'o> {
    /// An event that arrived `now`.
    pub fn new(ex: &'e mut Exchange, observe: &'e mut Observer<'o>, now: Instant) -> Self {
        EventFold {
            ex,
            observe,
            now,
            output: false,
            answer: false,
        }
    }

    /// A piece of output text (empty pieces are none).
    pub fn piece(&mut self, text: &str, kind: PieceKind) {
        if text.is_empty() {
            return;
        }
        self.output = true;
        self.answer |= kind == PieceKind::Answer;
        self.ex.text.push_str(text);
        (self.observe)(text, kind, self.now);
    }

    /// The server's token counts, as it wrote them (any JSON number):
    /// prompt, completion, and prompt tokens served from its cache.
    pub fn usage(
        &mut self,
        prompt_tokens: Option<f64>,
        completion_tokens: Option<f64>,
        cached_tokens: Option<f64>,
    ) {
        self.ex
            .merge_usage(prompt_tokens, completion_tokens, cached_tokens);
    }

    /// The answer's finish reason (blank is none).
    pub fn finish(&mut self, reason: &str) {
        if !reason.trim().is_empty() {
            self.ex.finish_reason = Some(reason.to_owned());
        }
    }

    /// The answer holds `n` embeddings.
    pub fn embedded(&mut self, n: usize) {
        self.ex.embedded = Some(n);
    }

    /// The answer is complete: the protocol's end.
    pub fn complete(&mut self) {
        self.ex.end = self.now;
        self.ex.complete = true;
    }

    /// The request failed here.
    pub fn fail(&mut self, kind: ErrorKind, message: impl Into<String>) {
        self.ex.end = self.now;
        self.ex.fail(kind, message);
    }

    /// What the exchange holds so far.
    #[must_use]
    pub fn exchange(&self) -> &Exchange {
        self.ex
    }
}

impl Drop for EventFold<'_, '_> {
    fn drop(&mut self) {
        if self.output {
            if self.answer && self.ex.first_answer.is_none() {
                self.ex.first_answer = Some(self.ex.chunk_times.len());
            }
            self.ex.chunk_times.push(self.now);
        }
    }
}

pub(crate) fn clip(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
