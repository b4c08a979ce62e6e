//! `summary.json`: the race's final numbers, with units in the field names.
//! A DTO separate from the metric types so the file format only changes on
//! purpose.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::{Pricing, Sharding, WorkloadFacts};
use crate::metrics::breakdown::Breakdown;
use crate::metrics::cost::Cost;
use crate::metrics::figures::{
    Arrivals, Connections, Counts, EmbeddingRates, Latencies, RateIntervals, Rates, Waits,
};
use crate::metrics::histogram::Bin;
use crate::metrics::prompt_cache::PromptCache;
use crate::metrics::series::SeriesPoint;
use crate::metrics::server::ServerSnapshot;
use crate::metrics::slo::SloCheck;
use crate::metrics::snapshot::Distributions;
use crate::metrics::sweep::SweepSnapshot;
use crate::metrics::windows::{LevelUnit, WindowFigures};
use crate::metrics::{
    CommentaryKind, ConnectionReuse, LaneSnapshot, LatencySummary, RaceSnapshot, TokenSource,
};
use crate::names::{named_enum, serde_by_name};

/// Version of the summary format; bumped when a field changes meaning.
pub const SUMMARY_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct SummaryFile {
    pub summary_version: u32,
    pub tool: String,
    pub race: String,
    /// `--simulate`: every engine's server was a built-in simulator, so
    /// the numbers are the simulator's, not the engines'.
    pub simulated: bool,
    /// `--shard` or `merge`: which part of the race this is (absent for a
    /// race run whole by one process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<ShardsSummary>,
    /// Wall-clock time of the start signal (RFC 3339).
    pub started_at: String,
    /// From the start signal to the end of the last request.
    pub duration_s: f64,
    pub load_mode: String,
    pub finish: FinishSummary,
    pub slo_pass: bool,
    /// The load generator could not keep up: the numbers may be its own.
    pub client_saturated: bool,
    pub client: ClientSummary,
    /// Where the prompts came from (absent when not known, e.g. in tests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadFacts>,
    pub engines: Vec<EngineSummary>,
    /// The commentary feed, oldest first (its rules: docs/METRICS.md).
    pub commentary: Vec<CommentarySummary>,
    /// Every pair of engines of one kind compared request by request: the
    /// median ratio of `a`'s TTFT and E2E to `b`'s over the requests both
    /// answered, its 95 % interval, and the verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<PairSummary>,
}

/// Two engines compared request by request (see docs/METRICS.md, "Lane
/// against lane").
#[derive(Debug, Serialize, Deserialize)]
pub struct PairSummary {
    pub a: String,
    pub b: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<RatioSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e: Option<RatioSummary>,
}

/// A ratio of a figure of `a` to `b`'s.
#[derive(Debug, Serialize, Deserialize)]
pub struct RatioSummary {
    pub pairs: u64,
    pub median: f64,
    pub ci95: [f64; 2],
    /// `faster` (a's whole interval below 1), `slower`, or
    /// `too_close_to_call`.
    pub verdict: String,
}

impl RatioSummary {
    fn of(r: crate::metrics::pairs::Ratio) -> Self {
        use crate::metrics::pairs::Verdict;
        let round4 = |x: f64| (x * 10_000.0).round() / 10_000.0;
        RatioSummary {
            pairs: r.pairs,
            median: round4(r.median),
            ci95: r.ci95.map(round4),
            verdict: match r.verdict() {
                Verdict::Faster => "faster",
                Verdict::Slower => "slower",
                Verdict::TooCloseToCall => "too_close_to_call",
            }
            .to_owned(),
        }
    }

    /// As the reports write it: `×0.82 (0.80–0.85) faster`.
    #[must_use]
    pub fn shown(&self) -> String {
        format!(
            "×{:.3} ({:.3}–{:.3}) {}",
            self.median,
            self.ci95[0],
            self.ci95[1],
            self.verdict.replace('_', " ")
        )
    }
}

