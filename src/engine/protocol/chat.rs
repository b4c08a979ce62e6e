//! `POST /v1/chat/completions`: the prompt as one user message; the answer
//! in OpenAI's chunks (see [`super::openai`]).

use serde::Serialize;

use super::openai::{self, StreamOptions};
use super::{EventFold, Exchange, Flow, Prompt, Protocol};

#[derive(Debug)]
pub struct Chat;

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: [Message<'a>; 1],
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

impl Protocol for Chat {
    fn route(&self) -> &'static str {
        "/chat/completions"
    }

    fn body(&self, p: &Prompt<'_>) -> Vec<u8> {
        serde_json::to_vec(&Body {
            model: p.model,
            messages: [Message {
                role: "user",
                content: p.text,
            }],
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
