"""Writes ``todo-api.jsonl``: the demo cassette that stands in for a capable model.

Every answer below was written by hand for the brief ``examples/briefs/todo-api.md``, the way a
strong model would answer each role. Task T2's first attempt has a real bug (POST answers 200
instead of 201), so QA's tests fail and the developer's second attempt fixes it: the fix loop
runs on every demo, and so does the spec check (the first draft has an example that breaks
its own rule; the critic finds it and the analyst fixes it). Run
``python examples/cassettes/build_todo_api.py`` after editing.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from cassette import APPROVE, SOUND, call, w, write  # noqa: E402

SPEC = {
    "title": "Todo API",
    "summary": "An HTTP JSON service that keeps a team's todo items in memory: create, list "
    "(all, done or open), read, update and delete todos, with input validation, clear 404s "
    "and a health endpoint.",
    "user_stories": [
        {
            "id": "S1",
            "story": "As a team member, I want to create a todo with a title, so that I can "
            "track work.",
            "acceptance_criteria": [
                "POST /todos with {'title': 'Buy milk'} answers 201 with id, title and done=false",
                "a blank or missing title, or one over 200 characters, answers 422",
                "unknown fields are rejected with 422",
            ],
        },
        {
            "id": "S2",
            "story": "As a team member, I want to list todos, optionally only done or only "
            "open ones, so that I see what is left.",
            "acceptance_criteria": [
                "GET /todos answers 200 with all todos in creation order",
                "GET /todos?done=true answers only done todos; ?done=false only open ones",
            ],
        },
        {
            "id": "S3",
            "story": "As a team member, I want to read, update and delete a todo, so that the "
            "list stays accurate.",
            "acceptance_criteria": [
                "GET /todos/{id} answers 200 with the todo, 404 when it does not exist",
                "PATCH /todos/{id} changes only the fields given and answers the new todo",
                "DELETE /todos/{id} answers 204; the todo is gone afterwards (404)",
            ],
        },
        {
            "id": "S4",
            "story": "As an operator, I want a health endpoint, so that monitoring knows the "
            "service is up.",
            "acceptance_criteria": ["GET /health answers 200 with {'status': 'ok'}"],
        },
    ],
    "out_of_scope": ["persistence in a database", "authentication", "pagination"],
}

# The analyst's first draft: an example that breaks its own rule (a 201-character title
# accepted next to "over 200 characters answers 422"). The critic finds it before planning
# and the analyst's fix is SPEC: the spec check runs on every demo.
DRAFT = SPEC | {
    "user_stories": [
        SPEC["user_stories"][0]
        | {
            "acceptance_criteria": [
                *SPEC["user_stories"][0]["acceptance_criteria"],
                "for example, a title of 201 characters is stored as given and answers 201",
            ]
        },
        *SPEC["user_stories"][1:],
    ]
}
CRITIQUE = {
    "verdict": "revise",
    "problems": [
        {
            "kind": "example_breaks_rule",
            "stories": ["S1"],
            "criterion": "for example, a title of 201 characters is stored as given and "
            "answers 201",
            "explanation": "S1 also says a title over 200 characters answers 422; the example "
            "contradicts the rule. Drop the example or make it a title of at most 200 "
            "characters.",
        }
    ],
}
PLAN = {
    "tasks": [
        {
            "id": "T1",
            "title": "Todo models and in-memory store",
            "description": "Create the package `todo` with `todo/models.py` (pydantic models "
            "TodoCreate, TodoUpdate, Todo; titles stripped, 1-200 characters, not blank; unknown "
            "fields forbidden) and `todo/store.py` (thread-safe in-memory TodoStore with create, "
            "get, list, update, delete; ids start at 1; TodoNotFound for a missing id).",
            "role": "developer",
            "complexity": 4,
            "depends_on": [],
            "stories": ["S1", "S3"],
        },
        {
            "id": "T2",
            "title": "HTTP API for todos",
            "description": "Add `todo/app.py` with a FastAPI app factory `create_app(store=None)` "
            "and a module-level `app`: GET /health, GET /todos, POST /todos (201), GET/PATCH/"
            "DELETE /todos/{id} (DELETE answers 204), 404 with a clear message for a missing "
            "todo, 422 for invalid input.",
            "role": "developer",
            "complexity": 6,
            "depends_on": ["T1"],
            "stories": ["S1", "S3", "S4"],
        },
        {
            "id": "T3",
            "title": "Filter todos by status",
            "description": "Let TodoStore.list take `done: bool | None` and GET /todos take an "
            "optional `done` query parameter that returns only done or only open todos.",
            "role": "developer",
            "complexity": 3,
            "depends_on": ["T2"],
            "stories": ["S2"],
        },
    ]
}

MODELS_PY = '''"""Data shapes of the todo service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _clean_title(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("title must not be blank")
    return value


class TodoCreate(BaseModel):
    """What a client sends to create a todo."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    done: bool = False

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return _clean_title(value)


class TodoUpdate(BaseModel):
    """A partial change: only the fields given are applied."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    done: bool | None = None

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        return None if value is None else _clean_title(value)


class Todo(BaseModel):
    """A stored todo."""

    id: int
    title: str
    done: bool = False
'''

STORE_PY_T1 = '''"""An in-memory, thread-safe store of todos."""

from __future__ import annotations

import threading

from todo.models import Todo, TodoCreate, TodoUpdate


class TodoNotFound(KeyError):
    """No todo with that id."""

    def __init__(self, todo_id: int) -> None:
        super().__init__(todo_id)
        self.todo_id = todo_id


class TodoStore:
    """Todos kept in a dict; ids start at 1 and are never reused."""

    def __init__(self) -> None:
        self._items: dict[int, Todo] = {}
        self._next_id = 1
        self._lock = threading.Lock()

    def create(self, data: TodoCreate) -> Todo:
        with self._lock:
            todo = Todo(id=self._next_id, title=data.title, done=data.done)
            self._items[todo.id] = todo
            self._next_id += 1
            return todo

    def get(self, todo_id: int) -> Todo:
        try:
            return self._items[todo_id]
        except KeyError:
            raise TodoNotFound(todo_id) from None

    def list(self) -> list[Todo]:
        return list(self._items.values())

    def update(self, todo_id: int, data: TodoUpdate) -> Todo:
        with self._lock:
            current = self.get(todo_id)
            updated = current.model_copy(update=data.model_dump(exclude_unset=True))
            self._items[todo_id] = updated
            return updated

    def delete(self, todo_id: int) -> None:
        with self._lock:
            self.get(todo_id)
            del self._items[todo_id]
'''

STORE_PY_T3 = STORE_PY_T1.replace(
    """    def list(self) -> list[Todo]:
        return list(self._items.values())
""",
    '''    def list(self, done: bool | None = None) -> list[Todo]:
        """All todos in creation order; only done or only open ones when ``done`` is given."""
        todos = list(self._items.values())
        if done is None:
            return todos
        return [t for t in todos if t.done is done]
''',
)

APP_PY = '''"""The HTTP API of the todo service."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Response

from todo.models import Todo, TodoCreate, TodoUpdate
from todo.store import TodoNotFound, TodoStore


def create_app(store: TodoStore | None = None) -> FastAPI:
    """A fresh app; tests pass their own store."""
    app = FastAPI(title="Todo API", version="1.0.0")
    todos = store if store is not None else TodoStore()

    def _found(todo_id: int) -> Todo:
        try:
            return todos.get(todo_id)
        except TodoNotFound:
            raise HTTPException(status_code=404, detail=f"todo {todo_id} not found") from None

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/todos")
    def list_todos() -> list[Todo]:
        return todos.list()

    @app.post("/todos"__STATUS__)
    def create_todo(data: TodoCreate) -> Todo:
        return todos.create(data)

    @app.get("/todos/{todo_id}")
    def get_todo(todo_id: int) -> Todo:
        return _found(todo_id)

    @app.patch("/todos/{todo_id}")
    def update_todo(todo_id: int, data: TodoUpdate) -> Todo:
        _found(todo_id)
        return todos.update(todo_id, data)

    @app.delete("/todos/{todo_id}", status_code=204)
    def delete_todo(todo_id: int) -> Response:
        _found(todo_id)
        todos.delete(todo_id)
        return Response(status_code=204)

    return app


app = create_app()
'''

APP_PY_BUGGY = APP_PY.replace("__STATUS__", "")
APP_PY_FIXED = APP_PY.replace("__STATUS__", ", status_code=201")
APP_PY_T3 = APP_PY_FIXED.replace(
    """    @app.get("/todos")
    def list_todos() -> list[Todo]:
        return todos.list()
""",
    """    @app.get("/todos")
    def list_todos(done: bool | None = None) -> list[Todo]:
        return todos.list(done=done)
""",
)

TEST_STORE = """import pytest
from pydantic import ValidationError

from todo.models import TodoCreate, TodoUpdate
from todo.store import TodoNotFound, TodoStore


def test_create_assigns_increasing_ids_and_open_state():
    store = TodoStore()
    first = store.create(TodoCreate(title="Buy milk"))
    second = store.create(TodoCreate(title="Walk the dog"))
    assert (first.id, second.id) == (1, 2)
    assert first.done is False


def test_get_missing_todo_raises_not_found():
    with pytest.raises(TodoNotFound):
        TodoStore().get(42)


def test_update_changes_only_given_fields():
    store = TodoStore()
    todo = store.create(TodoCreate(title="Write report"))
    updated = store.update(todo.id, TodoUpdate(done=True))
    assert updated.done is True
    assert updated.title == "Write report"


def test_delete_removes_the_todo():
    store = TodoStore()
    todo = store.create(TodoCreate(title="Temporary"))
    store.delete(todo.id)
    assert store.list() == []


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_invalid_titles_are_rejected(title):
    with pytest.raises(ValidationError):
        TodoCreate(title=title)


def test_titles_are_stripped():
    assert TodoCreate(title="  Tidy up  ").title == "Tidy up"
"""

TEST_API = """import pytest
from fastapi.testclient import TestClient

from todo.app import create_app


@pytest.fixture
def client():
    return TestClient(create_app())


def test_health_answers_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_create_answers_201_with_the_new_todo(client):
    response = client.post("/todos", json={"title": "Buy milk"})
    assert response.status_code == 201
    assert response.json() == {"id": 1, "title": "Buy milk", "done": False}


@pytest.mark.parametrize("body", [{}, {"title": ""}, {"title": "ok", "colour": "red"}])
def test_create_rejects_invalid_input_with_422(client, body):
    assert client.post("/todos", json=body).status_code == 422


def test_get_missing_todo_answers_404(client):
    response = client.get("/todos/99")
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


def test_patch_marks_a_todo_done(client):
    todo = client.post("/todos", json={"title": "Ship it"}).json()
    response = client.patch(f"/todos/{todo['id']}", json={"done": True})
    assert response.status_code == 200
    assert response.json()["done"] is True
    assert response.json()["title"] == "Ship it"


def test_delete_answers_204_and_the_todo_is_gone(client):
    todo = client.post("/todos", json={"title": "Remove me"}).json()
    assert client.delete(f"/todos/{todo['id']}").status_code == 204
    assert client.get(f"/todos/{todo['id']}").status_code == 404


def test_list_returns_todos_in_creation_order(client):
    for title in ("one", "two", "three"):
        client.post("/todos", json={"title": title})
    assert [t["title"] for t in client.get("/todos").json()] == ["one", "two", "three"]
"""

TEST_FILTER = """from fastapi.testclient import TestClient

from todo.app import create_app


def _client_with_todos():
    client = TestClient(create_app())
    for title in ("open one", "done one", "open two"):
        client.post("/todos", json={"title": title})
    client.patch("/todos/2", json={"done": True})
    return client


def test_filter_done_true_returns_only_done_todos():
    titles = [t["title"] for t in _client_with_todos().get("/todos?done=true").json()]
    assert titles == ["done one"]


def test_filter_done_false_returns_only_open_todos():
    titles = [t["title"] for t in _client_with_todos().get("/todos?done=false").json()]
    assert titles == ["open one", "open two"]


def test_no_filter_returns_all_todos():
    assert len(_client_with_todos().get("/todos").json()) == 3


def test_invalid_filter_value_answers_422():
    assert _client_with_todos().get("/todos?done=maybe").status_code == 422
"""

README = """# Todo API

A small HTTP JSON service for a team's todo items (kept in memory).

Run it: `python -m uvicorn todo.app:app --port 8000`; test it: `python -m pytest`.

| method | path | what |
|---|---|---|
| GET | /health | 200 `{"status": "ok"}` |
| GET | /todos[?done=true\\|false] | list todos |
| POST | /todos | create (`{"title": ...}`), 201 |
| GET / PATCH / DELETE | /todos/{id} | read, change, delete (404 if missing) |
"""


# what the service needs (vitco's own environment has none of it; the [demo] extra does)
REQUIREMENTS = "fastapi>=0.110\npydantic>=2\nuvicorn>=0.29\nhttpx>=0.27\n"

CALLS = [
    call("analyst", "analyze", DRAFT),
    call("reviewer", "check_spec", CRITIQUE),
    call("analyst", "revise_spec", SPEC),
    call("reviewer", "check_spec", SOUND, attempt=2),
    call("manager", "plan", PLAN),
    call(
        "developer",
        "implement",
        {
            "files": [
                w("todo/__init__.py", '"""A small in-memory todo service."""\n'),
                w("todo/models.py", MODELS_PY),
                w("todo/store.py", STORE_PY_T1),
                w("requirements.txt", REQUIREMENTS),
            ],
            "message": "Add todo models and an in-memory store",
        },
        "T1",
    ),
    call("reviewer", "review", APPROVE, "T1"),
    call("qa", "write_tests", {"files": [w("tests/test_store.py", TEST_STORE)]}, "T1"),
    call(
        "developer",
        "implement",
        {
            "files": [w("todo/app.py", APP_PY_BUGGY)],
            "message": "Add the HTTP API for todos",
        },
        "T2",
    ),
    call("reviewer", "review", APPROVE, "T2"),
    call("qa", "write_tests", {"files": [w("tests/test_api.py", TEST_API)]}, "T2"),
    call(
        "developer",
        "implement",
        {
            "files": [w("todo/app.py", APP_PY_FIXED)],
            "message": "Add the HTTP API for todos; POST /todos answers 201 Created",
        },
        "T2",
        attempt=2,
    ),
    call("reviewer", "review", APPROVE, "T2", attempt=2),
    call(
        "developer",
        "implement",
        {
            "files": [
                w("todo/store.py", STORE_PY_T3),
                w("todo/app.py", APP_PY_T3),
                w("README.md", README),
            ],
            "message": "Filter todos by done state",
        },
        "T3",
    ),
    call("reviewer", "review", APPROVE, "T3"),
    call("qa", "write_tests", {"files": [w("tests/test_filter.py", TEST_FILTER)]}, "T3"),
    call(
        "devops",
        "deploy",
        {
            "build": [],
            "start": ["python", "-m", "uvicorn", "todo.app:app", "--fd", "{fd}"],
            "health_path": "/health",
            "smoke": [
                {"method": "GET", "path": "/health", "expect_json": {"status": "ok"}},
                {
                    "method": "POST",
                    "path": "/todos",
                    "json_body": {"title": "Smoke test"},
                    "expect_status": 201,
                    "expect_json": {"title": "Smoke test", "done": False},
                },
                {
                    "method": "PATCH",
                    "path": "/todos/{{steps.1.body.id}}",
                    "json_body": {"done": True},
                    "expect_json": {"id": "{{steps.1.body.id}}", "done": True},
                },
                {
                    "method": "GET",
                    "path": "/todos?done=true",
                    "expect_json": [{"id": "{{steps.1.body.id}}", "title": "Smoke test"}],
                },
                {"method": "DELETE", "path": "/todos/{{steps.1.body.id}}", "expect_status": 204},
                {"method": "GET", "path": "/todos/{{steps.1.body.id}}", "expect_status": 404},
            ],
        },
    ),
]


def main() -> None:
    write(
        HERE / "todo-api.jsonl",
        "examples/briefs/todo-api.md",
        CALLS,
        "hand-written answers standing in for a capable model; see build_todo_api.py",
    )


if __name__ == "__main__":
    main()
