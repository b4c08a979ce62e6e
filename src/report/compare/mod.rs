//! Two races side by side: the headline figures of every engine in both
//! (matched by name), their change from the baseline to the current race
//! and its direction, and the gates (`--max-regression`) that held or broke.
//! Works on `summary.json` values only (the app turns race files into them),
//! so it recomputes no metric and does no I/O; `markdown`, `html` and `text`
//! render the result.

mod cells;
mod figures;
mod gate;
mod html;
mod markdown;
mod metric;
mod text;

use crate::names::named_enum;
pub use figures::{EngineFigures, RaceFigures, SummaryError};
pub use gate::{Gate, GateError};
pub use html::to_html;
pub use markdown::to_markdown;
pub use metric::{Direction, Metric, Unit};
pub use text::to_text;

/// A change of at most this many percent either way is "same": run to run
/// noise, not a difference.
pub const SAME_BAND_PCT: f64 = 0.5;

named_enum! {
    /// Better, worse or the same, given which way the metric gets better.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Verdict {
        Better = "better",
        Worse = "worse",
        Same = "same",
    }
}

/// A figure's move from the baseline to the current race.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// current − baseline, in the metric's unit.
    pub absolute: f64,
    /// `absolute` in percent of the baseline; ±∞ from a baseline of 0.
    pub percent: f64,
    /// How much worse in percent of the baseline (negative: better), so a
    /// gate reads the same for either direction.
    pub worse_pct: f64,
    pub verdict: Verdict,
}

impl Change {
    #[must_use]
    pub fn new(metric: Metric, baseline: f64, current: f64) -> Change {
        let absolute = current - baseline;
        let percent = if absolute == 0.0 {
            0.0
        } else if baseline == 0.0 {
            f64::INFINITY.copysign(absolute)
        } else {
            absolute / baseline.abs() * 100.0
        };
        let worse_pct = match metric.direction() {
            Direction::LowerIsBetter => percent,
            Direction::HigherIsBetter => -percent,
        };
        let verdict = if percent.abs() <= SAME_BAND_PCT {
            Verdict::Same
        } else if worse_pct > 0.0 {
            Verdict::Worse
        } else {
            Verdict::Better
        };
        Change {
            absolute,
            percent,
            worse_pct,
            verdict,
        }
    }
}

/// One metric of one engine in both races.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricRow {
    pub metric: Metric,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// Each race's 95 % interval of the figure, where it has one.
    pub intervals: [Option<[f64; 2]>; 2],
    /// Absent unless both races have the figure.
    pub change: Option<Change>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineComparison {
    pub name: String,
    /// One per [`Metric::ALL`], in its order (also figures neither race has).
    pub rows: Vec<MetricRow>,
}

impl EngineComparison {
    #[must_use]
    pub fn row(&self, metric: Metric) -> Option<&MetricRow> {
        self.rows.iter().find(|r| r.metric == metric)
    }
}

/// How one gate fared on one engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GateOutcome {
    /// Worse by at most the gate's percent, the same, or better (`worse_pct`
    /// negative).
    Held { worse_pct: f64 },
    /// Worse by more than the gate allows.
    Broke { worse_pct: f64 },
    /// The baseline has the figure and the current race does not (no
    /// successful request, no longer priced): fails, since the gate cannot
    /// vouch for it.
    Missing,
    /// The baseline has no figure to hold the current race to: passes.
    NoBaseline,
    /// The figures' intervals say the change may be within the gate or
    /// beyond it (`low` to `high` percent worse): fails only `--strict`.
    Inconclusive { worse_pct: f64, low: f64, high: f64 },
}

impl GateOutcome {
    #[must_use]
    pub fn failed(self) -> bool {
        matches!(self, GateOutcome::Broke { .. } | GateOutcome::Missing)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GateCheck {
    pub engine: String,
    pub outcome: GateOutcome,
}

/// A gate checked on every engine in both races.
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    pub gate: Gate,
    pub checks: Vec<GateCheck>,
}

impl GateResult {
    #[must_use]
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.outcome.failed())
    }

    /// Its intervals could not tell on some engine (and it failed on none).
    #[must_use]
    pub fn inconclusive(&self) -> bool {
        !self.failed()
            && self
                .checks
                .iter()
                .any(|c| matches!(c.outcome, GateOutcome::Inconclusive { .. }))
    }

    /// The engines it failed on.
    pub fn failures(&self) -> impl Iterator<Item = &GateCheck> {
        self.checks.iter().filter(|c| c.outcome.failed())
    }
}

