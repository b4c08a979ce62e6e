//! The OpenAI-compatible streaming client: builds `/v1/chat/completions` or
//! `/v1/completions` requests with `stream: true`, reads the SSE stream with
//! eventsource-stream, and timestamps every event as it arrives. It measures;
//! it does not aggregate.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::config::secrets::{looks_secret, redact, scrub_urls_in};
use crate::config::{EndpointKind, EngineSpec};
use crate::error::error_chain;
use crate::metrics::{ErrorKind, RequestError};

/// Called with the text of each content-bearing chunk and its arrival time.
pub type Observer<'a> = dyn FnMut(&str, Instant) + Send + 'a;

/// How much of an error response body is kept.
const ERROR_BODY_LIMIT: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "engine '{engine}': header '{header}' is not a valid HTTP header; fix race.engines[].headers"
    )]
    BadHeader { engine: String, header: String },
    #[error(
        "engine '{engine}': the API key in ${var} is not a valid header value (control characters?)"
    )]
    BadApiKey { engine: String, var: String },
    #[error("engine '{engine}': '{url}' is not a valid URL: {reason}")]
    BadUrl {
        engine: String,
        url: String,
        reason: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// Token counts the server reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
}

/// What one request produced, timed on the monotonic clock.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub sent: Instant,
    /// HTTP status, 0 when no response arrived.
    pub status: u16,
    /// Arrival of each content-bearing event.
    pub chunk_times: Vec<Instant>,
    pub end: Instant,
    pub text: String,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    pub error: Option<RequestError>,
}

impl Exchange {
    fn new(sent: Instant) -> Self {
        Exchange {
            sent,
            status: 0,
            chunk_times: Vec::new(),
            end: sent,
            text: String::new(),
            usage: None,
            finish_reason: None,
            error: None,
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(RequestError {
                kind,
                message: message.into(),
            });
        }
        self.end = Instant::now();
    }
}

/// A client for one engine.
#[derive(Debug, Clone)]
pub struct EngineClient {
    http: reqwest::Client,
    url: reqwest::Url,
    model: String,
    endpoint: EndpointKind,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    ignore_eos: bool,
    timeout: Duration,
    headers: HeaderMap,
    /// Values that must never appear in an error message (the API key,
    /// secret header values, the URL's credentials): error messages reach
    /// logs and race files.
    secrets: Arc<[String]>,
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct RequestBody<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<[ChatMessage<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    /// A vLLM/SGLang extension; only sent when asked for, since strict
    /// servers reject unknown fields.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    stream: bool,
    stream_options: StreamOptions,
}

#[derive(Deserialize)]
struct ChunkDto<'a> {
    #[serde(default, borrow)]
    choices: Vec<ChoiceDto<'a>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChoiceDto<'a> {
    #[serde(default, borrow)]
    delta: Option<DeltaDto<'a>>,
    /// `/v1/completions` streams `text` instead of a delta.
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
    /// Non-streaming chat answers carry a whole `message`.
    #[serde(default, borrow)]
    message: Option<DeltaDto<'a>>,
}

#[derive(Deserialize)]
struct DeltaDto<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    /// Reasoning models (vLLM's reasoning parser, DeepSeek) stream their
    /// thinking here; it is generated output, so it counts as tokens.
    #[serde(default, borrow, alias = "reasoning")]
    reasoning_content: Option<Cow<'a, str>>,
}

impl EngineClient {
    /// `url` is the full completions URL; `api_key` the key's value, read
    /// from the environment by the caller.
    pub fn new(spec: &EngineSpec, url: &str, api_key: Option<&str>) -> Result<Self, ClientError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| ClientError::BadUrl {
            engine: spec.name.clone(),
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut secrets: Vec<String> = api_key.iter().map(|k| (*k).to_owned()).collect();
        secrets.extend(parsed.password().map(str::to_owned));
        for (name, value) in &spec.headers {
            if looks_secret(name) {
                secrets.push(value.clone());
                // "Bearer xyz": the credential alone may be echoed too.
                if let Some((_, credential)) = value.split_once(' ') {
                    secrets.push(credential.trim().to_owned());
                }
            }
            let bad = || ClientError::BadHeader {
                engine: spec.name.clone(),
                header: name.clone(),
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let mut value = HeaderValue::from_str(value).map_err(|_| bad())?;
            // Extra headers often carry credentials: keep them out of Debug output.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if let Some(key) = api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                ClientError::BadApiKey {
                    engine: spec.name.clone(),
                    var: spec.api_key_env.clone().unwrap_or_default(),
                }
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(spec.timeout))
            .pool_max_idle_per_host(usize::MAX)
            .tcp_nodelay(true)
            .no_proxy_if_loopback(&parsed)
            .build()?;
        Ok(EngineClient {
            http,
            url: parsed,
            model: spec.model.clone(),
            endpoint: spec.endpoint,
            max_tokens: spec.max_tokens,
            temperature: spec.temperature,
            ignore_eos: spec.ignore_eos,
            timeout: spec.timeout,
            headers,
            secrets: secrets.into(),
        })
    }

