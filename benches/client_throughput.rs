//! Client cost benchmark: how many streamed tokens per second the race
//! engine sustains against the simulator at zero latency, and how much of
//! this process's CPU time each token costs, at 1, 100 and 1,000 concurrent
//! streams. The simulator runs in a separate process (`llm-locust sim`) so
//! the CPU time measured here is the client's alone.
//!
//! Run: `cargo bench --bench client_throughput` (numbers go to
//! docs/PERFORMANCE.md by hand). Optional: `BENCH_SECS=10`,
//! `BENCH_STREAMS=1,100,1000`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use llm_locust::config::parse_race;
use llm_locust::engine;
use llm_locust::workload::PromptSet;
use tokio_util::sync::CancellationToken;

const OUTPUT_TOKENS: u32 = 512;

/// User + system CPU time of this process, from /proc (Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz: u64 = String::from_utf8(
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap_or(100);
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

/// The simulator, its URL, and its output, kept open while it runs (a
/// closed pipe would fail its later lines).
struct Simulator(
    Child,
    String,
    #[allow(dead_code)] BufReader<std::process::ChildStdout>,
);

impl Simulator {
    fn start() -> Simulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_llm-locust"))
            .args([
                "sim",
                "--port",
                "0",
                "--ttft-ms",
                "0",
                "--tpot-ms",
                "0",
                "--jitter",
                "0",
                "--prefill-us-per-token",
                "0",
                "--capacity",
                "100000",
                "--output-tokens",
            ])
            .arg(OUTPUT_TOKENS.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start llm-locust sim");
        let mut first = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
        let url = first.split_whitespace().last().unwrap().to_owned();
        Simulator(child, url, out)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let sim = Simulator::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| concurrent streams | streamed tokens/s | client CPU per token | client CPU used | requests |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let streams: Vec<u32> = std::env::var("BENCH_STREAMS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 100, 1000]);
    for users in streams {
        let yaml = format!(
            "race:\n  name: bench\n  countdown_s: 0\n  duration: {secs}\n  users: {users}\n  spawn_rate: 100000\n  finish: {{grace_s: 5}}\n  engines:\n    - name: sim\n      url: {}\n      model: sim\n      max_tokens: {OUTPUT_TOKENS}\n      timeout_s: 60\n",
            sim.1
        );
        let spec = parse_race(&yaml, Path::new("bench.yaml")).expect("valid bench race");
        let prompts =
            PromptSet::from_prompts(vec!["Benchmark prompt: count to a thousand.".into()], 1);
        let (tokens, ok, wall, cpu) = runtime.block_on(async {
            let cpu_before = cpu_time();
            let started = Instant::now();
            let race = engine::start(
                &spec,
                prompts,
                Vec::new(),
                CancellationToken::new(),
                CancellationToken::new(),
            )
            .await
            .unwrap();
            let outcome = race.finish().await.unwrap();
            let lane = &outcome.snapshot.lanes[0];
            (
                lane.output_tokens,
                lane.requests_ok,
                started.elapsed(),
                cpu_time() - cpu_before,
            )
        });
        let per_token_us = cpu.as_secs_f64() * 1e6 / tokens.max(1) as f64;
        println!(
            "| {users} | {:.0} | {per_token_us:.2} µs | {:.2} s of {:.2} s | {ok} |",
            tokens as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64(),
            wall.as_secs_f64()
        );
    }
}
