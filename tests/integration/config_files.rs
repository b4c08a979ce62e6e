//! The shipped race files, the original project's race files and the invalid
//! fixtures (`races/fixtures/invalid/*.yaml`, each naming its whole expected
//! message on its first line as `# expect: <message>`, `{dir}` standing for
//! the fixture's folder).
use std::path::{Path, PathBuf};

use llm_locust::config::{self, ConfigError, EngineTarget};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> config::RaceSpec {
    match config::load_race_file(path) {
        Ok(spec) => spec,
        Err(e) => panic!("{} should be valid:\n{e}", path.display()),
    }
}

#[test]
fn every_shipped_race_file_is_valid() {
    let files = yaml_files(&manifest_dir().join("races"));
    assert!(
        files.len() >= 8,
        "expected the original's 8 races in races/, found {}",
        files.len()
    );
    for path in files {
        let spec = load(&path);
        assert!(!spec.engines.is_empty(), "{}", path.display());
    }
}

#[test]
fn every_original_race_file_loads_unchanged() {
    let dir = manifest_dir().join("../shared/seed/races");
    if !dir.is_dir() {
        println!("skipping: ../shared not present");
        return;
    }
    let files = yaml_files(&dir);
    assert!(!files.is_empty());
    for path in files {
        let spec = load(&path);
        // The adapted copy keeps everything but (some) URLs.
        let copy = manifest_dir().join("races").join(path.file_name().unwrap());
        let ours = load(&copy);
        assert_eq!(spec.name, ours.name, "{}", copy.display());
        assert_eq!(spec.load, ours.load, "{}", copy.display());
        assert_eq!(spec.finish, ours.finish, "{}", copy.display());
        assert_eq!(spec.dataset, ours.dataset, "{}", copy.display());
        let names =
            |s: &config::RaceSpec| s.engines.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&spec), names(&ours), "{}", copy.display());
        for engine in &ours.engines {
            let EngineTarget::Url(url) = &engine.target else {
                panic!("{}: simulated engine", copy.display())
            };
            assert!(
                url.starts_with("http://localhost:"),
                "{}: {url}",
                copy.display()
            );
        }
    }
}

#[test]
fn every_invalid_fixture_fails_with_its_expected_message() {
    let files = yaml_files(&manifest_dir().join("races/fixtures/invalid"));
    assert!(files.len() >= 12, "only {} invalid fixtures", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect:"))
            .unwrap_or_else(|| panic!("{}: first line must be '# expect: ...'", path.display()))
            .trim();
        let err = match config::load_race_file(&path) {
            Ok(_) => panic!("{} should be invalid", path.display()),
            Err(e) => e,
        };
        let shown = err.to_string();
        // The whole message is pinned, so a change of wording (ours, or
        // serde's under the words we give) shows here.
        let dir = path.parent().unwrap().display().to_string();
        assert_eq!(
            shown,
            format!("{}: {}", path.display(), expect.replace("{dir}", &dir)),
            "{}",
            path.display()
        );
        let problems = err.problems();
        assert_eq!(
            problems.len(),
            1,
            "{}: one problem per fixture:\n{shown}",
            path.display()
        );
        let key_path = &problems[0].path;
        assert!(
            key_path == "race" || key_path.starts_with("race.") || key_path.starts_with("line "),
            "{}: the message should name a key path (or a line): '{key_path}'",
            path.display()
        );
        assert!(
            shown.starts_with(&format!("{}: {key_path}: ", path.display())),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 1, "{shown}");
    }
}

#[test]
fn a_key_is_never_echoed() {
    let path = manifest_dir().join("races/fixtures/invalid/api-key-in-file.yaml");
    let err = config::load_race_file(&path).unwrap_err().to_string();
    assert!(!err.contains("sk-proj"), "{err}");
}

