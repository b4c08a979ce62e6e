//! What an engine's tokens cost, from its hourly price (`cost_per_hour`:
//! the machine it runs on) and what it measurably did: the original's
//! formula, hourly cost ÷ tokens per hour × 1,000,000. See docs/METRICS.md,
//! "Cost".

use std::time::Duration;

/// An engine's cost figures, in the currency of its `cost_per_hour`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub per_hour: f64,
    /// What the engine's active time cost: `per_hour` × active hours.
    pub spend: f64,
    /// Per 1,000,000 output tokens of successful requests; `None` before any.
    pub per_million_output: Option<f64>,
    /// Per 1,000,000 input plus output tokens of successful requests.
    pub per_million_total: Option<f64>,
    /// Per successful request.
    pub per_request: Option<f64>,
}

impl Cost {
    /// The cost of `active` time at `per_hour`, spread over what it made.
    #[must_use]
    pub fn of(
        per_hour: f64,
        active: Duration,
        requests_ok: u64,
        input_tokens: u64,
        output_tokens: u64,
    ) -> Cost {
        let spend = per_hour * active.as_secs_f64() / 3600.0;
        #[allow(clippy::cast_precision_loss)]
        let per = |count: u64, scale: f64| (count > 0).then(|| spend / count as f64 * scale);
        Cost {
            per_hour,
            spend,
            per_million_output: per(output_tokens, 1e6),
            per_million_total: per(input_tokens.saturating_add(output_tokens), 1e6),
            per_request: per(requests_ok, 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hourly_cost_over_tokens_per_hour() {
        // $3.60 an hour for 10 s: 1 cent, for 1,000 output tokens and 4,000
        // input tokens in 20 requests.
        let c = Cost::of(3.6, Duration::from_secs(10), 20, 4000, 1000);
        assert!((c.spend - 0.01).abs() < 1e-12);
        // 100 tokens/s = 360,000 tokens an hour: 3.6 / 360,000 × 1e6 = 10.
        assert!((c.per_million_output.unwrap() - 10.0).abs() < 1e-9);
        assert!((c.per_million_total.unwrap() - 2.0).abs() < 1e-9);
        assert!((c.per_request.unwrap() - 0.0005).abs() < 1e-12);
        let none = Cost::of(3.6, Duration::from_secs(10), 0, 0, 0);
        assert_eq!(
            (
                none.per_million_output,
                none.per_million_total,
                none.per_request
            ),
            (None, None, None)
        );
    }
}
