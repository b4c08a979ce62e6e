//! `race`: the race file and the command line made one spec, the prompts
//! loaded, the output folder and writers opened, the engine started, a
//! front end shown until the end, then the results (`results`). And
//! `validate`, which checks a race file the same way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::front_end::{check_tui_flags, tell, tui_options, wants_tui};
use super::quick;
use super::results::{Saved, finish_race};
use crate::cli::RaceArgs;
use crate::config::{self, RaceSpec};
use crate::engine::{self, RaceOutcome, RecordSink, RunningRace};
use crate::error::{AppError, Exit};
use crate::headless;
use crate::racefile::{self, RaceFileWriter};
use crate::report::CsvWriter;
use crate::signals::watch_signals;
use crate::ui::run::TuiOptions;
use crate::workload::{self, PromptSet};

pub(super) async fn race(args: RaceArgs) -> Result<Exit, AppError> {
    let mut spec = load_race(&args).await?;
    let tui = if wants_tui(args.no_tui) {
        Some(tui_options(&args.tui, None)?)
    } else {
        check_tui_flags(&args.tui)?;
        None
    };
    let Some(prompts) = load_prompts(&mut spec, tui.as_ref()).await? else {
        eprintln!("stopped while loading: nothing was raced");
        return Ok(Exit::Success);
    };
    describe(&spec, &prompts);
    let metrics_socket = match args.metrics_addr {
        Some(addr) => {
            let bound = crate::prometheus_endpoint::bind(addr)
                .await
                .map_err(AppError::bad_input)?;
            eprintln!("metrics: http://{}/metrics", bound.addr);
            Some(bound)
        }
        None => None,
    };
    // Shards given one start share the stamp: their folders sort together.
    let stamp_time = spec
        .start_at
        .map_or_else(chrono::Local::now, chrono::DateTime::<chrono::Local>::from);
    let stamp = stamp_time.format("%Y%m%d-%H%M%S").to_string();
    let race_dir = if args.no_save {
        None
    } else {
        Some(create_race_dir(&spec, &stamp).map_err(AppError::bad_input)?)
    };
    if tui.is_some() {
        log_to_file(race_dir.as_deref())?;
    }
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    watch_signals(
        stop.clone(),
        abort.clone(),
        spec.finish.grace,
        tui.is_none(),
    );
    let (sinks, writers) = open_writers(race_dir.as_deref(), &spec, &stamp)?;
    let running = start(&spec, prompts, sinks, &stop, &abort).await?;
    // Scraped while the race runs; stopped when it is dropped at the end.
    let _endpoint = metrics_socket.map(|bound| bound.serve(running.snapshots.clone()));
    let outcome = show(running, tui, &stop, &abort).await?;
    let (race_file, csv) = writers.unzip();
    let saved = race_dir.as_deref().map(|dir| Saved {
        dir,
        csv,
        race_file,
        junit: args.junit,
    });
    finish_race(&outcome, &spec, saved, true)
}

/// The prompts, loaded (and maybe downloaded) on the TUI's loading screen
/// or with progress bars on stderr; `None` when the user stopped it.
async fn load_prompts(
    spec: &mut RaceSpec,
    tui: Option<&TuiOptions>,
) -> Result<Option<PromptSet>, AppError> {
    let mut load_options = workload::LoadOptions::from_env();
    if spec.simulated {
        // No server, so no download either: what is not cached is replaced.
        for note in workload::simulate_offline(spec, &load_options.hub) {
            tell(&format!("note: {note}"));
        }
    }
    let prompts = match tui {
        Some(options) => {
            let status = workload::LoadStatus::default();
            load_options.hub.progress = workload::Progress::Shared(status.clone());
            let loading = workload::load(spec, &load_options);
            match crate::ui::run::run_loading(&status, &spec.name, options, loading)
                .await
                .context("the terminal UI failed")
                .map_err(AppError::failure)?
            {
                Some(loaded) => loaded,
                None => return Ok(None),
            }
        }
        None => workload::load(spec, &load_options).await,
    }
    .map_err(AppError::bad_input)?;
    for note in workload::settle(spec, &prompts) {
        tell(&format!("note: {note}"));
    }
    Ok(Some(prompts))
}

/// What is about to be raced, on stderr.
fn describe(spec: &RaceSpec, prompts: &PromptSet) {
    tell(&format!("prompts: {}", workload::describe(prompts, spec)));
    tell(&format!("race {}", spec.describe()));
    if let config::Sharding::Shard(shard) = spec.sharding {
        // The fingerprint `merge` checks (after loading: it covers the prompts).
        eprintln!(
            "{} (race {}){}",
            shard_line(spec, shard),
            racefile::config::fingerprint(spec),
            if spec.start_at.is_none() {
                "; no --start-at, so the shards start when each is ready"
            } else {
                ""
            }
        );
    }
}

