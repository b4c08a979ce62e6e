//! The load section: closed-loop users, open-loop constant, Poisson and
//! burst arrivals, stages, and trace replays. Which keys belong depends on
//! the mode, so a key of another mode is named as such.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Defaults of the burst keys.
pub const DEFAULT_BURST_FACTOR: f64 = 5.0;
pub const DEFAULT_BURST_EVERY_S: f64 = 30.0;
pub const DEFAULT_BURST_LENGTH_S: f64 = 5.0;
/// Most stages in one race.
pub const MAX_STAGES: usize = 1000;
/// The largest `time_scale` (a trace replayed 1000 times as slow).
pub const MAX_TIME_SCALE: f64 = 1000.0;

/// The keys of `race.load` and the modes they belong to.
const MODE_KEYS: [(&str, &[LoadMode]); 19] = [
    (
        "rate",
        &[LoadMode::Constant, LoadMode::Poisson, LoadMode::Bursts],
    ),
    (
        "max_in_flight",
        &[
            LoadMode::Constant,
            LoadMode::Poisson,
            LoadMode::Bursts,
            LoadMode::Stages,
            LoadMode::Sweep,
            LoadMode::Trace,
        ],
    ),
    ("burst_factor", &[LoadMode::Bursts]),
    ("burst_every_s", &[LoadMode::Bursts]),
    ("burst_length_s", &[LoadMode::Bursts]),
    (
        "arrivals",
        &[LoadMode::Bursts, LoadMode::Stages, LoadMode::Sweep],
    ),
    ("stages", &[LoadMode::Stages]),
    ("of", &[LoadMode::Sweep]),
    ("start", &[LoadMode::Sweep]),
    ("step", &[LoadMode::Sweep]),
    ("max", &[LoadMode::Sweep]),
    ("step_duration_s", &[LoadMode::Sweep]),
    ("warmup_s", &[LoadMode::Sweep]),
    ("min_gain", &[LoadMode::Sweep]),
    ("max_error_rate", &[LoadMode::Sweep]),
    ("refine", &[LoadMode::Sweep]),
    ("trace", &[LoadMode::Trace]),
    ("time_scale", &[LoadMode::Trace]),
    ("loop", &[LoadMode::Trace]),
];

fn modes_phrase(modes: &[LoadMode]) -> String {
    let names: Vec<&str> = modes.iter().map(|m| m.name()).collect();
    match names.as_slice() {
        [one] => format!("mode {one}"),
        [rest @ .., last] => format!("mode {} or {last}", rest.join(", ")),
        [] => "no mode".to_owned(),
    }
}

/// A key set that the load's mode does not use is a mistake to say, with
/// the mode that would use it.
fn keys_of_other_modes(load: &LoadFile, mode: LoadMode, p: &mut Problems) {
    let given = [
        ("rate", load.rate.is_some()),
        ("max_in_flight", load.max_in_flight.is_some()),
        ("burst_factor", load.burst_factor.is_some()),
        ("burst_every_s", load.burst_every_s.is_some()),
        ("burst_length_s", load.burst_length_s.is_some()),
        ("arrivals", load.arrivals.is_some()),
        ("stages", load.stages.is_some()),
        ("of", load.of.is_some()),
        ("start", load.start.is_some()),
        ("step", load.step.is_some()),
        ("max", load.max.is_some()),
        ("step_duration_s", load.step_duration_s.is_some()),
        ("warmup_s", load.warmup_s.is_some()),
        ("min_gain", load.min_gain.is_some()),
        ("max_error_rate", load.max_error_rate.is_some()),
        ("refine", load.refine.is_some()),
        ("trace", load.trace.is_some()),
        ("time_scale", load.time_scale.is_some()),
        ("loop", load.looped.is_some()),
    ];
    for (key, set) in given {
        let modes = MODE_KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(&[][..], |(_, m)| *m);
        if set && !modes.contains(&mode) {
            let hint = if modes.len() == 1 {
                format!("set mode: {}", modes[0].name())
            } else {
                "set mode".to_owned()
            };
            p.add(
                format!("race.load.{key}"),
                format!(
                    "only used with {}; remove it or {hint}",
                    modes_phrase(modes)
                ),
            );
        }
    }
}

