//! `llm-locust compare` with the real binary, over short races against
//! simulated engines: the same race is unchanged, a slower simulator is a
//! regression its gate catches, damaged input is exit 2, and the Markdown
//! and HTML land where they are asked for.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use crate::common::{bin, headless_race, race_dir};

/// Two engines, a handful of requests each. No jitter, and latencies large
/// enough that a few milliseconds of scheduling on a busy machine stay well
/// inside the gates below.
const BASELINE: &str = r"
race:
  name: Compare Race
  countdown_s: 0
  duration: 5
  users: 2
  spawn_rate: 100
  finish: {requests: 4}
  engines:
    - name: alpha
      max_tokens: 4
      simulate: {ttft_ms: 150, tpot_ms: 10, jitter: 0}
    - name: beta
      max_tokens: 4
      simulate: {ttft_ms: 300, tpot_ms: 10, jitter: 0}
";

/// The baseline with alpha's simulator slower to its first token, and an
/// engine the baseline does not have.
const SLOWER: &str = r"
race:
  name: Compare Race
  countdown_s: 0
  duration: 5
  users: 2
  spawn_rate: 100
  finish: {requests: 4}
  engines:
    - name: alpha
      max_tokens: 4
      simulate: {ttft_ms: 400, tpot_ms: 10, jitter: 0}
    - name: beta
      max_tokens: 4
      simulate: {ttft_ms: 300, tpot_ms: 10, jitter: 0}
    - name: gamma
      max_tokens: 4
      simulate: {ttft_ms: 50, tpot_ms: 10, jitter: 0}
";

/// A race's two outputs, copied out of its folder.
struct Race {
    race_file: PathBuf,
    summary: PathBuf,
}

struct Races {
    dir: PathBuf,
    baseline: Race,
    baseline_again: Race,
    slower: Race,
}

/// Runs `yaml` headless and keeps its race file and summary as
/// `<dir>/<name>.llmrace` and `<dir>/<name>.json`.
fn run_race(yaml: &str, dir: &Path, name: &str) -> Race {
    let (output, _tmp, out) = headless_race(yaml);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let folder = race_dir(&out);
    let race = Race {
        race_file: dir.join(format!("{name}.llmrace")),
        summary: dir.join(format!("{name}.json")),
    };
    std::fs::copy(folder.join("race.llmrace"), &race.race_file).unwrap();
    std::fs::copy(folder.join("summary.json"), &race.summary).unwrap();
    race
}

/// The races every test compares, run once (one after another, so they do
/// not slow each other down).
fn races() -> &'static Races {
    static RACES: OnceLock<Races> = OnceLock::new();
    RACES.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("compare-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        Races {
            baseline: run_race(BASELINE, &dir, "baseline"),
            baseline_again: run_race(BASELINE, &dir, "baseline-again"),
            slower: run_race(SLOWER, &dir, "slower"),
            dir,
        }
    })
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `llm-locust compare ARGS`, outside any CI step summary.
fn compare(args: &[&str]) -> Output {
    bin()
        .arg("compare")
        .args(args)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// The row of `label` in `engine`'s table of the terminal output.
fn row<'a>(out: &'a str, engine: &str, label: &str) -> &'a str {
    out.lines()
        .skip_while(|l| *l != engine)
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label} row for {engine} in:\n{out}"))
}

/// Rows of the terminal tables, i.e. figures compared.
const ROWS_PER_ENGINE: usize = 13;

