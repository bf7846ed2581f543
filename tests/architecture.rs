//! The code base's layering, checked on the sources: a rule broken here is a design bug.
//!
//! - `domain/` is pure: it imports no gRPC, database, Kafka or async runtime crate, and nothing of
//!   the layers above it (`app`, `api`);
//! - only `api` builds gRPC statuses: no other module of a service mentions `tonic`;
//! - `app` does not reach into `api`;
//! - services never depend on each other's crates (they learn each other's facts from events);
//! - no source file of a service is longer than about 600 lines of code, tests aside.
use std::path::{Path, PathBuf};

const SERVICES: &[&str] = &["catalog", "reservations", "notifications", "settlement"];
const MAX_CODE_LINES: usize = 600;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The lines of a file that are code: before its test module, comments dropped.
fn code(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read");
    text.lines()
        .take_while(|l| !l.starts_with("#[cfg(test)]"))
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .map(str::to_string)
        .collect()
}

/// Whether `line` mentions `word` as a whole path or word (`Status::` but not `ProductStatus::`).
fn mentions(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        boundary(before) && (word.ends_with(':') || boundary(after))
    })
}

fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == "tests.rs" || n == "testing.rs")
}

#[test]
fn domain_modules_import_no_infrastructure_and_nothing_above_them() {
    let mut broken = Vec::new();
    for service in SERVICES {
        let domain = root().join("services").join(service).join("src/domain");
        for file in sources(&domain) {
            for line in code(&file) {
                for word in [
                    "tonic",
                    "sqlx",
                    "rdkafka",
                    "tokio",
                    "crate::app",
                    "crate::api",
                ] {
                    if mentions(&line, word) {
                        broken.push(format!("{}: {word}: {line}", file.display()));
                    }
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "domain code reaches out:\n{}",
        broken.join("\n")
    );
}

#[test]
fn only_the_api_of_a_service_builds_grpc_statuses() {
    let mut broken = Vec::new();
    for service in SERVICES {
        let src = root().join("services").join(service).join("src");
        for file in sources(&src) {
            let in_api = file.strip_prefix(&src).is_ok_and(|p| p.starts_with("api"));
            if in_api {
                continue;
            }
            let in_app = file.strip_prefix(&src).is_ok_and(|p| p.starts_with("app"));
            for line in code(&file) {
                if mentions(&line, "tonic") || mentions(&line, "Status::") {
                    broken.push(format!("{}: {line}", file.display()));
                }
                if in_app && mentions(&line, "crate::api") {
                    broken.push(format!(
                        "{}: the app reaches into the api: {line}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "statuses outside api:\n{}",
        broken.join("\n")
    );
}

#[test]
fn services_never_depend_on_each_others_crates() {
    for service in SERVICES {
        let manifest = root().join("services").join(service).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("manifest");
        for other in SERVICES.iter().filter(|o| *o != service) {
            let dependency = format!("yeyak-{other}");
            assert!(
                !text
                    .lines()
                    .any(|l| l.trim_start().starts_with(&dependency)),
                "{service} depends on {dependency}; services learn each other's facts from events"
            );
        }
    }
}

#[test]
fn no_service_source_file_is_longer_than_six_hundred_lines_of_code() {
    let mut long = Vec::new();
    for service in SERVICES.iter().chain(&["yeyak"]) {
        let src = root().join("services").join(service).join("src");
        for file in sources(&src).into_iter().filter(|f| !is_test_file(f)) {
            let lines = code(&file).iter().filter(|l| !l.is_empty()).count();
            if lines > MAX_CODE_LINES {
                long.push(format!("{}: {lines} lines", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these along their domain words:\n{}",
        long.join("\n")
    );
}

/// The environment variables named in `text`: `YEYAK_…` and `OTEL_…` (a name ends at the first
/// character that is not an upper-case letter, a digit or `_`).
fn variables(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for prefix in ["YEYAK_", "OTEL_"] {
        for (at, _) in text.match_indices(prefix) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if name.len() > prefix.len() && !name.ends_with('_') {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn every_environment_variable_the_code_reads_is_in_the_readme_table_and_no_other() {
    let root = root();
    let mut read = std::collections::BTreeSet::new();
    for dir in ["services", "libs", "tests"] {
        for path in sources(&root.join(dir)) {
            let text = std::fs::read_to_string(&path).expect("read");
            // Only names in string literals are read from the environment.
            for literal in text.split('"').skip(1).step_by(2) {
                read.extend(variables(literal));
            }
        }
    }
    // The compose file reads its own variables from the environment (`${NAME}`).
    let compose = std::fs::read_to_string(root.join("deploy/compose.yaml")).expect("compose");
    for reference in compose.split("${").skip(1) {
        read.extend(variables(reference.split(['}', ':']).next().unwrap_or("")));
    }
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let table = readme
        .split_once("<!-- environment variables -->")
        .and_then(|(_, rest)| rest.split_once("<!-- end of environment variables -->"))
        .map(|(table, _)| table)
        .expect("the README's environment variables table");
    let documented = variables(table);
    let undocumented: Vec<_> = read.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "read by the code but missing from the README's table: {undocumented:?}"
    );
    // A family read by its prefix (`YEYAK_RDKAFKA_<PROPERTY>`) is read whatever follows it.
    let prefixes: Vec<String> = ["services", "libs"]
        .iter()
        .flat_map(|dir| sources(&root.join(dir)))
        .flat_map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            text.split('"')
                .skip(1)
                .step_by(2)
                .filter(|l| l.starts_with("YEYAK_") && l.ends_with('_'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let stale: Vec<_> = documented
        .difference(&read)
        .filter(|name| !prefixes.iter().any(|p| name.starts_with(p.as_str())))
        .collect();
    assert!(
        stale.is_empty(),
        "in the README's table but read by no code: {stale:?}"
    );
}
