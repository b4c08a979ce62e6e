//! `merge`: the race files of a sharded race's shards joined into the
//! race file of the whole race. Nothing is summarised on the way: the
//! merged file holds every shard's events, each moved onto the common start
//! signal, so folding it (`report`, `replay`) computes every figure from
//! every request — histograms, series and verdicts as one process running
//! the whole race would have, with no percentile averaged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Recording;
use super::config::{fingerprint, first_difference};
use crate::config::{Shard, Sharding};
use crate::metrics::RaceEvent;

/// A shard that started this long after the common start signal is not
/// part of the same race (its load came minutes late).
pub const MAX_LATENESS: Duration = Duration::from_secs(300);

/// Lateness worth a warning: a shard this late sent its load late.
const WARN_LATENESS: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("no race files to merge; give the shards' race files")]
    Empty,
    #[error("'{}' ends early (its shard did not finish writing it); leave it out to merge the other shards into a partial race", path.display())]
    CutOff { path: PathBuf },
    #[error("'{}' is not a shard's race file (it was raced without --shard); give the files of `race --shard I/N`", path.display())]
    NotAShard { path: PathBuf },
    #[error("'{}' is already a merged race; give the shards' own race files", path.display())]
    AlreadyMerged { path: PathBuf },
    #[error("'{}' is from a different race than '{}' (they differ in `{key}`); give the shards of one run, started with the same race file, seed and --start-at", other.display(), first.display())]
    OtherRace {
        first: PathBuf,
        other: PathBuf,
        key: String,
    },
    #[error("'{}' is shard {shard}, but '{}' is one of {count}; give the shards of one run", other.display(), first.display())]
    ShardCount {
        first: PathBuf,
        other: PathBuf,
        shard: Shard,
        count: u32,
    },
    #[error("'{}' and '{}' are both shard {shard}; give each shard's race file once", first.display(), other.display())]
    Duplicate {
        first: PathBuf,
        other: PathBuf,
        shard: Shard,
    },
    #[error("'{}' (shard {shard}) started {:.0} s after the race's start signal, more than {} s late: its load is not this race's; run that shard again or leave it out", path.display(), late.as_secs_f64(), MAX_LATENESS.as_secs())]
    TooLate {
        path: PathBuf,
        shard: Shard,
        late: Duration,
    },
}

/// The merged race, and what the user should know about it.
#[derive(Debug)]
pub struct Merged {
    pub recording: Recording,
    /// Missing shards, late shards, shards started without `--start-at`.
    pub warnings: Vec<String>,
}

