"""What every cassette builder here shares: a file write, one answered call, the file itself.

A cassette is JSONL: a header line, then one answered model call per line, found at replay by
its key (role, step, task, attempt, repair). The usage figures are plausible sizes for the
answer, so the cost report of a replay has something to sum.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODEL = "vitco:hand-written"
APPROVE = {"verdict": "approve", "reasons": []}
SOUND = {"verdict": "sound", "problems": []}


def w(path: str, content: str) -> dict[str, Any]:
    """A file write of a changeset."""
    return {"path": path, "action": "write", "content": content}


def call(
    role: str, step: str, answer: Any, task: str | None = None, attempt: int = 1
) -> dict[str, Any]:
    """One answered call (a developer's changeset is answered as ``DeveloperAnswer``)."""
    if role == "developer" and "changeset" not in answer:
        answer = {"changeset": answer}
    content = json.dumps(answer)
    return {
        "key": {"role": role, "step": step, "task": task, "attempt": attempt, "repair": 0},
        "response": {
            "content": content,
            "usage": {"input_tokens": 900 + len(content) // 6, "output_tokens": len(content) // 4},
            "model": MODEL,
        },
    }


def write(path: Path, brief: str, calls: list[dict[str, Any]], note: str) -> None:
    """Write the cassette ``path`` for ``brief`` (a path relative to the repository)."""
    header = {"vitco_cassette": 1, "brief": brief, "note": note}
    lines = [json.dumps(header)] + [json.dumps(c) for c in calls]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
