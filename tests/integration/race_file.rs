//! Race files: what a race records, what replay and report rebuild from it,
//! and how damaged files are met.
use crate::common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{bin, run_bin as run};

use llm_locust::engine::{self, RecordSink};
use llm_locust::metrics::{CommentaryKind, RacePhase, RaceSnapshot};
use llm_locust::racefile::{self, FORMAT_VERSION, MAGIC, RaceFileError, RaceFileWriter};
use llm_locust::replay::{PlaybackCommand, Player};
use tokio_util::sync::CancellationToken;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Two simulated engines, one of them failing now and then and closing its
/// connections after every stream, so the file holds successes, failures,
/// every kind of timing, connection retries and reuse given up.
const RACE: &str = r#"
race:
  name: Recorded Race
  countdown_s: 0
  duration: 2.5
  users: 4
  spawn_rate: 100
  slo:
    ttft_p99_ms: 500
  engines:
    - name: steady
      max_tokens: 12
      headers:
        Authorization: "Token S3CR3T-A1"
        X-Api-Key: "S3CR3T-B2"
        X-Request-Priority: "high"
      simulate: {ttft_ms: 30, tpot_ms: 6, jitter: 0.2}
    - name: flaky
      max_tokens: 12
      api_key_env: LLM_LOCUST_RACEFILE_KEY
      simulate: {ttft_ms: 50, tpot_ms: 4, jitter: 0.2, error_rate: 0.15, quirks: [close_after_stream]}
"#;

const API_KEY: &str = "sk-env-SECRET-3333";

