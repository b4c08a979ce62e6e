//! A comparison as one self-contained HTML page (`compare.html`): inline
//! CSS, no script, nothing fetched (its Content-Security-Policy forbids it).
//! Every user string goes through [`crate::report::html_escape::escape`].

use std::fmt::Write as _;

use super::cells;
use super::{Comparison, Verdict};
use crate::report::html_escape::escape;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}
th,td{padding:.3rem .6rem;border-bottom:1px solid #d0d7de;text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.verdict{text-align:left}
thead th{border-bottom:2px solid #8c959f}
.better{color:#1a7f37}.worse{color:#cf222e;font-weight:600}.same,.na{color:#656d76}
ul.gates{list-style:none;padding:0}ul.gates li{margin:.3rem 0}
.note{color:#656d76}
@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}th,td{border-color:#30363d}.better{color:#3fb950}.worse{color:#f85149}.same,.na,.note{color:#8d96a0}}
";

fn verdict(v: Option<Verdict>) -> (&'static str, &'static str) {
    match v {
        Some(Verdict::Better) => ("better", "▲ better"),
        Some(Verdict::Worse) => ("worse", "▼ worse"),
        Some(Verdict::Same) => ("same", "= same"),
        None => ("na", "n/a"),
    }
}

fn race(race: &super::RaceFigures) -> String {
    let detail = cells::race_detail(race);
    let name = format!("<strong>{}</strong>", escape(cells::race_name(race)));
    if detail.is_empty() {
        name
    } else {
        format!("{name} ({})", escape(&detail))
    }
}

/// The comparison as an HTML page.
#[must_use]
pub fn to_html(c: &Comparison) -> String {
    let title = format!(
        "Race comparison: {} → {}",
        escape(cells::race_name(&c.baseline)),
        escape(cells::race_name(&c.current))
    );
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let _ = writeln!(
        out,
        "<p>Baseline: {}. Current: {}.</p>\n<p class=\"note\">{}</p>",
        race(&c.baseline),
        race(&c.current),
        escape(&cells::same_band_note())
    );
    if c.engines.is_empty() {
        let _ = writeln!(
            out,
            "<p>No engine is in both races (engines match by name).</p>"
        );
    }
    for engine in &c.engines {
        let _ = writeln!(
            out,
            "<h2>{}</h2>\n<table>\n<thead><tr><th>metric</th><th>baseline</th><th>current</th><th>change</th><th></th></tr></thead>\n<tbody>",
            escape(&engine.name)
        );
        for row in cells::rows(&engine.rows) {
            let (class, word) = verdict(row.verdict);
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"verdict {class}\">{word}</td></tr>",
                escape(row.label),
                escape(&row.baseline),
                escape(&row.current),
                escape(&row.change)
            );
        }
        let _ = writeln!(out, "</tbody>\n</table>");
    }
    for (which, names) in cells::unmatched(c) {
        let names: Vec<String> = names.iter().map(|n| escape(n)).collect();
        let _ = writeln!(out, "<p>{which}: {}.</p>", names.join(", "));
    }
    let _ = writeln!(out, "<h2>Gates</h2>");
    if c.gates.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">None set (<code>--max-regression METRIC=PCT</code>).</p>"
        );
    } else {
        let _ = writeln!(out, "<ul class=\"gates\">");
        for gate in &c.gates {
            let (class, mark) = match (gate.failed(), gate.inconclusive()) {
                (true, _) => ("worse", "❌"),
                (false, true) => ("same", "⚠️"),
                (false, false) => ("better", "✅"),
            };
            let said = cells::gate_said(gate, escape, escape);
            let _ = writeln!(
                out,
                "<li class=\"{class}\">{mark} <code>{}</code>: {said}</li>",
                escape(&gate.gate.to_string())
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::figures;
    use super::super::{Comparison, Gate};
    use super::*;

    fn page(base: &str, cur: &str, engine: &str) -> String {
        to_html(&Comparison::new(
            figures(base, &[(engine, 100.0, 50.0)]),
            figures(cur, &[(engine, 150.0, 50.0)]),
            &[Gate::parse("ttft_p99=10%").unwrap()],
        ))
    }

    #[test]
    fn the_page_is_self_contained_and_locked_down() {
        let html = page("a", "b", "e");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        ));
        assert!(!html.contains("<script"), "{html}");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
        assert!(!html.contains("<link"), "{html}");
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn rows_and_gates_carry_their_verdict() {
        let html = page("a", "b", "e");
        assert!(
            html.contains("<tr><td>TTFT p99</td><td>100.0 ms</td><td>150.0 ms</td><td>+50.0 ms (+50.0 %)</td><td class=\"verdict worse\">▼ worse</td></tr>"),
            "{html}"
        );
        assert!(
            html.contains("<li class=\"worse\">❌ <code>ttft_p99=10%</code>: e: 50.0 % worse</li>"),
            "{html}"
        );
    }

    #[test]
    fn race_and_engine_names_are_escaped() {
        let html = page(
            "<script>alert(1)</script>",
            "x\" onload=\"y",
            "<img src=x onerror=alert(1)>",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("x\" onload"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<h2>&lt;img src=x onerror=alert(1)&gt;</h2>"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;: 50.0 % worse"),
            "{html}"
        );
    }
}
