//! The prompts of a trace replay (`mode: trace`): request `k` is the
//! trace's entry `k` (repeating when the trace loops), with a prompt of
//! about its `input_length` and `max_tokens` of its `output_length`.
//!
//! A prompt comes from the race's dataset when one is within
//! `input_tolerance_tokens` of the entry's length (counted with the first
//! engine's tokenizer, or the estimate), picked at random (seeded) among
//! those that are; otherwise it is synthetic text of exactly that length,
//! starting at a seeded word of the synthetic source. At most
//! [`MAX_CANDIDATES`] records of the dataset are considered.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::{
    PromptSet, SELECT_BATCH, Text, Tokenizer, WorkloadError, count_for_selection, count_per_engine,
    records,
};
use crate::config::{RaceSpec, TraceFacts};
use crate::workload::load_trace::{LoadTrace, read_trace};
use crate::workload::{estimate_tokens, synthetic};

/// Dataset records counted to find prompts of the trace's lengths: enough
/// to cover most lengths a dataset has, few enough to count quickly.
pub const MAX_CANDIDATES: usize = 10_000;

/// Mixed into the race's seed for the choices of prompts.
const SEED_MIX: u64 = 0x7472_6163_6573;

pub(super) fn build(
    spec: &RaceSpec,
    trace_path: &Path,
    dataset_path: Option<&Path>,
    label: String,
    tokenizers: &[Option<Arc<Tokenizer>>],
) -> Result<PromptSet, WorkloadError> {
    let first = tokenizers.iter().flatten().next();
    let trace = read_trace(trace_path)?;
    let tolerance = spec.input_tolerance_tokens;
    let records = records(spec, dataset_path, &label)?;
    let skipped = records.skipped;
    let first_skipped = records.first_problem.clone();
    let candidates = candidates(
        records.prompts,
        &trace,
        tolerance,
        spec.seed,
        first.map(Arc::as_ref),
    )?;
    let prompts = Choice::make(&trace, &candidates, tolerance, spec.seed);

    // Synthetic cuts, found in parallel (deterministic: their starts are
    // already drawn).
    let source = synthetic::source();
    let cuts: Vec<usize> = prompts
        .synthetic
        .par_iter()
        .map(|&(start, n)| synthetic::exact_cut(first.map(Arc::as_ref), &source, start, n))
        .collect::<Result<_, _>>()?;
    let mut texts: Vec<Text> = prompts
        .held
        .iter()
        .map(|&c| Text::Held(Arc::from(candidates[c].1.as_str())))
        .collect();
    let mut first_counts: Vec<u32> = prompts.held.iter().map(|&c| candidates[c].0).collect();
    let mut tape_len = 0;
    for (&(start, n), &len) in prompts.synthetic.iter().zip(&cuts) {
        texts.push(Text::Cut { start, len });
        first_counts.push(n);
        tape_len = tape_len.max(start + len);
    }
    let held = prompts.held.len();
    let order: Vec<usize> = prompts
        .order
        .iter()
        .map(|slot| match *slot {
            Slot::Held(i) => i,
            Slot::Synthetic(j) => held + j,
        })
        .collect();
    let facts = TraceFacts {
        file: trace_path.display().to_string(),
        entries: trace.entries.len(),
        skipped_lines: trace.skipped,
        first_skipped_line: trace.first_problem.clone(),
        sorted: trace.sorted,
        truncated: trace.truncated,
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        span_ms: trace.times().span_ms().round() as u64,
        dataset_prompts: order.iter().filter(|&&i| i < held).count(),
        synthetic_prompts: order.iter().filter(|&&i| i >= held).count(),
    };
    let mut set = PromptSet {
        prompts: texts,
        tape: if tape_len > 0 {
            Arc::from(synthetic::tape(tape_len))
        } else {
            Arc::from("")
        },
        order,
        max_tokens: trace.entries.iter().map(|e| e.output_tokens).collect(),
        trace: Some((trace.times(), facts)),
        skipped,
        first_skipped,
        engine_tokens: Vec::new(),
        engine_tokenizers: tokenizers.to_vec(),
        dataset: label,
        shapes: super::Shapes::default(),
    };
    // The first tokenizer's counts are known: selection counted the
    // dataset's prompts whole, and synthetic ones are exact.
    let known = first.map(|t| (t, first_counts));
    set.engine_tokens = count_per_engine(&set.texts(), tokenizers, known)?;
    Ok(set)
}

