//! Ranking rules. Engines that pass every SLO rank above those that fail
//! one; then engines that crossed a request or token finish line rank by
//! finishing time; the rest (and ties) by the race's score: successful
//! requests or tokens toward the line, or goodput when the race is
//! time-boxed. Failures never score, so an erroring lane cannot outrank a
//! clean one on raw count.

use std::cmp::Ordering;

use super::snapshot::LaneSnapshot;
use super::standing::{LaneState, Standing};
use crate::config::FinishSpec;

/// The value engines are ranked by when no finishing time separates them.
#[must_use]
pub fn score(standing: &Standing, finish: &FinishSpec) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    if finish.requests.is_some() {
        standing.ok as f64
    } else if finish.output_tokens.is_some() {
        standing.output_tokens as f64
    } else {
        standing.goodput_rps
    }
}

/// In a race the clock ends (no request or token finish line), every lane's
/// time runs alike, so the track shows the score instead: how far the time
/// has gone, times the lane's score over the best. The leader is ahead and
/// the others trail by their margin, also once the time is up. Sweeps keep
/// their own answer and are left as they are. `standings` are the lanes'.
pub fn time_boxed_progress(
    lanes: &mut [LaneSnapshot],
    standings: &[Standing],
    finish: &FinishSpec,
) {
    if finish.requests.is_some()
        || finish.output_tokens.is_some()
        || !finish.duration_is_finish_line
    {
        return;
    }
    let best = standings
        .iter()
        .filter(|s| !s.sweeping)
        .map(|s| score(s, finish))
        .fold(0.0, f64::max);
    for (lane, standing) in lanes.iter_mut().zip(standings) {
        if standing.sweeping {
            continue;
        }
        let share = if best > 0.0 {
            score(standing, finish) / best
        } else {
            0.0
        };
        lane.progress = (lane.progress * share).clamp(0.0, 1.0);
    }
}

/// In a race the clock ends (ranked by goodput), marks each engine whose
/// goodput interval overlaps the one of the engine placed just above it,
/// both with the same SLO verdict: the places are too close to call.
/// Races to a finish line rank by time and are left as they are.
pub fn mark_ties(lanes: &mut [LaneSnapshot], order: &[usize], finish: &FinishSpec) {
    if finish.requests.is_some() || finish.output_tokens.is_some() {
        return;
    }
    for pair in order.windows(2) {
        let (above, below) = (&lanes[pair[0]], &lanes[pair[1]]);
        let tied = match (above.rate_ci95, below.rate_ci95) {
            (Some(a), Some(b))
                if above.sweep.is_none()
                    && below.sweep.is_none()
                    && above.slo_pass == below.slo_pass =>
            {
                let ([a_lo, a_hi], [b_lo, b_hi]) = (a.goodput_rps, b.goodput_rps);
                a_lo <= b_hi && b_lo <= a_hi
            }
            _ => false,
        };
        lanes[pair[1]].too_close_to_call = tied;
    }
}

