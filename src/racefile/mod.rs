//! Race files (`race.llmrace`): every event of a race, recorded as it is
//! applied, so the race can be replayed and its reports regenerated. The
//! format is described in `docs/RACE_FILE.md`.

pub mod config;
mod decode;
pub mod format;
mod reader;
mod writer;

pub use format::{FORMAT_VERSION, MAGIC};
pub use reader::{RaceFileError, Recording, read};
pub use writer::{RaceFileSink, RaceFileWriter};

/// The race file's name in a race's output folder.
pub const FILE_NAME: &str = "race.llmrace";
