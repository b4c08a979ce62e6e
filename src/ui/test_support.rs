//! Test helpers: render a snapshot into a `TestBackend` and deterministic
//! race fixtures (STYLE rule 14).

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::text::Span;

use super::render::render;
use super::state::UiState;
use super::theme::Theme;
use crate::config::FinishSpec;
use crate::metrics::figures::{Arrivals, Connections, Counts, Grades, Latencies, Rates, Waits};
use crate::metrics::series::SeriesPoint;
use crate::metrics::{
    Grade, Health, LaneSnapshot, LaneState, LatencySummary, RacePhase, RaceSnapshot, Trend,
};

/// Draws one frame of `snap` at `w`×`h` and returns the buffer.
pub fn render_to_buffer(
    snap: &RaceSnapshot,
    ui: &UiState,
    theme: &Theme,
    w: u16,
    h: u16,
) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|frame| render(frame, snap, ui, theme))
        .unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer's text, one line per row, trailing spaces trimmed (wide
/// characters take one `char` but two columns).
pub fn buffer_to_string(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = Vec::with_capacity(usize::from(area.height));
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        let mut skip = 0usize;
        for x in area.left()..area.right() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            line.push_str(sym);
            skip = Span::raw(sym).width().saturating_sub(1);
        }
        out.push(line.trim_end().to_string());
    }
    out.join("\n")
}

/// Draws one frame of `snap` at `w`×`h` and returns its text.
pub fn render_to_string(
    snap: &RaceSnapshot,
    ui: &UiState,
    theme: &Theme,
    w: u16,
    h: u16,
) -> String {
    buffer_to_string(&render_to_buffer(snap, ui, theme, w, h))
}

const ENGINES: [(&str, &str, &str, &str); 10] = [
    ("vllm", "llama-3.1-8b", "🚀", "cyan"),
    ("tgi", "llama-3.1-8b", "🐢", "green"),
    ("sglang", "llama-3.1-8b-awq", "🐇", "magenta"),
    ("llamacpp", "llama-3.1-8b-q4", "🦊", "yellow"),
    ("ollama", "llama3.1:8b", "🐎", "bright_blue"),
    ("trt-llm", "llama-3.1-8b-fp8", "🦅", "red"),
    ("lmdeploy", "llama-3.1-8b", "🐬", "#ff8800"),
    ("mlc", "llama-3.1-8b-q4f16", "🐝", "light_green"),
    ("exllama", "llama-3.1-8b-exl2", "🦄", "bright_magenta"),
    ("aphrodite", "llama-3.1-8b", "🐙", "white"),
];

fn summary(ms: u64, count: u64) -> LatencySummary {
    let d = Duration::from_millis(ms);
    LatencySummary {
        count,
        mean: d,
        min: d / 2,
        p50: d,
        p90: d * 3 / 2,
        p95: d * 2,
        p99: d * 3,
        p999: d * 4,
        max: d * 5,
        // Plausible intervals: narrower in the middle, at the edge for a
        // p99 of fewer than 100 samples.
        ci95: Some({
            use crate::metrics::interval::{Interval, PercentileIntervals};
            let around = |v: Duration, spread: u32, at_edge: bool| Interval {
                lo: v * (100 - spread) / 100,
                hi: if at_edge {
                    d * 5
                } else {
                    v * (100 + spread) / 100
                },
                at_edge,
            };
            PercentileIntervals {
                p50: around(d, 4, false),
                p90: around(d * 3 / 2, 6, false),
                p95: around(d * 2, 8, count < 40),
                p99: around(d * 3, 12, count < 100),
                p999: around(d * 4, 20, count < 1000),
            }
        }),
    }
}

pub fn series(i: usize, seconds: u32, failing: bool) -> Vec<SeriesPoint> {
    let i32_ = u32::try_from(i).unwrap();
    (0..seconds)
        .map(|t| {
            let wave = f64::from((t * 7 + i32_ * 3) % 11);
            SeriesPoint {
                t_s: t,
                requests_ok: if failing { t % 2 } else { 8 + (t + i32_) % 4 },
                requests_failed: if failing { 5 } else { u32::from(t % 17 == 0) },
                output_tokens: 900 + u64::from((t * 13 + i32_ * 5) % 9) * 60,
                ttft_mean_ms: 150.0 + 120.0 * f64::from(i32_) + wave * 20.0,
                tpot_mean_ms: 18.0 + 4.0 * f64::from(i32_) + wave,
                e2e_mean_ms: 2500.0 + wave * 100.0,
                ttfot_mean_ms: 150.0 + 120.0 * f64::from(i32_) + wave * 20.0,
                ttft_p50_ms: 140.0 + 120.0 * f64::from(i32_) + wave * 20.0,
                ttft_p99_ms: 260.0 + 200.0 * f64::from(i32_) + wave * 35.0,
                ttfot_p50_ms: 140.0 + 120.0 * f64::from(i32_) + wave * 20.0,
                ttfot_p99_ms: 260.0 + 200.0 * f64::from(i32_) + wave * 35.0,
                tpot_p50_ms: 17.0 + 4.0 * f64::from(i32_) + wave,
                tpot_p99_ms: 30.0 + 6.0 * f64::from(i32_) + wave * 2.0,
                ..SeriesPoint::default()
            }
        })
        .collect()
}

