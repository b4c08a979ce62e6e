//! Lane against lane, paired: every lane gets the same prompt for the same
//! request id, so two engines can be compared request by request. For each
//! pair, over the request ids both answered, the ratio of their TTFT and of
//! their E2E per request: its median, with the distribution-free 95 %
//! interval of a median (the binomial ranks of `interval`, exact, so a
//! replay gives the same interval as the race), and a verdict: faster,
//! slower, or too close to call. Computed once, for the final snapshot.

use std::collections::HashMap;

use serde::Serialize;

use super::interval;
use super::record::RequestRecord;

/// A request's (TTFT, E2E) in microseconds.
type Times = (u32, u32);

/// A request's time not known (failed, or no token).
const MISSING: u32 = u32::MAX;

/// Each lane's TTFT and E2E by request id, in microseconds (16 bytes and
/// a map entry a request).
#[derive(Debug, Clone, Default)]
pub struct PairFold {
    lanes: Vec<LaneTimes>,
}

#[derive(Debug, Clone, Default)]
struct LaneTimes {
    /// (TTFT, E2E) by request id: ids may be sparse (a conversation's are
    /// `c · 256 + turn`), so a map rather than a vector indexed by them.
    times: HashMap<u64, Times>,
    /// An embeddings engine: its pairs are with embeddings engines only.
    embeds: bool,
}

/// The ratio of one figure of `a` to `b`'s over the requests both answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio {
    /// Requests both answered (with the figure).
    pub pairs: u64,
    /// The median of a ÷ b per request (below 1: `a` was faster).
    pub median: f64,
    /// Its 95 % interval.
    pub ci95: [f64; 2],
    /// Too few pairs to bound the median.
    pub at_edge: bool,
}

/// What a ratio says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `a` was faster: the whole interval is below 1.
    Faster,
    /// `a` was slower: the whole interval is above 1.
    Slower,
    TooCloseToCall,
}

impl Ratio {
    /// The same ratio the other way round (b ÷ a): the reciprocal of each
    /// per-request ratio has the reciprocal median, and its interval's
    /// ends swap.
    #[must_use]
    pub fn inverse(&self) -> Ratio {
        Ratio {
            pairs: self.pairs,
            median: 1.0 / self.median,
            ci95: [1.0 / self.ci95[1], 1.0 / self.ci95[0]],
            at_edge: self.at_edge,
        }
    }

    #[must_use]
    pub fn verdict(&self) -> Verdict {
        if self.at_edge {
            Verdict::TooCloseToCall
        } else if self.ci95[1] < 1.0 {
            Verdict::Faster
        } else if self.ci95[0] > 1.0 {
            Verdict::Slower
        } else {
            Verdict::TooCloseToCall
        }
    }
}

/// Two engines compared (`a` before `b` in the race file).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairComparison {
    pub a: usize,
    pub b: usize,
    pub ttft: Option<Ratio>,
    pub e2e: Option<Ratio>,
}

impl PairComparison {
    /// The comparison from engine `lane`'s side: the other engine, and
    /// `lane`'s TTFT and E2E over the other's; `None` when `lane` is not in
    /// the pair.
    #[must_use]
    pub fn seen_from(&self, lane: usize) -> Option<(usize, Option<Ratio>, Option<Ratio>)> {
        if lane == self.a {
            Some((self.b, self.ttft, self.e2e))
        } else if lane == self.b {
            let flip = |r: Option<Ratio>| r.map(|r| r.inverse());
            Some((self.a, flip(self.ttft), flip(self.e2e)))
        } else {
            None
        }
    }
}

impl PairFold {
    /// For `embeds[i]`: engine i embeds.
    #[must_use]
    pub fn new(embeds: &[bool]) -> Self {
        PairFold {
            lanes: embeds
                .iter()
                .map(|&embeds| LaneTimes {
                    embeds,
                    ..LaneTimes::default()
                })
                .collect(),
        }
    }

    /// Keeps a successful request's TTFT and E2E under its id.
    pub fn observe(&mut self, record: &RequestRecord) {
        let Some(lane) = self.lanes.get_mut(record.engine) else {
            return;
        };
        if !record.is_ok() {
            return;
        }
        let ttft = record.ttft().map_or(MISSING, micros);
        lane.times
            .insert(record.request_id, (ttft, micros(record.e2e())));
    }

    /// Every pair of engines of one kind (both generate, or both embed).
    #[must_use]
    pub fn comparisons(&self) -> Vec<PairComparison> {
        let mut out = Vec::new();
        for (a, la) in self.lanes.iter().enumerate() {
            for (b, lb) in self.lanes.iter().enumerate().skip(a + 1) {
                if la.embeds != lb.embeds {
                    continue;
                }
                // The requests both answered, in id order.
                let mut both: Vec<(u64, Times, Times)> = la
                    .times
                    .iter()
                    .filter_map(|(id, &x)| Some((*id, x, *lb.times.get(id)?)))
                    .collect();
                both.sort_unstable_by_key(|(id, _, _)| *id);
                let column = |pick: fn(Times) -> u32| -> [Vec<u32>; 2] {
                    [
                        both.iter().map(|(_, x, _)| pick(*x)).collect(),
                        both.iter().map(|(_, _, y)| pick(*y)).collect(),
                    ]
                };
                let [ttft_a, ttft_b] = column(|t| t.0);
                let [e2e_a, e2e_b] = column(|t| t.1);
                out.push(PairComparison {
                    a,
                    b,
                    ttft: (!la.embeds).then(|| ratio(&ttft_a, &ttft_b)).flatten(),
                    e2e: ratio(&e2e_a, &e2e_b),
                });
            }
        }
        out
    }
}

