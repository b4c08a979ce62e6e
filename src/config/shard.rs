//! Shards: one race run by several processes (`race --shard I/N`), each
//! sending its part of the load, and merged afterwards (`merge`). The split
//! is by position, never by time: closed-loop user `u`, open-loop arrival
//! `k` and closed-loop request `k` (its global id) belong to shard
//! `k mod N`, so the shards together send exactly what one process sends.

use std::fmt;

use super::{FinishSpec, LoadSpec, RaceSpec, StageLevel, WarmupSpec};

/// Shard `index` of `count` (0-based, as Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Most shards one race may be split into.
pub const MAX_SHARDS: u32 = 1000;

impl Shard {
    /// The whole race: one process, every user and arrival.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether the user, arrival or request at position `k` is this shard's.
    #[must_use]
    pub fn owns(self, k: u64) -> bool {
        k % u64::from(self.count) == u64::from(self.index)
    }

    /// How many of the positions `0..total` are this shard's: the shards'
    /// shares add up to `total` exactly (the first `total mod N` get one more).
    #[must_use]
    pub fn share(self, total: u64) -> u64 {
        let (count, index) = (u64::from(self.count), u64::from(self.index));
        (total + count - 1 - index) / count
    }

    /// [`share`](Self::share) of a count that must stay at least 1 (a
    /// ceiling on requests in flight, a warm-up).
    #[must_use]
    pub fn share_at_least_one(self, total: u32) -> u32 {
        u32::try_from(self.share(u64::from(total)))
            .unwrap_or(u32::MAX)
            .max(1)
    }

    /// The global id of this shard's `n`-th closed-loop request (0-based).
    #[must_use]
    pub fn request_id(self, n: u64) -> u64 {
        u64::from(self.index) + n * u64::from(self.count)
    }

    /// This shard's finish lines: its share of a request or token line
    /// (the time limit is every shard's).
    #[must_use]
    pub fn finish(self, whole: &FinishSpec) -> FinishSpec {
        FinishSpec {
            requests: whole.requests.map(|n| self.share(n)),
            output_tokens: whole.output_tokens.map(|n| self.share(n)),
            ..whole.clone()
        }
    }

