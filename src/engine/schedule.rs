//! Open-loop arrival schedules: when request `k` is meant to be sent,
//! relative to the start signal. Every engine gets the same schedule.
//!
//! A schedule is a rate over time (a [`RateProfile`]: constant, periodic
//! bursts, or stages with ramps) and a way of spacing arrivals at that rate:
//! evenly, or as a Poisson process. Both follow the expected number of
//! arrivals by time `t`, Λ(t), the integral of the rate: the `k`-th even
//! arrival is at Λ⁻¹(k), and a Poisson process is Λ⁻¹ of a unit-rate one
//! (the time-rescaling theorem), so every shape gets both spacings exactly.
//! Closed-loop stages are a plan of user counts over time ([`users_plan`]).
//! A trace replay is not a rate: its arrivals are the trace's own times,
//! scaled, and repeated when it loops.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Arrivals, LoadSpec, Stage, StageLevel, burst_rates};
use crate::workload::TraceTimes;

/// A stretch of time in which the rate moves linearly from `from` to `to`.
#[derive(Debug, Clone, PartialEq)]
struct Piece {
    /// Seconds since the start (of the period, for a periodic profile).
    start: f64,
    len: f64,
    from: f64,
    to: f64,
}

impl Piece {
    /// Expected arrivals in the first `t` seconds of the piece.
    fn area(&self, t: f64) -> f64 {
        self.from * t + (self.to - self.from) * t * t / (2.0 * self.len)
    }

    /// The `t` at which `area(t) == x` (0 ≤ x ≤ area(len)).
    fn solve(&self, x: f64) -> f64 {
        // area(t) = a t² + b t: the root taken in a form that stays exact
        // when a is (nearly) 0 or negative.
        let a = (self.to - self.from) / (2.0 * self.len);
        let b = self.from;
        let root = (b * b + 4.0 * a * x).max(0.0).sqrt();
        let t = if b + root > 0.0 {
            2.0 * x / (b + root)
        } else {
            0.0
        };
        t.clamp(0.0, self.len)
    }
}

/// Requests per second over time.
#[derive(Debug, Clone, PartialEq)]
pub struct RateProfile {
    pieces: Vec<Piece>,
    /// The pieces repeat with this period: its length (seconds) and its
    /// expected arrivals (given, not summed, so that whole periods hold
    /// exactly their share). `None`: the pieces are the whole profile, and
    /// arrivals end with the last one (or never, when it is endless).
    period: Option<(f64, f64)>,
}

impl RateProfile {
    #[must_use]
    pub fn constant(rate: f64) -> Self {
        RateProfile {
            pieces: vec![Piece {
                start: 0.0,
                len: f64::INFINITY,
                from: rate,
                to: rate,
            }],
            period: None,
        }
    }

    /// An average `rate` in periods of `every`, of which the last `length`
    /// run at `factor` times the rate of the rest.
    #[must_use]
    pub fn bursts(rate: f64, factor: f64, every: Duration, length: Duration) -> Self {
        let (quiet, burst) = burst_rates(rate, factor, every, length);
        let (every, length) = (every.as_secs_f64(), length.as_secs_f64());
        RateProfile {
            pieces: vec![
                Piece {
                    start: 0.0,
                    len: every - length,
                    from: quiet,
                    to: quiet,
                },
                Piece {
                    start: every - length,
                    len: length,
                    from: burst,
                    to: burst,
                },
            ],
            period: Some((every, rate * every)),
        }
    }