fn micros(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(MISSING - 1)
}

/// The median ratio of `a` to `b` over the ids both have, with its
/// interval; `None` without a pair.
#[must_use]
pub fn ratio(a: &[u32], b: &[u32]) -> Option<Ratio> {
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|&(&x, &y)| x != MISSING && y != MISSING && y > 0)
        .map(|(&x, &y)| f64::from(x) / f64::from(y))
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let (l, u, at_edge) = interval::ranks(n as u64, 0.5);
    let at = |rank: u64| ratios[usize::try_from(rank).unwrap_or(n).clamp(1, n) - 1];
    let median = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    Some(Ratio {
        pairs: n as u64,
        median,
        ci95: [at(l), at(u)],
        at_edge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Two engines whose every request takes its own base time (the prompt
    /// decides it), each with its own ±30 % uniform noise, `a` at `scale`
    /// times `b`: the true median of a ÷ b is `scale`.
    fn samples(rng: &mut ChaCha8Rng, n: usize, scale: f64) -> (Vec<u32>, Vec<u32>) {
        let mut a = Vec::with_capacity(n);
        let mut b = Vec::with_capacity(n);
        for _ in 0..n {
            let base = 20_000.0 + 200_000.0 * rng.random::<f64>();
            let noise = |rng: &mut ChaCha8Rng| 0.7 + 0.6 * rng.random::<f64>();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            {
                a.push((base * scale * noise(rng)) as u32);
                b.push((base * noise(rng)) as u32);
            }
        }
        (a, b)
    }

    #[test]
    fn the_paired_intervals_hold_the_true_ratio_95_percent_of_the_time() {
        let mut rng = ChaCha8Rng::seed_from_u64(27);
        for (n, scale) in [(300, 1.0), (1_000, 0.8), (2_000, 1.25)] {
            let mut held = 0;
            for _ in 0..1_000 {
                let (a, b) = samples(&mut rng, n, scale);
                let r = ratio(&a, &b).unwrap();
                if r.ci95[0] <= scale && scale <= r.ci95[1] {
                    held += 1;
                }
            }
            let coverage = f64::from(held) / 1000.0;
            assert!(
                (0.93..=0.97).contains(&coverage),
                "n {n} scale {scale}: {coverage}"
            );
        }
    }

    #[test]
    fn a_pair_seen_from_either_side_says_the_same() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (a, b) = samples(&mut rng, 300, 0.8);
        let pair = PairComparison {
            a: 0,
            b: 2,
            ttft: None,
            e2e: ratio(&a, &b),
        };
        let (other, _, from_a) = pair.seen_from(0).unwrap();
        let (back, _, from_b) = pair.seen_from(2).unwrap();
        assert_eq!((other, back), (2, 0));
        let (from_a, from_b) = (from_a.unwrap(), from_b.unwrap());
        assert_eq!(from_a.verdict(), Verdict::Faster);
        assert_eq!(from_b.verdict(), Verdict::Slower);
        assert!((from_a.median * from_b.median - 1.0).abs() < 1e-12);
        assert!((from_a.ci95[0] * from_b.ci95[1] - 1.0).abs() < 1e-12);
        // As computed the other way round directly: the same to a fraction
        // (an even count's median is the mean of its middle two, and the
        // interval's ranks are not quite symmetric), with the same verdict.
        let direct = ratio(&b, &a).unwrap();
        assert!(
            (direct.median / from_b.median - 1.0).abs() < 0.01,
            "{direct:?}"
        );
        for i in 0..2 {
            assert!(
                (direct.ci95[i] / from_b.ci95[i] - 1.0).abs() < 0.02,
                "{direct:?}"
            );
        }
        assert_eq!(direct.verdict(), from_b.verdict());
        assert!(pair.seen_from(1).is_none());
    }

    #[test]
    fn a_fifth_faster_engine_is_faster_and_twins_are_too_close_to_call() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (a, b) = samples(&mut rng, 300, 0.8);
        assert_eq!(ratio(&a, &b).unwrap().verdict(), Verdict::Faster);
        assert_eq!(ratio(&b, &a).unwrap().verdict(), Verdict::Slower);
        let (a, b) = samples(&mut rng, 300, 1.0);
        assert_eq!(ratio(&a, &b).unwrap().verdict(), Verdict::TooCloseToCall);
        assert!(ratio(&[MISSING], &[5]).is_none());
        assert!(ratio(&[4, 5], &[5, 5]).unwrap().at_edge);
    }
}
