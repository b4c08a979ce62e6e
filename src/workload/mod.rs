//! Prompts for a race: where they come from (the built-in set or a file),
//! in what order engines receive them, and how many tokens they hold.

mod prompts;

pub use prompts::{PromptSet, WorkloadError};

/// Token count estimate used when no tokenizer or server count is available:
/// one token per four characters, rounded up. The simulator counts prompt
/// tokens the same way, so its `usage` agrees with the client's estimate.
#[must_use]
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}
