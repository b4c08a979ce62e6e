//! One-line descriptions of a race, as `validate` and the start of a race
//! print them.

use super::spec::{LoadSpec, RaceSpec, WarmupSpec};

impl RaceSpec {
    /// One line about a race: its name, engines, load and finish line.
    #[must_use]
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.engines.iter().map(|e| e.name.as_str()).collect();
        let mut finish = Vec::new();
        if self.finish.duration_is_finish_line {
            finish.push(format!("{} s", self.finish.duration.as_secs_f64()));
        }
        if let Some(n) = self.finish.requests {
            finish.push(format!("{n} requests"));
        }
        if let Some(n) = self.finish.output_tokens {
            finish.push(format!("{n} output tokens"));
        }
        let mut line = format!(
            "'{}', {} engine{} ({}), {}, finish at {}",
            self.name,
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            self.load.describe(),
            finish.join(" or "),
        );
        if self.simulated {
            line.push_str(" (simulated: every engine's server is a built-in simulator)");
        }
        line
    }
}

impl LoadSpec {
    #[must_use]
    pub fn describe(&self) -> String {
        match *self {
            LoadSpec::Users { users, spawn_rate } => {
                format!("{users} users per engine (+{spawn_rate}/s)")
            }
            LoadSpec::Constant {
                rate,
                max_in_flight,
            } => format!("constant {rate} req/s (max {max_in_flight} in flight)"),
            LoadSpec::Poisson {
                rate,
                max_in_flight,
            } => format!("Poisson {rate} req/s (max {max_in_flight} in flight)"),
        }
    }
}

impl WarmupSpec {
    #[must_use]
    pub fn describe(self) -> String {
        match self {
            WarmupSpec::Requests(n) => format!("{n} requests per engine, not counted"),
            WarmupSpec::Duration(d) => {
                format!("{:.1} s per engine, not counted", d.as_secs_f64())
            }
        }
    }
}
