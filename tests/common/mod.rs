//! Shared helpers for the integration tests: run races in-process against
//! the built-in simulator (127.0.0.1 only) and collect every record.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm_locust::config::{self, RaceSpec};
use llm_locust::engine::{self, RaceEvent, RaceOutcome, RecordSink};
use llm_locust::metrics::RequestRecord;
use llm_locust::workload::PromptSet;
use tokio_util::sync::CancellationToken;

/// The real binary, run from the repository with colours off.
pub fn bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_llm-locust"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env("NO_COLOR", "1");
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
    let collect = Collect::default();
    let running = engine::start(
        spec,
        prompts(),
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
