//! Terminal lifecycle: raw mode and the alternate screen, restored on every
//! exit path — drop, error and panic — exactly once.

use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Whether the terminal is currently in TUI mode.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK_INSTALLED: AtomicBool = AtomicBool::new(false);

/// The width of the terminal that `stream` prints to, when it is one (a
/// pipe or a file, as in CI logs, has no width: lines are printed whole).
#[must_use]
pub fn width_of(stream: &impl std::io::IsTerminal) -> Option<usize> {
    if !stream.is_terminal() {
        return None;
    }
    terminal::size()
        .ok()
        .map(|(columns, _)| usize::from(columns))
}

/// Puts the terminal back: leaves the alternate screen, disables raw mode,
/// shows the cursor. Idempotent (an atomic flag), allocation-free and needs
/// no `Terminal`, so the panic hook and `Drop` can both call it safely.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let mut out = io::stdout();
        let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
        let _ = out.flush();
    }
}

/// Restores the terminal before the previous panic hook prints, so the
/// message lands on a normal screen. Only the UI thread owns the terminal;
/// a panic elsewhere (an engine task) is turned into an error by the engine
/// and must not tear down a live screen.
fn install_panic_hook(ui_thread: std::thread::ThreadId) {
    if HOOK_INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            restore();
        }
        previous(info);
    }));
}

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Owns TUI mode; the terminal is restored when it is dropped.
pub struct TerminalGuard {
    pub terminal: Tui,
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook(std::thread::current().id());
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        if let Err(e) = execute!(out, terminal::EnterAlternateScreen, cursor::Hide) {
            restore();
            return Err(e);
        }
        let mut terminal = match Terminal::new(CrosstermBackend::new(out)) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        // Some terminals do not blank the alternate screen (STYLE P12).
        let _ = terminal.clear();
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_is_idempotent_and_harmless_when_not_active() {
        // As after `enter`: the first restore puts the terminal back (here
        // stdout is no terminal, so the commands go nowhere) and clears the
        // flag; every later call, from a panic hook or a `Drop`, is a no-op.
        ACTIVE.store(true, Ordering::SeqCst);
        restore();
        assert!(!ACTIVE.load(Ordering::SeqCst));
        restore();
        assert!(!ACTIVE.load(Ordering::SeqCst));
    }
}
