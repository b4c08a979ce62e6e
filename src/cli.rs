//! The command line (clap derive). Parsing only; `app` acts on it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::SimSpec;
use crate::config::file::SimulateFile;

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
    /// Run a race: of the engines a race config (YAML) describes, or of the
    /// servers at the URLs given
    #[command(after_help = RACE_EXAMPLES)]
    Race(RaceArgs),
    /// Serve the built-in simulated OpenAI-compatible endpoint until Ctrl-C
    Sim(SimArgs),
    /// Check a race config: exit 0 with a summary, or 2 with every problem
    Validate {
        /// The race config (YAML)
        file: PathBuf,
        /// Also check that the race can run as shard I of N (`race --shard`)
        /// and say what that shard runs
        #[arg(long, value_name = "I/N", value_parser = shard)]
        shard: Option<crate::config::Shard>,
    },
    /// Watch a saved race again, from the race.llmrace file in its output folder
    Replay(ReplayArgs),
    /// Write the reports again from a race.llmrace file: report.html,
    /// report.md, summary.json and the per-request CSVs (and junit.xml on request)
    Report {
        /// The race recording (race.llmrace)
        file: PathBuf,
        /// Folder to write into (default: a `report` folder beside the file)
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
        /// Which reports, comma-separated: html, md, json, csv, junit
        /// (default: html,md,json,csv)
        #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = report_format)]
        format: Vec<crate::report::Format>,
    },
    /// Join the race recordings of a sharded race's shards (`race --shard I/N`)
    /// into the race recording of the whole race, for `report`, `replay` and
    /// `compare`: every shard's events on the common start signal
    Merge {
        /// The merged race recording to write (e.g. merged.llmrace)
        output: PathBuf,
        /// The shards' race recordings (race-shard-I-of-N.llmrace), all N of them
        /// (a missing shard gives a partial race, with a warning)
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
    /// Compare two races per engine (matched by name): every headline
    /// figure's change and whether it got better or worse; exit 1 when a
    /// gated metric got worse than allowed
    Compare {
        /// The race to compare against: its race.llmrace or summary.json
        baseline: PathBuf,
        /// The race to judge: its race.llmrace or summary.json
        current: PathBuf,
        /// Fail (exit 1) when METRIC got more than PCT percent worse on any
        /// engine, e.g. ttft_p99=10% (repeatable; metrics: ttft_p50,
        /// ttft_p99, ttfot_p99, tpot_p50, tpot_p99, itl_p99, e2e_p50,
        /// e2e_p99, rps, output_tokens_per_s, total_tokens_per_s,
        /// goodput_rps, success_rate, cost_per_1m_output)
        #[arg(long, value_name = "METRIC=PCT")]
        max_regression: Vec<String>,
        /// Fail (exit 1) also when a gate is inconclusive: the figures' 95 %
        /// intervals allow a change within the gate and one beyond it
        /// (without, such a gate warns and passes)
        #[arg(long)]
        strict: bool,
        /// Write compare.md and compare.html into this folder
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
    /// Print a shell completion script, e.g. `llm-locust completions bash >
    /// ~/.local/share/bash-completion/completions/llm-locust`
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of race configs (for editors; also
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
    #[arg(long, allow_negative_numbers = true, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub fps: u32,
    /// Leave the TUI as soon as the race ends instead of waiting for q
    #[arg(long)]
    pub exit_on_finish: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The race recording (race.llmrace)
    pub file: PathBuf,
    /// No TUI: replay as fast as possible and print the final leaderboard
    #[arg(long)]
    pub no_tui: bool,
    /// Playback speed: 0.25, 0.5, 1, 2, 4, 8 or 16 (`+`/`-` change it)
    #[arg(long, allow_negative_numbers = true, default_value_t = 1.0, value_parser = speed)]
    pub speed: f64,
    #[command(flatten)]
    pub tui: TuiArgs,
}

#[derive(Debug, Args)]
pub struct RaceArgs {
    /// A race config (YAML), or the base URLs of the servers to race
    /// (each its own engine, the rest from the flags below)
    #[arg(required = true, value_name = "RACE_FILE|URL")]
    pub targets: Vec<String>,
    /// Run headless: progress lines on stderr, leaderboard on stdout (for CI)
    #[arg(long)]
    pub no_tui: bool,
    /// Race duration in seconds (overrides the file's duration)
    #[arg(long, allow_negative_numbers = true, value_name = "SECS", value_parser = positive_f64)]
    pub duration: Option<f64>,
    /// Concurrent users per engine (load mode users)
    #[arg(long, allow_negative_numbers = true, value_name = "N", value_parser = at_least_one)]
    pub users: Option<u32>,
    /// Seed for the prompt order and arrival times
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub seed: Option<u64>,
    /// Countdown before the start, in seconds (overrides countdown_s)
    #[arg(long, allow_negative_numbers = true, value_name = "SECS", value_parser = non_negative_f64)]
    pub countdown: Option<f64>,
    /// Dataset instead of the race config's: demo, sharegpt, dolly, billsum,
    /// synthetic, <name>-sample, or a path to a JSONL, JSON, Parquet or text file.
    #[arg(long, value_name = "NAME|PATH")]
    pub dataset: Option<String>,
    /// Folder for results (overrides output_dir)
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Write no files
    #[arg(long)]
    pub no_save: bool,
    /// Also write junit.xml: a test case per engine × SLO, for CI
    #[arg(long)]
    pub junit: bool,
    /// Give the start signal at this wall-clock time instead of after the
    /// countdown, so shards on different machines start together: RFC 3339
    /// (2026-12-01T15:00:00Z) or Unix seconds
    #[arg(long, value_name = "TIME", value_parser = start_time)]
    pub start_at: Option<std::time::SystemTime>,
    /// Accept a --start-at more than a day ahead or an hour past (refused
    /// otherwise, as it is most often a wrong date or time zone)
    #[arg(long, requires = "start_at")]
    pub allow_far_start: bool,
    /// Run shard I of N (I from 0, as Kubernetes' JOB_COMPLETION_INDEX):
    /// user, arrival and request k are shard k mod N's, finish lines are
    /// split, and `llm-locust merge` joins the shards' race recordings into the
    /// whole race. Give every shard the same --start-at
    #[arg(long, value_name = "I/N", value_parser = shard)]
    pub shard: Option<crate::config::Shard>,
    /// Serve live figures at http://HOST:PORT/metrics in the Prometheus
    /// text format while the race runs: a PORT alone listens on loopback
    /// (127.0.0.1:PORT); give 0.0.0.0:PORT to be scraped from elsewhere
    /// (port 0: any free one)
    #[arg(long, value_name = "[HOST:]PORT", value_parser = metrics_addr)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Race every engine against a built-in simulator instead of its
    /// server (engines keep their names; no server, key or download needed:
    /// uncached hub datasets become their shipped samples, uncached hub
    /// tokenizers are dropped)
    #[arg(long)]
    pub simulate: bool,
    #[command(flatten)]
    pub tui: TuiArgs,
    #[command(flatten)]
    pub quick: QuickArgs,
}

/// `race --help`'s examples: the two forms.
const RACE_EXAMPLES: &str = "Examples:
  A race file:      llm-locust race races/demo.yaml
  Servers by URL:   llm-locust race http://localhost:8000 http://localhost:8001 --users 8 --duration 30
                    (the model is each server's first in GET /v1/models unless --model names it;
                    --write-race quick.yaml saves the race the flags describe as a race file)";

/// The flags of a race of URLs (`race URL...`): what a race file would
/// say. Those marked "per URL" take one value for every URL, or one each.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "A race of URLs")]
pub struct QuickArgs {
    /// The model to ask for, per URL (default: the first id in the
    /// server's GET /v1/models)
    #[arg(long, value_name = "MODEL")]
    pub model: Vec<String>,
    /// The API, per URL: chat, completions, responses, anthropic or
    /// embeddings
    /// (default: chat, or what the URL's path ends in)
    #[arg(long, value_name = "API")]
    pub endpoint: Vec<String>,
    /// The name of the environment variable holding the API key, per URL
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Vec<String>,
    /// The engine's name, per URL (default: host-port, made unique)
    #[arg(long, value_name = "NAME")]
    pub name: Vec<String>,
    /// Open loop: requests a second per engine, at a constant rate
    /// (instead of --users)
    #[arg(long, allow_negative_numbers = true, value_name = "PER_S", value_parser = positive_f64, conflicts_with = "users")]
    pub rate: Option<f64>,
    /// Finish once each engine has answered this many requests
    #[arg(long, allow_negative_numbers = true, value_name = "N", value_parser = at_least_one)]
    pub requests: Option<u32>,
    /// Prompts of about this many tokens (synthetic unless --dataset)
    #[arg(long, allow_negative_numbers = true, value_name = "N", value_parser = at_least_one)]
    pub input_tokens: Option<u32>,
    /// Answers of this many tokens (max_tokens of every request)
    #[arg(long, allow_negative_numbers = true, value_name = "N", value_parser = at_least_one)]
    pub output_tokens: Option<u32>,
    /// Also write the race the flags describe to FILE, a race file that
    /// runs the same race again
    #[arg(long, value_name = "FILE")]
    pub write_race: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one)
    #[arg(long, allow_negative_numbers = true, default_value_t = 8000)]
    pub port: u16,
    // The values are checked, and absent ones defaulted, as a race config's
    // `simulate:` is (`config::validate::sim_flags`); the defaults shown in
    // --help are the simulator's own.
    /// Base time to first token, before prefill and queueing
    #[arg(long, allow_negative_numbers = true, value_parser = number, default_value_t = sim_ms(SimSpec::default().ttft))]
    pub ttft_ms: f64,
    /// Time per output token
    #[arg(long, allow_negative_numbers = true, value_parser = number, default_value_t = sim_ms(SimSpec::default().tpot))]
    pub tpot_ms: f64,
    /// Relative jitter of every delay (0.1 = ±10 %)
    #[arg(long, allow_negative_numbers = true, value_parser = number, default_value_t = SimSpec::default().jitter)]
    pub jitter: f64,
    /// Prefill time per input token, in microseconds
    #[arg(long, allow_negative_numbers = true, value_parser = number,
          default_value_t = sim_us(SimSpec::default().prefill_per_token))]
    pub prefill_us_per_token: f64,
    /// Fixed output length (default: each request's max_tokens)
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub output_tokens: Option<i64>,
    /// Requests served at once; more wait in a queue
    #[arg(long, allow_negative_numbers = true, default_value_t = i64::from(SimSpec::default().capacity))]
    pub capacity: i64,
    /// Requests that may wait for a slot; more get HTTP 429 at once
    /// (default: no limit)
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub max_queue: Option<i64>,
    /// Probability of a fault per request, spread over every fault kind
    #[arg(long, allow_negative_numbers = true, value_parser = number, default_value_t = SimSpec::default().error_rate)]
    pub error_rate: f64,
    /// Probability of one fault kind, e.g. --fault http_429=0.05 (repeatable;
    /// kinds: http_429, http_500, http_503, reset, stall, malformed,
    /// stream_error, event_error, early_end)
    #[arg(long = "fault", value_name = "KIND=RATE", value_parser = fault)]
    pub faults: Vec<(String, f64)>,
    /// The first N output tokens of each answer are reasoning tokens
    #[arg(long, allow_negative_numbers = true, value_name = "N", default_value_t = i64::from(SimSpec::default().reasoning_tokens))]
    pub reasoning_tokens: i64,
    /// Pause between the last token and the usage report and [DONE]
    #[arg(long, allow_negative_numbers = true, value_parser = number, default_value_t = sim_ms(SimSpec::default().done_delay))]
    pub done_delay_ms: f64,
    /// Stream like a real server or proxy does (repeatable): zero_usage,
    /// both_reasoning_names, empty_answer, empty_finish_reason,
    /// no_final_newline, tool_calls, usage_in_finish_chunk,
    /// usage_with_empty_delta, nulls, no_usage, no_finish_reason,
    /// close_after_stream
    #[arg(long = "quirk", value_name = "NAME")]
    pub quirks: Vec<String>,
    /// Close a connection that has carried no request for this long, as
    /// nginx's keepalive_timeout does (default: never)
    #[arg(long, allow_negative_numbers = true, value_name = "MS", value_parser = number)]
    pub idle_timeout_ms: Option<f64>,
    /// Keep a prefix cache of this many prompt tokens (LRU over 16-token
    /// blocks): prefill costs only the uncached tokens, and usage reports
    /// prompt_tokens_details.cached_tokens (default: no cache)
    #[arg(long, allow_negative_numbers = true, value_name = "TOKENS")]
    pub prefix_cache_tokens: Option<i64>,
    /// Seed for jitter, output text and faults
    #[arg(long, allow_negative_numbers = true, default_value_t = SimSpec::default().seed)]
    pub seed: u64,
    /// Each streamed token's text is the microseconds from the request's
    /// arrival to the token's send, to check a client's timings against
    /// (streamed answers only: a whole answer has no per-token times)
    #[arg(long)]
    pub stamp_tokens: bool,
}