fn lane(i: usize) -> LaneSnapshot {
    let (name, model, emoji, color) = ENGINES[i % ENGINES.len()];
    let k = u64::try_from(i).unwrap();
    let ok = 400u64.saturating_sub(30 * k).max(5);
    let failed = k * 2;
    #[allow(clippy::cast_precision_loss)]
    let (okf, failedf) = (ok as f64, failed as f64);
    let grade = |n: u64| match n % 3 {
        0 => Grade::Good,
        1 => Grade::Ok,
        _ => Grade::Bad,
    };
    LaneSnapshot {
        name: name.to_string(),
        model: model.to_string(),
        emoji: emoji.to_string(),
        color: crate::config::color::parse_color(color).expect("a colour"),
        state: LaneState::Running,
        finished_at: None,
        place: i + 1,
        progress: okf / 500.0,
        active: Duration::from_secs(42),
        counts: Counts {
            started: ok + failed + 4,
            ok,
            failed,
            cancelled: 0,
            good: ok.saturating_sub(k),
            errors: Default::default(),
            input_tokens: ok * 300,
            output_tokens: ok * 120,
            input_sources: Default::default(),
            output_sources: Default::default(),
        },
        embeddings: None,
        rate_ci95: None,
        too_close_to_call: false,
        rates: Rates {
            requests_per_s: okf / 42.0,
            output_tokens_per_s: okf * 120.0 / 42.0,
            total_tokens_per_s: okf * 420.0 / 42.0,
            goodput_rps: (okf - 1.0) / 42.0,
            success_rate: okf / (okf + failedf),
        },
        latencies: Latencies {
            ttft: summary(180 + 130 * k, ok),
            ttfot: summary(180 + 130 * k, ok),
            tpot: summary(20 + 5 * k, ok),
            itl: summary(20 + 5 * k, ok * 100),
            e2e: summary(2600 + 300 * k, ok),
            send_delay: LatencySummary::default(),
        },
        arrivals: Arrivals {
            offered: ok + failed + 4,
            ..Arrivals::default()
        },
        waits: Waits::default(),
        connections: Connections {
            opened: 4,
            ..Connections::default()
        },
        prompt_cache: None,
        breakdown: None,
        server: None,
        error_samples: Vec::new(),
        slo_checks: Vec::new(),
        slo_pass: true,
        series: series(i, 42, false),
        distributions: None,
        grades: Grades {
            health: if failed > 4 {
                Health::Warning
            } else {
                Health::Healthy
            },
            ttft_trend: [Trend::Steady, Trend::Rising, Trend::Falling][i % 3],
            tpot_trend: [Trend::Rising, Trend::Steady, Trend::Falling][i % 3],
            throughput_trend: [Trend::Falling, Trend::Rising, Trend::Steady][i % 3],
            ttft_grade: grade(k),
            tpot_grade: grade(k + 1),
            throughput_grade: grade(k + 2),
        },
        traces: Vec::new(),
        recent: Vec::new(),
        stages: Vec::new(),
        cost: None,
        cheapest: None,
        sweep: None,
    }
}

/// A race 42 s in, `lanes` engines running, ranked in lane order; lane 2
/// (if any) has a bad TTFT grade.
pub fn snapshot_fixture(lanes: usize) -> RaceSnapshot {
    RaceSnapshot {
        stage: None,
        stage_unit: None,
        race_name: "Demo race".to_string(),
        phase: RacePhase::Running,
        elapsed: Duration::from_secs(42),
        finish: FinishSpec {
            duration: Duration::from_secs(120),
            duration_is_finish_line: false,
            requests: Some(500),
            output_tokens: None,
            grace: Duration::from_secs(10),
        },
        load_mode: crate::config::LoadMode::Users,
        client: Default::default(),
        commentary: Vec::new(),
        lanes: (0..lanes).map(lane).collect(),
        leaderboard: (0..lanes).collect(),
        workload: None,
        simulated: false,
        sharding: crate::config::Sharding::Whole,
        sequence: 420,
        pairs: Vec::new(),
    }
}

/// Three lanes; lane 1 fails most requests (health Error).
pub fn failing_fixture() -> RaceSnapshot {
    let mut snap = snapshot_fixture(3);
    let l = &mut snap.lanes[1];
    l.counts.ok = 12;
    l.counts.failed = 230;
    l.counts.started = 12 + 230 + 4;
    l.rates.success_rate = 12.0 / 242.0;
    l.rates.requests_per_s = 12.0 / 42.0;
    l.rates.output_tokens_per_s = 34.0;
    l.progress = 12.0 / 500.0;
    l.rates.goodput_rps = 0.2;
    l.grades.health = Health::Error;
    l.latencies.ttft = summary(4200, 12);
    l.latencies.ttfot = l.latencies.ttft;
    l.grades.ttft_grade = Grade::Bad;
    l.grades.tpot_grade = Grade::Bad;
    l.grades.throughput_grade = Grade::Bad;
    l.series = series(1, 42, true);
    snap.lanes[1].place = 3;
    snap.lanes[2].place = 2;
    snap.leaderboard = vec![0, 2, 1];
    snap
}

