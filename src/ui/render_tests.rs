//! Tests of `render`: snapshots of every screen and view (insta), the
//! size sweep, and the styles that carry meaning.

use insta::assert_snapshot;
use ratatui::style::Color;
use std::time::Duration;

use super::*;
use crate::metrics::Grade;
use crate::ui::keymap::key_help;
use crate::ui::panels::charts::ChartMetric;
use crate::ui::panels::lane_place;
use crate::ui::test_support::{
    buffer_to_string, empty_fixture, failing_fixture, finished_fixture, render_to_buffer,
    render_to_string, snapshot_fixture,
};

fn ui(lanes: usize) -> UiState {
    UiState {
        lane_count: lanes,
        ..UiState::default()
    }
}

fn theme() -> Theme {
    Theme::default_theme()
}

/// A users sweep at 2 and 4 users that held both steps.
fn held_sweep() -> crate::metrics::sweep::SweepSnapshot {
    use crate::config::{SloSpec, StageLevel, SweepSpec};
    use crate::metrics::record::tests::ok_record;
    let mut sweep = crate::metrics::sweep::Sweep::new(SweepSpec {
        of: StageLevel::Users,
        start: 2.0,
        step: 2.0,
        max: 10.0,
        step_duration: Duration::from_secs(10),
        warmup: Duration::ZERO,
        min_gain: 0.05,
        max_error_rate: 0.05,
        refine: 0,
    });
    for (i, level) in [2.0, 4.0].into_iter().enumerate() {
        let start = 12_000 * i as u64;
        sweep.start_step(Duration::from_millis(start), level);
        for k in 0..(10 * level as u64) {
            sweep.observe(&ok_record(0, start + k * 100, 50 + 40 * i as u64, 5, 10));
        }
        sweep.judge(&SloSpec::default());
    }
    sweep.snapshot()
}

#[test]
fn a_sweep_draws_its_curve_and_shows_its_answer() {
    let mut snap = snapshot_fixture(2);
    snap.lanes[0].sweep = Some(held_sweep());
    let text = render_to_string(&snap, &ui(2), &theme(), 160, 40);
    assert!(text.contains("Sweep: output tok/s → TTFT p99 ms"), "{text}");
    assert!(text.contains("max 4 users"), "leaderboard and lane: {text}");
    // Without a sweep, no chart.
    let plain = render_to_string(&snapshot_fixture(2), &ui(2), &theme(), 160, 40);
    assert!(!plain.contains("Sweep:"), "{plain}");
}

#[test]
fn empty_race_countdown() {
    let snap = empty_fixture(3);
    assert_snapshot!(render_to_string(&snap, &ui(3), &theme(), 100, 30));
}

#[test]
fn mid_race_three_lanes() {
    let snap = snapshot_fixture(3);
    assert_snapshot!(render_to_string(&snap, &ui(3), &theme(), 100, 30));
}

#[test]
fn mid_race_three_lanes_80x24() {
    let snap = snapshot_fixture(3);
    assert_snapshot!(render_to_string(&snap, &ui(3), &theme(), 80, 24));
}

#[test]
fn one_lane_failing() {
    let snap = failing_fixture();
    let ui = UiState {
        selected_lane: 1,
        ..ui(3)
    };
    assert_snapshot!(render_to_string(&snap, &ui, &theme(), 100, 30));
}

fn charts(lanes: usize, metric: ChartMetric) -> UiState {
    UiState {
        view: View::Charts,
        chart_metric: metric,
        ..ui(lanes)
    }
}

#[test]
fn charts_view_80x24() {
    let snap = snapshot_fixture(3);
    assert_snapshot!(render_to_string(
        &snap,
        &charts(3, ChartMetric::Ttft),
        &theme(),
        80,
        24
    ));
}

#[test]
fn charts_view_140x45() {
    let snap = snapshot_fixture(3);
    assert_snapshot!(render_to_string(
        &snap,
        &charts(3, ChartMetric::Tpot),
        &theme(),
        140,
        45
    ));
}

#[test]
fn charts_view_ten_lanes_output_tokens() {
    let snap = snapshot_fixture(10);
    assert_snapshot!(render_to_string(
        &snap,
        &charts(10, ChartMetric::OutputTokens),
        &theme(),
        120,
        40
    ));
}

fn drill(lanes: usize, selected: usize) -> UiState {
    UiState {
        view: View::Drill,
        selected_lane: selected,
        ..ui(lanes)
    }
}

/// The fixture's failing lane with binned latencies and error messages.
fn detailed_fixture() -> RaceSnapshot {
    use crate::metrics::histogram::{CountHistogram, LatencyHistogram};
    use crate::metrics::snapshot::ErrorSample;
    let mut snap = failing_fixture();
    for lane in &mut snap.lanes {
        let mut h = LatencyHistogram::new();
        for n in 1..400u64 {
            h.record(Duration::from_micros(40_000 + (n * 7919) % 200_000));
        }
        lane.distributions = Some(crate::ui::test_support::binned(
            &h,
            &CountHistogram::default(),
        ));
    }
    snap.lanes[1]
        .counts
        .errors
        .insert(crate::metrics::ErrorKind::Http5xx, 230);
    snap.lanes[1].error_samples = vec![ErrorSample {
        kind: crate::metrics::ErrorKind::Http5xx,
        message: "HTTP 503: {\"error\": \"overloaded\"}".to_owned(),
        count: 230,
    }];
    snap
}

