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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn read(body: &str) -> Exchange {
        let mut ex = Exchange::new(Instant::now());
        super::super::fold_body(&Embeddings, &mut ex, body);
        ex
    }

    #[test]
    fn a_batch_is_one_input_list() {
        let more = [
            std::sync::Arc::from("second"),
            std::sync::Arc::from("third"),
        ];
        let none = serde_json::Map::new();
        let body = Embeddings.body(&Prompt {
            model: "m",
            system: Some("ignored: embeddings embed the prompts alone"),
            history: &[],
            text: "first",
            more: &more,
            max_tokens: None,
            temperature: None,
            ignore_eos: false,
            extra: &none,
        });
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"model":"m","input":["first","second","third"]}"#
        );
    }

    /// llama.cpp (b11434, `--embeddings`)'s answer, its vectors cut short.
    #[test]
    fn a_recorded_answer_is_complete_with_its_count_and_no_token() {
        let ex = read(
            r#"{"model":"gemma-3-270m","object":"list","usage":{"prompt_tokens":6,"total_tokens":6},"data":[{"embedding":[0.1,-0.2],"index":0,"object":"embedding"},{"embedding":[0.3,0.4],"index":1,"object":"embedding"}]}"#,
        );
        assert!(ex.complete && ex.error.is_none(), "{:?}", ex.error);
        assert_eq!(ex.embedded, Some(2));
        assert_eq!(ex.usage.map(|u| u.prompt_tokens), Some(6));
        assert!(ex.chunk_times.is_empty() && ex.first_answer.is_none());
    }

    #[test]
    fn errors_and_other_bodies_fail_as_their_kinds() {
        let error =
            read(r#"{"error":{"code":501,"message":"This server does not support embeddings"}}"#);
        assert_eq!(error.error.map(|e| e.kind), Some(ErrorKind::ServerError));
        let chat = read(r#"{"choices":[{"message":{"content":"hi"}}]}"#);
        assert_eq!(chat.error.map(|e| e.kind), Some(ErrorKind::Malformed));
        let cut = read(r#"{"object":"list","data":[{"embedding":[0.1,"#);
        assert_eq!(cut.error.map(|e| e.kind), Some(ErrorKind::Malformed));
    }
}
