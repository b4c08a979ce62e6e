//! Metric definitions and aggregation: pure and synchronous (no tokio, no
//! ratatui, no I/O), so every number is computed in one place and unit-tested
//! without a runtime. `docs/METRICS.md` defines each number computed here.

pub mod breakdown;
pub mod client;
pub mod commentary;
pub mod cost;
mod engine;
pub mod event;
pub mod figures;
pub mod health;
pub mod histogram;
pub mod interval;
pub mod leaderboard;
pub mod pairs;
pub mod prompt_cache;
pub mod recent;
pub mod record;
pub mod series;
pub mod server;
pub mod slo;
pub mod snapshot;
pub mod standing;
pub mod stats;
pub mod sweep;
pub mod trace;
pub mod windows;

pub use commentary::{CommentaryKind, CommentaryLine};
pub use event::RaceEvent;
pub use health::{Grade, Health, Trend};
pub use histogram::{LatencyHistogram, LatencySummary};
pub use record::{
    ConversationEnd, ConversationTurn, ErrorKind, RequestError, RequestRecord, TokenSource,
};
pub use snapshot::{
    ConnectionReuse, LaneSnapshot, LaneState, RacePhase, RaceSnapshot, RequestTrace,
};
pub use stats::{EngineStats, RaceStats};