    #[must_use]
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// The JSON body for one prompt.
    #[must_use]
    pub fn request_body(&self, prompt: &str) -> Vec<u8> {
        let chat = self.endpoint == EndpointKind::Chat;
        let body = RequestBody {
            model: &self.model,
            messages: chat.then_some([ChatMessage {
                role: "user",
                content: prompt,
            }]),
            prompt: (!chat).then_some(prompt),
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            ignore_eos: self.ignore_eos,
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// Sends one prompt and measures the answer. Never fails: every problem
    /// ends up classified in `Exchange::error`.
    pub async fn send(&self, prompt: &str) -> Exchange {
        self.send_observed(prompt, &mut |_, _| {}).await
    }

    /// Like [`send`](Self::send), calling `observe` with the text of every
    /// content-bearing chunk as it arrives (for the live inspector).
    pub async fn send_observed(&self, prompt: &str, observe: &mut Observer<'_>) -> Exchange {
        let sent = Instant::now();
        let mut exchange = Exchange::new(sent);
        let deadline = sent + self.timeout;
        if tokio::time::timeout_at(deadline, self.exchange(prompt, &mut exchange, observe))
            .await
            .is_err()
        {
            exchange.fail(
                ErrorKind::Timeout,
                format!(
                    "no complete answer within {:.1} s (timeout_s)",
                    self.timeout.as_secs_f64()
                ),
            );
        }
        if let Some(error) = &mut exchange.error {
            error.message = self.redact(&error.message);
        }
        exchange
    }

    /// An error message without secrets: known secret values and URLs with
    /// credentials are replaced.
    fn redact(&self, message: &str) -> String {
        // reqwest's errors name the URL, query string included.
        redact(&scrub_urls_in(message), &self.secrets)
    }

    async fn exchange(&self, prompt: &str, ex: &mut Exchange, observe: &mut Observer<'_>) {
        let response = match self
            .http
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(self.request_body(prompt))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let kind = if e.is_connect() {
                    ErrorKind::Connect
                } else if e.is_timeout() {
                    ErrorKind::Timeout
                } else {
                    ErrorKind::StreamReset
                };
                ex.fail(kind, error_chain(&e));
                return;
            }
        };
        ex.status = response.status().as_u16();
        if !response.status().is_success() {
            let status = ex.status;
            let body = read_prefix(response, ERROR_BODY_LIMIT).await;
            ex.fail(
                ErrorKind::for_status(status),
                format!("HTTP {status}: {body}"),
            );
            return;
        }
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse {
            read_stream(response, ex, observe).await;
        } else {
            read_whole(response, ex, observe).await;
        }
    }
}

/// Reads an SSE stream to its end, timestamping each content-bearing event.
async fn read_stream(response: reqwest::Response, ex: &mut Exchange, observe: &mut Observer<'_>) {
    let mut events = response.bytes_stream().eventsource();
    let mut done = false;
    while let Some(item) = events.next().await {
        let event = match item {
            Ok(event) => event,
            Err(EventStreamError::Transport(e)) => {
                ex.fail(ErrorKind::StreamReset, error_chain(&e));
                return;
            }
            Err(e) => {
                ex.fail(ErrorKind::Malformed, e.to_string());
                return;
            }
        };
        let now = Instant::now();
        let data = event.data.trim();
        if data == "[DONE]" {
            done = true;
            ex.end = now;
            break;
        }
        if data.is_empty() {
            continue;
        }
        if !apply_chunk(data, now, ex, observe) {
            return;
        }
    }
    ex.end = Instant::now().max(ex.end);
    if !done && ex.finish_reason.is_none() {
        ex.fail(ErrorKind::StreamReset, "the stream ended before [DONE]");
    }
}

/// Folds one `data:` payload into the exchange. Returns false when the
/// request has failed and reading should stop.
fn apply_chunk(data: &str, now: Instant, ex: &mut Exchange, observe: &mut Observer<'_>) -> bool {
    let chunk: ChunkDto = match serde_json::from_str(data) {
        Ok(c) => c,
        Err(e) => {
            ex.end = now;
            ex.fail(
                ErrorKind::Malformed,
                format!("invalid JSON in stream ({e}): {}", clip(data, 200)),
            );
            return false;
        }
    };
    if let Some(err) = chunk.error {
        ex.end = now;
        ex.fail(
            ErrorKind::ServerError,
            format!(
                "error in stream: {}",
                clip(&err.to_string(), ERROR_BODY_LIMIT)
            ),
        );
        return false;
    }
    if let Some(usage) = chunk.usage {
        ex.usage = Some(usage);
    }
    if let Some(choice) = chunk.choices.into_iter().next() {
        let mut content_bearing = false;
        for piece in [
            choice
                .delta
                .as_ref()
                .and_then(|d| d.reasoning_content.as_deref()),
            choice.delta.as_ref().and_then(|d| d.content.as_deref()),
            choice.message.as_ref().and_then(|d| d.content.as_deref()),
            choice.text.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            if !piece.is_empty() {
                content_bearing = true;
                ex.text.push_str(piece);
                observe(piece, now);
            }
        }
        if content_bearing {
            ex.chunk_times.push(now);
        }
        if let Some(reason) = choice.finish_reason {
            ex.finish_reason = Some(reason.into_owned());
        }
    }
    true
}

