//! Parsing of the simulator's request bodies: only the fields that change
//! what it does (model, prompt size, stream flags, output length). Unknown
//! fields are ignored, like a lenient real server.

use serde::Deserialize;

use crate::workload::estimate_tokens;

/// Which route a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Chat,
    Completions,
    /// OpenAI's Responses API.
    Responses,
    /// Anthropic's Messages API.
    Messages,
    /// OpenAI's embeddings API.
    Embeddings,
}

/// What the simulator needs from one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimRequest {
    pub model: String,
    pub prompt_tokens: u32,
    /// What the count is taken from: the text (or the token ids, four
    /// bytes each), the key of the prefix cache.
    pub prompt_text: Vec<u8>,
    pub stream: bool,
    pub include_usage: bool,
    /// `max_tokens`, or else `max_completion_tokens`.
    pub max_tokens: Option<u32>,
    /// Texts to embed (an embeddings request; 1 for the others).
    pub inputs: u32,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// The fields both routes share.
#[derive(Deserialize)]
struct Common {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct ChatBody {
    messages: Vec<Message>,
    #[serde(flatten)]
    common: Common,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: Option<String>,
}

/// `/v1/responses`: `instructions`, and `input` as text or messages.
#[derive(Deserialize)]
struct ResponsesBody {
    #[serde(default)]
    instructions: Option<String>,
    input: ResponsesInput,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(flatten)]
    common: Common,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ResponsesInput {
    Text(String),
    Items(Vec<Message>),
}

/// `/v1/embeddings`: `input` as a completion's prompt is (text, texts,
/// token ids or batches of them).
#[derive(Deserialize)]
struct EmbeddingsBody {
    input: Prompt,
    #[serde(flatten)]
    common: Common,
}

/// `/v1/messages`: `system` as text or blocks, and the messages.
#[derive(Deserialize)]
struct MessagesBody {
    #[serde(default)]
    system: Option<Content>,
    messages: Vec<Message>,
    #[serde(flatten)]
    common: Common,
}

#[derive(Deserialize)]
struct CompletionBody {
    prompt: Prompt,
    #[serde(flatten)]
    common: Common,
}

/// `/v1/completions` accepts text, a batch of texts, or token ids.
#[derive(Deserialize)]
#[serde(untagged)]
enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u64>),
    TokenBatches(Vec<Vec<u64>>),
}

/// Parses a request body; the error is the message for a 400 answer.
pub(crate) fn parse(api: Api, body: &[u8]) -> Result<SimRequest, String> {
    let invalid = |e: serde_json::Error| format!("invalid request body: {e}");
    let text = |text: String| (estimate_tokens(&text), text.into_bytes());
    let mut inputs = 1;
    // The Responses and Messages APIs always report their usage.
    let (prompt_tokens, prompt_text, common, always_usage, max_output_tokens) = match api {
        Api::Chat => {
            let chat: ChatBody = serde_json::from_slice(body).map_err(invalid)?;
            let (n, bytes) = text(chat_prompt_text(None, &chat.messages));
            (n, bytes, chat.common, false, None)
        }
        Api::Completions => {
            let c: CompletionBody = serde_json::from_slice(body).map_err(invalid)?;
            let (n, bytes) = (prompt_tokens(&c.prompt), prompt_bytes(&c.prompt));
            (n, bytes, c.common, false, None)
        }
        Api::Responses => {
            let r: ResponsesBody = serde_json::from_slice(body).map_err(invalid)?;
            let instructions = r.instructions.map(Content::Text);
            let items = match r.input {
                ResponsesInput::Text(t) => vec![Message {
                    content: Some(Content::Text(t)),
                }],
                ResponsesInput::Items(items) => items,
            };
            let (n, bytes) = text(chat_prompt_text(instructions.as_ref(), &items));
            (n, bytes, r.common, true, r.max_output_tokens)
        }
        Api::Messages => {
            let m: MessagesBody = serde_json::from_slice(body).map_err(invalid)?;
            let (n, bytes) = text(chat_prompt_text(m.system.as_ref(), &m.messages));
            (n, bytes, m.common, true, None)
        }
        Api::Embeddings => {
            let e: EmbeddingsBody = serde_json::from_slice(body).map_err(invalid)?;
            inputs = match &e.input {
                Prompt::Texts(texts) => texts.len(),
                Prompt::TokenBatches(batches) => batches.len(),
                Prompt::Text(_) | Prompt::Tokens(_) => 1,
            };
            let (n, bytes) = (prompt_tokens(&e.input), prompt_bytes(&e.input));
            (n, bytes, e.common, false, None)
        }
    };
    Ok(SimRequest {
        model: common.model.unwrap_or_else(|| "sim".to_owned()),
        prompt_tokens,
        prompt_text,
        // Embeddings answer whole, whatever the request asks.
        stream: api != Api::Embeddings && common.stream.unwrap_or(false),
        include_usage: always_usage
            || common
                .stream_options
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
        max_tokens: max_output_tokens
            .or(common.max_tokens)
            .or(common.max_completion_tokens),
        inputs: u32::try_from(inputs).unwrap_or(u32::MAX),
    })
}

