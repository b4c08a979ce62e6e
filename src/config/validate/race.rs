//! The race section: name, seed, countdown, dataset, synthetic prompts,
//! load, finish, SLOs and warm-up.

#[allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------
// The race section

/// `simulate` is `--simulate` (see [`Overrides::simulate`]).
pub(super) fn race_spec(
    race: RaceSection,
    file: &Path,
    simulate: bool,
    p: &mut Problems,
) -> RaceSpec {
    let RaceSection {
        schema_version,
        name,
        duration,
        users,
        spawn_rate,
        seed,
        countdown_s,
        dataset,
        target_input_tokens,
        target_output_tokens,
        input_tolerance_tokens,
        synthetic,
        output_dir,
        load,
        finish,
        slo,
        warmup,
        system_prompt,
        prefix,
        conversation,
        extra_body,
        tools,
        tool_choice,
        response_format,
        engines,
    } = race;

    if let Some(v) = schema_version.filter(|v| *v != SCHEMA_VERSION) {
        p.add(
            "race.schema_version",
            format!("unsupported version '{v}'; this llm-locust reads version {SCHEMA_VERSION}"),
        );
    }
    let name = match name.as_deref().map(str::trim) {
        Some("") => {
            p.add(
                "race.name",
                "empty; give the race a name, e.g. name: \"Demo Race\"",
            );
            String::new()
        }
        Some(n) => n.to_owned(),
        None => {
            p.add(
                "race.name",
                "required; give the race a name, e.g. name: \"Demo Race\"",
            );
            String::new()
        }
    };
    let seed = seed.unwrap_or(DEFAULT_SEED);
    let countdown = secs_opt(p, "race.countdown_s", countdown_s, true, DEFAULT_COUNTDOWN);
    let dataset = dataset_spec(dataset.as_deref(), file, p);
    let target_input_tokens = target_input_tokens
        .map(|v| whole_u32(p, "race.target_input_tokens", v, 1, MAX_PROMPT_TOKENS));
    let target_output_tokens = target_output_tokens
        .map(|v| whole_u32(p, "race.target_output_tokens", v, 1, MAX_PROMPT_TOKENS));
    let input_tolerance_tokens = input_tolerance_tokens.map_or(DEFAULT_INPUT_TOLERANCE, |v| {
        whole_u32(p, "race.input_tolerance_tokens", v, 0, i64::MAX)
    });
    let synthetic_given = synthetic.is_some();
    let synthetic = synthetic_spec(synthetic, &dataset, p);
    let output_dir = match output_dir.as_deref().map(str::trim) {
        None => PathBuf::from(DEFAULT_OUTPUT_DIR),
        Some("") => {
            p.add(
                "race.output_dir",
                format!("empty; remove it (default '{DEFAULT_OUTPUT_DIR}') or name a folder"),
            );
            PathBuf::from(DEFAULT_OUTPUT_DIR)
        }
        Some(dir) => PathBuf::from(dir),
    };
    let load = load_spec(users, spawn_rate, load.unwrap_or_default(), file, p);
    let finish = finish.unwrap_or_default();
    let duration_key = match (duration, finish.duration_s) {
        (Some(_), _) => Some("race.duration"),
        (None, Some(_)) => Some("race.finish.duration_s"),
        (None, None) => None,
    };
    let mut finish = finish_spec(duration, finish, p);
    stages_finish(&load, duration_key, &mut finish, p);
    if let (LoadSpec::Sweep(sweep), None) = (&load, duration_key) {
        // Engines end when their sweep does; the time limit is a safety net:
        // every step and its judging, with room for the requests to end.
        let steps = sweep.coarse_steps() + sweep.refine;
        finish.duration = (sweep.step_duration + finish.grace + Duration::from_secs(1)) * steps;
        finish.duration_is_finish_line = false;
    }
    trace_finish(&load, duration_key, &mut finish);
    let slo = slo_spec(slo.unwrap_or_default(), p);
    let warmup = warmup.and_then(|w| warmup_spec(w, p));
    let from_trace = matches!(load, LoadSpec::Trace { .. });
    if from_trace {
        trace_lengths_only(
            target_input_tokens,
            target_output_tokens,
            synthetic_given,
            p,
        );
    }
    let shape = shape_spec(system_prompt, prefix, conversation, &load, file, p);
    let body = race_body(extra_body, tools, tool_choice, response_format, file, p);
    let mut engines = engine_specs(
        engines,
        seed,
        target_output_tokens,
        simulate,
        from_trace,
        &body,
        p,
    );
    resolve_tokenizer_paths(&mut engines, file);
    embeddings_in_race(&engines, &finish, shape.conversation.is_some(), p);

    RaceSpec {
        slug: slug(&name),
        name,
        seed,
        countdown,
        start_at: None,
        sharding: crate::config::Sharding::Whole,
        dataset,
        target_input_tokens,
        target_output_tokens,
        input_tolerance_tokens,
        synthetic,
        output_dir,
        load,
        finish,
        slo,
        warmup,
        shape,
        engines,
        simulated: simulate,
        workload: None,
    }
}

