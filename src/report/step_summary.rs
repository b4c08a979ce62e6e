//! GitHub Actions' step summary: Markdown appended to the file named by
//! `GITHUB_STEP_SUMMARY`, shown on the run's page. Writes only that file;
//! what the Markdown says is its callers' business.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The variable GitHub Actions sets to the step summary's path.
pub const VARIABLE: &str = "GITHUB_STEP_SUMMARY";

/// Appends `markdown` to the step summary when `GITHUB_STEP_SUMMARY` names
/// a file (created if missing). Returns its path, or `None` when the
/// variable is unset or empty (not running in CI).
pub fn append(markdown: &str) -> anyhow::Result<Option<PathBuf>> {
    append_to(std::env::var_os(VARIABLE).as_deref(), markdown)
}

/// [`append`] with the variable's value given.
pub fn append_to(path: Option<&OsStr>, markdown: &str) -> anyhow::Result<Option<PathBuf>> {
    let Some(path) = path.filter(|p| !p.is_empty()).map(Path::new) else {
        return Ok(None);
    };
    let context = || {
        format!(
            "cannot append to the step summary '{}' ({VARIABLE})",
            path.display()
        )
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(context)?;
    // A blank line first keeps this from running into what an earlier step
    // wrote (a table would swallow a heading that follows it directly).
    let mut text = String::with_capacity(markdown.len() + 2);
    if file.metadata().with_context(context)?.len() > 0 {
        text.push('\n');
    }
    text.push_str(markdown);
    if !markdown.ends_with('\n') {
        text.push('\n');
    }
    file.write_all(text.as_bytes()).with_context(context)?;
    Ok(Some(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::append_to;
    use std::ffi::OsStr;

    #[test]
    fn unset_or_empty_variable_writes_nothing() {
        assert!(append_to(None, "# x").unwrap().is_none());
        assert!(append_to(Some(OsStr::new("")), "# x").unwrap().is_none());
    }

    #[test]
    fn markdown_is_appended_after_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "earlier step\n").unwrap();
        let written = append_to(Some(path.as_os_str()), "## one").unwrap();
        assert_eq!(written.as_deref(), Some(path.as_path()));
        append_to(Some(path.as_os_str()), "## two\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "earlier step\n\n## one\n\n## two\n"
        );
    }

    #[test]
    fn a_missing_file_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.md");
        append_to(Some(path.as_os_str()), "x").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n");
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("s.md");
        let e = append_to(Some(path.as_os_str()), "x").unwrap_err();
        let message = format!("{e:#}");
        assert!(message.contains("no-such-dir"), "{message}");
        assert!(message.contains("GITHUB_STEP_SUMMARY"), "{message}");
    }
}
