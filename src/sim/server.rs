//! The simulator's HTTP side: binding, the axum routes, admission through
//! the capacity semaphore, HTTP-status faults, non-streaming answers, and
//! bounded shutdown. Streaming bodies are built in `generate`.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::answer::{error_response, malformed_answer, unix_now, whole_answer};
use super::connection::{ClosePolicy, ConnectionHandle, SimListener};
use super::dialects::{StreamFor, StreamFormat};
use super::generate::{
    Abort, Generation, GenerationParts, Lease, Schedule, draw_fault, fault_point, later,
    output_tokens, request_rng,
};
use super::prefix_cache::PrefixCache;
use super::request::{self, Api, SimRequest};
use super::sse::PromptCount;
use super::stats::{Counters, GaugeGuard, SimStats};
use crate::config::{FaultKind, Quirk, SimSpec};

/// How long open streams may keep going after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(750);
/// How long cut connections get to close before the server task gives up
/// on them; grace plus this is the ~1 s shutdown bound.
const CUT_WAIT: Duration = Duration::from_millis(250);
/// Long prompts are the point of some benchmarks; axum's 2 MB default is too small.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {reason}; pick another --port")]
    Bind { addr: SocketAddr, reason: String },
}

/// A running simulator. Dropping it asks the server to stop (as
/// [`SimHandle::shutdown`] does, without waiting).
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> SimStats {
        self.counters.snapshot()
    }

    /// Stops accepting, lets open streams run for a short grace, then cuts
    /// them; returns when the server task has ended (about 1 s at most).
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(mut task) = self.task.take() {
            let bound = SHUTDOWN_GRACE + CUT_WAIT + Duration::from_millis(100);
            if tokio::time::timeout(bound, &mut task).await.is_err() {
                debug!("sim: server task did not end in time; aborting it");
                task.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// How the standalone simulator serves, beyond the behaviour a race file's
/// `simulate:` describes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimOptions {
    /// Each streamed token's text is the whole microseconds from the
    /// request's arrival (its body read) to the moment its frame is handed
    /// to hyper, which writes it in the same poll: a client can be checked
    /// token by token against what the server really did (the client-cost
    /// benchmark's timing error).
    pub stamp_tokens: bool,
}

/// Binds `addr` (e.g. `127.0.0.1:0` for a free port), spawns the server task
/// on the current tokio runtime and returns once listening. Cancelling
/// `cancel` (or calling [`SimHandle::shutdown`]) stops it.
pub async fn serve(
    spec: SimSpec,
    addr: SocketAddr,
    cancel: CancellationToken,
) -> Result<SimHandle, SimError> {
    serve_with(spec, SimOptions::default(), addr, cancel).await
}

/// [`serve`] with options.
pub async fn serve_with(
    spec: SimSpec,
    options: SimOptions,
    addr: SocketAddr,
    cancel: CancellationToken,
) -> Result<SimHandle, SimError> {
    let bind_error = |e: std::io::Error| SimError::Bind {
        addr,
        reason: describe_bind_error(&e),
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    let listener = SimListener::new(
        listener,
        ClosePolicy {
            after_stream: spec.quirks.contains(&Quirk::CloseAfterStream),
            idle_timeout: spec.idle_timeout,
        },
    );

    // The handle's own token: shutting one simulator down must not cancel
    // the caller's token, which may stop a whole race.
    let shutdown = cancel.child_token();
    // Fires after the grace period: every open stream and waiting request ends.
    let cut = CancellationToken::new();
    let counters = Arc::new(Counters::default());
    let sim = Arc::new(Sim {
        cache: spec
            .prefix_cache_tokens
            .map(|tokens| std::sync::Mutex::new(PrefixCache::new(tokens))),
        probabilities: spec.fault_probabilities(),
        permits: Arc::new(Semaphore::new(
            usize::try_from(spec.capacity.max(1)).unwrap_or(usize::MAX),
        )),
        spec,
        options,
        counters: Arc::clone(&counters),
        cut: cut.clone(),
    });
    let server = axum::serve(
        listener,
        router(sim).into_make_service_with_connect_info::<ConnectionHandle>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let grace_over = shutdown.clone();
    let task = tokio::spawn(async move {
        let mut server = std::pin::pin!(server.into_future());
        tokio::select! {
            result = &mut server => {
                if let Err(e) = result {
                    debug!("sim: server ended with an error: {e}");
                }
            }
            () = async {
                grace_over.cancelled().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                debug!("sim: streams still open after the grace period; cutting them");
                cut.cancel();
                if tokio::time::timeout(CUT_WAIT, server).await.is_err() {
                    debug!("sim: connections still open after the cut; leaving them");
                }
            }
        }
        cut.cancel();
        debug!("sim: stopped");
    });
    debug!(%local, "sim: listening");
    Ok(SimHandle {
        addr: local,
        counters,
        shutdown,
        task: Some(task),
    })
}

fn describe_bind_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "address in use".to_owned(),
        std::io::ErrorKind::AddrNotAvailable => "address not available on this machine".to_owned(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_owned()
        }
        _ => e.to_string(),
    }
}

/// Shared state of one simulator.
#[derive(Debug)]
/// What became of a request at the door.
enum Admission {
    Admitted(Lease),
    /// `max_queue` requests were already waiting.
    QueueFull,
    /// The server is being cut.
    Cut,
}

struct Sim {
    spec: SimSpec,
    options: SimOptions,
    /// `prefix_cache_tokens`: the prompts' blocks it holds.
    cache: Option<std::sync::Mutex<PrefixCache>>,
    probabilities: Vec<(FaultKind, f64)>,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
    cut: CancellationToken,
}

fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/responses", post(responses))
        .route("/v1/messages", post(messages))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/metrics", get(metrics_page))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(on_connection))
        .with_state(sim)
}

