//! One race's headline figures, read from its `summary.json` value: the
//! version check and the shape a comparison needs, with a message naming
//! what is wrong. Reads; compares nothing.

use serde_json::Value;

use super::Metric;
use crate::report::summary::SUMMARY_VERSION;

/// The figures of one race, read from its `summary.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceFigures {
    pub race: String,
    /// When it started (RFC 3339), as the summary says.
    pub started_at: String,
    pub simulated: bool,
    pub engines: Vec<EngineFigures>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineFigures {
    pub name: String,
    /// One value per [`Metric::ALL`], in its order; `None` where the summary
    /// has none.
    pub values: Vec<Option<f64>>,
}

/// Why a `summary.json` value cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SummaryError {
    #[error(
        "summary_version {found} is not one this llm-locust reads (it reads {SUMMARY_VERSION}); compare with the llm-locust that wrote it, or give its race.llmrace instead"
    )]
    UnknownVersion { found: String },
    #[error("it is not a summary.json ({0}); give a race's summary.json or race.llmrace")]
    Shape(String),
}

impl RaceFigures {
    /// The figures of a `summary.json` (as written by [`crate::report::SummaryFile`]).
    pub fn from_summary(summary: &Value) -> Result<RaceFigures, SummaryError> {
        let shape = |what: &str| SummaryError::Shape(what.to_owned());
        let version = summary
            .get("summary_version")
            .ok_or_else(|| shape("no 'summary_version'"))?;
        if version.as_u64() != Some(u64::from(SUMMARY_VERSION)) {
            return Err(SummaryError::UnknownVersion {
                found: version.to_string(),
            });
        }
        let text = |key: &str| summary.get(key).and_then(Value::as_str).unwrap_or_default();
        let engines = summary
            .get("engines")
            .and_then(Value::as_array)
            .ok_or_else(|| shape("no 'engines' list"))?;
        let mut figures = Vec::with_capacity(engines.len());
        for (i, engine) in engines.iter().enumerate() {
            let name = engine
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| SummaryError::Shape(format!("engines[{i}] has no 'name'")))?;
            if figures.iter().any(|e: &EngineFigures| e.name == name) {
                return Err(SummaryError::Shape(format!(
                    "engine '{name}' is in it twice"
                )));
            }
            let values = Metric::ALL
                .iter()
                .map(|m| m.value_in(engine))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SummaryError::Shape(format!("engine '{name}': {e}")))?;
            figures.push(EngineFigures {
                name: name.to_owned(),
                values,
            });
        }
        Ok(RaceFigures {
            race: text("race").to_owned(),
            started_at: text("started_at").to_owned(),
            simulated: summary.get("simulated").and_then(Value::as_bool) == Some(true),
            engines: figures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::summary;
    use super::*;
    use serde_json::json;

    #[test]
    fn a_summary_of_another_version_or_shape_is_refused() {
        let mut s = summary("r", &[("a", 1.0, 1.0)]);
        s["summary_version"] = json!(2);
        let e = RaceFigures::from_summary(&s).unwrap_err();
        assert_eq!(e, SummaryError::UnknownVersion { found: "2".into() });
        assert!(
            e.to_string()
                .starts_with("summary_version 2 is not one this llm-locust reads (it reads 1)")
        );
        for (value, says) in [
            (json!({"hello": 1}), "no 'summary_version'"),
            (json!({"summary_version": 1}), "no 'engines' list"),
            (
                json!({"summary_version": 1, "engines": [{"rps": 1}]}),
                "engines[0] has no 'name'",
            ),
            (
                json!({"summary_version": 1, "engines": [{"name": "x"}, {"name": "x"}]}),
                "engine 'x' is in it twice",
            ),
            (
                json!({"summary_version": 1, "engines": [{"name": "x", "rps": "1"}]}),
                "engine 'x': 'rps' is not a number",
            ),
        ] {
            assert_eq!(
                RaceFigures::from_summary(&value),
                Err(SummaryError::Shape(says.to_owned()))
            );
        }
        assert!(RaceFigures::from_summary(&json!([1, 2])).is_err());
        assert!(RaceFigures::from_summary(&json!("summary_version")).is_err());
    }
}
