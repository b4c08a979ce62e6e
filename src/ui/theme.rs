//! TUI themes: semantic roles (text, leader, good, bad, badges, ...) mapped
//! to ratatui styles. Theme files (`themes/*.yaml`) use our own colour
//! strings (`"cyan"`, `"light-blue"`, `"#ff8800"`, `"indexed(208)"`,
//! `"reset"`), parsed here, never ratatui's serde format (STYLE rule 29).
//! A file may be partial: the roles it leaves out come from the built-in
//! default. The shipped files are embedded so the binary works from any
//! directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::config::color::{EngineColor, NamedColor, parse_color};

/// Colours and text attributes for every role the views draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub text: Style,
    pub dim: Style,
    pub title: Style,
    pub border: Style,
    pub border_selected: Style,
    pub leader: Style,
    pub good: Style,
    pub ok: Style,
    pub bad: Style,
    pub badge_initializing: Style,
    pub badge_healthy: Style,
    pub badge_warning: Style,
    pub badge_error: Style,
    pub help_key: Style,
    /// Draw each engine's lane in the colour from the race file.
    pub use_lane_colors: bool,
}

/// The built-in theme names (files shipped in `themes/`).
pub const BUILTIN_THEMES: [&str; 7] = [
    "default",
    "dark",
    "light",
    "hacker",
    "retro",
    "colorblind",
    "mono",
];

const EMBEDDED: [(&str, &str); 7] = [
    ("default", include_str!("../../themes/default.yaml")),
    ("dark", include_str!("../../themes/dark.yaml")),
    ("light", include_str!("../../themes/light.yaml")),
    ("hacker", include_str!("../../themes/hacker.yaml")),
    ("retro", include_str!("../../themes/retro.yaml")),
    ("colorblind", include_str!("../../themes/colorblind.yaml")),
    ("mono", include_str!("../../themes/mono.yaml")),
];

/// The role names a theme file may set.
pub const ROLE_NAMES: [&str; 14] = [
    "text",
    "dim",
    "title",
    "border",
    "border.selected",
    "leader",
    "good",
    "ok",
    "bad",
    "badge.initializing",
    "badge.healthy",
    "badge.warning",
    "badge.error",
    "help.key",
];

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error(
        "theme `{name}` not found: no file {} and no built-in theme of that name; use one of {} or a path to a .yaml file",
        path.display(),
        BUILTIN_THEMES.join(", ")
    )]
    NotFound { name: String, path: PathBuf },
    #[error("cannot read theme file {}: {source}; check the path", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid theme file {file}: {message}; fix the file or pick a built-in theme ({})", BUILTIN_THEMES.join(", "))]
    Invalid { file: String, message: String },
    #[error(
        "invalid colour `{0}`: use a name (cyan, light-blue, ...), #rrggbb, indexed(0-255) or reset"
    )]
    Color(String),
}

/// One role in a theme file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    bold: Option<bool>,
    dim: Option<bool>,
    italic: Option<bool>,
    underlined: Option<bool>,
    reversed: Option<bool>,
}

/// A theme file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    lane_colors: Option<bool>,
    #[serde(default)]
    roles: BTreeMap<String, StyleSpec>,
}

/// Parses one of our colour strings: a colour name (as in race files,
/// `light-blue`, `bright_red`, ...), `#rrggbb`, `indexed(N)` or `reset`.
pub fn parse_theme_color(s: &str) -> Result<Color, ThemeError> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if lower == "reset" || lower == "default" || lower == "none" {
        return Ok(Color::Reset);
    }
    if let Some(inner) = lower
        .strip_prefix("indexed(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return inner
            .trim()
            .parse::<u8>()
            .map(Color::Indexed)
            .map_err(|_| ThemeError::Color(s.to_string()));
    }
    parse_color(t)
        .map(engine_to_color)
        .ok_or_else(|| ThemeError::Color(s.to_string()))
}

