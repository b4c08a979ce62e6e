//! `POST /v1/chat/completions`: the prompt as one user message; the answer
//! in OpenAI's chunks (see [`super::openai`]).

use serde::Serialize;

use super::openai;
use super::{EventFold, Exchange, Flow, Prompt, Protocol};

#[derive(Debug)]
pub struct Chat;

#[derive(Serialize)]
struct Messages<'a> {
    messages: [Message<'a>; 1],
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

impl Protocol for Chat {
    fn route(&self) -> &'static str {
        "/chat/completions"
    }

    fn body(&self, p: &Prompt<'_>) -> Vec<u8> {
        let content = p.text;
        openai::body(
            p,
            Messages {
                messages: [Message {
                    role: "user",
                    content,
                }],
            },
        )
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
