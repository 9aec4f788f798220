//! The files generated from the function declarations (`functions::routes::FUNCTIONS`):
//! `template.yaml` (from the hand-written `infra/template.base.yaml`), the budget table of
//! `docs/DYNAMODB_BUDGET.md` (between its markers; the prose around it stays hand-written), and
//! the contract documents `docs/openapi.json` and `docs/asyncapi.yaml` (from the declarations'
//! contracts and the Rust types' schemas).

mod asyncapi;
mod budget;
mod openapi;
mod template;

use std::path::{Path, PathBuf};

/// A generated file: its path from the repository root and its full text.
pub struct Generated {
    pub path: &'static str,
    pub text: String,
}

pub const TEMPLATE: &str = "template.yaml";
pub const TEMPLATE_BASE: &str = "infra/template.base.yaml";
pub const BUDGET: &str = "docs/DYNAMODB_BUDGET.md";
pub const OPENAPI: &str = "docs/openapi.json";
pub const ASYNCAPI: &str = "docs/asyncapi.yaml";

/// The repository root (this crate's parent folder).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn read(root: &Path, path: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(path)).map_err(|e| format!("{path}: {e}"))
}

/// Every generated file, as it should be now.
pub fn generate(root: &Path) -> Result<Vec<Generated>, String> {
    let base = read(root, TEMPLATE_BASE)?;
    let doc = read(root, BUDGET)?;
    Ok(vec![
        Generated { path: TEMPLATE, text: template::render(&base)? },
        Generated { path: BUDGET, text: budget::render(&doc)? },
        Generated { path: OPENAPI, text: openapi::render()? },
        Generated { path: ASYNCAPI, text: asyncapi::render()? },
    ])
}

/// Replaces what lies between the lines `begin` and `end` (kept) with `body`.
fn splice(text: &str, begin: &str, end: &str, body: &str, file: &str) -> Result<String, String> {
    let start = text.find(begin).ok_or_else(|| format!("{file}: no marker `{begin}`"))? + begin.len();
    let stop = text[start..].find(end).ok_or_else(|| format!("{file}: no marker `{end}` after `{begin}`"))? + start;
    Ok(format!("{}\n{body}{}", &text[..start], &text[stop..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CI's staleness check: the committed files are what `cargo xtask generate` writes.
    #[test]
    fn generated_files_are_up_to_date() {
        let root = root();
        for file in generate(&root).expect("the generator runs") {
            let current = std::fs::read_to_string(root.join(file.path)).unwrap_or_default();
            assert!(current == file.text, "{} is stale: run `cargo xtask generate` and commit the result", file.path);
        }
    }

    #[test]
    fn splice_keeps_the_markers_and_replaces_between() {
        let out = splice("a\n<!-- b -->\nold\n<!-- e -->\nz", "<!-- b -->", "<!-- e -->", "new\n", "f");
        assert_eq!(out.as_deref(), Ok("a\n<!-- b -->\nnew\n<!-- e -->\nz"));
        assert!(splice("a", "<!-- b -->", "<!-- e -->", "", "f").is_err());
    }
}
