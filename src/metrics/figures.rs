//! An engine's figures in groups, shared by the fold (`EngineStats`), its
//! snapshot (`LaneSnapshot`) and its entry of `summary.json`
//! (`EngineSummary`, where each group's fields are flattened in, under
//! the names the file has always had), so each conversion is one step per
//! group rather than a copy field by field. The definitions are in
//! docs/METRICS.md.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::health::{Grade, Health, Trend};
use super::record::{ErrorKind, TokenSource};
use crate::config::ReuseConnections;

/// What an engine's requests came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub started: u64,
    pub ok: u64,
    pub failed: u64,
    /// Aborted when the race stopped (not failures, not measured).
    pub cancelled: u64,
    /// Successful requests that met every SLO.
    pub good: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub input_sources: BTreeSet<TokenSource>,
    pub output_sources: BTreeSet<TokenSource>,
}

impl Counts {
    /// Started, not yet ended.
    #[must_use]
    pub fn in_flight(&self) -> u64 {
        self.started.saturating_sub(
            self.ok
                .saturating_add(self.failed)
                .saturating_add(self.cancelled),
        )
    }
}

/// Per second of the engine's active time (`success_rate`: a share).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    #[serde(rename = "rps")]
    pub requests_per_s: f64,
    pub output_tokens_per_s: f64,
    pub total_tokens_per_s: f64,
    pub goodput_rps: f64,
    /// ok / (ok + failed + lost arrivals); 1 when nothing has completed.
    pub success_rate: f64,
}

/// The 95 % intervals of an engine's rates, `[lo, hi]` around each (by
/// batch means of its whole seconds; see `interval::batch_means_half_width`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateIntervals {
    #[serde(rename = "rps")]
    pub requests_per_s: [f64; 2],
    pub output_tokens_per_s: [f64; 2],
    pub goodput_rps: [f64; 2],
}

/// An embeddings engine's throughput: what its requests carried, per second
/// of active time (its latency is E2E; TTFT, TPOT and output tokens do not
/// apply).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRates {
    /// Prompts in one request.
    pub inputs_per_request: u32,
    /// Prompts embedded: successful requests × inputs per request.
    pub inputs: u64,
    /// Prompts embedded a second.
    pub inputs_per_s: f64,
    pub input_tokens_per_s: f64,
}

/// One value per latency: histograms in the fold, summaries in a snapshot,
/// percentiles in milliseconds in `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies<T> {
    #[serde(rename = "ttft_ms")]
    pub ttft: T,
    /// Time to the first answer token (after any reasoning).
    #[serde(rename = "ttfot_ms")]
    pub ttfot: T,
    #[serde(rename = "tpot_ms")]
    pub tpot: T,
    #[serde(rename = "itl_ms")]
    pub itl: T,
    #[serde(rename = "e2e_ms")]
    pub e2e: T,
    /// Actual send time − scheduled time.
    #[serde(rename = "send_delay_ms")]
    pub send_delay: T,
}

impl<T> Latencies<T> {
    /// Each latency made into something else, the same way.
    pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> Latencies<U> {
        Latencies {
            ttft: f(&self.ttft),
            ttfot: f(&self.ttfot),
            tpot: f(&self.tpot),
            itl: f(&self.itl),
            e2e: f(&self.e2e),
            send_delay: f(&self.send_delay),
        }
    }
}

/// Open-loop arrivals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrivals {
    /// Every request the load offered: sent, dropped or never sent. Error
    /// and success rates are over these (see docs/METRICS.md).
    pub offered: u64,
    /// Arrivals that had to wait for an in-flight slot.
    #[serde(rename = "late_arrivals")]
    pub late: u64,
    /// Arrivals dropped because the backlog was full.
    #[serde(rename = "dropped_arrivals")]
    pub dropped: u64,
    /// Arrivals still waiting for a slot when the engine stopped.
    #[serde(rename = "unsent_arrivals")]
    pub unsent: u64,
}

impl Arrivals {
    /// Offered arrivals that never became a request: dropped or unsent.
    #[must_use]
    pub fn lost(&self) -> u64 {
        self.dropped.saturating_add(self.unsent)
    }
}

/// Closed-loop users' waits before their next request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waits {
    /// Times a user waited (after fast failures or on `Retry-After`).
    pub backoffs: u64,
    /// ... of them on the server's `Retry-After`.
    pub retry_afters: u64,
    /// The time waited, added up over users.
    #[serde(rename = "backoff_s", with = "seconds")]
    pub time: Duration,
}

/// The engine's client's connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connections {
    /// Opened (warm-up and pre-connects included): one per concurrent
    /// request when connections are reused.
    #[serde(rename = "connections_opened")]
    pub opened: u64,
    /// Requests sent again, once, on a fresh connection after the server
    /// closed the reused one before answering (not failures).
    #[serde(rename = "connection_retries")]
    pub retries: u64,
    /// Whether requests reused kept-alive connections.
    #[serde(rename = "connection_reuse")]
    pub reuse: ConnectionReuse,
}

/// The judgements the TUI shows beside the numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grades {
    pub health: Health,
    /// TTFT (per-second mean) now against five seconds ago.
    pub ttft_trend: Trend,
    pub tpot_trend: Trend,
    /// Output tokens per second now against five seconds ago.
    pub throughput_trend: Trend,
    /// TTFT p50 against the race's thresholds (see docs/METRICS.md).
    pub ttft_grade: Grade,
    pub tpot_grade: Grade,
    /// Output tok/s against the best lane.
    pub throughput_grade: Grade,
}

/// A `Duration` as seconds to the millisecond, as `summary.json` writes it.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Whether an engine's requests go over kept-alive connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionReuse {
    /// Kept alive and reused (`reuse_connections: auto` or `always`).
    #[default]
    Reused,
    /// The server kept closing connections right after its answers, so
    /// the client stopped reusing them: every request since opened its own.
    Stopped,
    /// `reuse_connections: never`: every request opened its own.
    Never,
}

impl ConnectionReuse {
    /// What a client told to `reuse` starts with.
    #[must_use]
    pub fn configured(reuse: ReuseConnections) -> Self {
        match reuse {
            ReuseConnections::Never => ConnectionReuse::Never,
            ReuseConnections::Auto | ReuseConnections::Always => ConnectionReuse::Reused,
        }
    }

    /// In words, for a report's table.
    #[must_use]
    pub fn in_words(self) -> &'static str {
        match self {
            ConnectionReuse::Reused => "yes",
            ConnectionReuse::Stopped => "stopped: the server closes them after each stream",
            ConnectionReuse::Never => "no (reuse_connections: never)",
        }
    }
}
