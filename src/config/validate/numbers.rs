//! Numbers with their ranges: seconds, milliseconds, whole counts,
//! fractions, each out-of-range value reported with its key path.

#[allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------
// Numbers

pub(super) fn fmt_num(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e15 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Seconds, `> 0` (or `>= 0` with `allow_zero`), at most a year. `what`
/// converts the written number to seconds (1.0 for `_s`, 0.001 for `_ms`).
pub(super) fn seconds(
    p: &mut Problems,
    path: &str,
    v: f64,
    scale: f64,
    allow_zero: bool,
) -> Duration {
    let secs = v * scale;
    let ok_low = if allow_zero { v >= 0.0 } else { v > 0.0 };
    if !ok_low {
        let bound = if allow_zero {
            "at least 0"
        } else {
            "greater than 0"
        };
        p.add(path, format!("must be {bound}, got '{}'", fmt_num(v)));
        return Duration::ZERO;
    }
    if secs > MAX_SECONDS {
        p.add(
            path,
            format!(
                "'{}' is too long; the most is a year ({} s)",
                fmt_num(v),
                fmt_num(MAX_SECONDS)
            ),
        );
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO)
}

pub(super) fn secs_opt(
    p: &mut Problems,
    path: &str,
    v: Option<f64>,
    allow_zero: bool,
    default: Duration,
) -> Duration {
    v.map_or(default, |v| seconds(p, path, v, 1.0, allow_zero))
}

pub(super) fn ms_opt(
    p: &mut Problems,
    path: &str,
    v: Option<f64>,
    allow_zero: bool,
    default: Duration,
) -> Duration {
    v.map_or(default, |v| seconds(p, path, v, 0.001, allow_zero))
}

/// A whole number in `min..=max`.
pub(super) fn whole(p: &mut Problems, path: &str, v: i64, min: i64, max: i64) -> i64 {
    if v < min {
        p.add(path, format!("must be at least {min}, got '{v}'"));
        min
    } else if v > max {
        p.add(path, format!("'{v}' is too large; the most is {max}"));
        max
    } else {
        v
    }
}

/// Longest prompt or answer a race may ask for, in tokens: beyond every
/// model's context window, and small enough that building synthetic prompts
/// of it stays within memory.
pub(super) const MAX_PROMPT_TOKENS: i64 = 1_000_000;

pub(super) fn whole_u32(p: &mut Problems, path: &str, v: i64, min: i64, max: i64) -> u32 {
    u32::try_from(whole(p, path, v, min, max.min(i64::from(u32::MAX)))).unwrap_or(u32::MAX)
}

pub(super) fn whole_u64(p: &mut Problems, path: &str, v: i64, min: i64) -> u64 {
    u64::try_from(whole(p, path, v, min, i64::MAX)).unwrap_or(0)
}

/// A number in `lo..=hi`.
pub(super) fn within(p: &mut Problems, path: &str, v: f64, lo: f64, hi: f64) -> f64 {
    if (lo..=hi).contains(&v) {
        v
    } else {
        p.add(
            path,
            format!("must be between {lo} and {hi}, got '{}'", fmt_num(v)),
        );
        lo
    }
}

/// A number `> 0` and at most `max`.
pub(super) fn positive(p: &mut Problems, path: &str, v: f64, max: f64) -> f64 {
    if v.is_nan() || v <= 0.0 {
        p.add(
            path,
            format!("must be greater than 0, got '{}'", fmt_num(v)),
        );
        1.0
    } else if v > max {
        p.add(
            path,
            format!(
                "'{}' is too large; the most is {}",
                fmt_num(v),
                fmt_num(max)
            ),
        );
        1.0
    } else {
        v
    }
}
