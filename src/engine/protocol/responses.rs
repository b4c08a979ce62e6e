//! `POST /v1/responses`, OpenAI's Responses API: the system prompt as
//! `instructions`, the conversation so far and the prompt as `input`
//! messages, `max_output_tokens` for the output length. The answer streams
//! as typed events, each named by its `type`:
//!
//! - `response.output_text.delta` and `response.function_call_arguments.delta`
//!   are the answer; `response.reasoning_text.delta` and
//!   `response.reasoning_summary_text.delta` are reasoning;
//! - `response.completed` ends the answer and carries the usage
//!   (`input_tokens` counts the cached ones, as chat's `prompt_tokens` does);
//! - `response.incomplete` ends it too when the reason is
//!   `max_output_tokens` (the length asked for, as chat's `length`), and
//!   fails it otherwise; `response.failed` and `error` fail it;
//! - every other event (`response.created`, `…added`, `…done`) carries no
//!   output and is skipped.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::chunk::lenient_number;
use super::{EventFold, Exchange, Flow, Prompt, Protocol};
use crate::engine::stream::{ERROR_BODY_LIMIT, PieceKind, clip};
use crate::metrics::ErrorKind;

#[derive(Debug)]
pub struct Responses;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<&'a str>,
    input: Vec<super::Message<'a>>,
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    stream: bool,
}

/// What the decoder reads of one event (or of a whole response's body,
/// which is the `response` object itself).
#[derive(Deserialize, Default)]
struct EventDto<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    response: Option<ResponseDto>,
    /// An `error` event's own fields.
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct ResponseDto {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    usage: Option<UsageDto>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    incomplete_details: Option<IncompleteDto>,
    /// A whole (not streamed) response's items.
    #[serde(default)]
    output: Option<Vec<ItemDto>>,
}

#[derive(Deserialize)]
struct UsageDto {
    #[serde(default, deserialize_with = "lenient_number")]
    input_tokens: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    output_tokens: Option<f64>,
    #[serde(default)]
    input_tokens_details: Option<InputDetailsDto>,
}

#[derive(Deserialize)]
struct InputDetailsDto {
    #[serde(default, deserialize_with = "lenient_number")]
    cached_tokens: Option<f64>,
}

#[derive(Deserialize)]
struct IncompleteDto {
    #[serde(default)]
    reason: Option<String>,
}

/// One item of a whole response: a message, reasoning, or a function call.
#[derive(Deserialize)]
struct ItemDto {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    content: Option<Vec<PartDto>>,
    #[serde(default)]
    summary: Option<Vec<PartDto>>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct PartDto {
    #[serde(default)]
    text: Option<String>,
}

impl Protocol for Responses {
    fn route(&self) -> &'static str {
        "/responses"
    }

    fn body(&self, p: &Prompt<'_>) -> Vec<u8> {
        let input = super::messages(None, p);
        serde_json::to_vec(&Body {
            model: p.model,
            instructions: p.system,
            input,
            extra: p.extra,
            max_output_tokens: p.max_tokens,
            temperature: p.temperature,
            ignore_eos: p.ignore_eos,
            stream: true,
        })
        .unwrap_or_default()
    }

    fn on_event(&self, kind: &str, data: &str, fold: &mut EventFold<'_, '_>) -> Flow {
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Flow::Continue;
        }
        let Some(event) = super::event_json::<EventDto<'_>>(data, fold) else {
            return Flow::Failed;
        };
        // The `type` names the event; the SSE `event:` line repeats it.
        let name = event.kind.as_deref().unwrap_or(kind);
        let piece = |fold: &mut EventFold<'_, '_>, kind| {
            fold.piece(event.delta.as_deref().unwrap_or_default(), kind);
            Flow::Continue
        };
        match name {
            "response.output_text.delta" | "response.function_call_arguments.delta" => {
                piece(fold, PieceKind::Answer)
            }
            "response.reasoning_text.delta" | "response.reasoning_summary_text.delta" => {
                piece(fold, PieceKind::Reasoning)
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let status = name.trim_start_matches("response.");
                end(&event.response.unwrap_or_default(), status, fold, data)
            }
            "error" => {
                let what = event
                    .message
                    .map(|m| match event.code {
                        Some(serde_json::Value::String(code)) => format!("{code}: {m}"),
                        _ => m,
                    })
                    .unwrap_or_else(|| data.to_owned());
                fold.fail(
                    ErrorKind::ServerError,
                    format!("error event in stream: {}", clip(&what, ERROR_BODY_LIMIT)),
                );
                Flow::Failed
            }
            _ => Flow::Continue,
        }
    }

    fn on_stream_end(&self, ex: &mut Exchange) {
        if ex.finish_reason.is_none() {
            ex.fail(
                ErrorKind::StreamReset,
                "the stream ended before response.completed",
            );
        } else {
            ex.complete = true;
        }
    }

    fn on_body(&self, body: &str, fold: &mut EventFold<'_, '_>) {
        let response = match serde_json::from_str::<ResponseDto>(body) {
            Ok(r) if r.status.is_some() => r,
            _ => {
                fold.fail(
                    ErrorKind::Malformed,
                    format!("not a Responses API answer: {}", clip(body, 200)),
                );
                return;
            }
        };
        for item in response.output.iter().flatten() {
            let kind = match item.kind.as_deref() {
                Some("reasoning") => PieceKind::Reasoning,
                _ => PieceKind::Answer,
            };
            let parts = item.summary.iter().chain(&item.content).flatten();
            for text in parts.filter_map(|part| part.text.as_deref()) {
                fold.piece(text, kind);
            }
            fold.piece(item.arguments.as_deref().unwrap_or_default(), kind);
        }
        end(&response, "", fold, body);
    }
}