/// The baseline and the current race side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub baseline: RaceFigures,
    pub current: RaceFigures,
    /// Engines in both races, in the baseline's order.
    pub engines: Vec<EngineComparison>,
    pub only_in_baseline: Vec<String>,
    pub only_in_current: Vec<String>,
    /// In the order given.
    pub gates: Vec<GateResult>,
}

impl Comparison {
    #[must_use]
    pub fn new(baseline: RaceFigures, current: RaceFigures, gates: &[Gate]) -> Comparison {
        let mut engines = Vec::new();
        let mut only_in_baseline = Vec::new();
        for b in &baseline.engines {
            let Some(c) = current.engines.iter().find(|c| c.name == b.name) else {
                only_in_baseline.push(b.name.clone());
                continue;
            };
            let rows = Metric::ALL
                .iter()
                .enumerate()
                .zip(b.values.iter().zip(&c.values))
                .map(|((i, &metric), (&baseline, &current))| MetricRow {
                    metric,
                    baseline,
                    current,
                    intervals: [
                        b.intervals.get(i).copied().flatten(),
                        c.intervals.get(i).copied().flatten(),
                    ],
                    change: baseline
                        .zip(current)
                        .map(|(b, c)| Change::new(metric, b, c)),
                })
                .collect();
            engines.push(EngineComparison {
                name: b.name.clone(),
                rows,
            });
        }
        let only_in_current = current
            .engines
            .iter()
            .filter(|c| !baseline.engines.iter().any(|b| b.name == c.name))
            .map(|c| c.name.clone())
            .collect();
        let gates = gates
            .iter()
            .map(|&gate| GateResult {
                gate,
                checks: engines
                    .iter()
                    .filter_map(|e| {
                        let outcome = gate.judge(e.row(gate.metric)?);
                        Some(GateCheck {
                            engine: e.name.clone(),
                            outcome,
                        })
                    })
                    .collect(),
            })
            .collect();
        Comparison {
            baseline,
            current,
            engines,
            only_in_baseline,
            only_in_current,
            gates,
        }
    }

    /// A gate failed on some engine (`strict`: or could not tell): the
    /// exit code's question.
    #[must_use]
    pub fn regressed(&self, strict: bool) -> bool {
        self.gates.iter().any(|g| {
            g.failed()
                || (strict
                    && g.checks
                        .iter()
                        .any(|c| matches!(c.outcome, GateOutcome::Inconclusive { .. })))
        })
    }
}

/// A percentage with its sign, e.g. `+12.3 %`, `-4.0 %`, `+∞ %`.
#[must_use]
pub fn format_percent(p: f64) -> String {
    if p.is_infinite() {
        return if p > 0.0 { "+∞ %" } else { "-∞ %" }.to_owned();
    }
    let sign = if p > 0.0 { "+" } else { "" };
    format!("{sign}{p:.1} %")
}

/// A size of change without its sign, e.g. `12.3 %`, `∞ %`.
fn format_amount(p: f64) -> String {
    if p.is_infinite() {
        "∞ %".to_owned()
    } else {
        format!("{:.1} %", p.abs())
    }
}

