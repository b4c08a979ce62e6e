//! A simulated engine's `simulate:` section, and `llm-locust sim`'s flags
//! checked by the same rules.

#[allow(clippy::wildcard_imports)]
use super::*;

/// `llm-locust sim`'s flags, checked as a race file's `simulate:` is (same
/// limits, same defaults); a problem names the flag.
pub fn sim_flags(flags: SimulateFile) -> Result<SimSpec, Problem> {
    let mut p = Problems::default();
    let seed = flags.seed.unwrap_or(SimSpec::default().seed);
    let spec = sim_spec(flags, "", seed, &mut p);
    match p.0.into_iter().next() {
        None => Ok(spec),
        Some(problem) => {
            let key = problem
                .path
                .split(['.', '['])
                .next()
                .unwrap_or_default()
                .to_owned();
            // The repeatable flags are named in the singular.
            let flag = match key.as_str() {
                "faults" => "fault".to_owned(),
                "quirks" => "quirk".to_owned(),
                other => other.replace('_', "-"),
            };
            let subject = problem
                .path
                .strip_prefix("faults.")
                .map_or_else(|| format!("--{flag}"), |kind| format!("--{flag} {kind}"));
            Err(Problem {
                path: subject,
                message: problem.message,
            })
        }
    }
}

pub(super) fn sim_spec(s: SimulateFile, prefix: &str, seed: u64, p: &mut Problems) -> SimSpec {
    let at = |key: &str| join(prefix, key);
    let d = SimSpec::default();
    let mut faults = BTreeMap::new();
    for (key, v) in s.faults.unwrap_or_default() {
        let path = at(&format!("faults.{key}"));
        let normalized = key.trim().to_ascii_lowercase().replace('-', "_");
        match FaultKind::from_name(&normalized) {
            Some(kind) => {
                faults.insert(kind, within(p, &path, v, 0.0, 1.0));
            }
            None => {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                let hint = did_you_mean(&normalized, &names)
                    .map(|n| format!("did you mean '{n}'? "))
                    .unwrap_or_default();
                p.add(
                    path,
                    format!(
                        "unknown fault kind; {hint}expected one of: {}",
                        names.join(", ")
                    ),
                );
            }
        }
    }
    let error_rate = s
        .error_rate
        .map_or(d.error_rate, |v| within(p, &at("error_rate"), v, 0.0, 1.0));
    let total = error_rate + faults.values().sum::<f64>();
    if total > 1.0 + 1e-9 {
        p.add(
            at("faults"),
            format!(
                "error_rate and faults add up to {}; the total must be at most 1",
                fmt_num(total)
            ),
        );
    }
    SimSpec {
        ttft: ms_opt(p, &at("ttft_ms"), s.ttft_ms, true, d.ttft),
        tpot: ms_opt(p, &at("tpot_ms"), s.tpot_ms, true, d.tpot),
        jitter: s
            .jitter
            .map_or(d.jitter, |v| within(p, &at("jitter"), v, 0.0, 1.0)),
        prefill_per_token: s.prefill_us_per_token.map_or(d.prefill_per_token, |v| {
            seconds(p, &at("prefill_us_per_token"), v, 1e-6, true)
        }),
        output_tokens: s
            .output_tokens
            .map(|v| whole_u32(p, &at("output_tokens"), v, 1, i64::MAX)),
        capacity: s.capacity.map_or(d.capacity, |v| {
            whole_u32(p, &at("capacity"), v, 1, i64::MAX)
        }),
        max_queue: s
            .max_queue
            .map(|v| whole_u32(p, &at("max_queue"), v, 0, i64::MAX)),
        error_rate,
        faults,
        stall: secs_opt(p, &at("stall_s"), s.stall_s, false, d.stall),
        seed: s.seed.unwrap_or(seed),
        reasoning_tokens: s
            .reasoning_tokens
            .map_or(0, |v| whole_u32(p, &at("reasoning_tokens"), v, 0, i64::MAX)),
        done_delay: ms_opt(p, &at("done_delay_ms"), s.done_delay_ms, true, d.done_delay),
        quirks: quirks(s.quirks.unwrap_or_default(), &at("quirks"), p),
        idle_timeout: s
            .idle_timeout_ms
            .map(|v| seconds(p, &at("idle_timeout_ms"), v, 0.001, false)),
        prefix_cache_tokens: s
            .prefix_cache_tokens
            .map(|v| whole_u32(p, &at("prefix_cache_tokens"), v, 1, i64::MAX)),
    }
}

pub(super) fn quirks(names: Vec<String>, path: &str, p: &mut Problems) -> BTreeSet<Quirk> {
    let mut quirks = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        let normalized = name.trim().to_ascii_lowercase().replace('-', "_");
        if let Some(quirk) = Quirk::from_name(&normalized) {
            quirks.insert(quirk);
        } else {
            let names: Vec<&str> = Quirk::ALL.iter().map(|q| q.name()).collect();
            let hint = did_you_mean(&normalized, &names)
                .map(|n| format!("did you mean '{n}'? "))
                .unwrap_or_default();
            p.add(
                format!("{path}[{i}]"),
                format!(
                    "unknown quirk '{name}'; {hint}expected one of: {}",
                    names.join(", ")
                ),
            );
        }
    }
    quirks
}
