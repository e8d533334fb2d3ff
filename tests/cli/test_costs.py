"""`vitco costs` (ledger totals by project, role, tier, model, day) and `vitco budget`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from vitco.cli.app import app
from vitco.config import Settings
from vitco.store import Store, open_database
from vitco.store.models import ModelCall


def vitco(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"VITCO_HOME": str(home), "COLUMNS": "150"})


def call(project: str, run: str, role: str, tier: str | None, model: str, **kw: Any) -> ModelCall:
    values: dict[str, Any] = {
        "run_id": run,
        "project_id": project,
        "call_key": f"{role}/x#1",
        "role": role,
        "step": "x",
        "tier": tier,
        "model": model,
        "fingerprint": "f" * 64,
        "input_tokens": 1000,
        "output_tokens": 100,
        "cost_usd": 0.01,
        "latency_s": 0.5,
        "response": "{}",
    }
    return ModelCall(**(values | kw))


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[Path, str, str]:
    """Two projects with a few calls; returns (home, project a, project b)."""
    home = tmp_path / "home"
    store = Store(open_database(Settings(home=home).resolved_database_url))
    ids = []
    for name in ("a", "b"):
        project = store.create_project(name, str(tmp_path / name))
        brief = store.create_brief(project.id, "cli", "text")
        run = store.create_run(project.id, brief.id, "router", "deliver-project")
        ids.append((project.id, run.id))
    (a, run_a), (b, run_b) = ids
    day1 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    day2 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for row in (
        call(a, run_a, "analyst", "standard", "openai:gpt-4.1-mini", created_at=day1),
        call(a, run_a, "developer", "premium", "anthropic:claude-opus-5-5", cost_usd=0.2,
             retries=2, created_at=day1),
        call(a, run_a, "developer", "premium", "anthropic:claude-opus-5-5", cost_usd=0.0,
             cache_hit=True, created_at=day2),
        call(a, run_a, "reviewer", None, "replay/x", cost_usd=0.0, created_at=day2),
        call(b, run_b, "analyst", "efficient", "openai:gpt-4.1-nano", cost_usd=0.5,
             created_at=day2),
    ):  # fmt: skip
        store.record_call(row)
    return home, a, b


def costs(home: Path, *args: str) -> dict[str, Any]:
    result = vitco(home, "costs", *args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_without_a_project_costs_are_split_by_project(ledger: tuple[Path, str, str]) -> None:
    home, a, b = ledger
    data = costs(home)
    assert data["by"] == "project" and data["project_id"] is None
    rows = {r["key"]: r for r in data["rows"]}
    assert rows[a]["calls"] == 4 and rows[a]["usd"] == pytest.approx(0.21)
    assert rows[b]["calls"] == 1 and rows[b]["usd"] == pytest.approx(0.5)
    assert data["total"]["calls"] == 5 and data["total"]["usd"] == pytest.approx(0.71)


def test_a_project_by_role_is_the_default(ledger: tuple[Path, str, str]) -> None:
    home, a, _ = ledger
    data = costs(home, a)
    rows = {r["key"]: r for r in data["rows"]}
    assert data["by"] == "role" and set(rows) == {"analyst", "developer", "reviewer"}
    developer = rows["developer"]
    assert (developer["calls"], developer["cache_hits"], developer["retries"]) == (2, 1, 2)
    assert developer["input_tokens"] == 2000 and developer["output_tokens"] == 200
    assert developer["model_s"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("tier", {"default": 1, "premium": 2, "standard": 1}),
        ("model", {"anthropic:claude-opus-5-5": 2, "openai:gpt-4.1-mini": 1, "replay/x": 1}),
        ("day", {"2026-03-01": 2, "2026-03-02": 2}),
    ],
)
def test_other_splits(ledger: tuple[Path, str, str], by: str, expected: dict[str, int]) -> None:
    home, a, _ = ledger
    data = costs(home, a, "--by", by)
    assert {r["key"]: r["calls"] for r in data["rows"]} == expected


def test_the_table_has_a_total_row(ledger: tuple[Path, str, str]) -> None:
    home, a, _ = ledger
    result = vitco(home, "costs", a, "--by", "tier")
    assert result.exit_code == 0
    assert "premium" in result.stdout and "total" in result.stdout and "0.2100" in result.stdout


def test_an_unknown_project_or_grouping_is_an_error(ledger: tuple[Path, str, str]) -> None:
    home, _, _ = ledger
    missing = vitco(home, "costs", "p-nope", "--json")
    assert missing.exit_code == 1 and "p-nope" in json.loads(missing.stdout)["error"]
    assert vitco(home, "costs", "--by", "colour").exit_code == 2


def test_budget_shows_and_sets_the_cap(ledger: tuple[Path, str, str]) -> None:
    home, a, _ = ledger
    shown = json.loads(vitco(home, "budget", a, "--json").stdout)
    assert shown["budget_usd"] is None and shown["spent_usd"] == pytest.approx(0.21)
    assert shown["remaining_usd"] is None and shown["resume"] is None

    set_ = json.loads(vitco(home, "budget", a, "--set", "0.5", "--json").stdout)
    assert set_["budget_usd"] == 0.5 and set_["remaining_usd"] == pytest.approx(0.29)
    human = vitco(home, "budget", a)
    assert "budget $0.5000" in human.stdout and "spent $0.2100" in human.stdout

    cleared = json.loads(vitco(home, "budget", a, "--clear", "--json").stdout)
    assert cleared["budget_usd"] is None
    assert vitco(home, "budget", a, "--set", "-1").exit_code == 2
    assert vitco(home, "budget", a, "--set", "1", "--clear").exit_code == 1
    assert vitco(home, "budget", "p-nope").exit_code == 1


def test_costs_of_one_run_and_by_run(ledger: tuple[Path, str, str]) -> None:
    home, a, _ = ledger
    store = Store(open_database(Settings(home=home).resolved_database_url))
    (run_a,) = store.runs(a)
    brief = store.create_brief(a, "cli", "again")
    later = store.create_run(a, brief.id, "router", "deliver-project")
    store.record_call(call(a, later.id, "analyst", "standard", "openai:gpt-4.1-mini"))

    of_run = costs(home, run_a.id)
    assert (of_run["project_id"], of_run["run_id"], of_run["by"]) == (a, run_a.id, "role")
    assert of_run["total"]["calls"] == 4 and of_run["total"]["usd"] == pytest.approx(0.21)
    by_run = costs(home, a, "--by", "run")
    assert {r["key"]: r["calls"] for r in by_run["rows"]} == {run_a.id: 4, later.id: 1}
    assert costs(home, later.id)["total"]["calls"] == 1
    missing = vitco(home, "costs", "r-nope", "--json")
    assert missing.exit_code == 1 and "r-nope" in json.loads(missing.stdout)["error"]


def test_budget_takes_a_run_id_and_says_how_to_resume_it(ledger: tuple[Path, str, str]) -> None:
    home, a, _ = ledger
    store = Store(open_database(Settings(home=home).resolved_database_url))
    (run,) = store.runs(a)
    store.update_run(run.id, status="budget_exceeded")
    shown = json.loads(vitco(home, "budget", run.id, "--set", "1", "--json").stdout)
    assert shown["project_id"] == a and shown["budget_usd"] == 1.0
    assert shown["run_id"] == run.id and shown["resume"] == f"vitco resume {run.id}"
    assert store.get_project(a).budget_usd == 1.0
    human = vitco(home, "budget", run.id)
    assert f"vitco resume {run.id}" in human.stdout
    assert vitco(home, "budget", "r-nope").exit_code == 1


def test_a_cleared_cap_stays_cleared(tmp_path: Path) -> None:
    """The default cap (VITCO_BUDGET_USD, --budget) is the project's from its creation; a cap
    removed with `vitco budget --clear` is not put back when the run resumes."""
    from vitco.llm.budget import Budget
    from vitco.llm.testing import TestModel
    from vitco.workflow.brief import parse_brief
    from vitco.workflow.runner import create_run
    from vitco.workflow.runtime import Runtime

    settings = Settings(home=tmp_path / "home", budget_usd=0.25)
    settings.ensure_dirs()
    store = Store(open_database(settings.resolved_database_url))
    run_id = create_run(store, settings, parse_brief("# Capped\n\nDo it.", "cli"), "test")
    project = store.get_run(run_id).project_id
    assert store.get_project(project).budget_usd == 0.25

    def model_of() -> Any:
        kw: dict[str, Any] = {"settings": settings, "sandbox": None, "mailer": None}
        rt = Runtime.for_run(
            model=TestModel(), store=store, run_id=run_id, project_id=project,
            http=None, repo_path=tmp_path, **kw,
        )  # fmt: skip
        return rt.model.inner.meter.budget  # type: ignore[attr-defined]  # inside the journal

    assert isinstance(model_of(), Budget) and model_of().cap_usd == 0.25
    result = vitco(settings.home, "budget", run_id, "--clear", "--json")
    assert json.loads(result.stdout)["budget_usd"] is None
    assert model_of() is None
    assert store.get_project(project).budget_usd is None