/// Merges the shards' recordings (with the paths they were read from).
///
/// # Errors
/// Files that are not shards, not of one race, given twice, cut off, or
/// started far too late.
///
pub fn merge(shards: Vec<(PathBuf, Recording)>) -> Result<Merged, MergeError> {
    let mut warnings = Vec::new();
    let mut parts: BTreeMap<u32, (PathBuf, Recording)> = BTreeMap::new();
    let mut first: Option<(PathBuf, Shard, String)> = None;
    let mut first_spec = None;
    for (path, recording) in shards {
        if recording.notice.is_some() {
            return Err(MergeError::CutOff { path });
        }
        let shard = match recording.spec.sharding {
            Sharding::Shard(shard) => shard,
            Sharding::Merged { .. } => return Err(MergeError::AlreadyMerged { path }),
            Sharding::Whole => return Err(MergeError::NotAShard { path }),
        };
        let print = fingerprint(&recording.spec);
        match &first {
            None => {
                first = Some((path.clone(), shard, print));
                first_spec = Some(recording.spec.clone());
            }
            Some((first_path, first_shard, first_print)) => {
                if shard.count != first_shard.count {
                    return Err(MergeError::ShardCount {
                        first: first_path.clone(),
                        other: path,
                        shard,
                        count: first_shard.count,
                    });
                }
                if print != *first_print {
                    let key = first_spec
                        .as_ref()
                        .and_then(|spec| first_difference(spec, &recording.spec))
                        .unwrap_or_else(|| "configuration".to_owned());
                    return Err(MergeError::OtherRace {
                        first: first_path.clone(),
                        other: path,
                        key,
                    });
                }
            }
        }
        if let Some((other, _)) = parts.get(&shard.index) {
            return Err(MergeError::Duplicate {
                first: other.clone(),
                other: path,
                shard,
            });
        }
        parts.insert(shard.index, (path, recording));
    }
    let (Some((_, first_shard, _)), Some((_, template))) = (first, parts.values().next()) else {
        return Err(MergeError::Empty);
    };
    let template = template.clone_header();
    let count = first_shard.count;
    let present: Vec<u32> = parts.keys().copied().collect();
    if present.len() < count as usize {
        let missing: Vec<String> = (0..count)
            .filter(|i| !parts.contains_key(i))
            .map(|i| i.to_string())
            .collect();
        warnings.push(format!(
            "shard{} {} of {count} missing: the merged race is partial ({} of {count} shards), and says so in its reports",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            present.len()
        ));
    }

    // The common start signal: `--start-at` when the shards had it (the
    // fingerprint makes it the same for all), else the earliest start.
    let go = template.spec.start_at.unwrap_or_else(|| {
        parts
            .values()
            .map(|(_, r)| r.started_at)
            .min()
            .unwrap_or(template.started_at)
    });
    if template.spec.start_at.is_none() && parts.len() > 1 {
        warnings.push(
            "the shards were raced without --start-at: their events are aligned by each shard's wall-clock start, which only lines them up as well as the machines' clocks and starts agree".to_owned(),
        );
    }
    let mut timed = Vec::new();
    for (index, (path, recording)) in &parts {
        let late = recording
            .started_at
            .duration_since(go)
            .unwrap_or(Duration::ZERO);
        let shard = Shard {
            index: *index,
            count,
        };
        if late > MAX_LATENESS {
            return Err(MergeError::TooLate {
                path: path.clone(),
                shard,
                late,
            });
        }
        if late > WARN_LATENESS && template.spec.start_at.is_some() {
            warnings.push(format!(
                "shard {shard} started {:.1} s after --start-at: its load came that much late, and the merged race shows it when it happened",
                late.as_secs_f64()
            ));
        }
        for (seq, (at, event)) in recording.events.iter().enumerate() {
            timed.push((*at + late, *index, seq, shifted(event, late)));
        }
    }
    // Events by their time from the common start; ties keep shard order and
    // each shard's own order.
    timed.sort_by_key(|(at, index, seq, _)| (*at, *index, *seq));

    let engines = template.spec.engines.len();
    let mut connections: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let (mut time_limit, mut stopped) = (false, false);
    let mut end = Duration::ZERO;
    let mut events = Vec::with_capacity(timed.len());
    for (at, index, _, event) in timed {
        end = end.max(at);
        let event = match event {
            // Each shard counts its own connections: the race's are the sum.
            RaceEvent::ConnectionsOpened { engine, total } => {
                let opened = connections.entry(index).or_insert_with(|| vec![0; engines]);
                if let Some(slot) = opened.get_mut(engine) {
                    *slot = (*slot).max(total);
                }
                let total = connections
                    .values()
                    .map(|o| o.get(engine).copied().unwrap_or(0))
                    .sum();
                RaceEvent::ConnectionsOpened { engine, total }
            }
            // The race's time limit passes once, a stop stops it once, and
            // it ends after the last shard's last event.
            RaceEvent::TimeLimit if std::mem::replace(&mut time_limit, true) => continue,
            RaceEvent::Stopped if std::mem::replace(&mut stopped, true) => continue,
            RaceEvent::Ended => continue,
            other => other,
        };
        events.push((at, event));
    }
    events.push((end, RaceEvent::Ended));

    let mut spec = template.spec;
    spec.sharding = Sharding::Merged { count, present };
    Ok(Merged {
        recording: Recording {
            spec,
            tool: format!("llm-locust {}", env!("CARGO_PKG_VERSION")),
            started_at: go,
            stamp: template.stamp,
            engine_urls: template.engine_urls,
            events,
            summary_json: None,
            notice: None,
        },
        warnings,
    })
}

