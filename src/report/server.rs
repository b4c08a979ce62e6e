//! The servers' own metrics as both reports print them: one row per
//! engine whose server was scraped. Built from `summary.json`'s figures;
//! `markdown` and `html` only lay the table out.

use super::breakdown::Table;
use super::summary::SummaryFile;
use crate::metrics::server::Spread;

/// The table, when any engine's server was scraped.
#[must_use]
pub fn table(s: &SummaryFile) -> Option<Table> {
    let scraped: Vec<_> = s
        .engines
        .iter()
        .filter_map(|e| e.server.as_ref().map(|sv| (e.name.as_str(), sv)))
        .collect();
    if scraped.is_empty() {
        return None;
    }
    let mean_max = |v: Option<Spread>, scale: f64, unit: &str| {
        v.map_or_else(
            || "–".to_owned(),
            |v| format!("{:.1}{unit} / {:.1}{unit}", v.mean * scale, v.max * scale),
        )
    };
    let mean = |v: Option<Spread>, scale: f64, unit: &str| {
        v.map_or_else(
            || "–".to_owned(),
            |v| format!("{:.1}{unit}", v.mean * scale),
        )
    };
    let rows = scraped
        .iter()
        .map(|(name, sv)| {
            let sp = &sv.spreads;
            let check = sv.token_check.map_or_else(
                || "–".to_owned(),
                |c| {
                    format!(
                        "{:.0} / {} {}",
                        c.server,
                        c.client,
                        if c.matches { "✓" } else { "≠" }
                    )
                },
            );
            vec![
                (*name).to_owned(),
                format!("{} ({} failed)", sv.scrapes, sv.errors),
                mean_max(sp.running, 1.0, ""),
                mean_max(sp.waiting, 1.0, ""),
                mean_max(sp.kv_use, 100.0, "%"),
                mean(sp.hit_rate, 100.0, "%"),
                mean(sp.preemptions_per_s, 1.0, ""),
                mean(sp.output_tokens_per_s, 1.0, ""),
                check,
            ]
        })
        .collect();
    Some(Table {
        title: "Server metrics",
        note: "Each server's own figures, scraped from its /metrics page during the race: mean / \
               most of requests running and waiting and of KV-cache use; mean prefix-cache hit \
               rate, preemptions and output tokens per second; and its output-token counter \
               over the race beside ours (✓ when they agree; a server shared with other \
               clients, or failed requests, count apart)."
            .to_owned(),
        header: [
            "engine",
            "scrapes",
            "running",
            "waiting",
            "KV use",
            "hit rate",
            "preempt/s",
            "out tok/s",
            "server / our tokens",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    })
}
