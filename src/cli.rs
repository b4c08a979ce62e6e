//! The command line (clap derive). Parsing only; `app` acts on it.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "llm-locust",
    version,
    about = "Load-test LLM inference endpoints as a live model race",
    long_about = "Load-test OpenAI-compatible LLM inference endpoints (vLLM, TGI, Ollama, llama.cpp, SGLang, ...) \
                  as a race: every engine gets the same prompts in the same order under the same load, \
                  and every number is measured the same way.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a race described by a race file
    Race(RaceArgs),
    /// Serve the built-in simulated OpenAI-compatible endpoint until Ctrl-C
    Sim(SimArgs),
    /// Check a race file: exit 0 with a summary, or 2 with every problem
    Validate {
        /// The race file (YAML)
        file: PathBuf,
    },
    /// Watch a saved race again, from the race.llmrace file in its output folder
    Replay(ReplayArgs),
    /// Regenerate summary.json and the per-request CSVs from a race.llmrace file
    Report {
        /// The race file (race.llmrace)
        file: PathBuf,
        /// Folder to write into (default: a `report` folder beside the file)
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
    /// Print a shell completion script, e.g. `llm-locust completions bash >
    /// ~/.local/share/bash-completion/completions/llm-locust`
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of race files (for editors; also
    /// docs/race-file.schema.json)
    Schema,
}

/// How the TUI is shown (race and replay).
#[derive(Debug, Args)]
pub struct TuiArgs {
    /// TUI theme: default, dark, light, hacker, retro, colorblind, mono, or a
    /// path to a theme file (also LLM_LOCUST_THEME; NO_COLOR selects mono)
    #[arg(long, value_name = "NAME|PATH")]
    pub theme: Option<String>,
    /// Most TUI redraws per second
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub fps: u32,
    /// Leave the TUI as soon as the race ends instead of waiting for a key
    #[arg(long)]
    pub exit_on_finish: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The race file (race.llmrace)
    pub file: PathBuf,
    /// No TUI: replay as fast as possible and print the final leaderboard
    #[arg(long)]
    pub no_tui: bool,
    /// Playback speed: 0.25, 0.5, 1, 2, 4, 8 or 16 (`+`/`-` change it)
    #[arg(long, default_value_t = 1.0, value_parser = speed)]
    pub speed: f64,
    #[command(flatten)]
    pub tui: TuiArgs,
}

#[derive(Debug, Args)]
pub struct RaceArgs {
    /// The race file (YAML)
    pub file: PathBuf,
    /// Run headless: progress lines on stderr, leaderboard on stdout (for CI)
    #[arg(long)]
    pub no_tui: bool,
    /// Race duration in seconds (overrides the file's duration)
    #[arg(long, value_name = "SECS", value_parser = positive_f64)]
    pub duration: Option<f64>,
    /// Concurrent users per engine (load mode users)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub users: Option<u32>,
    /// Seed for the prompt order and arrival times
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Countdown before the start, in seconds (overrides countdown_s)
    #[arg(long, value_name = "SECS", value_parser = non_negative_f64)]
    pub countdown: Option<f64>,
    /// Dataset instead of the race file's: demo, sharegpt, dolly, billsum,
    /// synthetic, <name>-sample, or a path to a JSONL, JSON, Parquet or text file.
    #[arg(long, value_name = "NAME|PATH")]
    pub dataset: Option<String>,
    /// Folder for results (overrides output_dir)
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Write no files
    #[arg(long)]
    pub no_save: bool,
    #[command(flatten)]
    pub tui: TuiArgs,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Base time to first token, before prefill and queueing
    #[arg(long, default_value_t = 150.0, value_parser = delay_ms)]
    pub ttft_ms: f64,
    /// Time per output token
    #[arg(long, default_value_t = 20.0, value_parser = delay_ms)]
    pub tpot_ms: f64,
    /// Relative jitter of every delay (0.1 = ±10 %)
    #[arg(long, default_value_t = 0.1, value_parser = fraction)]
    pub jitter: f64,
    /// Prefill time per input token, in microseconds
    #[arg(long, default_value_t = 50.0, value_parser = delay_us)]
    pub prefill_us_per_token: f64,
    /// Fixed output length (default: each request's max_tokens)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub output_tokens: Option<u32>,
    /// Requests served at once; more wait in a queue
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub capacity: u32,
    /// Probability of a fault per request, spread over every fault kind
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    pub error_rate: f64,
    /// Probability of one fault kind, e.g. --fault http_429=0.05 (repeatable;
    /// kinds: http_429, http_500, http_503, reset, stall, malformed,
    /// stream_error, event_error, early_end)
    #[arg(long = "fault", value_name = "KIND=RATE", value_parser = fault)]
    pub faults: Vec<(crate::config::FaultKind, f64)>,
    /// The first N output tokens of each answer are reasoning tokens
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub reasoning_tokens: u32,
    /// Pause between the last token and the usage report and [DONE]
    #[arg(long, default_value_t = 0.0, value_parser = delay_ms)]
    pub done_delay_ms: f64,
    /// Stream like a real server or proxy does (repeatable): zero_usage,
    /// both_reasoning_names, empty_answer, empty_finish_reason,
    /// no_final_newline, tool_calls, usage_in_finish_chunk,
    /// usage_with_empty_delta, nulls, no_usage, no_finish_reason
    #[arg(long = "quirk", value_name = "NAME", value_parser = quirk)]
    pub quirks: Vec<crate::config::Quirk>,
    /// Seed for jitter, output text and faults
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn speed(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if crate::replay::player::SPEEDS.contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "'{s}' is not a replay speed; use 0.25, 0.5, 1, 2, 4, 8 or 16"
        ))
    }
}

