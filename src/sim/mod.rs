//! The built-in simulated OpenAI-compatible endpoint (`llm-locust sim` and
//! `simulate:` engines). It owns a small axum server that streams chat,
//! completions, Responses and Anthropic Messages answers with configurable TTFT, TPOT, jitter, prefill
//! cost, capacity (queueing) and injected faults, deterministic per seed, so
//! races, demos and tests need no real inference server.

mod answer;
mod connection;
mod dialects;
mod generate;
mod metrics_page;
mod prefix_cache;
mod request;
mod server;
mod sse;
mod stats;
mod vocab;

#[cfg(test)]
mod tests;

pub use server::{SimError, SimHandle, SimOptions, serve, serve_with};
pub use stats::SimStats;