    /// Stages of rates, each reached by a linear ramp from the one before
    /// (the first from 0) over its `ramp`, then held to its end.
    #[must_use]
    pub fn stages(stages: &[Stage]) -> Self {
        let mut pieces = Vec::new();
        let mut start = 0.0;
        let mut previous = 0.0;
        for stage in stages {
            let ramp = stage.ramp.as_secs_f64().min(stage.duration.as_secs_f64());
            let hold = stage.duration.as_secs_f64() - ramp;
            if ramp > 0.0 {
                pieces.push(Piece {
                    start,
                    len: ramp,
                    from: previous,
                    to: stage.level,
                });
            }
            if hold > 0.0 {
                pieces.push(Piece {
                    start: start + ramp,
                    len: hold,
                    from: stage.level,
                    to: stage.level,
                });
            }
            start += stage.duration.as_secs_f64();
            previous = stage.level;
        }
        RateProfile {
            pieces,
            period: None,
        }
    }

    /// The rate at `t` seconds.
    #[must_use]
    pub fn rate_at(&self, t: f64) -> f64 {
        let t = match self.period {
            Some((period, _)) => t.rem_euclid(period),
            None => t,
        };
        self.pieces
            .iter()
            .find(|p| t >= p.start && t < p.start + p.len)
            .map_or(0.0, |p| p.from + (p.to - p.from) * (t - p.start) / p.len)
    }

    /// Λ⁻¹(x): when the expected number of arrivals reaches `x`; `None`
    /// after the end of a finite profile.
    fn time_of(&self, x: f64) -> Option<f64> {
        let (base, mut rest) = match self.period {
            Some((period, per_period)) if per_period > 0.0 => {
                let periods = (x / per_period).floor();
                (periods * period, x - periods * per_period)
            }
            _ => (0.0, x),
        };
        for piece in &self.pieces {
            if !piece.len.is_finite() {
                return Some(base + piece.start + piece.solve(rest));
            }
            let area = piece.area(piece.len);
            if rest < area {
                return Some(base + piece.start + piece.solve(rest));
            }
            rest -= area;
        }
        // Rounding at the very end of a period: its last instant.
        match self.period {
            Some((period, per_period)) if per_period > 0.0 => Some(base + period),
            _ => None,
        }
    }
}

/// An endless (or, for stages and traces played once, finite) sequence of
/// arrival offsets.
#[derive(Debug, Clone)]
pub struct ArrivalSchedule {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Arrivals at a rate over time.
    Rate {
        profile: RateProfile,
        spacing: Spacing,
        /// The unit-rate count of the next arrival.
        next: f64,
        /// Arrivals so far (even spacing counts them exactly).
        sent: u64,
    },
    /// A trace's times.
    Trace(Replay),
}

/// A trace's offsets × `scale`, repeated every `period` when it loops.
#[derive(Debug, Clone)]
struct Replay {
    times: TraceTimes,
    scale: f64,
    /// One pass, in the trace's milliseconds (before `scale`).
    period_ms: Option<f64>,
    /// The next arrival's number.
    next: u64,
}

#[derive(Debug, Clone)]
enum Spacing {
    Even,
    Poisson(Box<ChaCha8Rng>),
}

impl ArrivalSchedule {
    /// The schedule of an open-loop load and its in-flight limit; `None`
    /// for a closed loop. A new open-loop shape is an arm here and, if it
    /// needs one, a constructor of [`RateProfile`]. `trace` is the loaded
    /// trace of `mode: trace` (without it, that mode has no arrivals).
    #[must_use]
    pub fn of(
        load: &LoadSpec,
        seed: u64,
        trace: Option<&TraceTimes>,
    ) -> Option<(ArrivalSchedule, u32)> {
        match load {
            // A sweep's rate is set live, step by step (see `driver`).
            LoadSpec::Users { .. }
            | LoadSpec::Sweep(_)
            | LoadSpec::Stages {
                of: StageLevel::Users,
                ..
            } => None,
            LoadSpec::Constant {
                rate,
                max_in_flight,
            } => Some((ArrivalSchedule::constant(*rate), *max_in_flight)),
            LoadSpec::Poisson {
                rate,
                max_in_flight,
            } => Some((ArrivalSchedule::poisson(*rate, seed), *max_in_flight)),
            LoadSpec::Bursts {
                rate,
                factor,
                every,
                length,
                arrivals,
                max_in_flight,
            } => Some((
                ArrivalSchedule::new(
                    RateProfile::bursts(*rate, *factor, *every, *length),
                    *arrivals,
                    seed,
                ),
                *max_in_flight,
            )),
            LoadSpec::Stages {
                stages,
                of:
                    StageLevel::Rate {
                        arrivals,
                        max_in_flight,
                    },
            } => Some((
                ArrivalSchedule::new(RateProfile::stages(stages), *arrivals, seed),
                *max_in_flight,
            )),
            LoadSpec::Trace {
                time_scale,
                looped,
                max_in_flight,
                ..
            } => Some((
                ArrivalSchedule::trace(trace.cloned().unwrap_or_default(), *time_scale, *looped),
                *max_in_flight,
            )),
        }
    }