/// Runs `yaml` headless into `out`; returns the race folder and the
/// result table it printed.
fn race(tmp: &Path, yaml: &str) -> (PathBuf, String) {
    let file = tmp.join("race.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = tmp.join("out");
    let output = bin()
        .args(["race", file.to_str().unwrap(), "--no-tui", "--output-dir"])
        .arg(&out)
        .env("LLM_LOCUST_RACEFILE_KEY", API_KEY)
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    (common::race_dir(&out), table(&output.stdout))
}

/// `report` on the race file in `dir`, into `tmp/regenerated`: that folder,
/// the race's `summary.json` and the rebuilt one.
fn report_again(tmp: &Path, dir: &Path) -> (PathBuf, String, String) {
    let regenerated = tmp.join("regenerated");
    let output = run(&[
        "report",
        dir.join(racefile::FILE_NAME).to_str().unwrap(),
        "--output-dir",
        regenerated.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let live = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    let rebuilt = std::fs::read_to_string(regenerated.join("summary.json")).unwrap();
    (regenerated, live, rebuilt)
}

fn files_named(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// The leaderboard table a command printed (from the 🏁 line on).
fn table(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    let start = text.find('🏁').expect("a result table");
    text[start..]
        .lines()
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn report_and_replay_rebuild_exactly_what_the_race_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, race_table) = race(tmp.path(), RACE);
    let race_file = dir.join(racefile::FILE_NAME);
    assert!(race_file.exists());

    let (regenerated, live, rebuilt) = report_again(tmp.path(), &dir);
    // Same counts, same percentiles, same everything: byte for byte.
    assert_eq!(live, rebuilt);
    let summary: serde_json::Value = serde_json::from_str(&live).unwrap();
    let failed: u64 = summary["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["requests_failed"].as_u64().unwrap())
        .sum();
    assert!(
        failed > 0,
        "the flaky engine should have failed some requests"
    );
    let flaky = &summary["engines"][1];
    assert!(
        flaky["connection_retries"].as_u64().unwrap() >= 2,
        "{flaky}"
    );
    assert_eq!(flaky["connection_reuse"], "stopped");
    let live_csvs = files_named(&dir, "csv");
    let rebuilt_csvs = files_named(&regenerated, "csv");
    assert_eq!(live_csvs.len(), 2);
    for (a, b) in live_csvs.iter().zip(&rebuilt_csvs) {
        assert_eq!(a.file_name(), b.file_name());
        assert_eq!(
            std::fs::read_to_string(a).unwrap(),
            std::fs::read_to_string(b).unwrap(),
            "{}",
            a.display()
        );
    }

    // The file's own copy of the summary is the one the race wrote.
    let recording = racefile::read(&race_file).unwrap();
    assert!(recording.notice.is_none());
    assert_eq!(recording.summary_json.as_deref(), Some(live.as_str()));

    // Headless replay prints the table the race printed.
    let race_again = bin()
        .args(["replay", race_file.to_str().unwrap(), "--no-tui"])
        .output()
        .unwrap();
    assert!(matches!(race_again.status.code(), Some(0 | 1)));
    assert_eq!(table(&race_again.stdout), race_table);
    assert!(race_table.contains("steady") && race_table.contains("flaky"));
}

#[test]
fn secrets_never_reach_the_race_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = race(tmp.path(), RACE);
    let raw = std::fs::read(dir.join(racefile::FILE_NAME)).unwrap();
    assert_eq!(&raw[..8], &MAGIC);
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&raw[10..])
        .read_to_end(&mut inflated)
        .unwrap();
    for bytes in [&raw, &inflated] {
        let text = String::from_utf8_lossy(bytes);
        for secret in [API_KEY, "S3CR3T-A1", "S3CR3T-B2"] {
            assert!(!text.contains(secret), "{secret} leaked into the race file");
        }
    }
    let text = String::from_utf8_lossy(&inflated);
    // What is not secret stays, so the file still says how the race was run.
    assert!(text.contains("X-Request-Priority") && text.contains("high"));
    assert!(text.contains("LLM_LOCUST_RACEFILE_KEY"));
    let recording = racefile::read(&dir.join(racefile::FILE_NAME)).unwrap();
    let headers = &recording.spec.engines[0].headers;
    assert_eq!(headers["Authorization"], "<redacted>");
    assert_eq!(headers["X-Api-Key"], "<redacted>");
}

/// Keeps every snapshot the aggregator published while racing `yaml`.
async fn record_in_process(dir: &Path, yaml: &str) -> (Vec<Arc<RaceSnapshot>>, RaceSnapshot) {
    let spec = common::spec(&yaml.replace("api_key_env: LLM_LOCUST_RACEFILE_KEY", ""));
    let path = dir.join(racefile::FILE_NAME);
    let (sink, writer) = RaceFileWriter::create(&path, &spec, "20261128-120000").unwrap();
    let sinks: Vec<Box<dyn RecordSink>> = vec![Box::new(sink)];
    let running = engine::start(
        &spec,
        common::prompts(),
        sinks,
        CancellationToken::new(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut snapshots = running.snapshots.clone();
    let keep = Arc::clone(&seen);
    let watcher = tokio::spawn(async move {
        while snapshots.changed().await.is_ok() {
            let snapshot = snapshots.borrow_and_update().clone();
            keep.lock().unwrap().push(snapshot);
        }
    });
    let outcome = running.finish().await.unwrap();
    watcher.await.unwrap();
    writer.finish(None).unwrap();
    let seen = seen.lock().unwrap().clone();
    (seen, (*outcome.snapshot).clone())
}

/// A snapshot without its publication counter, the one field that differs
/// between a live race and its replay.
fn unnumbered(mut snapshot: RaceSnapshot) -> RaceSnapshot {
    snapshot.sequence = 0;
    snapshot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_shows_at_each_moment_the_numbers_shown_live() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, last) = record_in_process(tmp.path(), RACE).await;
    let recording = Arc::new(racefile::read(&tmp.path().join(racefile::FILE_NAME)).unwrap());
    // Written without a summary: read up to the end, with a notice.
    assert!(recording.notice.is_some());

    let running: Vec<&Arc<RaceSnapshot>> = live
        .iter()
        .filter(|s| s.phase == RacePhase::Running && s.total_requests() > 0)
        .collect();
    assert!(running.len() >= 10, "{} live snapshots", running.len());
    assert!(
        running.iter().any(|s| s.lanes.iter().any(|l| l
            .traces
            .iter()
            .any(|t| t.ended_at.is_none() && !t.text.is_empty()))),
        "live snapshots show requests streaming in the inspector"
    );
    // And the servers' own metrics, scraped from the simulators' pages.
    assert!(
        last.lanes
            .iter()
            .all(|l| l.server.as_ref().is_some_and(|s| s.scrapes >= 2)),
        "server samples are recorded"
    );
    // The compared snapshots carry the commentary too (a lead, at least).
    assert!(!last.commentary.is_empty(), "no commentary");
    // And the connections the flaky engine's server closed under requests.
    assert!(last.lanes[1].connections.retries >= 2);
    assert_eq!(
        last.lanes[1].connections.reuse,
        llm_locust::metrics::ConnectionReuse::Stopped
    );
    // And the timeline's recent requests, the flaky engine's failures too.
    assert!(
        last.lanes.iter().all(|l| !l.recent.is_empty())
            && last.lanes[1].recent.iter().any(|r| !r.is_ok()),
        "recent requests: {:?}",
        last.lanes
            .iter()
            .map(|l| l.recent.len())
            .collect::<Vec<_>>()
    );
    let mut player = Player::new(Arc::clone(&recording));
    // Forward in order, then the same moments again after seeking around.
    for pass in 0..2 {
        for shown in running.iter().step_by(3) {
            player.seek_to(shown.elapsed);
            assert_eq!(
                unnumbered(player.snapshot()),
                unnumbered((***shown).clone()),
                "pass {pass}, at {:?}",
                shown.elapsed
            );
        }
        player.seek_to(recording.length());
    }
    assert_eq!(
        unnumbered(player.run_to_end()),
        unnumbered(last),
        "final snapshot"
    );
}

/// A race to 40 requests: `quick` crosses the line within a second,
/// `shaky` fails half its requests until the time limit.
const COMMENTARY_RACE: &str = r#"
race:
  name: Commentary Race
  countdown_s: 0
  duration: 3
  users: 8
  spawn_rate: 100
  finish: {requests: 40, grace_s: 1}
  slo:
    error_rate_max: 0.2
  engines:
    - name: quick
      max_tokens: 8
      simulate: {ttft_ms: 20, tpot_ms: 5, jitter: 0.1}
    - name: shaky
      max_tokens: 8
      simulate: {ttft_ms: 40, tpot_ms: 10, jitter: 0.1, error_rate: 0.5}
"#;

/// The commentary is a function of the recorded events: a replay writes
/// the lines the race wrote, at the same moments, without the race file
/// storing any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_writes_the_commentary_the_race_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, last) = record_in_process(tmp.path(), COMMENTARY_RACE).await;
    let lines = &last.commentary;
    let about = |kind: CommentaryKind, engine: usize| {
        lines
            .iter()
            .any(|l| l.kind == kind && l.engine == Some(engine))
    };
    assert!(about(CommentaryKind::Finished, 0), "{lines:#?}");
    assert!(
        about(CommentaryKind::ErrorBurst, 1) || about(CommentaryKind::SloAtRisk, 1),
        "{lines:#?}"
    );
    let recording = Arc::new(racefile::read(&tmp.path().join(racefile::FILE_NAME)).unwrap());
    let mut player = Player::new(Arc::clone(&recording));
    for shown in live.iter().filter(|s| s.phase == RacePhase::Running) {
        player.seek_to(shown.elapsed);
        assert_eq!(
            player.snapshot().commentary,
            shown.commentary,
            "at {:?}",
            shown.elapsed
        );
    }
    assert_eq!(&player.run_to_end().commentary, lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_and_speed_move_a_paused_virtual_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, last) = record_in_process(tmp.path(), RACE).await;
    let recording = Arc::new(racefile::read(&tmp.path().join(racefile::FILE_NAME)).unwrap());
    let mut player = Player::new(Arc::clone(&recording));
    let length = recording.length();
    assert!(length >= Duration::from_millis(2500));

    player.tick(Duration::from_millis(400));
    assert_eq!(player.playback().position, Duration::from_millis(400));
    player.command(PlaybackCommand::Faster);
    player.command(PlaybackCommand::Faster);
    assert!((player.playback().speed - 4.0).abs() < f64::EPSILON);
    player.tick(Duration::from_millis(100));
    assert_eq!(player.playback().position, Duration::from_millis(800));

    player.command(PlaybackCommand::TogglePlay);
    assert!(!player.playback().playing);
    player.tick(Duration::from_secs(5));
    assert_eq!(
        player.playback().position,
        Duration::from_millis(800),
        "paused"
    );
    let at_800 = unnumbered(player.snapshot());

    player.command(PlaybackCommand::Back(Duration::from_secs(10)));
    assert_eq!(player.playback().position, Duration::ZERO);
    assert_eq!(player.snapshot().total_requests(), 0);
    player.command(PlaybackCommand::Forward(Duration::from_millis(800)));
    assert_eq!(unnumbered(player.snapshot()), at_800);

    for _ in 0..10 {
        player.command(PlaybackCommand::Slower);
    }
    assert!((player.playback().speed - 0.25).abs() < f64::EPSILON);
    player.command(PlaybackCommand::TogglePlay);
    player.command(PlaybackCommand::Forward(Duration::from_secs(60)));
    assert_eq!(player.playback().position, length);
    assert!(!player.playback().playing, "playback stops at the end");
    let end = player.snapshot();
    assert_eq!(end.phase, RacePhase::Finished);
    assert_eq!(end.total_requests(), last.total_requests());

    player.command(PlaybackCommand::Restart);
    assert_eq!(player.playback().position, Duration::ZERO);
    assert!(player.playback().playing);
    assert_eq!(player.snapshot().phase, RacePhase::Running);
}

/// Writes a variant of `good` and returns its path.
fn variant(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn replay_headless(path: &Path) -> Output {
    run(&["replay", path.to_str().unwrap(), "--no-tui"])
}

fn assert_one_line_error(output: &Output, needle: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn damaged_files_are_named_errors_and_cut_files_replay_with_a_notice() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = race(tmp.path(), RACE);
    let good = std::fs::read(dir.join(racefile::FILE_NAME)).unwrap();
    let d = tmp.path();

    // Random bytes.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    assert_one_line_error(
        &replay_headless(&variant(d, "noise", &noise)),
        "not an llm-locust race recording",
    );
    // A YAML race file given by mistake.
    assert_one_line_error(
        &replay_headless(&variant(d, "race.yaml", RACE.as_bytes())),
        "not an llm-locust race recording",
    );
    // Wrong magic, right everything else.
    let mut wrong_magic = good.clone();
    wrong_magic[0] = b'X';
    assert_one_line_error(
        &replay_headless(&variant(d, "magic", &wrong_magic)),
        "not an llm-locust race recording",
    );
    // From the future.
    let mut future = good.clone();
    future[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert_one_line_error(
        &replay_headless(&variant(d, "future", &future)),
        "upgrade llm-locust",
    );
    // Bytes flipped in the middle of the compressed events.
    let mut flipped = good.clone();
    let middle = good.len() / 2;
    for b in &mut flipped[middle..middle + 16] {
        *b ^= 0x5a;
    }
    assert_one_line_error(
        &replay_headless(&variant(d, "flipped", &flipped)),
        "corrupted",
    );
    // Empty, and cut inside the signature, the version or the header.
    for cut in [0, 5, 9, 10, 14] {
        let output = replay_headless(&variant(d, &format!("cut{cut}"), &good[..cut]));
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "cut at {cut}: {err}");
        assert!(
            err.contains("cut off before its header ends")
                || err.contains("not an llm-locust race recording"),
            "cut at {cut}: {err}"
        );
    }

    // Cut anywhere after the header (as by a crash): replays what is there.
    let full = racefile::read(&dir.join(racefile::FILE_NAME)).unwrap();
    let mut previous_events = 0;
    for fraction in [0.3, 0.6, 0.9, 0.999] {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let cut = (good.len() as f64 * fraction) as usize;
        let path = variant(d, &format!("partial{cut}"), &good[..cut]);
        let recording = racefile::read(&path).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert!(recording.notice.is_some(), "cut at {cut}");
        assert!(recording.events.len() <= full.events.len());
        assert!(recording.events.len() >= previous_events);
        previous_events = recording.events.len();
        let output = replay_headless(&path);
        let err = stderr(&output);
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "cut at {cut}: {err}"
        );
        assert!(err.contains("ends early"), "cut at {cut}: {err}");
        assert!(table(&output.stdout).contains("steady"));
    }
    assert!(previous_events > full.events.len() / 2);

    // A missing file.
    let missing = replay_headless(&d.join("nope.llmrace"));
    assert_one_line_error(&missing, "cannot read race recording");
    assert!(matches!(
        racefile::read(&d.join("nope.llmrace")),
        Err(RaceFileError::Read { .. })
    ));
}

#[test]
fn a_killed_race_leaves_a_race_file_that_replays_up_to_the_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("race.yaml");
    std::fs::write(&file, RACE.replace("duration: 2.5", "duration: 60")).unwrap();
    let out = tmp.path().join("out");
    let mut child = bin()
        .args(["race", file.to_str().unwrap(), "--no-tui", "--output-dir"])
        .arg(&out)
        .env("LLM_LOCUST_RACEFILE_KEY", API_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    child.kill().unwrap(); // SIGKILL: no chance to close anything
    child.wait().unwrap();
    let dir = common::race_dir(&out);
    let started = Instant::now();
    let recording = racefile::read(&dir.join(racefile::FILE_NAME)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(recording.notice.as_deref().unwrap().contains("ends early"));
    // Flushed at least once a second: most of the three seconds are there.
    assert!(
        recording.length() >= Duration::from_millis(1500),
        "{:?}",
        recording.length()
    );
    let output = replay_headless(&dir.join(racefile::FILE_NAME));
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    assert!(table(&output.stdout).contains("flaky"));
}

/// A race file made by hand from `entries`, framed and compressed as the
/// writer does.
fn hand_made(dir: &Path, name: &str, entries: &[racefile::format::Entry]) -> PathBuf {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for entry in entries {
        let body = postcard::to_stdvec(entry).unwrap();
        let mut len = body.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                gz.write_all(&[byte]).unwrap();
                break;
            }
            gz.write_all(&[byte | 0x80]).unwrap();
        }
        gz.write_all(&body).unwrap();
    }
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend(gz.finish().unwrap());
    variant(dir, name, &bytes)
}

