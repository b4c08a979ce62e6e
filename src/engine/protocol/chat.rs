//! `POST /v1/chat/completions`: the system message, the conversation so
//! far and the prompt as the last user message; the answer in OpenAI's
//! chunks (see [`super::openai`]).

use serde::Serialize;

use super::openai;
use super::{EventFold, Exchange, Flow, Prompt, Protocol};

#[derive(Debug)]
pub struct Chat;

#[derive(Serialize)]
struct Messages<'a> {
    messages: Vec<super::Message<'a>>,
}

impl Protocol for Chat {
    fn route(&self) -> &'static str {
        "/chat/completions"
    }

    fn body(&self, p: &Prompt<'_>) -> Vec<u8> {
        let messages = super::messages(p.system, p);
        openai::body(p, Messages { messages })
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
