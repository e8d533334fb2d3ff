"""A tiny scripted project for workflow tests: one ``calc`` package and an ASGI health app.

``script(...)`` returns a ``FunctionModel`` that answers each call by its label
(``developer/implement/T1#2``); a call the script does not cover fails the test loudly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vitco.llm.model import ModelRequest
from vitco.llm.testing import FunctionModel

BRIEF = "---\nclient: Grace Hopper <grace@example.com>\n---\n# Calculator\n\nAdd two numbers.\n"

SPEC: dict[str, Any] = {
    "title": "Calculator",
    "summary": "A function that adds two numbers, served over HTTP.",
    "user_stories": [
        {"id": "S1", "story": "As a user, I want to add numbers", "acceptance_criteria": ["2+3=5"]}
    ],
}


def plan(*task_ids: str, depends: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "tasks": [
            {
                "id": t,
                "title": f"Task {t}",
                "description": f"Implement module for task {t}.",
                "complexity": 3,
                "depends_on": (depends or {}).get(t, []),
                "stories": ["S1"],
            }
            for t in task_ids
        ]
    }


APP = """async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    status = 200 if scope["path"] in ("/health", "/") else 404
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""


NOTES_APP = """import json, os, sqlite3, uuid


def _db():
    # NOTES_DIR lets a test make the app keep its data where it does not last (/tmp)
    where = os.environ.get("NOTES_DIR") or os.environ["DATA_DIR"]
    con = sqlite3.connect(os.path.join(where, "notes.sqlite"))
    con.execute("create table if not exists notes (id text primary key, text text)")
    return con


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path, method = scope["path"], scope["method"]
    if path == "/health":
        status, out = 200, {"status": "ok", "greeting": os.environ.get("GREETING")}
    elif path == "/notes" and method == "POST":
        note = {"id": uuid.uuid4().hex[:8], "text": json.loads(body)["text"]}
        with _db() as con:
            con.execute("insert into notes values (?, ?)", (note["id"], note["text"]))
        status, out = 201, note
    elif path == "/notes":
        rows = _db().execute("select id, text from notes order by rowid").fetchall()
        status, out = 200, [{"id": i, "text": t} for i, t in rows]
    elif path.startswith("/notes/"):
        row = _db().execute("select id, text from notes where id = ?", (path[7:],)).fetchone()
        status, out = (200, {"id": row[0], "text": row[1]}) if row else (404, {"detail": "gone"})
    else:
        status, out = 404, {"detail": "not found"}
    data = json.dumps(out).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": data})
"""
NOTES_DEPLOY = {
    "start": ["python", "-m", "uvicorn", "notes:app", "--lifespan", "off", "--fd", "{fd}"],
    "health_path": "/health",
    "smoke": [
        {"method": "POST", "path": "/notes", "json_body": {"text": "milk"}, "expect_status": 201},
        {
            "path": "/notes/{{steps.0.body.id}}",
            "expect_json": {"id": "{{steps.0.body.id}}", "text": "milk"},
        },
    ],
}


def changeset(files: Mapping[str, str], message: str = "Implement the task") -> dict[str, Any]:
    return {
        "files": [{"path": p, "action": "write", "content": c} for p, c in files.items()],
        "message": message,
    }


def calc(correct: bool = True, module: str = "calc") -> dict[str, Any]:
    body = "a + b" if correct else "a - b"
    return changeset({f"{module}.py": f"def add(a, b):\n    return {body}\n", "app.py": APP})


def calc_tests(module: str = "calc") -> dict[str, Any]:
    test = (
        f"from {module} import add\n\n\n"
        "def test_adds():\n    assert add(2, 3) == 5\n\n\n"
        "def test_adds_negative():\n    assert add(-1, 1) == 0\n"
    )
    return {"files": [{"path": f"tests/test_{module}.py", "action": "write", "content": test}]}


APPROVE = {"verdict": "approve", "reasons": []}
SOUND = {"verdict": "sound", "problems": []}
DEPLOY = {
    "build": [],
    "start": ["python", "-m", "uvicorn", "app:app", "--lifespan", "off", "--fd", "{fd}"],
    "health_path": "/health",
    "smoke": [{"method": "GET", "path": "/", "expect_status": 200}],
}

Answer = Any | Callable[[ModelRequest], Any]


def script(answers: Mapping[str, Answer]) -> FunctionModel:
    """A model answering by call label; dict/list answers are sent as JSON."""

    def answer(request: ModelRequest) -> str:
        label = request.key.label()
        if label not in answers:
            raise AssertionError(f"the script has no answer for {label}")
        value = answers[label]
        if callable(value):
            value = value(request)
        return value if isinstance(value, str) else json.dumps(value)

    return FunctionModel(answer, model_id="scripted")


def happy_path() -> dict[str, Answer]:
    """Answers for a one-task project delivered on the first attempt (merge changes with |)."""
    return {
        "analyst/analyze#1": SPEC,
        "reviewer/check_spec#1": SOUND,
        "manager/plan#1": plan("T1"),
        "developer/implement/T1#1": calc(),
        "reviewer/review/T1#1": APPROVE,
        "qa/write_tests/T1#1": calc_tests(),
        "devops/deploy#1": DEPLOY,
    }


def write_brief(tmp_path: Path, text: str = BRIEF) -> Path:
    path = tmp_path / "brief.md"
    path.write_text(text, encoding="utf-8")
    return path
