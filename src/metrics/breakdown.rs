//! Figures broken down where conversations and shared prefixes make
//! engines differ: TTFT, TPOT and E2E by conversation turn (1, 2, 3, …) and
//! by prompt length, and how the conversations ended. Defined in
//! docs/METRICS.md ("By turn and by prompt length", "Conversations").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::histogram::{LatencyHistogram, LatencySummary};
use super::record::{ConversationEnd, RequestRecord};

/// Turns shown one by one; later turns share the last row (`9+`).
pub const TURN_ROWS: u32 = 8;

/// Lower bounds of the prompt-length buckets, in tokens.
pub const LENGTH_BUCKETS: [u32; 8] = [0, 256, 512, 1024, 2048, 4096, 8192, 16384];

/// One row's histograms.
#[derive(Debug, Clone)]
struct RowFold {
    ttft: LatencyHistogram,
    tpot: LatencyHistogram,
    e2e: LatencyHistogram,
}

impl Default for RowFold {
    fn default() -> Self {
        RowFold {
            ttft: LatencyHistogram::coarse(),
            tpot: LatencyHistogram::coarse(),
            e2e: LatencyHistogram::coarse(),
        }
    }
}

impl RowFold {
    fn observe(&mut self, r: &RequestRecord) {
        self.e2e.record(r.e2e());
        if let Some(ttft) = r.ttft() {
            self.ttft.record(ttft);
        }
        if let Some(tpot) = r.tpot() {
            self.tpot.record(tpot);
        }
    }

    fn row(&self, label: String) -> Row<LatencySummary> {
        Row {
            label,
            requests: self.e2e.count(),
            ttft: self.ttft.summary(),
            tpot: self.tpot.summary(),
            e2e: self.e2e.summary(),
        }
    }
}

/// What is folded: successful requests by turn (conversation races) and by
/// prompt length, and the ends of conversations. Rows exist once a request
/// lands in them.
#[derive(Debug, Clone, Default)]
pub struct BreakdownFold {
    turns: BTreeMap<u32, RowFold>,
    lengths: BTreeMap<u32, RowFold>,
    started: u64,
    ends: BTreeMap<ConversationEnd, u64>,
}

impl BreakdownFold {
    pub fn observe(&mut self, r: &RequestRecord) {
        let turn = r.conversation.map(|c| c.turn);
        if turn == Some(1) {
            self.started += 1;
        }
        if !r.is_ok() {
            return;
        }
        if let Some(turn) = turn {
            self.turns
                .entry(turn.min(TURN_ROWS + 1))
                .or_default()
                .observe(r);
        }
        self.lengths
            .entry(length_bucket(r.input_tokens))
            .or_default()
            .observe(r);
    }

    pub fn on_ended(&mut self, how: ConversationEnd) {
        *self.ends.entry(how).or_default() += 1;
    }

    /// The figures so far (a summary per row: once a race second live, and
    /// in the final snapshot).
    #[must_use]
    pub fn figures(&self) -> Breakdown<LatencySummary> {
        let conversations = (self.started > 0 || !self.ends.is_empty()).then(|| {
            let n = |how| self.ends.get(&how).copied().unwrap_or(0);
            Conversations {
                started: self.started,
                completed: n(ConversationEnd::Completed),
                context_limit: n(ConversationEnd::ContextLimit),
                failed: n(ConversationEnd::Failed),
                stopped: n(ConversationEnd::Stopped),
            }
        });
        Breakdown {
            conversations,
            by_turn: self
                .turns
                .iter()
                .map(|(&turn, fold)| fold.row(turn_label(turn)))
                .collect(),
            by_prompt_length: self
                .lengths
                .iter()
                .map(|(&lo, fold)| fold.row(length_label(lo)))
                .collect(),
        }
    }
}

/// The bucket (its lower bound) a prompt of `tokens` falls in.
#[must_use]
pub fn length_bucket(tokens: u32) -> u32 {
    LENGTH_BUCKETS
        .iter()
        .rev()
        .find(|&&lo| tokens >= lo)
        .copied()
        .unwrap_or(0)
}

fn turn_label(turn: u32) -> String {
    if turn > TURN_ROWS {
        format!("{}+", TURN_ROWS + 1)
    } else {
        turn.to_string()
    }
}

