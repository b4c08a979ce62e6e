//! The simulator's whole (not streamed) bodies, in each route's shape: an
//! answer, an error, and the `malformed` fault's cut-off answer.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::request::{Api, SimRequest};
use super::sse::PromptCount;

/// A whole answer of `n` tokens, `text`, as `api` gives it.
pub(super) fn whole_answer(
    api: Api,
    req: &SimRequest,
    seq: u64,
    text: String,
    prompt: PromptCount,
    n: u32,
) -> Response {
    let created = unix_now();
    let body = match api {
        Api::Chat => json!({
            "id": format!("chatcmpl-{seq}"),
            "object": "chat.completion",
            "created": created,
            "model": req.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}],
            "usage": usage_value(prompt, n),
        }),
        Api::Completions => json!({
            "id": format!("cmpl-{seq}"),
            "object": "text_completion",
            "created": created,
            "model": req.model,
            "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": "length"}],
            "usage": usage_value(prompt, n),
        }),
        Api::Responses => {
            let mut usage = json!({
                "input_tokens": prompt.tokens,
                "output_tokens": n,
                "total_tokens": u64::from(prompt.tokens) + u64::from(n),
            });
            if let Some(cached) = prompt.cached {
                usage["input_tokens_details"] = json!({ "cached_tokens": cached });
            }
            let capped = req.max_tokens == Some(n) && n > 0;
            json!({
                "id": format!("resp_{seq}"),
                "object": "response",
                "created_at": created,
                "status": if capped { "incomplete" } else { "completed" },
                "incomplete_details": if capped { json!({"reason": "max_output_tokens"}) } else { json!(null) },
                "model": req.model,
                "output": [{
                    "id": format!("msg_{seq}"),
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }],
                "usage": usage,
            })
        }
        Api::Embeddings => json!({
            "object": "list",
            "data": (0..req.inputs).map(|i| json!({
                "object": "embedding",
                "index": i,
                "embedding": embedding(seq, i),
            })).collect::<Vec<_>>(),
            "model": req.model,
            "usage": {"prompt_tokens": prompt.tokens, "total_tokens": prompt.tokens},
        }),
        Api::Messages => {
            let cached = prompt.cached.unwrap_or(0);
            json!({
                "id": format!("msg_{seq}"),
                "type": "message",
                "role": "assistant",
                "model": req.model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": if req.max_tokens == Some(n) { "max_tokens" } else { "end_turn" },
                "stop_sequence": null,
                "usage": {
                    "input_tokens": prompt.tokens - cached,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": cached,
                    "output_tokens": n,
                },
            })
        }
    };
    axum::Json(body).into_response()
}

/// Numbers in a simulated embedding.
const EMBEDDING_DIMENSIONS: u64 = 32;

/// A simulated embedding: unit-free numbers, the same for the same request
/// and input.
fn embedding(seq: u64, input: u32) -> Vec<f64> {
    (0..EMBEDDING_DIMENSIONS)
        .map(|d| {
            let mixed = seq
                .wrapping_mul(31)
                .wrapping_add(u64::from(input) * 7 + d * 13)
                % 2000;
            #[allow(clippy::cast_precision_loss)]
            let unit = mixed as f64 / 1000.0 - 1.0;
            unit
        })
        .collect()
}

/// A whole answer's `usage`: the counts, and the cached prompt tokens when
/// the server has a prefix cache.
fn usage_value(prompt: PromptCount, completion: u32) -> serde_json::Value {
    let mut usage = json!({
        "prompt_tokens": prompt.tokens,
        "completion_tokens": completion,
        "total_tokens": u64::from(prompt.tokens) + u64::from(completion),
    });
    if let Some(cached) = prompt.cached {
        usage["prompt_tokens_details"] = json!({ "cached_tokens": cached });
    }
    usage
}

/// An error answer in `api`'s shape. Anthropic's API says it is
/// overloaded with its own status, 529, where others send 503.
pub(super) fn error_response(api: Api, status: StatusCode, kind: &str, message: &str) -> Response {
    if api != Api::Messages {
        let body = json!({"error": {"message": message, "type": kind, "param": null, "code": status.as_u16()}});
        return (status, axum::Json(body)).into_response();
    }
    let (status, kind) = match status.as_u16() {
        400 => (status, "invalid_request_error"),
        429 => (status, "rate_limit_error"),
        503 => (
            StatusCode::from_u16(529).unwrap_or(status),
            "overloaded_error",
        ),
        _ => (status, "api_error"),
    };
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    (status, axum::Json(body)).into_response()
}

/// A whole answer cut off mid-JSON (the `malformed` fault).
pub(super) fn malformed_answer(api: Api) -> &'static str {
    match api {
        Api::Chat | Api::Completions => r#"{"choices":[{"message":{"content":"#,
        Api::Responses => r#"{"object":"response","status":"completed","output":[{"#,
        Api::Messages => r#"{"type":"message","content":[{"type":"text","text":"#,
        Api::Embeddings => r#"{"object":"list","data":[{"object":"embedding","embedding":[0.1,"#,
    }
}

/// Seconds since the Unix epoch, as answers stamp their creation.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
