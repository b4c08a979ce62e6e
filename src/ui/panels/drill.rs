//! The drill-down (`d` or Enter) on the selected engine: its latency
//! histograms, the full percentile table, failures by kind with their
//! latest messages, where token counts came from, connection and client
//! figures, and its latest requests. Everything is the snapshot's; the
//! histograms are the metrics' bins (as of the last whole second).

use std::fmt::Write as _;
use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Widget, Wrap};

use super::{car, fit};
use crate::metrics::histogram::Bin;
use crate::metrics::interval::{Interval, PercentileIntervals};
use crate::metrics::{ConnectionReuse, LaneSnapshot, LatencySummary, RaceSnapshot, TokenSource};
use crate::ui::theme::Theme;

pub struct DrillDown<'a> {
    pub snap: &'a RaceSnapshot,
    pub lane: usize,
    pub theme: &'a Theme,
}

/// Width from which the histograms sit beside the figures.
const SIDE_BY_SIDE: u16 = 110;
/// Columns the figures keep beside the histograms.
const TEXT_MIN: u16 = 66;
/// Requests listed at the end.
const SAMPLES: usize = 4;

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10_000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.1}")
    }
}

fn sources(set: &std::collections::BTreeSet<TokenSource>) -> String {
    if set.is_empty() {
        "–".to_owned()
    } else {
        set.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
    }
}

