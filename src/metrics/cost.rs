//! What an engine's tokens cost, from its price and what it measurably did.
//! Self-hosted (`cost_per_hour`: the machine it runs on): the original's
//! formula, hourly cost ÷ tokens per hour × 1,000,000. An API (`price`):
//! its tokens at its price list. See docs/METRICS.md, "Cost".

use std::time::Duration;

use crate::config::Pricing;

/// An engine's cost figures, in dollars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub pricing: Pricing,
    /// Dollars an hour: the machine's price, or for an API what its tokens
    /// cost per hour of the engine's active time; `None` before any time.
    pub per_hour: Option<f64>,
    /// What the engine's active time (or its tokens) cost.
    pub spend: f64,
    /// Per 1,000,000 output tokens of successful requests; `None` before any.
    pub per_million_output: Option<f64>,
    /// Per 1,000,000 input plus output tokens of successful requests.
    pub per_million_total: Option<f64>,
    /// Per successful request.
    pub per_request: Option<f64>,
}

impl Cost {
    /// What `active` time, or the tokens made in it, cost, spread over
    /// what was made.
    #[must_use]
    pub fn of(
        pricing: Pricing,
        active: Duration,
        requests_ok: u64,
        input_tokens: u64,
        output_tokens: u64,
    ) -> Cost {
        let hours = active.as_secs_f64() / 3600.0;
        #[allow(clippy::cast_precision_loss)]
        let (spend, per_hour) = match pricing {
            Pricing::Hourly { per_hour } => (per_hour * hours, Some(per_hour)),
            Pricing::Tokens {
                input_per_1m,
                output_per_1m,
            } => {
                let spend = (input_tokens as f64 * input_per_1m
                    + output_tokens as f64 * output_per_1m)
                    / 1e6;
                (spend, (hours > 0.0).then(|| spend / hours))
            }
        };
        #[allow(clippy::cast_precision_loss)]
        let per = |count: u64, scale: f64| (count > 0).then(|| spend / count as f64 * scale);
        Cost {
            pricing,
            per_hour,
            spend,
            per_million_output: per(output_tokens, 1e6),
            per_million_total: per(input_tokens.saturating_add(output_tokens), 1e6),
            per_request: per(requests_ok, 1.0),
        }
    }
}

/// Places by cost per 1M output tokens, cheapest first: `ranks[lane]` is
/// the lane's place (1 = cheapest), `None` for a lane without a price or
/// without output yet. Equal costs share a place.
#[must_use]
pub fn cheapest_ranks(costs: &[Option<Cost>]) -> Vec<Option<usize>> {
    let figure = |c: &Option<Cost>| c.and_then(|c| c.per_million_output);
    costs
        .iter()
        .map(|c| {
            let mine = figure(c)?;
            let cheaper = costs
                .iter()
                .filter_map(figure)
                .filter(|&other| other < mine)
                .count();
            Some(cheaper + 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOURLY: Pricing = Pricing::Hourly { per_hour: 3.6 };

    #[test]
    fn hourly_cost_over_tokens_per_hour() {
        // $3.60 an hour for 10 s: 1 cent, for 1,000 output tokens and 4,000
        // input tokens in 20 requests.
        let c = Cost::of(HOURLY, Duration::from_secs(10), 20, 4000, 1000);
        assert!((c.spend - 0.01).abs() < 1e-12);
        assert_eq!(c.per_hour, Some(3.6));
        // 100 tokens/s = 360,000 tokens an hour: 3.6 / 360,000 × 1e6 = 10.
        assert!((c.per_million_output.unwrap() - 10.0).abs() < 1e-9);
        assert!((c.per_million_total.unwrap() - 2.0).abs() < 1e-9);
        assert!((c.per_request.unwrap() - 0.0005).abs() < 1e-12);
        let none = Cost::of(HOURLY, Duration::from_secs(10), 0, 0, 0);
        assert_eq!(
            (
                none.per_million_output,
                none.per_million_total,
                none.per_request
            ),
            (None, None, None)
        );
    }

    #[test]
    fn token_prices_bill_the_tokens_made() {
        // $0.50 per 1M in, $1.50 per 1M out: 4,000 in and 1,000 out cost
        // 0.002 + 0.0015 = $0.0035, whatever the time.
        let api = Pricing::Tokens {
            input_per_1m: 0.5,
            output_per_1m: 1.5,
        };
        let c = Cost::of(api, Duration::from_secs(10), 20, 4000, 1000);
        assert!((c.spend - 0.0035).abs() < 1e-12);
        // The input's cost is carried by the output tokens: $3.50 per 1M out.
        assert!((c.per_million_output.unwrap() - 3.5).abs() < 1e-9);
        assert!((c.per_million_total.unwrap() - 0.7).abs() < 1e-9);
        assert!((c.per_request.unwrap() - 0.000_175).abs() < 1e-12);
        // $0.0035 in 10 s is $1.26 an hour.
        assert!((c.per_hour.unwrap() - 1.26).abs() < 1e-9);
        assert_eq!(Cost::of(api, Duration::ZERO, 0, 0, 0).per_hour, None);
    }

    #[test]
    fn cheapest_ranks_by_cost_per_million_output() {
        let at = |per_hour: f64, out: u64| {
            Some(Cost::of(
                Pricing::Hourly { per_hour },
                Duration::from_secs(3600),
                1,
                0,
                out,
            ))
        };
        // $2 for 1M = $2/1M; $1 for 250k = $4/1M; unpriced; no output yet;
        // $4 for 2M = $2/1M (a tie).
        let costs = [
            at(2.0, 1_000_000),
            at(1.0, 250_000),
            None,
            at(1.0, 0),
            at(4.0, 2_000_000),
        ];
        assert_eq!(
            cheapest_ranks(&costs),
            vec![Some(1), Some(3), None, None, Some(1)]
        );
    }
}
