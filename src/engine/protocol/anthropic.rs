//! `POST /v1/messages`, Anthropic's Messages API (Claude, and llama.cpp,
//! LiteLLM and other gateways): the system prompt as `system`, the
//! conversation so far and the prompt as `messages`, `max_tokens` always
//! (the API requires it), the key in `x-api-key` beside `anthropic-version`.
//! The answer streams as typed events:
//!
//! - `content_block_delta` carries the output: `text_delta` and
//!   `input_json_delta` (a tool's input) are the answer, `thinking_delta`
//!   is reasoning; a `tool_use` block's start names the tool (answer, as
//!   chat's tool call name is);
//! - `message_start` has the prompt's usage: `input_tokens` counts only
//!   what was not read from the cache, so the prompt is `input_tokens` +
//!   `cache_read_input_tokens` + `cache_creation_input_tokens`;
//!   `message_delta` has the stop reason and `output_tokens`;
//! - `message_stop` ends the answer; `error` fails it (`overloaded_error`
//!   as a server error, which the users back off from); `ping` and the
//!   block starts and stops carry nothing.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::chunk::lenient_number;
use super::{EventFold, Exchange, Flow, Prompt, Protocol};
use crate::engine::stream::{ERROR_BODY_LIMIT, PieceKind, clip};
use crate::metrics::ErrorKind;

/// `max_tokens` when the engine sets no output length: the API has no
/// default.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The API version asked for (its streaming events are the ones read here).
pub const API_VERSION: &str = "2023-06-01";

#[derive(Debug)]
pub struct Anthropic;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    messages: Vec<super::Message<'a>>,
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    stream: bool,
}

/// What the decoder reads of one event, or of a whole message's body.
#[derive(Deserialize, Default)]
struct EventDto<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    delta: Option<DeltaDto<'a>>,
    #[serde(default)]
    message: Option<MessageDto>,
    #[serde(default, borrow)]
    content_block: Option<BlockDto<'a>>,
    #[serde(default)]
    usage: Option<UsageDto>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    /// A whole (not streamed) message's blocks and stop reason.
    #[serde(default, borrow)]
    content: Option<Vec<BlockDto<'a>>>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct MessageDto {
    #[serde(default)]
    usage: Option<UsageDto>,
}

#[derive(Deserialize, Default)]
struct DeltaDto<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    partial_json: Option<Cow<'a, str>>,
    /// `message_delta`'s.
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct BlockDto<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    /// A `tool_use` block's tool.
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    /// A whole message's tool input.
    #[serde(default)]
    input: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct UsageDto {
    #[serde(default, deserialize_with = "lenient_number")]
    input_tokens: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    output_tokens: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    cache_read_input_tokens: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    cache_creation_input_tokens: Option<f64>,
}

impl UsageDto {
    /// Reported to the fold: the whole prompt, the output, the cached part.
    fn report(&self, fold: &mut EventFold<'_, '_>) {
        let prompt = self.input_tokens.map(|input| {
            input
                + self.cache_read_input_tokens.unwrap_or(0.0)
                + self.cache_creation_input_tokens.unwrap_or(0.0)
        });
        fold.usage(prompt, self.output_tokens, self.cache_read_input_tokens);
    }
}

impl BlockDto<'_> {
    /// A block's output, whole (a message's) or as it starts (a stream's).
    fn pieces(&self, fold: &mut EventFold<'_, '_>) {
        match self.kind.as_deref() {
            Some("thinking") => {
                fold.piece(
                    self.thinking.as_deref().unwrap_or_default(),
                    PieceKind::Reasoning,
                );
            }
            Some("tool_use") => {
                fold.piece(self.name.as_deref().unwrap_or_default(), PieceKind::Answer);
                if let Some(input) = self.input.as_ref().filter(|i| !is_empty_object(i)) {
                    fold.piece(&input.to_string(), PieceKind::Answer);
                }
            }
            _ => fold.piece(self.text.as_deref().unwrap_or_default(), PieceKind::Answer),
        }
    }
}

fn is_empty_object(value: &serde_json::Value) -> bool {
    value.as_object().is_some_and(serde_json::Map::is_empty)
}