impl DrillDown<'_> {
    fn percentile_lines(&self, l: &LaneSnapshot) -> Vec<Line<'static>> {
        let t = self.theme;
        let header = format!(
            "{:<6}{:>7}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}",
            "ms", "count", "mean", "p50", "p90", "p99", "p99.9", "max"
        );
        let mut lines = vec![Line::styled(header, t.dim)];
        let rows: [(&str, &LatencySummary); 6] = [
            ("TTFT", &l.latencies.ttft),
            ("TTFOT", &l.latencies.ttfot),
            ("TPOT", &l.latencies.tpot),
            ("ITL", &l.latencies.itl),
            ("E2E", &l.latencies.e2e),
            ("send", &l.latencies.send_delay),
        ];
        // An embeddings engine has no token: its latency is E2E alone.
        let embeds = l.embeddings.is_some();
        for (name, s) in rows {
            if embeds && !matches!(name, "E2E" | "send") {
                continue;
            }
            let text = if s.count == 0 {
                format!("{name:<6}{:>7}", 0)
            } else {
                // `≈`: too few samples bound the percentile.
                let p = |v: Duration, i: Option<Interval>| {
                    if i.is_some_and(|i| i.at_edge) {
                        format!("≈{}", ms(v))
                    } else {
                        ms(v)
                    }
                };
                format!(
                    "{name:<6}{:>7}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}",
                    s.count,
                    ms(s.mean),
                    p(s.p50, s.ci95.map(|c| c.p50)),
                    p(s.p90, s.ci95.map(|c| c.p90)),
                    p(s.p99, s.ci95.map(|c| c.p99)),
                    p(s.p999, s.ci95.map(|c| c.p999)),
                    ms(s.max)
                )
            };
            lines.push(Line::styled(text, t.text));
        }
        lines
    }

    fn figure_lines(&self, l: &LaneSnapshot, width: usize) -> Vec<Line<'static>> {
        let t = self.theme;
        let pair = |k: &str, v: String| key_value_lines(k, &v, width, t);
        let lines = vec![
            pair(
                "requests",
                format!(
                    "{} ok · {} failed · {} cancelled · {} in flight",
                    l.counts.ok,
                    l.counts.failed,
                    l.counts.cancelled,
                    l.counts.in_flight()
                ),
            ),
            pair(
                "tokens",
                match l.embeddings {
                    Some(e) => format!(
                        "{} in ({}) · {} inputs embedded ({} a request) · {:.1} inputs/s",
                        l.counts.input_tokens,
                        sources(&l.counts.input_sources),
                        e.inputs,
                        e.inputs_per_request,
                        e.inputs_per_s
                    ),
                    None => format!(
                        "{} in ({}) · {} out ({})",
                        l.counts.input_tokens,
                        sources(&l.counts.input_sources),
                        l.counts.output_tokens,
                        sources(&l.counts.output_sources)
                    ),
                },
            ),
            pair(
                "arrivals",
                format!(
                    "{} offered · {} late · {} dropped · {} unsent",
                    l.arrivals.offered, l.arrivals.late, l.arrivals.dropped, l.arrivals.unsent
                ),
            ),
            pair(
                "backoff",
                format!(
                    "{} waits ({} Retry-After) · {:.1} s",
                    l.waits.backoffs,
                    l.waits.retry_afters,
                    l.waits.time.as_secs_f64()
                ),
            ),
            pair("connections", connections(l)),
            pair("prompt cache", prompt_cache(l)),
            breakdown(l)
                .into_iter()
                .chain(server(l))
                .flat_map(|(k, v)| pair(k, v))
                .collect(),
            pair("client", {
                let c = &self.snap.client;
                format!(
                    "send lag p99 {} ms · worst loop lag {} ms · worst CPU {:.0}%{}",
                    ms(c.send_lag.p99),
                    ms(c.worst_loop_lag),
                    c.worst_cpu * 100.0,
                    if c.saturated { " · SATURATED" } else { "" }
                )
            }),
        ];
        lines.into_iter().flatten().collect()
    }

    /// This engine against each other one, request by request (once the
    /// race is over).
    fn pair_lines(&self, width: usize) -> Vec<Line<'static>> {
        use crate::metrics::pairs::{Ratio, Verdict};
        let t = self.theme;
        let shown = |r: Option<Ratio>| {
            r.map_or_else(
                || "–".to_owned(),
                |r| {
                    let verdict = match r.verdict() {
                        Verdict::Faster => "faster",
                        Verdict::Slower => "slower",
                        Verdict::TooCloseToCall => "too close to call",
                    };
                    format!(
                        "×{:.2} ({:.2}–{:.2}) {verdict}",
                        r.median, r.ci95[0], r.ci95[1]
                    )
                },
            )
        };
        let mut lines = Vec::new();
        for (other, ttft, e2e) in self
            .snap
            .pairs
            .iter()
            .filter_map(|p| p.seen_from(self.lane))
        {
            let Some(name) = self.snap.lanes.get(other).map(|o| o.name.clone()) else {
                continue;
            };
            let text = format!("TTFT {} · E2E {}", shown(ttft), shown(e2e));
            lines.extend(key_value_lines(&format!("vs {name}"), &text, width, t));
        }
        if !lines.is_empty() {
            lines.insert(
                0,
                Line::styled("request by request (median, 95% CI)", t.title),
            );
            lines.push(Line::raw(""));
        }
        lines
    }

    fn error_lines(&self, l: &LaneSnapshot) -> Vec<Line<'static>> {
        let t = self.theme;
        if l.counts.errors.is_empty() {
            return vec![Line::styled("no failures", t.good)];
        }
        let kinds: Vec<String> = l
            .counts
            .errors
            .iter()
            .map(|(k, n)| format!("{} ×{n}", k.name()))
            .collect();
        let mut lines = vec![Line::styled(kinds.join("  "), t.bad)];
        for e in &l.error_samples {
            let message = e.message.replace(['\n', '\r'], " ");
            lines.push(Line::from(vec![
                Span::styled(format!("{:>5} × {}: ", e.count, e.kind.name()), t.bad),
                Span::styled(message, t.dim),
            ]));
        }
        lines
    }

    fn sample_lines(&self, l: &LaneSnapshot, width: usize) -> Vec<Line<'static>> {
        let t = self.theme;
        let mut lines = Vec::new();
        for trace in l.traces.iter().take(SAMPLES) {
            let (status, style) = match (&trace.error, trace.ended_at) {
                (Some(kind), _) => (format!("failed: {kind}"), t.bad),
                (None, Some(_)) => ("done".to_owned(), t.good),
                (None, None) => ("streaming".to_owned(), t.ok),
            };
            let figures = if l.embeddings.is_some() {
                let e2e = trace.ended_at.map(|end| end.saturating_sub(trace.sent_at));
                format!("E2E {:>6}  ", e2e.map_or_else(|| "–".to_owned(), ms))
            } else {
                format!(
                    "{:>5} tok  TTFT {:>6}  ",
                    trace.chunks,
                    trace.ttft.map_or_else(|| "–".to_owned(), ms)
                )
            };
            let mut spans = vec![
                Span::styled(format!("#{:<6}", trace.request_id), t.title),
                Span::styled(format!("{status:<12}"), style),
                Span::styled(figures, t.text),
            ];
            // The prompt's start in the room the line leaves: a snippet,
            // never a second line.
            let room = width.saturating_sub(Line::from(spans.clone()).width());
            let prompt = trace.prompt_head.replace(['\n', '\r'], " ");
            spans.push(Span::styled(fit(&prompt, room), t.dim));
            lines.push(Line::from(spans));
        }
        if lines.is_empty() {
            lines.push(Line::styled("no request yet", t.dim));
        }
        lines
    }
}