#[test]
fn three_problems_are_all_reported() {
    let yaml = r#"
race:
  name: "Three problems"
  users: ten
  engines:
    - name: vllm
      url: localhost:8000
      model: m
    - name: tgi
      url: http://localhost:8001
      model: m
      color: rainbow
"#;
    let err = config::parse_race(yaml, Path::new("races/x.yaml")).unwrap_err();
    let shown = err.to_string();
    assert_eq!(
        shown,
        "races/x.yaml: race.users: expected a whole number, got 'ten'\n\
         races/x.yaml: race.engines[0].url: 'localhost:8000' has no scheme; write http://localhost:8000\n\
         races/x.yaml: race.engines[1].color: unknown colour 'rainbow'; use one of black, red, green, \
         yellow, blue, magenta, cyan, gray, dark_gray, light_red, light_green, light_yellow, light_blue, \
         light_magenta, light_cyan, white, purple, pink, orange, grey, bright_<colour>, or #rrggbb"
    );
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["race.users", "race.engines[0].url", "race.engines[1].color"]
    );
}

#[test]
fn unreadable_file_names_the_file_and_the_reason() {
    let err = config::load_race_file(Path::new("races/does-not-exist.yaml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.problems().is_empty());
    assert_eq!(
        err.to_string(),
        "cannot read race config 'races/does-not-exist.yaml'"
    );
    let chain = format!("{:#}", anyhow::Error::from(err));
    assert!(
        chain.starts_with("cannot read race config 'races/does-not-exist.yaml': "),
        "{chain}"
    );
    assert!(
        chain.contains("os error 2") || chain.contains("No such file"),
        "{chain}"
    );
}

#[test]
fn syntax_errors_give_a_line_and_column() {
    let err =
        config::parse_race("race:\n  name: x\n   users: 3\n", Path::new("x.yaml")).unwrap_err();
    let problems = err.problems();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].path.starts_with("line 3 column"), "{err}");
    assert!(
        problems[0].message.starts_with("YAML syntax error"),
        "{err}"
    );
}

#[test]
fn the_published_schema_is_the_one_the_types_make_and_every_shipped_race_points_to_it() {
    let root = manifest_dir();
    let published = std::fs::read_to_string(root.join("docs/race-file.schema.json")).unwrap();
    assert!(
        published == llm_locust::config::race_file_schema(),
        "docs/race-file.schema.json is stale: run `llm-locust schema > docs/race-file.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&published).unwrap();
    let race_keys = schema["$defs"]["RaceSection"]["properties"]
        .as_object()
        .unwrap();
    let engine_keys = schema["$defs"]["EngineFile"]["properties"]
        .as_object()
        .unwrap();
    for path in yaml_files(&root.join("races")) {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../docs/race-file.schema.json\n"),
            "{} does not point editors to the schema",
            path.display()
        );
        // Every key the shipped races use is one the schema knows.
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let race = doc["race"].as_mapping().unwrap();
        for key in race.keys() {
            let key = key.as_str().unwrap();
            assert!(
                race_keys.contains_key(key),
                "{}: race.{key}",
                path.display()
            );
        }
        for engine in doc["race"]["engines"].as_sequence().unwrap() {
            for key in engine.as_mapping().unwrap().keys() {
                let key = key.as_str().unwrap();
                assert!(
                    engine_keys.contains_key(key),
                    "{}: engine {key}",
                    path.display()
                );
            }
        }
    }
    // Quirks are named in the schema as the validator names them.
    let quirks: Vec<&str> = schema["$defs"]["Quirk"]["oneOf"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v["const"].as_str()).collect())
        .unwrap_or_default();
    let names: Vec<&str> = llm_locust::config::Quirk::ALL
        .iter()
        .map(|q| q.name())
        .collect();
    assert_eq!(quirks, names);
}

#[test]
fn completions_are_generated_for_the_shells_people_use() {
    for shell in ["bash", "zsh", "fish"] {
        let output = common_bin(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        // fish names a long option without its dashes.
        for word in ["llm-locust", "race", "replay", "no-tui"] {
            assert!(script.contains(word), "{shell}: {word}");
        }
    }
    assert_eq!(common_bin(&["completions", "tcsh"]).status.code(), Some(2));
}

fn common_bin(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_llm-locust"))
        .args(args)
        .output()
        .unwrap()
}
