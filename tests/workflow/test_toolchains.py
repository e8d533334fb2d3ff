"""Kinds of projects beyond a Python web service, delivered offline from cassettes, and a
toolchain added from outside the package."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from tests.workflow.scripted import APPROVE, SOUND, SPEC, changeset, plan, script, write_brief
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Process, Sandbox
from vitco.store import open_store
from vitco.toolchains import (
    Check,
    Contract,
    Kind,
    Shipment,
    TestReport,
    Tools,
    register,
    unregister,
)

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _replay(settings: Settings, sandbox: Sandbox, name: str, brief: str) -> dict[str, Any]:
    cassette = EXAMPLES / "cassettes" / f"{name}.jsonl"
    outcome = start_run(
        settings,
        EXAMPLES / "briefs" / brief,
        model_id=f"replay:{cassette}",
        sandbox=sandbox,
    )
    return outcome.report


def test_a_cli_tool_is_delivered_as_an_installed_command(
    settings: Settings, sandbox: Sandbox
) -> None:
    report = _replay(settings, sandbox, "wordcount-cli", "wordcount-cli.md")
    assert report["status"] == "delivered", report["reason"]
    assert report["toolchain"] == "python-cli"
    delivery = report["delivery"]
    assert delivery["kind"] == "cli" and delivery["ok"] is True
    assert [c["name"] for c in delivery["checks"]] == [
        "wordcount --help",
        "wordcount",
        "wordcount no-such-file.txt",
    ]
    assert delivery["summary"].startswith("installed wordcount; 3 of 3")
    assert report["url"] is None  # nothing is served
    repo = Path(report["repo"])
    assert (repo / ".venv" / "bin" / "wordcount").exists()  # installed into the project's venv
    assert "no-such-file" not in Repo(repo).git("ls-files")


def test_a_library_is_delivered_as_a_wheel_with_its_docs(
    settings: Settings, sandbox: Sandbox
) -> None:
    report = _replay(settings, sandbox, "slugkit-library", "slugkit-library.md")
    assert report["status"] == "delivered", report["reason"]
    assert report["toolchain"] == "python-library"
    delivery = report["delivery"]
    assert delivery["kind"] == "library" and delivery["ok"] is True
    assert "import slugkit" in [c["name"] for c in delivery["checks"]]
    files = {Path(p).name: Path(p) for p in delivery["artifacts"]}
    assert set(files) == {"slugkit-1.0.0-py3-none-any.whl", "slugkit.html", "slugkit.core.html"}
    assert settings.deliveries_dir in files["slugkit.html"].parents  # vitco's, not the repo's
    with zipfile.ZipFile(files["slugkit-1.0.0-py3-none-any.whl"]) as wheel:
        assert "slugkit/core.py" in wheel.namelist()
    assert "unique_slug" in files["slugkit.core.html"].read_text()
    calls = open_store(settings).calls(run_id=report["run_id"])
    assert "devops" not in {c.role for c in calls}  # a library needs no deployment plan


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed here")
def test_a_node_service_is_delivered_live(settings: Settings, sandbox: Sandbox) -> None:
    outcome = start_run(
        settings,
        EXAMPLES / "briefs" / "greeter-node.md",
        model_id=f"replay:{EXAMPLES / 'cassettes' / 'greeter-node.jsonl'}",
        sandbox=sandbox,
        keep_running=True,
    )
    try:
        report = outcome.report
        assert report["status"] == "delivered", report["reason"]
        assert report["toolchain"] == "node-service"
        assert report["tests"] == {"passed": 5, "failed": 0}
        assert report["smoke_ok"] is True
        answer = httpx.get(report["url"] + "/hello?name=Grace", timeout=5)
        assert answer.json() == {"message": "Hello, Grace!"}
    finally:
        outcome.stop()


# -- a toolchain from outside the package --------------------------------------------------------


class ShellLibrary:
    """Shell functions tested by shell scripts: a toolchain the package knows nothing of."""

    name = "shell-library"
    kind: Kind = "library"
    summary = "a library of POSIX shell functions"
    plan_type: type[BaseModel] | None = None

    def contract(self) -> Contract:
        return Contract(
            toolchain=self.name,
            kind=self.kind,
            runtime="POSIX sh",
            tests="each tests/*.sh runs with sh; exit status 0 passes",
            test_paths=["tests/"],
            dependencies="none",
            delivery="lib.sh is copied to the delivery folder",
        )

    def test(self, tools: Tools, root: Path) -> TestReport:
        script = (
            'n=0; f=0; for t in tests/*.sh; do n=$((n+1)); sh "$t" || f=$((f+1)); done; '
            'echo "$n $f"'
        )
        result = tools.sandbox.run(["/bin/sh", "-c", script], root, tools.limits)
        ran, failed = (int(x) for x in result.stdout.split()[-2:])
        return TestReport(passed=ran - failed, failed=failed, exit_code=0 if not failed else 1)

    def ship(
        self, tools: Tools, root: Path, plan: BaseModel | None
    ) -> tuple[Shipment, Process | None]:
        result = tools.sandbox.run(
            ["/bin/sh", "-c", "mkdir {tmp}/out && cp lib.sh {tmp}/out/"], root, collect=["out/"]
        )
        tools.out.mkdir(parents=True, exist_ok=True)
        (tools.out / "lib.sh").write_bytes(result.files["out/lib.sh"])
        shipment = Shipment(
            kind=self.kind,
            summary="lib.sh delivered",
            checks=[Check(name="copied", ok=result.ok)],
            artifacts=[str(tools.out / "lib.sh")],
        )
        return shipment, None


@pytest.fixture
def shell_library() -> Any:
    toolchain = ShellLibrary()
    register(toolchain)
    yield toolchain
    unregister(toolchain.name)


def test_a_toolchain_registered_from_outside_is_chosen_and_delivers(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, shell_library: ShellLibrary
) -> None:
    seen: list[str] = []

    def planner(request: Any) -> dict[str, Any]:
        seen.append(request.messages[-1].content)
        return plan("T1") | {"toolchain": "shell-library"}

    lib = 'greet() { echo "hello $1"; }\n'
    test = '. ./lib.sh\n[ "$(greet ada)" = "hello ada" ]\n'
    answers = {
        "analyst/analyze#1": SPEC,
        "reviewer/check_spec#1": SOUND,
        "manager/plan#1": planner,
        "developer/implement/T1#1": changeset({"lib.sh": lib}),
        "reviewer/review/T1#1": APPROVE,
        "qa/write_tests/T1#1": {
            "files": [{"path": "tests/greet.sh", "action": "write", "content": test}]
        },
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    assert "### shell-library" in seen[0]  # the manager was offered it
    assert report["toolchain"] == "shell-library"
    assert report["tests"] == {"passed": 1, "failed": 0}
    assert Path(report["delivery"]["artifacts"][0]).read_text() == lib
    qa = next(r for r in model.requests if r.key.role == "qa")
    assert "POSIX sh" in qa.messages[-1].content  # its contract reached QA
