//! Client cost benchmark, two parts, each against the simulator in a
//! separate process (`llm-locust sim`), so the CPU time and memory measured
//! here are the client's alone:
//!
//! 1. Throughput: a zero-latency simulator, 512 tokens per request, one
//!    token per SSE event, closed loop, at 1, 32, 256 and 1,000 concurrent
//!    streams: streamed tokens per second, client CPU per token, peak RSS.
//! 2. Scale: 10,000 concurrent streams against a slow simulator (2 s to
//!    the first token, then a token every 200 ms, no jitter): peak RSS, and
//!    the timing error. The simulator runs with `--stamp-tokens`: each
//!    token's text is when it really went out (µs from the request's
//!    arrival), so every TTFT, inter-token gap and TPOT the client measured
//!    is compared with what the server did, token by token. The table also
//!    gives how late the simulator itself was against its schedule, and the
//!    plain "measured p99 − configured" that mixes the two.
//! 3. Floor: the same users against the same simulator with a bare hyper
//!    HTTP/1 client that only splits events, decodes each chunk's text and
//!    timestamps it (`BENCH_FLOOR=0` skips it): what any client on this
//!    HTTP stack pays per unbatched token on this machine, and the timing
//!    error it gets.
//!
//! Run: `cargo bench --bench client_throughput` (numbers go to
//! docs/PERFORMANCE.md by hand). Optional: `BENCH_SECS=10`,
//! `BENCH_STREAMS=1,32,256,1000`, `BENCH_SCALE_STREAMS=10000` (0: skip),
//! `BENCH_SCALE_SECS=20`, `BENCH_FLOOR=0`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use llm_locust::config::parse_race;
use llm_locust::engine::{self, RaceEvent, RecordSink};
use llm_locust::metrics::RequestRecord;
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

/// Peak resident memory of this process so far (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The simulator, its URL, and its output, kept open while it runs (a
/// closed pipe would fail its later lines).
struct Simulator(
    Child,
    String,
    #[allow(dead_code)] BufReader<std::process::ChildStdout>,
);

impl Simulator {
    fn start(ttft_ms: u32, tpot_ms: u32, output_tokens: u32, stamp_tokens: bool) -> Simulator {
        let mut command = Command::new(env!("CARGO_BIN_EXE_llm-locust"));
        command.arg("sim");
        if stamp_tokens {
            command.arg("--stamp-tokens");
        }
        let mut child = command
            .args(["--port", "0", "--ttft-ms"])
            .arg(ttft_ms.to_string())
            .arg("--tpot-ms")
            .arg(tpot_ms.to_string())
            .args([
                "--jitter",
                "0",
                "--prefill-us-per-token",
                "0",
                "--capacity",
                "100000",
                "--output-tokens",
            ])
            .arg(output_tokens.to_string())
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

/// Absolute differences in µs, to three significant figures.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap()
}

fn record_abs(h: &mut Histogram<u64>, us: i64) {
    h.saturating_record(us.unsigned_abs().max(1));
}

/// The client's timing error against a simulator that stamps its tokens
/// with their send time, and the simulator's own lateness against its
/// schedule (`ttft` to the first token, then one token every `tpot`).
struct TimingError {
    ttft_us: i64,
    tpot_us: i64,
    ttft: Histogram<u64>,
    itl: Histogram<u64>,
    tpot: Histogram<u64>,
    sim_first_late: Histogram<u64>,
    sim_later_late: Histogram<u64>,
    /// Successes whose stamps could not be matched to their chunks.
    unmatched: u64,
}

impl TimingError {
    fn new(ttft_ms: u32, tpot_ms: u32) -> TimingError {
        TimingError {
            ttft_us: i64::from(ttft_ms) * 1000,
            tpot_us: i64::from(tpot_ms) * 1000,
            ttft: histogram(),
            itl: histogram(),
            tpot: histogram(),
            sim_first_late: histogram(),
            sim_later_late: histogram(),
            unmatched: 0,
        }
    }

