//! `mode: trace`: reading a production trace into arrival times and
//! per-request lengths. (A load trace, not the inspector's request traces
//! of `engine::trace`.)
//!
//! The file is JSON Lines, one request per line, in the Mooncake trace
//! format: `{"timestamp": ms, "input_length": n, "output_length": n}`;
//! other keys (`hash_ids`...) are ignored. A line that is not such an
//! entry is skipped and counted, like a bad dataset record; a file with no
//! usable entry is an error. Entries out of time order are sorted (a
//! stable sort: entries at one time keep the file's order). At most
//! [`MAX_TRACE_ENTRIES`] entries are read; the rest of the file is left
//! out.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::WorkloadError;
use super::datasets::Lines;

/// Most entries read from a trace file: more than the public Mooncake
/// traces hold (about 24,000 at most), few enough that their prompts load
/// in reasonable time.
pub const MAX_TRACE_ENTRIES: usize = 50_000;

/// Longest prompt or answer an entry may ask for (the race file's limit).
pub const MAX_ENTRY_TOKENS: u64 = 1_000_000;

/// Largest timestamp accepted: about 31 years in milliseconds, so every
/// offset converts to a `Duration`.
const MAX_TIMESTAMP_MS: f64 = 1e12;

/// One request of a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceEntry {
    /// Milliseconds after the first entry.
    pub at_ms: f64,
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// A trace file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadTrace {
    /// In time order; the first at 0.
    pub entries: Vec<TraceEntry>,
    /// Lines that were not an entry.
    pub skipped: usize,
    /// The first of them, with its line number.
    pub first_problem: Option<String>,
    /// The timestamps were out of order and have been sorted.
    pub sorted: bool,
    /// Reading stopped at [`MAX_TRACE_ENTRIES`].
    pub truncated: bool,
}

/// A trace's arrival times: each entry's milliseconds after the first, in
/// order. What the engine's schedule is built from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceTimes {
    offsets_ms: Arc<[f64]>,
}

impl TraceTimes {
    /// From offsets in time order, the first 0 (tests build them directly).
    #[must_use]
    pub fn new(offsets_ms: Vec<f64>) -> Self {
        TraceTimes {
            offsets_ms: offsets_ms.into(),
        }
    }

    #[must_use]
    pub fn offsets_ms(&self) -> &[f64] {
        &self.offsets_ms
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.offsets_ms.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.offsets_ms.is_empty()
    }

    /// From the first entry to the last.
    #[must_use]
    pub fn span_ms(&self) -> f64 {
        self.offsets_ms.last().copied().unwrap_or(0.0)
    }

