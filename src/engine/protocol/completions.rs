//! `POST /v1/completions`: the prompt as it is; the answer in OpenAI's
//! chunks, text in `choices[0].text` (see [`super::openai`]).

use serde::Serialize;

use super::openai::{self, StreamOptions};
use super::{EventFold, Exchange, Flow, Prompt, Protocol};

#[derive(Debug)]
pub struct Completions;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    prompt: &'a str,
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

impl Protocol for Completions {
    fn route(&self) -> &'static str {
        "/completions"
    }

    fn body(&self, p: &Prompt<'_>) -> Vec<u8> {
        serde_json::to_vec(&Body {
            model: p.model,
            prompt: p.text,
            max_tokens: p.max_tokens,
            temperature: p.temperature,
            ignore_eos: p.ignore_eos,
            stream: true,
            stream_options: StreamOptions::WITH_USAGE,
        })
        .unwrap_or_default()
    }

    fn on_event(&self, kind: &str, data: &str, fold: &mut EventFold<'_, '_>) -> Flow {
        openai::on_event(kind, data, fold)
    }

    fn on_stream_end(&self, ex: &mut Exchange) {
        openai::on_stream_end(ex);
    }

    fn on_body(&self, body: &str, fold: &mut EventFold<'_, '_>) {
        openai::on_body(body, fold);
    }
}
