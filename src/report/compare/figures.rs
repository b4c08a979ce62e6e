//! One race's headline figures, from its summary (or a `summary.json`
//! value read back into one, after the version check), with a message
//! naming what is wrong. Reads; compares nothing.

use serde::Deserialize as _;
use serde_json::Value;

use super::Metric;
use crate::report::summary::{SUMMARY_VERSION, SummaryFile};

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
    /// Their 95 % intervals, where the summary has them.
    pub intervals: Vec<Option<[f64; 2]>>,
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
    /// The figures of a `summary.json` as read: its version first, then its
    /// whole shape (the summary's own type, read back).
    pub fn from_json(summary: &Value) -> Result<RaceFigures, SummaryError> {
        let version = summary
            .get("summary_version")
            .ok_or_else(|| SummaryError::Shape("no 'summary_version'".to_owned()))?;
        if version.as_u64() != Some(u64::from(SUMMARY_VERSION)) {
            return Err(SummaryError::UnknownVersion {
                found: version.to_string(),
            });
        }
        let summary =
            SummaryFile::deserialize(summary).map_err(|e| SummaryError::Shape(e.to_string()))?;
        RaceFigures::from_summary(&summary)
    }

    /// The figures of a summary.
    pub fn from_summary(summary: &SummaryFile) -> Result<RaceFigures, SummaryError> {
        let mut figures: Vec<EngineFigures> = Vec::with_capacity(summary.engines.len());
        for engine in &summary.engines {
            if figures.iter().any(|e| e.name == engine.name) {
                return Err(SummaryError::Shape(format!(
                    "engine '{}' is in it twice",
                    engine.name
                )));
            }
            figures.push(EngineFigures {
                name: engine.name.clone(),
                values: Metric::ALL.iter().map(|m| m.value_in(engine)).collect(),
                intervals: Metric::ALL.iter().map(|m| m.interval_in(engine)).collect(),
            });
        }
        Ok(RaceFigures {
            race: summary.race.clone(),
            started_at: summary.started_at.clone(),
            simulated: summary.simulated,
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
        let e = RaceFigures::from_json(&s).unwrap_err();
        assert_eq!(e, SummaryError::UnknownVersion { found: "2".into() });
        assert!(
            e.to_string()
                .starts_with("summary_version 2 is not one this llm-locust reads (it reads 1)")
        );
        let shape = |value: &Value| match RaceFigures::from_json(value) {
            Err(SummaryError::Shape(says)) => says,
            other => panic!("{other:?}"),
        };
        assert_eq!(shape(&json!({"hello": 1})), "no 'summary_version'");
        assert!(shape(&json!({"summary_version": 1})).contains("missing field"));
        let mut twice = summary("r", &[("x", 1.0, 1.0), ("y", 1.0, 1.0)]);
        twice["engines"][1]["name"] = json!("x");
        assert_eq!(shape(&twice), "engine 'x' is in it twice");
        let mut not_a_number = summary("r", &[("x", 1.0, 1.0)]);
        not_a_number["engines"][0]["rps"] = json!("1");
        assert!(
            shape(&not_a_number).contains("invalid type"),
            "{}",
            shape(&not_a_number)
        );
        assert!(RaceFigures::from_json(&json!([1, 2])).is_err());
        assert!(RaceFigures::from_json(&json!("summary_version")).is_err());
    }

    #[test]
    fn a_summary_reads_back_as_it_was_written() {
        let s = summary("r", &[("a", 241.0, 50.0), ("b", 120.0, 70.0)]);
        let back: SummaryFile = serde_json::from_value(s.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), s);
        let figures = RaceFigures::from_summary(&back).unwrap();
        assert_eq!(figures.engines[1].name, "b");
        assert_eq!(figures.engines[1].values[1], Some(120.0));
    }
}