#[test]
fn hand_made_files_with_absurd_values_are_errors_not_crashes() {
    use racefile::format::{Entry, EventEntry, FinishedEntry, Header};
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = common::spec(&RACE.replace("api_key_env: LLM_LOCUST_RACEFILE_KEY", ""));
    let header = Entry::Header(Header {
        tool: "llm-locust test".into(),
        started_at_unix_us: 1_700_000_000_000_000,
        stamp: "20231114-221320".into(),
        race_json: racefile::config::to_json(&spec),
        engine_urls: vec!["http://127.0.0.1:1/v1/chat/completions".into(); 2],
    });
    let request = |scheduled_before: i64, gaps: Vec<u64>, end_after: u64| Entry::Event {
        dt_us: 1_000_000,
        event: EventEntry::Finished(Box::new(FinishedEntry {
            engine: 0,
            request_id: 0,
            user_id: 0,
            user_request_num: 1,
            prompt: 0,
            scheduled_before,
            sent_after: 0,
            chunk_gaps: gaps,
            end_after,
            input_tokens: 1,
            input_source: 0,
            output_tokens: 1,
            output_source: 0,
            status: 200,
            error: None,
            output_text: None,
        })),
    };
    let prompt = Entry::Prompt {
        id: 0,
        text: "p".into(),
    };
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        (
            "an event in a thousand years",
            vec![
                header.clone(),
                Entry::Event {
                    dt_us: 4_000_000_000_000_000,
                    event: EventEntry::Ended,
                },
            ],
        ),
        (
            "a request that ends in a thousand years",
            vec![
                header.clone(),
                prompt.clone(),
                request(0, vec![1000], 4_000_000_000_000_000),
            ],
        ),
        (
            "a schedule at i64::MIN",
            vec![header.clone(), prompt.clone(), request(i64::MIN, vec![], 0)],
        ),
        (
            "two million token times",
            vec![
                header.clone(),
                prompt.clone(),
                request(0, vec![0; 2 << 20], 0),
            ],
        ),
        (
            "a request of engine 7",
            vec![
                header.clone(),
                Entry::Event {
                    dt_us: 0,
                    event: EventEntry::Started { engine: 7 },
                },
            ],
        ),
        ("a second header", vec![header.clone(), header.clone()]),
    ];
    for (i, (what, entries)) in cases.into_iter().enumerate() {
        let path = hand_made(d, &format!("case{i}"), &entries);
        let output = replay_headless(&path);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("corrupted"), "{what}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{what}: {err}");
    }

    // Huge but harmless counts saturate instead of overflowing.
    let cancelled = Entry::Event {
        dt_us: 0,
        event: EventEntry::Cancelled {
            engine: 0,
            count: u64::MAX,
        },
    };
    let path = hand_made(
        d,
        "cancelled",
        &[
            header,
            cancelled.clone(),
            cancelled,
            Entry::Event {
                dt_us: 0,
                event: EventEntry::UnsentArrivals {
                    engine: 0,
                    count: u64::MAX,
                },
            },
            Entry::Event {
                dt_us: 0,
                event: EventEntry::UnsentArrivals {
                    engine: 0,
                    count: u64::MAX,
                },
            },
            Entry::Event {
                dt_us: 0,
                event: EventEntry::Ended,
            },
        ],
    );
    let output = replay_headless(&path);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
}