/// What an embeddings engine cannot take part in: a race to a number of
/// output tokens (it generates none), and conversations (it has no turns).
fn embeddings_in_race(
    engines: &[EngineSpec],
    finish: &FinishSpec,
    conversation: bool,
    p: &mut Problems,
) {
    let Some(i) = engines.iter().position(|e| !e.endpoint.generates()) else {
        return;
    };
    if finish.output_tokens.is_some() {
        p.add(
            "race.finish.output_tokens",
            format!(
                "engine '{}' embeds and generates no token; finish at requests or a duration",
                engines[i].name
            ),
        );
    }
    if conversation {
        p.add(
            "race.conversation",
            format!(
                "engine '{}' embeds: an embedding has no conversation; race it apart",
                engines[i].name
            ),
        );
    }
}

/// Most warm-up requests per engine, and the longest warm-up.
pub(super) const MAX_WARMUP_REQUESTS: i64 = 100_000;
pub(super) const MAX_WARMUP_SECONDS: f64 = 3600.0;

pub(super) fn warmup_spec(w: WarmupFile, p: &mut Problems) -> Option<WarmupSpec> {
    match (w.requests, w.seconds) {
        (Some(_), Some(_)) => {
            p.add(
                "race.warmup",
                "both requests and seconds are set; give one of them",
            );
            None
        }
        (None, None) => {
            p.add(
                "race.warmup",
                "empty; give requests (per engine) or seconds, e.g. warmup: {requests: 10}",
            );
            None
        }
        (Some(n), None) => Some(WarmupSpec::Requests(whole_u32(
            p,
            "race.warmup.requests",
            n,
            1,
            MAX_WARMUP_REQUESTS,
        ))),
        (None, Some(s)) if s > MAX_WARMUP_SECONDS => {
            p.add(
                "race.warmup.seconds",
                format!(
                    "'{}' is too long; the most is {MAX_WARMUP_SECONDS}",
                    fmt_num(s)
                ),
            );
            None
        }
        (None, Some(s)) => Some(WarmupSpec::Duration(seconds(
            p,
            "race.warmup.seconds",
            s,
            1.0,
            false,
        ))),
    }
}

/// A `tokenizer:` that names a file or folder next to the race file is made
/// to point there (like `dataset:`); anything else (a hub id, an absolute
/// path, a path from the working directory) is left as written.
pub(super) fn resolve_tokenizer_paths(engines: &mut [EngineSpec], file: &Path) {
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return;
    };
    for engine in engines {
        let Some(value) = &engine.tokenizer else {
            continue;
        };
        let path = Path::new(value);
        if path.is_absolute() {
            continue;
        }
        let beside = beside(dir, path);
        if beside.exists() {
            engine.tokenizer = Some(beside.display().to_string());
        }
    }
}

pub(super) fn synthetic_spec(
    file: Option<SyntheticFile>,
    dataset: &DatasetSpec,
    p: &mut Problems,
) -> SyntheticSpec {
    let Some(f) = file else {
        return SyntheticSpec::default();
    };
    if *dataset != DatasetSpec::Synthetic {
        p.add(
            "race.synthetic",
            "only applies to 'dataset: synthetic'; remove it or set dataset: synthetic",
        );
    }
    let mut spec = SyntheticSpec::default();
    if let Some(v) = f.prompts {
        spec.prompts = whole_u32(p, "race.synthetic.prompts", v, 1, 100_000);
    }
    if let Some(v) = f.stddev_tokens {
        if v >= 0.0 && v.is_finite() {
            spec.stddev_tokens = v;
        } else {
            p.add(
                "race.synthetic.stddev_tokens",
                format!("must be a number >= 0, got '{}'", fmt_num(v)),
            );
        }
    }
    spec.min_tokens = f
        .min_tokens
        .map(|v| whole_u32(p, "race.synthetic.min_tokens", v, 1, MAX_PROMPT_TOKENS));
    spec.max_tokens = f
        .max_tokens
        .map(|v| whole_u32(p, "race.synthetic.max_tokens", v, 1, MAX_PROMPT_TOKENS));
    if let (Some(lo), Some(hi)) = (spec.min_tokens, spec.max_tokens) {
        if lo > hi {
            p.add(
                "race.synthetic.min_tokens",
                format!("{lo} is above max_tokens {hi}; make min_tokens <= max_tokens"),
            );
        }
    }
    spec
}

