//! A race's results, live or replayed: the leaderboard on stdout, the
//! reports and files in its folder, and the exit code from its verdict.

use std::path::Path;

use crate::config::RaceSpec;
use crate::engine::RaceOutcome;
use crate::error::{AppError, Exit};
use crate::metrics::{LaneSnapshot, RaceSnapshot};
use crate::racefile::RaceFileWriter;
use crate::report::{self, CsvWriter};

/// Where a race's results go: its folder and the writers still open.
pub(super) struct Saved<'a> {
    pub dir: &'a Path,
    pub csv: Option<CsvWriter>,
    pub race_file: Option<RaceFileWriter>,
    /// `--junit`: junit.xml as well.
    pub junit: bool,
}

/// Writes the reports, prints the leaderboard and decides the exit code.
/// `step_summary`: append report.md to `GITHUB_STEP_SUMMARY` when it is set.
pub(super) fn finish_race(
    outcome: &RaceOutcome,
    spec: &RaceSpec,
    saved: Option<Saved>,
    step_summary: bool,
) -> Result<Exit, AppError> {
    let snapshot = &outcome.snapshot;
    print_results(snapshot);
    let summary = report::SummaryFile::new(snapshot, outcome.started_at);
    if step_summary {
        match report::step_summary::append(&report::markdown::report(&summary)) {
            Ok(Some(path)) => eprintln!("step summary: {}", path.display()),
            Ok(None) => {}
            Err(e) => eprintln!("warning: {e:#}"),
        }
    }
    if let Some(saved) = saved {
        write_results(saved, &summary, spec)?;
    }
    Ok(verdict(outcome))
}

/// The leaderboard, and what a reader must know beside it: a saturated
/// client, the sweeps' answers, the failures' messages.
fn print_results(snapshot: &RaceSnapshot) {
    say!();
    say!(
        "🏁 {} — {:.1} s{}{}",
        snapshot.race_name,
        snapshot.elapsed.as_secs_f64(),
        snapshot
            .sharding
            .label()
            .map(|label| format!(" ({label})"))
            .unwrap_or_default(),
        if snapshot.simulated {
            " (simulated: every engine's server was a built-in simulator)"
        } else {
            ""
        }
    );
    // Fitted to the terminal it is printed to, whole in a pipe (CI logs).
    let width = crate::ui::terminal::width_of(&std::io::stdout());
    say_part!("{}", report::table::leaderboard_table_for(snapshot, width));
    if snapshot.client.saturated {
        eprintln!(
            "warning: the client was saturated ({}); the numbers may be the load generator's, not the servers'. Run fewer users, fewer engines per machine, or shards",
            snapshot.client.reason.as_deref().unwrap_or("")
        );
    }
    let sweeps = report::table::sweep_answers(snapshot);
    if !sweeps.is_empty() {
        say!();
        say_part!("{sweeps}");
    }
    let errors = report::table::error_samples(snapshot, width);
    if !errors.is_empty() {
        say!();
        say_part!("{errors}");
    }
}

/// `summary.json`, the reports, the CSVs and the race file, each named on
/// stdout as it is written.
fn write_results(
    saved: Saved,
    summary: &report::SummaryFile,
    spec: &RaceSpec,
) -> Result<(), AppError> {
    let (summary_path, json) =
        report::write_summary(saved.dir, summary).map_err(AppError::failure)?;
    say!();
    say!("summary: {}", summary_path.display());
    let mut formats = report::Format::DEFAULT.to_vec();
    if saved.junit {
        formats.push(report::Format::Junit);
    }
    for path in
        report::write_reports(saved.dir, summary, spec, &formats).map_err(AppError::failure)?
    {
        say!("report: {}", path.display());
    }
    if let Some(csv) = saved.csv {
        for path in csv.finish().map_err(AppError::failure)? {
            say!("requests: {}", path.display());
        }
    }
    if let Some(race_file) = saved.race_file {
        // The reports are written: a failed race file must not change the
        // race's verdict.
        match race_file.finish(Some(json)) {
            Ok(path) => say!("race recording: {}", path.display()),
            Err(e) => eprintln!("warning: {e:#}"),
        }
    }
    Ok(())
}

/// The exit code: no engine reachable (3); an engine without a single
/// successful request, or an SLO failed (1); else success.
fn verdict(outcome: &RaceOutcome) -> Exit {
    let snapshot = &outcome.snapshot;
    if outcome.no_engine_reachable() {
        eprintln!(
            "error: no engine could be reached (every request failed to connect); check the engines' url"
        );
        return Exit::Unreachable;
    }
    for lane in snapshot.lanes.iter().filter(|l| !l.answered()) {
        eprintln!("error: {}", unanswered(lane, snapshot.finish.duration));
    }
    let failed: Vec<String> = snapshot
        .lanes
        .iter()
        .filter(|l| !l.slo_pass)
        .map(|l| {
            let no_data: Vec<&str> = l
                .slo_checks
                .iter()
                .filter(|c| !c.pass && c.actual.is_none())
                .map(|c| c.kind.name())
                .collect();
            if no_data.is_empty() {
                l.name.clone()
            } else {
                format!("{} (no data for {})", l.name, no_data.join(", "))
            }
        })
        .collect();
    if !failed.is_empty() {
        eprintln!("SLO failed for: {}", failed.join(", "));
    }
    if snapshot.passed() {
        Exit::Success
    } else {
        Exit::SloFailed
    }
}

/// Why an engine had no successful request, and what to do about it.
fn unanswered(lane: &LaneSnapshot, time_limit: std::time::Duration) -> String {
    let c = &lane.counts;
    if c.failed > 0 {
        let kinds: Vec<String> = c
            .errors
            .iter()
            .map(|(kind, n)| format!("{n} {}", kind.name()))
            .collect();
        return format!(
            "no request to '{}' succeeded ({} failed: {}); see the messages above",
            lane.name,
            c.failed,
            kinds.join(", ")
        );
    }
    if c.cancelled > 0 {
        return format!(
            "no request to '{}' finished: {} were cut at the time limit, as the race ({} s) was shorter than one request; give it a longer --duration",
            lane.name,
            c.cancelled,
            time_limit.as_secs_f64()
        );
    }
    format!("no request was sent to '{}'", lane.name)
}
