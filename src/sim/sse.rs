//! The simulator's OpenAI SSE framing: pre-rendered pieces so a token costs
//! a few byte copies, plus the [`Quirk`]s that copy how real servers and
//! proxies stream (zero usage, both reasoning names, tool calls, nulls, a
//! missing final blank line, ...).

use std::collections::BTreeSet;

use bytes::Bytes;

use super::request::Api;
use crate::config::Quirk;

pub(crate) const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";
pub(crate) const ERROR_EVENT: &[u8] = b"data: {\"error\":{\"message\":\"simulated server error\",\"type\":\"server_error\",\"code\":500}}\n\n";
/// An SSE error event, as TGI and some proxies send one mid-stream.
pub(crate) const ERROR_SSE_EVENT: &[u8] =
    b"event: error\ndata: {\"message\":\"simulated error event\",\"type\":\"server_error\"}\n\n";
const ZERO_USAGE: &str = r#""usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}"#;

/// What one output token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Reasoning,
    Answer,
}

/// The pieces of one response's SSE events. Only the model name comes from
/// the client; it is escaped once here. Words come from our own vocabulary
/// and need no escaping.
#[derive(Debug)]
pub(crate) struct SseFormat {
    api: Api,
    /// `data: {"id":..,"object":..,"created":..,"model":..,`
    head: String,
    quirks: BTreeSet<Quirk>,
}

impl SseFormat {
    #[cfg(test)]
    pub(crate) fn new(api: Api, seq: u64, created: u64, model: &str) -> Self {
        Self::with_quirks(api, seq, created, model, BTreeSet::new())
    }

    pub(crate) fn with_quirks(
        api: Api,
        seq: u64,
        created: u64,
        model: &str,
        quirks: BTreeSet<Quirk>,
    ) -> Self {
        let (id, object) = match api {
            Api::Chat => ("chatcmpl", "chat.completion.chunk"),
            _ => ("cmpl", "text_completion"),
        };
        let model = serde_json::Value::from(model).to_string();
        let head = format!(
            r#"data: {{"id":"{id}-{seq}","object":"{object}","created":{created},"model":{model},"#
        );
        SseFormat { api, head, quirks }
    }

    pub(crate) fn has(&self, quirk: Quirk) -> bool {
        self.quirks.contains(&quirk)
    }

    /// The role-only opening delta a chat server sends on admission.
    pub(crate) fn role_event(&self) -> Option<Bytes> {
        match self.api {
            Api::Chat => Some(Bytes::from(
                format!(
                    r#"{}"choices":[{{"index":0,"delta":{{"role":"assistant","content":""}},"finish_reason":null}}]}}"#,
                    self.head
                ) + "\n\n",
            )),
            _ => None,
        }
    }