    /// A trace's arrivals: entry `i` at its offset × `time_scale`; looped,
    /// pass `c` is shifted by `c` times the trace's cycle (its span plus
    /// its mean gap) × `time_scale`.
    #[must_use]
    pub fn trace(times: TraceTimes, time_scale: f64, looped: bool) -> Self {
        let period_ms = looped.then(|| times.cycle_ms());
        ArrivalSchedule {
            kind: Kind::Trace(Replay {
                times,
                scale: time_scale,
                period_ms,
                next: 0,
            }),
        }
    }

    #[must_use]
    pub fn new(profile: RateProfile, arrivals: Arrivals, seed: u64) -> Self {
        let spacing = match arrivals {
            Arrivals::Constant => Spacing::Even,
            Arrivals::Poisson => Spacing::Poisson(Box::new(ChaCha8Rng::seed_from_u64(seed))),
        };
        ArrivalSchedule {
            kind: Kind::Rate {
                profile,
                spacing,
                next: 0.0,
                sent: 0,
            },
        }
    }

    #[must_use]
    pub fn constant(rate: f64) -> Self {
        ArrivalSchedule::new(RateProfile::constant(rate), Arrivals::Constant, 0)
    }

    #[must_use]
    pub fn poisson(rate: f64, seed: u64) -> Self {
        ArrivalSchedule::new(RateProfile::constant(rate), Arrivals::Poisson, seed)
    }

    /// How many arrivals fall in the first second (at most `cap`).
    #[must_use]
    pub fn first_second(&self, cap: u32) -> u32 {
        let n = self
            .clone()
            .take_while(|at| *at < Duration::from_secs(1))
            .take(cap as usize)
            .count();
        u32::try_from(n).unwrap_or(cap)
    }
}

impl Iterator for ArrivalSchedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let (profile, spacing, next, sent) = match &mut self.kind {
            Kind::Trace(replay) => return replay.next(),
            Kind::Rate {
                profile,
                spacing,
                next,
                sent,
            } => (profile, spacing, next, sent),
        };
        let at = profile.time_of(*next)?;
        *sent += 1;
        match spacing {
            #[allow(clippy::cast_precision_loss)]
            Spacing::Even => *next = *sent as f64,
            Spacing::Poisson(rng) => {
                // 1 - u is in (0, 1], so the logarithm is finite.
                let u: f64 = rng.random();
                *next += -(1.0 - u).ln();
            }
        }
        Some(Duration::from_secs_f64(at))
    }
}

/// The latest arrival a replay schedules: a year, the longest race.
const LAST_ARRIVAL_NS: f64 = 365.0 * 24.0 * 3600.0 * 1e9;

