//! `dataset: synthetic`: prompts of an exact token length, cut from a text we
//! ship (`datasets/synthetic-source.txt`, repeated as needed) and verified by
//! re-encoding with the engine's tokenizer. Each prompt starts at a different
//! (seeded) word so that servers cannot serve them from a shared prefix cache.
//! Without a tokenizer the length is exact under the estimate (four
//! characters per token) and labelled an estimate.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::WorkloadError;
use super::tokenizer::Tokenizer;
use crate::config::SyntheticSpec;

const SOURCE: &str = include_str!("../../datasets/synthetic-source.txt");

/// Default input length when the race sets no `target_input_tokens`.
pub const DEFAULT_MEAN_TOKENS: u32 = 256;

/// The shipped text as one line of ASCII words.
pub(super) fn source() -> String {
    SOURCE.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Seeded input lengths: `mean` exactly, or normally spread by `stddev`
/// within `[min, max]`.
#[must_use]
pub fn lengths(spec: &SyntheticSpec, mean: u32, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5157_4e54);
    let min = spec.min_tokens.unwrap_or(1).max(1);
    let max = spec.max_tokens.unwrap_or(u32::MAX).max(min);
    (0..spec.prompts.max(1))
        .map(|_| {
            if spec.stddev_tokens <= 0.0 {
                return mean.clamp(min, max);
            }
            // Box-Muller: one standard normal from two uniforms.
            let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = rng.random::<f64>();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let v = (f64::from(mean) + z * spec.stddev_tokens).round();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let v = v.clamp(f64::from(min), f64::from(max)) as u32;
            v
        })
        .collect()
}

/// One prompt per length, each starting at a seeded word of the source.
pub fn build(
    tokenizer: Option<&Tokenizer>,
    lengths: &[u32],
    seed: u64,
) -> Result<Vec<String>, WorkloadError> {
    let text = source();
    let starts = word_starts();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Starts are drawn in order (seeded), then prompts built in parallel.
    let jobs: Vec<(usize, u32)> = lengths
        .iter()
        .map(|&n| (starts[rng.random_range(0..starts.len())], n))
        .collect();
    use rayon::prelude::*;
    jobs.par_iter()
        .map(|&(start, n)| exact_prompt(tokenizer, &text, start, n))
        .collect()
}

/// `len` bytes (at least) of the source repeated, starting at byte `start`.
fn window(text: &str, start: usize, len: usize) -> String {
    let mut out = String::with_capacity(len + text.len());
    out.push_str(&text[start..]);
    while out.len() < len {
        out.push(' ');
        out.push_str(text);
    }
    out
}

/// A prompt of exactly `n` tokens under `tokenizer` (or the estimate).
pub fn exact_prompt(
    tokenizer: Option<&Tokenizer>,
    text: &str,
    start: usize,
    n: u32,
) -> Result<String, WorkloadError> {
    let n_usize = usize::try_from(n).unwrap_or(usize::MAX);
    let Some(tok) = tokenizer else {
        // estimate_tokens counts ceil(chars / 4); the source is ASCII.
        let w = window(text, start, n_usize * 4);
        return Ok(pad_to_chars(
            w[..n_usize * 4].trim_end().to_owned(),
            n_usize * 4,
        ));
    };
    let len = exact_cut(Some(tok), text, start, n)?;
    Ok(window(text, start, len)[..len].to_owned())
}

