//! Engine colours as written in race files: the 16 ANSI names (with the
//! aliases the original project's files use) or `#rrggbb`. Parsed here, from
//! plain strings, so the file format does not depend on a terminal library;
//! the TUI maps an [`EngineColor`] to its own colour type.

use crate::names::named_enum;
use std::fmt;

named_enum! {
    /// The 16 ANSI colours, named as in ratatui.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum NamedColor {
        Black = "black",
        Red = "red",
        Green = "green",
        Yellow = "yellow",
        Blue = "blue",
        Magenta = "magenta",
        Cyan = "cyan",
        Gray = "gray",
        DarkGray = "dark_gray",
        LightRed = "light_red",
        LightGreen = "light_green",
        LightYellow = "light_yellow",
        LightBlue = "light_blue",
        LightMagenta = "light_magenta",
        LightCyan = "light_cyan",
        White = "white",
    }
}

/// A colour for an engine's lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineColor {
    Named(NamedColor),
    Rgb(u8, u8, u8),
}

impl fmt::Display for EngineColor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineColor::Named(c) => f.write_str(c.name()),
            EngineColor::Rgb(r, g, b) => write!(f, "#{r:02x}{g:02x}{b:02x}"),
        }
    }
}

/// Aliases accepted besides the canonical names (after normalising case and
/// `-`/space to `_`). `bright_<x>` is handled separately.
const ALIASES: [(&str, EngineColor); 8] = [
    ("purple", EngineColor::Named(NamedColor::Magenta)),
    ("pink", EngineColor::Named(NamedColor::LightMagenta)),
    ("orange", EngineColor::Rgb(255, 165, 0)),
    ("grey", EngineColor::Named(NamedColor::Gray)),
    ("light_gray", EngineColor::Named(NamedColor::Gray)),
    ("light_grey", EngineColor::Named(NamedColor::Gray)),
    ("dark_grey", EngineColor::Named(NamedColor::DarkGray)),
    ("bright_black", EngineColor::Named(NamedColor::DarkGray)),
];

/// Every accepted colour name (canonical names, then aliases), for error
/// messages and "did you mean" suggestions.
pub fn color_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = NamedColor::ALL.iter().map(|c| c.name()).collect();
    names.extend(["purple", "pink", "orange", "grey"]);
    names
}

/// Parses a colour name (case-insensitive, `-` or `_` between words) or
/// `#rrggbb`. `None` when it is neither.
pub fn parse_color(s: &str) -> Option<EngineColor> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix('#') {
        return parse_hex(hex);
    }
    let norm: String = s
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    if let Some(c) = NamedColor::from_name(&norm) {
        return Some(EngineColor::Named(c));
    }
    if let Some((_, c)) = ALIASES.iter().find(|(alias, _)| *alias == norm) {
        return Some(*c);
    }
    let rest = norm.strip_prefix("bright_")?;
    match rest {
        "white" => Some(EngineColor::Named(NamedColor::White)),
        "gray" | "grey" => Some(EngineColor::Named(NamedColor::Gray)),
        "red" | "green" | "yellow" | "blue" | "magenta" | "cyan" => {
            NamedColor::from_name(&format!("light_{rest}")).map(EngineColor::Named)
        }
        "purple" => Some(EngineColor::Named(NamedColor::LightMagenta)),
        _ => None,
    }
}

fn parse_hex(hex: &str) -> Option<EngineColor> {
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some(EngineColor::Rgb(byte(0)?, byte(2)?, byte(4)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(c: NamedColor) -> Option<EngineColor> {
        Some(EngineColor::Named(c))
    }

    #[test]
    fn canonical_names_round_trip() {
        for c in NamedColor::ALL {
            assert_eq!(parse_color(c.name()), named(c));
            assert_eq!(EngineColor::Named(c).to_string(), c.name());
        }
    }

    #[test]
    fn aliases_case_and_separators() {
        assert_eq!(parse_color("purple"), named(NamedColor::Magenta));
        assert_eq!(parse_color("pink"), named(NamedColor::LightMagenta));
        assert_eq!(parse_color("orange"), Some(EngineColor::Rgb(255, 165, 0)));
        assert_eq!(parse_color("grey"), named(NamedColor::Gray));
        assert_eq!(parse_color("bright_blue"), named(NamedColor::LightBlue));
        assert_eq!(parse_color("Bright-Yellow"), named(NamedColor::LightYellow));
        assert_eq!(
            parse_color("bright_magenta"),
            named(NamedColor::LightMagenta)
        );
        assert_eq!(parse_color("bright_black"), named(NamedColor::DarkGray));
        assert_eq!(parse_color("bright_white"), named(NamedColor::White));
        assert_eq!(parse_color("light-blue"), named(NamedColor::LightBlue));
        assert_eq!(parse_color("DARK_GREY"), named(NamedColor::DarkGray));
        assert_eq!(parse_color(" Cyan "), named(NamedColor::Cyan));
    }

    #[test]
    fn hex_colours() {
        assert_eq!(parse_color("#ff8800"), Some(EngineColor::Rgb(255, 136, 0)));
        assert_eq!(parse_color("#FF8800"), Some(EngineColor::Rgb(255, 136, 0)));
        assert_eq!(EngineColor::Rgb(255, 136, 0).to_string(), "#ff8800");
        for bad in ["#ff880", "#ff88000", "#gg8800", "#", "#ff88é0"] {
            assert_eq!(parse_color(bad), None, "{bad}");
        }
    }

    #[test]
    fn unknown_names() {
        for bad in [
            "",
            "rainbow",
            "bright_",
            "bright_orange",
            "light_white",
            "brightblue",
        ] {
            assert_eq!(parse_color(bad), None, "{bad}");
        }
    }
}
