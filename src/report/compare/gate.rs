//! Gates: `METRIC=PCT` (or `METRIC=PCT%`), the most a metric may get worse
//! from the baseline to the current race. Parsing and the messages for bad
//! ones; checking them is [`super::Comparison`]'s.

use super::metric::{Direction, Metric};
use super::{GateOutcome, MetricRow, Verdict};

/// A metric and how much worse, in percent of the baseline, it may get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    pub metric: Metric,
    pub max_worse_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error("not METRIC=PCT; write e.g. 'ttft_p99=10%' or 'output_tokens_per_s=5'")]
    Form,
    #[error("unknown metric '{name}'; {}metrics: {}", hint(*suggestion), names())]
    UnknownMetric {
        name: String,
        suggestion: Option<Metric>,
    },
    #[error("'{given}' is not a percentage of 0 or more; write e.g. '10%' or '2.5'")]
    Percent { given: String },
}

fn hint(suggestion: Option<Metric>) -> String {
    suggestion.map_or_else(String::new, |m| format!("did you mean '{}'? ", m.name()))
}

fn names() -> String {
    Metric::ALL
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The metric whose name is closest to `name`, if close enough to be a typo.
fn closest(name: &str) -> Option<Metric> {
    let name = name.to_ascii_lowercase();
    Metric::ALL
        .into_iter()
        .map(|m| (strsim::normalized_damerau_levenshtein(&name, m.name()), m))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, m)| m)
}

impl Gate {
    /// How the gate fares on one engine's row: with both races' intervals,
    /// broken only when even the most favourable reading of them is worse
    /// than it allows, held when even the least favourable is within it,
    /// inconclusive between; without them, on the point values.
    #[must_use]
    pub fn judge(&self, row: &MetricRow) -> GateOutcome {
        let Some(change) = row.change else {
            return match row.baseline {
                Some(_) => GateOutcome::Missing,
                None => GateOutcome::NoBaseline,
            };
        };
        // The same figure (a race compared with itself) holds any gate.
        if let [Some([b_lo, b_hi]), Some([c_lo, c_hi])] = row.intervals
            && b_lo > 0.0
            && change.absolute != 0.0
        {
            // current ÷ baseline at its least and most, as percent worse.
            let (least, most) = ((c_lo / b_hi - 1.0) * 100.0, (c_hi / b_lo - 1.0) * 100.0);
            let (low, high) = match self.metric.direction() {
                Direction::LowerIsBetter => (least, most),
                Direction::HigherIsBetter => (-most, -least),
            };
            return if low > self.max_worse_pct && change.verdict == Verdict::Worse {
                GateOutcome::Broke {
                    worse_pct: change.worse_pct,
                }
            } else if high <= self.max_worse_pct {
                GateOutcome::Held {
                    worse_pct: change.worse_pct,
                }
            } else {
                GateOutcome::Inconclusive {
                    worse_pct: change.worse_pct,
                    low,
                    high,
                }
            };
        }
        if change.verdict == Verdict::Worse && change.worse_pct > self.max_worse_pct {
            GateOutcome::Broke {
                worse_pct: change.worse_pct,
            }
        } else {
            GateOutcome::Held {
                worse_pct: change.worse_pct,
            }
        }
    }

    /// Parses `METRIC=PCT` or `METRIC=PCT%` (PCT a finite number ≥ 0).
    pub fn parse(s: &str) -> Result<Gate, GateError> {
        let (name, pct) = s.split_once('=').ok_or(GateError::Form)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(GateError::Form);
        }
        let metric = Metric::from_name(name).ok_or_else(|| GateError::UnknownMetric {
            name: name.to_owned(),
            suggestion: closest(name),
        })?;
        let given = pct.trim();
        let number = given.strip_suffix('%').unwrap_or(given).trim_end();
        let max_worse_pct = number
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite() && *p >= 0.0)
            .ok_or_else(|| GateError::Percent {
                given: given.to_owned(),
            })?;
        Ok(Gate {
            metric,
            max_worse_pct,
        })
    }
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}%", self.metric.name(), self.max_worse_pct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_and_percent_parse_with_or_without_the_sign() {
        assert_eq!(
            Gate::parse("ttft_p99=10%"),
            Ok(Gate {
                metric: Metric::TtftP99,
                max_worse_pct: 10.0
            })
        );
        assert_eq!(
            Gate::parse("output_tokens_per_s=2.5"),
            Ok(Gate {
                metric: Metric::OutputTokensPerS,
                max_worse_pct: 2.5
            })
        );
        assert_eq!(
            Gate::parse(" success_rate = 0 % "),
            Ok(Gate {
                metric: Metric::SuccessRate,
                max_worse_pct: 0.0
            })
        );
    }

    #[test]
    fn a_gate_shows_as_it_is_written() {
        assert_eq!(
            Gate::parse("ttft_p99=10").unwrap().to_string(),
            "ttft_p99=10%"
        );
        assert_eq!(Gate::parse("rps=2.5%").unwrap().to_string(), "rps=2.5%");
    }

    #[test]
    fn a_gate_without_equals_or_name_is_a_form_error() {
        assert_eq!(Gate::parse("ttft_p99"), Err(GateError::Form));
        assert_eq!(Gate::parse("=10%"), Err(GateError::Form));
        assert_eq!(Gate::parse(""), Err(GateError::Form));
    }

    #[test]
    fn an_unknown_metric_suggests_the_closest_and_lists_all() {
        let e = Gate::parse("ttft_p98=5%").unwrap_err();
        assert_eq!(
            e,
            GateError::UnknownMetric {
                name: "ttft_p98".into(),
                suggestion: Some(Metric::TtftP99)
            }
        );
        let message = e.to_string();
        assert!(
            message.starts_with(
                "unknown metric 'ttft_p98'; did you mean 'ttft_p99'? metrics: ttft_p50, ttft_p99,"
            ),
            "{message}"
        );
        assert!(message.ends_with("cost_per_1m_output"), "{message}");
        let e = Gate::parse("latency=5").unwrap_err().to_string();
        assert!(e.starts_with("unknown metric 'latency'; metrics: "), "{e}");
        assert_eq!(
            closest("OUTPUT_TOKENS_PER_SEC"),
            Some(Metric::OutputTokensPerS)
        );
    }

    #[test]
    fn negative_infinite_and_non_numeric_percents_are_rejected() {
        for given in ["-1%", "inf", "NaN", "ten", "", "%", "1e999", "5%%"] {
            let e = Gate::parse(&format!("rps={given}")).unwrap_err();
            assert_eq!(
                e,
                GateError::Percent {
                    given: given.to_owned()
                },
                "{given}"
            );
        }
    }
}