impl Replay {
    fn next(&mut self) -> Option<Duration> {
        let offsets = self.times.offsets_ms();
        let n = offsets.len() as u64;
        if n == 0 {
            return None;
        }
        let (pass, i) = (self.next / n, self.next % n);
        let shift_ms = match self.period_ms {
            None if pass > 0 => return None,
            None => 0.0,
            #[allow(clippy::cast_precision_loss)]
            Some(period) => pass as f64 * period,
        };
        let offset = offsets[usize::try_from(i).unwrap_or(0)];
        // Whole nanoseconds, rounded, so that scaled times are exact
        // where they can be (1500 ms × 0.5 is 750 ms, not 749.999…).
        let ns = ((shift_ms + offset) * self.scale * 1e6).round();
        if !(0.0..=LAST_ARRIVAL_NS).contains(&ns) {
            return None;
        }
        self.next += 1;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(Duration::from_nanos(ns as u64))
    }
}

/// Closed-loop stages: from when on how many users should run, as steps
/// (the first at 0). A ramp moves one user at a time, evenly over it.
#[must_use]
pub fn users_plan(stages: &[Stage]) -> Vec<(Duration, u32)> {
    let mut plan: Vec<(Duration, u32)> = Vec::new();
    let mut start = Duration::ZERO;
    let mut previous: u32 = 0;
    let mut push = |at: Duration, users: u32| match plan.last_mut() {
        Some(last) if last.0 == at => last.1 = users,
        Some(last) if last.1 == users => {}
        _ => plan.push((at, users)),
    };
    for stage in stages {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let level = stage.level.round().max(0.0) as u32;
        let ramp = stage.ramp.min(stage.duration);
        if ramp > Duration::ZERO && level != previous {
            let steps = level.abs_diff(previous);
            for i in 1..=steps {
                let users = if level > previous {
                    previous + i
                } else {
                    previous - i
                };
                // Each step at the middle of its share of the ramp, so an
                // up-and-down ramp is symmetric.
                let at = start + ramp.mul_f64((f64::from(i) - 0.5) / f64::from(steps));
                push(at, users);
            }
        }
        push(start + ramp, level);
        start += stage.duration;
        previous = level;
    }
    push(start, 0);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(duration_s: u64, level: f64, ramp_s: u64) -> Stage {
        Stage {
            duration: Duration::from_secs(duration_s),
            level,
            ramp: Duration::from_secs(ramp_s),
        }
    }

    /// Arrivals per whole second of the first `seconds`.
    fn per_second(schedule: ArrivalSchedule, seconds: usize) -> Vec<usize> {
        let mut counts = vec![0; seconds];
        for at in schedule.take_while(|at| at.as_secs_f64() < seconds as f64) {
            counts[at.as_secs() as usize] += 1;
        }
        counts
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let offsets: Vec<Duration> = ArrivalSchedule::constant(4.0).take(5).collect();
        assert_eq!(offsets[0], Duration::ZERO);
        assert_eq!(offsets[4], Duration::from_secs(1));
    }

    #[test]
    fn the_first_second_counts_the_arrivals_in_it() {
        assert_eq!(ArrivalSchedule::constant(2.5).first_second(100), 3);
        assert_eq!(ArrivalSchedule::constant(0.1).first_second(100), 1);
        assert_eq!(ArrivalSchedule::constant(1e6).first_second(256), 256);
        let poisson = ArrivalSchedule::poisson(10.0, 3);
        let arrivals = poisson
            .clone()
            .take_while(|at| *at < Duration::from_secs(1))
            .count();
        assert_eq!(poisson.first_second(1000) as usize, arrivals);
    }

    #[test]
    fn poisson_has_the_requested_mean_rate_and_is_reproducible() {
        let a: Vec<Duration> = ArrivalSchedule::poisson(10.0, 3).take(20_001).collect();
        let b: Vec<Duration> = ArrivalSchedule::poisson(10.0, 3).take(20_001).collect();
        assert_eq!(a, b);
        let mean_gap = a[20_000].as_secs_f64() / 20_000.0;
        assert!((mean_gap - 0.1).abs() < 0.005, "mean gap {mean_gap}");
        assert!(a.windows(2).all(|w| w[1] >= w[0]));
    }

    #[test]
    fn even_bursts_put_the_factor_in_the_last_seconds_of_each_period() {
        // Average 2/s, ×5 for the last 2 s of every 10 s: quiet 2/1.8 ≈ 1.11/s,
        // bursts 5.56/s; 20 arrivals a period.
        let profile =
            RateProfile::bursts(2.0, 5.0, Duration::from_secs(10), Duration::from_secs(2));
        assert!((profile.rate_at(1.0) - 2.0 / 1.8).abs() < 1e-9);
        assert!((profile.rate_at(9.0) - 10.0 / 1.8).abs() < 1e-9);
        assert!((profile.rate_at(19.5) - 10.0 / 1.8).abs() < 1e-9);
        let schedule = ArrivalSchedule::new(profile, Arrivals::Constant, 0);
        let counts = per_second(schedule.clone(), 30);
        for period in 0..3 {
            let quiet: usize = counts[period * 10..period * 10 + 8].iter().sum();
            let burst: usize = counts[period * 10 + 8..period * 10 + 10].iter().sum();
            assert_eq!(quiet + burst, 20, "period {period}: {counts:?}");
            assert!((8..=10).contains(&quiet), "{counts:?}");
            assert!(
                counts[period * 10 + 8] >= 5 && counts[period * 10 + 3] <= 2,
                "{counts:?}"
            );
        }
        assert_eq!(schedule.take_while(|at| at.as_secs() < 100).count(), 200);
    }

    #[test]
    fn poisson_bursts_peak_in_the_bursts_and_keep_the_average() {
        let profile =
            RateProfile::bursts(2.0, 5.0, Duration::from_secs(10), Duration::from_secs(2));
        let schedule = ArrivalSchedule::new(profile, Arrivals::Poisson, 7);
        let counts = per_second(schedule.clone(), 2000);
        let (mut quiet, mut burst) = (0, 0);
        for (second, n) in counts.iter().enumerate() {
            if second % 10 >= 8 {
                burst += n;
            } else {
                quiet += n;
            }
        }
        let quiet_rate = quiet as f64 / 1600.0;
        let burst_rate = burst as f64 / 400.0;
        assert!((quiet_rate - 2.0 / 1.8).abs() < 0.1, "{quiet_rate}");
        assert!((burst_rate - 10.0 / 1.8).abs() < 0.3, "{burst_rate}");
        let a: Vec<Duration> = schedule.clone().take(100).collect();
        let b: Vec<Duration> = schedule.take(100).collect();
        assert_eq!(a, b, "seeded");
    }

    #[test]
    fn rate_stages_ramp_hold_and_end() {
        // 10 s ramping 0 → 4/s then holding, then 10 s at 1/s.
        let profile = RateProfile::stages(&[stage(20, 4.0, 10), stage(10, 1.0, 0)]);
        assert!((profile.rate_at(5.0) - 2.0).abs() < 1e-9);
        assert!((profile.rate_at(15.0) - 4.0).abs() < 1e-9);
        assert!((profile.rate_at(25.0) - 1.0).abs() < 1e-9);
        assert_eq!(profile.rate_at(31.0), 0.0);
        let arrivals: Vec<Duration> =
            ArrivalSchedule::new(profile, Arrivals::Constant, 0).collect();
        // 20 in the ramp, 40 in the hold, 10 in the last stage; then none.
        assert_eq!(arrivals.len(), 70);
        let in_window = |from: u64, to: u64| {
            arrivals
                .iter()
                .filter(|a| a.as_secs() >= from && a.as_secs() < to)
                .count()
        };
        assert_eq!(in_window(0, 10), 20);
        assert_eq!(in_window(10, 20), 40);
        assert_eq!(in_window(20, 30), 10);
        // The ramp is linear: a quarter of its arrivals in its first half.
        assert_eq!(in_window(0, 5), 5);
        assert!(arrivals.windows(2).all(|w| w[1] >= w[0]));
    }

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn a_trace_arrives_at_its_offsets_times_the_scale_and_ends() {
        let times = TraceTimes::new(vec![0.0, 100.0, 250.0, 1000.0]);
        let once: Vec<Duration> = ArrivalSchedule::trace(times.clone(), 1.0, false).collect();
        assert_eq!(once, ms(&[0, 100, 250, 1000]));
        let slow: Vec<Duration> = ArrivalSchedule::trace(times.clone(), 2.0, false).collect();
        assert_eq!(slow, ms(&[0, 200, 500, 2000]));
        let fast: Vec<Duration> = ArrivalSchedule::trace(times, 0.3, false).collect();
        assert_eq!(fast, ms(&[0, 30, 75, 300]));
        let fractional = TraceTimes::new(vec![0.0, 0.5]);
        assert_eq!(
            ArrivalSchedule::trace(fractional, 1.0, false).nth(1),
            Some(Duration::from_micros(500))
        );
        assert_eq!(
            ArrivalSchedule::trace(TraceTimes::default(), 1.0, true).next(),
            None
        );
    }

    #[test]
    fn a_looped_trace_repeats_shifted_by_its_span_plus_its_mean_gap() {
        // Span 900 ms over 3 gaps: each pass 1200 ms after the last.
        let times = TraceTimes::new(vec![0.0, 300.0, 600.0, 900.0]);
        let looped: Vec<Duration> = ArrivalSchedule::trace(times.clone(), 1.0, true)
            .take(10)
            .collect();
        assert_eq!(
            looped,
            ms(&[0, 300, 600, 900, 1200, 1500, 1800, 2100, 2400, 2700])
        );
        let scaled: Vec<Duration> = ArrivalSchedule::trace(times, 0.5, true)
            .skip(4)
            .take(2)
            .collect();
        assert_eq!(scaled, ms(&[600, 750]));
        // One entry (or all at one time): a pass lasts 1 s.
        let single: Vec<Duration> = ArrivalSchedule::trace(TraceTimes::new(vec![0.0]), 1.0, true)
            .take(3)
            .collect();
        assert_eq!(single, ms(&[0, 1000, 2000]));
    }

    #[test]
    fn a_trace_schedule_comes_from_its_load_and_the_loaded_times() {
        let load = LoadSpec::Trace {
            path: "t.jsonl".into(),
            time_scale: 2.0,
            looped: false,
            max_in_flight: 7,
        };
        let times = TraceTimes::new(vec![0.0, 400.0, 700.0]);
        let (schedule, max_in_flight) = ArrivalSchedule::of(&load, 1, Some(&times)).unwrap();
        assert_eq!(max_in_flight, 7);
        assert_eq!(schedule.collect::<Vec<_>>(), ms(&[0, 800, 1400]));
        assert_eq!(
            ArrivalSchedule::of(&load, 1, Some(&times))
                .unwrap()
                .0
                .first_second(100),
            2
        );
        let (nothing, _) = ArrivalSchedule::of(&load, 1, None).unwrap();
        assert_eq!(nothing.count(), 0, "no trace loaded: no arrivals");
    }

    #[test]
    fn users_stages_step_one_user_at_a_time_through_ramps() {
        let plan = users_plan(&[stage(10, 4.0, 4), stage(10, 4.0, 0), stage(5, 2.0, 2)]);
        let secs = |s: f64| Duration::from_secs_f64(s);
        assert_eq!(
            plan,
            vec![
                (secs(0.5), 1),
                (secs(1.5), 2),
                (secs(2.5), 3),
                (secs(3.5), 4),
                (secs(20.5), 3),
                (secs(21.5), 2),
                (secs(25.0), 0),
            ]
        );
        assert_eq!(
            users_plan(&[stage(5, 3.0, 0)]),
            vec![(Duration::ZERO, 3), (secs(5.0), 0)]
        );
    }
}
