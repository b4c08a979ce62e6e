//! Prompts for a race: where they come from (the built-in set, a shipped
//! sample, a public dataset from the Hugging Face hub, synthetic text or a
//! file), which of them fit the target input length, in what order engines
//! receive them, and how many tokens they hold under each engine's tokenizer;
//! what a `--simulate` race uses instead of a download (`offline`). A trace
//! replay's file (its arrival times and per-request lengths) is read here
//! too, with the prompts it asks for.

mod datasets;
pub mod hub;
pub mod load_trace;
mod offline;
pub mod progress;
mod prompts;
pub mod shape;
pub mod synthetic;
pub mod tokenizer;

pub use datasets::{Format, PublicDataset, Records, read_file};
pub use load_trace::TraceTimes;
pub use offline::simulate_offline;
pub use progress::{LoadStatus, LoadView, Progress};
pub use prompts::{LoadOptions, PromptSet, WorkloadError, load};
pub use shape::{Ask, Turn};

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
            trace: self.trace_facts().cloned(),
            shape: self.shape_facts(spec),
        }
    }
}

/// Fits the race to what its workload turned out to be, once loaded: the
/// facts its reports carry and, for a trace replayed once, its length (the
/// trace's, times `time_scale`, unless a shorter duration was given).
/// Returns the notes to print before the race.
pub fn settle(spec: &mut crate::config::RaceSpec, prompts: &PromptSet) -> Vec<String> {
    use crate::config::{LoadSpec, UNTIL_TRACE_ENDS};
    let mut notes = Vec::new();
    if prompts.skipped > 0 {
        let first = prompts
            .first_skipped
            .as_deref()
            .map(|why| format!(" (the first: {why})"))
            .unwrap_or_default();
        notes.push(format!(
            "{} dataset {} could not be read and {} skipped{first}",
            prompts.skipped,
            if prompts.skipped == 1 {
                "record"
            } else {
                "records"
            },
            if prompts.skipped == 1 { "was" } else { "were" },
        ));
    }
    if let Some(t) = prompts.trace_facts() {
        if t.skipped_lines > 0 {
            let first = t
                .first_skipped_line
                .as_deref()
                .map(|why| format!(" (the first: {why})"))
                .unwrap_or_default();
            notes.push(format!(
                "{} {} of trace '{}' could not be read and {} skipped{first}",
                t.skipped_lines,
                if t.skipped_lines == 1 {
                    "line"
                } else {
                    "lines"
                },
                t.file,
                if t.skipped_lines == 1 { "was" } else { "were" },
            ));
        }
        if t.sorted {
            notes.push(format!(
                "the timestamps of trace '{}' were not in order; its entries were sorted by time",
                t.file
            ));
        }
        if t.truncated {
            notes.push(format!(
                "trace '{}' has more than {} entries; the first {} are replayed",
                t.file,
                load_trace::MAX_TRACE_ENTRIES,
                load_trace::MAX_TRACE_ENTRIES
            ));
        }
    }
    if let (
        LoadSpec::Trace {
            time_scale,
            looped: false,
            ..
        },
        Some(times),
    ) = (&spec.load, prompts.trace_times())
    {
        // In whole milliseconds, rounded up: past the last arrival.
        let most = UNTIL_TRACE_ENDS.as_secs_f64() * 1000.0;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ms = (times.cycle_ms() * time_scale).ceil().min(most) as u64;
        let length = std::time::Duration::from_millis(ms);
        #[allow(clippy::cast_precision_loss)]
        let secs = ms as f64 / 1000.0;
        if spec.finish.duration > length {
            if spec.finish.duration != UNTIL_TRACE_ENDS {
                notes.push(format!(
                    "the trace lasts {secs:.1} s at time_scale {time_scale}, less than the race's {} s; the race ends with the trace",
                    spec.finish.duration.as_secs_f64()
                ));
            }
            spec.finish.duration = length;
        }
    }
    spec.workload = Some(prompts.facts(spec));
    notes
}

/// One line about a race's prompts, e.g. `1873 from 'sharegpt', 256 +/- 50
/// tokens by tokenizer 'Qwen/Qwen3-0.6B'`.
#[must_use]
pub fn describe(prompts: &PromptSet, spec: &crate::config::RaceSpec) -> String {
    if let Some(t) = prompts.trace_facts() {
        return describe_trace(t, prompts, spec);
    }
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

/// The prompts line of a trace replay, e.g. `200 requests of trace
/// 'x.jsonl' (60.2 s): 37 from 'demo' within +/- 50 tokens, 163 synthetic
/// of their exact length, estimated (no engine has a tokenizer)`.
fn describe_trace(
    t: &crate::config::TraceFacts,
    prompts: &PromptSet,
    spec: &crate::config::RaceSpec,
) -> String {
    let counter = spec
        .engines
        .iter()
        .find_map(|e| e.tokenizer.as_deref())
        .map_or_else(
            || "estimated (no engine has a tokenizer)".to_owned(),
            |t| format!("by tokenizer '{t}'"),
        );
    #[allow(clippy::cast_precision_loss)]
    let span = t.span_ms as f64 / 1000.0;
    let mut parts = Vec::new();
    if t.dataset_prompts > 0 {
        parts.push(format!(
            "{} from '{}' within +/- {} tokens",
            t.dataset_prompts, prompts.dataset, spec.input_tolerance_tokens
        ));
    }
    if t.synthetic_prompts > 0 {
        parts.push(format!(
            "{} synthetic of their exact length",
            t.synthetic_prompts
        ));
    }
    format!(
        "{} requests of trace '{}' ({span:.1} s as written): {}, {counter}",
        t.entries,
        t.file,
        parts.join(", ")
    )
}