/// The 95 % intervals of p50 and p99 of the headline latencies (an
/// embeddings engine's: E2E), `(few)` where too few samples bound one.
fn interval_lines(l: &LaneSnapshot, width: usize, t: &Theme) -> Vec<Line<'static>> {
    let measured: Vec<(&str, &LatencySummary)> = [
        ("TTFT", &l.latencies.ttft),
        ("TPOT", &l.latencies.tpot),
        ("E2E", &l.latencies.e2e),
    ]
    .into_iter()
    .filter(|(name, s)| s.count > 0 && (l.embeddings.is_none() || *name == "E2E"))
    .collect();
    if measured.is_empty() {
        return Vec::new();
    }
    let span = |i: Interval| {
        let few = if i.at_edge { " (few)" } else { "" };
        format!("{}–{}{few}", ms(i.lo), ms(i.hi))
    };
    let of = |pick: fn(&PercentileIntervals) -> Interval| {
        measured
            .iter()
            .filter_map(|(name, s)| Some(format!("{name} {}", span(pick(s.ci95.as_ref()?)))))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    [("p50 95% CI", of(|c| c.p50)), ("p99 95% CI", of(|c| c.p99))]
        .into_iter()
        .flat_map(|(k, v)| key_value_lines(k, &v, width, t))
        .collect()
}

/// Columns of a figure's name in the details.
const KEY_WIDTH: usize = 18;

/// A figure: its name, then its phrases (`a · b · c`) packed into the
/// width, a line broken only between phrases and continued under the first.
fn key_value_lines(key: &str, value: &str, width: usize, t: &Theme) -> Vec<Line<'static>> {
    let room = width.saturating_sub(KEY_WIDTH).max(1);
    let mut rows: Vec<String> = Vec::new();
    for phrase in value.split(" · ") {
        match rows.last_mut() {
            Some(row) if row.chars().count() + 3 + phrase.chars().count() <= room => {
                row.push_str(" · ");
                row.push_str(phrase);
            }
            _ => rows.push(phrase.to_owned()),
        }
    }
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let key = if i == 0 { key } else { "" };
            Line::from(vec![
                Span::styled(format!("{key:<KEY_WIDTH$}"), t.dim),
                Span::styled(row, t.text),
            ])
        })
        .collect()
}

/// One histogram as bars: each bin's count, labelled with its range.
fn histogram(title: &str, bins: &[Bin], color: Style, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Line::styled(format!(" {title} "), theme.title));
    if bins.is_empty() {
        Paragraph::new(Line::styled("no data yet", theme.dim))
            .block(block)
            .render(area, buf);
        return;
    }
    let inner = block.inner(area);
    block.render(area, buf);
    let [bars_area, axis] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
    let n = u16::try_from(bins.len()).unwrap_or(u16::MAX).max(1);
    let width = (bars_area.width / n).clamp(1, 4);
    let bars: Vec<Bar> = bins
        .iter()
        .map(|b| {
            Bar::default()
                .value(b.count)
                .text_value(String::new())
                .style(color)
        })
        .collect();
    BarChart::default()
        .data(BarGroup::default().bars(&bars))
        .bar_width(width)
        .bar_gap(0)
        .render(bars_area, buf);
    let (lo, hi) = (bins[0].lo, bins[bins.len() - 1].hi);
    let left = format!("{lo:.1}");
    let right = format!("{hi:.1} ms");
    let used = usize::from(width * n);
    let gap = used.saturating_sub(left.len() + right.len()).max(1);
    Paragraph::new(Line::styled(
        format!("{left}{}{right}", " ".repeat(gap)),
        theme.dim,
    ))
    .render(axis, buf);
}

