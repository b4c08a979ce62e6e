//! The validator's own tests: defaults, every key, and the messages.

use super::*;
use crate::config::PublicDataset;
use crate::config::color::EngineColor;

const ORIGINAL_DEMO: &str = include_str!("../../../races/demo-race.yaml");

fn ok(yaml: &str) -> RaceSpec {
    match validate(yaml, Path::new("races/t.yaml")) {
        Ok(spec) => spec,
        Err(problems) => panic!("{problems:#?}"),
    }
}

fn problems(yaml: &str) -> Vec<String> {
    match validate(yaml, Path::new("races/t.yaml")) {
        Ok(spec) => panic!("expected problems, got {spec:#?}"),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

fn one_problem(yaml: &str) -> String {
    let all = problems(yaml);
    assert_eq!(all.len(), 1, "{all:#?}");
    all[0].clone()
}

/// A race with one simulated engine and `extra` lines under `race:`.
fn sim_race(extra: &str) -> String {
    format!("race:\n  name: t\n{extra}  engines:\n    - name: sim\n      simulate: {{}}\n")
}

fn engine(lines: &str) -> String {
    format!("race:\n  name: t\n  engines:\n    - name: e\n{lines}")
}

#[test]
fn original_demo_file_defaults() {
    let spec = ok(ORIGINAL_DEMO);
    assert_eq!(spec.name, "Demo Race - The Great Model Showdown");
    assert_eq!(spec.slug, "demo-race-the-great-model-showdown");
    assert_eq!(spec.seed, 42);
    assert_eq!(spec.countdown, DEFAULT_COUNTDOWN);
    assert_eq!(
        spec.load,
        LoadSpec::Users {
            users: 10,
            spawn_rate: 2.0
        }
    );
    assert_eq!(
        spec.finish,
        FinishSpec {
            duration: Duration::from_secs(120),
            duration_is_finish_line: true,
            requests: None,
            output_tokens: None,
            grace: DEFAULT_GRACE,
        }
    );
    assert_eq!(spec.dataset, DatasetSpec::Public(PublicDataset::ShareGpt));
    assert_eq!(spec.target_input_tokens, Some(256));
    assert_eq!(spec.target_output_tokens, Some(128));
    assert_eq!(spec.output_dir, PathBuf::from("results/races"));
    assert!(spec.slo.is_empty());
    assert_eq!(spec.engines.len(), 3);
    let vllm = &spec.engines[0];
    assert_eq!(
        vllm.target,
        EngineTarget::Url("http://localhost:8000/v1/chat/completions".into())
    );
    assert_eq!(vllm.endpoint, EndpointKind::Chat);
    assert_eq!(vllm.color, parse_color("purple").unwrap());
    assert_eq!(vllm.emoji, "🚀");
    assert_eq!(
        vllm.tokenizer.as_deref(),
        Some("meta-llama/Llama-3.2-3B-Instruct")
    );
    assert_eq!(
        vllm.max_tokens,
        Some(128),
        "max_tokens defaults to target_output_tokens"
    );
    assert_eq!(vllm.timeout, DEFAULT_TIMEOUT);
    assert!(!vllm.ignore_eos && vllm.api_key_env.is_none() && vllm.headers.is_empty());
    assert_eq!(spec.engines[2].model, "qwen2.5:7b");
}

#[test]
fn minimal_race_defaults() {
    let spec = ok(&sim_race(""));
    assert_eq!(spec.dataset, DatasetSpec::Builtin);
    assert_eq!(
        spec.load,
        LoadSpec::Users {
            users: 10,
            spawn_rate: 10.0
        }
    );
    assert_eq!(spec.finish.duration, DEFAULT_DURATION);
    assert!(spec.finish.duration_is_finish_line);
    let e = &spec.engines[0];
    assert_eq!(
        (e.model.as_str(), e.emoji.as_str(), e.color),
        ("sim", DEFAULT_EMOJI, EngineColor::Named(NamedColor::Cyan))
    );
    assert_eq!(e.max_tokens, None);
    assert_eq!(
        ok(&sim_race("  dataset: builtin\n")).dataset,
        DatasetSpec::Builtin
    );
    assert_eq!(
        ok(&sim_race("  dataset: Dolly\n")).dataset,
        DatasetSpec::Public(PublicDataset::Dolly)
    );
}

#[test]
fn palette_colours_by_index() {
    let mut yaml = "race:\n  name: t\n  engines:\n".to_owned();
    for i in 0..10 {
        yaml.push_str(&format!("    - {{name: e{i}, simulate: {{}}}}\n"));
    }
    let colours: Vec<EngineColor> = ok(&yaml).engines.into_iter().map(|e| e.color).collect();
    assert_eq!(colours, PALETTE.map(EngineColor::Named));
}

#[test]
fn simulate_defaults_and_seed() {
    let spec = ok(
        "race:\n  name: t\n  seed: 7\n  engines:\n    - {name: a, simulate: {}}\n    - name: b\n      simulate:\n",
    );
    let sims: Vec<&SimSpec> = spec
        .engines
        .iter()
        .map(|e| match &e.target {
            EngineTarget::Simulated(s) => s,
            EngineTarget::Url(u) => panic!("not simulated: {u}"),
        })
        .collect();
    assert_eq!(
        *sims[0],
        SimSpec {
            seed: 7,
            ..SimSpec::default()
        }
    );
    assert_eq!(
        *sims[1],
        SimSpec {
            seed: 8,
            ..SimSpec::default()
        },
        "null simulate = defaults; seed + index"
    );

    let spec = ok(&engine(
        "      simulate:\n        ttft_ms: 80\n        tpot_ms: 12.5\n        jitter: 0\n        prefill_us_per_token: 0\n        output_tokens: 7\n        capacity: 4\n        error_rate: 0.1\n        faults: {http_429: 0.05, reset: 0.01}\n        stall_s: 2\n        seed: 99\n",
    ));
    let EngineTarget::Simulated(sim) = &spec.engines[0].target else {
        panic!("not simulated")
    };
    assert_eq!(sim.ttft, Duration::from_millis(80));
    assert_eq!(sim.tpot, Duration::from_micros(12_500));
    assert_eq!(sim.prefill_per_token, Duration::ZERO);
    assert_eq!(
        (sim.output_tokens, sim.capacity, sim.seed),
        (Some(7), 4, 99)
    );
    assert_eq!(
        sim.faults,
        BTreeMap::from([(FaultKind::Http429, 0.05), (FaultKind::Reset, 0.01)])
    );
    assert_eq!(sim.stall, Duration::from_secs(2));
}

#[test]
fn url_normalisation() {
    use EndpointKind::{Chat, Completions};
    let cases: [(&str, Option<EndpointKind>, &str, EndpointKind); 11] = [
        (
            "http://localhost:8000",
            None,
            "http://localhost:8000/v1/chat/completions",
            Chat,
        ),
        (
            "http://localhost:8000/",
            None,
            "http://localhost:8000/v1/chat/completions",
            Chat,
        ),
        (
            "http://localhost:8000",
            Some(Completions),
            "http://localhost:8000/v1/completions",
            Completions,
        ),
        (
            "https://h.example/v1",
            None,
            "https://h.example/v1/chat/completions",
            Chat,
        ),
        (
            "https://h.example/v1/",
            Some(Completions),
            "https://h.example/v1/completions",
            Completions,
        ),
        (
            "http://h/v1/chat/completions",
            None,
            "http://h/v1/chat/completions",
            Chat,
        ),
        (
            "http://h/v1/chat/completions",
            Some(Chat),
            "http://h/v1/chat/completions",
            Chat,
        ),
        (
            "http://h/v1/completions",
            None,
            "http://h/v1/completions",
            Completions,
        ),
        (
            "http://h/openai/v1/chat/completions/",
            None,
            "http://h/openai/v1/chat/completions",
            Chat,
        ),
        (
            "HTTP://[::1]:8000/x?api-version=1",
            None,
            "http://[::1]:8000/x/v1/chat/completions?api-version=1",
            Chat,
        ),
        (
            " http://127.0.0.1:9 ",
            None,
            "http://127.0.0.1:9/v1/chat/completions",
            Chat,
        ),
    ];
    for (raw, endpoint, full, kind) in cases {
        assert_eq!(
            normalize_url(raw, endpoint),
            Ok((full.to_owned(), kind)),
            "{raw}"
        );
    }
}

#[test]
fn url_errors() {
    let url_err = |raw: &str| match normalize_url(raw, None) {
        Err(UrlError::Url(m)) => m,
        other => panic!("{raw}: {other:?}"),
    };
    assert_eq!(
        url_err("localhost:8000"),
        "'localhost:8000' has no scheme; write http://localhost:8000"
    );
    assert!(url_err("ftp://h").contains("only http and https"));
    assert!(url_err("http://").contains("has no host"));
    assert!(url_err("http://:8000").contains("has no host"));
    assert!(url_err("http://h:0").contains("invalid port '0'"));
    assert!(url_err("http://h:http").contains("invalid port"));
    assert!(url_err("http:/h").contains("missing '//'"));
    assert!(url_err("http://h x").contains("spaces"));
    assert!(url_err("http://h/#frag").contains("fragment"));
    assert!(url_err("").starts_with("empty"));
    let secret = url_err("https://user:hunter2@h");
    assert!(
        secret.contains("credentials") && !secret.contains("hunter2"),
        "{secret}"
    );
    match normalize_url("http://h/v1/completions", Some(EndpointKind::Chat)) {
        Err(UrlError::Endpoint(m)) => assert!(m.contains("'chat' contradicts the url"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn open_loop_modes() {
    let spec = ok(&sim_race("  load: {mode: constant, rate: 2.5}\n"));
    assert_eq!(
        spec.load,
        LoadSpec::Constant {
            rate: 2.5,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT
        }
    );
    let spec = ok(&sim_race(
        "  load: {mode: poisson, rate: 4, max_in_flight: 8}\n",
    ));
    assert_eq!(
        spec.load,
        LoadSpec::Poisson {
            rate: 4.0,
            max_in_flight: 8
        }
    );
    let spec = ok(&sim_race("  load: {users: 3, spawn_rate: 0.5}\n"));
    assert_eq!(
        spec.load,
        LoadSpec::Users {
            users: 3,
            spawn_rate: 0.5
        }
    );
}

#[test]
fn finish_lines() {
    let spec = ok(&sim_race("  finish: {requests: 500}\n"));
    assert_eq!(spec.finish.duration, DEFAULT_TIME_LIMIT);
    assert!(!spec.finish.duration_is_finish_line);
    assert_eq!(spec.finish.requests, Some(500));
    let spec = ok(&sim_race(
        "  finish: {output_tokens: 1000000, duration_s: 30, grace_s: 0}\n",
    ));
    assert_eq!(spec.finish.duration, Duration::from_secs(30));
    assert!(spec.finish.duration_is_finish_line);
    assert_eq!(
        (spec.finish.output_tokens, spec.finish.grace),
        (Some(1_000_000), Duration::ZERO)
    );
    let spec = ok(&sim_race("  duration: 1.5\n  countdown_s: 0\n"));
    assert_eq!(
        (spec.finish.duration, spec.countdown),
        (Duration::from_millis(1500), Duration::ZERO)
    );
    let spec = ok(&sim_race(
        "  slo: {ttft_p99_ms: 2000, tpot_p99_ms: 100, e2e_p99_ms: 30000, error_rate_max: 0.01}\n",
    ));
    assert_eq!(spec.slo.ttft_p99, Some(Duration::from_secs(2)));
    assert_eq!(spec.slo.error_rate_max, Some(0.01));
}

#[test]
fn conflicts_name_both_keys() {
    let m = one_problem(&sim_race("  duration: 10\n  finish: {duration_s: 5}\n"));
    assert!(
        m.contains("race.duration") && m.contains("race.finish.duration_s"),
        "{m}"
    );
    let m = one_problem(&sim_race("  users: 10\n  load: {users: 5}\n"));
    assert!(
        m.contains("race.users") && m.contains("race.load.users"),
        "{m}"
    );
    let m = one_problem(&sim_race("  spawn_rate: 1\n  load: {spawn_rate: 5}\n"));
    assert!(
        m.contains("race.spawn_rate") && m.contains("race.load.spawn_rate"),
        "{m}"
    );
    let m = one_problem(&sim_race("  load: {rate: 3}\n"));
    assert!(
        m.contains(
            "race.load.rate: only used with mode constant, poisson or bursts; remove it or set mode"
        ),
        "{m}"
    );
    let m = one_problem(&sim_race("  users: 3\n  load: {mode: poisson, rate: 1}\n"));
    assert!(m.contains("race.users: only used with mode users"), "{m}");
    let m = one_problem(&sim_race("  load: {mode: constant}\n"));
    assert!(
        m.contains("race.load.rate: required for mode constant, e.g. rate: 2.0"),
        "{m}"
    );
    let m = one_problem(&sim_race("  load: {mode: burst, rate: 3}\n"));
    assert!(m.contains("race.load.mode: unknown value 'burst'"), "{m}");
}

#[test]
fn slug_rules() {
    assert_eq!(
        slug("Demo Race - The Great Model Showdown"),
        "demo-race-the-great-model-showdown"
    );
    assert_eq!(slug("  Quick CLI Race!! "), "quick-cli-race");
    assert_eq!(slug("vLLM/TGI @ 8k"), "vllm-tgi-8k");
    assert_eq!(slug("🏁🏁"), "race");
    assert_eq!(slug(""), "race");
    assert!(slug(&"ab ".repeat(100)).len() <= 60);
    assert!(!slug(&"ab ".repeat(100)).ends_with('-'));
}

#[test]
fn type_errors_and_unknown_keys_are_friendly() {
    assert_eq!(
        one_problem(&sim_race("  users: ten\n")),
        "race.users: expected a whole number, got 'ten'"
    );
    assert!(one_problem(&sim_race("  users: '10'\n")).contains("without quotes"));
    assert_eq!(
        one_problem(&sim_race("  concurency: 4\n")),
        "race.concurency: unknown key; did you mean 'users'?"
    );
    assert_eq!(
        one_problem(&sim_race("  duraton: 4\n")),
        "race.duraton: unknown key; did you mean 'duration'?"
    );
    let m = one_problem(&sim_race("  zzz: 4\n"));
    assert!(
        m.starts_with("race.zzz: unknown key; expected one of: schema_version, name, duration"),
        "{m}"
    );
    let m = one_problem(&engine(
        "      url: http://h\n      model: m\n      api_key: sk-secret-value\n",
    ));
    assert!(m.contains("api_key_env") && !m.contains("sk-secret"), "{m}");
    let m = one_problem(&sim_race("  rate: 2\n"));
    assert!(m.contains("belongs under 'load:'"), "{m}");
}

/// What a key takes comes from the file types (their JSON Schema), so a
/// new mode or key needs no table in the messages.
#[test]
fn the_words_follow_the_types() {
    for (extra, expected) in [
        (
            "  load: {mode: 3}\n",
            "race.load.mode: expected one of: users, constant, poisson, bursts, stages, sweep, trace, got '3'",
        ),
        (
            "  seed: -1\n",
            "race.seed: expected a whole number >= 0, got '-1'; it cannot be negative",
        ),
        (
            "  users: 1.5\n",
            "race.users: expected a whole number, got '1.5'; write a whole number",
        ),
        (
            "  name2: 7\n",
            "race.name2: unknown key; did you mean 'name'?",
        ),
        (
            "  url: http://h\n",
            "race.url: unknown key here; it belongs to an engine, under 'engines:'",
        ),
        (
            "  max_in_flight: 4\n",
            "race.max_in_flight: unknown key here; it belongs under 'load:' (race.load.max_in_flight)",
        ),
        (
            "  stddev_tokens: 4\n",
            "race.stddev_tokens: unknown key here; it belongs under 'synthetic:' (race.synthetic.stddev_tokens)",
        ),
        (
            "  load: {mode: users, users: 2, spawn_rat: 1}\n",
            "race.load.spawn_rat: unknown key; did you mean 'spawn_rate'?",
        ),
    ] {
        assert_eq!(one_problem(&sim_race(extra)), expected, "{extra}");
    }
    assert_eq!(
        one_problem(&engine("      simulate: {}\n      endpoint: 5\n")),
        "race.engines[0].endpoint: expected one of: chat, completions, responses, anthropic, embeddings, got '5'"
    );
    assert_eq!(
        one_problem(&engine("      simulate: {}\n      jitter: 0.2\n")),
        "race.engines[0].jitter: unknown key here; it belongs under 'simulate:' (race.engines[0].simulate.jitter)"
    );
}

#[test]
fn bursts_and_stages() {
    let spec = ok(&sim_race(
        "  load: {mode: bursts, rate: 2, burst_factor: 5, burst_every_s: 30, burst_length_s: 5}\n",
    ));
    assert_eq!(
        spec.load,
        LoadSpec::Bursts {
            rate: 2.0,
            factor: 5.0,
            every: Duration::from_secs(30),
            length: Duration::from_secs(5),
            arrivals: Arrivals::Poisson,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    );
    assert_eq!(spec.finish.duration, DEFAULT_DURATION);
    let spec = ok(&sim_race(
        "  load:\n    mode: stages\n    arrivals: constant\n    max_in_flight: 9\n    stages:\n      - {duration_s: 30, rate: 2}\n      - {duration_s: 60, rate: 8, ramp_s: 20}\n",
    ));
    assert_eq!(
        spec.load,
        LoadSpec::Stages {
            stages: vec![
                Stage {
                    duration: Duration::from_secs(30),
                    level: 2.0,
                    ramp: Duration::ZERO
                },
                Stage {
                    duration: Duration::from_secs(60),
                    level: 8.0,
                    ramp: Duration::from_secs(20)
                },
            ],
            of: StageLevel::Rate {
                arrivals: Arrivals::Constant,
                max_in_flight: 9
            },
        }
    );
    // The stages are the race's length, unless another finish line comes first.
    assert_eq!(spec.finish.duration, Duration::from_secs(90));
    assert!(spec.finish.duration_is_finish_line);
    let spec = ok(&sim_race(
        "  duration: 45\n  load: {mode: stages, stages: [{duration_s: 60, users: 3}]}\n",
    ));
    assert_eq!(spec.finish.duration, Duration::from_secs(45));
    let spec = ok(&sim_race(
        "  finish: {requests: 100}\n  load: {mode: stages, stages: [{duration_s: 60, users: 3}]}\n",
    ));
    assert_eq!(spec.finish.duration, Duration::from_secs(60));
    assert!(!spec.finish.duration_is_finish_line);
    assert_eq!(
        one_problem(&sim_race(
            "  load: {mode: stages, stages: [{duration_s: 10, users: 0}]}\n"
        )),
        "race.load.stages: every stage has 0 users; give at least one stage some users"
    );
    assert_eq!(
        one_problem(&sim_race("  users: 4\n  load: {mode: bursts, rate: 1}\n")),
        "race.users: only used with mode users; remove it or set mode: users"
    );
}

#[test]
fn sweeps() {
    let spec = ok(&sim_race(
        "  load: {mode: sweep, of: rate, start: 1, step: 1, max: 5, step_duration_s: 30, warmup_s: 5}\n",
    ));
    let LoadSpec::Sweep(sweep) = &spec.load else {
        panic!("{:?}", spec.load)
    };
    assert_eq!(sweep.coarse_steps(), 5);
    assert_eq!(sweep.refine, 3, "a rate sweep refines by default");
    assert_eq!(sweep.min_gain, 0.05);
    assert_eq!(sweep.max_error_rate, 0.05);
    // Engines end with their sweep; the time limit has room for every step.
    assert!(!spec.finish.duration_is_finish_line);
    assert_eq!(spec.finish.duration, Duration::from_secs(8 * 36));
    let spec = ok(&sim_race(
        "  load: {mode: sweep, start: 10, step: 10, max: 40, step_duration_s: 60}\n",
    ));
    let LoadSpec::Sweep(sweep) = &spec.load else {
        panic!("{:?}", spec.load)
    };
    assert_eq!((sweep.of, sweep.refine), (StageLevel::Users, 0));
    assert_eq!(
        one_problem(&sim_race(
            "  load: {mode: sweep, start: 10, step: 10, max: 1e9, step_duration_s: 60}\n"
        )),
        "race.load.max: '1000000000' is too large; the most is 100000"
    );
}

/// serde_yaml says these only in text; the words we read from it are pinned.
#[test]
fn yaml_duplicates_and_huge_numbers_are_named() {
    assert_eq!(
        one_problem(&sim_race("  users: 2\n  users: 3\n")),
        "race.users: set twice (line 2 column 3); keep one"
    );
    assert_eq!(
        one_problem(&sim_race("  seed: 99999999999999999999999\n")),
        "race.seed: '99999999999999999999999' is too large (line 3 column 9)"
    );
}

#[test]
fn engine_checks() {
    let m = one_problem(&engine(
        "      url: http://h\n      model: m\n      api_key_env: hf_abcdefghijklmnop\n",
    ));
    assert_eq!(
        m,
        "race.engines[0].api_key_env: this looks like a key, not a variable name; put the key in an \
         environment variable and write its name here"
    );
    let long = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7";
    let m = one_problem(&engine(&format!(
        "      url: http://h\n      model: m\n      api_key_env: {long}\n"
    )));
    assert!(m.contains("looks like a key") && !m.contains(long), "{m}");
    let spec = ok(&engine(
        "      url: http://h\n      model: m\n      api_key_env: OPENAI_API_KEY\n      headers: {X-Team: infra}\n      endpoint: completions\n      max_tokens: 64\n      temperature: 0.7\n      ignore_eos: true\n      timeout_s: 0.5\n      cost_per_hour: 2.5\n",
    ));
    let e = &spec.engines[0];
    assert_eq!(e.api_key_env.as_deref(), Some("OPENAI_API_KEY"));
    assert_eq!(e.headers.get("X-Team").map(String::as_str), Some("infra"));
    assert_eq!(
        e.target,
        EngineTarget::Url("http://h/v1/completions".into())
    );
    assert_eq!(
        (e.max_tokens, e.temperature, e.ignore_eos),
        (Some(64), Some(0.7), true)
    );
    assert_eq!(
        (e.timeout, e.pricing),
        (
            Duration::from_millis(500),
            Some(Pricing::Hourly { per_hour: 2.5 })
        )
    );
    assert!(
        one_problem(&engine(
            "      simulate: {}\n      headers: {'X Team': a}\n"
        ))
        .contains("not a valid header name")
    );
    assert!(
        one_problem(&engine("      simulate: {}\n      color: '#12345'\n"))
            .contains("unknown colour '#12345'")
    );
    assert!(
        one_problem(&engine("      url: http://h\n")).contains("race.engines[0].model: required")
    );
    let m = one_problem(&engine(
        "      simulate: {error_rate: 0.5, faults: {reset: 0.6}}\n",
    ));
    assert!(
        m.contains("add up to 1.1; the total must be at most 1"),
        "{m}"
    );
    let m = one_problem(&engine("      simulate: {faults: {resett: 0.1}}\n"));
    assert!(
        m.contains("faults.resett: unknown fault kind; did you mean 'reset'?"),
        "{m}"
    );
}

#[test]
fn engine_count_and_names() {
    assert!(one_problem("race:\n  name: t\n").contains("race.engines: required"));
    assert!(one_problem("race:\n  name: t\n  engines: []\n").contains("race.engines: empty"));
    let m = one_problem(
        "race:\n  name: t\n  engines:\n    - {name: a, simulate: {}}\n    - {name: A, simulate: {}}\n",
    );
    assert!(
        m.contains("race.engines[1].name: 'A' is already the name of race.engines[0]"),
        "{m}"
    );
    assert!(
        one_problem(&engine("      simulate: {}\n").replace("name: e", "name: '..'"))
            .contains("cannot be a name")
    );
}

#[test]
fn tokenizer_paths_resolve_against_the_race_file() {
    let dir = std::env::temp_dir().join(format!("llm-locust-tok-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tok")).unwrap();
    std::fs::write(dir.join("tok/tokenizer.json"), "{}").unwrap();
    let yaml = "race:\n  name: t\n  engines:\n    - name: a\n      model: m\n      tokenizer: tok\n      simulate:\n    - name: b\n      model: m\n      tokenizer: Qwen/Qwen3-0.6B\n      simulate:\n";
    let spec = validate(yaml, &dir.join("race.yaml")).unwrap();
    assert_eq!(
        spec.engines[0].tokenizer.as_deref(),
        Some(dir.join("tok").display().to_string().as_str())
    );
    assert_eq!(
        spec.engines[1].tokenizer.as_deref(),
        Some("Qwen/Qwen3-0.6B")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dataset_files_resolve_against_the_race_file() {
    let dir = std::env::temp_dir().join(format!("llm-locust-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("prompts.jsonl"), "{\"prompt\": \"hi\"}\n").unwrap();
    let yaml = sim_race("  dataset: prompts.jsonl\n");
    let spec = validate(&yaml, &dir.join("race.yaml")).unwrap();
    assert_eq!(spec.dataset, DatasetSpec::File(dir.join("prompts.jsonl")));
    let problems = validate(&yaml, Path::new("races/x.yaml")).unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "race.dataset: file 'prompts.jsonl' not found (looked in 'races/prompts.jsonl' and \
         'prompts.jsonl'); give a path to a JSONL, JSON, Parquet or text file, or one of demo, \
         sharegpt, dolly, billsum, synthetic, sharegpt-sample, dolly-sample, billsum-sample"
    );
    // A path up from the race config reads as a user would write it.
    std::fs::create_dir_all(dir.join("races")).unwrap();
    let yaml = sim_race("  dataset: ../prompts.jsonl\n");
    let spec = validate(&yaml, &dir.join("races/race.yaml")).unwrap();
    assert_eq!(spec.dataset, DatasetSpec::File(dir.join("prompts.jsonl")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn collects_every_problem() {
    let all = problems(
        "race:\n  users: ten\n  load: {mode: constant, rate: -1}\n  engines:\n    - {name: a, url: 'localhost:8000', model: m, color: rainbow}\n    - {name: b, simulate: {jitter: 2}}\n",
    );
    let paths: Vec<&str> = all
        .iter()
        .map(|m| m.split(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        paths,
        [
            "race.users",
            "race.name",
            "race.load.rate",
            "race.engines[0].url",
            "race.engines[0].color",
            "race.engines[1].simulate.jitter"
        ],
        "{all:#?}"
    );
}

#[test]
fn hostile_inputs_never_panic() {
    let inputs = [
        "",
        "race:",
        "race: ~",
        "- a\n- b",
        "just text",
        "race: [1, 2]",
        "race:\n  name: x\n  engines: {a: 1}",
        "race:\n  name: x\n  engines: [~, 5, [1], {}]",
        "race:\n  name: x\n  duration: .inf\n  users: -5\n  spawn_rate: .nan\n  countdown_s: -1\n  seed: 1e30\n  engines: [{name: a, simulate: {ttft_ms: .inf, capacity: 99999999999, stall_s: 1e300, faults: {reset: .nan}}}]",
        "race:\n  name: x\n  users: 99999999999999999999999\n",
        "race:\n  name: x\n  target_output_tokens: 4294967296\n  engines: [{name: a, simulate: {}}]",
        "race:\n  ? [a, b]\n  : c\n",
        "race:\n  name: !!binary aGVsbG8=\n",
        "race: &a\n  name: *a\n",
        "race:\n  name: x\n  engines:\n    - name: a\n      simulate: !custom {}\n",
        "\t\u{0}",
        "race:\n  name: \"unterminated\n",
        "race:\n  load: {mode: 3}\n  finish: 7\n  slo: [1]\n",
    ];
    for input in inputs {
        if let Err(problems) = validate(input, Path::new("x.yaml")) {
            assert!(!problems.is_empty(), "{input:?}");
        }
    }
    let mut deep = String::from("race:\n  name: ");
    deep.push_str(&"[".repeat(10_000));
    assert!(validate(&deep, Path::new("x.yaml")).is_err());
}

/// `yaml` validated with `--simulate`.
fn simulated(yaml: &str) -> Result<RaceSpec, Vec<String>> {
    let overrides = Overrides {
        simulate: true,
        ..Overrides::default()
    };
    validate_with(yaml, Path::new("races/t.yaml"), &overrides)
        .map_err(|problems| problems.iter().map(ToString::to_string).collect())
}

const REAL_ENGINES: &str = "race:
  name: t
  seed: 7
  target_output_tokens: 64
  engines:
    - name: vllm
      url: http://gpu-1.internal:8000
      model: Qwen/Qwen3-0.6B
      tokenizer: Qwen/Qwen3-0.6B
      emoji: \"🚀\"
      color: cyan
      api_key_env: VLLM_KEY
      headers: {X-Team: infra}
      temperature: 0.3
      ignore_eos: true
    - name: tgi
      url: http://gpu-2.internal/v1/completions
      model: m2
      max_tokens: 32
    - name: own
      simulate: {ttft_ms: 5, seed: 99, error_rate: 0.1}
";

#[test]
fn simulate_replaces_every_url_engine_by_a_default_simulator_and_keeps_the_rest() {
    let plain = ok(REAL_ENGINES);
    let spec = simulated(REAL_ENGINES).unwrap();
    assert!(spec.simulated && !plain.simulated);
    let sim = |seed| {
        EngineTarget::Simulated(SimSpec {
            seed,
            prefix_cache_tokens: Some(1_000_000),
            ..SimSpec::default()
        })
    };
    // As `simulate: {}` gives: the defaults, seeded with the race's seed
    // plus the engine's index, so the lanes differ in jitter; with a prefix
    // cache, as the servers they stand in for have.
    assert_eq!(spec.engines[0].target, sim(7));
    assert_eq!(spec.engines[1].target, sim(8));
    for (real, simulated) in plain.engines.iter().zip(&spec.engines).take(2) {
        // Everything but the target and the key is the file's.
        let expected = EngineSpec {
            target: simulated.target.clone(),
            api_key_env: None,
            ..real.clone()
        };
        assert_eq!(*simulated, expected);
    }
    assert_eq!(spec.engines[0].name, "vllm");
    assert_eq!(
        spec.engines[0].tokenizer.as_deref(),
        Some("Qwen/Qwen3-0.6B")
    );
    assert_eq!(spec.engines[0].headers["X-Team"], "infra");
    assert!(spec.engines[0].ignore_eos);
    assert_eq!(spec.engines[0].max_tokens, Some(64));
    // The endpoint kind still comes from the URL.
    assert_eq!(spec.engines[1].endpoint, EndpointKind::Completions);
    assert_eq!(spec.engines[1].max_tokens, Some(32));
    // The key was only needed by the server.
    assert_eq!(plain.engines[0].api_key_env.as_deref(), Some("VLLM_KEY"));
    assert_eq!(spec.engines[0].api_key_env, None);
    // An engine that already is simulated keeps its own settings.
    assert_eq!(spec.engines[2], plain.engines[2]);
    let EngineTarget::Simulated(own) = &spec.engines[2].target else {
        panic!("not simulated")
    };
    assert_eq!((own.seed, own.error_rate), (99, 0.1));
    // Only the engines change.
    assert_eq!(
        RaceSpec {
            engines: plain.engines.clone(),
            simulated: false,
            ..spec.clone()
        },
        plain
    );
}

#[test]
fn simulate_seeds_each_engine_differently() {
    let yaml = "race:\n  name: t\n  engines:\n    - {name: a, url: 'http://h:1', model: m}\n    - {name: b, url: 'http://h:1', model: m}\n    - {name: c, url: 'http://h:1', model: m}\n";
    let spec = simulated(yaml).unwrap();
    let seeds: Vec<u64> = spec
        .engines
        .iter()
        .map(|e| match &e.target {
            EngineTarget::Simulated(s) => s.seed,
            EngineTarget::Url(url) => panic!("not simulated: {url}"),
        })
        .collect();
    assert_eq!(seeds, [DEFAULT_SEED, DEFAULT_SEED + 1, DEFAULT_SEED + 2]);
}

#[test]
fn simulate_checks_the_file_as_without_it() {
    // The same files are valid, with the same messages at the same keys.
    let bad =
        engine("      url: localhost:8000\n      model: m\n      api_key_env: 'not a name'\n");
    assert_eq!(simulated(&bad).unwrap_err(), problems(&bad));
    assert_eq!(
        simulated(&bad).unwrap_err(),
        [
            "race.engines[0].url: 'localhost:8000' has no scheme; write http://localhost:8000",
            "race.engines[0].api_key_env: not an environment variable name (letters, digits and '_', not starting with a digit), e.g. api_key_env: OPENAI_API_KEY",
        ]
    );
    let no_url = engine("      model: m\n");
    assert_eq!(simulated(&no_url).unwrap_err(), problems(&no_url));
}

const TRACE: &str = "../datasets/mooncake-trace-sample.jsonl";

#[test]
fn trace_replays() {
    let spec = ok(&sim_race(&format!(
        "  load: {{mode: trace, trace: {TRACE}, time_scale: 0.5, loop: true, max_in_flight: 9}}\n"
    )));
    assert_eq!(
        spec.load,
        LoadSpec::Trace {
            path: Path::new("datasets/mooncake-trace-sample.jsonl").to_path_buf(),
            time_scale: 0.5,
            looped: true,
            max_in_flight: 9,
        }
    );
    // Looped, it runs like any other open loop: 60 s by default.
    assert_eq!(spec.finish.duration, DEFAULT_DURATION);
    assert!(spec.finish.duration_is_finish_line);
    // Once, it ends with the trace, whose length is known once it is read.
    let spec = ok(&sim_race(&format!(
        "  load: {{mode: trace, trace: {TRACE}}}\n"
    )));
    assert_eq!(
        spec.load,
        LoadSpec::Trace {
            path: Path::new("datasets/mooncake-trace-sample.jsonl").to_path_buf(),
            time_scale: 1.0,
            looped: false,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    );
    assert_eq!(spec.finish.duration, UNTIL_TRACE_ENDS);
    assert!(spec.finish.duration_is_finish_line);
    assert!(
        spec.describe().ends_with(
            "trace 'datasets/mooncake-trace-sample.jsonl' replayed once (max 100 in flight), finish at the end of the trace"
        ),
        "{}",
        spec.describe()
    );
    let spec = ok(&sim_race(&format!(
        "  duration: 30\n  load: {{mode: trace, trace: {TRACE}}}\n"
    )));
    assert_eq!(spec.finish.duration, Duration::from_secs(30));
    let spec = ok(&sim_race(&format!(
        "  finish: {{requests: 50}}\n  load: {{mode: trace, trace: {TRACE}}}\n"
    )));
    assert_eq!(spec.finish.duration, UNTIL_TRACE_ENDS);
    assert!(!spec.finish.duration_is_finish_line);
}

#[test]
fn trace_mistakes_name_the_key_and_the_fix() {
    let cases = [
        (
            "  load: {mode: trace}\n".to_owned(),
            "race.load.trace: required for mode trace; give the path to a JSONL trace file, e.g. trace: traces/production.jsonl",
        ),
        (
            "  load: {mode: trace, trace: missing.jsonl}\n".to_owned(),
            "race.load.trace: file 'missing.jsonl' not found (looked in 'races/missing.jsonl' and 'missing.jsonl'); give the path to a JSONL file of {\"timestamp\": ms, \"input_length\": n, \"output_length\": n} lines (the Mooncake trace format)",
        ),
        (
            "  load: {mode: trace, trace: ../datasets}\n".to_owned(),
            "race.load.trace: 'datasets' is a folder; give the path to a JSONL file of {\"timestamp\": ms, \"input_length\": n, \"output_length\": n} lines (the Mooncake trace format)",
        ),
        (
            format!("  load: {{mode: trace, trace: {TRACE}, time_scale: 0}}\n"),
            "race.load.time_scale: must be greater than 0 (it multiplies the gaps between the trace's arrivals: 2 replays it twice as slow, 0.5 twice as fast), got '0'",
        ),
        (
            format!("  load: {{mode: trace, trace: {TRACE}, time_scale: -2}}\n"),
            "race.load.time_scale: must be greater than 0 (it multiplies the gaps between the trace's arrivals: 2 replays it twice as slow, 0.5 twice as fast), got '-2'",
        ),
        (
            format!("  load: {{mode: trace, trace: {TRACE}, time_scale: 5000}}\n"),
            "race.load.time_scale: '5000' is too large; the most is 1000",
        ),
        (
            format!("  load: {{mode: poisson, rate: 2, trace: {TRACE}}}\n"),
            "race.load.trace: only used with mode trace; remove it or set mode: trace",
        ),
        (
            "  load: {mode: constant, rate: 2, time_scale: 2}\n".to_owned(),
            "race.load.time_scale: only used with mode trace; remove it or set mode: trace",
        ),
        (
            "  load: {loop: true}\n".to_owned(),
            "race.load.loop: only used with mode trace; remove it or set mode: trace",
        ),
        (
            format!("  load: {{mode: trace, trace: {TRACE}, rate: 3}}\n"),
            "race.load.rate: only used with mode constant, poisson or bursts; remove it or set mode",
        ),
        (
            format!("  target_output_tokens: 128\n  load: {{mode: trace, trace: {TRACE}}}\n"),
            "race.target_output_tokens: not used with mode trace: each request's max_tokens is its trace entry's output_length; remove it",
        ),
        (
            format!("  target_input_tokens: 512\n  load: {{mode: trace, trace: {TRACE}}}\n"),
            "race.target_input_tokens: not used with mode trace: each request's prompt has its trace entry's input_length; remove it",
        ),
        (
            format!(
                "  dataset: synthetic\n  synthetic: {{prompts: 8}}\n  load: {{mode: trace, trace: {TRACE}}}\n"
            ),
            "race.synthetic: not used with mode trace: synthetic prompts take their lengths from the trace; remove it",
        ),
        (
            format!("  users: 3\n  load: {{mode: trace, trace: {TRACE}}}\n"),
            "race.users: only used with mode users; remove it or set mode: users",
        ),
    ];
    for (extra, expected) in cases {
        assert_eq!(one_problem(&sim_race(&extra)), expected, "{extra}");
    }
    assert_eq!(
        one_problem(&format!(
            "race:\n  name: t\n  load: {{mode: trace, trace: {TRACE}}}\n  engines:\n    - {{name: a, simulate: {{}}, max_tokens: 64}}\n"
        )),
        "race.engines[0].max_tokens: not used with mode trace: every engine's max_tokens is the trace entry's output_length; remove it"
    );
    assert_eq!(
        one_problem(&sim_race(&format!(
            "  load: {{mode: trace, trace: {TRACE}, loop: yes please}}\n"
        ))),
        "race.load.loop: expected true or false, got 'yes please'"
    );
}

#[test]
fn an_engine_is_priced_by_the_hour_or_by_the_token_not_both() {
    let spec = ok(&engine(
        "      simulate: {}\n      price: {input_per_1m: 0.15, output_per_1m: 0.6}\n",
    ));
    assert_eq!(
        spec.engines[0].pricing,
        Some(Pricing::Tokens {
            input_per_1m: 0.15,
            output_per_1m: 0.6
        })
    );
    assert_eq!(
        one_problem(&engine(
            "      simulate: {}\n      cost_per_hour: 2\n      price: {input_per_1m: 1, output_per_1m: 2}\n"
        )),
        "race.engines[0].price: cost_per_hour is also set; give cost_per_hour for a machine you \
         run or price for an API's price list, not both"
    );
    assert_eq!(
        one_problem(&engine(
            "      simulate: {}\n      price: {output_per_1m: 2}\n"
        )),
        "race.engines[0].price.input_per_1m: required; give the price per 1,000,000 tokens in \
         dollars (0 if free)"
    );
    assert_eq!(
        one_problem(&engine(
            "      simulate: {}\n      price: {input_per_1m: -1, output_per_1m: 2}\n"
        )),
        "race.engines[0].price.input_per_1m: must be a number >= 0, got '-1'"
    );
}