fn number(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("'{s}' is not a finite number"))
    }
}

fn positive_f64(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("'{s}' must be greater than 0"))
    }
}

fn non_negative_f64(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("'{s}' must be 0 or more"))
    }
}

/// A delay in milliseconds: 0 up to a day.
fn delay_ms(s: &str) -> Result<f64, String> {
    let v = non_negative_f64(s)?;
    if v <= 86_400_000.0 {
        Ok(v)
    } else {
        Err(format!("'{s}' is more than a day (86400000 ms)"))
    }
}

/// A delay in microseconds: 0 up to an hour.
fn delay_us(s: &str) -> Result<f64, String> {
    let v = non_negative_f64(s)?;
    if v <= 3_600_000_000.0 {
        Ok(v)
    } else {
        Err(format!("'{s}' is more than an hour (3600000000 µs)"))
    }
}

fn fraction(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("'{s}' must be between 0 and 1"))
    }
}

fn quirk(s: &str) -> Result<crate::config::Quirk, String> {
    use crate::config::Quirk;
    Quirk::from_name(&s.trim().to_ascii_lowercase().replace('-', "_")).ok_or_else(|| {
        let names: Vec<&str> = Quirk::ALL.iter().map(|q| q.name()).collect();
        format!("unknown quirk '{s}'; use one of {}", names.join(", "))
    })
}

fn fault(s: &str) -> Result<(crate::config::FaultKind, f64), String> {
    use crate::config::FaultKind;
    let (kind, rate) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not KIND=RATE, e.g. http_429=0.05"))?;
    let kind = FaultKind::from_name(kind.trim()).ok_or_else(|| {
        let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
        format!(
            "unknown fault kind '{kind}'; use one of {}",
            names.join(", ")
        )
    })?;
    Ok((kind, fraction(rate)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn race_flags_parse() {
        let cli = Cli::try_parse_from([
            "llm-locust",
            "race",
            "r.yaml",
            "--no-tui",
            "--duration",
            "5",
            "--users",
            "3",
        ])
        .unwrap();
        let Command::Race(args) = cli.command else {
            panic!("not race")
        };
        assert!(args.no_tui);
        assert_eq!(args.duration, Some(5.0));
        assert_eq!(args.users, Some(3));
    }

    #[test]
    fn bad_sim_values_are_rejected_with_the_reason() {
        let err = Cli::try_parse_from(["llm-locust", "sim", "--jitter", "2"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("between 0 and 1"), "{err}");
        let err = Cli::try_parse_from(["llm-locust", "sim", "--fault", "boom=0.1"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown fault kind"), "{err}");
        for (flag, value) in [
            ("--done-delay-ms", "1e308"),
            ("--ttft-ms", "1e20"),
            ("--prefill-us-per-token", "1e300"),
        ] {
            let err = Cli::try_parse_from(["llm-locust", "sim", flag, value])
                .unwrap_err()
                .to_string();
            assert!(err.contains("more than"), "{flag}: {err}");
        }
        let err = Cli::try_parse_from(["llm-locust", "sim", "--quirk", "zero-usag"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown quirk"), "{err}");
    }
}
