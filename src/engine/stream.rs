//! Decoding an OpenAI-style answer: the SSE event stream (or a single JSON
//! body) folded into an [`Exchange`]. Lenient where real servers differ
//! harmlessly, strict where a difference changes the numbers:
//!
//! - absent and `null` mean the same; unknown fields are ignored;
//! - `reasoning_content` and `reasoning` (proxies send either, some both)
//!   are reasoning tokens; `content` and `tool_calls` are the answer;
//! - a usage report only replaces earlier counts with non-zero ones
//!   (LiteLLM sends `completion_tokens: 0` in every chunk);
//! - `finish_reason: ""` is not a finish; `event: error` is a server error;
//! - a last event cut off before its blank line at the clean end of the
//!   body still counts, as it does for the SSE clients servers test with.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

use super::chunk::{ChunkDto, UsageDto};
use super::drain::drain;
use super::sse::{SseError, SseEvents};
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
    fn merge_usage(&mut self, reported: &UsageDto) {
        // Finite, at least 1 and at most u32::MAX: the cast only drops a fraction.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = |n: Option<f64>| {
            n.filter(|n| n.is_finite() && *n >= 1.0)
                .map(|n| n.min(f64::from(u32::MAX)) as u32)
        };
        let (prompt, completion) = (
            count(reported.prompt_tokens),
            count(reported.completion_tokens),
        );
        if prompt.is_none() && completion.is_none() {
            return;
        }
        let usage = self.usage.get_or_insert_with(Usage::default);
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

    fn fail_keeping_end(&mut self, kind: ErrorKind, message: &str) {
        let end = self.end;
        self.fail(kind, message);
        self.end = end;
    }
}

/// Folds one JSON payload into the exchange. Returns false when the request
/// has failed and reading should stop.
pub(crate) fn apply_chunk(
    data: &str,
    now: Instant,
    ex: &mut Exchange,
    observe: &mut Observer<'_>,
) -> bool {
    let mut chunk = ChunkDto::default();
    if let Err(e) = chunk.read(data) {
        ex.end = now;
        ex.fail(
            ErrorKind::Malformed,
            format!("invalid JSON in stream ({e}): {}", clip(data, 200)),
        );
        return false;
    }
    if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
        ex.end = now;
        ex.fail(
            ErrorKind::ServerError,
            format!(
                "error in stream: {}",
                clip(&err.to_string(), ERROR_BODY_LIMIT)
            ),
        );
        return false;
    }
    if let Some(usage) = &chunk.usage {
        ex.merge_usage(usage);
    }
    if let Some(choice) = &chunk.choice {
        let mut output = false;
        let mut answer = false;
        let mut take = |piece: &str, kind: PieceKind, ex: &mut Exchange| {
            if !piece.is_empty() {
                output = true;
                answer |= kind == PieceKind::Answer;
                ex.text.push_str(piece);
                observe(piece, kind, now);
            }
        };
        for delta in [choice.delta.as_ref(), choice.message.as_deref()]
            .into_iter()
            .flatten()
        {
            if let Some(reasoning) = delta.reasoning() {
                take(reasoning, PieceKind::Reasoning, ex);
            }
            for piece in delta.answer_pieces() {
                take(piece, PieceKind::Answer, ex);
            }
        }
        if let Some(text) = choice.text.as_deref() {
            take(text, PieceKind::Answer, ex);
        }
        if output {
            if answer && ex.first_answer.is_none() {
                ex.first_answer = Some(ex.chunk_times.len());
            }
            ex.chunk_times.push(now);
        }
        if let Some(reason) = choice
            .finish_reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
        {
            ex.finish_reason = Some(reason.to_owned());
        }
    }
    true
}