#[test]
fn drill_down_140x45() {
    assert_snapshot!(render_to_string(
        &detailed_fixture(),
        &drill(3, 1),
        &theme(),
        140,
        45
    ));
}

#[test]
fn drill_down_80x24() {
    assert_snapshot!(render_to_string(
        &detailed_fixture(),
        &drill(3, 1),
        &theme(),
        80,
        24
    ));
}

#[test]
fn drill_down_ten_lanes_live_without_bins_yet() {
    let text = render_to_string(&snapshot_fixture(10), &drill(10, 9), &theme(), 120, 40);
    assert!(
        text.contains("details") && text.contains("no data yet"),
        "{text}"
    );
    assert_snapshot!(text);
}

/// The histogram bars are drawn in the engine's colour; failures in the
/// theme's bad style.
#[test]
fn drill_down_bars_take_the_engines_colour_and_failures_stand_out() {
    let snap = detailed_fixture();
    let t = theme();
    let buf = render_to_buffer(&snap, &drill(3, 1), &t, 140, 45);
    let color = t.lane_color(snap.lanes[1].color);
    let bars = buf
        .content()
        .iter()
        .filter(|c| c.fg == color && "▁▂▃▄▅▆▇█".contains(c.symbol()))
        .count();
    assert!(bars > 20, "{bars} bar cells");
    let text = buffer_to_string(&buf);
    let (x, y) = find(&buf, "http_5xx ×230").expect("the failures by kind");
    assert_eq!(buf[(x, y)].fg, t.bad.fg.unwrap_or_default(), "{text}");
}

fn explainer(from: usize) -> UiState {
    UiState {
        view: View::Explainer,
        explainer_from: from,
        ..ui(3)
    }
}

/// Not an insta snapshot: the text is docs/METRICS.md, which changes with
/// the metrics; what is pinned is that the screen shows it rendered from
/// the top: a heading without its `#`, emphasis and code without their
/// marks, and a table drawn, not its pipes.
#[test]
fn explainer_80x24() {
    use crate::ui::panels::explainer::{document, text_size};
    let snap = snapshot_fixture(3);
    let text = render_to_string(&snap, &explainer(0), &theme(), 80, 24);
    let (width, rows) = text_size((80, 24));
    let total = document(width, &theme()).len();
    assert!(
        text.contains(&format!("docs/METRICS.md, lines 1–{rows} of {total}")),
        "{text}"
    );
    assert!(text.contains("│Metrics"), "{text}");
    assert!(!text.contains("# ") && !text.contains('`'), "{text}");
    assert!(text.contains("↑/↓ scroll"), "the explainer's keys: {text}");
    // Words are not cut at the edge: every row ends in a whole word.
    let doc = document(width, &theme());
    for line in &doc.lines {
        let row: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(
            ratatui::text::Span::raw(row.as_str()).width() <= usize::from(width),
            "{row}"
        );
    }
    // A table is drawn, its cells wrapped within the width.
    let per_request = doc.next_section(doc.next_section(0));
    let table = render_to_string(&snap, &explainer(per_request), &theme(), 80, 24);
    assert!(
        table.contains("│┌") && table.contains("│ definition"),
        "{table}"
    );
    assert!(!table.contains("| name |"), "{table}");
}

/// A section jumped to shows the document's own heading and text, and at
/// 140 columns a table row that needed three lines at 80 needs fewer.
#[test]
fn explainer_140x45_at_a_section_shows_the_documents_text() {
    use crate::ui::panels::explainer::{document, text_size};
    let snap = snapshot_fixture(3);
    let (width, _) = text_size((140, 45));
    let doc = document(width, &theme());
    let at = doc.next_section(doc.next_section(0));
    let text = render_to_string(&snap, &explainer(at), &theme(), 140, 45);
    assert!(text.contains("│Per request"), "{text}");
    assert!(
        text.contains("scheduled start") && text.contains("When the load shape meant the request"),
        "{text}"
    );
    let narrow = document(text_size((80, 24)).0, &theme());
    assert!(
        doc.len() < narrow.len(),
        "{} vs {}",
        doc.len(),
        narrow.len()
    );
}