/// One line of the commentary feed.
#[derive(Debug, Serialize, Deserialize)]
pub struct CommentarySummary {
    /// When it was written, seconds after the start.
    pub at_s: f64,
    /// The engine it is about, by name.
    pub engine: Option<String>,
    /// `first_to`, `lead_change`, `finished`, `latency_spike`,
    /// `error_burst`, `throughput_drop`, `slo_at_risk` or `reconnecting`.
    pub kind: CommentaryKind,
    pub text: String,
}

/// The client's own health over the race (see docs/METRICS.md).
#[derive(Debug, Serialize, Deserialize)]
pub struct ClientSummary {
    pub reason: Option<String>,
    pub send_lag_ms: Percentiles,
    pub worst_loop_lag_ms: f64,
    pub worst_queue_depth: u32,
    /// Highest CPU of a second, as a fraction of all cores.
    pub worst_cpu: f64,
    pub cores: Option<u32>,
    pub saturated_seconds: u64,
    pub samples: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FinishSummary {
    pub time_limit_s: f64,
    pub duration_is_finish_line: bool,
    pub requests: Option<u64>,
    pub output_tokens: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    /// Each percentile's 95 % confidence interval, `[lo, hi]` in ms
    /// (distribution-free; see docs/METRICS.md, "Confidence intervals").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ci95: BTreeMap<String, [f64; 2]>,
    /// The percentiles too few samples bound (their interval reaches the
    /// sample's edge: a p99 of 37 requests is about the maximum).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub few_samples: Vec<String>,
}

impl From<&LatencySummary> for Percentiles {
    fn from(s: &LatencySummary) -> Self {
        let ms = |d: Duration| (d.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        let named: Vec<_> = s.ci95.iter().flat_map(|c| c.named()).collect();
        Percentiles {
            ci95: named
                .iter()
                .map(|(name, i)| ((*name).to_owned(), [ms(i.lo), ms(i.hi)]))
                .collect(),
            few_samples: named
                .iter()
                .filter(|(_, i)| i.at_edge)
                .map(|(name, _)| (*name).to_owned())
                .collect(),
            count: s.count,
            mean: ms(s.mean),
            min: ms(s.min),
            p50: ms(s.p50),
            p90: ms(s.p90),
            p95: ms(s.p95),
            p99: ms(s.p99),
            p999: ms(s.p999),
            max: ms(s.max),
        }
    }
}

impl Percentiles {
    /// The percentiles the reports list, by name, with their values.
    #[must_use]
    pub fn named(&self) -> [(&'static str, f64); 5] {
        [
            ("p50", self.p50),
            ("p90", self.p90),
            ("p95", self.p95),
            ("p99", self.p99),
            ("p999", self.p999),
        ]
    }

    /// A percentile as the reports write it (ms): `≈` before one that too
    /// few samples bound, a dash when nothing was measured.
    #[must_use]
    pub fn shown(&self, name: &str, value: f64) -> String {
        if self.count == 0 {
            "–".to_owned()
        } else if self.few_samples.iter().any(|n| n == name) {
            format!("≈{value:.1}")
        } else {
            format!("{value:.1}")
        }
    }

    /// A percentile's 95 % interval as the reports write it (ms):
    /// `lo–hi`, with `, n=N` when it reaches the sample's edge.
    #[must_use]
    pub fn interval(&self, name: &str) -> String {
        match self.ci95.get(name) {
            Some([lo, hi]) if self.few_samples.iter().any(|n| n == name) => {
                format!("{lo:.1}–{hi:.1}, n={}", self.count)
            }
            Some([lo, hi]) => format!("{lo:.1}–{hi:.1}"),
            None => "–".to_owned(),
        }
    }
}

/// What the reports say of a value marked `≈`.
pub const FEW_SAMPLES_NOTE: &str = "≈: too few requests to bound this percentile (its 95 % interval reaches the slowest or fastest request); the interval columns are distribution-free 95 % confidence intervals";

/// One of an engine's latency figures.
pub type LatencyOf = fn(&EngineSummary) -> &Percentiles;

/// The latencies every report shows, in order: id, title, and the figure.
pub const LATENCIES: [(&str, &str, LatencyOf); 5] = [
    ("ttft", "TTFT: time to first token", |e| &e.latencies.ttft),
    ("ttfot", "TTFOT: time to first answer token", |e| {
        &e.latencies.ttfot
    }),
    ("tpot", "TPOT: time per output token", |e| &e.latencies.tpot),
    ("itl", "ITL: inter-token latency", |e| &e.latencies.itl),
    ("e2e", "E2E: whole request", |e| &e.latencies.e2e),
];

/// The engines a table of the latency `id` (of [`LATENCIES`]) shows: all of
/// them for E2E, the ones that generate for the others (an embeddings
/// engine's one latency is E2E).
#[must_use]
pub fn engines_with<'s>(s: &'s SummaryFile, id: &str) -> Vec<&'s EngineSummary> {
    s.engines
        .iter()
        .filter(|e| id == "e2e" || e.embeddings.is_none())
        .collect()
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EngineSummary {
    pub name: String,
    pub model: String,
    pub place: usize,
    /// running | finished | out_of_time | stopped
    pub state: String,
    /// When the engine crossed its finish line, seconds after the start.
    pub finish_s: Option<f64>,
    pub active_s: f64,
    #[serde(flatten)]
    pub counts: CountsSummary,
    /// Rounded to 3 decimals.
    #[serde(flatten)]
    pub rates: Rates,
    #[serde(flatten)]
    pub latencies: Latencies<Percentiles>,
    /// An embeddings engine's throughput (absent for one that generates):
    /// `inputs_per_request`, `inputs_per_s`, `input_tokens_per_s`. Its
    /// latency is `e2e_ms`; TTFT, TPOT and output tokens do not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<EmbeddingRates>,
    /// The 95 % intervals of `rps`, `output_tokens_per_s` and
    /// `goodput_rps` (`[lo, hi]`, by batch means of its whole seconds;
    /// absent before three).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates_ci95: Option<RateIntervals>,
    /// Its goodput's interval overlaps the one of the engine placed just
    /// above: too close to call (races the clock ends only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub too_close_to_call: bool,
    /// `offered`: requests the load offered (sent, dropped or never sent);
    /// `unsent_arrivals`: still waiting for a slot when the engine stopped.
    #[serde(flatten)]
    pub arrivals: Arrivals,
    /// Times users waited before their next request, on `Retry-After` or
    /// after fast failures, and the time waited (added up over users).
    #[serde(flatten)]
    pub waits: Waits,
    /// Connections the client opened to the engine (warm-up included),
    /// requests sent again on a fresh one after the server closed their
    /// reused one (not failures), and whether they were reused: `reused`,
    /// `stopped` (the server kept closing them right after its answers, so
    /// the client connected for every request from then on) or `never`.
    #[serde(flatten)]
    pub connections: Connections,
    /// The server's prefix cache as its answers reported it (absent when
    /// they never did): requests that reported it and of them those with a
    /// hit, their prompt and cached tokens, `hit_rate` (cached ÷ prompt
    /// tokens), and TTFT with a hit and without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache: Option<PromptCache<Percentiles>>,
    /// TTFT, TPOT and E2E by conversation turn and by prompt length, and
    /// how the conversations ended (see docs/METRICS.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Breakdown<Percentiles>>,
    /// The server's own metrics, when scraped: scrapes and failures, each
    /// figure's min/mean/max, the tokens its counters grew by over the
    /// race, and a point per second (see docs/METRICS.md, "Server metrics").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerSnapshot>,
    /// The first few distinct failure messages and their counts.
    pub error_samples: Vec<ErrorSampleSummary>,
    pub slo_pass: bool,
    pub slo: Vec<SloCheck>,
    /// Figures per stage of a `stages` load, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSummary>,
    /// The stress test's steps and answer (`sweep` loads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSummary>,
    /// What its tokens cost (engines with a `cost_per_hour` or `price`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostSummary>,
    pub series: Vec<SeriesPoint>,
    /// Latencies and token counts of the successful requests, binned
    /// (log-spaced bins; absent from a live snapshot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distributions: Option<Distributions>,
}

/// What an engine's requests came to, as `summary.json` names it.
#[derive(Debug, Serialize, Deserialize)]
pub struct CountsSummary {
    #[serde(rename = "requests_ok")]
    pub ok: u64,
    #[serde(rename = "requests_failed")]
    pub failed: u64,
    #[serde(rename = "requests_cancelled")]
    pub cancelled: u64,
    #[serde(rename = "requests_good")]
    pub good: u64,
    /// Failures by kind name.
    pub errors: BTreeMap<String, u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Where output token counts came from: usage | tokenizer | estimate | chunks | mixed.
    pub token_source: Option<String>,
    pub input_token_source: Option<String>,
}

impl From<&Counts> for CountsSummary {
    fn from(c: &Counts) -> Self {
        CountsSummary {
            ok: c.ok,
            failed: c.failed,
            cancelled: c.cancelled,
            good: c.good,
            errors: c
                .errors
                .iter()
                .map(|(k, v)| (k.name().to_owned(), *v))
                .collect(),
            input_tokens: c.input_tokens,
            output_tokens: c.output_tokens,
            token_source: source_label(&c.output_sources),
            input_token_source: source_label(&c.input_sources),
        }
    }
}

/// The prompt-cache table's columns (after the engine's name).
pub const PROMPT_CACHE_COLUMNS: [&str; 5] = [
    "cached of prompt tokens",
    "requests with a hit",
    "cached / prompt tokens",
    "TTFT p50, hit (ms)",
    "TTFT p50, miss (ms)",
];

impl EngineSummary {
    /// Its row of the prompt-cache table, as the reports print it; `None`
    /// when its server never reported its cache.
    #[must_use]
    pub fn prompt_cache_cells(&self) -> Option<[String; 5]> {
        let c = self.prompt_cache.as_ref()?;
        let ttft = |p: &Percentiles| {
            if p.count == 0 {
                "–".to_owned()
            } else {
                crate::report::number(p.p50)
            }
        };
        Some([
            format!("{:.1}%", c.hit_rate * 100.0),
            format!("{} of {}", c.hit_requests, c.reported_requests),
            format!("{} / {}", c.cached_tokens, c.prompt_tokens),
            ttft(&c.ttft_hit),
            ttft(&c.ttft_miss),
        ])
    }