/// Reads an SSE byte stream to its end, timestamping each output-bearing
/// event on arrival. Transport errors are `E`, described by `describe`.
pub(crate) async fn read_sse<S, E>(
    mut body: S,
    ex: &mut Exchange,
    observe: &mut Observer<'_>,
    describe: impl Fn(&E) -> String,
) where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send + 'static,
    E: std::fmt::Display + 'static,
{
    // The reader borrows the body, so after [DONE] the rest of the body
    // can still be read, outside the timing.
    let mut events = SseEvents::new(&mut body);
    let mut done = false;
    while let Some(item) = events.next().await {
        let event = match item {
            Ok(event) => event,
            Err(SseError::Transport(e)) => {
                ex.fail(ErrorKind::StreamReset, describe(&e));
                return;
            }
            Err(SseError::Invalid(e)) => {
                ex.fail(ErrorKind::Malformed, e);
                return;
            }
        };
        let now = Instant::now();
        let data = event.data().trim();
        if event.kind() == "error" {
            ex.end = now;
            ex.fail(
                ErrorKind::ServerError,
                format!("error event in stream: {}", clip(data, ERROR_BODY_LIMIT)),
            );
            return;
        }
        if data == "[DONE]" {
            ex.end = now;
            ex.complete = true;
            done = true;
            break;
        }
        if data.is_empty() {
            continue;
        }
        if !apply_chunk(data, now, ex, observe) {
            return;
        }
    }
    drop(events);
    if done {
        drain(body).await;
        return;
    }
    ex.end = Instant::now().max(ex.end);
    if ex.finish_reason.is_none() {
        ex.fail(ErrorKind::StreamReset, "the stream ended before [DONE]");
    } else {
        ex.complete = true;
    }
}

/// Decodes a whole SSE body that arrives in `pieces`, in order, with no
/// transport error: what the client makes of it, with every output-bearing
/// event timed on arrival. For tests and fuzzing of the decoder.
pub async fn decode_sse_body(pieces: Vec<Bytes>, count_reasoning: bool) -> Exchange {
    let mut ex = Exchange::new(Instant::now());
    let body =
        futures_util::stream::iter(pieces.into_iter().map(Ok::<_, std::convert::Infallible>));
    read_sse(body, &mut ex, &mut |_, _, _| {}, |e| e.to_string()).await;
    ex.check_not_empty(count_reasoning);
    ex
}

/// A server that ignored `stream: true` and answered with one JSON body: the
/// whole answer is one chunk, timed at its arrival.
pub(crate) fn apply_whole(body: &str, ex: &mut Exchange, observe: &mut Observer<'_>) {
    let now = Instant::now();
    ex.end = now;
    if apply_chunk(body, now, ex, observe) {
        if ex.finish_reason.is_none() && ex.chunk_times.is_empty() {
            ex.fail(
                ErrorKind::Malformed,
                format!("not an OpenAI completion: {}", clip(body, 200)),
            );
        } else {
            ex.complete = true;
        }
    }
}

