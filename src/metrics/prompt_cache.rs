//! The server's prefix cache, as its answers report it: how much of the
//! prompts it served from cache, and what a hit is worth in TTFT. Engines
//! differ most here on conversations, agents and RAG (a long shared start).
//! Defined in docs/METRICS.md ("Prompt cache").

use serde::{Deserialize, Serialize};

use super::histogram::{LatencyHistogram, LatencySummary};
use super::record::RequestRecord;

/// What is folded: the successful requests whose server said how many of
/// their prompt tokens it had cached.
#[derive(Debug, Clone, Default)]
pub struct PromptCacheFold {
    reported: u64,
    hits: u64,
    prompt_tokens: u64,
    cached_tokens: u64,
    ttft_hit: LatencyHistogram,
    ttft_miss: LatencyHistogram,
}

impl PromptCacheFold {
    /// Folds a successful request in (a request whose server said nothing
    /// of its cache is left out: it is not a miss).
    pub fn observe(&mut self, record: &RequestRecord) {
        let Some(cached) = record.cached_tokens else {
            return;
        };
        if !record.is_ok() {
            return;
        }
        self.reported += 1;
        // A server never caches more than the prompt; a count above it (a
        // proxy's arithmetic) is taken as the whole prompt.
        let cached = cached.min(record.input_tokens);
        self.prompt_tokens += u64::from(record.input_tokens);
        self.cached_tokens += u64::from(cached);
        let hit = cached > 0;
        self.hits += u64::from(hit);
        if let Some(ttft) = record.ttft() {
            if hit {
                self.ttft_hit.record(ttft);
            } else {
                self.ttft_miss.record(ttft);
            }
        }
    }

    /// The figures so far; `None` until a server has reported its cache.
    #[must_use]
    pub fn figures(&self) -> Option<PromptCache<LatencySummary>> {
        if self.reported == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let hit_rate = if self.prompt_tokens == 0 {
            0.0
        } else {
            self.cached_tokens as f64 / self.prompt_tokens as f64
        };
        Some(PromptCache {
            reported_requests: self.reported,
            hit_requests: self.hits,
            prompt_tokens: self.prompt_tokens,
            cached_tokens: self.cached_tokens,
            hit_rate,
            ttft_hit: self.ttft_hit.summary(),
            ttft_miss: self.ttft_miss.summary(),
        })
    }
}

/// An engine's prefix-cache figures; `T` is a latency's form (a summary in
/// a snapshot, percentiles in milliseconds in `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptCache<T> {
    /// Successful requests whose server reported its cached tokens.
    pub reported_requests: u64,
    /// ... of them with at least one cached token.
    pub hit_requests: u64,
    /// Their prompt tokens, and those the server served from its cache.
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    /// cached ÷ prompt tokens.
    pub hit_rate: f64,
    /// TTFT of the requests with a hit, and of those without.
    #[serde(rename = "ttft_hit_ms")]
    pub ttft_hit: T,
    #[serde(rename = "ttft_miss_ms")]
    pub ttft_miss: T,
}

impl<T> PromptCache<T> {
    /// The same figures with the latencies in another form.
    pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> PromptCache<U> {
        PromptCache {
            reported_requests: self.reported_requests,
            hit_requests: self.hit_requests,
            prompt_tokens: self.prompt_tokens,
            cached_tokens: self.cached_tokens,
            hit_rate: self.hit_rate,
            ttft_hit: f(&self.ttft_hit),
            ttft_miss: f(&self.ttft_miss),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::{ErrorKind, RequestError};

    fn request(ttft_ms: u64, prompt: u32, cached: Option<u32>) -> RequestRecord {
        let mut r = crate::metrics::record::tests::ok_record(0, 0, ttft_ms, 10, 3);
        r.input_tokens = prompt;
        r.cached_tokens = cached;
        r
    }

    #[test]
    fn the_hit_rate_is_cached_over_prompt_tokens_of_the_reporting_requests() {
        let mut fold = PromptCacheFold::default();
        assert_eq!(fold.figures(), None, "nothing reported: no figures");
        fold.observe(&request(200, 100, Some(0)));
        fold.observe(&request(50, 100, Some(80)));
        fold.observe(&request(60, 100, Some(90)));
        // Silence is not a miss; a failure is not counted.
        fold.observe(&request(999, 100, None));
        let mut failed = request(999, 100, Some(100));
        failed.error = Some(RequestError {
            kind: ErrorKind::Http5xx,
            message: String::new(),
        });
        fold.observe(&failed);
        let f = fold.figures().unwrap();
        assert_eq!((f.reported_requests, f.hit_requests), (3, 2));
        assert_eq!((f.prompt_tokens, f.cached_tokens), (300, 170));
        assert!((f.hit_rate - 170.0 / 300.0).abs() < 1e-12);
        assert_eq!(f.ttft_miss.count, 1);
        assert_eq!(f.ttft_hit.count, 2);
        let close = |d: Duration, ms: f64| (d.as_secs_f64() * 1000.0 - ms).abs() < 0.5;
        assert!(close(f.ttft_miss.p50, 200.0), "{:?}", f.ttft_miss.p50);
        assert!(close(f.ttft_hit.max, 60.0), "{:?}", f.ttft_hit.max);
    }
}
