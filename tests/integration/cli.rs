//! The real binary: exit codes, output files, signals and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{bin, race_dir, run_bin as run, summary};

/// Reads `stream` line by line on a thread until a line contains `needle`
/// (failing after `limit`); the thread keeps reading the rest.
fn wait_for_line(
    stream: impl std::io::Read + Send + 'static,
    needle: &'static str,
    limit: Duration,
) -> std::thread::JoinHandle<String> {
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut all = String::new();
        let mut told = false;
        for line in std::io::BufReader::new(stream)
            .lines()
            .map_while(Result::ok)
        {
            all.push_str(&line);
            all.push('\n');
            if !told && line.contains(needle) {
                let _ = seen_tx.send(());
                told = true;
            }
        }
        all
    });
    assert!(
        seen_rx.recv_timeout(limit).is_ok(),
        "no line with {needle:?} within {limit:?}"
    );
    reader
}

fn write_race(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("race.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The one race folder inside `out`.
/// The per-request CSV of one engine in a race folder.
fn engine_csv(dir: &Path, engine: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&format!("{engine}-"))
        })
        .expect("a CSV per engine")
}

fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

const QUICK_RACE: &str = r"
race:
  name: Quick CLI Race
  countdown_s: 0
  duration: 1.5
  users: 2
  spawn_rate: 100
  engines:
    - name: alpha
      max_tokens: 5
      simulate: {ttft_ms: 20, tpot_ms: 5, jitter: 0}
    - name: beta
      max_tokens: 5
      simulate: {ttft_ms: 40, tpot_ms: 5, jitter: 0}
";

#[test]
fn headless_race_writes_summary_and_csvs_and_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let race = write_race(tmp.path(), QUICK_RACE);
    let out = tmp.path().join("out");
    let output = run(&[
        "race",
        race.to_str().unwrap(),
        "--no-tui",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("alpha") && stdout.contains("beta") && stdout.contains("TTFT p50"),
        "{stdout}"
    );
    let dir = race_dir(&out);
    assert!(
        dir.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("quick-cli-race-")
    );
    let s = summary(&dir);
    assert_eq!(s["race"], "Quick CLI Race");
    // Engines of the file's own `simulate:` are not a `--simulate` race.
    assert_eq!(s["simulated"], false);
    let engines = s["engines"].as_array().unwrap();
    assert_eq!(engines.len(), 2);
    for e in engines {
        for key in [
            "rps",
            "output_tokens_per_s",
            "total_tokens_per_s",
            "goodput_rps",
            "finish_s",
            "slo_pass",
        ] {
            assert!(e.get(key).is_some(), "summary lacks {key}");
        }
        for metric in ["ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"] {
            for q in ["mean", "p50", "p90", "p95", "p99", "p999"] {
                assert!(e[metric][q].is_number(), "{metric}.{q}");
            }
        }
        let name = e["name"].as_str().unwrap();
        let csv = engine_csv(&dir, name);
        assert!(csv.to_str().unwrap().ends_with("-quick-cli-race.csv"));
        let rows = csv_rows(&csv);
        assert_eq!(
            rows.len() as u64,
            e["requests_ok"].as_u64().unwrap() + e["requests_failed"].as_u64().unwrap()
        );
        let header = csv::Reader::from_path(&csv)
            .unwrap()
            .headers()
            .unwrap()
            .clone();
        let original = [
            "request_id",
            "timestamp",
            "user_id",
            "user_request_num",
            "input_tokens",
            "output_tokens",
            "ttft_ms",
            "tpot_ms",
            "end_to_end_s",
            "total_tokens_per_sec",
            "output_tokens_per_sec",
            "status_code",
            "input_prompt",
            "output_text",
        ];
        assert_eq!(header.iter().take(14).collect::<Vec<_>>(), original);
    }
    // alpha's TTFT is half of beta's: it leads on TTFT, so on goodput (its
    // requests are shorter), and the leaderboard has every place once.
    let by_name = |name: &str| engines.iter().find(|e| e["name"] == name).unwrap();
    let (alpha, beta) = (by_name("alpha"), by_name("beta"));
    let ttft = |e: &serde_json::Value| e["ttft_ms"]["p50"].as_f64().unwrap();
    assert!(ttft(alpha) < ttft(beta), "{alpha}\n{beta}");
    assert_eq!(alpha["place"], 1);
    assert_eq!(beta["place"], 2);
}

