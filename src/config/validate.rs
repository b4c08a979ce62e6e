//! Race file DTOs → [`RaceSpec`], collecting every problem at once.
//!
//! serde stops at its first error, so the text is parsed to a
//! [`serde_yaml::Value`] first (syntax errors carry a line and column), then
//! each section is deserialised with `serde_path_to_error`: on an error the
//! offending key is reported (in friendly words), removed from the value, and
//! deserialisation retried, until the rest deserialises. Engines are
//! deserialised one by one. Semantic checks then run on what remains, with
//! at most one problem per key path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use serde_yaml::Value;

use super::Problem;
use super::color::{color_names, parse_color};
use super::file::{
    EndpointFile, EngineFile, FinishFile, LoadFile, LoadMode, RaceFile, RaceSection, SimulateFile,
    SloFile, SyntheticFile, WarmupFile,
};
use super::spec::{
    DEFAULT_COUNTDOWN, DEFAULT_GRACE, DEFAULT_INPUT_TOLERANCE, DEFAULT_TIME_LIMIT, DatasetSpec,
    EndpointKind, EngineSpec, EngineTarget, FaultKind, FinishSpec, LoadSpec, Quirk, RaceSpec,
    SimSpec, SloSpec, SyntheticSpec, WarmupSpec,
};

/// The only race file format version.
pub const SCHEMA_VERSION: u64 = 1;
pub const DEFAULT_SEED: u64 = 42;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(60);
pub const DEFAULT_USERS: u32 = 10;
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 100;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_OUTPUT_DIR: &str = "results/races";
pub const DEFAULT_EMOJI: &str = "🏎️";
pub const MAX_ENGINES: usize = 10;
/// Upper bounds that keep later arithmetic (instants, schedules) sane.
pub const MAX_USERS: i64 = 100_000;
pub const MAX_RATE: f64 = 1_000_000.0;
/// The longest duration accepted anywhere: one year.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
/// Dataset names downloaded by the workload module.
pub const NAMED_DATASETS: [&str; 7] = [
    "sharegpt",
    "dolly",
    "billsum",
    "synthetic",
    "sharegpt-sample",
    "dolly-sample",
    "billsum-sample",
];
/// Colours given to engines without `color:`, by index.
pub const PALETTE: [&str; 10] = [
    "cyan",
    "magenta",
    "yellow",
    "green",
    "blue",
    "red",
    "light_cyan",
    "light_magenta",
    "light_yellow",
    "light_green",
];

/// How many removal-and-retry rounds one section gets.
const MAX_ATTEMPTS: usize = 64;

/// Validates a race file's text. `file` is used for relative dataset paths.
/// `Err` always holds at least one problem.
pub fn validate(yaml: &str, file: &Path) -> Result<RaceSpec, Vec<Problem>> {
    validate_with(yaml, file, &Overrides::default())
}

