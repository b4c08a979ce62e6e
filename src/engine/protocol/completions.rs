//! `POST /v1/completions`: the prompt as it is; the answer in OpenAI's
//! chunks, text in `choices[0].text` (see [`super::openai`]).

use serde::Serialize;

use super::openai;
use super::{EventFold, Exchange, Flow, Prompt, Protocol};

#[derive(Debug)]
pub struct Completions;

#[derive(Serialize)]
struct Text<'a> {
    prompt: &'a str,
}

impl Protocol for Completions {
    fn route(&self) -> &'static str {
        "/completions"
    }

    fn body(&self, p: &Prompt<'_>) -> Vec<u8> {
        openai::body(p, Text { prompt: p.text })
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
