//! Race configuration: the YAML DTOs (`file`), their validation into a
//! [`RaceSpec`] (`validate`), the validated types (`spec`) and engine
//! colours (`color`).
//!
//! [`load_race_file`] and [`parse_race`] are the entry points; a file with
//! problems gives [`ConfigError::Invalid`] listing every problem at once,
//! each with its key path and the fix.

pub mod color;
mod describe;
pub mod file;
pub mod load;
pub mod quick;
pub mod secrets;
pub mod shape;
pub mod shard;
pub mod spec;
pub mod validate;

pub use shape::{ConversationSpec, History, PrefixSpec, ShapeSpec, ThinkTime, TurnRange};
pub use shard::{Shard, Sharding};
pub use spec::*;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// One thing wrong with a race file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a key path (`race.engines[1].url`), or `line L column C` for
    /// YAML syntax errors.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read; the reason is the error's source, so
    /// `{:#}` prints "cannot read race file 'x': No such file or directory".
    #[error("cannot read race config '{}'", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The file was read but is not a valid race: one line per problem.
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// Every problem found (empty for [`ConfigError::Read`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn render_problems(file: &Path, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {p}", file.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates a race file.
pub fn load_race_file(path: &Path) -> Result<RaceSpec, ConfigError> {
    load_race_file_with(path, &validate::Overrides::default())
}

/// The JSON Schema of a race file, generated from the file's types, for
/// editors (`# yaml-language-server: $schema=...`) to complete and check
/// keys. The validator stays the judge: it also checks ranges, names and
/// combinations that a schema cannot say.
#[must_use]
pub fn race_file_schema() -> String {
    let mut schema = schemars::schema_for!(file::RaceFile);
    schema.insert("title".into(), "llm-locust race config".into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads and validates a race file with command-line values in place of
/// the file's (checked as the file's are).
pub fn load_race_file_with(
    path: &Path,
    overrides: &validate::Overrides,
) -> Result<RaceSpec, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    validate::validate_with(&text, path, overrides).map_err(|problems| ConfigError::Invalid {
        file: path.to_path_buf(),
        problems,
    })
}

/// Validates a race file's text. `path` names the file in messages and is
/// where a relative dataset path is looked up first.
pub fn parse_race(yaml: &str, path: &Path) -> Result<RaceSpec, ConfigError> {
    validate::validate(yaml, path).map_err(|problems| ConfigError::Invalid {
        file: path.to_path_buf(),
        problems,
    })
}