/// Before the start: countdown, nothing measured yet.
pub fn empty_fixture(lanes: usize) -> RaceSnapshot {
    let mut snap = snapshot_fixture(lanes);
    snap.phase = RacePhase::Countdown {
        remaining: Duration::from_millis(2400),
    };
    snap.elapsed = Duration::ZERO;
    snap.sequence = 0;
    for l in &mut snap.lanes {
        *l = LaneSnapshot {
            state: LaneState::Running,
            progress: 0.0,
            counts: Counts {
                input_sources: l.counts.input_sources.clone(),
                output_sources: l.counts.output_sources.clone(),
                errors: l.counts.errors.clone(),
                ..Counts::default()
            },
            active: Duration::ZERO,
            rates: Rates {
                success_rate: 1.0,
                ..Rates::default()
            },
            latencies: Latencies::default(),
            series: Vec::new(),
            distributions: None,
            grades: Grades {
                health: Health::Initializing,
                ttft_trend: Trend::Steady,
                tpot_trend: Trend::Steady,
                throughput_trend: Trend::Steady,
                ttft_grade: Grade::Unknown,
                tpot_grade: Grade::Unknown,
                throughput_grade: Grade::Unknown,
            },
            ..l.clone()
        };
    }
    snap
}

/// The race is over: every lane crossed the line, lane 0 first.
pub fn finished_fixture(lanes: usize) -> RaceSnapshot {
    let mut snap = snapshot_fixture(lanes);
    snap.phase = RacePhase::Finished;
    snap.elapsed = Duration::from_secs(61);
    for (i, l) in snap.lanes.iter_mut().enumerate() {
        l.state = LaneState::Finished;
        l.progress = 1.0;
        l.counts.ok = 500;
        l.counts.started = 500 + l.counts.failed;
        l.finished_at = Some(Duration::from_millis(
            50_000 + 2_500 * u64::try_from(i).unwrap(),
        ));
    }
    snap
}

/// The distributions of a lane whose every latency was `latency` and whose
/// token counts were `counts`.
pub fn binned(
    latency: &crate::metrics::LatencyHistogram,
    counts: &crate::metrics::histogram::CountHistogram,
) -> std::sync::Arc<crate::metrics::snapshot::Distributions> {
    use crate::metrics::snapshot::{DISTRIBUTION_BINS, Distributions};
    let bins = latency.distribution(DISTRIBUTION_BINS);
    std::sync::Arc::new(Distributions {
        ttft_ms: bins.clone(),
        ttfot_ms: bins.clone(),
        tpot_ms: bins.clone(),
        itl_ms: bins.clone(),
        e2e_ms: bins,
        input_tokens: counts.distribution(DISTRIBUTION_BINS),
        output_tokens: counts.distribution(DISTRIBUTION_BINS),
    })
}

/// `snapshot_fixture(lanes)` with recent requests on the last 22 s: a few
/// in flight at once (so they overlap), some late to be sent; lane 0 has
/// a stream cut mid-answer, lane 1 fast 429s, lane 2 timeouts.
pub fn timeline_fixture(lanes: usize) -> RaceSnapshot {
    use crate::metrics::ErrorKind;
    use crate::metrics::recent::{Outcome, RecentRequest};
    let ms = Duration::from_millis;
    let mut snap = snapshot_fixture(lanes);
    for (i, lane) in snap.lanes.iter_mut().enumerate() {
        let i = u64::try_from(i).unwrap();
        let mut recent = Vec::new();
        for k in 0..40u64 {
            let scheduled = 20_000 + k * (900 + 150 * (i % 4));
            let sent = scheduled + if k % 5 == 3 { 400 } else { 0 };
            let first = sent + 180 + 130 * (i % 4) + (k * 37) % 200;
            let ended = first + 1_500 + (k * 211) % 1_500;
            let (first, ended, outcome) = match (i, k) {
                (0, 9) => (
                    Some(first),
                    first + 300,
                    Outcome::Failed(ErrorKind::StreamReset),
                ),
                (1, k) if k % 4 == 1 => (None, sent + 15, Outcome::Failed(ErrorKind::Http429)),
                (2, k) if k % 7 == 5 => (None, sent + 3_000, Outcome::Failed(ErrorKind::Timeout)),
                _ => (Some(first), ended, Outcome::Ok),
            };
            if ended > 41_900 {
                continue;
            }
            recent.push(RecentRequest {
                request_id: 200 + k,
                scheduled_at: ms(scheduled),
                sent_at: ms(sent),
                first_token_at: first.map(ms),
                ended_at: ms(ended),
                outcome,
                output_tokens: first.map_or(0, |f| {
                    u32::try_from((ended - f) / (20 + 5 * i) + 1).unwrap()
                }),
            });
        }
        // Newest last, in the order they finished.
        recent.sort_by_key(|r| r.ended_at);
        lane.recent = recent;
    }
    snap
}