/// A server that ignored `stream: true` and answered with one JSON body: the
/// whole answer is one chunk, timed at its arrival.
async fn read_whole(response: reqwest::Response, ex: &mut Exchange, observe: &mut Observer<'_>) {
    match response.text().await {
        Ok(body) => {
            let now = Instant::now();
            ex.end = now;
            if apply_chunk(&body, now, ex, observe)
                && ex.finish_reason.is_none()
                && ex.chunk_times.is_empty()
            {
                ex.fail(
                    ErrorKind::Malformed,
                    format!("not an OpenAI completion: {}", clip(&body, 200)),
                );
            }
        }
        Err(e) => ex.fail(ErrorKind::StreamReset, error_chain(&e)),
    }
}

async fn read_prefix(mut response: reqwest::Response, limit: usize) -> String {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(bytes)) => body.extend_from_slice(&bytes),
            _ => break,
        }
    }
    body.truncate(limit);
    String::from_utf8_lossy(&body).trim().to_owned()
}

fn clip(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

trait NoProxyIfLoopback {
    fn no_proxy_if_loopback(self, url: &reqwest::Url) -> Self;
}

impl NoProxyIfLoopback for reqwest::ClientBuilder {
    /// A load test of a local server must not detour through a proxy set in
    /// the environment.
    fn no_proxy_if_loopback(self, url: &reqwest::Url) -> Self {
        match url.host_str() {
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1") => self.no_proxy(),
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange() -> Exchange {
        Exchange::new(Instant::now())
    }

    #[test]
    fn role_only_and_empty_deltas_are_not_tokens() {
        let mut ex = exchange();
        let t = Instant::now();
        assert!(apply_chunk(
            r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#,
            t,
            &mut ex,
            &mut |_, _| {}
        ));
        assert!(apply_chunk(
            r#"{"choices":[{"delta":{}}]}"#,
            t,
            &mut ex,
            &mut |_, _| {}
        ));
        assert!(ex.chunk_times.is_empty());
        assert!(apply_chunk(
            r#"{"choices":[{"delta":{"content":" hi"}}]}"#,
            t,
            &mut ex,
            &mut |_, _| {}
        ));
        assert_eq!(ex.chunk_times.len(), 1);
        assert_eq!(ex.text, " hi");
    }

    #[test]
    fn usage_chunk_and_finish_reason_are_kept() {
        let mut ex = exchange();
        let t = Instant::now();
        assert!(apply_chunk(
            r#"{"choices":[{"delta":{"content":"a"},"finish_reason":"length"}]}"#,
            t,
            &mut ex,
            &mut |_, _| {}
        ));
        assert!(apply_chunk(
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#,
            t,
            &mut ex,
            &mut |_, _| {}
        ));
        assert_eq!(
            ex.usage,
            Some(Usage {
                prompt_tokens: 7,
                completion_tokens: 3
            })
        );
        assert_eq!(ex.finish_reason.as_deref(), Some("length"));
    }

    #[test]
    fn completions_text_and_reasoning_count_as_content() {
        let mut ex = exchange();
        let t = Instant::now();
        assert!(apply_chunk(
            r#"{"choices":[{"text":"x","index":0}]}"#,
            t,
            &mut ex,
            &mut |_, _| {}
        ));
        assert!(apply_chunk(
            r#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#,
            t,
            &mut ex,
            &mut |_, _| {}
        ));
        assert_eq!(ex.chunk_times.len(), 2);
    }

    #[test]
    fn in_stream_error_and_bad_json_are_classified() {
        let mut ex = exchange();
        assert!(!apply_chunk(
            r#"{"error":{"message":"overloaded"}}"#,
            Instant::now(),
            &mut ex,
            &mut |_, _| {},
        ));
        assert_eq!(
            ex.error.as_ref().map(|e| e.kind),
            Some(ErrorKind::ServerError)
        );
        let mut ex = exchange();
        assert!(!apply_chunk(
            r#"{"choices":[{"delta":{"content":"#,
            Instant::now(),
            &mut ex,
            &mut |_, _| {},
        ));
        assert_eq!(
            ex.error.as_ref().map(|e| e.kind),
            Some(ErrorKind::Malformed)
        );
    }

    #[test]
    fn escaped_content_is_decoded() {
        let mut ex = exchange();
        assert!(apply_chunk(
            r#"{"choices":[{"delta":{"content":"a\"b\n"}}]}"#,
            Instant::now(),
            &mut ex,
            &mut |_, _| {},
        ));
        assert_eq!(ex.text, "a\"b\n");
    }
}
