//! The validated load: how each engine's requests are offered (closed-loop
//! users, open-loop arrivals in their shapes, stages, a sweep, a trace).
//! Built by `config::validate` (its `load` module); the engine's drivers and
//! schedules run from it.

use crate::names::named_enum;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum LoadSpec {
    /// Closed loop: `users` per engine, each sends its next request when the
    /// last one ends; users are added at `spawn_rate` per second.
    Users { users: u32, spawn_rate: f64 },
    /// Open loop at a fixed interval of `1/rate` seconds.
    Constant { rate: f64, max_in_flight: u32 },
    /// Open loop with exponential inter-arrival gaps of mean `1/rate`.
    Poisson { rate: f64, max_in_flight: u32 },
    /// Open loop at an average `rate`, in periods of `every` whose last
    /// `length` run at `factor` times the rate of the rest.
    Bursts {
        rate: f64,
        factor: f64,
        every: Duration,
        length: Duration,
        arrivals: Arrivals,
        max_in_flight: u32,
    },
    /// Steps of load one after the other, each reached by a linear ramp
    /// from the one before (the first from 0) and held to its end; the
    /// race ends with the last.
    Stages { stages: Vec<Stage>, of: StageLevel },
    /// The stress test: the load steps up until a step breaks (see
    /// [`SweepSpec`]).
    Sweep(SweepSpec),
    /// Open loop replaying a trace file: each entry is due at its
    /// timestamp after the first entry's, times `time_scale`, with a prompt
    /// of its `input_length` and `max_tokens` of its `output_length` (the
    /// file is read by `workload`). `looped`: the trace repeats, each pass
    /// one trace length (its span plus its mean gap) after the last;
    /// otherwise the race ends with the trace.
    Trace {
        path: PathBuf,
        time_scale: f64,
        looped: bool,
        max_in_flight: u32,
    },
}

/// A sweep: steps of `start`, `start + step`, ... up to `max` users or
/// requests per second, each for `step_duration` (its first `warmup` not
/// counted), until a step breaks the race's SLO, errs more than
/// `max_error_rate`, or gains less than `min_gain` of throughput. A rate
/// sweep then bisects `refine` times between the last good and the first
/// bad level.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    pub of: StageLevel,
    pub start: f64,
    pub step: f64,
    pub max: f64,
    pub step_duration: Duration,
    pub warmup: Duration,
    pub min_gain: f64,
    pub max_error_rate: f64,
    pub refine: u32,
}

impl SweepSpec {
    /// Coarse steps at most (before any refinement).
    #[must_use]
    pub fn coarse_steps(&self) -> u32 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = ((self.max - self.start) / self.step + 1e-9).floor() as u32 + 1;
        n
    }
}

/// A `bursts` load's quiet and burst rates: the average `rate` over each
/// `every`, whose last `length` runs at `factor` times the rest's rate.
#[must_use]
pub fn burst_rates(rate: f64, factor: f64, every: Duration, length: Duration) -> (f64, f64) {
    let share = length.as_secs_f64() / every.as_secs_f64();
    let quiet = rate / (1.0 + (factor - 1.0) * share);
    (quiet, quiet * factor)
}

/// The time limit of a trace replayed once when no duration is given,
/// until the trace is read (`workload::settle` sets the trace's length):
/// a year, the longest any race may run.
pub const UNTIL_TRACE_ENDS: Duration = Duration::from_secs(365 * 24 * 3600);

named_enum! {
    /// How open-loop arrivals are spread at a given rate.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Arrivals {
        /// Evenly: the `k`-th when `k` arrivals are due.
        Constant = "constant",
        /// A Poisson process (seeded).
        Poisson = "poisson",
    }
}

/// One stage of a `stages` load.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    /// Users, or requests per second.
    pub level: f64,
    /// The first part of `duration`, over which the load moves linearly
    /// from the previous stage's level to this one.
    pub ramp: Duration,
}

/// What the stages' levels are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StageLevel {
    /// Closed-loop users.
    Users,
    /// Open-loop requests per second.
    Rate {
        arrivals: Arrivals,
        max_in_flight: u32,
    },
}

impl LoadSpec {
    #[must_use]
    pub fn mode(&self) -> LoadMode {
        match self {
            LoadSpec::Users { .. } => LoadMode::Users,
            LoadSpec::Constant { .. } => LoadMode::Constant,
            LoadSpec::Poisson { .. } => LoadMode::Poisson,
            LoadSpec::Bursts { .. } => LoadMode::Bursts,
            LoadSpec::Stages { .. } => LoadMode::Stages,
            LoadSpec::Sweep(_) => LoadMode::Sweep,
            LoadSpec::Trace { .. } => LoadMode::Trace,
        }
    }

    /// When each stage starts, and the end of the last (`stages` only).
    #[must_use]
    pub fn stage_starts(&self) -> Vec<Duration> {
        let LoadSpec::Stages { stages, .. } = self else {
            return Vec::new();
        };
        let mut at = Duration::ZERO;
        let mut starts = vec![at];
        for stage in stages {
            at += stage.duration;
            starts.push(at);
        }
        starts
    }
}

pub use super::file::LoadMode;
