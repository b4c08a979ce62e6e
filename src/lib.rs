//! llm-locust: a load tester for LLM inference endpoints that runs a live
//! model race. `main.rs` only dispatches to [`app::run`]; everything else is
//! here so tests can drive it directly.
//!
//! Layers, one way only: `engine` (tokio, reqwest, the simulator client
//! side) feeds `metrics` (pure, synchronous), which front ends (`headless`,
//! `report`) read as snapshots.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
// Tests compute their expectations with plain casts of small numbers.
#![cfg_attr(
    test,
    allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        clippy::cast_possible_wrap
    )
)]

pub mod app;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod headless;
pub mod logging;
pub mod metrics;
mod names;
pub mod prometheus_endpoint;
pub mod racefile;
pub mod replay;
pub mod report;
pub mod signals;
pub mod sim;
pub mod ui;
pub mod workload;
