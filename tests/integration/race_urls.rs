//! `llm-locust race URL...`: a race without a file, against the simulator
//! on 127.0.0.1: the model found in the server's list, the exits of a
//! server that is not there (3) or lists no model (2), and `--write-race`,
//! whose file validates and runs the same race again.
use crate::common;

use std::time::Duration;

use llm_locust::config::SimSpec;

fn quick_sim() -> SimSpec {
    SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(1),
        ..SimSpec::default()
    }
}

#[test]
fn a_race_of_urls_finds_each_servers_model_and_writes_a_race_file_that_runs_it_again() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(common::serve_sim(quick_sim()));
    let url = server.base_url();
    let tmp = tempfile::tempdir().unwrap();
    let written = tmp.path().join("quick.yaml");
    let out = tmp.path().join("out");
    let output = common::run_bin(&[
        "race",
        &url,
        &format!("{url}/v1"),
        "--endpoint",
        "chat",
        "--endpoint",
        "anthropic",
        "--requests",
        "6",
        "--users",
        "2",
        "--output-tokens",
        "4",
        "--seed",
        "7",
        "--countdown",
        "0",
        "--no-tui",
        "--write-race",
        written.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    common::assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("model 'sim' (the first in the server's model list"),
        "{stderr}"
    );
    let dir = common::race_dir(&out);
    let summary = common::summary(&dir);
    let engines = summary["engines"].as_array().unwrap();
    let port = url.rsplit(':').next().unwrap();
    // In the order they placed.
    let mut names: Vec<&str> = engines
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [format!("127.0.0.1-{port}"), format!("127.0.0.1-{port}-2")]
    );
    for e in engines {
        assert_eq!(e["model"], "sim");
        assert!(e["requests_ok"].as_u64().unwrap() >= 6, "{e}");
        assert_eq!(e["requests_failed"], 0);
    }

    let text = std::fs::read_to_string(&written).unwrap();
    assert!(text.contains("endpoint: anthropic"), "{text}");
    let check = common::run_bin(&["validate", written.to_str().unwrap()]);
    common::assert_success(&check);
    let again = tmp.path().join("again");
    let rerun = common::run_bin(&[
        "race",
        written.to_str().unwrap(),
        "--countdown",
        "0",
        "--no-tui",
        "--output-dir",
        again.to_str().unwrap(),
    ]);
    common::assert_success(&rerun);
    let first = llm_locust::racefile::read(&dir.join("race.llmrace")).unwrap();
    let second =
        llm_locust::racefile::read(&common::race_dir(&again).join("race.llmrace")).unwrap();
    assert_eq!(
        llm_locust::racefile::config::first_difference(&first.spec, &second.spec),
        None,
        "the file runs the race the flags described"
    );
    rt.block_on(server.shutdown());
}

#[test]
fn a_server_that_is_not_there_is_exit_3_and_one_without_a_model_list_exit_2() {
    // Nothing listens on port 9 (discard) on a test machine.
    let output = common::run_bin(&["race", "http://127.0.0.1:9", "--no-tui", "--no-save"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach http://127.0.0.1:9/v1/models") && stderr.contains("running?"),
        "{stderr}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(common::serve_sim(quick_sim()));
    // The simulator answers 404 under a path it does not serve.
    let url = format!("{}/elsewhere", server.base_url());
    let output = common::run_bin(&["race", &url, "--no-tui", "--no-save"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("lists no model (HTTP 404); name the model with --model"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    rt.block_on(server.shutdown());
}

#[test]
fn flags_of_a_race_of_urls_are_refused_with_a_file_and_miscounted_ones_named() {
    let with_file = common::run_bin(&["race", "races/demo.yaml", "--model", "x", "--no-tui"]);
    assert_eq!(with_file.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&with_file.stderr).contains("--model is for a race of URLs"));
    let miscounted = common::run_bin(&[
        "race",
        "http://127.0.0.1:9",
        "http://127.0.0.1:10",
        "--name",
        "a",
        "--name",
        "b",
        "--name",
        "c",
        "--no-tui",
    ]);
    assert_eq!(miscounted.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&miscounted.stderr).contains("--name is given 3 times for 2 URLs")
    );
    let no_scheme = common::run_bin(&["race", "localhost:8000", "--no-tui"]);
    assert_eq!(no_scheme.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_scheme.stderr).contains("write http://localhost:8000"));
}

#[test]
fn race_help_shows_both_forms() {
    let help = common::run_bin(&["race", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("llm-locust race races/demo.yaml"), "{text}");
    assert!(
        text.contains("llm-locust race http://localhost:8000 http://localhost:8001"),
        "{text}"
    );
    assert!(text.contains("--write-race"), "{text}");
}

#[test]
fn a_race_of_urls_under_simulate_needs_no_server() {
    // Nothing listens on port 9: the simulator stands in, and no model
    // list is asked for.
    let output = common::run_bin(&[
        "race",
        "http://127.0.0.1:9",
        "--simulate",
        "--requests",
        "3",
        "--output-tokens",
        "4",
        "--countdown",
        "0",
        "--no-tui",
        "--no-save",
    ]);
    common::assert_success(&output);
}

#[test]
fn a_secret_in_a_urls_query_is_never_written_into_a_race_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("quick.yaml");
    let output = common::run_bin(&[
        "race",
        "http://127.0.0.1:9/v1?api_key=SECRET-IN-QUERY",
        "--model",
        "m",
        "--write-race",
        file.to_str().unwrap(),
        "--no-tui",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--api-key-env"));
    assert!(!file.exists());
}
