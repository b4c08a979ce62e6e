//! The words and numbers of a comparison's rows, shared by the Markdown,
//! HTML and terminal renderings so they say the same thing. Formatting only.

use super::{
    Comparison, GateResult, MetricRow, RaceFigures, Verdict, describe_outcome, format_percent,
};

/// One row of an engine's table, as text.
pub(super) struct RowCells {
    pub label: &'static str,
    pub baseline: String,
    pub current: String,
    /// e.g. `+12.0 ms (+10.0 %)`; `-` when a race has no figure.
    pub change: String,
    pub verdict: Option<Verdict>,
}

/// The rows of figures at least one race has (a price neither race had is
/// left out).
pub(super) fn rows(rows: &[MetricRow]) -> Vec<RowCells> {
    rows.iter()
        .filter(|r| r.baseline.is_some() || r.current.is_some())
        .map(|r| {
            let unit = r.metric.unit();
            let value = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| unit.format(v));
            RowCells {
                label: r.metric.label(),
                baseline: value(r.baseline),
                current: value(r.current),
                change: r.change.map_or_else(
                    || "-".to_owned(),
                    |c| {
                        format!(
                            "{} ({})",
                            unit.format_delta(c.absolute),
                            format_percent(c.percent)
                        )
                    },
                ),
                verdict: r.change.map(|c| c.verdict),
            }
        })
        .collect()
}

/// A race's name as the headings give it.
pub(super) fn race_name(race: &RaceFigures) -> &str {
    if race.race.is_empty() {
        "(unnamed race)"
    } else {
        &race.race
    }
}

/// What tells two runs of one race apart: its start, and whether it was
/// simulated (empty when the summary says neither).
pub(super) fn race_detail(race: &RaceFigures) -> String {
    let mut parts = Vec::new();
    if !race.started_at.is_empty() {
        parts.push(format!("started {}", race.started_at));
    }
    if race.simulated {
        parts.push("simulated".to_owned());
    }
    parts.join(", ")
}

/// Each engine a gate was checked on and how it fared, e.g.
/// `alpha: 98.0 % worse`.
pub(super) fn gate_checks(gate: &GateResult) -> Vec<(String, String)> {
    gate.checks
        .iter()
        .map(|c| (c.engine.clone(), describe_outcome(c.outcome)))
        .collect()
}

/// What the page says about a gate that checked no engine.
const NO_ENGINE: &str = "no engine is in both races";

/// A gate's checks in one line, e.g. `alpha: 98.0 % worse; beta: held`,
/// with the engine names and outcomes made safe by `name` and `how`.
pub(super) fn gate_said(
    gate: &GateResult,
    name: impl Fn(&str) -> String,
    how: impl Fn(&str) -> String,
) -> String {
    let checks = gate_checks(gate);
    if checks.is_empty() {
        return NO_ENGINE.to_owned();
    }
    checks
        .iter()
        .map(|(engine, outcome)| format!("{}: {}", name(engine), how(outcome)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The sentence under the heading.
pub(super) fn same_band_note() -> String {
    format!(
        "Changes within ±{} % count as the same.",
        super::SAME_BAND_PCT
    )
}

/// The engines only one race has, as (which race, names); empty parts left out.
pub(super) fn unmatched(c: &Comparison) -> Vec<(&'static str, &[String])> {
    let mut out = Vec::new();
    if !c.only_in_baseline.is_empty() {
        out.push(("Only in the baseline", c.only_in_baseline.as_slice()));
    }
    if !c.only_in_current.is_empty() {
        out.push(("Only in the current race", c.only_in_current.as_slice()));
    }
    out
}
