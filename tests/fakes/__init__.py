"""Fake vendor servers shared by the tests (and by demos that need a "live" model service).

Each fake is a real HTTP server on 127.0.0.1 speaking one vendor's wire format, scripted per
test; see :mod:`tests.fakes.llm_server` for the behaviours.
"""

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.collector import Collector
from tests.fakes.listener import CountingListener
from tests.fakes.llm_server import (
    Empty,
    Fail,
    Hang,
    Malformed,
    RateLimit,
    Raw,
    RecordedRequest,
    Reply,
    StreamError,
    StreamStall,
    Truncated,
)
from tests.fakes.openai_server import FakeOpenAI

__all__ = [
    "Collector",
    "CountingListener",
    "Empty",
    "Fail",
    "FakeAnthropic",
    "FakeOpenAI",
    "Hang",
    "Malformed",
    "RateLimit",
    "Raw",
    "RecordedRequest",
    "Reply",
    "StreamError",
    "StreamStall",
    "Truncated",
]
