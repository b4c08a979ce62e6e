//! The docs' examples, run, so the next disagreement between a page and the
//! tool fails a build: every `llm-locust` command in README.md and
//! docs/*.md parses as the binary's own command line; those that can run
//! offline (shipped races that are simulated or run with `--simulate`,
//! validate, replay, report, compare, completions, schema) run and end as a
//! user expects; every race config in a YAML block validates and every
//! theme in one loads.

use std::path::{Path, PathBuf};

use clap::Parser as _;
use llm_locust::cli::Cli;

use crate::common::{bin, race_dir, start_in};

/// One example: where it is and what it says.
struct Example {
    at: String,
    text: String,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page in docs/, with their text.
fn pages() -> Vec<(String, String)> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(root()).unwrap().display().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The fenced blocks of a page: (language, first line number, text).
fn blocks(text: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(fence) = line.trim_start().strip_prefix("```") {
            match open.take() {
                Some(block) => out.push(block),
                None => open = Some((fence.trim().to_owned(), i + 2, String::new())),
            }
        } else if let Some((_, _, body)) = open.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// A shell line without its trailing comment (a `#` after a space, outside
/// quotes).
fn without_comment(line: &str) -> &str {
    let mut quote = None;
    let mut last = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if last.is_whitespace() => return line[..i].trim_end(),
            _ => {}
        }
        last = c;
    }
    line.trim_end()
}

/// Every `llm-locust` command: in shell blocks (continuation lines joined;
/// `cargo run --release --` is the binary), and inline in backticks where
/// it is a whole command rather than a synopsis (no `...` or `a|b`).
fn commands() -> Vec<Example> {
    let inline = regex::Regex::new(r"`(llm-locust [^`]+)`").unwrap();
    let mut out = Vec::new();
    for (page, text) in pages() {
        for (lang, first, body) in blocks(&text) {
            if !matches!(lang.as_str(), "sh" | "bash" | "shell" | "console") {
                continue;
            }
            let mut joined = String::new();
            let mut start = first;
            for (i, line) in body.lines().enumerate() {
                if joined.is_empty() {
                    start = first + i;
                }
                let line = without_comment(line.trim_start_matches("$ "));
                match line.strip_suffix('\\') {
                    Some(part) => joined.push_str(part),
                    None => {
                        joined.push_str(line);
                        let command = std::mem::take(&mut joined);
                        let command = command.trim();
                        let command = command
                            .strip_prefix("cargo run --release -- ")
                            .map_or_else(|| command.to_owned(), |c| format!("llm-locust {c}"));
                        if command.starts_with("llm-locust ") {
                            out.push(Example {
                                at: format!("{page}:{start}"),
                                text: command,
                            });
                        }
                    }
                }
            }
        }
        for (i, line) in text.lines().enumerate() {
            for found in inline.captures_iter(line) {
                let command = &found[1];
                let whole = command.split_whitespace().count() > 2;
                if whole && !command.contains("...") && !command.contains("\\|") {
                    out.push(Example {
                        at: format!("{page}:{}", i + 1),
                        text: command.to_owned(),
                    });
                }
            }
        }
    }
    out
}

