//! OpenAI's streamed answer, shared by chat and completions: `data:` events
//! of one JSON chunk each, `[DONE]` at the end. Lenient where real servers
//! differ harmlessly, strict where a difference changes the numbers:
//!
//! - absent and `null` mean the same; unknown fields are ignored; only the
//!   first of `choices` counts;
//! - `reasoning_content` and `reasoning` (proxies send either, some both)
//!   are reasoning; `content`, completions' `text` and `tool_calls` are the
//!   answer;
//! - `finish_reason: ""` is not a finish; an `{"error": …}` chunk and an SSE
//!   `event: error` (TGI, some proxies) are server errors;
//! - a stream that ends without `[DONE]` is complete only with a finish
//!   reason.

use serde::Serialize;

use super::chunk::ChunkDto;
use super::{EventFold, Exchange, Flow, Prompt};
use crate::engine::stream::{ERROR_BODY_LIMIT, PieceKind, clip};
use crate::metrics::ErrorKind;

/// A streamed request's body: the model, what the route takes as its
/// input (chat's messages, completions' prompt), and the settings.
#[derive(Serialize)]
pub(super) struct Body<'a, I: Serialize> {
    model: &'a str,
    #[serde(flatten)]
    input: I,
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    /// Only sent when asked for: strict servers reject unknown fields.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    stream: bool,
    stream_options: StreamOptions,
}

/// `stream_options`: ask for the usage report at the end of the stream.
#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// The JSON of `prompt` with `input` in its place.
pub(super) fn body<I: Serialize>(prompt: &Prompt<'_>, input: I) -> Vec<u8> {
    serde_json::to_vec(&Body {
        model: prompt.model,
        input,
        extra: prompt.extra,
        max_tokens: prompt.max_tokens,
        temperature: prompt.temperature,
        ignore_eos: prompt.ignore_eos,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
    })
    .unwrap_or_default()
}

pub(super) fn on_event(kind: &str, data: &str, fold: &mut EventFold<'_, '_>) -> Flow {
    let data = data.trim();
    if kind == "error" {
        fold.fail(
            ErrorKind::ServerError,
            format!("error event in stream: {}", clip(data, ERROR_BODY_LIMIT)),
        );
        return Flow::Failed;
    }
    if data == "[DONE]" {
        fold.complete();
        return Flow::Done;
    }
    if data.is_empty() || decode_chunk(data, fold) {
        Flow::Continue
    } else {
        Flow::Failed
    }
}

pub(super) fn on_stream_end(ex: &mut Exchange) {
    if ex.finish_reason.is_none() {
        ex.fail(ErrorKind::StreamReset, "the stream ended before [DONE]");
    } else {
        ex.complete = true;
    }
}

/// A server that ignored `stream: true` and answered with one JSON body: the
/// whole answer is one chunk, timed at its arrival.
pub(super) fn on_body(body: &str, fold: &mut EventFold<'_, '_>) {
    if !decode_chunk(body, fold) {
        return;
    }
    // Output so far is this body's (its token time is taken when the fold ends).
    let ex = fold.exchange();
    if ex.finish_reason.is_none() && ex.text.is_empty() {
        fold.fail(
            ErrorKind::Malformed,
            format!("not an OpenAI completion: {}", clip(body, 200)),
        );
    } else {
        fold.complete();
    }
}

