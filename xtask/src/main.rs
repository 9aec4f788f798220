//! `cargo xtask generate` writes every generated file; `cargo xtask generate --check` writes
//! nothing and fails when one is stale (CI).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["generate"] => false,
        ["generate", "--check"] => true,
        _ => {
            eprintln!("usage: cargo xtask generate [--check]");
            return ExitCode::from(2);
        }
    };
    let root = xtask::root();
    let files = match xtask::generate(&root) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("xtask: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = Vec::new();
    for file in &files {
        let current = std::fs::read_to_string(root.join(file.path)).unwrap_or_default();
        if current == file.text {
            continue;
        }
        if check {
            stale.push(file.path);
        } else if let Err(e) = std::fs::write(root.join(file.path), &file.text) {
            eprintln!("xtask: writing {}: {e}", file.path);
            return ExitCode::FAILURE;
        } else {
            println!("wrote {}", file.path);
        }
    }
    if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("stale, run `cargo xtask generate`: {}", stale.join(", "));
        ExitCode::FAILURE
    }
}
