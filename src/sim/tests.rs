//! End-to-end tests of the simulator over real HTTP on 127.0.0.1. The
//! client is a minimal HTTP/1.1 reader on a raw `TcpStream`, so the tests
//! see exactly what went over the wire: arrival time of every body chunk
//! and whether the chunked body ended with its terminator or was cut.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{SimHandle, SimOptions, SimStats, serve, serve_with};
use crate::config::{FaultKind, SimSpec};
use crate::workload::estimate_tokens;

/// What came back for one request.
#[derive(Debug)]
struct Reply {
    sent: Instant,
    status: u16,
    headers: Vec<(String, String)>,
    /// Decoded body pieces, each stamped when its last byte arrived.
    pieces: Vec<(Instant, Vec<u8>)>,
    /// The body ended properly (chunked terminator or full length), rather
    /// than the connection breaking.
    clean_end: bool,
    end: Instant,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn body(&self) -> String {
        String::from_utf8(self.pieces.iter().flat_map(|(_, p)| p.clone()).collect()).unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body()).unwrap()
    }

    /// SSE `data:` payloads with the arrival time of the piece that completed them.
    fn events(&self) -> Vec<(Instant, String)> {
        let mut out = Vec::new();
        let mut carry = String::new();
        for (t, piece) in &self.pieces {
            carry.push_str(std::str::from_utf8(piece).unwrap());
            while let Some(i) = carry.find("\n\n") {
                let event: String = carry.drain(..i + 2).collect();
                let data = event
                    .trim_end()
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("{event:?}"));
                out.push((*t, data.to_owned()));
            }
        }
        assert!(carry.is_empty(), "incomplete trailing event {carry:?}");
        out
    }

    /// Events carrying generated text (not the role delta, usage or [DONE]).
    fn content_events(&self) -> Vec<(Instant, Value)> {
        self.events()
            .into_iter()
            .filter_map(|(t, data)| {
                let v: Value = serde_json::from_str(&data).ok()?;
                let c = &v["choices"][0];
                let text = c["delta"]["content"].as_str().or(c["text"].as_str())?;
                (!text.is_empty()).then_some((t, v))
            })
            .collect()
    }
}

async fn send(addr: SocketAddr, method: &str, path: &str, body: &str) -> Reply {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let sent = Instant::now();
    tcp.write_all(request.as_bytes()).await.unwrap();
    read_reply(tcp, sent).await
}

async fn read_reply(mut tcp: TcpStream, sent: Instant) -> Reply {
    let mut reply = Reply {
        sent,
        status: 0,
        headers: Vec::new(),
        pieces: Vec::new(),
        clean_end: false,
        end: sent,
    };
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 64 * 1024];
    let mut head_done = false;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    loop {
        let n = tcp.read(&mut tmp).await.unwrap_or(0);
        let now = Instant::now();
        reply.end = now;
        if n == 0 {
            // EOF: clean only for a body that runs to the close.
            reply.clean_end = head_done && !chunked && length.is_none();
            if reply.clean_end && !buf.is_empty() {
                reply.pieces.push((now, std::mem::take(&mut buf)));
            }
            return reply;
        }
        buf.extend_from_slice(&tmp[..n]);
        if !head_done {
            let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8(buf.drain(..i + 4).collect()).unwrap();
            let mut lines = head.lines();
            reply.status = lines
                .next()
                .unwrap()
                .split(' ')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            for line in lines.filter(|l| !l.is_empty()) {
                let (name, value) = line.split_once(':').unwrap();
                reply
                    .headers
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
            chunked = reply
                .header("transfer-encoding")
                .is_some_and(|v| v.contains("chunked"));
            length = reply.header("content-length").map(|v| v.parse().unwrap());
            head_done = true;
        }
        if chunked {
            // Decode every complete chunk in the buffer.
            while let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                let size =
                    usize::from_str_radix(std::str::from_utf8(&buf[..i]).unwrap(), 16).unwrap();
                if buf.len() < i + 2 + size + 2 {
                    break;
                }
                let data = buf[i + 2..i + 2 + size].to_vec();
                buf.drain(..i + 2 + size + 2);
                if size == 0 {
                    reply.clean_end = true;
                    return reply;
                }
                reply.pieces.push((now, data));
            }
        } else if let Some(len) = length {
            if buf.len() >= len {
                reply.pieces.push((now, std::mem::take(&mut buf)));
                reply.clean_end = true;
                return reply;
            }
        }
    }
}

