//! The validated race configuration (`RaceSpec`): what the rest of the
//! program runs from. Built only by `config::validate` from the YAML DTOs, so
//! every value here has already been checked; nothing downstream re-validates.
//! It is not a file format: race files store it through their own versioned
//! copy (`racefile::config`), so it may change with the code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::color::EngineColor;
use crate::names::named_enum;

/// Default countdown before the start signal.
pub const DEFAULT_COUNTDOWN: Duration = Duration::from_secs(3);
/// Default time limit when only a request or token finish line is given.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(3600);
/// How long in-flight requests may still complete after an engine's finish.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
pub struct RaceSpec {
    pub name: String,
    /// File-name-safe form of `name` (lowercase, `-` separated).
    pub slug: String,
    pub seed: u64,
    pub countdown: Duration,
    /// `--start-at`: the wall-clock start signal shared by shards on
    /// different machines; the countdown runs until then instead.
    pub start_at: Option<std::time::SystemTime>,
    /// `--shard`: this process runs one part of the race; or the race was
    /// merged from its shards' files.
    pub sharding: super::Sharding,
    pub dataset: DatasetSpec,
    pub target_input_tokens: Option<u32>,
    pub target_output_tokens: Option<u32>,
    /// Dataset prompts are kept when their length is within this many tokens
    /// of `target_input_tokens` (the original's ±50).
    pub input_tolerance_tokens: u32,
    /// Shape of `dataset: synthetic` prompts.
    pub synthetic: SyntheticSpec,
    pub output_dir: PathBuf,
    pub load: LoadSpec,
    pub finish: FinishSpec,
    pub slo: SloSpec,
    /// Load sent before the start signal and not counted.
    pub warmup: Option<WarmupSpec>,
    /// System prompts, shared prefixes and conversations.
    pub shape: super::ShapeSpec,
    pub engines: Vec<EngineSpec>,
    /// `--simulate`: every engine's server was replaced by a built-in
    /// simulator (the engines keep their names). False for a file whose
    /// engines are `simulate:` of their own.
    pub simulated: bool,
    /// What the prompts turned out to be; filled in once they are loaded
    /// (not from the race file), so that reports carry it.
    pub workload: Option<WorkloadFacts>,
}

/// How much warm-up each engine gets before the start signal: its
/// requests are sent by as many users as the race has, and not counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WarmupSpec {
    /// This many requests per engine.
    Requests(u32),
    /// Load for this long per engine.
    Duration(Duration),
}

/// The prompts a race ran with, as reported in `summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadFacts {
    /// Dataset name (`sharegpt`, `dolly-sample`, `synthetic`...) or file.
    pub dataset: String,
    /// Distinct prompts used (after selection to the target length).
    pub prompts: usize,
    /// Dataset records that could not be read as a prompt and were skipped.
    pub skipped_records: usize,
    pub target_input_tokens: Option<u32>,
    pub input_tolerance_tokens: Option<u32>,
    /// Each engine's `tokenizer:` (null: its counts are server usage or estimates).
    pub tokenizers: Vec<Option<String>>,
    /// What a `mode: trace` race's trace file held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceFacts>,
    /// System prompt, shared prefixes and conversations, when the race had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<super::shape::ShapeFacts>,
}

/// A replayed trace, as reported in `summary.json` (`workload.trace`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceFacts {
    pub file: String,
    /// Entries replayed (one pass).
    pub entries: usize,
    /// Lines that could not be read as an entry and were skipped.
    pub skipped_lines: usize,
    /// Where the first skipped line is and why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_skipped_line: Option<String>,
    /// The timestamps were not in order, so the entries were sorted.
    pub sorted: bool,
    /// The file held more entries than are read; the rest was left out.
    pub truncated: bool,
    /// From the first entry's timestamp to the last's, as written (before
    /// `time_scale`).
    pub span_ms: u64,
    /// Entries whose prompt came from the dataset (its length within
    /// `input_tolerance_tokens` of the entry's), and entries given
    /// synthetic text of exactly their length.
    pub dataset_prompts: usize,
    pub synthetic_prompts: usize,
}