pub(super) fn load_spec(
    users: Option<i64>,
    spawn_rate: Option<f64>,
    load: LoadFile,
    file: &Path,
    p: &mut Problems,
) -> LoadSpec {
    let users = one_of(p, ("race.users", users), ("race.load.users", load.users));
    let spawn_rate = one_of(
        p,
        ("race.spawn_rate", spawn_rate),
        ("race.load.spawn_rate", load.spawn_rate),
    );
    if p.seen("race.load.mode") {
        // The mode is unknown, so which keys belong is too: check no more.
        return LoadSpec::Users {
            users: DEFAULT_USERS,
            spawn_rate: 1.0,
        };
    }
    let mode = load.mode.unwrap_or(LoadMode::Users);
    keys_of_other_modes(&load, mode, p);
    if mode != LoadMode::Users {
        let paths = [
            users.map(|(path, _)| path),
            spawn_rate.map(|(path, _)| path),
        ];
        for path in paths.into_iter().flatten() {
            let fix = match mode {
                LoadMode::Stages => "give each stage its users",
                LoadMode::Sweep => "set start, step and max",
                _ => "set mode: users",
            };
            p.add(
                path,
                format!("only used with mode users; remove it or {fix}"),
            );
        }
    }
    let max_in_flight = load.max_in_flight.map_or(DEFAULT_MAX_IN_FLIGHT, |v| {
        whole_u32(p, "race.load.max_in_flight", v, 1, MAX_USERS)
    });
    let arrivals = match load.arrivals {
        Some(ArrivalsFile::Constant) => Arrivals::Constant,
        Some(ArrivalsFile::Poisson) | None => Arrivals::Poisson,
    };
    let rate = |p: &mut Problems| match load.rate {
        Some(v) => positive(p, "race.load.rate", v, MAX_RATE),
        None => {
            p.add(
                "race.load.rate",
                format!("required for mode {}, e.g. rate: 2.0", mode.name()),
            );
            1.0
        }
    };
    match mode {
        LoadMode::Users => {
            let users = users.map_or(DEFAULT_USERS, |(path, v)| {
                whole_u32(p, path, v, 1, MAX_USERS)
            });
            let spawn_rate =
                spawn_rate.map_or(f64::from(users), |(path, v)| positive(p, path, v, MAX_RATE));
            LoadSpec::Users { users, spawn_rate }
        }
        LoadMode::Constant => LoadSpec::Constant {
            rate: rate(p),
            max_in_flight,
        },
        LoadMode::Poisson => LoadSpec::Poisson {
            rate: rate(p),
            max_in_flight,
        },
        LoadMode::Bursts => {
            let rate = rate(p);
            bursts(&load, rate, arrivals, max_in_flight, p)
        }
        LoadMode::Stages => stages(load.stages.unwrap_or_default(), arrivals, max_in_flight, p),
        LoadMode::Sweep => LoadSpec::Sweep(sweep(&load, arrivals, max_in_flight, p)),
        LoadMode::Trace => trace(&load, file, max_in_flight, p),
    }
}