/// Engine indices in leaderboard order. In a sweep, by maximum sustainable
/// load (an engine that held no step last), then throughput there.
#[must_use]
pub fn rank(standings: &[Standing], finish: &FinishSpec) -> Vec<usize> {
    let line_race = finish.requests.is_some() || finish.output_tokens.is_some();
    let finish_time = |s: &Standing| {
        (line_race && s.state == LaneState::Finished)
            .then_some(s.finished_at)
            .flatten()
    };
    let mut order: Vec<usize> = (0..standings.len()).collect();
    order.sort_by(|&a, &b| {
        let (la, lb) = (&standings[a], &standings[b]);
        let by_time = match (finish_time(la), finish_time(lb)) {
            (Some(ta), Some(tb)) => ta.cmp(&tb),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let by_sweep = match (la.sustained, lb.sustained) {
            (Some((a_level, a_tput)), Some((b_level, b_tput))) => {
                b_level.total_cmp(&a_level).then(b_tput.total_cmp(&a_tput))
            }
            (Some(_), None) if lb.sweeping => Ordering::Less,
            (None, Some(_)) if la.sweeping => Ordering::Greater,
            _ => Ordering::Equal,
        };
        let by_slo = lb.slo_pass().cmp(&la.slo_pass());
        by_slo
            .then(by_sweep)
            .then(by_time)
            .then_with(|| score(lb, finish).total_cmp(&score(la, finish)))
            .then_with(|| ttft_for_ranking(la).cmp(&ttft_for_ranking(lb)))
            .then_with(|| la.name.cmp(&lb.name))
    });
    order
}

/// Median TTFT with "no data" ranked last.
fn ttft_for_ranking(standing: &Standing) -> std::time::Duration {
    standing.ttft_p50.unwrap_or(std::time::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::stats::tests::lane;
    use std::time::Duration;

    fn standings(lanes: &[LaneSnapshot]) -> Vec<Standing> {
        lanes.iter().map(LaneSnapshot::standing).collect()
    }

    fn finish(requests: Option<u64>) -> FinishSpec {
        FinishSpec {
            duration: Duration::from_secs(60),
            duration_is_finish_line: requests.is_none(),
            requests,
            output_tokens: None,
            grace: Duration::from_secs(5),
        }
    }

    #[test]
    fn time_boxed_races_rank_by_goodput() {
        let mut a = lane("a");
        a.rates.goodput_rps = 5.0;
        let mut b = lane("b");
        b.rates.goodput_rps = 9.0;
        assert_eq!(
            rank(&[a.standing(), b.standing()], &finish(None)),
            vec![1, 0]
        );
    }

    #[test]
    fn a_time_boxed_track_puts_the_leader_ahead_by_its_margin() {
        let mut lanes = [lane("a"), lane("b"), lane("c")];
        for (l, goodput) in lanes.iter_mut().zip([5.0, 10.0, 0.0]) {
            l.progress = 0.5; // half the time gone
            l.rates.goodput_rps = goodput;
        }
        let stood = standings(&lanes);
        time_boxed_progress(&mut lanes, &stood, &finish(None));
        let at: Vec<f64> = lanes.iter().map(|l| l.progress).collect();
        assert_eq!(at, vec![0.25, 0.5, 0.0]);
        // A finish line keeps the track as it is: work toward the line.
        let mut lanes = [lane("a")];
        lanes[0].progress = 0.4;
        let stood = standings(&lanes);
        time_boxed_progress(&mut lanes, &stood, &finish(Some(100)));
        assert!((lanes[0].progress - 0.4).abs() < f64::EPSILON);
        // Before anyone scores, nobody moves.
        let mut lanes = [lane("a"), lane("b")];
        lanes[0].progress = 0.3;
        let stood = standings(&lanes);
        time_boxed_progress(&mut lanes, &stood, &finish(None));
        assert!(lanes[0].progress.abs() < f64::EPSILON);
    }

    #[test]
    fn finishers_rank_by_finishing_time_ahead_of_the_rest() {
        let mut a = lane("a");
        a.state = LaneState::Finished;
        a.finished_at = Some(Duration::from_secs(30));
        let mut b = lane("b");
        b.state = LaneState::Finished;
        b.finished_at = Some(Duration::from_secs(20));
        let mut c = lane("c");
        c.counts.ok = 10_000;
        assert_eq!(
            rank(
                &[a.standing(), b.standing(), c.standing()],
                &finish(Some(100))
            ),
            vec![1, 0, 2]
        );
    }

    #[test]
    fn engines_that_pass_their_slos_rank_above_those_that_fail_one() {
        use crate::metrics::slo::{SloCheck, SloKind};
        let check = |pass| SloCheck {
            few_samples: false,
            kind: SloKind::ErrorRate,
            threshold: 0.05,
            actual: Some(if pass { 0.0 } else { 0.2 }),
            pass,
        };
        let mut fast = lane("fast");
        fast.rates.goodput_rps = 9.0;
        fast.slo_checks = vec![check(false)];
        let mut slow = lane("slow");
        slow.rates.goodput_rps = 5.0;
        slow.slo_checks = vec![check(true)];
        assert_eq!(rank(&standings(&[fast, slow]), &finish(None)), vec![1, 0]);
    }

    #[test]
    fn failures_do_not_outrank_a_clean_lane() {
        let mut clean = lane("clean");
        clean.counts.ok = 50;
        let mut failing = lane("failing");
        failing.counts.ok = 40;
        failing.counts.failed = 500;
        assert_eq!(
            rank(&[failing.standing(), clean.standing()], &finish(Some(100))),
            vec![1, 0]
        );
    }
}