/// Default of `race.input_tolerance_tokens`.
pub const DEFAULT_INPUT_TOLERANCE: u32 = 50;

/// `race.synthetic`: how many synthetic prompts and how their lengths spread
/// around `target_input_tokens` (the mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticSpec {
    /// Distinct prompts generated (requests cycle through them).
    pub prompts: u32,
    /// Standard deviation of the length; 0 makes every prompt the mean.
    pub stddev_tokens: f64,
    pub min_tokens: Option<u32>,
    pub max_tokens: Option<u32>,
}

/// Default of `race.synthetic.prompts`.
pub const DEFAULT_SYNTHETIC_PROMPTS: u32 = 64;

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            prompts: DEFAULT_SYNTHETIC_PROMPTS,
            stddev_tokens: 0.0,
            min_tokens: None,
            max_tokens: None,
        }
    }
}

/// Where prompts come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetSpec {
    /// The small prompt set compiled into the binary (`datasets/demo-prompts.jsonl`).
    Builtin,
    /// A public dataset from the Hugging Face hub.
    Public(PublicDataset),
    /// The small sample of a public dataset shipped in the binary
    /// (`sharegpt-sample`...).
    Sample(PublicDataset),
    /// Generated prompts of an exact token length (`race.synthetic`).
    Synthetic,
    /// A local file (JSONL, JSON array, Parquet or plain text), already resolved.
    File(PathBuf),
}

impl DatasetSpec {
    /// The names `race.dataset` takes besides a file path, as written.
    #[must_use]
    pub fn names() -> Vec<String> {
        let mut names = vec!["demo".to_owned()];
        names.extend(PublicDataset::ALL.iter().map(|d| d.name().to_owned()));
        names.push("synthetic".to_owned());
        names.extend(PublicDataset::ALL.iter().map(|d| d.sample_name()));
        names
    }

    /// The dataset a name stands for (`demo` and `builtin` are the built-in
    /// set); `None` for anything else, which is a file path.
    #[must_use]
    pub fn from_name(name: &str) -> Option<DatasetSpec> {
        match name {
            "demo" | "builtin" => Some(DatasetSpec::Builtin),
            "synthetic" => Some(DatasetSpec::Synthetic),
            _ => match name.strip_suffix("-sample") {
                Some(base) => PublicDataset::from_name(base).map(DatasetSpec::Sample),
                None => PublicDataset::from_name(name).map(DatasetSpec::Public),
            },
        }
    }

    /// How reports and messages name it: its name, or the file's path.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            DatasetSpec::Builtin => "demo".to_owned(),
            DatasetSpec::Public(d) => d.name().to_owned(),
            DatasetSpec::Sample(d) => d.sample_name(),
            DatasetSpec::Synthetic => "synthetic".to_owned(),
            DatasetSpec::File(path) => path.display().to_string(),
        }
    }
}

named_enum! {
    /// The public datasets the original used (where the hub keeps them, and
    /// their shipped samples, are the workload's business).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum PublicDataset {
        ShareGpt = "sharegpt",
        Dolly = "dolly",
        BillSum = "billsum",
    }
}

impl PublicDataset {
    /// The name of the shipped sample (`dataset: sharegpt-sample`).
    #[must_use]
    pub fn sample_name(self) -> String {
        format!("{}-sample", self.name())
    }
}

pub use super::load::*;

/// The finish line. An engine finishes at the first line it crosses; the race
/// ends when every engine has finished or the time limit is reached.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishSpec {
    /// The race's time limit (the original's `duration`).
    pub duration: Duration,
    /// Whether `duration` was given (false: it is only the default safety limit).
    pub duration_is_finish_line: bool,
    /// Finish after this many successful requests.
    pub requests: Option<u64>,
    /// Finish after this many output tokens from successful requests.
    pub output_tokens: Option<u64>,
    /// In-flight requests may complete for this long after an engine finishes.
    pub grace: Duration,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SloSpec {
    pub ttft_p99: Option<Duration>,
    pub tpot_p99: Option<Duration>,
    pub e2e_p99: Option<Duration>,
    pub error_rate_max: Option<f64>,
}

