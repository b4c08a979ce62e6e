//! Loading prompt sets and fixing the order in which every engine receives
//! them: request `k` of every engine gets the same prompt.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::config::DatasetSpec;

/// The prompt set compiled into the binary, so the demo runs anywhere.
const BUILTIN_PROMPTS: &str = include_str!("../../datasets/demo-prompts.jsonl");

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("cannot read dataset '{}': {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dataset '{}' has no usable prompt: {reason}", path.display())]
    Empty { path: PathBuf, reason: String },
    #[error(
        "race.dataset: '{0}' is a public dataset that must be downloaded from the Hugging Face hub, \
         which this version cannot do yet; use 'dataset: demo' or a path to a JSONL, JSON or text file of prompts"
    )]
    NotAvailable(String),
}

/// The prompts of a race and their (seeded) order.
#[derive(Debug, Clone)]
pub struct PromptSet {
    prompts: Vec<Arc<str>>,
    order: Vec<usize>,
    /// Records that could not be read as a prompt and were skipped.
    pub skipped: usize,
}

impl PromptSet {
    pub fn load(dataset: &DatasetSpec, seed: u64) -> Result<PromptSet, WorkloadError> {
        match dataset {
            DatasetSpec::Builtin => parse(BUILTIN_PROMPTS, Format::Jsonl, Path::new("demo"), seed),
            DatasetSpec::Named(name) => Err(WorkloadError::NotAvailable(name.clone())),
            DatasetSpec::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| WorkloadError::Read {
                    path: path.clone(),
                    source,
                })?;
                parse(&text, Format::for_path(path, &text), path, seed)
            }
        }
    }

    /// A prompt set from literal prompts (tests, benchmarks).
    #[must_use]
    pub fn from_prompts(prompts: Vec<String>, seed: u64) -> PromptSet {
        PromptSet::ordered(prompts.into_iter().map(Arc::from).collect(), 0, seed)
    }

    fn ordered(prompts: Vec<Arc<str>>, skipped: usize, seed: u64) -> PromptSet {
        let mut order: Vec<usize> = (0..prompts.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        PromptSet {
            prompts,
            order,
            skipped,
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }

    /// The prompt for request number `k` (the order repeats after `len`).
    #[must_use]
    pub fn for_request(&self, k: u64) -> Arc<str> {
        if self.order.is_empty() {
            return Arc::from("");
        }
        let slot = usize::try_from(k % self.order.len() as u64).unwrap_or(0);
        Arc::clone(&self.prompts[self.order[slot]])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array of objects.
    JsonArray,
    /// One prompt per line.
    Text,
}

impl Format {
    fn for_path(path: &Path, text: &str) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson") => Format::Jsonl,
            Some("json") if text.trim_start().starts_with('[') => Format::JsonArray,
            Some("json") => Format::Jsonl,
            _ => Format::Text,
        }
    }
}

fn prompt_of(value: &serde_json::Value) -> Option<String> {
    let prompt = value.get("prompt")?.as_str()?.trim();
    (!prompt.is_empty()).then(|| prompt.to_owned())
}

fn parse(text: &str, format: Format, path: &Path, seed: u64) -> Result<PromptSet, WorkloadError> {
    let mut prompts = Vec::new();
    let mut skipped = 0;
    let mut first_problem: Option<String> = None;
    let mut note = |problem: String, skipped: &mut usize| {
        *skipped += 1;
        first_problem.get_or_insert(problem);
    };
    match format {
        Format::Text => {
            prompts.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            );
        }
        Format::Jsonl => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<serde_json::Value>(line) {
                    Ok(v) => match prompt_of(&v) {
                        Some(p) => prompts.push(p),
                        None => note(
                            format!("line {}: no non-empty string field 'prompt'", i + 1),
                            &mut skipped,
                        ),
                    },
                    Err(e) => note(format!("line {}: {e}", i + 1), &mut skipped),
                }
            }
        }
        Format::JsonArray => match serde_json::from_str::<Vec<serde_json::Value>>(text) {
            Ok(values) => {
                for (i, v) in values.iter().enumerate() {
                    match prompt_of(v) {
                        Some(p) => prompts.push(p),
                        None => note(
                            format!("item {i}: no non-empty string field 'prompt'"),
                            &mut skipped,
                        ),
                    }
                }
            }
            Err(e) => note(
                format!("not a JSON array of {{\"prompt\": ...}} objects: {e}"),
                &mut skipped,
            ),
        },
    }
    if prompts.is_empty() {
        return Err(WorkloadError::Empty {
            path: path.to_owned(),
            reason: first_problem.unwrap_or_else(|| "the file is empty".to_owned()),
        });
    }
    Ok(PromptSet::ordered(
        prompts.into_iter().map(Arc::from).collect(),
        skipped,
        seed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_set_loads_and_every_prompt_is_used_once_per_cycle() {
        let set = PromptSet::load(&DatasetSpec::Builtin, 42).unwrap();
        assert!(set.len() >= 20);
        let mut seen: Vec<Arc<str>> = (0..set.len() as u64).map(|k| set.for_request(k)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), set.len());
        assert_eq!(set.for_request(0), set.for_request(set.len() as u64));
    }

    #[test]
    fn same_seed_same_order_other_seed_other_order() {
        let prompts: Vec<String> = (0..50).map(|i| format!("p{i}")).collect();
        let a = PromptSet::from_prompts(prompts.clone(), 7);
        let b = PromptSet::from_prompts(prompts.clone(), 7);
        let c = PromptSet::from_prompts(prompts, 8);
        let seq = |s: &PromptSet| (0..50).map(|k| s.for_request(k)).collect::<Vec<_>>();
        assert_eq!(seq(&a), seq(&b));
        assert_ne!(seq(&a), seq(&c));
    }

    #[test]
    fn bad_jsonl_records_are_skipped_and_counted() {
        let text = "{\"prompt\": \"one\"}\nnot json\n{\"text\": \"x\"}\n\n{\"prompt\": \"two\"}\n";
        let set = parse(text, Format::Jsonl, Path::new("x.jsonl"), 1).unwrap();
        assert_eq!((set.len(), set.skipped), (2, 2));
    }

    #[test]
    fn a_file_with_nothing_usable_names_the_line_and_reason() {
        let err = parse("nope\n", Format::Jsonl, Path::new("x.jsonl"), 1).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x.jsonl") && msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn json_arrays_and_plain_text_load() {
        let set = parse(
            r#"[{"prompt":"a"},{"prompt":"b"}]"#,
            Format::JsonArray,
            Path::new("x.json"),
            1,
        )
        .unwrap();
        assert_eq!(set.len(), 2);
        let set = parse("first\n\nsecond\n", Format::Text, Path::new("x.txt"), 1).unwrap();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn named_public_datasets_say_what_to_do() {
        let msg = PromptSet::load(&DatasetSpec::Named("sharegpt".into()), 1)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("sharegpt") && msg.contains("dataset: demo"),
            "{msg}"
        );
    }
}