/// File-name-safe form of a race name: lowercase ASCII letters and digits,
/// other runs turned into one `-`, at most 60 characters; `race` if empty.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(60);
    let out = out.trim_matches('-');
    if out.is_empty() {
        "race".to_owned()
    } else {
        out.to_owned()
    }
}

/// `--dataset` on the command line: the same names as `race.dataset`, and
/// paths relative to the working directory.
pub fn dataset_arg(value: &str) -> Result<DatasetSpec, String> {
    let mut p = Problems(Vec::new());
    let spec = dataset_spec(Some(value), Path::new(""), &mut p);
    match p.0.into_iter().next() {
        Some(problem) => Err(problem.message.replace("race.dataset", "--dataset")),
        None => Ok(spec),
    }
}

pub(super) fn dataset_spec(value: Option<&str>, file: &Path, p: &mut Problems) -> DatasetSpec {
    const PATH: &str = "race.dataset";
    let Some(raw) = value else {
        return DatasetSpec::Builtin;
    };
    let raw = raw.trim();
    let names = DatasetSpec::names();
    let choices = names.join(", ");
    if raw.is_empty() {
        p.add(
            PATH,
            format!(
                "empty; give a path to a JSONL, JSON, Parquet or text file, or one of {choices}"
            ),
        );
        return DatasetSpec::Builtin;
    }
    if let Some(named) = DatasetSpec::from_name(&raw.to_ascii_lowercase()) {
        return named;
    }
    match locate(raw, file) {
        Located::File(found) => DatasetSpec::File(found),
        Located::Folder(dir) => {
            p.add(
                PATH,
                format!(
                    "'{}' is a folder; give a path to a JSONL, JSON, Parquet or text file",
                    dir.display()
                ),
            );
            DatasetSpec::Builtin
        }
        Located::Missing(looked) => {
            let hint = did_you_mean(raw, &names)
                .map(|n| format!(" (did you mean '{n}'?)"))
                .unwrap_or_default();
            p.add(
                PATH,
                format!(
                    "file '{raw}' not found (looked in {looked}); give a path to a JSONL, JSON, Parquet or text file, \
                     or one of {choices}{hint}"
                ),
            );
            DatasetSpec::Builtin
        }
    }
}

/// Where a file named in the race file is: relative paths beside the race
/// file first, then from the working directory.
pub(super) enum Located {
    File(PathBuf),
    Folder(PathBuf),
    /// Not there; the places looked in, quoted, for the message.
    Missing(String),
}

/// `path` beside the race config in `dir`, tidied as a user would write it
/// (`races/../datasets/x.jsonl` is `datasets/x.jsonl`) when the tidy path is
/// the same file; as joined when a symbolic link makes them differ.
fn beside(dir: &Path, path: &Path) -> PathBuf {
    use std::path::Component;
    let joined = dir.join(path);
    let mut tidy = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(tidy.components().next_back(), Some(Component::Normal(_))) =>
            {
                tidy.pop();
            }
            other => tidy.push(other),
        }
    }
    if tidy.as_os_str().is_empty() {
        tidy.push(".");
    }
    match (tidy.canonicalize(), joined.canonicalize()) {
        (Ok(a), Ok(b)) if a == b => tidy,
        (_, Err(_)) => tidy,
        _ => joined,
    }
}

pub(super) fn locate(raw: &str, file: &Path) -> Located {
    let path = Path::new(raw);
    let mut candidates: Vec<PathBuf> = Vec::new();
    if !path.is_absolute() {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            candidates.push(beside(dir, path));
        }
    }
    if !candidates.iter().any(|c| c == path) {
        candidates.push(path.to_path_buf());
    }
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Located::File(found.clone());
    }
    if let Some(dir) = candidates.iter().find(|c| c.is_dir()) {
        return Located::Folder(dir.clone());
    }
    let looked: Vec<String> = candidates
        .iter()
        .map(|c| format!("'{}'", c.display()))
        .collect();
    Located::Missing(looked.join(" and "))
}

