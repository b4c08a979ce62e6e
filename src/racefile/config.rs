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
    FaultKind, FinishSpec, LoadSpec, Pricing, Quirk, RaceSpec, ReuseConnections, Shard, Sharding,
    SimSpec, SloSpec, Stage, StageLevel, SweepSpec, SyntheticSpec, WarmupSpec, WorkloadFacts,
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
    timeout: Duration,
    cost_per_hour: Option<f64>,
    /// An API's price list (format v3 on; absent before).
    #[serde(default)]
    price: Option<StoredPrice>,
    /// `reuse_connections` (format v4 on; absent when `auto`, as before).
    #[serde(default, skip_serializing_if = "is_auto")]
    reuse_connections: ReuseConnections,
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

impl From<&RaceSpec> for StoredRace {
    fn from(spec: &RaceSpec) -> Self {
        StoredRace {
            name: spec.name.clone(),
            slug: spec.slug.clone(),
            seed: spec.seed,
            countdown: spec.countdown,
            start_at_unix_us: spec.start_at.and_then(|t| {
                let us = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros();
                i64::try_from(us).ok()
            }),
            shard: match spec.sharding {
                Sharding::Shard(Shard { index, count }) => Some(StoredShard { index, count }),
                _ => None,
            },
            merged: match &spec.sharding {
                Sharding::Merged { count, present } => Some(StoredMerged {
                    count: *count,
                    shards: present.clone(),
                }),
                _ => None,
            },
            dataset: match &spec.dataset {
                DatasetSpec::Builtin => StoredDataset::Builtin,
                DatasetSpec::File(path) => StoredDataset::File(path.clone()),
                named => StoredDataset::Named(named.label()),
            },
            target_input_tokens: spec.target_input_tokens,
            target_output_tokens: spec.target_output_tokens,
            input_tolerance_tokens: spec.input_tolerance_tokens,
            synthetic: StoredSynthetic {
                prompts: spec.synthetic.prompts,
                stddev_tokens: spec.synthetic.stddev_tokens,
                min_tokens: spec.synthetic.min_tokens,
                max_tokens: spec.synthetic.max_tokens,
            },
            output_dir: spec.output_dir.clone(),
            load: StoredLoad::from(&spec.load),
            finish: StoredFinish {
                duration: spec.finish.duration,
                duration_is_finish_line: spec.finish.duration_is_finish_line,
                requests: spec.finish.requests,
                output_tokens: spec.finish.output_tokens,
                grace: spec.finish.grace,
            },
            slo: StoredSlo {
                ttft_p99: spec.slo.ttft_p99,
                tpot_p99: spec.slo.tpot_p99,
                e2e_p99: spec.slo.e2e_p99,
                error_rate_max: spec.slo.error_rate_max,
            },
            warmup: spec.warmup.map(|w| match w {
                WarmupSpec::Requests(n) => StoredWarmup::Requests(n),
                WarmupSpec::Duration(d) => StoredWarmup::Duration(d),
            }),
            engines: spec.engines.iter().map(StoredEngine::from).collect(),
            simulated: spec.simulated,
            workload: spec.workload.clone(),
        }
    }
}

impl From<&LoadSpec> for StoredLoad {
    fn from(load: &LoadSpec) -> Self {
        match *load {
            LoadSpec::Users { users, spawn_rate } => StoredLoad::Users { users, spawn_rate },
            LoadSpec::Constant {
                rate,
                max_in_flight,
            } => StoredLoad::Constant {
                rate,
                max_in_flight,
            },
            LoadSpec::Poisson {
                rate,
                max_in_flight,
            } => StoredLoad::Poisson {
                rate,
                max_in_flight,
            },
            LoadSpec::Bursts {
                rate,
                factor,
                every,
                length,
                arrivals,
                max_in_flight,
            } => StoredLoad::Bursts {
                rate,
                factor,
                every,
                length,
                poisson: is_poisson(arrivals),
                max_in_flight,
            },
            LoadSpec::Stages { ref stages, of } => StoredLoad::Stages {
                stages: stages
                    .iter()
                    .map(|s| (s.duration, s.level, s.ramp))
                    .collect(),
                rate: stored_level(of),
            },
            LoadSpec::Sweep(ref s) => StoredLoad::Sweep {
                rate: stored_level(s.of),
                start: s.start,
                step: s.step,
                max: s.max,
                step_duration: s.step_duration,
                warmup: s.warmup,
                min_gain: s.min_gain,
                max_error_rate: s.max_error_rate,
                refine: s.refine,
            },
            LoadSpec::Trace {
                ref path,
                time_scale,
                looped,
                max_in_flight,
            } => StoredLoad::Trace {
                path: path.clone(),
                time_scale,
                looped,
                max_in_flight,
            },
        }
    }
}

