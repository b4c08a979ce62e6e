//! Prompts for a race: where they come from (the built-in set, a shipped
//! sample, a public dataset from the Hugging Face hub, synthetic text or a
//! file), which of them fit the target input length, in what order engines
//! receive them, and how many tokens they hold under each engine's tokenizer.
//! A trace replay's file (its arrival times and per-request lengths) is
//! read here too, with the prompts it asks for.

mod datasets;
pub mod hub;
pub mod load_trace;
pub mod progress;
mod prompts;
pub mod synthetic;
pub mod tokenizer;

pub use datasets::{Format, PublicDataset, Records, read_file};
pub use load_trace::TraceTimes;
pub use progress::{LoadStatus, LoadView, Progress};
pub use prompts::{LoadOptions, PromptSet, WorkloadError, load};

/// Token count estimate used when no tokenizer or server count is available:
/// one token per four characters, rounded up. The simulator counts prompt
/// tokens the same way, so its `usage` agrees with the client's estimate.
#[must_use]
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

impl PromptSet {
    /// What the prompts turned out to be, for the race's reports.
    #[must_use]
    pub fn facts(&self, spec: &crate::config::RaceSpec) -> crate::config::WorkloadFacts {
        crate::config::WorkloadFacts {
            dataset: self.dataset.clone(),
            prompts: self.len(),
            skipped_records: self.skipped,
            target_input_tokens: spec.target_input_tokens,
            input_tolerance_tokens: spec
                .target_input_tokens
                .map(|_| spec.input_tolerance_tokens),
            tokenizers: spec.engines.iter().map(|e| e.tokenizer.clone()).collect(),
        }
    }
}

/// One line about a race's prompts, e.g. `1873 from 'sharegpt', 256 +/- 50
/// tokens by tokenizer 'Qwen/Qwen3-0.6B'`.
#[must_use]
pub fn describe(prompts: &PromptSet, spec: &crate::config::RaceSpec) -> String {
    let mut out = format!("{} from '{}'", prompts.len(), prompts.dataset);
    let counter = spec
        .engines
        .iter()
        .find_map(|e| e.tokenizer.as_deref())
        .map_or_else(
            || "estimated (no engine has a tokenizer)".to_owned(),
            |t| format!("by tokenizer '{t}'"),
        );
    match spec.target_input_tokens {
        Some(n) if spec.dataset == crate::config::DatasetSpec::Synthetic => {
            out.push_str(&format!(", {n} tokens {counter}"));
        }
        Some(n) => out.push_str(&format!(
            ", {n} +/- {} tokens {counter}",
            spec.input_tolerance_tokens
        )),
        None => out.push_str(&format!(", token counts {counter}")),
    }
    out
}
