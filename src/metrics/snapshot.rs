//! `RaceSnapshot`: the immutable picture of a race that the aggregator
//! publishes several times a second. Every front end (TUI, headless, reports)
//! reads only this; nothing here is computed by a reader.

use std::time::Duration;

use serde::Serialize;

use super::breakdown::Breakdown;
use super::client::ClientHealth;
use super::commentary::CommentaryLine;
use super::cost::Cost;
use super::figures::{Arrivals, Connections, Counts, Grades, Latencies, Rates, Waits};
use super::histogram::{Bin, LatencySummary};
use super::prompt_cache::PromptCache;
use super::recent::RecentRequest;
use super::record::ErrorKind;
use super::series::SeriesPoint;
use super::slo::SloCheck;
use super::standing::Standing;
use super::sweep::SweepSnapshot;
use super::windows::{LevelUnit, StretchNow, WindowFigures};
use crate::config::color::EngineColor;
use crate::config::{FinishSpec, LoadMode, Sharding, WorkloadFacts};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RacePhase {
    /// Before the start signal.
    Countdown {
        remaining: Duration,
    },
    Running,
    /// Every engine has finished and every request has ended.
    Finished,
}

pub use super::standing::LaneState;

/// One engine's numbers at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneSnapshot {
    pub name: String,
    pub model: String,
    pub emoji: String,
    pub color: EngineColor,
    pub state: LaneState,
    /// When the engine crossed its finish line (or was stopped).
    pub finished_at: Option<Duration>,
    /// 1-based place on the leaderboard.
    pub place: usize,
    /// Distance covered toward the finish line, 0..=1.
    pub progress: f64,
    /// Time the engine has been racing: from the start signal to now, or to
    /// its end once finished.
    pub active: Duration,
    pub counts: Counts,
    pub rates: Rates,
    /// The 95 % intervals of its rates (`None` before three whole seconds).
    pub rate_ci95: Option<super::figures::RateIntervals>,
    /// In a race ranked by goodput, its interval overlaps the one of the
    /// engine placed just above: the places are too close to call.
    pub too_close_to_call: bool,
    /// An embeddings engine's throughput (`None` for one that generates).
    pub embeddings: Option<super::figures::EmbeddingRates>,
    /// Over the successful requests (send delay: over all).
    pub latencies: Latencies<LatencySummary>,
    pub arrivals: Arrivals,
    pub waits: Waits,
    pub connections: Connections,
    /// The server's prefix cache, once its answers have reported it.
    pub prompt_cache: Option<PromptCache<LatencySummary>>,
    /// Figures by turn and prompt length, and how conversations went (as
    /// of the last race second; whole in the final snapshot).
    pub breakdown: Option<std::sync::Arc<Breakdown<LatencySummary>>>,
    /// The server's own metrics, when scraped (the per-second series in
    /// the final snapshot only).
    pub server: Option<super::server::ServerSnapshot>,
    /// What its tokens cost, when the engine has a `cost_per_hour` or `price`.
    pub cost: Option<Cost>,
    /// Its place by cost per 1M output tokens (1 = cheapest), when priced.
    pub cheapest: Option<usize>,
    /// The first few distinct failure messages.
    pub error_samples: Vec<ErrorSample>,
    pub slo_checks: Vec<SloCheck>,
    /// Every SLO check passed (true when none is set).
    pub slo_pass: bool,
    /// Per-second points: the last minutes live, the whole race at the end.
    pub series: Vec<SeriesPoint>,
    /// Every latency and token count, binned (live: as of the last whole
    /// second; the final snapshot: exact).
    pub distributions: Option<std::sync::Arc<Distributions>>,
    pub grades: Grades,
    /// The few most recent requests, for the inspector (newest first).
    pub traces: Vec<RequestTrace>,
    /// The last finished requests (at most 64), newest last: the timeline.
    pub recent: Vec<RecentRequest>,
    /// Figures per stage of a `stages` load (in the final snapshot).
    pub stages: Vec<WindowFigures>,
    /// The stress test's steps and answer (`sweep` loads).
    pub sweep: Option<SweepSnapshot>,
}

pub use super::figures::ConnectionReuse;

impl RaceSnapshot {
    /// Embeddings engines race engines that generate: an embedding's
    /// latency and a generated answer's are not the same figure.
    #[must_use]
    pub fn mixes_embeddings(&self) -> bool {
        let embeds = self.lanes.iter().filter(|l| l.embeddings.is_some()).count();
        embeds > 0 && embeds < self.lanes.len()
    }
}

/// What the views say of a place marked too close to call.
pub const TIE_NOTE: &str =
    "=: too close to call: its goodput's 95 % interval overlaps the one of the engine above";

/// What the views say when [`RaceSnapshot::mixes_embeddings`].
pub const NOT_COMPARABLE: &str = "embeddings engines race engines that generate: their latencies and throughputs are not the same figures";

/// One distinct failure message and how often it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorSample {
    pub kind: ErrorKind,
    pub message: String,
    pub count: u64,
}

/// Bins of each distribution.
pub const DISTRIBUTION_BINS: usize = 24;

