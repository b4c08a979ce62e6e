//! Warm-up: load sent to every engine before the start signal and never
//! counted, so caches, JIT compilation and connection pools are warm when
//! the race begins. Every engine warms up at once, with the race's
//! concurrency, on the same prompts (taken from the end of the order, so
//! the race's own first prompts are not the ones just cached).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::backoff::Outcome;
use super::openai::EngineClient;
use crate::config::WarmupSpec;
use crate::workload::PromptSet;

/// What one engine's warm-up did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmupResult {
    pub ok: u64,
    pub failed: u64,
    pub took: Duration,
}

/// Warms every client up as `spec` says, `concurrency` requests at a time
/// each; returns early when `stop` fires.
pub async fn warm_up(
    clients: &[EngineClient],
    prompts: &PromptSet,
    spec: WarmupSpec,
    concurrency: usize,
    stop: &CancellationToken,
) -> Vec<WarmupResult> {
    join_all(
        clients
            .iter()
            .map(|client| warm_up_one(client, prompts, spec, concurrency.max(1), stop)),
    )
    .await
}

async fn warm_up_one(
    client: &EngineClient,
    prompts: &PromptSet,
    spec: WarmupSpec,
    concurrency: usize,
    stop: &CancellationToken,
) -> WarmupResult {
    let began = Instant::now();
    let tickets = AtomicU64::new(0);
    let (ok, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let user = || async {
        let mut backoff = Backoff::default();
        loop {
            let ticket = tickets.fetch_add(1, Ordering::Relaxed);
            let more = match spec {
                WarmupSpec::Requests(n) => ticket < u64::from(n),
                WarmupSpec::Duration(d) => began.elapsed() < d,
            };
            if !more || stop.is_cancelled() {
                break;
            }
            // From the end of the order, the same for every engine.
            let prompt = prompts.for_request(u64::MAX - ticket);
            let exchange = tokio::select! {
                ex = client.send(&prompt) => ex,
                () = stop.cancelled() => break,
            };
            let outcome = Outcome {
                error: exchange.error.as_ref().map(|e| e.kind),
                retry_after: exchange.retry_after,
                took: exchange.end.saturating_duration_since(exchange.sent),
            };
            if outcome.error.is_some() {
                failed.fetch_add(1, Ordering::Relaxed);
            } else {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            if let Some((wait, _)) = backoff.after(&outcome) {
                tokio::select! {
                    () = sleep(wait) => {}
                    () = stop.cancelled() => break,
                }
            }
        }
    };
    join_all((0..concurrency).map(|_| user())).await;
    WarmupResult {
        ok: ok.into_inner(),
        failed: failed.into_inner(),
        took: began.elapsed(),
    }
}
