"""The typed outputs of the agents: what each role must hand back, validated on return.

Nothing an agent says is guessed at: a role's answer is parsed into one of these models, and a
failure to validate triggers one repair attempt with the validation errors sent back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

TASK_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


class UserStory(BaseModel):
    id: str = Field(min_length=1, max_length=32)
    story: str = Field(min_length=5, description="As a <role>, I want <goal>, so that <reason>.")
    acceptance_criteria: list[str] = Field(min_length=1)


class Spec(BaseModel):
    """The analyst's reading of a brief."""

    title: str = Field(min_length=3, max_length=200)
    summary: str = Field(min_length=10)
    user_stories: list[UserStory] = Field(min_length=1)
    out_of_scope: list[str] = Field(default_factory=list)


class PlanTask(BaseModel):
    id: str = Field(description="Short id such as T1.")
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=10)
    role: Literal["developer"] = "developer"
    complexity: int = Field(ge=1, le=10, description="1 trivial .. 10 hardest.")
    depends_on: list[str] = Field(default_factory=list)
    stories: list[str] = Field(default_factory=list, description="User story ids it serves.")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not TASK_ID.match(v):
            raise ValueError("task id must be a short identifier like 'T1'")
        return v


class Plan(BaseModel):
    """The manager's task DAG."""

    tasks: list[PlanTask] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _valid_dag(self) -> Plan:
        ids = [t.id for t in self.tasks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate task ids: {', '.join(dupes)}")
        known = set(ids)
        for t in self.tasks:
            missing = [d for d in t.depends_on if d not in known]
            if missing:
                raise ValueError(f"task {t.id} depends on unknown task(s): {', '.join(missing)}")
        order = topological_order(self.tasks)
        if len(order) != len(self.tasks):
            stuck = sorted(known - set(order))
            raise ValueError(f"dependency cycle among tasks: {', '.join(stuck)}")
        return self

    def task(self, task_id: str) -> PlanTask:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)


def topological_order(tasks: Iterable[PlanTask]) -> list[str]:
    """Task ids in dependency order (plan order among equals); cyclic tasks are left out."""
    pending = list(tasks)
    order: list[str] = []
    progressed = True
    while pending and progressed:
        progressed = False
        for t in list(pending):
            if all(d in order for d in t.depends_on):
                order.append(t.id)
                pending.remove(t)
                progressed = True
    return order


class FileChange(BaseModel):
    path: str = Field(min_length=1, description="Relative POSIX path inside the repository.")
    action: Literal["write", "delete"] = "write"
    content: str | None = Field(default=None, description="Full new file content for 'write'.")

    @model_validator(mode="after")
    def _content_for_write(self) -> FileChange:
        if self.action == "write" and self.content is None:
            raise ValueError(f"file {self.path!r}: action 'write' needs 'content'")
        return self


class Changeset(BaseModel):
    """Code reaches the workspace only as a changeset (paths are checked on apply)."""

    files: list[FileChange] = Field(min_length=1)
    message: str = Field(min_length=3, description="Commit message.")


class QaTests(BaseModel):
    """QA's tests for one task: test files only."""

    files: list[FileChange] = Field(min_length=1)

    @field_validator("files")
    @classmethod
    def _only_tests(cls, files: list[FileChange]) -> list[FileChange]:
        for f in files:
            parts = PurePosixPath(f.path).parts
            if not parts or parts[0] != "tests":
                raise ValueError(f"qa may only write under tests/, not {f.path!r}")
        return files


class Review(BaseModel):
    verdict: Literal["approve", "request_changes"]
    reasons: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _reasons_for_changes(self) -> Review:
        if self.verdict == "request_changes" and not self.reasons:
            raise ValueError("request_changes needs at least one reason")
        return self


class SmokeTest(BaseModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(pattern=r"^/")
    json_body: dict[str, object] | None = None
    expect_status: int = Field(default=200, ge=100, le=599)


class DeployPlan(BaseModel):
    """How devops builds, starts and checks the project."""

    build: list[list[str]] = Field(
        default_factory=list, description="Commands (argv lists) run before start."
    )
    start: list[str] = Field(
        min_length=1, description="argv; '{socket}' is replaced by the unix socket to serve on."
    )
    health_path: str = Field(default="/health", pattern=r"^/")
    smoke: list[SmokeTest] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _serves_socket(cls, argv: list[str]) -> list[str]:
        if not any("{socket}" in a for a in argv):
            raise ValueError("start must serve on '{socket}' (e.g. uvicorn --uds {socket})")
        return argv


OUTPUT_TYPES: dict[str, type[BaseModel]] = {
    m.__name__: m for m in (Spec, Plan, Changeset, QaTests, Review, DeployPlan)
}
