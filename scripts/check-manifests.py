#!/usr/bin/env python3
"""Checks the Kubernetes manifests and the compose file, offline.

    check-manifests.py render           every overlay rendered by `kubectl kustomize`,
                                        every object validated against the Kubernetes
                                        schemas (kubernetes-validate, strict) or, for
                                        Strimzi KafkaTopics, k8s/schemas/, then the
                                        policy below; the topics match the contract
    check-manifests.py violate RULE     renders the dev overlay, breaks RULE in it and
                                        exits 0 only if the policy names that rule
                                        (or, for `schema` and `topic-schema`, if the
                                        schemas refuse the broken object)
    check-manifests.py compose FILE     the compose file parsed and checked

The policy (each rule's name is what `violate` takes):
    probe            every Deployment container has readiness and liveness probes
    limit            every container requests and limits cpu and memory
    security-context every pod runs as non-root with the RuntimeDefault seccomp profile;
                     every container drops ALL capabilities, cannot escalate, is not
                     privileged and has a read-only root filesystem
    network-policy   the namespace denies all ingress and egress by default, and every
                     workload's pods are selected by a policy that allows them something
    service-account  every workload runs as a ServiceAccount of its own in the render,
                     with no API token mounted
    scaling          every Deployment has a HorizontalPodAutoscaler and a
                     PodDisruptionBudget, and no fixed replica count the autoscaler
                     would fight
    pod-security     the namespace enforces the restricted Pod Security Standard
Run from the repository root; prints what it checked, exits 1 on the first failing check.
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
K8S = os.path.join(ROOT, "k8s")
KUBERNETES_VERSION = "1.32.0"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
CRD_SCHEMAS = {("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafkatopic.v1beta2.json"}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def fail(message):
    print(f"FAIL {message}", file=sys.stderr)
    sys.exit(1)


# --- rendering ------------------------------------------------------------------------------

def render(overlay):
    """The overlay's objects, rendered from a copy of k8s/ in which every git-ignored env file a
    generator needs is its committed example (the values do not matter to the checks)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "k8s")
        shutil.copytree(K8S, tree)
        for dirpath, _, files in os.walk(tree):
            for name in files:
                if name.endswith(".env.example"):
                    target = os.path.join(dirpath, name[: -len(".example")])
                    if not os.path.exists(target):
                        shutil.copy(os.path.join(dirpath, name), target)
        kubectl = os.environ.get("KUBECTL", "kubectl")
        done = subprocess.run(
            [kubectl, "kustomize", os.path.join(tree, "overlays", overlay)],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            fail(f"{overlay}: kubectl kustomize: {done.stderr.strip()}")
        return [o for o in yaml.safe_load_all(done.stdout) if o]


def name_of(obj):
    return f"{obj['kind']}/{obj['metadata'].get('namespace', '-')}/{obj['metadata']['name']}"


def schema_errors(objects):
    """Every object that its schema refuses, as "object: why"."""
    out = []
    for obj in objects:
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key in CRD_SCHEMAS:
            with open(os.path.join(K8S, "schemas", CRD_SCHEMAS[key])) as f:
                schema = json.load(f)
            try:
                jsonschema.validate(obj, schema)
            except jsonschema.ValidationError as e:
                out.append(f"{name_of(obj)}: {e.message} at {list(e.absolute_path)}")
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            out.append(f"{name_of(obj)}: {e.message} at {list(e.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            out.append(f"{name_of(obj)}: no schema for {key} (add one to k8s/schemas)")
    return out


# --- policy ---------------------------------------------------------------------------------

def pod_template(obj):
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


def selects(selector, labels):
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions", []):
        value, op = labels.get(e["key"]), e["operator"]
        if op == "In" and value not in e["values"]:
            return False
        if op == "NotIn" and value in e["values"]:
            return False
        if op == "Exists" and value is None:
            return False
        if op == "DoesNotExist" and value is not None:
            return False
    return True


def policy(objects):
    """Every violation, as (rule, object, detail)."""
    out = []
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    workloads = [o for o in objects if o["kind"] in WORKLOADS]
    accounts = {o["metadata"]["name"] for o in by_kind.get("ServiceAccount", [])}
    policies = by_kind.get("NetworkPolicy", [])

    for ns in by_kind.get("Namespace", []):
        if ns["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") != "restricted":
            out.append(("pod-security", name_of(ns), "does not enforce the restricted standard"))

    deny_all = [
        p for p in policies
        if p["spec"].get("podSelector") == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress") and not p["spec"].get("egress")
    ]
    if workloads and not deny_all:
        out.append(("network-policy", "namespace", "no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)"))

    for w in workloads:
        name = name_of(w)
        template = pod_template(w)
        pod = template["spec"]
        labels = template["metadata"].get("labels", {})
        allowing = [
            p for p in policies
            if p not in deny_all and selects(p["spec"].get("podSelector", {}), labels)
            and p["spec"].get("podSelector") != {}
        ]
        if not allowing:
            out.append(("network-policy", name, "no NetworkPolicy selects its pods"))

        sa = pod.get("serviceAccountName")
        if not sa or sa == "default" or sa not in accounts:
            out.append(("service-account", name, f"runs as {sa or 'default'}, not a ServiceAccount of its own"))
        if pod.get("automountServiceAccountToken") is not False:
            out.append(("service-account", name, "mounts an API token"))

        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            out.append(("security-context", name, "pod may run as root"))
        for c in pod.get("initContainers", []) + pod["containers"]:
            where = f"{name} container {c['name']}"
            sc = c.get("securityContext")
            if not sc:
                out.append(("security-context", where, "no securityContext"))
                sc = {}
            seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                out.append(("security-context", where, "no seccomp profile"))
            if sc and sc.get("allowPrivilegeEscalation") is not False:
                out.append(("security-context", where, "may escalate privileges"))
            if sc and sc.get("privileged"):
                out.append(("security-context", where, "privileged"))
            if sc and sc.get("readOnlyRootFilesystem") is not True:
                out.append(("security-context", where, "writable root filesystem"))
            if sc and "ALL" not in sc.get("capabilities", {}).get("drop", []):
                out.append(("security-context", where, "keeps capabilities (drop ALL)"))
            resources = c.get("resources", {})
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in resources.get(part, {}):
                        out.append(("limit", where, f"no {part}.{r}"))
            if w["kind"] == "Deployment":
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in c:
                        out.append(("probe", where, f"no {probe}"))

        if w["kind"] == "Deployment":
            wname = w["metadata"]["name"]
            if not any(
                h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                and h["spec"]["scaleTargetRef"]["name"] == wname
                for h in by_kind.get("HorizontalPodAutoscaler", [])
            ):
                out.append(("scaling", name, "no HorizontalPodAutoscaler"))
            elif "replicas" in w["spec"]:
                out.append(("scaling", name, "a fixed replica count the autoscaler would fight"))
            if not any(selects(p["spec"]["selector"], labels) for p in by_kind.get("PodDisruptionBudget", [])):
                out.append(("scaling", name, "no PodDisruptionBudget"))
    return out


def topics_match_contract(objects, overlay):
    topics = {o["spec"].get("topicName", o["metadata"]["name"]): o for o in objects if o["kind"] == "KafkaTopic"}
    if not topics:
        return
    with open(os.path.join(ROOT, "schema", "contract.json")) as f:
        contract = json.load(f)
    wanted = set()
    for t in contract["topics"]:
        wanted |= {t["topic"], t["dead_letter_topic"]}
    if set(topics) != wanted:
        fail(f"{overlay}: KafkaTopics {sorted(topics)} are not the contract's {sorted(wanted)}")
    for name, t in topics.items():
        retention = int(t["spec"].get("config", {}).get("retention.ms", 0))
        if 0 <= retention < 7 * 24 * 3600 * 1000:
            fail(f"{overlay}: topic {name} keeps its records less than 7 days")


def check_render():
    overlays = sorted(os.listdir(os.path.join(K8S, "overlays")))
    for overlay in overlays:
        objects = render(overlay)
        errors = schema_errors(objects)
        if errors:
            fail(f"{overlay}: " + "; ".join(errors))
        violations = policy(objects)
        if violations:
            fail(f"{overlay}: " + "; ".join(f"{r}: {o}: {d}" for r, o, d in violations))
        topics_match_contract(objects, overlay)
        kinds = sorted({o["kind"] for o in objects})
        print(f"ok {overlay}: {len(objects)} objects valid for Kubernetes {KUBERNETES_VERSION}, policy clean ({', '.join(kinds)})")


# --- violations -----------------------------------------------------------------------------

def first(objects, kind):
    return next(o for o in objects if o["kind"] == kind)


def break_rule(objects, rule):
    deployment = first(objects, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    if rule == "probe":
        del container["livenessProbe"]
    elif rule == "limit":
        del container["resources"]["limits"]["memory"]
    elif rule == "security-context":
        del container["securityContext"]
    elif rule == "network-policy":
        objects = [o for o in objects if o["kind"] != "NetworkPolicy" or o["spec"].get("podSelector") == {}]
    elif rule == "default-deny":
        objects = [o for o in objects if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "default-deny")]
        rule = "network-policy"
    elif rule == "service-account":
        deployment["spec"]["template"]["spec"].pop("serviceAccountName")
    elif rule == "scaling":
        objects = [o for o in objects if o["kind"] != "HorizontalPodAutoscaler"]
    elif rule == "pod-security":
        first(objects, "Namespace")["metadata"]["labels"].pop("pod-security.kubernetes.io/enforce")
    else:
        fail(f"unknown rule {rule}")
    return objects, rule


def check_violation(rule):
    objects = copy.deepcopy(render("dev"))
    if rule in ("schema", "topic-schema"):
        if rule == "schema":
            pod = first(objects, "Deployment")["spec"]["template"]["spec"]
            pod["containers"][0]["readinessProbes"] = pod["containers"][0].pop("readinessProbe")
        else:
            objects = [o for o in render("prod") if o["kind"] == "KafkaTopic"][:1]
            objects[0]["spec"]["partitions"] = "six"
        errors = schema_errors(objects)
        if not errors:
            fail(f"breaking the {rule} went unnoticed")
        print(f"ok breaking the {rule} is refused: " + "; ".join(errors))
        return
    if policy(objects):
        fail("the dev overlay already breaks the policy")
    broken, expected = break_rule(objects, rule)
    violations = policy(broken)
    found = {r for r, _, _ in violations}
    if expected not in found:
        fail(f"breaking {rule} went unnoticed (found: {sorted(found)})")
    print(f"ok breaking {rule} is refused: " + "; ".join(f"{o}: {d}" for r, o, d in violations if r == expected))


# --- compose --------------------------------------------------------------------------------

def check_compose(path):
    with open(path) as f:
        compose = yaml.safe_load(f)
    base = os.path.dirname(os.path.abspath(path))
    services = compose.get("services") or fail("no services")
    for needed in ("postgres", "kafka", "otel-collector", "jaeger", "migrate",
                   "catalog", "reservations", "notifications", "settlement"):
        if needed not in services:
            fail(f"compose: no service {needed}")
    for name, s in services.items():
        image = s.get("image")
        if "build" in s:
            build = s["build"]
            dockerfile = os.path.join(base, build.get("context", "."), build.get("dockerfile", "Dockerfile"))
            if not os.path.exists(dockerfile):
                fail(f"compose: {name}: no {dockerfile}")
            with open(dockerfile) as f:
                text = f.read()
            for m in re.finditer(r"^ARG (\w+_IMAGE)=(\S+)$", text, re.M):
                if not DIGEST.search(m.group(2)):
                    fail(f"{dockerfile}: {m.group(1)} is not pinned by digest")
            for m in re.finditer(r"^FROM (\S+)", text, re.M):
                ref = m.group(1)
                if not ref.startswith("${") and not DIGEST.search(ref):
                    fail(f"{dockerfile}: FROM {ref} is not pinned by digest")
        elif not image or not DIGEST.search(image):
            fail(f"compose: {name}: image {image} is not pinned by digest")
        for dep, how in (s.get("depends_on") or {}).items():
            if dep not in services:
                fail(f"compose: {name} depends on unknown {dep}")
            condition = how.get("condition")
            if condition == "service_healthy" and "healthcheck" not in services[dep]:
                fail(f"compose: {name} waits for {dep} to be healthy, which has no healthcheck")
        for volume in s.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):
                if not os.path.exists(os.path.join(base, source)):
                    fail(f"compose: {name}: mounts missing {source}")
                if source.endswith((".yaml", ".yml")):
                    with open(os.path.join(base, source)) as f:
                        yaml.safe_load(f)
        env = s.get("environment") or {}
        for key, value in (env.items() if isinstance(env, dict) else []):
            for password in re.findall(r"://[^:/@\s]+:([^@\s]*)@", str(value)):
                if not re.fullmatch(r"\$\{[A-Z_]+\}", password):
                    fail(f"compose: {name}: {key} holds a literal password")
            if "SECRET" in key or "PASSWORD" in key:
                if not re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", str(value)):
                    fail(f"compose: {name}: {key} is a literal, not taken from the environment")
    for name in ("catalog", "reservations", "notifications", "settlement"):
        s = services[name]
        if s.get("depends_on", {}).get("migrate", {}).get("condition") != "service_completed_successfully":
            fail(f"compose: {name} starts before the migrations finish")
        if "healthcheck" not in s:
            fail(f"compose: {name} has no healthcheck")
    print(f"ok {os.path.relpath(path, ROOT)}: {len(services)} services, images pinned, dependencies and mounts resolve")


def main(argv):
    if len(argv) >= 2 and argv[1] == "render":
        check_render()
    elif len(argv) == 3 and argv[1] == "violate":
        check_violation(argv[2])
    elif len(argv) == 3 and argv[1] == "compose":
        check_compose(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