/// Folds one JSON chunk. False when the request has failed.
fn decode_chunk(data: &str, fold: &mut EventFold<'_, '_>) -> bool {
    let mut chunk = ChunkDto::default();
    if let Err(e) = chunk.read(data) {
        fold.fail(
            ErrorKind::Malformed,
            format!("invalid JSON in stream ({e}): {}", clip(data, 200)),
        );
        return false;
    }
    if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
        fold.fail(
            ErrorKind::ServerError,
            format!(
                "error in stream: {}",
                clip(&err.to_string(), ERROR_BODY_LIMIT)
            ),
        );
        return false;
    }
    // llama.cpp's `timings.cache_n` stands in for a usage without the
    // cached count (older builds).
    let cache_n = chunk.timings.as_ref().and_then(|t| t.cache_n);
    match &chunk.usage {
        Some(usage) => fold.usage(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens().or(cache_n),
        ),
        None if cache_n.is_some() => fold.usage(None, None, cache_n),
        None => {}
    }
    if let Some(choice) = &chunk.choice {
        for delta in [choice.delta.as_ref(), choice.message.as_deref()]
            .into_iter()
            .flatten()
        {
            if let Some(reasoning) = delta.reasoning() {
                fold.piece(reasoning, PieceKind::Reasoning);
            }
            for piece in delta.answer_pieces() {
                fold.piece(piece, PieceKind::Answer);
            }
        }
        if let Some(text) = choice.text.as_deref() {
            fold.piece(text, PieceKind::Answer);
        }
        if let Some(reason) = choice.finish_reason.as_deref() {
            fold.finish(reason);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stream::Usage;
    use tokio::time::Instant;

    fn exchange() -> Exchange {
        Exchange::new(Instant::now())
    }

    /// Folds one chunk as the reader does: one event, timed now.
    fn apply(ex: &mut Exchange, data: &str) -> bool {
        let mut observe = |_: &str, _: PieceKind, _: Instant| {};
        let mut fold = EventFold::new(ex, &mut observe, Instant::now());
        decode_chunk(data, &mut fold)
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
                completion_tokens: 3,
                cached_tokens: None,
            })
        );
        assert_eq!(ex.finish_reason.as_deref(), Some("length"));
    }

    /// The cached prompt tokens in each shape servers send them, as
    /// recorded from their streams.
    #[test]
    fn cached_prompt_tokens_are_read_in_every_shape() {
        let cached = |chunks: &[&str]| {
            let mut ex = exchange();
            for chunk in chunks {
                assert!(apply(&mut ex, chunk));
            }
            ex.usage.and_then(|u| u.cached_tokens)
        };
        // llama.cpp (b11434): both `prompt_tokens_details` and `timings`.
        let llama = r#"{"choices":[],"model":"gemma-3-270m","object":"chat.completion.chunk","usage":{"completion_tokens":4,"prompt_tokens":35,"total_tokens":39,"prompt_tokens_details":{"cached_tokens":30}},"timings":{"cache_n":30,"prompt_n":5,"prompt_ms":44.131,"predicted_n":4}}"#;
        assert_eq!(cached(&[llama]), Some(30));
        // vLLM / OpenAI: `prompt_tokens_details` only.
        let vllm = r#"{"id":"cmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1200,"total_tokens":1328,"completion_tokens":128,"prompt_tokens_details":{"cached_tokens":1024}}}"#;
        assert_eq!(cached(&[vllm]), Some(1024));
        // Anthropic's name, as LiteLLM passes it through.
        let litellm = r#"{"choices":[],"usage":{"prompt_tokens":2100,"completion_tokens":40,"cache_read_input_tokens":2048,"cache_creation_input_tokens":0}}"#;
        assert_eq!(cached(&[litellm]), Some(2048));
        // An older llama.cpp: `timings.cache_n` alone.
        let old_llama = r#"{"choices":[],"usage":{"completion_tokens":4,"prompt_tokens":35},"timings":{"cache_n":12,"prompt_n":23}}"#;
        assert_eq!(cached(&[old_llama]), Some(12));
        // Reported zero is a miss, not silence; silence is none.
        let miss = r#"{"choices":[],"usage":{"prompt_tokens":35,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":0}}}"#;
        assert_eq!(cached(&[miss]), Some(0));
        let silent = r#"{"choices":[],"usage":{"prompt_tokens":35,"completion_tokens":4}}"#;
        assert_eq!(cached(&[silent]), None);
        // A proxy's all-zero report after the real one changes nothing.
        let zero = r#"{"choices":[],"usage":{"prompt_tokens":0,"completion_tokens":0,"prompt_tokens_details":{"cached_tokens":0}}}"#;
        assert_eq!(cached(&[llama, zero]), Some(30));
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
                completion_tokens: 4,
                cached_tokens: None,
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
