//! `junit.xml`: one test case per engine × SLO, so a CI system shows which
//! objective failed on which engine. Formats the summary's verdicts; it
//! computes none.

use std::fmt::Write as _;

use super::summary::SummaryFile;
use super::{html_escape, number};

/// The JUnit XML document. An engine without objectives gets one case,
/// `reachable`, that fails only when none of its requests succeeded.
#[must_use]
pub fn report(s: &SummaryFile) -> String {
    let mut suites = String::new();
    let (mut all_tests, mut all_failures) = (0, 0);
    for e in &s.engines {
        let mut cases = String::new();
        let (mut tests, mut failures) = (0, 0);
        let mut case = |name: &str, failure: Option<String>| {
            tests += 1;
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&format!("{}.{}", s.race, e.name)),
                escape(name)
            );
            match failure {
                Some(message) => {
                    failures += 1;
                    let _ = writeln!(
                        cases,
                        ">\n      <failure message=\"{}\" type=\"slo\"/>\n    </testcase>",
                        escape(&message)
                    );
                }
                None => cases.push_str("/>\n"),
            }
        };
        if e.slo.is_empty() {
            let failure = (e.counts.ok == 0)
                .then(|| format!("no request succeeded ({} failed)", e.counts.failed));
            case("reachable", failure);
        }
        for check in &e.slo {
            let failure = (!check.pass).then(|| match check.actual {
                Some(actual) => format!(
                    "{}: measured {} against a limit of {}",
                    check.kind.name(),
                    number(actual),
                    number(check.threshold)
                ),
                None => format!(
                    "{}: nothing was measured (no request completed)",
                    check.kind.name()
                ),
            });
            case(check.kind.name(), failure);
        }
        all_tests += tests;
        all_failures += failures;
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">\n{cases}  </testsuite>\n",
            escape(&e.name),
            e.active_s
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{all_tests}\" failures=\"{all_failures}\" errors=\"0\" time=\"{:.3}\">\n{suites}</testsuites>\n",
        escape(&s.race),
        s.duration_s
    )
}

/// Text for an XML attribute: the HTML entities, line breaks kept as
/// character references, and the control characters XML 1.0 cannot hold
/// dropped.
fn escape(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter(|&c| c >= ' ' || c == '\n' || c == '\t')
        .collect();
    html_escape::escape(&kept)
        .replace('\n', "&#10;")
        .replace('\t', "&#9;")
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::metrics::slo::SloCheck;

    #[test]
    fn one_case_per_engine_and_objective_and_the_failed_one_says_why() {
        let mut snap = crate::ui::test_support::failing_fixture();
        for (i, lane) in snap.lanes.iter_mut().enumerate() {
            lane.slo_checks = vec![
                SloCheck {
                    few_samples: false,
                    kind: crate::metrics::slo::SloKind::TtftP99,
                    threshold: 2500.0,
                    actual: Some(if i == 1 { 12600.0 } else { 540.0 }),
                    pass: i != 1,
                },
                SloCheck {
                    few_samples: false,
                    kind: crate::metrics::slo::SloKind::ErrorRate,
                    threshold: 0.05,
                    actual: Some(0.01),
                    pass: true,
                },
            ];
        }
        snap.lanes[0].name = "a<b & \"c\"".to_owned();
        let xml = report(&SummaryFile::new(&snap, SystemTime::UNIX_EPOCH));
        assert!(
            xml.contains("<testsuites name=\"Demo race\" tests=\"6\" failures=\"1\""),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 6, "{xml}");
        assert!(
            xml.contains(
                "<testcase classname=\"Demo race.tgi\" name=\"ttft_p99_ms\">\n      <failure message=\"ttft_p99_ms: measured 12600 against a limit of 2500\" type=\"slo\"/>"
            ),
            "{xml}"
        );
        assert!(xml.contains("name=\"a&lt;b &amp; &quot;c&quot;\""), "{xml}");
        // Well-formed, with the structure CI systems read.
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
        let suites: Vec<_> = doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 3);
        assert_eq!(suites[0].attribute("name"), Some("a<b & \"c\""));
    }

    #[test]
    fn an_engine_without_objectives_fails_only_when_nothing_succeeded() {
        let mut snap = crate::ui::test_support::failing_fixture();
        snap.lanes[1].counts.ok = 0;
        let xml = report(&SummaryFile::new(&snap, SystemTime::UNIX_EPOCH));
        assert_eq!(xml.matches("name=\"reachable\"").count(), 3, "{xml}");
        assert!(
            xml.contains("<failure message=\"no request succeeded (230 failed)\""),
            "{xml}"
        );
        assert!(xml.contains("failures=\"1\""), "{xml}");
    }
}
