"""What DevOps answers for a toolchain's delivery: how to start and check a service, or how to
check an installed command. Model-written, so every string is ``Line`` or ``Text``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from vitco.integrations.deploy.smoke import MAX_CHECKS, malformed, references
from vitco.sandbox.env import refused_env
from vitco.sandbox.protocol import DATA_ENV
from vitco.untrusted import Line, Text

__all__ = ["CommandCheck", "CommandPlan", "DeployPlan", "SmokeTest"]


MAX_ENV = 32
MAX_ENV_VALUE = 4096
_REFERENCE = "{{steps.N.body.KEY}}"


class SmokeTest(BaseModel):
    """One request of the smoke checks and what its answer must be. A path, body or
    expectation may use a value an earlier check received: {{steps.N.body.KEY}} (N counts
    the checks from 0, smoke then after_restart; KEY may go deeper: items.0.id), or
    {{steps.N.status}}."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: Line = Field(pattern=r"^/", max_length=2000)
    json_body: dict[str, Any] | list[Any] | None = None
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_json: dict[str, Any] | list[Any] | str | int | float | bool | None = Field(
        default=None,
        description="JSON the answer's body must contain: an object's keys are checked "
        "recursively (other keys may be there), a list must hold a matching item for each "
        "item given, a value must be equal.",
    )
    expect_text: Line | None = Field(
        default=None, max_length=2000, description="Text the answer's body must contain."
    )


class DeployPlan(BaseModel):
    """How devops builds, starts and checks the project."""

    # argv items may span lines (python -c "..."), like any program text; no other controls
    build: list[list[Text]] = Field(
        default_factory=list, description="Commands (argv lists) run before start."
    )
    start: list[Text] = Field(
        min_length=1,
        description="argv that serves HTTP on an already listening unix socket vitco hands "
        "in; '{fd}' is replaced by its file descriptor number (uvicorn --fd {fd}).",
    )
    health_path: Line = Field(default="/health", pattern=r"^/")
    env: dict[str, Line] = Field(
        default_factory=dict,
        description=f"Environment variables for the app and the build commands (at most "
        f"{MAX_ENV}); vitco's own (PATH, HOME, {DATA_ENV}...) cannot be set.",
    )
    smoke: list[SmokeTest] = Field(
        default_factory=list,
        max_length=MAX_CHECKS,
        description="Requests sent in order to the started app, on a scratch copy of its data.",
    )
    persistent_data: bool = Field(
        default=False,
        description=f"The app keeps data that must survive a restart (in {DATA_ENV}): vitco "
        "then restarts it after the smoke checks and runs after_restart.",
    )
    after_restart: list[SmokeTest] = Field(
        default_factory=list,
        max_length=MAX_CHECKS,
        description="With persistent_data: requests sent after the restart that read back "
        "data the smoke checks wrote (default: the GET checks of smoke again).",
    )

    @field_validator("env")
    @classmethod
    def _allowed_env(cls, env: dict[str, str]) -> dict[str, str]:
        if len(env) > MAX_ENV:
            raise ValueError(f"at most {MAX_ENV} variables, not {len(env)}")
        for name, value in env.items():
            if (why := refused_env(name)) is not None:
                raise ValueError(f"the variable {name!r} {why}; remove it")
            if len(value) > MAX_ENV_VALUE:
                raise ValueError(f"the value of {name} is over {MAX_ENV_VALUE} characters")
        return env

    @model_validator(mode="after")
    def _checks_refer_back(self) -> DeployPlan:
        checks = [*self.smoke, *self.after_restart]
        if len(checks) > MAX_CHECKS:
            raise ValueError(f"at most {MAX_CHECKS} checks in smoke and after_restart together")
        for n, check in enumerate(checks):
            parts = [check.path, check.json_body, check.expect_json, check.expect_text]
            if (bad := malformed(parts)) is not None:
                raise ValueError(
                    f"check {n} has {bad!r}, which is no reference; write {_REFERENCE} "
                    "or {{steps.N.status}}"
                )
            later = [step for step in references(parts) if step >= n]
            if later:
                raise ValueError(
                    f"check {n} refers to step {later[0]}, which has not run by then; a "
                    f"check may only use what checks 0 to {n - 1} received"
                )
        if self.persistent_data and not self.restart_checks():
            raise ValueError(
                "persistent_data needs a check after the restart: give after_restart requests "
                "(or GET requests in smoke) that read back data written before it"
            )
        return self

    def restart_checks(self) -> list[SmokeTest]:
        """What runs after the restart: ``after_restart``, or else the GET smoke checks."""
        return self.after_restart or [c for c in self.smoke if c.method == "GET"]

    @field_validator("start")
    @classmethod
    def _serves_socket(cls, argv: list[str]) -> list[str]:
        if not any("{fd}" in a for a in argv):
            raise ValueError(
                "start must serve on the listening socket handed in as file descriptor '{fd}' "
                "(e.g. python -m uvicorn pkg.app:app --fd {fd}); the app cannot bind a port "
                "or a path of its own"
            )
        return argv


class CommandCheck(BaseModel):
    """One invocation of a delivered command-line tool and what it must do."""

    argv: list[Text] = Field(
        min_length=1,
        max_length=32,
        description="The command and its arguments, run in the repository with the project's "
        "installed commands first on PATH, e.g. ['wordcount', '--help'].",
    )
    stdin: Text | None = Field(default=None, description="Text fed to its standard input.")
    expect_exit: int = Field(default=0, ge=0, le=255)
    expect_stdout: Text | None = Field(
        default=None, description="Text its standard output must contain."
    )


class CommandPlan(BaseModel):
    """How DevOps checks a command-line tool once it is installed."""

    checks: list[CommandCheck] = Field(min_length=1, max_length=5)
