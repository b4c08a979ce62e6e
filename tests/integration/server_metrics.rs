//! The servers' own metrics over real HTTP: the simulator's `/metrics`
//! scraped during a race follows its true queue, its token counter matches
//! the client's count exactly, and a page that fails (an error status,
//! garbage, too slow) is counted without touching any other figure.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use llm_locust::config::SimSpec;

use crate::common::{run, serve_sim, spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scraped_queue_follows_the_simulators_truth_and_the_tokens_match() {
    // Two slots and six users: two run, four wait, all race long.
    let sim = serve_sim(SimSpec {
        ttft: Duration::from_millis(20),
        tpot: Duration::from_millis(20),
        jitter: 0.0,
        prefill_per_token: Duration::ZERO,
        capacity: 2,
        ..SimSpec::default()
    })
    .await;
    let race = spec(&format!(
        "race:\n  name: server\n  countdown_s: 0\n  duration: 4\n  users: 6\n  spawn_rate: 1000\n  engines:\n    - {{name: sim, url: {}, model: m, max_tokens: 20, server_metrics: {{interval_s: 0.2}}}}\n",
        sim.base_url()
    ));
    let (outcome, _) = run(&race, Duration::from_secs(30)).await;
    let lane = &outcome.snapshot.lanes[0];
    let server = lane
        .server
        .as_ref()
        .expect("the simulator's metrics are scraped");
    assert_eq!(server.errors, 0, "{:?}", server.last_error);
    assert!(
        server.scrapes >= 15,
        "every 0.2 s for 4 s: {}",
        server.scrapes
    );
    // Past the first second, every scrape sees two running and four waiting
    // (a request ending is replaced at once: a point may catch the handover).
    let steady: Vec<_> = server
        .series
        .iter()
        .filter(|p| (1..=3).contains(&p.second))
        .collect();
    assert!(!steady.is_empty());
    let exact = steady
        .iter()
        .filter(|p| p.figures.running == Some(2.0) && p.figures.waiting == Some(4.0))
        .count();
    assert!(exact * 4 >= steady.len() * 3, "{steady:?}");
    for p in &server.series {
        assert!(p.figures.running.unwrap() <= 2.0 && p.figures.waiting.unwrap() <= 4.0);
    }
    let check = server.token_check.expect("the token counter is read");
    assert!(check.matches, "{check:?}");
    assert_eq!(check.client, lane.counts.output_tokens);
    assert_eq!(check.server, sim.stats().generated_tokens as f64);
}

/// A metrics page that answers `status` with `body`, after `delay`.
async fn metrics_page(status: StatusCode, body: &'static str, delay: Duration) -> String {
    let app = Router::new().route(
        "/metrics",
        get(move || async move {
            tokio::time::sleep(delay).await;
            (status, body).into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_metrics_page_is_counted_and_changes_nothing_else() {
    let sim = serve_sim(SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(1),
        ..SimSpec::default()
    })
    .await;
    let pages = [
        metrics_page(StatusCode::INTERNAL_SERVER_ERROR, "boom", Duration::ZERO).await,
        metrics_page(StatusCode::OK, "<html>hello</html>", Duration::ZERO).await,
        metrics_page(
            StatusCode::OK,
            "vllm:num_requests_running 1\n",
            Duration::from_secs(5),
        )
        .await,
    ];
    let engines: String = pages
        .iter()
        .enumerate()
        .map(|(i, page)| {
            format!(
                "    - {{name: e{i}, url: {}, model: m, max_tokens: 4, server_metrics: {{url: '{page}', interval_s: 0.5}}}}\n",
                sim.base_url()
            )
        })
        .collect();
    let race = spec(&format!(
        "race:\n  name: broken\n  countdown_s: 0\n  duration: 2\n  users: 2\n  engines:\n{engines}    - {{name: quiet, url: {}, model: m, max_tokens: 4, server_metrics: {{url: 'http://127.0.0.1:9/metrics'}}}}\n    - {{name: auto, url: {}, model: m, max_tokens: 4}}\n",
        sim.base_url(),
        sim.base_url()
    ));
    let (outcome, records) = run(&race, Duration::from_secs(30)).await;
    assert!(records.iter().all(|r| r.is_ok()), "no request failed");
    let lanes = &outcome.snapshot.lanes;
    let why: Vec<String> = lanes[..3]
        .iter()
        .map(|l| {
            let s = l
                .server
                .as_ref()
                .expect("a page asked for is always scraped");
            assert_eq!(s.scrapes, 0, "{}", l.name);
            assert!(s.errors >= 3, "{}: {} errors", l.name, s.errors);
            assert!(l.counts.ok > 0 && l.counts.failed == 0);
            s.last_error.clone().unwrap()
        })
        .collect();
    assert_eq!(why[0], "HTTP 500");
    assert_eq!(why[1], "not Prometheus metrics");
    assert_eq!(why[2], "timed out");
    assert_eq!(
        lanes[3].server.as_ref().unwrap().last_error.as_deref(),
        Some("could not connect")
    );
    // The simulator serves its own page: found without asking.
    assert!(lanes[4].server.as_ref().unwrap().scrapes > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_metrics_page_is_left_alone_unless_asked() {
    let missing = metrics_page(StatusCode::NOT_FOUND, "", Duration::ZERO).await;
    let sim = serve_sim(SimSpec::default()).await;
    // The page is the default one of a server that has none: nothing said.
    let race = spec(&format!(
        "race:\n  name: none\n  countdown_s: 0\n  duration: 1\n  users: 1\n  engines:\n    - {{name: a, url: {}, model: m, max_tokens: 2, server_metrics: false}}\n    - {{name: b, url: '{}', model: m, max_tokens: 2}}\n",
        sim.base_url(),
        missing.trim_end_matches("/metrics"),
    ));
    let (outcome, _) = run(&race, Duration::from_secs(30)).await;
    assert!(outcome.snapshot.lanes[0].server.is_none(), "off");
    assert!(
        outcome.snapshot.lanes[1].server.is_none(),
        "no page, no word"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_first_shard_reads_a_servers_counters() {
    let sim = serve_sim(SimSpec::default()).await;
    let mut read = Vec::new();
    for index in 0..2 {
        let mut race = spec(&format!(
            "race:\n  name: shards\n  countdown_s: 0\n  duration: 1\n  users: 2\n  engines:\n    - {{name: a, url: {}, model: m, max_tokens: 2}}\n",
            sim.base_url()
        ));
        race.set_shard(llm_locust::config::Shard { index, count: 2 })
            .unwrap();
        let (outcome, _) = run(&race, Duration::from_secs(30)).await;
        read.push(outcome.snapshot.lanes[0].server.is_some());
    }
    assert_eq!(read, [true, false], "a server's counters are global");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_ttft_histogram_reads_as_the_ttft_it_served() {
    // 50 ms to the first token, no jitter, no queue: the server's histogram
    // (vLLM's buckets, 40–60 ms) holds every first token in one bucket.
    let sim = serve_sim(SimSpec {
        ttft: Duration::from_millis(50),
        tpot: Duration::from_millis(1),
        jitter: 0.0,
        prefill_per_token: Duration::ZERO,
        ..SimSpec::default()
    })
    .await;
    let race = spec(&format!(
        "race:\n  name: ttft\n  countdown_s: 0\n  users: 2\n  finish: {{requests: 20}}\n  engines:\n    - {{name: a, url: {}, model: m, max_tokens: 4}}\n",
        sim.base_url()
    ));
    let (outcome, records) = run(&race, Duration::from_secs(30)).await;
    let lane = &outcome.snapshot.lanes[0];
    let server = lane
        .server
        .as_ref()
        .unwrap()
        .latencies
        .ttft
        .expect("its TTFT histogram");
    // Every stream of the race, counted from the first scrape to the last.
    assert_eq!(server.count, records.len() as f64);
    let truth = sim.stats().ttft_buckets;
    assert_eq!(truth.last().unwrap().1, records.len() as u64);
    assert!(
        (40.0..=60.0).contains(&server.p50_ms) && (40.0..=60.0).contains(&server.p99_ms),
        "{server:?}"
    );
    // The client's TTFT adds the network and itself, never less.
    let client = lane.latencies.ttft.p50.as_secs_f64() * 1000.0;
    assert!((50.0..60.0).contains(&client), "client TTFT p50 {client}");
}
