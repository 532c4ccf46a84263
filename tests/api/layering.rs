//! The typed core's rules, checked over the source tree so they stay true: stored statuses are
//! enums (no string literal comparisons), domain modules never import the router or the
//! assembly, and services never take actix's `web::Data`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .expect("under the crate")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).expect("read"))
        })
        .collect()
}

#[test]
fn status_values_appear_as_strings_only_in_the_enum_definitions() {
    const VALUES: [&str; 13] = [
        "pending",
        "active",
        "rejected",
        "withdrawn",
        "gathering",
        "submitted",
        "responded",
        "escalated",
        "closed",
        "building",
        "ready",
        "failed",
        "sent",
    ];
    let mut found = Vec::new();
    for (path, text) in sources() {
        if path == "src/entities/enums.rs" {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            for v in VALUES {
                if line.contains(&format!("\"{v}\"")) {
                    found.push(format!("{path}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "status literals outside enums.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_main_lib_and_the_router_import_the_assembly_or_the_router() {
    let allowed = ["src/main.rs", "src/lib.rs", "src/router.rs", "src/app.rs"];
    let mut found = Vec::new();
    for (path, text) in sources() {
        if allowed.contains(&path.as_str()) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if line.contains("crate::app") || line.contains("crate::router") {
                found.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn services_do_not_take_web_data() {
    let mut found = Vec::new();
    for (path, text) in sources() {
        let is_service = path.ends_with("/service.rs")
            || path.ends_with("/store.rs")
            || [
                "sign.rs",
                "writer.rs",
                "roster.rs",
                "statement.rs",
                "organisers.rs",
                "prefs.rs",
            ]
            .iter()
            .any(|f| path.ends_with(&format!("/{f}")));
        if is_service && text.contains("web::Data") {
            found.push(path);
        }
    }
    assert!(found.is_empty(), "services taking web::Data: {found:?}");
}