/// A race file written by llm-locust before format version 2 (a one-second
/// race of two simulated engines, one with HTTP 500s), kept so every later
/// version is checked against it.
const VERSION_1_FILE: &str = "tests/fixtures/race-v1.llmrace";

#[test]
fn a_version_1_race_file_still_replays_to_its_own_numbers() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(VERSION_1_FILE);
    let recording = llm_locust::racefile::read(&path).unwrap();
    assert!(recording.notice.is_none());
    let summary: serde_json::Value =
        serde_json::from_str(recording.summary_json.as_deref().unwrap()).unwrap();
    assert_eq!(summary["summary_version"], 1);
    let mut player = llm_locust::replay::Player::new(std::sync::Arc::new(recording));
    // The file kept no traces: the inspector's are rebuilt from its requests.
    let mut streaming = 0;
    for ms in (0..1000).step_by(5) {
        player.seek_to(Duration::from_millis(ms));
        let moment = player.snapshot();
        assert!(moment.lanes.iter().all(|l| l.traces.len() <= 4));
        streaming += moment
            .lanes
            .iter()
            .flat_map(|l| &l.traces)
            .filter(|t| t.ended_at.is_none() && t.ttft.is_some() && !t.text.is_empty())
            .count();
    }
    assert!(streaming > 0, "requests stream in the rebuilt inspector");
    let snapshot = player.run_to_end();
    assert!(
        snapshot
            .lanes
            .iter()
            .all(|l| !l.traces.is_empty() && l.traces.iter().all(|t| t.ended_at.is_some()))
    );
    let engines = summary["engines"].as_array().unwrap();
    assert_eq!(engines.len(), 2);
    for engine in engines {
        let lane = snapshot
            .lanes
            .iter()
            .find(|l| l.name == engine["name"].as_str().unwrap())
            .unwrap();
        for (key, value) in [
            ("requests_ok", lane.counts.ok),
            ("requests_failed", lane.counts.failed),
            ("output_tokens", lane.counts.output_tokens),
        ] {
            assert_eq!(engine[key].as_u64(), Some(value), "{}: {key}", lane.name);
        }
        let ttft_p50 = engine["ttft_ms"]["p50"].as_f64().unwrap();
        assert!((lane.latencies.ttft.p50.as_secs_f64() * 1000.0 - ttft_p50).abs() < 0.001);
        // Version 1 kept no answer mark: every answer starts at its first token.
        assert_eq!(lane.latencies.ttfot.count, lane.latencies.ttft.count);
    }
    assert!(snapshot.lanes.iter().any(|l| l.counts.failed > 0));
    // And through the binary, as a user replays it.
    let output = common::run_bin(&["replay", VERSION_1_FILE, "--no-tui"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("alpha"));
}