/// Every view draws a replay's snapshot as it draws a live one, under
/// the replay's header and with the replay's keys in the footer.
#[test]
fn every_view_renders_from_a_replay() {
    let snap = detailed_fixture();
    for (view, shows) in [
        (View::Race, "Leaderboard"),
        (View::Charts, "TTFT per second"),
        (View::Drill, "details"),
        (View::Explainer, "What the numbers mean"),
        (View::Timeline, "Timeline"),
    ] {
        let ui = UiState {
            view,
            replay: Some(crate::replay::Playback {
                position: Duration::from_secs(42),
                length: Duration::from_secs(120),
                speed: 2.0,
                playing: true,
            }),
            ..ui(3)
        };
        for (w, h) in [(80, 24), (140, 45)] {
            let text = render_to_string(&snap, &ui, &theme(), w, h);
            assert!(text.contains("REPLAY"), "{view:?} {w}×{h}:\n{text}");
            assert!(text.contains(shows), "{view:?} {w}×{h}:\n{text}");
        }
    }
}

/// Full names where they fit; cut with an ellipsis only where they must.
#[test]
fn names_fit_or_end_in_an_ellipsis() {
    let mut snap = snapshot_fixture(3);
    snap.lanes[0].name = "decode-demon".to_owned();
    snap.lanes[1].name = "an-engine-name-far-too-long-for-any-leaderboard-column".to_owned();
    let text = render_to_string(&snap, &ui(3), &theme(), 140, 30);
    let board: Vec<&str> = text.lines().filter(|l| l.contains(" req ")).collect();
    assert!(board.iter().any(|l| l.contains("decode-demon ")), "{text}");
    let long = board
        .iter()
        .find(|l| l.contains("an-engine-name"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        long.contains('…') && !long.contains("leaderboard-column"),
        "{long}"
    );
    // One-line lanes (ten engines on a small screen) cut at twelve columns.
    let mut many = snapshot_fixture(10);
    many.lanes[3].name = "llamacpp-server-b".to_owned();
    let small = render_to_string(&many, &ui(10), &theme(), 80, 24);
    assert!(small.contains("llamacpp-se… "), "{small}");
}

#[test]
fn the_race_screen_uses_its_room_for_a_live_chart() {
    let snap = snapshot_fixture(3);
    assert_snapshot!(render_to_string(&snap, &ui(3), &theme(), 140, 45));
    // At 80×24 the screen stays as it was: no room.
    let small = render_to_string(&snap, &ui(3), &theme(), 80, 24);
    assert!(!small.contains("c for charts"), "{small}");
}

/// p50 lines in each engine's colour, p99 as dots in the same colour.
#[test]
fn chart_lines_are_in_the_engines_colours_and_p99_is_dotted() {
    let snap = snapshot_fixture(3);
    let t = theme();
    let buf = render_to_buffer(&snap, &charts(3, ChartMetric::Ttft), &t, 140, 45);
    let braille = |c: &ratatui::buffer::Cell| {
        c.symbol()
            .chars()
            .next()
            .is_some_and(|ch| ('\u{2801}'..='\u{28FF}').contains(&ch))
    };
    // (a p50 line, p99 dots) of the lane's colour on the screen.
    let line_of = |buf: &ratatui::buffer::Buffer, lane: &crate::metrics::LaneSnapshot| {
        let color = t.lane_color(lane.color);
        let mine = |c: &&ratatui::buffer::Cell| c.fg == color;
        let cells = buf.content().iter().filter(mine);
        let line = cells.clone().any(braille);
        let dots = cells.clone().any(|c| c.symbol() == "•");
        (line, dots)
    };
    for lane in &snap.lanes {
        assert!(line_of(&buf, lane).0, "no p50 line of {}", lane.name);
    }
    // One engine alone: both of its lines show.
    let one = snapshot_fixture(1);
    let buf = render_to_buffer(&one, &charts(1, ChartMetric::Ttft), &t, 140, 45);
    assert_eq!(line_of(&buf, &one.lanes[0]), (true, true));
    // Throughput has one line an engine, no dots.
    let buf = render_to_buffer(&one, &charts(1, ChartMetric::OutputTokens), &t, 140, 45);
    assert_eq!(line_of(&buf, &one.lanes[0]), (true, false));
}

#[test]
fn priced_engines_show_their_cost_and_the_cheapest_leads_the_column() {
    use crate::config::Pricing;
    use crate::metrics::cost::{Cost, cheapest_ranks};
    let mut snap = snapshot_fixture(3);
    let hour = Duration::from_secs(3600);
    snap.lanes[0].cost = Some(Cost::of(
        Pricing::Hourly { per_hour: 4.0 },
        hour,
        9,
        0,
        1_000_000,
    ));
    snap.lanes[2].cost = Some(Cost::of(
        Pricing::Tokens {
            input_per_1m: 0.0,
            output_per_1m: 1.5,
        },
        hour,
        9,
        0,
        1_000_000,
    ));
    let costs: Vec<_> = snap.lanes.iter().map(|l| l.cost).collect();
    for (lane, rank) in snap.lanes.iter_mut().zip(cheapest_ranks(&costs)) {
        lane.cheapest = rank;
    }
    let text = render_to_string(&snap, &ui(3), &theme(), 140, 30);
    assert!(text.contains("cheapest $/1M out"), "{text}");
    assert!(
        text.contains("#1 $1.50") && text.contains("#2 $4.00"),
        "{text}"
    );
    // The engine without a price has no place.
    let unpriced = text
        .lines()
        .find(|l| l.contains(&snap.lanes[1].name) && l.contains(" / "))
        .unwrap_or_else(|| panic!("the unpriced engine row:\n{text}"));
    assert!(
        unpriced
            .trim_end()
            .trim_end_matches('│')
            .trim_end()
            .ends_with('–'),
        "{unpriced}"
    );
    // Without prices the leaderboard is as it was.
    let plain = render_to_string(&snapshot_fixture(3), &ui(3), &theme(), 140, 30);
    assert!(!plain.contains("cheapest"), "{plain}");
}

#[test]
fn lanes_show_rate_limits_backoff_lost_load_and_the_answer_start() {
    let mut snap = snapshot_fixture(3);
    let lane = &mut snap.lanes[1];
    lane.counts
        .errors
        .insert(crate::metrics::ErrorKind::Http429, 17);
    lane.waits.backoffs = 17;
    lane.waits.time = Duration::from_millis(17_400);
    lane.arrivals.dropped = 40;
    lane.arrivals.unsent = 2;
    lane.arrivals.late = 5;
    lane.latencies.ttfot.p50 = Duration::from_millis(950);
    let text = render_to_string(&snap, &ui(3), &theme(), 140, 30);
    for shown in [
        "429 ×17",
        "backoff 17.4s",
        "dropped 42",
        "late 5",
        "answer 950ms",
    ] {
        assert!(text.contains(shown), "{shown} missing:\n{text}");
    }
    // Only the lane in trouble shows it.
    assert_eq!(text.matches("429").count(), 1, "{text}");
    // Ten lanes on a small screen: one line each, still marked.
    let mut many = snapshot_fixture(10);
    many.lanes[4]
        .counts
        .errors
        .insert(crate::metrics::ErrorKind::Http429, 3);
    many.lanes[4].waits.backoffs = 3;
    many.lanes[4].waits.time = Duration::from_secs(3);
    let small = render_to_string(&many, &ui(10), &theme(), 100, 24);
    assert!(small.contains("429 ×3") && small.contains("⏸3s"), "{small}");
}

#[test]
fn lanes_and_details_show_connections_the_server_closed() {
    use crate::metrics::ConnectionReuse;
    let mut snap = detailed_fixture();
    snap.lanes[0].connections.retries = 7;
    snap.lanes[1].connections.retries = 2;
    snap.lanes[1].connections.reuse = ConnectionReuse::Stopped;
    let text = render_to_string(&snap, &ui(3), &theme(), 140, 30);
    assert!(text.contains("reconnect ×7"), "{text}");
    assert!(text.contains("reconnecting"), "{text}");
    assert_eq!(text.matches("reconnect").count(), 2, "{text}");
    let details = render_to_string(&snap, &drill(3, 1), &theme(), 140, 45);
    assert!(
        details.contains("4 opened · 2 retried · no reuse (server closes)"),
        "{details}"
    );
    // Ten lanes on a small screen: one line each, still marked.
    let mut many = snapshot_fixture(10);
    many.lanes[4].connections.reuse = ConnectionReuse::Stopped;
    let small = render_to_string(&many, &ui(10), &theme(), 100, 24);
    assert!(small.contains('↻'), "{small}");
}

#[test]
fn the_leaderboard_marks_an_engine_failing_an_slo() {
    use crate::metrics::slo::{SloCheck, SloKind};
    let check = |actual: Option<f64>| SloCheck {
        few_samples: false,
        kind: SloKind::ErrorRate,
        threshold: 0.05,
        actual,
        pass: false,
    };
    let mut snap = snapshot_fixture(3);
    snap.lanes[1].slo_checks = vec![check(Some(0.2))];
    snap.lanes[1].slo_pass = false;
    // No data yet is no verdict while the race runs...
    snap.lanes[2].slo_checks = vec![check(None)];
    snap.lanes[2].slo_pass = false;
    let t = theme();
    let buf = render_to_buffer(&snap, &ui(3), &t, 140, 30);
    let text = buffer_to_string(&buf);
    assert_eq!(text.matches("✗SLO").count(), 1, "{text}");
    let (x, y) = find(&buf, "✗SLO").unwrap();
    assert_eq!(buf[(x, y)].fg, t.bad.fg.unwrap_or_default());
    // ...and fails at the end.
    snap.phase = crate::metrics::RacePhase::Finished;
    let text = render_to_string(&snap, &ui(3), &t, 140, 30);
    assert_eq!(text.matches("✗SLO").count(), 2, "{text}");
}

#[test]
fn a_stopping_race_says_so_in_the_header() {
    let snap = snapshot_fixture(3);
    let stopping = UiState {
        stopping: true,
        ..ui(3)
    };
    let text = render_to_string(&snap, &stopping, &theme(), 140, 30);
    assert!(
        text.contains("STOPPING — finishing 12 in-flight requests"),
        "{text}"
    );
    assert!(!text.contains("RACING"), "{text}");
}

#[test]
fn a_saturated_client_is_said_in_the_header() {
    let mut snap = snapshot_fixture(3);
    let calm = render_to_string(&snap, &ui(3), &theme(), 140, 30);
    assert!(!calm.contains("SATURATED"), "{calm}");
    snap.client.saturated = true;
    let text = render_to_string(&snap, &ui(3), &theme(), 140, 30);
    assert!(text.contains("CLIENT SATURATED"), "{text}");
}

#[test]
fn simulated_engines_are_said_in_the_header_next_to_the_phase() {
    let mut snap = snapshot_fixture(3);
    let real = render_to_string(&snap, &ui(3), &theme(), 100, 30);
    assert!(!real.contains("SIMULATED"), "{real}");
    snap.simulated = true;
    let text = render_to_string(&snap, &ui(3), &theme(), 100, 30);
    let header = text.lines().next().unwrap();
    assert!(header.contains("RACING    SIMULATED"), "{text}");
}

#[test]
fn own_history_is_said_in_the_header_and_conversations_in_the_drill_down() {
    use crate::config::WorkloadFacts;
    use crate::config::shape::{ConversationFacts, ShapeFacts};
    use crate::metrics::breakdown::{Breakdown, Conversations, Row};
    let mut snap = snapshot_fixture(2);
    let conversation = |own: bool| ConversationFacts {
        source: "synthetic".into(),
        conversations: None,
        turns: None,
        think_time: "0 s".into(),
        history: if own { "own" } else { "recorded" }.into(),
        prompts_differ_per_lane: own,
        max_context_tokens: None,
    };
    let facts = |own| WorkloadFacts {
        dataset: "synthetic".into(),
        prompts: 4,
        skipped_records: 0,
        target_input_tokens: None,
        input_tolerance_tokens: None,
        tokenizers: vec![None, None],
        trace: None,
        shape: Some(ShapeFacts {
            system_prompt_chars: None,
            prefix: None,
            conversation: Some(conversation(own)),
        }),
    };
    snap.workload = Some(facts(false));
    let recorded = render_to_string(&snap, &ui(2), &theme(), 140, 30);
    assert!(!recorded.contains("OWN HISTORY"), "{recorded}");
    snap.workload = Some(facts(true));
    let own = render_to_string(&snap, &ui(2), &theme(), 140, 30);
    assert!(
        own.lines()
            .next()
            .unwrap()
            .contains("OWN HISTORY: prompts differ per lane"),
        "{own}"
    );

    let summary = |ms: u64| crate::metrics::LatencySummary {
        count: 3,
        p50: std::time::Duration::from_millis(ms),
        ..crate::metrics::LatencySummary::default()
    };
    let row = |label: &str, ms| Row {
        label: label.into(),
        requests: 3,
        ttft: summary(ms),
        tpot: summary(2),
        e2e: summary(ms + 100),
    };
    snap.lanes[0].breakdown = Some(std::sync::Arc::new(Breakdown {
        conversations: Some(Conversations {
            started: 5,
            completed: 3,
            context_limit: 1,
            failed: 0,
            stopped: 1,
        }),
        by_turn: vec![row("1", 310), row("2", 24)],
        by_prompt_length: vec![row("0–256", 100)],
    }));
    let text = render_to_string(&snap, &drill(2, 0), &theme(), 140, 45);
    assert!(
        text.contains("5 started · 3 completed · 1 context limit · 0 failed · 1 cut off"),
        "{text}"
    );
    assert!(text.contains("1: 310 · 2: 24.0 ms (p50)"), "{text}");
    assert!(
        text.contains("TTFT by length    0–256: 100 ms (p50)"),
        "{text}"
    );
}

#[test]
fn a_server_page_never_read_says_so_with_its_reason_in_lane_and_drill_down() {
    use crate::metrics::server::ServerFold;
    let mut snap = snapshot_fixture(2);
    let mut fold = ServerFold::default();
    for s in 0..3 {
        fold.observe(std::time::Duration::from_secs(s), Err("HTTP 500"));
    }
    snap.lanes[0].server = fold.snapshot(0, 0);
    let lanes = render_to_string(&snap, &ui(2), &theme(), 140, 45);
    assert!(lanes.contains("server metrics: 3 failed"), "{lanes}");
    let drill = render_to_string(&snap, &drill(2, 0), &theme(), 140, 45);
    assert!(
        drill.contains("not read · 3 failed (last: HTTP 500)"),
        "{drill}"
    );
}

#[test]
fn a_shard_and_a_partial_merge_are_said_in_the_header() {
    use crate::config::{Shard, Sharding};
    let mut snap = snapshot_fixture(3);
    snap.sharding = Sharding::Shard(Shard { index: 1, count: 3 });
    let text = render_to_string(&snap, &ui(3), &theme(), 100, 30);
    assert!(text.lines().next().unwrap().contains("SHARD 1/3"), "{text}");
    snap.sharding = Sharding::Merged {
        count: 3,
        present: vec![0, 2],
    };
    let text = render_to_string(&snap, &ui(3), &theme(), 140, 30);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("PARTIAL: 2 OF 3 SHARDS MERGED, MISSING 1"),
        "{text}"
    );
}

