//! The headline figures a comparison looks at: each one's name in the gate
//! syntax (`ttft_p99=10%`), where it is in an engine's entry of
//! `summary.json`, its unit and which way is better. Reads figures out of a
//! summary; computes none.

use serde_json::Value;

/// One headline figure of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    TtftP50,
    TtftP99,
    TtfotP99,
    TpotP50,
    TpotP99,
    ItlP99,
    E2eP50,
    E2eP99,
    Rps,
    OutputTokensPerS,
    TotalTokensPerS,
    GoodputRps,
    SuccessRate,
    CostPer1mOutput,
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
    /// Every metric, in the order the reports show them.
    pub const ALL: [Metric; 14] = [
        Metric::TtftP50,
        Metric::TtftP99,
        Metric::TtfotP99,
        Metric::TpotP50,
        Metric::TpotP99,
        Metric::ItlP99,
        Metric::E2eP50,
        Metric::E2eP99,
        Metric::Rps,
        Metric::OutputTokensPerS,
        Metric::TotalTokensPerS,
        Metric::GoodputRps,
        Metric::SuccessRate,
        Metric::CostPer1mOutput,
    ];

    /// The name in `--max-regression METRIC=PCT`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Metric::TtftP50 => "ttft_p50",
            Metric::TtftP99 => "ttft_p99",
            Metric::TtfotP99 => "ttfot_p99",
            Metric::TpotP50 => "tpot_p50",
            Metric::TpotP99 => "tpot_p99",
            Metric::ItlP99 => "itl_p99",
            Metric::E2eP50 => "e2e_p50",
            Metric::E2eP99 => "e2e_p99",
            Metric::Rps => "rps",
            Metric::OutputTokensPerS => "output_tokens_per_s",
            Metric::TotalTokensPerS => "total_tokens_per_s",
            Metric::GoodputRps => "goodput_rps",
            Metric::SuccessRate => "success_rate",
            Metric::CostPer1mOutput => "cost_per_1m_output",
        }
    }

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

    /// The keys leading to it in an engine's entry of `summary.json`.
    #[must_use]
    pub fn path(self) -> &'static [&'static str] {
        match self {
            Metric::TtftP50 => &["ttft_ms", "p50"],
            Metric::TtftP99 => &["ttft_ms", "p99"],
            Metric::TtfotP99 => &["ttfot_ms", "p99"],
            Metric::TpotP50 => &["tpot_ms", "p50"],
            Metric::TpotP99 => &["tpot_ms", "p99"],
            Metric::ItlP99 => &["itl_ms", "p99"],
            Metric::E2eP50 => &["e2e_ms", "p50"],
            Metric::E2eP99 => &["e2e_ms", "p99"],
            Metric::Rps => &["rps"],
            Metric::OutputTokensPerS => &["output_tokens_per_s"],
            Metric::TotalTokensPerS => &["total_tokens_per_s"],
            Metric::GoodputRps => &["goodput_rps"],
            Metric::SuccessRate => &["success_rate"],
            Metric::CostPer1mOutput => &["cost", "per_1m_output_tokens"],
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

    #[must_use]
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Its value in one engine's entry of `summary.json`: `None` when the
    /// entry has none (an engine without a price, a latency with no
    /// successful request: its percentiles are zeros with `count` 0), an
    /// error naming the key when the value is not a number.
    pub fn value_in(self, engine: &Value) -> Result<Option<f64>, String> {
        let path = self.path();
        if let [group, _] = path {
            // A latency of no request is not a latency of 0 ms.
            if self.unit() == Unit::Ms
                && engine
                    .get(group)
                    .and_then(|g| g.get("count"))
                    .and_then(Value::as_u64)
                    == Some(0)
            {
                return Ok(None);
            }
        }
        let mut at = engine;
        for key in path {
            match at.get(key) {
                Some(Value::Null) | None => return Ok(None),
                Some(v) => at = v,
            }
        }
        match at.as_f64() {
            Some(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(format!("'{}' is not a number", path.join("."))),
        }
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
    use serde_json::json;

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

    #[test]
    fn values_are_read_from_their_paths() {
        let engine = json!({
            "rps": 2.5,
            "ttft_ms": {"count": 3, "p50": 100.0, "p99": 120.5},
            "cost": {"per_1m_output_tokens": 0.42},
        });
        assert_eq!(Metric::Rps.value_in(&engine), Ok(Some(2.5)));
        assert_eq!(Metric::TtftP99.value_in(&engine), Ok(Some(120.5)));
        assert_eq!(Metric::CostPer1mOutput.value_in(&engine), Ok(Some(0.42)));
    }

    #[test]
    fn absent_unpriced_and_unmeasured_figures_are_none() {
        let engine = json!({
            "ttft_ms": {"count": 0, "p50": 0.0, "p99": 0.0},
            "cost": {"per_1m_output_tokens": null},
        });
        assert_eq!(Metric::TtftP50.value_in(&engine), Ok(None));
        assert_eq!(Metric::CostPer1mOutput.value_in(&engine), Ok(None));
        assert_eq!(Metric::Rps.value_in(&engine), Ok(None));
        assert_eq!(Metric::CostPer1mOutput.value_in(&json!({})), Ok(None));
    }

    #[test]
    fn a_value_that_is_not_a_number_is_an_error_naming_its_key() {
        let engine = json!({"ttft_ms": {"count": 1, "p99": "fast"}, "rps": true});
        assert_eq!(
            Metric::TtftP99.value_in(&engine),
            Err("'ttft_ms.p99' is not a number".to_owned())
        );
        assert_eq!(
            Metric::Rps.value_in(&engine),
            Err("'rps' is not a number".to_owned())
        );
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
