//! Rendered parse diagnostics, one case per file in `tests/expr_errors/`: the expression, a line
//! `---`, then the expected output of [`ExprError::render`]. Adding a case is adding a file; run with
//! `SWITCHYARD_BLESS=1` to write the current output into the files, then review the diff.

use std::fs;
use std::path::Path;

use switchyard_core::expr::Expr;

const SEPARATOR: &str = "\n---\n";

#[test]
fn rendered_diagnostics_match_their_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expr_errors");
    let bless = std::env::var_os("SWITCHYARD_BLESS").is_some();
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .expect("tests/expr_errors exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 10,
        "expected the error cases in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for path in &paths {
        let text = fs::read_to_string(path).expect("readable case");
        let (input, expected) = text
            .split_once(SEPARATOR)
            .unwrap_or((text.trim_end_matches('\n'), ""));
        let actual = match Expr::parse(input) {
            Ok(expr) => format!("unexpectedly parsed as: {expr}"),
            Err(err) => err.render(input),
        };
        if bless {
            fs::write(path, format!("{input}{SEPARATOR}{actual}\n")).expect("writable case");
        } else if actual != expected.strip_suffix('\n').unwrap_or(expected) {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- actual\n{actual}\n",
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