#[test]
fn inspector_open() {
    let mut snap = snapshot_fixture(3);
    snap.lanes[2].traces = vec![
        crate::metrics::RequestTrace {
            request_id: 41,
            prompt_head: "Explain the CAP theorem".into(),
            text: " Consistency, availability and partition tolerance".into(),
            chunks: 7,
            sent_at: Duration::from_millis(40_500),
            ttft: Some(Duration::from_millis(82)),
            ended_at: None,
            ..Default::default()
        },
        crate::metrics::RequestTrace {
            request_id: 40,
            prompt_head: "Write a haiku".into(),
            text: " Racks hum".into(),
            chunks: 2,
            sent_at: Duration::from_millis(39_000),
            ttft: Some(Duration::from_millis(95)),
            ended_at: Some(Duration::from_millis(39_900)),
            error: Some("stream_reset".into()),
            error_message: Some("error decoding response body".into()),
            ..Default::default()
        },
    ];
    let ui = UiState {
        inspector_open: true,
        selected_lane: 2,
        ..ui(3)
    };
    let text = render_to_string(&snap, &ui, &theme(), 100, 30);
    assert!(text.contains("Inspector — 🐇 sglang"), "{text}");
    assert!(
        text.contains("#41 streaming…  7 tokens  1.5 s  TTFT 82 ms"),
        "{text}"
    );
    assert!(text.contains("› Explain the CAP theorem"), "{text}");
    assert!(text.contains("⚑82 ms  Consistency"), "{text}");
    assert!(text.contains("#40 failed: stream_reset"), "{text}");
    assert_snapshot!(text);
}

