//! The explainer (`e`): what each number means and how it is computed,
//! read from docs/METRICS.md itself (compiled in), so the screen and the
//! document cannot disagree. Scrolls by source line; `←`/`→` jump between
//! sections.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::wrap;
use crate::ui::theme::Theme;

/// The text shown: docs/METRICS.md, as shipped.
pub const TEXT: &str = include_str!("../../../docs/METRICS.md");

/// Source lines a page scrolls.
pub const PAGE: usize = 20;

/// The source lines.
fn lines() -> impl Iterator<Item = &'static str> {
    TEXT.lines()
}

/// How many source lines there are (the last scroll position).
#[must_use]
pub fn line_count() -> usize {
    lines().count()
}

/// The first line of the section after `from` (a `#` heading), or `from`.
#[must_use]
pub fn next_section(from: usize) -> usize {
    lines()
        .enumerate()
        .skip(from + 1)
        .find(|(_, l)| l.starts_with('#'))
        .map_or(from, |(i, _)| i)
}

/// The heading at or before the one above `from`.
#[must_use]
pub fn previous_section(from: usize) -> usize {
    let headings: Vec<usize> = lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with('#'))
        .map(|(i, _)| i)
        .take_while(|&i| i < from)
        .collect();
    headings.last().copied().unwrap_or(0)
}

pub struct Explainer<'a> {
    /// The source line at the top.
    pub from: usize,
    pub theme: &'a Theme,
}

impl Widget for &Explainer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let t = self.theme;
        let total = line_count();
        let block = Block::bordered().border_style(t.border).title(Line::styled(
            format!(
                " What the numbers mean (docs/METRICS.md, line {} of {total}) ",
                self.from + 1
            ),
            t.title,
        ));
        let inner = block.inner(area);
        block.render(area, buf);
        let width = usize::from(inner.width);
        let mut shown: Vec<Line> = Vec::new();
        for line in lines().skip(self.from) {
            if shown.len() >= usize::from(inner.height) {
                break;
            }
            let style = if line.starts_with('#') {
                t.title
            } else if line.starts_with('|') {
                t.text
            } else {
                t.dim
            };
            let text = line.trim_start_matches('#').trim_start();
            let text = if line.starts_with('#') { text } else { line };
            for piece in wrap(text, width) {
                shown.push(Line::from(Span::styled(piece, style)));
            }
        }
        shown.truncate(usize::from(inner.height));
        Paragraph::new(shown).render(inner, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_the_documents_headings() {
        let first = next_section(0);
        assert!(
            TEXT.lines()
                .nth(first)
                .is_some_and(|l| l.starts_with("## "))
        );
        let second = next_section(first);
        assert!(second > first);
        assert_eq!(previous_section(second), first);
        assert_eq!(previous_section(first), 0);
        // At the last heading there is nowhere further to go.
        let last = TEXT
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with('#'))
            .map(|(i, _)| i)
            .last()
            .unwrap_or(0);
        assert_eq!(next_section(last), last);
    }
}