/// An engine colour as a ratatui colour.
#[must_use]
pub fn engine_to_color(c: EngineColor) -> Color {
    match c {
        EngineColor::Rgb(r, g, b) => Color::Rgb(r, g, b),
        EngineColor::Named(n) => match n {
            NamedColor::Black => Color::Black,
            NamedColor::Red => Color::Red,
            NamedColor::Green => Color::Green,
            NamedColor::Yellow => Color::Yellow,
            NamedColor::Blue => Color::Blue,
            NamedColor::Magenta => Color::Magenta,
            NamedColor::Cyan => Color::Cyan,
            NamedColor::Gray => Color::Gray,
            NamedColor::DarkGray => Color::DarkGray,
            NamedColor::LightRed => Color::LightRed,
            NamedColor::LightGreen => Color::LightGreen,
            NamedColor::LightYellow => Color::LightYellow,
            NamedColor::LightBlue => Color::LightBlue,
            NamedColor::LightMagenta => Color::LightMagenta,
            NamedColor::LightCyan => Color::LightCyan,
            NamedColor::White => Color::White,
        },
    }
}

fn fg(c: Color) -> Style {
    Style::new().fg(c)
}

fn badge(fg_c: Color, bg_c: Color) -> Style {
    Style::new().fg(fg_c).bg(bg_c).add_modifier(Modifier::BOLD)
}

impl Theme {
    /// The built-in default: the 16 ANSI colours only, readable on any
    /// colour terminal. `themes/default.yaml` holds the same values.
    #[must_use]
    pub fn default_theme() -> Theme {
        Theme {
            text: Style::new(),
            dim: fg(Color::DarkGray),
            title: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            border: fg(Color::Gray),
            border_selected: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            leader: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            good: fg(Color::Green),
            ok: fg(Color::Yellow),
            bad: fg(Color::Red),
            badge_initializing: badge(Color::Black, Color::Gray),
            badge_healthy: badge(Color::Black, Color::Green),
            badge_warning: badge(Color::Black, Color::Yellow),
            badge_error: badge(Color::White, Color::Red),
            help_key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            use_lane_colors: true,
        }
    }

    /// No colours at all (for `NO_COLOR`): bold, dim and reversed only.
    #[must_use]
    pub fn mono() -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let dim = Style::new().add_modifier(Modifier::DIM);
        let rev = Style::new().add_modifier(Modifier::REVERSED);
        Theme {
            text: Style::new(),
            dim,
            title: bold,
            border: Style::new(),
            border_selected: bold,
            leader: bold.add_modifier(Modifier::REVERSED),
            good: Style::new(),
            ok: Style::new(),
            bad: bold,
            badge_initializing: dim,
            badge_healthy: rev,
            badge_warning: bold,
            badge_error: bold.add_modifier(Modifier::REVERSED),
            help_key: bold,
            use_lane_colors: false,
        }
    }

    /// The colour for an engine's lane (`Color::Reset` when the theme does
    /// not use lane colours).
    #[must_use]
    pub fn lane_color(&self, engine_color: EngineColor) -> Color {
        if !self.use_lane_colors {
            return Color::Reset;
        }
        engine_to_color(engine_color)
    }

    fn role_mut(&mut self, role: &str) -> Option<&mut Style> {
        Some(match role {
            "text" => &mut self.text,
            "dim" => &mut self.dim,
            "title" => &mut self.title,
            "border" => &mut self.border,
            "border.selected" => &mut self.border_selected,
            "leader" => &mut self.leader,
            "good" => &mut self.good,
            "ok" => &mut self.ok,
            "bad" => &mut self.bad,
            "badge.initializing" => &mut self.badge_initializing,
            "badge.healthy" => &mut self.badge_healthy,
            "badge.warning" => &mut self.badge_warning,
            "badge.error" => &mut self.badge_error,
            "help.key" => &mut self.help_key,
            _ => return None,
        })
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::default_theme()
    }
}

fn style_from_spec(spec: &StyleSpec) -> Result<Style, ThemeError> {
    let mut style = Style::new();
    if let Some(c) = &spec.fg {
        style = style.fg(parse_theme_color(c)?);
    }
    if let Some(c) = &spec.bg {
        style = style.bg(parse_theme_color(c)?);
    }
    for (flag, modifier) in [
        (spec.bold, Modifier::BOLD),
        (spec.dim, Modifier::DIM),
        (spec.italic, Modifier::ITALIC),
        (spec.underlined, Modifier::UNDERLINED),
        (spec.reversed, Modifier::REVERSED),
    ] {
        if flag == Some(true) {
            style = style.add_modifier(modifier);
        }
    }
    Ok(style)
}