fn length_label(lo: u32) -> String {
    let k = |n: u32| {
        if n >= 1024 {
            format!("{}k", n / 1024)
        } else {
            n.to_string()
        }
    };
    match LENGTH_BUCKETS.iter().position(|&b| b == lo) {
        Some(i) if i + 1 < LENGTH_BUCKETS.len() => {
            format!("{}–{}", k(lo), k(LENGTH_BUCKETS[i + 1]))
        }
        _ => format!("{}+", k(lo)),
    }
}

/// An engine's breakdown; `T` is a latency's form (a summary in a
/// snapshot, percentiles in milliseconds in `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Breakdown<T> {
    /// How its conversations went (conversation races only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<Conversations>,
    /// By turn number (conversation races only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_turn: Vec<Row<T>>,
    /// By prompt length in tokens.
    pub by_prompt_length: Vec<Row<T>>,
}

impl<T> Breakdown<T> {
    /// The same figures with the latencies in another form.
    pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> Breakdown<U> {
        let mut rows = |rows: &[Row<T>]| {
            rows.iter()
                .map(|r| Row {
                    label: r.label.clone(),
                    requests: r.requests,
                    ttft: f(&r.ttft),
                    tpot: f(&r.tpot),
                    e2e: f(&r.e2e),
                })
                .collect::<Vec<_>>()
        };
        Breakdown {
            conversations: self.conversations,
            by_turn: rows(&self.by_turn),
            by_prompt_length: rows(&self.by_prompt_length),
        }
    }
}

/// One row: its label (`3`, `9+`, `512–1k`) and its successful requests'
/// latencies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row<T> {
    pub label: String,
    pub requests: u64,
    #[serde(rename = "ttft_ms")]
    pub ttft: T,
    #[serde(rename = "tpot_ms")]
    pub tpot: T,
    #[serde(rename = "e2e_ms")]
    pub e2e: T,
}

/// How an engine's conversations went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversations {
    /// Conversations whose first turn ended.
    pub started: u64,
    /// Every turn answered.
    pub completed: u64,
    /// Ended early: the next prompt would pass `max_context_tokens`.
    pub context_limit: u64,
    /// Ended by a failed turn.
    pub failed: u64,
    /// Cut off as the engine stopped.
    pub stopped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ConversationTurn;

    fn turn(t: u32, ttft_ms: u64, input: u32) -> RequestRecord {
        let mut r = crate::metrics::record::tests::ok_record(0, 0, ttft_ms, 10, 3);
        r.input_tokens = input;
        r.conversation = Some(ConversationTurn { id: 1, turn: t });
        r
    }

    #[test]
    fn rows_by_turn_and_length_hold_their_requests_figures() {
        let mut fold = BreakdownFold::default();
        fold.observe(&turn(1, 300, 100));
        fold.observe(&turn(1, 310, 200));
        fold.observe(&turn(2, 40, 600));
        for t in [9, 12] {
            fold.observe(&turn(t, 50, 5000));
        }
        fold.on_ended(ConversationEnd::Completed);
        fold.on_ended(ConversationEnd::ContextLimit);
        let f = fold.figures();
        let labels: Vec<&str> = f.by_turn.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["1", "2", "9+"]);
        assert_eq!(f.by_turn[0].requests, 2);
        assert_eq!(f.by_turn[2].requests, 2);
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        assert!((ms(f.by_turn[0].ttft.max) - 310.0).abs() < 4.0);
        assert!((ms(f.by_turn[1].ttft.p50) - 40.0).abs() < 0.5);
        let lengths: Vec<(&str, u64)> = f
            .by_prompt_length
            .iter()
            .map(|r| (r.label.as_str(), r.requests))
            .collect();
        assert_eq!(lengths, [("0–256", 2), ("512–1k", 1), ("4k–8k", 2)]);
        let c = f.conversations.unwrap();
        assert_eq!((c.started, c.completed, c.context_limit), (2, 1, 1));
    }

    #[test]
    fn a_race_without_conversations_has_lengths_only() {
        let mut fold = BreakdownFold::default();
        let mut r = turn(1, 100, 20_000);
        r.conversation = None;
        fold.observe(&r);
        let f = fold.figures();
        assert!(f.by_turn.is_empty() && f.conversations.is_none());
        assert_eq!(f.by_prompt_length[0].label, "16k+");
    }
}