/// The dataset's prompts that may fit some entry, with their counts, by
/// count (shortest first).
fn candidates(
    mut prompts: Vec<String>,
    trace: &LoadTrace,
    tolerance: u32,
    seed: u64,
    tokenizer: Option<&Tokenizer>,
) -> Result<Vec<(u32, String)>, WorkloadError> {
    let lengths = trace.entries.iter().map(|e| e.input_tokens);
    let (Some(shortest), Some(longest)) = (lengths.clone().min(), lengths.max()) else {
        return Ok(Vec::new());
    };
    let (lo, hi) = (
        shortest.saturating_sub(tolerance),
        longest.saturating_add(tolerance),
    );
    prompts.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    prompts.truncate(MAX_CANDIDATES);
    let mut kept = Vec::new();
    for batch in prompts.chunks(SELECT_BATCH) {
        let counts: Vec<u32> = match tokenizer {
            Some(t) => count_for_selection(t, batch, lo, hi)?,
            None => batch.iter().map(|p| estimate_tokens(p)).collect(),
        };
        for (prompt, n) in batch.iter().zip(counts) {
            if (lo..=hi).contains(&n) {
                kept.push((n, prompt.clone()));
            }
        }
    }
    kept.sort_by_key(|(n, _)| *n);
    Ok(kept)
}

/// Where an entry's prompt comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The `i`-th dataset prompt used.
    Held(usize),
    /// The `j`-th synthetic prompt.
    Synthetic(usize),
}

/// Every entry's prompt, before the synthetic ones are cut.
#[derive(Debug, PartialEq)]
struct Choice {
    /// The candidates used, by index.
    held: Vec<usize>,
    /// Per synthetic prompt: its start in the source and its tokens.
    synthetic: Vec<(usize, u32)>,
    /// Per entry.
    order: Vec<Slot>,
}

impl Choice {
    fn make(trace: &LoadTrace, candidates: &[(u32, String)], tolerance: u32, seed: u64) -> Choice {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SEED_MIX);
        let starts = synthetic::word_starts();
        let mut used: HashMap<usize, usize> = HashMap::new();
        let mut choice = Choice {
            held: Vec::new(),
            synthetic: Vec::new(),
            order: Vec::with_capacity(trace.entries.len()),
        };
        for entry in &trace.entries {
            let n = entry.input_tokens;
            let (lo, hi) = (n.saturating_sub(tolerance), n.saturating_add(tolerance));
            let from = candidates.partition_point(|(c, _)| *c < lo);
            let to = candidates.partition_point(|(c, _)| *c <= hi);
            let slot = if from < to {
                let c = rng.random_range(from..to);
                let next = choice.held.len();
                let i = *used.entry(c).or_insert(next);
                if i == next {
                    choice.held.push(c);
                }
                Slot::Held(i)
            } else {
                let start = starts[rng.random_range(0..starts.len())];
                choice.synthetic.push((start, n));
                Slot::Synthetic(choice.synthetic.len() - 1)
            };
            choice.order.push(slot);
        }
        choice
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::load_trace::read_trace_from;

    fn trace(lengths: &[u32]) -> LoadTrace {
        let text: String = lengths
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!("{{\"timestamp\": {i}, \"input_length\": {n}, \"output_length\": 1}}\n")
            })
            .collect();
        read_trace_from(text.as_bytes(), Path::new("t.jsonl"), 100).unwrap()
    }

    #[test]
    fn entries_take_a_dataset_prompt_within_the_tolerance_or_a_synthetic_one() {
        let candidates = vec![(10, "ten".to_owned()), (30, "thirty".to_owned())];
        let choice = Choice::make(&trace(&[12, 20, 31, 12, 500]), &candidates, 5, 1);
        assert_eq!(choice.held, vec![0, 1]);
        assert_eq!(
            choice.order,
            vec![
                Slot::Held(0),
                Slot::Synthetic(0),
                Slot::Held(1),
                Slot::Held(0),
                Slot::Synthetic(1)
            ]
        );
        assert_eq!(
            choice.synthetic.iter().map(|s| s.1).collect::<Vec<_>>(),
            vec![20, 500]
        );
        assert_ne!(
            choice.synthetic[0].0, choice.synthetic[1].0,
            "seeded starts"
        );
        assert_eq!(
            choice,
            Choice::make(&trace(&[12, 20, 31, 12, 500]), &candidates, 5, 1)
        );
    }

    #[test]
    fn candidates_are_the_prompts_that_may_fit_by_length() {
        let prompts: Vec<String> = [4, 40, 41, 80, 400]
            .iter()
            .map(|&n| "a".repeat(n))
            .collect();
        let kept = candidates(prompts, &trace(&[12, 18]), 2, 1, None).unwrap();
        assert_eq!(
            kept.iter().map(|k| k.0).collect::<Vec<_>>(),
            vec![10, 11, 20]
        );
    }
}