    /// One request: `seen[i]` is when the client saw token `i`, `stamps[i]`
    /// when the simulator sent it, both in µs from the request's start
    /// (the client's scheduled start, the simulator's arrival).
    fn add(&mut self, seen: &[i64], stamps: &[i64]) {
        if seen.is_empty() || seen.len() != stamps.len() {
            self.unmatched += 1;
            return;
        }
        record_abs(&mut self.ttft, seen[0] - stamps[0]);
        record_abs(&mut self.sim_first_late, stamps[0] - self.ttft_us);
        for i in 1..stamps.len() {
            record_abs(
                &mut self.itl,
                (seen[i] - seen[i - 1]) - (stamps[i] - stamps[i - 1]),
            );
            let due = self.ttft_us + self.tpot_us * i as i64;
            record_abs(&mut self.sim_later_late, stamps[i] - due);
        }
        let n = stamps.len() - 1;
        if n > 0 {
            let measured = seen[n] - seen[0];
            record_abs(
                &mut self.tpot,
                (measured - (stamps[n] - stamps[0])) / n as i64,
            );
        }
    }

    fn add_record(&mut self, record: &RequestRecord) {
        let stamps: Vec<i64> = record
            .output_text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        let seen: Vec<i64> = record
            .chunk_times
            .iter()
            .map(|t| micros(t.saturating_sub(record.scheduled_at)))
            .collect();
        self.add(&seen, &stamps);
    }

    /// The timing table; `mixed` is "measured p99 − configured" for TTFT,
    /// ITL and TPOT, when the client gives its own percentiles.
    fn print(&self, title: &str, mixed: Option<[f64; 3]>) {
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        println!();
        println!(
            "| {title} | client error p50 | client error p99 | client error max | simulator late p99 | measured p99 − configured |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        let rows = [
            ("TTFT", &self.ttft, Some(&self.sim_first_late)),
            ("ITL", &self.itl, Some(&self.sim_later_late)),
            ("TPOT", &self.tpot, None),
        ];
        for (i, (name, error, late)) in rows.into_iter().enumerate() {
            let late = late.map_or_else(|| "—".to_owned(), |h| format!("{:.2} ms", ms(h, 0.99)));
            let mixed = mixed.map_or_else(|| "—".to_owned(), |m| format!("{:.2} ms", m[i]));
            println!(
                "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {late} | {mixed} |",
                ms(error, 0.5),
                ms(error, 0.99),
                ms(error, 1.0),
            );
        }
        println!(
            "({} requests compared, {} unmatched)",
            self.ttft.len(),
            self.unmatched
        );
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Hands every success to the shared [`TimingError`].
struct TimingSink(Arc<Mutex<TimingError>>);

impl RecordSink for TimingSink {
    fn event(&mut self, _at: Duration, event: &RaceEvent) {
        if let RaceEvent::Finished(record) = event
            && record.is_ok()
        {
            self.0.lock().unwrap().add_record(record);
        }
    }
}

/// The floor on this machine: a bare HTTP/1 client on hyper (what reqwest
/// runs on), one connection per user, that does only what timing needs —
/// split SSE events, decode the chunk's text, timestamp it — and keeps no
/// metrics. The same users, simulator and comparison as llm-locust's run.
mod bare {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::client::conn::http1;
    use hyper_util::rt::TokioIo;
    use serde::Deserialize;
    use tokio::net::TcpStream;

    use super::{TimingError, cpu_time, micros};

    #[derive(Deserialize)]
    struct Chunk<'a> {
        #[serde(borrow)]
        choices: Vec<Choice<'a>>,
    }

    #[derive(Deserialize)]
    struct Choice<'a> {
        #[serde(borrow)]
        delta: Option<Delta<'a>>,
    }

    #[derive(Deserialize)]
    struct Delta<'a> {
        #[serde(borrow)]
        content: Option<std::borrow::Cow<'a, str>>,
    }

    pub struct Floor {
        pub tokens: u64,
        pub wall: Duration,
        pub cpu: Duration,
        pub timing: TimingError,
    }