pub(crate) fn clip(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange() -> Exchange {
        Exchange::new(Instant::now())
    }

    fn apply(ex: &mut Exchange, data: &str) -> bool {
        apply_chunk(data, Instant::now(), ex, &mut |_, _, _| {})
    }

    #[test]
    fn only_the_first_choice_counts_and_null_or_empty_choices_are_none() {
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"content":" a"}},{"delta":{"content":" b"}},{"odd":[1,{"x":2}]}]}"#
        ));
        assert_eq!(ex.text, " a");
        assert_eq!(ex.chunk_times.len(), 1);
        assert!(apply(
            &mut ex,
            r#"{"choices":null,"usage":{"completion_tokens":3}}"#
        ));
        assert!(apply(&mut ex, r#"{"choices":[]}"#));
        assert_eq!(ex.chunk_times.len(), 1);
        assert_eq!(ex.usage.map(|u| u.completion_tokens), Some(3));
        // Still JSON: a broken second choice is malformed.
        assert!(!apply(&mut ex, r#"{"choices":[{"delta":{}},{"#));
        assert_eq!(
            ex.error.as_ref().map(|e| e.kind),
            Some(ErrorKind::Malformed)
        );
    }

    #[test]
    fn role_only_and_empty_deltas_are_not_tokens() {
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#
        ));
        assert!(apply(&mut ex, r#"{"choices":[{"delta":{}}]}"#));
        assert!(ex.chunk_times.is_empty());
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"content":" hi"}}]}"#
        ));
        assert_eq!(ex.chunk_times.len(), 1);
        assert_eq!(ex.first_answer, Some(0));
        assert_eq!(ex.text, " hi");
    }

    #[test]
    fn usage_chunk_and_finish_reason_are_kept() {
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"content":"a"},"finish_reason":"length"}]}"#
        ));
        assert!(apply(
            &mut ex,
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#
        ));
        assert_eq!(
            ex.usage,
            Some(Usage {
                prompt_tokens: 7,
                completion_tokens: 3
            })
        );
        assert_eq!(ex.finish_reason.as_deref(), Some("length"));
    }

    #[test]
    fn zero_usage_never_replaces_a_real_count() {
        let mut ex = exchange();
        let zero =
            r#"{"choices":[{"text":"x"}],"usage":{"prompt_tokens":0,"completion_tokens":0}}"#;
        assert!(apply(&mut ex, zero));
        assert_eq!(ex.usage, None, "all-zero usage is no report");
        assert!(apply(
            &mut ex,
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#
        ));
        assert!(apply(&mut ex, zero));
        assert_eq!(
            ex.usage,
            Some(Usage {
                prompt_tokens: 9,
                completion_tokens: 4
            })
        );
    }

    #[test]
    fn completions_text_and_reasoning_count_as_output() {
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#
        ));
        assert_eq!(ex.first_answer, None);
        assert!(apply(&mut ex, r#"{"choices":[{"text":"x","index":0}]}"#));
        assert_eq!(ex.chunk_times.len(), 2);
        assert_eq!(ex.first_answer, Some(1));
    }

    #[test]
    fn both_reasoning_names_in_one_delta_are_one_piece() {
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"reasoning_content":"think","reasoning":"think","content":null}}]}"#
        ));
        assert_eq!(ex.text, "think");
        assert_eq!(ex.chunk_times.len(), 1);
        assert!(ex.error.is_none());
    }

    #[test]
    fn null_means_absent_and_extras_are_ignored() {
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":null,"usage":null,"error":null,"system_fingerprint":null,"x":{"y":[1]}}"#
        ));
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"index":null,"delta":{"content":"a","tool_calls":null,"role":null},"finish_reason":null,"logprobs":null}],"usage":{"prompt_tokens":null,"completion_tokens":2}}"#
        ));
        assert_eq!(ex.text, "a");
        assert_eq!(ex.usage.map(|u| u.completion_tokens), Some(2));
        assert!(ex.error.is_none(), "{:?}", ex.error);
    }

    #[test]
    fn tool_calls_are_answer_tokens() {
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#
        ));
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}"#
        ));
        assert_eq!(ex.chunk_times.len(), 2);
        assert_eq!(ex.first_answer, Some(0));
        assert_eq!(ex.text, "get_weather{\"city\":");
    }

    #[test]
    fn an_empty_finish_reason_is_no_finish() {
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"content":"a"},"finish_reason":""}]}"#
        ));
        assert_eq!(ex.finish_reason, None);
    }

    #[test]
    fn empty_and_reasoning_only_answers_fail_as_empty() {
        let mut ex = exchange();
        ex.check_not_empty(false);
        assert_eq!(ex.error.map(|e| e.kind), Some(ErrorKind::EmptyAnswer));
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"reasoning":"hm"}}]}"#
        ));
        let mut counted = ex.clone();
        ex.check_not_empty(false);
        assert_eq!(ex.error.map(|e| e.kind), Some(ErrorKind::EmptyAnswer));
        counted.check_not_empty(true);
        assert!(counted.error.is_none());
    }

    #[test]
    fn in_stream_error_and_bad_json_are_classified() {
        let mut ex = exchange();
        assert!(!apply(&mut ex, r#"{"error":{"message":"overloaded"}}"#));
        assert_eq!(
            ex.error.as_ref().map(|e| e.kind),
            Some(ErrorKind::ServerError)
        );
        let mut ex = exchange();
        assert!(!apply(&mut ex, r#"{"choices":[{"delta":{"content":"#));
        assert_eq!(
            ex.error.as_ref().map(|e| e.kind),
            Some(ErrorKind::Malformed)
        );
    }

    #[test]
    fn escaped_content_is_decoded() {
        let mut ex = exchange();
        assert!(apply(
            &mut ex,
            r#"{"choices":[{"delta":{"content":"a\"b\n"}}]}"#
        ));
        assert_eq!(ex.text, "a\"b\n");
    }
}