impl SimArgs {
    /// The flags as a race config's `simulate:` section, to be checked by the
    /// same rules.
    #[must_use]
    pub fn simulate(&self) -> SimulateFile {
        SimulateFile {
            ttft_ms: Some(self.ttft_ms),
            tpot_ms: Some(self.tpot_ms),
            jitter: Some(self.jitter),
            prefill_us_per_token: Some(self.prefill_us_per_token),
            output_tokens: self.output_tokens,
            capacity: Some(self.capacity),
            max_queue: self.max_queue,
            error_rate: Some(self.error_rate),
            faults: Some(self.faults.iter().cloned().collect()),
            stall_s: None,
            seed: Some(self.seed),
            reasoning_tokens: Some(self.reasoning_tokens),
            done_delay_ms: Some(self.done_delay_ms),
            quirks: Some(self.quirks.clone()),
            idle_timeout_ms: self.idle_timeout_ms,
            prefix_cache_tokens: self.prefix_cache_tokens,
        }
    }
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

/// `--start-at`: RFC 3339, or seconds since the Unix epoch.
fn start_time(s: &str) -> Result<std::time::SystemTime, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&chrono::Utc).into());
    }
    match s.trim().parse::<f64>() {
        Ok(secs) if (0.0..1e11).contains(&secs) => {
            Ok(std::time::UNIX_EPOCH + Duration::from_secs_f64(secs))
        }
        _ => Err(format!(
            "'{s}' is not a time; give RFC 3339 (2026-12-01T15:00:00Z) or Unix seconds"
        )),
    }
}

