"""Bad input ends a run with a clear reason, the run's state stored, nothing else lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workflow.scripted import DEPLOY, changeset, happy_path, script, write_brief
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.workflow.exceptions import BadBrief, BadBriefField


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("---\nclient: x\n---\n\n", "empty"), ("\n\n   \n", "empty")],
)
def test_an_empty_brief_is_refused_before_anything_is_stored(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, text: str, reason: str
) -> None:
    with pytest.raises(BadBrief, match=reason):
        start_run(settings, write_brief(tmp_path, text), model=script({}), sandbox=sandbox)
    assert open_store(settings).projects() == []


def test_an_unreadable_brief_names_the_file(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "latin1.md"
    bad.write_bytes(b"# Caf\xe9\n")
    with pytest.raises(BadBrief, match="not UTF-8"):
        start_run(settings, bad, model=script({}))
    with pytest.raises(BadBrief, match="no such file"):
        start_run(settings, tmp_path / "missing.md", model=script({}))


def test_a_brief_smuggling_a_mail_header_is_refused_before_anything_is_stored(
    settings: Settings, tmp_path: Path
) -> None:
    text = "---\nclient: Eve <eve@x.com>\x0bBcc: all@example.org\n---\n# Todo API\n\nBuild it.\n"
    with pytest.raises(BadBriefField) as info:
        start_run(settings, write_brief(tmp_path, text), model=script({}))
    assert (info.value.field, info.value.code_point) == ("client", "U+000B")
    assert open_store(settings).projects() == []


def test_a_cassette_that_does_not_match_names_the_call(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    cassette = tmp_path / "short.jsonl"
    spec = happy_path()["analyst/analyze#1"]
    entry = {
        "key": {"role": "analyst", "step": "analyze"},
        "response": {"content": json.dumps(spec), "model": "x"},
    }
    cassette.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    report = start_run(
        settings, write_brief(tmp_path), model_id=f"replay:{cassette}", sandbox=sandbox
    ).report
    assert report["status"] == "needs_attention"
    assert "reviewer/check_spec#1" in report["reason"] and str(cassette) in report["reason"]
    store = open_store(settings)
    assert [a.kind for a in store.artifacts(report["run_id"])] == ["spec"]  # kept


def test_an_answer_invalid_twice_ends_needs_attention(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = happy_path() | {"manager/plan#1": {"tasks": []}, "manager/plan#1+repair1": "nope"}
    report = start_run(
        settings, write_brief(tmp_path), model=script(answers), sandbox=sandbox
    ).report
    assert report["status"] == "needs_attention"
    assert "manager answered with an invalid Plan after its repair attempt" in report["reason"]
    assert report["cost"]["calls"] == 4  # analyst, spec check, plan, repair: all in the ledger


@pytest.mark.parametrize("path", ["../escape.py", "/etc/evil.py"])
def test_a_changeset_outside_the_workspace_is_refused(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, path: str
) -> None:
    answers = happy_path() | {"developer/implement/T1#1": changeset({path: "print('pwned')\n"})}
    report = start_run(
        settings, write_brief(tmp_path), model=script(answers), sandbox=sandbox
    ).report
    assert report["status"] == "needs_attention"
    assert f"refusing path {path!r}" in report["reason"]
    assert not (Path(report["repo"]).parent / "escape.py").exists()
    assert not Path("/etc/evil.py").exists()
    assert not (Path(report["repo"]) / ".git" / "hooks" / "pre-commit").exists()


@pytest.mark.parametrize("path", [".git/hooks/pre-commit", "todo/.git/config", "a/.GIT/x"])
def test_a_changeset_into_a_git_dir_is_refused_even_after_its_repair(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, path: str
) -> None:
    evil = changeset({path: "#!/bin/sh\ntouch /tmp/pwned\n"})
    answers = happy_path() | {
        "developer/implement/T1#1": evil,
        "developer/implement/T1#1+repair1": evil,
    }
    report = start_run(
        settings, write_brief(tmp_path), model=script(answers), sandbox=sandbox
    ).report
    assert report["status"] == "needs_attention"
    assert "paths may not contain a .git component" in report["reason"]
    repo = Path(report["repo"])
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert not (repo / "todo").exists() and not (repo / "a").exists()


def test_an_app_that_never_becomes_healthy_ends_needs_attention(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    never = DEPLOY | {"start": ["python", "-c", "import time; time.sleep(60)", "{fd}"]}
    answers = happy_path() | {"devops/deploy#1": never}
    quick = settings.model_copy(update={"health_timeout_s": 2.0})
    report = start_run(quick, write_brief(tmp_path), model=script(answers), sandbox=sandbox).report
    assert report["status"] == "needs_attention"
    assert "never became healthy" in report["reason"]
    assert report["tasks"][0]["status"] == "done"  # the work before deploy is kept
    assert report["commits"] == 1
