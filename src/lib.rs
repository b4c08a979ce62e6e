//! llm-locust: a load tester for LLM inference endpoints that runs a live
//! model race. `main.rs` only dispatches to [`app::run`]; everything else is
//! here so tests can drive it directly.
//!
//! Layers, one way only: `engine` (tokio, reqwest, the simulator client
//! side) feeds `metrics` (pure, synchronous), which front ends (`headless`,
//! `report`) read as snapshots.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

/// mimalloc for every binary built on the library (the tool, its tests and
/// benchmarks): a streamed token allocates a few small strings on its way
/// through the SSE and JSON decoders, and glibc's malloc made that about a
/// tenth of the client's CPU (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod app;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod exporter;
pub mod headless;
pub mod logging;
pub mod metrics;
pub mod racefile;
pub mod replay;
pub mod report;
pub mod signals;
pub mod sim;
pub mod ui;
pub mod workload;
