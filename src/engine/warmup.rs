//! Warm-up: load sent to every engine before the start signal and never
//! counted, so caches, JIT compilation and connection pools are warm when
//! the race begins. Every engine warms up at once, with the race's
//! concurrency, on the same prompts (taken from the end of the order, so
//! the race's own first prompts are not the ones just cached).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::backoff::Outcome;
use super::client::EngineClient;
use crate::config::WarmupSpec;
use crate::workload::PromptSet;

/// A user stops warming an engine up after this many failures in a row:
/// an engine that is down must not hold every engine's start.
const GIVE_UP_AFTER: u32 = 3;
/// The longest a request warm-up may take.
const MAX_WARMUP: Duration = Duration::from_secs(120);

/// The request number of warm-up request `ticket`: the prompts from the end
/// of the order backwards, so the race's first prompts are not the ones
/// the warm-up just put in a cache.
#[must_use]
pub fn warmup_request(ticket: u64, prompts: usize) -> u64 {
    let len = (prompts as u64).max(1);
    len - 1 - ticket % len
}

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
    // A time warm-up ends on time, requests in flight included; a request
    // warm-up ends when its users give up on an engine that keeps failing.
    let deadline = match spec {
        WarmupSpec::Duration(d) => began + d,
        WarmupSpec::Requests(_) => began + MAX_WARMUP,
    };
    let tickets = AtomicU64::new(0);
    let (ok, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let user = || async {
        let mut backoff = Backoff::default();
        let mut failures_in_a_row = 0;
        loop {
            let ticket = tickets.fetch_add(1, Ordering::Relaxed);
            let more = match spec {
                WarmupSpec::Requests(n) => ticket < u64::from(n),
                WarmupSpec::Duration(_) => Instant::now() < deadline,
            };
            if !more || stop.is_cancelled() || failures_in_a_row >= GIVE_UP_AFTER {
                break;
            }
            let k = warmup_request(ticket, prompts.cycle_len());
            let ask = match client.embeddings_batch() {
                Some(n) => prompts.batch(k, n),
                None => prompts.ask(k),
            };
            let mut ignore = |_: &str, _, _| {};
            let exchange = tokio::select! {
                ex = client.send_observed(&ask, prompts.max_tokens_for(k), &mut ignore) => ex,
                () = stop.cancelled() => break,
                () = sleep_until(deadline) => break,
            };
            let outcome = Outcome::of(&exchange);
            if outcome.error.is_some() {
                failed.fetch_add(1, Ordering::Relaxed);
                failures_in_a_row += 1;
            } else {
                ok.fetch_add(1, Ordering::Relaxed);
                failures_in_a_row = 0;
            }
            if let Some((wait, _)) = backoff.after(&outcome) {
                tokio::select! {
                    () = sleep(wait) => {}
                    () = stop.cancelled() => break,
                    () = sleep_until(deadline) => break,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_prompts_come_from_the_end_of_the_order() {
        let ids: Vec<u64> = (0..5).map(|t| warmup_request(t, 100)).collect();
        assert_eq!(ids, [99, 98, 97, 96, 95]);
        let ids: Vec<u64> = (0..4).map(|t| warmup_request(t, 3)).collect();
        assert_eq!(ids, [2, 1, 0, 2]);
        assert_eq!(warmup_request(7, 0), 0);
    }
}
