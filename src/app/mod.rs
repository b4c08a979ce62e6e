//! What each subcommand does: load and check the input, pick the source and
//! front end, and map the result to an exit code. `main` only calls [`run`],
//! which dispatches: a race (and validating its file) is `race`, its results
//! (the table, the files, the verdict) `results`, what works on saved race
//! files (`replay`, `report`, `merge`) `saved`, `compare` `compare`, the
//! standalone simulator `sim`, and the choice of a TUI `front_end`.

use crate::cli::{Cli, Command};
use crate::config;
use crate::error::{AppError, Exit};

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
mod front_end;
mod quick;
mod race;
mod results;
mod saved;
mod sim;

use front_end::wants_tui;

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
        Command::Race(args) => race::race(args).await,
        Command::Sim(args) => sim::serve_sim(args).await,
        Command::Validate { file, shard } => race::validate(&file, shard),
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
            strict,
            output_dir,
        } => compare::run(
            &baseline,
            &current,
            &max_regression,
            strict,
            output_dir.as_deref(),
        ),
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
