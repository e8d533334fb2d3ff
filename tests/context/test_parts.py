"""The parts of the context: the run's clock recorded once, snapshots from git's objects,
repository maps that stay bounded, the developer's tools and search/replace edits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from vitco.agents.outputs import Changeset, DeveloperAnswer, FileChange, ToolCall
from vitco.config import Settings
from vitco.context.edits import resolve_edits
from vitco.context.environment import run_clock
from vitco.context.exceptions import EditsFailed
from vitco.context.repomap import MAX_MAP_CHARS, repository_map
from vitco.context.snapshot import Snapshot
from vitco.context.symbols import python_routes, python_symbols
from vitco.context.tools import MAX_RESULT_CHARS, run_tool
from vitco.integrations.git.repo import Repo
from vitco.store import open_store


def _repo(tmp_path: Path, files: dict[str, str]) -> Repo:
    repo = Repo.init(tmp_path / "repo")
    for path, text in files.items():
        (repo.path / path).parent.mkdir(parents=True, exist_ok=True)
        (repo.path / path).write_text(text)
    repo.commit("Add files", key="test/files")
    return repo


def test_the_run_clock_is_recorded_once(settings: Settings) -> None:
    store = open_store(settings)
    project = store.create_project("p", str(settings.home / "p"))
    brief = store.create_brief(project.id, "brief.md", "# Brief")
    one, two = (store.create_run(project.id, brief.id, "test", "deliver-project") for _ in "12")
    first = run_clock(store, one.id, datetime(2031, 5, 6, 12, 0, tzinfo=UTC))
    later = run_clock(store, one.id, datetime(2032, 1, 1, 12, 0, tzinfo=UTC))  # a resume
    assert later == first and first.date in ("2031-05-06", "2031-05-07", "2031-05-05")
    assert run_clock(store, two.id, datetime(2032, 1, 1, 12, 0, tzinfo=UTC)) != first


def test_a_snapshot_reads_git_objects_not_the_working_tree(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"a.py": "x = 1\n", "data.bin": "\x00\x01"})
    (repo.path / "a.py").write_text("planted by a test run\n")
    (repo.path / "secret").symlink_to("/etc/passwd")
    view = Snapshot.at(repo, "HEAD")
    assert view.text("a.py") == "x = 1\n" and view.text("data.bin") is None
    assert "secret" not in view.paths()
    changed = view.changed([FileChange(path="b.py", content="y = 2\n")])
    assert changed.text("b.py") == "y = 2\n" and not view.exists("b.py")
    gone = changed.changed([FileChange(path="a.py", action="delete")])
    assert "a.py" not in gone.paths()


def test_symbols_and_routes_are_read_statically() -> None:
    source = (
        "import os\nos.system('never run')\n"
        "class Store(Base):\n    def get(self, k: str) -> int: ...\n    def _hidden(self): ...\n"
        "def _private(): ...\n"
        "@app.get('/items/{id}')\nasync def item(id: int) -> dict: ...\n"
        "@bp.route('/x', methods=['POST'])\ndef x(): ...\n"
    )
    assert python_symbols(source, public=True) == [
        "class Store(Base): get",
        "async def item(id: int) -> dict",
        "def x()",
    ]
    assert python_routes(source) == ["GET /items/{id} -> item", "POST /x -> x"]
    assert python_symbols("def (broken") == []


@pytest.mark.parametrize("count", [50, 2000])
def test_a_repository_map_stays_bounded(tmp_path: Path, count: int) -> None:
    files = {f"pkg/m{i // 40}/mod{i}.py": f"def f{i}(a, b):\n    return a\n" for i in range(count)}
    view = Snapshot.at(_repo(tmp_path, files), "HEAD")
    text = repository_map(view, first=["pkg/m0/mod7.py"])
    assert len(text) <= MAX_MAP_CHARS
    assert text.startswith(f"{count + 1} files")  # and the .gitignore
    assert "pkg/m0/mod7.py" in text and "def f7(a, b)" in text


def test_tools_read_search_and_list_within_bounds(tmp_path: Path) -> None:
    big = "".join(f"line_{i} = {i}\n" for i in range(5000))
    view = Snapshot.at(_repo(tmp_path, {"big.py": big, "pkg/a.py": "TOKEN = 1\n"}), "HEAD")
    first = run_tool(view, ToolCall(tool="read", path="big.py"))
    assert len(first) <= MAX_RESULT_CHARS + 200 and "read from line" in first
    later = run_tool(view, ToolCall(tool="read", path="big.py", start=4990))
    assert "line_4999 = 4999" in later and "the end of the file" in later
    assert "pkg/a.py:1: TOKEN = 1" in run_tool(view, ToolCall(tool="search", text="TOKEN"))
    assert "pkg/ (1 files)" in run_tool(view, ToolCall(tool="list"))
    for path in ("../etc/passwd", "/etc/passwd"):
        assert "error" in run_tool(view, ToolCall(tool="read", path=path))
    assert "does not exist" in run_tool(view, ToolCall(tool="read", path="nope.py"))


def test_edits_apply_exactly_once_or_say_why(tmp_path: Path) -> None:
    view = Snapshot.at(_repo(tmp_path, {"m.py": "a = 1\nb = 1\nc = 2\n"}), "HEAD")

    def edits(*blocks: tuple[str, str]) -> Changeset:
        return Changeset.model_validate(
            {
                "edits": [{"path": "m.py", "search": s, "replace": r} for s, r in blocks],
                "message": "Edit m",
            }
        )

    done = resolve_edits(view, edits(("c = 2", "c = 3"), ("c = 3\n", "c = 4\n")))
    assert done.edits == [] and done.files[0].content == "a = 1\nb = 1\nc = 4\n"
    with pytest.raises(EditsFailed) as failed:
        resolve_edits(view, edits(("= 1", "= 5"), ("zzz", "y")))
    assert "found 2 times" in failed.value.problems[0]
    assert "found 0 times" in failed.value.problems[1]
    missing = Changeset.model_validate(
        {"edits": [{"path": "n.py", "search": "x", "replace": "y"}], "message": "Edit n"}
    )
    with pytest.raises(EditsFailed, match="does not exist"):
        resolve_edits(view, missing)


def test_a_developer_answer_is_tools_or_a_changeset() -> None:
    bare = {"files": [{"path": "a.py", "content": "x"}], "message": "Add a"}
    assert DeveloperAnswer.model_validate(bare).changeset is not None
    asks = {"tools": [{"tool": "list"}]}
    assert DeveloperAnswer.model_validate(asks).tools[0].tool == "list"
    with pytest.raises(ValueError, match="no tool calls are left"):
        DeveloperAnswer.model_validate(asks, context={"tools_left": 0})
    with pytest.raises(ValueError, match="not both"):
        DeveloperAnswer.model_validate({"tools": asks["tools"], "changeset": bare})
