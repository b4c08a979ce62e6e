//! The headline figures a comparison looks at: each one's name in the gate
//! syntax (`ttft_p99=10%`), where it is in an engine's entry of
//! `summary.json`, its unit and which way is better. Reads figures out of a
//! summary; computes none.

use crate::names::named_enum;
use crate::report::summary::{EngineSummary, Percentiles};

named_enum! {
    /// One headline figure of an engine.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Metric {
        TtftP50 = "ttft_p50",
        TtftP99 = "ttft_p99",
        TtfotP99 = "ttfot_p99",
        TpotP50 = "tpot_p50",
        TpotP99 = "tpot_p99",
        ItlP99 = "itl_p99",
        E2eP50 = "e2e_p50",
        E2eP99 = "e2e_p99",
        Rps = "rps",
        OutputTokensPerS = "output_tokens_per_s",
        TotalTokensPerS = "total_tokens_per_s",
        GoodputRps = "goodput_rps",
        SuccessRate = "success_rate",
        CostPer1mOutput = "cost_per_1m_output",
    }
}

/// Which way a figure gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

/// What a figure counts, for showing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    RequestsPerS,
    TokensPerS,
    /// 0 to 1, shown as a percentage.
    Fraction,
    /// In the currency of the engine's `cost_per_hour`.
    Money,
}

impl Metric {
    /// How the reports label it (the final table's words).
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Metric::TtftP50 => "TTFT p50",
            Metric::TtftP99 => "TTFT p99",
            Metric::TtfotP99 => "TTFOT p99",
            Metric::TpotP50 => "TPOT p50",
            Metric::TpotP99 => "TPOT p99",
            Metric::ItlP99 => "ITL p99",
            Metric::E2eP50 => "E2E p50",
            Metric::E2eP99 => "E2E p99",
            Metric::Rps => "req/s",
            Metric::OutputTokensPerS => "output tok/s",
            Metric::TotalTokensPerS => "total tok/s",
            Metric::GoodputRps => "goodput req/s",
            Metric::SuccessRate => "success rate",
            Metric::CostPer1mOutput => "cost per 1M output",
        }
    }

    #[must_use]
    pub fn unit(self) -> Unit {
        match self {
            Metric::TtftP50
            | Metric::TtftP99
            | Metric::TtfotP99
            | Metric::TpotP50
            | Metric::TpotP99
            | Metric::ItlP99
            | Metric::E2eP50
            | Metric::E2eP99 => Unit::Ms,
            Metric::Rps | Metric::GoodputRps => Unit::RequestsPerS,
            Metric::OutputTokensPerS | Metric::TotalTokensPerS => Unit::TokensPerS,
            Metric::SuccessRate => Unit::Fraction,
            Metric::CostPer1mOutput => Unit::Money,
        }
    }

    #[must_use]
    pub fn direction(self) -> Direction {
        match self.unit() {
            Unit::Ms | Unit::Money => Direction::LowerIsBetter,
            Unit::RequestsPerS | Unit::TokensPerS | Unit::Fraction => Direction::HigherIsBetter,
        }
    }

    /// The 95 % interval of its value in one engine's summary, `[lo, hi]`,
    /// where the summary has one (latency percentiles, rates).
    #[must_use]
    pub fn interval_in(self, engine: &EngineSummary) -> Option<[f64; 2]> {
        // A percentile too few samples bound has no interval to judge by.
        let of = |p: &Percentiles, name: &str| {
            (!p.few_samples.iter().any(|n| n == name))
                .then(|| p.ci95.get(name).copied())
                .flatten()
        };
        let rates = engine.rates_ci95.as_ref();
        let l = &engine.latencies;
        match self {
            Metric::TtftP50 => of(&l.ttft, "p50"),
            Metric::TtftP99 => of(&l.ttft, "p99"),
            Metric::TtfotP99 => of(&l.ttfot, "p99"),
            Metric::TpotP50 => of(&l.tpot, "p50"),
            Metric::TpotP99 => of(&l.tpot, "p99"),
            // ITL's gaps within a request are not independent samples.
            Metric::ItlP99 => None,
            Metric::E2eP50 => of(&l.e2e, "p50"),
            Metric::E2eP99 => of(&l.e2e, "p99"),
            Metric::Rps => rates.map(|r| r.requests_per_s),
            Metric::OutputTokensPerS => rates.map(|r| r.output_tokens_per_s),
            Metric::GoodputRps => rates.map(|r| r.goodput_rps),
            Metric::TotalTokensPerS | Metric::SuccessRate | Metric::CostPer1mOutput => None,
        }
    }

    /// Its value in one engine's summary: `None` when it has none (an
    /// engine without a price, a latency of no successful request: its
    /// percentiles are zeros with `count` 0, not a latency of 0 ms).
    #[must_use]
    pub fn value_in(self, engine: &EngineSummary) -> Option<f64> {
        let latency = |p: &Percentiles, value: f64| (p.count > 0).then_some(value);
        let cost = engine.cost.as_ref();
        match self {
            Metric::TtftP50 => latency(&engine.latencies.ttft, engine.latencies.ttft.p50),
            Metric::TtftP99 => latency(&engine.latencies.ttft, engine.latencies.ttft.p99),
            Metric::TtfotP99 => latency(&engine.latencies.ttfot, engine.latencies.ttfot.p99),
            Metric::TpotP50 => latency(&engine.latencies.tpot, engine.latencies.tpot.p50),
            Metric::TpotP99 => latency(&engine.latencies.tpot, engine.latencies.tpot.p99),
            Metric::ItlP99 => latency(&engine.latencies.itl, engine.latencies.itl.p99),
            Metric::E2eP50 => latency(&engine.latencies.e2e, engine.latencies.e2e.p50),
            Metric::E2eP99 => latency(&engine.latencies.e2e, engine.latencies.e2e.p99),
            Metric::Rps => Some(engine.rates.requests_per_s),
            // An embeddings engine generates no token.
            Metric::OutputTokensPerS => engine
                .embeddings
                .is_none()
                .then_some(engine.rates.output_tokens_per_s),
            Metric::TotalTokensPerS => Some(engine.rates.total_tokens_per_s),
            Metric::GoodputRps => Some(engine.rates.goodput_rps),
            Metric::SuccessRate => Some(engine.rates.success_rate),
            Metric::CostPer1mOutput => cost.and_then(|c| c.per_1m_output_tokens),
        }
        .filter(|v| v.is_finite())
    }
}

