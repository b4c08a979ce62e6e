//! Embeddings engines against the simulator over real HTTP: a request's
//! latency is the simulated prefill of its whole batch, its inputs and
//! input tokens are counted, nothing of generation is reported for it (no
//! TTFT, no output tokens, no TTFT objective), every fault is its kind,
//! and a race that mixes it with generation says the figures differ.
use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{offline, run, run_with, serve_sim, spec};
use llm_locust::config::SimSpec;
use llm_locust::metrics::{ErrorKind, TokenSource};
use llm_locust::workload::estimate_tokens;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embeddings_race_measures_the_batchs_latency_inputs_and_tokens() {
    let server = serve_sim(SimSpec {
        ttft: Duration::from_millis(40),
        jitter: 0.0,
        prefill_per_token: Duration::from_micros(100),
        ..SimSpec::default()
    })
    .await;
    let yaml = format!(
        "race:\n  name: embed\n  countdown_s: 0\n  dataset: synthetic\n  target_input_tokens: 50\n  users: 2\n  finish: {{requests: 20}}\n  slo: {{ttft_p99_ms: 1, e2e_p99_ms: 5000}}\n  engines:\n    - {{name: embed, url: {}, model: m, endpoint: embeddings, inputs_per_request: 4}}\n",
        server.base_url()
    );
    let spec = spec(&yaml);
    let prompts = llm_locust::workload::load(&spec, &offline()).await.unwrap();
    let (outcome, records) = run_with(&spec, prompts.clone(), Duration::from_secs(30)).await;
    let lane = &outcome.snapshot.lanes[0];
    assert!(lane.counts.ok >= 20, "{}", lane.counts.ok);
    assert_eq!(lane.counts.failed, 0, "{:?}", lane.error_samples);
    // Request k embeds prompts 4k to 4k + 3, its count the server's.
    for r in &records {
        let batch: Vec<_> = (0..4)
            .map(|i| prompts.for_request(r.request_id * 4 + i))
            .collect();
        assert_eq!(r.prompt, batch[0]);
        let tokens: u32 = batch.iter().map(|p| estimate_tokens(p)).sum();
        assert_eq!(
            (r.input_tokens, r.input_source),
            (tokens, TokenSource::Usage)
        );
        assert_eq!(r.output_tokens, 0);
        assert!(r.chunk_times.is_empty());
    }
    // Its latency: the base plus the whole batch's prefill. The answer
    // comes whole, so its body's write, read and decode (32 numbers an
    // input, in a debug build on a busy machine) are inside E2E too, where
    // a stream's first token is timed at its arrival: up to 4 ms more.
    let tokens = f64::from(records[0].input_tokens);
    let late = server.stats().mean_first_token_lateness().as_secs_f64() * 1000.0;
    let expected = 40.0 + tokens * 0.1 + late;
    let measured = lane.latencies.e2e.p50.as_secs_f64() * 1000.0;
    assert!(
        (expected - 1.0..=expected + 4.0).contains(&measured),
        "E2E p50 {measured:.2} ms, expected {expected:.2} ms (−1, +4)"
    );
    assert_eq!(lane.latencies.ttft.count, 0);
    let e = lane.embeddings.expect("an embeddings lane");
    assert_eq!(e.inputs_per_request, 4);
    assert_eq!(e.inputs, lane.counts.ok * 4);
    let active = lane.active.as_secs_f64();
    assert!((e.inputs_per_s - lane.counts.ok as f64 * 4.0 / active).abs() < 1e-6);
    assert!((e.input_tokens_per_s - lane.counts.input_tokens as f64 / active).abs() < 1e-6);
    // A TTFT objective does not apply to it; E2E's does.
    let judged: Vec<&str> = lane.slo_checks.iter().map(|c| c.kind.name()).collect();
    assert_eq!(judged, ["e2e_p99_ms"]);
    assert!(lane.slo_pass);
    assert_eq!(lane.counts.good, lane.counts.ok, "every request is good");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_of_an_embeddings_server_is_its_kind() {
    let faults = [
        ("http_429", ErrorKind::Http429),
        ("http_500", ErrorKind::Http5xx),
        ("http_503", ErrorKind::Http5xx),
        ("reset", ErrorKind::StreamReset),
        ("stall", ErrorKind::Timeout),
        ("malformed", ErrorKind::Malformed),
        // Not streamed: the whole answer is an error.
        ("stream_error", ErrorKind::Http5xx),
        ("event_error", ErrorKind::Http5xx),
        ("early_end", ErrorKind::Http5xx),
    ];
    let mut yaml = String::from(
        "race:\n  name: faults\n  countdown_s: 0\n  duration: 1.5\n  users: 1\n  spawn_rate: 100\n  finish: {grace_s: 1}\n  engines:\n",
    );
    for (name, _) in faults {
        yaml.push_str(&format!(
            "    - name: {name}\n      endpoint: embeddings\n      timeout_s: 0.5\n      simulate: {{ttft_ms: 10, jitter: 0, stall_s: 5, faults: {{{name}: 1.0}}}}\n"
        ));
    }
    let (outcome, _) = run(&spec(&yaml), Duration::from_secs(30)).await;
    for (lane, (name, kind)) in outcome.snapshot.lanes.iter().zip(faults) {
        assert_eq!(lane.counts.ok, 0, "{name}");
        assert!(lane.counts.failed > 0, "{name}: no failures");
        let only: BTreeMap<ErrorKind, u64> = [(kind, lane.counts.failed)].into();
        assert_eq!(lane.counts.errors, only, "{name}");
    }
}

#[test]
fn a_race_of_embeddings_and_generation_shows_each_its_figures_and_says_they_differ() {
    let yaml = "race:\n  name: mixed\n  countdown_s: 0\n  users: 2\n  finish: {requests: 8}\n  engines:\n    - {name: embedder, endpoint: embeddings, inputs_per_request: 2, simulate: {ttft_ms: 5, jitter: 0}}\n    - {name: talker, max_tokens: 4, simulate: {ttft_ms: 5, tpot_ms: 1, jitter: 0}}\n";
    let (output, _tmp, out) = common::headless_race(yaml);
    let dir = common::race_dir(&out);
    common::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("inputs/s") && stdout.contains("out tok/s"),
        "{stdout}"
    );
    assert!(stdout.contains("not the same figures"), "{stdout}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no row of {name}: {stdout}"))
            .to_owned()
    };
    // The embedder's TTFT, TTFOT, TPOT and output tok/s are dashes, never
    // zeros (and its SLO's: none was set).
    let embedder = row("embedder");
    assert_eq!(
        embedder.split_whitespace().filter(|c| *c == "-").count(),
        6,
        "{embedder}"
    );
    // The talker's only dashes: inputs/s, input tok/s and its SLO.
    let talker = row("talker");
    assert_eq!(
        talker.split_whitespace().filter(|c| *c == "-").count(),
        3,
        "{talker}"
    );
    let summary = common::summary(&dir);
    let engines = summary["engines"].as_array().unwrap();
    let embedder = engines.iter().find(|e| e["name"] == "embedder").unwrap();
    assert_eq!(embedder["embeddings"]["inputs_per_request"], 2);
    let talker = engines.iter().find(|e| e["name"] == "talker").unwrap();
    assert!(talker.get("embeddings").is_none());
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("not the same figures"), "{md}");
    let ttft_table = md.split("**TTFT: time to first token**").nth(1).unwrap();
    let ttft_table = ttft_table.split("**TTFOT").next().unwrap();
    assert!(!ttft_table.contains("embedder"), "{ttft_table}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<th>inputs/s</th>") && html.contains("not the same figures"));
}

