//! The deployment files, checked offline by `scripts/check-manifests.py` (kubernetes-validate's
//! schemas, the Strimzi KafkaTopic schema in `k8s/schemas/`, the policy, the compose file): every
//! overlay renders and passes, and each rule of the policy refuses the manifests that break it.
//!
//! Needs `kubectl` (for `kubectl kustomize`) and the Python tools `scripts/install-k8s-tools.sh`
//! installs (`make test` runs it and passes `YEYAK_K8S_PYTHON`); without them the tests are
//! skipped, or fail under `CI=true`.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python that has the tools, or `None` (outside CI) when it or kubectl is missing.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("YEYAK_K8S_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/yeyak/k8s-tools/bin/python"))
        })
        .filter(|p| p.exists());
    let kubectl = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = match (&python, kubectl) {
        (Some(_), true) => return python,
        (None, _) => "the manifest tools (scripts/install-k8s-tools.sh)",
        (Some(_), false) => "kubectl",
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and {missing} missing"
    );
    eprintln!("skipped: {missing} missing");
    None
}

/// Runs the checker; its output, and whether it passed.
fn check(python: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(python)
        .arg(root().join("scripts/check-manifests.py"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run the checker");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn every_overlay_renders_validates_against_the_schemas_and_passes_the_policy() {
    let Some(python) = python() else { return };
    let (ok, out) = check(&python, &["render"]);
    assert!(ok, "{out}");
    for overlay in ["dev", "prod"] {
        assert!(
            out.contains(&format!("ok {overlay}:")),
            "{overlay} not checked: {out}"
        );
    }
    assert!(
        out.contains("KafkaTopic"),
        "the prod overlay has no topics: {out}"
    );
}

#[test]
fn the_policy_refuses_a_missing_probe_limit_security_context_network_policy_or_service_account() {
    let Some(python) = python() else { return };
    for rule in [
        "probe",
        "limit",
        "security-context",
        "network-policy",
        "default-deny",
        "service-account",
        "scaling",
        "pod-security",
    ] {
        let (ok, out) = check(&python, &["violate", rule]);
        assert!(ok, "breaking {rule}: {out}");
    }
}

#[test]
fn the_schemas_refuse_an_unknown_field_and_a_malformed_kafka_topic() {
    let Some(python) = python() else { return };
    for rule in ["schema", "topic-schema"] {
        let (ok, out) = check(&python, &["violate", rule]);
        assert!(ok, "breaking the {rule}: {out}");
    }
}

#[test]
fn the_compose_file_parses_with_every_image_pinned_and_every_dependency_resolved() {
    let Some(python) = python() else { return };
    let (ok, out) = check(&python, &["compose", "deploy/compose.yaml"]);
    assert!(ok, "{out}");
}

#[test]
fn the_compose_check_refuses_an_unpinned_image_and_a_literal_password() {
    let Some(python) = python() else { return };
    let compose = std::fs::read_to_string(root().join("deploy/compose.yaml")).unwrap();
    let broken = [
        (
            "unpinned",
            compose.replace(
                "postgres:15-alpine@sha256:fe0737ba566a2c5b2a28f34433c0a423261900ec17b9bf7ad115e1aae7e57f1b",
                "postgres:15-alpine",
            ),
            "not pinned by digest",
        ),
        (
            "password",
            compose.replace(
                "yeyak_service:${YEYAK_SERVICE_SECRET}@postgres:5432/yeyak_catalog",
                "yeyak_service:hunter2@postgres:5432/yeyak_catalog",
            ),
            "literal password",
        ),
    ];
    for (what, text, refusal) in broken {
        assert_ne!(
            text, compose,
            "{what}: the test's edit found nothing to change"
        );
        let dir = std::env::temp_dir().join(format!("yeyak-compose-{what}-{}", std::process::id()));
        let deploy = dir.join("deploy");
        std::fs::create_dir_all(&deploy).unwrap();
        for entry in std::fs::read_dir(root().join("deploy")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, deploy.join(path.file_name().unwrap())).unwrap();
        }
        let file = deploy.join("compose.yaml");
        std::fs::write(&file, text).unwrap();
        let (ok, out) = check(&python, &["compose", file.to_str().unwrap()]);
        std::fs::remove_dir_all(&dir).ok();
        assert!(!ok, "{what}: accepted: {out}");
        assert!(
            out.contains(refusal),
            "{what}: refused for another reason: {out}"
        );
    }
}
