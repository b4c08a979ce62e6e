//! What each subcommand does: load and check the input, pick the source and
//! front end, and map the result to an exit code. `main` only calls [`run`].
//! A race (and validating one) is here; what works on saved race files
//! (`replay`, `report`, `merge`) is in `saved`, `compare` in `compare`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, RaceArgs, SimArgs, TuiArgs};
use crate::config::{self, RaceSpec};
use crate::engine::{self, RaceOutcome, RecordSink};
use crate::error::{AppError, Exit};
use crate::headless;
use crate::racefile::{self, RaceFileWriter};
use crate::report::{self, CsvWriter};
use crate::signals::watch_signals;
use crate::sim;
use crate::workload;

/// `println!` that a closed stdout (`llm-locust race ... | head`) cannot
/// stop: the results are still written and the exit code still tells the
/// verdict.
macro_rules! say {
    () => {{
        let _ = std::io::Write::write_all(&mut std::io::stdout(), b"\n");
    }};
    ($($arg:tt)*) => {{
        let _ = std::io::Write::write_fmt(
            &mut std::io::stdout(),
            format_args!("{}\n", format_args!($($arg)*)),
        );
    }};
}

/// `print!`, as [`say!`].
macro_rules! say_part {
    ($($arg:tt)*) => {{
        let _ = std::io::Write::write_fmt(&mut std::io::stdout(), format_args!($($arg)*));
    }};
}

mod compare;
mod saved;

pub async fn run(cli: Cli) -> Result<Exit, AppError> {
    // With a TUI, logs go to a file instead (see `race` and `replay`).
    let tui = match &cli.command {
        Command::Race(args) => wants_tui(args.no_tui),
        Command::Replay(args) => wants_tui(args.no_tui),
        _ => false,
    };
    if !tui {
        crate::logging::init_stderr();
    }
    match cli.command {
        Command::Race(args) => race(args).await,
        Command::Sim(args) => serve_sim(args).await,
        Command::Validate { file, shard } => validate(&file, shard),
        Command::Replay(args) => saved::replay(args).await,
        Command::Report {
            file,
            output_dir,
            format,
        } => saved::report_from_file(&file, output_dir.as_deref(), &format),
        Command::Merge { output, shards } => saved::merge(&output, &shards),
        Command::Compare {
            baseline,
            current,
            max_regression,
            output_dir,
        } => compare::run(&baseline, &current, &max_regression, output_dir.as_deref()),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(
                shell,
                &mut crate::cli::Cli::command(),
                "llm-locust",
                &mut std::io::stdout(),
            );
            Ok(Exit::Success)
        }
        Command::Schema => {
            say_part!("{}", config::race_file_schema());
            Ok(Exit::Success)
        }
    }
}

