//! Races against a real server: llama.cpp's `llama-server` with Gemma 3
//! 270M, built by `../shared/tools/llama/setup.sh`. Skipped, saying why,
//! where it is not built (a user's fresh clone, CI).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::common;

/// A running llama-server, stopped when dropped.
struct LlamaServer {
    pid: String,
    port: u16,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

/// Starts llama-server on a free port, or says why it cannot.
fn start_llama() -> Result<LlamaServer, String> {
    start_llama_with(&[])
}

/// [`start_llama`] with more of llama-server's arguments.
fn start_llama_with(args: &[&str]) -> Result<LlamaServer, String> {
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/llama/start.sh");
    if !start.exists() {
        return Err(format!("{} is absent", start.display()));
    }
    let home = std::env::var_os("LLAMA_HOME").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/llm-locust-llama")
        },
        PathBuf::from,
    );
    if !home.join("bin/llama-server").exists() {
        return Err(format!(
            "llama-server is not built in {} (run ../shared/tools/llama/setup.sh)",
            home.display()
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let output = Command::new(&start)
        .arg(port.to_string())
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "llama-server did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let pid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Ok(LlamaServer { pid, port })
}

/// A started llama-server, or `None` having said why the test is skipped.
fn llama_or_skip() -> Option<LlamaServer> {
    start_llama()
        .map_err(|why| eprintln!("skipped: {why}"))
        .ok()
}

/// llama.cpp closes the connection after every streamed answer although
/// its headers say `Keep-Alive`: none of the client's reuses of a closing
/// connection may count as the server's failures. Two-token answers make
/// about 120 requests in 10 s, enough that reuses do race the close (2–4
/// failures a race before connections were retried).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_against_llama_cpp_has_no_failures_from_closed_connections() {
    let Some(server) = llama_or_skip() else {
        return;
    };
    let yaml = format!(
        "race:\n  name: llama\n  countdown_s: 0\n  duration: 10\n  users: 4\n  spawn_rate: 100\n  engines:\n    - {{name: llama, url: 'http://127.0.0.1:{}/v1/chat/completions', model: gemma-3-270m, max_tokens: 2, ignore_eos: true, reuse_connections: always}}\n",
        server.port
    );
    let (outcome, _) = common::run(&common::spec(&yaml), Duration::from_secs(60)).await;
    let lane = &outcome.snapshot.lanes[0];
    assert!(lane.counts.ok >= 8, "{} ok", lane.counts.ok);
    assert_eq!(
        lane.counts.failed, 0,
        "{:?} ({} retries)",
        lane.error_samples, lane.connections.retries
    );
    // The server closed the connection after each answer: one per request.
    assert!(
        lane.connections.opened >= lane.counts.ok,
        "{} connections for {} requests",
        lane.connections.opened,
        lane.counts.ok
    );
    eprintln!(
        "llama.cpp: {} ok, {} connections, {} retried",
        lane.counts.ok, lane.connections.opened, lane.connections.retries
    );
}

/// A conversation race with a shared prefix against llama.cpp: every turn
/// answered, the server's cached tokens read (its slots keep the prompt),
/// and later turns resend the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_against_llama_cpp_report_its_prompt_cache() {
    let Some(server) = llama_or_skip() else {
        return;
    };
    let yaml = format!(
        "race:\n  name: llama\n  countdown_s: 0\n  dataset: synthetic\n  target_input_tokens: 30\n  target_output_tokens: 4\n  prefix: {{groups: 2, tokens: 200}}\n  conversation: {{turns: 3}}\n  users: 2\n  finish: {{requests: 12}}\n  extra_body: {{cache_prompt: true}}\n  engines:\n    - {{name: llama, url: 'http://127.0.0.1:{}', model: gemma-3-270m}}\n",
        server.port
    );
    let spec = common::spec(&yaml);
    let prompts = llm_locust::workload::load(&spec, &common::offline())
        .await
        .unwrap();
    let (outcome, records) = common::run_with(&spec, prompts, Duration::from_secs(120)).await;
    let lane = &outcome.snapshot.lanes[0];
    assert_eq!(lane.counts.failed, 0, "{:?}", lane.error_samples);
    let cache = lane
        .prompt_cache
        .as_ref()
        .expect("llama.cpp reports cached tokens");
    assert!(cache.hit_rate > 0.3, "{cache:?}");
    let turn = |t: u32| {
        records
            .iter()
            .filter(|r| r.conversation.is_some_and(|c| c.turn == t))
            .map(|r| r.input_tokens)
            .min()
    };
    assert!(
        turn(3).unwrap() > turn(1).unwrap(),
        "turn 3 resends turns 1 and 2"
    );
    let conversations = lane.breakdown.as_ref().unwrap().conversations.unwrap();
    assert!(conversations.completed >= 2, "{conversations:?}");
    // Its /metrics is found and read: its token counter over the race is
    // the client's count.
    let server = lane
        .server
        .as_ref()
        .expect("llama.cpp's /metrics is scraped");
    assert_eq!(server.errors, 0, "{:?}", server.last_error);
    let check = server.token_check.expect("llamacpp:tokens_predicted_total");
    assert!(check.matches, "{check:?}");
}

