//! The reports a race writes (report.html, report.md, junit.xml, the CI
//! step summary) and `llm-locust report --format`, with the real binary over
//! a short race against simulated engines. report.html is opened in
//! headless Chromium with the network off: every chart must draw and the
//! page must ask for nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{bin, race_dir, run_bin};

/// Two priced engines, one failing now and then, an SLO that one breaks.
const RACE: &str = r"
race:
  name: Report Race
  countdown_s: 0
  duration: 3
  users: 3
  spawn_rate: 100
  slo: {ttft_p99_ms: 200}
  engines:
    - name: quick
      color: cyan
      max_tokens: 8
      cost_per_hour: 3.6
      simulate: {ttft_ms: 20, tpot_ms: 5, jitter: 0.1, faults: {http_500: 0.2, http_429: 0.1}}
    - name: slow
      color: magenta
      max_tokens: 8
      price: {input_per_1m: 0.5, output_per_1m: 1.5}
      simulate: {ttft_ms: 300, tpot_ms: 5, jitter: 0.1}
";

/// The race, run once for every test here: its folder, and the step
/// summary it appended to.
struct Ran {
    dir: PathBuf,
    step_summary: PathBuf,
    _tmp: tempfile::TempDir,
}

fn ran() -> &'static Ran {
    static RAN: OnceLock<Ran> = OnceLock::new();
    RAN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let race = tmp.path().join("race.yaml");
        std::fs::write(&race, RACE).unwrap();
        let out = tmp.path().join("out");
        let step_summary = tmp.path().join("step-summary.md");
        std::fs::write(&step_summary, "# earlier step\n").unwrap();
        let output = bin()
            .args(["race", race.to_str().unwrap(), "--no-tui", "--junit"])
            .args(["--output-dir", out.to_str().unwrap()])
            .env("GITHUB_STEP_SUMMARY", &step_summary)
            .output()
            .unwrap();
        // slow breaks its TTFT objective: exit 1, and everything written.
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ran {
            dir: race_dir(&out),
            step_summary,
            _tmp: tmp,
        }
    })
}

#[test]
fn a_race_writes_the_markdown_junit_and_html_reports_and_the_step_summary() {
    let ran = ran();
    let md = std::fs::read_to_string(ran.dir.join("report.md")).unwrap();
    assert!(md.starts_with("## 🏁 Report Race\n"), "{md}");
    assert!(md.contains("❌ **SLO failed** for `slow`."), "{md}");
    assert!(
        md.contains("| 1 | **quick** |") || md.contains("| 2 | **quick** |"),
        "{md}"
    );
    assert!(
        md.contains("### Cost (USD)") && md.contains("### Top error messages"),
        "{md}"
    );
    // Appended after what an earlier step wrote, the same text.
    let step = std::fs::read_to_string(&ran.step_summary).unwrap();
    assert_eq!(step, format!("# earlier step\n\n{md}"));

    let junit = std::fs::read_to_string(ran.dir.join("junit.xml")).unwrap();
    assert!(junit.contains("tests=\"2\" failures=\"1\""), "{junit}");
    assert!(
        junit.contains("classname=\"Report Race.slow\" name=\"ttft_p99_ms\">\n      <failure message=\"ttft_p99_ms: measured"),
        "{junit}"
    );
    let html = std::fs::read_to_string(ran.dir.join("report.html")).unwrap();
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
    assert!(html.contains("<h1>🏁 Report Race</h1>"));
}

#[test]
fn report_writes_the_formats_asked_for_from_a_race_file() {
    let ran = ran();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("again");
    let race_file = ran.dir.join("race.llmrace");
    let output = run_bin(&[
        "report",
        race_file.to_str().unwrap(),
        "--format",
        "md,junit",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["junit.xml", "report.md"]);
    // The same numbers as the race's own reports.
    for name in ["report.md", "junit.xml"] {
        assert_eq!(
            std::fs::read_to_string(out.join(name)).unwrap(),
            std::fs::read_to_string(ran.dir.join(name)).unwrap(),
            "{name}"
        );
    }
    let bad = run_bin(&["report", race_file.to_str().unwrap(), "--format", "pdf"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("unknown format 'pdf'; use html, md, json, csv, junit"),
        "{stderr}"
    );
}

/// Chromium from Debian's package, if installed. CI installs it (.ci/run);
/// elsewhere the browser test says it skipped.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// The page's DOM after its scripts ran, from headless Chromium with every
/// connection sent to a closed local port and every host name unresolvable:
/// nothing can leave the machine, whatever the page or the browser asks.
fn rendered_dom(browser: &Path, page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("timeout")
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1280,2000",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// An attribute of the page's `<body>`.
fn body_attribute(dom: &str, name: &str) -> Option<String> {
    let start = dom.find("<body")?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
    Some(tag[at..at + tag[at..].find('"')?].to_owned())
}

#[test]
fn the_html_report_draws_every_chart_offline_and_fetches_nothing() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is missing in CI; .ci/run installs it"
        );
        eprintln!("skipped: no Chromium on PATH (apt-get install chromium)");
        return;
    };
    let page = ran().dir.join("report.html");
    let source = std::fs::read_to_string(&page).unwrap();
    let wanted = source.matches("<div class=\"chart\"").count();
    // Latency (5 distributions, 3 over time), the servers' queue and KV use
    // (the simulators publish /metrics), throughput (2), reliability
    // (failures and errors by kind), tokens (2).
    assert_eq!(wanted, 16, "charts in the page");
    let dom = rendered_dom(&browser, &page);
    assert_eq!(
        body_attribute(&dom, "data-charts-wanted").as_deref(),
        Some("16"),
        "the report's script did not run"
    );
    assert_eq!(
        body_attribute(&dom, "data-charts-drawn").as_deref(),
        Some("16")
    );
    assert!(!dom.contains("data-chart-error"), "a chart failed");
    // uPlot draws each chart on a canvas, with axes and a legend.
    assert!(dom.matches("<canvas").count() >= 16, "canvases");
    assert_eq!(
        dom.matches("<table class=\"u-legend").count(),
        16,
        "legends"
    );
    for label in ["TTFT (ms)", "quick", "slow", "http_5xx", "http_429"] {
        assert!(
            dom.contains(&format!("<div class=\"u-label\">{label}</div>")),
            "{label} in no legend"
        );
    }
    // Nothing was loaded, and nothing was tried.
    assert_eq!(body_attribute(&dom, "data-resources").as_deref(), Some("0"));
    assert_eq!(body_attribute(&dom, "data-blocked"), None);

    // The check can fail: a page that asks for an image is caught.
    let tmp = tempfile::tempdir().unwrap();
    let fetching = tmp.path().join("fetching.html");
    std::fs::write(
        &fetching,
        source.replacen("<main>", "<main><img src=\"http://127.0.0.1:9/x.png\">", 1),
    )
    .unwrap();
    let dom = rendered_dom(&browser, &fetching);
    assert_eq!(
        body_attribute(&dom, "data-blocked").as_deref(),
        Some("1"),
        "{}",
        &dom[..dom.len().min(2000)]
    );
}
