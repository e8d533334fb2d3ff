"""A generated client repository of real size, and a scripted team that changes one big module.

``make_repo(path, files)`` writes ``files`` modules of about 6 KB each (500 make about 3 MB)
plus ``shop/pricing.py`` (about 60 KB, whose ``total`` the task changes), a small ASGI app, a
README and one test, and commits them. ``answers()`` scripts a team for add-feature or fix-bug
that names the module in the plan, looks around with the developer's tools, and changes it
with a search/replace edit. Shared by ``tests/workflow/test_big_repo.py`` and
``bench/context.py``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vitco.llm.model import ModelRequest

MODULE = "shop/pricing.py"
TOTAL = "def total(prices: list[float]) -> float:\n    return sum(prices)\n"
DISCOUNTED = (
    "def total(prices: list[float]) -> float:\n"
    "    amount = sum(prices)\n"
    "    return round(amount * 0.9, 2) if amount > 100 else amount\n"
)
APP = """async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    status = 200 if scope["path"] in ("/health", "/") else 404
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""
SPEC = {
    "title": "Discount on big orders",
    "summary": "Orders over 100 get 10% off their total.",
    "user_stories": [
        {
            "id": "S1",
            "story": "As a shopper, I want 10% off orders over 100, so that I buy more.",
            "acceptance_criteria": ["total([60, 60]) is 108.0", "total([50, 50]) is 100"],
        }
    ],
}
QA_TEST = (
    "from shop.pricing import total\n\n\n"
    "def test_big_orders_get_ten_percent_off():\n    assert total([60, 60]) == 108.0\n\n\n"
    "def test_small_orders_pay_full_price():\n    assert total([50, 50]) == 100\n"
)


def _module(index: int, size: int) -> str:
    parts = [f'"""Generated module {index}."""\n']
    n = 0
    while sum(len(p) for p in parts) < size:
        parts.append(
            f"\n\ndef rule_{index}_{n}(amount: float) -> float:\n"
            f'    """Rule {n} of module {index}: scales the amount by a constant."""\n'
            f"    factor = {n % 7 + 1} / {n % 5 + 1}\n"
            f"    return amount * factor\n"
        )
        n += 1
    return "".join(parts)


def make_repo(path: Path, files: int = 500) -> Path:
    """A committed git repository of ``files`` generated modules plus the pricing module."""
    path.mkdir(parents=True)
    for i in range(files):
        target = path / f"pkgs/p{i // 25}/mod{i}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_module(i, 6_000))
    (path / "pkgs/__init__.py").write_text("")
    (path / "shop").mkdir()
    (path / "shop/__init__.py").write_text("")
    (path / MODULE).write_text(_module(9999, 60_000) + "\n\n" + TOTAL)
    (path / "app.py").write_text(APP)
    (path / "README.md").write_text("# Shop\n\nPricing rules; served by `app.py` (ASGI).\n")
    (path / "tests").mkdir()
    (path / "tests/test_rules.py").write_text(
        "from shop.pricing import rule_9999_0\n\n\ndef test_rule():\n"
        "    assert rule_9999_0(2) == 2\n"
    )
    git = ["git", "-c", "user.name=Client", "-c", "user.email=c@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=path, check=True)
    subprocess.run([*git, "add", "."], cwd=path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "The shop"], cwd=path, check=True)
    return path


def _text(request: ModelRequest) -> str:
    return request.messages[-1].content


def _look(request: ModelRequest) -> dict[str, Any]:
    assert TOTAL in _text(request), "the developer does not see the module the task names"
    return {
        "tools": [
            {"tool": "search", "text": "def total(", "path": "shop"},
            {"tool": "list", "path": "shop"},
        ]
    }


def _edit(request: ModelRequest) -> dict[str, Any]:
    assert f"{MODULE}:" in _text(request), "the search's results are missing"
    return {
        "changeset": {
            "edits": [{"path": MODULE, "search": TOTAL, "replace": DISCOUNTED}],
            "message": "Give orders over 100 ten percent off",
        }
    }


def answers(deploy: dict[str, Any] | None = None) -> dict[str, Any | Callable[..., Any]]:
    """The scripted team (labels as in ``tests.workflow.scripted.script``)."""
    script: dict[str, Any] = {
        "analyst/analyze#1": SPEC,
        "reviewer/check_spec#1": {"verdict": "sound", "problems": []},
        "manager/plan#1": {
            "tasks": [
                {
                    "id": "T1",
                    "title": "Discount big orders",
                    "description": "Change shop.pricing.total: 10% off when the sum is over 100.",
                    "complexity": 4,
                    "stories": ["S1"],
                    "files": [MODULE],
                }
            ]
        },
        "developer/implement/T1#1": _look,
        "developer/implement~2/T1#1": _edit,
        "reviewer/review/T1#1": {"verdict": "approve", "reasons": []},
        "qa/write_tests/T1#1": {
            "files": [{"path": "tests/test_discount.py", "action": "write", "content": QA_TEST}]
        },
    }
    if deploy is not None:
        script["devops/deploy#1"] = deploy
    return script