/// `HOST:PORT`, or a port alone on loopback.
fn metrics_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    let s = s.trim();
    if let Ok(port) = s.parse::<u16>() {
        return Ok(std::net::SocketAddr::from((
            std::net::Ipv4Addr::LOCALHOST,
            port,
        )));
    }
    s.parse().map_err(|_| {
        format!(
            "'{s}' is not an address; give a port (9464, on loopback) or HOST:PORT (0.0.0.0:9464)"
        )
    })
}

fn shard(s: &str) -> Result<crate::config::Shard, String> {
    crate::config::Shard::parse(s)
}

/// A whole number of at least 1.
fn at_least_one(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n >= 1 => u32::try_from(n).map_err(|_| format!("'{s}' is too large")),
        Ok(_) => Err(format!("'{s}' must be at least 1")),
        Err(_) => Err(format!("'{s}' is not a whole number")),
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

#[allow(clippy::cast_precision_loss)] // the defaults are a few ms
fn sim_ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

#[allow(clippy::cast_precision_loss)]
fn sim_us(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1000.0
}

/// `KIND=RATE`; the kind and the rate are checked with the file's rules.
fn fault(s: &str) -> Result<(String, f64), String> {
    let (kind, rate) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not KIND=RATE, e.g. http_429=0.05"))?;
    Ok((kind.trim().to_owned(), number(rate)?))
}

fn report_format(s: &str) -> Result<crate::report::Format, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn a_metrics_port_alone_listens_on_loopback() {
        assert_eq!(metrics_addr("9464"), Ok("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(
            metrics_addr("0.0.0.0:9464"),
            Ok("0.0.0.0:9464".parse().unwrap())
        );
        assert_eq!(metrics_addr("[::1]:0"), Ok("[::1]:0".parse().unwrap()));
        let e = metrics_addr("localhost").unwrap_err();
        assert!(e.contains("'localhost'") && e.contains("HOST:PORT"), "{e}");
    }

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
        assert!(!args.simulate);
        let cli = Cli::try_parse_from(["llm-locust", "race", "r.yaml", "--simulate"]).unwrap();
        let Command::Race(args) = cli.command else {
            panic!("not race")
        };
        assert!(args.simulate);
    }

    #[test]
    fn compare_takes_two_files_and_repeated_gates() {
        let cli = Cli::try_parse_from([
            "llm-locust",
            "compare",
            "a/race.llmrace",
            "b/summary.json",
            "--max-regression",
            "ttft_p99=10%",
            "--max-regression",
            "rps=5",
            "--output-dir",
            "out",
        ])
        .unwrap();
        let Command::Compare {
            baseline,
            current,
            max_regression,
            output_dir,
            strict,
        } = cli.command
        else {
            panic!("not compare")
        };
        assert_eq!(baseline, PathBuf::from("a/race.llmrace"));
        assert_eq!(current, PathBuf::from("b/summary.json"));
        assert_eq!(max_regression, ["ttft_p99=10%", "rps=5"]);
        assert_eq!(output_dir, Some(PathBuf::from("out")));
        assert!(!strict);
    }

    #[test]
    fn compare_help_lists_every_gate_metric() {
        let help = Cli::command()
            .find_subcommand_mut("compare")
            .unwrap()
            .render_long_help()
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for m in crate::report::compare::Metric::ALL {
            assert!(
                help.contains(m.name()),
                "{} missing from:\n{help}",
                m.name()
            );
        }
    }

    /// The problem `llm-locust sim` reports for these flags.
    fn sim_problem(flags: &[&str]) -> String {
        let mut argv = vec!["llm-locust", "sim"];
        argv.extend(flags);
        let Command::Sim(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("not sim")
        };
        crate::config::validate::sim_flags(args.simulate())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_sim_values_are_rejected_with_the_flag_and_the_reason() {
        assert_eq!(
            sim_problem(&["--jitter", "2"]),
            "--jitter: must be between 0 and 1, got '2'"
        );
        assert!(
            sim_problem(&["--fault", "boom=0.1"]).starts_with("--fault boom: unknown fault kind")
        );
        assert!(
            sim_problem(&["--quirk", "zero-usag"])
                .starts_with("--quirk: unknown quirk 'zero-usag'; did you mean 'zero_usage'?")
        );
        assert!(sim_problem(&["--capacity", "0"]).starts_with("--capacity: must be at least 1"));
        assert!(
            sim_problem(&["--error-rate", "0.6", "--fault", "reset=0.6"])
                .starts_with("--fault: error_rate and faults add up to 1.2")
        );
        for flag in ["--done-delay-ms", "--ttft-ms", "--prefill-us-per-token"] {
            let problem = sim_problem(&[flag, "1e300"]);
            assert!(
                problem.starts_with(&format!("{flag}: '1e300' is too long")),
                "{problem}"
            );
        }
        let err = Cli::try_parse_from(["llm-locust", "sim", "--ttft-ms", "nan"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a finite number"), "{err}");
    }

    #[test]
    fn sim_defaults_are_the_simulators() {
        let Command::Sim(args) = Cli::try_parse_from(["llm-locust", "sim"]).unwrap().command else {
            panic!("not sim")
        };
        let spec = crate::config::validate::sim_flags(args.simulate()).unwrap();
        assert_eq!(spec, SimSpec::default());
    }
}