/// `mode: trace`: the file must exist (it is read with the prompts, by
/// `workload`), and the pace be a positive factor.
fn trace(load: &LoadFile, file: &Path, max_in_flight: u32, p: &mut Problems) -> LoadSpec {
    const PATH: &str = "race.load.trace";
    const WHAT: &str = "give the path to a JSONL file of {\"timestamp\": ms, \"input_length\": n, \"output_length\": n} lines (the Mooncake trace format)";
    let path = match load.trace.as_deref().map(str::trim) {
        None => {
            p.add(
                PATH,
                "required for mode trace; give the path to a JSONL trace file, e.g. trace: traces/production.jsonl",
            );
            PathBuf::new()
        }
        Some("") => {
            p.add(PATH, format!("empty; {WHAT}"));
            PathBuf::new()
        }
        Some(raw) => match locate(raw, file) {
            Located::File(found) => found,
            Located::Folder(dir) => {
                p.add(PATH, format!("'{}' is a folder; {WHAT}", dir.display()));
                PathBuf::new()
            }
            Located::Missing(looked) => {
                p.add(
                    PATH,
                    format!("file '{raw}' not found (looked in {looked}); {WHAT}"),
                );
                PathBuf::new()
            }
        },
    };
    let time_scale = match load.time_scale {
        None => 1.0,
        Some(v) if v.is_nan() || v <= 0.0 => {
            p.add(
                "race.load.time_scale",
                format!(
                    "must be greater than 0 (it multiplies the gaps between the trace's arrivals: 2 replays it twice as slow, 0.5 twice as fast), got '{}'",
                    fmt_num(v)
                ),
            );
            1.0
        }
        Some(v) => positive(p, "race.load.time_scale", v, MAX_TIME_SCALE),
    };
    LoadSpec::Trace {
        path,
        time_scale,
        looped: load.looped.unwrap_or(false),
        max_in_flight,
    }
}

/// Defaults of the sweep keys.
pub const DEFAULT_MIN_GAIN: f64 = 0.05;
pub const DEFAULT_SWEEP_ERROR_RATE: f64 = 0.05;
pub const DEFAULT_REFINE: u32 = 3;
/// Most steps a sweep may take.
pub const MAX_SWEEP_STEPS: u32 = 1000;

fn sweep(load: &LoadFile, arrivals: Arrivals, max_in_flight: u32, p: &mut Problems) -> SweepSpec {
    const AT: &str = "race.load";
    let of = match load.of {
        Some(SweepOfFile::Rate) => StageLevel::Rate {
            arrivals,
            max_in_flight,
        },
        Some(SweepOfFile::Users) | None => StageLevel::Users,
    };
    let users = matches!(of, StageLevel::Users);
    let example = if users {
        "e.g. start: 10, step: 10, max: 200"
    } else {
        "e.g. start: 1, step: 1, max: 50"
    };
    let level = |p: &mut Problems, key: &str, v: Option<f64>| -> f64 {
        let path = format!("{AT}.{key}");
        let Some(v) = v else {
            p.add(path, format!("required for mode sweep, {example}"));
            return 1.0;
        };
        if users {
            if v.fract() != 0.0 || !v.is_finite() {
                p.add(
                    &path,
                    format!("users are a whole number, got '{}'", fmt_num(v)),
                );
                return 1.0;
            }
            #[allow(clippy::cast_possible_truncation)]
            f64::from(whole_u32(p, &path, v as i64, 1, MAX_USERS))
        } else {
            positive(p, &path, v, MAX_RATE)
        }
    };
    let start = level(p, "start", load.start);
    let step = level(p, "step", load.step);
    let max = level(p, "max", load.max);
    if max < start && !p.seen(&format!("{AT}.max")) && !p.seen(&format!("{AT}.start")) {
        p.add(
            format!("{AT}.max"),
            format!(
                "{} is below start ({}); the sweep steps up from start to max",
                fmt_num(max),
                fmt_num(start)
            ),
        );
    }
    let (step_duration, warmup) = sweep_timing(load, p);
    let min_gain = load.min_gain.map_or(DEFAULT_MIN_GAIN, |v| {
        within(p, &format!("{AT}.min_gain"), v, 0.0, 10.0)
    });
    let max_error_rate = load.max_error_rate.map_or(DEFAULT_SWEEP_ERROR_RATE, |v| {
        within(p, &format!("{AT}.max_error_rate"), v, 0.0, 1.0)
    });
    let refine = match load.refine {
        None => {
            if users {
                0
            } else {
                DEFAULT_REFINE
            }
        }
        Some(_) if users => {
            p.add(
                format!("{AT}.refine"),
                "only used with of: rate (a users sweep stops at the last good step); remove it or set of: rate",
            );
            0
        }
        Some(v) => whole_u32(p, &format!("{AT}.refine"), v, 0, 20),
    };
    let spec = SweepSpec {
        of,
        start,
        step,
        max,
        step_duration,
        warmup,
        min_gain,
        max_error_rate,
        refine,
    };
    let checked = ["start", "step", "max"]
        .iter()
        .all(|k| !p.seen(&format!("{AT}.{k}")));
    if checked && spec.coarse_steps() > MAX_SWEEP_STEPS {
        p.add(
            format!("{AT}.step"),
            format!(
                "{} steps from start to max; at most {MAX_SWEEP_STEPS}, make step larger",
                spec.coarse_steps()
            ),
        );
    }
    spec
}

