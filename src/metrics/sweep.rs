//! The stress test's judgement: each engine's sweep steps, whether each
//! held, where the engine broke and why, and its maximum sustainable load.
//! Pure: the aggregator says when a step starts (`RaceEvent::SweepStep`)
//! and when to judge it (`RaceEvent::SweepJudged`, once its requests have
//! ended), and takes the next level from here; a replay folds the same
//! events to the same answers. See docs/METRICS.md, "Sweep".

use std::time::Duration;

use super::record::RequestRecord;
use super::windows::{LevelUnit, WindowFigures, Windows};
use crate::config::{SloSpec, StageLevel, SweepSpec};

/// How a step was judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub held: bool,
    /// Why it broke, in words (`None` when it held).
    pub why: Option<String>,
}

/// A judged step: its figures when it was judged, and the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedStep {
    pub figures: WindowFigures,
    pub verdict: Verdict,
    /// A bisection step between the last good and the first bad level.
    pub refining: bool,
}

/// One engine's sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    spec: SweepSpec,
    steps: Windows,
    judged: Vec<JudgedStep>,
    done: bool,
}

/// Where an engine's sweep stands, for views and reports.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSnapshot {
    pub unit: LevelUnit,
    /// The step running (or waiting to be judged): its number from 0 and level.
    pub current: Option<(usize, f64)>,
    pub steps: Vec<JudgedStep>,
    /// The highest level that held, and that step's figures.
    pub max_sustainable: Option<WindowFigures>,
    /// The first step that broke: its level and why.
    pub broke_at: Option<(f64, String)>,
    /// The sweep is over for this engine.
    pub done: bool,
    /// The engine stopped (the time limit, a stop) before its sweep was over.
    pub cut_short: bool,
}

impl SweepSnapshot {
    /// One line: the step running and the answer so far, e.g.
    /// `step 4: 40 users · max 30 users`, or at the end
    /// `max 30 users · broke at 40: SLO ttft_p99_ms 2310.4 over 2000`.
    #[must_use]
    pub fn status(&self) -> String {
        let unit = match self.unit {
            LevelUnit::Users => "users",
            LevelUnit::Rate => "req/s",
        };
        let mut parts = Vec::new();
        if let Some((i, level)) = self.current {
            parts.push(format!("step {}: {level} {unit}", i + 1));
        }
        match &self.max_sustainable {
            Some(best) => parts.push(format!("max {} {unit}", best.level)),
            None if self.done => parts.push("no step held".to_owned()),
            None => {}
        }
        if self.done
            && let Some((level, why)) = &self.broke_at
        {
            parts.push(format!("broke at {level}: {why}"));
        }
        if self.cut_short {
            parts.push(if self.steps.is_empty() {
                "out of time before its first step was judged: give it a longer --duration"
                    .to_owned()
            } else {
                let n = self.steps.len();
                format!(
                    "out of time after {n} step{}",
                    if n == 1 { "" } else { "s" }
                )
            });
        }
        parts.join(" · ")
    }
}

fn percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

impl Sweep {
    #[must_use]
    pub fn new(spec: SweepSpec) -> Self {
        Sweep {
            spec,
            steps: Windows::default(),
            judged: Vec::new(),
            done: false,
        }
    }

    #[must_use]
    pub fn unit(&self) -> LevelUnit {
        match self.spec.of {
            StageLevel::Users => LevelUnit::Users,
            StageLevel::Rate { .. } => LevelUnit::Rate,
        }
    }

    /// A step at `level` started `at`: it counts from its warm-up's end to
    /// its end.
    pub fn start_step(&mut self, at: Duration, level: f64) {
        self.steps
            .push(at + self.spec.warmup, at + self.spec.step_duration, level);
    }

    pub fn observe(&mut self, record: &RequestRecord) {
        self.steps.observe(record);
    }

    pub fn lost(&mut self, at: Duration, count: u64) {
        self.steps.lost(at, count);
    }

    fn last_held(&self) -> Option<&JudgedStep> {
        self.judged
            .iter()
            .filter(|s| s.verdict.held)
            .max_by(|a, b| a.figures.level.total_cmp(&b.figures.level))
    }

    fn first_broke(&self) -> Option<&JudgedStep> {
        self.judged
            .iter()
            .filter(|s| !s.verdict.held)
            .min_by(|a, b| a.figures.level.total_cmp(&b.figures.level))
    }