impl StoredLoad {
    fn into_spec(self) -> LoadSpec {
        match self {
            StoredLoad::Users { users, spawn_rate } => LoadSpec::Users { users, spawn_rate },
            StoredLoad::Constant {
                rate,
                max_in_flight,
            } => LoadSpec::Constant {
                rate,
                max_in_flight,
            },
            StoredLoad::Poisson {
                rate,
                max_in_flight,
            } => LoadSpec::Poisson {
                rate,
                max_in_flight,
            },
            StoredLoad::Bursts {
                rate,
                factor,
                every,
                length,
                poisson,
                max_in_flight,
            } => LoadSpec::Bursts {
                rate,
                factor,
                every,
                length,
                arrivals: arrivals(poisson),
                max_in_flight,
            },
            StoredLoad::Stages { stages, rate } => LoadSpec::Stages {
                stages: stages
                    .into_iter()
                    .map(|(duration, level, ramp)| Stage {
                        duration,
                        level,
                        ramp,
                    })
                    .collect(),
                of: level_of(rate),
            },
            StoredLoad::Sweep {
                rate,
                start,
                step,
                max,
                step_duration,
                warmup,
                min_gain,
                max_error_rate,
                refine,
            } => LoadSpec::Sweep(SweepSpec {
                of: level_of(rate),
                start,
                step,
                max,
                step_duration,
                warmup,
                min_gain,
                max_error_rate,
                refine,
            }),
            StoredLoad::Trace {
                path,
                time_scale,
                looped,
                max_in_flight,
            } => LoadSpec::Trace {
                path,
                time_scale,
                looped,
                max_in_flight,
            },
        }
    }
}

impl From<&EngineSpec> for StoredEngine {
    fn from(e: &EngineSpec) -> Self {
        StoredEngine {
            name: e.name.clone(),
            model: e.model.clone(),
            emoji: e.emoji.clone(),
            color: e.color.to_string(),
            tokenizer: e.tokenizer.clone(),
            target: match &e.target {
                EngineTarget::Url(url) => StoredTarget::Url(scrub_url(url)),
                EngineTarget::Simulated(sim) => StoredTarget::Simulated(StoredSim::from(sim)),
            },
            endpoint: e.endpoint,
            api_key_env: e.api_key_env.clone(),
            headers: e
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = if looks_secret(name) { REDACTED } else { value };
                    (name.clone(), value.to_owned())
                })
                .collect(),
            max_tokens: e.max_tokens,
            temperature: e.temperature,
            ignore_eos: e.ignore_eos,
            count_reasoning: e.count_reasoning,
            timeout: e.timeout,
            cost_per_hour: match e.pricing {
                Some(Pricing::Hourly { per_hour }) => Some(per_hour),
                _ => None,
            },
            price: match e.pricing {
                Some(Pricing::Tokens {
                    input_per_1m,
                    output_per_1m,
                }) => Some(StoredPrice {
                    input_per_1m,
                    output_per_1m,
                }),
                _ => None,
            },
            reuse_connections: e.reuse_connections,
        }
    }
}

impl From<&SimSpec> for StoredSim {
    fn from(s: &SimSpec) -> Self {
        StoredSim {
            ttft: s.ttft,
            tpot: s.tpot,
            jitter: s.jitter,
            prefill_per_token: s.prefill_per_token,
            output_tokens: s.output_tokens,
            capacity: s.capacity,
            max_queue: s.max_queue,
            error_rate: s.error_rate,
            faults: s.faults.clone(),
            stall: s.stall,
            seed: s.seed,
            reasoning_tokens: s.reasoning_tokens,
            done_delay: s.done_delay,
            quirks: s.quirks.clone(),
            idle_timeout: s.idle_timeout,
        }
    }
}