/// The response's last word, from its `status` (else the event's, `said`):
/// complete (with the usage), or failed.
fn end(response: &ResponseDto, said: &str, fold: &mut EventFold<'_, '_>, data: &str) -> Flow {
    if let Some(usage) = &response.usage {
        fold.usage(
            usage.input_tokens,
            usage.output_tokens,
            usage
                .input_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens),
        );
    }
    let reason = response
        .incomplete_details
        .as_ref()
        .and_then(|d| d.reason.as_deref());
    match (response.status.as_deref().or(Some(said)), reason) {
        (Some("completed"), _) => fold.finish("stop"),
        (Some("incomplete"), Some("max_output_tokens")) => fold.finish("length"),
        (Some("incomplete"), reason) => {
            fold.fail(
                ErrorKind::ServerError,
                format!(
                    "the response is incomplete ({})",
                    reason.unwrap_or("no reason given")
                ),
            );
            return Flow::Failed;
        }
        _ => {
            let error = response
                .error
                .as_ref()
                .filter(|e| !e.is_null())
                .map_or_else(
                    || clip(data, ERROR_BODY_LIMIT).to_owned(),
                    |e| e.to_string(),
                );
            fold.fail(
                ErrorKind::ServerError,
                format!("the response failed: {}", clip(&error, ERROR_BODY_LIMIT)),
            );
            return Flow::Failed;
        }
    }
    fold.complete();
    Flow::Done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stream::Usage;
    use tokio::time::Instant;

    fn apply(ex: &mut Exchange, data: &str) -> Flow {
        super::super::fold_event(&Responses, ex, data)
    }

    /// llama.cpp (b11434)'s stream, as recorded: no `sequence_number`, the
    /// usage with the cached count, its own `timings` beside it.
    #[test]
    fn a_recorded_llama_cpp_stream_decodes() {
        let mut ex = Exchange::new(Instant::now());
        let events = [
            r#"{"type":"response.created","response":{"id":"resp_6","object":"response","status":"in_progress"}}"#,
            r#"{"type":"response.output_item.added","item":{"content":[],"id":"msg_Z","role":"assistant","status":"in_progress","type":"message"}}"#,
            r#"{"type":"response.content_part.added","item_id":"msg_Z","part":{"type":"output_text","text":""}}"#,
            r#"{"type":"response.output_text.delta","item_id":"msg_Z","delta":"say"}"#,
            r#"{"type":"response.output_text.delta","item_id":"msg_Z","delta":" hi"}"#,
            r#"{"type":"response.output_text.done","item_id":"msg_Z","text":"say hi"}"#,
        ];
        for event in events {
            assert_eq!(apply(&mut ex, event), Flow::Continue);
        }
        let completed = r#"{"type":"response.completed","response":{"id":"resp_6","object":"response","created_at":1796701106,"status":"completed","model":"gemma-3-270m","output":[],"usage":{"input_tokens":11,"output_tokens":5,"total_tokens":16,"input_tokens_details":{"cached_tokens":6}}},"timings":{"cache_n":6,"prompt_n":5}}"#;
        assert_eq!(apply(&mut ex, completed), Flow::Done);
        assert_eq!(ex.text, "say hi");
        assert_eq!((ex.chunk_times.len(), ex.first_answer), (2, Some(0)));
        assert_eq!(
            ex.usage,
            Some(Usage {
                prompt_tokens: 11,
                completion_tokens: 5,
                cached_tokens: Some(6),
            })
        );
        assert!(ex.complete && ex.error.is_none());
    }

    #[test]
    fn reasoning_comes_before_the_answer_and_tool_arguments_are_the_answer() {
        let mut ex = Exchange::new(Instant::now());
        apply(
            &mut ex,
            r#"{"type":"response.reasoning_summary_text.delta","delta":"plan"}"#,
        );
        apply(
            &mut ex,
            r#"{"type":"response.reasoning_text.delta","delta":" more"}"#,
        );
        assert_eq!(ex.first_answer, None);
        apply(
            &mut ex,
            r#"{"type":"response.function_call_arguments.delta","delta":"{\"city\":"}"#,
        );
        assert_eq!(ex.first_answer, Some(2));
        assert_eq!(ex.text, "plan more{\"city\":");
    }

    #[test]
    fn the_type_field_names_the_event_else_the_sse_name_does() {
        let mut ex = Exchange::new(Instant::now());
        let mut observe = |_: &str, _: PieceKind, _: Instant| {};
        let mut fold = EventFold::new(&mut ex, &mut observe, Instant::now());
        Responses.on_event("response.output_text.delta", r#"{"delta":"x"}"#, &mut fold);
        drop(fold);
        assert_eq!(ex.text, "x");
    }

    #[test]
    fn an_answer_cut_at_max_output_tokens_is_complete_other_incompletes_fail() {
        let mut ex = Exchange::new(Instant::now());
        apply(
            &mut ex,
            r#"{"type":"response.output_text.delta","delta":"a"}"#,
        );
        let capped = r#"{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":3,"output_tokens":1}}}"#;
        assert_eq!(apply(&mut ex, capped), Flow::Done);
        assert_eq!(ex.finish_reason.as_deref(), Some("length"));
        assert!(ex.complete && ex.error.is_none());

        let mut ex = Exchange::new(Instant::now());
        let filtered = r#"{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"content_filter"}}}"#;
        assert_eq!(apply(&mut ex, filtered), Flow::Failed);
        let error = ex.error.unwrap();
        assert_eq!(error.kind, ErrorKind::ServerError);
        assert!(
            error.message.contains("content_filter"),
            "{}",
            error.message
        );
    }

    #[test]
    fn failed_responses_and_error_events_are_server_errors() {
        let mut ex = Exchange::new(Instant::now());
        let failed = r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"boom"}}}"#;
        assert_eq!(apply(&mut ex, failed), Flow::Failed);
        let error = ex.error.unwrap();
        assert_eq!(error.kind, ErrorKind::ServerError);
        assert!(error.message.contains("boom"), "{}", error.message);

        let mut ex = Exchange::new(Instant::now());
        let event =
            r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null}"#;
        assert_eq!(apply(&mut ex, event), Flow::Failed);
        let error = ex.error.unwrap();
        assert_eq!(error.kind, ErrorKind::ServerError);
        assert!(
            error.message.contains("rate_limit_exceeded: slow down"),
            "{}",
            error.message
        );

        let mut ex = Exchange::new(Instant::now());
        assert_eq!(
            apply(&mut ex, r#"{"type":"response.output_text.delta","#),
            Flow::Failed
        );
        assert_eq!(ex.error.unwrap().kind, ErrorKind::Malformed);
    }

    #[test]
    fn a_stream_that_ends_before_completed_is_cut() {
        let mut ex = Exchange::new(Instant::now());
        apply(
            &mut ex,
            r#"{"type":"response.output_text.delta","delta":"a"}"#,
        );
        Responses.on_stream_end(&mut ex);
        assert_eq!(ex.error.unwrap().kind, ErrorKind::StreamReset);
    }

    #[test]
    fn a_whole_response_is_read_in_the_order_of_its_items() {
        let mut ex = Exchange::new(Instant::now());
        super::super::fold_body(
            &Responses,
            &mut ex,
            r#"{"status":"completed","output":[{"type":"reasoning","summary":[{"type":"summary_text","text":"hm "}]},{"type":"message","content":[{"type":"output_text","text":"Say hi"}]}],"usage":{"input_tokens":11,"output_tokens":5,"input_tokens_details":{"cached_tokens":6}}}"#,
        );
        assert_eq!(ex.text, "hm Say hi");
        assert_eq!(ex.usage.map(|u| u.completion_tokens), Some(5));
        assert!(ex.complete && ex.error.is_none());
    }
}
