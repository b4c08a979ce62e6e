//! The explainer (`e`): what each number means and how it is computed,
//! read from docs/METRICS.md itself (compiled in), so the screen and the
//! document cannot disagree. The Markdown is rendered (tui-markdown:
//! headings, emphasis, code, tables with their cells wrapped to the
//! width), its paragraphs wrapped on words; it scrolls by screen line,
//! a page at a time with PgUp/PgDn, and `←`/`→` jump between sections.

use std::sync::{Arc, Mutex};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::ui::theme::Theme;

/// The text shown: docs/METRICS.md, as shipped.
pub const TEXT: &str = include_str!("../../../docs/METRICS.md");

/// The explainer's text area in a terminal of `screen` (columns, rows):
/// the body between the header and the footer, less its border.
#[must_use]
pub fn text_size(screen: (u16, u16)) -> (u16, u16) {
    // Never smaller than the smallest screen drawn (also before the first
    // size is known).
    let width = screen.0.max(super::MIN_WIDTH);
    let height = screen.1.max(super::MIN_HEIGHT);
    let body = height.saturating_sub(super::HEADER_HEIGHT + 1);
    (width.saturating_sub(2), body.saturating_sub(2))
}

/// The document's styles, from the theme.
#[derive(Debug, Clone, PartialEq)]
struct Sheet {
    heading: Style,
    code: Style,
    quote: Style,
    dim: Style,
}

impl Sheet {
    fn of(theme: &Theme) -> Sheet {
        Sheet {
            heading: theme.title.add_modifier(Modifier::BOLD),
            code: theme.help_key,
            quote: theme.dim,
            dim: theme.dim,
        }
    }
}

impl tui_markdown::StyleSheet for Sheet {
    fn heading(&self, _level: u8) -> Style {
        self.heading
    }

    fn heading_marker(&self, _level: u8) -> &str {
        ""
    }

    fn code(&self) -> Style {
        self.code
    }

    fn link(&self) -> Style {
        self.code
    }

    fn blockquote(&self) -> Style {
        self.quote
    }

    fn heading_meta(&self) -> Style {
        self.dim
    }

    fn code_block_fence(&self) -> &str {
        ""
    }
}

/// The document laid out for one width: its screen lines, and which of
/// them are headings (where `←`/`→` go).
#[derive(Debug)]
pub struct Document {
    pub lines: Vec<Line<'static>>,
    headings: Vec<usize>,
}

impl Document {
    fn lay_out(width: u16, sheet: &Sheet) -> Document {
        let options = tui_markdown::Options::new(sheet.clone()).table_width(width);
        let text = tui_markdown::from_str_with_options(TEXT, &options);
        let mut lines = Vec::new();
        let mut headings = Vec::new();
        for line in &text.lines {
            let owned = owned(line);
            if line.style == sheet.heading {
                headings.push(lines.len());
            }
            lines.extend(wrap_words(&owned, usize::from(width)));
        }
        Document { lines, headings }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// The first line of the section after the one at `from`, or `from`
    /// at the last.
    #[must_use]
    pub fn next_section(&self, from: usize) -> usize {
        self.headings
            .iter()
            .copied()
            .find(|&h| h > from)
            .unwrap_or(from)
    }

    /// The heading before the one at or above `from`.
    #[must_use]
    pub fn previous_section(&self, from: usize) -> usize {
        self.headings
            .iter()
            .copied()
            .take_while(|&h| h < from)
            .last()
            .unwrap_or(0)
    }
}

/// The document at `width` for `theme`: laid out once per width and
/// theme (a resize lays it out again), not every frame.
#[must_use]
pub fn document(width: u16, theme: &Theme) -> Arc<Document> {
    /// Layouts kept: the screen's, and a few a resize went through.
    const KEPT: usize = 4;
    static LAID_OUT: Mutex<Vec<(u16, Sheet, Arc<Document>)>> = Mutex::new(Vec::new());
    let sheet = Sheet::of(theme);
    let mut cache = LAID_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, _, doc)) = cache.iter().find(|(w, s, _)| *w == width && *s == sheet) {
        return Arc::clone(doc);
    }
    let doc = Arc::new(Document::lay_out(width.max(20), &sheet));
    if cache.len() >= KEPT {
        cache.remove(0);
    }
    cache.push((width, sheet, Arc::clone(&doc)));
    doc
}

