//! A comparison as plain text for the terminal (stdout): an aligned table
//! per engine and a line per gate. Names are printed as they are, with line
//! breaks and other control characters replaced.

use std::fmt::Write as _;

use super::cells;
use super::{Comparison, Verdict};

/// `s` on one line: control characters (line breaks, escape sequences)
/// become spaces, so a name cannot move the cursor or split a row.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn race(race: &super::RaceFigures) -> String {
    let detail = cells::race_detail(race);
    let name = printable(cells::race_name(race));
    if detail.is_empty() {
        name
    } else {
        format!("{name} ({detail})")
    }
}

/// Rows as columns padded to their widest cell: the first left-aligned,
/// numbers right-aligned, the last left-aligned.
fn table(rows: &[[String; 5]]) -> String {
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        out.push_str("  ");
        for (c, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[c] - cell.chars().count());
            if c == 0 || c == 4 {
                let _ = write!(out, "{cell}{pad}  ");
            } else {
                let _ = write!(out, "{pad}{cell}  ");
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
        if n == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(out, "  {}", "-".repeat(total));
        }
    }
    out
}

/// The comparison as text.
#[must_use]
pub fn to_text(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "baseline: {}", race(&c.baseline));
    let _ = writeln!(out, "current:  {}", race(&c.current));
    let _ = writeln!(out, "{}", cells::same_band_note());
    if c.engines.is_empty() {
        let _ = writeln!(out, "\nno engine is in both races (engines match by name)");
    }
    for engine in &c.engines {
        let _ = writeln!(out, "\n{}", printable(&engine.name));
        let mut rows = vec![[
            "metric".to_owned(),
            "baseline".to_owned(),
            "current".to_owned(),
            "change".to_owned(),
            String::new(),
        ]];
        for row in cells::rows(&engine.rows) {
            let verdict = match row.verdict {
                Some(Verdict::Better) => "better",
                Some(Verdict::Worse) => "WORSE",
                Some(Verdict::Same) => "same",
                None => "n/a",
            };
            rows.push([
                row.label.to_owned(),
                row.baseline,
                row.current,
                row.change,
                verdict.to_owned(),
            ]);
        }
        out.push_str(&table(&rows));
    }
    for (which, names) in cells::unmatched(c) {
        let names: Vec<String> = names.iter().map(|n| printable(n)).collect();
        let _ = writeln!(out, "\n{which}: {}", names.join(", "));
    }
    if !c.gates.is_empty() {
        let _ = writeln!(out, "\ngates:");
        for gate in &c.gates {
            let mark = match (gate.failed(), gate.inconclusive()) {
                (true, _) => "FAIL",
                (false, true) => "??  ",
                (false, false) => "ok  ",
            };
            let said = cells::gate_said(gate, printable, str::to_owned);
            let _ = writeln!(out, "  {mark} {}: {said}", gate.gate);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::figures;
    use super::super::{Comparison, Gate};
    use super::*;

    #[test]
    fn the_table_aligns_and_names_the_verdicts() {
        let c = Comparison::new(
            figures("r", &[("alpha", 100.0, 50.0)]),
            figures("r", &[("alpha", 150.0, 50.0)]),
            &[Gate::parse("ttft_p99=10").unwrap()],
        );
        let text = to_text(&c);
        assert!(
            text.contains("  TTFT p99          100.0 ms     150.0 ms  +50.0 ms (+50.0 %)  WORSE\n"),
            "{text}"
        );
        assert!(
            text.contains("  output tok/s    50.0 tok/s   50.0 tok/s   0.0 tok/s (0.0 %)  same\n"),
            "{text}"
        );
        assert!(
            text.contains("  FAIL ttft_p99=10%: alpha: 50.0 % worse\n"),
            "{text}"
        );
    }

    #[test]
    fn control_characters_in_names_are_blanked() {
        assert_eq!(printable("a\nb\x1b[2Jc"), "a b [2Jc");
    }
}
