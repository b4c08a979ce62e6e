//! The live race TUI (ratatui). It reads `RaceSnapshot`s from a `watch`
//! channel and turns keys into actions; it owns no sockets and computes no
//! metrics.

pub mod action;
pub mod keymap;
pub mod loading;
mod panels;
pub mod render;
pub mod run;
pub mod state;
pub mod terminal;
#[cfg(test)]
pub(crate) mod test_support;
pub mod theme;
