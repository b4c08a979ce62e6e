//! `merge`: the race files of a sharded race's shards joined into the
//! race file of the whole race. Nothing is summarised on the way: the
//! merged file holds every shard's events, each moved onto the common start
//! signal, so folding it (`report`, `replay`) computes every figure from
//! every request — histograms, series and verdicts as one process running
//! the whole race would have, with no percentile averaged.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Recording;
use super::config::{fingerprint, first_difference};
use crate::config::{RaceSpec, Shard, Sharding};
use crate::metrics::client::ClientSample;
use crate::metrics::trace::{SlotRule, TraceEvent, TraceStep};
use crate::metrics::{RaceEvent, RequestRecord};

/// A shard that started this long after the common start signal is not
/// part of the same race (its load came minutes late).
pub const MAX_LATENESS: Duration = Duration::from_secs(300);

/// Lateness worth a warning: a shard this late sent its load late.
const WARN_LATENESS: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("no race recordings to merge; give the shards' race recordings")]
    Empty,
    #[error("'{}' ends early (its shard did not finish writing it); leave it out to merge the other shards into a partial race", path.display())]
    CutOff { path: PathBuf },
    #[error("'{}' is not a shard's race recording (it was raced without --shard); give the files of `race --shard I/N`", path.display())]
    NotAShard { path: PathBuf },
    #[error("'{}' is already a merged race; give the shards' own race recordings", path.display())]
    AlreadyMerged { path: PathBuf },
    #[error("'{}' is from a different race than '{}' (they differ in `{key}`); give the shards of one run, started with the same race config, seed and --start-at", other.display(), first.display())]
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
    #[error("'{}' and '{}' are both shard {shard}; give each shard's race recording once", first.display(), other.display())]
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
    let (parts, count) = one_race(shards)?;
    let Some((_, template)) = parts.values().next() else {
        return Err(MergeError::Empty);
    };
    let template = template.clone_header();
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
    let at_start = template.spec.start_at.is_some();
    let timed = on_one_clock(&parts, count, go, at_start, &mut warnings)?;
    let events = interleave(
        timed,
        template.spec.engines.len(),
        present.len(),
        &mut warnings,
    );
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

/// The recordings by shard index, once each, checked to be whole shards of
/// one race; and how many shards that race has.
#[allow(clippy::type_complexity)]
fn one_race(
    shards: Vec<(PathBuf, Recording)>,
) -> Result<(BTreeMap<u32, (PathBuf, Recording)>, u32), MergeError> {
    let mut parts: BTreeMap<u32, (PathBuf, Recording)> = BTreeMap::new();
    let mut first: Option<(PathBuf, Shard, String, RaceSpec)> = None;
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
                let spec = recording.spec.clone();
                first = Some((path.clone(), shard, print, spec));
            }
            Some((first_path, first_shard, first_print, first_spec)) => {
                if shard.count != first_shard.count {
                    return Err(MergeError::ShardCount {
                        first: first_path.clone(),
                        other: path,
                        shard,
                        count: first_shard.count,
                    });
                }
                if print != *first_print {
                    let key = first_difference(first_spec, &recording.spec)
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
    let count = first
        .map(|(_, shard, _, _)| shard.count)
        .ok_or(MergeError::Empty)?;
    Ok((parts, count))
}

/// Every shard's events on the common clock that starts at `go`, in time
/// order (ties: shard order, then each shard's own): (time, shard, its
/// position in the shard, the event).
fn on_one_clock(
    parts: &BTreeMap<u32, (PathBuf, Recording)>,
    count: u32,
    go: std::time::SystemTime,
    at_start: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<(Duration, u32, usize, RaceEvent)>, MergeError> {
    let mut timed = Vec::new();
    for (index, (path, recording)) in parts {
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
        if late > WARN_LATENESS && at_start {
            warnings.push(format!(
                "shard {shard} started {:.1} s after --start-at: its load came that much late, and the merged race shows it when it happened",
                late.as_secs_f64()
            ));
        }
        for (seq, (at, event)) in recording.events.iter().enumerate() {
            timed.push((*at + late, *index, seq, shifted(event, late)));
        }
    }
    timed.sort_by_key(|(at, index, seq, _)| (*at, *index, *seq));
    Ok(timed)
}

/// The shards' events, in time order, as one race's: connection counts
/// summed, the time limit once, a stop once every shard stopped, one
/// client sample a second (the worst shard's, as one saturated shard makes
/// the race's numbers suspect), the inspector's slots shared as one process
/// shares them, and the end after the last event.
fn interleave(
    timed: Vec<(Duration, u32, usize, RaceEvent)>,
    engines: usize,
    shards: usize,
    warnings: &mut Vec<String>,
) -> Vec<(Duration, RaceEvent)> {
    let mut worst = worst_samples(&timed);
    let mut connections: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let mut traces = Retrace::new(engines);
    let mut time_limit = false;
    let mut stopped: BTreeMap<u32, Duration> = BTreeMap::new();
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
            RaceEvent::ClientSample(_) => match worst.remove(&at.as_secs()) {
                Some(sample) => RaceEvent::ClientSample(sample),
                None => continue,
            },
            RaceEvent::Trace(trace) => match traces.trace(trace) {
                Some(trace) => RaceEvent::Trace(trace),
                None => continue,
            },
            RaceEvent::Finished(record) => {
                traces.finished(&record);
                RaceEvent::Finished(record)
            }
            // The race's time limit passes once.
            RaceEvent::TimeLimit if std::mem::replace(&mut time_limit, true) => continue,
            // The race stops when every shard was stopped; one shard's
            // stop (its Ctrl-C, its pod's SIGTERM) is that shard's.
            RaceEvent::Stopped => {
                stopped.entry(index).or_insert(at);
                if stopped.len() < shards {
                    continue;
                }
                RaceEvent::Stopped
            }
            // It ends after the last shard's last event.
            RaceEvent::Ended => continue,
            other => other,
        };
        events.push((at, event));
    }
    events.push((end, RaceEvent::Ended));
    if !stopped.is_empty() && stopped.len() < shards {
        let which: Vec<String> = stopped
            .iter()
            .map(|(i, at)| format!("shard {i} at {:.1} s", at.as_secs_f64()))
            .collect();
        warnings.push(format!(
            "{} was stopped early (Ctrl-C or SIGTERM) while the others raced on: the merged race has less of its load after that",
            which.join(", ")
        ));
    }
    events
}