/// An engine's distributions over its successful requests.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Distributions {
    pub ttft_ms: Vec<Bin>,
    pub ttfot_ms: Vec<Bin>,
    pub tpot_ms: Vec<Bin>,
    pub itl_ms: Vec<Bin>,
    pub e2e_ms: Vec<Bin>,
    pub input_tokens: Vec<Bin>,
    pub output_tokens: Vec<Bin>,
}

/// Distinct failure messages kept per engine.
pub const ERROR_SAMPLES: usize = 5;
/// Characters of each kept message.
pub const ERROR_SAMPLE_CHARS: usize = 300;

/// A live view of one request for the inspector: bounded text, no history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestTrace {
    pub request_id: u64,
    /// The start of the prompt (at most [`TRACE_PROMPT_CHARS`] characters).
    pub prompt_head: String,
    /// The response so far (its last [`TRACE_TEXT_CHARS`] characters).
    pub text: String,
    /// Content chunks received so far.
    pub chunks: u32,
    /// When the request was sent, since the start signal.
    pub sent_at: Duration,
    /// Time to first token, once it arrived.
    pub ttft: Option<Duration>,
    /// Time to the first answer token (after any reasoning), once it arrived.
    pub ttfot: Option<Duration>,
    /// Where in `text` (in characters) the answer starts after reasoning.
    pub answer_starts_at: Option<usize>,
    /// When the request ended, since the start signal.
    pub ended_at: Option<Duration>,
    /// The failure kind, if it failed.
    pub error: Option<String>,
    /// What the server or the client said about the failure (bounded).
    pub error_message: Option<String>,
}

/// How much prompt a trace keeps.
pub const TRACE_PROMPT_CHARS: usize = 200;
/// How much of a failure's message a trace keeps.
pub const TRACE_ERROR_CHARS: usize = 300;
/// How much response text a trace keeps.
pub const TRACE_TEXT_CHARS: usize = 2000;

/// The whole race at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceSnapshot {
    pub race_name: String,
    /// The stage of a `stages` load running now.
    pub stage: Option<StretchNow>,
    /// What a `stages` load's levels count.
    pub stage_unit: Option<LevelUnit>,
    pub phase: RacePhase,
    /// Time since the start signal (zero during the countdown).
    pub elapsed: Duration,
    pub finish: FinishSpec,
    pub load_mode: LoadMode,
    pub lanes: Vec<LaneSnapshot>,
    /// Lane indices, first place first.
    pub leaderboard: Vec<usize>,
    /// The prompts the race runs with (see `RaceSpec::workload`).
    pub workload: Option<WorkloadFacts>,
    /// `--simulate`: every engine's server was a built-in simulator.
    pub simulated: bool,
    /// A shard's race, or shards merged (`--shard`, `merge`).
    pub sharding: Sharding,
    /// Whether the load generator kept up (see docs/METRICS.md).
    pub client: ClientHealth,
    /// The commentary feed, oldest first: the newest lines live, every
    /// kept one in the final snapshot (see `metrics::commentary`).
    pub commentary: Vec<CommentaryLine>,
    /// Publication counter; increases with every snapshot.
    pub sequence: u64,
    /// Every pair of engines of one kind compared request by request (the
    /// final snapshot only; empty while the race runs).
    pub pairs: Vec<super::pairs::PairComparison>,
}

impl LaneSnapshot {
    /// Its per-second points of whole seconds (see
    /// [`super::series::whole_seconds`]): what charts draw.
    #[must_use]
    pub fn whole_seconds(&self) -> &[SeriesPoint] {
        super::series::whole_seconds(&self.series)
    }

    /// At least one of its requests succeeded.
    #[must_use]
    pub fn answered(&self) -> bool {
        self.counts.ok > 0
    }

    /// Where the engine stands, for ranking and the commentary.
    #[must_use]
    pub fn standing(&self) -> Standing {
        Standing {
            name: self.name.clone(),
            state: self.state,
            finished_at: self.finished_at,
            ok: self.counts.ok,
            failed: self.counts.failed,
            lost: self.arrivals.lost(),
            output_tokens: self.counts.output_tokens,
            goodput_rps: self.rates.goodput_rps,
            ttft_p50: (self.latencies.ttft.count > 0).then_some(self.latencies.ttft.p50),
            sweeping: self.sweep.is_some(),
            sustained: self.sweep.as_ref().and_then(|s| {
                let best = s.max_sustainable.as_ref()?;
                Some((best.level, best.output_tokens_per_s))
            }),
            slo_checks: self.slo_checks.clone(),
        }
    }
}

impl RaceSnapshot {
    /// The race's SLO verdict: every engine passed every objective (true
    /// when none is set), as `summary.json` says it.
    #[must_use]
    pub fn slo_pass(&self) -> bool {
        self.lanes.iter().all(|l| l.slo_pass)
    }

    /// The race's verdict, the exit code's: every objective held and every
    /// engine answered at least one request.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.slo_pass() && self.lanes.iter().all(LaneSnapshot::answered)
    }

    #[must_use]
    pub fn total_requests(&self) -> u64 {
        self.lanes
            .iter()
            .map(|l| l.counts.ok + l.counts.failed)
            .sum()
    }

    /// Time left before the race's time limit.
    #[must_use]
    pub fn remaining(&self) -> Duration {
        self.finish.duration.saturating_sub(self.elapsed)
    }
}
