//! Which front end shows a race or a replay: the TUI (its theme and
//! options) or headless lines.

use std::path::Path;

use crate::cli::TuiArgs;
use crate::error::AppError;

/// The TUI runs unless `--no-tui` is given or stdout is not a terminal.
pub(super) fn wants_tui(no_tui: bool) -> bool {
    use std::io::IsTerminal as _;
    !no_tui && std::io::stdout().is_terminal()
}

/// A run without the TUI still refuses a `--theme` that cannot load: the
/// same command line must not pass in CI and fail at a terminal.
pub(super) fn check_tui_flags(args: &TuiArgs) -> Result<(), AppError> {
    if let Some(name) = args.theme.as_deref().filter(|n| !n.trim().is_empty()) {
        crate::ui::theme::load_theme(name, Path::new("themes")).map_err(AppError::bad_input)?;
    }
    Ok(())
}

/// The theme and options of a TUI, from the flags and the environment.
pub(super) fn tui_options(
    args: &TuiArgs,
    replay: Option<crate::replay::ReplayLink>,
) -> Result<crate::ui::run::TuiOptions, AppError> {
    let (theme, warning) =
        crate::ui::theme::theme_from_env(args.theme.as_deref(), Path::new("themes"))
            .map_err(AppError::bad_input)?;
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    Ok(crate::ui::run::TuiOptions {
        fps: args.fps,
        exit_on_finish: args.exit_on_finish,
        theme,
        replay,
    })
}

/// A line on stderr, wrapped to the terminal's width (whole in a pipe).
pub(super) fn tell(line: &str) {
    let width = crate::ui::terminal::width_of(&std::io::stderr());
    eprintln!("{}", crate::report::table::wrap(line, width));
}
