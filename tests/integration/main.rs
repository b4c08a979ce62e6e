//! The integration tests, as one binary: one link instead of twenty, and a
//! tenth of the disk a test build takes (each test binary carries the whole
//! crate and its dependencies). Each module is one area; `cargo test
//! --test integration reports::` runs one of them.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tests compute their expectations with plain casts of small numbers.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap
)]

mod common;

mod architecture;
mod cli;
mod client_saturation;
mod compare;
mod config_files;
mod connections;
mod conversations;
mod datasets;
mod deploy;
mod doc_examples;
mod embeddings;
mod fuzz;
mod fuzz_dialects;
mod llama_server;
mod load_shapes;
mod politeness;
mod prometheus;
mod prompt_cache;
mod protocols;
mod race_file;
mod race_sim;
mod race_urls;
mod real_streams;
mod reconnects;
mod reports;
mod server_metrics;
mod shards;
mod sse_client;
mod start_at;
mod statistics;
mod tokenizers;
mod trace_replay;
mod tui_tmux;