/// Command-line values that replace the file's before the one validation,
/// so they are checked (and bounded) exactly as the file's are.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--duration`: the file's `finish.duration_s` if it has one, else `duration`.
    pub duration_s: Option<f64>,
    /// `--users`: `load.users` if the file has it, else `users`.
    pub users: Option<u32>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--countdown`.
    pub countdown_s: Option<f64>,
    /// `--output-dir`.
    pub output_dir: Option<String>,
}

impl Overrides {
    /// Writes the values into the file's, and returns which key each flag
    /// took, so problems with them can name the flag.
    fn apply(&self, race: &mut RaceSection, p: &mut Problems) -> Vec<(&'static str, &'static str)> {
        let mut took = Vec::new();
        if let Some(secs) = self.duration_s {
            match race.finish.as_mut().filter(|f| f.duration_s.is_some()) {
                Some(finish) => {
                    finish.duration_s = Some(secs);
                    took.push(("race.finish.duration_s", "--duration"));
                }
                None => {
                    race.duration = Some(secs);
                    took.push(("race.duration", "--duration"));
                }
            }
        }
        if let Some(users) = self.users {
            let load = race.load.get_or_insert_with(LoadFile::default);
            match load.mode {
                Some(mode @ (LoadMode::Constant | LoadMode::Poisson)) => p.add(
                    "--users",
                    format!(
                        "applies to load mode 'users', but this race uses mode '{}'; set race.load.rate instead",
                        mode.name()
                    ),
                ),
                _ if load.users.is_some() => {
                    load.users = Some(i64::from(users));
                    took.push(("race.load.users", "--users"));
                }
                _ => {
                    race.users = Some(i64::from(users));
                    took.push(("race.users", "--users"));
                }
            }
        }
        if let Some(seed) = self.seed {
            race.seed = Some(seed);
            took.push(("race.seed", "--seed"));
        }
        if let Some(secs) = self.countdown_s {
            race.countdown_s = Some(secs);
            took.push(("race.countdown_s", "--countdown"));
        }
        if let Some(dir) = &self.output_dir {
            race.output_dir = Some(dir.clone());
            took.push(("race.output_dir", "--output-dir"));
        }
        took
    }
}

/// Like [`validate`], with command-line values in place of the file's.
pub fn validate_with(
    yaml: &str,
    file: &Path,
    overrides: &Overrides,
) -> Result<RaceSpec, Vec<Problem>> {
    let mut problems = Problems::default();
    let spec = build(yaml, file, overrides, &mut problems);
    match spec {
        Some(spec) if problems.0.is_empty() => Ok(spec),
        _ => {
            if problems.0.is_empty() {
                problems.add("race", "is not a valid race (no further detail)");
            }
            Err(problems.0)
        }
    }
}

/// Problems found so far, at most one per key path.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        if !self.seen(&path) {
            self.0.push(Problem {
                path,
                message: message.into(),
            });
        }
    }

    /// Adds a problem unless `other` already has one (it caused this one).
    fn add_unless_seen(
        &mut self,
        other: &str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        if !self.seen(other) {
            self.add(path, message);
        }
    }

    fn seen(&self, path: &str) -> bool {
        self.0.iter().any(|p| p.path == path)
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

// ---------------------------------------------------------------------------
// The whole file

fn build(yaml: &str, file: &Path, overrides: &Overrides, p: &mut Problems) -> Option<RaceSpec> {
    let doc: Value = match serde_yaml::from_str(yaml) {
        Ok(doc) => doc,
        Err(e) => {
            syntax_problem(&e, p);
            return None;
        }
    };
    match &doc {
        Value::Mapping(_) => {}
        Value::Null => {
            p.add(
                "race",
                "missing: the file is empty; a race file starts with 'race:'",
            );
            return None;
        }
        other => {
            p.add(
                "race",
                format!(
                    "missing: the file holds {}, not a mapping; a race file starts with 'race:'",
                    describe(other)
                ),
            );
            return None;
        }
    }
    let race = lenient::<RaceFile>(doc, "", p)?.race;
    let Some(mut race) = race else {
        p.add(
            "race",
            "missing or empty; a race file starts with 'race:' followed by name, engines and \
             the other settings",
        );
        return None;
    };
    let took = overrides.apply(&mut race, p);
    let spec = race_spec(race, file, p);
    // A flag's value that is out of range is the flag's problem.
    for problem in &mut p.0 {
        if let Some((_, flag)) = took.iter().find(|(key, _)| problem.path == *key) {
            problem.path = (*flag).to_owned();
        }
    }
    Some(spec)
}

fn syntax_problem(e: &serde_yaml::Error, p: &mut Problems) {
    let text = e.to_string();
    let Some(loc) = e.location() else {
        if text.contains("more than one document") {
            p.add(
                "",
                "the file holds more than one YAML document ('---'); keep only the race",
            );
        } else {
            p.add("", format!("YAML syntax error: {text}"));
        }
        return;
    };
    let mark = format!("line {} column {}", loc.line(), loc.column());
    let message = text.replacen(&format!(" at {mark}"), "", 1);
    // Errors found while building the value start with the key path.
    if let Some((path, rest)) = message.split_once(": ") {
        let path = path.trim_start_matches('.');
        if path == "race" || path.starts_with("race.") || path.starts_with("race[") {
            if let Some(key) = rest
                .strip_prefix("duplicate entry with key \"")
                .and_then(|k| k.strip_suffix('"'))
            {
                p.add(join(path, key), format!("set twice ({mark}); keep one"));
                return;
            }
            if rest.contains(" as u128") || rest.contains(" as i128") {
                let number = backticked(rest).into_iter().next().unwrap_or_default();
                p.add(path, format!("'{number}' is too large ({mark})"));
                return;
            }
            p.add(path, format!("{rest} ({mark})"));
            return;
        }
        if path.is_empty() {
            if let Some(key) = rest
                .strip_prefix("duplicate entry with key \"")
                .and_then(|k| k.strip_suffix('"'))
            {
                p.add(key, format!("set twice ({mark}); keep one"));
                return;
            }
        }
    }
    p.add(
        mark,
        format!("YAML syntax error: {message}; check the indentation and quoting here"),
    );
}

// ---------------------------------------------------------------------------
// Lenient deserialisation: report, remove, retry

/// Deserialises `value` as `T`, reporting each serde error (path prefixed
/// with `prefix`) and removing the offending key until the rest fits.
/// `None` when the value as a whole is unusable.
fn lenient<T: DeserializeOwned>(mut value: Value, prefix: &str, p: &mut Problems) -> Option<T> {
    for _ in 0..MAX_ATTEMPTS {
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(t) => return Some(t),
            Err(err) => err,
        };
        let segments: Vec<Segment> = err.path().iter().cloned().collect();
        let message = err.inner().to_string();
        if let Some((Segment::Unknown, parent)) = segments.split_last() {
            // A key that is not a string (`1: x`): name each such key.
            let mapping = navigate(&value, parent).and_then(|v| untag(v).as_mapping());
            for key in mapping
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|k| !k.is_string())
            {
                let shown = match key {
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => "~".to_owned(),
                    _ => "?".to_owned(),
                };
                p.add(
                    join(&render_path(prefix, parent), &shown),
                    "keys must be words, like 'name' or 'url'; remove or rename this one",
                );
            }
        } else {
            let path = render_path(prefix, &segments);
            let got = navigate(&value, &segments);
            p.add(path, friendly(&message, got, prefix, &segments));
        }
        if !remove(&mut value, &segments) {
            return None;
        }
    }
    p.add(
        if prefix.is_empty() { "race" } else { prefix },
        "too many problems here; fix the ones above first",
    );
    None
}

fn render_path(prefix: &str, segments: &[Segment]) -> String {
    let mut out = prefix.to_owned();
    for segment in segments {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { .. } => {}
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

fn key_matches(key: &Value, name: &str) -> bool {
    match key {
        Value::String(s) => s == name,
        Value::Number(n) => n.to_string() == name,
        Value::Bool(b) => b.to_string() == name,
        Value::Null => name == "~" || name.is_empty(),
        _ => false,
    }
}

fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(t) => untag(&t.value),
        v => v,
    }
}

fn untag_mut(value: &mut Value) -> &mut Value {
    match value {
        Value::Tagged(t) => untag_mut(&mut t.value),
        v => v,
    }
}

fn navigate<'v>(value: &'v Value, segments: &[Segment]) -> Option<&'v Value> {
    let mut cur = value;
    for segment in segments {
        cur = match (segment, untag(cur)) {
            (Segment::Map { key }, Value::Mapping(m)) => m
                .iter()
                .find(|(k, _)| key_matches(k, key))
                .map(|(_, v)| v)?,
            (Segment::Seq { index }, Value::Sequence(s)) => s.get(*index)?,
            (Segment::Enum { .. }, _) => cur,
            _ => return None,
        };
    }
    Some(cur)
}

fn navigate_mut<'v>(value: &'v mut Value, segments: &[Segment]) -> Option<&'v mut Value> {
    let mut cur = value;
    for segment in segments {
        if matches!(segment, Segment::Enum { .. }) {
            continue;
        }
        cur = match (segment, untag_mut(cur)) {
            (Segment::Map { key }, Value::Mapping(m)) => m
                .iter_mut()
                .find(|(k, _)| key_matches(k, key))
                .map(|(_, v)| v)?,
            (Segment::Seq { index }, Value::Sequence(s)) => s.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Removes the value at `segments` (or, for a bad non-string key, every
/// non-string key of its mapping). `false` when nothing could be removed.
fn remove(value: &mut Value, segments: &[Segment]) -> bool {
    let mut segments = segments;
    while let Some((Segment::Enum { .. }, rest)) = segments.split_last() {
        segments = rest;
    }
    let Some((last, parent)) = segments.split_last() else {
        return false;
    };
    let Some(parent) = navigate_mut(value, parent) else {
        return false;
    };
    match (last, untag_mut(parent)) {
        (Segment::Map { key }, Value::Mapping(m)) => {
            let found = m.keys().find(|k| key_matches(k, key)).cloned();
            found.is_some_and(|k| m.remove(&k).is_some())
        }
        (Segment::Unknown, Value::Mapping(m)) => {
            let before = m.len();
            m.retain(|k, _| matches!(k, Value::String(_)));
            m.len() < before
        }
        (Segment::Seq { index }, Value::Sequence(s)) if *index < s.len() => {
            s.remove(*index);
            true
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Friendly messages

/// Describes a YAML value for a message: scalars quoted, others by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("'{b}'"),
        Value::Number(n) => format!("'{n}'"),
        Value::String(s) => format!("'{}'", shorten(s)),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(t) => format!("a value tagged '{}'", t.tag),
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

/// The names between backticks in a serde message.
fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn friendly(message: &str, got: Option<&Value>, prefix: &str, segments: &[Segment]) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let parent = render_path(prefix, segments.split_last().map_or(&[], |(_, p)| p));
        return unknown_key(name, &backticked(tail), &parent);
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let options = backticked(tail);
        return format!(
            "unknown value '{}'; expected one of: {}{}",
            shorten(name),
            options.join(", "),
            did_you_mean(name, &options)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default()
        );
    }
    let is_type_error =
        message.starts_with("invalid type: ") || message.starts_with("invalid value: ");
    if let (true, Some((_, expected))) = (is_type_error, message.rsplit_once(", expected ")) {
        if expected == "field identifier" {
            return "keys must be words, like 'name' or 'url'; remove this entry".to_owned();
        }
        let key = segments.iter().rev().find_map(|s| match s {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        });
        let want = match (expected.contains("enum"), key) {
            (true, Some("mode")) => expected_phrase("enum LoadMode"),
            (true, Some("endpoint")) => expected_phrase("enum EndpointFile"),
            _ => expected_phrase(expected),
        };
        let Some(got) = got else {
            return format!("expected {want}");
        };
        let hint = type_hint(expected, got);
        return format!("expected {want}, got {}{hint}", describe(got));
    }
    message.to_owned()
}

fn expected_phrase(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" => "a whole number".to_owned(),
        "u64" | "u128" | "usize" => "a whole number >= 0".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a string" => "text".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "a mapping of names to values".to_owned(),
        "enum LoadMode" => "one of: users, constant, poisson".to_owned(),
        "enum EndpointFile" => "one of: chat, completions".to_owned(),
        e if e.starts_with("struct ") => "a mapping of keys".to_owned(),
        e => e.to_owned(),
    }
}

fn type_hint(expected: &str, got: &Value) -> &'static str {
    let wants_number = matches!(
        expected,
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "f32" | "f64"
    );
    match got {
        Value::String(s) if wants_number => match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => "; write the number without quotes",
            Ok(_) => "; that is too large",
            Err(_) => "",
        },
        Value::Number(n) if wants_number && n.is_f64() => {
            let v = n.as_f64().unwrap_or(0.0);
            if v.is_finite() && v.fract() == 0.0 && v.abs() >= 9.0e15 {
                "; that is too large"
            } else {
                "; write a whole number"
            }
        }
        Value::Number(n) if expected == "u64" && n.as_i64().is_some_and(|v| v < 0) => {
            "; it cannot be negative"
        }
        Value::Number(_) | Value::Bool(_) if expected == "a string" => "; put it in quotes",
        _ => "",
    }
}

/// Keys people write for another key.
const SYNONYMS: [(&str, &str); 24] = [
    ("concurrency", "users"),
    ("concurrent_users", "users"),
    ("num_users", "users"),
    ("api_key", "api_key_env"),
    ("apikey", "api_key_env"),
    ("key", "api_key_env"),
    ("token", "api_key_env"),
    ("timeout", "timeout_s"),
    ("duration", "duration_s"),
    ("grace", "grace_s"),
    ("countdown", "countdown_s"),
    ("time", "duration"),
    ("qps", "rate"),
    ("rps", "rate"),
    ("base_url", "url"),
    ("endpoint_url", "url"),
    ("colour", "color"),
    ("ttft", "ttft_ms"),
    ("tpot", "tpot_ms"),
    ("temp", "temperature"),
    ("max_output_tokens", "max_tokens"),
    ("sim", "simulate"),
    ("simulator", "simulate"),
    ("header", "headers"),
];

/// Keys of the nested sections, for "it belongs under ..." hints.
const SECTION_KEYS: [(&str, &[&str]); 5] = [
    ("load", &["mode", "rate", "max_in_flight"]),
    (
        "finish",
        &["duration_s", "requests", "output_tokens", "grace_s"],
    ),
    (
        "slo",
        &["ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms", "error_rate_max"],
    ),
    ("warmup", &["requests", "seconds"]),
    (
        "simulate",
        &[
            "ttft_ms",
            "tpot_ms",
            "jitter",
            "prefill_us_per_token",
            "capacity",
            "error_rate",
            "faults",
            "stall_s",
            "reasoning_tokens",
            "done_delay_ms",
            "quirks",
        ],
    ),
];

fn similar(a: &str, b: &str) -> f64 {
    strsim::normalized_damerau_levenshtein(&a.to_ascii_lowercase(), b)
}

/// The closest of `options` to `name`, if close enough to be a typo.
fn did_you_mean(name: &str, options: &[impl AsRef<str>]) -> Option<String> {
    options
        .iter()
        .map(|o| (similar(name, o.as_ref()), o.as_ref()))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, o)| o.to_owned())
}

fn unknown_key(name: &str, expected: &[String], parent: &str) -> String {
    let synonym = SYNONYMS
        .iter()
        .filter(|(alias, target)| {
            similar(name, alias) >= 0.8 && expected.iter().any(|e| e == target)
        })
        .map(|(_, target)| (*target).to_owned())
        .next();
    if let Some(suggestion) = synonym.or_else(|| did_you_mean(name, expected)) {
        let note = if suggestion == "api_key_env" {
            " (it takes the NAME of an environment variable holding the key, never the key itself)"
        } else {
            ""
        };
        return format!("unknown key; did you mean '{suggestion}'?{note}");
    }
    let is_race_level = parent == "race";
    let is_engine_level = parent
        .strip_prefix("race.engines[")
        .is_some_and(|rest| !rest.contains('.'));
    for (section, keys) in SECTION_KEYS {
        let applies = match section {
            "simulate" => is_engine_level,
            _ => is_race_level,
        };
        if applies && keys.contains(&name) {
            return format!(
                "unknown key here; it belongs under '{section}:' ({parent}.{section}.{name})"
            );
        }
    }
    if is_race_level && ["url", "model", "emoji", "color", "tokenizer"].contains(&name) {
        return "unknown key here; it belongs to an engine, under 'engines:'".to_owned();
    }
    if expected.is_empty() {
        "unknown key; this section takes no keys".to_owned()
    } else {
        format!("unknown key; expected one of: {}", expected.join(", "))
    }
}

// ---------------------------------------------------------------------------
// Numbers

fn fmt_num(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e15 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Seconds, `> 0` (or `>= 0` with `allow_zero`), at most a year. `what`
/// converts the written number to seconds (1.0 for `_s`, 0.001 for `_ms`).
fn seconds(p: &mut Problems, path: &str, v: f64, scale: f64, allow_zero: bool) -> Duration {
    let secs = v * scale;
    let ok_low = if allow_zero { v >= 0.0 } else { v > 0.0 };
    if !ok_low {
        let bound = if allow_zero {
            "at least 0"
        } else {
            "greater than 0"
        };
        p.add(path, format!("must be {bound}, got '{}'", fmt_num(v)));
        return Duration::ZERO;
    }
    if secs > MAX_SECONDS {
        p.add(
            path,
            format!(
                "'{}' is too long; the most is a year ({} s)",
                fmt_num(v),
                fmt_num(MAX_SECONDS)
            ),
        );
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO)
}

fn secs_opt(
    p: &mut Problems,
    path: &str,
    v: Option<f64>,
    allow_zero: bool,
    default: Duration,
) -> Duration {
    v.map_or(default, |v| seconds(p, path, v, 1.0, allow_zero))
}

fn ms_opt(
    p: &mut Problems,
    path: &str,
    v: Option<f64>,
    allow_zero: bool,
    default: Duration,
) -> Duration {
    v.map_or(default, |v| seconds(p, path, v, 0.001, allow_zero))
}

/// A whole number in `min..=max`.
fn whole(p: &mut Problems, path: &str, v: i64, min: i64, max: i64) -> i64 {
    if v < min {
        p.add(path, format!("must be at least {min}, got '{v}'"));
        min
    } else if v > max {
        p.add(path, format!("'{v}' is too large; the most is {max}"));
        max
    } else {
        v
    }
}

/// Longest prompt or answer a race may ask for, in tokens: beyond every
/// model's context window, and small enough that building synthetic prompts
/// of it stays within memory.
const MAX_PROMPT_TOKENS: i64 = 1_000_000;

fn whole_u32(p: &mut Problems, path: &str, v: i64, min: i64, max: i64) -> u32 {
    u32::try_from(whole(p, path, v, min, max.min(i64::from(u32::MAX)))).unwrap_or(u32::MAX)
}

fn whole_u64(p: &mut Problems, path: &str, v: i64, min: i64) -> u64 {
    u64::try_from(whole(p, path, v, min, i64::MAX)).unwrap_or(0)
}

/// A number in `lo..=hi`.
fn within(p: &mut Problems, path: &str, v: f64, lo: f64, hi: f64) -> f64 {
    if (lo..=hi).contains(&v) {
        v
    } else {
        p.add(
            path,
            format!("must be between {lo} and {hi}, got '{}'", fmt_num(v)),
        );
        lo
    }
}

/// A number `> 0` and at most `max`.
fn positive(p: &mut Problems, path: &str, v: f64, max: f64) -> f64 {
    if v.is_nan() || v <= 0.0 {
        p.add(
            path,
            format!("must be greater than 0, got '{}'", fmt_num(v)),
        );
        1.0
    } else if v > max {
        p.add(
            path,
            format!(
                "'{}' is too large; the most is {}",
                fmt_num(v),
                fmt_num(max)
            ),
        );
        1.0
    } else {
        v
    }
}

// ---------------------------------------------------------------------------
// The race section

fn race_spec(race: RaceSection, file: &Path, p: &mut Problems) -> RaceSpec {
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
    let load = load_spec(users, spawn_rate, load.unwrap_or_default(), p);
    let finish = finish_spec(duration, finish.unwrap_or_default(), p);
    let slo = slo_spec(slo.unwrap_or_default(), p);
    let warmup = warmup.and_then(|w| warmup_spec(w, p));
    let mut engines = engine_specs(engines, seed, target_output_tokens, p);
    resolve_tokenizer_paths(&mut engines, file);

    RaceSpec {
        slug: slug(&name),
        name,
        seed,
        countdown,
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
        engines,
        workload: None,
    }
}

/// Most warm-up requests per engine, and the longest warm-up.
const MAX_WARMUP_REQUESTS: i64 = 100_000;
const MAX_WARMUP_SECONDS: f64 = 3600.0;

fn warmup_spec(w: WarmupFile, p: &mut Problems) -> Option<WarmupSpec> {
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
fn resolve_tokenizer_paths(engines: &mut [EngineSpec], file: &Path) {
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
        let beside = dir.join(path);
        if beside.exists() {
            engine.tokenizer = Some(beside.display().to_string());
        }
    }
}

fn synthetic_spec(
    file: Option<SyntheticFile>,
    dataset: &DatasetSpec,
    p: &mut Problems,
) -> SyntheticSpec {
    let Some(f) = file else {
        return SyntheticSpec::default();
    };
    if *dataset != DatasetSpec::Named("synthetic".into()) {
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

fn dataset_spec(value: Option<&str>, file: &Path, p: &mut Problems) -> DatasetSpec {
    const PATH: &str = "race.dataset";
    let Some(raw) = value else {
        return DatasetSpec::Builtin;
    };
    let raw = raw.trim();
    let choices = format!("demo, {}", NAMED_DATASETS.join(", "));
    if raw.is_empty() {
        p.add(
            PATH,
            format!(
                "empty; give a path to a JSONL, JSON, Parquet or text file, or one of {choices}"
            ),
        );
        return DatasetSpec::Builtin;
    }
    let lower = raw.to_ascii_lowercase();
    if lower == "demo" || lower == "builtin" {
        return DatasetSpec::Builtin;
    }
    if NAMED_DATASETS.contains(&lower.as_str()) {
        return DatasetSpec::Named(lower);
    }
    let path = Path::new(raw);
    let mut candidates: Vec<PathBuf> = Vec::new();
    if !path.is_absolute() {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            candidates.push(dir.join(path));
        }
    }
    if !candidates.iter().any(|c| c == path) {
        candidates.push(path.to_path_buf());
    }
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return DatasetSpec::File(found.clone());
    }
    if let Some(dir) = candidates.iter().find(|c| c.is_dir()) {
        p.add(
            PATH,
            format!(
                "'{}' is a folder; give a path to a JSONL, JSON, Parquet or text file",
                dir.display()
            ),
        );
        return DatasetSpec::Builtin;
    }
    let looked: Vec<String> = candidates
        .iter()
        .map(|c| format!("'{}'", c.display()))
        .collect();
    let mut names = vec!["demo"];
    names.extend(NAMED_DATASETS);
    let hint = did_you_mean(raw, &names)
        .map(|n| format!(" (did you mean '{n}'?)"))
        .unwrap_or_default();
    p.add(
        PATH,
        format!(
            "file '{raw}' not found (looked in {}); give a path to a JSONL, JSON, Parquet or text file, \
             or one of {choices}{hint}",
            looked.join(" and ")
        ),
    );
    DatasetSpec::Builtin
}

/// One of two keys meaning the same thing: the one given, with its path.
fn one_of<T>(
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

fn load_spec(
    users: Option<i64>,
    spawn_rate: Option<f64>,
    load: LoadFile,
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
    match mode {
        LoadMode::Users => {
            for (key, set) in [
                ("rate", load.rate.is_some()),
                ("max_in_flight", load.max_in_flight.is_some()),
            ] {
                if set {
                    p.add(
                        format!("race.load.{key}"),
                        "only used with mode constant or poisson; remove it or set mode",
                    );
                }
            }
            let users = users.map_or(DEFAULT_USERS, |(path, v)| {
                whole_u32(p, path, v, 1, MAX_USERS)
            });
            let spawn_rate =
                spawn_rate.map_or(f64::from(users), |(path, v)| positive(p, path, v, MAX_RATE));
            LoadSpec::Users { users, spawn_rate }
        }
        LoadMode::Constant | LoadMode::Poisson => {
            let misplaced = [
                users.map(|(path, _)| path),
                spawn_rate.map(|(path, _)| path),
            ];
            for path in misplaced.into_iter().flatten() {
                p.add(
                    path,
                    "only used with mode users; remove it or set mode: users",
                );
            }
            let rate = match load.rate {
                Some(v) => positive(p, "race.load.rate", v, MAX_RATE),
                None => {
                    p.add(
                        "race.load.rate",
                        format!("required for mode {}, e.g. rate: 2.0", mode.name()),
                    );
                    1.0
                }
            };
            let max_in_flight = load.max_in_flight.map_or(DEFAULT_MAX_IN_FLIGHT, |v| {
                whole_u32(p, "race.load.max_in_flight", v, 1, MAX_USERS)
            });
            if mode == LoadMode::Constant {
                LoadSpec::Constant {
                    rate,
                    max_in_flight,
                }
            } else {
                LoadSpec::Poisson {
                    rate,
                    max_in_flight,
                }
            }
        }
    }
}

fn finish_spec(duration: Option<f64>, finish: FinishFile, p: &mut Problems) -> FinishSpec {
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

fn slo_spec(slo: SloFile, p: &mut Problems) -> SloSpec {
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

// ---------------------------------------------------------------------------
// Engines

fn engine_specs(
    engines: Option<Vec<Value>>,
    seed: u64,
    target_output_tokens: Option<u32>,
    p: &mut Problems,
) -> Vec<EngineSpec> {
    const PATH: &str = "race.engines";
    let Some(engines) = engines else {
        p.add(
            PATH,
            "required; list 1 to 10 engines, each with name, url and model (or simulate: {} for the \
             built-in simulator)",
        );
        return Vec::new();
    };
    if engines.is_empty() {
        p.add(PATH, "empty; add at least one engine (name, url, model)");
    } else if engines.len() > MAX_ENGINES {
        p.add(
            PATH,
            format!(
                "{} engines; at most {MAX_ENGINES} can race at once, remove some",
                engines.len()
            ),
        );
    }
    let mut specs = Vec::new();
    let mut names: Vec<(String, usize)> = Vec::new();
    for (i, value) in engines.into_iter().enumerate() {
        let prefix = format!("{PATH}[{i}]");
        if value.is_null() {
            p.add(
                &prefix,
                "empty entry; give the engine's name, url and model",
            );
            continue;
        }
        let Some(engine) = lenient::<EngineFile>(value, &prefix, p) else {
            continue;
        };
        let spec = engine_spec(i, engine, &prefix, seed, target_output_tokens, p);
        if !spec.name.is_empty() {
            let lower = spec.name.to_ascii_lowercase();
            if let Some((_, first)) = names.iter().find(|(n, _)| *n == lower) {
                p.add(
                    format!("{prefix}.name"),
                    format!(
                        "'{}' is already the name of {PATH}[{first}]; engine names must be unique",
                        spec.name
                    ),
                );
            } else {
                names.push((lower, i));
            }
        }
        specs.push(spec);
    }
    specs
}

fn engine_spec(
    index: usize,
    e: EngineFile,
    prefix: &str,
    race_seed: u64,
    target_output_tokens: Option<u32>,
    p: &mut Problems,
) -> EngineSpec {
    let at = |key: &str| join(prefix, key);
    let name = engine_name(e.name.as_deref(), &at("name"), p);
    let endpoint = e.endpoint.map(|k| match k {
        EndpointFile::Chat => EndpointKind::Chat,
        EndpointFile::Completions => EndpointKind::Completions,
    });
    let simulated = e.simulate.is_some();
    let (target, endpoint) = match (e.url, e.simulate) {
        (Some(_), Some(_)) => {
            p.add(
                at("simulate"),
                "url is also set; an engine is either a real server (url) or simulated (simulate), \
                 remove one",
            );
            (EngineTarget::Url(String::new()), EndpointKind::Chat)
        }
        (None, None) => {
            p.add_unless_seen(
                &at("simulate"),
                at("url"),
                "required; give the server's base URL, e.g. url: http://localhost:8000 (or add \
                 simulate: {} to use the built-in simulator)",
            );
            (EngineTarget::Url(String::new()), EndpointKind::Chat)
        }
        (Some(url), None) => match normalize_url(&url, endpoint) {
            Ok((full, kind)) => (EngineTarget::Url(full), kind),
            Err(UrlError::Url(message)) => {
                p.add(at("url"), message);
                (EngineTarget::Url(String::new()), EndpointKind::Chat)
            }
            Err(UrlError::Endpoint(message)) => {
                p.add(at("endpoint"), message);
                (EngineTarget::Url(String::new()), EndpointKind::Chat)
            }
        },
        (None, Some(sim)) => {
            let seed = race_seed.wrapping_add(index as u64);
            (
                EngineTarget::Simulated(sim_spec(sim, &at("simulate"), seed, p)),
                endpoint.unwrap_or(EndpointKind::Chat),
            )
        }
    };
    let model = match e.model.as_deref().map(str::trim) {
        Some("") => {
            p.add(at("model"), "empty; give the model name the server expects");
            String::new()
        }
        Some(m) => m.to_owned(),
        None if simulated => "sim".to_owned(),
        None => {
            p.add_unless_seen(
                &at("simulate"),
                at("model"),
                "required; the model name the server expects, e.g. model: meta-llama/Llama-3.2-3B-Instruct",
            );
            String::new()
        }
    };
    let color = match e.color {
        None => PALETTE[index % PALETTE.len()].to_owned(),
        Some(c) => {
            if parse_color(&c).is_none() {
                let names = color_names();
                let hint = did_you_mean(&c, &names)
                    .map(|n| format!("did you mean '{n}'? "))
                    .unwrap_or_default();
                p.add(
                    at("color"),
                    format!(
                        "unknown colour '{}'; {hint}use one of {}, bright_<colour>, or #rrggbb",
                        shorten(&c),
                        names.join(", ")
                    ),
                );
            }
            c
        }
    };
    let tokenizer = match e.tokenizer.as_deref().map(str::trim) {
        Some("") => {
            p.add(at("tokenizer"), "empty; remove it or name a tokenizer");
            None
        }
        t => t.map(str::to_owned),
    };
    let api_key_env = e
        .api_key_env
        .and_then(|v| api_key_env(&v, &at("api_key_env"), p));
    let headers = e.headers.unwrap_or_default();
    for (key, value) in &headers {
        check_header(key, value, &at(&format!("headers.{key}")), p);
    }
    let max_tokens = e
        .max_tokens
        .map(|v| whole_u32(p, &at("max_tokens"), v, 1, i64::MAX))
        .or(target_output_tokens);
    let temperature = e
        .temperature
        .map(|v| within(p, &at("temperature"), v, 0.0, 2.0));
    let timeout = secs_opt(p, &at("timeout_s"), e.timeout_s, false, DEFAULT_TIMEOUT);
    let cost_per_hour = e.cost_per_hour.map(|v| {
        if v >= 0.0 && v.is_finite() {
            v
        } else {
            p.add(
                at("cost_per_hour"),
                format!("must be a number >= 0, got '{}'", fmt_num(v)),
            );
            0.0
        }
    });
    EngineSpec {
        name,
        model,
        emoji: e.emoji.unwrap_or_else(|| DEFAULT_EMOJI.to_owned()),
        color,
        tokenizer,
        target,
        endpoint,
        api_key_env,
        headers,
        max_tokens,
        temperature,
        ignore_eos: e.ignore_eos.unwrap_or(false),
        count_reasoning: e.count_reasoning.unwrap_or(false),
        timeout,
        cost_per_hour,
    }
}

fn engine_name(name: Option<&str>, path: &str, p: &mut Problems) -> String {
    let Some(name) = name else {
        p.add(
            path,
            "required; give the engine a short name, e.g. name: vllm",
        );
        return String::new();
    };
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() {
        p.add(path, "empty; give the engine a short name, e.g. name: vllm");
    } else if !name.chars().all(ok_char) {
        let suggestion: String = name
            .trim()
            .chars()
            .map(|c| if ok_char(c) { c } else { '-' })
            .collect();
        p.add(
            path,
            format!(
                "'{}' may only use letters, digits, '-', '_' and '.' (it goes into file names); \
                 e.g. '{}'",
                shorten(name),
                shorten(&suggestion)
            ),
        );
    } else if name == "." || name == ".." {
        p.add(
            path,
            format!("'{name}' cannot be a name (it goes into file names); e.g. 'vllm'"),
        );
    } else if name.len() > 64 {
        p.add(path, "too long; at most 64 characters");
    }
    name.to_owned()
}

/// Whether a string looks like an API key rather than a variable name.
fn looks_like_key(v: &str) -> bool {
    const PREFIXES: [&str; 8] = [
        "sk-",
        "hf_",
        "gsk_",
        "xai-",
        "ghp_",
        "github_pat_",
        "AIza",
        "Bearer ",
    ];
    let v = v.trim();
    PREFIXES.iter().any(|prefix| v.starts_with(prefix)) || (v.len() >= 32 && !v.contains('_'))
}

/// Checks an environment variable name. The value is never echoed: it might
/// be a key.
fn api_key_env(value: &str, path: &str, p: &mut Problems) -> Option<String> {
    if looks_like_key(value) {
        p.add(
            path,
            "this looks like a key, not a variable name; put the key in an environment variable \
             and write its name here",
        );
        return None;
    }
    let mut chars = value.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        p.add(
            path,
            "not an environment variable name (letters, digits and '_', not starting with a digit), \
             e.g. api_key_env: OPENAI_API_KEY",
        );
        return None;
    }
    Some(value.to_owned())
}

fn check_header(name: &str, value: &str, path: &str, p: &mut Problems) {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        p.add(
            path,
            format!(
                "'{}' is not a valid header name; use letters, digits and '-', e.g. X-Team",
                shorten(name)
            ),
        );
        return;
    }
    if value
        .chars()
        .any(|c| (c.is_control() && c != '\t') || c == '\u{7f}')
    {
        p.add(
            path,
            "the value contains a line break or control character; remove it",
        );
        return;
    }
    let lower = name.to_ascii_lowercase();
    let credential_header = ["authorization", "api-key", "x-api-key"].contains(&lower.as_str())
        || lower.contains("token")
        || lower.contains("secret");
    let bare = value
        .trim()
        .trim_start_matches("Bearer ")
        .trim_start_matches("Basic ");
    if looks_like_key(value) || looks_like_key(bare) || (credential_header && bare.len() >= 16) {
        p.add(
            path,
            "this looks like a credential; keys don't belong in a race file: put it in an \
             environment variable and name that variable in api_key_env",
        );
    }
}

/// Why a URL was refused: the URL itself, or a contradicting `endpoint:`.
#[derive(Debug, PartialEq)]
pub enum UrlError {
    Url(String),
    Endpoint(String),
}

/// Turns an engine's `url` (a base URL, a `/v1` URL or a full completions
/// URL) into the full URL of the completions route and the endpoint kind.
pub fn normalize_url(
    raw: &str,
    endpoint: Option<EndpointKind>,
) -> Result<(String, EndpointKind), UrlError> {
    let s = raw.trim();
    let bad = |m: String| Err(UrlError::Url(m));
    if s.is_empty() {
        return bad("empty; give the server's base URL, e.g. http://localhost:8000".to_owned());
    }
    let shown = shorten(s);
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad(format!(
            "'{shown}' contains spaces or control characters; remove them"
        ));
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http:") || lower.starts_with("https:") {
            return bad(format!(
                "'{shown}' is missing '//' after the scheme; write e.g. http://localhost:8000"
            ));
        }
        return bad(format!("'{shown}' has no scheme; write http://{shown}"));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return bad(format!(
            "'{shown}' has scheme '{}'; only http and https are supported",
            shorten(&scheme)
        ));
    }
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, remainder) = rest.split_at(split);
    if authority.contains('@') {
        // Never echo the URL: the part before '@' may be a password.
        return bad(
            "contains credentials ('user:password@'); put the key in an environment variable and \
             name it in api_key_env"
                .to_owned(),
        );
    }
    if remainder.contains('#') {
        return bad(format!("'{shown}' has a fragment ('#...'); remove it"));
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let Some((host, after)) = inner.split_once(']') else {
            return bad(format!("'{shown}' has an unclosed '[' in its host"));
        };
        let port = match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(port) => Some(port),
                None => return bad(format!("'{shown}' has an invalid host")),
            },
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return bad(format!("'{shown}' has an invalid IPv6 host '[{host}]'"));
        }
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return bad(format!(
            "'{shown}' has no host; write e.g. http://localhost:8000"
        ));
    }
    if !authority.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return bad(format!("'{shown}' has an invalid host '{}'", shorten(host)));
    }
    if let Some(port) = port {
        if !port.bytes().all(|b| b.is_ascii_digit()) || !port.parse::<u16>().is_ok_and(|n| n >= 1) {
            return bad(format!(
                "'{shown}' has an invalid port '{}'; a port is a number from 1 to 65535",
                shorten(port)
            ));
        }
    }
    let (path, query) = match remainder.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (remainder, None),
    };
    let path = path.trim_end_matches('/');
    let from_url = if path.ends_with("/chat/completions") {
        Some(EndpointKind::Chat)
    } else if path.ends_with("/completions") {
        Some(EndpointKind::Completions)
    } else {
        None
    };
    let (kind, full_path) = match (from_url, endpoint) {
        (Some(url_kind), Some(kind)) if url_kind != kind => {
            return Err(UrlError::Endpoint(format!(
                "'{}' contradicts the url, which ends in '{}'; remove endpoint or change the url",
                endpoint_name(kind),
                url_kind.path().trim_start_matches("/v1")
            )));
        }
        (Some(url_kind), _) => (url_kind, path.to_owned()),
        (None, kind) => {
            let kind = kind.unwrap_or(EndpointKind::Chat);
            let full = if path.ends_with("/v1") {
                format!("{path}{}", kind.path().trim_start_matches("/v1"))
            } else {
                format!("{path}{}", kind.path())
            };
            (kind, full)
        }
    };
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Ok((format!("{scheme}://{authority}{full_path}{query}"), kind))
}

fn endpoint_name(kind: EndpointKind) -> &'static str {
    match kind {
        EndpointKind::Chat => "chat",
        EndpointKind::Completions => "completions",
    }
}

fn sim_spec(s: SimulateFile, prefix: &str, seed: u64, p: &mut Problems) -> SimSpec {
    let at = |key: &str| join(prefix, key);
    let d = SimSpec::default();
    let mut faults = BTreeMap::new();
    for (key, v) in s.faults.unwrap_or_default() {
        let path = at(&format!("faults.{key}"));
        let normalized = key.trim().to_ascii_lowercase().replace('-', "_");
        match FaultKind::from_name(&normalized) {
            Some(kind) => {
                faults.insert(kind, within(p, &path, v, 0.0, 1.0));
            }
            None => {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                let hint = did_you_mean(&normalized, &names)
                    .map(|n| format!("did you mean '{n}'? "))
                    .unwrap_or_default();
                p.add(
                    path,
                    format!(
                        "unknown fault kind; {hint}expected one of: {}",
                        names.join(", ")
                    ),
                );
            }
        }
    }
    let error_rate = s
        .error_rate
        .map_or(d.error_rate, |v| within(p, &at("error_rate"), v, 0.0, 1.0));
    let total = error_rate + faults.values().sum::<f64>();
    if total > 1.0 + 1e-9 {
        p.add(
            at("faults"),
            format!(
                "error_rate and faults add up to {}; the total must be at most 1",
                fmt_num(total)
            ),
        );
    }
    SimSpec {
        ttft: ms_opt(p, &at("ttft_ms"), s.ttft_ms, true, d.ttft),
        tpot: ms_opt(p, &at("tpot_ms"), s.tpot_ms, true, d.tpot),
        jitter: s
            .jitter
            .map_or(d.jitter, |v| within(p, &at("jitter"), v, 0.0, 1.0)),
        prefill_per_token: s.prefill_us_per_token.map_or(d.prefill_per_token, |v| {
            seconds(p, &at("prefill_us_per_token"), v, 1e-6, true)
        }),
        output_tokens: s
            .output_tokens
            .map(|v| whole_u32(p, &at("output_tokens"), v, 1, i64::MAX)),
        capacity: s.capacity.map_or(d.capacity, |v| {
            whole_u32(p, &at("capacity"), v, 1, i64::MAX)
        }),
        error_rate,
        faults,
        stall: secs_opt(p, &at("stall_s"), s.stall_s, false, d.stall),
        seed: s.seed.unwrap_or(seed),
        reasoning_tokens: s
            .reasoning_tokens
            .map_or(0, |v| whole_u32(p, &at("reasoning_tokens"), v, 0, i64::MAX)),
        done_delay: ms_opt(p, &at("done_delay_ms"), s.done_delay_ms, true, d.done_delay),
        quirks: quirks(s.quirks.unwrap_or_default(), &at("quirks"), p),
    }
}

fn quirks(names: Vec<String>, path: &str, p: &mut Problems) -> BTreeSet<Quirk> {
    let mut quirks = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        let normalized = name.trim().to_ascii_lowercase().replace('-', "_");
        if let Some(quirk) = Quirk::from_name(&normalized) {
            quirks.insert(quirk);
        } else {
            let names: Vec<&str> = Quirk::ALL.iter().map(|q| q.name()).collect();
            let hint = did_you_mean(&normalized, &names)
                .map(|n| format!("did you mean '{n}'? "))
                .unwrap_or_default();
            p.add(
                format!("{path}[{i}]"),
                format!("unknown quirk; {hint}expected one of: {}", names.join(", ")),
            );
        }
    }
    quirks
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL_DEMO: &str = include_str!("../../races/demo-race.yaml");

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
        assert_eq!(spec.dataset, DatasetSpec::Named("sharegpt".into()));
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
        assert_eq!(vllm.color, "purple");
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
            (e.model.as_str(), e.emoji.as_str(), e.color.as_str()),
            ("sim", DEFAULT_EMOJI, "cyan")
        );
        assert_eq!(e.max_tokens, None);
        assert_eq!(
            ok(&sim_race("  dataset: builtin\n")).dataset,
            DatasetSpec::Builtin
        );
        assert_eq!(
            ok(&sim_race("  dataset: Dolly\n")).dataset,
            DatasetSpec::Named("dolly".into())
        );
    }

    #[test]
    fn palette_colours_by_index() {
        let mut yaml = "race:\n  name: t\n  engines:\n".to_owned();
        for i in 0..10 {
            yaml.push_str(&format!("    - {{name: e{i}, simulate: {{}}}}\n"));
        }
        let colours: Vec<String> = ok(&yaml).engines.into_iter().map(|e| e.color).collect();
        assert_eq!(colours, PALETTE);
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
                "race.load.rate: only used with mode constant or poisson; remove it or set mode"
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
            (e.timeout, e.cost_per_hour),
            (Duration::from_millis(500), Some(2.5))
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
            one_problem(&engine("      url: http://h\n"))
                .contains("race.engines[0].model: required")
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
}
