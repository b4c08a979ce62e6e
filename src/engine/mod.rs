//! The race engine: tokio and reqwest live here, never ratatui. It starts the
//! simulated engines, drives the load for each engine, measures every request
//! and feeds the aggregator, which publishes `RaceSnapshot`s on a `watch`
//! channel for whichever front end is attached.

pub mod aggregator;
pub mod backoff;
pub mod body;
pub mod client;
pub mod connections;
mod conversation;
pub mod discover;
pub mod drain;
pub mod driver;
pub mod event;
pub mod lane;
mod levels;
mod open_loop;
pub mod opening;
pub mod probe;
pub mod protocol;
pub mod race;
pub mod reconnect;
pub mod request;
pub mod schedule;
pub mod server_metrics;
mod sse;
pub mod stream;
pub mod threaded;
pub mod trace;
mod users;
pub mod warmup;

pub use event::{RaceEvent, RaceStart, RecordSink};
pub use race::{RaceError, RaceOutcome, RunningRace, start};
