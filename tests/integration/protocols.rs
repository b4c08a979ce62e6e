//! Every protocol against the simulator over real HTTP: the same simulated
//! latencies and token counts measure the same through chat, completions,
//! the Responses API and the Messages API; every fault of each dialect is
//! its own error kind; the API key travels in the protocol's header and
//! never reaches a file.
use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{assert_close_ms, run, serve_sim, spec};
use llm_locust::config::{EndpointKind, SimSpec};
use llm_locust::engine::client::EngineClient;
use llm_locust::metrics::{ErrorKind, TokenSource};

const ENDPOINTS: [&str; 4] = ["chat", "completions", "responses", "anthropic"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_measures_the_same_latencies_and_tokens() {
    // A server per lane, so each prefix cache sees only its lane's prompts.
    let mut servers = Vec::new();
    for _ in ENDPOINTS {
        servers.push(
            serve_sim(SimSpec {
                ttft: Duration::from_millis(80),
                tpot: Duration::from_millis(12),
                jitter: 0.0,
                prefill_per_token: Duration::ZERO,
                reasoning_tokens: 2,
                prefix_cache_tokens: Some(100_000),
                ..SimSpec::default()
            })
            .await,
        );
    }
    let mut yaml = format!(
        "race:\n  name: protocols\n  countdown_s: 0\n  users: 2\n  spawn_rate: 100\n  system_prompt: \"{}\"\n  finish: {{requests: 12}}\n  engines:\n",
        "You are a careful assistant who answers briefly. ".repeat(20)
    );
    for (endpoint, server) in ENDPOINTS.iter().zip(&servers) {
        yaml.push_str(&format!(
            "    - {{name: {endpoint}, url: {}, endpoint: {endpoint}, model: sim, max_tokens: 20}}\n",
            server.base_url()
        ));
    }
    let spec = spec(&yaml);
    let prompts = llm_locust::workload::load(&spec, &common::offline())
        .await
        .unwrap();
    let (outcome, records) = common::run_with(&spec, prompts, Duration::from_secs(30)).await;
    for ((lane, endpoint), server) in outcome.snapshot.lanes.iter().zip(ENDPOINTS).zip(&servers) {
        // Each lane's own simulator's timer lateness is part of its TTFT
        // (measured, so it is added, not hoped away); four simulators share
        // two cores with the rest of the suite, so it may reach a few ms.
        let late = server.stats().mean_first_token_lateness();
        assert!(
            late < Duration::from_millis(15),
            "{endpoint}: simulator late by {late:?}"
        );
        let ttft = 80.0 + late.as_secs_f64() * 1000.0;
        assert!(lane.counts.ok >= 12, "{endpoint}: {}", lane.counts.ok);
        assert_eq!(
            lane.counts.failed, 0,
            "{endpoint}: {:?}",
            lane.counts.errors
        );
        assert_close_ms(&format!("{endpoint} TTFT"), lane.latencies.ttft.p50, ttft);
        // Completions have no reasoning field: every token is the answer.
        let reasoning = if endpoint == "completions" { 0.0 } else { 24.0 };
        assert_close_ms(
            &format!("{endpoint} TTFOT"),
            lane.latencies.ttfot.p50,
            ttft + reasoning,
        );
        assert_close_ms(&format!("{endpoint} TPOT"), lane.latencies.tpot.p50, 12.0);
        assert_eq!(lane.counts.output_tokens, lane.counts.ok * 20, "{endpoint}");
        assert_eq!(
            lane.counts
                .output_sources
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![TokenSource::Usage],
            "{endpoint}"
        );
    }
    // Request k carries the same prompt to every lane: the same count, and
    // the same part of it from the cache.
    let of = |engine: usize| {
        let mut mine: Vec<_> = records.iter().filter(|r| r.engine == engine).collect();
        mine.sort_by_key(|r| r.request_id);
        mine.iter()
            .take(12)
            .map(|r| (r.input_tokens, r.cached_tokens))
            .collect::<Vec<_>>()
    };
    let chat = of(0);
    assert!(
        chat.iter()
            .skip(2)
            .all(|(_, cached)| cached.unwrap_or(0) > 0),
        "the system prompt is cached after the first requests: {chat:?}"
    );
    assert_eq!(of(2), chat, "responses");
    assert_eq!(of(3), chat, "anthropic");
    // A completion's prompt is one text: the blank line that joins the
    // system prompt to the prompt is part of it.
    for ((input, cached), (chat_input, chat_cached)) in of(1).into_iter().zip(chat) {
        assert_eq!(cached, chat_cached);
        assert!(input.abs_diff(chat_input) <= 1, "{input} vs {chat_input}");
    }
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_of_the_typed_dialects_is_its_kind() {
    let faults = [
        ("http_429", ErrorKind::Http429, 429),
        ("http_500", ErrorKind::Http5xx, 500),
        ("http_503", ErrorKind::Http5xx, 503),
        ("reset", ErrorKind::StreamReset, 200),
        ("stall", ErrorKind::Timeout, 200),
        ("malformed", ErrorKind::Malformed, 200),
        ("stream_error", ErrorKind::ServerError, 200),
        ("event_error", ErrorKind::ServerError, 200),
        ("early_end", ErrorKind::StreamReset, 200),
    ];
    for endpoint in ["responses", "anthropic"] {
        let mut yaml = String::from(
            "race:\n  name: faults\n  countdown_s: 0\n  duration: 1.5\n  users: 1\n  spawn_rate: 100\n  finish: {grace_s: 1}\n  engines:\n",
        );
        for (name, _, _) in faults {
            yaml.push_str(&format!(
                "    - name: {endpoint}-{name}\n      endpoint: {endpoint}\n      timeout_s: 0.5\n      max_tokens: 8\n      simulate: {{ttft_ms: 10, tpot_ms: 5, jitter: 0, stall_s: 5, faults: {{{name}: 1.0}}}}\n"
            ));
        }
        let (outcome, records) = run(&spec(&yaml), Duration::from_secs(30)).await;
        check_faults(endpoint, &faults, &outcome.snapshot.lanes, &records);
    }
}

fn check_faults(
    endpoint: &str,
    faults: &[(&str, ErrorKind, u16)],
    lanes: &[llm_locust::metrics::LaneSnapshot],
    records: &[llm_locust::metrics::RequestRecord],
) {
    for (index, (lane, &(name, kind, status))) in lanes.iter().zip(faults).enumerate() {
        assert_eq!(lane.name, format!("{endpoint}-{name}"));
        assert_eq!(lane.counts.ok, 0, "{}", lane.name);
        assert!(lane.counts.failed > 0, "{}: no failures", lane.name);
        let only: BTreeMap<ErrorKind, u64> = [(kind, lane.counts.failed)].into();
        assert_eq!(lane.counts.errors, only, "{}", lane.name);
        // Anthropic's API says "overloaded" with 529.
        let status = if (endpoint, name) == ("anthropic", "http_503") {
            529
        } else {
            status
        };
        let statuses: Vec<u16> = records
            .iter()
            .filter(|r| r.engine == index && r.status != 0)
            .map(|r| r.status)
            .collect();
        assert!(
            !statuses.is_empty() && statuses.iter().all(|&s| s == status),
            "{}: {statuses:?}",
            lane.name
        );
    }
}

#[tokio::test]
async fn the_anthropic_key_goes_in_x_api_key_beside_the_version() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let url = common::serve_one(
        move |request| {
            let _ = tx.send(request.to_owned());
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                .to_owned()
        },
        Duration::ZERO,
    )
    .await;
    let url = url.replace("/chat/completions", "/messages");
    let mut spec = common::engine_spec(&url, Duration::from_secs(5));
    spec.endpoint = EndpointKind::Anthropic;
    let client = EngineClient::new(&spec, &url, Some("sk-ant-SECRET")).unwrap();
    let ex = client.send("hi").await;
    assert_eq!(ex.status, 500);
    let head = rx.await.unwrap().to_ascii_lowercase();
    assert!(head.starts_with("post /v1/messages "), "{head}");
    assert!(head.contains("\r\nx-api-key: sk-ant-secret\r\n"), "{head}");
    assert!(
        head.contains("\r\nanthropic-version: 2023-06-01\r\n"),
        "{head}"
    );
    assert!(!head.contains("authorization"), "{head}");
}

#[test]
fn the_key_of_every_protocol_reaches_no_file() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(serve_sim(SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(1),
        ..SimSpec::default()
    }));
    let mut yaml = String::from(
        "race:\n  name: keys\n  countdown_s: 0\n  users: 1\n  finish: {requests: 3}\n  engines:\n",
    );
    for endpoint in ENDPOINTS {
        yaml.push_str(&format!(
            "    - {{name: {endpoint}, url: {}, endpoint: {endpoint}, model: sim, max_tokens: 4, api_key_env: LLM_LOCUST_PROTOCOL_KEY}}\n",
            server.base_url()
        ));
    }
    let tmp = tempfile::tempdir().unwrap();
    let race = tmp.path().join("race.yaml");
    std::fs::write(&race, yaml).unwrap();
    let out = tmp.path().join("out");
    let output = common::bin()
        .env("LLM_LOCUST_PROTOCOL_KEY", "sk-PROTOCOL-SECRET-42")
        .args(["race", race.to_str().unwrap(), "--no-tui", "--output-dir"])
        .arg(&out)
        .output()
        .unwrap();
    common::assert_success(&output);
    let mut files = 0;
    for entry in walk(&out) {
        files += 1;
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("PROTOCOL-SECRET"), "{}", entry.display());
    }
    assert!(files > 2, "the race wrote its files");
    for stream in [&output.stdout, &output.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains("PROTOCOL-SECRET"));
    }
    rt.block_on(server.shutdown());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn an_anthropic_overload_is_a_5xx_whose_retry_after_is_honoured() {
    let url = common::serve_one(
        |_| {
            let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
            format!(
                "HTTP/1.1 529 Site Overloaded\r\ncontent-type: application/json\r\nretry-after: 7\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        },
        Duration::ZERO,
    )
    .await
    .replace("/chat/completions", "/messages");
    let mut spec = common::engine_spec(&url, Duration::from_secs(5));
    spec.endpoint = EndpointKind::Anthropic;
    let ex = EngineClient::new(&spec, &url, None)
        .unwrap()
        .send("hi")
        .await;
    assert_eq!(ex.status, 529);
    let error = ex.error.clone().expect("an overload is a failure");
    assert_eq!(error.kind, ErrorKind::Http5xx);
    assert!(
        error.message.contains("overloaded_error"),
        "{}",
        error.message
    );
    assert_eq!(ex.retry_after, Some(Duration::from_secs(7)));
    // A user backs off as long as the server asks, as after a 429 or 503.
    let mut backoff = llm_locust::engine::backoff::Backoff::default();
    let wait = backoff.after_with(&llm_locust::engine::backoff::Outcome::of(&ex), 0.5);
    assert_eq!(
        wait,
        Some((
            Duration::from_secs(7),
            llm_locust::engine::backoff::Reason::RetryAfter
        ))
    );
}
