"""DevOps' deploy plan: environment variables, smoke checks that refer back, persistence."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from vitco.integrations.deploy.smoke import MAX_CHECKS
from vitco.toolchains import DeployPlan
from vitco.toolchains.plans import MAX_ENV, MAX_ENV_VALUE

START = ["python", "-m", "uvicorn", "app:app", "--fd", "{fd}"]


def _plan(**fields: Any) -> DeployPlan:
    return DeployPlan.model_validate({"start": START} | fields)


def test_a_plan_may_set_its_own_variables() -> None:
    plan = _plan(env={"GREETING": "hello", "app_mode": "demo", "PYTHONPATH": "src"})

    assert plan.env == {"GREETING": "hello", "app_mode": "demo", "PYTHONPATH": "src"}


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("PATH", "is set by vitco for every sandboxed app"),
        ("HOME", "is set by vitco for every sandboxed app"),
        ("DATA_DIR", "is set by vitco for every sandboxed app"),
        ("NODE_PATH", "is set by vitco for every sandboxed app"),
        ("VITCO_HOME", "is one of vitco's own variables"),
        ("LD_PRELOAD", "changes what the dynamic loader loads"),
        ("GCONV_PATH", "changes what the dynamic loader loads"),
        ("1ST", "is not a variable name"),
        ("A-B", "is not a variable name"),
        ("A=B", "is not a variable name"),
        ("", "is not a variable name"),
    ],
)
def test_a_variable_vitco_owns_or_a_bad_name_is_refused_with_the_reason(
    name: str, why: str
) -> None:
    with pytest.raises(ValidationError) as info:
        _plan(env={name: "x"})

    message = str(info.value)
    assert f"the variable {name!r} {why}" in message
    assert "remove it" in message


def test_variables_are_bounded_in_number_and_size_and_values_are_one_line() -> None:
    with pytest.raises(ValidationError, match=f"at most {MAX_ENV} variables"):
        _plan(env={f"V{i}": "x" for i in range(MAX_ENV + 1)})
    with pytest.raises(ValidationError, match=f"over {MAX_ENV_VALUE} characters"):
        _plan(env={"BIG": "x" * (MAX_ENV_VALUE + 1)})
    with pytest.raises(ValidationError, match="U\\+000A"):
        _plan(env={"TWO": "line\nbreak"})


def test_checks_may_refer_only_to_earlier_ones_across_smoke_and_after_restart() -> None:
    plan = _plan(
        smoke=[
            {"method": "POST", "path": "/notes", "json_body": {"t": "x"}, "expect_status": 201},
            {"path": "/notes/{{steps.0.body.id}}", "expect_json": {"id": "{{ steps.0.body.id }}"}},
        ],
        persistent_data=True,
        after_restart=[{"path": "/notes/{{steps.1.body.id}}", "expect_text": "{{steps.1.status}}"}],
    )
    assert len(plan.after_restart) == 1

    with pytest.raises(ValidationError, match="check 0 refers to step 0, which has not run"):
        _plan(smoke=[{"path": "/notes/{{steps.0.body.id}}"}])
    with pytest.raises(ValidationError, match="check 1 refers to step 3"):
        _plan(smoke=[{"path": "/a"}, {"path": "/b", "json_body": {"x": "{{steps.3.body}}"}}])
    with pytest.raises(ValidationError, match=r"check 0 has '\{\{id\}\}', which is no reference"):
        _plan(smoke=[{"path": "/notes/{{id}}"}])


def test_persistence_needs_something_that_reads_data_back_after_the_restart() -> None:
    post = {"method": "POST", "path": "/notes", "json_body": {"t": "x"}, "expect_status": 201}
    with pytest.raises(ValidationError, match="persistent_data needs a check after the restart"):
        _plan(persistent_data=True, smoke=[post])

    by_default = _plan(persistent_data=True, smoke=[post, {"path": "/notes"}])
    assert [c.path for c in by_default.restart_checks()] == ["/notes"]


def test_the_number_of_checks_is_bounded() -> None:
    many = [{"path": "/"}] * MAX_CHECKS
    with pytest.raises(ValidationError, match=f"at most {MAX_CHECKS} checks"):
        _plan(smoke=many, after_restart=[{"path": "/"}], persistent_data=True)
    with pytest.raises(ValidationError):
        _plan(smoke=[*many, {"path": "/"}])
