//! Connections a server closes on its own schedule, over real HTTP on
//! 127.0.0.1: the simulator's `close_after_stream` and `idle_timeout_ms`
//! close them as llama.cpp and nginx do; a request whose reused connection
//! was closed before any answer is sent again once on a fresh one and
//! counted as a retry, never as the server's failure; a fresh connection's
//! failure, a failure after the answer began, and a rate limit are not
//! retried; and `reuse_connections` stops or forbids reuse.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use llm_locust::config::{FaultKind, Quirk, SimSpec};
use llm_locust::engine::client::EngineClient;
use llm_locust::metrics::{ConnectionReuse, ErrorKind};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::common::{self, engine_spec, read_request_head, serve_sim};

/// A streamed answer of "hi" with a length, so the connection stays open.
fn sse_answer() -> String {
    let body = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// What a scripted server does with one request.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Answers in full and keeps the connection.
    Answer,
    /// Reads the request, waits, then closes without a byte of answer.
    CloseAfter(Duration),
    /// Sends the answer's head and part of its body, then closes.
    CutAfterHead,
}

/// A server whose `n`th connection follows `scripts[n]` (the last script
/// for every later one), request by request; it counts connections and
/// requests. Returns the chat URL.
struct Scripted {
    url: String,
    connections: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
}

async fn scripted(scripts: Vec<Vec<Step>>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    let connections = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let (c, r) = (Arc::clone(&connections), Arc::clone(&requests));
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let n = usize::try_from(c.fetch_add(1, Ordering::SeqCst)).unwrap();
            let steps = scripts[n.min(scripts.len() - 1)].clone();
            let r = Arc::clone(&r);
            tokio::spawn(async move {
                for step in steps {
                    let head = read_request_head(&mut socket).await;
                    if head.is_empty() {
                        return;
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    match step {
                        Step::Answer => socket.write_all(sse_answer().as_bytes()).await.unwrap(),
                        Step::CloseAfter(wait) => {
                            tokio::time::sleep(wait).await;
                            return;
                        }
                        Step::CutAfterHead => {
                            let answer = sse_answer();
                            let _ = socket
                                .write_all(&answer.as_bytes()[..answer.len() - 20])
                                .await;
                            return;
                        }
                    }
                }
            });
        }
    });
    Scripted {
        url,
        connections,
        requests,
    }
}

fn client(url: &str) -> EngineClient {
    EngineClient::new(&engine_spec(url, Duration::from_secs(5)), url, None).unwrap()
}

#[tokio::test]
async fn a_reused_connection_closed_before_answering_is_sent_again_on_a_fresh_one() {
    let wait = Duration::from_millis(200);
    let server = scripted(vec![
        vec![Step::Answer, Step::CloseAfter(wait)],
        vec![Step::Answer],
    ])
    .await;
    let client = client(&server.url);
    let first = client.send("one").await;
    assert!(first.error.is_none() && !first.connection_retried);
    let second = client.send("two").await;
    assert!(second.error.is_none(), "{:?}", second.error);
    assert_eq!(second.text, "hi");
    assert!(second.connection_retried);
    assert!(!second.reuse_stopped, "one close is not a habit");
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    // Timed from the first send: the wait before the close is in its TTFT.
    let ttft = second.chunk_times[0].duration_since(second.sent);
    assert!(ttft >= wait, "TTFT {ttft:?} hides the retry");
}

#[tokio::test]
async fn a_second_close_fails_the_request_as_a_reset() {
    let server = scripted(vec![
        vec![Step::Answer, Step::CloseAfter(Duration::ZERO)],
        vec![Step::CloseAfter(Duration::ZERO)],
    ])
    .await;
    let client = client(&server.url);
    assert!(client.send("one").await.error.is_none());
    let second = client.send("two").await;
    assert!(second.connection_retried);
    assert_eq!(second.error.unwrap().kind, ErrorKind::StreamReset);
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        3,
        "sent twice, no more"
    );
}

