//! `race --shard I/N` and `merge` with the real binary: a race run as three
//! shard processes with one `--start-at`, merged, sends exactly what the
//! race run whole sends, and the merged summary is computed from every
//! shard's requests; `merge` refuses what is not one race.

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::sync::OnceLock;

use llm_locust::metrics::{RaceEvent, RequestRecord};
use llm_locust::racefile;

use crate::common::{assert_success as ok, bin, race_dir, start_in};

/// Open loop at 8/s for 2.3 s: arrivals at k/8 s, the last (k = 18) 50 ms
/// before the time limit, so every run sends arrivals 0..=18 exactly.
const RACE: &str = r"
race:
  name: Shard Race
  countdown_s: 0
  duration: 2.3
  load: {mode: constant, rate: 8, max_in_flight: 12}
  engines:
    - name: alpha
      max_tokens: 6
      simulate: {ttft_ms: 60, tpot_ms: 5, jitter: 0.1}
    - name: beta
      max_tokens: 9
      simulate: {ttft_ms: 120, tpot_ms: 5, jitter: 0.1}
";

const SHARDS: u32 = 3;

struct Run {
    dir: PathBuf,
    whole: PathBuf,
    shards: Vec<PathBuf>,
    /// Shard 0 of the same race with another seed: another race.
    other_seed: PathBuf,
    merged: PathBuf,
    merge: Output,
}

/// A headless race of `race` into `out`, with extra arguments.
fn spawn_race(race: &Path, out: &Path, extra: &[String]) -> Child {
    bin()
        .args(["race", race.to_str().unwrap(), "--no-tui", "--output-dir"])
        .arg(out)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The one race file a race wrote into `out`.
fn race_file(out: &Path) -> PathBuf {
    let dir = race_dir(out);
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "llmrace"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let race = dir.join("race.yaml");
        std::fs::write(&race, RACE).unwrap();
        let whole_out = dir.join("whole");
        let whole = spawn_race(&race, &whole_out, &[]);
        ok(&whole.wait_with_output().unwrap());

        let start = start_in(4.0);
        let shard_out = |i: u32| dir.join(format!("shard{i}"));
        let shards: Vec<Child> = (0..SHARDS)
            .map(|i| {
                let args = [
                    "--shard".to_owned(),
                    format!("{i}/{SHARDS}"),
                    "--start-at".to_owned(),
                    start.clone(),
                ];
                spawn_race(&race, &shard_out(i), &args)
            })
            .collect();
        let other = spawn_race(
            &race,
            &dir.join("other"),
            &["--shard".into(), "0/3".into(), "--seed".into(), "7".into()],
        );
        for child in shards {
            let output = child.wait_with_output().unwrap();
            ok(&output);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("(race "), "{stderr}");
        }
        ok(&other.wait_with_output().unwrap());
        let shards: Vec<PathBuf> = (0..SHARDS).map(|i| race_file(&shard_out(i))).collect();
        for (i, file) in shards.iter().enumerate() {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(name, format!("race-shard-{i}-of-{SHARDS}.llmrace"));
        }
        let merged = dir.join("merged.llmrace");
        let merge = merge(&merged, &shards.iter().collect::<Vec<_>>());
        Run {
            whole: race_file(&whole_out),
            other_seed: race_file(&dir.join("other")),
            dir,
            shards,
            merged,
            merge,
        }
    })
}

fn merge(out: &Path, files: &[&PathBuf]) -> Output {
    bin().arg("merge").arg(out).args(files).output().unwrap()
}

/// Every finished request of a race file, per engine, by request id.
fn requests(file: &Path) -> Vec<Vec<RequestRecord>> {
    let recording = racefile::read(file).unwrap();
    assert!(recording.notice.is_none(), "{:?}", recording.notice);
    let mut per_engine = vec![Vec::new(); recording.spec.engines.len()];
    for (_, event) in &recording.events {
        if let RaceEvent::Finished(record) = event {
            per_engine[record.engine].push((**record).clone());
        }
    }
    for records in &mut per_engine {
        records.sort_by_key(|r| r.request_id);
    }
    per_engine
}

/// What a request sent and got: its id, prompt and token counts.
fn sent(records: &[RequestRecord]) -> Vec<(u64, String, u32, u32, bool)> {
    records
        .iter()
        .map(|r| {
            (
                r.request_id,
                r.prompt.to_string(),
                r.input_tokens,
                r.output_tokens,
                r.is_ok(),
            )
        })
        .collect()
}

fn merged_summary(file: &Path) -> serde_json::Value {
    let recording = racefile::read(file).unwrap();
    serde_json::from_str(recording.summary_json.as_deref().unwrap()).unwrap()
}

