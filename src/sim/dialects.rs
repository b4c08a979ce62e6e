//! The simulator's streams in the typed-event dialects, OpenAI's Responses
//! API and Anthropic's Messages API, as the real servers frame them
//! (`event:` lines, an output item or content block opened before its
//! deltas and closed after them, the usage at the start and at the end),
//! and [`StreamFormat`], a request's dialect, OpenAI's chunks (`sse`) among
//! them.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use bytes::Bytes;

use super::request::Api;
use super::sse::{ERROR_EVENT, ERROR_SSE_EVENT, PromptCount, SseFormat, TokenKind};
use crate::config::Quirk;

/// An event cut off inside its JSON, as each dialect frames it.
const MESSAGES_MALFORMED: &[u8] = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\n\n";
const RESPONSES_MALFORMED: &[u8] = b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\n\n";
/// The failure of the whole answer (`stream_error`).
const MESSAGES_FAILURE: &[u8] = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"simulated server error\"}}\n\n";
const RESPONSES_FAILURE: &[u8] = b"event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"object\":\"response\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"simulated server error\"}}}\n\n";
/// The `error` event (`event_error`); Anthropic's is the overload its API sends mid-stream.
const MESSAGES_ERROR: &[u8] = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
const RESPONSES_ERROR: &[u8] = b"event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"simulated error event\",\"param\":null}\n\n";

/// What a simulated tool call is named.
const TOOL_NAME: &str = "get_weather";

/// A streamed answer's framing, by the route it was asked on.
#[derive(Debug)]
pub(crate) enum StreamFormat {
    OpenAi(SseFormat),
    Typed(TypedFormat),
}

/// Who a stream is for: the request's sequence number, when, and model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamFor<'a> {
    pub seq: u64,
    pub created: u64,
    pub model: &'a str,
    /// The output length is the request's own cap (`max_tokens`,
    /// `max_output_tokens`): OpenAI's Responses API says such an answer
    /// is incomplete.
    pub capped: bool,
}

impl StreamFormat {
    pub(crate) fn new(api: Api, to: StreamFor<'_>, quirks: BTreeSet<Quirk>) -> Self {
        match api {
            // Embeddings are never streamed (`request` says so).
            Api::Chat | Api::Completions | Api::Embeddings => StreamFormat::OpenAi(
                SseFormat::with_quirks(api, to.seq, to.created, to.model, quirks),
            ),
            Api::Responses | Api::Messages => {
                StreamFormat::Typed(TypedFormat::new(api, to, quirks))
            }
        }
    }

    pub(crate) fn has(&self, quirk: Quirk) -> bool {
        match self {
            StreamFormat::OpenAi(f) => f.has(quirk),
            StreamFormat::Typed(f) => f.quirks.contains(&quirk),
        }
    }

    /// What is sent on admission, before any token.
    pub(crate) fn opening(&mut self, prompt: PromptCount) -> Option<Bytes> {
        match self {
            StreamFormat::OpenAi(f) => f.role_event(),
            StreamFormat::Typed(f) => Some(f.opening(prompt)),
        }
    }

    /// One token's event (`usage` rides on the last token under
    /// `usage_in_finish_chunk`, OpenAI's chunks only).
    pub(crate) fn push_token(
        &mut self,
        buf: &mut Vec<u8>,
        word: &str,
        kind: TokenKind,
        last: bool,
        usage: Option<(PromptCount, u32)>,
    ) {
        match self {
            StreamFormat::OpenAi(f) => f.push_token(buf, word, kind, last, usage),
            StreamFormat::Typed(f) => f.push_token(buf, word, kind),
        }
    }

    /// Everything after the last of `sent` tokens: the finish, the usage
    /// (when asked for) and the end.
    pub(crate) fn push_tail(
        &mut self,
        buf: &mut Vec<u8>,
        prompt: PromptCount,
        sent: u32,
        include_usage: bool,
    ) {
        match self {
            StreamFormat::OpenAi(f) => {
                if sent == 0 {
                    f.push_empty_finish(buf);
                }
                let usage_sent = f.has(Quirk::UsageInFinishChunk) && sent > 0;
                if include_usage && !usage_sent {
                    f.push_usage(buf, prompt, sent);
                }
                f.push_done(buf);
            }
            StreamFormat::Typed(f) => f.push_tail(buf, prompt, sent, include_usage),
        }
    }