fn fast() -> SimSpec {
    SimSpec {
        ttft: Duration::ZERO,
        tpot: Duration::ZERO,
        jitter: 0.0,
        prefill_per_token: Duration::ZERO,
        seed: 1,
        ..SimSpec::default()
    }
}

fn faulty(kind: FaultKind) -> SimSpec {
    SimSpec {
        faults: [(kind, 1.0)].into_iter().collect(),
        stall: Duration::from_millis(300),
        ..fast()
    }
}

async fn start(spec: SimSpec) -> SimHandle {
    serve(
        spec,
        "127.0.0.1:0".parse().unwrap(),
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

fn chat(prompt: &str, max_tokens: u32, stream: bool) -> String {
    json!({
        "model": "test-model",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "stream": stream,
        "stream_options": {"include_usage": true},
        "temperature": 0.7,
        "some_unknown_field": {"x": 1},
    })
    .to_string()
}

async fn post_chat(sim: &SimHandle, prompt: &str, max_tokens: u32) -> Reply {
    send(
        sim.addr(),
        "POST",
        "/v1/chat/completions",
        &chat(prompt, max_tokens, true),
    )
    .await
}

/// Polls the stats until `pred` holds (gauges settle just after a response ends).
async fn stats_until(sim: &SimHandle, pred: impl Fn(&SimStats) -> bool) -> SimStats {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let s = sim.stats();
        if pred(&s) || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test]
async fn chat_stream_has_role_tokens_usage_and_done() {
    let sim = start(fast()).await;
    let prompt = "Tell me a story about a simulated server, please.";
    let r = post_chat(&sim, prompt, 7).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert!(r.clean_end);
    let events = r.events();
    let first: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["model"], "test-model");
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );

    let content = r.content_events();
    assert_eq!(content.len(), 7);
    for (i, (_, v)) in content.iter().enumerate() {
        let text = v["choices"][0]["delta"]["content"].as_str().unwrap();
        assert!(text.starts_with(' ') && text.len() > 1, "{text:?}");
        let finish = if i == 6 { json!("length") } else { Value::Null };
        assert_eq!(v["choices"][0]["finish_reason"], finish);
    }
    let n = events.len();
    assert_eq!(n, 1 + 7 + 2, "{events:?}");
    let usage: Value = serde_json::from_str(&events[n - 2].1).unwrap();
    assert_eq!(usage["choices"], json!([]));
    let p = estimate_tokens(prompt);
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": p, "completion_tokens": 7, "total_tokens": p + 7})
    );
    assert_eq!(events[n - 1].1, "[DONE]");

    let s = stats_until(&sim, |s| s.in_flight == 0).await;
    assert_eq!(
        (
            s.requests_received,
            s.requests_completed,
            s.in_flight,
            s.queued
        ),
        (1, 1, 0, 0)
    );
    assert!(s.faults_injected.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn completions_stream_text_without_role_event() {
    let sim = start(SimSpec {
        output_tokens: Some(3),
        ..fast()
    })
    .await;
    let body = json!({"model": "m", "prompt": ["abcd", "efgh"], "max_tokens": 50, "stream": true,
                      "stream_options": {"include_usage": true}})
    .to_string();
    let r = send(sim.addr(), "POST", "/v1/completions", &body).await;
    assert_eq!(r.status, 200);
    let events = r.events();
    // spec.output_tokens wins over the request's max_tokens.
    assert_eq!(events.len(), 3 + 2, "{events:?}");
    let content = r.content_events();
    assert_eq!(content.len(), 3);
    assert_eq!(content[0].1["object"], "text_completion");
    assert_eq!(content[2].1["choices"][0]["finish_reason"], "length");
    let usage: Value = serde_json::from_str(&events[3].1).unwrap();
    assert_eq!(usage["usage"]["prompt_tokens"], 2);
    assert_eq!(events[4].1, "[DONE]");
    sim.shutdown().await;
}

#[tokio::test]
async fn non_streaming_answers_wait_and_carry_usage() {
    let sim = start(SimSpec {
        ttft: Duration::from_millis(40),
        ..fast()
    })
    .await;
    let r = send(
        sim.addr(),
        "POST",
        "/v1/chat/completions",
        &chat("abcdefgh", 4, false),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.end - r.sent >= Duration::from_millis(40));
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        4
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6})
    );

    let body = json!({"model": "m", "prompt": "hi"}).to_string();
    let v = send(sim.addr(), "POST", "/v1/completions", &body)
        .await
        .json();
    // No max_tokens anywhere: the default length.
    assert_eq!(
        v["choices"][0]["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        128
    );
    assert_eq!(v["usage"]["completion_tokens"], 128);
    sim.shutdown().await;
}