#[test]
fn help_open_lists_every_key() {
    let snap = snapshot_fixture(3);
    let ui = UiState {
        help_open: true,
        ..ui(3)
    };
    for (w, h) in [(80, 24), (120, 40)] {
        let text = render_to_string(&snap, &ui, &theme(), w, h);
        for (keys, what) in key_help(false) {
            assert!(text.contains(keys), "{keys} missing at {w}x{h}:\n{text}");
            let start: String = what.chars().take(12).collect();
            assert!(text.contains(&start), "{what} missing at {w}x{h}:\n{text}");
        }
    }
    assert_snapshot!(render_to_string(&snap, &ui, &theme(), 80, 24));
}

#[test]
fn finished_and_paused() {
    let snap = finished_fixture(3);
    let ui = UiState {
        paused: true,
        finished: true,
        ..ui(3)
    };
    let text = render_to_string(&snap, &ui, &theme(), 100, 30);
    assert!(text.contains("FINISHED — winner: 🚀 vllm"), "{text}");
    assert!(text.contains("PAUSED"), "{text}");
    assert_snapshot!(text);
}

#[test]
fn ten_lanes_80x24() {
    let snap = snapshot_fixture(10);
    let text = render_to_string(&snap, &ui(10), &theme(), 80, 24);
    for lane in &snap.lanes {
        assert!(text.contains(&lane.name), "{} missing:\n{text}", lane.name);
    }
    assert_snapshot!(text);
}