#[test]
fn sigint_mid_race_still_writes_complete_results() {
    let tmp = tempfile::tempdir().unwrap();
    let race = write_race(
        tmp.path(),
        &QUICK_RACE.replace("duration: 1.5", "duration: 60"),
    );
    let out = tmp.path().join("out");
    let mut child = bin()
        .args([
            "race",
            race.to_str().unwrap(),
            "--no-tui",
            "--output-dir",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-race: once the first progress line (after 2 s of racing) is out.
    let stderr = wait_for_line(child.stderr.take().unwrap(), "ok ", Duration::from_secs(20));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        stderr.join().unwrap_or_default()
    );
    let dir = race_dir(&out);
    let s = summary(&dir);
    let engines = s["engines"].as_array().unwrap();
    assert!(s["duration_s"].as_f64().unwrap() < 10.0);
    // The race file is closed properly, its summary the one written.
    let recording = llm_locust::racefile::read(&dir.join("race.llmrace")).unwrap();
    assert!(recording.notice.is_none(), "{:?}", recording.notice);
    assert_eq!(
        recording.summary_json.unwrap(),
        std::fs::read_to_string(dir.join("summary.json")).unwrap()
    );
    for e in engines {
        assert_eq!(e["state"], "stopped");
        let ok = e["requests_ok"].as_u64().unwrap();
        assert!(ok > 10, "{ok}");
        let name = e["name"].as_str().unwrap();
        let csv = engine_csv(&dir, name);
        assert_eq!(
            csv_rows(&csv).len() as u64,
            ok + e["requests_failed"].as_u64().unwrap()
        );
    }
}

#[test]
fn failed_slo_exits_1_and_unreachable_engines_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let slo = QUICK_RACE.replace("  engines:", "  slo: {ttft_p99_ms: 5}\n  engines:");
    let race = write_race(tmp.path(), &slo);
    let output = run(&["race", race.to_str().unwrap(), "--no-tui", "--no-save"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("FAIL ttft_p99_ms"));

    let dead = r"
race:
  name: nobody home
  countdown_s: 0
  duration: 1
  users: 1
  engines:
    - name: ghost
      url: http://127.0.0.1:9
      model: m
";
    let race = write_race(tmp.path(), dead);
    let output = run(&["race", race.to_str().unwrap(), "--no-tui", "--no-save"]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("no engine could be reached"));
}

#[test]
fn an_engine_that_never_answered_fails_the_race_and_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    // No SLO at all: the dead engine alone fails the race.
    let race = r"
race:
  name: one dead
  countdown_s: 0
  duration: 1
  users: 2
  engines:
    - name: alive
      max_tokens: 4
      simulate: {ttft_ms: 5, tpot_ms: 1}
    - name: ghost
      url: http://127.0.0.1:9
      model: m
";
    let output = run(&[
        "race",
        write_race(tmp.path(), race).to_str().unwrap(),
        "--no-tui",
        "--no-save",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: no request to 'ghost' succeeded (") && stderr.contains(" connect)"),
        "{stderr}"
    );
    assert!(!stderr.contains("'alive'"), "{stderr}");
}

#[test]
fn a_race_shorter_than_one_request_says_so_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let race = r"
race:
  name: too short
  countdown_s: 0
  duration: 1
  users: 3
  finish: {grace_s: 0.5}
  slo: {ttft_p99_ms: 5000}
  engines:
    - name: slow
      max_tokens: 4
      simulate: {ttft_ms: 4000}
";
    let output = run(&[
        "race",
        write_race(tmp.path(), race).to_str().unwrap(),
        "--no-tui",
        "--no-save",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: no request to 'slow' finished: 3 were cut at the time limit, as the race (1 s) was shorter than one request; give it a longer --duration"),
        "{stderr}"
    );
    assert!(
        stderr.contains("SLO failed for: slow (no data for ttft_p99_ms)"),
        "{stderr}"
    );
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("FAIL ttft_p99_ms (no data)"), "{table}");
}

