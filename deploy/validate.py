#!/usr/bin/env python3
"""Checks deploy/: each overlay builds with `kubectl kustomize`; built-in
kinds pass `kubernetes-validate --strict`; custom resources (KEDA's
ScaledObject and TriggerAuthentication, the RabbitMQ operator's
RabbitmqCluster) pass their published CRD schemas (deploy/schemas, unknown
fields refused); and every workload runs non-root, without privilege
escalation, with resources set. It first shows that it catches a bad
manifest of each kind it checks. Exit status 0 when all pass.

    python3 deploy/validate.py
"""

import copy
import pathlib
import subprocess
import sys
import tempfile

import jsonschema
import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent
OVERLAYS = ["dev", "prod", "object-storage"]


def crd_schemas():
    """(apiVersion, kind) -> the CRD's openAPIV3Schema."""
    schemas = {}
    for path in sorted((DEPLOY / "schemas").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def strict(schema):
    """The schema with unknown fields refused wherever it lists the fields
    and does not keep unknown ones (as the API server prunes them)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def build(overlay):
    out = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def builtin_errors(docs):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump_all(docs, f)
        f.flush()
        run = subprocess.run(
            ["kubernetes-validate", "--strict", "--quiet", "--no-warn", f.name],
            capture_output=True,
            text=True,
        )
    return [] if run.returncode == 0 else [run.stdout + run.stderr]


def custom_errors(docs, schemas):
    errors = []
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if "/" not in key[0] or key[0].split("/")[0].endswith("k8s.io") or key[0] in (
            "apps/v1",
            "policy/v1",
            "batch/v1",
        ):
            continue
        name = f"{key[1]}/{doc['metadata']['name']}"
        schema = schemas.get(key)
        if schema is None:
            errors.append(f"{name}: no schema for {key[0]} {key[1]} in deploy/schemas")
            continue
        body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
        for e in jsonschema.Draft7Validator(schema).iter_errors(body):
            errors.append(f"{name}: {'/'.join(map(str, e.path))}: {e.message}")
    return errors


def workload_errors(docs):
    errors = []
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        pod = doc["spec"]["template"]["spec"]
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            errors.append(f"{name}: the pod does not require a non-root user")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{name}/{c['name']}: privilege escalation not refused")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                errors.append(f"{name}/{c['name']}: capabilities not all dropped")
            if "limits" not in c.get("resources", {}) or "requests" not in c.get("resources", {}):
                errors.append(f"{name}/{c['name']}: no resource requests and limits")
            if c.get("image", "").startswith("rapport") and not sc.get("readOnlyRootFilesystem"):
                errors.append(f"{name}/{c['name']}: root filesystem writable")
    return errors


def all_errors(docs, schemas):
    return builtin_errors(docs) + custom_errors(docs, schemas) + workload_errors(docs)


def self_test(docs, schemas):
    """Each check fails on a manifest broken on purpose."""
    def broken(kind, change):
        bad = copy.deepcopy(docs)
        change(next(d for d in bad if d["kind"] == kind))
        return bad

    def typo(doc):
        doc["spec"]["minReplicaCout"] = 1

    def wrong_type(doc):
        doc["spec"]["replicas"] = "three"

    def escalate(doc):
        doc["spec"]["template"]["spec"]["containers"][0]["securityContext"][
            "allowPrivilegeEscalation"
        ] = True

    def bad_builtin(doc):
        doc["spec"]["replicas"] = "two"

    cases = [
        ("ScaledObject", typo, custom_errors),
        ("RabbitmqCluster", wrong_type, custom_errors),
        ("Deployment", escalate, workload_errors),
        ("Deployment", bad_builtin, builtin_errors),
    ]
    for kind, change, check in cases:
        args = (broken(kind, change), schemas) if check is custom_errors else (broken(kind, change),)
        if not check(*args):
            sys.exit(f"validate.py: {check.__name__} misses a broken {kind} ({change.__name__})")


def main():
    schemas = crd_schemas()
    failed = False
    for overlay in OVERLAYS:
        docs = build(overlay)
        if overlay == "prod":
            self_test(docs, schemas)
        errors = all_errors(docs, schemas)
        kinds = sorted({d["kind"] for d in docs})
        if errors:
            failed = True
            print(f"deploy/overlays/{overlay}: {len(errors)} problem(s)")
            for e in errors:
                print(f"  {e}")
        else:
            print(f"deploy/overlays/{overlay}: {len(docs)} resources valid ({', '.join(kinds)})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
