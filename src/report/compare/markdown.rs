//! A comparison as GitHub-flavoured Markdown (`compare.md`, the step
//! summary): a heading with both races, a table per engine and the gates.
//! Every user string is escaped, so a name cannot break a table.

use std::fmt::Write as _;

use super::cells;
use super::{Comparison, Verdict};
use crate::report::markdown::cell as escape;

fn verdict(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Better) => "▲ better",
        Some(Verdict::Worse) => "▼ worse",
        Some(Verdict::Same) => "= same",
        None => "n/a",
    }
}

fn race(race: &super::RaceFigures) -> String {
    let detail = cells::race_detail(race);
    let name = format!("**{}**", escape(cells::race_name(race)));
    if detail.is_empty() {
        name
    } else {
        format!("{name} ({})", escape(&detail))
    }
}

/// The comparison as Markdown.
#[must_use]
pub fn to_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Race comparison: {} → {}\n",
        escape(cells::race_name(&c.baseline)),
        escape(cells::race_name(&c.current))
    );
    let _ = writeln!(
        out,
        "Baseline: {}. Current: {}. {}\n",
        race(&c.baseline),
        race(&c.current),
        cells::same_band_note()
    );
    if c.engines.is_empty() {
        let _ = writeln!(out, "No engine is in both races (engines match by name).\n");
    }
    for engine in &c.engines {
        let _ = writeln!(out, "### {}\n", escape(&engine.name));
        let _ = writeln!(out, "| metric | baseline | current | change | |");
        let _ = writeln!(out, "|:---|---:|---:|---:|:---|");
        for row in cells::rows(&engine.rows) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.label,
                row.baseline,
                row.current,
                row.change,
                verdict(row.verdict)
            );
        }
        out.push('\n');
    }
    for (which, names) in cells::unmatched(c) {
        let names: Vec<String> = names.iter().map(|n| escape(n)).collect();
        let _ = writeln!(out, "{which}: {}.\n", names.join(", "));
    }
    let _ = writeln!(out, "### Gates\n");
    if c.gates.is_empty() {
        let _ = writeln!(out, "None set (`--max-regression METRIC=PCT`).");
    }
    for gate in &c.gates {
        let mark = match (gate.failed(), gate.inconclusive()) {
            (true, _) => "❌",
            (false, true) => "⚠️",
            (false, false) => "✅",
        };
        let said = cells::gate_said(gate, escape, str::to_owned);
        let _ = writeln!(out, "- {mark} `{}`: {said}", gate.gate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{figures, summary};
    use super::super::{Comparison, Gate, RaceFigures};
    use super::*;

    #[test]
    fn two_races_render_as_tables_and_gates() {
        let priced = |race: &str, engines: &[(&str, f64, f64)], per_1m: f64| {
            let mut s = summary(race, engines);
            s["engines"][0]["cost"] = super::super::tests::cost(per_1m);
            RaceFigures::from_json(&s).unwrap()
        };
        let c = Comparison::new(
            priced(
                "Nightly",
                &[
                    ("vllm", 200.0, 120.0),
                    ("tgi", 300.0, 90.0),
                    ("old", 1.0, 1.0),
                ],
                0.42,
            ),
            priced(
                "Nightly",
                &[
                    ("vllm", 250.0, 121.0),
                    ("tgi", 240.0, 80.0),
                    ("new", 1.0, 1.0),
                ],
                0.4,
            ),
            &[
                Gate::parse("ttft_p99=10%").unwrap(),
                Gate::parse("output_tokens_per_s=5").unwrap(),
                Gate::parse("success_rate=0").unwrap(),
            ],
        );
        insta::assert_snapshot!(to_markdown(&c));
    }

    #[test]
    fn names_cannot_break_the_table() {
        assert_eq!(escape("a|b"), r"a\|b");
        assert_eq!(escape("<img src=x>"), r"\<img src=x\>");
        assert_eq!(escape("two\nlines"), "two lines");
        let c = Comparison::new(
            figures("r", &[("x|y", 1.0, 1.0)]),
            figures("r", &[("x|y", 1.0, 1.0)]),
            &[],
        );
        let md = to_markdown(&c);
        assert!(md.contains(r"### x\|y"), "{md}");
        assert!(md.contains("None set"), "{md}");
    }
}
