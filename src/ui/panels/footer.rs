//! The key hints line.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::ui::state::{UiState, View};
use crate::ui::theme::Theme;

/// Key hints shown at the bottom: (key, what it does).
pub const HINTS: [(&str, &str); 8] = [
    ("q", "quit"),
    ("?", "help"),
    ("p", "pause"),
    ("i", "inspector"),
    ("c", "charts"),
    ("d", "details"),
    ("t", "timeline"),
    ("←/→", "select"),
];

/// The explainer's key hints.
pub const EXPLAINER_HINTS: [(&str, &str); 5] = [
    ("q", "quit"),
    ("↑/↓", "scroll"),
    ("PgUp/PgDn", "page"),
    ("←/→", "section"),
    ("Esc", "back"),
];

/// The timeline's key hints (in a replay, ←/→ seek and Tab selects).
pub const TIMELINE_HINTS: [(&str, &str); 7] = [
    ("q", "quit"),
    ("?", "help"),
    ("p", "pause"),
    ("↑/↓", "request"),
    ("←/→", "engine"),
    ("i", "inspector"),
    ("Esc", "back"),
];
pub const REPLAY_TIMELINE_HINTS: [(&str, &str); 7] = [
    ("q", "quit"),
    ("?", "help"),
    ("p", "pause"),
    ("↑/↓", "request"),
    ("Tab", "engine"),
    ("i", "inspector"),
    ("Esc", "back"),
];

/// The drill-down's key hints.
pub const DRILL_HINTS: [(&str, &str); 5] = [
    ("q", "quit"),
    ("?", "help"),
    ("p", "pause"),
    ("←/→", "engine"),
    ("Esc", "back"),
];

/// The charts view's key hints.
pub const CHART_HINTS: [(&str, &str); 5] = [
    ("q", "quit"),
    ("?", "help"),
    ("p", "pause"),
    ("←/→", "metric"),
    ("Esc", "back"),
];

/// A replay's key hints.
pub const REPLAY_HINTS: [(&str, &str); 7] = [
    ("q", "quit"),
    ("?", "help"),
    ("space", "play/pause"),
    ("+/-", "speed"),
    ("←/→", "seek"),
    ("i", "inspector"),
    ("c", "charts"),
];

pub struct Footer<'a> {
    pub ui: &'a UiState,
    pub theme: &'a Theme,
}

impl Widget for &Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let mut spans = vec![Span::raw(" ")];
        let hints: &[(&str, &str)] = if self.ui.view == View::Charts {
            &CHART_HINTS
        } else if self.ui.view == View::Drill {
            &DRILL_HINTS
        } else if self.ui.view == View::Explainer {
            &EXPLAINER_HINTS
        } else if self.ui.view == View::Timeline {
            if self.ui.replay.is_some() {
                &REPLAY_TIMELINE_HINTS
            } else {
                &TIMELINE_HINTS
            }
        } else if self.ui.replay.is_some() {
            &REPLAY_HINTS
        } else {
            &HINTS
        };
        // Two spaces between hints, one where two would not fit.
        let width: usize = hints
            .iter()
            .map(|(k, w)| Span::raw(*k).width() + 1 + Span::raw(*w).width())
            .sum();
        let gap = if 1 + width + 2 * hints.len().saturating_sub(1) <= usize::from(area.width) {
            "  "
        } else {
            " "
        };
        for (i, (key, what)) in hints.iter().enumerate() {
            if i > 0 {
                spans.push(Span::raw(gap));
            }
            let what = match (*key, self.ui.paused, self.ui.finished) {
                ("p", true, _) => "resume",
                ("q", _, true) => "leave",
                _ => what,
            };
            spans.push(Span::styled(*key, t.help_key));
            spans.push(Span::styled(format!(" {what}"), t.dim));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use ratatui::style::Style;

    use super::*;

    #[test]
    fn footer_lists_the_key_hints() {
        let theme = Theme::mono();
        let ui = UiState::default();
        let mut buf = Buffer::empty(Rect::new(0, 0, 82, 1));
        (&Footer {
            ui: &ui,
            theme: &theme,
        })
            .render(buf.area, &mut buf);
        let mut expected = Buffer::with_lines([
            " q quit  ? help  p pause  i inspector  c charts  d details  t timeline  ←/→ select",
        ]);
        expected.set_style(expected.area, Style::new());
        for (x, len) in [
            (1, 1),
            (9, 1),
            (17, 1),
            (26, 1),
            (39, 1),
            (49, 1),
            (60, 1),
            (72, 3),
        ] {
            expected.set_style(Rect::new(x, 0, len, 1), theme.help_key);
        }
        for (x, len) in [
            (2, 5),
            (10, 5),
            (18, 6),
            (27, 10),
            (40, 7),
            (50, 8),
            (61, 9),
            (75, 7),
        ] {
            expected.set_style(Rect::new(x, 0, len, 1), theme.dim);
        }
        assert_eq!(buf, expected);
    }

    #[test]
    fn hints_close_up_to_one_space_where_two_do_not_fit() {
        let theme = Theme::mono();
        let ui = UiState::default();
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 1));
        (&Footer {
            ui: &ui,
            theme: &theme,
        })
            .render(buf.area, &mut buf);
        let text: String = buf
            .content()
            .iter()
            .map(ratatui::buffer::Cell::symbol)
            .collect();
        assert_eq!(
            text.trim_end(),
            " q quit ? help p pause i inspector c charts d details t timeline ←/→ select"
        );
    }
}
