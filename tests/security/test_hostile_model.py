"""A hostile model against the whole delivery: every sandboxed step kind runs its attacks.

The model is scripted (the one thing faked); everything else is real: bwrap, git, the store,
Redis on the host's loopback, a host TCP listener and unix socket, host files, another project
delivered beside it in the same data dir. Each answer that carries code carries the probe of
``tests/workflow/hostile.py``; the probe turns any attack that got out into a failure inside
the run, and ``HostView`` checks the host from outside afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.hostile import HostView, make_wheel, probe_script, probe_source
from tests.workflow.scripted import (
    APPROVE,
    DEPLOY,
    calc_tests,
    changeset,
    happy_path,
    script,
    write_brief,
)
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = pytest.mark.slow


@pytest.fixture
def host(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, redis_client: Any
) -> Iterator[HostView]:
    """The host as an attacker would find it: another project delivered in the same data dir,
    secrets, services and a process of the host's."""
    first = start_run(
        settings, write_brief(tmp_path), model=script(happy_path()), sandbox=sandbox
    ).report
    assert first["status"] == "delivered", first["reason"]
    view = HostView(
        root=tmp_path,
        other_project=Path(first["repo"]),
        db=settings.home / "vitco.sqlite",
        redis_client=redis_client,
    )
    yield view
    view.close()


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package index of the test's own (a find-links folder) with one wheel, vitcoprobe,
    that vitco's environment lacks: requiring it makes the install step run."""
    folder = tmp_path / "index"
    make_wheel(folder, "vitcoprobe", "1.0")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def _app(probe: str) -> str:
    """An ASGI app that runs the probe when it starts (the deploy step) and on GET /probe (a
    smoke request), answering 500 if anything got out."""
    return (
        f"PROBE = {probe!r}\n\n"
        "def _probe(tag):\n"
        "    scope = {}\n"
        "    exec(PROBE.replace(\"TAG = 'x'\", f'TAG = {tag!r}'), scope)\n"
        "    return scope['escaped']()\n\n"
        "if _probe('deploy'):\n"
        "    raise SystemExit('escaped at start')\n\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    status = 200\n"
        "    if scope['path'] == '/probe' and _probe('smoke'):\n"
        "        status = 500\n"
        "    await send({'type': 'http.response.start', 'status': status, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n"
    )


QA_TEST = """
import glob, json, os, pathlib, subprocess, sys

PROBE = {probe!r}
SITE = glob.glob(".venv/lib/python3*/site-packages")[0]
PTH = (
    "import os, runpy; os.path.exists('probe_install.py') and "
    "not os.path.exists('probe-install.json') and runpy.run_path('probe_install.py')\\n"
)


def test_the_tests_step_cannot_get_out():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_install_step_cannot_get_out():
    # Attempt 1 plants a .pth in the venv: Python runs it at every start, so the install of
    # attempt 2 (a new requirement, fetched by the host) runs the probe, in its working
    # directory: the venv.
    report = pathlib.Path(".venv/probe-install.json")
    if pathlib.Path(".git").is_dir():
        return  # the integration run on main (a task's worktree has a .git file)
    if "vitcoprobe" in pathlib.Path("requirements.txt").read_text():
        ran = json.loads(report.read_text())  # the install of this attempt did run it
        assert {{k: v for k, v in ran.items() if v[0] == "ok"}} == {{}}, ran
    else:
        install = PROBE.replace("TAG = 'tests'", "TAG = 'install'")
        pathlib.Path(".venv/probe_install.py").write_text(install)
        pathlib.Path(SITE, "zzz_probe.pth").write_text(PTH)
"""


def test_every_sandboxed_step_kind_runs_a_hostile_program_and_the_host_is_unchanged(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, host: HostView, index: Path
) -> None:
    target = host.target_spec()
    probe = probe_script(target, "tests")
    decoy = "import pathlib; pathlib.Path('RAN-{0}').write_text('{0}')\n"
    attempt = {
        "calc.py": "def add(a, b):\n    return a - b\n",  # wrong: attempt 2 follows
        "app.py": _app(probe_source(target, "x")),
        "requirements.txt": "httpx>=0.20\n",
        # would shadow pip / run at start-up if the install ran with the workspace on sys.path
        "pip.py": decoy.format("pip"),
        "ensurepip.py": decoy.format("ensurepip"),
        "sitecustomize.py": decoy.format("sitecustomize"),
    }
    fixed = attempt | {
        "calc.py": "def add(a, b):\n    return a + b\n",
        "requirements.txt": "httpx>=0.20\nvitcoprobe==1.0\n",
    }
    qa = calc_tests()
    qa["files"].append(
        {"path": "tests/test_probe.py", "action": "write", "content": QA_TEST.format(probe=probe)}
    )
    deploy = DEPLOY | {
        "build": [["python", "-c", probe_script(target, "build")]],
        "smoke": [{"method": "GET", "path": "/probe", "expect_status": 200}],
    }
    answers = happy_path() | {
        "developer/implement/T1#1": changeset(attempt),
        "developer/implement/T1#2": changeset(fixed),
        "reviewer/review/T1#2": APPROVE,
        "qa/write_tests/T1#1": qa,
        "devops/deploy#1": deploy,
    }
    report = start_run(
        settings, write_brief(tmp_path), model=script(answers), sandbox=sandbox
    ).report

    assert report["status"] == "delivered", report["reason"]
    assert report["smoke_ok"] is True  # the smoke request's probe found no way out
    assert report["tasks"][0]["attempts"] == 2  # the install ran again, with the .pth in place
    assert host.problems() == []
    repo = Path(report["repo"])
    for tag in ("tests", "build", "deploy", "smoke"):  # each step kind did run the probe
        ran = json.loads((repo / f"probe-{tag}.json").read_text())
        assert ran["tcp_listener"][0] == "refused" and ran["plant_links"][0] == "planted"
        assert [k for k, v in ran.items() if v[0] == "ok"] == [], (tag, ran)
    assert not list(repo.glob("RAN-*"))  # the install never ran the project's own modules
    # the links it planted were never followed: the app's log and socket live in vitco's dir
    assert (repo / ".vitco" / "app.log").is_symlink()
    assert host.target.read_text() == "ssh-ed25519 AAAA owner@host\n"
    logs = list((settings.sandbox_state_dir / "apps").glob("*/app.log"))
    assert logs and any(log.stat().st_size > 0 for log in logs)
    assert list((settings.sandbox_state_dir / "tmp").iterdir()) == []  # no scratch left
    store = open_store(settings)
    assert {t.status for t in store.tasks(report["run_id"])} == {"done"}
    assert Repo(repo).git("show", "main:calc.py").strip().endswith("return a + b")
