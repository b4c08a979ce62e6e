//! The help overlay, drawn from the key binding table so it cannot drift
//! from the keys.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::pad;
use crate::ui::theme::Theme;

pub struct HelpOverlay<'a> {
    pub theme: &'a Theme,
    /// The bindings to list: a race's or a replay's.
    pub keys: &'a [(&'a str, &'a str)],
}

impl HelpOverlay<'_> {
    /// The centred rectangle the overlay takes within `area`.
    #[must_use]
    pub fn area(area: Rect, keys: &[(&str, &str)]) -> Rect {
        let key_w = keys
            .iter()
            .map(|(k, _)| Span::raw(*k).width())
            .max()
            .unwrap_or(0);
        let text_w = keys
            .iter()
            .map(|(_, d)| Span::raw(*d).width())
            .max()
            .unwrap_or(0);
        let want_w = u16::try_from(key_w + text_w + 6).unwrap_or(u16::MAX);
        let want_h = u16::try_from(keys.len() + 4).unwrap_or(u16::MAX);
        area.centered(
            Constraint::Length(want_w.min(area.width)),
            Constraint::Length(want_h.min(area.height)),
        )
    }
}

impl Widget for &HelpOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let rect = HelpOverlay::area(area, self.keys);
        if rect.is_empty() {
            return;
        }
        Clear.render(rect, buf);
        let key_w = self
            .keys
            .iter()
            .map(|(k, _)| Span::raw(*k).width())
            .max()
            .unwrap_or(0);
        let mut lines = vec![Line::default()];
        lines.extend(self.keys.iter().map(|(keys, what)| {
            Line::from(vec![
                Span::raw(" "),
                Span::styled(pad(keys, key_w + 2), t.help_key),
                Span::styled(*what, t.text),
            ])
        }));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(
                Block::bordered()
                    .border_style(t.border_selected)
                    .title(Span::styled(" Help — keys ", t.title))
                    .title_bottom(
                        Line::from(Span::styled(" ? or Esc to close ", t.dim)).right_aligned(),
                    ),
            )
            .render(rect, buf);
    }
}