/// Parses theme YAML over the built-in default. `file` names the source in
/// error messages.
pub fn parse_theme(yaml: &str, file: &str) -> Result<Theme, ThemeError> {
    let invalid = |message: String| ThemeError::Invalid {
        file: file.to_string(),
        message,
    };
    let parsed: Option<ThemeFile> =
        serde_yaml::from_str(yaml).map_err(|e| invalid(e.to_string()))?;
    let parsed = parsed.unwrap_or_default();
    let mut theme = Theme::default_theme();
    if let Some(lane_colors) = parsed.lane_colors {
        theme.use_lane_colors = lane_colors;
    }
    for (role, spec) in &parsed.roles {
        let style = style_from_spec(spec).map_err(|e| invalid(format!("role `{role}`: {e}")))?;
        let slot = theme.role_mut(role).ok_or_else(|| {
            invalid(format!(
                "unknown role `{role}` (known roles: {})",
                ROLE_NAMES.join(", ")
            ))
        })?;
        *slot = style;
    }
    Ok(theme)
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.contains('\\') || s.ends_with(".yaml") || s.ends_with(".yml")
}

fn load_file(path: &Path) -> Result<Theme, ThemeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ThemeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_theme(&text, &path.display().to_string())
}

/// Loads a theme by name (`themes_dir/<name>.yaml`, else the embedded copy
/// of a shipped theme) or from a path to a YAML file.
pub fn load_theme(name_or_path: &str, themes_dir: &Path) -> Result<Theme, ThemeError> {
    let name = name_or_path.trim();
    if looks_like_path(name) {
        return load_file(Path::new(name));
    }
    let path = themes_dir.join(format!("{name}.yaml"));
    if path.is_file() {
        return load_file(&path);
    }
    match EMBEDDED.iter().find(|(n, _)| *n == name) {
        Some((n, text)) => parse_theme(text, &format!("(built-in) themes/{n}.yaml")),
        None => Err(ThemeError::NotFound {
            name: name.to_string(),
            path,
        }),
    }
}

/// The theme for `--theme` (if given) and the environment: `NO_COLOR` and
/// `LLM_LOCUST_THEME` (see [`choose_theme`]); with a warning to show when a
/// theme from the environment was not used.
pub fn theme_from_env(
    cli: Option<&str>,
    themes_dir: &Path,
) -> Result<(Theme, Option<String>), ThemeError> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let env_theme = std::env::var("LLM_LOCUST_THEME").ok();
    choose_theme(cli, env_theme.as_deref(), no_color, themes_dir)
}

