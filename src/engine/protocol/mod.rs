//! Request protocols: how a prompt becomes an HTTP request, and what each
//! event of the streamed answer (or a whole body) says, reported to an
//! [`EventFold`]. The client and the drivers never ask which protocol they
//! speak. Adding one is a file here implementing [`Protocol`], its variant
//! of `config::EndpointKind` (with its path), and its line in [`of`].

mod anthropic;
mod chat;
mod chunk;
mod completions;
mod embeddings;
mod openai;
mod responses;

use std::fmt::Debug;

use crate::config::EndpointKind;
pub use crate::engine::stream::{EventFold, Exchange};
use crate::metrics::ErrorKind;
pub use crate::workload::Turn;

/// What a prompt is sent with: the engine's settings for one request.
#[derive(Debug, Clone, Copy)]
pub struct Prompt<'a> {
    pub model: &'a str,
    /// The system message (prepended to a completion's prompt).
    pub system: Option<&'a str>,
    /// The conversation so far: earlier turns, answered.
    pub history: &'a [Turn],
    /// The new user message.
    pub text: &'a str,
    /// A batch's other inputs (embeddings).
    pub more: &'a [std::sync::Arc<str>],
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    /// vLLM and SGLang's extension: generate `max_tokens` whatever the model says.
    pub ignore_eos: bool,
    /// Keys added to the body as they are (validated not to be the
    /// protocol's own).
    pub extra: &'a serde_json::Map<String, serde_json::Value>,
}

/// One message of a conversation, as chat, the Responses API and the
/// Messages API all write it.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

/// The conversation a prompt is: `system` (when given) as a system message,
/// the turns so far, then the prompt as the last user message.
pub(crate) fn messages<'a>(system: Option<&'a str>, p: &Prompt<'a>) -> Vec<Message<'a>> {
    let mut messages = Vec::with_capacity(2 + 2 * p.history.len());
    if let Some(system) = system {
        messages.push(Message {
            role: "system",
            content: system,
        });
    }
    for turn in p.history {
        messages.push(Message {
            role: "user",
            content: &turn.user,
        });
        messages.push(Message {
            role: "assistant",
            content: &turn.answer,
        });
    }
    messages.push(Message {
        role: "user",
        content: p.text,
    });
    messages
}

/// One typed event's JSON; `None` when it is not JSON, and the request
/// failed as malformed.
pub(crate) fn event_json<'a, T: serde::Deserialize<'a>>(
    data: &'a str,
    fold: &mut EventFold<'_, '_>,
) -> Option<T> {
    match serde_json::from_str(data) {
        Ok(event) => Some(event),
        Err(e) => {
            fold.fail(
                ErrorKind::Malformed,
                format!(
                    "invalid JSON in stream ({e}): {}",
                    crate::engine::stream::clip(data, 200)
                ),
            );
            None
        }
    }
}

/// What the reader does after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read on.
    Continue,
    /// The answer is complete: the rest of the body is read outside the timing.
    Done,
    /// The request failed: stop reading.
    Failed,
}

/// One way of asking a server for an answer.
pub trait Protocol: Debug + Send + Sync {
    /// The route under the API's base, e.g. `/chat/completions` (the model
    /// list, where connections are opened before the race, is its sibling
    /// `/models`).
    fn route(&self) -> &'static str;

    /// The JSON body asking for `prompt`, streamed.
    fn body(&self, prompt: &Prompt<'_>) -> Vec<u8>;

    /// One SSE event: its `event:` name (empty when it has none) and its data.
    fn on_event(&self, kind: &str, data: &str, fold: &mut EventFold<'_, '_>) -> Flow;

    /// The body ended before the protocol's end event: complete, or failed.
    fn on_stream_end(&self, ex: &mut Exchange);

    /// A whole JSON body: a server that did not stream.
    fn on_body(&self, body: &str, fold: &mut EventFold<'_, '_>);

    /// Headers every request carries (an engine's own `headers` replace them).
    fn headers(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Whether answers are generated text, timed token by token (else one
    /// whole body, as embeddings are: no token, and no empty answer).
    fn generates(&self) -> bool {
        true
    }

    /// The header that carries the API key `key`, and its value.
    fn key_header(&self, key: &str) -> (&'static str, String) {
        ("authorization", format!("Bearer {key}"))
    }
}

/// The protocol of an endpoint kind.
#[must_use]
pub fn of(endpoint: EndpointKind) -> &'static dyn Protocol {
    match endpoint {
        EndpointKind::Chat => &chat::Chat,
        EndpointKind::Completions => &completions::Completions,
        EndpointKind::Responses => &responses::Responses,
        EndpointKind::Anthropic => &anthropic::Anthropic,
        EndpointKind::Embeddings => &embeddings::Embeddings,
    }
}

/// Folds one event of `protocol` as the reader does, timed now.
#[cfg(test)]
pub(crate) fn fold_event(protocol: &dyn Protocol, ex: &mut Exchange, data: &str) -> Flow {
    let mut observe = |_: &str, _: crate::engine::stream::PieceKind, _: tokio::time::Instant| {};
    let mut fold = EventFold::new(ex, &mut observe, tokio::time::Instant::now());
    protocol.on_event("", data, &mut fold)
}

/// Folds a whole body of `protocol` as the reader does, timed now.
#[cfg(test)]
pub(crate) fn fold_body(protocol: &dyn Protocol, ex: &mut Exchange, body: &str) {
    let mut observe = |_: &str, _: crate::engine::stream::PieceKind, _: tokio::time::Instant| {};
    let mut fold = EventFold::new(ex, &mut observe, tokio::time::Instant::now());
    protocol.on_body(body, &mut fold);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_the_json_servers_expect() {
        let none = serde_json::Map::new();
        let prompt = Prompt {
            model: "m",
            system: None,
            history: &[],
            text: "say \"hi\"",
            more: &[],
            max_tokens: Some(8),
            temperature: None,
            ignore_eos: false,
            extra: &none,
        };
        let body = |kind, p: &Prompt<'_>| String::from_utf8(of(kind).body(p)).unwrap();
        assert_eq!(
            body(EndpointKind::Chat, &prompt),
            r#"{"model":"m","messages":[{"role":"user","content":"say \"hi\""}],"max_tokens":8,"stream":true,"stream_options":{"include_usage":true}}"#
        );
        let tuned = Prompt {
            max_tokens: None,
            temperature: Some(0.5),
            ignore_eos: true,
            ..prompt
        };
        assert_eq!(
            body(EndpointKind::Completions, &tuned),
            r#"{"model":"m","prompt":"say \"hi\"","temperature":0.5,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}"#
        );
        let history = [Turn {
            user: "q".into(),
            answer: "a".into(),
        }];
        let talk = Prompt {
            system: Some("be brief"),
            history: &history,
            ..prompt
        };
        assert_eq!(
            body(EndpointKind::Responses, &talk),
            r#"{"model":"m","instructions":"be brief","input":[{"role":"user","content":"q"},{"role":"assistant","content":"a"},{"role":"user","content":"say \"hi\""}],"max_output_tokens":8,"stream":true}"#
        );
        assert_eq!(
            body(EndpointKind::Anthropic, &talk),
            r#"{"model":"m","system":"be brief","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"},{"role":"user","content":"say \"hi\""}],"max_tokens":8,"stream":true}"#
        );
        // The Messages API requires max_tokens.
        assert!(body(EndpointKind::Anthropic, &tuned).contains(r#""max_tokens":4096,"#));
    }
}
