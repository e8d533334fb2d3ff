"""What a role is: data (a TOML file and a prompt) next to each role's folder.

``roles/<name>/role.toml`` names the output type and the default complexity the router uses to
pick a tier; ``roles/<name>/prompt.md`` is the system prompt. Adding or rewording a role touches
no code. Which step a role performs is declared with the step (``workflow.steps``), not here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from vitco.agents.exceptions import UnknownRole
from vitco.agents.outputs import OUTPUT_TYPES

ROLES_DIR = Path(__file__).parent / "roles"


@dataclass(frozen=True)
class Role:
    name: str
    title: str
    output: type[BaseModel]
    complexity: int
    prompt: str


@cache
def load_role(name: str, roles_dir: Path = ROLES_DIR) -> Role:
    """Read one role's definition; raises ``UnknownRole`` naming what is wrong."""
    folder = roles_dir / name
    toml_path = folder / "role.toml"
    prompt_path = folder / "prompt.md"
    if not toml_path.is_file() or not prompt_path.is_file():
        raise UnknownRole(name, f"{folder} needs role.toml and prompt.md")
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UnknownRole(name, f"{toml_path} is not valid TOML ({exc})") from exc
    output = OUTPUT_TYPES.get(str(data.get("output")))
    if output is None:
        raise UnknownRole(
            name, f"output {data.get('output')!r} is not one of {sorted(OUTPUT_TYPES)}"
        )
    complexity = data.get("complexity", 5)
    if isinstance(complexity, bool) or not isinstance(complexity, int) or not 1 <= complexity <= 10:
        raise UnknownRole(name, f"complexity {complexity!r} is not an integer from 1 to 10")
    return Role(
        name=name,
        title=str(data.get("title", name)),
        output=output,
        complexity=complexity,
        prompt=prompt_path.read_text(encoding="utf-8").strip(),
    )


def role_names(roles_dir: Path = ROLES_DIR) -> list[str]:
    return sorted(p.name for p in roles_dir.iterdir() if (p / "role.toml").is_file())