#[test]
fn three_shards_merged_send_what_the_whole_race_sends() {
    let run = run();
    ok(&run.merge);
    let whole = requests(&run.whole);
    let merged = requests(&run.merged);
    for (engine, (w, m)) in whole.iter().zip(&merged).enumerate() {
        // Arrivals 0..=18: the same ids, prompts and token counts, exactly.
        assert_eq!(w.len(), 19, "engine {engine}");
        assert_eq!(sent(w), sent(m), "engine {engine}");
    }
    // Each shard sent the arrivals k with k mod 3 = its index.
    for (index, file) in run.shards.iter().enumerate() {
        for records in requests(file) {
            assert!(!records.is_empty());
            assert!(
                records.iter().all(|r| r.request_id % 3 == index as u64),
                "shard {index}: {:?}",
                records.iter().map(|r| r.request_id).collect::<Vec<_>>()
            );
        }
    }
    // The same latencies, within the simulator's jitter (10 % of 60 and
    // 120 ms) and a busy machine's scheduling.
    let whole_summary = merged_summary(&run.whole);
    let summary = merged_summary(&run.merged);
    for (w, m) in whole_summary["engines"]
        .as_array()
        .unwrap()
        .iter()
        .zip(summary["engines"].as_array().unwrap())
    {
        assert_eq!(w["requests_ok"], m["requests_ok"]);
        assert_eq!(w["output_tokens"], m["output_tokens"]);
        assert_eq!(w["input_tokens"], m["input_tokens"]);
        for metric in ["ttft_ms", "e2e_ms"] {
            let (a, b) = (
                w[metric]["p50"].as_f64().unwrap(),
                m[metric]["p50"].as_f64().unwrap(),
            );
            assert!((a - b).abs() < 20.0, "{metric} p50: whole {a}, merged {b}");
        }
    }
    assert_eq!(summary["shards"]["count"], 3);
    assert_eq!(summary["shards"]["partial"], false);
    assert_eq!(summary["shards"]["merged"], serde_json::json!([0, 1, 2]));
}

/// The value at quantile `q` of `values`, as a histogram ranks it: the
/// smallest value with at least ⌈q·n⌉ values at or below it.
fn nearest_rank(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).max(1);
    values[rank - 1]
}

