//! Connections over real HTTP on 127.0.0.1: each user's connection is made
//! before the start signal and reused (so TTFT never holds a TCP set-up),
//! a finished body is read to its end outside the timing, and warm-up
//! requests are sent but not counted.
use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Collect, engine_spec, prompts, serve_sim, spec};
use llm_locust::config::SimSpec;
use llm_locust::engine::client::EngineClient;
use llm_locust::engine::{self, RaceEvent, RecordSink};
use tokio_util::sync::CancellationToken;

fn fast_sim() -> SimSpec {
    SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(1),
        jitter: 0.0,
        prefill_per_token: Duration::ZERO,
        ..SimSpec::default()
    }
}

/// Keeps, per engine, its events in the order applied: the connection
/// counts, and whether a request was sent.
#[derive(Clone, Default)]
struct Connections(Arc<Mutex<Vec<Seen>>>);

/// An engine, and its connection count (`None`: a request was sent).
type Seen = (usize, Option<u64>);

impl RecordSink for Connections {
    fn event(&mut self, _at: Duration, event: &RaceEvent) {
        let seen = match event {
            RaceEvent::ConnectionsOpened { engine, total } => (*engine, Some(*total)),
            RaceEvent::Started { engine } => (*engine, None),
            _ => return,
        };
        self.0.lock().unwrap().push(seen);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_connects_before_go_and_keeps_its_connection() {
    let yaml = "race:\n  name: conns\n  countdown_s: 0\n  duration: 2\n  users: 4\n  spawn_rate: 100\n  engines:\n    - {name: a, max_tokens: 6, simulate: {ttft_ms: 5, tpot_ms: 1, jitter: 0}}\n    - {name: b, endpoint: completions, max_tokens: 6, simulate: {ttft_ms: 5, tpot_ms: 1, jitter: 0}}\n";
    let seen = Connections::default();
    let running = engine::start(
        &spec(yaml),
        prompts(),
        vec![Box::new(seen.clone())],
        CancellationToken::new(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(20), running.finish())
        .await
        .unwrap()
        .unwrap();
    let seen = seen.0.lock().unwrap().clone();
    for (engine, lane) in outcome.snapshot.lanes.iter().enumerate() {
        assert!(lane.counts.ok > 200, "{}: {}", lane.name, lane.counts.ok);
        // Connections before the first request, one per user, even with no
        // countdown (on a machine too busy to send the four pre-connects
        // together, hyper sends some over a connection another freed)...
        let first = seen.iter().find(|(e, _)| *e == engine).unwrap();
        assert!(
            matches!(first.1, Some(1..=4)),
            "{}: {:?} before the first request",
            lane.name,
            first.1
        );
        // ...and reused: hyper may race a few more while all four are busy
        // handing back (more on a loaded machine), never one per request.
        assert!(
            (4..=12).contains(&lane.connections.opened),
            "{}: {} connections for {} requests",
            lane.name,
            lane.connections.opened,
            lane.counts.ok
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_requests_are_sent_but_not_counted() {
    let server = serve_sim(fast_sim()).await;
    let yaml = format!(
        "race:\n  name: warm\n  countdown_s: 1\n  users: 2\n  spawn_rate: 100\n  warmup: {{requests: 7}}\n  finish: {{requests: 10}}\n  engines:\n    - {{name: a, url: {}, model: m, max_tokens: 4}}\n",
        server.base_url()
    );
    let collect = Collect::default();
    let sinks: Vec<Box<dyn RecordSink>> = vec![Box::new(collect.clone())];
    let running = engine::start(
        &spec(&yaml),
        prompts(),
        sinks,
        CancellationToken::new(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(running.warmup.len(), 1);
    assert_eq!((running.warmup[0].ok, running.warmup[0].failed), (7, 0));
    let warmed = server.stats().requests_received;
    assert_eq!(warmed, 7, "the warm-up is over before the race starts");
    let outcome = tokio::time::timeout(Duration::from_secs(20), running.finish())
        .await
        .unwrap()
        .unwrap();
    let lane = &outcome.snapshot.lanes[0];
    let records = collect.records();
    assert_eq!(records.len() as u64, lane.counts.ok + lane.counts.failed);
    assert_eq!(
        server.stats().requests_received,
        7 + lane.counts.started,
        "warm-up requests are not in the race's counts"
    );
}

#[tokio::test]
async fn a_body_kept_open_after_done_is_complete_not_a_timeout() {
    let url = common::serve_one(
        |_| {
            let body = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
            // No chunked terminator for a long while: the body stays open.
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n",
                body.len()
            )
        },
        Duration::from_secs(5),
    )
    .await;
    let timeout = Duration::from_millis(600);
    let client = EngineClient::new(&engine_spec(&url, timeout), &url, None).unwrap();
    let ex = client.send("hi").await;
    assert!(ex.error.is_none(), "{:?}", ex.error);
    assert_eq!(ex.text, "hi");
    assert!(
        ex.end.duration_since(ex.sent) < Duration::from_millis(300),
        "the answer ended at [DONE], not when the body did"
    );
}
