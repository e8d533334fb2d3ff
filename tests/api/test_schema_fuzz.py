"""schemathesis over the OpenAPI document, over real HTTP: every operation, a bounded number
of generated requests each (valid ones and invalid ones), authenticated as an admin; none may
get a 5xx, and every refusal (4xx) has the one error body. Deterministic (derandomized), so
a failure found here is found again."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Ok

from tests.api.conftest import MakeServer

Operation = APIOperation[Any, Any, Any, Any]

EXAMPLES = 12
"""Generated requests per operation and generation mode."""


def _error_body(text: str) -> bool:
    """Whether ``text`` is the one error body: ``{"error": {"code", "message", "details"}}``."""
    try:
        error = json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error, dict) and {"code", "message", "details"} <= error.keys()


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error_or_a_stray_error_body(
    make_server: MakeServer,
) -> None:
    server = make_server(api_rate_per_s=1e6, api_rate_burst=1_000_000)
    auth = {"Authorization": f"Bearer {server.key('fuzz', 'admin')}"}
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert len(operations) >= 20  # the whole document, not an empty one
    failures: list[str] = []
    called: set[str] = set()

    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(
            max_examples=2 * EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def probe(case: Case[Operation]) -> None:
            response = case.call(base_url=server.url, headers=auth, timeout=30)
            called.add(case.operation.label)
            if response.status_code >= 500 or (
                response.status_code >= 400 and not _error_body(response.text)
            ):
                failures.append(
                    f"{response.status_code} {response.text[:300]}\n"
                    f"  {case.as_curl_command(headers=auth, base_url=server.url)}"
                )

        probe()

    assert called == {op.label for op in operations}
    assert not failures, "\n".join(failures)


def test_a_number_beyond_what_the_database_holds_is_refused_not_a_crash(
    make_server: MakeServer,
) -> None:
    """What the fuzzing found: ``before=<27 digits>`` reached SQLite and overflowed (500)."""
    server = make_server()
    client = server.client(server.key("acme", "admin"))
    huge = str(2**63)
    for path, params in (
        ("/v1/audit", {"before": huge}),
        ("/v1/events", {"since": huge}),
        ("/v1/runs/r_none/events", {"since": huge}),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["error"]["details"][0]["path"].startswith("query.")
    assert client.get("/v1/audit", params={"before": str(2**63 - 1)}).status_code == 200