/// Files a run of the examples reads: a race recording and its summary.
struct Fixture {
    recording: PathBuf,
    summary: PathBuf,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = bin()
        .args(["race", "races/demo.yaml", "--no-tui", "--countdown", "0"])
        .args(["--duration", "2", "--output-dir"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "the demo race did not run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let race = race_dir(&out);
    Fixture {
        recording: race.join("race.llmrace"),
        summary: race.join("summary.json"),
        out: dir.path().join("reports"),
        _dir: dir,
    }
}

/// The example's words as a user would type them: a placeholder is the
/// fixture's file of its kind, an optional `[...]` group is left out,
/// `$START` is a minute from now and a redirection ends the command.
fn words(text: &str, fixture: &Fixture) -> Vec<String> {
    let mut text = text.replace("\"$START\"", &start_in(60.0));
    text = text.replace("$START", &start_in(60.0));
    let optional = regex::Regex::new(r"\[[^\]]*\]").unwrap();
    let text = optional.replace_all(&text, "");
    let mut out: Vec<String> = Vec::new();
    for word in shlex::split(&text).unwrap_or_default() {
        if word == ">" || word.starts_with('>') {
            break;
        }
        // Where an example writes, the test's folder (not the checkout).
        if out.last().is_some_and(|w| w == "--output-dir") {
            out.push(fixture.out.display().to_string());
            continue;
        }
        let missing = word.ends_with(".llmrace") && !root().join(&word).exists();
        let placeholder = word.contains('<') || word.contains('*') || missing;
        let word = match () {
            () if word == "<RACE.yaml>" => "races/demo.yaml".to_owned(),
            () if word.ends_with("summary.json") => fixture.summary.display().to_string(),
            () if placeholder || word == "BASELINE" || word == "CURRENT" => {
                fixture.recording.display().to_string()
            }
            () if word == "DIR" => fixture.out.display().to_string(),
            () => word,
        };
        out.push(word);
    }
    out
}

/// Whether a race config's every engine is served by the simulator.
fn all_simulated(file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let Ok(yaml) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
        return false;
    };
    yaml["race"]["engines"]
        .as_sequence()
        .is_some_and(|e| e.iter().all(|e| e.get("simulate").is_some()))
}

/// The command line an offline run uses, or `None` when the example needs
/// a server, other machines or a terminal's lifetime (`sim` serves until
/// stopped). A race is cut to two seconds and writes nothing.
fn offline_run(words: &[String]) -> Option<Vec<String>> {
    let sub = words.get(1)?.as_str();
    let file = words.get(2).map(|f| root().join(f));
    match sub {
        "validate" => file.filter(|f| f.is_file()).map(|_| words.to_vec()),
        "race" => {
            let file = file.filter(|f| f.is_file())?;
            let has = |flag: &str| words.iter().any(|w| w == flag);
            if has("--shard") || has("--start-at") || !(has("--simulate") || all_simulated(&file)) {
                return None;
            }
            let mut run: Vec<String> = Vec::new();
            let mut skip_value = false;
            for w in words {
                if std::mem::take(&mut skip_value) {
                    continue;
                }
                if matches!(w.as_str(), "--duration" | "--countdown") {
                    skip_value = true;
                    continue;
                }
                run.push(w.clone());
            }
            for extra in [
                "--no-tui",
                "--no-save",
                "--countdown",
                "0",
                "--duration",
                "2",
            ] {
                run.push(extra.to_owned());
            }
            Some(run)
        }
        "replay" | "report" | "compare" | "completions" | "schema" => Some(words.to_vec()),
        _ => None,
    }
}

#[test]
fn every_command_in_the_docs_parses_and_the_offline_ones_run() {
    let fixture = fixture();
    let examples = commands();
    assert!(
        examples.len() >= 20,
        "only {} examples found",
        examples.len()
    );
    let mut failures = Vec::new();
    // Each distinct run once (the demo race is shown on several pages).
    let mut runs: Vec<(String, Vec<String>)> = Vec::new();
    for example in &examples {
        let words = words(&example.text, &fixture);
        if let Err(e) = Cli::try_parse_from(&words) {
            let first = e.to_string().lines().next().unwrap_or_default().to_owned();
            failures.push(format!(
                "{}: `{}` does not parse: {first}",
                example.at, example.text
            ));
            continue;
        }
        if let Some(run) = offline_run(&words) {
            if !runs.iter().any(|(_, r)| *r == run) {
                runs.push((example.at.clone(), run));
            }
        }
    }
    assert!(runs.len() >= 12, "only {} examples ran", runs.len());
    // Side by side: the races mostly wait on the simulator's clock.
    let ended: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(at, run)| s.spawn(move || (at, run, bin().args(&run[1..]).output().unwrap())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (at, run, output) in ended {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // 0, or 1 when an SLO fails (a race cut to two seconds may): never
        // bad input, an unreachable engine or a crash.
        if output.status.code().is_none_or(|c| c > 1) || stderr.contains("panicked") {
            failures.push(format!(
                "{at}: `{}` exited {:?}: {}",
                run[1..].join(" "),
                output.status.code(),
                stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A race config in a YAML block validates: whole when it is whole, a
/// fragment with a name and one simulated engine added.
#[test]
fn every_race_config_in_the_docs_validates_and_every_theme_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut configs, mut themes) = (0, 0);
    for (page, text) in pages() {
        for (lang, first, body) in blocks(&text) {
            if lang != "yaml" {
                continue;
            }
            let at = format!("{page}:{first}");
            let file = tmp.path().join(format!("block-{configs}-{themes}.yaml"));
            if body.starts_with("race:") {
                let mut yaml = body.clone();
                if !yaml.contains("\n  name:") {
                    yaml = yaml.replacen("race:\n", "race:\n  name: docs example\n", 1);
                }
                if !yaml.contains("\n  engines:") {
                    yaml.push_str("  engines:\n    - name: sim\n      simulate: {}\n");
                }
                std::fs::write(&file, yaml).unwrap();
                let output = bin().arg("validate").arg(&file).output().unwrap();
                assert!(
                    output.status.success(),
                    "{at}: the race config does not validate: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                configs += 1;
            } else if body.lines().any(|l| l.starts_with("lane_colors:")) {
                std::fs::write(&file, &body).unwrap();
                let theme = llm_locust::ui::theme::load_theme(
                    file.to_str().unwrap(),
                    &root().join("themes"),
                );
                assert!(theme.is_ok(), "{at}: the theme does not load: {theme:?}");
                themes += 1;
            }
        }
    }
    assert!(
        configs >= 2 && themes >= 1,
        "{configs} configs, {themes} themes"
    );
}