#[test]
fn ten_engines_with_a_shared_name_start_stay_apart_at_80x24() {
    let mut snap = snapshot_fixture(10);
    for (i, lane) in snap.lanes.iter_mut().enumerate() {
        lane.name = format!("engine-number-{}", i + 1);
    }
    let text = render_to_string(&snap, &ui(10), &theme(), 80, 24);
    let lines: Vec<&str> = text.lines().collect();
    // Every lane shows its own end of the name, every place, and the
    // tracks are one length (the flag in one column).
    for (i, line) in lines[2..12].iter().enumerate() {
        let name = format!("…number-{} ", i + 1);
        assert!(line.contains(&name), "{name:?} not in {line:?}");
        let place = lane_place(&snap.lanes[i]);
        assert!(line.contains(&place), "{place} not in {line:?}");
    }
    let flag_at = |line: &str| {
        line.find('🏁')
            .map(|b| ratatui::text::Span::raw(&line[..b]).width())
    };
    let flags: Vec<_> = lines[2..12].iter().map(|l| flag_at(l)).collect();
    assert!(
        flags.iter().all(|f| f.is_some() && *f == flags[0]),
        "{flags:?}\n{text}"
    );
    // The leaderboard has a row for each of the ten (its bottom border
    // gives the tenth its row).
    for i in 1..=10 {
        let row = format!("engine-number-{i} ");
        assert!(text.contains(&row), "{row} not on the leaderboard:\n{text}");
    }
    // With the inspector open the leaderboard says what it leaves out.
    let mut inspecting = ui(10);
    inspecting.inspector_open = true;
    let text = render_to_string(&snap, &inspecting, &theme(), 80, 30);
    assert!(
        text.contains(" +6 more: every place is in the lanes above"),
        "{text}"
    );
}

