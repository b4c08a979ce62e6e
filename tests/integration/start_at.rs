//! `--start-at`: every shard gives the start signal at the same wall-clock
//! time; one that is ready after it starts at once and says how late; the
//! race file records the time asked for.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::{race_dir, run_bin, summary};

const RACE: &str = r"
race:
  name: Shard Race
  countdown_s: 0
  duration: 1
  users: 1
  engines:
    - name: alpha
      max_tokens: 4
      simulate: {ttft_ms: 10, tpot_ms: 2}
";

fn race(start_at: &str) -> (std::process::Output, tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("race.yaml");
    std::fs::write(&file, RACE).unwrap();
    let out = tmp.path().join("out");
    let output = run_bin(&[
        "race",
        file.to_str().unwrap(),
        "--no-tui",
        "--output-dir",
        out.to_str().unwrap(),
        "--start-at",
        start_at,
    ]);
    (output, tmp, out)
}

#[test]
fn the_start_signal_is_at_the_time_asked_for() {
    let at = SystemTime::now() + Duration::from_secs(3);
    let rfc3339 = chrono::DateTime::<chrono::Utc>::from(at)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (output, _tmp, out) = race(&rfc3339);
    assert!(output.status.success(), "{output:?}");
    let dir = race_dir(&out);
    let started = summary(&dir)["started_at"].as_str().unwrap().to_owned();
    let started: SystemTime = chrono::DateTime::parse_from_rfc3339(&started)
        .unwrap()
        .with_timezone(&chrono::Utc)
        .into();
    let off = match started.duration_since(at) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(
        off < Duration::from_millis(100),
        "GO was {off:?} off --start-at"
    );
    // The race file keeps the time asked for (to the millisecond given).
    let recording = llm_locust::racefile::read(&dir.join("race.llmrace")).unwrap();
    let stored = recording
        .spec
        .start_at
        .expect("--start-at in the race file");
    let millis = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis();
    assert_eq!(millis(stored), millis(at));
}

#[test]
fn a_shard_ready_after_the_start_starts_at_once_and_says_how_late() {
    let past = SystemTime::now() - Duration::from_secs(30);
    let unix = past.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let (output, _tmp, out) = race(&format!("{unix:.3}"));
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let note = stderr
        .lines()
        .find(|l| l.starts_with("note: ready") && l.contains("after --start-at: started at once"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let late: f64 = note
        .trim_start_matches("note: ready ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((30.0..60.0).contains(&late), "{note}");
    assert!(
        summary(&race_dir(&out))["engines"][0]["requests_ok"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn a_time_that_is_not_one_is_bad_input() {
    let (output, _tmp, _out) = race("yesterday");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "'yesterday' is not a time; give RFC 3339 (2026-12-01T15:00:00Z) or Unix seconds"
        ),
        "{stderr}"
    );
}

#[test]
fn a_start_far_off_is_refused_unless_allowed() {
    let past = SystemTime::now() - Duration::from_secs(2 * 3600);
    let unix = past.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let (output, _tmp, out) = race(&format!("{unix:.3}"));
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: --start-at was 2.0 hours ago"),
        "{stderr}"
    );
    assert!(!out.exists(), "a refused race wrote results");

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("race.yaml");
    std::fs::write(&file, RACE).unwrap();
    let output = run_bin(&[
        "race",
        file.to_str().unwrap(),
        "--no-tui",
        "--no-save",
        "--start-at",
        &format!("{unix:.3}"),
        "--allow-far-start",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("after --start-at: started at once"));
}