/// Each second's worst client sample, field by field.
fn worst_samples(timed: &[(Duration, u32, usize, RaceEvent)]) -> BTreeMap<u64, ClientSample> {
    let mut worst: BTreeMap<u64, ClientSample> = BTreeMap::new();
    for (at, _, _, event) in timed {
        if let RaceEvent::ClientSample(s) = event {
            let w = worst.entry(at.as_secs()).or_insert(*s);
            w.loop_lag = w.loop_lag.max(s.loop_lag);
            w.queue_depth = w.queue_depth.max(s.queue_depth);
            w.queue_capacity = w.queue_capacity.max(s.queue_capacity);
            w.cpu_permille = w.cpu_permille.max(s.cpu_permille);
            w.cores = w.cores.max(s.cores);
        }
    }
    worst
}

/// The inspector's slots claimed again: one process traces a few requests
/// per engine at a time, and each shard traced its own few.
struct Retrace {
    slots: Vec<SlotRule>,
    traced: HashSet<(usize, u64)>,
    untraced: HashSet<(usize, u64)>,
}

impl Retrace {
    fn new(engines: usize) -> Self {
        Retrace {
            slots: (0..engines).map(|_| SlotRule::default()).collect(),
            traced: HashSet::new(),
            untraced: HashSet::new(),
        }
    }

    /// The trace event as the merged race keeps it, if it does.
    fn trace(&mut self, trace: TraceEvent) -> Option<TraceEvent> {
        let key = (trace.engine, trace.request_id);
        let rule = self.slots.get_mut(trace.engine)?;
        match trace.step {
            TraceStep::Opened { .. } if rule.claim(trace.request_id, trace.at) => {
                self.traced.insert(key);
            }
            TraceStep::Opened { .. } => {
                self.untraced.insert(key);
                return None;
            }
            _ if self.untraced.contains(&key) => return None,
            TraceStep::Cut => {
                rule.end(trace.request_id, trace.at);
                self.traced.remove(&key);
            }
            TraceStep::Piece { .. } => {}
        }
        Some(trace)
    }

    /// A request ended: its slot frees.
    fn finished(&mut self, record: &RequestRecord) {
        let key = (record.engine, record.request_id);
        if self.traced.remove(&key)
            && let Some(rule) = self.slots.get_mut(record.engine)
        {
            rule.end(record.request_id, record.end_at);
        }
        self.untraced.remove(&key);
    }
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

