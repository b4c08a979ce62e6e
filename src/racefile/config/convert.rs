//! The stored configuration to and from the program's `RaceSpec`: secrets
//! left out on the way in, every name checked on the way out.

#[allow(clippy::wildcard_imports)]
use super::*;

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
            shape: spec.shape.clone(),
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
            inputs_per_request: e.inputs_per_request,
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
            server_metrics: ServerMetricsSpec {
                url: e.server_metrics.url.as_deref().map(scrub_url),
                ..e.server_metrics.clone()
            },
            extra_body: e
                .extra_body
                .iter()
                .map(|(key, value)| {
                    let value = if looks_secret(key) {
                        serde_json::Value::String(REDACTED.to_owned())
                    } else {
                        value.clone()
                    };
                    (key.clone(), value)
                })
                .collect(),
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
            prefix_cache_tokens: s.prefix_cache_tokens,
        }
    }
}

impl StoredRace {
    pub(super) fn into_spec(self) -> Result<RaceSpec, String> {
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
            shape: self.shape,
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
                    prefix_cache_tokens: s.prefix_cache_tokens,
                }),
            },
            endpoint: self.endpoint,
            api_key_env: self.api_key_env,
            headers: self.headers,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            ignore_eos: self.ignore_eos,
            count_reasoning: self.count_reasoning,
            inputs_per_request: self.inputs_per_request,
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
            server_metrics: self.server_metrics,
            extra_body: self.extra_body,
        })
    }
}
