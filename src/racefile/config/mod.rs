//! The race configuration as a race file stores it: a copy of its own, so
//! the file format does not follow every change to the in-memory
//! `RaceSpec`. Its JSON is the shape every file since version 1 holds (the
//! `RaceSpec` of those versions, serialised by serde), so old files load
//! through it; when the stored shape must change, a new version of these
//! types comes with a conversion from the old one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::color::parse_color;
use crate::config::secrets::{REDACTED, looks_secret, scrub_url};
use crate::config::{
    Arrivals, DEFAULT_INPUT_TOLERANCE, DatasetSpec, EndpointKind, EngineSpec, EngineTarget,
    FaultKind, FinishSpec, LoadSpec, Pricing, Quirk, RaceSpec, ReuseConnections, ServerMetricsSpec,
    Shard, Sharding, SimSpec, SloSpec, Stage, StageLevel, SweepSpec, SyntheticSpec, WarmupSpec,
    WorkloadFacts,
};

// `EndpointKind`, `FaultKind` and `Quirk` are stored by their serde names
// and `WorkloadFacts` by its `summary.json` shape; a test pins them, so a
// rename fails here rather than in an old file.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredRace {
    name: String,
    slug: String,
    seed: u64,
    countdown: Duration,
    /// `--start-at`, microseconds since the Unix epoch (absent before it).
    #[serde(default)]
    start_at_unix_us: Option<i64>,
    /// `--shard` (absent before it, and for a whole race).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shard: Option<StoredShard>,
    /// Written by `merge`: the shards it merged (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merged: Option<StoredMerged>,
    dataset: StoredDataset,
    target_input_tokens: Option<u32>,
    target_output_tokens: Option<u32>,
    #[serde(default = "default_input_tolerance")]
    input_tolerance_tokens: u32,
    #[serde(default)]
    synthetic: StoredSynthetic,
    output_dir: PathBuf,
    load: StoredLoad,
    finish: StoredFinish,
    slo: StoredSlo,
    #[serde(default)]
    warmup: Option<StoredWarmup>,
    /// System prompt, shared prefixes, conversations (format v5 on; absent
    /// when none is set).
    #[serde(default, skip_serializing_if = "is_plain")]
    shape: crate::config::ShapeSpec,
    engines: Vec<StoredEngine>,
    /// `--simulate` (files written before it have no such key).
    #[serde(default)]
    simulated: bool,
    #[serde(default)]
    workload: Option<WorkloadFacts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct StoredShard {
    index: u32,
    count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredMerged {
    count: u32,
    shards: Vec<u32>,
}

fn default_input_tolerance() -> u32 {
    DEFAULT_INPUT_TOLERANCE
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum StoredDataset {
    Builtin,
    /// A name: `sharegpt`, `dolly-sample`, `synthetic`...
    Named(String),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct StoredSynthetic {
    prompts: u32,
    stddev_tokens: f64,
    min_tokens: Option<u32>,
    max_tokens: Option<u32>,
}

impl Default for StoredSynthetic {
    fn default() -> Self {
        let spec = SyntheticSpec::default();
        StoredSynthetic {
            prompts: spec.prompts,
            stddev_tokens: spec.stddev_tokens,
            min_tokens: spec.min_tokens,
            max_tokens: spec.max_tokens,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum StoredLoad {
    Users {
        users: u32,
        spawn_rate: f64,
    },
    Constant {
        rate: f64,
        max_in_flight: u32,
    },
    Poisson {
        rate: f64,
        max_in_flight: u32,
    },
    Bursts {
        rate: f64,
        factor: f64,
        every: Duration,
        length: Duration,
        poisson: bool,
        max_in_flight: u32,
    },
    /// Each stage as (duration, level, ramp); `rate` is `None` for stages
    /// of users, else (Poisson arrivals, max in flight).
    Stages {
        stages: Vec<(Duration, f64, Duration)>,
        rate: Option<(bool, u32)>,
    },
    Sweep {
        rate: Option<(bool, u32)>,
        start: f64,
        step: f64,
        max: f64,
        step_duration: Duration,
        warmup: Duration,
        min_gain: f64,
        max_error_rate: f64,
        refine: u32,
    },
    Trace {
        path: PathBuf,
        time_scale: f64,
        looped: bool,
        max_in_flight: u32,
    },
}

fn stored_level(of: StageLevel) -> Option<(bool, u32)> {
    match of {
        StageLevel::Users => None,
        StageLevel::Rate {
            arrivals,
            max_in_flight,
        } => Some((is_poisson(arrivals), max_in_flight)),
    }
}

fn level_of(rate: Option<(bool, u32)>) -> StageLevel {
    match rate {
        None => StageLevel::Users,
        Some((poisson, max_in_flight)) => StageLevel::Rate {
            arrivals: arrivals(poisson),
            max_in_flight,
        },
    }
}

fn is_poisson(arrivals: Arrivals) -> bool {
    arrivals == Arrivals::Poisson
}

fn arrivals(poisson: bool) -> Arrivals {
    if poisson {
        Arrivals::Poisson
    } else {
        Arrivals::Constant
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredFinish {
    duration: Duration,
    duration_is_finish_line: bool,
    requests: Option<u64>,
    output_tokens: Option<u64>,
    grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredSlo {
    ttft_p99: Option<Duration>,
    tpot_p99: Option<Duration>,
    e2e_p99: Option<Duration>,
    error_rate_max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum StoredWarmup {
    Requests(u32),
    Duration(Duration),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredEngine {
    name: String,
    model: String,
    emoji: String,
    /// As a race file writes it (`cyan`, `#ff8800`, or an alias).
    color: String,
    tokenizer: Option<String>,
    target: StoredTarget,
    endpoint: EndpointKind,
    api_key_env: Option<String>,
    headers: BTreeMap<String, String>,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    ignore_eos: bool,
    #[serde(default)]
    count_reasoning: bool,
    /// An embeddings engine's batch (absent when 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    inputs_per_request: u32,
    timeout: Duration,
    cost_per_hour: Option<f64>,
    /// An API's price list (format v3 on; absent before).
    #[serde(default)]
    price: Option<StoredPrice>,
    /// `reuse_connections` (format v4 on; absent when `auto`, as before).
    #[serde(default, skip_serializing_if = "is_auto")]
    reuse_connections: ReuseConnections,
    /// Keys added to its requests' bodies (format v5 on; absent when none),
    /// a secret-looking key's value redacted.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    extra_body: serde_json::Map<String, serde_json::Value>,
    /// `server_metrics` (format v5 on; absent at its default).
    #[serde(default, skip_serializing_if = "is_default_scrape")]
    server_metrics: ServerMetricsSpec,
}

fn one() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(n: &u32) -> bool {
    *n == 1
}

fn is_default_scrape(s: &ServerMetricsSpec) -> bool {
    *s == ServerMetricsSpec::default()
}

fn is_plain(shape: &crate::config::ShapeSpec) -> bool {
    *shape == crate::config::ShapeSpec::default()
}

fn is_auto(reuse: &ReuseConnections) -> bool {
    *reuse == ReuseConnections::Auto
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct StoredPrice {
    input_per_1m: f64,
    output_per_1m: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum StoredTarget {
    Url(String),
    Simulated(StoredSim),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredSim {
    ttft: Duration,
    tpot: Duration,
    jitter: f64,
    prefill_per_token: Duration,
    output_tokens: Option<u32>,
    capacity: u32,
    #[serde(default)]
    max_queue: Option<u32>,
    error_rate: f64,
    faults: BTreeMap<FaultKind, f64>,
    stall: Duration,
    seed: u64,
    #[serde(default)]
    reasoning_tokens: u32,
    #[serde(default)]
    done_delay: Duration,
    #[serde(default)]
    quirks: BTreeSet<Quirk>,
    /// Format v4 on; absent when connections are never closed for idling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idle_timeout: Option<Duration>,
    /// Format v5 on; absent without a prefix cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prefix_cache_tokens: Option<u32>,
}

/// The configuration's JSON for a race file's header, with what may be a
/// secret removed: values of secret-looking headers and URL credentials
/// (API keys are never in it, only the name of the variable holding one).
#[must_use]
pub fn to_json(spec: &RaceSpec) -> String {
    serde_json::to_string(&StoredRace::from(spec)).unwrap_or_default()
}

/// What makes two race files parts of one race: a hash of the stored
/// configuration without what differs between a race's shards (which shard,
/// where its results went). Shards of one run share it; another race file,
/// seed, `--start-at` or prompt set gives another.
#[must_use]
pub fn fingerprint(spec: &RaceSpec) -> String {
    let json = serde_json::to_string(&one_race(spec)).unwrap_or_default();
    format!("{:016x}", twox_hash::XxHash64::oneshot(0, json.as_bytes()))
}

/// The first top-level key of the stored configuration where two races
/// differ (besides the shard and the output folder), to say why two files
/// are not one race.
#[must_use]
pub fn first_difference(a: &RaceSpec, b: &RaceSpec) -> Option<String> {
    let value = |spec: &RaceSpec| serde_json::to_value(one_race(spec)).unwrap_or_default();
    let (a, b) = (value(a), value(b));
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return None;
    };
    a.iter()
        .find(|(key, v)| b.get(key.as_str()) != Some(v))
        .or_else(|| b.iter().find(|(key, _)| !a.contains_key(key.as_str())))
        .map(|(key, _)| key.clone())
}

/// The stored configuration without what differs between the shards of one
/// race: which shard, and where its results went.
fn one_race(spec: &RaceSpec) -> StoredRace {
    StoredRace {
        shard: None,
        merged: None,
        output_dir: PathBuf::new(),
        ..StoredRace::from(spec)
    }
}

/// The configuration stored in a race file's header, or why it is unusable.
pub fn from_json(json: &str) -> Result<RaceSpec, String> {
    let stored: StoredRace = serde_json::from_str(json).map_err(|e| e.to_string())?;
    stored.into_spec()
}

mod convert;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_race_round_trips() {
        let races = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("races");
        let mut seen = 0;
        for entry in std::fs::read_dir(&races).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let spec = crate::config::load_race_file(&path).unwrap();
                assert_eq!(from_json(&to_json(&spec)).unwrap(), spec, "{path:?}");
                seen += 1;
            }
        }
        assert!(seen >= 3);
    }

    #[test]
    fn every_load_shape_round_trips() {
        for load in [
            "{mode: bursts, rate: 2, burst_factor: 3, arrivals: constant, max_in_flight: 7}",
            "{mode: stages, stages: [{duration_s: 5, users: 2}, {duration_s: 5, users: 6, ramp_s: 2}]}",
            "{mode: stages, stages: [{duration_s: 5, rate: 2}, {duration_s: 5, rate: 0}]}",
            "{mode: sweep, of: rate, start: 1, step: 2, max: 9, step_duration_s: 10, warmup_s: 2, refine: 2}",
            "{mode: sweep, start: 2, step: 2, max: 8, step_duration_s: 5}",
            "{mode: trace, trace: datasets/mooncake-trace-sample.jsonl, time_scale: 0.25, loop: true, max_in_flight: 12}",
            "{mode: trace, trace: datasets/mooncake-trace-sample.jsonl}",
        ] {
            let spec = crate::config::validate::validate(
                &format!("race:\n  name: t\n  load: {load}\n  engines:\n    - {{name: a, simulate: {{}}}}\n"),
                std::path::Path::new("t.yaml"),
            )
            .unwrap();
            assert_eq!(from_json(&to_json(&spec)).unwrap(), spec, "{load}");
        }
    }

    #[test]
    fn simulate_is_stored_and_files_from_before_it_load_as_not_simulated() {
        let yaml =
            "race:\n  name: t\n  engines:\n    - {name: a, url: 'http://127.0.0.1:9', model: m}\n";
        let overrides = crate::config::validate::Overrides {
            simulate: true,
            ..Default::default()
        };
        let spec = crate::config::validate::validate_with(
            yaml,
            std::path::Path::new("t.yaml"),
            &overrides,
        )
        .unwrap();
        assert!(spec.simulated);
        let json = to_json(&spec);
        assert_eq!(from_json(&json).unwrap(), spec);
        // A file written before `--simulate` existed has no such key.
        let old = json.replace(r#""simulated":true,"#, "");
        assert_ne!(old, json);
        assert!(!from_json(&old).unwrap().simulated);
    }

    /// A file written before trace replays (no `trace` in its workload
    /// facts) still loads.
    #[test]
    fn workload_facts_without_a_trace_still_load() {
        let mut spec = crate::config::validate::validate(
            "race:\n  name: t\n  engines:\n    - {name: a, simulate: {}}\n",
            std::path::Path::new("t.yaml"),
        )
        .unwrap();
        spec.workload = Some(WorkloadFacts {
            dataset: "demo".into(),
            prompts: 3,
            skipped_records: 0,
            target_input_tokens: None,
            input_tolerance_tokens: None,
            tokenizers: vec![None],
            trace: None,
            shape: None,
        });
        let json = to_json(&spec);
        assert!(!json.contains("\"trace\""), "{json}");
        assert_eq!(from_json(&json).unwrap(), spec);
    }

    /// The names old files hold for the leaf types stored as they are.
    #[test]
    fn stored_names_never_change() {
        let names = |v: serde_json::Value| v.to_string();
        assert_eq!(
            names(serde_json::to_value([EndpointKind::Chat, EndpointKind::Completions]).unwrap()),
            r#"["Chat","Completions"]"#
        );
        assert_eq!(
            names(serde_json::to_value(FaultKind::ALL).unwrap()),
            r#"["Http429","Http500","Http503","Reset","Stall","Malformed","StreamError","EventError","EarlyEnd"]"#
        );
        let quirks: Vec<String> = Quirk::ALL
            .iter()
            .map(|q| {
                serde_json::to_value(q)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let expected: Vec<&str> = Quirk::ALL.iter().map(|q| q.name()).collect();
        assert_eq!(quirks, expected);
        assert_eq!(
            names(
                serde_json::to_value([
                    ReuseConnections::Auto,
                    ReuseConnections::Always,
                    ReuseConnections::Never
                ])
                .unwrap()
            ),
            r#"["auto","always","never"]"#
        );
    }

    #[test]
    fn connection_settings_are_stored_and_left_out_at_their_defaults() {
        let parse = |engine: &str| {
            crate::config::validate::validate(
                &format!("race:\n  name: t\n  engines:\n    - {engine}\n"),
                std::path::Path::new("t.yaml"),
            )
            .unwrap()
        };
        let plain = parse("{name: a, simulate: {}}");
        let json = to_json(&plain);
        assert!(
            !json.contains("reuse_connections") && !json.contains("idle_timeout"),
            "{json}"
        );
        let set = parse("{name: a, reuse_connections: never, simulate: {idle_timeout_ms: 250}}");
        let json = to_json(&set);
        assert!(json.contains(r#""reuse_connections":"never""#), "{json}");
        let back = from_json(&json).unwrap();
        assert_eq!(back, set);
        assert_eq!(back.engines[0].reuse_connections, ReuseConnections::Never);
    }

    #[test]
    fn secrets_are_left_out_and_unknown_names_are_errors() {
        let mut spec = crate::config::validate::validate(
            "race:\n  name: t\n  engines:\n    - {name: a, url: 'http://127.0.0.1:1/v1?api_key=pw123', model: m, headers: {Authorization: Bearer-x, X-Trace: keep}}\n",
            std::path::Path::new("t.yaml"),
        )
        .unwrap();
        let json = to_json(&spec);
        assert!(
            !json.contains("pw123") && !json.contains("Bearer-x"),
            "{json}"
        );
        assert!(json.contains("keep"));
        spec.engines.clear();
        let bad = to_json(&spec).replace(r#""Builtin""#, r#"{"Named":"nope"}"#);
        assert_eq!(from_json(&bad).unwrap_err(), "unknown dataset 'nope'");
    }
}