/// Chat, the Responses API and the Messages API against one llama.cpp:
/// every answer read, its counts from the usage of each dialect, and the
/// same prompt the same count through all three (llama.cpp renders each
/// through the one chat template, the cached part included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_against_llama_cpp_reads_the_same_counts() {
    let Some(server) = llama_or_skip() else {
        return;
    };
    let mut yaml = String::from(
        "race:\n  name: llama\n  countdown_s: 0\n  dataset: synthetic\n  target_input_tokens: 30\n  target_output_tokens: 4\n  system_prompt: \"You are terse.\"\n  users: 1\n  finish: {requests: 6}\n  engines:\n",
    );
    for endpoint in ["chat", "responses", "anthropic"] {
        yaml.push_str(&format!(
            "    - {{name: {endpoint}, url: 'http://127.0.0.1:{}', endpoint: {endpoint}, model: gemma-3-270m}}\n",
            server.port
        ));
    }
    let spec = common::spec(&yaml);
    let prompts = llm_locust::workload::load(&spec, &common::offline())
        .await
        .unwrap();
    let (outcome, records) = common::run_with(&spec, prompts, Duration::from_secs(120)).await;
    for lane in &outcome.snapshot.lanes {
        assert_eq!(
            lane.counts.failed, 0,
            "{}: {:?}",
            lane.name, lane.error_samples
        );
        assert!(lane.counts.ok >= 6, "{}", lane.name);
        assert_eq!(
            lane.counts
                .output_sources
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![llm_locust::metrics::TokenSource::Usage],
            "{}",
            lane.name
        );
        assert!(
            lane.prompt_cache.is_some(),
            "{}: cached tokens read",
            lane.name
        );
    }
    let of = |engine: usize| {
        let mut mine: Vec<_> = records.iter().filter(|r| r.engine == engine).collect();
        mine.sort_by_key(|r| r.request_id);
        mine.iter()
            .take(6)
            .map(|r| r.input_tokens)
            .collect::<Vec<_>>()
    };
    assert_eq!(of(1), of(0), "responses");
    assert_eq!(of(2), of(0), "anthropic");
}

/// llama.cpp serving embeddings (`--embeddings`): batches answered whole,
/// one embedding an input, the batch's tokens from its usage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_against_llama_cpp_count_the_batchs_tokens() {
    let Some(server) = start_llama_with(&["--embeddings", "--pooling", "mean"])
        .map_err(|why| eprintln!("skipped: {why}"))
        .ok()
    else {
        return;
    };
    let yaml = format!(
        "race:\n  name: llama\n  countdown_s: 0\n  dataset: synthetic\n  target_input_tokens: 12\n  users: 2\n  finish: {{requests: 6}}\n  engines:\n    - {{name: llama, url: 'http://127.0.0.1:{}', endpoint: embeddings, inputs_per_request: 3, model: gemma-3-270m}}\n",
        server.port
    );
    let spec = common::spec(&yaml);
    let prompts = llm_locust::workload::load(&spec, &common::offline())
        .await
        .unwrap();
    let (outcome, records) = common::run_with(&spec, prompts, Duration::from_secs(120)).await;
    let lane = &outcome.snapshot.lanes[0];
    assert_eq!(lane.counts.failed, 0, "{:?}", lane.error_samples);
    assert!(lane.counts.ok >= 6);
    assert!(records.iter().all(
        |r| r.input_source == llm_locust::metrics::TokenSource::Usage
            && r.input_tokens >= 3
            && r.output_tokens == 0
    ));
    let e = lane.embeddings.expect("an embeddings lane");
    assert!(e.inputs_per_s > 0.0);
}