#[test]
fn validate_accepts_shipped_races_and_rejects_broken_ones_with_exit_2() {
    let races = Path::new(env!("CARGO_MANIFEST_DIR")).join("races");
    for entry in std::fs::read_dir(&races).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let output = run(&["validate", path.to_str().unwrap()]);
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
        }
    }
    let invalid = races.join("fixtures/invalid");
    let mut checked = 0;
    for entry in std::fs::read_dir(&invalid).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("# expect:")
            .trim()
            .to_owned();
        let output = run(&["validate", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}", path.display());
        assert_eq!(
            stderr.lines().count(),
            1,
            "{}: one line expected:\n{stderr}",
            path.display()
        );
        let dir = invalid.display().to_string();
        assert_eq!(
            stderr.trim_end(),
            format!(
                "error: {}: {}",
                path.display(),
                expect.replace("{dir}", &dir)
            ),
        );
        assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"));
        checked += 1;
    }
    assert!(checked >= 10);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let output = run(&["race", "races/does-not-exist.yaml", "--no-tui"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("does-not-exist.yaml"));

    let output = run(&["race", "races/demo.yaml", "--no-tui", "--users", "zero"]);
    assert_eq!(output.status.code(), Some(2));

    // A theme that cannot load fails headless too, before any traffic.
    let output = run(&[
        "race",
        "races/demo.yaml",
        "--no-tui",
        "--no-save",
        "--theme",
        "nope",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: theme `nope` not found"),
        "{stderr}"
    );
    assert!(!stderr.contains("GO!"), "{stderr}");

    // A shard that cannot run is an error, never an "ok" followed by one.
    let output = run(&["validate", "races/stress.yaml", "--shard", "1/2"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--shard 1/2") && stderr.contains("sweep"),
        "{stderr}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let race = write_race(
        tmp.path(),
        &QUICK_RACE.replace(
            "    - name: beta\n",
            "    - name: beta\n      api_key_env: LLM_LOCUST_TEST_UNSET_KEY\n",
        ),
    );
    let output = bin()
        .args(["race", race.to_str().unwrap(), "--no-tui", "--no-save"])
        .env_remove("LLM_LOCUST_TEST_UNSET_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("LLM_LOCUST_TEST_UNSET_KEY") && stderr.contains("api_key_env"),
        "{stderr}"
    );
}

/// Real-looking engines: a closed port, a key variable that is not set, a
/// public dataset and a hub tokenizer that are not cached.
const REAL_RACE: &str = r"
race:
  name: Real Engines
  countdown_s: 0
  duration: 60
  users: 2
  spawn_rate: 100
  dataset: sharegpt
  target_input_tokens: 256
  target_output_tokens: 6
  engines:
    - name: vllm
      url: http://127.0.0.1:9
      model: Qwen/Qwen3-0.6B
      tokenizer: Qwen/Qwen3-0.6B
      api_key_env: LLM_LOCUST_TEST_UNSET_KEY
    - name: sglang
      url: http://127.0.0.1:9/v1
      model: Qwen/Qwen3-0.6B
      tokenizer: Qwen/Qwen3-0.6B
";

#[test]
fn simulate_races_every_engine_on_a_simulator_with_no_server_key_or_download() {
    let tmp = tempfile::tempdir().unwrap();
    let race = write_race(tmp.path(), REAL_RACE);
    let out = tmp.path().join("out");
    let cache = tmp.path().join("empty-hf-cache");
    let output = bin()
        .args(["race", race.to_str().unwrap(), "--simulate", "--no-tui"])
        .args(["--duration", "2", "--output-dir", out.to_str().unwrap()])
        .env_remove("LLM_LOCUST_TEST_UNSET_KEY")
        // Nothing is cached, and nothing may be downloaded.
        .env("HF_HUB_CACHE", &cache)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "race 'Real Engines', 2 engines (vllm, sglang), 2 users per engine (+100/s), finish \
             at 2 s (simulated: every engine's server is a built-in simulator)"
        ),
        "{stderr}"
    );
    let notes: Vec<&str> = stderr.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(
        notes,
        [
            format!(
                "note: dataset 'sharegpt' is not in the Hugging Face cache ({}); --simulate uses \
                 its shipped sample 'sharegpt-sample' instead, all of its prompts (too few to \
                 select 256 +/- 50 tokens)",
                cache.display()
            ),
            format!(
                "note: tokenizer 'Qwen/Qwen3-0.6B' is not in the Hugging Face cache ({}); \
                 --simulate races vllm, sglang without it (token counts from the simulator's \
                 usage, prompt lengths estimated)",
                cache.display()
            ),
        ],
        "{stderr}"
    );
    assert!(
        stdout.contains("🏁 Real Engines") && stdout.contains("(simulated: every engine's server"),
        "{stdout}"
    );
    let s = summary(&race_dir(&out));
    assert_eq!(s["simulated"], true);
    assert_eq!(s["workload"]["dataset"], "sharegpt-sample");
    assert_eq!(s["workload"]["tokenizers"], serde_json::json!([null, null]));
    let engines = s["engines"].as_array().unwrap();
    let mut names: Vec<&str> = engines
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["sglang", "vllm"]);
    for e in engines {
        assert!(e["requests_ok"].as_u64().unwrap() > 0, "{e}");
        assert_eq!(e["requests_failed"], 0, "{e}");
        assert_eq!(e["model"], "Qwen/Qwen3-0.6B");
    }
    // Nothing was downloaded into the cache.
    assert!(!cache.exists() || std::fs::read_dir(&cache).unwrap().next().is_none());
    // The race file remembers it: a report rebuilt from it says so too.
    let rebuilt = tmp.path().join("rebuilt");
    let file = race_dir(&out).join("race.llmrace");
    let output = run(&[
        "report",
        file.to_str().unwrap(),
        "--output-dir",
        rebuilt.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(summary(&rebuilt)["simulated"], true);
}

#[test]
fn api_key_is_sent_but_never_written() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = "sk-test-0123456789abcdef-never-log-me";
    let race = write_race(
        tmp.path(),
        &QUICK_RACE.replace(
            "    - name: beta\n",
            "    - name: beta\n      api_key_env: LLM_LOCUST_TEST_KEY\n",
        ),
    );
    let out = tmp.path().join("out");
    let output = bin()
        .args([
            "race",
            race.to_str().unwrap(),
            "--no-tui",
            "--output-dir",
            out.to_str().unwrap(),
        ])
        .env("LLM_LOCUST_TEST_KEY", secret)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&output.stdout).contains(secret));
    assert!(!String::from_utf8_lossy(&output.stderr).contains(secret));
    for file in std::fs::read_dir(race_dir(&out)).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret));
    }
}

