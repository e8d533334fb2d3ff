"""The delivery mail says what was delivered, how to run it, what it cost and where the
report is, from what the run recorded."""

from __future__ import annotations

import dataclasses
import shlex
from email import message_from_bytes, policy
from typing import Any

from vitco.toolchains import Check, Shipment
from vitco.workflow.delivery_mail import Delivered, delivery_mail

SERVICE_PLAN = {
    "build": [["python", "-m", "compileall", "-q", "todo"]],
    "start": ["python", "-m", "uvicorn", "todo.app:app", "--fd", "{fd}"],
    "health_path": "/health",
    "smoke": [],
}
SERVICE = Delivered(
    run_id="r-abc123",
    client_name="Ada Lovelace",
    client_email="ada@example.com",
    title="Todo API",
    summary="A small todo service.",
    repo="/v1/runs/r-abc123/repo",
    branch="main",
    tag="delivered",
    tests="21 passed, 0 failed, 0 errors",
    shipment=Shipment(
        kind="service",
        summary="serving at http://127.0.0.1:8123",
        url="http://127.0.0.1:8123",
        checks=[Check(name="health", ok=True)],
    ),
    plan=SERVICE_PLAN,
    usd=0.01234,
    calls=14,
    input_tokens=12_345,
    output_tokens=2_345,
)


def body(d: Delivered) -> str:
    message = message_from_bytes(delivery_mail(d).as_bytes(), policy=policy.default)
    assert message["To"] == f"{d.client_name} <{d.client_email}>"
    assert message["Subject"] == f"Delivered: {d.title}"
    content: Any = message.get_body(("plain",))
    return str(content.get_content())


def test_a_service_mail_says_how_to_get_run_and_try_it() -> None:
    text = body(SERVICE)
    # no git host with a URL: the API's download, never a path of vitco's host
    assert "Download: /v1/runs/r-abc123/repo (the repository as a .tar.gz" in text
    assert "git clone" not in text
    assert "Build: python -m compileall -q todo" in text
    assert "Start: python -m uvicorn todo.app:app --fd '{fd}'" in text
    assert "file descriptor {fd}" in text
    assert "Try it: http://127.0.0.1:8123/health (while vitco serves it)" in text
    assert "Tests: 21 passed, 0 failed, 0 errors" in text
    assert "Delivery: serving at http://127.0.0.1:8123 (checks passed)" in text


def test_the_variables_devops_set_are_part_of_the_start_command() -> None:
    plan = SERVICE_PLAN | {"env": {"TODO_LIMIT": "100 items"}}
    text = body(dataclasses.replace(SERVICE, plan=plan))
    assert "Start: env 'TODO_LIMIT=100 items' python -m uvicorn" in text


def test_the_mail_says_what_it_cost_and_how_to_get_the_report() -> None:
    text = body(SERVICE)
    assert "$0.0123 for 14 model calls (12,345 tokens in, 2,345 out)" in text
    assert "vitco report r-abc123" in text and "vitco report r-abc123 --json" in text


def test_a_command_line_tool_mail_shows_the_checked_invocations() -> None:
    argv = ["wordcount", "--lines", "a file.txt"]
    cli = dataclasses.replace(
        SERVICE,
        shipment=Shipment(kind="cli", summary="installed wordcount", checks=[]),
        plan={"checks": [{"argv": argv, "expect_exit": 0}]},
    )
    text = body(cli)
    assert f"Try it: {shlex.join(argv)}" in text and "Start:" not in text


def test_a_library_mail_names_what_was_built_and_fix_bug_says_nothing_is_deployed() -> None:
    library = dataclasses.replace(
        SERVICE,
        shipment=Shipment(kind="library", summary="built", artifacts=["/d/r-1/slugkit.whl"]),
        plan=None,
    )
    assert "Built: slugkit.whl" in body(library) and "/d/r-1" not in body(library)
    fix = dataclasses.replace(SERVICE, shipment=None, plan=None)
    text = body(fix)
    assert "Delivery: none in this workflow (nothing is deployed)" in text
    assert "Try it" not in text and "Download: /v1/runs/r-abc123/repo" in text


def test_a_hosted_repository_is_cloned_from_its_url_quoted_for_a_shell() -> None:
    hosted = dataclasses.replace(SERVICE, repo="https://git.example.com/acme/todo api.git")
    assert "git clone --branch main 'https://git.example.com/acme/todo api.git'" in body(hosted)