#[test]
fn keys_of_generation_on_an_embeddings_engine_are_refused() {
    for (extra, path, words) in [
        (
            "max_tokens: 8",
            "race.engines[0].max_tokens",
            "generates nothing",
        ),
        (
            "temperature: 0.5",
            "race.engines[0].temperature",
            "generates nothing",
        ),
        (
            "inputs_per_request: 0",
            "race.engines[0].inputs_per_request",
            "",
        ),
    ] {
        let yaml = format!(
            "race:\n  name: x\n  engines:\n    - {{name: e, endpoint: embeddings, {extra}, simulate: {{}}}}\n"
        );
        let problems =
            llm_locust::config::validate::validate(&yaml, std::path::Path::new("x.yaml"))
                .unwrap_err();
        let problem = problems
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("{problems:?}"));
        assert!(problem.message.contains(words), "{problem:?}");
    }
    let on_chat =
        "race:\n  name: x\n  engines:\n    - {name: e, inputs_per_request: 4, simulate: {}}\n";
    let problems = llm_locust::config::validate::validate(on_chat, std::path::Path::new("x.yaml"))
        .unwrap_err();
    assert_eq!(problems[0].path, "race.engines[0].inputs_per_request");
    let tokens_race = "race:\n  name: x\n  finish: {output_tokens: 1000}\n  engines:\n    - {name: e, endpoint: embeddings, simulate: {}}\n";
    let problems =
        llm_locust::config::validate::validate(tokens_race, std::path::Path::new("x.yaml"))
            .unwrap_err();
    assert_eq!(
        problems[0].path, "race.finish.output_tokens",
        "{problems:?}"
    );
}
