"""Every vendor failure becomes one of vitco's errors, the same way for every adapter.

Each test runs against both fakes (``vendor``) and, where the wire differs, with and without
streaming; all over real HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.fakes import (
    Empty,
    Fail,
    Hang,
    Malformed,
    RateLimit,
    Reply,
    StreamError,
    StreamStall,
    Truncated,
)
from tests.llm.providers.conftest import SHORT_TIMEOUT, Harness, make_request
from tests.processes import free_port
from vitco.llm.exceptions import (
    BadResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from vitco.llm.model import Model
from vitco.llm.providers.anthropic import AnthropicModel, anthropic_client
from vitco.llm.providers.openai import OpenAIModel, openai_client

streaming = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])


def _standalone(vendor: Harness, url: str, key: str) -> tuple[Model, Callable[[], None]]:
    """A model of ``vendor``'s kind at ``url`` with ``key``, and how to close its client."""
    if vendor.name == "openai":
        openai = openai_client(base_url=f"{url}/v1", api_key=key, timeout=5)
        return OpenAIModel(openai, "gpt-4o-mini"), openai.close
    anthropic = anthropic_client(base_url=url, api_key=key, timeout=5)
    return AnthropicModel(anthropic, "claude-fake-1"), anthropic.close


def _fail(vendor: Harness, behaviour: object, *, stream: bool = False) -> ProviderError:
    vendor.server.queue(behaviour)
    model = vendor.model(stream=stream)
    with pytest.raises(ProviderError) as caught:
        model.request(make_request())
    error = caught.value
    assert vendor.key not in str(error)
    assert error.provider == vendor.name
    return error


@streaming
def test_429_with_retry_after_seconds(vendor: Harness, stream: bool) -> None:
    error = _fail(vendor, RateLimit(retry_after="7"), stream=stream)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7.0
    assert error.status == 429


def test_429_with_retry_after_http_date(vendor: Harness) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    error = _fail(vendor, RateLimit(retry_after=format_datetime(when, usegmt=True)))
    assert isinstance(error, RateLimited)
    assert error.retry_after is not None
    assert 25.0 <= error.retry_after <= 31.0


def test_429_prefers_retry_after_ms(vendor: Harness) -> None:
    error = _fail(vendor, RateLimit(retry_after="9", retry_after_ms="1500"))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 1.5


def test_429_without_retry_after(vendor: Harness) -> None:
    error = _fail(vendor, RateLimit(retry_after=None))
    assert isinstance(error, RateLimited)
    assert error.retry_after is None


@streaming
@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_5xx_is_unavailable_and_not_retried_by_the_sdk(
    vendor: Harness, status: int, stream: bool
) -> None:
    error = _fail(vendor, Fail(status, "upstream broke"), stream=stream)
    assert isinstance(error, ProviderUnavailable)
    assert error.status == status
    assert "upstream broke" in str(error)
    # retries belong to vitco's router: the SDK must have sent exactly one request
    assert len(vendor.server.requests) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_4xx_is_a_plain_provider_error(vendor: Harness, status: int) -> None:
    error = _fail(vendor, Fail(status, "bad request body"))
    assert type(error) is ProviderError
    assert error.status == status
    assert "bad request body" in str(error)


def test_wrong_key_is_401_and_never_in_the_message(vendor: Harness) -> None:
    wrong = "sk-wrong-key-that-must-not-leak-42"
    model, close = _standalone(vendor, vendor.server.url, wrong)
    try:
        with pytest.raises(ProviderError) as caught:
            model.request(make_request())
    finally:
        close()
    error = caught.value
    assert type(error) is ProviderError
    assert error.status == 401
    # the key did reach the server, whose 401 body echoes it (as OpenAI's does)...
    assert wrong in str(vendor.server.last.headers)
    # ...yet our error carries no trace of it
    assert wrong not in str(error) and wrong not in repr(error.args)
    assert "[REDACTED]" in str(error)
    assert error.__cause__ is None and error.__suppress_context__


@streaming
def test_client_timeout_when_the_server_hangs(vendor: Harness, stream: bool) -> None:
    vendor.server.queue(Hang(seconds=5))
    model = vendor.model(stream=stream, timeout=SHORT_TIMEOUT)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        model.request(make_request())
    assert time.monotonic() - started < 3.0


def test_timeout_when_a_stream_stalls(vendor: Harness) -> None:
    vendor.server.queue(StreamStall(Reply({"title": "x"}), after=2, seconds=5))
    model = vendor.model(stream=True, timeout=SHORT_TIMEOUT)
    with pytest.raises(ProviderTimeout):
        model.request(make_request())


def test_connection_refused_is_unavailable(vendor: Harness) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # a port nothing listens on
    model, close = _standalone(vendor, url, vendor.key)
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            model.request(make_request())
    finally:
        close()
    assert vendor.key not in str(caught.value)


@streaming
def test_truncated_body_is_bad_response(vendor: Harness, stream: bool) -> None:
    error = _fail(vendor, Truncated({"title": "a long enough title to cut in half"}), stream=stream)
    assert isinstance(error, BadResponse)
    assert "cut off" in str(error)


def test_malformed_json_body_is_bad_response(vendor: Harness) -> None:
    error = _fail(vendor, Malformed())
    assert isinstance(error, BadResponse)


@streaming
def test_empty_answer_is_bad_response(vendor: Harness, stream: bool) -> None:
    error = _fail(vendor, Empty(), stream=stream)
    assert isinstance(error, BadResponse)
    assert "no" in str(error)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("overloaded_error", ProviderUnavailable),
        ("server_error", ProviderUnavailable),
        ("rate_limit_error", RateLimited),
        ("invalid_request_error", ProviderError),
    ],
)
def test_error_event_in_the_middle_of_a_stream(
    vendor: Harness, kind: str, expected: type[ProviderError]
) -> None:
    error = _fail(vendor, StreamError(Reply({"title": "x"}), after=2, error_type=kind), stream=True)
    assert type(error) is expected
    assert kind in str(error)


@streaming
def test_cut_off_output_that_is_not_json_is_bad_response(vendor: Harness, stream: bool) -> None:
    limit = "length" if vendor.name == "openai" else "max_tokens"
    error = _fail(
        vendor,
        Reply('{"title": "a spec that never', finish_reason=limit, as_tool=False),
        stream=stream,
    )
    assert isinstance(error, BadResponse)
    assert "max_tokens=256" in str(error)
