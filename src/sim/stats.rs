//! The simulator's counters: atomics shared by the request handlers, read
//! by `SimHandle::stats` as a plain snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::FaultKind;

/// What the simulator has seen so far.
///
/// `requests_received` counts every request to a completion route, including
/// bad ones. `requests_completed` counts only answers that ran to their
/// normal end (no fault, client still there). `in_flight` are admitted
/// requests holding a capacity slot; `queued` are waiting for one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    pub requests_received: u64,
    pub requests_completed: u64,
    /// Faults actually injected, by kind (kinds never injected are absent).
    pub faults_injected: BTreeMap<FaultKind, u64>,
    pub in_flight: u64,
    pub queued: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    received: AtomicU64,
    completed: AtomicU64,
    in_flight: AtomicU64,
    queued: AtomicU64,
    /// Indexed by the kind's position in `FaultKind::ALL`.
    faults: [AtomicU64; FaultKind::ALL.len()],
}

impl Counters {
    /// Counts a new request and returns its sequence number (0-based).
    pub(crate) fn next_request(&self) -> u64 {
        self.received.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn completed(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fault(&self, kind: FaultKind) {
        if let Some(i) = FaultKind::ALL.iter().position(|k| *k == kind) {
            self.faults[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn in_flight(&self) -> &AtomicU64 {
        &self.in_flight
    }

    pub(crate) fn queued(&self) -> &AtomicU64 {
        &self.queued
    }

    pub(crate) fn snapshot(&self) -> SimStats {
        let faults_injected = FaultKind::ALL
            .iter()
            .zip(&self.faults)
            .map(|(k, n)| (*k, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        SimStats {
            requests_received: self.received.load(Ordering::Relaxed),
            requests_completed: self.completed.load(Ordering::Relaxed),
            faults_injected,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
        }
    }
}

/// Holds one unit of a gauge (`in_flight` or `queued`) for as long as it
/// lives, so every exit path, including a dropped future, gives it back.
#[derive(Debug)]
pub(crate) struct GaugeGuard<'a>(&'a AtomicU64);

impl<'a> GaugeGuard<'a> {
    pub(crate) fn new(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
