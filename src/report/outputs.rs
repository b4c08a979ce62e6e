//! Which reports to write and writing them: `report.html`, `report.md` and
//! `junit.xml` beside `summary.json`, each whole or not at all.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context as _;

use super::summary::SummaryFile;
use crate::config::RaceSpec;
use crate::names::named_enum;

named_enum! {
    /// A report `llm-locust report --format` can write.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Format {
        Html = "html",
        Md = "md",
        Json = "json",
        Csv = "csv",
        Junit = "junit",
    }
}

impl Format {
    /// What a race writes, and `report` without `--format`.
    pub const DEFAULT: [Format; 4] = [Format::Html, Format::Md, Format::Json, Format::Csv];
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        let wanted = match wanted.as_str() {
            "markdown" => "md",
            "xml" => "junit",
            other => other,
        };
        Format::from_name(wanted).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            format!("unknown format '{s}'; use {}", names.join(", "))
        })
    }
}

/// Writes the HTML, Markdown and JUnit reports among `formats` into `dir`
/// and returns their paths (summary.json and the CSVs have writers of
/// their own).
pub fn write_reports(
    dir: &Path,
    summary: &SummaryFile,
    spec: &RaceSpec,
    formats: &[Format],
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for format in formats {
        let (name, text) = match format {
            Format::Html => ("report.html", super::html::report(summary, spec)),
            Format::Md => ("report.md", super::markdown::report(summary)),
            Format::Junit => ("junit.xml", super::junit::report(summary)),
            Format::Json | Format::Csv => continue,
        };
        written.push(write_whole(dir, name, &text)?);
    }
    Ok(written)
}

/// Writes `summary.json` into `dir` and returns its path and text.
pub fn write_summary(
    dir: &Path,
    summary: &SummaryFile,
) -> anyhow::Result<(std::path::PathBuf, String)> {
    let json = serde_json::to_string_pretty(summary)?;
    let path = write_whole(dir, "summary.json", &json)?;
    Ok((path, json))
}

/// Writes `text` to `dir/name` through a temporary file and a rename, so
/// a reader never sees half a file.
pub fn write_whole(dir: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write '{}'", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write '{}'", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name_and_a_wrong_one_lists_them() {
        assert_eq!("HTML".parse(), Ok(Format::Html));
        assert_eq!("markdown".parse(), Ok(Format::Md));
        assert_eq!(
            "pdf".parse::<Format>(),
            Err("unknown format 'pdf'; use html, md, json, csv, junit".to_owned())
        );
    }
}