    fn trace(request_id: u64, ms: u64, step: TraceStep) -> RaceEvent {
        RaceEvent::Trace(crate::metrics::trace::TraceEvent {
            engine: 0,
            request_id,
            at: at(ms),
            step,
        })
    }

    fn opened(request_id: u64, ms: u64) -> RaceEvent {
        let prompt = Arc::from("p");
        trace(request_id, ms, TraceStep::Opened { prompt })
    }

    fn piece(request_id: u64, ms: u64) -> RaceEvent {
        let (text, answer) = (" w".into(), true);
        trace(request_id, ms, TraceStep::Piece { text, answer })
    }

    #[test]
    fn one_shards_stop_is_its_own_and_every_shards_stop_is_the_races() {
        let stopped = |events: &[(Duration, RaceEvent)]| {
            events
                .iter()
                .filter(|(_, e)| matches!(e, RaceEvent::Stopped))
                .count()
        };
        let s0 = shard_file(0, 0, vec![(at(500), RaceEvent::Stopped)]);
        let s1 = shard_file(1, 0, vec![(at(900), finished(1, 100))]);
        let merged = merge(vec![s0.clone(), s1]).unwrap();
        assert_eq!(stopped(&merged.recording.events), 0);
        assert!(
            merged
                .warnings
                .iter()
                .any(|w| w.contains("shard 0 at 0.5 s was stopped early")),
            "{:?}",
            merged.warnings
        );
        let s1 = shard_file(1, 0, vec![(at(700), RaceEvent::Stopped)]);
        let merged = merge(vec![s0, s1]).unwrap();
        let stops: Vec<u64> = merged
            .recording
            .events
            .iter()
            .filter(|(_, e)| matches!(e, RaceEvent::Stopped))
            .map(|(t, _)| t.as_millis() as u64)
            .collect();
        assert_eq!(stops, vec![700], "the race stopped when the last shard did");
    }

    #[test]
    fn each_second_keeps_the_worst_shards_client_sample() {
        let sample = |lag_ms: u64, cpu: u32| {
            RaceEvent::ClientSample(ClientSample {
                loop_lag: at(lag_ms),
                queue_depth: 1,
                queue_capacity: 8192,
                cpu_permille: cpu,
                cores: 2,
            })
        };
        let s0 = shard_file(
            0,
            0,
            vec![(at(1000), sample(1, 900)), (at(2000), sample(1, 100))],
        );
        let s1 = shard_file(
            1,
            0,
            vec![(at(1010), sample(40, 200)), (at(2010), sample(2, 100))],
        );
        let merged = merge(vec![s0, s1]).unwrap();
        let samples: Vec<(u64, u64, u32)> = merged
            .recording
            .events
            .iter()
            .filter_map(|(t, e)| match e {
                RaceEvent::ClientSample(s) => Some((
                    t.as_millis() as u64,
                    s.loop_lag.as_millis() as u64,
                    s.cpu_permille,
                )),
                _ => None,
            })
            .collect();
        assert_eq!(samples, vec![(1000, 40, 900), (2000, 2, 100)]);
    }

    #[test]
    fn the_inspector_slots_are_claimed_again_as_one_process_claims_them() {
        use crate::metrics::trace::TRACE_SLOTS;
        let slots = TRACE_SLOTS as u64;
        // Each shard traced its own first requests at once.
        let traced = |index: u32| {
            let mut events = Vec::new();
            for k in 0..slots {
                let id = u64::from(index) + 2 * k;
                events.push((at(10 + id), opened(id, 10 + id)));
                events.push((at(50 + id), piece(id, 50 + id)));
            }
            shard_file(index, 0, events)
        };
        let merged = merge(vec![traced(0), traced(1)]).unwrap();
        let mut opened_ids = Vec::new();
        let mut pieces = Vec::new();
        for (_, e) in &merged.recording.events {
            if let RaceEvent::Trace(t) = e {
                match t.step {
                    TraceStep::Opened { .. } => opened_ids.push(t.request_id),
                    _ => pieces.push(t.request_id),
                }
            }
        }
        // The first TRACE_SLOTS requests sent hold the slots, as in one
        // process; the others' pieces are left out with them.
        let first: Vec<u64> = (0..slots).collect();
        assert_eq!(opened_ids, first);
        assert_eq!(pieces, first);
    }
}
