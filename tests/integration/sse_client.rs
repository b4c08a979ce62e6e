//! The streaming client against hand-written servers on 127.0.0.1: SSE
//! framing split across reads, CRLF, comments, multi-line data, the
//! role-only delta, usage, error statuses and timeouts.
use crate::common;

use std::time::Duration;

use llm_locust::config::{EndpointKind, EngineSpec};
use llm_locust::engine::client::{EngineClient, Usage};
use llm_locust::metrics::ErrorKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn engine(url: &str, timeout: Duration) -> EngineSpec {
    common::engine_spec(url, timeout)
}

/// Serves one connection: reads the request, then writes each piece with
/// the given pause before it.
async fn serve_once(pieces: Vec<(Duration, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 65536];
        let mut read = 0;
        // Read headers and the (small) body.
        loop {
            let n = socket.read(&mut buf[read..]).await.unwrap();
            read += n;
            let text = String::from_utf8_lossy(&buf[..read]);
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if read >= end + 4 + len {
                    break;
                }
            }
            if n == 0 {
                return;
            }
        }
        for (pause, bytes) in pieces {
            tokio::time::sleep(pause).await;
            if socket.write_all(&bytes).await.is_err() {
                return;
            }
            let _ = socket.flush().await;
        }
        let _ = socket.shutdown().await;
    });
    url
}

fn sse_head() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n".to_vec()
}

fn now() -> Duration {
    Duration::ZERO
}

#[tokio::test]
async fn events_split_across_reads_with_crlf_comments_and_multiline_data_decode() {
    let body = concat!(
        ": keep-alive comment\r\n\r\n",
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"delta\":\r\ndata: {\"content\":\"Hel\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
        "data: [DONE]\n\n",
    )
    .as_bytes();
    // Cut the body at awkward places: inside "data:", inside JSON, between CR and LF.
    let cuts = [3, 40, 41, 97, 98, 150, 151, 152, body.len() - 3];
    let mut pieces = vec![(now(), sse_head())];
    let mut last = 0;
    for &cut in &cuts {
        pieces.push((Duration::from_millis(5), body[last..cut].to_vec()));
        last = cut;
    }
    pieces.push((Duration::from_millis(5), body[last..].to_vec()));
    let url = serve_once(pieces).await;
    let client = EngineClient::new(&engine(&url, Duration::from_secs(5)), &url, None).unwrap();
    let ex = client.send("hi").await;
    assert!(ex.error.is_none(), "{:?}", ex.error);
    assert_eq!(ex.text, "Hello");
    assert_eq!(ex.chunk_times.len(), 2);
    assert_eq!(
        ex.usage,
        Some(Usage {
            prompt_tokens: 5,
            completion_tokens: 2,
            cached_tokens: None,
        })
    );
    assert_eq!(ex.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn first_token_is_timed_at_its_arrival_not_at_the_role_delta() {
    let pieces = vec![
        (now(), sse_head()),
        (
            now(),
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n".to_vec(),
        ),
        (
            Duration::from_millis(120),
            b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n".to_vec(),
        ),
        (
            Duration::from_millis(30),
            b"data: {\"choices\":[{\"delta\":{\"content\":\"y\"}}]}\n\ndata: [DONE]\n\n".to_vec(),
        ),
    ];
    let url = serve_once(pieces).await;
    let client = EngineClient::new(&engine(&url, Duration::from_secs(5)), &url, None).unwrap();
    let ex = client.send("hi").await;
    assert!(ex.error.is_none(), "{:?}", ex.error);
    let ttft = ex.chunk_times[0] - ex.sent;
    assert!(
        ttft >= Duration::from_millis(120) && ttft < Duration::from_millis(160),
        "{ttft:?}"
    );
    let gap = ex.chunk_times[1] - ex.chunk_times[0];
    assert!(
        gap >= Duration::from_millis(28) && gap < Duration::from_millis(60),
        "{gap:?}"
    );
}

#[tokio::test]
async fn error_status_keeps_the_status_and_the_start_of_the_body() {
    let long = "x".repeat(2000);
    let body = format!("{{\"error\":{{\"message\":\"model not found {long}\"}}}}");
    let head = format!(
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let url = serve_once(vec![(now(), head.into_bytes()), (now(), body.into_bytes())]).await;
    let client = EngineClient::new(&engine(&url, Duration::from_secs(5)), &url, None).unwrap();
    let ex = client.send("hi").await;
    assert_eq!(ex.status, 404);
    let err = ex.error.unwrap();
    assert_eq!(err.kind, ErrorKind::Http4xx);
    assert!(err.message.contains("model not found"));
    assert!(err.message.len() < 600, "{} bytes kept", err.message.len());
}

#[tokio::test]
async fn a_stream_that_ends_early_is_a_reset_and_a_stall_is_a_timeout() {
    let early = vec![
        (now(), sse_head()),
        (
            now(),
            b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n".to_vec(),
        ),
    ];
    let url = serve_once(early).await;
    let client = EngineClient::new(&engine(&url, Duration::from_secs(5)), &url, None).unwrap();
    let ex = client.send("hi").await;
    assert_eq!(ex.error.map(|e| e.kind), Some(ErrorKind::StreamReset));
    assert_eq!(ex.chunk_times.len(), 1);

    let stall = vec![
        (now(), sse_head()),
        (
            now(),
            b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n".to_vec(),
        ),
        (Duration::from_secs(30), b"data: [DONE]\n\n".to_vec()),
    ];
    let url = serve_once(stall).await;
    let client = EngineClient::new(&engine(&url, Duration::from_millis(300)), &url, None).unwrap();
    let started = std::time::Instant::now();
    let ex = client.send("hi").await;
    assert_eq!(ex.error.map(|e| e.kind), Some(ErrorKind::Timeout));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        ex.chunk_times.len(),
        1,
        "what arrived before the stall is kept"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    drop(listener);
    let client = EngineClient::new(&engine(&url, Duration::from_secs(5)), &url, None).unwrap();
    let ex = client.send("hi").await;
    assert_eq!(ex.status, 0);
    assert_eq!(ex.error.map(|e| e.kind), Some(ErrorKind::Connect));
}

#[tokio::test]
async fn request_body_asks_for_streaming_with_usage() {
    let url = "http://127.0.0.1:1/v1/chat/completions";
    let mut spec = engine(url, Duration::from_secs(1));
    spec.temperature = Some(0.5);
    let client = EngineClient::new(&spec, url, None).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&client.request_body("hello")).unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["messages"][0]["content"], "hello");
    assert_eq!(body["max_tokens"], 8);
    assert!(body.get("ignore_eos").is_none());
    spec.endpoint = EndpointKind::Completions;
    spec.ignore_eos = true;
    let client = EngineClient::new(&spec, url, None).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&client.request_body("hello")).unwrap();
    assert_eq!(body["prompt"], "hello");
    assert_eq!(body["ignore_eos"], true);
    assert!(body.get("messages").is_none());
}