    /// The `I/N` the command line takes, parsed and checked.
    ///
    /// # Errors
    /// Says what is wrong with the text and what to give instead.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let usage = "give I/N: shard I (0 to N-1, as Kubernetes' JOB_COMPLETION_INDEX) of N";
        let Some((index, count)) = text.trim().split_once('/') else {
            return Err(format!("'{text}' is not a shard; {usage}"));
        };
        let (Ok(index), Ok(count)) = (index.trim().parse::<u32>(), count.trim().parse::<u32>())
        else {
            return Err(format!("'{text}' is not a shard; {usage}"));
        };
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "'{text}': the number of shards must be 1 to {MAX_SHARDS}"
            ));
        }
        if index >= count {
            return Err(format!(
                "'{text}': shard indices run from 0 to {} ({usage})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Whether a race is whole, one shard of one, or shards merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Sharding {
    /// One process ran the whole race.
    #[default]
    Whole,
    /// This process ran one shard (`--shard`).
    Shard(Shard),
    /// Merged from the shards `present` of `count` (`merge`); partial when
    /// some are missing.
    Merged { count: u32, present: Vec<u32> },
}

impl Sharding {
    /// The shard this process runs ([`Shard::WHOLE`] unless `--shard`).
    #[must_use]
    pub fn shard(&self) -> Shard {
        match self {
            Sharding::Shard(shard) => *shard,
            _ => Shard::WHOLE,
        }
    }

    /// Merged without every shard.
    #[must_use]
    pub fn is_partial(&self) -> bool {
        matches!(self, Sharding::Merged { count, present } if present.len() < *count as usize)
    }

    /// A few words for headers and reports (`None` for a whole race).
    #[must_use]
    pub fn label(&self) -> Option<String> {
        match self {
            Sharding::Whole => None,
            Sharding::Shard(shard) => Some(format!("shard {shard}")),
            Sharding::Merged { count, present } if present.len() < *count as usize => {
                let missing: Vec<String> = (0..*count)
                    .filter(|i| !present.contains(i))
                    .map(|i| i.to_string())
                    .collect();
                Some(format!(
                    "partial: {} of {count} shards merged, missing {}",
                    present.len(),
                    missing.join(", ")
                ))
            }
            Sharding::Merged { count, .. } => Some(format!("merged from {count} shards")),
        }
    }
}

impl RaceSpec {
    /// The finish lines this process races to: the race's, or its shard's
    /// share of them.
    #[must_use]
    pub fn finish_line(&self) -> FinishSpec {
        self.sharding.shard().finish(&self.finish)
    }

    /// Runs this race as `shard`, or says why it cannot be split.
    ///
    /// # Errors
    /// A sweep (judged as it runs, by one process), or a finish line with
    /// fewer requests or tokens than there are shards.
    pub fn set_shard(&mut self, shard: Shard) -> Result<(), String> {
        if matches!(self.load, LoadSpec::Sweep(_)) {
            return Err(format!(
                "--shard {shard}: a sweep (mode {}) judges each step as it runs and cannot be split across processes; run it in one process",
                self.load.mode().name()
            ));
        }
        let lines = [
            ("race.finish.requests", self.finish.requests),
            ("race.finish.output_tokens", self.finish.output_tokens),
        ];
        for (key, line) in lines {
            if let Some(n) = line
                && n < u64::from(shard.count)
            {
                return Err(format!(
                    "--shard {shard}: {key} is {n}, fewer than the {} shards; give at least one per shard",
                    shard.count
                ));
            }
        }
        let max_in_flight = match &self.load {
            LoadSpec::Constant { max_in_flight, .. }
            | LoadSpec::Poisson { max_in_flight, .. }
            | LoadSpec::Bursts { max_in_flight, .. }
            | LoadSpec::Trace { max_in_flight, .. }
            | LoadSpec::Stages {
                of: StageLevel::Rate { max_in_flight, .. },
                ..
            } => Some(*max_in_flight),
            _ => None,
        };
        let counts = [
            ("race.load.max_in_flight", max_in_flight),
            (
                "race.warmup.requests",
                match self.warmup {
                    Some(WarmupSpec::Requests(n)) => Some(n),
                    _ => None,
                },
            ),
        ];
        for (key, count) in counts {
            if let Some(n) = count
                && n < shard.count
            {
                return Err(format!(
                    "--shard {shard}: {key} is {n}, fewer than the {} shards, so the shards' parts could not add up to it; give at least one per shard",
                    shard.count
                ));
            }
        }
        if let LoadSpec::Users { users, .. } = self.load
            && users < shard.count
        {
            return Err(format!(
                "--shard {shard}: the race has {users} users, fewer than the {} shards; give at least one user per shard",
                shard.count
            ));
        }
        self.sharding = Sharding::Shard(shard);
        Ok(())
    }

    /// The warm-up this process sends: its share of a request count.
    #[must_use]
    pub fn warmup_for_shard(&self) -> Option<WarmupSpec> {
        let shard = self.sharding.shard();
        self.warmup.map(|w| match w {
            WarmupSpec::Requests(n) => WarmupSpec::Requests(shard.share_at_least_one(n)),
            duration @ WarmupSpec::Duration(_) => duration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_whole_and_owners_are_unique() {
        for count in 1..=7u32 {
            for total in 0..50u64 {
                let shards = (0..count).map(|index| Shard { index, count });
                let sum: u64 = shards.clone().map(|s| s.share(total)).sum();
                assert_eq!(sum, total, "{total} over {count}");
                for k in 0..total {
                    assert_eq!(shards.clone().filter(|s| s.owns(k)).count(), 1);
                }
                // The share is exactly the positions owned.
                for s in shards {
                    let owned = (0..total).filter(|&k| s.owns(k)).count() as u64;
                    assert_eq!(s.share(total), owned);
                }
            }
        }
    }

    #[test]
    fn request_ids_interleave_without_gaps() {
        let count = 3;
        let mut ids: Vec<u64> = (0..count)
            .flat_map(|index| (0..4).map(move |n| Shard { index, count }.request_id(n)))
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn the_command_line_form_is_checked() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(Shard::parse(" 0/1 "), Ok(Shard::WHOLE));
        for bad in ["3/3", "1", "a/3", "1/0", "-1/3", "1/1001"] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        assert!(Shard::parse("3/3").unwrap_err().contains("0 to 2"));
    }

    #[test]
    fn labels_name_the_shard_or_what_is_missing() {
        assert_eq!(Sharding::Whole.label(), None);
        assert_eq!(
            Sharding::Shard(Shard { index: 1, count: 3 })
                .label()
                .unwrap(),
            "shard 1/3"
        );
        let partial = Sharding::Merged {
            count: 3,
            present: vec![0, 2],
        };
        assert!(partial.is_partial());
        assert_eq!(
            partial.label().unwrap(),
            "partial: 2 of 3 shards merged, missing 1"
        );
        let whole = Sharding::Merged {
            count: 3,
            present: vec![0, 1, 2],
        };
        assert!(!whole.is_partial());
        assert_eq!(whole.label().unwrap(), "merged from 3 shards");
    }

    fn race(extra: &str) -> RaceSpec {
        let yaml =
            format!("race:\n  name: t\n{extra}  engines:\n    - name: a\n      simulate: {{}}\n");
        crate::config::validate::validate(&yaml, std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn a_shard_races_to_its_share_of_the_finish_line() {
        let mut spec = race("  users: 4\n  finish: {requests: 10, output_tokens: 100}\n");
        spec.set_shard(Shard { index: 2, count: 3 }).unwrap();
        let line = spec.finish_line();
        assert_eq!((line.requests, line.output_tokens), (Some(3), Some(33)));
        assert_eq!(line.duration, spec.finish.duration);
        // The stored finish line stays the race's, for `merge`.
        assert_eq!(spec.finish.requests, Some(10));
    }

    #[test]
    fn what_cannot_be_split_is_refused_with_the_reason() {
        let mut sweep = race(
            "  load: {mode: sweep, of: users, start: 1, step: 1, max: 4, step_duration_s: 5}\n",
        );
        let e = sweep.set_shard(Shard { index: 0, count: 2 }).unwrap_err();
        assert!(e.contains("--shard 0/2") && e.contains("sweep"), "{e}");
        let mut few = race("  users: 4\n  finish: {requests: 2}\n");
        let e = few.set_shard(Shard { index: 0, count: 3 }).unwrap_err();
        assert!(e.contains("race.finish.requests is 2"), "{e}");
        let mut users = race("  users: 2\n");
        let e = users.set_shard(Shard { index: 0, count: 3 }).unwrap_err();
        assert!(e.contains("2 users"), "{e}");
        let mut ceiling = race("  load: {mode: constant, rate: 5, max_in_flight: 2}\n");
        let e = ceiling.set_shard(Shard { index: 0, count: 3 }).unwrap_err();
        assert!(e.contains("race.load.max_in_flight is 2"), "{e}");
        let mut warmup = race("  users: 4\n  warmup: {requests: 2}\n");
        let e = warmup.set_shard(Shard { index: 0, count: 3 }).unwrap_err();
        assert!(e.contains("race.warmup.requests is 2"), "{e}");
    }
}
