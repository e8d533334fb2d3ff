"""The deploy manifests, checked with linters from the registries and against the processes
the multi-process tests start.

- ``deploy/docker-compose.yml`` against the Compose Specification's JSON schema, as
  check-jsonschema vendors it (``vendor.compose-spec``; no download at test time);
- ``deploy/kubernetes/*.yaml`` against the Kubernetes API's JSON schemas that
  kubernetes-validate ships, strictly (an unknown field is an error);
- each linter refuses a broken copy (so the checks can fail);
- the api and worker commands and their ``VITCO_*`` settings are exactly those of
  ``tests.processes`` (what ``tests/jobs/test_fleet.py`` runs), every variable names a
  ``Settings`` field (pydantic-settings ignores an unknown one: a typo would be silent), and
  every command line parses with vitco's own CLI.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml
from kubernetes_validate.utils import ValidationError
from typer._click.exceptions import UsageError  # typer vendors its click

from tests.processes import API_ARGS, API_ENV, WORKER_ARGS, WORKER_ENV
from vitco.cli.app import app
from vitco.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
KUBERNETES = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
K8S_VERSION = "1.37.0"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def _k8s() -> list[dict[str, Any]]:
    return [
        doc for path in KUBERNETES for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc
    ]


def _check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    ok = _check_compose(COMPOSE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = _compose()
    broken["services"]["worker"]["restart_policy"] = "always"  # not a service key
    broken["services"]["api"]["ports"] = "8420"  # a string where a list belongs
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(broken), encoding="utf-8")
    refused = _check_compose(bad)
    assert refused.returncode != 0 and "restart_policy" in refused.stdout, refused.stdout


def test_the_kubernetes_manifests_follow_the_api_schemas_strictly() -> None:
    docs = _k8s()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        ["ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service", "Deployment",
         "HorizontalPodAutoscaler"]
    )  # fmt: skip
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    worker = _deployment(docs, "worker")
    typo = copy.deepcopy(worker)
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)
    wrong = copy.deepcopy(worker)
    wrong["spec"]["replicas"] = "three"
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(wrong, K8S_VERSION, strict=True)


def _deployment(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    return next(
        d for d in docs
        if d["kind"] == "Deployment"
        and d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    )  # fmt: skip


def _shape(args: list[str]) -> list[str]:
    """A command line with the values of its options left out: what the manifests and the
    tests must share (hosts and ports differ)."""
    return [a for i, a in enumerate(args) if i == 0 or a.startswith("--")]


def _env_names_k8s(container: dict[str, Any], docs: list[dict[str, Any]]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        doc = next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == ref["name"])
        names |= set(doc.get("data", {})) | set(doc.get("stringData", {}))
    return names


def _vitco(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("VITCO_")}


def _expected(template: tuple[str, ...]) -> list[str]:
    return _shape(list(template))


def test_the_manifests_run_the_processes_and_settings_the_fleet_tests_run() -> None:
    compose = _compose()["services"]
    docs = _k8s()
    api_k8s = _deployment(docs, "api")["spec"]["template"]["spec"]["containers"][0]
    worker_k8s = _deployment(docs, "worker")["spec"]["template"]["spec"]["containers"][0]
    for args, env, template, expected_env in (
        (compose["api"]["command"], set(compose["api"]["environment"]), API_ARGS, API_ENV),
        (compose["worker"]["command"], set(compose["worker"]["environment"]), WORKER_ARGS,
         WORKER_ENV),
        (api_k8s["args"], _env_names_k8s(api_k8s, docs), API_ARGS, API_ENV),
        (worker_k8s["args"], _env_names_k8s(worker_k8s, docs), WORKER_ARGS, WORKER_ENV),
    ):  # fmt: skip
        assert _shape(args) == _expected(template), args
        assert _vitco(env) == set(expected_env), sorted(_vitco(env) ^ set(expected_env))
    assert compose["api"]["environment"]["VITCO_SERVE_WORKER"] == "false"
    assert {"name": "VITCO_SERVE_WORKER", "value": "false"} in api_k8s["env"]


def test_every_setting_and_command_line_in_the_manifests_is_one_vitco_knows() -> None:
    fields = {f"VITCO_{name.upper()}" for name in Settings.model_fields}
    compose = _compose()["services"]
    docs = _k8s()
    named = set(compose["api"]["environment"]) | set(compose["worker"]["environment"])
    for doc in docs:
        named |= set(doc.get("data", {})) | set(doc.get("stringData", {}))
    assert _vitco(named) and _vitco(named) <= fields, sorted(_vitco(named) - fields)

    cli: Any = typer.main.get_command(app)
    lines = [compose["api"]["command"], compose["worker"]["command"]]
    lines += [
        c["args"] for d in docs if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]  # fmt: skip
    for line in lines:
        sub = cli.commands[line[0]]
        sub.make_context(line[0], list(line[1:]))  # raises on an option vitco does not have
    with pytest.raises(UsageError):
        cli.commands["worker"].make_context("worker", ["--concurency", "4"])
