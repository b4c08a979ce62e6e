//! Shared helpers for the integration tests: run races in-process against
//! the built-in simulator (127.0.0.1 only) and collect every record.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm_locust::config::{self, EndpointKind, EngineSpec, EngineTarget, RaceSpec, SimSpec};
use llm_locust::engine::{self, RaceEvent, RaceOutcome, RecordSink};
use llm_locust::metrics::RequestRecord;
use llm_locust::sim;
use llm_locust::workload::PromptSet;
use tokio_util::sync::CancellationToken;

/// The real binary, run from the repository with colours off.
pub fn bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_llm-locust"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env("NO_COLOR", "1");
    // A test's race must not write into a CI run's own step summary.
    cmd.env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

/// Runs the binary with `args` to its end.
pub fn run_bin(args: &[&str]) -> std::process::Output {
    bin().args(args).output().unwrap()
}

/// The one race folder a race wrote into `out`.
pub fn race_dir(out: &Path) -> std::path::PathBuf {
    let dirs: Vec<std::path::PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// A race folder's `summary.json`.
pub fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// Keeps every finished record.
#[derive(Clone, Default)]
pub struct Collect(pub Arc<Mutex<Vec<RequestRecord>>>);

impl RecordSink for Collect {
    fn event(&mut self, _at: Duration, event: &RaceEvent) {
        if let RaceEvent::Finished(record) = event {
            self.0.lock().unwrap().push((**record).clone());
        }
    }
}

impl Collect {
    pub fn records(&self) -> Vec<RequestRecord> {
        self.0.lock().unwrap().clone()
    }
}

pub fn spec(yaml: &str) -> RaceSpec {
    match config::parse_race(yaml, Path::new("test.yaml")) {
        Ok(spec) => spec,
        Err(e) => panic!("test race file is invalid:\n{e}"),
    }
}

pub fn prompts() -> PromptSet {
    PromptSet::from_prompts(
        (0..16)
            .map(|i| format!("prompt number {i}: say something about the number {i}"))
            .collect(),
        7,
    )
}

/// Runs a race to its end (bounded by `limit`) and returns its outcome and records.
pub async fn run(spec: &RaceSpec, limit: Duration) -> (RaceOutcome, Vec<RequestRecord>) {
    run_with(spec, prompts(), limit).await
}

/// [`run`] on the given prompts.
pub async fn run_with(
    spec: &RaceSpec,
    prompts: PromptSet,
    limit: Duration,
) -> (RaceOutcome, Vec<RequestRecord>) {
    let collect = Collect::default();
    let running = engine::start(
        spec,
        prompts,
        vec![Box::new(collect.clone())],
        CancellationToken::new(),
        CancellationToken::new(),
    )
    .await
    .expect("race starts");
    let outcome = tokio::time::timeout(limit, running.finish())
        .await
        .expect("race ends within its time limit")
        .expect("race succeeds");
    (outcome, collect.records())
}

/// |measured − expected| within 3 % of expected or 1 ms, whichever is larger.
pub fn assert_close_ms(what: &str, measured: Duration, expected_ms: f64) {
    let got = measured.as_secs_f64() * 1000.0;
    let tolerance = (expected_ms * 0.03).max(1.0);
    assert!(
        (got - expected_ms).abs() <= tolerance,
        "{what}: measured {got:.3} ms, expected {expected_ms} ms ± {tolerance:.3}"
    );
}

/// A simulator on 127.0.0.1 at a free port.
pub async fn serve_sim(spec: SimSpec) -> sim::SimHandle {
    serve_sim_with(spec, sim::SimOptions::default()).await
}

/// [`serve_sim`] with the standalone simulator's options.
pub async fn serve_sim_with(spec: SimSpec, options: sim::SimOptions) -> sim::SimHandle {
    let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
    sim::serve_with(spec, options, addr, CancellationToken::new())
        .await
        .unwrap()
}

/// A chat engine at `url` with 8 output tokens and no extras.
pub fn engine_spec(url: &str, timeout: Duration) -> EngineSpec {
    EngineSpec {
        name: "t".into(),
        model: "m".into(),
        emoji: String::new(),
        color: llm_locust::config::color::parse_color("cyan").unwrap(),
        tokenizer: None,
        target: EngineTarget::Url(url.into()),
        endpoint: EndpointKind::Chat,
        api_key_env: None,
        headers: std::collections::BTreeMap::new(),
        max_tokens: Some(8),
        temperature: None,
        ignore_eos: false,
        count_reasoning: false,
        inputs_per_request: 1,
        timeout,
        pricing: None,
        reuse_connections: llm_locust::config::ReuseConnections::Auto,
        extra_body: serde_json::Map::new(),
        server_metrics: llm_locust::config::ServerMetricsSpec::default(),
    }
}

/// Serves one connection on 127.0.0.1: reads the request's head, writes what
/// `respond` makes of it, then keeps the connection open for `hold`.
/// Returns the chat completions URL.
pub async fn serve_one(
    respond: impl FnOnce(&str) -> String + Send + 'static,
    hold: Duration,
) -> String {
    use tokio::io::AsyncWriteExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let request = read_request_head(&mut socket).await;
        socket
            .write_all(respond(&request).as_bytes())
            .await
            .unwrap();
        tokio::time::sleep(hold).await;
    });
    url
}

/// Reads one HTTP request's head (and a small body in the same reads) from
/// a hand-written test server's socket.
pub async fn read_request_head(socket: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut buf = vec![0u8; 65536];
    let mut read = 0;
    while !String::from_utf8_lossy(&buf[..read]).contains("\r\n\r\n") {
        let n = socket.read(&mut buf[read..]).await.unwrap();
        if n == 0 {
            break;
        }
        read += n;
    }
    String::from_utf8_lossy(&buf[..read]).into_owned()
}

/// Runs `yaml` headless with the real binary, writing into a fresh folder;
/// returns the output and the folder the race wrote.
pub fn headless_race(yaml: &str) -> (std::process::Output, tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let race = tmp.path().join("race.yaml");
    std::fs::write(&race, yaml).unwrap();
    let out = tmp.path().join("out");
    let output = run_bin(&[
        "race",
        race.to_str().unwrap(),
        "--no-tui",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    (output, tmp, out)
}

/// Asserts a process exited 0, showing what it printed if not.
pub fn assert_success(output: &std::process::Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A `--start-at` `secs` from now (Unix seconds), far enough ahead for
/// every process given it to be ready.
pub fn start_in(secs: f64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{:.3}", (now + Duration::from_secs_f64(secs)).as_secs_f64())
}

/// Workload options that never download: the hub is a closed local port and
/// offline, the cache an empty folder.
pub fn offline() -> llm_locust::workload::LoadOptions {
    llm_locust::workload::LoadOptions {
        hub: llm_locust::workload::hub::Hub {
            endpoint: "http://127.0.0.1:9".to_owned(),
            cache_dir: std::env::temp_dir().join("llm-locust-no-cache"),
            token: None,
            offline: true,
            progress: llm_locust::workload::Progress::Hidden,
        },
    }
}
