//! `--metrics-addr`: a headless race serves its live figures at `/metrics`
//! in the Prometheus text format, scraped here while it runs; an address
//! that cannot be listened on stops the race before it starts (exit 2).
use crate::common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

const RACE: &str = r"
race:
  name: Scraped Race
  countdown_s: 0
  duration: 4
  users: 2
  spawn_rate: 100
  engines:
    - name: alpha
      max_tokens: 8
      simulate: {ttft_ms: 20, tpot_ms: 5}
";

/// The body of `GET /metrics` at `addr`.
fn scrape(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{response}"
    );
    response.split_once("\r\n\r\n").unwrap().1.to_owned()
}

fn ok_requests(body: &str) -> u64 {
    body.lines()
        .find(|l| l.starts_with("llm_locust_requests_total{engine=\"alpha\",outcome=\"ok\"}"))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_running_race_can_be_scraped() {
    let tmp = tempfile::tempdir().unwrap();
    let race = tmp.path().join("race.yaml");
    std::fs::write(&race, RACE).unwrap();
    let mut child = common::bin()
        .args(["race", race.to_str().unwrap(), "--no-tui", "--no-save"])
        .args(["--metrics-addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        if let Some(url) = line.trim().strip_prefix("metrics: http://") {
            addr = Some(url.trim_end_matches("/metrics").to_owned());
            break;
        }
        line.clear();
    }
    let addr = addr.expect("the metrics address on stderr");
    // Keep reading stderr so the race never blocks on a full pipe.
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let body = scrape(&addr);
        if ok_requests(&body) > 0 {
            break body;
        }
        assert!(Instant::now() < deadline, "no request counted:\n{body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    for family in [
        "# TYPE llm_locust_requests_total counter",
        "# TYPE llm_locust_ttft_seconds summary",
        "llm_locust_ttft_seconds{engine=\"alpha\",quantile=\"0.99\"}",
        "llm_locust_output_tokens_total{engine=\"alpha\"}",
        "llm_locust_in_flight{engine=\"alpha\"}",
        "llm_locust_race_elapsed_seconds",
    ] {
        assert!(body.contains(family), "{family} missing:\n{body}");
    }
    // Later scrapes see the race go on.
    let first = ok_requests(&body);
    let later = loop {
        let n = ok_requests(&scrape(&addr));
        if n > first {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "the count did not grow past {first}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(later > first);
    assert!(child.wait().unwrap().success());
    drain.join().unwrap();
}

#[test]
fn an_address_in_use_is_bad_input_before_the_race_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let race = tmp.path().join("race.yaml");
    std::fs::write(&race, RACE).unwrap();
    let out = tmp.path().join("out");
    let output = common::run_bin(&[
        "race",
        race.to_str().unwrap(),
        "--no-tui",
        "--output-dir",
        out.to_str().unwrap(),
        "--metrics-addr",
        &addr,
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        error.contains(&format!("--metrics-addr {addr}: cannot listen there")),
        "{stderr}"
    );
    // Nothing was raced, so nothing was written.
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}