#[test]
fn the_merged_summary_is_computed_over_every_shards_requests() {
    let run = run();
    ok(&run.merge);
    let summary = merged_summary(&run.merged);
    let names = ["alpha", "beta"];
    for (engine, name) in names.iter().enumerate() {
        // The union of the shards' own records, read from their files.
        let mut union: Vec<RequestRecord> = run
            .shards
            .iter()
            .flat_map(|file| requests(file).swap_remove(engine))
            .collect();
        union.sort_by_key(|r| r.request_id);
        let lane = summary["engines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == *name)
            .unwrap();
        let ok = union.iter().filter(|r| r.is_ok()).count() as u64;
        let output: u64 = union.iter().map(|r| u64::from(r.output_tokens)).sum();
        assert_eq!(lane["requests_ok"].as_u64(), Some(ok));
        assert_eq!(lane["output_tokens"].as_u64(), Some(output));
        // Percentiles of the union, to the histogram's three significant
        // digits: nothing averaged across shards.
        let mut ttfts: Vec<f64> = union
            .iter()
            .filter_map(|r| r.ttft())
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        let mut e2es: Vec<f64> = union
            .iter()
            .map(|r| r.e2e().as_secs_f64() * 1000.0)
            .collect();
        for (metric, values) in [("ttft_ms", &mut ttfts), ("e2e_ms", &mut e2es)] {
            for q in ["p50", "p90", "p99"] {
                let quantile = q[1..].parse::<f64>().unwrap() / 100.0;
                let exact = nearest_rank(values, quantile);
                let reported = lane[metric][q].as_f64().unwrap();
                assert!(
                    reported >= exact - 0.002 && reported <= exact * 1.001 + 0.002,
                    "{name} {metric} {q}: {reported} reported, {exact} over the union"
                );
            }
        }
    }
    // And `report` on the merged file writes the same summary again.
    let out = run.dir.join("report");
    let report = bin()
        .args([
            "report",
            run.merged.to_str().unwrap(),
            "--format",
            "json",
            "--output-dir",
        ])
        .arg(&out)
        .output()
        .unwrap();
    ok(&report);
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(again["engines"], summary["engines"]);
}

/// Exit 2 and a one-line message with `needle`.
fn refused(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
}

#[test]
fn merge_refuses_other_races_duplicates_and_damaged_files() {
    let run = run();
    let out = run.dir.join("refused.llmrace");
    let [s0, s1, s2] = [&run.shards[0], &run.shards[1], &run.shards[2]];
    refused(
        &merge(&out, &[&run.other_seed, s1, s2]),
        "is from a different race",
    );
    refused(&merge(&out, &[s0, &run.other_seed]), "`seed`");
    refused(&merge(&out, &[s0, s1, s0]), "are both shard 0/3");
    refused(
        &merge(&out, &[s0, &run.whole]),
        "is not a shard's race recording",
    );
    refused(&merge(&out, &[&run.merged, s1]), "already a merged race");
    // A shard whose file was cut off, and one that is not a race file.
    let bytes = std::fs::read(s2).unwrap();
    let cut = run.dir.join("cut.llmrace");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    refused(&merge(&out, &[s0, s1, &cut]), "cannot merge");
    let foreign = run.dir.join("foreign.llmrace");
    std::fs::write(&foreign, b"not a race").unwrap();
    refused(
        &merge(&out, &[s0, s1, &foreign]),
        "is not an llm-locust race recording",
    );
    refused(
        &merge(s0, &[s0, s1, s2]),
        "give the merged file another name",
    );
    assert!(!out.exists(), "a refused merge wrote {}", out.display());
}

#[test]
fn a_missing_shard_gives_a_partial_race_with_a_warning() {
    let run = run();
    let out = run.dir.join("partial.llmrace");
    let output = merge(&out, &[&run.shards[0], &run.shards[2]]);
    ok(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: shard 1 of 3 missing: the merged race is partial"),
        "{stderr}"
    );
    let summary = merged_summary(&out);
    assert_eq!(summary["shards"]["partial"], true);
    assert_eq!(summary["shards"]["merged"], serde_json::json!([0, 2]));
    // Only the two shards' requests: arrivals k mod 3 ∈ {0, 2}.
    for records in requests(&out) {
        assert_eq!(records.len(), 13);
        assert!(records.iter().all(|r| r.request_id % 3 != 1));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("partial: 2 of 3 shards merged, missing 1"),
        "{stdout}"
    );
}

/// Closed loop: 4 users in 2 shards, 21 successful requests to finish.
const USERS_RACE: &str = r"
race:
  name: Shard Users
  countdown_s: 0
  duration: 20
  users: 4
  spawn_rate: 100
  finish: {requests: 21, grace_s: 0}
  engines:
    - name: alpha
      max_tokens: 4
      simulate: {ttft_ms: 20, tpot_ms: 2, jitter: 0}
";

#[test]
fn closed_loop_shards_split_users_request_ids_and_the_finish_line() {
    let tmp = tempfile::tempdir().unwrap();
    let race = tmp.path().join("race.yaml");
    std::fs::write(&race, USERS_RACE).unwrap();
    let start = start_in(3.0);
    let children: Vec<Child> = (0..2)
        .map(|i| {
            let args = [
                "--shard".to_owned(),
                format!("{i}/2"),
                "--start-at".to_owned(),
                start.clone(),
            ];
            spawn_race(&race, &tmp.path().join(format!("s{i}")), &args)
        })
        .collect();
    for child in children {
        ok(&child.wait_with_output().unwrap());
    }
    let mut files = Vec::new();
    for i in 0..2u64 {
        let out = tmp.path().join(format!("s{i}"));
        let summary = crate::common::summary(&race_dir(&out));
        // 21 split as 11 + 10.
        let share = if i == 0 { 11 } else { 10 };
        assert_eq!(summary["finish"]["requests"], share);
        assert_eq!(summary["shards"]["index"], i);
        let file = race_file(&out);
        let records = &requests(&file)[0];
        let ok = records.iter().filter(|r| r.is_ok()).count();
        assert!(ok >= share as usize, "shard {i}: {ok} ok");
        // Users i and i + 2; request ids k with k mod 2 = i, no gaps.
        let mut users: Vec<u32> = records.iter().map(|r| r.user_id).collect();
        users.sort_unstable();
        users.dedup();
        assert_eq!(users, vec![i as u32, i as u32 + 2]);
        let ids: Vec<u64> = records.iter().map(|r| r.request_id).collect();
        assert!(ids.iter().all(|id| id % 2 == i), "{ids:?}");
        files.push(file);
    }
    let merged = tmp.path().join("merged.llmrace");
    ok(&merge(&merged, &files.iter().collect::<Vec<_>>()));
    let summary = merged_summary(&merged);
    assert_eq!(summary["finish"]["requests"], 21);
    let ok_total = summary["engines"][0]["requests_ok"].as_u64().unwrap();
    assert!(ok_total >= 21, "{ok_total}");
    let users: std::collections::BTreeSet<u32> =
        requests(&merged)[0].iter().map(|r| r.user_id).collect();
    assert_eq!(users.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
}