#[tokio::test]
async fn ttft_prefill_and_tpot_are_honoured() {
    // 60 ms base + 20 prompt tokens x 1 ms prefill = 80 ms to the first token.
    let spec = SimSpec {
        ttft: Duration::from_millis(60),
        prefill_per_token: Duration::from_millis(1),
        tpot: Duration::from_millis(10),
        ..fast()
    };
    let sim = start(spec).await;
    let prompt = "x".repeat(80);
    let r = post_chat(&sim, &prompt, 5).await;
    let events = r.events();
    let role_at = events[0].0 - r.sent;
    let content = r.content_events();
    assert_eq!(content.len(), 5);
    let ttft = content[0].0 - r.sent;
    let last = content[4].0 - r.sent;
    assert!(
        role_at < Duration::from_millis(30),
        "role delta after {:.1} ms",
        ms(role_at)
    );
    assert!(ttft >= Duration::from_millis(80), "ttft {:.1} ms", ms(ttft));
    assert!(ttft < Duration::from_millis(100), "ttft {:.1} ms", ms(ttft));
    assert!(
        last >= Duration::from_millis(120),
        "last token {:.1} ms",
        ms(last)
    );
    assert!(
        last < Duration::from_millis(140),
        "last token {:.1} ms",
        ms(last)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn stamped_tokens_carry_their_send_time_from_arrival() {
    let spec = SimSpec {
        ttft: Duration::from_millis(30),
        tpot: Duration::from_millis(10),
        ..fast()
    };
    let options = SimOptions { stamp_tokens: true };
    let sim = serve_with(
        spec,
        options,
        "127.0.0.1:0".parse().unwrap(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let r = post_chat(&sim, "stamp me", 5).await;
    let content = r.content_events();
    assert_eq!(content.len(), 5);
    let mut previous = 0;
    for (i, (seen, event)) in content.iter().enumerate() {
        let text = event["choices"][0]["delta"]["content"].as_str().unwrap();
        let stamp: u64 = text.trim().parse().unwrap_or_else(|_| panic!("{text:?}"));
        // Never before its deadline, never after the client saw it (the
        // request arrived after `sent`), and in order.
        let due_us = 30_000 + 10_000 * i as u64;
        assert!(
            stamp >= due_us,
            "token {i} stamped {stamp} µs, due {due_us}"
        );
        let seen_us = u64::try_from((*seen - r.sent).as_micros()).unwrap();
        assert!(
            stamp <= seen_us,
            "token {i} stamped {stamp} µs, seen at {seen_us}"
        );
        assert!(stamp >= previous);
        previous = stamp;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn capacity_one_queues_the_second_request() {
    let spec = SimSpec {
        ttft: Duration::from_millis(50),
        tpot: Duration::from_millis(10),
        capacity: 1,
        ..fast()
    };
    let sim = start(spec).await;
    let addr = sim.addr();
    let a = tokio::spawn(async move {
        send(addr, "POST", "/v1/chat/completions", &chat("a", 5, true)).await
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let b = tokio::spawn(async move {
        send(addr, "POST", "/v1/chat/completions", &chat("b", 5, true)).await
    });
    let s = stats_until(&sim, |s| s.queued == 1).await;
    assert_eq!((s.in_flight, s.queued), (1, 1));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!((a.content_events().len(), b.content_events().len()), (5, 5));
    let a_done = a.events().last().unwrap().0;
    let b_first = b.content_events()[0].0;
    assert!(
        b_first >= a_done + Duration::from_millis(45),
        "b's first token {:.1} ms after a ended",
        ms(b_first - a_done)
    );
    let s = stats_until(&sim, |s| s.in_flight == 0).await;
    assert_eq!((s.requests_completed, s.in_flight, s.queued), (2, 0, 0));
    sim.shutdown().await;
}

/// Like TGI past `--max-concurrent-requests`: with one slot busy and one
/// request waiting, the next is turned away at once with a 429.
#[tokio::test]
async fn a_full_queue_turns_requests_away_with_429() {
    let spec = SimSpec {
        ttft: Duration::from_millis(300),
        tpot: Duration::from_millis(10),
        capacity: 1,
        max_queue: Some(1),
        ..fast()
    };
    let sim = start(spec).await;
    let addr = sim.addr();
    let a = tokio::spawn(async move {
        send(addr, "POST", "/v1/chat/completions", &chat("a", 3, true)).await
    });
    stats_until(&sim, |s| s.in_flight == 1).await;
    let b = tokio::spawn(async move {
        send(addr, "POST", "/v1/chat/completions", &chat("b", 3, true)).await
    });
    let s = stats_until(&sim, |s| s.queued == 1).await;
    assert_eq!((s.in_flight, s.queued), (1, 1));
    let started = Instant::now();
    let c = post_chat(&sim, "c", 3).await;
    assert_eq!(c.status, 429);
    assert!(c.body().contains("Model is overloaded"), "{}", c.body());
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "turned away at once"
    );
    // The ones let in are served as usual.
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!((a.content_events().len(), b.content_events().len()), (3, 3));
    sim.shutdown().await;
}

#[tokio::test]
async fn status_faults_answer_with_their_status() {
    for (kind, status) in [
        (FaultKind::Http429, 429),
        (FaultKind::Http500, 500),
        (FaultKind::Http503, 503),
    ] {
        let sim = start(faulty(kind)).await;
        let r = post_chat(&sim, "hi", 5).await;
        assert_eq!(r.status, status);
        assert_eq!(
            r.header("retry-after"),
            (kind == FaultKind::Http429).then_some("1")
        );
        assert!(r.json()["error"]["message"].is_string());
        let s = sim.stats();
        assert_eq!(s.faults_injected, [(kind, 1)].into_iter().collect());
        assert_eq!((s.requests_completed, s.in_flight), (0, 0));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn reset_cuts_the_body_after_some_tokens() {
    let sim = start(faulty(FaultKind::Reset)).await;
    let r = post_chat(&sim, "hi", 20).await;
    assert_eq!(r.status, 200);
    assert!(!r.clean_end, "the chunked body must not end cleanly");
    assert_eq!(r.content_events().len(), 10);
    assert!(r.events().iter().all(|(_, d)| d != "[DONE]"));
    assert!(
        r.content_events()
            .iter()
            .all(|(_, v)| v["choices"][0]["finish_reason"].is_null())
    );
    let s = stats_until(&sim, |s| s.in_flight == 0).await;
    assert_eq!(s.faults_injected.get(&FaultKind::Reset), Some(&1));
    assert_eq!((s.requests_completed, s.in_flight), (0, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn stall_goes_silent_then_drops_the_connection() {
    let sim = start(faulty(FaultKind::Stall)).await;
    let r = post_chat(&sim, "hi", 10).await;
    assert!(!r.clean_end);
    assert_eq!(r.content_events().len(), 5);
    let silence = r.end - r.pieces.last().unwrap().0;
    assert!(
        silence >= Duration::from_millis(280),
        "silent for {:.1} ms",
        ms(silence)
    );
    assert!(
        silence < Duration::from_millis(600),
        "silent for {:.1} ms",
        ms(silence)
    );
    assert_eq!(sim.stats().faults_injected.get(&FaultKind::Stall), Some(&1));
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_sends_a_truncated_line_then_carries_on() {
    let sim = start(faulty(FaultKind::Malformed)).await;
    let r = post_chat(&sim, "hi", 6).await;
    assert!(r.clean_end);
    let events: Vec<String> = r.events().into_iter().map(|(_, d)| d).collect();
    let bad = events
        .iter()
        .position(|d| d == r#"{"choices":[{"delta":{"content":"#)
        .unwrap();
    // role + 3 tokens, the bad line, 3 more tokens, usage, [DONE]
    assert_eq!(bad, 4, "{events:?}");
    assert_eq!(r.content_events().len(), 6);
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert_eq!(
        sim.stats().faults_injected.get(&FaultKind::Malformed),
        Some(&1)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn stream_error_sends_an_error_event_and_ends() {
    let sim = start(faulty(FaultKind::StreamError)).await;
    let r = post_chat(&sim, "hi", 6).await;
    assert!(r.clean_end);
    let events = r.events();
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(last["error"]["type"], "server_error");
    assert_eq!(last["error"]["message"], "simulated server error");
    assert_eq!(r.content_events().len(), 3);
    assert!(events.iter().all(|(_, d)| d != "[DONE]"));
    assert_eq!(
        sim.stats().faults_injected.get(&FaultKind::StreamError),
        Some(&1)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_json_is_a_400_openai_error() {
    let sim = start(fast()).await;
    let r = send(sim.addr(), "POST", "/v1/chat/completions", "{\"model\": ").await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid request body")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn models_and_health() {
    let sim = start(fast()).await;
    let r = send(sim.addr(), "GET", "/v1/models", "").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["id"], "sim");
    assert_eq!(send(sim.addr(), "GET", "/health", "").await.status, 200);
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    sim.shutdown().await;
}

#[tokio::test]
async fn zero_latency_streams_ten_thousand_tokens_quickly() {
    let sim = start(fast()).await;
    let t0 = Instant::now();
    let r = post_chat(&sim, "go", 10_000).await;
    let elapsed = t0.elapsed();
    assert!(r.clean_end);
    let content = r.content_events();
    assert_eq!(content.len(), 10_000);
    let events = r.events();
    let usage: Value = serde_json::from_str(&events[events.len() - 2].1).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 10_000);
    assert!(
        elapsed < Duration::from_secs(2),
        "10k tokens took {:.1} ms",
        ms(elapsed)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn client_going_away_frees_the_slot() {
    let spec = SimSpec {
        tpot: Duration::from_secs(5),
        capacity: 1,
        ..fast()
    };
    let sim = start(spec).await;
    let mut tcp = TcpStream::connect(sim.addr()).await.unwrap();
    let body = chat("hi", 5, true);
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut tmp = [0u8; 4096];
    let _ = tcp.read(&mut tmp).await.unwrap();
    assert_eq!(stats_until(&sim, |s| s.in_flight == 1).await.in_flight, 1);
    drop(tcp);
    let s = stats_until(&sim, |s| s.in_flight == 0).await;
    assert_eq!((s.in_flight, s.requests_completed), (0, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_is_bounded_with_streams_open() {
    let spec = SimSpec {
        tpot: Duration::from_secs(30),
        ..fast()
    };
    let sim = start(spec).await;
    let addr = sim.addr();
    let open = tokio::spawn(async move {
        send(addr, "POST", "/v1/chat/completions", &chat("hi", 5, true)).await
    });
    stats_until(&sim, |s| s.in_flight == 1).await;
    let t0 = Instant::now();
    sim.shutdown().await;
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(1300),
        "shutdown took {:.1} ms",
        ms(took)
    );
    let r = tokio::time::timeout(Duration::from_secs(1), open)
        .await
        .unwrap()
        .unwrap();
    assert!(!r.clean_end);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test]
async fn bind_failure_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = serve(fast(), addr, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot listen on {addr}: address in use; pick another --port")
    );
}