#[test]
fn a_race_compared_with_itself_is_unchanged_and_exits_0() {
    let r = races();
    let file = path(&r.baseline.race_file);
    let o = compare(&[file, file, "--max-regression", "ttft_p99=0%"]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(!out.contains("WORSE") && !out.contains("better"), "{out}");
    assert_eq!(
        out.matches(" (0.0 %)  same\n").count(),
        2 * ROWS_PER_ENGINE,
        "{out}"
    );
    assert!(
        out.contains("ok   ttft_p99=0%: alpha: same; beta: same"),
        "{out}"
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn the_same_race_run_twice_holds_a_loose_gate() {
    let r = races();
    let o = compare(&[
        path(&r.baseline.race_file),
        path(&r.baseline_again.race_file),
        "--max-regression",
        "ttft_p99=25%",
    ]);
    assert_exit(&o, 0);
}

/// With the figures' intervals, a tight gate is not broken by the noise
/// between two runs of one race: inconclusive, a warning, exit 0 (exit 1
/// with --strict, which wants to be sure).
#[test]
fn the_same_race_run_twice_holds_a_tight_gate_unless_strict() {
    let r = races();
    let args = [
        path(&r.baseline.race_file),
        path(&r.baseline_again.race_file),
        "--max-regression",
        "ttft_p99=2%",
    ];
    let o = compare(&args);
    assert_exit(&o, 0);
    let err = stderr(&o);
    if err.contains("inconclusive") {
        assert!(err.contains("warning: ttft_p99 of "), "{err}");
        let mut strict = args.to_vec();
        strict.push("--strict");
        assert_exit(&compare(&strict), 1);
    }
}

#[test]
fn a_slower_simulator_breaks_its_ttft_gate_and_exits_1() {
    let r = races();
    let o = compare(&[
        path(&r.baseline.race_file),
        path(&r.slower.race_file),
        "--max-regression",
        "ttft_p99=10%",
    ]);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l.starts_with("regression: ttft_p99 of alpha ")
                && l.ends_with("% worse (the gate allows 10 % worse)")),
        "{err}"
    );
    let out = stdout(&o);
    assert!(out.contains("FAIL ttft_p99=10%: alpha: "), "{out}");
    assert!(row(&out, "alpha", "TTFT p99").ends_with("WORSE"), "{out}");
    // Engines match by name; one only the current race has is listed.
    assert!(out.contains("\nbeta\n"), "{out}");
    assert!(out.contains("Only in the current race: gamma"), "{out}");
}

#[test]
fn a_slower_simulator_without_a_gate_exits_0() {
    let r = races();
    let o = compare(&[path(&r.baseline.race_file), path(&r.slower.race_file)]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("WORSE"), "{}", stdout(&o));
}

#[test]
fn a_gate_on_a_metric_that_did_not_get_worse_exits_0() {
    let r = races();
    // Success rate stayed at 100 %.
    let o = compare(&[
        path(&r.baseline.race_file),
        path(&r.slower.race_file),
        "--max-regression",
        "success_rate=0",
    ]);
    assert_exit(&o, 0);
    // Compared the other way round, TTFT got better.
    let o = compare(&[
        path(&r.slower.race_file),
        path(&r.baseline.race_file),
        "--max-regression",
        "ttft_p99=10%",
    ]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(row(&out, "alpha", "TTFT p99").ends_with("better"), "{out}");
    assert!(out.contains("Only in the baseline: gamma"), "{out}");
}

#[test]
fn summary_files_compare_like_race_files() {
    let r = races();
    let o = compare(&[
        path(&r.baseline.summary),
        path(&r.slower.summary),
        "--max-regression",
        "ttft_p99=10%",
    ]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("ttft_p99 of alpha"), "{}", stderr(&o));
    // A race file replays to the summary its race wrote: nothing changed.
    let o = compare(&[
        path(&r.baseline.race_file),
        path(&r.baseline.summary),
        "--max-regression",
        "ttft_p99=0",
    ]);
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o).matches(" (0.0 %)  same\n").count(),
        2 * ROWS_PER_ENGINE,
        "{}",
        stdout(&o)
    );
}

/// Exit 2 with one line on stderr that says `says`.
fn assert_bad_input(o: &Output, says: &[&str]) {
    assert_exit(o, 2);
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    for s in says {
        assert!(err.contains(s), "{s:?} not in {err}");
    }
    assert!(stdout(o).is_empty(), "{}", stdout(o));
}

