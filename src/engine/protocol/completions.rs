//! `POST /v1/completions`: the prompt as it is, after the system prompt and
//! the conversation so far (each text a paragraph of its own); the answer
//! in OpenAI's chunks, text in `choices[0].text` (see [`super::openai`]).

use serde::Serialize;

use super::openai;
use super::{EventFold, Exchange, Flow, Prompt, Protocol};

#[derive(Debug)]
pub struct Completions;

#[derive(Serialize)]
struct Text<'a> {
    prompt: std::borrow::Cow<'a, str>,
}

/// The texts before the prompt and the prompt, a blank line apart.
fn joined<'a>(p: &Prompt<'a>) -> std::borrow::Cow<'a, str> {
    if p.system.is_none() && p.history.is_empty() {
        return p.text.into();
    }
    let mut out = String::new();
    let before = p
        .system
        .into_iter()
        .chain(p.history.iter().flat_map(|t| [&*t.user, &*t.answer]));
    for part in before {
        out.push_str(part);
        out.push_str("\n\n");
    }
    out.push_str(p.text);
    out.into()
}

impl Protocol for Completions {
    fn route(&self) -> &'static str {
        "/completions"
    }

    fn body(&self, p: &Prompt<'_>) -> Vec<u8> {
        openai::body(p, Text { prompt: joined(p) })
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
