"""Workflow templates: YAML files that say which steps run in which order.

::

    name: deliver-project
    start: analyze
    nodes:
      analyze: {type: agent, role: analyst}
      tasks:   {type: map, over: ready_tasks, flow: task}
      ...
    edges:
      - {from: analyze, to: plan}
      - {from: review, to: implement, when: retry, max: max_attempts}   # a bounded loop
      - {from: test, to: implement, when: retry, max: max_attempts, exhausted: give_up}
    gates:
      - {after: plan, question: Approve the plan?}                     # pause for a person
    flows:
      task: {start: implement, nodes: {...}, edges: [...]}             # what a map runs per item
      fix: task                              # or the name of a shared flow (templates/flows/)

Node types: ``agent`` (a role answers; its step comes from the role), ``tool`` (a platform step),
``map`` (run a flow for every ready item, in parallel), ``gate`` (wait for approval). Edges
leaving a node that has outcomes carry ``when: <outcome>``; an edge that closes a cycle needs
``max`` (a number or a setting such as ``max_attempts``), so no loop is unbounded; once its
passes are spent the flow goes to the edge's ``exhausted`` node (by default it gives up: the
task needs attention, or the run does). ``end`` ends the flow. ``extends: NAME`` starts from
another template (e.g. to add gates).
``needs_repo: true`` says a run changes an existing repository, so it needs ``--repo PATH``.

``validate`` reports every problem with its file and line. PyYAML's node tree gives the lines;
no schema library reports YAML line numbers for semantic errors, hence the small walker here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vitco.workflow.exceptions import TemplateInvalid

NodeType = Literal["agent", "tool", "map", "gate"]
BUILTIN = Path(__file__).parent / "templates"
FLOWS = BUILTIN / "flows"
END = "end"
PARSED = 32
"""How many template texts a process keeps parsed (``parse``)."""


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: NodeType
    role: str | None = None
    step: str | None = None
    flow: str | None = None
    over: str | None = None
    question: str | None = None


class EdgeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    to: str
    when: str | None = None
    max: int | str | None = None
    exhausted: str | None = None  # where a bounded edge leads once its passes are spent


class GateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: str | None = None
    before: str | None = None
    question: str | None = None


class FlowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str
    nodes: dict[str, NodeSpec]
    edges: list[EdgeSpec]


def shared_flow(name: str) -> FlowSpec:
    """A flow from ``templates/flows/<name>.yaml``, shared by templates that name it."""
    path = FLOWS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in FLOWS.glob("*.yaml"))) or "none"
        raise ValueError(f"no shared flow {name!r} (shared flows: {known})")
    return FlowSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


class Template(FlowSpec):
    start: str = ""  # (an extending template takes these from its base)
    nodes: dict[str, NodeSpec] = Field(default_factory=dict)
    edges: list[EdgeSpec] = Field(default_factory=list)
    name: str
    description: str = ""
    extends: str | None = None
    needs_repo: bool = False  # runs change an existing repository: `vitco run --repo PATH`
    gates: list[GateSpec] = Field(default_factory=list)
    flows: dict[str, FlowSpec] = Field(default_factory=dict)

    @field_validator("flows", mode="before")
    @classmethod
    def _shared_flows(cls, flows: Any) -> Any:
        """A flow given by name (``task: task``) is the shared flow of that name."""
        if not isinstance(flows, dict):
            return flows
        return {k: shared_flow(v) if isinstance(v, str) else v for k, v in flows.items()}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a template, where it is."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


Lines = dict[tuple[Any, ...], int]


def _to_python(node: yaml.Node, path: tuple[Any, ...], lines: Lines, file: str) -> Any:
    """Plain data from a YAML node, remembering the (1-based) line of every path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                raise TemplateInvalid(
                    [Problem(file, key_node.start_mark.line + 1, f"duplicate key {key!r}")]
                )
            out[key] = _to_python(value_node, (*path, key), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, (*path, i), lines, file) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))  # a scalar, with YAML's own typing


def parse(text: str, file: str) -> tuple[Template, Lines]:
    """A template and its line map; ``TemplateInvalid`` for YAML or shape errors.

    A text parsed before (in this file) is not parsed again: PyYAML's pure-Python composer
    took 7 ms for ``bench/scale.py``'s template and 14 ms for ``deliver-project``, once per run
    (``notices`` reads what the run's template waits for), against 0.2 ms for the copy each
    caller gets of what was kept (the models are mutable, and a caller's edits stay its own)."""
    template, lines = _parse_text(text, file)
    return template.model_copy(deep=True), dict(lines)


@functools.lru_cache(maxsize=PARSED)
def _parse_text(text: str, file: str) -> tuple[Template, Lines]:
    lines: Lines = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise TemplateInvalid([Problem(file, line, f"not valid YAML: {exc}")]) from None
    if root is None:
        raise TemplateInvalid([Problem(file, 1, "the file is empty")])
    data = _to_python(root, (), lines, file)
    if not isinstance(data, dict):
        raise TemplateInvalid([Problem(file, 1, "a template is a mapping (name:, nodes:, ...)")])
    try:
        return Template.model_validate(data), lines
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p if p != "from" else "from" for p in err["loc"])
            line = _nearest_line(lines, loc)
            where = ".".join(str(p) for p in loc)
            problems.append(Problem(file, line, f"{where}: {err['msg']}"))
        raise TemplateInvalid(problems) from None


def _nearest_line(lines: Lines, loc: tuple[Any, ...]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def template_dirs(home: Path | None) -> list[Path]:
    """Where templates are found: the user's (``<data dir>/workflows``) first, then built-in."""
    dirs = [home / "workflows"] if home is not None else []
    return [*dirs, BUILTIN]


def find(name: str, home: Path | None) -> Path:
    """The file of template ``name`` (or ``name`` itself if it is a path to a file)."""
    as_path = Path(name)
    if as_path.suffix in (".yaml", ".yml") and as_path.is_file():
        return as_path
    for folder in template_dirs(home):
        for suffix in (".yaml", ".yml"):
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    known = ", ".join(sorted(template_files(home))) or "none"
    raise TemplateInvalid([Problem(name, 0, f"no workflow template {name!r} (known: {known})")])


def template_files(home: Path | None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in reversed(template_dirs(home)):
        if folder.is_dir():
            for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
                found[path.stem] = path
    return found


def load(
    name: str, home: Path | None = None, _seen: tuple[str, ...] = ()
) -> tuple[Template, Lines, str]:
    """Load a template by name or path, resolving ``extends``; returns it, lines and file."""
    path = find(name, home)
    file = str(path)
    template, lines = parse(path.read_text(encoding="utf-8"), file)
    if template.extends:
        if template.extends in (*_seen, template.name):
            raise TemplateInvalid(
                [Problem(file, lines.get(("extends",), 1), f"extends itself: {template.extends}")]
            )
        base, _base_lines, _ = load(template.extends, home, (*_seen, template.name))
        merged = base.model_copy(
            update={
                "name": template.name,
                "description": template.description or base.description,
                "gates": [*base.gates, *template.gates],
                "extends": None,
            }
        )
        if template.nodes:
            raise TemplateInvalid(
                [
                    Problem(
                        file,
                        lines.get(("nodes",), 1),
                        "a template that extends another may only add gates (and a description)",
                    )
                ]
            )
        return merged, lines, file
    return template, lines, file