/// One of two keys meaning the same thing: the one given, with its path.
pub(super) fn one_of<T>(
    p: &mut Problems,
    (a_path, a): (&'static str, Option<T>),
    (b_path, b): (&'static str, Option<T>),
) -> Option<(&'static str, T)> {
    match (a, b) {
        (Some(_), Some(_)) => {
            p.add(
                b_path,
                format!(
                    "{a_path} is also set and means the same; keep one of {a_path} and {b_path}"
                ),
            );
            None
        }
        (Some(a), None) => Some((a_path, a)),
        (None, Some(b)) => Some((b_path, b)),
        (None, None) => None,
    }
}

/// A trace gives every request its lengths: keys that would set them too
/// are mistakes.
fn trace_lengths_only(
    target_input_tokens: Option<u32>,
    target_output_tokens: Option<u32>,
    synthetic: bool,
    p: &mut Problems,
) {
    if target_input_tokens.is_some() {
        p.add(
            "race.target_input_tokens",
            "not used with mode trace: each request's prompt has its trace entry's input_length; remove it",
        );
    }
    if target_output_tokens.is_some() {
        p.add(
            "race.target_output_tokens",
            "not used with mode trace: each request's max_tokens is its trace entry's output_length; remove it",
        );
    }
    if synthetic {
        p.add(
            "race.synthetic",
            "not used with mode trace: synthetic prompts take their lengths from the trace; remove it",
        );
    }
}

/// A trace replayed once ends the race: without a duration, the time limit
/// waits for the trace's length, known once it is read.
fn trace_finish(load: &LoadSpec, duration_key: Option<&'static str>, finish: &mut FinishSpec) {
    if matches!(load, LoadSpec::Trace { looped: false, .. }) && duration_key.is_none() {
        finish.duration = UNTIL_TRACE_ENDS;
        finish.duration_is_finish_line =
            finish.requests.is_none() && finish.output_tokens.is_none();
    }
}

/// Stages end the race: without a duration it is their total, and a
/// duration beyond them is a mistake.
fn stages_finish(
    load: &LoadSpec,
    duration_key: Option<&'static str>,
    finish: &mut FinishSpec,
    p: &mut Problems,
) {
    let Some(&total) = load.stage_starts().last() else {
        return;
    };
    match duration_key {
        None => {
            finish.duration = total;
            finish.duration_is_finish_line =
                finish.requests.is_none() && finish.output_tokens.is_none();
        }
        Some(path) if finish.duration > total && !p.seen(path) => p.add(
            path,
            format!(
                "{} s is longer than the stages ({} s), after which no load is sent; remove it or add a stage",
                fmt_num(finish.duration.as_secs_f64()),
                fmt_num(total.as_secs_f64())
            ),
        ),
        Some(_) => {}
    }
}

pub(super) fn finish_spec(
    duration: Option<f64>,
    finish: FinishFile,
    p: &mut Problems,
) -> FinishSpec {
    let duration = one_of(
        p,
        ("race.duration", duration),
        ("race.finish.duration_s", finish.duration_s),
    );
    let requests = finish
        .requests
        .map(|v| whole_u64(p, "race.finish.requests", v, 1));
    let output_tokens = finish
        .output_tokens
        .map(|v| whole_u64(p, "race.finish.output_tokens", v, 1));
    let grace = secs_opt(
        p,
        "race.finish.grace_s",
        finish.grace_s,
        true,
        DEFAULT_GRACE,
    );
    let conflict = p.seen("race.finish.duration_s") && duration.is_none();
    let (duration, duration_is_finish_line) = match duration {
        Some((path, v)) => (seconds(p, path, v, 1.0, false), true),
        None if conflict => (DEFAULT_DURATION, true),
        None if requests.is_some() || output_tokens.is_some() => (DEFAULT_TIME_LIMIT, false),
        None => (DEFAULT_DURATION, true),
    };
    FinishSpec {
        duration,
        duration_is_finish_line,
        requests,
        output_tokens,
        grace,
    }
}

pub(super) fn slo_spec(slo: SloFile, p: &mut Problems) -> SloSpec {
    let ms = |p: &mut Problems, key: &str, v: f64| {
        seconds(p, &format!("race.slo.{key}"), v, 0.001, false)
    };
    SloSpec {
        ttft_p99: slo.ttft_p99_ms.map(|v| ms(p, "ttft_p99_ms", v)),
        tpot_p99: slo.tpot_p99_ms.map(|v| ms(p, "tpot_p99_ms", v)),
        e2e_p99: slo.e2e_p99_ms.map(|v| ms(p, "e2e_p99_ms", v)),
        error_rate_max: slo
            .error_rate_max
            .map(|v| within(p, "race.slo.error_rate_max", v, 0.0, 1.0)),
    }
}