async fn chat(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    sim.handle(Api::Chat, &body).await
}

async fn completions(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    sim.handle(Api::Completions, &body).await
}

async fn responses(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    sim.handle(Api::Responses, &body).await
}

async fn messages(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    sim.handle(Api::Messages, &body).await
}

async fn embeddings(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    sim.handle(Api::Embeddings, &body).await
}

/// Every request on a connection the simulator may close on its own: none
/// is answered once the connection is closing, and the connection counts it
/// in flight until its answer's body is over.
async fn on_connection(
    ConnectInfo(connection): ConnectInfo<ConnectionHandle>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(control) = connection.0 else {
        return next.run(request).await;
    };
    if control.closing().await {
        // Never delivered: the socket is shut by now.
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let in_flight = control.request();
    let response = next.run(request).await;
    let streamed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "text/event-stream");
    let (parts, body) = response.into_parts();
    let mut body = body.into_data_stream();
    let until_the_end = futures_util::stream::poll_fn(move |cx| {
        let next = std::task::ready!(body.poll_next_unpin(cx));
        if next.is_none() && streamed {
            in_flight.answered();
        }
        std::task::Poll::Ready(next)
    });
    Response::from_parts(parts, Body::from_stream(until_the_end))
}

async fn metrics_page(State(sim): State<Arc<Sim>>) -> Response {
    let page = super::metrics_page::page(
        &sim.counters.snapshot(),
        sim.spec.capacity,
        sim.cache.is_some(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], page).into_response()
}

async fn models() -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [{"id": "sim", "object": "model", "created": 0, "owned_by": "llm-locust"}],
    }))
    .into_response()
}