#[test]
fn damaged_or_foreign_files_are_bad_input() {
    let r = races();
    let good = path(&r.baseline.race_file);
    let cut = r.dir.join("cut.llmrace");
    let bytes = std::fs::read(&r.baseline.race_file).unwrap();
    std::fs::write(&cut, &bytes[..20]).unwrap();
    assert_bad_input(&compare(&[path(&cut), good]), &["cut.llmrace", "cut off"]);

    let not_summary = r.dir.join("not-summary.json");
    std::fs::write(&not_summary, r#"{"engines": [{"name": "alpha"}]}"#).unwrap();
    assert_bad_input(
        &compare(&[good, path(&not_summary)]),
        &["not-summary.json", "not a summary.json", "summary_version"],
    );

    let half_json = r.dir.join("half.json");
    let summary = std::fs::read(&r.baseline.summary).unwrap();
    std::fs::write(&half_json, &summary[..summary.len() / 2]).unwrap();
    assert_bad_input(
        &compare(&[good, path(&half_json)]),
        &["half.json", "not valid JSON"],
    );

    let newer = r.dir.join("newer.json");
    std::fs::write(&newer, r#"{"summary_version": 99, "engines": []}"#).unwrap();
    assert_bad_input(
        &compare(&[path(&newer), good]),
        &["newer.json", "summary_version 99"],
    );

    let yaml = r.dir.join("race.yaml");
    std::fs::write(&yaml, BASELINE).unwrap();
    assert_bad_input(
        &compare(&[good, path(&yaml)]),
        &["race.yaml", "neither a summary.json nor a race recording"],
    );

    assert_bad_input(
        &compare(&[good, path(&r.dir.join("missing.llmrace"))]),
        &["missing.llmrace"],
    );
}

#[test]
fn an_unknown_metric_or_bad_percent_is_bad_input() {
    let r = races();
    let file = path(&r.baseline.race_file);
    assert_bad_input(
        &compare(&[file, file, "--max-regression", "ttft_p98=5%"]),
        &[
            "--max-regression 'ttft_p98=5%'",
            "did you mean 'ttft_p99'?",
            "ttft_p50, ttft_p99, ttfot_p99,",
            "cost_per_1m_output",
        ],
    );
    for gate in ["ttft_p99=-5%", "ttft_p99=inf", "ttft_p99"] {
        assert_bad_input(
            &compare(&[file, file, "--max-regression", gate]),
            &[&format!("--max-regression '{gate}'")],
        );
    }
}

#[test]
fn output_dir_and_step_summary_get_the_comparison() {
    let r = races();
    let out = r.dir.join("reports").join("nested");
    let step_summary = r.dir.join("step-summary.md");
    std::fs::write(&step_summary, "# Earlier step\n").unwrap();
    let o = bin()
        .args([
            "compare",
            path(&r.baseline.race_file),
            path(&r.slower.summary),
            "--max-regression",
            "ttft_p99=10%",
            "--output-dir",
            path(&out),
        ])
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .output()
        .unwrap();
    assert_exit(&o, 1);
    let markdown = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(
        markdown.starts_with("## Race comparison: Compare Race → Compare Race\n"),
        "{markdown}"
    );
    assert!(markdown.contains("### alpha"), "{markdown}");
    assert!(markdown.contains("| TTFT p99 |"), "{markdown}");
    assert!(
        markdown.contains("- ❌ `ttft_p99=10%`: alpha: "),
        "{markdown}"
    );
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(html.contains("Content-Security-Policy"), "{html}");
    assert!(html.contains("<h2>alpha</h2>"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert_eq!(
        std::fs::read_to_string(&step_summary).unwrap(),
        format!("# Earlier step\n\n{markdown}")
    );
    let printed = stdout(&o);
    for line in [
        format!("comparison: {}", out.join("compare.md").display()),
        format!("comparison: {}", out.join("compare.html").display()),
        format!("step summary: {}", step_summary.display()),
    ] {
        assert!(printed.contains(&line), "{line:?} not in {printed}");
    }
}

#[test]
fn an_empty_step_summary_variable_writes_nothing() {
    let r = races();
    let file = path(&r.baseline.race_file);
    let o = bin()
        .args(["compare", file, file])
        .env("GITHUB_STEP_SUMMARY", "")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(!stdout(&o).contains("step summary"), "{}", stdout(&o));
}
