//! The race file as written (`races/*.yaml`): serde DTOs, nothing checked yet.
//!
//! Every field is optional so that `validate` can apply defaults, spot
//! conflicts (`duration` and `finish.duration_s`) and report every problem at
//! once. Unknown keys are errors everywhere: a misspelled `concurency` must
//! fail, not silently run with defaults. Engines stay raw YAML here and are
//! deserialised one by one, so one broken engine does not hide the others'
//! problems. Numbers that must be positive are read as signed or float so a
//! negative value gets a range message rather than a type error.

use std::collections::BTreeMap;

use crate::names::named_enum;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// The whole file: a single top-level `race:` key.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RaceFile {
    pub race: Option<RaceSection>,
}

/// Everything under `race:`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RaceSection {
    /// Format version; only 1 exists. Optional (the original's files lack it).
    pub schema_version: Option<u64>,
    pub name: Option<String>,
    /// Seconds (the original's key; same as `finish.duration_s`).
    pub duration: Option<f64>,
    /// The original's key; same as `load.users`.
    pub users: Option<i64>,
    /// The original's key; same as `load.spawn_rate`.
    pub spawn_rate: Option<f64>,
    pub seed: Option<u64>,
    pub countdown_s: Option<f64>,
    pub dataset: Option<String>,
    pub target_input_tokens: Option<i64>,
    pub target_output_tokens: Option<i64>,
    /// Dataset prompts within this many tokens of `target_input_tokens` are used.
    pub input_tolerance_tokens: Option<i64>,
    /// Shape of `dataset: synthetic` prompts.
    pub synthetic: Option<SyntheticFile>,
    pub output_dir: Option<String>,
    pub load: Option<LoadFile>,
    pub finish: Option<FinishFile>,
    pub slo: Option<SloFile>,
    /// Requests sent before the start signal and not counted.
    pub warmup: Option<WarmupFile>,
    /// A system message sent before every prompt: the text, or `{file: path}`.
    pub system_prompt: Option<TextOrFile>,
    /// Shared prefixes: `groups` system prompts of exactly `tokens` tokens,
    /// each request drawn from one.
    pub prefix: Option<PrefixFile>,
    /// Multi-turn sessions: each turn resends the conversation so far.
    pub conversation: Option<ConversationFile>,
    /// JSON keys added to every request of every engine (an engine's own
    /// `extra_body` wins).
    pub extra_body: Option<serde_json::Map<String, serde_json::Value>>,
    /// OpenAI function definitions sent with every request: a list, or a
    /// JSON or YAML file holding one.
    pub tools: Option<ToolsFile>,
    /// Sent as it is: `auto`, `none`, `required` or an object.
    pub tool_choice: Option<serde_json::Value>,
    /// Sent as it is, e.g. `{type: json_schema, json_schema: {...}}`.
    pub response_format: Option<serde_json::Map<String, serde_json::Value>>,
    /// Raw entries, each deserialised into an [`EngineFile`] on its own.
    #[schemars(with = "Option<Vec<EngineFile>>")]
    pub engines: Option<Vec<serde_yaml::Value>>,
}

/// A text given inline, or the file holding it (relative to the race file).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TextOrFile {
    Text(String),
    File(FileRef),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    pub file: String,
}

/// `server_metrics:` on or off, or where and how often.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ServerMetricsFile {
    Enabled(bool),
    Settings(ServerMetricsSettings),
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerMetricsSettings {
    /// The metrics page (default: `/metrics` at the server's root).
    pub url: Option<String>,
    /// Seconds between scrapes (default 1; 0.2 to 60).
    pub interval_s: Option<f64>,
    /// For a server llm-locust does not know: which family gives a figure
    /// (`running`, `waiting`, `kv_use`, `prefix_hits`, `prefix_queries`,
    /// `hit_rate`, `preemptions`, `output_tokens`, `prompt_tokens`), by name
    /// or as `{family, labels}`.
    pub map: Option<BTreeMap<String, FamilyFile>>,
}

