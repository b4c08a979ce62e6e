//! One-line descriptions of a race, as `validate` and the start of a race
//! print them.

use super::spec::{
    LoadSpec, RaceSpec, Stage, StageLevel, SweepSpec, UNTIL_TRACE_ENDS, WarmupSpec, burst_rates,
};

impl RaceSpec {
    /// One line about a race: its name, engines, load and finish line.
    #[must_use]
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.engines.iter().map(|e| e.name.as_str()).collect();
        let mut finish = Vec::new();
        let until_trace_ends = matches!(self.load, LoadSpec::Trace { looped: false, .. })
            && self.finish.duration == UNTIL_TRACE_ENDS;
        if until_trace_ends {
            // Its length is known once the trace is read.
            finish.push("the end of the trace".to_owned());
        } else if self.finish.duration_is_finish_line {
            finish.push(format!("{} s", self.finish.duration.as_secs_f64()));
        }
        if let Some(n) = self.finish.requests {
            finish.push(format!("{n} requests"));
        }
        if let Some(n) = self.finish.output_tokens {
            finish.push(format!("{n} output tokens"));
        }
        let end = if finish.is_empty() {
            format!(
                "each engine ends with its load (time limit {} s)",
                self.finish.duration.as_secs_f64()
            )
        } else {
            format!("finish at {}", finish.join(" or "))
        };
        let mut line = format!(
            "'{}', {} engine{} ({}), {}{}, {end}",
            self.name,
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            self.load.describe(),
            self.shape.describe(),
        );
        if self.simulated {
            line.push_str(" (simulated: every engine's server is a built-in simulator)");
        }
        line
    }
}

impl LoadSpec {
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            LoadSpec::Users { users, spawn_rate } => {
                let noun = if *users == 1 { "user" } else { "users" };
                format!("{users} {noun} per engine (+{spawn_rate}/s)")
            }
            LoadSpec::Constant {
                rate,
                max_in_flight,
            } => format!("constant {rate} req/s (max {max_in_flight} in flight)"),
            LoadSpec::Poisson {
                rate,
                max_in_flight,
            } => format!("Poisson {rate} req/s (max {max_in_flight} in flight)"),
            LoadSpec::Bursts {
                rate,
                factor,
                every,
                length,
                arrivals,
                max_in_flight,
            } => {
                let (quiet, burst) = burst_rates(*rate, *factor, *every, *length);
                format!(
                    "bursts: {} {rate} req/s on average, {factor}× for the last {} s of every {} s ({} req/s quiet, {} req/s in a burst; max {max_in_flight} in flight)",
                    arrivals.name(),
                    length.as_secs_f64(),
                    every.as_secs_f64(),
                    round2(quiet),
                    round2(burst),
                )
            }
            LoadSpec::Stages { stages, of } => describe_stages(stages, *of),
            LoadSpec::Sweep(sweep) => describe_sweep(sweep),
            LoadSpec::Trace {
                path,
                time_scale,
                looped,
                max_in_flight,
            } => {
                let pace = if (*time_scale - 1.0).abs() < f64::EPSILON {
                    String::new()
                } else {
                    format!(" with its gaps × {time_scale}")
                };
                let passes = if *looped { "in a loop" } else { "once" };
                format!(
                    "trace '{}' replayed {passes}{pace} (max {max_in_flight} in flight)",
                    path.display()
                )
            }
        }
    }
}

/// `stages`: each stage's level and length, and the arrivals of rate stages.
fn describe_stages(stages: &[Stage], of: StageLevel) -> String {
    let unit = match of {
        StageLevel::Users => "users",
        StageLevel::Rate { .. } => "req/s",
    };
    let steps: Vec<String> = stages
        .iter()
        .map(|s| {
            let ramp = if s.ramp.is_zero() {
                String::new()
            } else {
                format!(" (ramp {} s)", s.ramp.as_secs_f64())
            };
            format!(
                "{} {unit} for {} s{ramp}",
                s.level,
                s.duration.as_secs_f64()
            )
        })
        .collect();
    let tail = match of {
        StageLevel::Users => String::new(),
        StageLevel::Rate {
            arrivals,
            max_in_flight,
        } => format!(
            ", {} arrivals, max {max_in_flight} in flight",
            arrivals.name()
        ),
    };
    format!("{} stages: {}{tail}", stages.len(), steps.join(", then "))
}

/// `sweep`: the levels it steps through and when it stops.
fn describe_sweep(sweep: &SweepSpec) -> String {
    let (unit, tail) = match sweep.of {
        StageLevel::Users => ("users", String::new()),
        StageLevel::Rate {
            arrivals,
            max_in_flight,
        } => (
            "req/s",
            format!(
                ", {} arrivals, max {max_in_flight} in flight, {} refining steps",
                arrivals.name(),
                sweep.refine
            ),
        ),
    };
    let warmup = if sweep.warmup.is_zero() {
        String::new()
    } else {
        format!(" (the first {} s not counted)", sweep.warmup.as_secs_f64())
    };
    format!(
        "sweep of {unit}: {} to {} in steps of {}, {} s each{warmup}, until a step breaks the SLO, errs over {} or gains under {} of throughput{tail}",
        sweep.start,
        sweep.max,
        sweep.step,
        sweep.step_duration.as_secs_f64(),
        sweep.max_error_rate,
        sweep.min_gain,
    )
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl WarmupSpec {
    #[must_use]
    pub fn describe(self) -> String {
        match self {
            WarmupSpec::Requests(n) => format!("{n} requests per engine, not counted"),
            WarmupSpec::Duration(d) => {
                format!("{:.1} s per engine, not counted", d.as_secs_f64())
            }
        }
    }
}
