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
    ("i", "inspect"),
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
    ("i", "inspect"),
    ("Esc", "back"),
];
pub const REPLAY_TIMELINE_HINTS: [(&str, &str); 7] = [
    ("q", "quit"),
    ("?", "help"),
    ("p", "pause"),
    ("↑/↓", "request"),
    ("Tab", "engine"),
    ("i", "inspect"),
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
    ("i", "inspect"),
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
        // Two spaces between hints; where they do not all fit, the last
        // give way (`?` lists every key).
        let mut used = 1;
        let shown = hints
            .iter()
            .take_while(|(k, w)| {
                used += Span::raw(*k).width() + 1 + Span::raw(*w).width() + 2;
                used - 2 <= usize::from(area.width)
            })
            .count();
        let gap = "  ";
        for (i, (key, what)) in hints.iter().take(shown.max(2)).enumerate() {
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
        // The race screen's hints fit its narrowest width, two spaces apart.
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 1));
        (&Footer {
            ui: &ui,
            theme: &theme,
        })
            .render(buf.area, &mut buf);
        let mut expected = Buffer::with_lines([
            " q quit  ? help  p pause  i inspect  c charts  d details  t timeline  ←/→ select",
        ]);
        expected.set_style(expected.area, Style::new());
        for (x, len) in [
            (1, 1),
            (9, 1),
            (17, 1),
            (26, 1),
            (37, 1),
            (47, 1),
            (58, 1),
            (70, 3),
        ] {
            expected.set_style(Rect::new(x, 0, len, 1), theme.help_key);
        }
        for (x, len) in [
            (2, 5),
            (10, 5),
            (18, 6),
            (27, 8),
            (38, 7),
            (48, 8),
            (59, 9),
            (73, 7),
        ] {
            expected.set_style(Rect::new(x, 0, len, 1), theme.dim);
        }
        assert_eq!(buf, expected);
    }

    #[test]
    fn hints_that_do_not_fit_give_way_from_the_end() {
        let theme = Theme::mono();
        let ui = UiState::default();
        let mut buf = Buffer::empty(Rect::new(0, 0, 70, 1));
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
            " q quit  ? help  p pause  i inspect  c charts  d details  t timeline"
        );
    }
}
