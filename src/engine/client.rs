//! One engine's HTTP client: sends a prompt as its protocol asks
//! (`protocol`), retries once a request whose reused connection the server
//! closed (`reconnect`), and hands the answer to `stream` to decode and time.
//! It measures; it does not aggregate.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use hyper_util::client::legacy::connect::HttpInfo;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use tokio::time::Instant;

use super::body::read_sse;
use super::connections::ConnectionLedger;
use super::drain::drain;
use super::protocol::{self, Prompt, Protocol};
use super::reconnect::{ReusePolicy, closed_before_answer};
use super::stream::{ERROR_BODY_LIMIT, EventFold};
pub use super::stream::{Exchange, Observer, PieceKind, Usage};
use crate::config::EngineSpec;
use crate::config::secrets::{looks_secret, printable, redact_cut, scrub_urls_in};
use crate::error::error_chain;
use crate::metrics::ErrorKind;
use crate::workload::Ask;

/// The longest `Retry-After` honoured: a server asking for more is waited
/// on this long, then asked again.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

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

/// A client for one engine.
#[derive(Debug, Clone)]
pub struct EngineClient {
    /// Keeps its connections alive and reuses them.
    http: reqwest::Client,
    /// Opens a connection for every request: a retry's, and every request's
    /// once the engine's connections are no longer reused.
    fresh: reqwest::Client,
    reuse: Arc<ReusePolicy>,
    url: reqwest::Url,
    model: String,
    protocol: &'static dyn Protocol,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    ignore_eos: bool,
    /// Keys added to every body (`extra_body`, `tools`, ...).
    extra_body: Arc<serde_json::Map<String, serde_json::Value>>,
    count_reasoning: bool,
    inputs_per_request: u32,
    timeout: Duration,
    headers: HeaderMap,
    connections: ConnectionLedger,
    /// Where a pre-connect goes: the server's model list, a cheap GET every
    /// OpenAI-compatible server answers.
    models_url: reqwest::Url,
    /// Values that must never appear in an error message (the API key,
    /// secret header values, the URL's credentials): error messages reach
    /// logs and race files.
    secrets: Arc<[String]>,
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
        let protocol = protocol::of(spec.endpoint);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in protocol.headers() {
            headers.insert(*name, HeaderValue::from_static(value));
        }
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
            let (name, value) = protocol.key_header(key);
            let mut value = HeaderValue::from_str(&value).map_err(|_| ClientError::BadApiKey {
                engine: spec.name.clone(),
                var: spec.api_key_env.clone().unwrap_or_default(),
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let connections = ConnectionLedger::default();
        let builder = |idle_per_host| {
            reqwest::Client::builder()
                .connector_layer(connections.clone())
                // A redirect would carry custom secret headers to another host,
                // and time two servers as one: a load test measures the URL given.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10).min(spec.timeout))
                .pool_max_idle_per_host(idle_per_host)
                .tcp_nodelay(true)
                .no_proxy_if_loopback(&parsed)
                .build()
        };
        Ok(EngineClient {
            http: builder(usize::MAX)?,
            // No idle connection is kept, so none is ever reused.
            fresh: builder(0)?,
            reuse: Arc::new(ReusePolicy::new(spec.reuse_connections)),
            models_url: models_url(&parsed, protocol),
            url: parsed,
            model: spec.model.clone(),
            protocol,
            max_tokens: spec.max_tokens,
            temperature: spec.temperature,
            ignore_eos: spec.ignore_eos,
            extra_body: Arc::new(spec.extra_body.clone()),
            count_reasoning: spec.count_reasoning,
            inputs_per_request: spec.inputs_per_request,
            timeout: spec.timeout,
            headers,
            connections,
            secrets: secrets.into(),
        })
    }

    #[must_use]
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// An embeddings engine's batch: prompts in one request (`None` for an
    /// engine that generates).
    #[must_use]
    pub fn embeddings_batch(&self) -> Option<u32> {
        (!self.protocol.generates()).then_some(self.inputs_per_request)
    }

    /// Connections this client has opened so far.
    #[must_use]
    pub fn connections_opened(&self) -> u64 {
        self.connections.opened()
    }

    /// Whether requests go over kept-alive connections now.
    #[must_use]
    pub fn reusing_connections(&self) -> bool {
        self.reuse.reusing()
    }

    /// Opens a connection (or makes sure one is open) outside any timing:
    /// a HEAD of the server's model list (no body to read, nothing to rate
    /// limit), so the connection goes back to the pool. Whatever the server
    /// answers is fine. Nothing to do when connections are not reused.
    pub async fn preconnect(&self) {
        if !self.reuse.reusing() {
            return;
        }
        let request = self
            .http
            .head(self.models_url.clone())
            .headers(self.headers.clone())
            .timeout(self.timeout.min(Duration::from_secs(10)))
            .send();
        if let Ok(response) = request.await {
            let (_, rest) = read_prefix(response, PRECONNECT_BODY_LIMIT).await;
            drain(rest).await;
        }
    }

    /// The JSON body for one prompt, with the engine's `max_tokens`.
    #[must_use]
    pub fn request_body(&self, prompt: &str) -> Vec<u8> {
        self.request_body_with(&Ask::single(None, Arc::from(prompt)), None)
    }

    /// The JSON body for one request; `max_tokens` (a trace entry's output
    /// length) replaces the engine's own.
    #[must_use]
    pub fn request_body_with(&self, ask: &Ask, max_tokens: Option<u32>) -> Vec<u8> {
        self.protocol.body(&Prompt {
            model: &self.model,
            system: ask.system.as_deref(),
            history: ask.history(),
            text: &ask.text,
            more: &ask.more,
            max_tokens: max_tokens.or(self.max_tokens),
            temperature: self.temperature,
            ignore_eos: self.ignore_eos,
            extra: &self.extra_body,
        })
    }

    /// Sends one prompt and measures the answer. Never fails: every problem
    /// ends up classified in `Exchange::error`.
    pub async fn send(&self, prompt: &str) -> Exchange {
        let ask = Ask::single(None, Arc::from(prompt));
        self.send_observed(&ask, None, &mut |_, _, _| {}).await
    }

    /// Like [`send`](Self::send), with `max_tokens` (when given) in place
    /// of the engine's own, calling `observe` with every piece of output
    /// text as it arrives (for the live inspector).
    pub async fn send_observed(
        &self,
        ask: &Ask,
        max_tokens: Option<u32>,
        observe: &mut Observer<'_>,
    ) -> Exchange {
        let sent = Instant::now();
        let mut exchange = Exchange::new(sent);
        let deadline = sent + self.timeout;
        if tokio::time::timeout_at(
            deadline,
            self.exchange(ask, max_tokens, &mut exchange, observe),
        )
        .await
        .is_err()
            && !exchange.complete
        {
            exchange.fail(
                ErrorKind::Timeout,
                format!(
                    "no complete answer within {:.1} s (timeout_s)",
                    self.timeout.as_secs_f64()
                ),
            );
        }
        if self.protocol.generates() {
            exchange.check_not_empty(self.count_reasoning);
        } else {
            let inputs = 1 + ask.more.len();
            match exchange.embedded {
                Some(n) if n != inputs && exchange.error.is_none() => exchange.fail_keeping_end(
                    ErrorKind::Malformed,
                    &format!("{n} embeddings for {inputs} inputs"),
                ),
                _ => {}
            }
        }
        if let Some(error) = &mut exchange.error {
            error.message = self.redact(&error.message);
        }
        exchange
    }

    /// An error message without secrets: known secret values and URLs with
    /// credentials are replaced.
    fn redact(&self, message: &str) -> String {
        // reqwest's errors name the URL, query string included. Messages
        // quote bodies cut to a length, so a key may be cut off too; and a
        // server's text must not drive the terminal it is printed on.
        printable(&redact_cut(&scrub_urls_in(message), &self.secrets))
    }

    async fn exchange(
        &self,
        ask: &Ask,
        max_tokens: Option<u32>,
        ex: &mut Exchange,
        observe: &mut Observer<'_>,
    ) {
        let body = bytes::Bytes::from(self.request_body_with(ask, max_tokens));
        let reusing = self.reuse.reusing();
        let http = if reusing { &self.http } else { &self.fresh };
        let mut sent = self.post(http, body.clone()).await;
        if let Err(e) = &sent
            && reusing
            && let Some(since_answer) = self.closed_under(e, ex.sent)
        {
            // Not the server's failure: the connection was closing when it
            // was reused. Once more on a fresh one, timed from the start.
            ex.connection_retried = true;
            ex.reuse_stopped = self.reuse.on_closed_under_request(since_answer);
            sent = self.post(&self.fresh, body).await;
        }
        let response = match sent {
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
        let connection = response
            .extensions()
            .get::<HttpInfo>()
            .map(HttpInfo::local_addr);
        self.read_response(response, ex, observe).await;
        if let Some(local) = connection {
            self.connections.note_answer(local, Instant::now());
        }
    }

    async fn post(
        &self,
        http: &reqwest::Client,
        body: bytes::Bytes,
    ) -> reqwest::Result<reqwest::Response> {
        http.post(self.url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
    }

    /// When `error` is a reused connection that the server closed before
    /// answering a request sent at `sent`: how long after the connection's
    /// last answer (`None` inside: it carried none). A connection opened
    /// for this request was fresh, and its failure is the server's.
    fn closed_under(&self, error: &reqwest::Error, sent: Instant) -> Option<Option<Duration>> {
        let times = self.connections.times(closed_before_answer(error)?)?;
        (times.opened < sent).then(|| {
            times
                .last_answer
                .map(|at| sent.saturating_duration_since(at))
        })
    }

    async fn read_response(
        &self,
        response: reqwest::Response,
        ex: &mut Exchange,
        observe: &mut Observer<'_>,
    ) {
        ex.status = response.status().as_u16();
        if !response.status().is_success() {
            let status = ex.status;
            // 529: Anthropic's "overloaded".
            if matches!(status, 429 | 503 | 529) {
                ex.retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
            }
            let (body, rest) = read_prefix(response, ERROR_BODY_LIMIT).await;
            ex.fail(
                ErrorKind::for_status(status),
                format!("HTTP {status}: {body}"),
            );
            drain(rest).await;
            return;
        }
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse {
            read_sse(response.bytes_stream(), self.protocol, ex, observe, |e| {
                error_chain(e)
            })
            .await;
        } else {
            match response.text().await {
                Ok(body) => {
                    let mut fold = EventFold::new(ex, observe, Instant::now());
                    self.protocol.on_body(&body, &mut fold);
                }
                Err(e) => ex.fail(ErrorKind::StreamReset, error_chain(&e)),
            }
        }
    }
}

/// A server that answers the HEAD with a body anyway: this much is read.
const PRECONNECT_BODY_LIMIT: usize = 64 << 10;

/// The protocol's route's sibling `/models` (`…/v1/chat/completions` →
/// `…/v1/models`); a URL of any other path is pre-connected to as it is.
pub(crate) fn models_url(url: &reqwest::Url, protocol: &dyn Protocol) -> reqwest::Url {
    let base = url.path().strip_suffix(protocol.route());
    let mut models = url.clone();
    if let Some(base) = base {
        models.set_path(&format!("{base}/models"));
    }
    models
}

/// `Retry-After` as delay-seconds or an HTTP date, capped at
/// [`MAX_RETRY_AFTER`]; a date in the past means now.
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(seconds) = value.parse::<f64>() {
        Duration::try_from_secs_f64(seconds).ok()?
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// A body still to be read to its end.
type Rest =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// The first `limit` bytes of a body as text, and the rest (to `drain`
/// after the answer is timed, so the connection can be reused).
async fn read_prefix(response: reqwest::Response, limit: usize) -> (String, Rest) {
    let mut stream: Rest = Box::pin(response.bytes_stream());
    let mut body = Vec::new();
    while body.len() < limit {
        match stream.next().await {
            Some(Ok(bytes)) => body.extend_from_slice(&bytes),
            _ => break,
        }
    }
    body.truncate(limit);
    (String::from_utf8_lossy(&body).trim().to_owned(), stream)
}

pub(crate) trait NoProxyIfLoopback {
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
    use crate::config::EndpointKind;

    #[test]
    fn preconnects_go_to_the_model_list() {
        let at = |u: &str, kind| {
            models_url(&reqwest::Url::parse(u).unwrap(), protocol::of(kind)).to_string()
        };
        assert_eq!(
            at("http://h:8000/v1/chat/completions", EndpointKind::Chat),
            "http://h:8000/v1/models"
        );
        assert_eq!(
            at(
                "https://h/openai/v1/completions?x=1",
                EndpointKind::Completions
            ),
            "https://h/openai/v1/models?x=1"
        );
        assert_eq!(
            at("http://h/generate", EndpointKind::Chat),
            "http://h/generate"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 2.5 ", now),
            Some(Duration::from_millis(2500))
        );
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("3600", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
