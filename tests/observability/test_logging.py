"""Structured logs: one JSON object a line, ids from the context, and every secret removed by
the one redacting processor, whatever the record's origin (ours, a library's, a traceback)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from vitco.observability.logging import REDACTED, Redactor, bound, configure

PROVIDER_KEY = "sk-proj-PLANTEDprovider0123456789abcdef"
ODD_KEY = "zz9-plural-z-alpha-0001"  # a configured key of no known shape
API_KEY = "vk_0123456789ab_PLANTEDsecretPART0123456789abcdefXYZ"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    undo = configure(secrets=[ODD_KEY], stream=stream)
    try:
        yield stream
    finally:
        undo()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_records_are_json_with_their_ids_and_extra_fields(captured: io.StringIO) -> None:
    log = logging.getLogger("vitco.test")
    with bound(request_id="rq1", tenant_id="acme", run_id=None):
        log.info("hello %s", "world", extra={"status": 201, "input_tokens": 12})
    log.info("outside")
    logging.getLogger("vitco.test").debug("below the level")
    logging.getLogger("somelib").info("a library's info is below WARNING")
    logging.getLogger("somelib").warning("a library's warning")
    first, second, third = _lines(captured)
    assert first["event"] == "hello world" and first["level"] == "info"
    assert first["logger"] == "vitco.test" and str(first["timestamp"]).endswith("Z")
    assert (first["request_id"], first["tenant_id"], first["status"]) == ("rq1", "acme", 201)
    assert first["input_tokens"] == 12  # a count, not a secret
    assert "run_id" not in first  # None is not bound
    assert "request_id" not in second
    assert third["logger"] == "somelib" and third["level"] == "warning"


def test_no_secret_survives_in_message_fields_or_traceback(captured: io.StringIO) -> None:
    log = logging.getLogger("vitco.test")
    log.warning("provider answered 401 for key %s", PROVIDER_KEY)
    log.warning("odd key %s in a message", ODD_KEY)
    log.info("call", extra={"api_key": "plain-looking", "headers": {"Authorization": API_KEY}})
    log.info("GET /v1/projects/%s?token=abc123def", API_KEY)
    log.info("db", extra={"url": "postgresql://vitco:hunter2hunter2@db:5432/vitco"})
    log.info("subscribed with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    try:
        raise RuntimeError(f"Authorization: Bearer {API_KEY} refused ({PROVIDER_KEY})")
    except RuntimeError:
        log.exception("failed")
    structlog.get_logger("vitco.native").info("native", secret="s3cr3t-value", note=PROVIDER_KEY)
    text = captured.getvalue()
    for secret in (
        PROVIDER_KEY,
        ODD_KEY,
        API_KEY,
        "PLANTEDsecret",
        "plain-looking",
        "abc123def",
        "hunter2hunter2",
        "s3cr3t-value",
    ):
        assert secret not in text, secret
    lines = _lines(captured)
    assert len(lines) == 8
    assert lines[2]["api_key"] == REDACTED and lines[2]["headers"] == {"Authorization": REDACTED}
    assert "vk_0123456789ab_" + REDACTED in str(lines[3]["event"])  # the prefix stays
    assert lines[4]["url"] == f"postgresql://vitco:{REDACTED}@db:5432/vitco"
    assert lines[5]["event"] == "subscribed with whsec_" + REDACTED
    assert "RuntimeError" in str(lines[6]["exception"])  # the traceback is there, cleaned
    assert lines[7]["logger"] == "vitco.native" and lines[7]["secret"] == REDACTED


def test_the_redactor_leaves_ordinary_text_alone() -> None:
    redactor = Redactor(["short", None, "a-longer-secret"])
    text = "run r_1 of project p_2: 3 tasks, 1500 tokens, keys listed: 2, a-longer-secret"
    assert redactor.text(text) == text.replace("a-longer-secret", REDACTED)
    assert redactor.text("short is too short to be a key") == "short is too short to be a key"


def test_configure_undoes_itself() -> None:
    root_handlers = list(logging.getLogger().handlers)
    level = logging.getLogger("vitco").level
    stream = io.StringIO()
    configure(level="DEBUG", json=False, stream=stream)()
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger("vitco").level == level
    logging.getLogger("vitco.test").warning("after")
    assert stream.getvalue() == ""
