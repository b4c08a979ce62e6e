//! Race files (`race.llmrace`): every event of a race, recorded as it is
//! applied, so the race can be replayed and its reports regenerated. The
//! format is described in `docs/RACE_FILE.md`.

pub mod config;
mod decode;
pub mod format;
pub mod merge;
mod reader;
mod writer;

pub use format::{FORMAT_VERSION, MAGIC};
pub use reader::{RaceFileError, Recording, read};
pub use writer::{RaceFileSink, RaceFileWriter, write_recording};

/// The race file's name in a race's output folder.
pub const FILE_NAME: &str = "race.llmrace";

/// The race file's name for a race run as `sharding`: a shard's names its
/// index, so that shards' files can sit side by side.
#[must_use]
pub fn file_name(sharding: &crate::config::Sharding) -> String {
    match sharding {
        crate::config::Sharding::Shard(s) => {
            format!("race-shard-{}-of-{}.llmrace", s.index, s.count)
        }
        _ => FILE_NAME.to_owned(),
    }
}
