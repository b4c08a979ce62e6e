//! Where the timeline's bars go: the axis of race time, each request's
//! columns, rows for overlapping requests, rows for each engine, and which
//! request ↑/↓ select. Layout only: the times are the snapshot's.

use std::time::Duration;

use crate::metrics::RaceSnapshot;
use crate::metrics::recent::RecentRequest;

/// The longest stretch of race time the axis covers.
pub const MAX_WINDOW_S: u64 = 60;

/// Index in `recent` (newest last) of the selected request: the pinned
/// one, the newest when none is pinned, and the oldest kept once the
/// pinned one has left the list.
#[must_use]
pub fn selected_index(recent: &[RecentRequest], pinned: Option<u64>) -> Option<usize> {
    let newest = recent.len().checked_sub(1)?;
    Some(match pinned {
        None => newest,
        Some(id) => recent.iter().position(|r| r.request_id == id).unwrap_or(0),
    })
}

/// The selected request itself.
#[must_use]
pub fn selected(recent: &[RecentRequest], pinned: Option<u64>) -> Option<&RecentRequest> {
    selected_index(recent, pinned).and_then(|i| recent.get(i))
}

/// The selection after ↓ (`older`) or ↑: the request pinned by its number,
/// or `None` again on reaching the newest, which then follows the race.
#[must_use]
pub fn step(recent: &[RecentRequest], pinned: Option<u64>, older: bool) -> Option<u64> {
    let i = selected_index(recent, pinned)?;
    let newest = recent.len() - 1;
    let j = if older {
        i.saturating_sub(1)
    } else {
        (i + 1).min(newest)
    };
    (j != newest).then(|| recent[j].request_id)
}

/// The stretch of race time drawn, in whole seconds: up to the snapshot's
/// moment (rounded up), back to the oldest kept request's scheduled start,
/// an even number of seconds (a whole middle label), at most a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Axis {
    pub(super) from_s: u64,
    pub(super) to_s: u64,
    pub(super) width: u16,
}

impl Axis {
    pub(super) fn of(snap: &RaceSnapshot, width: u16) -> Axis {
        let now = snap.elapsed;
        let to_s = now.as_secs() + u64::from(now.subsec_nanos() > 0);
        let oldest = snap
            .lanes
            .iter()
            .flat_map(|l| l.recent.iter().map(|r| r.scheduled_at.as_secs()))
            .min()
            .unwrap_or(to_s);
        let span = to_s.saturating_sub(oldest).max(2);
        let span = (span + span % 2).min(MAX_WINDOW_S);
        let from_s = to_s.saturating_sub(span);
        Axis {
            from_s,
            to_s: to_s.max(from_s + span),
            width,
        }
    }

    pub(super) fn span_s(self) -> u64 {
        self.to_s - self.from_s
    }

    /// The column of a moment, within the plot.
    pub(super) fn col(self, t: Duration) -> u16 {
        let from = Duration::from_secs(self.from_s);
        #[allow(clippy::cast_precision_loss)]
        let span = self.span_s() as f64;
        let x = t.saturating_sub(from).as_secs_f64() / span * f64::from(self.width);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let x = x
            .floor()
            .clamp(0.0, f64::from(self.width.saturating_sub(1))) as u16;
        x
    }

    fn starts_after(self, t: Duration) -> bool {
        t < Duration::from_secs(self.from_s)
    }
}

/// A bar on its row: which request, on which row of its group, its first
/// and last column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Placed {
    pub(super) index: usize,
    pub(super) row: usize,
    pub(super) from: u16,
    pub(super) to: u16,
}

/// Places an engine's requests newest first, each on the first row where
/// it leaves a free column on both sides of the bars already there. Rows
/// `0..k` then hold what `k` rows can show, newest first.
pub(super) fn pack(recent: &[RecentRequest], axis: Axis) -> Vec<Placed> {
    let mut rows: Vec<Vec<(u16, u16)>> = Vec::new();
    let mut placed = Vec::new();
    for (index, r) in recent.iter().enumerate().rev() {
        if axis.starts_after(r.ended_at) {
            continue;
        }
        let from = axis.col(r.scheduled_at);
        let to = axis.col(r.ended_at).max(from);
        let fits = |row: &Vec<(u16, u16)>| {
            row.iter().all(|&(a, b)| {
                u32::from(to) + 1 < u32::from(a) || u32::from(from) > u32::from(b) + 1
            })
        };
        let row = match rows.iter().position(fits) {
            Some(row) => row,
            None => {
                rows.push(Vec::new());
                rows.len() - 1
            }
        };
        rows[row].push((from, to));
        placed.push(Placed {
            index,
            row,
            from,
            to,
        });
    }
    placed
}