/// Picks the theme: `NO_COLOR` → mono; an explicit (CLI) theme must load;
/// a theme from `LLM_LOCUST_THEME` that fails falls back to the built-in
/// default with a warning; otherwise `default` (from `themes_dir`, falling
/// back to the built-in one with a warning if that file is broken).
pub fn choose_theme(
    cli: Option<&str>,
    env_theme: Option<&str>,
    no_color: bool,
    themes_dir: &Path,
) -> Result<(Theme, Option<String>), ThemeError> {
    if no_color {
        return Ok((Theme::mono(), None));
    }
    if let Some(name) = nonempty(cli) {
        return load_theme(name, themes_dir).map(|t| (t, None));
    }
    let (name, origin) = match nonempty(env_theme) {
        Some(name) => (name, "LLM_LOCUST_THEME"),
        None => ("default", "the default theme"),
    };
    match load_theme(name, themes_dir) {
        Ok(theme) => Ok((theme, None)),
        Err(e) => Ok((
            Theme::default_theme(),
            Some(format!(
                "{origin} ({name}) not used, showing the built-in default: {e}"
            )),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn themes_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("themes")
    }

    #[test]
    fn colour_strings() {
        assert_eq!(
            parse_theme_color("#ff8800").unwrap(),
            Color::Rgb(255, 136, 0)
        );
        assert_eq!(parse_theme_color("light-blue").unwrap(), Color::LightBlue);
        assert_eq!(parse_theme_color("bright_red").unwrap(), Color::LightRed);
        assert_eq!(
            parse_theme_color("indexed(208)").unwrap(),
            Color::Indexed(208)
        );
        assert_eq!(parse_theme_color("reset").unwrap(), Color::Reset);
        for bad in ["rainbow", "indexed(256)", "indexed()", "#ff88", ""] {
            let err = parse_theme_color(bad).unwrap_err();
            assert!(matches!(err, ThemeError::Color(_)), "{bad}");
        }
    }

    #[test]
    fn every_shipped_theme_loads_from_dir_and_embedded() {
        let nowhere = PathBuf::from("/nonexistent-theme-dir");
        for name in BUILTIN_THEMES {
            let from_dir = load_theme(name, &themes_dir()).unwrap();
            let embedded = load_theme(name, &nowhere).unwrap();
            assert_eq!(from_dir, embedded, "{name}");
        }
        assert_eq!(
            load_theme("default", &themes_dir()).unwrap(),
            Theme::default_theme()
        );
        assert_eq!(load_theme("mono", &themes_dir()).unwrap(), Theme::mono());
    }

    #[test]
    fn lane_colours() {
        let t = Theme::default_theme();
        let lane = |name: &str| t.lane_color(parse_color(name).unwrap());
        assert_eq!(lane("cyan"), Color::Cyan);
        assert_eq!(lane("bright_blue"), Color::LightBlue);
        assert_eq!(lane("#ff8800"), Color::Rgb(255, 136, 0));
        assert_eq!(
            Theme::mono().lane_color(parse_color("cyan").unwrap()),
            Color::Reset
        );
    }

    #[test]
    fn partial_theme_overrides_only_its_roles() {
        let t = parse_theme("roles:\n  bad: {fg: magenta, bold: true}\n", "x.yaml").unwrap();
        let d = Theme::default_theme();
        assert_eq!(
            t.bad,
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD)
        );
        assert_eq!(
            Theme {
                bad: d.bad,
                ..t.clone()
            },
            d
        );
        let empty = parse_theme("", "empty.yaml").unwrap();
        assert_eq!(empty, d);
    }

    #[test]
    fn broken_explicit_theme_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.yaml");
        std::fs::write(&path, "roles:\n  bad: {fg: rainbow}\n").unwrap();
        let err = choose_theme(Some("broken"), None, false, dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("broken.yaml"), "{msg}");
        assert!(msg.contains("rainbow"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        let err = choose_theme(Some("nosuch"), None, false, dir.path()).unwrap_err();
        assert!(err.to_string().contains("nosuch.yaml"), "{err}");
        let err = load_theme("roles-typo", dir.path()).unwrap_err();
        assert!(matches!(err, ThemeError::NotFound { .. }));
        std::fs::write(dir.path().join("typo.yaml"), "roles:\n  leeder: {}\n").unwrap();
        let msg = load_theme("typo", dir.path()).unwrap_err().to_string();
        assert!(msg.contains("leeder") && msg.contains("typo.yaml"), "{msg}");
    }

    #[test]
    fn broken_env_theme_falls_back_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yaml"), "roles: [").unwrap();
        let (theme, warning) = choose_theme(None, Some("bad"), false, dir.path()).unwrap();
        assert_eq!(theme, Theme::default_theme());
        let warning = warning.unwrap();
        assert!(warning.contains("LLM_LOCUST_THEME"), "{warning}");
        assert!(warning.contains("bad.yaml"), "{warning}");
    }

    #[test]
    fn choice_order() {
        let dir = themes_dir();
        let (t, w) = choose_theme(Some("hacker"), Some("light"), true, &dir).unwrap();
        assert_eq!((t, w), (Theme::mono(), None));
        let (t, w) = choose_theme(None, Some("mono"), false, &dir).unwrap();
        assert_eq!((t, w), (Theme::mono(), None));
        let (t, w) = choose_theme(None, None, false, &dir).unwrap();
        assert_eq!((t, w), (Theme::default_theme(), None));
        let path = dir.join("mono.yaml");
        let (t, _) = choose_theme(path.to_str(), None, false, &dir).unwrap();
        assert_eq!(t, Theme::mono());
    }
}
