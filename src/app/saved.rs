//! What works on saved race files: `replay`, `report` and `merge`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::front_end::{check_tui_flags, tui_options, wants_tui};
use super::results::finish_race;
use crate::cli::ReplayArgs;
use crate::engine::{RaceOutcome, RaceStart, RecordSink};
use crate::error::{AppError, Exit};
use crate::racefile::{self, Recording};
use crate::report::{self, CsvWriter};
use crate::signals::{next_stop_signal, terminate_signal};

fn read_recording(file: &Path) -> Result<Recording, AppError> {
    let recording = racefile::read(file).map_err(AppError::bad_input)?;
    if let Some(notice) = &recording.notice {
        eprintln!("note: {notice}");
    }
    Ok(recording)
}

pub(super) async fn replay(args: ReplayArgs) -> Result<Exit, AppError> {
    let recording = read_recording(&args.file)?;
    if !wants_tui(args.no_tui) {
        check_tui_flags(&args.tui)?;
        // As fast as possible: fold every event, then report as the race did.
        let started_at = recording.started_at;
        let spec = recording.spec.clone();
        let snapshot = crate::replay::Player::new(Arc::new(recording)).run_to_end();
        let outcome = RaceOutcome {
            snapshot: Arc::new(snapshot),
            started_at,
        };
        return finish_race(&outcome, &spec, None, false);
    }
    let log = std::env::temp_dir().join("llm-locust.log");
    crate::logging::init_file(&log)
        .with_context(|| format!("cannot create log file '{}'", log.display()))
        .map_err(AppError::failure)?;
    let notice = recording.notice.clone();
    let (snapshots, link) = crate::replay::spawn(Arc::new(recording), args.speed);
    let options = tui_options(&args.tui, Some(link))?;
    // SIGTERM must leave through the TUI, so the terminal is restored.
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        next_stop_signal(&mut terminate_signal()).await;
        on_signal.cancel();
    });
    crate::ui::run::run_tui(snapshots, stop, CancellationToken::new(), options)
        .await
        .context("the terminal UI failed")
        .map_err(AppError::failure)?;
    // Said before the TUI took the screen too; say it where it stays visible.
    if let Some(notice) = notice {
        eprintln!("note: {notice}");
    }
    Ok(Exit::Success)
}

/// `report`: the reports in `formats` (all but junit.xml when none are
/// given), written again from a race file.
pub(super) fn report_from_file(
    file: &Path,
    output_dir: Option<&Path>,
    formats: &[report::Format],
) -> Result<Exit, AppError> {
    let formats = if formats.is_empty() {
        report::Format::DEFAULT.as_slice()
    } else {
        formats
    };
    let recording = read_recording(file)?;
    let dir = match output_dir {
        Some(dir) => dir.to_path_buf(),
        None => file.parent().unwrap_or(Path::new(".")).join("report"),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create output folder '{}'", dir.display()))
        .map_err(AppError::bad_input)?;
    if formats.contains(&report::Format::Csv) {
        let names: Vec<String> = recording
            .spec
            .engines
            .iter()
            .map(|e| e.name.clone())
            .collect();
        let (mut sink, csv) =
            CsvWriter::create(&dir, &names, &recording.stamp, &recording.spec.slug)
                .map_err(AppError::failure)?;
        sink.on_start(&RaceStart {
            started_at: recording.started_at,
            engine_urls: recording.engine_urls.clone(),
        });
        for (at, event) in &recording.events {
            sink.event(*at, event);
        }
        drop(sink);
        for path in csv.finish().map_err(AppError::failure)? {
            say!("requests: {}", path.display());
        }
    }
    let started_at = recording.started_at;
    let spec = recording.spec.clone();
    let snapshot = crate::replay::Player::new(Arc::new(recording)).run_to_end();
    let summary = report::SummaryFile::new(&snapshot, started_at);
    if formats.contains(&report::Format::Json) {
        let (path, _) = report::write_summary(&dir, &summary).map_err(AppError::failure)?;
        say!("summary: {}", path.display());
    }
    for path in report::write_reports(&dir, &summary, &spec, formats).map_err(AppError::failure)? {
        say!("report: {}", path.display());
    }
    Ok(Exit::Success)
}

/// `merge`: the shards' race files joined into the whole race's, its
/// leaderboard printed.
pub(super) fn merge(output: &Path, files: &[PathBuf]) -> Result<Exit, AppError> {
    let same_file = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if let Some(input) = files.iter().find(|f| same_file(f, output)) {
        return Err(AppError::bad_input(anyhow::anyhow!(
            "'{}' is one of the shards to merge; give the merged file another name",
            input.display()
        )));
    }
    let mut shards = Vec::with_capacity(files.len());
    for file in files {
        let recording = racefile::read(file)
            .map_err(|e| AppError::bad_input(anyhow::anyhow!("cannot merge: {e}")))?;
        shards.push((file.clone(), recording));
    }
    let merged = racefile::merge::merge(shards)
        .map_err(|e| AppError::bad_input(anyhow::anyhow!("cannot merge: {e}")))?;
    for warning in &merged.warnings {
        eprintln!("warning: {warning}");
    }
    let recording = Arc::new(merged.recording);
    let started_at = recording.started_at;
    let snapshot = crate::replay::Player::new(Arc::clone(&recording)).run_to_end();
    let summary = report::SummaryFile::new(&snapshot, started_at);
    let json = serde_json::to_string_pretty(&summary)
        .context("cannot encode the merged summary")
        .map_err(AppError::failure)?;
    racefile::write_recording(output, &recording, &json).map_err(AppError::failure)?;
    let outcome = RaceOutcome {
        snapshot: Arc::new(snapshot),
        started_at,
    };
    // The verdict is printed, not the exit code: merging is not a gate
    // (`report --format junit` and `compare` are).
    finish_race(&outcome, &recording.spec, None, false)?;
    say!();
    say!("race recording: {}", output.display());
    Ok(Exit::Success)
}