    /// An event cut off inside its JSON.
    pub(crate) fn malformed_event(&self) -> &'static [u8] {
        match self {
            StreamFormat::OpenAi(f) => f.malformed_event(),
            StreamFormat::Typed(f) => match f.api {
                Api::Messages => MESSAGES_MALFORMED,
                _ => RESPONSES_MALFORMED,
            },
        }
    }

    /// The dialect's failure of the whole answer (`stream_error`).
    pub(crate) fn failure_event(&self) -> &'static [u8] {
        match self {
            StreamFormat::OpenAi(_) => ERROR_EVENT,
            StreamFormat::Typed(f) => match f.api {
                Api::Messages => MESSAGES_FAILURE,
                _ => RESPONSES_FAILURE,
            },
        }
    }

    /// The dialect's `error` event (`event_error`): Anthropic's is the
    /// overload its API sends mid-stream.
    pub(crate) fn error_event(&self) -> &'static [u8] {
        match self {
            StreamFormat::OpenAi(_) => ERROR_SSE_EVENT,
            StreamFormat::Typed(f) => match f.api {
                Api::Messages => MESSAGES_ERROR,
                _ => RESPONSES_ERROR,
            },
        }
    }
}

/// The Responses and Messages streams: typed events, output in items
/// (blocks) of one kind each.
#[derive(Debug)]
pub(crate) struct TypedFormat {
    api: Api,
    seq: u64,
    created: u64,
    /// The model, as a JSON string.
    model: String,
    capped: bool,
    quirks: BTreeSet<Quirk>,
    /// The kind of the open item (block), if one is open.
    open: Option<TokenKind>,
    /// Items (blocks) opened so far.
    items: u32,
    /// The Responses API's running event number.
    sequence: u32,
    reasoning_tokens: u32,
    /// The open item's text so far (its `done` event repeats it).
    text: String,
}

impl TypedFormat {
    fn new(api: Api, to: StreamFor<'_>, quirks: BTreeSet<Quirk>) -> Self {
        TypedFormat {
            api,
            seq: to.seq,
            created: to.created,
            model: serde_json::Value::from(to.model).to_string(),
            capped: to.capped,
            quirks,
            open: None,
            items: 0,
            sequence: 0,
            reasoning_tokens: 0,
            text: String::new(),
        }
    }

    fn usage(&self) -> bool {
        !self.quirks.contains(&Quirk::NoUsage)
    }

    /// One event; `json` is the data's fields after its `type` (may be none).
    fn event(&mut self, buf: &mut Vec<u8>, name: &str, json: &str) {
        let comma = if json.is_empty() { "" } else { "," };
        let sequence = match self.api {
            Api::Responses => {
                self.sequence += 1;
                format!(",\"sequence_number\":{}", self.sequence - 1)
            }
            _ => String::new(),
        };
        let _ = write!(
            Writer(buf),
            "event: {name}\ndata: {{\"type\":\"{name}\"{comma}{json}{sequence}}}\n\n"
        );
    }

    fn opening(&mut self, prompt: PromptCount) -> Bytes {
        let mut buf = Vec::new();
        let (seq, model, created) = (self.seq, self.model.clone(), self.created);
        if self.api == Api::Messages {
            let usage = if self.usage() {
                let cached = prompt.cached.unwrap_or(0);
                format!(
                    r#","usage":{{"input_tokens":{},"cache_creation_input_tokens":0,"cache_read_input_tokens":{cached},"output_tokens":1}}"#,
                    prompt.tokens - cached
                )
            } else {
                String::new()
            };
            self.event(
                &mut buf,
                "message_start",
                &format!(
                    r#""message":{{"id":"msg_{seq}","type":"message","role":"assistant","content":[],"model":{model},"stop_reason":null,"stop_sequence":null{usage}}}"#
                ),
            );
            self.event(&mut buf, "ping", "");
        } else {
            let response = format!(
                r#""response":{{"id":"resp_{seq}","object":"response","created_at":{created},"status":"in_progress","model":{model},"output":[],"usage":null}}"#
            );
            self.event(&mut buf, "response.created", &response);
            self.event(&mut buf, "response.in_progress", &response);
        }
        Bytes::from(buf)
    }