impl SloSpec {
    pub fn is_empty(&self) -> bool {
        self.ttft_p99.is_none()
            && self.tpot_p99.is_none()
            && self.e2e_p99.is_none()
            && self.error_rate_max.is_none()
    }
}

/// The API an engine is asked through (`endpoint:`). Stored in race files
/// by its variant name, written in race files by [`EndpointKind::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndpointKind {
    Chat,
    Completions,
    /// OpenAI's Responses API.
    Responses,
    /// Anthropic's Messages API.
    Anthropic,
    /// OpenAI's embeddings API: not generation, not streamed.
    Embeddings,
}

impl EndpointKind {
    pub const ALL: [EndpointKind; 5] = [
        EndpointKind::Chat,
        EndpointKind::Completions,
        EndpointKind::Responses,
        EndpointKind::Anthropic,
        EndpointKind::Embeddings,
    ];

    /// Its route from the server's root.
    pub fn path(self) -> &'static str {
        match self {
            EndpointKind::Chat => "/v1/chat/completions",
            EndpointKind::Completions => "/v1/completions",
            EndpointKind::Responses => "/v1/responses",
            EndpointKind::Anthropic => "/v1/messages",
            EndpointKind::Embeddings => "/v1/embeddings",
        }
    }

    /// Its name in a race file's `endpoint:`.
    pub fn name(self) -> &'static str {
        match self {
            EndpointKind::Chat => "chat",
            EndpointKind::Completions => "completions",
            EndpointKind::Responses => "responses",
            EndpointKind::Anthropic => "anthropic",
            EndpointKind::Embeddings => "embeddings",
        }
    }

    /// Whether its answers are generated text (every endpoint but
    /// embeddings): TTFT, TPOT and output tokens apply.
    pub fn generates(self) -> bool {
        self != EndpointKind::Embeddings
    }

    /// The kind whose route a URL's path ends in.
    pub fn of_path(path: &str) -> Option<EndpointKind> {
        // `/chat/completions` before `/completions`, which it ends in too.
        Self::ALL
            .into_iter()
            .find(|kind| path.ends_with(kind.path().trim_start_matches("/v1")))
    }
}

named_enum! {
    /// Whether an engine's requests go over kept-alive connections
    /// (`reuse_connections:`; see docs/METRICS.md, "Connections").
    #[derive(
        Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum ReuseConnections {
        /// Reuse them until the server is seen closing them right after its
        /// answers, then open one per request.
        #[default]
        Auto = "auto",
        /// Always reuse them (a closed one is still retried once).
        Always = "always",
        /// Open a connection for every request.
        Never = "never",
    }
}

/// Where an engine is served from.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineTarget {
    /// A real endpoint: the full URL of the completions route.
    Url(String),
    /// Served by a built-in simulator started for this race on 127.0.0.1.
    Simulated(SimSpec),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineSpec {
    pub name: String,
    pub model: String,
    pub emoji: String,
    pub color: EngineColor,
    pub tokenizer: Option<String>,
    pub target: EngineTarget,
    pub endpoint: EndpointKind,
    /// Name of the environment variable holding the API key (never the key).
    pub api_key_env: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub ignore_eos: bool,
    /// Reasoning tokens alone make a successful answer (otherwise an answer
    /// with only reasoning is an `empty_answer`).
    pub count_reasoning: bool,
    /// Prompts in one request of an embeddings engine (1 for the others).
    pub inputs_per_request: u32,
    pub timeout: Duration,
    /// What its tokens cost (`cost_per_hour` or `price`), if known.
    pub pricing: Option<Pricing>,
    /// Whether its requests reuse kept-alive connections.
    pub reuse_connections: ReuseConnections,
    /// Whether, where and how often its server's metrics are scraped.
    pub server_metrics: ServerMetricsSpec,
    /// Keys added to every request's JSON body: `race.extra_body`, `tools`,
    /// `tool_choice` and `response_format`, then the engine's `extra_body`
    /// (its keys win). None is a key the client writes itself.
    pub extra_body: serde_json::Map<String, serde_json::Value>,
}