/// The event `late` later: every time it carries, on the common clock.
fn shifted(event: &RaceEvent, late: Duration) -> RaceEvent {
    if late.is_zero() {
        return event.clone();
    }
    match event {
        RaceEvent::Finished(record) => {
            let mut record = (**record).clone();
            record.scheduled_at += late;
            record.sent_at += late;
            record.end_at += late;
            for t in &mut record.chunk_times {
                *t += late;
            }
            RaceEvent::Finished(Arc::new(record))
        }
        RaceEvent::Trace(trace) => {
            let mut trace = trace.clone();
            trace.at += late;
            RaceEvent::Trace(trace)
        }
        other => other.clone(),
    }
}

impl Recording {
    /// Everything but the events: what a merged file takes from its first
    /// shard.
    fn clone_header(&self) -> Recording {
        Recording {
            spec: self.spec.clone(),
            tool: self.tool.clone(),
            started_at: self.started_at,
            stamp: self.stamp.clone(),
            engine_urls: self.engine_urls.clone(),
            events: Vec::new(),
            summary_json: None,
            notice: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::config::RaceSpec;
    use crate::metrics::record::tests::ok_record;

    fn spec(shard: Option<Shard>, start_at: Option<SystemTime>) -> RaceSpec {
        let yaml = "race:\n  name: t\n  engines:\n    - name: a\n      simulate: {}\n";
        let mut spec = crate::config::validate::validate(yaml, std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{e:?}"));
        spec.start_at = start_at;
        if let Some(shard) = shard {
            spec.set_shard(shard).unwrap();
        }
        spec
    }

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn shard_file(
        index: u32,
        started_ms: u64,
        events: Vec<(Duration, RaceEvent)>,
    ) -> (PathBuf, Recording) {
        let start_at = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let recording = Recording {
            spec: spec(Some(Shard { index, count: 2 }), Some(start_at)),
            tool: "llm-locust test".into(),
            started_at: start_at + at(started_ms),
            stamp: "20261201-120000".into(),
            engine_urls: vec!["http://127.0.0.1:1/v1/chat/completions".into()],
            events,
            summary_json: Some("{}".into()),
            notice: None,
        };
        (PathBuf::from(format!("s{index}.llmrace")), recording)
    }

    fn finished(id: u64, start_ms: u64) -> RaceEvent {
        let mut record = ok_record(0, start_ms, 50, 10, 3);
        record.request_id = id;
        RaceEvent::Finished(Arc::new(record))
    }

    #[test]
    fn events_interleave_on_the_common_start_with_a_late_shard_moved_later() {
        let s0 = shard_file(
            0,
            0,
            vec![
                (at(100), RaceEvent::Started { engine: 0 }),
                (at(170), finished(0, 100)),
                (at(2000), RaceEvent::TimeLimit),
                (at(2000), RaceEvent::Ended),
            ],
        );
        // Shard 1 started 1.5 s late: its 100 ms is the race's 1,600 ms.
        let s1 = shard_file(
            1,
            1500,
            vec![
                (at(100), RaceEvent::Started { engine: 0 }),
                (at(170), finished(1, 100)),
                (at(2000), RaceEvent::TimeLimit),
                (at(2100), RaceEvent::Ended),
            ],
        );
        let merged = merge(vec![s1, s0]).unwrap();
        let times: Vec<(u64, &'static str)> = merged
            .recording
            .events
            .iter()
            .map(|(t, e)| {
                let kind = match e {
                    RaceEvent::Started { .. } => "started",
                    RaceEvent::Finished(_) => "finished",
                    RaceEvent::TimeLimit => "time limit",
                    RaceEvent::Ended => "ended",
                    _ => "other",
                };
                (t.as_millis() as u64, kind)
            })
            .collect();
        assert_eq!(
            times,
            vec![
                (100, "started"),
                (170, "finished"),
                (1600, "started"),
                (1670, "finished"),
                (2000, "time limit"),
                (3600, "ended"),
            ]
        );
        // The late shard's request carries its times on the common clock.
        let RaceEvent::Finished(late) = &merged.recording.events[3].1 else {
            panic!("not a record");
        };
        assert_eq!(late.request_id, 1);
        assert_eq!(late.scheduled_at, at(1600));
        assert_eq!(late.ttft(), Some(at(50)));
        assert_eq!(
            merged.recording.started_at,
            UNIX_EPOCH + Duration::from_secs(1_000_000)
        );
        assert_eq!(
            merged.recording.spec.sharding,
            Sharding::Merged {
                count: 2,
                present: vec![0, 1]
            }
        );
        assert!(
            merged
                .warnings
                .iter()
                .any(|w| w.contains("shard 1/2 started 1.5 s after")),
            "{:?}",
            merged.warnings
        );
    }

    #[test]
    fn connection_counts_add_up_across_shards() {
        let opened = |total| RaceEvent::ConnectionsOpened { engine: 0, total };
        let s0 = shard_file(0, 0, vec![(at(10), opened(4)), (at(30), opened(6))]);
        let s1 = shard_file(1, 0, vec![(at(20), opened(3))]);
        let merged = merge(vec![s0, s1]).unwrap();
        let totals: Vec<u64> = merged
            .recording
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                RaceEvent::ConnectionsOpened { total, .. } => Some(*total),
                _ => None,
            })
            .collect();
        assert_eq!(totals, vec![4, 7, 9]);
    }

    #[test]
    fn files_that_are_not_one_race_are_refused() {
        let (p0, r0) = shard_file(0, 0, vec![]);
        let (_, mut other) = shard_file(1, 0, vec![]);
        other.spec.seed += 1;
        let err = merge(vec![(p0.clone(), r0.clone()), ("o.llmrace".into(), other)]).unwrap_err();
        assert!(
            matches!(&err, MergeError::OtherRace { key, .. } if key == "seed"),
            "{err}"
        );
        let err = merge(vec![
            (p0.clone(), r0.clone()),
            ("again.llmrace".into(), r0.clone()),
        ])
        .unwrap_err();
        assert!(matches!(err, MergeError::Duplicate { .. }), "{err}");
        let mut cut = r0.clone();
        cut.notice = Some("ends early".into());
        assert!(matches!(
            merge(vec![(p0.clone(), cut)]).unwrap_err(),
            MergeError::CutOff { .. }
        ));
        let mut whole = r0.clone();
        whole.spec.sharding = Sharding::Whole;
        assert!(matches!(
            merge(vec![(p0.clone(), whole)]).unwrap_err(),
            MergeError::NotAShard { .. }
        ));
        let (_, mut late) = shard_file(1, 0, vec![]);
        late.started_at += MAX_LATENESS + at(1);
        assert!(matches!(
            merge(vec![(p0, r0), ("late.llmrace".into(), late)]).unwrap_err(),
            MergeError::TooLate { .. }
        ));
        assert_eq!(merge(Vec::new()).unwrap_err(), MergeError::Empty);
    }

    #[test]
    fn the_fingerprint_ignores_the_shard_and_the_output_folder_only() {
        let a = spec(Some(Shard { index: 0, count: 3 }), None);
        let mut b = spec(Some(Shard { index: 2, count: 3 }), None);
        b.output_dir = "elsewhere".into();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let mut c = b.clone();
        c.start_at = Some(UNIX_EPOCH + Duration::from_secs(5));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(
            first_difference(&a, &c).as_deref(),
            Some("start_at_unix_us")
        );
    }
}