/// With a TUI on the screen, logs go to the race's folder (or the temp dir).
fn log_to_file(race_dir: Option<&Path>) -> Result<(), AppError> {
    let log = race_dir.map_or_else(
        || std::env::temp_dir().join("llm-locust.log"),
        |d| d.join("llm-locust.log"),
    );
    crate::logging::init_file(&log)
        .with_context(|| format!("cannot create log file '{}'", log.display()))
        .map_err(AppError::failure)
}

/// The race file's and the CSVs' writers, as sinks for the engine (which
/// tells them when the race is set up, before any event), and as the
/// handles to finish them with.
#[allow(clippy::type_complexity)]
fn open_writers(
    race_dir: Option<&Path>,
    spec: &RaceSpec,
    stamp: &str,
) -> Result<
    (
        Vec<Box<dyn RecordSink>>,
        Option<(RaceFileWriter, CsvWriter)>,
    ),
    AppError,
> {
    let Some(dir) = race_dir else {
        return Ok((Vec::new(), None));
    };
    let engine_names: Vec<String> = spec.engines.iter().map(|e| e.name.clone()).collect();
    let (file_sink, race_file) =
        RaceFileWriter::create(&dir.join(racefile::file_name(&spec.sharding)), spec, stamp)
            .map_err(AppError::failure)?;
    let (csv_sink, csv) =
        CsvWriter::create(dir, &engine_names, stamp, &spec.slug).map_err(AppError::failure)?;
    let sinks: Vec<Box<dyn RecordSink>> = vec![Box::new(file_sink), Box::new(csv_sink)];
    Ok((sinks, Some((race_file, csv))))
}

/// Warms up, connects and starts the race, saying what the warm-up did and
/// whether the start was late.
async fn start(
    spec: &RaceSpec,
    prompts: PromptSet,
    sinks: Vec<Box<dyn RecordSink>>,
    stop: &CancellationToken,
    abort: &CancellationToken,
) -> Result<RunningRace, AppError> {
    if let Some(warmup) = spec.warmup_for_shard() {
        tell(&format!("warming up: {}", warmup.describe()));
    }
    let running = engine::start(spec, prompts, sinks, stop.clone(), abort.clone())
        .await
        .map_err(|e| {
            if e.is_bad_input() {
                AppError::bad_input(e)
            } else {
                AppError::failure(e)
            }
        })?;
    if let Some(late) = running.late_start {
        eprintln!(
            "note: ready {:.3} s after --start-at: started at once (the race recording has --start-at and this start)",
            late.as_secs_f64()
        );
    }
    for (engine, w) in spec.engines.iter().zip(&running.warmup) {
        tell(&format!(
            "warm-up: {} {} ok, {} failed in {:.1} s (not counted)",
            engine.name,
            w.ok,
            w.failed,
            w.took.as_secs_f64()
        ));
    }
    Ok(running)
}

/// Shows the race until it ends: in the TUI, or as progress lines.
async fn show(
    running: RunningRace,
    tui: Option<TuiOptions>,
    stop: &CancellationToken,
    abort: &CancellationToken,
) -> Result<RaceOutcome, AppError> {
    let outcome = match tui {
        Some(options) => {
            // The TUI runs on this (the main) thread; the race runs on the
            // runtime's workers.
            let snapshots = running.snapshots.clone();
            let race = tokio::spawn(running.finish());
            let shown =
                crate::ui::run::run_tui(snapshots, stop.clone(), abort.clone(), options).await;
            if let Err(e) = shown {
                // The screen failed: stop the race but keep its results.
                stop.cancel();
                eprintln!("error: the terminal UI failed ({e}); finishing the race headless");
            }
            race.await
                .map_err(|e| AppError::failure(anyhow::anyhow!("the race task failed: {e}")))?
        }
        None => {
            let progress = tokio::spawn(headless::report_progress(
                running.snapshots.clone(),
                headless::PROGRESS_EVERY,
                std::io::stderr(),
                crate::ui::terminal::width_of(&std::io::stderr()),
            ));
            let outcome = running.finish().await;
            let _ = progress.await;
            outcome
        }
    };
    outcome.map_err(AppError::failure)
}

pub(super) fn validate(file: &Path, shard: Option<config::Shard>) -> Result<Exit, AppError> {
    let mut spec = config::load_race_file(file).map_err(AppError::bad_input)?;
    // The whole file and the shard are judged before anything is said, so a
    // shard that cannot run never follows an "ok".
    let whole = spec.describe();
    let shard_line = match shard {
        Some(shard) => {
            spec.set_shard(shard)
                .map_err(|e| AppError::bad_input(anyhow::anyhow!(e)))?;
            Some(shard_line(&spec, shard))
        }
        None => None,
    };
    say!("{}: ok: {whole}", file.display());
    if let Some(line) = shard_line {
        say!("{line}");
    }
    Ok(Exit::Success)
}