    fn verdict(&self, f: &WindowFigures) -> Verdict {
        let broke = |why: String| Verdict {
            held: false,
            why: Some(why),
        };
        if f.requests_ok == 0 {
            return broke("no request succeeded".to_owned());
        }
        if let Some(check) = f.slo_checks.iter().find(|c| !c.pass) {
            let actual = check
                .actual
                .map_or_else(|| "nothing measured".to_owned(), |a| format!("{a:.1}"));
            return broke(format!(
                "SLO {} {actual} over {}",
                check.kind.name(),
                check.threshold
            ));
        }
        if f.error_rate > self.spec.max_error_rate {
            return broke(format!(
                "error rate {} over {}",
                percent(f.error_rate),
                percent(self.spec.max_error_rate)
            ));
        }
        // Against the best level below this one that held.
        let below = self
            .judged
            .iter()
            .filter(|s| s.verdict.held && s.figures.level < f.level)
            .max_by(|a, b| a.figures.level.total_cmp(&b.figures.level));
        if let Some(below) = below {
            let before = below.figures.output_tokens_per_s;
            let gain = if before > 0.0 {
                f.output_tokens_per_s / before - 1.0
            } else {
                f64::INFINITY
            };
            if gain < self.spec.min_gain {
                return broke(format!(
                    "throughput gained {} over {}, under min_gain {}",
                    percent(gain),
                    below.figures.level,
                    percent(self.spec.min_gain)
                ));
            }
        }
        Verdict {
            held: true,
            why: None,
        }
    }

    /// Judges the step that ran last (against the race's `slo`) and returns
    /// the next step's level; `None` when the sweep is over.
    pub fn judge(&mut self, slo: &SloSpec) -> Option<f64> {
        let i = self.steps.len().checked_sub(1)?;
        if self.judged.len() > i || self.done {
            return None;
        }
        let figures = self.steps.figures_of(i, slo);
        let verdict = self.verdict(&figures);
        let refining = self.first_broke().is_some();
        self.judged.push(JudgedStep {
            figures,
            verdict,
            refining,
        });
        let next = self.next_level();
        self.done = next.is_none();
        next
    }

    fn next_level(&self) -> Option<f64> {
        let level = self.judged.last()?.figures.level;
        let Some(broke) = self.first_broke() else {
            let next = level + self.spec.step;
            return (next <= self.spec.max * (1.0 + 1e-9)).then_some(next);
        };
        // Broken: a rate sweep narrows the gap by bisection.
        let refined = self.judged.iter().filter(|s| s.refining).count();
        let held = self.last_held()?;
        if !matches!(self.spec.of, StageLevel::Rate { .. }) || refined >= self.spec.refine as usize
        {
            return None;
        }
        let (lo, hi) = (held.figures.level, broke.figures.level);
        // Bisection after the first break: the gap between the best held
        // and the lowest broken level halves with each step.
        let mid = f64::midpoint(lo, hi);
        (mid > lo && mid < hi).then_some(mid)
    }