#[test]
fn ten_lanes_120x40() {
    let snap = snapshot_fixture(10);
    let text = render_to_string(&snap, &ui(10), &theme(), 120, 40);
    for lane in &snap.lanes {
        assert!(text.contains(&lane.name), "{} missing:\n{text}", lane.name);
    }
    assert_snapshot!(text);
}

#[test]
fn too_small_screen() {
    let snap = snapshot_fixture(3);
    let text = render_to_string(&snap, &ui(3), &theme(), 60, 20);
    assert!(text.contains("terminal too small (need 80×24)"), "{text}");
    assert_snapshot!(text);
}

#[test]
fn every_size_and_lane_count_renders_without_panic() {
    for lanes in [0, 1, 2, 3, 5, 10, 12, 40] {
        let snaps = [
            snapshot_fixture(lanes),
            empty_fixture(lanes),
            finished_fixture(lanes),
        ];
        for snap in &snaps {
            for (w, h) in [
                (0, 0),
                (1, 1),
                (0, 10),
                (10, 0),
                (20, 5),
                (79, 24),
                (80, 23),
                (80, 24),
                (81, 25),
                (100, 30),
                (109, 30),
                (110, 30),
                (120, 40),
                (250, 70),
            ] {
                for (help, insp, view) in [
                    (false, false, View::Race),
                    (true, false, View::Race),
                    (false, true, View::Race),
                    (false, false, View::Charts),
                    (true, true, View::Charts),
                    (false, false, View::Drill),
                    (true, false, View::Drill),
                    (false, false, View::Explainer),
                    (false, false, View::Timeline),
                    (true, true, View::Timeline),
                ] {
                    let ui = UiState {
                        help_open: help,
                        inspector_open: insp,
                        selected_lane: 7,
                        view,
                        ..ui(lanes)
                    };
                    let _ = render_to_buffer(snap, &ui, &theme(), w, h);
                }
            }
        }
    }
}

#[test]
fn tiny_screens() {
    let snap = snapshot_fixture(3);
    assert_eq!(render_to_string(&snap, &ui(3), &theme(), 0, 0), "");
    let one = render_to_string(&snap, &ui(3), &theme(), 1, 1);
    assert_eq!(one.chars().count(), 1);
}

#[test]
fn two_to_ten_lanes_fit_at_80x24() {
    for lanes in 2..=10 {
        let snap = snapshot_fixture(lanes);
        for inspector in [false, true] {
            let ui = UiState {
                inspector_open: inspector,
                ..ui(lanes)
            };
            let text = render_to_string(&snap, &ui, &theme(), 80, 24);
            assert!(!text.contains("too small"), "{lanes} lanes:\n{text}");
            for lane in &snap.lanes {
                assert!(text.contains(&lane.name), "{lanes} lanes:\n{text}");
            }
        }
    }
}

fn find(buf: &ratatui::buffer::Buffer, needle: &str) -> Option<(u16, u16)> {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let mut rest = needle;
            let mut cx = x;
            while let Some(c) = rest.chars().next() {
                if cx >= area.right() || !buf[(cx, y)].symbol().starts_with(c) {
                    break;
                }
                rest = &rest[c.len_utf8()..];
                cx += 1;
            }
            if rest.is_empty() {
                return Some((x, y));
            }
        }
    }
    None
}

#[test]
fn leader_row_uses_the_leader_style() {
    let snap = snapshot_fixture(3);
    let t = theme();
    let buf = render_to_buffer(&snap, &ui(3), &t, 100, 30);
    let (_, title_y) = find(&buf, "Leaderboard").unwrap();
    let (x, y) = (title_y..buf.area.bottom())
        .find_map(|y| {
            (0..buf.area.width).find_map(|x| {
                (buf[(x, y)].symbol() == "v" && buf[(x + 1, y)].symbol() == "l").then_some((x, y))
            })
        })
        .unwrap();
    assert_eq!(buf[(x, y)].fg, t.leader.fg.unwrap());
    assert!(
        buf[(x, y)]
            .modifier
            .contains(ratatui::style::Modifier::BOLD)
    );
    // The second place is not styled as the leader.
    let (x2, y2) = (title_y..buf.area.bottom())
        .find_map(|y| {
            (0..buf.area.width).find_map(|x| {
                (buf[(x, y)].symbol() == "t" && buf[(x + 1, y)].symbol() == "g").then_some((x, y))
            })
        })
        .unwrap();
    assert_ne!(buf[(x2, y2)].fg, t.leader.fg.unwrap());
}

#[test]
fn bad_ttft_sparkline_uses_the_bad_style() {
    let snap = snapshot_fixture(3);
    assert_eq!(snap.lanes[2].grades.ttft_grade, Grade::Bad);
    let t = theme();
    let buf = render_to_buffer(&snap, &ui(3), &t, 100, 30);
    // Lane 2's title row, then its TTFT cell three rows below.
    let (_, title_y) = find(&buf, "sglang").unwrap();
    let (ttft_x, ttft_y) = (title_y..buf.area.bottom())
        .find_map(|y| {
            (0..buf.area.width - 4).find_map(|x| {
                (buf[(x, y)].symbol() == "T"
                    && buf[(x + 1, y)].symbol() == "T"
                    && buf[(x + 2, y)].symbol() == "F")
                    .then_some((x, y))
            })
        })
        .unwrap();
    let bars = "▁▂▃▄▅▆▇█";
    let spark = (ttft_x..ttft_x + 30)
        .map(|x| &buf[(x, ttft_y)])
        .find(|c| bars.contains(c.symbol()) && !c.symbol().trim().is_empty())
        .unwrap();
    assert_eq!(spark.fg, t.bad.fg.unwrap());
}

