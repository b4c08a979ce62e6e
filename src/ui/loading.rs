//! The loading screen: while a race's dataset and tokenizers load (and
//! download), the TUI already owns the screen and shows what is happening
//! and how far it has got. Only the drawing lives here; the session runs in
//! the one event loop (`run.rs`), over the `LoadView` that loop reads from
//! the shared `LoadStatus`.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};

use super::theme::Theme;
use crate::workload::LoadView;

const SPINNER: [&str; 4] = ["◐", "◓", "◑", "◒"];
/// How often the spinner moves; each step is a change to draw, and also
/// when the load's progress is read again.
pub const SPINNER_STEP: Duration = Duration::from_millis(100);

fn bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0} kB", n / 1e3)
    } else {
        format!("{n:.0} B")
    }
}

/// The loading screen: the race's name, the current step, and a gauge with
/// size, speed and time left when the step knows its total.
pub fn render_loading(
    frame: &mut Frame,
    race_name: &str,
    view: Option<&LoadView>,
    frame_no: usize,
    theme: &Theme,
) {
    let area = frame.area().centered(
        Constraint::Length(frame.area().width.min(72)),
        Constraint::Length(7),
    );
    let block = Block::bordered()
        .border_style(theme.border_selected)
        .title(Span::styled(format!(" 🏁 {race_name} "), theme.title))
        .title_bottom(Line::from(Span::styled(" q to quit ", theme.dim)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [step, gauge, detail] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let spinner = SPINNER[frame_no % SPINNER.len()];
    let message = view.map_or("getting ready", |v| v.message.as_str());
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!(" {spinner} "), theme.leader),
            Span::styled(format!("Loading: {message}"), theme.text),
        ])),
        step,
    );
    if let Some(v) = view
        && let Some(total) = v.total.filter(|t| *t > 0)
    {
        #[allow(clippy::cast_precision_loss)]
        let ratio = (v.done as f64 / total as f64).clamp(0.0, 1.0);
        frame.render_widget(
            Gauge::default()
                .gauge_style(theme.good)
                .ratio(ratio)
                .label(format!("{:.0} %", ratio * 100.0)),
            gauge,
        );
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let speed = bytes(v.per_sec.max(0.0) as u64);
        let eta = v
            .eta
            .map_or_else(String::new, |e| format!("  ·  {} s left", e.as_secs()));
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(" {} of {}  ·  {speed}/s{eta}", bytes(v.done), bytes(total)),
                theme.dim,
            )),
            detail,
        );
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;

    fn screen(view: Option<&LoadView>) -> String {
        let mut terminal = Terminal::new(TestBackend::new(80, 12)).unwrap();
        terminal
            .draw(|f| render_loading(f, "Chat showdown", view, 0, &Theme::mono()))
            .unwrap();
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                text.push_str(buffer[(x, y)].symbol());
            }
            text.push('\n');
        }
        text
    }

    #[test]
    fn a_download_shows_its_progress_and_a_step_without_total_only_its_name() {
        let download = LoadView {
            message: "downloading dataset 'sharegpt'".into(),
            done: 167_500_000,
            total: Some(670_000_000),
            per_sec: 12_000_000.0,
            eta: Some(Duration::from_secs(42)),
        };
        let text = screen(Some(&download));
        assert!(text.contains("Chat showdown"), "{text}");
        assert!(
            text.contains("Loading: downloading dataset 'sharegpt'"),
            "{text}"
        );
        assert!(text.contains("25 %"), "{text}");
        assert!(text.contains("167.5 MB of 670.0 MB"), "{text}");
        assert!(
            text.contains("12.0 MB/s") && text.contains("42 s left"),
            "{text}"
        );

        let text = screen(None);
        assert!(text.contains("Loading: getting ready"), "{text}");
        assert!(!text.contains('%'), "{text}");
    }
}
