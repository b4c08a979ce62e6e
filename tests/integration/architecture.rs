//! The shape of the code, checked on its text (docs/ARCHITECTURE.md): no
//! module imports another that imports it back, the layers import
//! downward only, and a function tells one step of a story (no more than
//! 100 lines, but for a few tables of fields or events, none over 150).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::Regex;

/// A module's path (`engine::protocol`), from its file under `src/`.
type Module = Vec<String>;

/// Every module under `src/` and its code, tests left out.
fn modules() -> BTreeMap<Module, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = module_of(&root, &path);
                // Files of tests alone (`mod tests;` under `#[cfg(test)]`).
                let last = module.last().map_or("", String::as_str);
                if last == "tests" || last.ends_with("_tests") || last == "test_support" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                out.insert(module, without_tests(&text).to_owned());
            }
        }
    }
    out
}

fn module_of(root: &Path, path: &Path) -> Module {
    let rel = path.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// The code before a file's test module (and test-only files not at all).
fn without_tests(text: &str) -> &str {
    let end = ["#[cfg(test)]\nmod ", "#[cfg(test)]\npub(crate) mod "]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    &text[..end]
}

/// The modules `module`'s code names, by `crate::` and `super::` paths
/// (its own ancestors left out: a `mod.rs` re-exports its children).
fn imports(module: &Module, code: &str, all: &BTreeMap<Module, String>) -> BTreeSet<Module> {
    let path = Regex::new(r"\b(crate|super)((?:::\w+)+)").unwrap();
    let group = Regex::new(r"use\s+(crate|super)((?:::\w+)*)::\{([^}]*)\}").unwrap();
    let mut paths: Vec<Vec<String>> = Vec::new();
    for c in path.captures_iter(code) {
        let mut p = vec![c[1].to_owned()];
        p.extend(
            c[2].split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        paths.push(p);
    }
    for c in group.captures_iter(code) {
        for item in c[3].split(',') {
            let item = item.trim().split("::").next().unwrap_or("").trim();
            if item.is_empty() || item == "self" {
                continue;
            }
            let mut p = vec![c[1].to_owned()];
            p.extend(
                c[2].split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            p.push(item.to_owned());
            paths.push(p);
        }
    }
    let mut out = BTreeSet::new();
    for p in paths {
        let Some(target) = resolve(module, &p, all) else {
            continue;
        };
        let ancestor = target.len() < module.len() && module.starts_with(&target);
        if target != *module && !ancestor {
            out.insert(target);
        }
    }
    out
}

/// The deepest module a path names.
fn resolve(module: &Module, path: &[String], all: &BTreeMap<Module, String>) -> Option<Module> {
    let (mut base, mut rest): (Module, &[String]) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        _ => (
            module[..module.len().saturating_sub(1)].to_vec(),
            &path[1..],
        ),
    };
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    let mut best = all.contains_key(&base).then(|| base.clone());
    for segment in rest {
        base.push(segment.clone());
        if all.contains_key(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    best
}

fn name(m: &Module) -> String {
    m.join("::")
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let all = modules();
    let graph: BTreeMap<Module, BTreeSet<Module>> = all
        .iter()
        .map(|(m, code)| (m.clone(), imports(m, code, &all)))
        .collect();
    // A module in a circle reaches itself.
    let mut circles = Vec::new();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&Module> = graph[start].iter().collect();
        while let Some(m) = todo.pop() {
            if m == start {
                circles.push(name(start));
                break;
            }
            if seen.insert(m.clone()) {
                todo.extend(graph.get(m).into_iter().flatten());
            }
        }
    }
    assert!(circles.is_empty(), "in an import circle: {circles:?}");
    // The check sees imports at all: the client imports the protocols.
    let client = vec!["engine".to_owned(), "client".to_owned()];
    assert!(graph[&client].contains(&vec!["engine".to_owned(), "protocol".to_owned()]));
}

#[test]
fn layers_import_downward_only() {
    // What each part of the program must not import (docs/ARCHITECTURE.md).
    let forbidden: [(&str, &[&str]); 6] = [
        (
            "metrics",
            &[
                "engine", "ui", "report", "app", "racefile", "replay", "sim", "headless",
            ],
        ),
        (
            "config",
            &["engine", "metrics", "ui", "report", "app", "racefile"],
        ),
        (
            "engine",
            &["ui", "report", "app", "headless", "racefile", "replay"],
        ),
        ("sim", &["engine", "metrics", "ui", "report", "app"]),
        ("workload", &["engine", "metrics", "ui", "report", "app"]),
        ("ui", &["app", "report", "racefile"]),
    ];
    let all = modules();
    let mut wrong = Vec::new();
    for (m, code) in &all {
        let Some((_, banned)) = forbidden
            .iter()
            .find(|(top, _)| m.first().is_some_and(|t| t == top))
        else {
            continue;
        };
        for target in imports(m, code, &all) {
            if target.first().is_some_and(|t| banned.contains(&t.as_str())) {
                wrong.push(format!("{} imports {}", name(m), name(&target)));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Functions that are one table and stay long: a validation of many
/// fields, a match over event kinds.
const LONG_TABLES: [&str; 4] = [
    "config::validate::engine::engine_spec",
    "config::validate::race::race_spec",
    "metrics::stats::apply",
    "racefile::decode::event",
];

#[test]
fn functions_tell_one_step_of_a_story() {
    let start = Regex::new(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?fn\s+(\w+)").unwrap();
    let mut long = Vec::new();
    for (module, code) in modules() {
        let lines: Vec<&str> = code.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let Some(c) = start.captures(lines[i]) else {
                i += 1;
                continue;
            };
            let (mut depth, mut opened, mut j) = (0i32, false, i);
            while j < lines.len() {
                for ch in lines[j].chars() {
                    match ch {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if (opened && depth <= 0) || (!opened && lines[j].trim_end().ends_with(';')) {
                    break;
                }
                j += 1;
            }
            let length = j - i + 1;
            let name = format!("{}::{}", name(&module), &c[5]);
            let allowed = if LONG_TABLES.contains(&name.as_str()) {
                150
            } else {
                100
            };
            if opened && length > allowed {
                long.push(format!("{name}: {length} lines"));
            }
            i = j + 1;
        }
    }
    assert!(long.is_empty(), "longer than they may be: {long:#?}");
}
