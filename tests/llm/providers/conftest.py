"""Fixtures for the provider adapter tests: fake vendor servers and models wired to them.

``vendor`` runs a test once per vendor (OpenAI-compatible and Anthropic), so error handling
that must be identical across adapters is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

from tests.fakes import FakeAnthropic, FakeOpenAI
from tests.fakes.llm_server import FakeVendorServer
from vitco.llm.model import CallKey, Message, Model, ModelRequest
from vitco.llm.providers.anthropic import AnthropicModel, anthropic_client
from vitco.llm.providers.openai import OpenAIModel, openai_client

OPENAI_KEY = "sk-test-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"
TIMEOUT = 10.0  # generous: the fakes answer in milliseconds; hang tests pass a short one
SHORT_TIMEOUT = 0.3


class Spec(BaseModel):
    """A typed output as agents ask for one."""

    title: str
    tags: list[str] = []


def make_request(
    *,
    output_schema: dict[str, Any] | None = None,
    max_tokens: int | None = 256,
    messages: tuple[Message, ...] | None = None,
) -> ModelRequest:
    return ModelRequest(
        key=CallKey(role="analyst", step="analyze"),
        messages=messages
        or (
            Message(role="system", content="You are the analyst."),
            Message(role="user", content="Write the spec for a todo app."),
        ),
        output_name="Spec",
        output_schema=output_schema or Spec.model_json_schema(),
        max_tokens=max_tokens,
    )


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=OPENAI_KEY) as server:
        yield server
    assert not server.problems, server.problems
    assert not server.errors, server.errors


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=ANTHROPIC_KEY) as server:
        yield server
    assert not server.problems, server.problems
    assert not server.errors, server.errors


@dataclass
class Harness:
    """One vendor's fake server plus a way to build models against it (closed at teardown)."""

    name: str
    server: FakeVendorServer
    key: str
    build: Callable[..., Model]
    closers: list[Callable[[], None]] = field(default_factory=list)

    def model(self, *, stream: bool = False, timeout: float = TIMEOUT, **options: Any) -> Model:
        return self.build(self, stream=stream, timeout=timeout, **options)


def _openai_model(harness: Harness, *, stream: bool, timeout: float, **options: Any) -> Model:
    assert isinstance(harness.server, FakeOpenAI)
    client = openai_client(base_url=harness.server.base_url, api_key=harness.key, timeout=timeout)
    harness.closers.append(client.close)
    return OpenAIModel(client, "gpt-4o-mini", stream=stream, **options)


def _anthropic_model(harness: Harness, *, stream: bool, timeout: float, **options: Any) -> Model:
    assert isinstance(harness.server, FakeAnthropic)
    client = anthropic_client(
        base_url=harness.server.base_url, api_key=harness.key, timeout=timeout
    )
    harness.closers.append(client.close)
    return AnthropicModel(client, "claude-fake-1", stream=stream, **options)


@pytest.fixture
def openai_harness(fake_openai: FakeOpenAI) -> Iterator[Harness]:
    harness = Harness("openai", fake_openai, OPENAI_KEY, _openai_model)
    yield harness
    for close in harness.closers:
        close()


@pytest.fixture
def anthropic_harness(fake_anthropic: FakeAnthropic) -> Iterator[Harness]:
    harness = Harness("anthropic", fake_anthropic, ANTHROPIC_KEY, _anthropic_model)
    yield harness
    for close in harness.closers:
        close()


@pytest.fixture(params=["openai", "anthropic"])
def vendor(request: pytest.FixtureRequest) -> Harness:
    harness: Harness = request.getfixturevalue(f"{request.param}_harness")
    return harness