fn validate(file: &Path, shard: Option<config::Shard>) -> Result<Exit, AppError> {
    let mut spec = config::load_race_file(file).map_err(AppError::bad_input)?;
    say!("{}: ok: {}", file.display(), spec.describe());
    if let Some(shard) = shard {
        spec.set_shard(shard)
            .map_err(|e| AppError::bad_input(anyhow::anyhow!(e)))?;
        say!("{}", shard_line(&spec, shard));
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

/// The race file with the command line's values, validated once.
fn load_race(args: &RaceArgs) -> Result<RaceSpec, AppError> {
    let overrides = config::validate::Overrides {
        duration_s: args.duration,
        users: args.users,
        seed: args.seed,
        countdown_s: args.countdown,
        output_dir: args.output_dir.as_ref().map(|d| d.display().to_string()),
        simulate: args.simulate,
    };
    let mut spec =
        config::load_race_file_with(&args.file, &overrides).map_err(AppError::bad_input)?;
    apply_dataset(&mut spec, args)?;
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

/// The TUI runs unless `--no-tui` is given or stdout is not a terminal.
fn wants_tui(no_tui: bool) -> bool {
    use std::io::IsTerminal as _;
    !no_tui && std::io::stdout().is_terminal()
}

/// The theme and options of a TUI, from the flags and the environment.
fn tui_options(
    args: &TuiArgs,
    replay: Option<crate::replay::ReplayLink>,
) -> Result<crate::ui::run::TuiOptions, AppError> {
    let (theme, warning) =
        crate::ui::theme::theme_from_env(args.theme.as_deref(), Path::new("themes"))
            .map_err(AppError::bad_input)?;
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    Ok(crate::ui::run::TuiOptions {
        fps: args.fps,
        exit_on_finish: args.exit_on_finish,
        theme,
        replay,
    })
}

async fn race(args: RaceArgs) -> Result<Exit, AppError> {
    let mut spec = load_race(&args)?;
    let tui = if wants_tui(args.no_tui) {
        Some(tui_options(&args.tui, None)?)
    } else {
        None
    };
    // Datasets and tokenizers load (and may download): on the TUI's loading
    // screen, or with progress bars on stderr.
    let mut load_options = workload::LoadOptions::from_env();
    if spec.simulated {
        // No server, so no download either: what is not cached is replaced.
        for note in workload::simulate_offline(&mut spec, &load_options.hub) {
            eprintln!("note: {note}");
        }
    }
    let prompts = match &tui {
        Some(options) => {
            let status = workload::LoadStatus::default();
            load_options.hub.progress = workload::Progress::Shared(status.clone());
            let loading = workload::load(&spec, &load_options);
            match crate::ui::run::run_loading(&status, &spec.name, options, loading)
                .await
                .context("the terminal UI failed")
                .map_err(AppError::failure)?
            {
                Some(loaded) => loaded,
                None => {
                    eprintln!("stopped while loading: nothing was raced");
                    return Ok(Exit::Success);
                }
            }
        }
        None => workload::load(&spec, &load_options).await,
    }
    .map_err(AppError::bad_input)?;
    for note in workload::settle(&mut spec, &prompts) {
        eprintln!("note: {note}");
    }
    eprintln!("prompts: {}", workload::describe(&prompts, &spec));
    eprintln!("race {}", spec.describe());
    if let config::Sharding::Shard(shard) = spec.sharding {
        // The fingerprint `merge` checks (after loading: it covers the prompts).
        eprintln!(
            "{} (race {}){}",
            shard_line(&spec, shard),
            racefile::config::fingerprint(&spec),
            if spec.start_at.is_none() {
                "; no --start-at, so the shards start when each is ready"
            } else {
                ""
            }
        );
    }

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
        let log = race_dir.as_ref().map_or_else(
            || std::env::temp_dir().join("llm-locust.log"),
            |d| d.join("llm-locust.log"),
        );
        crate::logging::init_file(&log)
            .with_context(|| format!("cannot create log file '{}'", log.display()))
            .map_err(AppError::failure)?;
    }
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    watch_signals(
        stop.clone(),
        abort.clone(),
        spec.finish.grace,
        tui.is_none(),
    );

    // The engine tells the writers when the race is set up (start time,
    // URLs), before any event.
    let engine_names: Vec<String> = spec.engines.iter().map(|e| e.name.clone()).collect();
    let mut sinks: Vec<Box<dyn RecordSink>> = Vec::new();
    let mut writers = None;
    if let Some(dir) = &race_dir {
        let (file_sink, race_file) = RaceFileWriter::create(
            &dir.join(racefile::file_name(&spec.sharding)),
            &spec,
            &stamp,
        )
        .map_err(AppError::failure)?;
        let (csv_sink, csv) =
            CsvWriter::create(dir, &engine_names, &stamp, &spec.slug).map_err(AppError::failure)?;
        sinks.push(Box::new(file_sink));
        sinks.push(Box::new(csv_sink));
        writers = Some((race_file, csv));
    }
    if let Some(warmup) = spec.warmup_for_shard() {
        eprintln!("warming up: {}", warmup.describe());
    }
    let running = engine::start(&spec, prompts, sinks, stop.clone(), abort.clone())
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
            "note: ready {:.3} s after --start-at: started at once (the race file records --start-at and this start)",
            late.as_secs_f64()
        );
    }
    for (engine, w) in spec.engines.iter().zip(&running.warmup) {
        eprintln!(
            "warm-up: {} {} ok, {} failed in {:.1} s (not counted)",
            engine.name,
            w.ok,
            w.failed,
            w.took.as_secs_f64()
        );
    }
    // Scraped while the race runs; stopped when it is dropped at the end.
    let _endpoint = metrics_socket.map(|bound| bound.serve(running.snapshots.clone()));
    let (race_file, csv) = writers.unzip();
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
            ));
            let outcome = running.finish().await;
            let _ = progress.await;
            outcome
        }
    };
    let outcome = outcome.map_err(AppError::failure)?;
    let saved = race_dir.as_deref().map(|dir| Saved {
        dir,
        csv,
        race_file,
        junit: args.junit,
    });
    finish_race(&outcome, &spec, saved, true)
}

