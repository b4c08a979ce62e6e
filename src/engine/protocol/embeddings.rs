//! `POST /v1/embeddings`: the request's prompts as `input` (a batch of
//! `inputs_per_request`), answered with one JSON body, not streamed. A
//! success is a body with one embedding per input; its latency is E2E,
//! its input tokens `usage.prompt_tokens`. No token is generated: TTFT,
//! TPOT and output tokens do not apply.

use serde::{Deserialize, Serialize};

use super::chunk::lenient_number;
use super::{EventFold, Exchange, Flow, Prompt, Protocol};
use crate::engine::stream::{ERROR_BODY_LIMIT, clip};
use crate::metrics::ErrorKind;

#[derive(Debug)]
pub struct Embeddings;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    input: Vec<&'a str>,
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    data: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    usage: Option<UsageDto>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct UsageDto {
    #[serde(default, deserialize_with = "lenient_number")]
    prompt_tokens: Option<f64>,
}

impl Protocol for Embeddings {
    fn route(&self) -> &'static str {
        "/embeddings"
    }

    fn body(&self, p: &Prompt<'_>) -> Vec<u8> {
        let input = std::iter::once(p.text)
            .chain(p.more.iter().map(AsRef::as_ref))
            .collect();
        serde_json::to_vec(&Body {
            model: p.model,
            input,
            extra: p.extra,
        })
        .unwrap_or_default()
    }

    /// An embeddings server does not stream; one that sends events anyway
    /// is not speaking this API.
    fn on_event(&self, _kind: &str, data: &str, fold: &mut EventFold<'_, '_>) -> Flow {
        fold.fail(
            ErrorKind::Malformed,
            format!(
                "an event stream, not an embeddings answer: {}",
                clip(data, 200)
            ),
        );
        Flow::Failed
    }

    fn on_stream_end(&self, ex: &mut Exchange) {
        ex.fail(
            ErrorKind::Malformed,
            "an empty event stream, not an embeddings answer",
        );
    }

    fn on_body(&self, body: &str, fold: &mut EventFold<'_, '_>) {
        let answer = match serde_json::from_str::<Answer>(body) {
            Ok(answer) => answer,
            Err(_) => {
                fold.fail(
                    ErrorKind::Malformed,
                    format!("not an embeddings answer: {}", clip(body, 200)),
                );
                return;
            }
        };
        if let Some(error) = answer.error.filter(|e| !e.is_null()) {
            fold.fail(
                ErrorKind::ServerError,
                format!(
                    "error answer: {}",
                    clip(&error.to_string(), ERROR_BODY_LIMIT)
                ),
            );
            return;
        }
        let Some(data) = answer.data else {
            fold.fail(
                ErrorKind::Malformed,
                format!("no data in the embeddings answer: {}", clip(body, 200)),
            );
            return;
        };
        if let Some(usage) = answer.usage {
            fold.usage(usage.prompt_tokens, None, None);
        }
        fold.embedded(data.len());
        fold.complete();
    }

    fn generates(&self) -> bool {
        false
    }
}