/// `server_metrics:` of an engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMetricsSpec {
    pub mode: ServerMetricsMode,
    /// The page; `None`: `/metrics` at the server's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub interval: Duration,
    /// Families the user named for figures (`server_metrics.map`), read
    /// before the ones llm-locust knows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map: Vec<MappedFamily>,
}

/// `server_metrics.map`: a figure read from a family (the series with these
/// labels, when given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedFamily {
    pub figure: ServerFigure,
    pub family: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

named_enum! {
    /// A server figure a family can give (`server_metrics.map`'s keys).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ServerFigure {
        Running = "running",
        Waiting = "waiting",
        KvUse = "kv_use",
        PrefixHits = "prefix_hits",
        PrefixQueries = "prefix_queries",
        HitRate = "hit_rate",
        Preemptions = "preemptions",
        OutputTokens = "output_tokens",
        PromptTokens = "prompt_tokens",
    }
}

/// Default of `server_metrics.interval_s`.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

impl Default for ServerMetricsSpec {
    fn default() -> Self {
        ServerMetricsSpec {
            mode: ServerMetricsMode::Auto,
            url: None,
            interval: DEFAULT_SCRAPE_INTERVAL,
            map: Vec::new(),
        }
    }
}

named_enum! {
    /// Whether an engine's server metrics are scraped.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ServerMetricsMode {
        /// When the page answers with metrics llm-locust knows, before the
        /// start; silently not otherwise.
        #[default]
        Auto = "auto",
        /// Always; a page that does not answer is counted as failed scrapes.
        On = "on",
        Off = "off",
    }
}

/// How an engine is paid for, in dollars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Pricing {
    /// Self-hosted: the machine's price an hour, whatever it serves.
    Hourly { per_hour: f64 },
    /// An API's price list, per 1,000,000 input and output tokens.
    Tokens {
        input_per_1m: f64,
        output_per_1m: f64,
    },
}

named_enum! {
    /// Kinds of fault the simulator can inject.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub enum FaultKind {
        /// HTTP 429 with `Retry-After`.
        Http429 = "http_429",
        /// HTTP 500.
        Http500 = "http_500",
        /// HTTP 503.
        Http503 = "http_503",
        /// The connection is cut mid-stream.
        Reset = "reset",
        /// The stream stops sending (the client's timeout must fire).
        Stall = "stall",
        /// A data line that is not valid JSON.
        Malformed = "malformed",
        /// An in-stream `{"error": ...}` event.
        StreamError = "stream_error",
        /// An SSE `event: error` (as TGI and some proxies send) mid-stream.
        EventError = "event_error",
        /// The body ends cleanly mid-answer: no finish, no `[DONE]`.
        EarlyEnd = "early_end",
    }
}

/// The simulator's knobs: shared by `llm-locust sim` and `simulate:` engines.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSpec {
    /// Base time to first token, before prefill and queueing.
    pub ttft: Duration,
    /// Time per output token after the first.
    pub tpot: Duration,
    /// Relative jitter: each delay is scaled by a uniform factor in `1 ± jitter`.
    pub jitter: f64,
    /// Prefill cost per input token.
    pub prefill_per_token: Duration,
    /// Fixed output length; `None` means the request's `max_tokens`.
    pub output_tokens: Option<u32>,
    /// Requests served at once; more wait in a queue (raising their TTFT).
    pub capacity: u32,
    /// Requests that may wait for a slot; more are turned away at once with
    /// HTTP 429, as TGI does past `--max-concurrent-requests`. `None`: no limit.
    pub max_queue: Option<u32>,
    /// Probability per request of a fault, spread evenly over every kind.
    pub error_rate: f64,
    /// Extra per-kind fault probabilities.
    pub faults: BTreeMap<FaultKind, f64>,
    /// How long a stalled stream stays silent before the server drops it.
    pub stall: Duration,
    pub seed: u64,
    /// The first this many output tokens are reasoning (`reasoning_content`),
    /// the rest the answer.
    pub reasoning_tokens: u32,
    /// Pause between the last token and the usage report and `[DONE]`.
    pub done_delay: Duration,
    /// Ways real servers and proxies stream differently.
    pub quirks: BTreeSet<Quirk>,
    /// A connection that carries no request for this long is closed, as
    /// nginx's `keepalive_timeout` does; `None`: kept open.
    pub idle_timeout: Option<Duration>,
    /// Prompt tokens its prefix cache holds; `None`: no cache (and no cached
    /// count in its usage reports).
    pub prefix_cache_tokens: Option<u32>,
}