/// A sweep's steps, verdicts and answer come from the recorded events, so
/// `report` rebuilds its summary byte for byte.
#[test]
fn a_sweeps_answer_is_rebuilt_from_its_race_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = race(
        tmp.path(),
        "race:
  name: sweep file
  countdown_s: 0
  load: {mode: sweep, start: 2, step: 4, max: 14, step_duration_s: 1, warmup_s: 0.2}
  slo: {ttft_p99_ms: 300}
  engines:
    - name: narrow
      simulate: {ttft_ms: 20, tpot_ms: 5, capacity: 4, output_tokens: 10, jitter: 0}
",
    );
    let (_, live, rebuilt) = report_again(tmp.path(), &dir);
    assert_eq!(live, rebuilt);
    let summary: serde_json::Value = serde_json::from_str(&live).unwrap();
    let sweep = &summary["engines"][0]["sweep"];
    assert!(sweep["steps"].as_array().unwrap().len() >= 2, "{sweep}");
    // Four slots: six users gain nothing over two... or queue; either way
    // the sweep ends below its max with a reason.
    assert!(sweep["broke_at"]["why"].is_string(), "{sweep}");
    assert!(
        sweep["max_sustainable"]["users"].as_f64().unwrap() < 14.0,
        "{sweep}"
    );
}