impl Widget for &DrillDown<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let t = self.theme;
        let Some(l) = self.snap.lanes.get(self.lane) else {
            Paragraph::new(Line::styled("no engine selected", t.dim)).render(area, buf);
            return;
        };
        let color = Style::new().fg(t.lane_color(l.color));
        let block = Block::bordered()
            .border_style(t.border_selected)
            .title(Line::from(vec![
                Span::raw(" "),
                Span::raw(car(&l.emoji).to_owned()),
                Span::raw(" "),
                Span::styled(l.name.clone(), color),
                Span::styled(format!(" {} · details ", l.model), t.dim),
            ]));
        let inner = block.inner(area);
        block.render(area, buf);
        let (text_area, charts_area) = if inner.width >= SIDE_BY_SIDE {
            // The histograms as wide as their bars fill (each bin a whole
            // number of columns); the figures get the rest.
            let bins = l.distributions.as_deref().map_or(
                crate::metrics::snapshot::DISTRIBUTION_BINS,
                |d| {
                    d.ttft_ms
                        .len()
                        .max(d.tpot_ms.len())
                        .max(d.e2e_ms.len())
                        .max(1)
                },
            );
            let bins = u16::try_from(bins).unwrap_or(u16::MAX);
            let bar = (inner.width.saturating_sub(TEXT_MIN + 2) / bins).clamp(1, 4);
            let charts_w = (bins.saturating_mul(bar) + 2).min(inner.width - TEXT_MIN);
            let [a, b] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(charts_w)])
                .areas(inner);
            (a, Some(b))
        } else {
            let breakdown_lines = u16::try_from(breakdown(l).len() + server(l).len()).unwrap_or(0);
            let want =
                9 + 8 + breakdown_lines + 2 + u16::try_from(l.error_samples.len()).unwrap_or(0) + 1;
            if inner.height > want + 8 {
                let [a, b] =
                    Layout::vertical([Constraint::Length(want), Constraint::Fill(1)]).areas(inner);
                (a, Some(b))
            } else {
                (inner, None)
            }
        };
        let mut lines = self.percentile_lines(l);
        let width = usize::from(text_area.width);
        lines.extend(interval_lines(l, width, t));
        lines.push(Line::raw(""));
        lines.extend(self.figure_lines(l, width));
        lines.push(Line::raw(""));
        lines.extend(self.error_lines(l));
        lines.extend(self.pair_lines(width));
        lines.push(Line::raw(""));
        lines.push(Line::styled("latest requests", t.title));
        lines.extend(self.sample_lines(l, width));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(text_area, buf);
        if let Some(charts) = charts_area {
            let empty = Vec::new();
            let d = l.distributions.as_deref();
            // An embeddings engine's one latency is E2E.
            let shown = if l.embeddings.is_some() {
                vec![("E2E", d.map_or(&empty, |d| &d.e2e_ms))]
            } else {
                vec![
                    ("TTFT", d.map_or(&empty, |d| &d.ttft_ms)),
                    ("TPOT", d.map_or(&empty, |d| &d.tpot_ms)),
                    ("E2E", d.map_or(&empty, |d| &d.e2e_ms)),
                ]
            };
            let parts = Layout::vertical(vec![Constraint::Fill(1); shown.len()]).split(charts);
            for ((title, bins), part) in shown.into_iter().zip(parts.iter()) {
                histogram(title, bins, color, t, *part, buf);
            }
        }
    }
}

/// The breakdown's lines: in a conversation race, how the lane's
/// conversations ended and its median TTFT by turn; by prompt length when
/// its prompts had more than one length (or it is a conversation race).
fn breakdown(l: &LaneSnapshot) -> Vec<(&'static str, String)> {
    let Some(b) = l.breakdown.as_ref() else {
        return Vec::new();
    };
    let medians = |rows: &[crate::metrics::breakdown::Row<LatencySummary>]| {
        if rows.is_empty() {
            return "none answered yet".to_owned();
        }
        let each: Vec<String> = rows
            .iter()
            .map(|r| format!("{}: {}", r.label, ms(r.ttft.p50)))
            .collect();
        format!("{} ms (p50)", each.join(" · "))
    };
    let mut lines = Vec::new();
    if let Some(c) = b.conversations {
        lines.push((
            "conversations",
            format!(
                "{} started · {} completed · {} context limit · {} failed · {} cut off",
                c.started, c.completed, c.context_limit, c.failed, c.stopped
            ),
        ));
        lines.push(("TTFT by turn", medians(&b.by_turn)));
    }
    if b.conversations.is_some() || b.by_prompt_length.len() > 1 {
        lines.push(("TTFT by length", medians(&b.by_prompt_length)));
    }
    lines
}

