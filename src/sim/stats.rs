//! The simulator's counters: atomics shared by the request handlers, read
//! by `SimHandle::stats` as a plain snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::FaultKind;

/// What the simulator has seen so far.
///
/// `requests_received` counts every request to a completion route, including
/// bad ones. `requests_completed` counts only answers that ran to their
/// normal end (no fault, client still there). `in_flight` are admitted
/// requests holding a capacity slot; `queued` are waiting for one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimStats {
    pub requests_received: u64,
    pub requests_completed: u64,
    /// Faults actually injected, by kind (kinds never injected are absent).
    pub faults_injected: BTreeMap<FaultKind, u64>,
    pub in_flight: u64,
    pub queued: u64,
    /// Streams whose first token went out, and how late it went out in
    /// total: the timer the simulator sleeps on wakes up a little after its
    /// deadline (tokio's timers have millisecond granularity), so the real
    /// TTFT is the configured one plus this lateness. Accuracy tests compare
    /// the client's measurement with the real value.
    pub first_tokens: u64,
    pub first_token_lateness: std::time::Duration,
    /// The prompt tokens of the admitted requests, and those its prefix
    /// cache served (the truth a race's hit rate is checked against).
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    /// Output tokens it sent (streamed or whole).
    pub generated_tokens: u64,
    /// Streams' time to first token from their arrival, as a histogram:
    /// each of [`TTFT_BUCKETS`]' upper bounds (seconds) with the count at
    /// or under it (cumulative; the last bound is +Inf).
    pub ttft_buckets: Vec<(f64, u64)>,
}

/// vLLM's bucket bounds of `vllm:time_to_first_token_seconds` (with +Inf).
pub const TTFT_BUCKETS: [f64; 19] = [
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    f64::INFINITY,
];

impl SimStats {
    /// Mean lateness of the first token (zero before any stream).
    #[must_use]
    pub fn mean_first_token_lateness(&self) -> std::time::Duration {
        match u32::try_from(self.first_tokens) {
            Ok(0) | Err(_) => std::time::Duration::ZERO,
            Ok(n) => self.first_token_lateness / n,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    received: AtomicU64,
    completed: AtomicU64,
    in_flight: AtomicU64,
    queued: AtomicU64,
    first_tokens: AtomicU64,
    first_token_lateness_us: AtomicU64,
    prompt_tokens: AtomicU64,
    cached_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    /// Per bucket of [`TTFT_BUCKETS`], the first tokens that fell in it
    /// (not cumulative).
    ttft: [AtomicU64; TTFT_BUCKETS.len()],
    /// Indexed by the kind's position in `FaultKind::ALL`.
    faults: [AtomicU64; FaultKind::ALL.len()],
}

impl Counters {
    /// Counts a new request and returns its sequence number (0-based).
    pub(crate) fn next_request(&self) -> u64 {
        self.received.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn completed(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fault(&self, kind: FaultKind) {
        if let Some(i) = FaultKind::ALL.iter().position(|k| *k == kind) {
            self.faults[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn first_token(&self, lateness: std::time::Duration) {
        self.first_tokens.fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX);
        self.first_token_lateness_us
            .fetch_add(us, Ordering::Relaxed);
    }

    /// A stream's first token went out `ttft` after its request arrived.
    pub(crate) fn ttft(&self, ttft: std::time::Duration) {
        let secs = ttft.as_secs_f64();
        let i = TTFT_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(TTFT_BUCKETS.len() - 1);
        self.ttft[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Output tokens sent.
    pub(crate) fn generated(&self, tokens: u64) {
        self.generated_tokens.fetch_add(tokens, Ordering::Relaxed);
    }

    /// An admitted prompt, and the tokens its prefix cache served.
    pub(crate) fn prompt_served(&self, tokens: u32, cached: u32) {
        self.prompt_tokens
            .fetch_add(u64::from(tokens), Ordering::Relaxed);
        self.cached_tokens
            .fetch_add(u64::from(cached), Ordering::Relaxed);
    }

    pub(crate) fn in_flight(&self) -> &AtomicU64 {
        &self.in_flight
    }

    pub(crate) fn queued(&self) -> &AtomicU64 {
        &self.queued
    }

    pub(crate) fn snapshot(&self) -> SimStats {
        let faults_injected = FaultKind::ALL
            .iter()
            .zip(&self.faults)
            .map(|(k, n)| (*k, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        SimStats {
            requests_received: self.received.load(Ordering::Relaxed),
            requests_completed: self.completed.load(Ordering::Relaxed),
            faults_injected,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            first_tokens: self.first_tokens.load(Ordering::Relaxed),
            first_token_lateness: std::time::Duration::from_micros(
                self.first_token_lateness_us.load(Ordering::Relaxed),
            ),
            prompt_tokens: self.prompt_tokens.load(Ordering::Relaxed),
            cached_tokens: self.cached_tokens.load(Ordering::Relaxed),
            generated_tokens: self.generated_tokens.load(Ordering::Relaxed),
            ttft_buckets: TTFT_BUCKETS
                .iter()
                .zip(&self.ttft)
                .scan(0, |total, (&le, n)| {
                    *total += n.load(Ordering::Relaxed);
                    Some((le, *total))
                })
                .collect(),
        }
    }
}

/// Holds one unit of a gauge (`in_flight` or `queued`) for as long as it
/// lives, so every exit path, including a dropped future, gives it back.
#[derive(Debug)]
pub(crate) struct GaugeGuard<'a>(&'a AtomicU64);

impl<'a> GaugeGuard<'a> {
    pub(crate) fn new(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