/// A line whose text lives as long as the document.
fn owned(line: &Line<'_>) -> Line<'static> {
    Line::from(
        line.spans
            .iter()
            .map(|s| Span::styled(s.content.to_string(), s.style))
            .collect::<Vec<_>>(),
    )
    .style(line.style)
}

/// `line` in rows of at most `width` columns, broken at spaces (a word
/// longer than the width is cut); further rows start under the text, so
/// a list item's lines hang under its first word.
fn wrap_words(line: &Line<'static>, width: usize) -> Vec<Line<'static>> {
    if line.width() <= width || width == 0 {
        return vec![line.clone()];
    }
    let cells: Vec<(char, Style, usize)> = line
        .spans
        .iter()
        .flat_map(|s| {
            s.content
                .chars()
                .map(move |c| (c, s.style, Span::raw(c.to_string()).width()))
        })
        .collect();
    let text: String = cells.iter().map(|c| c.0).collect();
    let lead = text.len() - text.trim_start().len();
    let marker = ["- ", "* ", "+ "]
        .iter()
        .find(|m| text[lead..].starts_with(**m))
        .map_or(0, |m| m.len());
    let hang = (lead + marker).min(width / 2);
    let mut rows = Vec::new();
    let mut start = 0;
    let mut indent = 0;
    while start < cells.len() {
        let room = width - indent;
        let mut used = 0;
        let mut end = start;
        let mut last_break = None;
        while end < cells.len() && used + cells[end].2 <= room {
            if cells[end].0 == ' ' && end > start {
                last_break = Some(end);
            }
            used += cells[end].2;
            end += 1;
        }
        let cut = if end == cells.len() {
            end
        } else {
            last_break.unwrap_or(end.max(start + 1))
        };
        rows.push(row(&cells[start..cut], indent, line.style));
        start = cut;
        while start < cells.len() && cells[start].0 == ' ' {
            start += 1;
        }
        indent = hang;
    }
    rows
}

/// One row of styled cells after `indent` spaces.
fn row(cells: &[(char, Style, usize)], indent: usize, style: Style) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    if indent > 0 {
        spans.push(Span::raw(" ".repeat(indent)));
    }
    for &(c, s, _) in cells {
        match spans.last_mut() {
            Some(last) if last.style == s => last.content.to_mut().push(c),
            _ => spans.push(Span::styled(c.to_string(), s)),
        }
    }
    Line::from(spans).style(style)
}

pub struct Explainer<'a> {
    /// The first screen line shown.
    pub from: usize,
    pub theme: &'a Theme,
}

impl Widget for &Explainer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let t = self.theme;
        let inner_width = area.width.saturating_sub(2);
        let doc = document(inner_width, t);
        let rows = usize::from(area.height.saturating_sub(2));
        let from = self.from.min(doc.len().saturating_sub(rows));
        let to = (from + rows).min(doc.len());
        let block = Block::bordered().border_style(t.border).title(Line::styled(
            format!(
                " What the numbers mean (docs/METRICS.md, lines {}–{to} of {}) ",
                from + 1,
                doc.len()
            ),
            t.title,
        ));
        let inner = block.inner(area);
        block.render(area, buf);
        Paragraph::new(doc.lines[from..to].to_vec())
            .style(t.text)
            .render(inner, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn sections_are_the_documents_headings() {
        let doc = document(78, &Theme::mono());
        let first = doc.next_section(0);
        assert!(first > 0);
        assert_eq!(plain(&doc.lines[first]), "Time");
        let second = doc.next_section(first);
        assert!(second > first);
        assert_eq!(plain(&doc.lines[second]), "Per request");
        assert_eq!(doc.previous_section(second), first);
        assert_eq!(doc.previous_section(first), 0);
        let last = *doc.headings.last().unwrap();
        assert_eq!(doc.next_section(last), last);
    }

    #[test]
    fn the_markdown_is_rendered_and_every_line_fits() {
        for width in [78, 138] {
            let doc = document(width, &Theme::mono());
            for line in &doc.lines {
                assert!(
                    line.width() <= usize::from(width),
                    "{width}: {}",
                    plain(line)
                );
                let text = plain(line);
                // No Markdown syntax is left: table pipes, emphasis, code
                // ticks and heading marks are drawn, not shown.
                assert!(!text.starts_with('|') && !text.starts_with("# "), "{text}");
                assert!(
                    !text.starts_with("## ") && !text.starts_with("### "),
                    "{text}"
                );
                assert!(!text.contains("**") && !text.contains('`'), "{text}");
            }
            let all: Vec<String> = doc.lines.iter().map(plain).collect();
            assert!(all.iter().any(|l| l.starts_with('┌') && l.contains('┬')));
        }
    }

    #[test]
    fn paragraphs_wrap_on_words_and_list_items_hang() {
        let line = Line::from("- one two three four five six seven eight");
        let rows: Vec<String> = wrap_words(&line, 16).iter().map(plain).collect();
        assert_eq!(
            rows,
            ["- one two three", "  four five six", "  seven eight"]
        );
        let long = Line::from("abcdefghijklmnop");
        let rows: Vec<String> = wrap_words(&long, 6).iter().map(plain).collect();
        assert_eq!(rows, ["abcdef", "ghijkl", "mnop"]);
    }
}