/// The server's own metrics: the last scrape, each figure's mean and most
/// over the race, the scrapes, and its token count beside ours.
fn server(l: &LaneSnapshot) -> Vec<(&'static str, String)> {
    let Some(s) = &l.server else {
        return Vec::new();
    };
    let failed = match &s.last_error {
        Some(why) if s.errors > 0 => format!(" · {} failed (last: {why})", s.errors),
        _ => String::new(),
    };
    let read = if s.scrapes == 0 {
        format!("not read{failed}")
    } else {
        format!(
            "{} · {} scrapes{failed}",
            super::lanes::server_figures(s),
            s.scrapes
        )
    };
    let mut lines = vec![("server", read)];
    let sp = &s.spreads;
    let mut ranges = Vec::new();
    let mut range =
        |name: &str, v: Option<crate::metrics::server::Spread>, scale: f64, unit: &str| {
            if let Some(v) = v {
                ranges.push(format!(
                    "{name} {:.0}{unit} mean · {:.0}{unit} max",
                    v.mean * scale,
                    v.max * scale
                ));
            }
        };
    range("run", sp.running, 1.0, "");
    range("queue", sp.waiting, 1.0, "");
    range("KV", sp.kv_use, 100.0, "%");
    range("out", sp.output_tokens_per_s, 1.0, " tok/s");
    if !ranges.is_empty() {
        lines.push(("server range", ranges.join(" · ")));
    }
    let latencies: Vec<String> = [
        ("TTFT", s.latencies.ttft),
        ("ITL", s.latencies.itl),
        ("E2E", s.latencies.e2e),
    ]
    .into_iter()
    .filter_map(|(name, l)| l.map(|l| format!("{name} p50 {:.1} · p99 {:.1}", l.p50_ms, l.p99_ms)))
    .collect();
    if !latencies.is_empty() {
        lines.push(("server latency", format!("{} ms", latencies.join(" · "))));
    }
    if let Some(check) = s.token_check {
        let verdict = if check.matches {
            "✓".to_owned()
        } else {
            "differ (a server shared with other clients, or failed requests, count apart)"
                .to_owned()
        };
        lines.push((
            "server tokens",
            format!(
                "server counted {:.0} · we counted {} {verdict}",
                check.server, check.client
            ),
        ));
    }
    lines
}

/// The server's prefix cache as its answers reported it.
fn prompt_cache(l: &LaneSnapshot) -> String {
    let Some(c) = &l.prompt_cache else {
        return "not reported by the server".to_owned();
    };
    let ttft = |s: &LatencySummary| {
        if s.count == 0 {
            "–".to_owned()
        } else {
            format!("{} ms", ms(s.p50))
        }
    };
    format!(
        "{:.1}% of prompt tokens cached · {} of {} requests hit · TTFT p50 hit {} · miss {}",
        c.hit_rate * 100.0,
        c.hit_requests,
        c.reported_requests,
        ttft(&c.ttft_hit),
        ttft(&c.ttft_miss)
    )
}

/// Connections opened, and what the server's closes cost: retries, and
/// whether the client gave up reusing them.
fn connections(l: &LaneSnapshot) -> String {
    let mut text = format!("{} opened", l.connections.opened);
    if l.connections.retries > 0 {
        let _ = write!(text, " · {} retried", l.connections.retries);
    }
    match l.connections.reuse {
        ConnectionReuse::Reused => {}
        ConnectionReuse::Stopped => text.push_str(" · no reuse (server closes)"),
        ConnectionReuse::Never => text.push_str(" · no reuse (never)"),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .map(|s| s.trim_end().to_owned())
            .collect()
    }

    #[test]
    fn a_figure_breaks_between_its_phrases_never_inside_one() {
        let t = Theme::mono();
        let value = "send lag p99 0.0 ms · worst loop lag 12.5 ms · worst CPU 35%";
        assert_eq!(
            text(&key_value_lines("client", value, 66, &t)),
            [
                "client            send lag p99 0.0 ms · worst loop lag 12.5 ms",
                "                  worst CPU 35%",
            ]
        );
        assert_eq!(
            text(&key_value_lines("client", value, 100, &t)),
            [format!("client            {value}")]
        );
    }
}