    /// One request's tokens: when each was seen (µs from the send) and its
    /// stamp; `None` when the request or its body failed.
    async fn stream(
        sender: &mut http1::SendRequest<Full<Bytes>>,
        host: &str,
    ) -> Option<(Vec<i64>, Vec<i64>)> {
        let body = r#"{"model":"sim","messages":[{"role":"user","content":"Benchmark prompt."}],"stream":true}"#;
        let request = http::Request::post("/v1/chat/completions")
            .header(http::header::HOST, host)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        let sent = Instant::now();
        let (mut seen, mut stamps) = (Vec::new(), Vec::new());
        let response = sender.send_request(request).await.ok()?;
        let mut body = response.into_body();
        let mut pending = Vec::<u8>::new();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.ok()?.into_data() else {
                continue;
            };
            let now = micros(sent.elapsed());
            pending.extend_from_slice(&data);
            while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = pending.drain(..end + 2).collect();
                let Some(json) = event[..end].strip_prefix(b"data: ") else {
                    continue;
                };
                let Ok(chunk) = serde_json::from_slice::<Chunk>(json) else {
                    continue;
                };
                let stamp = chunk
                    .choices
                    .first()
                    .and_then(|c| c.delta.as_ref())
                    .and_then(|d| d.content.as_deref())
                    .and_then(|text| text.trim().parse().ok());
                if let Some(stamp) = stamp {
                    seen.push(now);
                    stamps.push(stamp);
                }
            }
        }
        Some((seen, stamps))
    }

    async fn user(host: String, until: Instant, timing: Arc<Mutex<TimingError>>) -> u64 {
        let Ok(tcp) = TcpStream::connect(&host).await else {
            return 0;
        };
        let _ = tcp.set_nodelay(true);
        let Ok((mut sender, connection)) = http1::handshake(TokioIo::new(tcp)).await else {
            return 0;
        };
        tokio::spawn(connection);
        let mut tokens = 0;
        while Instant::now() < until {
            // The connection takes the next request only once the last is done.
            if sender.ready().await.is_err() {
                break;
            }
            let Some((seen, stamps)) = stream(&mut sender, &host).await else {
                // Not compared (llm-locust's run compares successes only),
                // but counted with the unmatched so that it shows.
                timing.lock().unwrap().unmatched += 1;
                break;
            };
            tokens += seen.len() as u64;
            timing.lock().unwrap().add(&seen, &stamps);
        }
        tokens
    }

    /// `users` closed-loop users joining over 5 s, sending for `secs`.
    pub fn race(
        runtime: &tokio::runtime::Runtime,
        url: &str,
        users: u32,
        secs: f64,
        timing: TimingError,
    ) -> Floor {
        let host = url.trim_start_matches("http://").to_owned();
        let timing = Arc::new(Mutex::new(timing));
        runtime.block_on(async {
            let cpu_before = cpu_time();
            let started = Instant::now();
            let until = started + Duration::from_secs_f64(secs);
            let mut handles = Vec::new();
            for i in 0..users {
                let join = Duration::from_secs(5).mul_f64(f64::from(i) / f64::from(users));
                tokio::time::sleep_until((started + join).into()).await;
                handles.push(tokio::spawn(user(host.clone(), until, Arc::clone(&timing))));
            }
            let mut tokens = 0;
            for handle in handles {
                tokens += handle.await.unwrap_or(0);
            }
            let wall = started.elapsed();
            let cpu = cpu_time() - cpu_before;
            let timing = Arc::try_unwrap(timing)
                .ok()
                .expect("every user has ended")
                .into_inner()
                .unwrap();
            Floor {
                tokens,
                wall,
                cpu,
                timing,
            }
        })
    }
}

/// What one closed-loop race of `users` streams against `url` measured.
struct Measured {
    tokens: u64,
    ok: u64,
    wall: Duration,
    cpu: Duration,
    ttft_p99: Duration,
    tpot_p99: Duration,
    itl_p99: Duration,
}