#[tokio::test]
async fn a_fresh_connection_closed_before_answering_is_the_servers_failure() {
    let server = scripted(vec![vec![Step::CloseAfter(Duration::ZERO)]]).await;
    let client = client(&server.url);
    for _ in 0..3 {
        let ex = client.send("hello").await;
        assert!(!ex.connection_retried);
        assert_eq!(ex.error.unwrap().kind, ErrorKind::StreamReset);
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_failure_after_the_answer_began_is_not_retried() {
    let server = scripted(vec![vec![Step::Answer, Step::CutAfterHead]]).await;
    let client = client(&server.url);
    assert!(client.send("one").await.error.is_none());
    let second = client.send("two").await;
    assert!(!second.connection_retried);
    assert!(second.error.is_some());
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rate_limits_are_answers_and_never_retried() {
    for fault in [FaultKind::Http429, FaultKind::Http503] {
        let sim = serve_sim(SimSpec {
            faults: [(fault, 1.0)].into_iter().collect(),
            quirks: [Quirk::CloseAfterStream].into_iter().collect(),
            ..SimSpec::default()
        })
        .await;
        let url = format!("{}/v1/chat/completions", sim.base_url());
        let client = client(&url);
        for _ in 0..4 {
            let ex = client.send("hello").await;
            assert!(!ex.connection_retried);
            assert!(ex.retry_after.is_some() || fault == FaultKind::Http503);
        }
        assert_eq!(sim.stats().requests_received, 4, "{fault:?}");
    }
}

/// Reads until the peer closes (or 5 s pass): what arrived.
async fn read_to_close(tcp: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&buf[..n]);
    }
    panic!("the connection was still open after 5 s");
}

/// A streamed chat request on a kept-alive connection.
fn chat_request(max_tokens: u32) -> String {
    let body = format!(
        "{{\"model\":\"m\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"max_tokens\":{max_tokens},\"stream\":true}}"
    );
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one chunked answer to its terminator; true when it ended whole.
async fn read_answer(tcp: &mut TcpStream) -> bool {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tcp.read(&mut buf).await.unwrap();
        if n == 0 {
            return false;
        }
        got.extend_from_slice(&buf[..n]);
        if got.ends_with(b"\r\n0\r\n\r\n") {
            return true;
        }
    }
}

#[tokio::test]
async fn the_simulator_closes_after_each_stream_and_answers_nothing_more() {
    let sim = serve_sim(SimSpec {
        ttft: Duration::from_millis(20),
        tpot: Duration::from_millis(1),
        jitter: 0.0,
        quirks: [Quirk::CloseAfterStream].into_iter().collect(),
        ..SimSpec::default()
    })
    .await;
    let mut tcp = TcpStream::connect(sim.addr()).await.unwrap();
    tcp.write_all(chat_request(4).as_bytes()).await.unwrap();
    assert!(read_answer(&mut tcp).await, "the answer itself is whole");
    // The next request at once, as a client reusing the connection would.
    tcp.write_all(chat_request(4).as_bytes()).await.unwrap();
    let after = read_to_close(&mut tcp).await;
    assert!(
        after.is_empty(),
        "answered on a closing connection: {:?}",
        String::from_utf8_lossy(&after)
    );
}

#[tokio::test]
async fn the_simulator_closes_idle_connections_but_not_busy_ones() {
    let idle = Duration::from_millis(150);
    let sim = serve_sim(SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(20),
        jitter: 0.0,
        idle_timeout: Some(idle),
        ..SimSpec::default()
    })
    .await;
    let mut tcp = TcpStream::connect(sim.addr()).await.unwrap();
    // A stream twice as long as the idle timeout is not cut...
    tcp.write_all(chat_request(16).as_bytes()).await.unwrap();
    assert!(read_answer(&mut tcp).await, "a busy connection was closed");
    // ...and the connection is closed once it has idled for the timeout.
    let answered = Instant::now();
    assert!(read_to_close(&mut tcp).await.is_empty());
    assert!(answered.elapsed() >= idle - Duration::from_millis(20));
}

/// Four users for ten seconds against servers that close connections after
/// every stream, one engine per `reuse_connections`, and one that keeps them.
const CLOSING_RACE: &str = "race:\n  name: closing\n  countdown_s: 0\n  duration: 10\n  users: 4\n  spawn_rate: 100\n  engines:\n    - {name: auto, max_tokens: 8, simulate: {ttft_ms: 20, tpot_ms: 5, quirks: [close_after_stream]}}\n    - {name: always, max_tokens: 8, reuse_connections: always, simulate: {ttft_ms: 20, tpot_ms: 5, quirks: [close_after_stream]}}\n    - {name: never, max_tokens: 8, reuse_connections: never, simulate: {ttft_ms: 20, tpot_ms: 5, quirks: [close_after_stream]}}\n    - {name: kept, max_tokens: 8, simulate: {ttft_ms: 20, tpot_ms: 5}}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_closing_after_each_stream_cost_retries_never_failures() {
    let (outcome, records) =
        common::run(&common::spec(CLOSING_RACE), Duration::from_secs(30)).await;
    let lanes = &outcome.snapshot.lanes;
    for lane in lanes {
        assert_eq!(
            lane.counts.failed, 0,
            "{}: {:?}",
            lane.name, lane.error_samples
        );
        assert!(lane.counts.ok > 100, "{}: {}", lane.name, lane.counts.ok);
    }
    let [auto, always, never, kept] = [&lanes[0], &lanes[1], &lanes[2], &lanes[3]];
    // auto: the second close right after an answer stops reuse; the users'
    // requests already on their way may be retried too.
    assert_eq!(auto.connections.reuse, ConnectionReuse::Stopped);
    assert!(
        (2..=6).contains(&auto.connections.retries),
        "auto: {} retries",
        auto.connections.retries
    );
    // always: every reuse of a closing connection is retried, and counted.
    assert_eq!(always.connections.reuse, ConnectionReuse::Reused);
    assert!(
        always.connections.retries * 4 > always.counts.ok,
        "always: {} retries for {} requests",
        always.connections.retries,
        always.counts.ok
    );
    // never: one connection per request, none opened ahead.
    assert_eq!(never.connections.reuse, ConnectionReuse::Never);
    assert_eq!(never.connections.retries, 0);
    assert_eq!(never.connections.opened, never.counts.started);
    // A server that keeps its connections costs nothing.
    assert_eq!(kept.connections.retries, 0);
    assert!(kept.connections.opened <= 12, "{}", kept.connections.opened);
    // The fold counted what the client did, and the commentary said it once.
    let said: Vec<_> = outcome
        .snapshot
        .commentary
        .iter()
        .filter(|c| c.kind == llm_locust::metrics::CommentaryKind::Reconnecting)
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0].engine, Some(0));
    assert_eq!(
        records.len() as u64,
        lanes.iter().map(|l| l.counts.ok).sum::<u64>()
    );
}