#[test]
fn without_a_terminal_the_race_runs_headless() {
    let tmp = tempfile::tempdir().unwrap();
    let race = write_race(tmp.path(), QUICK_RACE);
    // No --no-tui: stdout is a pipe here, so the TUI must not start.
    let output = run(&["race", race.to_str().unwrap(), "--no-save"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("TTFT p50") && !stdout.contains("\x1b[?1049h"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("GO!"));
}

#[test]
fn a_result_that_cannot_be_written_is_exit_4_not_an_slo_failure() {
    // The v1 fixture rebuilt into a folder whose summary.json is a folder:
    // the rename of the finished summary fails.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    std::fs::create_dir_all(out.join("summary.json")).unwrap();
    std::fs::write(out.join("summary.json").join("keep"), "x").unwrap();
    let output = run(&[
        "report",
        "tests/fixtures/race-v1.llmrace",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("summary.json"), "{stderr}");
    // An output folder that cannot exist is the user's to fix: exit 2.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let output = run(&[
        "report",
        "tests/fixtures/race-v1.llmrace",
        "--output-dir",
        file.join("below").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn command_line_values_are_checked_like_the_files() {
    for (flag, value, says) in [
        ("--duration", "1e20", "--duration: '1e20' is too long"),
        ("--countdown", "1e20", "--countdown: '1e20' is too long"),
        ("--countdown", "-1", "must be 0 or more"),
        ("--duration", "nan", "not a finite number"),
    ] {
        let arg = format!("{flag}={value}");
        let output = run(&["race", "races/demo.yaml", "--no-tui", "--no-save", &arg]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // The simulator's flags have the limits and messages of `simulate:`.
    for (flag, value, says) in [
        ("--ttft-ms", "1e20", "--ttft-ms: '1e20' is too long"),
        ("--jitter", "2", "--jitter: must be between 0 and 1"),
        ("--capacity", "0", "--capacity: must be at least 1"),
        ("--fault", "boom=0.1", "--fault boom: unknown fault kind"),
    ] {
        let output = run(&["sim", "--port", "0", flag, value]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
    // A negative number is the flag's value, not another flag: the value's
    // own message shows.
    for (flag, value, says) in [
        ("--duration", "-5", "'-5' must be greater than 0"),
        ("--users", "-3", "'-3' must be at least 1"),
        ("--countdown", "-1", "'-1' must be 0 or more"),
    ] {
        let output = run(&[
            "race",
            "races/demo.yaml",
            "--no-tui",
            "--no-save",
            flag,
            value,
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
        assert!(!stderr.contains("unexpected argument"), "{stderr}");
    }
    // --users is for closed-loop races only, said with the flag's name.
    let tmp = tempfile::tempdir().unwrap();
    let race = write_race(
        tmp.path(),
        &QUICK_RACE.replace("  users: 2\n", "  load: {mode: constant, rate: 5}\n"),
    );
    let output = run(&[
        "race",
        race.to_str().unwrap(),
        "--no-tui",
        "--no-save",
        "--users",
        "3",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--users: applies to load mode 'users'"),
        "{stderr}"
    );
}

#[test]
fn a_closed_stdout_neither_panics_nor_loses_the_results() {
    // `llm-locust race ... | head -1`: the reader is gone before the table.
    let tmp = tempfile::tempdir().unwrap();
    let race = write_race(
        tmp.path(),
        "race:\n  name: Pipe\n  countdown_s: 0\n  duration: 1\n  users: 1\n  engines:\n    - name: a\n      max_tokens: 2\n      simulate: {ttft_ms: 10, tpot_ms: 1}\n",
    );
    let out = tmp.path().join("out");
    let mut child = bin()
        .args(["race", race.to_str().unwrap(), "--no-tui", "--output-dir"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let dir = race_dir(&out);
    for file in ["summary.json", "race.llmrace", "report.html"] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
}