impl StoredRace {
    fn into_spec(self) -> Result<RaceSpec, String> {
        let dataset = match self.dataset {
            StoredDataset::Builtin => DatasetSpec::Builtin,
            StoredDataset::File(path) => DatasetSpec::File(path),
            StoredDataset::Named(name) => {
                DatasetSpec::from_name(&name).ok_or_else(|| format!("unknown dataset '{name}'"))?
            }
        };
        let engines = self
            .engines
            .into_iter()
            .map(StoredEngine::into_spec)
            .collect::<Result<_, _>>()?;
        Ok(RaceSpec {
            name: self.name,
            slug: self.slug,
            seed: self.seed,
            countdown: self.countdown,
            start_at: self
                .start_at_unix_us
                .and_then(|us| u64::try_from(us).ok())
                .map(|us| std::time::UNIX_EPOCH + Duration::from_micros(us)),
            sharding: match (self.shard, self.merged) {
                (Some(StoredShard { index, count }), _) if index < count => {
                    Sharding::Shard(Shard { index, count })
                }
                (Some(shard), _) => {
                    return Err(format!(
                        "shard {}/{} does not exist",
                        shard.index, shard.count
                    ));
                }
                (None, Some(merged)) => Sharding::Merged {
                    count: merged.count,
                    present: merged.shards,
                },
                (None, None) => Sharding::Whole,
            },
            dataset,
            target_input_tokens: self.target_input_tokens,
            target_output_tokens: self.target_output_tokens,
            input_tolerance_tokens: self.input_tolerance_tokens,
            synthetic: SyntheticSpec {
                prompts: self.synthetic.prompts,
                stddev_tokens: self.synthetic.stddev_tokens,
                min_tokens: self.synthetic.min_tokens,
                max_tokens: self.synthetic.max_tokens,
            },
            output_dir: self.output_dir,
            load: self.load.into_spec(),
            finish: FinishSpec {
                duration: self.finish.duration,
                duration_is_finish_line: self.finish.duration_is_finish_line,
                requests: self.finish.requests,
                output_tokens: self.finish.output_tokens,
                grace: self.finish.grace,
            },
            slo: SloSpec {
                ttft_p99: self.slo.ttft_p99,
                tpot_p99: self.slo.tpot_p99,
                e2e_p99: self.slo.e2e_p99,
                error_rate_max: self.slo.error_rate_max,
            },
            warmup: self.warmup.map(|w| match w {
                StoredWarmup::Requests(n) => WarmupSpec::Requests(n),
                StoredWarmup::Duration(d) => WarmupSpec::Duration(d),
            }),
            engines,
            simulated: self.simulated,
            workload: self.workload,
        })
    }
}

impl StoredEngine {
    fn into_spec(self) -> Result<EngineSpec, String> {
        let color = parse_color(&self.color)
            .ok_or_else(|| format!("engine '{}' has an unknown colour", self.name))?;
        Ok(EngineSpec {
            name: self.name,
            model: self.model,
            emoji: self.emoji,
            color,
            tokenizer: self.tokenizer,
            target: match self.target {
                StoredTarget::Url(url) => EngineTarget::Url(url),
                StoredTarget::Simulated(s) => EngineTarget::Simulated(SimSpec {
                    ttft: s.ttft,
                    tpot: s.tpot,
                    jitter: s.jitter,
                    prefill_per_token: s.prefill_per_token,
                    output_tokens: s.output_tokens,
                    capacity: s.capacity,
                    max_queue: s.max_queue,
                    error_rate: s.error_rate,
                    faults: s.faults,
                    stall: s.stall,
                    seed: s.seed,
                    reasoning_tokens: s.reasoning_tokens,
                    done_delay: s.done_delay,
                    quirks: s.quirks,
                    idle_timeout: s.idle_timeout,
                }),
            },
            endpoint: self.endpoint,
            api_key_env: self.api_key_env,
            headers: self.headers,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            ignore_eos: self.ignore_eos,
            count_reasoning: self.count_reasoning,
            timeout: self.timeout,
            pricing: match (self.cost_per_hour, self.price) {
                (_, Some(p)) => Some(Pricing::Tokens {
                    input_per_1m: p.input_per_1m,
                    output_per_1m: p.output_per_1m,
                }),
                (Some(per_hour), None) => Some(Pricing::Hourly { per_hour }),
                (None, None) => None,
            },
            reuse_connections: self.reuse_connections,
        })
    }
}

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