fn bursts(
    load: &LoadFile,
    rate: f64,
    arrivals: Arrivals,
    max_in_flight: u32,
    p: &mut Problems,
) -> LoadSpec {
    let factor = load.burst_factor.map_or(DEFAULT_BURST_FACTOR, |v| {
        if v.is_finite() && (1.0..=1000.0).contains(&v) {
            v
        } else {
            p.add(
                "race.load.burst_factor",
                format!(
                    "must be between 1 and 1000 (the burst's rate over the quiet rate), got '{}'",
                    fmt_num(v)
                ),
            );
            DEFAULT_BURST_FACTOR
        }
    });
    let every = secs_opt(
        p,
        "race.load.burst_every_s",
        load.burst_every_s,
        false,
        Duration::from_secs_f64(DEFAULT_BURST_EVERY_S),
    );
    let length = secs_opt(
        p,
        "race.load.burst_length_s",
        load.burst_length_s,
        false,
        Duration::from_secs_f64(DEFAULT_BURST_LENGTH_S),
    );
    if !p.seen("race.load.burst_every_s") && !p.seen("race.load.burst_length_s") && length >= every
    {
        p.add(
            "race.load.burst_length_s",
            format!(
                "{} s is not shorter than burst_every_s ({} s); a burst is part of each period",
                fmt_num(length.as_secs_f64()),
                fmt_num(every.as_secs_f64())
            ),
        );
    }
    LoadSpec::Bursts {
        rate,
        factor,
        every,
        length,
        arrivals,
        max_in_flight,
    }
}

fn stages(
    files: Vec<StageFile>,
    arrivals: Arrivals,
    max_in_flight: u32,
    p: &mut Problems,
) -> LoadSpec {
    const PATH: &str = "race.load.stages";
    if files.is_empty() {
        p.add(
            PATH,
            "required for mode stages, e.g. stages: [{duration_s: 60, users: 10}, {duration_s: 60, users: 20, ramp_s: 10}]",
        );
    } else if files.len() > MAX_STAGES {
        p.add(
            PATH,
            format!("{} stages; at most {MAX_STAGES}", files.len()),
        );
    }
    // The first stage that says decides what the levels are.
    let first = files
        .iter()
        .position(|s| s.users.is_some() || s.rate.is_some());
    let of = match first.map(|i| files[i].users.is_some()) {
        Some(false) => StageLevel::Rate {
            arrivals,
            max_in_flight,
        },
        _ => StageLevel::Users,
    };
    let mut stages = Vec::with_capacity(files.len());
    for (i, f) in files.into_iter().enumerate().take(MAX_STAGES) {
        let at = |key: &str| format!("{PATH}[{i}].{key}");
        let duration = match f.duration_s {
            Some(v) => seconds(p, &at("duration_s"), v, 1.0, false),
            None => {
                p.add(
                    at("duration_s"),
                    "required; how long the stage lasts, e.g. duration_s: 60",
                );
                Duration::from_secs(1)
            }
        };
        let level = stage_level(&f, i, of, first.unwrap_or(0), p);
        let ramp = secs_opt(p, &at("ramp_s"), f.ramp_s, true, Duration::ZERO);
        if ramp > duration {
            p.add(
                at("ramp_s"),
                format!(
                    "{} s is longer than the stage ({} s); the ramp is the start of the stage",
                    fmt_num(ramp.as_secs_f64()),
                    fmt_num(duration.as_secs_f64())
                ),
            );
        }
        stages.push(Stage {
            duration,
            level,
            ramp,
        });
    }
    if matches!(of, StageLevel::Users)
        && stages.iter().all(|s| s.level == 0.0)
        && !stages.is_empty()
    {
        p.add(
            PATH,
            "every stage has 0 users; give at least one stage some users",
        );
    }
    if matches!(of, StageLevel::Rate { .. })
        && stages.iter().all(|s| s.level == 0.0)
        && !stages.is_empty()
    {
        p.add(
            PATH,
            "every stage has rate 0; give at least one stage a rate",
        );
    }
    LoadSpec::Stages { stages, of }
}

