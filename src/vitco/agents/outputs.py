"""The typed outputs of the agents: what each role must hand back, validated on return.

Nothing an agent says is guessed at: a role's answer is parsed into one of these models, and a
failure to validate triggers one repair attempt with the validation errors sent back.

Threat model: every answer is hostile, written by whoever controls the model. These types are
the first wall between it and the host, so a refusal here costs one repair round trip and
nothing else. What they refuse, and why:

- control and format characters (``Line``, ``Text``) in every field that reaches an e-mail
  header, a file name shown to people, a commit, or a terminal: CR/LF header injection, ESC
  sequences that retitle or rewrite a terminal, bidi overrides (U+202E) that make a file name
  read as another, zero-width characters that hide text or that HFS+ ignores in ``.git``;
- a ``.git`` path component at any depth, in any letter case, with trailing dots or spaces;
- a ``Vitco-<Name>:`` trailer line in a commit message (vitco finds its own commits by the
  ``Vitco-Key`` trailer: a forged one would make it skip a task); such lines are removed;
- changesets larger than ``MAX_FILES`` files, ``MAX_FILE_BYTES`` per file or
  ``MAX_CHANGESET_BYTES`` in all, and a path named twice.

Paths that leave the repository (``..``, absolute) are refused where they are applied
(``vitco.workspace``), against the real directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vitco.toolchains.plans import CommandPlan, DeployPlan
from vitco.untrusted import Line, Text

TASK_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")

MAX_FILES = 200
"""Files in one changeset: a task that needs more is a plan that should have been split."""
MAX_FILE_BYTES = 1_000_000
"""UTF-8 bytes of one file's content: source code, not generated data or a disk-filling blob."""
MAX_CHANGESET_BYTES = 4_000_000
"""UTF-8 bytes of all the contents of one changeset, stored as an artifact and written to disk."""
MAX_TASK_FILES = 12
"""Files a plan's task may name for the developer to see in full."""
MAX_EDITS = 50
"""Search/replace blocks in one changeset."""
MAX_TOOL_CALLS = 4
"""Tool calls the developer may ask for in one turn."""
MAX_PATH_CHARS = 4096
"""Characters of a path (Linux PATH_MAX)."""
MAX_NAME_BYTES = 255
"""UTF-8 bytes of one path component (NAME_MAX of ext4, APFS and most others)."""

_VITCO_TRAILER = re.compile(r"^\s*vitco-[a-z-]+\s*:", re.IGNORECASE)
"""A line that reads as a vitco trailer (``Vitco-Key:`` and any later one): vitco's to write."""


def _repo_path(path: str) -> str:
    parts = path.split("/")
    for part in parts:
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME_BYTES:
            raise ValueError(
                f"path component {part[:40]!r}... is {size} bytes; at most {MAX_NAME_BYTES}"
            )
    # Some filesystems fold case and drop trailing dots and spaces: '.GIT', '.git.' are '.git'.
    if any(part.rstrip(". ").lower() == ".git" for part in parts):
        raise ValueError(f"paths may not contain a .git component: {path!r}")
    return path


RepoPath = Annotated[Line, AfterValidator(_repo_path)]
"""A file path as a model names it: one line, no ``.git`` component, filesystem-sized."""


def _utf8_size(text: str) -> int:
    # surrogatepass: a lone surrogate is measured, not a crash in the middle of validation
    return len(text.encode("utf-8", "surrogatepass"))


def _file_content(content: str) -> str:
    if "\x00" in content:
        index = content.index("\x00")
        raise ValueError(f"contains a NUL character (U+0000) at index {index}; remove it")
    size = _utf8_size(content)
    if size > MAX_FILE_BYTES:
        raise ValueError(
            f"is {size} bytes (UTF-8); one file may hold at most {MAX_FILE_BYTES} bytes: "
            "write source code, not data, or split the file"
        )
    return content


FileContent = Annotated[str, AfterValidator(_file_content)]
"""A file's full content: any text but NUL (which breaks every text tool), size-capped."""


_MIN_MESSAGE_CHARS = 3