    fn push_token(&mut self, buf: &mut Vec<u8>, word: &str, kind: TokenKind) {
        if self.open != Some(kind) {
            self.close_item(buf);
            self.open_item(buf, kind);
        }
        if kind == TokenKind::Reasoning {
            self.reasoning_tokens += 1;
        }
        self.text.push(' ');
        self.text.push_str(word);
        let index = self.items - 1;
        let tool = self.quirks.contains(&Quirk::ToolCalls);
        if self.api == Api::Messages {
            let delta = match kind {
                TokenKind::Reasoning => format!(r#""type":"thinking_delta","thinking":" {word}""#),
                TokenKind::Answer if tool => {
                    format!(r#""type":"input_json_delta","partial_json":" {word}""#)
                }
                TokenKind::Answer => format!(r#""type":"text_delta","text":" {word}""#),
            };
            let json = format!(r#""index":{index},"delta":{{{delta}}}"#);
            self.event(buf, "content_block_delta", &json);
        } else {
            let name = match kind {
                TokenKind::Reasoning => "response.reasoning_text.delta",
                TokenKind::Answer if tool => "response.function_call_arguments.delta",
                TokenKind::Answer => "response.output_text.delta",
            };
            let json = format!(
                r#""item_id":"{}","output_index":{index},"content_index":0,"delta":" {word}""#,
                self.item_id(kind)
            );
            self.event(buf, name, &json);
        }
    }

    fn item_id(&self, kind: TokenKind) -> String {
        let prefix = match kind {
            TokenKind::Reasoning => "rs",
            TokenKind::Answer if self.quirks.contains(&Quirk::ToolCalls) => "fc",
            TokenKind::Answer => "msg",
        };
        format!("{prefix}_{}_{}", self.seq, self.items)
    }

    fn open_item(&mut self, buf: &mut Vec<u8>, kind: TokenKind) {
        self.items += 1;
        self.open = Some(kind);
        self.text.clear();
        let index = self.items - 1;
        let tool = self.quirks.contains(&Quirk::ToolCalls);
        if self.api == Api::Messages {
            let block = match kind {
                TokenKind::Reasoning => r#"{"type":"thinking","thinking":""}"#.to_owned(),
                TokenKind::Answer if tool => format!(
                    r#"{{"type":"tool_use","id":"toolu_{}","name":"{TOOL_NAME}","input":{{}}}}"#,
                    self.seq
                ),
                TokenKind::Answer => r#"{"type":"text","text":""}"#.to_owned(),
            };
            let json = format!(r#""index":{index},"content_block":{block}"#);
            self.event(buf, "content_block_start", &json);
            return;
        }
        let id = self.item_id(kind);
        let item = match kind {
            TokenKind::Reasoning => format!(r#"{{"id":"{id}","type":"reasoning","summary":[]}}"#),
            TokenKind::Answer if tool => format!(
                r#"{{"id":"{id}","type":"function_call","status":"in_progress","call_id":"call_{}","name":"{TOOL_NAME}","arguments":""}}"#,
                self.seq
            ),
            TokenKind::Answer => format!(
                r#"{{"id":"{id}","type":"message","status":"in_progress","role":"assistant","content":[]}}"#
            ),
        };
        let json = format!(r#""output_index":{index},"item":{item}"#);
        self.event(buf, "response.output_item.added", &json);
        if kind == TokenKind::Answer && !tool {
            let json = format!(
                r#""item_id":"{id}","output_index":{index},"content_index":0,"part":{{"type":"output_text","text":"","annotations":[]}}"#
            );
            self.event(buf, "response.content_part.added", &json);
        }
    }

    fn close_item(&mut self, buf: &mut Vec<u8>) {
        let Some(kind) = self.open.take() else {
            return;
        };
        let index = self.items - 1;
        if self.api == Api::Messages {
            self.event(buf, "content_block_stop", &format!(r#""index":{index}"#));
            return;
        }
        let id = self.item_id(kind);
        let text = serde_json::Value::from(std::mem::take(&mut self.text)).to_string();
        let name = match kind {
            TokenKind::Reasoning => "response.reasoning_text.done",
            TokenKind::Answer if self.quirks.contains(&Quirk::ToolCalls) => {
                "response.function_call_arguments.done"
            }
            TokenKind::Answer => "response.output_text.done",
        };
        let field = if name.contains("arguments") {
            "arguments"
        } else {
            "text"
        };
        let json = format!(r#""item_id":"{id}","output_index":{index},"{field}":{text}"#);
        self.event(buf, name, &json);
        let json = format!(r#""output_index":{index},"item":{{"id":"{id}","status":"completed"}}"#);
        self.event(buf, "response.output_item.done", &json);
    }

    fn push_tail(&mut self, buf: &mut Vec<u8>, prompt: PromptCount, sent: u32, include: bool) {
        self.close_item(buf);
        let cached = prompt.cached.unwrap_or(0);
        let usage = include && self.usage();
        if self.api == Api::Messages {
            let stop = if self.capped && sent > 0 {
                "max_tokens"
            } else {
                "end_turn"
            };
            let usage = if usage {
                format!(r#","usage":{{"output_tokens":{sent}}}"#)
            } else {
                String::new()
            };
            let json = format!(r#""delta":{{"stop_reason":"{stop}","stop_sequence":null}}{usage}"#);
            self.event(buf, "message_delta", &json);
            self.event_last(buf, "message_stop", "");
            return;
        }
        let usage = if usage {
            let details = prompt
                .cached
                .map(|_| format!(r#","input_tokens_details":{{"cached_tokens":{cached}}}"#))
                .unwrap_or_default();
            format!(
                r#"{{"input_tokens":{}{details},"output_tokens":{sent},"output_tokens_details":{{"reasoning_tokens":{}}},"total_tokens":{}}}"#,
                prompt.tokens,
                self.reasoning_tokens,
                u64::from(prompt.tokens) + u64::from(sent)
            )
        } else {
            "null".to_owned()
        };
        let (name, status) = if self.capped && sent > 0 {
            (
                "response.incomplete",
                r#""status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}"#,
            )
        } else {
            ("response.completed", r#""status":"completed""#)
        };
        let (seq, model, created) = (self.seq, self.model.clone(), self.created);
        let json = format!(
            r#""response":{{"id":"resp_{seq}","object":"response","created_at":{created},{status},"model":{model},"usage":{usage}}}"#
        );
        self.event_last(buf, name, &json);
    }

    /// The stream's last event, without its blank line under
    /// `no_final_newline`.
    fn event_last(&mut self, buf: &mut Vec<u8>, name: &str, json: &str) {
        let start = buf.len();
        self.event(buf, name, json);
        if self.quirks.contains(&Quirk::NoFinalNewline) {
            let end = start + buf[start..].trim_ascii_end().len();
            buf.truncate(end);
        }
    }
}

/// `fmt::Write` into a byte buffer.
struct Writer<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each event's data, parsed, with its `event:` name.
    fn events_of(buf: &[u8]) -> Vec<(String, serde_json::Value)> {
        String::from_utf8(buf.to_vec())
            .unwrap()
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                let data: serde_json::Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                let name = name.strip_prefix("event: ").unwrap().to_owned();
                assert_eq!(data["type"], name.as_str(), "the type repeats the name");
                (name, data)
            })
            .collect()
    }

    fn stream(api: Api, quirks: &[Quirk]) -> Vec<(String, serde_json::Value)> {
        let to = StreamFor {
            seq: 7,
            created: 0,
            model: "m\"x",
            capped: true,
        };
        let mut f = StreamFormat::new(api, to, quirks.iter().copied().collect());
        let prompt = PromptCount {
            tokens: 30,
            cached: Some(20),
        };
        let mut buf = f.opening(prompt).unwrap().to_vec();
        f.push_token(&mut buf, "hm", TokenKind::Reasoning, false, None);
        f.push_token(&mut buf, "a", TokenKind::Answer, false, None);
        f.push_token(&mut buf, "b", TokenKind::Answer, true, None);
        f.push_tail(&mut buf, prompt, 3, true);
        if quirks.contains(&Quirk::NoFinalNewline) {
            assert!(!buf.ends_with(b"\n"));
            buf.extend_from_slice(b"\n\n");
        }
        events_of(&buf)
    }

    #[test]
    fn a_responses_stream_opens_and_closes_its_items_and_reports_usage_at_the_end() {
        let events = stream(Api::Responses, &[]);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_text.delta",
                "response.reasoning_text.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.output_item.done",
                "response.incomplete",
            ]
        );
        let numbers: Vec<u64> = events
            .iter()
            .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (0..13).collect::<Vec<_>>());
        let end = &events[12].1["response"];
        assert_eq!(end["model"], "m\"x");
        assert_eq!(end["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(end["usage"]["input_tokens"], 30);
        assert_eq!(end["usage"]["input_tokens_details"]["cached_tokens"], 20);
        assert_eq!(end["usage"]["output_tokens_details"]["reasoning_tokens"], 1);
        assert_eq!(events[10].1["text"], " a b");
    }

    #[test]
    fn a_messages_stream_counts_the_prompt_without_its_cached_part() {
        let events = stream(Api::Messages, &[Quirk::ToolCalls, Quirk::NoFinalNewline]);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let usage = &events[0].1["message"]["usage"];
        assert_eq!(
            (
                usage["input_tokens"].as_u64(),
                usage["cache_read_input_tokens"].as_u64()
            ),
            (Some(10), Some(20))
        );
        assert_eq!(events[3].1["delta"]["type"], "thinking_delta");
        assert_eq!(events[5].1["content_block"]["type"], "tool_use");
        assert_eq!(events[6].1["delta"]["partial_json"], " a");
        assert_eq!(events[9].1["usage"]["output_tokens"], 3);
    }

    #[test]
    fn without_usage_neither_dialect_reports_any() {
        let responses = stream(Api::Responses, &[Quirk::NoUsage]);
        assert!(responses.last().unwrap().1["response"]["usage"].is_null());
        let messages = stream(Api::Messages, &[Quirk::NoUsage]);
        assert!(messages[0].1["message"].get("usage").is_none());
        assert!(messages[9].1.get("usage").is_none());
    }
}