impl Protocol for Anthropic {
    fn route(&self) -> &'static str {
        "/messages"
    }

    fn body(&self, p: &Prompt<'_>) -> Vec<u8> {
        let messages = super::messages(None, p);
        serde_json::to_vec(&Body {
            model: p.model,
            system: p.system,
            messages,
            extra: p.extra,
            max_tokens: p.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            temperature: p.temperature,
            ignore_eos: p.ignore_eos,
            stream: true,
        })
        .unwrap_or_default()
    }

    fn on_event(&self, kind: &str, data: &str, fold: &mut EventFold<'_, '_>) -> Flow {
        let data = data.trim();
        if data.is_empty() {
            return Flow::Continue;
        }
        let Some(event) = super::event_json::<EventDto<'_>>(data, fold) else {
            return Flow::Failed;
        };
        match event.kind.as_deref().unwrap_or(kind) {
            "content_block_delta" => {
                let delta = event.delta.unwrap_or_default();
                let (text, piece) = match delta.kind.as_deref() {
                    Some("thinking_delta") => (delta.thinking, PieceKind::Reasoning),
                    Some("input_json_delta") => (delta.partial_json, PieceKind::Answer),
                    // `signature_delta`, `citations_delta`: no text.
                    Some("text_delta") | None => (delta.text, PieceKind::Answer),
                    Some(_) => (None, PieceKind::Answer),
                };
                fold.piece(text.as_deref().unwrap_or_default(), piece);
            }
            "content_block_start" => {
                if let Some(block) = &event.content_block {
                    block.pieces(fold);
                }
            }
            "message_start" => {
                // Its `output_tokens` is a placeholder (Anthropic's 1): the
                // count comes with `message_delta`.
                if let Some(usage) = event.message.and_then(|m| m.usage) {
                    UsageDto {
                        output_tokens: None,
                        ..usage
                    }
                    .report(fold);
                }
            }
            "message_delta" => {
                if let Some(usage) = &event.usage {
                    usage.report(fold);
                }
                if let Some(reason) = event.delta.as_ref().and_then(|d| d.stop_reason.as_deref()) {
                    fold.finish(reason);
                }
            }
            "message_stop" => {
                fold.complete();
                return Flow::Done;
            }
            "error" => {
                let error = event
                    .error
                    .filter(|e| !e.is_null())
                    .map_or_else(|| data.to_owned(), |e| e.to_string());
                fold.fail(
                    ErrorKind::ServerError,
                    format!("error event in stream: {}", clip(&error, ERROR_BODY_LIMIT)),
                );
                return Flow::Failed;
            }
            _ => {}
        }
        Flow::Continue
    }

    fn on_stream_end(&self, ex: &mut Exchange) {
        if ex.finish_reason.is_none() {
            ex.fail(
                ErrorKind::StreamReset,
                "the stream ended before message_stop",
            );
        } else {
            ex.complete = true;
        }
    }

    fn on_body(&self, body: &str, fold: &mut EventFold<'_, '_>) {
        let message = match serde_json::from_str::<EventDto<'_>>(body) {
            Ok(m) if m.content.is_some() => m,
            Ok(m) if m.kind.as_deref() == Some("error") => {
                let error = m.error.map_or_else(|| body.to_owned(), |e| e.to_string());
                fold.fail(
                    ErrorKind::ServerError,
                    format!("error answer: {}", clip(&error, ERROR_BODY_LIMIT)),
                );
                return;
            }
            _ => {
                fold.fail(
                    ErrorKind::Malformed,
                    format!("not a Messages API answer: {}", clip(body, 200)),
                );
                return;
            }
        };
        for block in message.content.iter().flatten() {
            block.pieces(fold);
        }
        if let Some(usage) = &message.usage {
            usage.report(fold);
        }
        fold.finish(message.stop_reason.as_deref().unwrap_or("end_turn"));
        fold.complete();
    }

    fn headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("anthropic-version", API_VERSION)]
    }

    fn key_header(&self, key: &str) -> (&'static str, String) {
        ("x-api-key", key.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stream::Usage;
    use tokio::time::Instant;

    fn apply(ex: &mut Exchange, data: &str) -> Flow {
        super::super::fold_event(&Anthropic, ex, data)
    }

    /// llama.cpp (b11434)'s stream, as recorded: `input_tokens` without the
    /// cached ones (14 of the prompt's 19, as its chat route says).
    #[test]
    fn a_recorded_llama_cpp_stream_decodes() {
        let mut ex = Exchange::new(Instant::now());
        let events = [
            r#"{"type":"message_start","message":{"id":"chatcmpl-a9","type":"message","role":"assistant","content":[],"model":"gemma-3-270m","stop_reason":null,"stop_sequence":null,"usage":{"cache_read_input_tokens":14,"input_tokens":5,"output_tokens":0}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"The"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" 20"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":5}}"#,
        ];
        for event in events {
            assert_eq!(apply(&mut ex, event), Flow::Continue);
        }
        assert_eq!(apply(&mut ex, r#"{"type":"message_stop"}"#), Flow::Done);
        assert_eq!(ex.text, "The 20");
        assert_eq!(ex.chunk_times.len(), 2);
        assert_eq!(
            ex.usage,
            Some(Usage {
                prompt_tokens: 19,
                completion_tokens: 5,
                cached_tokens: Some(14),
            })
        );
        assert_eq!(ex.finish_reason.as_deref(), Some("max_tokens"));
        assert!(ex.complete && ex.error.is_none());
    }

    #[test]
    fn message_starts_placeholder_output_count_is_no_count() {
        // Anthropic's `message_start` says `output_tokens: 1`; a gateway
        // whose `message_delta` carries no usage leaves the count unknown.
        let mut ex = Exchange::new(Instant::now());
        apply(
            &mut ex,
            r#"{"type":"message_start","message":{"usage":{"input_tokens":12,"output_tokens":1}}}"#,
        );
        apply(
            &mut ex,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#,
        );
        let usage = ex.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (12, 0));
    }

    #[test]
    fn thinking_is_reasoning_and_a_tool_call_is_the_answer() {
        let mut ex = Exchange::new(Instant::now());
        apply(&mut ex, r#"{"type":"ping"}"#);
        apply(
            &mut ex,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}"#,
        );
        apply(
            &mut ex,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQ"}}"#,
        );
        assert_eq!((ex.chunk_times.len(), ex.first_answer), (1, None));
        apply(
            &mut ex,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"#,
        );
        apply(
            &mut ex,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"#,
        );
        assert_eq!((ex.chunk_times.len(), ex.first_answer), (3, Some(1)));
        assert_eq!(ex.text, "hmget_weather{\"city\":");
    }

    #[test]
    fn error_events_fail_as_server_errors() {
        for error in [
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            r#"{"type":"error","error":{"type":"api_error","message":"boom"}}"#,
        ] {
            let mut ex = Exchange::new(Instant::now());
            assert_eq!(apply(&mut ex, error), Flow::Failed);
            let e = ex.error.unwrap();
            assert_eq!(e.kind, ErrorKind::ServerError);
            assert!(
                e.message.starts_with("error event in stream: {"),
                "{}",
                e.message
            );
        }
        let mut ex = Exchange::new(Instant::now());
        assert_eq!(
            apply(&mut ex, r#"{"type":"content_block_delta","#),
            Flow::Failed
        );
        assert_eq!(ex.error.unwrap().kind, ErrorKind::Malformed);
    }

    #[test]
    fn a_stream_ends_complete_only_after_its_stop_reason() {
        let mut ex = Exchange::new(Instant::now());
        apply(
            &mut ex,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}"#,
        );
        let mut cut = ex.clone();
        Anthropic.on_stream_end(&mut cut);
        assert_eq!(cut.error.unwrap().kind, ErrorKind::StreamReset);
        apply(
            &mut ex,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}"#,
        );
        Anthropic.on_stream_end(&mut ex);
        assert!(ex.complete && ex.error.is_none());
    }

    #[test]
    fn a_whole_message_and_a_whole_error_are_read() {
        let mut ex = Exchange::new(Instant::now());
        super::super::fold_body(
            &Anthropic,
            &mut ex,
            r#"{"id":"m","type":"message","role":"assistant","content":[{"type":"text","text":"Say hi"}],"stop_reason":"max_tokens","usage":{"cache_read_input_tokens":6,"input_tokens":5,"output_tokens":5}}"#,
        );
        assert_eq!(ex.text, "Say hi");
        assert_eq!(
            ex.usage.map(|u| (u.prompt_tokens, u.cached_tokens)),
            Some((11, Some(6)))
        );
        assert!(ex.complete);

        let mut ex = Exchange::new(Instant::now());
        super::super::fold_body(
            &Anthropic,
            &mut ex,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(ex.error.unwrap().kind, ErrorKind::ServerError);
    }
}