    /// One pass of the trace: its span plus its mean gap, so that a loop
    /// keeps the trace's own rhythm across the seam (and a trace played
    /// once ends one mean gap after its last arrival). A trace whose
    /// entries are all at one time lasts 1 s.
    #[must_use]
    pub fn cycle_ms(&self) -> f64 {
        let span = self.span_ms();
        if span <= 0.0 {
            return 1000.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let gaps = (self.offsets_ms.len() - 1) as f64;
        span + span / gaps
    }
}

impl LoadTrace {
    #[must_use]
    pub fn times(&self) -> TraceTimes {
        TraceTimes::new(self.entries.iter().map(|e| e.at_ms).collect())
    }
}

fn trace_error(path: &Path, reason: String) -> WorkloadError {
    WorkloadError::Trace {
        path: path.to_owned(),
        reason,
    }
}

/// Reads a trace file.
pub fn read_trace(path: &Path) -> Result<LoadTrace, WorkloadError> {
    let file = File::open(path).map_err(|e| trace_error(path, format!("cannot read it: {e}")))?;
    read_trace_from(BufReader::new(file), path, MAX_TRACE_ENTRIES)
}

/// Reads a trace from `reader`, keeping at most `cap` entries; `path` is
/// for messages.
pub fn read_trace_from(
    reader: impl BufRead,
    path: &Path,
    cap: usize,
) -> Result<LoadTrace, WorkloadError> {
    let mut lines = Lines::new(reader);
    // (timestamp as written, input, output)
    let mut raw: Vec<(f64, u32, u32)> = Vec::new();
    let mut skipped = 0;
    let mut first_problem = None;
    let mut truncated = false;
    while let Some(line) = lines
        .next_line()
        .map_err(|e| trace_error(path, format!("cannot read it: {e}")))?
    {
        let entry = line.and_then(|l| {
            if l.trim().is_empty() {
                Ok(None)
            } else {
                entry_of(&l).map(Some)
            }
        });
        match entry {
            Ok(None) => {}
            Ok(Some(_)) if raw.len() >= cap => {
                truncated = true;
                break;
            }
            Ok(Some(e)) => raw.push(e),
            Err(reason) => {
                skipped += 1;
                if first_problem.is_none() {
                    first_problem = Some(format!("line {}: {reason}", lines.number));
                }
            }
        }
    }
    if raw.is_empty() {
        let reason = first_problem.unwrap_or_else(|| "the file is empty".to_owned());
        return Err(trace_error(
            path,
            format!(
                "has no usable entry ({reason}); each line is a JSON object like \
                 {{\"timestamp\": 0, \"input_length\": 512, \"output_length\": 128}}"
            ),
        ));
    }
    let sorted = raw.windows(2).any(|w| w[1].0 < w[0].0);
    if sorted {
        raw.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    if skipped > 0 {
        // Said to the user once, as a note before the race.
        tracing::debug!(
            file = %path.display(),
            skipped,
            first = first_problem.as_deref().unwrap_or(""),
            "trace lines skipped"
        );
    }
    let first = raw[0].0;
    Ok(LoadTrace {
        entries: raw
            .into_iter()
            .map(|(t, input_tokens, output_tokens)| TraceEntry {
                at_ms: t - first,
                input_tokens,
                output_tokens,
            })
            .collect(),
        skipped,
        first_problem,
        sorted,
        truncated,
    })
}

/// One line's entry, or why it is none.
fn entry_of(line: &str) -> Result<(f64, u32, u32), String> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| super::datasets::not_json(line, &e))?;
    if !value.is_object() {
        return Err("not a JSON object".to_owned());
    }
    let timestamp = value
        .get("timestamp")
        .ok_or_else(|| "no 'timestamp'".to_owned())?
        .as_f64()
        .filter(|t| (0.0..=MAX_TIMESTAMP_MS).contains(t))
        .ok_or_else(|| "'timestamp' is not a number of milliseconds >= 0".to_owned())?;
    let tokens = |key: &str| -> Result<u32, String> {
        let v = value.get(key).ok_or_else(|| format!("no '{key}'"))?;
        let n = v
            .as_u64()
            .or_else(|| {
                // 512.0 is 512; 512.5 is not a count.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 1e18)
                    .map(|f| f as u64)
            })
            .ok_or_else(|| format!("'{key}' is not a whole number"))?;
        if n == 0 || n > MAX_ENTRY_TOKENS {
            return Err(format!(
                "'{key}' is {n}; it must be between 1 and {MAX_ENTRY_TOKENS}"
            ));
        }
        u32::try_from(n).map_err(|_| format!("'{key}' is too large"))
    };
    Ok((timestamp, tokens("input_length")?, tokens("output_length")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, cap: usize) -> Result<LoadTrace, WorkloadError> {
        read_trace_from(text.as_bytes(), Path::new("t.jsonl"), cap)
    }

    #[test]
    fn entries_are_relative_to_the_first_and_extra_keys_are_ignored() {
        let trace = read(
            "{\"timestamp\": 1000, \"input_length\": 20, \"output_length\": 5, \"hash_ids\": [1, 2]}\n\
             {\"timestamp\": 1250.5, \"input_length\": 40.0, \"output_length\": 7}\n",
            10,
        )
        .unwrap();
        assert_eq!(
            trace.entries,
            vec![
                TraceEntry {
                    at_ms: 0.0,
                    input_tokens: 20,
                    output_tokens: 5
                },
                TraceEntry {
                    at_ms: 250.5,
                    input_tokens: 40,
                    output_tokens: 7
                },
            ]
        );
        assert!(!trace.sorted && !trace.truncated);
        assert_eq!(trace.skipped, 0);
    }

    #[test]
    fn bad_lines_are_skipped_and_counted_with_the_first_named() {
        let trace = read(
            "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n\
             not json\n\
             \n\
             {\"timestamp\": -5, \"input_length\": 1, \"output_length\": 1}\n\
             {\"timestamp\": 9, \"input_length\": 0, \"output_length\": 1}\n\
             {\"timestamp\": 9, \"input_length\": 3.5, \"output_length\": 1}\n\
             {\"timestamp\": 9, \"output_length\": 1}\n\
             [1, 2]\n\
             {\"timestamp\": 10, \"input_length\": 2, \"output_length\": 2}\n",
            10,
        )
        .unwrap();
        assert_eq!(trace.entries.len(), 2);
        assert_eq!(trace.skipped, 6);
        let first = trace.first_problem.unwrap();
        assert!(first.starts_with("line 2: not JSON"), "{first}");
    }

    #[test]
    fn a_trace_with_nothing_usable_names_the_first_problem() {
        let err = read("{\"timestamp\": 0}\n", 10).unwrap_err().to_string();
        assert_eq!(
            err,
            "race.load.trace: 't.jsonl' has no usable entry (line 1: no 'input_length'); each line \
             is a JSON object like {\"timestamp\": 0, \"input_length\": 512, \"output_length\": 128}"
        );
        let err = read("\n\n", 10).unwrap_err().to_string();
        assert!(err.contains("(the file is empty)"), "{err}");
    }

    #[test]
    fn entries_out_of_order_are_sorted_keeping_ties_in_file_order() {
        let trace = read(
            "{\"timestamp\": 500, \"input_length\": 1, \"output_length\": 1}\n\
             {\"timestamp\": 100, \"input_length\": 2, \"output_length\": 1}\n\
             {\"timestamp\": 500, \"input_length\": 3, \"output_length\": 1}\n\
             {\"timestamp\": 300, \"input_length\": 4, \"output_length\": 1}\n",
            10,
        )
        .unwrap();
        assert!(trace.sorted);
        let got: Vec<(f64, u32)> = trace
            .entries
            .iter()
            .map(|e| (e.at_ms, e.input_tokens))
            .collect();
        assert_eq!(got, vec![(0.0, 2), (200.0, 4), (400.0, 1), (400.0, 3)]);
    }

    #[test]
    fn reading_stops_at_the_cap() {
        let text: String = (0..10)
            .map(|i| format!("{{\"timestamp\": {i}, \"input_length\": 1, \"output_length\": 1}}\n"))
            .collect();
        let trace = read(&text, 4).unwrap();
        assert_eq!(trace.entries.len(), 4);
        assert!(trace.truncated);
        assert!(!read(&text, 10).unwrap().truncated);
    }

    #[test]
    fn a_cycle_is_the_span_plus_the_mean_gap() {
        let times = TraceTimes::new(vec![0.0, 100.0, 400.0]);
        assert_eq!(times.span_ms(), 400.0);
        assert_eq!(times.cycle_ms(), 600.0);
        assert_eq!(TraceTimes::new(vec![0.0]).cycle_ms(), 1000.0);
        assert_eq!(TraceTimes::new(vec![0.0, 0.0]).cycle_ms(), 1000.0);
    }
}