/// Where a race's results go: its folder and the writers still open.
struct Saved<'a> {
    dir: &'a Path,
    csv: Option<CsvWriter>,
    race_file: Option<RaceFileWriter>,
    /// `--junit`: junit.xml as well.
    junit: bool,
}

/// Writes the reports, prints the leaderboard and decides the exit code.
/// `step_summary`: append report.md to `GITHUB_STEP_SUMMARY` when it is set.
fn finish_race(
    outcome: &RaceOutcome,
    spec: &RaceSpec,
    saved: Option<Saved>,
    step_summary: bool,
) -> Result<Exit, AppError> {
    let snapshot = &outcome.snapshot;
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
    say_part!("{}", report::table::leaderboard_table(snapshot));
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
    let errors = report::table::error_samples(snapshot);
    if !errors.is_empty() {
        say!();
        say_part!("{errors}");
    }
    let summary = report::SummaryFile::new(snapshot, outcome.started_at);
    if step_summary {
        match report::step_summary::append(&report::markdown::report(&summary)) {
            Ok(Some(path)) => eprintln!("step summary: {}", path.display()),
            Ok(None) => {}
            Err(e) => eprintln!("warning: {e:#}"),
        }
    }
    if let Some(Saved {
        dir,
        csv,
        race_file,
        junit,
    }) = saved
    {
        let (summary_path, json) =
            report::write_summary(dir, &summary).map_err(AppError::failure)?;
        say!();
        say!("summary: {}", summary_path.display());
        let mut formats = report::Format::DEFAULT.to_vec();
        if junit {
            formats.push(report::Format::Junit);
        }
        for path in
            report::write_reports(dir, &summary, spec, &formats).map_err(AppError::failure)?
        {
            say!("report: {}", path.display());
        }
        if let Some(csv) = csv {
            for path in csv.finish().map_err(AppError::failure)? {
                say!("requests: {}", path.display());
            }
        }
        if let Some(race_file) = race_file {
            // The reports are written: a failed race file must not change
            // the race's verdict.
            match race_file.finish(Some(json)) {
                Ok(path) => say!("race file: {}", path.display()),
                Err(e) => eprintln!("warning: {e:#}"),
            }
        }
    }
    if outcome.no_engine_reachable() {
        eprintln!(
            "error: no engine could be reached (every request failed to connect); check the engines' url"
        );
        return Ok(Exit::Unreachable);
    }
    if snapshot.slo_pass() {
        Ok(Exit::Success)
    } else {
        let failed: Vec<String> = snapshot
            .lanes
            .iter()
            .filter(|l| !l.slo_pass)
            .map(|l| l.name.clone())
            .collect();
        eprintln!("SLO failed for: {}", failed.join(", "));
        Ok(Exit::SloFailed)
    }
}

async fn serve_sim(args: SimArgs) -> Result<Exit, AppError> {
    let spec = config::validate::sim_flags(args.simulate())
        .map_err(|problem| AppError::bad_input(anyhow::anyhow!("{problem}")))?;
    let cancel = CancellationToken::new();
    let addr = std::net::SocketAddr::new(args.host, args.port);
    let options = sim::SimOptions {
        stamp_tokens: args.stamp_tokens,
    };
    let handle = sim::serve_with(spec, options, addr, cancel.clone())
        .await
        .map_err(AppError::bad_input)?;
    // A reader that has gone (a script that read the address and closed
    // the pipe) must not stop the server: the lines are a courtesy.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "llm-locust sim listening on {}", handle.base_url());
    let _ = writeln!(
        out,
        "  POST {}/v1/chat/completions   POST {}/v1/completions",
        handle.base_url(),
        handle.base_url()
    );
    if options.stamp_tokens {
        let _ = writeln!(
            out,
            "  --stamp-tokens: each streamed token's text is its send time, in µs from the request's arrival"
        );
    }
    let _ = writeln!(out, "Ctrl-C to stop");
    let _ = out.flush();
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    Ok(Exit::Success)
}