def _without_vitco_trailers(message: str) -> str:
    # Line by line: git's --grep, which finds vitco's commits, matches any line of a message.
    lines = message.split("\n")
    kept = [line for line in lines if not _VITCO_TRAILER.match(line)]
    if len(kept) == len(lines):
        return message
    cleaned = "\n".join(kept).strip()
    if len(cleaned) < _MIN_MESSAGE_CHARS:
        raise ValueError(
            f"has fewer than {_MIN_MESSAGE_CHARS} characters once its 'Vitco-<Name>:' lines "
            "are removed (vitco writes those trailers itself); describe the change"
        )
    return cleaned


CommitMessage = Annotated[Text, AfterValidator(_without_vitco_trailers)]
"""A commit message; lines that read as a ``Vitco-<Name>:`` trailer are removed (see above)."""


class UserStory(BaseModel):
    id: Line = Field(min_length=1, max_length=32)
    story: Text = Field(min_length=5, description="As a <role>, I want <goal>, so that <reason>.")
    acceptance_criteria: list[Text] = Field(min_length=1)


class Spec(BaseModel):
    """The analyst's reading of a brief."""

    title: Line = Field(min_length=3, max_length=200)
    summary: Text = Field(min_length=10)
    user_stories: list[UserStory] = Field(min_length=1)
    out_of_scope: list[Text] = Field(default_factory=list)
    persistent_data: bool = Field(
        default=False,
        description="True when the brief asks for data that must survive a restart of the "
        "app (stored records, accounts, uploads); the delivery then checks a restart.",
    )


class PlanTask(BaseModel):
    id: str = Field(description="Short id such as T1.")
    title: Line = Field(min_length=3, max_length=200)
    description: Text = Field(min_length=10)
    role: Literal["developer"] = "developer"
    complexity: int = Field(ge=1, le=10, description="1 trivial .. 10 hardest.")
    depends_on: list[Line] = Field(default_factory=list)
    stories: list[Line] = Field(default_factory=list, description="User story ids it serves.")
    files: list[RepoPath] = Field(
        default_factory=list,
        max_length=MAX_TASK_FILES,
        description="Existing files the task reads or changes (paths from the repository map); "
        "the developer is shown them in full.",
    )

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not TASK_ID.match(v):
            raise ValueError("task id must be a short identifier like 'T1'")
        return v


