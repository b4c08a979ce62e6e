//! `compare`: two races' headline figures side by side, gates checked.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::error::{AppError, Exit};
use crate::racefile;
use crate::report;
use crate::report::compare::{self, Comparison, Gate, RaceFigures};

/// `compare`: two races' headline figures side by side, gates checked;
/// exit 1 when a gate broke.
pub(super) fn run(
    baseline: &Path,
    current: &Path,
    gates: &[String],
    strict: bool,
    output_dir: Option<&Path>,
) -> Result<Exit, AppError> {
    let gates = gates
        .iter()
        .map(|g| {
            Gate::parse(g)
                .map_err(|e| AppError::bad_input(anyhow::anyhow!("--max-regression '{g}': {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let comparison = Comparison::new(compared_race(baseline)?, compared_race(current)?, &gates);
    if !gates.is_empty() && comparison.engines.is_empty() {
        return Err(AppError::bad_input(anyhow::anyhow!(
            "no engine is in both '{}' and '{}', so no gate can be checked; compare races of the same engines (they match by name)",
            baseline.display(),
            current.display()
        )));
    }
    say_part!("{}", compare::to_text(&comparison));
    let markdown = compare::to_markdown(&comparison);
    if let Some(dir) = output_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder '{}'", dir.display()))
            .map_err(AppError::bad_input)?;
        for (name, text) in [
            ("compare.md", markdown.clone()),
            ("compare.html", compare::to_html(&comparison)),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write '{}'", path.display()))
                .map_err(AppError::failure)?;
            say!("comparison: {}", path.display());
        }
    }
    if let Some(path) = report::step_summary::append(&markdown).map_err(AppError::failure)? {
        say!("step summary: {}", path.display());
    }
    for gate in &comparison.gates {
        for check in &gate.checks {
            if matches!(check.outcome, compare::GateOutcome::Inconclusive { .. }) {
                eprintln!(
                    "{}: {} of {} {}; race longer to tell",
                    if strict { "regression" } else { "warning" },
                    gate.gate.metric.name(),
                    check.engine,
                    compare::describe_outcome(check.outcome),
                );
            }
        }
    }
    if !comparison.regressed(strict) {
        return Ok(Exit::Success);
    }
    for gate in &comparison.gates {
        for check in gate.failures() {
            eprintln!(
                "regression: {} of {} {} (the gate allows {} % worse)",
                gate.gate.metric.name(),
                check.engine,
                compare::describe_outcome(check.outcome),
                gate.gate.max_worse_pct
            );
        }
    }
    Ok(Exit::SloFailed)
}

/// A race to compare, from its `summary.json` or its race file (replayed
/// to the end into the summary it would write).
fn compared_race(path: &Path) -> Result<RaceFigures, AppError> {
    let figures = if looks_like_json(path)? {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read '{}'", path.display()))
            .map_err(AppError::bad_input)?;
        let summary = serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| {
            AppError::bad_input(anyhow::anyhow!(
                "'{}' is not valid JSON ({e}); give a race's summary.json or race.llmrace (`llm-locust report` writes the summary again from the race recording)",
                path.display()
            ))
        })?;
        RaceFigures::from_json(&summary)
    } else {
        let recording = match racefile::read(path) {
            Ok(recording) => recording,
            Err(racefile::RaceFileError::Foreign { .. }) => {
                return Err(AppError::bad_input(anyhow::anyhow!(
                    "'{}' is neither a summary.json nor a race recording; give a race's summary.json or race.llmrace",
                    path.display()
                )));
            }
            Err(e) => return Err(AppError::bad_input(e)),
        };
        if let Some(notice) = &recording.notice {
            eprintln!("note: {notice}");
        }
        let started_at = recording.started_at;
        let snapshot = crate::replay::Player::new(Arc::new(recording)).run_to_end();
        RaceFigures::from_summary(&report::SummaryFile::new(&snapshot, started_at))
    };
    figures.map_err(|e| AppError::bad_input(anyhow::anyhow!("'{}': {e}", path.display())))
}

/// Whether a file starts (after white space) like JSON rather than like a
/// race file, from its first KiB.
fn looks_like_json(path: &Path) -> Result<bool, AppError> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(1024);
    std::fs::File::open(path)
        .and_then(|f| f.take(1024).read_to_end(&mut head))
        .with_context(|| format!("cannot read '{}'", path.display()))
        .map_err(AppError::bad_input)?;
    Ok(matches!(
        head.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    ))
}