/// What a shard of `spec` runs, in a line.
fn shard_line(spec: &RaceSpec, shard: config::Shard) -> String {
    let line = spec.finish_line();
    let mut split = vec![format!(
        "users, arrivals and requests k with k mod {} = {}",
        shard.count, shard.index
    )];
    if let (Some(part), Some(whole)) = (line.requests, spec.finish.requests) {
        split.push(format!("finish at {part} of {whole} requests"));
    }
    if let (Some(part), Some(whole)) = (line.output_tokens, spec.finish.output_tokens) {
        split.push(format!("finish at {part} of {whole} output tokens"));
    }
    format!("shard {shard}: {}", split.join("; "))
}

/// How far ahead or behind a `--start-at` may be without
/// `--allow-far-start`.
const START_AT_AHEAD: Duration = Duration::from_secs(24 * 3600);
const START_AT_BEHIND: Duration = Duration::from_secs(3600);

/// A `--start-at` a day ahead or an hour past is most often a wrong date or
/// time zone: a race that would wait all night, or shards that would each
/// start at once instead of together.
fn check_start_at(at: std::time::SystemTime, now: std::time::SystemTime) -> anyhow::Result<()> {
    let hours = |d: Duration| d.as_secs_f64() / 3600.0;
    match at.duration_since(now) {
        Ok(ahead) if ahead > START_AT_AHEAD => anyhow::bail!(
            "--start-at is {:.1} hours from now (more than a day); check the date and time zone (RFC 3339 with Z is UTC), or pass --allow-far-start",
            hours(ahead)
        ),
        Err(past) if past.duration() > START_AT_BEHIND => anyhow::bail!(
            "--start-at was {:.1} hours ago (more than an hour); check the date and time zone (RFC 3339 with Z is UTC), or pass --allow-far-start",
            hours(past.duration())
        ),
        _ => Ok(()),
    }
}

/// The race file with the command line's values, validated once.
async fn load_race(args: &RaceArgs) -> Result<RaceSpec, AppError> {
    let mut spec = if quick::is_race_of_urls(&args.targets)? {
        quick::race_of_urls(args).await?
    } else {
        quick::refuse_quick_flags(&args.quick)?;
        let overrides = config::validate::Overrides {
            duration_s: args.duration,
            users: args.users,
            seed: args.seed,
            countdown_s: args.countdown,
            output_dir: args.output_dir.as_ref().map(|d| d.display().to_string()),
            simulate: args.simulate,
        };
        let file = Path::new(&args.targets[0]);
        let mut spec =
            config::load_race_file_with(file, &overrides).map_err(AppError::bad_input)?;
        apply_dataset(&mut spec, args)?;
        spec
    };
    if let Some(at) = args.start_at {
        if !args.allow_far_start {
            check_start_at(at, std::time::SystemTime::now()).map_err(AppError::bad_input)?;
        }
    }
    spec.start_at = args.start_at;
    if let Some(shard) = args.shard {
        spec.set_shard(shard)
            .map_err(|e| AppError::bad_input(anyhow::anyhow!(e)))?;
    }
    Ok(spec)
}

/// `--dataset` names a dataset from where the command runs, not from the
/// race file's folder.
fn apply_dataset(spec: &mut RaceSpec, args: &RaceArgs) -> Result<(), AppError> {
    if let Some(dataset) = &args.dataset {
        spec.dataset = config::validate::dataset_arg(dataset)
            .map_err(|e| AppError::bad_input(anyhow::anyhow!("--dataset: {e}")))?;
    }
    Ok(())
}

/// Creates `<output_dir>/<slug>-<stamp>/` (with a numeric suffix if a race
/// of the same name started in the same second).
fn create_race_dir(spec: &RaceSpec, stamp: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(&spec.output_dir).with_context(|| {
        format!(
            "cannot create output folder '{}'",
            spec.output_dir.display()
        )
    })?;
    // Shards on one shared volume each get their own folder.
    let shard = match spec.sharding {
        config::Sharding::Shard(s) => format!("-shard-{}-of-{}", s.index, s.count),
        _ => String::new(),
    };
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{}-{stamp}{shard}", spec.slug)
        } else {
            format!("{}-{stamp}{shard}-{n}", spec.slug)
        };
        let dir = spec.output_dir.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create '{}'", dir.display())),
        }
    }
    anyhow::bail!(
        "cannot find a free folder name in '{}'",
        spec.output_dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn a_start_a_day_ahead_or_an_hour_past_is_refused() {
        let now = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let hour = Duration::from_secs(3600);
        assert!(check_start_at(now + 23 * hour, now).is_ok());
        assert!(check_start_at(now - hour / 2, now).is_ok());
        let ahead = check_start_at(now + 25 * hour, now)
            .unwrap_err()
            .to_string();
        assert!(
            ahead.starts_with("--start-at is 25.0 hours from now"),
            "{ahead}"
        );
        assert!(ahead.ends_with("or pass --allow-far-start"), "{ahead}");
        let past = check_start_at(now - 2 * hour, now).unwrap_err().to_string();
        assert!(past.starts_with("--start-at was 2.0 hours ago"), "{past}");
    }
}