class Plan(BaseModel):
    """The manager's task DAG."""

    tasks: list[PlanTask] = Field(min_length=1, max_length=50)
    toolchain: Line = Field(
        default="python-service",
        description="The toolchain the project is built with: one of the names listed under "
        "'Toolchains'.",
    )

    @field_validator("toolchain")
    @classmethod
    def _known_toolchain(cls, name: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get("toolchains")
        if known is not None and name not in known:
            raise ValueError(f"toolchain {name!r} is not one of {', '.join(known)}")
        return name

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
    path: RepoPath = Field(
        min_length=1,
        max_length=MAX_PATH_CHARS,
        description="Relative POSIX path inside the repository.",
    )
    action: Literal["write", "delete"] = "write"
    content: FileContent | None = Field(
        default=None, description="Full new file content for 'write'."
    )

    @model_validator(mode="after")
    def _content_for_write(self) -> FileChange:
        if self.action == "write" and self.content is None:
            raise ValueError(f"file {self.path!r}: action 'write' needs 'content'")
        return self


class Edit(BaseModel):
    """An exact search/replace block on an existing file: `search` must occur exactly once in
    the file as the blocks before it left it (blocks apply in order)."""

    path: RepoPath = Field(min_length=1, max_length=MAX_PATH_CHARS)
    search: FileContent = Field(
        min_length=1, description="Exact text of the file, with enough lines to be unique."
    )
    replace: FileContent = Field(description="The text that takes its place.")


def _one_changeset(files: list[FileChange]) -> list[FileChange]:
    seen: set[str] = set()
    for f in files:
        # 'a//b' and './a/b' name the same file as 'a/b'
        key = str(PurePosixPath(f.path))
        if key in seen:
            raise ValueError(f"path {f.path!r} appears more than once; give each file one entry")
        seen.add(key)
    total = sum(_utf8_size(f.content) for f in files if f.content is not None)
    if total > MAX_CHANGESET_BYTES:
        raise ValueError(
            f"the files hold {total} bytes (UTF-8) together; one changeset may hold at most "
            f"{MAX_CHANGESET_BYTES} bytes: make a smaller change"
        )
    return files


FileChanges = Annotated[
    list[FileChange], Field(min_length=1, max_length=MAX_FILES), AfterValidator(_one_changeset)
]
"""The files of one changeset: 1 to ``MAX_FILES``, each path once, ``MAX_CHANGESET_BYTES``."""


MAX_DISPUTES = 10
"""Tests one changeset may contest: more means the tests were not read, or the spec is wrong."""


class TestDispute(BaseModel):
    """A developer contesting one of QA's tests: the test demands what the spec does not."""

    __test__ = False  # not a pytest class, whatever its name

    file: RepoPath = Field(min_length=1, max_length=MAX_PATH_CHARS, description="The test file.")
    test: Line = Field(min_length=1, max_length=200, description="The test's name.")
    criterion: Text = Field(
        min_length=3, description="The acceptance criterion the test contradicts, quoted."
    )
    reason: Text = Field(min_length=10, description="Why the test is wrong, concretely.")


class Changeset(BaseModel):
    """A change to the repository: whole files to write or delete, exact search/replace edits
    on existing files, and a commit message."""

    # Code reaches the workspace only as a changeset (paths are checked on apply). Edits are
    # resolved against the task's files into whole-file writes before the changeset is stored
    # (vitco.context.edits): what is stored, applied and committed is always whole files.

    files: Annotated[list[FileChange], AfterValidator(_one_changeset)] = Field(
        default_factory=list,
        max_length=MAX_FILES,
        description="Whole files to write (full content, for new or small files) or delete.",
    )
    edits: list[Edit] = Field(
        default_factory=list,
        max_length=MAX_EDITS,
        description="Exact search/replace blocks on existing files (for changes to big files).",
    )
    message: CommitMessage = Field(min_length=_MIN_MESSAGE_CHARS, description="Commit message.")
    disputes: list[TestDispute] = Field(
        default_factory=list,
        max_length=MAX_DISPUTES,
        description="QA's tests you contest (leave empty when none is wrong); QA rules on each "
        "before your change is tested.",
    )

    @model_validator(mode="after")
    def _some_change(self) -> Changeset:
        if not self.files and not self.edits:
            raise ValueError("a changeset needs at least one file or edit")
        written = {str(PurePosixPath(f.path)) for f in self.files}
        both = sorted({e.path for e in self.edits if str(PurePosixPath(e.path)) in written})
        if both:
            raise ValueError(f"{', '.join(both)}: give a file either whole or as edits, not both")
        total = sum(_utf8_size(e.search) + _utf8_size(e.replace) for e in self.edits)
        if total > MAX_CHANGESET_BYTES:
            raise ValueError(f"the edits hold {total} bytes; at most {MAX_CHANGESET_BYTES}")
        return self


class ToolCall(BaseModel):
    """A tool call: read a file from a line on, search for exact text, or list a folder."""

    tool: Literal["read", "search", "list"]
    path: Line = Field(
        default="",
        max_length=MAX_PATH_CHARS,
        description="read: the file; list: the folder ('' for the root); search: a folder to "
        "limit the search to ('' for all).",
    )
    start: int = Field(default=1, ge=1, description="read: the first line to show.")
    text: Line = Field(default="", max_length=200, description="search: the exact text to find.")

    @model_validator(mode="after")
    def _arguments(self) -> ToolCall:
        if self.tool == "read" and not self.path:
            raise ValueError("read needs a path")
        if self.tool == "search" and not self.text:
            raise ValueError("search needs the text to find")
        return self


class DeveloperAnswer(BaseModel):
    """Either tool calls to see more of the repository first, or the finished changeset."""

    # A bare changeset (files/edits/message at the top) is read as `changeset`. With the
    # validation context tools_left=0 tool calls are refused (the last turn must answer).

    tools: list[ToolCall] = Field(
        default_factory=list,
        max_length=MAX_TOOL_CALLS,
        description="Tool calls whose results you get before answering again; leave empty "
        "when you answer with the changeset.",
    )
    changeset: Changeset | None = Field(default=None, description="The finished change.")

    @model_validator(mode="before")
    @classmethod
    def _bare_changeset(cls, data: object) -> object:
        if (
            isinstance(data, dict)
            and "changeset" not in data
            and "tools" not in data
            and {"files", "edits", "message"} & set(data)
        ):
            return {"changeset": data}
        return data

    @model_validator(mode="after")
    def _one_kind(self, info: ValidationInfo) -> DeveloperAnswer:
        if self.tools and self.changeset is not None:
            raise ValueError("give either tool calls or the changeset, not both")
        if not self.tools and self.changeset is None:
            raise ValueError("give tool calls or the changeset")
        if self.tools and (info.context or {}).get("tools_left") == 0:
            raise ValueError("no tool calls are left: answer with the changeset now")
        return self


def _only_tests(files: list[FileChange], info: ValidationInfo) -> list[FileChange]:
    # The toolchain says where tests live (validation context ``test_paths``).
    roots = tuple((info.context or {}).get("test_paths", ("tests/",)))
    for f in files:
        path = PurePosixPath(f.path).as_posix()
        if not any(path.startswith(r) or path == r.rstrip("/") for r in roots):
            raise ValueError(
                f"qa may only write test files under {', '.join(roots)}, not {f.path!r}"
            )
    return files


class QaTests(BaseModel):
    """QA's tests for one task: test files only."""

    files: FileChanges

    @field_validator("files")
    @classmethod
    def _only_tests(cls, files: list[FileChange], info: ValidationInfo) -> list[FileChange]:
        return _only_tests(files, info)


class Ruling(BaseModel):
    """QA's ruling on the tests a developer contests, made with the spec in hand."""

    decision: Literal["tests_stand", "tests_rewritten", "spec_contradiction"] = Field(
        description="tests_stand: the tests follow the spec and stay; tests_rewritten: they "
        "were wrong and 'files' holds the corrected test files; spec_contradiction: the spec's "
        "criteria contradict each other, so the analyst must amend it ('criteria')."
    )
    reason: Text = Field(min_length=10, description="Why, for the developer and the report.")
    files: list[FileChange] = Field(
        default_factory=list,
        max_length=MAX_FILES,
        description="With tests_rewritten: each corrected test file in full (or a delete); "
        "they replace your earlier files of the same path.",
    )
    criteria: list[Text] = Field(
        default_factory=list,
        description="With spec_contradiction: the acceptance criteria that contradict each "
        "other, quoted.",
    )

    @field_validator("files")
    @classmethod
    def _test_files(cls, files: list[FileChange], info: ValidationInfo) -> list[FileChange]:
        return _only_tests(_one_changeset(files), info)

    @model_validator(mode="after")
    def _consistent(self) -> Ruling:
        if self.decision == "tests_rewritten" and not self.files:
            raise ValueError("tests_rewritten needs the corrected test files in 'files'")
        if self.decision != "tests_rewritten" and self.files:
            raise ValueError(f"{self.decision} rewrites nothing: leave 'files' empty")
        if self.decision == "spec_contradiction" and not self.criteria:
            raise ValueError("spec_contradiction needs the contradicting criteria in 'criteria'")
        return self


class SpecProblem(BaseModel):
    """One flaw the critic found in a spec."""

    kind: Literal["contradiction", "example_breaks_rule", "untestable", "ambiguous"]
    stories: list[Line] = Field(default_factory=list, description="Ids of the stories concerned.")
    criterion: Text = Field(min_length=3, description="The criterion at fault, quoted.")
    explanation: Text = Field(min_length=10, description="What is wrong and what would fix it.")


class SpecCritique(BaseModel):
    """The critic's check of a spec before planning: sound, or the problems to fix."""

    verdict: Literal["sound", "revise"]
    problems: list[SpecProblem] = Field(default_factory=list, max_length=30)

    @model_validator(mode="after")
    def _problems_for_revise(self) -> SpecCritique:
        if self.verdict == "revise" and not self.problems:
            raise ValueError("revise needs at least one problem")
        if self.verdict == "sound" and self.problems:
            raise ValueError("a sound spec has no problems: answer revise, or list none")
        return self


class Review(BaseModel):
    verdict: Literal["approve", "request_changes"]
    reasons: list[Text] = Field(default_factory=list)

    @model_validator(mode="after")
    def _reasons_for_changes(self) -> Review:
        if self.verdict == "request_changes" and not self.reasons:
            raise ValueError("request_changes needs at least one reason")
        return self


OUTPUT_TYPES: dict[str, type[BaseModel]] = {
    m.__name__: m
    for m in (
        Spec,
        Plan,
        Changeset,
        DeveloperAnswer,
        QaTests,
        Review,
        Ruling,
        SpecCritique,
        DeployPlan,
        CommandPlan,
    )
}
