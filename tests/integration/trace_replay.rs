//! `mode: trace` over real HTTP on 127.0.0.1 against the simulator: each
//! request is scheduled at its entry's time × `time_scale`, asks for its
//! entry's `output_length` as `max_tokens`, and carries a prompt of its
//! `input_length`; a looped trace repeats; the binary reports the trace.
use crate::common;

use std::path::Path;
use std::time::Duration;

use crate::common::{offline, race_dir, run_bin, serve_sim, spec, summary};
use llm_locust::config::{RaceSpec, SimSpec};
use llm_locust::engine::{self, RaceOutcome};
use llm_locust::metrics::{RequestRecord, TokenSource};
use llm_locust::workload;
use tokio_util::sync::CancellationToken;

/// The simulator answering `max_tokens` tokens (no fixed length), quickly.
fn sim() -> SimSpec {
    SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(1),
        jitter: 0.0,
        prefill_per_token: Duration::ZERO,
        output_tokens: None,
        ..SimSpec::default()
    }
}

/// (timestamp ms, input_length, output_length), one JSONL line each.
fn trace_file(dir: &Path, entries: &[(u64, u32, u32)], extra_lines: &str) -> String {
    let mut text: String = entries
        .iter()
        .map(|(t, i, o)| {
            format!(
                "{{\"timestamp\": {t}, \"input_length\": {i}, \"output_length\": {o}, \"hash_ids\": [1]}}\n"
            )
        })
        .collect();
    text.push_str(extra_lines);
    let path = dir.join("trace.jsonl");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Loads the workload (the trace with it), fits the race to it and runs it.
async fn race(mut spec: RaceSpec) -> (RaceSpec, RaceOutcome, Vec<RequestRecord>) {
    let prompts = workload::load(&spec, &offline()).await.unwrap();
    workload::settle(&mut spec, &prompts);
    let (outcome, mut records) =
        crate::common::run_with(&spec, prompts, Duration::from_secs(60)).await;
    records.sort_by_key(|r| r.request_id);
    (spec, outcome, records)
}

// Out of order on purpose (sorted on reading), with a bad line skipped.
const ENTRIES: [(u64, u32, u32); 5] = [
    (1000, 40, 3),
    (1100, 200, 7),
    (1400, 12, 1),
    (1250, 80, 5),
    (2600, 500, 2),
];

/// The entries in time order: (ms after the first, input, output).
fn in_time_order() -> Vec<(u64, u32, u32)> {
    let mut sorted = ENTRIES.to_vec();
    sorted.sort_by_key(|e| e.0);
    sorted.iter().map(|&(t, i, o)| (t - 1000, i, o)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_follows_its_entry_time_lengths_and_max_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = trace_file(tmp.path(), &ENTRIES, "not an entry\n");
    let server = serve_sim(sim()).await;
    let spec = spec(&format!(
        r"
race:
  name: trace
  countdown_s: 0
  dataset: synthetic
  load: {{mode: trace, trace: '{trace}', time_scale: 0.5}}
  engines:
    - {{name: a, url: {url}, model: sim}}
    - {{name: b, url: {url}, model: sim}}
",
        url = server.base_url()
    ));
    let (spec, outcome, records) = race(spec).await;
    // One pass: the span (1600 ms) plus the mean gap (400 ms), × 0.5.
    assert_eq!(spec.finish.duration, Duration::from_secs(1));
    let expected = in_time_order();
    for engine in 0..2 {
        let mine: Vec<&RequestRecord> = records.iter().filter(|r| r.engine == engine).collect();
        assert_eq!(mine.len(), expected.len(), "engine {engine}: one per entry");
        for (r, &(at_ms, input, output)) in mine.iter().zip(&expected) {
            // Scheduled times are computed: exact, in whole microseconds.
            assert_eq!(
                r.scheduled_at,
                Duration::from_micros(at_ms * 500),
                "request {}",
                r.request_id
            );
            assert!(r.error.is_none(), "{:?}", r.error);
            // The simulator answers max_tokens tokens and counts the prompt
            // at 4 characters a token, as synthetic prompts are cut.
            assert_eq!(
                (r.output_tokens, r.output_source),
                (output, TokenSource::Usage)
            );
            assert_eq!(
                (r.input_tokens, r.input_source),
                (input, TokenSource::Usage)
            );
        }
    }
    // Both engines got the same prompt for request k.
    for k in 0..5 {
        let prompts: Vec<_> = records
            .iter()
            .filter(|r| r.request_id == k)
            .map(|r| r.prompt.clone())
            .collect();
        assert_eq!(prompts.len(), 2);
        assert_eq!(prompts[0], prompts[1], "request {k}");
    }
    assert_eq!(outcome.snapshot.lanes[0].counts.ok, 5);
    let facts = spec.workload.unwrap().trace.unwrap();
    assert_eq!(
        (
            facts.entries,
            facts.skipped_lines,
            facts.sorted,
            facts.span_ms
        ),
        (5, 1, true, 1600)
    );
    assert_eq!((facts.dataset_prompts, facts.synthetic_prompts), (0, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_prompts_near_the_length_are_used_and_the_trace_loops() {
    let tmp = tempfile::tempdir().unwrap();
    // The demo set's prompts are short: 20 tokens ± 50 finds some, 3000
    // tokens finds none (synthetic).
    let trace = trace_file(tmp.path(), &[(0, 20, 4), (300, 3000, 2), (600, 20, 3)], "");
    let server = serve_sim(sim()).await;
    let spec = spec(&format!(
        r"
race:
  name: trace loop
  countdown_s: 0
  duration: 2
  load: {{mode: trace, trace: '{trace}', loop: true}}
  engines:
    - {{name: a, url: {}, model: sim}}
",
        server.base_url()
    ));
    let (spec, _, records) = race(spec).await;
    assert_eq!(
        spec.finish.duration,
        Duration::from_secs(2),
        "looped: as given"
    );
    // Each pass 900 ms (600 + a mean gap of 300) after the last.
    let times: Vec<u64> = records
        .iter()
        .map(|r| r.scheduled_at.as_millis() as u64)
        .collect();
    assert_eq!(times, vec![0, 300, 600, 900, 1200, 1500, 1800]);
    for r in &records {
        let (input, output) = match r.request_id % 3 {
            1 => (3000, 2),
            0 => (20, 4),
            _ => (20, 3),
        };
        assert_eq!(r.output_tokens, output, "request {}", r.request_id);
        let tolerance = if input == 3000 { 0 } else { 50 };
        assert!(
            r.input_tokens.abs_diff(input) <= tolerance,
            "request {}: {} tokens for {input}",
            r.request_id,
            r.input_tokens
        );
    }
    // A pass repeats the same prompts.
    assert_eq!(records[0].prompt, records[3].prompt);
    assert_eq!(records[1].prompt, records[4].prompt);
    let facts = spec.workload.unwrap().trace.unwrap();
    assert_eq!((facts.dataset_prompts, facts.synthetic_prompts), (2, 1));
}

#[test]
fn the_binary_replays_a_trace_beside_the_race_file_and_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    trace_file(tmp.path(), &ENTRIES, "{\"timestamp\": 3}\n");
    let race = tmp.path().join("race.yaml");
    std::fs::write(
        &race,
        r"
race:
  name: trace headless
  countdown_s: 0
  dataset: synthetic
  load: {mode: trace, trace: trace.jsonl, time_scale: 0.25}
  engines:
    - name: sim
      simulate: {ttft_ms: 5, tpot_ms: 1, jitter: 0, prefill_us_per_token: 0}
",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let output = run_bin(&[
        "race",
        race.to_str().unwrap(),
        "--no-tui",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let file = tmp.path().join("trace.jsonl").display().to_string();
    for line in [
        format!(
            "note: 1 line of trace '{file}' could not be read and was skipped (the first: line {}: ",
            ENTRIES.len() + 1
        ),
        format!(
            "note: the timestamps of trace '{file}' were not in order; its entries were sorted by time"
        ),
        format!(
            "prompts: 5 requests of trace '{file}' (1.6 s as written): 5 synthetic of their exact length, estimated (no engine has a tokenizer)"
        ),
    ] {
        assert!(stderr.contains(&line), "{line}\nnot in:\n{stderr}");
    }
    let summary = summary(&race_dir(&out));
    assert_eq!(summary["load_mode"], "trace");
    let trace = &summary["workload"]["trace"];
    assert_eq!(
        (&trace["entries"], &trace["skipped_lines"], &trace["sorted"]),
        (&5.into(), &1.into(), &true.into())
    );
    assert_eq!(summary["engines"][0]["requests_ok"], 5);
}

#[tokio::test]
async fn a_trace_played_once_sets_the_race_length_and_a_longer_duration_is_cut_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = trace_file(tmp.path(), &ENTRIES, "");
    let fit = |extra: &str| {
        let mut spec = spec(&format!(
            "race:\n  name: t\n  dataset: synthetic\n{extra}  load: {{mode: trace, trace: '{trace}', time_scale: 3}}\n  engines:\n    - {{name: a, simulate: {{}}}}\n"
        ));
        async move {
            let prompts = workload::load(&spec, &offline()).await.unwrap();
            let notes = workload::settle(&mut spec, &prompts);
            (spec, notes)
        }
    };
    // One pass of 2000 ms, × 3.
    let (spec, notes) = fit("").await;
    assert_eq!(spec.finish.duration, Duration::from_secs(6));
    assert!(spec.finish.duration_is_finish_line);
    assert_eq!(
        notes,
        vec![format!(
            "the timestamps of trace '{trace}' were not in order; its entries were sorted by time"
        )]
    );
    let (spec, notes) = fit("  duration: 30\n").await;
    assert_eq!(spec.finish.duration, Duration::from_secs(6));
    assert!(
        notes.contains(&"the trace lasts 6.0 s at time_scale 3, less than the race's 30 s; the race ends with the trace".to_owned()),
        "{notes:?}"
    );
    let (spec, _) = fit("  duration: 4\n").await;
    assert_eq!(
        spec.finish.duration,
        Duration::from_secs(4),
        "a shorter one stands"
    );
    let (spec, _) = fit("  finish: {requests: 3}\n").await;
    assert_eq!(spec.finish.duration, Duration::from_secs(6));
    assert!(
        !spec.finish.duration_is_finish_line,
        "a time limit, not the finish line"
    );
    assert!(
        spec.describe().ends_with("finish at 3 requests"),
        "{}",
        spec.describe()
    );
}

#[tokio::test]
async fn a_trace_with_no_usable_entry_names_the_key_and_the_first_bad_line() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = trace_file(tmp.path(), &[], "{\"timestamp\": 1, \"input_length\": 5}\n");
    let spec = spec(&format!(
        "race:\n  name: t\n  load: {{mode: trace, trace: '{trace}'}}\n  engines:\n    - {{name: a, simulate: {{}}}}\n"
    ));
    let err = workload::load(&spec, &offline()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "race.load.trace: '{trace}' has no usable entry (line 1: no 'output_length'); each line is a JSON object like {{\"timestamp\": 0, \"input_length\": 512, \"output_length\": 128}}"
        )
    );
}

#[tokio::test]
async fn a_trace_race_without_its_loaded_trace_does_not_start() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = trace_file(tmp.path(), &ENTRIES, "");
    let spec = spec(&format!(
        "race:\n  name: t\n  load: {{mode: trace, trace: '{trace}'}}\n  engines:\n    - {{name: a, simulate: {{}}}}\n"
    ));
    let started = engine::start(
        &spec,
        common::prompts(),
        Vec::new(),
        CancellationToken::new(),
        CancellationToken::new(),
    )
    .await;
    let Err(err) = started else {
        panic!("started without the trace")
    };
    assert!(
        err.to_string().contains("mode trace needs its trace"),
        "{err}"
    );
}

#[tokio::test]
async fn the_shipped_trace_race_reads_its_whole_sample() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("races/trace-replay.yaml");
    let mut spec = llm_locust::config::load_race_file(&path).unwrap();
    let prompts = workload::load(&spec, &offline()).await.unwrap();
    assert!(workload::settle(&mut spec, &prompts).is_empty());
    let facts = prompts.trace_facts().unwrap();
    assert_eq!(
        (
            facts.entries,
            facts.skipped_lines,
            facts.sorted,
            facts.truncated
        ),
        (200, 0, false, false)
    );
    // About a minute: the span plus one mean gap.
    let length = spec.finish.duration.as_secs_f64();
    assert!((59.0..62.0).contains(&length), "{length}");
    assert_eq!(prompts.cycle_len(), 200);
}