/// A family by name, or with the labels its series must have.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FamilyFile {
    Name(String),
    Filtered {
        family: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    },
}

/// `tools:` inline, or a file (JSON or YAML) holding the list.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ToolsFile {
    Inline(Vec<serde_json::Value>),
    File(String),
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PrefixFile {
    pub groups: Option<i64>,
    pub tokens: Option<i64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConversationFile {
    /// A number, or `{min, max}` (seeded per conversation).
    pub turns: Option<CountOrRange>,
    /// A constant, or `{mean}` (exponential, seeded).
    pub think_time_s: Option<SecondsOrMean>,
    /// `recorded` (default) or `own`.
    pub history: Option<HistoryFile>,
    pub max_context_tokens: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CountOrRange {
    Count(i64),
    Range(RangeFile),
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RangeFile {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SecondsOrMean {
    Seconds(f64),
    Mean(MeanFile),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeanFile {
    pub mean: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryFile {
    Recorded,
    Own,
}

named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum LoadMode {
        Users = "users",
        Constant = "constant",
        Poisson = "poisson",
        Bursts = "bursts",
        Stages = "stages",
        Sweep = "sweep",
        Trace = "trace",
    }
}

/// How open-loop arrivals are spread (`bursts`, rate `stages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalsFile {
    Constant,
    Poisson,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticFile {
    pub prompts: Option<i64>,
    pub stddev_tokens: Option<f64>,
    pub min_tokens: Option<i64>,
    pub max_tokens: Option<i64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LoadFile {
    pub mode: Option<LoadMode>,
    pub users: Option<i64>,
    pub spawn_rate: Option<f64>,
    /// Requests per second per engine (constant and poisson; the average
    /// for bursts).
    pub rate: Option<f64>,
    pub max_in_flight: Option<i64>,
    /// Bursts: the burst's rate over the quiet rate.
    pub burst_factor: Option<f64>,
    /// Bursts: one burst in every this many seconds...
    pub burst_every_s: Option<f64>,
    /// ...lasting this long, at the end of each period.
    pub burst_length_s: Option<f64>,
    /// Bursts and rate stages: poisson (default) or constant.
    pub arrivals: Option<ArrivalsFile>,
    /// Stages: each `{duration_s, users}` or `{duration_s, rate}`, with an
    /// optional `ramp_s`.
    pub stages: Option<Vec<StageFile>>,
    /// Sweep: what steps up, users (default) or rate.
    pub of: Option<SweepOfFile>,
    /// Sweep: the first step's users or rate...
    pub start: Option<f64>,
    /// ...what each step adds...
    pub step: Option<f64>,
    /// ...and the most it goes to.
    pub max: Option<f64>,
    /// Sweep: how long each step lasts.
    pub step_duration_s: Option<f64>,
    /// Sweep: the start of each step not counted in its figures.
    pub warmup_s: Option<f64>,
    /// Sweep: a step that gains less than this share of output throughput
    /// over the last good one breaks (default 0.05).
    pub min_gain: Option<f64>,
    /// Sweep: a step whose error rate is above this breaks (default 0.05).
    pub max_error_rate: Option<f64>,
    /// Rate sweep: bisection steps between the last good and the first bad
    /// rate (default 3).
    pub refine: Option<i64>,
    /// Trace: a JSONL file of `{"timestamp": ms, "input_length": n,
    /// "output_length": n}` lines (the Mooncake trace format), relative to
    /// the race file's folder.
    pub trace: Option<String>,
    /// Trace: multiplies the gaps between arrivals (2: twice as slow, 0.5:
    /// twice as fast; default 1).
    pub time_scale: Option<f64>,
    /// Trace: replay it over and over (default false: the load ends with
    /// the trace).
    #[serde(rename = "loop")]
    pub looped: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SweepOfFile {
    Users,
    Rate,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StageFile {
    pub duration_s: Option<f64>,
    pub users: Option<i64>,
    pub rate: Option<f64>,
    /// Seconds at the start of the stage over which the load moves
    /// linearly from the previous stage's level (the first: from 0).
    pub ramp_s: Option<f64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FinishFile {
    pub duration_s: Option<f64>,
    pub requests: Option<i64>,
    pub output_tokens: Option<i64>,
    pub grace_s: Option<f64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WarmupFile {
    /// Requests per engine.
    pub requests: Option<i64>,
    /// Or: seconds of load per engine.
    pub seconds: Option<f64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SloFile {
    pub ttft_p99_ms: Option<f64>,
    pub tpot_p99_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    pub error_rate_max: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointFile {
    Chat,
    Completions,
    Responses,
    Anthropic,
    Embeddings,
}

/// One entry of `race.engines`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EngineFile {
    pub name: Option<String>,
    pub url: Option<String>,
    pub model: Option<String>,
    pub emoji: Option<String>,
    pub color: Option<String>,
    pub tokenizer: Option<String>,
    /// The NAME of an environment variable holding the API key.
    pub api_key_env: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub endpoint: Option<EndpointFile>,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub ignore_eos: Option<bool>,
    /// An answer of reasoning tokens alone counts as a success.
    pub count_reasoning: Option<bool>,
    /// Prompts in one request of an `endpoint: embeddings` engine.
    pub inputs_per_request: Option<i64>,
    pub timeout_s: Option<f64>,
    /// What the machine serving the engine costs an hour (self-hosted).
    pub cost_per_hour: Option<f64>,
    /// Or: an API's price list, per 1,000,000 tokens.
    pub price: Option<PriceFile>,
    /// Whether requests reuse kept-alive connections: auto (default),
    /// always, never.
    pub reuse_connections: Option<crate::config::ReuseConnections>,
    /// JSON keys added to this engine's requests, over `race.extra_body`.
    pub extra_body: Option<serde_json::Map<String, serde_json::Value>>,
    /// The server's Prometheus metrics, scraped during the race: `true`,
    /// `false`, or `{url, interval_s}`. Default: scraped when
    /// `<server>/metrics` answers.
    pub server_metrics: Option<ServerMetricsFile>,
    /// `simulate:` with no value means the simulator with its defaults.
    #[serde(deserialize_with = "null_as_default")]
    #[schemars(with = "Option<SimulateFile>")]
    pub simulate: Option<SimulateFile>,
}

/// `price:`: an API's prices per 1,000,000 tokens, in dollars.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PriceFile {
    pub input_per_1m: Option<f64>,
    pub output_per_1m: Option<f64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SimulateFile {
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub jitter: Option<f64>,
    pub prefill_us_per_token: Option<f64>,
    pub output_tokens: Option<i64>,
    pub capacity: Option<i64>,
    /// Requests that may wait for a slot; more are turned away at once with
    /// HTTP 429 (TGI's "Model is overloaded"). Default: no limit.
    pub max_queue: Option<i64>,
    pub error_rate: Option<f64>,
    /// Fault kind name (http_429, http_500, http_503, reset, stall,
    /// malformed, stream_error, event_error, early_end) → probability.
    pub faults: Option<BTreeMap<String, f64>>,
    pub stall_s: Option<f64>,
    pub seed: Option<u64>,
    pub reasoning_tokens: Option<i64>,
    pub done_delay_ms: Option<f64>,
    /// Quirk names; checked in `validate`.
    #[schemars(with = "Option<Vec<crate::config::Quirk>>")]
    pub quirks: Option<Vec<String>>,
    /// Close a connection that has carried no request for this long (as
    /// nginx's `keepalive_timeout`). Default: never.
    pub idle_timeout_ms: Option<f64>,
    /// A prefix cache of this many prompt tokens (LRU over 16-token blocks,
    /// as vLLM's): prefill costs only the uncached tokens, and usage reports
    /// `prompt_tokens_details.cached_tokens`. Default: no cache.
    pub prefix_cache_tokens: Option<i64>,
}

/// A present key with no value (`simulate:`) means "on, with defaults".
fn null_as_default<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(
        Option::<T>::deserialize(deserializer)?.unwrap_or_default(),
    ))
}