/// Stage `i`'s level: its users or its rate, whichever the stages give
/// (the first that gives one, `first`, decides).
fn stage_level(f: &StageFile, i: usize, of: StageLevel, first: usize, p: &mut Problems) -> f64 {
    const PATH: &str = "race.load.stages";
    let at = |key: &str| format!("{PATH}[{i}].{key}");
    let (given, other) = match of {
        StageLevel::Users => ("users", "rate"),
        StageLevel::Rate { .. } => ("rate", "users"),
    };
    match (of, f.users, f.rate) {
        (_, Some(_), Some(_)) => {
            p.add(
                format!("{PATH}[{i}]"),
                "has both users and rate; a stage gives one of them",
            );
            1.0
        }
        (StageLevel::Users, Some(v), None) => {
            f64::from(whole_u32(p, &at("users"), v, 0, MAX_USERS))
        }
        (StageLevel::Rate { .. }, None, Some(v)) => {
            if v == 0.0 {
                0.0
            } else {
                positive(p, &at("rate"), v, MAX_RATE)
            }
        }
        (StageLevel::Users, None, Some(_)) | (StageLevel::Rate { .. }, Some(_), None) => {
            p.add(
                format!("{PATH}[{i}]"),
                format!(
                    "gives {other}, but {PATH}[{}] gives {given}; every stage gives the same one",
                    first
                ),
            );
            1.0
        }
        (_, None, None) => {
            let key = if matches!(of, StageLevel::Users) {
                "users"
            } else {
                "rate"
            };
            p.add(
                format!("{PATH}[{i}]"),
                format!("needs users or rate, e.g. {key}: 10"),
            );
            1.0
        }
    }
}

/// A sweep step's length and the warm-up at its start that is not counted.
fn sweep_timing(load: &LoadFile, p: &mut Problems) -> (Duration, Duration) {
    const AT: &str = "race.load";
    let step_duration = match load.step_duration_s {
        Some(v) => seconds(p, &format!("{AT}.step_duration_s"), v, 1.0, false),
        None => {
            p.add(
                format!("{AT}.step_duration_s"),
                "required for mode sweep: how long each step lasts, e.g. step_duration_s: 60",
            );
            Duration::from_secs(60)
        }
    };
    let warmup = secs_opt(
        p,
        &format!("{AT}.warmup_s"),
        load.warmup_s,
        true,
        Duration::ZERO,
    );
    if warmup >= step_duration && !p.seen(&format!("{AT}.warmup_s")) {
        p.add(
            format!("{AT}.warmup_s"),
            format!(
                "{} s leaves nothing of the {} s step to count; make it shorter than step_duration_s",
                fmt_num(warmup.as_secs_f64()),
                fmt_num(step_duration.as_secs_f64())
            ),
        );
    }
    (step_duration, warmup)
}
