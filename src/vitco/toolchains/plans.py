"""What DevOps answers for a toolchain's delivery: how to start and check a service, or how to
check an installed command. Model-written, so every string is ``Line`` or ``Text``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from vitco.untrusted import Line, Text

__all__ = ["CommandCheck", "CommandPlan", "DeployPlan", "SmokeTest"]


class SmokeTest(BaseModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: Line = Field(pattern=r"^/")
    json_body: dict[str, object] | None = None
    expect_status: int = Field(default=200, ge=100, le=599)


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
    smoke: list[SmokeTest] = Field(default_factory=list)

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