impl Unit {
    /// A value with its unit, e.g. `123.4 ms`, `98.5 %`.
    #[must_use]
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{v:.1} ms"),
            Unit::RequestsPerS => format!("{v:.2} req/s"),
            Unit::TokensPerS => format!("{v:.1} tok/s"),
            Unit::Fraction => format!("{:.1} %", v * 100.0),
            Unit::Money => format!("{v:.4}"),
        }
    }

    /// A difference with its sign and unit, e.g. `+12.0 ms`, `-1.5 pp`.
    #[must_use]
    pub fn format_delta(self, d: f64) -> String {
        let sign = if d > 0.0 {
            "+"
        } else if d < 0.0 {
            "-"
        } else {
            ""
        };
        let d = d.abs();
        match self {
            Unit::Ms => format!("{sign}{d:.1} ms"),
            Unit::RequestsPerS => format!("{sign}{d:.2} req/s"),
            Unit::TokensPerS => format!("{sign}{d:.1} tok/s"),
            // Percentage points: a rate of 98 % falling to 97 % is -1 pp.
            Unit::Fraction => format!("{sign}{:.1} pp", d * 100.0),
            Unit::Money => format!("{sign}{d:.4}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }

    #[test]
    fn latencies_and_cost_are_lower_better_throughputs_higher_better() {
        assert_eq!(Metric::TtftP99.direction(), Direction::LowerIsBetter);
        assert_eq!(Metric::E2eP50.direction(), Direction::LowerIsBetter);
        assert_eq!(
            Metric::CostPer1mOutput.direction(),
            Direction::LowerIsBetter
        );
        assert_eq!(
            Metric::OutputTokensPerS.direction(),
            Direction::HigherIsBetter
        );
        assert_eq!(Metric::SuccessRate.direction(), Direction::HigherIsBetter);
        assert_eq!(Metric::GoodputRps.direction(), Direction::HigherIsBetter);
    }

    /// An engine's summary as `summary.json` holds it.
    fn engine() -> EngineSummary {
        let json = crate::report::compare::tests::summary("r", &[("a", 241.0, 50.0)]);
        let summary: crate::report::SummaryFile = serde_json::from_value(json).unwrap();
        summary.engines.into_iter().next().unwrap()
    }

    #[test]
    fn values_are_read_from_their_fields() {
        let mut e = engine();
        e.rates.requests_per_s = 2.5;
        e.latencies.ttft.p99 = 120.5;
        let cost = crate::report::compare::tests::cost(0.42);
        e.cost = Some(serde_json::from_value(cost).unwrap());
        assert_eq!(Metric::Rps.value_in(&e), Some(2.5));
        assert_eq!(Metric::TtftP99.value_in(&e), Some(120.5));
        assert_eq!(Metric::CostPer1mOutput.value_in(&e), Some(0.42));
    }

    #[test]
    fn unpriced_and_unmeasured_figures_are_none() {
        let mut e = engine();
        e.latencies.ttft.count = 0;
        assert_eq!(Metric::TtftP50.value_in(&e), None);
        assert_eq!(Metric::CostPer1mOutput.value_in(&e), None);
        let mut cost: crate::report::summary::CostSummary =
            serde_json::from_value(crate::report::compare::tests::cost(1.0)).unwrap();
        cost.per_1m_output_tokens = None;
        e.cost = Some(cost);
        assert_eq!(Metric::CostPer1mOutput.value_in(&e), None);
        assert_eq!(Metric::Rps.value_in(&e), Some(2.0));
    }

    #[test]
    fn units_format_values_and_signed_deltas() {
        assert_eq!(Unit::Ms.format(123.45), "123.5 ms");
        assert_eq!(Unit::Fraction.format(0.985), "98.5 %");
        assert_eq!(Unit::Ms.format_delta(12.0), "+12.0 ms");
        assert_eq!(Unit::Fraction.format_delta(-0.015), "-1.5 pp");
        assert_eq!(Unit::TokensPerS.format_delta(0.0), "0.0 tok/s");
    }
}