    /// The sweep as it stands `at`.
    #[must_use]
    pub fn snapshot(&self) -> SweepSnapshot {
        let current = (!self.done && self.steps.len() > self.judged.len()).then(|| {
            let i = self.steps.len() - 1;
            (i, self.steps.level_of(i))
        });
        SweepSnapshot {
            unit: self.unit(),
            current,
            steps: self.judged.clone(),
            max_sustainable: self.last_held().map(|s| s.figures.clone()),
            broke_at: self
                .first_broke()
                .map(|s| (s.figures.level, s.verdict.why.clone().unwrap_or_default())),
            done: self.done,
            cut_short: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Arrivals;
    use crate::metrics::record::tests::ok_record;

    fn spec(of: StageLevel, refine: u32) -> SweepSpec {
        SweepSpec {
            of,
            start: 2.0,
            step: 2.0,
            max: 10.0,
            step_duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            min_gain: 0.05,
            max_error_rate: 0.05,
            refine,
        }
    }

    /// Runs a step of `level` starting `at_s` in which requests take
    /// `ttft_ms` and make 10 tokens each, `n` of them.
    fn step(sweep: &mut Sweep, at_s: u64, level: f64, ttft_ms: u64, n: u64) {
        sweep.start_step(Duration::from_secs(at_s), level);
        for k in 0..n {
            // Spread over the counted part, [at + 2 s, at + 10 s).
            let start_ms = at_s * 1000 + 2000 + k * 8000 / n;
            sweep.observe(&ok_record(0, start_ms, ttft_ms, 1, 10));
        }
    }

    #[test]
    fn a_sweep_cut_short_says_so() {
        let mut sweep = Sweep::new(spec(StageLevel::Users, 0));
        let mut now = sweep.snapshot();
        now.cut_short = true;
        assert_eq!(
            now.status(),
            "out of time before its first step was judged: give it a longer --duration"
        );
        step(&mut sweep, 0, 2.0, 100, 40);
        sweep.judge(&slo());
        let mut now = sweep.snapshot();
        now.cut_short = true;
        now.current = None;
        assert_eq!(now.status(), "max 2 users · out of time after 1 step");
    }

    fn slo() -> SloSpec {
        SloSpec {
            ttft_p99: Some(Duration::from_millis(500)),
            ..SloSpec::default()
        }
    }

    #[test]
    fn a_users_sweep_stops_at_the_first_broken_step() {
        let mut sweep = Sweep::new(spec(StageLevel::Users, 0));
        step(&mut sweep, 0, 2.0, 100, 20);
        assert_eq!(sweep.judge(&slo()), Some(4.0));
        step(&mut sweep, 12, 4.0, 100, 40);
        assert_eq!(sweep.judge(&slo()), Some(6.0));
        // Over the TTFT objective: broken, and the end for a users sweep.
        step(&mut sweep, 24, 6.0, 900, 60);
        assert_eq!(sweep.judge(&slo()), None);
        let s = sweep.snapshot();
        assert!(s.done);
        assert_eq!(s.max_sustainable.as_ref().map(|f| f.level), Some(4.0));
        let (level, why) = s.broke_at.unwrap();
        assert_eq!(level, 6.0);
        assert!(
            why.starts_with("SLO ttft_p99_ms 900.") && why.ends_with("over 500"),
            "{why}"
        );
        // Requests before the warm-up's end do not count.
        assert_eq!(s.steps[0].figures.requests_ok, 20);
        assert!((s.steps[0].figures.requests_per_s - 2.5).abs() < 1e-9);
    }

    #[test]
    fn no_gain_breaks_and_a_rate_sweep_bisects() {
        let rate = StageLevel::Rate {
            arrivals: Arrivals::Constant,
            max_in_flight: 10,
        };
        let mut sweep = Sweep::new(spec(rate, 2));
        step(&mut sweep, 0, 2.0, 100, 16);
        assert_eq!(sweep.judge(&slo()), Some(4.0));
        step(&mut sweep, 12, 4.0, 100, 32);
        assert_eq!(sweep.judge(&slo()), Some(6.0));
        // 1 % more throughput than at 4: a plateau.
        step(&mut sweep, 24, 6.0, 100, 32);
        assert_eq!(sweep.judge(&slo()), Some(5.0), "between 4 and 6");
        let why = sweep.snapshot().broke_at.unwrap().1;
        assert!(why.starts_with("throughput gained 0.0 % over 4"), "{why}");
        step(&mut sweep, 36, 5.0, 100, 40);
        assert_eq!(sweep.judge(&slo()), Some(5.5), "5 held: between 5 and 6");
        step(&mut sweep, 48, 5.5, 900, 44);
        assert_eq!(sweep.judge(&slo()), None, "two refining steps done");
        let s = sweep.snapshot();
        assert_eq!(s.max_sustainable.map(|f| f.level), Some(5.0));
        assert_eq!(s.broke_at.map(|b| b.0), Some(5.5));
        assert_eq!(
            s.steps.iter().map(|j| j.refining).collect::<Vec<_>>(),
            vec![false, false, false, true, true]
        );
    }

    #[test]
    fn a_sweep_that_never_breaks_ends_at_max() {
        let mut sweep = Sweep::new(SweepSpec {
            max: 4.0,
            ..spec(StageLevel::Users, 0)
        });
        step(&mut sweep, 0, 2.0, 100, 20);
        assert_eq!(sweep.judge(&slo()), Some(4.0));
        step(&mut sweep, 12, 4.0, 100, 40);
        assert_eq!(sweep.judge(&slo()), None);
        let s = sweep.snapshot();
        assert_eq!(s.max_sustainable.map(|f| f.level), Some(4.0));
        assert_eq!(s.broke_at, None);
    }

    #[test]
    fn a_step_without_any_success_breaks() {
        let mut sweep = Sweep::new(spec(StageLevel::Users, 0));
        sweep.start_step(Duration::ZERO, 2.0);
        assert_eq!(sweep.judge(&SloSpec::default()), None);
        let s = sweep.snapshot();
        assert_eq!(s.max_sustainable, None);
        assert_eq!(s.broke_at, Some((2.0, "no request succeeded".to_owned())));
    }
}