    /// `finish_reason` of a chunk that does not finish.
    fn not_finished(&self) -> &'static str {
        if self.has(Quirk::EmptyFinishReason) {
            r#""finish_reason":"""#
        } else {
            r#""finish_reason":null"#
        }
    }

    /// One token's event. `usage` is set on the last token when the usage
    /// report rides on the finish chunk.
    pub(crate) fn push_token(
        &self,
        buf: &mut Vec<u8>,
        word: &str,
        kind: TokenKind,
        last: bool,
        usage: Option<(PromptCount, u32)>,
    ) {
        if self.quirks.is_empty() && kind == TokenKind::Answer && usage.is_none() {
            return self.push_plain_token(buf, word, last);
        }
        let finish = if last && !self.has(Quirk::NoFinishReason) {
            r#""finish_reason":"length""#
        } else {
            self.not_finished()
        };
        let nulls = self.has(Quirk::Nulls);
        let piece = match (self.api, kind) {
            (Api::Chat, TokenKind::Reasoning) if self.has(Quirk::BothReasoningNames) => {
                format!(r#""delta":{{"reasoning_content":" {word}","reasoning":" {word}"}}"#)
            }
            (Api::Chat, TokenKind::Reasoning) if nulls => {
                format!(
                    r#""delta":{{"content":null,"reasoning_content":" {word}","tool_calls":null}}"#
                )
            }
            (Api::Chat, TokenKind::Reasoning) => {
                format!(r#""delta":{{"reasoning_content":" {word}"}}"#)
            }
            (Api::Chat, TokenKind::Answer) if self.has(Quirk::ToolCalls) => format!(
                r#""delta":{{"tool_calls":[{{"index":0,"function":{{"arguments":" {word}"}}}}]}}"#
            ),
            (Api::Chat, TokenKind::Answer) if nulls => format!(
                r#""delta":{{"content":" {word}","reasoning_content":null,"tool_calls":null,"role":null}}"#
            ),
            (Api::Chat, TokenKind::Answer) => format!(r#""delta":{{"content":" {word}"}}"#),
            // Completions have no reasoning field: every token is text.
            (_, _) => format!(r#""text":" {word}","logprobs":null"#),
        };
        let usage = match usage {
            Some((prompt, completion)) => format!(",{}", usage_json(prompt, completion)),
            None if self.has(Quirk::ZeroUsage) => format!(",{ZERO_USAGE}"),
            None if nulls => r#","usage":null"#.to_owned(),
            None => String::new(),
        };
        let index = if nulls {
            r#""index":null"#
        } else {
            r#""index":0"#
        };
        buf.extend_from_slice(
            format!(
                "{}\"choices\":[{{{index},{piece},{finish}}}]{usage}}}\n\n",
                self.head
            )
            .as_bytes(),
        );
    }

    /// The common case, without any formatting machinery.
    fn push_plain_token(&self, buf: &mut Vec<u8>, word: &str, last: bool) {
        buf.extend_from_slice(self.head.as_bytes());
        buf.extend_from_slice(match self.api {
            Api::Chat => br#""choices":[{"index":0,"delta":{"content":" "#,
            _ => br#""choices":[{"index":0,"text":" "#,
        });
        buf.extend_from_slice(word.as_bytes());
        buf.extend_from_slice(match (self.api, last) {
            (Api::Chat, false) => b"\"},\"finish_reason\":null}]}\n\n",
            (Api::Chat, true) => b"\"},\"finish_reason\":\"length\"}]}\n\n",
            (_, false) => b"\",\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            (_, true) => b"\",\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n",
        });
    }

    /// A finish chunk with no output (what an empty answer ends with).
    pub(crate) fn push_empty_finish(&self, buf: &mut Vec<u8>) {
        let piece = match self.api {
            Api::Chat => r#""delta":{}"#,
            _ => r#""text":"""#,
        };
        buf.extend_from_slice(
            format!(
                "{}\"choices\":[{{\"index\":0,{piece},\"finish_reason\":\"stop\"}}]}}\n\n",
                self.head
            )
            .as_bytes(),
        );
    }

    /// The usage report, its own chunk.
    pub(crate) fn push_usage(&self, buf: &mut Vec<u8>, prompt: PromptCount, completion: u32) {
        let choices = if self.has(Quirk::UsageWithEmptyDelta) {
            r#"[{"index":0,"delta":{},"finish_reason":null}]"#
        } else {
            "[]"
        };
        buf.extend_from_slice(
            format!(
                "{}\"choices\":{choices},{}}}\n\n",
                self.head,
                usage_json(prompt, completion)
            )
            .as_bytes(),
        );
        if self.has(Quirk::ZeroUsage) {
            buf.extend_from_slice(
                format!("{}\"choices\":[],{ZERO_USAGE}}}\n\n", self.head).as_bytes(),
            );
        }
    }

    /// `[DONE]`, with or without its blank line.
    pub(crate) fn push_done(&self, buf: &mut Vec<u8>) {
        if self.has(Quirk::NoFinalNewline) {
            buf.extend_from_slice(b"data: [DONE]");
        } else {
            buf.extend_from_slice(DONE_EVENT);
        }
    }

    /// A data line cut off inside the JSON, as a buggy proxy or server might send.
    pub(crate) fn malformed_event(&self) -> &'static [u8] {
        match self.api {
            Api::Chat => b"data: {\"choices\":[{\"delta\":{\"content\":\n\n",
            _ => b"data: {\"choices\":[{\"text\":\n\n",
        }
    }
}

/// A prompt as a usage report states it: its tokens, and those served
/// from the prefix cache (`None`: a server without one says nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PromptCount {
    pub tokens: u32,
    pub cached: Option<u32>,
}

impl From<u32> for PromptCount {
    fn from(tokens: u32) -> Self {
        PromptCount {
            tokens,
            cached: None,
        }
    }
}

fn usage_json(prompt: PromptCount, completion: u32) -> String {
    let tokens = prompt.tokens;
    let total = u64::from(tokens) + u64::from(completion);
    let details = prompt
        .cached
        .map(|n| format!(r#","prompt_tokens_details":{{"cached_tokens":{n}}}"#))
        .unwrap_or_default();
    format!(
        r#""usage":{{"prompt_tokens":{tokens},"completion_tokens":{completion},"total_tokens":{total}{details}}}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(buf: &[u8]) -> Vec<serde_json::Value> {
        String::from_utf8(buf.to_vec())
            .unwrap()
            .split("\n\n")
            .filter(|e| !e.is_empty() && *e != "data: [DONE]")
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn sse_events_are_valid_json() {
        let f = SseFormat::new(Api::Chat, 3, 1_700_000_000, "m\"x");
        let mut buf = Vec::new();
        f.push_token(&mut buf, "word", TokenKind::Answer, false, None);
        f.push_token(&mut buf, "end", TokenKind::Answer, true, None);
        f.push_usage(&mut buf, 4.into(), 2);
        let events = events_of(&buf);
        assert_eq!(events[0]["id"], "chatcmpl-3");
        assert_eq!(events[0]["model"], "m\"x");
        assert_eq!(events[0]["choices"][0]["delta"]["content"], " word");
        assert_eq!(events[1]["choices"][0]["finish_reason"], "length");
        assert_eq!(events[2]["usage"]["total_tokens"], 6);
        let role = f.role_event().unwrap();
        let role: serde_json::Value =
            serde_json::from_slice(role.strip_prefix(b"data: ").unwrap().trim_ascii_end()).unwrap();
        assert_eq!(role["choices"][0]["delta"]["role"], "assistant");

        let f = SseFormat::new(Api::Completions, 1, 0, "m");
        assert!(f.role_event().is_none());
        let mut buf = Vec::new();
        f.push_token(&mut buf, "w", TokenKind::Answer, true, None);
        let completion = events_of(&buf);
        let v = &completion[0];
        assert_eq!(
            (v["object"].as_str(), v["choices"][0]["text"].as_str()),
            (Some("text_completion"), Some(" w"))
        );
    }

    #[test]
    fn every_quirk_still_renders_valid_json() {
        for api in [Api::Chat, Api::Completions] {
            let f = SseFormat::with_quirks(api, 1, 0, "m", Quirk::ALL.into_iter().collect());
            let mut buf = Vec::new();
            f.push_token(&mut buf, "a", TokenKind::Reasoning, false, None);
            f.push_token(&mut buf, "b", TokenKind::Answer, false, None);
            f.push_token(&mut buf, "c", TokenKind::Answer, true, Some((3.into(), 3)));
            f.push_empty_finish(&mut buf);
            f.push_usage(&mut buf, 3.into(), 3);
            let events = events_of(&buf);
            assert_eq!(events.len(), 6, "{api:?}");
            assert_eq!(events[0]["usage"]["completion_tokens"], 0);
            assert_eq!(events[2]["usage"]["completion_tokens"], 3);
            assert_eq!(events[5]["usage"]["completion_tokens"], 0);
        }
    }

    #[test]
    fn reasoning_names_and_tool_calls_follow_their_quirks() {
        let both = SseFormat::with_quirks(
            Api::Chat,
            1,
            0,
            "m",
            [Quirk::BothReasoningNames, Quirk::ToolCalls].into(),
        );
        let mut buf = Vec::new();
        both.push_token(&mut buf, "hm", TokenKind::Reasoning, false, None);
        both.push_token(&mut buf, "x", TokenKind::Answer, false, None);
        let events = events_of(&buf);
        let delta = &events[0]["choices"][0]["delta"];
        assert_eq!(
            (
                delta["reasoning_content"].as_str(),
                delta["reasoning"].as_str()
            ),
            (Some(" hm"), Some(" hm"))
        );
        assert_eq!(
            events[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            " x"
        );
        let mut done = Vec::new();
        SseFormat::with_quirks(Api::Chat, 1, 0, "m", [Quirk::NoFinalNewline].into())
            .push_done(&mut done);
        assert_eq!(done, b"data: [DONE]");
    }
}
