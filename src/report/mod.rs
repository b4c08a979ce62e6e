//! Exports of a race's results: the per-request CSVs (the original's
//! columns), `summary.json`, and the reports made from the summary
//! (report.html, report.md, junit.xml) and from two summaries (compare).
//! Reports format the metrics' numbers; `compare` only subtracts two.

pub mod breakdown;
pub mod compare;
pub mod csv_sink;
pub mod html;
pub mod html_escape;
pub mod junit;
pub mod markdown;
pub mod outputs;
pub mod prometheus;
pub mod server;
pub mod step_summary;
pub mod summary;
pub mod table;

pub use csv_sink::{CsvSink, CsvWriter, csv_file_name};
pub use outputs::{Format, write_reports, write_summary};
pub use summary::SummaryFile;

/// A figure to three decimals at most, without trailing zeros (`2500`,
/// `0.05`), for the reports' prose.
pub(crate) fn number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
