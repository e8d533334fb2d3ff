"""A run publishes on the configured git host: one reviewed, merged branch per task (the local
bare repository by default, GitHub against the in-repo fake), a comment on the issue a run came
from, and nothing twice when the steps run again."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.fakes.github_server import FakeGitHub
from tests.workflow.scripted import (
    APPROVE,
    BRIEF,
    calc,
    calc_tests,
    happy_path,
    plan,
    script,
    write_brief,
)
from vitco.bootstrap import build, build_redactor, build_vault, start_run
from vitco.config import Settings
from vitco.integrations.git.local_host import LocalGitHost
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.store.secrets import TenantSecrets
from vitco.workflow.brief import parse_brief
from vitco.workflow.publish import issue_of
from vitco.workflow.runner import create_run, execute

pytestmark = pytest.mark.slow

TOKEN = "ghp_workflow_token_0123456789"


def _two_tasks() -> dict[str, object]:
    answers = happy_path() | {"manager/plan#1": plan("T1", "T2")}
    for i, task in enumerate(("T1", "T2"), start=1):
        answers[f"developer/implement/{task}#1"] = calc(module=f"m{i}")
        answers[f"reviewer/review/{task}#1"] = APPROVE
        answers[f"qa/write_tests/{task}#1"] = calc_tests(f"m{i}")
    answers["reviewer/review/T2#1"] = {"verdict": "approve", "reasons": ["names are clear"]}
    return answers


def test_each_task_is_a_merged_review_on_the_local_host(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    report = start_run(settings, write_brief(tmp_path), model=script(_two_tasks()),
                       sandbox=sandbox).report  # fmt: skip
    assert report["status"] == "delivered", report["reason"]
    host = LocalGitHost(settings.git_host_dir)
    (bare,) = settings.git_host_dir.iterdir()
    name = bare.name.removesuffix(".git")
    reviews = host.reviews(name)
    run_id = report["run_id"]
    assert sorted(r.branch for r in reviews) == [f"task/{run_id}/T1", f"task/{run_id}/T2"]
    assert all(r.merged and r.base == "main" for r in reviews)
    t2 = next(r for r in reviews if r.branch.endswith("T2"))
    assert "Reviewer: approve" in t2.body and "- names are clear" in t2.body
    # the host's main holds exactly the delivered work
    delivered = Repo(Path(report["repo"])).head("main")
    hosted = subprocess.run(["git", "rev-parse", "main"], cwd=bare, capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    assert subprocess.run(["git", "diff", "--quiet", delivered, hosted], cwd=bare,
                          check=False).returncode == 0  # fmt: skip
    store = open_store(settings)
    events = [e for e in store.events(run_id) if e.kind == "review"]
    assert len(events) == 2


def test_a_run_from_a_github_issue_publishes_there_and_comments(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    brief = parse_brief(BRIEF, "github octo/issues#12")  # as the github webhook records it
    with FakeGitHub(tmp_path / "gh", TOKEN) as fake:
        # the token is the tenant's own, sealed at rest; the setting's is a wrong one
        configured = settings.model_copy(update={
            "git_host": "github", "github_token": SecretStr("ghp_not_the_tenants"),
            "github_api_url": fake.url, "github_url": fake.url,
        })  # fmt: skip
        model = script(happy_path())
        services = build(configured, model=model, sandbox=sandbox)
        tenant = services.store.ensure_tenant()
        vault = build_vault(configured, services.store.sessions, build_redactor(configured))
        TenantSecrets(services.store.sessions, vault).set(tenant, "github_token", TOKEN)
        run_id = create_run(services.store, configured, brief, model.id)
        report = execute(services, run_id, model=model, inputs={"run_id": run_id}).report
        assert report["status"] == "delivered", report["reason"]
        (full,) = fake.repos
        (pull,) = fake.pulls[full]
        assert pull["merged_at"] and pull["head"]["ref"] == f"task/{report['run_id']}/T1"
        assert "Reviewer: approve" in pull["body"]
        (comment,) = fake.comments
        assert comment["repo"] == "octo/issues" and comment["issue"] == 12
        assert (
            "Delivered by vitco" in comment["body"]
            and fake.repos[full]["html_url"] in (comment["body"])
        )
        assert all(TOKEN not in c.path for c in fake.calls)
        assert fake.errors == []


def test_issue_of_reads_only_a_github_issue_source() -> None:
    assert issue_of("github octo/repo#3") == ("octo/repo", 3)
    for source in ("github octo/repo", "file brief.md", "github ../x#1", "github a/b#1\n#2"):
        assert issue_of(source) is None


@pytest.mark.usefixtures("sandbox")
def test_killed_with_a_review_open_the_run_resumes_without_a_second_review(
    short_home: Path,
) -> None:
    """kill -9 between opening a task's review on the host and merging it (and recording
    either): the resumed run finds the review, merges it once, and each task has one. With the
    tests' stand-in toolchain (``tests.standin``): this is about the git host."""
    from tests.workflow.test_crash_resume import vitco
    from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE

    crashed = vitco(short_home, "run", str(DEMO_BRIEF), "--model", f"replay:{DEMO_CASSETTE}",
                    "--json", crash_at="mid-publish", standin=True)  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    settings = Settings(home=short_home)
    host = LocalGitHost(settings.git_host_dir)
    (bare,) = settings.git_host_dir.glob("*.git")
    name = bare.name.removesuffix(".git")
    (opened,) = host.reviews(name)
    assert not opened.merged  # what the crash left: one review open, nothing recorded
    run_id = open_store(settings).runs()[0].id
    resumed = vitco(short_home, "resume", run_id, "--json", standin=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    report = json.loads(resumed.stdout)
    assert report["status"] == "delivered"
    reviews = host.reviews(name)
    branches = [r.branch for r in reviews]
    assert len(branches) == len(set(branches)) == len(report["tasks"])
    assert all(r.merged for r in reviews) and reviews[0].number == opened.number
