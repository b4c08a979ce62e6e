//! The breakdown tables both reports print: latencies by conversation turn
//! and by prompt length, and how the conversations ended. Built once from
//! `summary.json`'s figures; `markdown` and `html` only lay them out.

use super::summary::{Percentiles, SummaryFile};
use crate::metrics::breakdown::Row;

/// One table: a title, a note under it, and its rows (the first cell of
/// each is the engine's name).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: &'static str,
    pub note: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Every breakdown table the race has something for.
#[must_use]
pub fn tables(s: &SummaryFile) -> Vec<Table> {
    let conversation = s
        .workload
        .as_ref()
        .and_then(|w| w.shape.as_ref())
        .and_then(|shape| shape.conversation.as_ref());
    let own = if conversation.is_some_and(|c| c.prompts_differ_per_lane) {
        " History: own, so each engine resent its own answers: prompts differ per lane from \
         turn 2 on."
    } else {
        ""
    };
    let mut out = Vec::new();
    let engines: Vec<_> = s
        .engines
        .iter()
        .filter_map(|e| e.breakdown.as_ref().map(|b| (e.name.as_str(), b)))
        .collect();
    if engines.iter().any(|(_, b)| b.conversations.is_some()) {
        out.push(Table {
            title: "Conversations",
            note: format!(
                "How each engine's conversations ended; a conversation ends early at the \
                 context limit or at its first failed turn.{own}"
            ),
            header: [
                "engine",
                "started",
                "completed",
                "context limit",
                "failed turn",
                "cut off at the stop",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows: engines
                .iter()
                .map(|(name, b)| {
                    let c = b.conversations.unwrap_or_default();
                    [c.started, c.completed, c.context_limit, c.failed, c.stopped]
                        .iter()
                        .fold(vec![(*name).to_owned()], |mut row, n| {
                            row.push(n.to_string());
                            row
                        })
                })
                .collect(),
        });
    }
    let by_turn: Vec<_> = engines
        .iter()
        .map(|(name, b)| (*name, b.by_turn.as_slice()))
        .collect();
    if by_turn.iter().any(|(_, rows)| !rows.is_empty()) {
        out.push(table(
            "By turn",
            "Median TTFT · TPOT · E2E in ms of each conversation turn's successful requests: \
             a server that caches the history answers later turns sooner."
                .to_owned(),
            "turn",
            &by_turn,
        ));
    }
    let by_length: Vec<_> = engines
        .iter()
        .map(|(name, b)| (*name, b.by_prompt_length.as_slice()))
        .collect();
    let buckets = by_length
        .iter()
        .map(|(_, rows)| rows.len())
        .max()
        .unwrap_or(0);
    if buckets > 1 || conversation.is_some() {
        out.push(table(
            "By prompt length",
            "Median TTFT · TPOT · E2E in ms of the successful requests by prompt length in \
             tokens."
                .to_owned(),
            "tokens",
            &by_length,
        ));
    }
    out
}

/// Engines down, the rows' labels across (in the order they first come).
fn table(
    title: &'static str,
    note: String,
    what: &str,
    engines: &[(&str, &[Row<Percentiles>])],
) -> Table {
    let mut labels: Vec<&str> = Vec::new();
    for (_, rows) in engines {
        for r in *rows {
            if !labels.contains(&r.label.as_str()) {
                labels.push(&r.label);
            }
        }
    }
    let mut header = vec!["engine".to_owned()];
    header.extend(labels.iter().map(|l| format!("{what} {l}")));
    let rows = engines
        .iter()
        .map(|(name, rows)| {
            let mut row = vec![(*name).to_owned()];
            for label in &labels {
                row.push(rows.iter().find(|r| r.label == *label).map_or_else(
                    || "–".to_owned(),
                    |r| format!("{} · {} · {}", p50(&r.ttft), p50(&r.tpot), p50(&r.e2e)),
                ));
            }
            row
        })
        .collect();
    Table {
        title,
        note,
        header,
        rows,
    }
}

fn p50(p: &Percentiles) -> String {
    if p.count == 0 {
        "–".to_owned()
    } else {
        super::number(p.p50)
    }
}