#[test]
fn mono_theme_draws_no_colours() {
    let t = Theme::mono();
    for snap in [
        snapshot_fixture(3),
        failing_fixture(),
        finished_fixture(10),
        empty_fixture(3),
    ] {
        for ui in [
            ui(3),
            UiState {
                help_open: true,
                inspector_open: true,
                paused: true,
                ..ui(3)
            },
        ] {
            for (w, h) in [(100, 30), (80, 24), (60, 20)] {
                let buf = render_to_buffer(&snap, &ui, &t, w, h);
                for cell in &buf.content {
                    assert_eq!(cell.fg, Color::Reset, "{cell:?}");
                    assert_eq!(cell.bg, Color::Reset, "{cell:?}");
                }
            }
        }
    }
}

#[test]
fn selected_lane_border_is_highlighted() {
    let snap = snapshot_fixture(3);
    let t = theme();
    let ui = UiState {
        selected_lane: 1,
        ..ui(3)
    };
    let buf = render_to_buffer(&snap, &ui, &t, 100, 30);
    let (_, y) = find(&buf, "tgi").unwrap();
    let (_, y0) = find(&buf, "vllm").unwrap();
    let x = 0;
    assert_eq!(buf[(x, y)].symbol(), "┌");
    assert_eq!(buf[(x, y)].fg, t.border_selected.fg.unwrap());
    assert_eq!(buf[(x, y0)].fg, t.border.fg.unwrap());
}

#[test]
fn an_embeddings_lane_shows_its_latency_and_inputs_and_no_token_figures() {
    let mut snap = snapshot_fixture(2);
    let lane = &mut snap.lanes[0];
    lane.embeddings = Some(crate::metrics::figures::EmbeddingRates {
        inputs_per_request: 8,
        inputs: 1000,
        inputs_per_s: 812.0,
        input_tokens_per_s: 40_000.0,
    });
    lane.latencies.ttft = crate::metrics::LatencySummary::default();
    lane.latencies.tpot = crate::metrics::LatencySummary::default();
    let name = lane.name.clone();
    let text = render_to_string(&snap, &ui(2), &theme(), 140, 40);
    assert!(
        text.contains("in/s 812") || text.contains("812in/s"),
        "{text}"
    );
    assert!(
        text.contains("embeddings and generation: not the same figures"),
        "{text}"
    );
    // Where it does not fit whole, it is left out rather than cut.
    let narrow = render_to_string(&snap, &ui(2), &theme(), 80, 24);
    assert!(!narrow.contains("embeddings a"), "{narrow}");
    let lane_rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains(&name))
        .take(4)
        .collect();
    assert!(
        lane_rows
            .iter()
            .all(|l| !l.contains("TTFT") && !l.contains("tok/s")),
        "{lane_rows:#?}"
    );
    // The chart of TTFT draws the engine that generates, not the other.
    assert!(!text.contains(&format!("━ {name}")), "{text}");
    // Its details: E2E and what it embedded.
    let drill = render_to_string(&snap, &drill(2, 0), &theme(), 140, 45);
    assert!(drill.contains("inputs embedded (8 a request)"), "{drill}");
    assert!(!drill.contains("TTFT   "), "{drill}");
}

#[test]
fn the_details_compare_the_engine_with_each_other_one_from_its_side() {
    use crate::metrics::pairs::{PairComparison, Ratio};
    let mut snap = snapshot_fixture(3);
    let slower = Ratio {
        pairs: 400,
        median: 1.25,
        ci95: [1.2, 1.3],
        at_edge: false,
    };
    snap.pairs = vec![PairComparison {
        a: 0,
        b: 1,
        ttft: Some(slower),
        e2e: Some(slower),
    }];
    let (first, second) = (snap.lanes[0].name.clone(), snap.lanes[1].name.clone());
    let from_a = render_to_string(&snap, &drill(3, 0), &theme(), 140, 45);
    assert!(from_a.contains(&format!("vs {second}")), "{from_a}");
    assert!(from_a.contains("TTFT ×1.25 (1.20–1.30) slower"), "{from_a}");
    let from_b = render_to_string(&snap, &drill(3, 1), &theme(), 140, 45);
    assert!(from_b.contains(&format!("vs {first}")), "{from_b}");
    assert!(from_b.contains("TTFT ×0.80 (0.77–0.83) faster"), "{from_b}");
    let third = render_to_string(&snap, &drill(3, 2), &theme(), 140, 45);
    assert!(!third.contains("request by request"), "{third}");
}
