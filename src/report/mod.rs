//! Exports of a race's results: the per-request CSVs (the original's
//! columns) and `summary.json`. Reports format numbers; they compute none.

pub mod compare;
pub mod csv_sink;
pub mod html_escape;
pub mod step_summary;
pub mod summary;
pub mod table;

pub use csv_sink::{CsvSink, CsvWriter, csv_file_name};
pub use summary::{SummaryFile, write_summary};
