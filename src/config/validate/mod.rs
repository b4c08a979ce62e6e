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
use super::color::{EngineColor, NamedColor, color_names, parse_color};
use super::file::{
    ArrivalsFile, EndpointFile, EngineFile, FamilyFile, FinishFile, LoadFile, LoadMode, PriceFile,
    RaceFile, RaceSection, ServerMetricsFile, SimulateFile, SloFile, StageFile, SweepOfFile,
    SyntheticFile, WarmupFile,
};
use super::secrets::{looks_like_key, looks_secret};
use super::spec::{
    Arrivals, DEFAULT_COUNTDOWN, DEFAULT_GRACE, DEFAULT_INPUT_TOLERANCE, DEFAULT_SCRAPE_INTERVAL,
    DEFAULT_TIME_LIMIT, DatasetSpec, EndpointKind, EngineSpec, EngineTarget, FaultKind, FinishSpec,
    LoadSpec, MappedFamily, Pricing, Quirk, RaceSpec, ServerFigure, ServerMetricsMode,
    ServerMetricsSpec, SimSpec, SloSpec, Stage, StageLevel, SweepSpec, SyntheticSpec,
    UNTIL_TRACE_ENDS, WarmupSpec,
};

mod dialect;
mod engine;
mod lenient;
mod load;
mod messages;
mod numbers;
mod race;
mod shape;
mod sim;

pub use self::engine::{UrlError, normalize_url};
pub use self::race::{dataset_arg, slug};
pub use self::sim::sim_flags;
#[allow(clippy::wildcard_imports)]
use self::{engine::*, lenient::*, load::*, messages::*, numbers::*, race::*, shape::*, sim::*};

/// The only race file format version.
pub const SCHEMA_VERSION: u64 = 1;
pub const DEFAULT_SEED: u64 = 42;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(60);
pub const DEFAULT_USERS: u32 = 10;
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 100;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_OUTPUT_DIR: &str = "results/races";
/// Two columns wide everywhere: 🏎️ needs a variation selector, and
/// terminals disagree on its width (tmux draws it one wide), which shifts
/// the track after it.
pub const DEFAULT_EMOJI: &str = "🚗";
pub const MAX_ENGINES: usize = 10;
/// Upper bounds that keep later arithmetic (instants, schedules) sane.
pub const MAX_USERS: i64 = 100_000;
pub const MAX_RATE: f64 = 1_000_000.0;
/// The longest duration accepted anywhere: one year.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
/// Colours given to engines without `color:`, by index.
pub const PALETTE: [NamedColor; 10] = [
    NamedColor::Cyan,
    NamedColor::Magenta,
    NamedColor::Yellow,
    NamedColor::Green,
    NamedColor::Blue,
    NamedColor::Red,
    NamedColor::LightCyan,
    NamedColor::LightMagenta,
    NamedColor::LightYellow,
    NamedColor::LightGreen,
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
    /// `--simulate`: every engine with a `url` is raced against a built-in
    /// simulator instead, as `simulate: {}` would (see `engine_spec`).
    pub simulate: bool,
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
pub(super) struct Problems(pub(super) Vec<Problem>);

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

pub(super) fn join(prefix: &str, key: &str) -> String {
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
                "missing: the file is empty; a race config starts with 'race:'",
            );
            return None;
        }
        other => {
            p.add(
                "race",
                format!(
                    "missing: the file holds {}, not a mapping; a race config starts with 'race:'",
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
            "missing or empty; a race config starts with 'race:' followed by name, engines and \
             the other settings",
        );
        return None;
    };
    let took = overrides.apply(&mut race, p);
    let spec = race_spec(race, file, overrides.simulate, p);
    // A flag's value that is out of range is the flag's problem.
    for problem in &mut p.0 {
        if let Some((_, flag)) = took.iter().find(|(key, _)| problem.path == *key) {
            problem.path = (*flag).to_owned();
        }
    }
    Some(spec)
}

/// The names between backticks in a message.
fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// A YAML syntax error in words. serde_yaml gives no kinds, only text: the
/// two cases read from it (a key set twice, a number too large) are pinned
/// by tests.
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

#[cfg(test)]
mod tests;