/// The length in bytes of a prompt of exactly `n` tokens under
/// `tokenizer` (or the estimate) that starts at byte `start` of `text`
/// repeated: the prompt is `tape(..)[start..start + len]`.
pub fn exact_cut(
    tokenizer: Option<&Tokenizer>,
    text: &str,
    start: usize,
    n: u32,
) -> Result<usize, WorkloadError> {
    let n_usize = usize::try_from(n).unwrap_or(usize::MAX);
    let Some(tok) = tokenizer else {
        // estimate_tokens counts ceil(chars / 4); the source is ASCII.
        return Ok(n_usize * 4);
    };
    // About 4.5 bytes per token in English; the loop doubles when short.
    let mut budget = n_usize * 5 + 64;
    loop {
        let w = window(text, start, budget);
        let ends = tok.token_ends(&w)?;
        if ends.len() <= n_usize {
            if budget > n_usize * 64 + 4096 {
                return Err(unreachable_length(tok, n));
            }
            budget *= 2;
            continue;
        }
        // Cut at the end of token n, then at neighbouring token ends: merges
        // across the cut can change the count by one or two.
        for delta in [0isize, -1, 1, -2, 2, -3, 3, -4, 4] {
            let Some(idx) = (n_usize - 1).checked_add_signed(delta) else {
                continue;
            };
            let Some(&end) = ends.get(idx) else { continue };
            let Some(candidate) = w.get(..end) else {
                continue;
            };
            if tok.count(candidate)? == n {
                return Ok(end);
            }
        }
        return Err(unreachable_length(tok, n));
    }
}

/// The source repeated (words joined by one space) to at least `len`
/// bytes, from its start: every [`exact_cut`] from a start inside the
/// source is a slice of it.
#[must_use]
pub fn tape(len: usize) -> String {
    window(&source(), 0, len)
}

/// Byte offsets where the source's words start.
#[must_use]
pub fn word_starts() -> Vec<usize> {
    let text = source();
    std::iter::once(0)
        .chain(text.match_indices(' ').map(|(i, _)| i + 1))
        .collect()
}

fn pad_to_chars(mut s: String, chars: usize) -> String {
    // Trimming a trailing space may leave the text one char short.
    while s.len() < chars {
        s.push('.');
    }
    s
}

fn unreachable_length(tok: &Tokenizer, n: u32) -> WorkloadError {
    WorkloadError::Tokenizer {
        name: tok.name().to_owned(),
        reason: format!(
            "cannot build a synthetic prompt of exactly {n} tokens with it; \
             use another dataset or a different target_input_tokens"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::estimate_tokens;

    #[test]
    fn without_a_tokenizer_lengths_are_exact_estimates() {
        let text = source();
        for n in [1, 7, 256, 4096] {
            let p = exact_prompt(None, &text, 5, n).unwrap();
            assert_eq!(estimate_tokens(&p), n, "{p:?}");
        }
    }

    #[test]
    fn the_source_text_is_ascii_so_byte_cuts_are_char_boundaries() {
        assert!(SOURCE.is_ascii());
        assert!(source().len() > 1000);
    }

    #[test]
    fn cuts_of_the_tape_are_the_prompts_of_that_length() {
        let text = source();
        let tape = tape(text.len() * 3);
        for (start, n) in [(0, 5), (7, 300), (text.len() - 3, 900)] {
            let len = exact_cut(None, &text, start, n).unwrap();
            assert_eq!(estimate_tokens(&tape[start..start + len]), n);
        }
        assert!(
            word_starts()
                .iter()
                .all(|&s| s == 0 || &text[s - 1..s] == " ")
        );
    }

    #[test]
    fn prompts_are_seeded() {
        let lens: Vec<u32> = (1..=40).collect();
        let a = build(None, &lens, 7).unwrap();
        assert_eq!(a, build(None, &lens, 7).unwrap());
        assert_ne!(a, build(None, &lens, 8).unwrap());
    }

    #[test]
    fn spread_is_seeded_and_bounded() {
        let spec = SyntheticSpec {
            prompts: 200,
            stddev_tokens: 50.0,
            min_tokens: Some(200),
            max_tokens: Some(300),
        };
        let a = lengths(&spec, 256, 1);
        assert_eq!(a, lengths(&spec, 256, 1));
        assert_ne!(a, lengths(&spec, 256, 2));
        assert!(a.iter().all(|&v| (200..=300).contains(&v)));
        assert!(a.iter().any(|&v| v != 256));
        let fixed = SyntheticSpec {
            prompts: 3,
            ..SyntheticSpec::default()
        };
        assert_eq!(lengths(&fixed, 64, 1), vec![64, 64, 64]);
    }
}