named_enum! {
    /// A way a real server or proxy streams that the simulator can copy.
    #[derive(
        Debug,
        Clone,
        Copy,
        PartialEq,
        Eq,
        PartialOrd,
        Ord,
        Hash,
        Serialize,
        Deserialize,
        schemars::JsonSchema,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum Quirk {
        /// `usage` with every count 0 in every chunk, and once more after the
        /// real usage report (LiteLLM).
        ZeroUsage = "zero_usage",
        /// Reasoning deltas carry both `reasoning_content` and `reasoning`.
        BothReasoningNames = "both_reasoning_names",
        /// A role chunk, a finish chunk and usage 0: no output at all.
        EmptyAnswer = "empty_answer",
        /// `finish_reason: ""` instead of `null` on chunks that do not finish.
        EmptyFinishReason = "empty_finish_reason",
        /// The last event (`[DONE]`) is not followed by its blank line.
        NoFinalNewline = "no_final_newline",
        /// The answer streams as `delta.tool_calls` instead of `content`.
        ToolCalls = "tool_calls",
        /// The usage report rides on the finish chunk, with no chunk of its own
        /// (LiteLLM's completions).
        UsageInFinishChunk = "usage_in_finish_chunk",
        /// The usage chunk has `choices: [{"delta": {}}]` (llama.cpp).
        UsageWithEmptyDelta = "usage_with_empty_delta",
        /// `null` for every optional field that is not set.
        Nulls = "nulls",
        /// No usage report, whatever the request asks (servers that ignore
        /// `stream_options`).
        NoUsage = "no_usage",
        /// `finish_reason` is never set, not even on the last token: only
        /// `[DONE]` says the answer is complete.
        NoFinishReason = "no_finish_reason",
        /// The connection is closed a moment after each streamed answer,
        /// without `Connection: close`, and a request sent on it meanwhile gets
        /// no answer (llama.cpp).
        CloseAfterStream = "close_after_stream",
    }
}

impl Quirk {
    /// A quirk of OpenAI's chunks (chat and completions): the Responses and
    /// Messages streams have no such field.
    #[must_use]
    pub fn of_openai_chunks(self) -> bool {
        !matches!(
            self,
            Quirk::EmptyAnswer
                | Quirk::NoFinalNewline
                | Quirk::ToolCalls
                | Quirk::NoUsage
                | Quirk::CloseAfterStream
        )
    }
}

impl Default for SimSpec {
    fn default() -> Self {
        SimSpec {
            ttft: Duration::from_millis(150),
            tpot: Duration::from_millis(20),
            jitter: 0.1,
            prefill_per_token: Duration::from_micros(50),
            output_tokens: None,
            capacity: 64,
            max_queue: None,
            error_rate: 0.0,
            faults: BTreeMap::new(),
            stall: Duration::from_secs(300),
            seed: 0,
            reasoning_tokens: 0,
            done_delay: Duration::ZERO,
            quirks: BTreeSet::new(),
            idle_timeout: None,
            prefix_cache_tokens: None,
        }
    }
}

impl SimSpec {
    /// Probability of each fault kind for one request, `error_rate` spread
    /// evenly plus the kind's own rate.
    pub fn fault_probabilities(&self) -> Vec<(FaultKind, f64)> {
        #[allow(clippy::cast_precision_loss)]
        let even = self.error_rate / FaultKind::ALL.len() as f64;
        FaultKind::ALL
            .into_iter()
            .map(|k| (k, even + self.faults.get(&k).copied().unwrap_or(0.0)))
            .filter(|(_, p)| *p > 0.0)
            .collect()
    }
}