/// What a gate check says, e.g. `98.0 % worse`, `2.0 % better`.
#[must_use]
pub fn describe_outcome(outcome: GateOutcome) -> String {
    match outcome {
        GateOutcome::Broke { worse_pct } => format!("{} worse", format_amount(worse_pct)),
        GateOutcome::Held { worse_pct } if worse_pct.abs() <= SAME_BAND_PCT => "same".to_owned(),
        GateOutcome::Held { worse_pct } if worse_pct > 0.0 => {
            format!("{} worse, within the gate", format_amount(worse_pct))
        }
        GateOutcome::Held { worse_pct } => format!("{} better", format_amount(worse_pct)),
        GateOutcome::Missing => "no value in the current race".to_owned(),
        GateOutcome::NoBaseline => "no value in the baseline to compare with".to_owned(),
        GateOutcome::Inconclusive {
            worse_pct,
            low,
            high,
        } => format!(
            "inconclusive: {} (the 95 % intervals allow {} to {})",
            if worse_pct >= 0.0 {
                format!("{} worse", format_amount(worse_pct))
            } else {
                format!("{} better", format_amount(worse_pct))
            },
            format_percent(low),
            format_percent(high)
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A `summary.json` with one engine per entry of `engines`:
    /// (name, TTFT p99 ms, output tok/s); other figures fixed.
    pub(crate) fn summary(race: &str, engines: &[(&str, f64, f64)]) -> Value {
        let snap = crate::ui::test_support::finished_fixture(engines.len());
        let file = crate::report::SummaryFile::new(&snap, std::time::SystemTime::UNIX_EPOCH);
        let mut s = serde_json::to_value(file).unwrap();
        s["race"] = json!(race);
        s["started_at"] = json!("2025-01-02T03:04:05.000+00:00");
        s["simulated"] = json!(false);
        // Point figures only: the tests of intervals set their own.
        let latency = |e: &mut Value, key: &str, p50: f64, p99: f64| {
            e[key]["count"] = json!(10);
            for (field, v) in [("mean", p50), ("p50", p50), ("p99", p99)] {
                e[key][field] = json!(v);
            }
            let figure = e[key].as_object_mut().unwrap();
            figure.remove("ci95");
            figure.remove("few_samples");
        };
        for (e, &(name, ttft_p99, out_tps)) in
            s["engines"].as_array_mut().unwrap().iter_mut().zip(engines)
        {
            e["name"] = json!(name);
            e["rps"] = json!(2.0);
            e["output_tokens_per_s"] = json!(out_tps);
            e["total_tokens_per_s"] = json!(out_tps * 3.0);
            e["goodput_rps"] = json!(2.0);
            e["success_rate"] = json!(1.0);
            latency(e, "ttft_ms", ttft_p99 / 2.0, ttft_p99);
            latency(e, "ttfot_ms", ttft_p99 / 2.0, ttft_p99);
            latency(e, "tpot_ms", 10.0, 12.0);
            latency(e, "itl_ms", 10.0, 14.0);
            latency(e, "e2e_ms", 500.0, 800.0);
            e.as_object_mut().unwrap().remove("cost");
        }
        s
    }

    /// An engine's `cost` in a `summary.json`, costing `per_1m` per 1M
    /// output tokens.
    pub(crate) fn cost(per_1m: f64) -> Value {
        json!({
            "basis": "hourly", "per_hour": 1.0, "spend": 1.0,
            "per_1m_output_tokens": per_1m, "per_1m_total_tokens": per_1m,
            "per_request": null, "cheapest": null,
        })
    }

    pub(crate) fn figures(race: &str, engines: &[(&str, f64, f64)]) -> RaceFigures {
        RaceFigures::from_json(&summary(race, engines)).unwrap()
    }

    fn gate(s: &str) -> Gate {
        Gate::parse(s).unwrap()
    }

    #[test]
    fn with_intervals_a_gate_breaks_only_beyond_doubt_and_is_otherwise_inconclusive() {
        let with_ci = |ttft_p99: f64, lo: f64, hi: f64| {
            let mut s = summary("r", &[("e", ttft_p99, 50.0)]);
            s["engines"][0]["ttft_ms"]["ci95"] = json!({"p99": [lo, hi]});
            RaceFigures::from_json(&s).unwrap()
        };
        let outcome = |baseline: &RaceFigures, current: &RaceFigures| {
            Comparison::new(baseline.clone(), current.clone(), &[gate("ttft_p99=2%")]).gates[0]
                .checks[0]
                .outcome
        };
        let base = with_ci(100.0, 95.0, 105.0);
        // 5 % worse on the points, but the intervals overlap widely.
        let noisy = with_ci(105.0, 99.0, 111.0);
        let c = Comparison::new(base.clone(), noisy.clone(), &[gate("ttft_p99=2%")]);
        assert!(matches!(
            outcome(&base, &noisy),
            GateOutcome::Inconclusive { .. }
        ));
        assert!(!c.regressed(false) && c.regressed(true));
        assert!(c.gates[0].inconclusive());
        // 30 % worse beyond doubt: broken.
        let slower = with_ci(130.0, 125.0, 136.0);
        assert!(matches!(outcome(&base, &slower), GateOutcome::Broke { .. }));
        // Better beyond doubt: held.
        let faster = with_ci(80.0, 76.0, 84.0);
        assert!(matches!(outcome(&base, &faster), GateOutcome::Held { .. }));
        // A p99 too few samples bound is judged on its point, as before.
        let mut few = summary("r", &[("e", 105.0, 50.0)]);
        few["engines"][0]["ttft_ms"]["ci95"] = json!({"p99": [99.0, 111.0]});
        few["engines"][0]["ttft_ms"]["few_samples"] = json!(["p99"]);
        let few = RaceFigures::from_json(&few).unwrap();
        assert!(matches!(outcome(&base, &few), GateOutcome::Broke { .. }));
        let said = describe_outcome(outcome(&base, &noisy));
        assert!(
            said.starts_with("inconclusive: 5.0 % worse (the 95 % intervals allow"),
            "{said}"
        );
    }

    #[test]
    fn a_lower_ttft_is_better_and_a_lower_throughput_is_worse() {
        let faster = Change::new(Metric::TtftP99, 200.0, 150.0);
        assert_eq!(faster.verdict, Verdict::Better);
        assert_eq!(faster.percent, -25.0);
        assert_eq!(faster.worse_pct, -25.0);
        assert_eq!(faster.absolute, -50.0);
        let slower = Change::new(Metric::OutputTokensPerS, 100.0, 80.0);
        assert_eq!(slower.verdict, Verdict::Worse);
        assert_eq!(slower.percent, -20.0);
        assert_eq!(slower.worse_pct, 20.0);
        assert_eq!(
            Change::new(Metric::SuccessRate, 0.9, 1.0).verdict,
            Verdict::Better
        );
        assert_eq!(
            Change::new(Metric::CostPer1mOutput, 1.0, 1.5).verdict,
            Verdict::Worse
        );
    }

    #[test]
    fn a_change_within_half_a_percent_is_same() {
        assert_eq!(
            Change::new(Metric::TtftP50, 100.0, 100.5).verdict,
            Verdict::Same
        );
        assert_eq!(Change::new(Metric::Rps, 100.0, 99.5).verdict, Verdict::Same);
        assert_eq!(
            Change::new(Metric::TtftP50, 100.0, 100.6).verdict,
            Verdict::Worse
        );
        let equal = Change::new(Metric::Rps, 3.0, 3.0);
        assert_eq!((equal.verdict, equal.percent), (Verdict::Same, 0.0));
    }

    #[test]
    fn from_a_zero_baseline_any_change_is_infinite() {
        let worse = Change::new(Metric::TtftP99, 0.0, 5.0);
        assert_eq!(worse.verdict, Verdict::Worse);
        assert_eq!(worse.worse_pct, f64::INFINITY);
        let better = Change::new(Metric::Rps, 0.0, 2.0);
        assert_eq!(better.verdict, Verdict::Better);
        assert_eq!(better.percent, f64::INFINITY);
        let both = Change::new(Metric::Rps, 0.0, 0.0);
        assert_eq!((both.verdict, both.percent), (Verdict::Same, 0.0));
        assert_eq!(format_percent(both.percent), "0.0 %");
        assert_eq!(format_percent(f64::INFINITY), "+∞ %");
    }

    #[test]
    fn a_zero_baseline_that_got_worse_breaks_any_gate() {
        let mut base = summary("r", &[("a", 100.0, 50.0)]);
        base["engines"][0]["goodput_rps"] = json!(0.0);
        base["engines"][0]["cost"] = cost(0.0);
        let mut cur = summary("r", &[("a", 100.0, 50.0)]);
        cur["engines"][0]["cost"] = cost(0.1);
        let c = Comparison::new(
            RaceFigures::from_json(&base).unwrap(),
            RaceFigures::from_json(&cur).unwrap(),
            &[gate("cost_per_1m_output=1000"), gate("goodput_rps=0")],
        );
        assert_eq!(
            c.gates[0].checks[0].outcome,
            GateOutcome::Broke {
                worse_pct: f64::INFINITY
            }
        );
        // Goodput went from 0 to 2: infinitely better, not a failure.
        assert_eq!(
            c.gates[1].checks[0].outcome,
            GateOutcome::Held {
                worse_pct: f64::NEG_INFINITY
            }
        );
        assert!(c.regressed(false));
    }

    #[test]
    fn engines_match_by_name_and_the_rest_are_listed() {
        let c = Comparison::new(
            figures("r", &[("a", 100.0, 50.0), ("b", 100.0, 50.0)]),
            figures("r", &[("c", 100.0, 50.0), ("a", 120.0, 50.0)]),
            &[],
        );
        assert_eq!(c.engines.len(), 1);
        assert_eq!(c.engines[0].name, "a");
        let ttft = c.engines[0].row(Metric::TtftP99).unwrap();
        assert_eq!((ttft.baseline, ttft.current), (Some(100.0), Some(120.0)));
        assert_eq!(ttft.change.unwrap().verdict, Verdict::Worse);
        assert_eq!(c.only_in_baseline, ["b"]);
        assert_eq!(c.only_in_current, ["c"]);
        assert!(!c.regressed(false));
    }

    #[test]
    fn a_gate_breaks_only_beyond_its_percent_on_any_engine() {
        let c = Comparison::new(
            figures("r", &[("a", 100.0, 50.0), ("b", 100.0, 50.0)]),
            figures("r", &[("a", 110.0, 48.0), ("b", 115.0, 50.0)]),
            &[
                gate("ttft_p99=10%"),
                gate("output_tokens_per_s=5"),
                gate("tpot_p99=0"),
            ],
        );
        let ttft = &c.gates[0];
        assert!(ttft.failed());
        let failures: Vec<&str> = ttft.failures().map(|c| c.engine.as_str()).collect();
        // a: exactly 10 % worse holds; b: 15 % breaks.
        assert_eq!(failures, ["b"]);
        assert_eq!(
            ttft.checks[1].outcome,
            GateOutcome::Broke { worse_pct: 15.0 }
        );
        // 4 % less throughput is within 5 %.
        assert!(!c.gates[1].failed());
        // Unchanged holds a 0 % gate.
        assert!(!c.gates[2].failed());
        assert!(c.regressed(false));
    }

    #[test]
    fn a_gate_inside_the_same_band_holds_even_at_zero_percent() {
        let c = Comparison::new(
            figures("r", &[("a", 1000.0, 50.0)]),
            figures("r", &[("a", 1004.0, 50.0)]),
            &[gate("ttft_p99=0")],
        );
        assert_eq!(
            c.engines[0]
                .row(Metric::TtftP99)
                .unwrap()
                .change
                .unwrap()
                .verdict,
            Verdict::Same
        );
        assert!(!c.regressed(false));
    }

    #[test]
    fn a_figure_lost_in_the_current_race_fails_its_gate() {
        let base = summary("r", &[("a", 100.0, 50.0)]);
        let mut cur = base.clone();
        cur["engines"][0]["ttft_ms"]["count"] = json!(0);
        let c = Comparison::new(
            RaceFigures::from_json(&base).unwrap(),
            RaceFigures::from_json(&cur).unwrap(),
            &[gate("ttft_p99=50"), gate("cost_per_1m_output=5")],
        );
        assert_eq!(c.gates[0].checks[0].outcome, GateOutcome::Missing);
        // Priced in neither race: nothing to hold it to.
        assert_eq!(c.gates[1].checks[0].outcome, GateOutcome::NoBaseline);
        assert!(c.gates[0].failed() && !c.gates[1].failed());
    }

    #[test]
    fn outcomes_read_as_words() {
        assert_eq!(
            describe_outcome(GateOutcome::Broke { worse_pct: 98.0 }),
            "98.0 % worse"
        );
        assert_eq!(
            describe_outcome(GateOutcome::Broke {
                worse_pct: f64::INFINITY
            }),
            "∞ % worse"
        );
        assert_eq!(
            describe_outcome(GateOutcome::Held { worse_pct: -2.0 }),
            "2.0 % better"
        );
        assert_eq!(
            describe_outcome(GateOutcome::Held { worse_pct: 3.0 }),
            "3.0 % worse, within the gate"
        );
        assert_eq!(
            describe_outcome(GateOutcome::Held { worse_pct: 0.2 }),
            "same"
        );
    }
}
