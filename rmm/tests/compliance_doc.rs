//! docs/rmi-compliance.md is derived from the tests, not hand-counted.
//!
//! For every RMI 1.0 command the document has a table of the spec's failure
//! conditions (DEN0137 1.0-rel0, priority order) naming the host test(s)
//! that exercise each one, and a success-path test. This test:
//!
//! 1. checks that every command has exactly one section and nothing else
//!    has one;
//! 2. checks every cited test: the file exists under `rmm/tests/`, the
//!    function exists, it is a `#[test]`, and the condition's label occurs
//!    in its body (the row's rule string or assertion message);
//! 3. recomputes the summary (conditions, conditions with a test,
//!    success-path test) from the tables and requires the document's
//!    summary table to be exactly that.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// RMI 1.0-rel0 commands (cca-rmm-abi.md §2), in FID order.
const COMMANDS: [&str; 23] = [
    "RMI_VERSION",
    "RMI_GRANULE_DELEGATE",
    "RMI_GRANULE_UNDELEGATE",
    "RMI_DATA_CREATE",
    "RMI_DATA_CREATE_UNKNOWN",
    "RMI_DATA_DESTROY",
    "RMI_REALM_ACTIVATE",
    "RMI_REALM_CREATE",
    "RMI_REALM_DESTROY",
    "RMI_REC_CREATE",
    "RMI_REC_DESTROY",
    "RMI_REC_ENTER",
    "RMI_RTT_CREATE",
    "RMI_RTT_DESTROY",
    "RMI_RTT_MAP_UNPROTECTED",
    "RMI_RTT_READ_ENTRY",
    "RMI_RTT_UNMAP_UNPROTECTED",
    "RMI_PSCI_COMPLETE",
    "RMI_FEATURES",
    "RMI_RTT_FOLD",
    "RMI_REC_AUX_COUNT",
    "RMI_RTT_INIT_RIPAS",
    "RMI_RTT_SET_RIPAS",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// One command section of the document.
#[derive(Default)]
struct Section {
    /// (label, cited tests) in document order.
    conditions: Vec<(String, Vec<String>)>,
    success: Option<String>,
}

/// The text between backticks, in order.
fn code_spans(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// Table cells of a Markdown row, trimmed (`None` if not a row).
fn cells(line: &str) -> Option<Vec<&str>> {
    let l = line.trim();
    if !l.starts_with('|') || !l.ends_with('|') || l.len() < 2 {
        return None;
    }
    Some(l[1..l.len() - 1].split('|').map(str::trim).collect())
}

fn parse(doc: &str) -> (BTreeMap<String, Section>, Vec<Vec<String>>) {
    let mut sections: BTreeMap<String, Section> = BTreeMap::new();
    let mut summary = Vec::new();
    let mut current: Option<String> = None;
    let mut in_summary = false;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            let name = h.split_whitespace().next().unwrap_or("").to_owned();
            assert!(!sections.contains_key(&name), "two sections for {name}");
            sections.insert(name.clone(), Section::default());
            current = Some(name);
            in_summary = false;
            continue;
        }
        if line.starts_with("## ") {
            current = None;
            in_summary = line.trim() == "## Summary";
            continue;
        }
        if in_summary {
            if let Some(c) = cells(line)
                && !c[0].starts_with("---")
                && c[0] != "command"
            {
                summary.push(c.iter().map(|s| s.to_string()).collect());
            }
            continue;
        }
        let Some(name) = &current else { continue };
        let sec = sections.get_mut(name).unwrap();
        if let Some(rest) = line.strip_prefix("Success path:") {
            let tests = code_spans(rest);
            assert_eq!(tests.len(), 1, "{name}: one success-path test");
            sec.success = Some(tests[0].clone());
        } else if let Some(c) = cells(line) {
            // | # | `label` | status | tests |
            if c.len() != 4 || c[0].parse::<usize>().is_err() {
                continue;
            }
            let n: usize = c[0].parse().unwrap();
            assert_eq!(
                n,
                sec.conditions.len() + 1,
                "{name}: rows numbered in order"
            );
            let label = code_spans(c[1]);
            assert_eq!(label.len(), 1, "{name} row {n}: one label");
            sec.conditions.push((label[0].clone(), code_spans(c[3])));
        }
    }
    (sections, summary)
}

/// The body of `fn name(` in `src` (up to the closing brace at column 0),
/// if it is a `#[test]`.
fn test_body<'a>(src: &'a str, name: &str) -> Option<&'a str> {
    let start = src.find(&format!("\nfn {name}("))?;
    let before = &src[..start];
    let attrs = before.rsplit("\n\n").next().unwrap_or("");
    if !attrs.contains("#[test]") {
        return None;
    }
    let end = src[start..].find("\n}\n").map(|e| start + e)?;
    Some(&src[start..end])
}

/// Resolve `file.rs::fn` to the function body.
fn cited(reference: &str) -> String {
    let (file, func) = reference
        .split_once("::")
        .unwrap_or_else(|| panic!("`{reference}` is not file::fn"));
    let path = root().join("tests").join(file);
    let src = fs::read_to_string(&path).unwrap_or_else(|_| panic!("no test file {file}"));
    test_body(&src, func)
        .unwrap_or_else(|| panic!("no #[test] fn {func} in {file}"))
        .to_owned()
}

#[test]
fn compliance_doc_matches_the_tests() {
    let doc = fs::read_to_string(root().join("../docs/rmi-compliance.md"))
        .expect("docs/rmi-compliance.md");
    let (sections, summary) = parse(&doc);
    let mut want: Vec<&str> = COMMANDS.to_vec();
    want.sort_unstable();
    assert_eq!(
        sections.keys().map(String::as_str).collect::<Vec<_>>(),
        want,
        "one section per RMI 1.0 command"
    );
    let mut expected = Vec::new();
    let (mut total, mut tested) = (0, 0);
    for cmd in COMMANDS {
        let sec = &sections[cmd];
        for (label, tests) in &sec.conditions {
            for t in tests {
                assert!(
                    cited(t).contains(label.as_str()),
                    "{cmd} `{label}`: {t} does not mention the label"
                );
            }
        }
        let success = sec
            .success
            .as_ref()
            .unwrap_or_else(|| panic!("{cmd}: no success-path test"));
        cited(success);
        let n = sec.conditions.len();
        let t = sec
            .conditions
            .iter()
            .filter(|(_, ts)| !ts.is_empty())
            .count();
        total += n;
        tested += t;
        expected.push(vec![
            cmd.to_owned(),
            n.to_string(),
            t.to_string(),
            format!("`{success}`"),
        ]);
    }
    expected.push(vec![
        "**total**".to_owned(),
        total.to_string(),
        tested.to_string(),
        String::new(),
    ]);
    if summary != expected {
        let table: Vec<String> = expected
            .iter()
            .map(|r| format!("| {} |", r.join(" | ")))
            .collect();
        panic!(
            "docs/rmi-compliance.md summary is out of date; it should read:\n{}",
            table.join("\n")
        );
    }
}