/// Answers one request with 401 and a body that echoes its headers, as
/// many real APIs do ("Incorrect API key provided: ...").
async fn echo_headers_401() -> String {
    common::serve_one(
        |request| {
            let echoed: Vec<&str> = request
                .lines()
                .filter(|l| {
                    let l = l.to_ascii_lowercase();
                    l.starts_with("authorization") || l.starts_with("x-api-key")
                })
                .collect();
            let body = format!(
                r#"{{"error": "Incorrect API key provided: {}"}}"#,
                echoed.join("; ")
            );
            format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        },
        Duration::ZERO,
    )
    .await
}

#[tokio::test]
async fn error_messages_never_carry_the_key_or_secret_headers() {
    let url = echo_headers_401().await;
    let mut spec = engine(&url, Duration::from_secs(5));
    spec.headers
        .insert("X-Api-Key".into(), "xk-HEADER-SECRET".into());
    let client = EngineClient::new(&spec, &url, Some("sk-ENV-SECRET")).unwrap();
    let ex = client.send("hi").await;
    let error = ex.error.expect("401 is an error");
    assert_eq!(error.kind, ErrorKind::Http4xx);
    assert!(
        error.message.contains("Incorrect API key"),
        "{}",
        error.message
    );
    assert!(error.message.contains("<redacted>"), "{}", error.message);
    for secret in ["sk-ENV-SECRET", "xk-HEADER-SECRET"] {
        assert!(!error.message.contains(secret), "{}", error.message);
    }
}

#[tokio::test]
async fn connection_errors_name_the_url_without_its_credentials() {
    // Nothing listens on port 9 (discard) on a test machine.
    let url =
        "http://user:PASSWORD-SECRET@127.0.0.1:9/v1/chat/completions?api_key=QUERY-SECRET&x=1";
    let client = EngineClient::new(&engine(url, Duration::from_secs(5)), url, None).unwrap();
    let ex = client.send("hi").await;
    let error = ex.error.expect("nothing listens");
    assert_eq!(error.kind, ErrorKind::Connect);
    assert!(error.message.contains("127.0.0.1:9"), "{}", error.message);
    for secret in ["PASSWORD-SECRET", "QUERY-SECRET"] {
        assert!(!error.message.contains(secret), "{}", error.message);
    }
}

/// Answers 401 with a body whose first 500 bytes end inside the echoed key.
async fn echo_key_across_the_cut() -> String {
    common::serve_one(
        |request| {
            let auth = request
                .lines()
                .find_map(|l| l.strip_prefix("authorization: "))
                .unwrap();
            // "Bearer " plus six characters of the key fit before byte 500.
            let body = format!("{}{auth} is not a valid key", "x".repeat(500 - 7 - 6));
            format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        },
        Duration::ZERO,
    )
    .await
}

#[tokio::test]
async fn a_key_cut_in_half_by_the_error_body_limit_is_still_redacted() {
    let url = echo_key_across_the_cut().await;
    let client = EngineClient::new(
        &engine(&url, Duration::from_secs(5)),
        &url,
        Some("sk-ENV-SECRET"),
    )
    .unwrap();
    let error = client.send("hi").await.error.expect("401 is an error");
    assert!(
        error.message.ends_with("Bearer <redacted>"),
        "{}",
        error.message
    );
    assert!(!error.message.contains("sk-ENV"), "{}", error.message);
}