    /// Its server closed connections under its requests.
    #[must_use]
    pub fn reconnected(&self) -> bool {
        self.connections.retries > 0 || self.connections.reuse == ConnectionReuse::Stopped
    }
}

/// One stage's figures: requests count in the stage they were due in.
#[derive(Debug, Serialize, Deserialize)]
pub struct StageSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub start_s: f64,
    pub duration_s: f64,
    pub requests_ok: u64,
    pub requests_failed: u64,
    pub lost_arrivals: u64,
    pub rps: f64,
    pub output_tokens_per_s: f64,
    pub ttft_ms: Percentiles,
    pub tpot_ms: Percentiles,
    pub e2e_ms: Percentiles,
    pub error_rate: f64,
    pub slo_pass: bool,
}

named_enum! {
    /// How an engine is priced.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum CostBasis {
        /// `cost_per_hour`: a machine's price.
        Hourly = "hourly",
        /// `price`: an API's price per token.
        Tokens = "tokens",
    }
}

serde_by_name!(CostBasis);

/// An engine's cost, in dollars.
#[derive(Debug, Serialize, Deserialize)]
pub struct CostSummary {
    /// `hourly` (`cost_per_hour`) or `tokens` (`price`).
    pub basis: CostBasis,
    /// The machine's price an hour, or what an API's tokens cost per hour
    /// of active time.
    pub per_hour: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_per_1m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_per_1m: Option<f64>,
    /// What its active time (or its tokens) cost.
    pub spend: f64,
    pub per_1m_output_tokens: Option<f64>,
    pub per_1m_total_tokens: Option<f64>,
    pub per_request: Option<f64>,
    /// Place by cost per 1M output tokens (1 = cheapest).
    pub cheapest: Option<usize>,
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl CostSummary {
    fn new(c: &Cost, cheapest: Option<usize>) -> Self {
        let (basis, input_per_1m, output_per_1m) = match c.pricing {
            Pricing::Hourly { .. } => (CostBasis::Hourly, None, None),
            Pricing::Tokens {
                input_per_1m,
                output_per_1m,
            } => (CostBasis::Tokens, Some(input_per_1m), Some(output_per_1m)),
        };
        CostSummary {
            basis,
            per_hour: c.per_hour.map(round6),
            input_per_1m,
            output_per_1m,
            cheapest,
            spend: round6(c.spend),
            per_1m_output_tokens: c.per_million_output.map(round6),
            per_1m_total_tokens: c.per_million_total.map(round6),
            per_request: c.per_request.map(round6),
        }
    }
}

/// A sweep's steps, in the order they ran, and its answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct SweepSummary {
    pub steps: Vec<SweepStepSummary>,
    /// The highest level that held (absent when none did).
    pub max_sustainable: Option<SweepPoint>,
    /// The first level that broke, and why (absent when none did).
    pub broke_at: Option<SweepBreak>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SweepStepSummary {
    #[serde(flatten)]
    pub figures: StageSummary,
    /// A bisection step between the last good and the first bad level.
    pub refining: bool,
    pub held: bool,
    pub why: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SweepPoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub rps: f64,
    pub output_tokens_per_s: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SweepBreak {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub why: String,
}

impl SweepSummary {
    fn new(s: &SweepSnapshot) -> Self {
        let unit = Some(s.unit);
        SweepSummary {
            steps: s
                .steps
                .iter()
                .map(|j| SweepStepSummary {
                    figures: StageSummary::new(&j.figures, unit),
                    refining: j.refining,
                    held: j.verdict.held,
                    why: j.verdict.why.clone(),
                })
                .collect(),
            max_sustainable: s.max_sustainable.as_ref().map(|f| {
                let (users, rate) = level_keys(s.unit, f.level);
                SweepPoint {
                    users,
                    rate,
                    rps: round3(f.requests_per_s),
                    output_tokens_per_s: round3(f.output_tokens_per_s),
                }
            }),
            broke_at: s.broke_at.as_ref().map(|(level, why)| {
                let (users, rate) = level_keys(s.unit, *level);
                SweepBreak {
                    users,
                    rate,
                    why: why.clone(),
                }
            }),
        }
    }
}

fn level_keys(unit: LevelUnit, level: f64) -> (Option<f64>, Option<f64>) {
    match unit {
        LevelUnit::Users => (Some(level), None),
        LevelUnit::Rate => (None, Some(level)),
    }
}

impl StageSummary {
    fn new(f: &WindowFigures, unit: Option<LevelUnit>) -> Self {
        let (users, rate) = unit.map_or((None, None), |u| level_keys(u, f.level));
        StageSummary {
            users,
            rate,
            start_s: round3(f.start.as_secs_f64()),
            duration_s: round3(f.duration.as_secs_f64()),
            requests_ok: f.requests_ok,
            requests_failed: f.requests_failed,
            lost_arrivals: f.lost_arrivals,
            rps: round3(f.requests_per_s),
            output_tokens_per_s: round3(f.output_tokens_per_s),
            ttft_ms: (&f.ttft).into(),
            tpot_ms: (&f.tpot).into(),
            e2e_ms: (&f.e2e).into(),
            error_rate: round3(f.error_rate),
            slo_pass: f.slo_pass,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorSampleSummary {
    pub kind: String,
    pub message: String,
    pub count: u64,
}

fn source_label(sources: &std::collections::BTreeSet<TokenSource>) -> Option<String> {
    match sources.len() {
        0 => None,
        1 => sources.iter().next().map(|s| s.name().to_owned()),
        _ => Some("mixed".to_owned()),
    }
}

/// Bin edges to the microsecond (or thousandth of a token).
fn rounded(d: &Distributions) -> Distributions {
    let round = |bins: &[Bin]| -> Vec<Bin> {
        bins.iter()
            .map(|b| Bin {
                lo: round3(b.lo),
                hi: round3(b.hi),
                count: b.count,
            })
            .collect()
    };
    Distributions {
        ttft_ms: round(&d.ttft_ms),
        ttfot_ms: round(&d.ttfot_ms),
        tpot_ms: round(&d.tpot_ms),
        itl_ms: round(&d.itl_ms),
        e2e_ms: round(&d.e2e_ms),
        input_tokens: round(&d.input_tokens),
        output_tokens: round(&d.output_tokens),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl EngineSummary {
    /// Its place as the reports write it: `2=` when too close to call.
    #[must_use]
    pub fn place_shown(&self) -> String {
        if self.too_close_to_call {
            format!("{}=", self.place)
        } else {
            self.place.to_string()
        }
    }

    fn from_lane(l: &LaneSnapshot, unit: Option<LevelUnit>) -> Self {
        EngineSummary {
            name: l.name.clone(),
            model: l.model.clone(),
            place: l.place,
            state: l.state.name().to_owned(),
            finish_s: l.finished_at.map(|d| round3(d.as_secs_f64())),
            active_s: round3(l.active.as_secs_f64()),
            counts: (&l.counts).into(),
            rates: Rates {
                requests_per_s: round3(l.rates.requests_per_s),
                output_tokens_per_s: round3(l.rates.output_tokens_per_s),
                total_tokens_per_s: round3(l.rates.total_tokens_per_s),
                goodput_rps: round3(l.rates.goodput_rps),
                success_rate: round3(l.rates.success_rate),
            },
            latencies: l.latencies.map(|s| s.into()),
            rates_ci95: l.rate_ci95.map(|r| RateIntervals {
                requests_per_s: r.requests_per_s.map(round3),
                output_tokens_per_s: r.output_tokens_per_s.map(round3),
                goodput_rps: r.goodput_rps.map(round3),
            }),
            too_close_to_call: l.too_close_to_call,
            embeddings: l.embeddings.map(|e| EmbeddingRates {
                inputs_per_s: round3(e.inputs_per_s),
                input_tokens_per_s: round3(e.input_tokens_per_s),
                ..e
            }),
            arrivals: l.arrivals,
            // To the millisecond, as the file has it, for every report alike.
            waits: Waits {
                time: Duration::from_secs_f64(round3(l.waits.time.as_secs_f64())),
                ..l.waits
            },
            connections: l.connections,
            prompt_cache: l.prompt_cache.as_ref().map(|c| PromptCache {
                hit_rate: round3(c.hit_rate),
                ..c.map(|s| Percentiles::from(s))
            }),
            server: l.server.as_ref().map(|s| s.map_numbers(round3)),
            breakdown: l
                .breakdown
                .as_ref()
                .map(|b| b.map(|s| Percentiles::from(s))),
            error_samples: l
                .error_samples
                .iter()
                .map(|e| ErrorSampleSummary {
                    kind: e.kind.name().to_owned(),
                    message: e.message.clone(),
                    count: e.count,
                })
                .collect(),
            slo_pass: l.slo_pass,
            slo: l.slo_checks.clone(),
            stages: l
                .stages
                .iter()
                .map(|f| StageSummary::new(f, unit))
                .collect(),
            sweep: l.sweep.as_ref().map(SweepSummary::new),
            cost: l.cost.as_ref().map(|c| CostSummary::new(c, l.cheapest)),
            series: l.series.clone(),
            distributions: l.distributions.as_deref().map(rounded),
        }
    }
}

/// `summary.json`'s `shards`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShardsSummary {
    /// A shard's own race: its index (0-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub count: u32,
    /// A merged race: the shards it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged: Option<Vec<u32>>,
    /// Merged without every shard: the figures are a part of the race.
    pub partial: bool,
    /// In words (`shard 1/3`, `merged from 3 shards`, `partial: ...`).
    pub label: String,
}

impl ShardsSummary {
    fn of(sharding: &Sharding) -> Option<Self> {
        let label = sharding.label()?;
        Some(match sharding {
            Sharding::Whole => return None,
            Sharding::Shard(shard) => ShardsSummary {
                index: Some(shard.index),
                count: shard.count,
                merged: None,
                partial: false,
                label,
            },
            Sharding::Merged { count, present } => ShardsSummary {
                index: None,
                count: *count,
                merged: Some(present.clone()),
                partial: sharding.is_partial(),
                label,
            },
        })
    }
}

impl SummaryFile {
    #[must_use]
    pub fn new(snapshot: &RaceSnapshot, started_at: SystemTime) -> Self {
        let started: chrono::DateTime<chrono::Local> = started_at.into();
        SummaryFile {
            summary_version: SUMMARY_VERSION,
            tool: format!("llm-locust {}", env!("CARGO_PKG_VERSION")),
            race: snapshot.race_name.clone(),
            simulated: snapshot.simulated,
            shards: ShardsSummary::of(&snapshot.sharding),
            started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            duration_s: round3(snapshot.elapsed.as_secs_f64()),
            load_mode: snapshot.load_mode.name().to_owned(),
            finish: FinishSummary {
                time_limit_s: snapshot.finish.duration.as_secs_f64(),
                duration_is_finish_line: snapshot.finish.duration_is_finish_line,
                requests: snapshot.finish.requests,
                output_tokens: snapshot.finish.output_tokens,
            },
            slo_pass: snapshot.slo_pass(),
            client_saturated: snapshot.client.saturated,
            client: ClientSummary {
                reason: snapshot.client.reason.clone(),
                send_lag_ms: (&snapshot.client.send_lag).into(),
                worst_loop_lag_ms: round3(snapshot.client.worst_loop_lag.as_secs_f64() * 1000.0),
                worst_queue_depth: snapshot.client.worst_queue_depth,
                worst_cpu: round3(snapshot.client.worst_cpu),
                cores: snapshot.client.last.map(|s| s.cores),
                saturated_seconds: snapshot.client.saturated_seconds,
                samples: snapshot.client.samples,
            },
            workload: snapshot.workload.clone(),
            engines: snapshot
                .leaderboard
                .iter()
                .map(|&i| EngineSummary::from_lane(&snapshot.lanes[i], snapshot.stage_unit))
                .collect(),
            commentary: snapshot
                .commentary
                .iter()
                .map(|line| CommentarySummary {
                    at_s: round3(line.at.as_secs_f64()),
                    engine: line
                        .engine
                        .and_then(|i| snapshot.lanes.get(i))
                        .map(|l| l.name.clone()),
                    kind: line.kind,
                    text: line.text.clone(),
                })
                .collect(),
            pairs: snapshot
                .pairs
                .iter()
                .map(|p| PairSummary {
                    a: snapshot.lanes[p.a].name.clone(),
                    b: snapshot.lanes[p.b].name.clone(),
                    ttft: p.ttft.map(RatioSummary::of),
                    e2e: p.e2e.map(RatioSummary::of),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::SummaryFile;
    use crate::metrics::{CommentaryKind, CommentaryLine};

    #[test]
    fn the_commentary_is_listed_with_engine_names_and_snake_case_kinds() {
        let mut snap = crate::ui::test_support::finished_fixture(2);
        snap.commentary = vec![
            CommentaryLine {
                at: Duration::from_micros(123_456_000),
                engine: Some(1),
                kind: CommentaryKind::ErrorBurst,
                text: "tgi: 6 failures in a second (http_429)".into(),
            },
            CommentaryLine {
                at: Duration::from_secs(50),
                engine: None,
                kind: CommentaryKind::FirstTo,
                text: "no one".into(),
            },
        ];
        let json = serde_json::to_value(SummaryFile::new(&snap, SystemTime::UNIX_EPOCH)).unwrap();
        assert_eq!(
            json["commentary"],
            serde_json::json!([
                {"at_s": 123.456, "engine": "tgi", "kind": "error_burst",
                 "text": "tgi: 6 failures in a second (http_429)"},
                {"at_s": 50.0, "engine": null, "kind": "first_to", "text": "no one"},
            ])
        );
        // The other fields are as they were.
        assert_eq!(json["engines"].as_array().unwrap().len(), 2);
    }
}