/// Rows for each engine shown: (lane, rows). Every engine gets one, then
/// the rest go round by round to those that need more, the selected one
/// first in each round. With fewer rows than engines, the engines around
/// the selected one get a row each.
pub(super) fn allocate(needs: &[usize], rows: usize, selected: usize) -> Vec<(usize, usize)> {
    let n = needs.len();
    if n == 0 || rows == 0 {
        return Vec::new();
    }
    let selected = selected.min(n - 1);
    if rows < n {
        let first = (selected + 1).saturating_sub(rows).min(n - rows);
        return (first..first + rows).map(|i| (i, 1)).collect();
    }
    let mut given = vec![1; n];
    let mut left = rows - n;
    while left > 0 {
        let mut gave = false;
        for i in (0..n).map(|k| (selected + k) % n) {
            if left > 0 && given[i] < needs[i] {
                given[i] += 1;
                left -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    given.into_iter().enumerate().collect()
}

/// The glyph for column `x` of a bar.
pub(super) fn glyph(r: &RecentRequest, axis: Axis, x: u16) -> &'static str {
    if x < axis.col(r.sent_at) && r.sent_at > r.scheduled_at {
        "░"
    } else if r.first_token_at.is_none_or(|t| x < axis.col(t)) {
        "▒"
    } else {
        "█"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recent::Outcome;
    use crate::ui::test_support::timeline_fixture;

    fn request(id: u64, from_ms: u64, to_ms: u64) -> RecentRequest {
        RecentRequest {
            request_id: id,
            scheduled_at: Duration::from_millis(from_ms),
            sent_at: Duration::from_millis(from_ms),
            first_token_at: Some(Duration::from_millis(from_ms + 100)),
            ended_at: Duration::from_millis(to_ms),
            outcome: Outcome::Ok,
            output_tokens: 10,
        }
    }

    #[test]
    fn arrows_pin_older_requests_and_the_newest_follows_the_race_again() {
        let recent: Vec<_> = (1..=3)
            .map(|id| request(id, id * 100, id * 100 + 50))
            .collect();
        assert_eq!(selected_index(&recent, None), Some(2));
        assert_eq!(step(&recent, None, true), Some(2));
        assert_eq!(step(&recent, Some(2), true), Some(1));
        assert_eq!(step(&recent, Some(1), true), Some(1), "the oldest stays");
        assert_eq!(step(&recent, Some(1), false), Some(2));
        assert_eq!(step(&recent, Some(2), false), None, "back to the newest");
        assert_eq!(step(&recent, None, false), None);
        // A pinned request that left the list: the oldest kept.
        assert_eq!(selected_index(&recent, Some(99)), Some(0));
        assert_eq!(selected_index(&[], None), None);
        assert_eq!(step(&[], None, true), None);
    }

    #[test]
    fn overlapping_requests_go_on_rows_of_their_own_newest_first() {
        let axis = Axis {
            from_s: 0,
            to_s: 10,
            width: 100,
        };
        // 0–3 s and 2–5 s overlap; 6–8 s fits after the first; one that
        // ended before the axis is left out.
        let recent = vec![
            request(1, 0, 3_000),
            request(2, 2_000, 5_000),
            request(3, 6_000, 8_000),
        ];
        let rows: Vec<(usize, usize)> = pack(&recent, axis)
            .iter()
            .map(|b| (b.index, b.row))
            .collect();
        assert_eq!(rows, vec![(2, 0), (1, 0), (0, 1)]);
        let later = Axis { from_s: 4, ..axis };
        assert_eq!(pack(&recent, later).len(), 2);
    }

    #[test]
    fn rows_go_to_every_engine_then_to_those_that_need_more() {
        assert_eq!(allocate(&[3, 1, 5], 6, 0), vec![(0, 3), (1, 1), (2, 2)]);
        assert_eq!(allocate(&[3, 1, 5], 6, 2), vec![(0, 2), (1, 1), (2, 3)]);
        assert_eq!(allocate(&[1, 1], 9, 0), vec![(0, 1), (1, 1)]);
        // Fewer rows than engines: the selected one and its neighbours.
        assert_eq!(
            allocate(&[2; 10], 4, 8),
            vec![(5, 1), (6, 1), (7, 1), (8, 1)]
        );
        assert_eq!(
            allocate(&[2; 10], 4, 1),
            vec![(0, 1), (1, 1), (2, 1), (3, 1)]
        );
        assert_eq!(allocate(&[], 4, 0), vec![]);
    }

    #[test]
    fn the_axis_ends_at_the_snapshot_and_reaches_back_to_the_oldest_request() {
        let mut snap = timeline_fixture(3);
        let axis = Axis::of(&snap, 100);
        assert_eq!((axis.from_s, axis.to_s), (20, 42));
        snap.elapsed = Duration::from_millis(100_300);
        assert_eq!(Axis::of(&snap, 100).from_s, 101 - 60, "at most a minute");
        for l in &mut snap.lanes {
            l.recent.clear();
        }
        snap.elapsed = Duration::ZERO;
        assert_eq!(Axis::of(&snap, 100).span_s(), 2);
    }
}