/// A 200 whose body breaks off: hyper drops the connection mid-response.
fn cut_response(abort: Abort) -> Response {
    let body = futures_util::stream::once(async move {
        // Let hyper flush the head first, so the client sees a broken body.
        tokio::task::yield_now().await;
        Err::<Bytes, _>(abort)
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

impl Sim {
    async fn handle(&self, api: Api, body: &[u8]) -> Response {
        let arrived = Instant::now();
        let seq = self.counters.next_request();
        let req = match request::parse(api, body) {
            Ok(r) => r,
            Err(message) => {
                debug!(seq, "sim: bad request: {message}");
                return error_response(
                    api,
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &message,
                );
            }
        };
        let mut rng = request_rng(self.spec.seed, seq);
        let fault = draw_fault(&self.probabilities, &mut rng);
        if let Some(response) = fault.and_then(|kind| self.status_fault(api, kind, seq)) {
            return response;
        }
        let lease = match self.admit(seq).await {
            Admission::Admitted(lease) => lease,
            // TGI's answer past --max-concurrent-requests: no Retry-After.
            Admission::QueueFull => {
                debug!(seq, "sim: queue full, turned away");
                return error_response(
                    api,
                    StatusCode::TOO_MANY_REQUESTS,
                    "overloaded",
                    "Model is overloaded",
                );
            }
            Admission::Cut => {
                return error_response(
                    api,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "simulator shutting down",
                );
            }
        };
        let prompt = self.served_prompt(api, &req);
        let prefill = prompt.tokens - prompt.cached.unwrap_or(0);
        let schedule = Schedule::new(Instant::now(), &self.spec, prefill, rng);
        let n = output_tokens(&self.spec, &req);
        debug!(
            seq,
            prompt_tokens = req.prompt_tokens,
            output_tokens = n,
            stream = req.stream,
            "sim: admitted"
        );
        if req.stream {
            let generation = Generation::new(GenerationParts {
                format: StreamFormat::new(
                    api,
                    StreamFor {
                        seq,
                        created: unix_now(),
                        model: &req.model,
                        capped: req.max_tokens == Some(n),
                    },
                    self.spec.quirks.clone(),
                ),
                schedule,
                output_tokens: n,
                prompt,
                include_usage: req.include_usage && !self.spec.quirks.contains(&Quirk::NoUsage),
                reasoning_tokens: self.spec.reasoning_tokens,
                done_delay: self.spec.done_delay,
                fault,
                stall: self.spec.stall,
                lease,
                stop: self.cut.clone(),
                stamp_from: self.options.stamp_tokens.then_some(arrived),
                arrived,
            });
            (
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                Body::from_stream(generation.into_stream()),
            )
                .into_response()
        } else {
            self.complete(api, &req, prompt, schedule, lease, fault)
                .await
        }
    }

    /// The request's prompt, looked up in the prefix cache once admitted,
    /// as a server's scheduler does: prefill costs only what the cache does
    /// not hold.
    /// Embedding servers keep no prefix cache.
    fn served_prompt(&self, api: Api, req: &SimRequest) -> PromptCount {
        let cache = self.cache.as_ref().filter(|_| api != Api::Embeddings);
        let prompt = PromptCount {
            tokens: req.prompt_tokens,
            cached: cache.map(|cache| {
                cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .serve(&req.prompt_text, req.prompt_tokens)
            }),
        };
        self.counters
            .prompt_served(prompt.tokens, prompt.cached.unwrap_or(0));
        prompt
    }

    /// Answers the HTTP-status faults at once, without taking a slot, as an
    /// overloaded or broken server would. `None` for the in-stream kinds.
    fn status_fault(&self, api: Api, kind: FaultKind, seq: u64) -> Option<Response> {
        let (status, kind_name, message) = match kind {
            FaultKind::Http429 => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                "simulated rate limit",
            ),
            FaultKind::Http500 => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "simulated internal error",
            ),
            FaultKind::Http503 => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "simulated overload",
            ),
            FaultKind::Reset
            | FaultKind::Stall
            | FaultKind::Malformed
            | FaultKind::StreamError
            | FaultKind::EventError
            | FaultKind::EarlyEnd => {
                return None;
            }
        };
        self.counters.fault(kind);
        debug!(seq, fault = kind.name(), "sim: injecting fault");
        let mut response = error_response(api, status, kind_name, message);
        if kind == FaultKind::Http429 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        Some(response)
    }

    /// Waits for a capacity slot; the wait is the simulated queue. With a
    /// `max_queue`, a request that would wait behind that many others is
    /// turned away at once.
    async fn admit(&self, seq: u64) -> Admission {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Admission::Admitted(Lease::new(permit, Arc::clone(&self.counters), seq));
        }
        if let Some(limit) = self.spec.max_queue {
            let waiting = self
                .counters
                .queued()
                .load(std::sync::atomic::Ordering::Relaxed);
            if waiting >= u64::from(limit) {
                return Admission::QueueFull;
            }
        }
        let _queued = GaugeGuard::new(self.counters.queued());
        let permit = tokio::select! {
            biased;
            () = self.cut.cancelled() => return Admission::Cut,
            permit = Arc::clone(&self.permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return Admission::Cut,
            },
        };
        Admission::Admitted(Lease::new(permit, Arc::clone(&self.counters), seq))
    }

    /// A non-streaming answer: nothing is sent until the last token is due.
    /// In-stream faults map to their nearest whole-response equivalent.
    async fn complete(
        &self,
        api: Api,
        req: &SimRequest,
        prompt: PromptCount,
        mut schedule: Schedule,
        mut lease: Lease,
        fault: Option<FaultKind>,
    ) -> Response {
        let seq = lease.seq();
        // An embedding is one answer after the prefill: no token.
        let n = if api == Api::Embeddings {
            0
        } else {
            output_tokens(&self.spec, req)
        };
        let tokens = fault.map_or(n, |_| fault_point(n));
        let mut text = String::new();
        let mut due = schedule.next_due();
        for _ in 0..tokens {
            due = schedule.next_due();
            text.push(' ');
            text.push_str(schedule.take());
        }
        if !self.sleep_until(due).await {
            return cut_response(Abort::Shutdown);
        }
        // A whole answer's first byte is its first token: as late as this.
        lease
            .counters()
            .first_token(Instant::now().saturating_duration_since(due));
        if let Some(kind) = fault {
            self.counters.fault(kind);
            debug!(seq, fault = kind.name(), "sim: injecting fault");
            lease.end(false);
            return match kind {
                FaultKind::Malformed => (
                    [(header::CONTENT_TYPE, "application/json")],
                    malformed_answer(api),
                )
                    .into_response(),
                FaultKind::Stall => {
                    let until = later(Instant::now(), self.spec.stall);
                    cut_response(if self.sleep_until(until).await {
                        Abort::Stall
                    } else {
                        Abort::Shutdown
                    })
                }
                FaultKind::StreamError | FaultKind::EventError | FaultKind::EarlyEnd => {
                    error_response(
                        api,
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        "simulated server error",
                    )
                }
                FaultKind::Reset | FaultKind::Http429 | FaultKind::Http500 | FaultKind::Http503 => {
                    cut_response(Abort::Reset)
                }
            };
        }
        lease.end(true);
        self.counters.generated(u64::from(n));
        whole_answer(api, req, seq, text, prompt, n)
    }

    /// False when the server is being cut before `due`.
    async fn sleep_until(&self, due: Instant) -> bool {
        tokio::select! {
            biased;
            () = self.cut.cancelled() => false,
            () = tokio::time::sleep_until(due) => true,
        }
    }
}