/// Every message's text, concatenated: what the prompt count is estimated
/// from and what the prefix cache keys. A conversation's earlier answers
/// are prompt too, as real servers count them (llama.cpp and vLLM render
/// the whole history through the chat template).
fn chat_prompt_text(system: Option<&Content>, messages: &[Message]) -> String {
    let mut text = String::new();
    let contents = system
        .into_iter()
        .chain(messages.iter().filter_map(|m| m.content.as_ref()));
    for content in contents {
        match content {
            Content::Text(t) => text.push_str(t),
            Content::Parts(parts) => {
                for t in parts.iter().filter_map(|p| p.text.as_deref()) {
                    text.push_str(t);
                }
            }
        }
    }
    text
}

/// A completions prompt as the prefix cache keys it: its text, or its
/// token ids at four bytes each (a block of 64 bytes is 16 tokens either way).
fn prompt_bytes(prompt: &Prompt) -> Vec<u8> {
    let ids = |ids: &mut dyn Iterator<Item = &u64>| -> Vec<u8> {
        ids.flat_map(|&id| u32::try_from(id).unwrap_or(u32::MAX).to_le_bytes())
            .collect()
    };
    match prompt {
        Prompt::Text(t) => t.as_bytes().to_vec(),
        Prompt::Texts(ts) => ts.concat().into_bytes(),
        Prompt::Tokens(t) => ids(&mut t.iter()),
        Prompt::TokenBatches(b) => ids(&mut b.iter().flatten()),
    }
}

fn prompt_tokens(prompt: &Prompt) -> u32 {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match prompt {
        Prompt::Text(t) => estimate_tokens(t),
        Prompt::Texts(ts) => ts
            .iter()
            .map(|t| estimate_tokens(t))
            .fold(0, u32::saturating_add),
        Prompt::Tokens(ids) => count(ids.len()),
        Prompt::TokenBatches(batches) => count(batches.iter().map(Vec::len).sum()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_counts_every_message_and_ignores_unknown_fields() {
        let body = br#"{"model":"m","messages":[
            {"role":"system","content":"abcd"},
            {"role":"assistant","content":"an earlier answer"},
            {"role":"user","content":[{"type":"text","text":"efgh"},{"type":"image_url","image_url":{}}]}
        ],"stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":7,"temperature":0.5,"whatever":[1]}"#;
        let r = parse(Api::Chat, body).unwrap();
        assert_eq!(r.model, "m");
        assert_eq!(
            r.prompt_tokens,
            estimate_tokens("abcdan earlier answerefgh")
        );
        assert!(r.stream && r.include_usage);
        assert_eq!(r.max_tokens, Some(7));
    }

    #[test]
    fn completions_accept_text_batches_and_token_ids() {
        let r = parse(
            Api::Completions,
            br#"{"model":"m","prompt":"hello world","max_tokens":3}"#,
        )
        .unwrap();
        assert_eq!(
            (r.prompt_tokens, r.max_tokens, r.stream),
            (estimate_tokens("hello world"), Some(3), false)
        );
        // A batch of texts counts each text as its own prompt.
        let r = parse(Api::Completions, br#"{"prompt":["ab","cd"]}"#).unwrap();
        assert_eq!((r.model.as_str(), r.prompt_tokens), ("sim", 2));
        let r = parse(
            Api::Embeddings,
            br#"{"input":["ab","cd","ef"],"stream":true}"#,
        )
        .unwrap();
        assert_eq!((r.inputs, r.prompt_tokens, r.stream), (3, 3, false));
        let r = parse(Api::Completions, br#"{"prompt":[1,2,3]}"#).unwrap();
        assert_eq!(r.prompt_tokens, 3);
    }

    #[test]
    fn bad_bodies_are_rejected_with_a_reason() {
        assert!(
            parse(Api::Chat, b"{not json")
                .unwrap_err()
                .starts_with("invalid request body")
        );
        assert!(
            parse(Api::Chat, br#"{"model":"m"}"#)
                .unwrap_err()
                .contains("messages")
        );
        assert!(
            parse(Api::Completions, br#"{"model":"m"}"#)
                .unwrap_err()
                .contains("prompt")
        );
    }
}