fn race(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    users: u32,
    secs: f64,
    spawn_rate: u32,
    output_tokens: u32,
    sinks: Vec<Box<dyn RecordSink>>,
) -> Measured {
    let yaml = format!(
        "race:\n  name: bench\n  countdown_s: 0\n  duration: {secs}\n  users: {users}\n  spawn_rate: {spawn_rate}\n  finish: {{grace_s: 10}}\n  engines:\n    - name: sim\n      url: {url}\n      model: sim\n      max_tokens: {output_tokens}\n      timeout_s: 120\n"
    );
    let spec = parse_race(&yaml, Path::new("bench.yaml")).expect("valid bench race");
    let prompts = PromptSet::from_prompts(vec!["Benchmark prompt: count to a thousand.".into()], 1);
    runtime.block_on(async {
        let cpu_before = cpu_time();
        let started = Instant::now();
        let race = engine::start(
            &spec,
            prompts,
            sinks,
            CancellationToken::new(),
            CancellationToken::new(),
        )
        .await
        .unwrap();
        let outcome = race.finish().await.unwrap();
        let lane = &outcome.snapshot.lanes[0];
        Measured {
            tokens: lane.counts.output_tokens,
            ok: lane.counts.ok,
            wall: started.elapsed(),
            cpu: cpu_time() - cpu_before,
            ttft_p99: lane.latencies.ttft.p99,
            tpot_p99: lane.latencies.tpot.p99,
            itl_p99: lane.latencies.itl.p99,
        }
    })
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let secs: f64 = env_or("BENCH_SECS", 5.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let streams: Vec<u32> = std::env::var("BENCH_STREAMS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 32, 256, 1000]);
    {
        let sim = Simulator::start(0, 0, OUTPUT_TOKENS, false);
        println!(
            "| concurrent streams | streamed tokens/s | client CPU per token | client CPU used | requests | peak RSS |"
        );
        println!("|---:|---:|---:|---:|---:|---:|");
        for users in streams {
            let m = race(
                &runtime,
                &sim.1,
                users,
                secs,
                100_000,
                OUTPUT_TOKENS,
                Vec::new(),
            );
            println!(
                "| {users} | {:.0} | {:.2} µs | {:.2} s of {:.2} s | {} | {:.0} MB |",
                m.tokens as f64 / m.wall.as_secs_f64(),
                m.cpu.as_secs_f64() * 1e6 / m.tokens.max(1) as f64,
                m.cpu.as_secs_f64(),
                m.wall.as_secs_f64(),
                m.ok,
                peak_rss_mb()
            );
        }
    }
    let scale: u32 = env_or("BENCH_SCALE_STREAMS", 10_000);
    if scale == 0 {
        return;
    }
    // 2 s to the first token, then 200 ms per token, 32 tokens: each request
    // takes 8.2 s, so a user runs two or three in the race, and the 50,000
    // tokens/s leave this 2-core machine (client and simulator) room.
    let (ttft_ms, tpot_ms, tokens) = (2000, 200, 32);
    let scale_secs: f64 = env_or("BENCH_SCALE_SECS", 20.0);
    let sim = Simulator::start(ttft_ms, tpot_ms, tokens, true);
    let timing = Arc::new(Mutex::new(TimingError::new(ttft_ms, tpot_ms)));
    // Users join over 5 s, as a real ramp would, not in one instant.
    let m = race(
        &runtime,
        &sim.1,
        scale,
        scale_secs,
        scale / 5,
        tokens,
        vec![Box::new(TimingSink(Arc::clone(&timing)))],
    );
    let over = |measured: Duration, exact_ms: u32| {
        (measured.as_secs_f64() * 1000.0 - f64::from(exact_ms)).max(0.0)
    };
    println!();
    println!(
        "| concurrent streams (slow server) | requests | streamed tokens/s | client CPU per token | peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {scale} | {} | {:.0} | {:.2} µs | {:.0} MB |",
        m.ok,
        m.tokens as f64 / m.wall.as_secs_f64(),
        m.cpu.as_secs_f64() * 1e6 / m.tokens.max(1) as f64,
        peak_rss_mb(),
    );
    timing.lock().unwrap().print(
        &format!("timing at {scale} streams"),
        Some([
            over(m.ttft_p99, ttft_ms),
            over(m.itl_p99, tpot_ms),
            over(m.tpot_p99, tpot_ms),
        ]),
    );
    if env_or("BENCH_FLOOR", 1) == 0 {
        return;
    }
    let floor = bare::race(
        &runtime,
        &sim.1,
        scale,
        scale_secs,
        TimingError::new(ttft_ms, tpot_ms),
    );
    println!();
    println!(
        "bare hyper client, same streams and simulator: {:.0} tokens/s, {:.2} µs CPU per token",
        floor.tokens as f64 / floor.wall.as_secs_f64(),
        floor.cpu.as_secs_f64() * 1e6 / floor.tokens.max(1) as f64,
    );
    floor
        .timing
        .print(&format!("bare hyper at {scale} streams"), None);
}
